/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the egm selftests: ioctl wrappers, window mappings, data
 * patterns and the description of the emulated platform.
 *
 * Copyright (c) 2026, The egm authors.
 */
#ifndef __SELFTEST_EGM_UTILS_H
#define __SELFTEST_EGM_UTILS_H

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/egm.h>

#include "kselftest_harness.h"

#ifndef offsetofend
#define offsetofend(T, m)	(offsetof(T, m) + sizeof(((T *)0)->m))
#endif

#define SZ_2M		(2UL << 20)
#define SZ_1G		(1UL << 30)
#define EGM_DEV		"/dev/egm"
#define EGM_SYSFS	"/sys/bus/platform/devices"
#define EGM_MAX_REGIONS	16
#define EGM_MAX_BAD	64

static unsigned long PAGE_SIZE;

static __attribute__((constructor)) void egm_setup_sizes(void)
{
	PAGE_SIZE = sysconf(_SC_PAGESIZE);
}

#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif

/* 0 or -errno, like the kernel's answer to the write. */
static inline int egm_sysfs_write(const char *path, const char *s)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The mapping sizes of one PMD and one PUD entry. */
static inline unsigned long pmd_size(void)
{
	return PAGE_SIZE * (PAGE_SIZE / 8);
}

static inline unsigned long pud_size(void)
{
	return pmd_size() * (PAGE_SIZE / 8);
}

/*
 * The largest mapping size in a region's (or window's) @align bitmap: the
 * PUD size on x86 with 1 GiB pages, the PMD size on arm64, which has no
 * PUD PFN mappings. PAGE_SIZE if it holds nothing larger.
 */
static inline __u64 egm_largest_map(__u64 align)
{
	return align ? 1ULL << (63 - __builtin_clzll(align)) : PAGE_SIZE;
}

/* The largest size in @align below @size, or PAGE_SIZE. */
static inline __u64 egm_map_below(__u64 align, __u64 size)
{
	return egm_largest_map(align & (size - 1) & ~(PAGE_SIZE - 1));
}

/* As in iommufd_utils.h, which a test may include too. */
#ifndef EXPECT_ERRNO
#define EXPECT_ERRNO(expected_errno, cmd)         \
	({                                        \
		ASSERT_EQ(-1, cmd);               \
		EXPECT_EQ(expected_errno, errno); \
	})
#endif

/* ioctl wrappers: 0 or -1 with errno, like the syscall. */

static inline int egm_query(int fd, struct egm_region_info *infos, __u32 *num)
{
	struct egm_query q = {
		.size = sizeof(q),
		.num_regions = *num,
		.entry_size = sizeof(*infos),
		.regions_uptr = (uintptr_t)infos,
	};
	int ret;

	ret = ioctl(fd, EGM_QUERY, &q);
	*num = q.num_regions;
	return ret;
}

/* The current state of the region of @pxm, or false if there is none. */
static inline bool egm_region_by_pxm(int fd, __u32 pxm, struct egm_region_info *out)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 i, n = EGM_MAX_REGIONS;

	if (egm_query(fd, infos, &n))
		return false;
	for (i = 0; i < n; i++) {
		if (infos[i].pxm == pxm) {
			*out = infos[i];
			return true;
		}
	}
	return false;
}

/* Free bytes of the region of @pxm, or ~0 if it cannot be queried. */
static inline __u64 egm_free(int fd, __u32 pxm)
{
	struct egm_region_info info;

	return egm_region_by_pxm(fd, pxm, &info) ? info.free : ~0ULL;
}

static inline int egm_alloc_flags(int fd, __u32 pxm, __u64 length, __u64 alignment,
				  __u32 flags, int *out_fd)
{
	struct egm_alloc a = {
		.size = sizeof(a),
		.flags = flags,
		.pxm = pxm,
		.length = length,
		.alignment = alignment,
		.out_fd = -1,
	};
	int ret;

	ret = ioctl(fd, EGM_ALLOC, &a);
	if (out_fd)
		*out_fd = ret ? -1 : a.out_fd;
	return ret;
}

