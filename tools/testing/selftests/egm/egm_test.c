// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests for the egm core: /dev/egm, window files and their mappings.
 *
 * Facts about the platform (region bases, retired pages, GPUs) come from
 * the bench's platform file (see egm_utils.h); everything else from the
 * driver's own QUERY and WINDOW_INFO. Sizes derive from the page size.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <stddef.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "egm_utils.h"

#define ALIGN_DOWN(x, a)	((x) / (a) * (a))
#define ALIGN_UP(x, a)		ALIGN_DOWN((x) + (a) - 1, (a))
#define NOBODY			65534

FIXTURE(egm)
{
	int fd;
	__u32 nregions;
	struct egm_region_info regions[EGM_MAX_REGIONS];
	bool have_plat;
	struct egm_platform plat;
};

FIXTURE_SETUP(egm)
{
	self->fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "no %s: egm is not loaded", EGM_DEV);
	ASSERT_LE(0, self->fd);

	self->nregions = EGM_MAX_REGIONS;
	ASSERT_EQ(0, egm_query(self->fd, self->regions, &self->nregions));
	if (!self->nregions)
		SKIP(return, "this machine has no EGM region");
	self->have_plat = egm_platform_load(&self->plat);
}

static bool egm_param(const char *name, const char *val);

FIXTURE_TEARDOWN(egm)
{
	/* Whatever a test did to the knobs, the next one starts afresh. */
	egm_param("scrub_background", "1");
	egm_param("max_map_size", "0");
	if (self->fd >= 0)
		close(self->fd);
}

/* Tests that compare with the firmware need its description. */
#define REQUIRE_PLATFORM()                                                  \
	do {                                                                \
		if (!self->have_plat)                                       \
			SKIP(return, "no platform description; set EGM_PLATFORM"); \
	} while (0)

static const struct egm_plat_region *
plat_region(const struct egm_platform *p, __u32 pxm)
{
	unsigned int i;

	for (i = 0; i < p->nregions; i++)
		if (p->r[i].pxm == pxm)
			return &p->r[i];
	return NULL;
}

/* The bad pages of a window, as offsets, checked against @r if known. */
static int window_bad(int wfd, __u64 *off, unsigned int cap)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info info;
	unsigned int i;

	if (egm_window_info(wfd, &info, bad, EGM_MAX_BAD))
		return -1;
	for (i = 0; i < info.num_bad_pages && i < cap; i++)
		off[i] = bad[i].offset;
	return info.num_bad_pages;
}

/* The offsets of a window's holes: bad pages that no spare backs. */
static int window_holes(int wfd, __u64 *off, unsigned int cap)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info info;
	unsigned int i, n = 0;

	if (egm_window_info(wfd, &info, bad, EGM_MAX_BAD))
		return -1;
	for (i = 0; i < info.num_bad_pages; i++)
		if (!(bad[i].flags & EGM_BAD_PAGE_SUBSTITUTED) && n < cap)
			off[n++] = bad[i].offset;
	return n;
}

/*
 * A window over the first retired page of @r (egm_alloc_over_retired()),
 * PMD aligned, or page aligned where a PMD window would leave its spares
 * no room (64K pages): *align says which.
 */
static __u64 alloc_over_retired(struct __test_metadata *_metadata, int fd,
				const struct egm_plat_region *r, __u64 minlen,
				__u32 flags, int *wfd, __u64 *len, int *filler,
				__u64 *align)
{
	__u64 start;

	*align = egm_over_retired_align(r, pmd_size(), minlen, flags);
	ASSERT_NE(0, *align) TH_LOG("no room for a window over a retired page");
	start = egm_alloc_over_retired(fd, r, *align, minlen, flags, wfd, len,
				       filler);
	ASSERT_NE(~0ULL, start) TH_LOG("cannot carve a window over a retired page");
	return start;
}

/*
 * Expected bad pages of a window at region offset @start of @len, from the
 * platform; returns their number.
 */
static unsigned int plat_bad(const struct egm_plat_region *r, __u64 start,
			     __u64 len, __u64 *off)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nretired; i++)
		if (r->retired[i] >= start && r->retired[i] < start + len)
			off[n++] = r->retired[i] - start;
	return n;
}

static __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

/*
 * How many PMD blocks a fresh region holds with no bad page in them: with
 * 4K pages hundreds, with 64K pages (a PMD is 512 MiB) two of the bench's
 * three. Tests that want N PMDs take at most this many.
 */
static __u64 clean_pmds(const struct egm_region_info *info)
{
	return info->largest_free_good / pmd_size();
}

/* @want PMDs, or as many as clean_pmds() says fit, at least one. */
static __u64 pmds(const struct egm_region_info *info, __u64 want)
{
	return min_u64(want, clean_pmds(info) ?: 1) * pmd_size();
}

/*
 * The alignment of a window of @bytes in tests of data and accounting
 * rather than of mappings: the PMD size where @bytes is a multiple of it,
 * else the page size, so that such a test moves as many bytes with 64K
 * pages (512 MiB PMDs) as with 4K pages.
 */
static __u64 data_align(__u64 bytes)
{
	return bytes % pmd_size() ? PAGE_SIZE : pmd_size();
}

static bool read_sysfs(const char *dir, const char *name, char *buf,
		       size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static long long sysfs_ll(const char *dir, const char *name)
{
	char buf[64];

	if (!read_sysfs(dir, name, buf, sizeof(buf)))
		return LLONG_MIN;
	return strtoll(buf, NULL, 0);
}

/* QUERY reports what firmware describes, and nothing is allocated yet. */
TEST_F(egm, query_matches_firmware)
{
	__u32 i, j;

	REQUIRE_PLATFORM();
	ASSERT_EQ(self->plat.nregions, self->nregions);

	for (i = 0; i < self->nregions; i++) {
		struct egm_region_info *info = &self->regions[i];
		const struct egm_plat_region *r;

		r = plat_region(&self->plat, info->pxm);
		ASSERT_NE(NULL, r) TH_LOG("PXM %u is not in the firmware", info->pxm);
		for (j = 0; j < i; j++) {
			ASSERT_NE(self->regions[j].id, info->id);
			ASSERT_NE(self->regions[j].pxm, info->pxm);
		}
		EXPECT_EQ(r->node, info->numa_node);
		EXPECT_EQ(0, info->__reserved);
		EXPECT_EQ(r->size, info->size);
		EXPECT_EQ(info->size, info->free);
		EXPECT_EQ(r->nretired, info->retired_pages);
		EXPECT_EQ(0, info->poisoned_pages);
		EXPECT_EQ(PAGE_SIZE, info->page_size);
		EXPECT_NE(0, info->align & PAGE_SIZE);
		EXPECT_NE(0, info->align & pmd_size());
#ifdef __x86_64__
		/* A PUD-aligned base gets PUD windows on x86. */
		if (!(r->base % pud_size()))
			EXPECT_NE(0, info->align & pud_size());
#else
		/* arm64 has no PUD PFN mappings: a PMD is the largest. */
		EXPECT_EQ(pmd_size(), egm_largest_map(info->align));
#endif
		/* No alignment larger than the base's own. */
		EXPECT_EQ(0, info->align & ~((r->base & -r->base) * 2 - 1));
	}
}

/* sysfs mirrors QUERY and links each region to the GPUs that report it. */
TEST_F(egm, query_sysfs)
{
	__u32 i;

	for (i = 0; i < self->nregions; i++) {
		struct egm_region_info *info = &self->regions[i];
		const struct egm_plat_region *r = NULL;
		char dir[128], buf[256], *tok, *save;
		__u64 align = 0;
		unsigned int g, n;

		snprintf(dir, sizeof(dir), "%s/egm.%u", EGM_SYSFS, info->id);
		EXPECT_EQ(info->pxm, sysfs_ll(dir, "pxm"));
		EXPECT_EQ(info->numa_node, sysfs_ll(dir, "numa_node"));
		EXPECT_EQ(info->size, sysfs_ll(dir, "size"));
		EXPECT_EQ(info->free, sysfs_ll(dir, "free"));
		EXPECT_EQ(info->retired_pages, sysfs_ll(dir, "retired_pages"));
		EXPECT_EQ(info->poisoned_pages, sysfs_ll(dir, "poisoned_pages"));
		ASSERT_TRUE(read_sysfs(dir, "align", buf, sizeof(buf)));
		for (tok = strtok_r(buf, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save))
			align |= strtoull(tok, NULL, 0);
		EXPECT_EQ(info->align, align);

		if (!self->have_plat)
			continue;
		r = plat_region(&self->plat, info->pxm);
		ASSERT_NE(NULL, r);
		for (n = 0; n < 8; n++) {
			char link[PATH_MAX], target[PATH_MAX];
			ssize_t len;
			bool found = false;

			snprintf(link, sizeof(link), "%s/gpu%u", dir, n);
			len = readlink(link, target, sizeof(target) - 1);
			if (len < 0)
				break;
			target[len] = 0;
			for (g = 0; g < r->ngpus; g++)
				found |= !strcmp(basename(target), r->gpus[g]);
			EXPECT_TRUE(found) TH_LOG("%s -> %s is not a GPU of PXM %u",
						  link, target, info->pxm);
		}
		EXPECT_EQ(r->ngpus, n);
	}
}

/* A short array gets what fits, the count needed and ENOSPC. */
TEST_F(egm, query_enospc)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	struct egm_query q = {
		.size = sizeof(q),
		.entry_size = sizeof(infos[0]),
	};

	/* num_regions 0 asks for the count; nothing is written. */
	q.num_regions = 0;
	q.regions_uptr = 0;
	EXPECT_ERRNO(ENOSPC, ioctl(self->fd, EGM_QUERY, &q));
	EXPECT_EQ(self->nregions, q.num_regions);

	if (self->nregions < 2)
		return;
	memset(infos, 0xa5, sizeof(infos));
	q.num_regions = 1;
	q.regions_uptr = (uintptr_t)infos;
	EXPECT_ERRNO(ENOSPC, ioctl(self->fd, EGM_QUERY, &q));
	EXPECT_EQ(self->nregions, q.num_regions);
	/* clean moves while the background scrubber works. */
	infos[0].clean = self->regions[0].clean;
	EXPECT_EQ(0, memcmp(&infos[0], &self->regions[0], sizeof(infos[0])));
	/* Nothing past the capacity. */
	EXPECT_EQ(0xa5a5a5a5, infos[1].id);

	/* Exactly enough succeeds. */
	q.num_regions = self->nregions;
	EXPECT_EQ(0, ioctl(self->fd, EGM_QUERY, &q));
	EXPECT_EQ(self->nregions, q.num_regions);
}

/*
 * entry_size: smaller than the first version fails; the first version gets
 * just its fields; larger gets a zero-filled tail.
 */
TEST_F(egm, query_entry_size)
{
	size_t esz = sizeof(struct egm_region_info), big = esz + 24;
	size_t v1 = offsetofend(struct egm_region_info, page_size);
	unsigned char *buf;
	struct egm_query q = {
		.size = sizeof(q),
		.num_regions = self->nregions,
		.entry_size = v1 - 8,
	};
	__u32 i, k;

	buf = malloc(big * self->nregions);
	ASSERT_NE(NULL, buf);
	q.regions_uptr = (uintptr_t)buf;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_QUERY, &q));
	q.entry_size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_QUERY, &q));

	/* An old binary's array: packed at its own stride. */
	memset(buf, 0xa5, big * self->nregions);
	q.entry_size = v1;
	ASSERT_EQ(0, ioctl(self->fd, EGM_QUERY, &q));
	ASSERT_EQ(self->nregions, q.num_regions);
	for (i = 0; i < self->nregions; i++)
		EXPECT_EQ(0, memcmp(buf + i * v1, &self->regions[i], v1));
	EXPECT_EQ(0xa5, buf[self->nregions * v1]);

	memset(buf, 0xa5, big * self->nregions);
	q.entry_size = big;
	ASSERT_EQ(0, ioctl(self->fd, EGM_QUERY, &q));
	ASSERT_EQ(self->nregions, q.num_regions);
	for (i = 0; i < self->nregions; i++) {
		struct egm_region_info got;

		/* clean moves while the background scrubber works. */
		memcpy(&got, buf + i * big, esz);
		got.clean = self->regions[i].clean;
		EXPECT_EQ(0, memcmp(&got, &self->regions[i], esz));
		for (k = esz; k < big; k++)
			EXPECT_EQ(0, buf[i * big + k]);
	}
	free(buf);
}

/* The general format: size, flags and extensible tails. */
TEST_F(egm, query_struct_size)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	struct {
		struct egm_query q;
		__u64 extra;
	} big = {
		.q = {
			.size = sizeof(big),
			.num_regions = EGM_MAX_REGIONS,
			.entry_size = sizeof(infos[0]),
			.regions_uptr = (uintptr_t)infos,
		},
		.extra = 1,
	};

	EXPECT_ERRNO(E2BIG, ioctl(self->fd, EGM_QUERY, &big));
	big.extra = 0;
	EXPECT_EQ(0, ioctl(self->fd, EGM_QUERY, &big));
	EXPECT_EQ(self->nregions, big.q.num_regions);
	EXPECT_EQ(0, big.extra);

	big.q.size = sizeof(big.q) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_QUERY, &big));
	big.q.size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_QUERY, &big));

	big.q.size = sizeof(big.q);
	big.q.flags = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, EGM_QUERY, &big));
	big.q.flags = 1U << 31;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, EGM_QUERY, &big));

	big.q.flags = 0;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, EGM_QUERY, NULL));
	big.q.regions_uptr = 8;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, EGM_QUERY, &big));
}

