// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory failure in EGM regions, injected through the kernel's real
 * memory_failure() path from a workqueue, as GHES reports an error, with
 * the knob that CONFIG_EGM_DEBUG adds. Whatever holds the page (a process
 * that maps it, an iommufd import, an open fd, nothing at all), the
 * poison is recorded, counted, listed, and the page is never mapped,
 * zeroed or handed out again.
 *
 * Poison lasts until the driver is reloaded: run before egm_unload_test.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* Some helpers of the iommufd selftests go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "../iommu/iommufd_utils.h"
#include "egm_utils.h"
#pragma GCC diagnostic pop

#include "egm_iommufd_utils.h"

#define INJECT		"/sys/kernel/debug/egm/inject_poison"
/* Without CONFIG_EGM_DEBUG: memory_failure() in the writer's context. */
#define HARD_OFFLINE	"/sys/devices/system/memory/hard_offline_page"
#define EARLY_KILL	"/proc/sys/vm/memory_failure_early_kill"
#define MAP_RW		(IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

static int inject(__u64 pa)
{
	char buf[32];
	int fd, n, ret = 0;

	fd = open(INJECT, O_WRONLY);
	if (fd < 0)
		fd = open(HARD_OFFLINE, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "0x%llx\n", (unsigned long long)pa);
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static __u64 region_poisoned(int fd, __u32 pxm)
{
	struct egm_region_info info;

	return egm_region_by_pxm(fd, pxm, &info) ? info.poisoned_pages : ~0ULL;
}

static __u64 window_pa(int wfd)
{
	struct egm_window_info wi;

	return egm_window_info(wfd, &wi, NULL, 0) && errno != ENOSPC ?
	       0 : wi.phys_addr;
}

/* The flags WINDOW_INFO gives the page at @off, 0 if it lists none. */
static __u32 window_bad_flags(int wfd, __u64 off)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info wi;
	__u32 i;

	if (egm_window_info(wfd, &wi, bad, EGM_MAX_BAD))
		return ~0U;
	for (i = 0; i < wi.num_bad_pages; i++)
		if (bad[i].offset == off)
			return bad[i].flags;
	return 0;
}

static __u32 window_events(int wfd, bool clear, __u32 *revoked)
{
	struct egm_window_info wi;

	memset(&wi, 0, sizeof(wi));
	wi.size = sizeof(wi);
	wi.flags = clear ? EGM_WINDOW_INFO_CLEAR_EVENTS : 0;
	if (ioctl(wfd, EGM_WINDOW_INFO, &wi) && errno != ENOSPC)
		return ~0U;
	if (revoked)
		*revoked = wi.num_dma_revoked;
	return wi.events;
}

static short poll_now(int wfd)
{
	struct pollfd pfd = { .fd = wfd, .events = POLLPRI | POLLIN };

	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;

static void sigbus_handler(int sig, siginfo_t *si, void *ctx)
{
	sigbus_info = *si;
	siglongjmp(sigbus_jmp, 1);
}

/* Read @addr; true if that raised SIGBUS, recorded in sigbus_info. */
static bool read_sigbus(volatile char *addr)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	sigaction(SIGBUS, &sa, NULL);
	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (sigsetjmp(sigbus_jmp, 1))
		return true;
	(void)*addr;
	return false;
}

/* The poisoned page raises SIGBUS BUS_MCEERR_AR at its own address. */
static bool sigbus_ar_at(char *page)
{
	return read_sigbus(page + 8) && sigbus_info.si_signo == SIGBUS &&
	       sigbus_info.si_code == BUS_MCEERR_AR &&
	       (char *)sigbus_info.si_addr == page + 8 &&
	       sigbus_info.si_addr_lsb == __builtin_ctzl(PAGE_SIZE);
}

FIXTURE(poison)
{
	int fd;
	struct egm_platform plat;
	struct egm_region_info regions[EGM_MAX_REGIONS];
	__u32 nregions;
	char early_kill[8];
};

FIXTURE_SETUP(poison)
{
	int fd;

	self->nregions = EGM_MAX_REGIONS;
	self->fd = open(EGM_DEV, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, egm_query(self->fd, self->regions, &self->nregions));
	ASSERT_LE(1, self->nregions);
	ASSERT_TRUE(egm_platform_load(&self->plat));
	set_walign(&self->regions[0]);
	if (access(INJECT, W_OK)) {
		if (access(HARD_OFFLINE, W_OK))
			SKIP(return, "neither %s nor %s", INJECT, HARD_OFFLINE);
		ksft_print_msg("no %s (CONFIG_EGM_DEBUG): using %s\n", INJECT,
			       HARD_OFFLINE);
	}

	/* The default, and the case that used to lose the poison. */
	memset(self->early_kill, 0, sizeof(self->early_kill));
	fd = open(EARLY_KILL, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, read(fd, self->early_kill, sizeof(self->early_kill) - 1));
	close(fd);
	ASSERT_EQ(0, egm_sysfs_write(EARLY_KILL, "0"));
}