static inline int egm_alloc(int fd, __u32 pxm, __u64 length, __u64 alignment,
			    int *out_fd)
{
	return egm_alloc_flags(fd, pxm, length, alignment, 0, out_fd);
}

static inline int egm_window_info(int wfd, struct egm_window_info *info,
				  struct egm_bad_page *bad, __u32 cap)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->num_bad_pages = cap;
	info->bad_pages_uptr = (uintptr_t)bad;
	return ioctl(wfd, EGM_WINDOW_INFO, info);
}

static inline void *egm_map(int wfd, size_t length, off_t offset)
{
	return mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, wfd,
		    offset);
}

static inline long egm_minflt(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_minflt;
}

/* Write one byte in every page: the fault count tells the mapping size. */
static inline void egm_touch(void *p, size_t length)
{
	volatile char *c = p;
	size_t off;

	for (off = 0; off < length; off += PAGE_SIZE)
		c[off] = 1;
}

static inline void egm_touch_read(const void *p, size_t length)
{
	const volatile char *c = p;
	size_t off;

	for (off = 0; off < length; off += PAGE_SIZE)
		(void)c[off];
}

/*
 * Whether the first write through a clean, writable page table entry
 * takes a minor fault. It does on arm64 CPUs without hardware dirty-bit
 * management (QEMU 7.2's -cpu max among them): the kernel then marks the
 * entry dirty itself, without the driver. x86 and Grace do it in hardware.
 * Tests that count a driver's faults count a read pass; a write pass
 * after it costs this fault per written entry.
 */
static inline bool egm_clean_write_faults(void)
{
	static int answer = -1;
	long before;
	char *p;
	int fd;

	if (answer >= 0)
		return answer;
	fd = memfd_create("egm-dirty-probe", 0);
	if (fd < 0 || ftruncate(fd, PAGE_SIZE))
		return false;
	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return false;
	(void)*(volatile char *)p;
	before = egm_minflt();
	*(volatile char *)p = 1;
	answer = egm_minflt() != before;
	munmap(p, PAGE_SIZE);
	return answer;
}

/* /dev/kmsg, positioned after the messages logged so far; -1 on error. */
static inline int egm_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Wait up to @ms milliseconds for a kernel message that contains both @a
 * and @b.
 */
static inline bool egm_kmsg_find(int fd, const char *a, const char *b, int ms)
{
	char buf[2048];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			if (strstr(buf, a) && strstr(buf, b))
				return true;
			continue;
		}
		/* EPIPE: records were overwritten; the next read goes on. */
		if (n < 0 && errno == EPIPE)
			continue;
		if (ms <= 0)
			return false;
		usleep(10 * 1000);
		ms -= 10;
	}
}

/*
 * Data patterns: every 64-bit word encodes a seed and its own offset, so a
 * page that shows up at the wrong place or in the wrong window is caught.
 * Pages whose window offset is in @bad (sorted) are left alone.
 */
static inline uint64_t egm_pattern(uint64_t seed, size_t off)
{
	return (seed * 0x9e3779b97f4a7c15ULL) ^ off ^ 0x5a5a5a5a00000000ULL;
}

static inline bool egm_is_bad(const __u64 *bad, unsigned int nbad, size_t off)
{
	unsigned int i;

	for (i = 0; i < nbad; i++)
		if (off >= bad[i] && off < bad[i] + PAGE_SIZE)
			return true;
	return false;
}

static inline void egm_fill(void *p, size_t length, uint64_t seed,
			    const __u64 *bad, unsigned int nbad)
{
	size_t pg, i;

	for (pg = 0; pg < length; pg += PAGE_SIZE) {
		uint64_t *w = (uint64_t *)((char *)p + pg);

		if (egm_is_bad(bad, nbad, pg))
			continue;
		for (i = 0; i < PAGE_SIZE / 8; i++)
			w[i] = egm_pattern(seed, pg + i * 8);
	}
}