/* Unknown commands, including the window's, fail with ENOTTY. */
TEST_F(egm, ioctl_unknown)
{
	struct egm_query q = { .size = sizeof(q) };
	int wfd;

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(EGM_TYPE, 0x7f), &q));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(EGM_TYPE, EGM_CMD_WINDOW_INFO + 1), &q));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, EGM_WINDOW_INFO, &q));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO('x', EGM_CMD_QUERY), &q));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOWR(EGM_TYPE, EGM_CMD_QUERY,
						   struct egm_query), &q));

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, pmd_size(),
			       pmd_size(), &wfd));
	EXPECT_ERRNO(ENOTTY, ioctl(wfd, EGM_QUERY, &q));
	EXPECT_ERRNO(ENOTTY, ioctl(wfd, EGM_ALLOC, &q));
	EXPECT_ERRNO(ENOTTY, ioctl(wfd, _IO(EGM_TYPE, 0x7f), &q));
	close(wfd);
}

/* Every region: the free count drops by the length and comes back. */
TEST_F(egm, alloc_free_each_pxm)
{
	__u32 i;

	for (i = 0; i < self->nregions; i++) {
		struct egm_region_info *info = &self->regions[i];
		__u64 free0 = egm_free(self->fd, info->pxm), len;
		struct egm_window_info wi;
		char dir[PATH_MAX];
		int wfd, wfd2;

		/* Eight PMDs, or all but one of the clean ones (64K pages). */
		ASSERT_LE(2, clean_pmds(info));
		len = min_u64(8, clean_pmds(info) - 1) * pmd_size();
		snprintf(dir, sizeof(dir), "%s/egm.%u", EGM_SYSFS, info->id);
		ASSERT_EQ(info->size, free0);
		ASSERT_EQ(0, egm_alloc(self->fd, info->pxm, len, pmd_size(), &wfd));
		ASSERT_LE(0, wfd);
		/* O_CLOEXEC and read-write. */
		EXPECT_EQ(FD_CLOEXEC, fcntl(wfd, F_GETFD));
		EXPECT_EQ(O_RDWR, fcntl(wfd, F_GETFL) & O_ACCMODE);
		EXPECT_EQ(free0 - len, egm_free(self->fd, info->pxm));
		EXPECT_EQ(free0 - len, sysfs_ll(dir, "free"));

		ASSERT_EQ(0, egm_window_info(wfd, &wi, NULL, 0));
		EXPECT_EQ(info->pxm, wi.pxm);
		EXPECT_EQ(info->numa_node, wi.numa_node);
		EXPECT_EQ(len, wi.length);
		EXPECT_EQ(pmd_size(), wi.alignment);

		ASSERT_EQ(0, egm_alloc(self->fd, info->pxm, pmd_size(), 0, &wfd2));
		EXPECT_EQ(free0 - len - pmd_size(), egm_free(self->fd, info->pxm));
		/* Alignment 0 picks the PMD size. */
		ASSERT_EQ(0, egm_window_info(wfd2, &wi, NULL, 0));
		EXPECT_EQ(pmd_size(), wi.alignment);

		close(wfd);
		EXPECT_EQ(free0 - pmd_size(), egm_free(self->fd, info->pxm));
		close(wfd2);
		EXPECT_EQ(free0, egm_free(self->fd, info->pxm));
		EXPECT_EQ(free0, sysfs_ll(dir, "free"));
	}
}

/* Every ALLOC error the uapi documents. */
TEST_F(egm, alloc_errno)
{
	struct egm_region_info *info = &self->regions[0];
	__u32 pxm = info->pxm, bad_pxm = 0;
	__u64 hp = pmd_size();
	int wfd = -1;
	__u32 i;

	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, 0, hp, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, 0, 0, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp + PAGE_SIZE, hp, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp / 2, hp, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp + PAGE_SIZE, 0, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, 3, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, 3 * hp, 3 * PAGE_SIZE, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, hp + PAGE_SIZE, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, 1ULL << 63, 1ULL << 63, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, 1ULL << 63, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, ~0ULL, &wfd));
	/* Powers of two the region does not support. */
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, 2 * hp, 2 * hp, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, 1, &wfd));
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, pxm, hp, PAGE_SIZE / 2, &wfd));

	for (i = 0; i < self->nregions; i++)
		if (self->regions[i].pxm >= bad_pxm)
			bad_pxm = self->regions[i].pxm + 1;
	EXPECT_ERRNO(ENODEV, egm_alloc(self->fd, bad_pxm, hp, hp, &wfd));
	EXPECT_ERRNO(ENODEV, egm_alloc(self->fd, ~0U, hp, hp, &wfd));

	EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, info->size + hp, hp, &wfd));
	/*
	 * Every length past the region, before anything is sized by it: 1 <<
	 * 52 used to ask kmalloc() for a 256 MiB bitmap, which WARNs.
	 */
	for (i = 31; i < 64; i++)
		if (1ULL << i > info->size)
			EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, 1ULL << i,
						       hp, &wfd));
	EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, ~(hp - 1), hp, &wfd));

	EXPECT_EQ(-1, wfd);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, EGM_ALLOC, NULL));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, EGM_ALLOC, 8));
	/* Nothing leaked from the failures. */
	EXPECT_EQ(info->size, egm_free(self->fd, pxm));
}

/* ALLOC's general format: size, flags and extensible tails. */
TEST_F(egm, alloc_struct_size)
{
	struct {
		struct egm_alloc a;
		__u64 extra[2];
	} big = {
		.a = {
			.size = sizeof(big),
			.pxm = self->regions[0].pxm,
			.length = pmd_size(),
			.alignment = pmd_size(),
			.out_fd = -1,
		},
		.extra = { 0, 1 },
	};

	EXPECT_ERRNO(E2BIG, ioctl(self->fd, EGM_ALLOC, &big));
	EXPECT_EQ(-1, big.a.out_fd);

	big.a.size = sizeof(big.a) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_ALLOC, &big));
	big.a.size = offsetof(struct egm_alloc, alignment);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_ALLOC, &big));
	big.a.size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, EGM_ALLOC, &big));

	big.a.size = sizeof(big.a);
	big.a.flags = EGM_ALLOC_ASYNC << 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, EGM_ALLOC, &big));
	big.a.flags = 1U << 31;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, EGM_ALLOC, &big));
	EXPECT_EQ(self->regions[0].size,
		  egm_free(self->fd, self->regions[0].pxm));

	/* A larger structure with a zero tail works. */
	big.a.flags = 0;
	big.a.size = sizeof(big);
	big.extra[1] = 0;
	ASSERT_EQ(0, ioctl(self->fd, EGM_ALLOC, &big));
	ASSERT_LE(0, big.a.out_fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(big.a.out_fd, F_GETFD));
	EXPECT_EQ(self->regions[0].size - pmd_size(),
		  egm_free(self->fd, self->regions[0].pxm));
	close(big.a.out_fd);
}

/* Fill a region to the last byte: ENOSPC, and every byte comes back. */
TEST_F_TIMEOUT(egm, exhaustion, 300)
{
	struct egm_region_info *info = &self->regions[self->nregions - 1];
	__u64 hp = pmd_size(), size = info->size;
	__u32 pxm = info->pxm, holes = EGM_ALLOC_HOLES;
	int big = -1, a, b, c;

	ASSERT_EQ(size, egm_free(self->fd, pxm));
	/* With 64K pages the region is just three PMDs, which is enough. */
	ASSERT_LE(3 * hp, size);
	ASSERT_EQ(0, size % hp);

	/*
	 * Holes throughout: spares for bad pages would take bytes of their
	 * own, and with 64K pages the last PMD holds retired pages.
	 */
	if (size > 3 * hp)
		ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, size - 3 * hp, hp,
					     holes, &big));
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, hp, hp, holes, &a));
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, hp, hp, holes, &b));
	EXPECT_EQ(hp, egm_free(self->fd, pxm));
	EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, pxm, 2 * hp, hp, holes,
					     &c));
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, hp, hp, holes, &c));
	EXPECT_EQ(0, egm_free(self->fd, pxm));
	EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, hp, hp, NULL));
	EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, PAGE_SIZE, PAGE_SIZE,
				       NULL));

	/* A hole is reused, but two holes apart do not make one range. */
	close(a);
	close(c);
	EXPECT_EQ(2 * hp, egm_free(self->fd, pxm));
	EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, pxm, 2 * hp, hp, NULL));
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, hp, hp, holes, &a));
	EXPECT_EQ(hp, egm_free(self->fd, pxm));

	if (big >= 0)
		close(big);
	close(a);
	close(b);
	EXPECT_EQ(size, egm_free(self->fd, info->pxm));
}

static bool wait_clean(int fd, __u32 pxm, int seconds);

/*
 * Alignment alone can leave no room while enough bytes are free, at the
 * largest alignment the region has (a PUD on x86, a PMD on arm64) over
 * the next smaller one. The windows keep holes: spares would move bytes.
 */
TEST_F(egm, alloc_enospc_alignment)
{
	struct egm_region_info *info = &self->regions[0];
	__u64 big = egm_largest_map(info->align);
	__u64 small = egm_map_below(info->align, big);
	__u64 slots = info->size / big;
	__u32 pxm = info->pxm, holes = EGM_ALLOC_HOLES;
	int w[5] = { -1, -1, -1, -1, -1 }, more[32], nmore = 0, wfd, i;
	__u64 rest;

	ASSERT_LT(small, big) TH_LOG("the region has no huge alignment");
	ASSERT_LE(big + small, info->size);
	if (slots >= 2) {
		/*
		 * Placement prefers clean memory and memory without bad
		 * pages: with all of the region dirty and the scrubber off,
		 * first fit alone decides, from 0 (no bad page in the first
		 * two slots on any bench layout).
		 */
		ASSERT_TRUE(egm_param("scrub_background", "0"));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, info->size, small,
					     holes, &wfd));
		close(wfd);
	} else {
		/* First fit from 0: no clean memory elsewhere to prefer. */
		ASSERT_TRUE(wait_clean(self->fd, pxm, 240));
	}
	/* A small window at 0 takes the first aligned slot ... */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, small, small, holes, &w[0]));
	if (slots >= 2) {
		/*
		 * ... one at the end of the second takes that, and the
		 * others the rest: two temporary windows make room for both.
		 */
		ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, big - small, small,
					     holes, &w[1]));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, big - small, small,
					     holes, &w[2]));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, small, small, holes,
					     &w[3]));
		/*
		 * The rest in aligned pieces, as large as fit: where the
		 * allocator puts the small ones is its business.
		 */
		for (rest = slots - 2; rest && nmore < ARRAY_SIZE(more);) {
			if (!egm_alloc_flags(self->fd, pxm, rest * big, big,
					     holes, &more[nmore])) {
				nmore++;
				continue;
			}
			ASSERT_EQ(ENOSPC, errno);
			rest /= 2;
		}
		ASSERT_EQ(0, rest) TH_LOG("more than %zu pieces",
					  ARRAY_SIZE(more));
		close(w[1]);
		close(w[2]);
		w[1] = -1;
		w[2] = -1;
	}
	/* Neither the first slot nor, past the end, any other is free. */
	EXPECT_LE(big, egm_free(self->fd, pxm));
	EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, pxm, big, big, holes,
					     NULL));
	/* Without the alignment it fits. */
	EXPECT_EQ(0, egm_alloc_flags(self->fd, pxm, big, small, holes, &wfd));
	close(wfd);
	for (i = 0; i < 5; i++)
		if (w[i] >= 0)
			close(w[i]);
	for (i = 0; i < nmore; i++)
		close(more[i]);
	EXPECT_TRUE(egm_param("scrub_background", "1"));
	EXPECT_EQ(info->size, egm_free(self->fd, pxm));
}

#define MAX_FILLERS	64

/*
 * Take all of a region's free memory with windows that keep their bad
 * pages as holes (so that they need no spares), so that the next window
 * can only go where a window is freed. Returns how many, in @fds.
 */
static int fill_free(struct __test_metadata *_metadata, int fd, __u32 pxm,
		     int *fds)
{
	struct egm_region_info info;
	int n = 0;

	for (;;) {
		ASSERT_TRUE(egm_region_by_pxm(fd, pxm, &info));
		if (!info.free)
			return n;
		ASSERT_GT(MAX_FILLERS, n);
		ASSERT_EQ(0, egm_alloc_flags(fd, pxm, info.largest_free,
					     PAGE_SIZE, EGM_ALLOC_HOLES,
					     &fds[n]));
		n++;
	}
}

static void close_all(int *fds, int n)
{
	while (n--)
		close(fds[n]);
}

/*
 * A new window never shows what an earlier one held: write the whole
 * window, free it, carve the same range again and find only zeroes.
 * Everything else is taken meanwhile, since a new window would rather go
 * to clean memory than to the range just freed. The
 * holes are neither written nor read; substituted pages are, like any
 * other. If @want is set, the holes must be those @nwant. @wfd is the
 * first window, already carved with alignment @align, which this closes;
 * the second is carved with @align and @flags.
 */