FIXTURE_TEARDOWN(poison)
{
	if (self->early_kill[0])
		egm_sysfs_write(EARLY_KILL, self->early_kill);
	close(self->fd);
}

/*
 * Windows for tests that carve several from one region and need no huge
 * mapping: a PMD where the region has room for eight, else (a 512 MiB
 * PMD with 64K pages) WLEN, aligned to walign. *@align gets the alignment.
 */
static __u64 block(const struct egm_region_info *ri, __u64 *align)
{
	if (ri->size >= 8 * pmd_size()) {
		*align = pmd_size();
		return pmd_size();
	}
	*align = walign;
	return WLEN;
}

static const struct egm_plat_region *plat_region(struct egm_platform *p,
						 __u32 pxm)
{
	unsigned int i;

	for (i = 0; i < p->nregions; i++)
		if (p->r[i].pxm == pxm)
			return &p->r[i];
	return NULL;
}

/*
 * The case seen on the bench: a process that does not map the window
 * injects while another maps it, with early kill off. The mapper gets
 * BUS_MCEERR_AR on the page only; the mapping block of the page faults
 * back in, the rest of the window is not touched.
 */
TEST_F(poison, mapped_by_other_process)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 hp = pmd_size(), off = hp + 5 * PAGE_SIZE, len;
	int wfd, c2p[2], p2c[2], status;
	__u64 before, pa;
	__u32 revoked;
	pid_t pid;
	char c;

	/* Four PMD blocks, or the two clean ones of 512 MiB (64K pages). */
	len = self->regions[0].largest_free_good / hp * hp;
	if (len > 4 * hp)
		len = 4 * hp;
	ASSERT_LE(2 * hp, len);
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, len, hp, &wfd));
	pa = window_pa(wfd);
	ASSERT_NE(0, pa);
	ASSERT_EQ(0, window_bad_flags(wfd, off));
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p = egm_map(wfd, len, 0);
		long faults;
		int err = 0;

		if (p == MAP_FAILED)
			_exit(1);
		egm_fill(p, len, 7, NULL, 0);
		if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &c, 1) != 1)
			_exit(2);
		/* Another block: still mapped, no fault, data intact. */
		faults = egm_minflt();
		if (egm_check(p, hp, 7, false, NULL, 0) != -1)
			err |= 4;
		if (egm_minflt() != faults)
			err |= 8;
		if (!sigbus_ar_at(p + off))
			err |= 16;
		/* Again: it is never mapped. */
		if (!sigbus_ar_at(p + off))
			err |= 32;
		/* The rest of its block faults back in, unchanged. */
		faults = egm_minflt();
		if (read_sigbus(p + off + PAGE_SIZE) ||
		    read_sigbus(p + off - PAGE_SIZE))
			err |= 64;
		if (egm_minflt() == faults)
			err |= 128;
		if (egm_check_range(p, hp, off, 7, false, NULL, 0) != -1 ||
		    egm_check_range(p, off + PAGE_SIZE, len, 7, false, NULL,
				    0) != -1)
			err |= 256;
		_exit(err ? 3 : 0);
	}
	ASSERT_EQ(1, read(c2p[0], &c, 1));

	before = region_poisoned(self->fd, pxm);
	EXPECT_EQ(0, window_events(wfd, false, NULL));
	EXPECT_EQ(POLLIN, poll_now(wfd));
	ASSERT_EQ(0, inject(pa + off));
	EXPECT_EQ(before + 1, region_poisoned(self->fd, pxm));
	EXPECT_EQ(EGM_BAD_PAGE_POISONED, window_bad_flags(wfd, off));
	EXPECT_EQ(EGM_WINDOW_EVENT_POISON, window_events(wfd, false, &revoked));
	EXPECT_EQ(0, revoked);
	EXPECT_EQ(POLLIN | POLLPRI, poll_now(wfd));
	/* Clearing reports once more, then the events are gone. */
	EXPECT_EQ(EGM_WINDOW_EVENT_POISON, window_events(wfd, true, NULL));
	EXPECT_EQ(0, window_events(wfd, false, NULL));
	EXPECT_EQ(POLLIN, poll_now(wfd));
	/* A second report of the same page changes nothing. */
	EXPECT_EQ(0, inject(pa + off));
	EXPECT_EQ(before + 1, region_poisoned(self->fd, pxm));
	EXPECT_EQ(0, window_events(wfd, false, NULL));

	ASSERT_EQ(1, write(p2c[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("mapper status %#x", status);
	close(c2p[0]);
	close(c2p[1]);
	close(p2c[0]);
	close(p2c[1]);
	close(wfd);
}

/*
 * A window only iommufd reaches: the import that reaches the page is
 * revoked and the window says so; another import of it is not; the VMM
 * maps the range again, and the page stays out of it.
 */
TEST_F(poison, imported_only)
{
	__u32 pxm = self->regions[0].pxm, ioas, stdev, hwpt, revoked;
	__u64 align, hp = block(&self->regions[0], &align);
	__u64 iova0, iova1, iova2, before, pa;
	int wfd, w2, ifd;

	ifd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, ifd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(ifd, &ioas));
	ASSERT_EQ(0, _test_cmd_mock_domain(ifd, ioas, &stdev, &hwpt, NULL));

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, 2 * hp, align, &wfd));
	pa = window_pa(wfd);
	ASSERT_NE(0, pa);
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(ifd, ioas, wfd, 0, hp, &iova0,
					       MAP_RW));
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(ifd, ioas, wfd, hp, hp, &iova1,
					       MAP_RW));
	before = region_poisoned(self->fd, pxm);
	ASSERT_EQ(0, inject(pa + hp + 3 * PAGE_SIZE));
	EXPECT_EQ(before + 1, region_poisoned(self->fd, pxm));
	EXPECT_EQ(POLLPRI, poll_now(wfd) & POLLPRI);
	EXPECT_EQ(EGM_WINDOW_EVENT_POISON | EGM_WINDOW_EVENT_DMA_REVOKED,
		  window_events(wfd, true, &revoked));
	EXPECT_EQ(1, revoked);
	EXPECT_EQ(0, poll_now(wfd) & POLLPRI);
	EXPECT_EQ(EGM_BAD_PAGE_POISONED,
		  window_bad_flags(wfd, hp + 3 * PAGE_SIZE));

	/* The VMM maps the revoked range again; the hole stays unmapped. */
	EXPECT_EQ(0, _test_ioctl_ioas_unmap(ifd, ioas, iova1, hp, NULL));
	EXPECT_EQ(0, _test_ioctl_ioas_map_file(ifd, ioas, wfd, hp, hp, &iova1,
					       MAP_RW));
	/* A page of the other import: that one is not revoked again. */
	ASSERT_EQ(0, inject(pa + hp + 4 * PAGE_SIZE));
	EXPECT_EQ(EGM_WINDOW_EVENT_POISON | EGM_WINDOW_EVENT_DMA_REVOKED,
		  window_events(wfd, true, &revoked));
	EXPECT_EQ(2, revoked);
	EXPECT_EQ(before + 2, region_poisoned(self->fd, pxm));

	/* A window that nothing but an import holds. */
	ASSERT_EQ(0, egm_alloc(self->fd, pxm, hp, align, &w2));
	pa = window_pa(w2);
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(ifd, ioas, w2, 0, hp, &iova2,
					       MAP_RW));
	ASSERT_EQ(0, close(w2));
	ASSERT_EQ(0, inject(pa + 9 * PAGE_SIZE));
	EXPECT_EQ(before + 3, region_poisoned(self->fd, pxm));

	close(ifd);
	close(wfd);
}