/*
 * Offset of the first word in [@from, @to) of a window mapped at @p that
 * differs from the pattern of @seed, or is nonzero if @zero; -1 if all
 * match.
 */
static inline long egm_check_range(const void *p, size_t from, size_t to,
				   uint64_t seed, bool zero, const __u64 *bad,
				   unsigned int nbad)
{
	size_t pg, i;

	for (pg = from; pg < to; pg += PAGE_SIZE) {
		const uint64_t *w = (const uint64_t *)((const char *)p + pg);

		if (egm_is_bad(bad, nbad, pg))
			continue;
		for (i = 0; i < PAGE_SIZE / 8; i++) {
			uint64_t want = zero ? 0 : egm_pattern(seed, pg + i * 8);

			if (w[i] != want)
				return pg + i * 8;
		}
	}
	return -1;
}

static inline long egm_check(const void *p, size_t length, uint64_t seed, bool zero,
			     const __u64 *bad, unsigned int nbad)
{
	return egm_check_range(p, 0, length, seed, zero, bad, nbad);
}

/*
 * The emulated platform, as the bench exports it (tools/testing/egm-vm/
 * platform-ARCH.sh, staged as /egm/platform.env). Tests that compare the
 * driver with the firmware read the facts from here, never from constants.
 */
struct egm_plat_region {
	__u64 base;
	__u64 size;
	__u32 pxm;
	int node;
	/* Region offsets of the retired pages, in PAGE_SIZE pages, sorted. */
	unsigned int nretired;
	__u64 retired[EGM_MAX_BAD];
	/*
	 * The firmware's records in the region as it lists them: 4 KiB
	 * pages, several of which may fold into one PAGE_SIZE page.
	 */
	unsigned int nrecords;
	__u64 records[EGM_MAX_BAD];
	unsigned int ngpus;
	char gpus[8][16];
};

struct egm_platform {
	unsigned int nregions;
	struct egm_plat_region r[EGM_MAX_REGIONS];
};

static inline char *egm_plat_get(char *buf, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);
	char *line, *end;

	for (line = buf; line && *line; line = strchr(line, '\n'), line += !!line) {
		if (strncmp(line, key, klen) || line[klen] != '=')
			continue;
		line += klen + 1;
		end = strchr(line, '\n') ?: line + strlen(line);
		if (*line == '"') {
			line++;
			if (end > line && end[-1] == '"')
				end--;
		}
		if ((size_t)(end - line) >= len)
			return NULL;
		memcpy(val, line, end - line);
		val[end - line] = 0;
		return val;
	}
	return NULL;
}

static inline bool egm_plat_u64(char *buf, const char *key, __u64 *out)
{
	char val[64], *end;

	if (!egm_plat_get(buf, key, val, sizeof(val)))
		return false;
	*out = strtoull(val, &end, 0);
	return end != val && !*end;
}

static inline void egm_plat_add_retired(struct egm_plat_region *r, __u64 pa)
{
	__u64 pg, t;
	unsigned int i;

	/* Entries outside the region are dropped, like the driver does. */
	if (pa < r->base || pa >= r->base + r->size)
		return;
	if (r->nrecords < EGM_MAX_BAD)
		r->records[r->nrecords++] = pa - r->base;
	pg = (pa - r->base) / PAGE_SIZE * PAGE_SIZE;
	for (i = 0; i < r->nretired; i++)
		if (r->retired[i] == pg)
			return;
	if (r->nretired == EGM_MAX_BAD)
		return;
	r->retired[r->nretired++] = pg;
	for (i = r->nretired - 1; i && r->retired[i - 1] > r->retired[i]; i--) {
		t = r->retired[i];
		r->retired[i] = r->retired[i - 1];
		r->retired[i - 1] = t;
	}
}