static void check_isolation(struct __test_metadata *_metadata, int fd,
			    __u32 pxm, int wfd, __u64 len, __u64 align,
			    __u32 flags, const __u64 *want, int nwant)
{
	__u64 bad[EGM_MAX_BAD], bad2[EGM_MAX_BAD];
	int nbad, nbad2, fills[MAX_FILLERS], nfill;
	void *p;

	nbad = window_holes(wfd, bad, EGM_MAX_BAD);
	ASSERT_LE(0, nbad);
	ASSERT_GE(EGM_MAX_BAD, nbad);
	if (want) {
		ASSERT_EQ(nwant, nbad);
		ASSERT_EQ(0, memcmp(want, bad, nbad * sizeof(bad[0])));
	}
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Zeroed on allocation, then ours. */
	EXPECT_EQ(-1, egm_check(p, len, 0, true, bad, nbad));
	egm_fill(p, len, pxm + 1, bad, nbad);
	ASSERT_EQ(-1, egm_check(p, len, pxm + 1, false, bad, nbad));
	ASSERT_EQ(0, munmap(p, len));
	nfill = fill_free(_metadata, fd, pxm, fills);
	close(wfd);

	/* The same range and spares come back: the same bad pages show it. */
	ASSERT_EQ(0, egm_alloc_flags(fd, pxm, len, align, flags, &wfd));
	nbad2 = window_holes(wfd, bad2, EGM_MAX_BAD);
	ASSERT_EQ(nbad, nbad2);
	ASSERT_EQ(0, memcmp(bad, bad2, nbad * sizeof(bad[0])));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, egm_check(p, len, 0, true, bad, nbad));
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
	close_all(fills, nfill);
}

TEST_F_TIMEOUT(egm, isolation, 120)
{
	__u64 len = 32 * SZ_2M, align = data_align(len);
	__u32 i, pxm;
	int wfd;

	for (i = 0; i < self->nregions; i++) {
		pxm = self->regions[i].pxm;
		ASSERT_EQ(self->regions[i].size, egm_free(self->fd, pxm));
		ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &wfd));
		check_isolation(_metadata, self->fd, pxm, wfd, len, align, 0,
				NULL, 0);
		EXPECT_EQ(self->regions[i].size, egm_free(self->fd, pxm));
	}
}

/*
 * The same over retired pages: holes must be neither read nor written,
 * and substituted pages isolate like any other, spares included.
 */
TEST_F_TIMEOUT(egm, isolation_retired, 300)
{
	static const __u32 modes[] = { EGM_ALLOC_HOLES, 0 };
	const struct egm_plat_region *r;
	__u64 want[EGM_MAX_BAD], len, start, align;
	unsigned int m;
	int filler, wfd;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	for (m = 0; m < 2; m++) {
		start = alloc_over_retired(_metadata, self->fd, r, 0, modes[m],
					   &wfd, &len, &filler, &align);
		check_isolation(_metadata, self->fd, r->pxm, wfd, len, align,
				modes[m], want,
				modes[m] ? plat_bad(r, start, len, want) : 0);
		if (filler >= 0)
			close(filler);
		EXPECT_EQ(r->size, egm_free(self->fd, r->pxm));
	}
}

/* Two windows of one region never share a byte. */
TEST_F(egm, no_alias)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 len = 4 * SZ_2M, align = data_align(len);
	int w1, w2;
	void *p1, *p2;

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &w1));
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &w2));
	EXPECT_EQ(self->regions[0].size - 2 * len, egm_free(self->fd, pxm));
	p1 = egm_map(w1, len, 0);
	p2 = egm_map(w2, len, 0);
	ASSERT_NE(MAP_FAILED, p1);
	ASSERT_NE(MAP_FAILED, p2);
	egm_fill(p1, len, 1, NULL, 0);
	egm_fill(p2, len, 2, NULL, 0);
	EXPECT_EQ(-1, egm_check(p1, len, 1, false, NULL, 0));
	EXPECT_EQ(-1, egm_check(p2, len, 2, false, NULL, 0));
	/* A second mapping of w1 sees w1, not w2. */
	munmap(p2, len);
	p2 = egm_map(w1, len, 0);
	ASSERT_NE(MAP_FAILED, p2);
	EXPECT_EQ(-1, egm_check(p2, len, 1, false, NULL, 0));
	munmap(p1, len);
	munmap(p2, len);
	close(w1);
	close(w2);
}

static void *raw_mmap(size_t len, int prot, int flags, int fd,
		      unsigned long off)
{
	return (void *)syscall(__NR_mmap, NULL, len, prot, flags, fd, off);
}

/* Mappings must lie within the window. */
TEST_F_TIMEOUT(egm, mmap_bounds, 120)
{
	__u64 len = 2 * pmd_size();
	int wfd;
	char *p, *q;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len,
			       pmd_size(), &wfd));
	EXPECT_ERRNO(EINVAL, (long)egm_map(wfd, len + PAGE_SIZE, 0));
	EXPECT_ERRNO(EINVAL, (long)egm_map(wfd, len, PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, (long)egm_map(wfd, PAGE_SIZE, len));
	EXPECT_ERRNO(EINVAL, (long)egm_map(wfd, 2 * PAGE_SIZE, len - PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, (long)egm_map(wfd, PAGE_SIZE, 1L << 40));
	/* Offsets the page offset cannot hold. */
	EXPECT_ERRNO(EOVERFLOW, (long)raw_mmap(len, PROT_READ, MAP_SHARED, wfd,
					      LONG_MAX & ~(PAGE_SIZE - 1)));
	EXPECT_ERRNO(EOVERFLOW, (long)raw_mmap(len, PROT_READ, MAP_SHARED, wfd,
					      -PAGE_SIZE));
	EXPECT_ERRNO(EOVERFLOW, (long)raw_mmap(PAGE_SIZE, PROT_READ, MAP_SHARED,
					      wfd, -len));
	EXPECT_ERRNO(EINVAL, (long)raw_mmap(PAGE_SIZE, PROT_READ, MAP_SHARED,
					    wfd, PAGE_SIZE / 2));

	/* Copy-on-write is refused, read-only or not. */
	EXPECT_ERRNO(EINVAL, (long)mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE, wfd, 0));
	EXPECT_ERRNO(EINVAL, (long)mmap(NULL, len, PROT_READ, MAP_PRIVATE,
					wfd, 0));

	/* The last page and an inner range work and see the same memory. */
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = egm_map(wfd, PAGE_SIZE, len - PAGE_SIZE);
	ASSERT_NE(MAP_FAILED, q);
	p[len - PAGE_SIZE + 5] = 0x5a;
	EXPECT_EQ(0x5a, q[5]);
	munmap(q, PAGE_SIZE);
	q = egm_map(wfd, pmd_size(), pmd_size());
	ASSERT_NE(MAP_FAILED, q);
	egm_fill(p, len, 7, NULL, 0);
	EXPECT_EQ(0, memcmp(p + pmd_size(), q, pmd_size()));
	munmap(q, pmd_size());
	munmap(p, len);
	close(wfd);
}

/*
 * A mapping at an offset sees the window from that offset on, and gets
 * huge entries wherever its address and offset allow.
 */
TEST_F_TIMEOUT(egm, mmap_offset, 120)
{
	__u64 hp = pmd_size(), len = pmds(&self->regions[0], 4);
	unsigned long offs[] = { PAGE_SIZE, hp, hp + 5 * PAGE_SIZE, len - hp };
	long before, faults;
	unsigned int i;
	char *p, *q, c;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, hp, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_fill(p, len, 13, NULL, 0);

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		size_t qlen = len - offs[i];

		q = egm_map(wfd, qlen, offs[i]);
		ASSERT_NE(MAP_FAILED, q);
		/* Same position modulo the mapping size as the offset. */
		EXPECT_EQ(offs[i] % hp, (uintptr_t)q % hp);
		before = egm_minflt();
		EXPECT_EQ(0, memcmp(p + offs[i], q, qlen));
		faults = egm_minflt() - before;
		/*
		 * Whole huge pages in the mapping take one fault each; the
		 * pages of the head, which no huge entry fits, one fault for
		 * the block.
		 */
		EXPECT_GE(qlen / hp + 3, faults);
		/* Writes through it land at the right place. */
		c = q[qlen - 1];
		q[qlen - 1] = ~c;
		EXPECT_EQ((char)~c, p[len - 1]);
		q[qlen - 1] = c;
		munmap(q, qlen);
	}
	EXPECT_EQ(-1, egm_check(p, len, 13, false, NULL, 0));
	munmap(p, len);
	close(wfd);
}

/* Mappings cannot grow, not even within the window. */
TEST_F(egm, mremap_grow)
{
	__u64 len = 2 * pmd_size();
	int wfd;
	void *p;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len,
			       pmd_size(), &wfd));
	p = egm_map(wfd, pmd_size(), 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_ERRNO(EFAULT, (long)mremap(p, pmd_size(), len, MREMAP_MAYMOVE));
	EXPECT_ERRNO(EFAULT, (long)mremap(p, pmd_size(), 2 * len,
					  MREMAP_MAYMOVE));
	EXPECT_ERRNO(EFAULT, (long)mremap(p, pmd_size(), len, 0));
	/* The mapping is intact. */
	*(volatile char *)p = 1;
	EXPECT_EQ(0, munmap(p, pmd_size()));
	close(wfd);
}

/*
 * Splits at any page work, as for vfio-pci BARs: the faults around them
 * fall back to smaller entries, and every page still maps its own offset.
 */
TEST_F_TIMEOUT(egm, split_unaligned, 120)
{
	__u64 hp = pmd_size(), len = pmds(&self->regions[0], 4);
	int wfd;
	char *p;

	ASSERT_LE(2 * hp, len);
	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, hp, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* get_unmapped_area picked a huge-page aligned address. */
	EXPECT_EQ(0, (uintptr_t)p % hp);
	egm_fill(p, len, 3, NULL, 0);

	EXPECT_EQ(0, mprotect(p + PAGE_SIZE, PAGE_SIZE, PROT_READ));
	EXPECT_EQ(0, madvise(p + 2 * PAGE_SIZE, PAGE_SIZE, MADV_DONTFORK));
	EXPECT_EQ(0, mprotect(p + hp / 2, hp, PROT_READ));
	EXPECT_EQ(-1, egm_check(p, len, 3, false, NULL, 0));
	EXPECT_EQ(0, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, munmap(p + 3 * PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(0, munmap(p + len - PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(-1, egm_check_range(p, 0, 3 * PAGE_SIZE, 3, false, NULL, 0));
	EXPECT_EQ(-1, egm_check_range(p, 4 * PAGE_SIZE, len - PAGE_SIZE, 3,
				      false, NULL, 0));
	p[0] = 1;
	p[hp + 1] = 1;
	munmap(p, len);
	close(wfd);
}

/* The inode is openable through /proc/self/fd like a memfd's. */
TEST_F_TIMEOUT(egm, reopen_proc_fd, 120)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 len = 2 * pmd_size(), free0 = egm_free(self->fd, pxm);
	struct egm_window_info wi;
	char path[64];
	int wfd, rfd, rofd;
	char *p, *q;

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, pmd_size(), &wfd));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", wfd);
	rfd = open(path, O_RDWR);
	ASSERT_LE(0, rfd);
	rofd = open(path, O_RDONLY);
	ASSERT_LE(0, rofd);

	p = egm_map(wfd, len, 0);
	q = egm_map(rfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_NE(p, q);
	egm_fill(p, len, 11, NULL, 0);
	EXPECT_EQ(-1, egm_check(q, len, 11, false, NULL, 0));
	q[100] = 0x42;
	EXPECT_EQ(0x42, p[100]);
	ASSERT_EQ(0, egm_window_info(rfd, &wi, NULL, 0));
	EXPECT_EQ(len, wi.length);
	EXPECT_EQ(pxm, wi.pxm);

	/* A read-only open maps read-only only. */
	EXPECT_ERRNO(EACCES, (long)egm_map(rofd, len, 0));
	munmap(q, len);
	q = mmap(NULL, len, PROT_READ, MAP_SHARED, rofd, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x42, q[100]);
	munmap(q, len);
	close(rofd);

	/* The reopened file keeps the window alive on its own... */
	munmap(p, len);
	close(wfd);
	EXPECT_EQ(free0 - len, egm_free(self->fd, pxm));
	q = egm_map(rfd, len, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x42, q[100]);
	/* ...and so does a mapping once every fd is closed. */
	close(rfd);
	EXPECT_EQ(free0 - len, egm_free(self->fd, pxm));
	EXPECT_EQ(0x42, q[100]);
	munmap(q, len);
	EXPECT_EQ(free0, egm_free(self->fd, pxm));
}

/* Size is fixed: lseek and fstat report it, truncate is refused. */
TEST_F(egm, size_and_truncate)
{
	__u64 len = pmds(&self->regions[0], 3);
	struct stat st;
	char path[64];
	int wfd, rfd;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len,
			       pmd_size(), &wfd));
	EXPECT_EQ(len, lseek(wfd, 0, SEEK_END));
	EXPECT_EQ(PAGE_SIZE, lseek(wfd, PAGE_SIZE, SEEK_SET));
	ASSERT_EQ(0, fstat(wfd, &st));
	EXPECT_EQ(len, st.st_size);
	EXPECT_TRUE(S_ISREG(st.st_mode));

	snprintf(path, sizeof(path), "/proc/self/fd/%d", wfd);
	rfd = open(path, O_RDWR);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(len, lseek(rfd, 0, SEEK_END));
	ASSERT_EQ(0, fstat(rfd, &st));
	EXPECT_EQ(len, st.st_size);

	EXPECT_ERRNO(EPERM, ftruncate(wfd, 2 * len));
	EXPECT_ERRNO(EPERM, ftruncate(wfd, len - PAGE_SIZE));
	EXPECT_ERRNO(EPERM, ftruncate(rfd, 0));
	EXPECT_EQ(0, ftruncate(wfd, len));
	EXPECT_EQ(0, ftruncate(rfd, len));
	ASSERT_EQ(0, fstat(wfd, &st));
	EXPECT_EQ(len, st.st_size);
	close(rfd);
	close(wfd);
}