/* An open window that nothing mapped yet: the page never maps. */
TEST_F(poison, open_unmapped)
{
	__u32 pxm = self->regions[self->nregions - 1].pxm;
	__u64 align, hp = block(&self->regions[self->nregions - 1], &align);
	__u64 off = 3 * PAGE_SIZE, before, pa;
	__u64 bad[1] = { 3 * PAGE_SIZE };
	int wfd;
	char *p;

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, hp, align, &wfd));
	pa = window_pa(wfd);
	ASSERT_NE(0, pa);
	before = region_poisoned(self->fd, pxm);
	ASSERT_EQ(0, inject(pa + off));
	EXPECT_EQ(before + 1, region_poisoned(self->fd, pxm));
	EXPECT_EQ(EGM_BAD_PAGE_POISONED, window_bad_flags(wfd, off));
	EXPECT_EQ(EGM_WINDOW_EVENT_POISON, window_events(wfd, true, NULL));

	p = egm_map(wfd, hp, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(sigbus_ar_at(p + off));
	EXPECT_EQ(-1, egm_check(p, hp, 0, true, bad, 1));
	signal(SIGBUS, SIG_DFL);
	munmap(p, hp);
	close(wfd);
}

/*
 * A page that no window holds: before, memory_failure() found no
 * pfn_address_space for it, said "Ignored" and the page went to the next
 * window, zeroed. Now it is recorded, and a window over it has a hole.
 */