/* The NUMA node whose ranges hold @pa: QEMU numbers PXMs like nodes. */
static inline int egm_plat_node(char *buf, __u64 pa)
{
	char key[64], val[512], *tok, *save;
	int n;

	for (n = 0; n < 64; n++) {
		snprintf(key, sizeof(key), "EGM_PLAT_NODE%d_RANGES", n);
		if (!egm_plat_get(buf, key, val, sizeof(val)))
			break;
		for (tok = strtok_r(val, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *dash = strchr(tok, '-');

			if (dash && pa >= strtoull(tok, NULL, 0) &&
			    pa <= strtoull(dash + 1, NULL, 0))
				return n;
		}
	}
	return -1;
}

/*
 * Read the platform file: $EGM_PLATFORM, else /egm/platform.env. Returns
 * false if there is none (real hardware), or if it cannot be parsed.
 */
static inline bool egm_platform_load(struct egm_platform *p)
{
	const char *path = getenv("EGM_PLATFORM") ?: "/egm/platform.env";
	char key[64], val[512], *buf, *tok, *save;
	__u64 n, v;
	unsigned int i;
	ssize_t len;
	int fd;

	memset(p, 0, sizeof(*p));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	buf = calloc(1, 65536);
	len = buf ? read(fd, buf, 65535) : -1;
	close(fd);
	if (len <= 0 || !egm_plat_u64(buf, "EGM_PLAT_NREGIONS", &n) ||
	    n > EGM_MAX_REGIONS)
		goto fail;
	p->nregions = n;
	for (i = 0; i < p->nregions; i++) {
		struct egm_plat_region *r = &p->r[i];

		snprintf(key, sizeof(key), "EGM_PLAT_REGION%u_BASE", i);
		if (!egm_plat_u64(buf, key, &r->base))
			goto fail;
		snprintf(key, sizeof(key), "EGM_PLAT_REGION%u_SIZE", i);
		if (!egm_plat_u64(buf, key, &r->size))
			goto fail;
		snprintf(key, sizeof(key), "EGM_PLAT_REGION%u_PXM", i);
		if (!egm_plat_u64(buf, key, &v))
			goto fail;
		r->pxm = v;
		r->node = egm_plat_node(buf, r->base);
		snprintf(key, sizeof(key), "EGM_PLAT_REGION%u_RETIRED", i);
		if (egm_plat_get(buf, key, val, sizeof(val)))
			for (tok = strtok_r(val, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save))
				egm_plat_add_retired(r, strtoull(tok, NULL, 0));
	}
	/* "SLOT:REGION ...", bus 0, function in SLOT. */
	if (egm_plat_get(buf, "EGM_PLAT_GPUS", val, sizeof(val))) {
		for (tok = strtok_r(val, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			char *colon = strchr(tok, ':');
			struct egm_plat_region *r;

			if (!colon || strtoul(colon + 1, NULL, 0) >= p->nregions)
				goto fail;
			*colon = 0;
			r = &p->r[strtoul(colon + 1, NULL, 0)];
			if (r->ngpus == 8)
				goto fail;
			snprintf(r->gpus[r->ngpus++], sizeof(r->gpus[0]),
				 "0000:00:%s", tok);
		}
	}
	free(buf);
	return true;
fail:
	free(buf);
	memset(p, 0, sizeof(*p));
	return false;
}

/* The platform region with the most retired pages, or NULL. */
static inline const struct egm_plat_region *
egm_plat_most_retired(const struct egm_platform *p)
{
	const struct egm_plat_region *best = NULL;
	unsigned int i;

	for (i = 0; i < p->nregions; i++)
		if (p->r[i].nretired &&
		    (!best || p->r[i].nretired > best->nretired))
			best = &p->r[i];
	return best;
}

/* The retired pages of @r in [from, from + len). */
static inline unsigned int egm_plat_nbad(const struct egm_plat_region *r,
					 __u64 from, __u64 len)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nretired; i++)
		n += r->retired[i] >= from && r->retired[i] - from < len;
	return n;
}