/*
 * Fault counts prove the mapping size: touch every page of a window and
 * count the minor faults. Returns the faults per GiB.
 */
/*
 * Write every page of a mapping its reads populated: no fault, but one an
 * entry on CPUs whose page tables need the kernel to set dirty bits.
 */
static void write_faults_ok(struct __test_metadata *_metadata, char *p,
			    __u64 len)
{
	long before = egm_minflt(), faults;

	egm_touch(p, len);
	faults = egm_minflt() - before;
	EXPECT_GE(egm_clean_write_faults() ? (long)(len / PAGE_SIZE) : 1,
		  faults);
}

static double faults_per_gib(struct __test_metadata *_metadata, int wfd,
			     __u64 len, long *faults)
{
	long before, after;
	char *p;

	p = egm_map(wfd, len, 0);
	if (p == MAP_FAILED) {
		EXPECT_NE(MAP_FAILED, p);
		return -1;
	}
	before = egm_minflt();
	egm_touch_read(p, len);
	after = egm_minflt();
	/* Writes then fault only where the CPU does not set dirty bits. */
	write_faults_ok(_metadata, p, len);
	/* What was written is there. */
	EXPECT_EQ(1, p[0]);
	EXPECT_EQ(1, p[len - PAGE_SIZE]);
	munmap(p, len);
	*faults = after - before;
	return (double)*faults * (1UL << 30) / len;
}

/* A region whose first window of @len at @align has no bad page. */
static int alloc_clean(int fd, const struct egm_region_info *regions,
		       __u32 n, __u64 len, __u64 align, __u32 *pxm)
{
	__u32 i;
	int wfd;

	for (i = 0; i < n; i++) {
		__u64 bad[1];

		if (!(regions[i].align & align) || regions[i].size < len)
			continue;
		if (egm_alloc(fd, regions[i].pxm, len, align, &wfd))
			continue;
		if (window_bad(wfd, bad, 1) == 0) {
			*pxm = regions[i].pxm;
			return wfd;
		}
		close(wfd);
	}
	return -1;
}

/* Does the CPU have 1 GiB pages? Only x86 says so in cpuinfo. */
static const char *cpu_gbpages(void)
{
#ifdef __x86_64__
	static char line[8192];
	FILE *f = fopen("/proc/cpuinfo", "r");
	const char *ret = "unknown";

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		ret = strstr(line, " pdpe1gb") ? "yes" : "no";
		break;
	}
	if (f)
		fclose(f);
	return ret;
#else
	return "n/a";
#endif
}

/*
 * A window of the largest mapping size the region reports maps with one
 * entry: a PUD on x86 with 1 GiB pages, a PMD on arm64, which has no PUD
 * PFN mappings (and so must refuse PUD-aligned windows). Fault counts
 * cannot tell a PMD from pages mapped around a fault, but a split can:
 * it zaps the whole leaf, so the rest of the window faults back in.
 */
TEST_F_TIMEOUT(egm, fault_pud, 240)
{
	__u64 big = egm_largest_map(self->regions[0].align), len = big, piece;
	long faults, before;
	double per_gib;
	__u32 pxm;
	char *p;
	int wfd;

#ifndef __x86_64__
	EXPECT_EQ(0, self->regions[0].align & pud_size());
	EXPECT_ERRNO(EINVAL, egm_alloc(self->fd, self->regions[0].pxm,
				       pud_size(), pud_size(), NULL));
#endif
	ASSERT_LT(PAGE_SIZE, big) TH_LOG("the region has no huge alignment");
	wfd = alloc_clean(self->fd, self->regions, self->nregions, len, big, &pxm);
	ASSERT_LE(0, wfd) TH_LOG("no clean %llu MiB window aligned to it",
				 (unsigned long long)big >> 20);
	per_gib = faults_per_gib(_metadata, wfd, len, &faults);
	ksft_print_msg("PXM %u, %llu MiB window aligned %llu MiB: %ld faults, %.1f minor faults per GiB (CPU 1G pages: %s)\n",
		       pxm, (unsigned long long)len >> 20,
		       (unsigned long long)big >> 20, faults, per_gib,
		       cpu_gbpages());
	/* One entry, plus slack for the test's own stack. */
	EXPECT_LE(1, faults);
	EXPECT_GE(2, faults);

	/*
	 * The mapping splits anywhere; the rest faults back in smaller: in
	 * PMDs where the leaf was a PUD, in pages where it was a PMD.
	 */
	piece = big > pmd_size() ? pmd_size() : big / 4;
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p % big);
	EXPECT_EQ(1, p[len - PAGE_SIZE]);
	before = egm_minflt();
	EXPECT_EQ(0, munmap(p + piece, piece));
	EXPECT_EQ(0, mprotect(p, piece, PROT_READ));
	EXPECT_EQ(1, p[len - PAGE_SIZE]);
	EXPECT_EQ(1, p[0]);
	faults = egm_minflt() - before;
	EXPECT_LE(1, faults) TH_LOG("no leaf was split: the window had pages");
	munmap(p, len);
	close(wfd);
}

TEST_F_TIMEOUT(egm, fault_pmd, 120)
{
	__u64 len = pmds(&self->regions[0], 128);
	double per_gib, expect = (double)(1UL << 30) / pmd_size();
	long faults;
	__u32 pxm;
	int wfd;

	wfd = alloc_clean(self->fd, self->regions, self->nregions, len,
			  pmd_size(), &pxm);
	ASSERT_LE(0, wfd);
	per_gib = faults_per_gib(_metadata, wfd, len, &faults);
	ksft_print_msg("PXM %u, %lu MiB window aligned %lu KiB: %ld faults, %.1f minor faults per GiB (PMD: %.0f)\n",
		       pxm, (unsigned long)(len >> 20), pmd_size() >> 10,
		       faults, per_gib, expect);
	/* One fault per PMD entry, and a little slack. */
	EXPECT_LE(len / pmd_size(), faults);
	EXPECT_GE(len / pmd_size() + 4, faults);
	close(wfd);
}

/*
 * The baseline: a page-aligned window is mapped with pages, the pages of
 * a PMD-sized block of the mapping in one fault.
 */
TEST_F(egm, fault_pte)
{
	__u64 len = pmds(&self->regions[0], 4);
	double per_gib;
	long faults;
	__u32 pxm;
	int wfd;

	wfd = alloc_clean(self->fd, self->regions, self->nregions, len,
			  PAGE_SIZE, &pxm);
	ASSERT_LE(0, wfd);
	per_gib = faults_per_gib(_metadata, wfd, len, &faults);
	ksft_print_msg("PXM %u, %lu MiB window aligned %lu KiB: %ld faults, %.1f minor faults per GiB\n",
		       pxm, (unsigned long)(len >> 20), PAGE_SIZE >> 10,
		       faults, per_gib);
	EXPECT_LE(len / pmd_size(), faults);
	EXPECT_GE(len / pmd_size() + 2, faults);
	close(wfd);
}

static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	sigbus_info = *si;
	siglongjmp(sigbus_jmp, 1);
}

/* Access @addr; true if that raised SIGBUS (recorded in sigbus_info). */
static bool access_sigbus(volatile char *addr, bool write)
{
	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (sigsetjmp(sigbus_jmp, 1))
		return true;
	if (write)
		*addr = 1;
	else
		(void)*addr;
	return false;
}

/*
 * In a window with holes, retired pages raise SIGBUS; the rest of their
 * huge page works. The window holds a clean huge page too: after the bad
 * one, or (when the bad one is the region's last, as with 64K pages)
 * before it.
 */
TEST_F_TIMEOUT(egm, retired_sigbus, 240)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};
	const struct egm_plat_region *r;
	__u64 hp = pmd_size(), len, start, align, hoff, bad[EGM_MAX_BAD];
	int filler, wfd, nbad, n, i;
	long before, faults;
	char *p, *hb, *clean;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	start = alloc_over_retired(_metadata, self->fd, r, 2 * hp,
				   EGM_ALLOC_HOLES, &wfd, &len, &filler,
				   &align);
	ASSERT_EQ(hp, align);
	nbad = window_holes(wfd, bad, EGM_MAX_BAD);
	ASSERT_LT(0, nbad);
	ASSERT_EQ(r->retired[0] - start, bad[0]);
	/* The bad pages of the first two huge pages: all in one of them. */
	for (n = 0; n < nbad && bad[n] < 2 * hp; n++)
		;
	ASSERT_EQ(bad[0] / hp, bad[n - 1] / hp)
		TH_LOG("one of the two huge pages must be clean");
	/* From here on, offsets in the huge page with the bad pages. */
	hoff = bad[0] / hp * hp;
	for (i = 0; i < n; i++)
		bad[i] -= hoff;

	p = egm_map(wfd, 2 * hp, 0);
	ASSERT_NE(MAP_FAILED, p);
	hb = p + hoff;
	clean = hoff ? p : p + hp;
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	/* The clean huge page maps with one fault. */
	before = egm_minflt();
	egm_touch(clean, hp);
	faults = egm_minflt() - before;
	EXPECT_GE(2, faults);

	for (i = 0; i < n; i++) {
		char *page = hb + bad[i];

		EXPECT_TRUE(access_sigbus(page + 8, false));
		EXPECT_EQ(SIGBUS, sigbus_info.si_signo);
		EXPECT_EQ(BUS_MCEERR_AR, sigbus_info.si_code);
		EXPECT_EQ(page + 8, (char *)sigbus_info.si_addr);
		EXPECT_EQ(__builtin_ctzl(PAGE_SIZE), sigbus_info.si_addr_lsb);
		/* Again, and for writes: it never gets mapped. */
		EXPECT_TRUE(access_sigbus(page, true));
		EXPECT_EQ(BUS_MCEERR_AR, sigbus_info.si_code);
		EXPECT_EQ(page, (char *)sigbus_info.si_addr);
		EXPECT_TRUE(access_sigbus(page + PAGE_SIZE - 1, false));
	}

	/* Every other page of the huge page around them works. */
	before = egm_minflt();
	EXPECT_EQ(-1, egm_check(hb, hp, 0, true, bad, n));
	faults = egm_minflt() - before;
	egm_fill(hb, hp, 9, bad, n);
	EXPECT_EQ(-1, egm_check(hb, hp, 9, false, bad, n));
	ksft_print_msg("huge page with %d retired page(s): %ld faults for the other %llu pages\n",
		       n, faults, (unsigned long long)(hp / PAGE_SIZE - n));
	/*
	 * No huge entry can cover a retired page: the others are mapped with
	 * pages, in one fault for the block, and the retired ones never.
	 */
	EXPECT_GE(2, faults);
	for (i = 0; i < n; i++)
		EXPECT_TRUE(access_sigbus(hb + bad[i], false));

	signal(SIGBUS, SIG_DFL);
	munmap(p, 2 * hp);
	close(wfd);
	if (filler >= 0)
		close(filler);
	EXPECT_EQ(r->size, egm_free(self->fd, r->pxm));
}

/* WINDOW_INFO describes the window and lists its bad pages, sorted. */
TEST_F(egm, window_info_fields)
{
	struct egm_bad_page bad[2];
	struct egm_window_info wi;
	__u32 i;

	for (i = 0; i < self->nregions; i++) {
		struct egm_region_info *info = &self->regions[i];
		int wfd;

		ASSERT_EQ(0, egm_alloc(self->fd, info->pxm, 2 * pmd_size(),
				       pmd_size(), &wfd));
		memset(bad, 0xa5, sizeof(bad));
		ASSERT_EQ(0, egm_window_info(wfd, &wi, bad, 2));
		EXPECT_EQ(sizeof(wi), wi.size);
		EXPECT_EQ(0, wi.flags);
		EXPECT_EQ(info->pxm, wi.pxm);
		EXPECT_EQ(info->numa_node, wi.numa_node);
		EXPECT_EQ(2 * pmd_size(), wi.length);
		EXPECT_EQ(pmd_size(), wi.alignment);
		EXPECT_EQ(PAGE_SIZE, wi.page_size);
		EXPECT_EQ(0, wi.__reserved);
		/* The start of each region is clean on the bench. */
		if (self->have_plat)
			EXPECT_EQ(0, wi.num_bad_pages);
		EXPECT_EQ(0xa5a5a5a5, bad[0].flags);
		close(wfd);
	}
}

/*
 * WINDOW_INFO lists the bad pages of a window sorted, as holes or as
 * substituted pages, and counts the substituted ones.
 */