TEST_F(poison, free_page)
{
	__u32 pxm = self->regions[self->nregions - 1].pxm;
	const struct egm_plat_region *r = plat_region(&self->plat, pxm);
	__u64 size = self->regions[self->nregions - 1].size, off, before;
	int wfd;
	char *p;

	ASSERT_NE(NULL, r);
	ASSERT_EQ(size, egm_free(self->fd, pxm))
		TH_LOG("the region must be free");
	/* The last page, unless firmware retired it. */
	off = size - PAGE_SIZE;
	while (egm_is_bad(r->retired, r->nretired, off))
		off -= PAGE_SIZE;
	before = region_poisoned(self->fd, pxm);
	ASSERT_EQ(0, inject(r->base + off));
	EXPECT_EQ(before + 1, region_poisoned(self->fd, pxm));

	/* All of the region, with holes: the page is one. */
	ASSERT_EQ(0, egm_alloc_flags(self->fd, pxm, size, PAGE_SIZE,
				     EGM_ALLOC_HOLES, &wfd));
	EXPECT_EQ(EGM_BAD_PAGE_POISONED, window_bad_flags(wfd, off));
	p = egm_map(wfd, size, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(sigbus_ar_at(p + off));
	EXPECT_FALSE(read_sigbus(p + off - PAGE_SIZE));
	signal(SIGBUS, SIG_DFL);
	munmap(p, size);
	close(wfd);
}

/* An early-kill mapper hears at once, BUS_MCEERR_AO, with the address. */
TEST_F(poison, early_kill_mapper)
{
	__u32 pxm = self->regions[0].pxm;
	__u64 align, hp = block(&self->regions[0], &align);
	__u64 off = 11 * PAGE_SIZE, pa;
	int wfd, c2p[2], status;
	pid_t pid;
	char c;

	ASSERT_EQ(0, egm_alloc(self->fd, pxm, hp, align, &wfd));
	pa = window_pa(wfd);
	ASSERT_NE(0, pa);
	ASSERT_EQ(0, pipe(c2p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct timespec ts = { .tv_sec = 30 };
		char *p = egm_map(wfd, hp, 0);
		siginfo_t si;
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGBUS);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (p == MAP_FAILED ||
		    prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
			_exit(1);
		egm_touch(p, hp);
		if (write(c2p[1], "r", 1) != 1)
			_exit(2);
		if (sigtimedwait(&set, &si, &ts) != SIGBUS)
			_exit(3);
		_exit(si.si_code == BUS_MCEERR_AO &&
		      (char *)si.si_addr == p + off ? 0 : 4);
	}
	ASSERT_EQ(1, read(c2p[0], &c, 1));
	ASSERT_EQ(0, inject(pa + off));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("early-kill mapper status %#x", status);
	close(c2p[0]);
	close(c2p[1]);
	close(wfd);
}

/* Every poisoned page stays out of every window made since. */
TEST_F(poison, never_handed_out)
{
	__u32 i;

	for (i = 0; i < self->nregions; i++) {
		const struct egm_region_info *ri = &self->regions[i];
		struct egm_bad_page bad[EGM_MAX_BAD];
		struct egm_window_info wi;
		__u32 j, npois = 0;
		int wfd;

		if (egm_free(self->fd, ri->pxm) != ri->size)
			continue;
		ASSERT_EQ(0, egm_alloc_flags(self->fd, ri->pxm, ri->size,
					     PAGE_SIZE, EGM_ALLOC_HOLES, &wfd));
		ASSERT_EQ(0, egm_window_info(wfd, &wi, bad, EGM_MAX_BAD));
		for (j = 0; j < wi.num_bad_pages; j++) {
			EXPECT_FALSE(bad[j].flags & EGM_BAD_PAGE_SUBSTITUTED);
			if (bad[j].flags & EGM_BAD_PAGE_POISONED)
				npois++;
		}
		EXPECT_EQ(region_poisoned(self->fd, ri->pxm), npois);
		ksft_print_msg("PXM %u: %u poisoned page(s), all holes\n",
			       ri->pxm, npois);
		close(wfd);
	}
}

TEST_HARNESS_MAIN