/* The longest run of pages of @r from @from on that holds no retired page. */
static inline __u64 egm_plat_largest_good(const struct egm_plat_region *r,
					  __u64 from)
{
	__u64 prev = from, best = 0;
	unsigned int i;

	for (i = 0; i < r->nretired; i++) {
		if (r->retired[i] < from)
			continue;
		if (r->retired[i] - prev > best)
			best = r->retired[i] - prev;
		prev = r->retired[i] + PAGE_SIZE;
	}
	return r->size - prev > best ? r->size - prev : best;
}

/*
 * Where egm_alloc_over_retired() carves a window of alignment @align:
 * *start is the @align block of the first retired page, or lower if
 * @minlen does not fit from there to the region's end; *len is longer
 * than any clean extent left above. False if there is no such window, or
 * if, without EGM_ALLOC_HOLES, the region would have fewer good pages left
 * than its spares need: with 64K pages a 1.5 GiB region is three 512 MiB
 * PMDs, and a PMD window over the last one takes all that is left.
 */
static inline bool egm_plat_over_retired(const struct egm_plat_region *r,
					 __u64 align, __u64 minlen, __u32 flags,
					 __u64 *start, __u64 *len)
{
	__u64 s, l, room;

	if (!r->nretired || !align || minlen > r->size)
		return false;
	s = r->retired[0] / align * align;
	if (minlen > r->size - s)
		s = (r->size - minlen) / align * align;
	l = (egm_plat_largest_good(r, s) + align) / align * align;
	if (l < minlen)
		l = minlen;
	if (l > r->size - s)
		return false;
	room = r->size - s - l;
	if (!(flags & EGM_ALLOC_HOLES) &&
	    room / PAGE_SIZE - egm_plat_nbad(r, s + l, room) <
	    egm_plat_nbad(r, s, l))
		return false;
	*start = s;
	*len = l;
	return true;
}

/*
 * The alignment to carve a window over retired pages of @r with: @want
 * (a huge size) if egm_plat_over_retired() can place one, else the page
 * size; 0 if neither can.
 */
static inline __u64 egm_over_retired_align(const struct egm_plat_region *r,
					   __u64 want, __u64 minlen, __u32 flags)
{
	__u64 s, l;

	if (egm_plat_over_retired(r, want, minlen, flags, &s, &l))
		return want;
	if (egm_plat_over_retired(r, PAGE_SIZE, minlen, flags, &s, &l))
		return PAGE_SIZE;
	return 0;
}

/*
 * Carve a window over the first retired page of @r, which must be free: a
 * filler takes the region from 0 to where egm_plat_over_retired() says,
 * the @align block of that page or lower, and the window is made longer
 * than any clean free extent left, so that first fit cannot avoid bad
 * pages and puts it there. Returns the window's region offset, or ~0 on
 * failure; *len is at least @minlen, *filler is -1 if no filler was
 * needed, else for the caller to close.
 */
static inline __u64 egm_alloc_over_retired(int fd, const struct egm_plat_region *r,
					   __u64 align, __u64 minlen, __u32 flags,
					   int *wfd, __u64 *len, int *filler)
{
	struct egm_region_info info;
	__u64 start;

	*filler = -1;
	*wfd = -1;
	if (!egm_plat_over_retired(r, align, minlen, flags, &start, len) ||
	    egm_free(fd, r->pxm) != r->size)
		return ~0ULL;
	if (start && egm_alloc(fd, r->pxm, start, align, filler))
		return ~0ULL;
	if (!egm_region_by_pxm(fd, r->pxm, &info))
		goto fail;
	*len = (info.largest_free_good + align) / align * align;
	if (*len < minlen)
		*len = minlen;
	if (*len > r->size - start ||
	    egm_alloc_flags(fd, r->pxm, *len, align, flags, wfd))
		goto fail;
	return start;
fail:
	if (*filler >= 0)
		close(*filler);
	*filler = -1;
	return ~0ULL;
}

#endif /* __SELFTEST_EGM_UTILS_H */