TEST_F_TIMEOUT(egm, window_info_bad_pages, 240)
{
	static const __u32 modes[] = { EGM_ALLOC_HOLES, 0 };
	struct egm_bad_page bad[EGM_MAX_BAD];
	const struct egm_plat_region *r;
	__u64 want[EGM_MAX_BAD], len, start, align;
	struct egm_window_info wi;
	unsigned int n, i, m;
	int filler, wfd;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	for (m = 0; m < 2; m++) {
		__u32 flags = EGM_BAD_PAGE_RETIRED |
			      (modes[m] ? 0 : EGM_BAD_PAGE_SUBSTITUTED);

		start = alloc_over_retired(_metadata, self->fd, r, 0, modes[m],
					   &wfd, &len, &filler, &align);
		n = plat_bad(r, start, len, want);
		ASSERT_LT(0, n);

		memset(bad, 0xa5, sizeof(bad));
		ASSERT_EQ(0, egm_window_info(wfd, &wi, bad, EGM_MAX_BAD));
		EXPECT_EQ(r->pxm, wi.pxm);
		EXPECT_EQ(len, wi.length);
		EXPECT_EQ(align, wi.alignment);
		EXPECT_EQ(PAGE_SIZE, wi.page_size);
		EXPECT_EQ(modes[m], wi.alloc_flags);
		EXPECT_EQ(modes[m] ? 0 : n, wi.num_substituted);
		ASSERT_EQ(n, wi.num_bad_pages);
		for (i = 0; i < n; i++) {
			ksft_print_msg("PXM %u window at %#llx: bad page at %#llx flags %#x\n",
				       r->pxm, (unsigned long long)start,
				       (unsigned long long)bad[i].offset,
				       bad[i].flags);
			EXPECT_EQ(want[i], bad[i].offset);
			EXPECT_EQ(flags, bad[i].flags);
			EXPECT_EQ(0, bad[i].__reserved);
			if (i)
				EXPECT_LT(bad[i - 1].offset, bad[i].offset);
		}
		EXPECT_EQ(0xa5a5a5a5, bad[n].flags);

		/* Too small: what fits, the count and ENOSPC. */
		if (n > 1) {
			memset(bad, 0xa5, sizeof(bad));
			EXPECT_ERRNO(ENOSPC, egm_window_info(wfd, &wi, bad, 1));
			EXPECT_EQ(n, wi.num_bad_pages);
			EXPECT_EQ(want[0], bad[0].offset);
			EXPECT_EQ(0xa5a5a5a5, bad[1].flags);
			/* The rest of the reply is filled all the same. */
			EXPECT_EQ(len, wi.length);
		}
		EXPECT_ERRNO(ENOSPC, egm_window_info(wfd, &wi, NULL, 0));
		EXPECT_EQ(n, wi.num_bad_pages);
		EXPECT_ERRNO(EFAULT, egm_window_info(wfd, &wi, (void *)8, n));

		close(wfd);
		if (filler >= 0)
			close(filler);
		EXPECT_EQ(r->size, egm_free(self->fd, r->pxm));
	}
}

/* WINDOW_INFO's general format. */
TEST_F(egm, window_info_errno)
{
	struct {
		struct egm_window_info wi;
		__u64 extra;
	} big;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, pmd_size(),
			       pmd_size(), &wfd));

	memset(&big, 0, sizeof(big));
	big.wi.size = sizeof(big);
	big.extra = 1;
	EXPECT_ERRNO(E2BIG, ioctl(wfd, EGM_WINDOW_INFO, &big));
	big.extra = 0;
	EXPECT_EQ(0, ioctl(wfd, EGM_WINDOW_INFO, &big));
	EXPECT_EQ(pmd_size(), big.wi.length);

	/* The first version of the structure works, and nothing beyond it. */
	memset(&big, 0xa5, sizeof(big));
	big.wi.size = offsetofend(struct egm_window_info, bad_pages_uptr);
	big.wi.flags = 0;
	big.wi.__reserved = 0;
	big.wi.num_bad_pages = 0;
	EXPECT_EQ(0, ioctl(wfd, EGM_WINDOW_INFO, &big));
	EXPECT_EQ(pmd_size(), big.wi.length);
	EXPECT_EQ(0xa5a5a5a5, big.wi.alloc_flags);

	memset(&big, 0, sizeof(big));
	big.wi.size = offsetofend(struct egm_window_info, bad_pages_uptr) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(wfd, EGM_WINDOW_INFO, &big));
	big.wi.size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(wfd, EGM_WINDOW_INFO, &big));

	big.wi.size = sizeof(big.wi);
	big.wi.flags = EGM_WINDOW_INFO_CLEAR_EVENTS;
	EXPECT_EQ(0, ioctl(wfd, EGM_WINDOW_INFO, &big));
	big.wi.flags = EGM_WINDOW_INFO_CLEAR_EVENTS << 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(wfd, EGM_WINDOW_INFO, &big));
	big.wi.flags = 0;
	big.wi.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(wfd, EGM_WINDOW_INFO, &big));
	big.wi.__reserved = 0;
	EXPECT_EQ(0, ioctl(wfd, EGM_WINDOW_INFO, &big));
	EXPECT_ERRNO(EFAULT, ioctl(wfd, EGM_WINDOW_INFO, NULL));
	close(wfd);
}

/*
 * Processes carving and freeing windows at once: every window is zeroed
 * and private, and the accounting balances to the byte at the end.
 */
static int churn(int fd, const struct egm_region_info *regions, __u32 n,
		 unsigned int seed)
{
	int i, wfd[4] = { -1, -1, -1, -1 };
	__u64 len[4], unit = SZ_2M, align = data_align(unit);

	for (i = 0; i < 64; i++) {
		int slot = rand_r(&seed) % 4;
		__u32 r = rand_r(&seed) % n;
		char *p;

		if (wfd[slot] >= 0) {
			close(wfd[slot]);
			wfd[slot] = -1;
			continue;
		}
		len[slot] = (1 + rand_r(&seed) % 4) * unit;
		if (egm_alloc(fd, regions[r].pxm, len[slot], align, &wfd[slot]))
			return 1;
		p = egm_map(wfd[slot], len[slot], 0);
		if (p == MAP_FAILED)
			return 2;
		if (egm_check(p, len[slot], 0, true, NULL, 0) != -1)
			return 3;
		egm_fill(p, len[slot], seed, NULL, 0);
		munmap(p, len[slot]);
	}
	for (i = 0; i < 4; i++)
		if (wfd[i] >= 0)
			close(wfd[i]);
	return 0;
}

TEST_F_TIMEOUT(egm, concurrent_churn, 120)
{
	pid_t pid[3];
	int i, status;
	__u32 r;

	for (i = 0; i < 3; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			_exit(churn(self->fd, self->regions, self->nregions, i + 1));
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child %d", i);
	}
	for (r = 0; r < self->nregions; r++)
		EXPECT_EQ(self->regions[r].size,
			  egm_free(self->fd, self->regions[r].pxm));
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char c = 'w';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The unprivileged side, in a child: returns 0, or the number of the step
 * that failed (printed with errno).
 */
static int unpriv_vmm(int sock, __u64 len)
{
	struct egm_window_info wi;
	char path[64];
	int step = 0, fd, rfd;
	char *p, *q, c;

#define FAIL_IF(cond) do { step++; if (cond) { \
	ksft_print_msg("unprivileged step %d: %s: %s\n", step, #cond, \
		       strerror(errno)); return step; } } while (0)

	FAIL_IF(setgroups(0, NULL));
	FAIL_IF(setgid(NOBODY));
	FAIL_IF(setuid(NOBODY));
	FAIL_IF(geteuid() != NOBODY);
	/* /dev/egm stays root-only... */
	fd = open(EGM_DEV, O_RDWR);
	FAIL_IF(fd >= 0 || errno != EACCES);
	fd = open(EGM_DEV, O_RDONLY);
	FAIL_IF(fd >= 0 || errno != EACCES);

	/* ...but a window passed to us is ours to use. */
	fd = recv_fd(sock);
	FAIL_IF(fd < 0);
	p = egm_map(fd, len, 0);
	FAIL_IF(p == MAP_FAILED);
	FAIL_IF(egm_check(p, len, 21, false, NULL, 0) != -1);
	egm_fill(p, len, 22, NULL, 0);
	FAIL_IF(egm_window_info(fd, &wi, NULL, 0) || wi.length != len);
	FAIL_IF(lseek(fd, 0, SEEK_END) != (off_t)len);

	/* QEMU's memory-backend-file reopens it by path. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDWR);
	FAIL_IF(rfd < 0);
	q = egm_map(rfd, len, 0);
	FAIL_IF(q == MAP_FAILED);
	FAIL_IF(egm_check(q, len, 22, false, NULL, 0) != -1);
	c = q[len - 1];
	q[len - 1] = c + 1;
	FAIL_IF(p[len - 1] != (char)(c + 1));
	p[len - 1] = c;
	FAIL_IF(ftruncate(rfd, 2 * len) != -1 || errno != EPERM);
	munmap(p, len);
	munmap(q, len);
	close(rfd);
	close(fd);
	return 0;
#undef FAIL_IF
}

TEST_F_TIMEOUT(egm, unprivileged_scm_rights, 120)
{
	__u64 len = 2 * pmd_size();
	int sv[2], wfd, status;
	pid_t pid;
	char *p;

	ASSERT_EQ(0, getuid()) TH_LOG("this test needs root to drop privileges");
	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len,
			       pmd_size(), &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_fill(p, len, 21, NULL, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		close(self->fd);
		close(wfd);
		_exit(unpriv_vmm(sv[1], len));
	}
	close(sv[1]);
	/* As a broker does: the window is the VMM's user's, then passed. */
	ASSERT_EQ(0, fchown(wfd, NOBODY, NOBODY));
	ASSERT_EQ(0, send_fd(sv[0], wfd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The child's writes landed in our window. */
	EXPECT_EQ(-1, egm_check(p, len, 22, false, NULL, 0));
	close(sv[0]);
	munmap(p, len);
	close(wfd);
}

/*
 * In a child: open /dev/egm as nobody, in group @gid or in none; 0 if it
 * opens and QUERY works when @ok, or it fails with EACCES when not.
 */
static int open_as_nobody(gid_t gid, bool in_group, bool ok)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS;
	int fd;

	if (setgroups(in_group ? 1 : 0, &gid) || setgid(NOBODY) ||
	    setuid(NOBODY))
		return 1;
	fd = open(EGM_DEV, O_RDWR);
	if (!ok)
		return fd < 0 && errno == EACCES ? 0 : 2;
	if (fd < 0 || egm_query(fd, infos, &n) || !n)
		return 3;
	return 0;
}

/*
 * /dev/egm is root's alone; tools/egm/60-egm.rules gives it to the kvm
 * group (GROUP="kvm", MODE="0660"). Do what the rule does and check that
 * the group can carve and others still get EACCES.
 */
TEST_F(egm, dev_egm_group_rule)
{
	static const struct {
		bool rule, in_group, ok;
	} cases[] = {
		{ false, true, false },	/* no rule: even kvm is refused */
		{ true, true, true },	/* the rule: kvm may */
		{ true, false, false },	/* ...and nobody else */
	};
	const gid_t kvm = 36;
	struct stat st;
	unsigned int i;
	int status;
	pid_t pid;

	ASSERT_EQ(0, stat(EGM_DEV, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(0, chown(EGM_DEV, 0, cases[i].rule ? kvm : st.st_gid));
		ASSERT_EQ(0, chmod(EGM_DEV, cases[i].rule ? 0660 : 0600));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(open_as_nobody(kvm, cases[i].in_group,
					     cases[i].ok));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, status) TH_LOG("case %u: status %#x", i, status);
	}
	EXPECT_EQ(0, chmod(EGM_DEV, 0600));
	EXPECT_EQ(0, chown(EGM_DEV, 0, st.st_gid));
}

/* What another user can do with a read-only reopen of @ro: 0, or a step. */
static int readonly_other_user(int ro, __u64 len)
{
	char path[64];
	void *p;
	int fd;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ro);
	fd = open(path, O_RDWR);
	if (fd >= 0 || errno != EACCES)
		return 2;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	if (p != MAP_FAILED || errno != EACCES)
		return 3;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, 0);
	if (p == MAP_FAILED)
		return 4;
	return 0;
}

/*
 * A window is 0600, its carver's: a read-only reopen handed to another
 * user stays read-only for reopening and mmap. fchown() is how a broker
 * hands a VMM under another user the whole window.
 */
TEST_F(egm, readonly_fd_stays_readonly)
{
	__u64 len = pmd_size();
	int wfd, ro, status;
	char path[64];
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, getuid()) TH_LOG("this test needs root to drop privileges");
	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, len, &wfd));
	ASSERT_EQ(0, fstat(wfd, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", wfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, ro, 0));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(wfd);
		_exit(readonly_other_user(ro, len));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d", WEXITSTATUS(status));
	close(ro);
	close(wfd);
}

/* Placement avoids bad pages whenever the region has room elsewhere. */
TEST_F_TIMEOUT(egm, alloc_avoids_bad_pages, 120)
{
	const struct egm_plat_region *r;
	__u64 hp = pmd_size(), start, len;
	struct egm_region_info info;
	int filler = -1, wfd;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	/*
	 * Blocks of a PMD, unless no two clean ones are left above the first
	 * retired page's (64K pages: that is the last PMD): then of a page.
	 */
	if (egm_plat_largest_good(r, ALIGN_DOWN(r->retired[0], hp)) < 2 * hp)
		hp = PAGE_SIZE;
	/* Fill the region up to the block of its first retired page ... */
	start = ALIGN_DOWN(r->retired[0], hp);
	if (start)
		ASSERT_EQ(0, egm_alloc(self->fd, r->pxm, start, hp, &filler));
	/* ... then ask for less than the largest clean extent: it is clean. */
	ASSERT_TRUE(egm_region_by_pxm(self->fd, r->pxm, &info));
	len = ALIGN_DOWN(info.largest_free_good, hp) - hp;
	ASSERT_LT(0, (long long)len);
	ASSERT_EQ(0, egm_alloc(self->fd, r->pxm, len, hp, &wfd));
	EXPECT_EQ(0, window_bad(wfd, NULL, 0));
	close(wfd);
	/* With NO_BAD_PAGES too, and a bigger one only without it. */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, r->pxm, len, hp,
				     EGM_ALLOC_NO_BAD_PAGES, &wfd));
	EXPECT_EQ(0, window_bad(wfd, NULL, 0));
	close(wfd);
	len = ALIGN_DOWN(info.largest_free_good, hp) + hp;
	EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, r->pxm, len, hp,
					     EGM_ALLOC_NO_BAD_PAGES, &wfd));
	ASSERT_EQ(0, egm_alloc(self->fd, r->pxm, len, hp, &wfd));
	EXPECT_LT(0, window_bad(wfd, NULL, 0));
	close(wfd);
	EXPECT_ERRNO(EOPNOTSUPP, egm_alloc_flags(self->fd, r->pxm, hp, hp,
						 1U << 31, &wfd));
	if (filler >= 0)
		close(filler);
	EXPECT_EQ(r->size, egm_free(self->fd, r->pxm));
}

/* QUERY's largest free extents follow the platform's retired pages. */
TEST_F(egm, query_largest_free)
{
	__u32 i, k;

	REQUIRE_PLATFORM();
	for (i = 0; i < self->nregions; i++) {
		const struct egm_plat_region *r;
		struct egm_region_info *info = &self->regions[i];
		__u64 prev = 0, good = 0;

		r = plat_region(&self->plat, info->pxm);
		ASSERT_NE(NULL, r);
		for (k = 0; k < r->nretired; k++) {
			if (r->retired[k] - prev > good)
				good = r->retired[k] - prev;
			prev = r->retired[k] + PAGE_SIZE;
		}
		if (r->size - prev > good)
			good = r->size - prev;
		EXPECT_EQ(info->size, info->largest_free);
		EXPECT_EQ(good, info->largest_free_good);
	}
}

/*
 * A window that cannot avoid retired pages gets spares in their place: it
 * reads and writes like plain RAM, in every mapping, with no SIGBUS, and
 * the spares are accounted for and given back.
 */
TEST_F_TIMEOUT(egm, substituted_pages_work, 300)
{
	const struct egm_plat_region *r;
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info wi;
	__u64 len, start, free0, align;
	int filler, wfd;
	unsigned int i;
	char *p, *q;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	start = alloc_over_retired(_metadata, self->fd, r, 0, 0, &wfd, &len,
				   &filler, &align);
	ASSERT_EQ(0, egm_window_info(wfd, &wi, bad, EGM_MAX_BAD));
	ASSERT_LT(0, wi.num_substituted);
	ASSERT_EQ(wi.num_bad_pages, wi.num_substituted);
	/* Window and spares come out of the region. */
	free0 = r->size - (filler >= 0 ? start : 0);
	EXPECT_EQ(free0 - len - wi.num_substituted * PAGE_SIZE,
		  egm_free(self->fd, r->pxm));

	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, egm_check(p, len, 0, true, NULL, 0));
	egm_fill(p, len, 21, NULL, 0);
	EXPECT_EQ(-1, egm_check(p, len, 21, false, NULL, 0));
	/* A second mapping, and one of just the substituted page, agree. */
	q = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(-1, egm_check(q, len, 21, false, NULL, 0));
	ASSERT_EQ(0, munmap(q, len));
	for (i = 0; i < wi.num_bad_pages; i++) {
		EXPECT_EQ(EGM_BAD_PAGE_RETIRED | EGM_BAD_PAGE_SUBSTITUTED,
			  bad[i].flags);
		q = egm_map(wfd, PAGE_SIZE, bad[i].offset);
		ASSERT_NE(MAP_FAILED, q);
		EXPECT_EQ(egm_pattern(21, bad[i].offset + 8),
			  ((uint64_t *)q)[1]);
		ASSERT_EQ(0, munmap(q, PAGE_SIZE));
	}
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
	if (filler >= 0)
		close(filler);
	EXPECT_EQ(r->size, egm_free(self->fd, r->pxm));
}

/*
 * Firmware records retired pages by 4 KiB; the driver reports the
 * PAGE_SIZE pages that hold them. Records in one page (two 4 KiB records
 * 4 KiB apart share a 64K page) count and list once, and the whole page is
 * a hole; with 4K pages each is a page of its own. The platform file says
 * which records there are, so every layout checks what it has: the fold
 * where its records share a page, their separate pages where they do not.
 */
TEST_F_TIMEOUT(egm, retired_records_fold, 240)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};
	unsigned int i, j, k, npages, nrec = 0, nfold = 0;
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info wi;
	int wfd;
	char *p;

	REQUIRE_PLATFORM();
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	for (i = 0; i < self->nregions; i++) {
		const struct egm_region_info *info = &self->regions[i];
		const struct egm_plat_region *r;

		r = plat_region(&self->plat, info->pxm);
		ASSERT_NE(NULL, r);
		ASSERT_EQ(0, info->poisoned_pages);
		/* The pages that hold the records, counted afresh. */
		npages = 0;
		for (j = 0; j < r->nrecords; j++) {
			for (k = 0; k < j; k++)
				if (r->records[k] / PAGE_SIZE ==
				    r->records[j] / PAGE_SIZE)
					break;
			npages += k == j;
		}
		EXPECT_EQ(npages, r->nretired);
		EXPECT_EQ(npages, info->retired_pages);
		nrec += r->nrecords;
		nfold += r->nrecords - npages;
		if (!r->nrecords)
			continue;

		/* The whole region with holes lists exactly those pages. */
		ASSERT_EQ(info->size, egm_free(self->fd, info->pxm));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, info->size,
					     PAGE_SIZE, EGM_ALLOC_HOLES, &wfd));
		ASSERT_EQ(0, egm_window_info(wfd, &wi, bad, EGM_MAX_BAD));
		ASSERT_EQ(npages, wi.num_bad_pages);
		for (k = 0; k < npages; k++) {
			EXPECT_EQ(r->retired[k], bad[k].offset);
			EXPECT_EQ(EGM_BAD_PAGE_RETIRED, bad[k].flags);
		}
		p = egm_map(wfd, info->size, 0);
		ASSERT_NE(MAP_FAILED, p);
		for (j = 0; j < r->nrecords; j++) {
			__u64 rec = r->records[j], pg = rec / PAGE_SIZE * PAGE_SIZE;

			/* Each record's own 4 KiB faults, and so does its page. */
			EXPECT_TRUE(access_sigbus(p + rec + 8, false))
				TH_LOG("PXM %u record %#llx", info->pxm,
				       (unsigned long long)rec);
			EXPECT_EQ(p + rec + 8, (char *)sigbus_info.si_addr);
			EXPECT_EQ(__builtin_ctzl(PAGE_SIZE),
				  sigbus_info.si_addr_lsb);
			EXPECT_TRUE(access_sigbus(p + pg, true));
			EXPECT_TRUE(access_sigbus(p + pg + PAGE_SIZE - 1, false));
			/* The pages around it work, unless bad themselves. */
			if (pg && !egm_is_bad(r->retired, r->nretired,
					      pg - PAGE_SIZE))
				EXPECT_FALSE(access_sigbus(p + pg - 1, false));
			if (pg + PAGE_SIZE < info->size &&
			    !egm_is_bad(r->retired, r->nretired, pg + PAGE_SIZE))
				EXPECT_FALSE(access_sigbus(p + pg + PAGE_SIZE,
							   false));
		}
		ASSERT_EQ(0, munmap(p, info->size));
		close(wfd);
	}
	signal(SIGBUS, SIG_DFL);
	ksft_print_msg("%u firmware records in %lu KiB pages: %u folded into a page with another\n",
		       nrec, PAGE_SIZE >> 10, nfold);
	/* Nothing folds: every record had a page, and a count, of its own. */
	if (!nfold)
		ksft_print_msg("no two records share a %lu KiB page: each was checked as its own page\n",
			       PAGE_SIZE >> 10);
	EXPECT_LT(0, nrec) TH_LOG("the platform retires no page at all");
}

/* The window that holds region offset @off, of @n windows; -1 if none. */
static int window_at(int *fds, int n, __u64 base, __u64 off, __u64 *woff)
{
	struct egm_window_info wi;
	int i;

	for (i = 0; i < n; i++) {
		if (egm_window_info(fds[i], &wi, NULL, 0) && errno != ENOSPC)
			continue;
		if (wi.phys_addr && off >= wi.phys_addr - base &&
		    off - (wi.phys_addr - base) < wi.length) {
			*woff = off - (wi.phys_addr - base);
			return fds[i];
		}
	}
	return -1;
}

/*
 * A firmware record in a region's last 4 KiB makes its last page bad,
 * whatever the page size, and the driver never hands it out: not to a
 * window that must have no bad page, nor as a spare, nor as a page of a
 * window without holes, which would need a spare it does not have; a
 * window with holes over it has it as a hole, which raises SIGBUS. Where
 * the platform retires no region's last page, that page must be handed
 * out like any other.
 */
TEST_F_TIMEOUT(egm, retired_last_page, 300)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};
	const struct egm_region_info *info = &self->regions[0];
	__u64 P = PAGE_SIZE, hp = pmd_size(), size, last, woff, len, align;
	int filler, a, b, c, w, fills[MAX_FILLERS], nfill;
	struct egm_region_info wi_region;
	struct egm_window_info wi;
	struct egm_bad_page bad[EGM_MAX_BAD];
	const struct egm_plat_region *r;
	bool last_bad = false;
	unsigned int i, nb;
	char *p;

	REQUIRE_PLATFORM();
	for (i = 0; i < self->nregions && !last_bad; i++) {
		r = plat_region(&self->plat, self->regions[i].pxm);
		ASSERT_NE(NULL, r);
		last_bad = egm_is_bad(r->retired, r->nretired, r->size - P);
		if (last_bad)
			info = &self->regions[i];
	}
	r = plat_region(&self->plat, info->pxm);
	size = info->size;
	last = size - P;
	ksft_print_msg("PXM %u: the last page is %s\n", info->pxm,
		       last_bad ? "retired" : "good");
	/* The bench's layouts retire none of the two pages before it. */
	ASSERT_FALSE(egm_is_bad(r->retired, r->nretired, size - 2 * P));
	ASSERT_FALSE(egm_is_bad(r->retired, r->nretired, size - 3 * P));
	ASSERT_EQ(size, egm_free(self->fd, info->pxm));
	ASSERT_TRUE(wait_clean(self->fd, info->pxm, 240));
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	/* All but the last three pages: holes, as it holds retired pages. */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, size - 3 * P, P,
				     EGM_ALLOC_HOLES, &filler));
	ASSERT_EQ(0, egm_window_info(filler, &wi, NULL, 0) && errno != ENOSPC);
	ASSERT_EQ(r->base, wi.phys_addr) TH_LOG("the filler is not at 0");
	ASSERT_TRUE(egm_region_by_pxm(self->fd, info->pxm, &wi_region));
	EXPECT_EQ(3 * P, wi_region.free);
	EXPECT_EQ(last_bad ? 2 * P : 3 * P, wi_region.largest_free_good);
	if (last_bad) {
		EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, info->pxm, 3 * P,
						     P, EGM_ALLOC_NO_BAD_PAGES,
						     NULL));
		/* Its spare would have to be a page it holds itself. */
		EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, info->pxm, 3 * P, P,
					       NULL));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, P, P,
					     EGM_ALLOC_NO_BAD_PAGES, &a));
		ASSERT_EQ(0, egm_alloc(self->fd, info->pxm, P, P, &b));
		EXPECT_EQ(0, window_bad(a, NULL, 0));
		EXPECT_EQ(0, window_bad(b, NULL, 0));
		/* Only the last page is left, and only holes may have it. */
		EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, info->pxm, P, P,
						     EGM_ALLOC_NO_BAD_PAGES,
						     NULL));
		EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, info->pxm, P, P, NULL));
		ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, P, P,
					     EGM_ALLOC_HOLES, &c));
		ASSERT_EQ(0, egm_window_info(c, &wi, bad, EGM_MAX_BAD));
		EXPECT_EQ(r->base + last, wi.phys_addr);
		ASSERT_EQ(1, wi.num_bad_pages);
		EXPECT_EQ(0, bad[0].offset);
		EXPECT_EQ(EGM_BAD_PAGE_RETIRED, bad[0].flags);
		p = egm_map(c, P, 0);
		ASSERT_NE(MAP_FAILED, p);
		/* The record's own 4 KiB, and the rest of the page. */
		for (i = 0; i < r->nrecords; i++)
			if (r->records[i] >= last)
				EXPECT_TRUE(access_sigbus(p + r->records[i] - last,
							  false));
		EXPECT_TRUE(access_sigbus(p, true));
		EXPECT_EQ(__builtin_ctzl(PAGE_SIZE), sigbus_info.si_addr_lsb);
		EXPECT_TRUE(access_sigbus(p + P - 1, false));
		munmap(p, P);
		close(c);
		close(b);
		close(a);
	} else {
		/* A window without bad pages ends at the region's end. */
		ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, 3 * P, P,
					     EGM_ALLOC_NO_BAD_PAGES, &a));
		ASSERT_EQ(0, egm_window_info(a, &wi, NULL, 0) && errno != ENOSPC);
		EXPECT_EQ(r->base + size - 3 * P, wi.phys_addr);
		p = egm_map(a, 3 * P, 0);
		ASSERT_NE(MAP_FAILED, p);
		EXPECT_FALSE(access_sigbus(p + 3 * P - 1, true));
		munmap(p, 3 * P);
		close(a);
	}
	close(filler);

	/* A PMD window at the end, with the last PMD's bad pages. */
	ASSERT_EQ(0, size % hp);
	nb = egm_plat_nbad(r, size - hp, hp);
	ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, size - hp, hp,
				     EGM_ALLOC_HOLES, &filler));
	if (nb) {
		EXPECT_ERRNO(ENOSPC, egm_alloc_flags(self->fd, info->pxm, hp, hp,
						     EGM_ALLOC_NO_BAD_PAGES,
						     NULL));
		EXPECT_ERRNO(ENOSPC, egm_alloc(self->fd, info->pxm, hp, hp, NULL));
	}
	ASSERT_EQ(0, egm_alloc_flags(self->fd, info->pxm, hp, hp,
				     EGM_ALLOC_HOLES, &w));
	ASSERT_EQ(0, egm_window_info(w, &wi, bad, EGM_MAX_BAD));
	EXPECT_EQ(r->base + size - hp, wi.phys_addr);
	ASSERT_EQ(nb, wi.num_bad_pages);
	if (last_bad)
		EXPECT_EQ(hp - P, bad[nb - 1].offset);
	p = egm_map(w, hp, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(last_bad, access_sigbus(p + hp - 8, false));
	EXPECT_FALSE(access_sigbus(p + hp - P - 8, true));
	munmap(p, hp);
	close(w);
	close(filler);

	/*
	 * Spares come from the top of the region: a window that needs them
	 * must not get the retired last page, which stays free, so that a
	 * window with holes that takes the rest has it as a hole.
	 */
	if (last_bad && r->nretired > 1) {
		__u64 start;

		start = alloc_over_retired(_metadata, self->fd, r, 0, 0, &w,
					   &len, &filler, &align);
		ASSERT_EQ(0, egm_window_info(w, &wi, NULL, 0) && errno != ENOSPC);
		ASSERT_LT(0, wi.num_substituted);
		EXPECT_LE(start + len, last);
		nfill = fill_free(_metadata, self->fd, info->pxm, fills);
		c = window_at(fills, nfill, r->base, last, &woff);
		ASSERT_LE(0, c) TH_LOG("the last page was taken as a spare");
		ASSERT_EQ(0, egm_window_info(c, &wi, bad, EGM_MAX_BAD));
		for (i = 0; i < wi.num_bad_pages && bad[i].offset != woff; i++)
			;
		ASSERT_GT(wi.num_bad_pages, i);
		EXPECT_EQ(EGM_BAD_PAGE_RETIRED, bad[i].flags);
		close_all(fills, nfill);
		close(w);
		if (filler >= 0)
			close(filler);
	}
	signal(SIGBUS, SIG_DFL);
	EXPECT_EQ(size, egm_free(self->fd, info->pxm));
}

/*
 * qemu_ram_remap() after a memory error: one page of the fd mapped with
 * MAP_FIXED over a huge-mapped window, at its own offset. It must work
 * and show that offset, and the pages around it too.
 */
TEST_F_TIMEOUT(egm, remap_fixed_single_page, 120)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 hp = pmd_size(), len = 2 * hp, off = hp + 5 * PAGE_SIZE;
	char *p, *q;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, hp, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_fill(p, len, 5, NULL, 0);
	/* As QEMU does: munmap is not needed, MAP_FIXED replaces it. */
	q = mmap(p + off, PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, wfd, off);
	ASSERT_EQ(p + off, q);
	EXPECT_EQ(-1, egm_check(p, len, 5, false, NULL, 0));
	((uint64_t *)q)[0] = 42;
	EXPECT_EQ(42, ((uint64_t *)(p + off))[0]);
	ASSERT_EQ(0, munmap(p, len));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(42, ((uint64_t *)(p + off))[0]);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/* fsync, fdatasync and msync succeed as on a memfd: nothing to write back. */
TEST_F(egm, sync)
{
	__u64 len = pmd_size();
	int wfd;
	char *p;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, len, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	EXPECT_EQ(0, fsync(wfd));
	EXPECT_EQ(0, fdatasync(wfd));
	EXPECT_EQ(0, msync(p, len, MS_SYNC));
	EXPECT_EQ(0, msync(p, len, MS_ASYNC));
	EXPECT_EQ(0, msync(p, len, MS_INVALIDATE));
	EXPECT_EQ(1, p[0]);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/*
 * A VMM's prealloc cannot use MADV_POPULATE_* on a PFN mapping; the docs
 * say which errno makes QEMU fall back to touching pages.
 */
TEST_F(egm, populate_einval)
{
	__u64 len = pmd_size();
	int wfd;
	char *p;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, len, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_ERRNO(EINVAL, madvise(p, len, 23 /* MADV_POPULATE_WRITE */));
	EXPECT_ERRNO(EINVAL, madvise(p, len, 22 /* MADV_POPULATE_READ */));
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/*
 * A touch of a hole is explained in the kernel log: which process, which
 * window (the inode number fstat gives), which offset and why.
 */
TEST_F_TIMEOUT(egm, bad_page_logged, 240)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};
	const struct egm_plat_region *r;
	__u64 len, align, bad[EGM_MAX_BAD];
	char want[128], buf[1024];
	bool found = false;
	int filler, wfd, kmsg, i;
	struct stat st;
	ssize_t n;
	char *p;

	REQUIRE_PLATFORM();
	r = egm_plat_most_retired(&self->plat);
	if (!r)
		SKIP(return, "the platform has no retired page");
	alloc_over_retired(_metadata, self->fd, r, 0, EGM_ALLOC_HOLES, &wfd,
			   &len, &filler, &align);
	ASSERT_LT(0, window_holes(wfd, bad, EGM_MAX_BAD));
	ASSERT_EQ(0, fstat(wfd, &st));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, (int)lseek(kmsg, 0, SEEK_END));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	snprintf(want, sizeof(want), "window %lu offset %#llx", (unsigned long)st.st_ino,
		 (unsigned long long)bad[0]);
	/*
	 * The report is rate limited (10 in 5 s), and the tests before may
	 * have used the burst up: touch again until one gets through.
	 */
	for (i = 0; i < 30 && !found; i++) {
		ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
		EXPECT_TRUE(access_sigbus(p + bad[0], false));
		signal(SIGBUS, SIG_DFL);
		while ((n = read(kmsg, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = 0;
			if (strstr(buf, want) && strstr(buf, "retired")) {
				found = true;
				ksft_print_msg("%s", strchr(buf, ';') ?
					       strchr(buf, ';') + 1 : buf);
			}
		}
		if (!found)
			usleep(250 * 1000);
	}
	EXPECT_TRUE(found) TH_LOG("no \"%s\" in the kernel log", want);
	close(kmsg);
	munmap(p, len);
	close(wfd);
	if (filler >= 0)
		close(filler);
}

/* A module parameter, as written to its sysfs file; false on failure. */
static bool egm_param(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/module/egm/parameters/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

/* Wait for the background scrubber to make all free memory of @pxm clean. */
static bool wait_clean(int fd, __u32 pxm, int seconds)
{
	struct egm_region_info info;
	int i;

	for (i = 0; i < seconds * 10; i++) {
		if (!egm_region_by_pxm(fd, pxm, &info))
			return false;
		if (info.clean == info.free)
			return true;
		usleep(100000);
	}
	return false;
}

/* The background scrubber zeroes all free memory; sysfs agrees with QUERY. */
TEST_F_TIMEOUT(egm, clean_in_background, 300)
{
	struct egm_region_info info;
	char dir[128];
	__u32 i;

	for (i = 0; i < self->nregions; i++) {
		__u32 pxm = self->regions[i].pxm;

		ASSERT_TRUE(wait_clean(self->fd, pxm, 240))
			TH_LOG("PXM %u: free memory never became clean", pxm);
		ASSERT_TRUE(egm_region_by_pxm(self->fd, pxm, &info));
		EXPECT_EQ(info.free, info.clean);
		snprintf(dir, sizeof(dir), "%s/egm.%u", EGM_SYSFS, info.id);
		EXPECT_EQ((long long)info.clean, sysfs_ll(dir, "clean"));
	}
}

/*
 * With the background scrubber off, freed memory stays dirty, and a new
 * window goes to clean memory rather than to it; turned back on, the
 * scrubber cleans it.
 */
TEST_F_TIMEOUT(egm, alloc_prefers_clean, 300)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 len = 32 * SZ_2M, size = self->regions[0].size;
	__u64 align = data_align(len);
	struct egm_region_info info;
	int w1, w2;
	void *p;

	ASSERT_TRUE(wait_clean(self->fd, pxm, 240));
	ASSERT_TRUE(egm_param("scrub_background", "0"));
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &w1));
	p = egm_map(w1, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_fill(p, len, 41, NULL, 0);
	ASSERT_EQ(0, munmap(p, len));
	close(w1);
	usleep(500000);
	ASSERT_TRUE(egm_region_by_pxm(self->fd, pxm, &info));
	EXPECT_EQ(size, info.free);
	EXPECT_EQ(size - len, info.clean);

	/* Clean memory is taken, the dirty range stays as it was. */
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &w2));
	ASSERT_TRUE(egm_region_by_pxm(self->fd, pxm, &info));
	EXPECT_EQ(size - len, info.free);
	EXPECT_EQ(size - 2 * len, info.clean);
	p = egm_map(w2, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, egm_check(p, len, 0, true, NULL, 0));
	ASSERT_EQ(0, munmap(p, len));
	close(w2);

	ASSERT_TRUE(egm_param("scrub_background", "1"));
	EXPECT_TRUE(wait_clean(self->fd, pxm, 240));
}

/*
 * Free a written window and take its range back at once, again and
 * again, while the background scrubber is zeroing it: the new window only
 * ever reads zeroes.
 */
TEST_F_TIMEOUT(egm, isolation_mid_scrub, 300)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 len = 16 * SZ_2M, align = data_align(len);
	int fills[MAX_FILLERS], nfill, wfd, round;
	long bad;
	void *p;

	ASSERT_TRUE(egm_param("scrub_background", "1"));
	ASSERT_TRUE(wait_clean(self->fd, pxm, 240));
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &wfd));
	nfill = fill_free(_metadata, self->fd, pxm, fills);
	for (round = 0; round < 8; round++) {
		p = egm_map(wfd, len, 0);
		ASSERT_NE(MAP_FAILED, p);
		egm_fill(p, len, 50 + round, NULL, 0);
		ASSERT_EQ(0, munmap(p, len));
		close(wfd);
		/* The scrubber starts on it now; vary how far it gets. */
		usleep(round * 20000);
		ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, align, &wfd));
		p = egm_map(wfd, len, 0);
		ASSERT_NE(MAP_FAILED, p);
		bad = egm_check(p, len, 0, true, NULL, 0);
		EXPECT_EQ(-1, bad) TH_LOG("round %d: byte %ld not zero", round, bad);
		ASSERT_EQ(0, munmap(p, len));
	}
	close(wfd);
	close_all(fills, nfill);
	EXPECT_EQ(self->regions[0].size, egm_free(self->fd, pxm));
}

/*
 * EGM_ALLOC_ASYNC on dirty memory: the window comes back before it is
 * zeroed, faults wait for their pages and only ever see zeroes, and poll()
 * and WINDOW_INFO tell when all of it is done.
 */
TEST_F_TIMEOUT(egm, async_alloc, 300)
{
	struct egm_region_info *ri = &self->regions[self->nregions - 1];
	__u64 len = pud_size() <= ri->size / 2 ? pud_size() : ri->size / 2;
	struct egm_window_info wi;
	struct pollfd pfd;
	int wfd, i;
	void *p;

	len = ALIGN_DOWN(len, pmd_size());
	ASSERT_TRUE(wait_clean(self->fd, ri->pxm, 240));
	ASSERT_TRUE(egm_param("scrub_background", "0"));
	/* Leave a written, dirty range behind. */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, ri->pxm, ri->size, PAGE_SIZE,
				     EGM_ALLOC_HOLES, &wfd));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_fill(p, len, 61, NULL, 0);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);

	ASSERT_EQ(0, egm_alloc_flags(self->fd, ri->pxm, len, pmd_size(),
				     EGM_ALLOC_ASYNC, &wfd));
	ASSERT_EQ(0, egm_window_info(wfd, &wi, NULL, 0) && errno != ENOSPC);
	EXPECT_EQ(EGM_ALLOC_ASYNC, wi.alloc_flags);
	EXPECT_GE(len, wi.pending);
	ksft_print_msg("async window of %llu MiB: %llu MiB pending at once\n",
		       (unsigned long long)len >> 20,
		       (unsigned long long)wi.pending >> 20);
	/* The faults wait: no byte of the old data shows. */
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, egm_check(p, len, 0, true, NULL, 0));
	pfd.fd = wfd;
	pfd.events = POLLIN;
	for (i = 0; i < 600 && poll(&pfd, 1, 100) == 0; i++)
		;
	EXPECT_EQ(POLLIN, pfd.revents & POLLIN);
	ASSERT_EQ(0, egm_window_info(wfd, &wi, NULL, 0) && errno != ENOSPC);
	EXPECT_EQ(0, wi.pending);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);

	ASSERT_TRUE(egm_param("scrub_background", "1"));
	EXPECT_TRUE(wait_clean(self->fd, ri->pxm, 240));
	EXPECT_EQ(ri->size, egm_free(self->fd, ri->pxm));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * A fatal signal stops the zeroing of a window promptly, on the region
 * with no CPU of its own too, and the range goes back. The bound is taken
 * in this run: an idle process's exit, plus half of the zeroing left.
 */
TEST_F_TIMEOUT(egm, kill_while_zeroing, 300)
{
	struct egm_region_info *ri = &self->regions[self->nregions - 1];
	__u64 len = ALIGN_DOWN(ri->size, pmd_size());
	double t0, full, base, killed, delay;
	int wfd, status;
	pid_t pid;

	ASSERT_TRUE(wait_clean(self->fd, ri->pxm, 240));
	ASSERT_TRUE(egm_param("scrub_background", "0"));
	/* Dirty it all, then time zeroing it all. */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, ri->pxm, len, pmd_size(),
				     EGM_ALLOC_HOLES, &wfd));
	close(wfd);
	t0 = now_ms();
	ASSERT_EQ(0, egm_alloc_flags(self->fd, ri->pxm, len, pmd_size(),
				     EGM_ALLOC_HOLES, &wfd));
	full = now_ms() - t0;
	close(wfd);

	/* What killing and reaping a process costs here, zeroing nothing. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		pause();
		_exit(0);
	}
	usleep(20000);
	t0 = now_ms();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	base = now_ms() - t0;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		egm_alloc_flags(self->fd, ri->pxm, len, pmd_size(),
				EGM_ALLOC_HOLES, &wfd);
		_exit(0);
	}
	delay = full / 5;
	usleep(delay * 1000);
	t0 = now_ms();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	killed = now_ms() - t0;
	ksft_print_msg("PXM %u: zeroing %llu MiB takes %.0f ms; SIGKILL took %.1f ms (%.1f ms idle)\n",
		       ri->pxm, (unsigned long long)len >> 20, full, killed, base);
	EXPECT_TRUE(WIFSIGNALED(status));
	/*
	 * Had the kill waited for the zeroing, it would have taken what
	 * remained of it on top of an idle process's exit: not half of that.
	 */
	EXPECT_GT(base + (full - delay) / 2, killed);
	EXPECT_EQ(ri->size, egm_free(self->fd, ri->pxm));

	ASSERT_TRUE(egm_param("scrub_background", "1"));
	EXPECT_TRUE(wait_clean(self->fd, ri->pxm, 240));
}

/*
 * A mapping shorter than the window's mapping size still gets an address
 * that the next smaller size fits: PMDs for a 64 MiB mapping of a 1 GiB
 * PUD window on x86. On arm64 the largest size is a PMD and the next
 * smaller one a page: the short mapping has pages, a fault per block.
 */
TEST_F(egm, short_mapping_align)
{
	__u64 big = egm_largest_map(self->regions[0].align);
	__u64 small = egm_map_below(self->regions[0].align, big);
	__u64 len = min_u64(32 * small, big / 2);
	long before, faults;
	__u32 pxm;
	char *p;
	int wfd;

	ASSERT_LT(PAGE_SIZE, big) TH_LOG("the region has no huge alignment");
	wfd = alloc_clean(self->fd, self->regions, self->nregions, big, big,
			  &pxm);
	ASSERT_LE(0, wfd);
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p % small);
	before = egm_minflt();
	egm_touch_read(p, len);
	faults = egm_minflt() - before;
	write_faults_ok(_metadata, p, len);
	ksft_print_msg("%llu KiB of a %llu MiB window: %ld faults\n",
		       (unsigned long long)len >> 10,
		       (unsigned long long)big >> 20, faults);
	EXPECT_GE(len / pmd_size() + 2, faults);
	ASSERT_EQ(0, munmap(p, len));
	/* At an offset, too: congruent to it modulo the smaller size. */
	p = egm_map(wfd, len, 3 * small);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p % small);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/*
 * A mapping at an address not congruent to its offset modulo the PMD size
 * (QEMU's memory-backend-file without align=) can have pages only; a page
 * fault maps the rest of its block too, each page at its own offset.
 */
TEST_F(egm, misaligned_fault_around)
{
	__u64 len = pmds(&self->regions[0], 4);
	long before, faults;
	char *resv, *p, *q;
	__u64 off;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, pmd_size(),
			       &wfd));
	resv = mmap(NULL, len + 2 * pmd_size(), PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, resv);
	p = (char *)ALIGN_UP((uintptr_t)resv, pmd_size()) + PAGE_SIZE;
	ASSERT_EQ(p, mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			  wfd, 0));
	before = egm_minflt();
	egm_touch_read(p, len);
	faults = egm_minflt() - before;
	for (off = 0; off < len; off += PAGE_SIZE)
		*(volatile __u64 *)(p + off) = off;
	ksft_print_msg("%llu MiB mapped %lu KiB past a PMD boundary: %ld faults\n",
		       (unsigned long long)len >> 20, PAGE_SIZE >> 10, faults);
	EXPECT_GE(len / pmd_size() + 2, faults);
	/* Every page landed at its offset: read back through a huge mapping. */
	q = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, q);
	for (off = 0; off < len; off += PAGE_SIZE)
		if (*(__u64 *)(q + off) != off)
			break;
	EXPECT_EQ(len, off);
	ASSERT_EQ(0, munmap(q, len));
	ASSERT_EQ(0, munmap(resv, len + 2 * pmd_size()));
	close(wfd);
}

/* @len bytes of address space at a multiple of @align, PROT_NONE. */
static char *reserve_aligned(size_t len, size_t align)
{
	char *raw = mmap(NULL, len + align, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED)
		return raw;
	return (char *)ALIGN_UP((uintptr_t)raw, align);
}

/*
 * A clean window of the largest mapping size (*@len: a PUD on x86, a PMD
 * on arm64) in *@wfd, mapped at the start of @nlen of them of address
 * space, aligned to it, and filled with @seed's pattern; NULL if no region
 * has one.
 */
static char *big_map(int fd, const struct egm_region_info *regions, __u32 n,
		     size_t nlen, uint64_t seed, int *wfd, __u64 *len)
{
	char *resv, *p;
	__u32 i;

	for (i = 0; i < n; i++) {
		*len = egm_largest_map(regions[i].align);
		if (*len > PAGE_SIZE &&
		    !egm_alloc_flags(fd, regions[i].pxm, *len, *len,
				     EGM_ALLOC_NO_BAD_PAGES, wfd))
			break;
	}
	if (i == n)
		return NULL;
	resv = reserve_aligned(nlen * *len, *len);
	if (resv == MAP_FAILED)
		return NULL;
	p = mmap(resv, *len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 *wfd, 0);
	if (p != resv)
		return NULL;
	egm_fill(p, *len, seed, NULL, 0);
	return p;
}

/*
 * mprotect() to PROT_NONE and back over a PUD-mapped window keeps the
 * data, with no warning (patches/0021: x86 pud_present() did not count a
 * PROT_NONE leaf, and pudp_invalidate() warned). arm64 maps no PUD: there
 * the largest leaf, a PMD, goes the same way.
 */
TEST_F_TIMEOUT(egm, mprotect_pud, 120)
{
	__u64 len;
	int wfd, kmsg;
	char *p;

#ifndef __x86_64__
	EXPECT_EQ(0, self->regions[0].align & pud_size());
#endif
	p = big_map(self->fd, self->regions, self->nregions, 1, 21, &wfd, &len);
	ASSERT_NE(NULL, p) TH_LOG("no clean window of the largest mapping size");
	kmsg = egm_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, mprotect(p, len, PROT_NONE));
	ASSERT_EQ(0, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_FALSE(egm_kmsg_find(kmsg, "WARNING", "", 0));
	close(kmsg);
	EXPECT_EQ(-1, egm_check(p, len, 21, false, NULL, 0));
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/* A leaf taken for a corrupt table: "bad pud", "bad pmd" and the like. */
static bool bad_table_logged(int kmsg)
{
	return egm_kmsg_find(kmsg, "bad p", "", 0);
}

/*
 * mremap() moves a PUD-mapped window's leaf as it is (patches/0022:
 * get_old_pud() took the leaf for a corrupt table, logged "bad pud" and
 * cleared it, and the pages had to be faulted in again); moved by less
 * than a PUD, the leaf is split and refaulted with PMDs. On arm64 the
 * leaf is a PMD, moved as it is too, or split and refaulted with pages.
 */
TEST_F_TIMEOUT(egm, mremap_pud, 120)
{
	__u64 len, small;
	long before, faults;
	char *p, *q, *to;
	int wfd, kmsg;

	to = big_map(self->fd, self->regions, self->nregions, 4, 22, &wfd, &len);
	ASSERT_NE(NULL, to) TH_LOG("no clean window of the largest mapping size");
	small = egm_map_below(self->regions[0].align, len);
	p = to;
	kmsg = egm_kmsg_open();
	ASSERT_LE(0, kmsg);

	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to + len);
	ASSERT_EQ(to + len, q);
	EXPECT_FALSE(bad_table_logged(kmsg));
	before = egm_minflt();
	EXPECT_EQ(-1, egm_check(q, len, 22, false, NULL, 0));
	faults = egm_minflt() - before;
	EXPECT_EQ(0, faults) TH_LOG("the leaf was not moved");

	/* To the next smaller size off a boundary: split, then refaulted. */
	p = mremap(q, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   to + 3 * len - small);
	ASSERT_EQ(to + 3 * len - small, p);
	EXPECT_FALSE(bad_table_logged(kmsg));
	before = egm_minflt();
	EXPECT_EQ(-1, egm_check(p, len, 22, false, NULL, 0));
	faults = egm_minflt() - before;
	EXPECT_GE(len / pmd_size() + 2, faults);
	close(kmsg);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

/*
 * The regions are claimed exclusively: /dev/mem cannot read or map
 * tenant memory, even for root, with CONFIG_STRICT_DEVMEM as
 * distributions build it.
 */
TEST_F(egm, devmem_excluded)
{
	char buf[8];
	unsigned int i;
	void *p;
	int mem;

	ASSERT_TRUE(self->have_plat);
	mem = open("/dev/mem", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, mem) TH_LOG("no /dev/mem: CONFIG_DEVMEM is in the config");
	for (i = 0; i < self->plat.nregions; i++) {
		__u64 pa = self->plat.r[i].base + self->plat.r[i].size / 2;

		/* EPERM, or EFAULT for a range above high_memory. */
		EXPECT_EQ(-1, pread(mem, buf, sizeof(buf), pa));
		EXPECT_TRUE(errno == EPERM || errno == EFAULT);
		p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, mem, pa);
		EXPECT_EQ(MAP_FAILED, p);
		if (p != MAP_FAILED)
			munmap(p, PAGE_SIZE);
	}
	close(mem);
}

/* KernelPageSize of /proc/self/smaps for the mapping at @p, in KiB. */
static long smaps_kernel_page_kb(void *p)
{
	char line[256], start[32];
	bool in = false;
	long kb = -1;
	FILE *f;

	snprintf(start, sizeof(start), "%lx-", (unsigned long)p);
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') > strchr(line, '-'))
			in = !strncmp(line, start, strlen(start));
		if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * smaps tells what the page tables hold: a window mapped where no huge
 * entry fits must not be reported as mapped in huge pages.
 */
TEST_F(egm, smaps_page_size)
{
	__u64 len = pmd_size();
	char *resv, *p;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, len, &wfd));
	resv = mmap(NULL, 3 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, resv);
	p = (char *)ALIGN_UP((uintptr_t)resv, pmd_size()) + PAGE_SIZE;
	ASSERT_EQ(p, mmap(p, len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, wfd, 0));
	egm_touch(p, len);
	EXPECT_EQ((long)(PAGE_SIZE >> 10), smaps_kernel_page_kb(p));
	ASSERT_EQ(0, munmap(resv, 3 * len));
	close(wfd);
}

/* max_map_size caps the entries faults insert: pages only, then back. */
TEST_F(egm, max_map_size)
{
	__u64 len = pmd_size();
	long before, faults;
	char val[32];
	char *p;
	int wfd;

	snprintf(val, sizeof(val), "%lu", PAGE_SIZE);
	ASSERT_EQ(0, egm_alloc(self->fd, self->regions[0].pxm, len, len, &wfd));
	ASSERT_TRUE(egm_param("max_map_size", val));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	before = egm_minflt();
	egm_touch(p, len);
	faults = egm_minflt() - before;
	EXPECT_LE(len / PAGE_SIZE, faults);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_TRUE(egm_param("max_map_size", "0"));
	p = egm_map(wfd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	before = egm_minflt();
	egm_touch(p, len);
	faults = egm_minflt() - before;
	EXPECT_GE(2, faults);
	ASSERT_EQ(0, munmap(p, len));
	close(wfd);
}

TEST_HARNESS_MAIN
