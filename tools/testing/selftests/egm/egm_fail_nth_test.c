// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection over every egm operation, in the style of
 * tools/testing/selftests/iommu/iommufd_fail_nth.c.
 *
 * Each operation is run with /proc/self/task/<tid>/fail-nth set to 1, 2,
 * ... so that the 1st, 2nd, ... allocation (failslab, fail_page_alloc,
 * and fail_usercopy and fail_iommufd where the kernel has them) that the
 * calling task makes fails, until a run goes through without reaching its
 * injected failure. After every run the test checks that the operation
 * either worked or failed with an errno of a small set (a fault: a clean
 * SIGBUS or SIGSEGV), that QUERY's free bytes of every region are back to
 * the byte where they were, that no file descriptor or window mapping is
 * left behind, and that the kernel logged no splat. A last test prints the
 * points walked and scans for leaks with kmemleak.
 *
 * The operations: EGM_QUERY; EGM_ALLOC with every flag and alignment, on
 * clean and on dirty memory, over retired pages; EGM_WINDOW_INFO; mmap and
 * the first fault, PMD and page sized; IOMMU_IOAS_MAP_FILE and
 * IOMMU_IOAS_UNMAP; the close, munmap or iommufd close that lets go of a
 * window; poison injection through debugfs (CONFIG_EGM_DEBUG).
 *
 * fail-nth counts the calling task's allocations only: work that the
 * driver defers to its scrub threads or to a workqueue is not walked. The
 * poison walk leaves one page of the last region poisoned until egm is
 * reloaded: run after egm_poison_test and before egm_unload_test.
 *
 * Copyright (c) 2026, The egm authors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* Most helpers of the iommufd selftests go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "../iommu/iommufd_utils.h"
#include "egm_utils.h"
#pragma GCC diagnostic pop

#define DEBUGFS		"/sys/kernel/debug"
#define KMEMLEAK	DEBUGFS "/kmemleak"
#define POISON_FILE	DEBUGFS "/egm/inject_poison"
#define EGM_PARAMS	"/sys/module/egm/parameters/"
#define MAPS_NAME	"egm-window"
#define MAX_NTH		1000
#define MAP_RW		(IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)
#define CLEAN_WANTED	(64UL << 20)
#define MAX_FILLERS	64
#define NO_PAGE_ALLOC	"no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC): only mmap was walked, not the page tables of the fault"

enum fail_op {
	OP_QUERY,
	OP_ALLOC,
	OP_WINDOW_INFO,
	OP_FAULT_PMD,
	OP_FAULT_PTE,
	OP_MAP_FILE,
	OP_UNMAP,
	OP_CLOSE,
	OP_POISON,
	NR_OPS
};

static const char * const op_names[NR_OPS] = {
	[OP_QUERY] = "EGM_QUERY",
	[OP_ALLOC] = "EGM_ALLOC",
	[OP_WINDOW_INFO] = "EGM_WINDOW_INFO",
	[OP_FAULT_PMD] = "mmap+fault(PMD)",
	[OP_FAULT_PTE] = "mmap+fault(page)",
	[OP_MAP_FILE] = "IOMMU_IOAS_MAP_FILE",
	[OP_UNMAP] = "IOMMU_IOAS_UNMAP",
	[OP_CLOSE] = "close",
	[OP_POISON] = "inject_poison",
};

/* Shared by every test's process, for the summary at the end. */
struct fail_totals {
	unsigned int points[NR_OPS];
	unsigned int walks[NR_OPS];
	char skipped[NR_OPS][128];
	unsigned int splats;
};

static struct fail_totals *totals;
static double t_start;

/* The errnos an injected allocation failure may turn into. */
static const int egm_errnos[] = { ENOMEM, EFAULT, EINTR, 0 };
/* iommufd's own fail_iommufd fails object lookups and batches too. */
static const int iommufd_errnos[] = { ENOMEM, EFAULT, EINTR, EINVAL, ENOENT, 0 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 0 or -errno. */
static int fi_write(const char *attr, const char *file, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, file);
	return egm_sysfs_write(path, val);
}

static bool fi_present(const char *attr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), DEBUGFS "/%s", attr);
	return access(path, F_OK) == 0;
}

/*
 * As iommufd_fail_nth.c does: let allocations that may sleep fail too,
 * order-0 pages included (page tables), and keep the log quiet, since
 * every injected failure is expected. Nothing fails unless fail-nth says
 * so: the probabilities stay 0. Returns false without failslab.
 */
static bool setup_fault_injection(void)
{
	struct dirent *e;
	DIR *dir;

	if (fi_write("failslab", "ignore-gfp-wait", "N"))
		return false;
	if (fi_present("fail_page_alloc")) {
		fi_write("fail_page_alloc", "ignore-gfp-wait", "N");
		fi_write("fail_page_alloc", "ignore-gfp-highmem", "N");
		fi_write("fail_page_alloc", "min-order", "0");
	}
	dir = opendir(DEBUGFS);
	if (!dir)
		return false;
	while ((e = readdir(dir))) {
		if (!strncmp(e->d_name, "fail", 4))
			fi_write(e->d_name, "verbose", "0");
	}
	closedir(dir);
	return true;
}

FIXTURE(egm_fail_nth)
{
	int egm;
	int nth_fd;
	__u32 nregions;
	struct egm_region_info regions[EGM_MAX_REGIONS];
	bool have_plat;
	struct egm_platform plat;
	bool fi_page;
	bool fi_usercopy;
	bool scrub_off;
	int fds0;
	/* Held across the walks of a test; teardown lets go of them. */
	int wfd;
	unsigned int nfillers;
	int fillers[MAX_FILLERS];
	int iommufd;
	__u32 ioas;
	bool mock;
};

/* One walk over the failure points of one operation. */
struct walk {
	struct __test_metadata *md;
	struct _test_data_egm_fail_nth *self;
	unsigned int nth;
	bool armed;
	bool injected;
	const char *step;
};

struct walk_desc {
	enum fail_op op;
	const char *what;
	int (*run)(struct walk *w, void *arg);
	void *arg;
	const int *errnos;
};

/* Make the nth allocation from here on fail. */
static void fail_on(struct walk *w)
{
	struct __test_metadata *_metadata = w->md;
	char buf[16];
	int len;

	len = snprintf(buf, sizeof(buf), "%u", w->nth);
	ASSERT_EQ(len, pwrite(w->self->nth_fd, buf, len, 0));
	w->armed = true;
}

/* Stop injecting; w->injected tells whether the failure was reached. */
static void fail_off(struct walk *w)
{
	struct __test_metadata *_metadata = w->md;
	char buf[32] = "";
	ssize_t res;
	int tries;

	/*
	 * 0 once the failure was injected. With fail_usercopy, the read (and
	 * the write below) can take the failure itself: then the operation
	 * did not reach it.
	 */
	res = pread(w->self->nth_fd, buf, sizeof(buf) - 1, 0);
	if (res < 0 && errno == EFAULT) {
		snprintf(buf, sizeof(buf), "1\n");
		res = 2;
	}
	for (tries = 0; pwrite(w->self->nth_fd, "0", 1, 0) != 1; tries++) {
		ASSERT_EQ(EFAULT, errno);
		ASSERT_GT(2, tries);
		snprintf(buf, sizeof(buf), "1\n");
	}
	ASSERT_LT(1, res);
	w->armed = false;
	w->injected = res == 2 && buf[0] == '0' && buf[1] == '\n';
}

static int count_fds(void)
{
	struct dirent *e;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The lowest free descriptor: a descriptor reserved and not installed shows here. */
static int lowest_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* Mappings of windows in this process. */
static int count_maps(void)
{
	static char buf[256 << 10];
	size_t len = 0;
	ssize_t n;
	char *p;
	int fd, count = 0;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	for (p = buf; (p = strstr(p, MAPS_NAME)); p++)
		count++;
	return count;
}

static bool query_all(struct _test_data_egm_fail_nth *self,
		      struct egm_region_info *infos, __u32 *n)
{
	*n = EGM_MAX_REGIONS;
	return !egm_query(self->egm, infos, n);
}

/* Free bytes of every region, in the order of self->regions. */
static bool snapshot_free(struct _test_data_egm_fail_nth *self, __u64 *free)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 i, j, n;

	if (!query_all(self, infos, &n))
		return false;
	for (i = 0; i < self->nregions; i++) {
		free[i] = ~0ULL;
		for (j = 0; j < n; j++)
			if (infos[j].pxm == self->regions[i].pxm)
				free[i] = infos[j].free;
	}
	return true;
}

static const char * const splats[] = {
	"WARNING:", "BUG:", "KASAN", "Oops", "general protection fault",
	"UBSAN", "possible circular locking", "inconsistent lock state",
	"suspicious RCU usage", "possible recursive locking",
	"bad unlock balance", "lock held when returning to user",
	"held lock freed", "DEBUG_LOCKS_WARN_ON", "INFO: possible",
	"Kernel panic", "unreferenced object", "blocked for more than",
	"soft lockup", "hard LOCKUP", "detected stall", NULL
};

/* The first kernel message read from @fd that looks like a splat. */
static bool kmsg_splat(int fd, char *out, size_t len)
{
	char rec[2048], *msg;
	unsigned int i;
	ssize_t n;

	if (fd < 0)
		return false;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			return false;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		for (i = 0; splats[i]; i++) {
			if (strstr(msg, splats[i])) {
				snprintf(out, len, "%.400s", msg);
				return true;
			}
		}
	}
}

struct errno_count {
	int err[8];
	unsigned int n[8];
};

static void errno_add(struct errno_count *c, int err)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		if (!c->n[i] || c->err[i] == err) {
			c->err[i] = err;
			c->n[i]++;
			return;
		}
	}
}

static bool errno_allowed(const int *set, int err)
{
	for (; *set; set++)
		if (*set == err)
			return true;
	return false;
}

/*
 * Walk the failure points of one operation: run it failing the 1st, 2nd,
 * ... allocation until a run does not reach its injected failure, which
 * must then succeed. Returns the number of points walked.
 */
static unsigned int fail_walk(struct __test_metadata *_metadata,
			      struct _test_data_egm_fail_nth *self,
			      const struct walk_desc *d)
{
	struct walk w = { .md = _metadata, .self = self };
	__u64 free0[EGM_MAX_REGIONS], free1[EGM_MAX_REGIONS];
	unsigned int i, absorbed = 0, sigs = 0, points;
	struct errno_count ec = {};
	int fds0, low0, maps0, kmsg, ret;
	char errs[256] = "", msg[512];
	double t0 = now_s();
	size_t off = 0;

	kmsg = egm_kmsg_open();
	ASSERT_TRUE(snapshot_free(self, free0));
	fds0 = count_fds();
	low0 = lowest_fd();
	maps0 = count_maps();
	ASSERT_LE(0, fds0);
	ASSERT_LE(0, maps0);

	for (w.nth = 1;; w.nth++) {
		ASSERT_GT(MAX_NTH, w.nth)
			TH_LOG("%s %s: no end to the failure points", op_names[d->op], d->what);
		w.injected = false;
		w.step = NULL;
		ret = d->run(&w, d->arg);
		ASSERT_FALSE(w.armed);

		/* Accounting balanced to the byte, nothing left behind. */
		ASSERT_TRUE(snapshot_free(self, free1));
		for (i = 0; i < self->nregions; i++) {
			ASSERT_EQ(free0[i], free1[i])
				TH_LOG("%s %s, nth %u (%s): PXM %u has %llu free, %llu before",
				       op_names[d->op], d->what, w.nth,
				       ret > 0 ? strerror(ret) : ret ? "signal" : "ok",
				       self->regions[i].pxm,
				       (unsigned long long)free1[i],
				       (unsigned long long)free0[i]);
		}
		ASSERT_EQ(fds0, count_fds())
			TH_LOG("%s %s, nth %u: a file descriptor leaked",
			       op_names[d->op], d->what, w.nth);
		ASSERT_EQ(low0, lowest_fd())
			TH_LOG("%s %s, nth %u: a descriptor stays reserved",
			       op_names[d->op], d->what, w.nth);
		ASSERT_EQ(maps0, count_maps())
			TH_LOG("%s %s, nth %u: a window mapping leaked",
			       op_names[d->op], d->what, w.nth);

		if (!w.injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("%s %s: fails with no failure injected: %s",
				       op_names[d->op], d->what,
				       ret > 0 ? strerror(ret) : strsignal(-ret));
			break;
		}
		if (!ret) {
			absorbed++;
		} else if (ret < 0) {
			sigs++;
		} else {
			EXPECT_TRUE(errno_allowed(d->errnos, ret))
				TH_LOG("%s %s, nth %u: %s failed with %s",
				       op_names[d->op], d->what, w.nth,
				       w.step ?: "the call", strerrorname_np(ret) ?: "?");
			errno_add(&ec, ret);
		}
	}
	points = w.nth - 1;

	for (i = 0; i < 8 && ec.n[i]; i++)
		off += snprintf(errs + off, sizeof(errs) - off, "%u %s, ",
				ec.n[i], strerrorname_np(ec.err[i]) ?: "?");
	if (sigs)
		off += snprintf(errs + off, sizeof(errs) - off, "%u signalled, ",
				sigs);
	ksft_print_msg("fail_nth: %s %s: %u points (%s%u absorbed), %.1f s\n",
		       op_names[d->op], d->what, points, errs, absorbed,
		       now_s() - t0);
	totals->points[d->op] += points;
	totals->walks[d->op]++;

	if (kmsg_splat(kmsg, msg, sizeof(msg))) {
		totals->splats++;
		EXPECT_TRUE(false)
			TH_LOG("%s %s: the kernel logged \"%s\"", op_names[d->op], d->what, msg);
	}
	if (kmsg >= 0)
		close(kmsg);
	return points;
}

static void note_skip(enum fail_op op, const char *why)
{
	snprintf(totals->skipped[op], sizeof(totals->skipped[op]), "%s", why);
}

static bool scrub_set(struct _test_data_egm_fail_nth *self, bool on)
{
	if (egm_sysfs_write(EGM_PARAMS "scrub_background", on ? "1" : "0"))
		return false;
	self->scrub_off = !on;
	return true;
}

/* Wait up to @s seconds for @bytes of clean memory in region @i. */
static bool wait_clean(struct _test_data_egm_fail_nth *self, unsigned int i,
		       __u64 bytes, int s)
{
	struct egm_region_info info;
	double end = now_s() + s;

	if (bytes > self->regions[i].size / 2)
		bytes = self->regions[i].size / 2;
	do {
		if (!egm_region_by_pxm(self->egm, self->regions[i].pxm, &info))
			return false;
		if (info.clean >= bytes)
			return true;
		usleep(100 * 1000);
	} while (now_s() < end);
	return false;
}

/*
 * The alignment of the 2 MiB windows most walks use: 2 MiB where that is
 * the region's PMD (4K pages), else (a 512 MiB PMD with 64K pages) the
 * page size, which keeps every run as cheap.
 */
static __u64 pmd_align(const struct egm_region_info *r)
{
	return r->align & SZ_2M ? SZ_2M : PAGE_SIZE;
}

FIXTURE_SETUP(egm_fail_nth)
{
	char path[64];

	self->egm = -1;
	self->nth_fd = -1;
	self->wfd = -1;
	self->iommufd = -1;

	self->egm = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	if (self->egm < 0 && errno == ENOENT)
		SKIP(return, "no %s: egm is not loaded", EGM_DEV);
	ASSERT_LE(0, self->egm);
	ASSERT_TRUE(query_all(self, self->regions, &self->nregions));
	if (!self->nregions)
		SKIP(return, "this machine has no EGM region");
	self->have_plat = egm_platform_load(&self->plat);

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	self->nth_fd = open(path, O_RDWR | O_CLOEXEC);
	if (self->nth_fd < 0 || !setup_fault_injection())
		SKIP(return,
		     "no fault injection: the kernel needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS");
	self->fi_page = fi_present("fail_page_alloc");
	self->fi_usercopy = fi_present("fail_usercopy");
	self->fds0 = count_fds();
}

FIXTURE_TEARDOWN(egm_fail_nth)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 i, j, n;

	/* An ASSERT may have left the injection armed. */
	if (self->nth_fd >= 0)
		pwrite(self->nth_fd, "0", 1, 0);
	if (self->iommufd >= 0)
		close(self->iommufd);
	if (self->wfd >= 0)
		close(self->wfd);
	while (self->nfillers)
		close(self->fillers[--self->nfillers]);
	if (self->scrub_off)
		EXPECT_TRUE(scrub_set(self, true));
	if (self->egm < 0)
		return;
	/* Everything is closed: every region is back where it started. */
	EXPECT_TRUE(query_all(self, infos, &n));
	EXPECT_EQ(self->nregions, n);
	for (i = 0; i < self->nregions; i++) {
		for (j = 0; j < n; j++) {
			if (infos[j].pxm == self->regions[i].pxm) {
				EXPECT_EQ(self->regions[i].free, infos[j].free)
					TH_LOG("PXM %u: %llu free bytes, %llu at the start",
					       infos[j].pxm,
					       (unsigned long long)infos[j].free,
					       (unsigned long long)self->regions[i].free);
			}
		}
	}
	close(self->egm);
	close(self->nth_fd);
	EXPECT_EQ(self->fds0 - 2, count_fds());
}

/* EGM_QUERY: the reply matches what the fixture saw. */
static int op_query(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct _test_data_egm_fail_nth *self = w->self;
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 i, n = EGM_MAX_REGIONS;
	int err;

	fail_on(w);
	err = egm_query(self->egm, infos, &n) ? errno : 0;
	fail_off(w);
	if (err)
		return err;
	EXPECT_EQ(self->nregions, n);
	for (i = 0; i < n && i < self->nregions; i++) {
		EXPECT_EQ(self->regions[i].pxm, infos[i].pxm);
		EXPECT_EQ(self->regions[i].size, infos[i].size);
	}
	return 0;
}

TEST_F_TIMEOUT(egm_fail_nth, query, 300)
{
	struct walk_desc d = {
		.op = OP_QUERY, .what = "all regions", .run = op_query,
		.errnos = egm_errnos,
	};

	fail_walk(_metadata, self, &d);
}

struct alloc_arg {
	__u32 pxm;
	__u64 len;
	__u64 align;		/* 0: the default */
	__u64 want_align;	/* what WINDOW_INFO must say */
	__u32 flags;
	bool bad;		/* the window lies over bad pages */
	bool check_zero;	/* it must read as zeroes; dirty it again */
};

/* The offsets of the holes of a window, sorted; their number or -1. */
static int window_holes(int wfd, __u64 *off, unsigned int cap,
			struct egm_window_info *wi)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	unsigned int i, n = 0;

	if (egm_window_info(wfd, wi, bad, EGM_MAX_BAD))
		return -1;
	for (i = 0; i < wi->num_bad_pages; i++)
		if (!(bad[i].flags & EGM_BAD_PAGE_SUBSTITUTED) && n < cap)
			off[n++] = bad[i].offset;
	return n;
}

/* EGM_ALLOC: the window is what was asked for, and zeroed. */
static int op_alloc(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct _test_data_egm_fail_nth *self = w->self;
	struct alloc_arg *a = arg;
	struct egm_window_info wi;
	__u64 holes[EGM_MAX_BAD];
	int wfd, err, nholes;
	void *p;

	fail_on(w);
	err = egm_alloc_flags(self->egm, a->pxm, a->len, a->align, a->flags,
			      &wfd) ? errno : 0;
	fail_off(w);
	if (err)
		return err;
	ASSERT_LE(0, wfd);

	nholes = window_holes(wfd, holes, EGM_MAX_BAD, &wi);
	EXPECT_LE(0, nholes);
	EXPECT_EQ(a->len, wi.length);
	EXPECT_EQ(a->want_align, wi.alignment);
	EXPECT_EQ(a->flags, wi.alloc_flags);
	EXPECT_EQ(a->pxm, wi.pxm);
	EXPECT_EQ(a->bad, wi.num_bad_pages > 0);
	if (a->check_zero && nholes >= 0) {
		p = egm_map(wfd, a->len, 0);
		ASSERT_NE(MAP_FAILED, p);
		EXPECT_EQ(-1, egm_check(p, a->len, 0, true, holes, nholes))
			TH_LOG("nth %u: the window is not zeroed", w->nth);
		/* For the next run to find data there. */
		egm_fill(p, a->len, w->nth, holes, nholes);
		ASSERT_EQ(0, munmap(p, a->len));
	}
	ASSERT_EQ(0, close(wfd));
	return 0;
}

static const char *flags_name(__u32 flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", flags ? "" : "flags 0",
		 flags & EGM_ALLOC_NO_BAD_PAGES ? "NO_BAD_PAGES " : "",
		 flags & EGM_ALLOC_HOLES ? "HOLES " : "",
		 flags & EGM_ALLOC_ASYNC ? "ASYNC " : "");
	if (flags)
		buf[strlen(buf) - 1] = 0;
	return buf;
}

static void walk_alloc(struct __test_metadata *_metadata,
		       struct _test_data_egm_fail_nth *self, struct alloc_arg *a,
		       const char *extra)
{
	struct walk_desc d = {
		.op = OP_ALLOC, .run = op_alloc, .arg = a, .errnos = egm_errnos,
	};
	char what[160], fl[64];

	snprintf(what, sizeof(what), "[PXM %u, %llu KiB, align %llu KiB%s, %s%s]",
		 a->pxm, (unsigned long long)a->len >> 10,
		 (unsigned long long)a->want_align >> 10,
		 a->align ? "" : " (default)", flags_name(a->flags, fl, sizeof(fl)),
		 extra);
	d.what = what;
	fail_walk(_metadata, self, &d);
}

/*
 * Plain windows of both regions, with every flag and alignment, on clean
 * memory: the background scrubber keeps some, so each run takes the same
 * path. The PMD aligned and default ones are a PMD long, 512 MiB with
 * 64K pages; the flags go with the 2 MiB windows of pmd_align().
 */
TEST_F_TIMEOUT(egm_fail_nth, alloc, 600)
{
	enum { PMD = 2, CHEAP = 3 };	/* and 0: the default, 1: a page */
	static const struct {
		__u64 align;
		__u32 flags;
	} v[] = {
		{ PMD, 0 },
		{ 0, 0 },
		{ 1, 0 },
		{ CHEAP, EGM_ALLOC_NO_BAD_PAGES },
		{ CHEAP, EGM_ALLOC_HOLES },
		{ CHEAP, EGM_ALLOC_ASYNC },
		{ CHEAP, EGM_ALLOC_NO_BAD_PAGES | EGM_ALLOC_HOLES | EGM_ALLOC_ASYNC },
	};
	__u64 hp = pmd_size();
	struct alloc_arg a;
	unsigned int i, j;

	for (i = 0; i < self->nregions; i++) {
		const struct egm_region_info *r = &self->regions[i];

		for (j = 0; j < ARRAY_SIZE(v); j++) {
			a = (struct alloc_arg){
				.pxm = r->pxm,
				.align = v[j].align == 1 ? PAGE_SIZE :
					 v[j].align == PMD ? hp :
					 v[j].align == CHEAP ? pmd_align(r) : 0,
				.flags = v[j].flags,
			};
			a.want_align = a.align ?: r->align & hp ? hp : PAGE_SIZE;
			a.len = a.want_align > SZ_2M ? a.want_align : SZ_2M;
			if (!(r->align & a.want_align) || r->free < 8 * SZ_2M)
				continue;
			/* Only a window that can miss the bad pages has none. */
			if (r->largest_free_good + PAGE_SIZE < a.len + a.want_align) {
				ksft_print_msg("PXM %u has no clean %llu KiB window: its alloc is not walked\n",
					       r->pxm, (unsigned long long)a.len >> 10);
				continue;
			}
			if (!wait_clean(self, i, CLEAN_WANTED > a.len ?
					CLEAN_WANTED : a.len, 120))
				TH_LOG("PXM %u has little clean memory: runs may differ",
				       r->pxm);
			walk_alloc(_metadata, self, &a, "");
		}
	}
}

/*
 * Plain windows on dirty memory, which EGM_ALLOC zeroes before it returns
 * (or, with EGM_ALLOC_ASYNC, before the pages are reached): the first
 * region is made all dirty, with the background scrubber off, so that
 * every run zeroes the window at its start, which holds data. Only 2 MiB
 * aligned: with no clean memory a page aligned EGM_ALLOC searches the
 * region page by page, seconds per call on the debug guest.
 */
static bool make_dirty(struct __test_metadata *_metadata,
		       struct _test_data_egm_fail_nth *self, unsigned int i)
{
	const struct egm_region_info *r = &self->regions[i];
	struct egm_region_info info;
	struct egm_window_info wi;
	__u64 holes[EGM_MAX_BAD], len = 8 * SZ_2M;
	int wfd, nholes;
	void *p;

	if (egm_alloc_flags(self->egm, r->pxm, r->size, PAGE_SIZE,
			    EGM_ALLOC_HOLES, &wfd))
		return false;
	nholes = window_holes(wfd, holes, EGM_MAX_BAD, &wi);
	p = egm_map(wfd, len, 0);
	if (nholes < 0 || p == MAP_FAILED) {
		close(wfd);
		return false;
	}
	egm_fill(p, len, 1, holes, nholes);
	munmap(p, len);
	close(wfd);
	return egm_region_by_pxm(self->egm, r->pxm, &info) && !info.clean;
}

TEST_F_TIMEOUT(egm_fail_nth, alloc_dirty, 600)
{
	const struct egm_region_info *r = &self->regions[0];
	static const __u32 flags[] = { 0, EGM_ALLOC_ASYNC, EGM_ALLOC_HOLES };
	struct alloc_arg a;
	unsigned int j;

	if (r->free != r->size)
		SKIP(return, "PXM %u is in use", r->pxm);
	ASSERT_TRUE(scrub_set(self, false));
	ASSERT_TRUE(make_dirty(_metadata, self, 0));
	for (j = 0; j < ARRAY_SIZE(flags); j++) {
		a = (struct alloc_arg){
			.pxm = r->pxm,
			.len = SZ_2M,
			.align = pmd_align(r),
			.want_align = pmd_align(r),
			.flags = flags[j],
			.check_zero = true,
		};
		walk_alloc(_metadata, self, &a, ", dirty memory");
	}
}

struct info_arg {
	int wfd;
	__u32 cap;
	__u32 nbad;	/* how many bad pages the window has */
};

/* EGM_WINDOW_INFO: ENOSPC is the answer when @cap is too small. */
static int op_window_info(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct info_arg *a = arg;
	struct egm_window_info wi;
	int err;

	fail_on(w);
	err = egm_window_info(a->wfd, &wi, bad, a->cap) ? errno : 0;
	fail_off(w);
	if (err == ENOSPC && a->cap < a->nbad)
		err = 0;
	if (err)
		return err;
	EXPECT_EQ(a->nbad, wi.num_bad_pages);
	EXPECT_EQ(PAGE_SIZE, wi.page_size);
	return 0;
}

TEST_F_TIMEOUT(egm_fail_nth, window_info, 300)
{
	struct info_arg a = { .cap = EGM_MAX_BAD };
	struct walk_desc d = {
		.op = OP_WINDOW_INFO, .what = "[plain window]",
		.run = op_window_info, .arg = &a, .errnos = egm_errnos,
	};

	ASSERT_EQ(0, egm_alloc(self->egm, self->regions[0].pxm, SZ_2M,
			       pmd_align(&self->regions[0]), &self->wfd));
	a.wfd = self->wfd;
	fail_walk(_metadata, self, &d);
	if (!self->fi_usercopy)
		ksft_print_msg("%s\n",
			       "fail_nth: EGM_WINDOW_INFO allocates nothing; without fail_usercopy (CONFIG_FAULT_INJECTION_USERCOPY) its copies are not failed");
}

static sigjmp_buf fault_jmp;
static int fault_sig;
static char *fault_p;
static int fault_err;

static void fault_handler(int sig)
{
	__atomic_store_n(&fault_sig, sig, __ATOMIC_RELAXED);
	siglongjmp(fault_jmp, 1);
}

struct fault_arg {
	int wfd;
	__u64 len;	/* of the mapping */
	__u64 off;	/* window offset of the mapping */
	__u64 touch;	/* the byte of the mapping the first fault is for */
};

/*
 * mmap and the first write: a failed page table allocation makes the
 * fault retry or raise SIGBUS/SIGSEGV, and the mapping works afterwards.
 */
static int op_fault(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct sigaction sa = {
		.sa_handler = fault_handler,
		.sa_flags = SA_NODEFER,
	}, obus, osegv;
	struct fault_arg *a = arg;
	int sig;

	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &obus));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, &osegv));
	fault_p = MAP_FAILED;
	fault_err = 0;
	fault_sig = 0;
	/* No mask saved: nothing but the operation runs while armed. */
	if (!sigsetjmp(fault_jmp, 0)) {
		fail_on(w);
		fault_p = mmap(NULL, a->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       a->wfd, a->off);
		if (fault_p == MAP_FAILED)
			fault_err = errno;
		else
			__atomic_store_n(fault_p + a->touch, 1, __ATOMIC_RELAXED);
	}
	fail_off(w);
	sig = __atomic_load_n(&fault_sig, __ATOMIC_RELAXED);

	if (fault_p == MAP_FAILED) {
		w->step = "mmap";
	} else {
		if (sig)
			w->step = "the first fault";
		/* Whatever failed, the mapping works now. */
		fault_sig = 0;
		if (!sigsetjmp(fault_jmp, 0))
			__atomic_store_n(fault_p + a->touch, 2, __ATOMIC_RELAXED);
		EXPECT_EQ(0, __atomic_load_n(&fault_sig, __ATOMIC_RELAXED))
			TH_LOG("nth %u: the mapping still faults", w->nth);
		if (!fault_sig) {
			EXPECT_EQ(2, __atomic_load_n(fault_p + a->touch,
						     __ATOMIC_RELAXED));
		}
		ASSERT_EQ(0, munmap(fault_p, a->len));
	}
	ASSERT_EQ(0, sigaction(SIGBUS, &obus, NULL));
	ASSERT_EQ(0, sigaction(SIGSEGV, &osegv, NULL));
	if (fault_err)
		return fault_err;
	return sig ? -sig : 0;
}

static void walk_fault(struct __test_metadata *_metadata,
		       struct _test_data_egm_fail_nth *self, enum fail_op op,
		       const char *what, struct fault_arg *a)
{
	struct walk_desc d = {
		.op = op, .what = what, .run = op_fault, .arg = a,
		.errnos = egm_errnos,
	};

	fail_walk(_metadata, self, &d);
}

/* Without fail_page_alloc the page tables of the fault are not walked. */
static void fault_needs_page_alloc(struct __test_metadata *_metadata,
				   struct _test_data_egm_fail_nth *self,
				   enum fail_op op)
{
	if (self->fi_page)
		return;
	note_skip(op, NO_PAGE_ALLOC);
	if (_metadata->exit_code == KSFT_PASS)
		SKIP(return, "%s", NO_PAGE_ALLOC);
}

/*
 * A PMD fault on a window of one PMD: 2 MiB with 4K pages, 512 MiB with
 * 64K pages, whose page tables have a level less. Carved once: only the
 * fault is walked.
 */
TEST_F_TIMEOUT(egm_fail_nth, mmap_fault_pmd, 300)
{
	const struct egm_region_info *r = &self->regions[0];
	__u64 hp = pmd_size();
	struct fault_arg a = { .len = hp, .touch = hp / 2 };
	char what[64];
	unsigned int i;
	int maps;
	char *p;

	if (!(r->align & hp))
		SKIP(return, "PXM %u has no PMD alignment", r->pxm);
	/* No bad page, or the fault falls back to pages around it. */
	for (i = 0; i < self->nregions; i++)
		if (!egm_alloc_flags(self->egm, self->regions[i].pxm, hp, hp,
				     EGM_ALLOC_NO_BAD_PAGES, &self->wfd))
			break;
	ASSERT_GT(self->nregions, i) TH_LOG("no region has a clean PMD");
	a.wfd = self->wfd;
	/* The walks look for leaked mappings by their name: it must show. */
	maps = count_maps();
	p = egm_map(self->wfd, hp, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(maps + 1, count_maps())
		TH_LOG("window mappings do not show as %s in /proc/self/maps", MAPS_NAME);
	ASSERT_EQ(0, munmap(p, hp));
	snprintf(what, sizeof(what), "[%llu KiB window, PMD aligned]",
		 (unsigned long long)hp >> 10);
	walk_fault(_metadata, self, OP_FAULT_PMD, what, &a);
	fault_needs_page_alloc(_metadata, self, OP_FAULT_PMD);
}

/* A page fault on a page aligned window, which maps its block around it. */
TEST_F_TIMEOUT(egm_fail_nth, mmap_fault_4k, 300)
{
	const struct egm_region_info *r = &self->regions[0];
	struct fault_arg a = { .len = SZ_2M, .touch = 5 * PAGE_SIZE + 8 };

	ASSERT_EQ(0, egm_alloc(self->egm, r->pxm, SZ_2M, PAGE_SIZE, &self->wfd));
	a.wfd = self->wfd;
	walk_fault(_metadata, self, OP_FAULT_PTE, "[2 MiB window, page aligned]", &a);
	fault_needs_page_alloc(_metadata, self, OP_FAULT_PTE);
}

/* An IOAS, with a mock domain where the kernel has CONFIG_IOMMUFD_TEST. */
static bool iommufd_setup(struct _test_data_egm_fail_nth *self)
{
	self->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (self->iommufd < 0)
		return false;
	if (_test_ioctl_ioas_alloc(self->iommufd, &self->ioas))
		return false;
	self->mock = !_test_cmd_mock_domain(self->iommufd, self->ioas, NULL,
					    NULL, NULL);
	if (!self->mock)
		ksft_print_msg("no mock domain (CONFIG_IOMMUFD_TEST): imports fill no domain\n");
	return true;
}

static int ioas_unmap(int fd, __u32 ioas, __u64 iova, __u64 length,
		      __u64 *out)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = length,
	};
	int ret;

	ret = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
	if (out)
		*out = cmd.length;
	return ret;
}

/* Nothing is left in the IOAS. */
static bool ioas_empty(struct _test_data_egm_fail_nth *self)
{
	__u64 len = ~0ULL;

	return !ioas_unmap(self->iommufd, self->ioas, 0, UINT64_MAX, &len) &&
	       !len;
}

struct map_arg {
	int wfd;
	__u64 start;
	__u64 len;
};

/* IOMMU_IOAS_MAP_FILE of a window; unmapped again if it worked. */
static int op_map_file(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct _test_data_egm_fail_nth *self = w->self;
	struct map_arg *a = arg;
	__u64 iova = 0, len = 0;
	int err;

	fail_on(w);
	err = _test_ioctl_ioas_map_file(self->iommufd, self->ioas, a->wfd,
					a->start, a->len, &iova, MAP_RW) ?
	      errno : 0;
	fail_off(w);
	if (!err) {
		ASSERT_EQ(0, ioas_unmap(self->iommufd, self->ioas, iova,
					a->len, &len));
		EXPECT_EQ(a->len, len);
	}
	ASSERT_TRUE(ioas_empty(self))
		TH_LOG("nth %u: a failed import left a mapping", w->nth);
	return err;
}

/* IOMMU_IOAS_UNMAP of an import; unmapped uninjected if it failed. */
static int op_unmap(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct _test_data_egm_fail_nth *self = w->self;
	struct map_arg *a = arg;
	__u64 iova = 0, len = 0;
	int err;

	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->iommufd, self->ioas,
					       a->wfd, a->start, a->len, &iova,
					       MAP_RW));
	fail_on(w);
	err = ioas_unmap(self->iommufd, self->ioas, iova, a->len, &len) ?
	      errno : 0;
	fail_off(w);
	if (err) {
		ASSERT_EQ(0, ioas_unmap(self->iommufd, self->ioas, iova, a->len,
					&len))
			TH_LOG("nth %u: unmap failed with %s, and then cannot be redone: %s",
			       w->nth, strerrorname_np(err) ?: "?", strerror(errno));
	}
	EXPECT_EQ(a->len, len);
	ASSERT_TRUE(ioas_empty(self));
	return err;
}

static void walk_map(struct __test_metadata *_metadata,
		     struct _test_data_egm_fail_nth *self, enum fail_op op,
		     struct map_arg *a, const char *window)
{
	struct walk_desc d = {
		.op = op, .run = op == OP_UNMAP ? op_unmap : op_map_file,
		.arg = a, .errnos = iommufd_errnos,
	};
	char what[160];

	snprintf(what, sizeof(what), "[%s, %llu KiB at %llu KiB%s]", window,
		 (unsigned long long)a->len >> 10,
		 (unsigned long long)a->start >> 10,
		 self->mock ? ", mock domain" : "");
	d.what = what;
	fail_walk(_metadata, self, &d);
}

TEST_F_TIMEOUT(egm_fail_nth, map_file, 300)
{
	const struct egm_region_info *r = &self->regions[0];
	struct map_arg a = { .len = SZ_2M };

	if (!iommufd_setup(self))
		SKIP(return, "no /dev/iommu (CONFIG_IOMMUFD)");
	ASSERT_EQ(0, egm_alloc(self->egm, r->pxm, SZ_2M, pmd_align(r), &self->wfd));
	a.wfd = self->wfd;
	walk_map(_metadata, self, OP_MAP_FILE, &a, "plain window");
	a.start = PAGE_SIZE;
	a.len = PAGE_SIZE;
	walk_map(_metadata, self, OP_MAP_FILE, &a, "plain window");
}

TEST_F_TIMEOUT(egm_fail_nth, unmap, 300)
{
	const struct egm_region_info *r = &self->regions[0];
	struct map_arg a = { .len = SZ_2M };

	if (!iommufd_setup(self))
		SKIP(return, "no /dev/iommu (CONFIG_IOMMUFD)");
	ASSERT_EQ(0, egm_alloc(self->egm, r->pxm, SZ_2M, pmd_align(r), &self->wfd));
	a.wfd = self->wfd;
	walk_map(_metadata, self, OP_UNMAP, &a, "plain window");
}

enum close_how {
	CLOSE_FD,	/* the window's only file */
	CLOSE_MUNMAP,	/* the mapping that outlives the file */
	CLOSE_IOMMUFD,	/* the iommufd whose import outlives the file */
};

struct close_arg {
	enum close_how how;
	struct alloc_arg alloc;
};

/* Drop the last reference of a window; its memory goes back at once. */
static int op_close(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct _test_data_egm_fail_nth *self = w->self;
	struct close_arg *a = arg;
	int wfd, fd = -1, err;
	__u64 iova;
	__u32 ioas;
	char *p = MAP_FAILED;

	ASSERT_EQ(0, egm_alloc_flags(self->egm, a->alloc.pxm, a->alloc.len,
				     a->alloc.align, a->alloc.flags, &wfd));
	if (a->how == CLOSE_MUNMAP) {
		p = egm_map(wfd, a->alloc.len, 0);
		ASSERT_NE(MAP_FAILED, p);
		p[0] = 1;
		ASSERT_EQ(0, close(wfd));
	} else if (a->how == CLOSE_IOMMUFD) {
		fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas));
		if (self->mock) {
			ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas, NULL, NULL,
							   NULL));
		}
		ASSERT_EQ(0, _test_ioctl_ioas_map_file(fd, ioas, wfd, 0,
						       a->alloc.len, &iova,
						       MAP_RW));
		ASSERT_EQ(0, close(wfd));
	}

	fail_on(w);
	switch (a->how) {
	case CLOSE_FD:
		err = close(wfd) ? errno : 0;
		break;
	case CLOSE_MUNMAP:
		err = munmap(p, a->alloc.len) ? errno : 0;
		break;
	default:
		err = close(fd) ? errno : 0;
		break;
	}
	fail_off(w);

	/* munmap() may fail cleanly; close() always lets go. */
	if (err && a->how == CLOSE_MUNMAP)
		ASSERT_EQ(0, munmap(p, a->alloc.len));
	return err;
}

static void walk_close(struct __test_metadata *_metadata,
		       struct _test_data_egm_fail_nth *self, struct close_arg *a,
		       const char *what)
{
	struct walk_desc d = {
		.op = OP_CLOSE, .what = what, .run = op_close, .arg = a,
		.errnos = a->how == CLOSE_IOMMUFD ? iommufd_errnos : egm_errnos,
	};

	fail_walk(_metadata, self, &d);
}

TEST_F_TIMEOUT(egm_fail_nth, close, 300)
{
	const struct egm_region_info *r = &self->regions[0];
	struct close_arg a = {
		.alloc = { .pxm = r->pxm, .len = SZ_2M, .align = pmd_align(r) },
	};

	a.how = CLOSE_FD;
	walk_close(_metadata, self, &a, "[last file of a window]");
	a.how = CLOSE_MUNMAP;
	walk_close(_metadata, self, &a, "[munmap of the last mapping of a window]");
	a.how = CLOSE_IOMMUFD;
	if (!iommufd_setup(self))
		SKIP(return, "no /dev/iommu (CONFIG_IOMMUFD): iommufd's last reference not walked");
	walk_close(_metadata, self, &a, "[iommufd that holds the last import of a window]");
}

/*
 * Hold every 2 MiB block of a region that has no bad page, with windows
 * that EGM_ALLOC_NO_BAD_PAGES keeps off them: first fit then puts a 2 MiB
 * window on the lowest block with a bad page, wherever the fillers went.
 */
static bool fill_good_blocks(struct _test_data_egm_fail_nth *self, __u32 pxm)
{
	struct egm_region_info info;
	bool small = false;
	__u64 len;
	int fd;

	while (self->nfillers < MAX_FILLERS) {
		if (!egm_region_by_pxm(self->egm, pxm, &info))
			return false;
		len = info.largest_free_good / SZ_2M * SZ_2M;
		/* An extent that long holds that much less a block, aligned. */
		len = !small && len > 2 * SZ_2M ? len - SZ_2M : SZ_2M;
		if (!egm_alloc_flags(self->egm, pxm, len, SZ_2M,
				     EGM_ALLOC_NO_BAD_PAGES, &fd)) {
			self->fillers[self->nfillers++] = fd;
			continue;
		}
		if (errno != ENOSPC)
			return false;
		if (len == SZ_2M)
			return true;
		small = true;
	}
	return false;
}

/* Take [start, end) of a region with a filler that has no bad page. */
static bool fill_piece(struct _test_data_egm_fail_nth *self, __u32 pxm,
		       __u64 start, __u64 end, int *fds, unsigned int *n)
{
	if (start >= end)
		return true;
	if (*n == MAX_FILLERS)
		return false;
	return !egm_alloc_flags(self->egm, pxm, end - start, PAGE_SIZE,
				EGM_ALLOC_NO_BAD_PAGES, &fds[(*n)++]);
}

/*
 * fill_good_blocks() for a region without 2 MiB alignment (64K pages):
 * leave free only the @len bytes at the @len block of its lowest bad
 * page, the bad pages, and @len / 2 at its top for spares. The region is
 * made all dirty first, so that first fit goes by address alone; then
 * fillers take the good pieces in address order, each exactly as long as
 * its piece, so that each lands on it, and those in the block are let go
 * again. A window of @len then fits nowhere else.
 */
static bool fill_around_bad(struct _test_data_egm_fail_nth *self,
			    const struct egm_region_info *r, __u64 len)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	__u64 top = r->size - len / 2, blk, prev = 0, end;
	unsigned int k, n, ntmp = 0;
	struct egm_window_info wi;
	int tmp[MAX_FILLERS], wfd;
	bool ok = true;

	/* Every bad page, poisoned ones too, and all of it dirty. */
	if (egm_alloc_flags(self->egm, r->pxm, r->size, PAGE_SIZE,
			    EGM_ALLOC_HOLES, &wfd))
		return false;
	if (egm_window_info(wfd, &wi, bad, EGM_MAX_BAD))
		wi.num_bad_pages = 0;
	close(wfd);
	n = wi.num_bad_pages;
	if (!n)
		return false;
	blk = bad[0].offset / len * len;
	if (blk + len > top)
		return false;
	for (k = 0; ok && k <= n && prev < top; k++) {
		end = k < n && bad[k].offset < top ? bad[k].offset : top;
		ok = fill_piece(self, r->pxm, prev, end < blk ? end : blk,
				self->fillers, &self->nfillers) &&
		     fill_piece(self, r->pxm, prev > blk ? prev : blk,
				end < blk + len ? end : blk + len, tmp, &ntmp) &&
		     fill_piece(self, r->pxm,
				prev > blk + len ? prev : blk + len, end,
				self->fillers, &self->nfillers);
		prev = end + PAGE_SIZE;
	}
	while (ntmp)
		close(tmp[--ntmp]);
	return ok;
}

/*
 * Windows over the retired pages of the platform: substituted, with
 * holes, and what can be done with them. Fillers hold every 2 MiB block
 * without a bad page, so that each 2 MiB window lands on the lowest block
 * with one (the first retired page's, unless egm_poison_test poisoned a
 * lower page); the spares come from the rest of the bad blocks.
 * Without 2 MiB alignment (64K pages), fill_around_bad() makes the same
 * layout for page aligned 2 MiB windows. The background scrubber is off
 * and the block dirty, so that every run zeroes it.
 */
TEST_F_TIMEOUT(egm_fail_nth, bad_pages, 600)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	const struct egm_plat_region *pr;
	struct alloc_arg subst, holes;
	struct egm_window_info wi;
	struct info_arg ia = {};
	struct map_arg ma = {};
	struct fault_arg fa = {};
	struct close_arg ca = {};
	struct walk_desc d = {
		.errnos = egm_errnos,
	};
	const struct egm_region_info *r = NULL;
	__u64 off = ~0ULL, align;
	bool iommu;
	unsigned int i;

	if (!self->have_plat)
		SKIP(return, "no platform description; set EGM_PLATFORM");
	pr = egm_plat_most_retired(&self->plat);
	if (!pr)
		SKIP(return, "the platform has no retired page");
	if (egm_free(self->egm, pr->pxm) != pr->size)
		SKIP(return, "PXM %u is in use", pr->pxm);
	for (i = 0; i < self->nregions; i++)
		if (self->regions[i].pxm == pr->pxm)
			r = &self->regions[i];
	ASSERT_NE(NULL, r);
	align = pmd_align(r);
	ASSERT_TRUE(scrub_set(self, false));
	if (align == SZ_2M) {
		ASSERT_TRUE(fill_good_blocks(self, pr->pxm))
			TH_LOG("cannot fill the good blocks of PXM %u with %d windows",
			       pr->pxm, MAX_FILLERS);
	} else {
		ASSERT_TRUE(fill_around_bad(self, r, SZ_2M))
			TH_LOG("cannot fill PXM %u around its first bad page",
			       pr->pxm);
	}
	subst = (struct alloc_arg){
		.pxm = pr->pxm, .len = SZ_2M, .align = align,
		.want_align = align, .bad = true,
	};
	holes = subst;
	holes.flags = EGM_ALLOC_HOLES;

	/* Once uninjected: it lands over a bad page, and dirties it. */
	ASSERT_EQ(0, egm_alloc(self->egm, pr->pxm, SZ_2M, align, &self->wfd));
	ASSERT_EQ(0, egm_window_info(self->wfd, &wi, bad, EGM_MAX_BAD));
	ASSERT_LT(0, wi.num_bad_pages);
	ASSERT_EQ(wi.num_bad_pages, wi.num_substituted);
	ASSERT_EQ(0, close(self->wfd));
	self->wfd = -1;
	walk_alloc(_metadata, self, &subst, ", over a retired page");
	walk_alloc(_metadata, self, &holes, ", over a retired page");

	/* A window with holes, then one with substitutes, kept open. */
	ASSERT_EQ(0, egm_alloc_flags(self->egm, pr->pxm, SZ_2M, align,
				     EGM_ALLOC_HOLES, &self->wfd));
	ASSERT_EQ(0, egm_window_info(self->wfd, &wi, bad, EGM_MAX_BAD));
	ia = (struct info_arg){
		.wfd = self->wfd, .cap = EGM_MAX_BAD, .nbad = wi.num_bad_pages,
	};
	d.op = OP_WINDOW_INFO;
	d.run = op_window_info;
	d.arg = &ia;
	d.what = "[window with holes]";
	fail_walk(_metadata, self, &d);
	ia.cap = 0;
	d.what = "[window with holes, no room for bad pages: ENOSPC]";
	fail_walk(_metadata, self, &d);

	iommu = iommufd_setup(self);
	ma = (struct map_arg){ .wfd = self->wfd, .len = SZ_2M };
	if (iommu) {
		walk_map(_metadata, self, OP_MAP_FILE, &ma, "window with holes");
		walk_map(_metadata, self, OP_UNMAP, &ma, "window with holes");
	} else {
		ksft_print_msg("no /dev/iommu: imports of windows over bad pages not walked\n");
	}
	ASSERT_EQ(0, close(self->wfd));
	self->wfd = -1;

	ASSERT_EQ(0, egm_alloc(self->egm, pr->pxm, SZ_2M, align, &self->wfd));
	ASSERT_EQ(0, egm_window_info(self->wfd, &wi, bad, EGM_MAX_BAD));
	for (i = 0; i < wi.num_bad_pages; i++)
		if (bad[i].flags & EGM_BAD_PAGE_SUBSTITUTED && off == ~0ULL)
			off = bad[i].offset;
	ASSERT_NE(~0ULL, off);
	if (iommu) {
		ma.wfd = self->wfd;
		walk_map(_metadata, self, OP_MAP_FILE, &ma, "window with substitutes");
	}
	/* The first fault on the substituted page. */
	fa = (struct fault_arg){ .wfd = self->wfd, .len = SZ_2M, .touch = off };
	walk_fault(_metadata, self, OP_FAULT_PTE, "[substituted page of a 2 MiB window]", &fa);
	ASSERT_EQ(0, close(self->wfd));
	self->wfd = -1;

	/* Its spares go back with it. */
	ca = (struct close_arg){ .how = CLOSE_FD, .alloc = subst };
	walk_close(_metadata, self, &ca, "[last file of a window with substitutes]");
}

struct poison_arg {
	int wfd;
	__u64 pa;
	__u64 off;	/* window offset of the page */
};

/* The EGM_BAD_PAGE_* flags of the page at @off of a window, or 0. */
static __u32 window_bad_flags(int wfd, __u64 off)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info wi;
	unsigned int i;

	if (egm_window_info(wfd, &wi, bad, EGM_MAX_BAD))
		return 0;
	for (i = 0; i < wi.num_bad_pages; i++)
		if (bad[i].offset == off)
			return bad[i].flags;
	return 0;
}

/*
 * A write to the driver's poison injection file, which runs
 * memory_failure() on the page from a workqueue and waits for it: fail-nth
 * reaches the write's own allocations only. The same page every time, so
 * that a walk poisons one page, whatever its length.
 */
static int op_poison(struct walk *w, void *arg)
{
	struct __test_metadata *_metadata = w->md;
	struct poison_arg *a = arg;
	char buf[32];
	int fd, len, err;
	ssize_t n;

	len = snprintf(buf, sizeof(buf), "0x%llx\n", (unsigned long long)a->pa);
	fd = open(POISON_FILE, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fail_on(w);
	n = write(fd, buf, len);
	err = n < 0 ? errno : 0;
	fail_off(w);
	close(fd);
	if (err)
		return err;
	EXPECT_EQ(len, n);
	EXPECT_EQ(EGM_BAD_PAGE_POISONED, window_bad_flags(a->wfd, a->off))
		TH_LOG("nth %u: the page is not listed poisoned", w->nth);
	return 0;
}

/*
 * Poison a page of a window that is mapped and imported, so that the
 * worker zaps the mapping and revokes the import. Poison lasts until the
 * driver is reloaded: this leaves one poisoned page in the last region.
 */
TEST_F_TIMEOUT(egm_fail_nth, poison, 300)
{
	const struct egm_region_info *r = &self->regions[self->nregions - 1];
	struct poison_arg a = { .off = PAGE_SIZE };
	struct walk_desc d = {
		.op = OP_POISON, .what = "[a mapped, imported page of a window]",
		.run = op_poison, .arg = &a, .errnos = egm_errnos,
	};
	struct egm_bad_page bad[EGM_MAX_BAD];
	struct egm_window_info wi;
	__u64 iova = 0, len = 0;
	bool iommu;
	char *p;

	if (access(POISON_FILE, W_OK)) {
		note_skip(OP_POISON, "no " POISON_FILE " (CONFIG_EGM_DEBUG)");
		SKIP(return, "no %s (CONFIG_EGM_DEBUG): memory failure not walked",
		     POISON_FILE);
	}
	ASSERT_EQ(0, egm_alloc(self->egm, r->pxm, SZ_2M, PAGE_SIZE, &self->wfd));
	ASSERT_EQ(0, egm_window_info(self->wfd, &wi, NULL, 0));
	if (!wi.phys_addr) {
		note_skip(OP_POISON, "EGM_WINDOW_INFO gives no physical address");
		SKIP(return, "EGM_WINDOW_INFO gives no physical address (CAP_SYS_ADMIN?)");
	}
	a.wfd = self->wfd;
	a.pa = wi.phys_addr + a.off;
	p = egm_map(self->wfd, SZ_2M, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[a.off] = 1;
	iommu = iommufd_setup(self);
	if (iommu) {
		ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->iommufd, self->ioas,
						       self->wfd, 0, SZ_2M,
						       &iova, MAP_RW));
	}

	fail_walk(_metadata, self, &d);

	ASSERT_EQ(0, egm_window_info(self->wfd, &wi, bad, EGM_MAX_BAD));
	EXPECT_EQ(1, wi.num_bad_pages);
	EXPECT_TRUE(wi.events & EGM_WINDOW_EVENT_POISON);
	if (iommu) {
		EXPECT_TRUE(wi.events & EGM_WINDOW_EVENT_DMA_REVOKED);
		EXPECT_EQ(1, wi.num_dma_revoked);
		/* A revoked import unmaps like any other. */
		EXPECT_EQ(0, ioas_unmap(self->iommufd, self->ioas, iova, SZ_2M,
					&len));
		EXPECT_EQ(SZ_2M, len);
	}
	ASSERT_EQ(0, munmap(p, SZ_2M));
	ksft_print_msg("fail_nth: PXM %u keeps page %#llx poisoned until egm is reloaded\n",
		       r->pxm, (unsigned long long)a.pa);
}

/* How many kmemleak reports name this program as the allocator. */
static unsigned int kmemleak_ours(const char *buf, const char *comm,
				  unsigned int *total)
{
	const char *e, *next, *end, *c;
	unsigned int ours = 0;
	char want[64];

	snprintf(want, sizeof(want), "comm \"%s\"", comm);
	*total = 0;
	for (e = strstr(buf, "unreferenced object"); e; e = next) {
		next = strstr(e + 1, "unreferenced object");
		(*total)++;
		c = strstr(e, "comm \"");
		if (!c || (next && c > next) || strncmp(c, want, strlen(want)))
			continue;
		end = next ?: e + strlen(e);
		if (++ours <= 3)
			ksft_print_msg("kmemleak: %.*s\n",
				       (int)(end - e > 1500 ? 1500 : end - e), e);
	}
	return ours;
}

/* Last: the points walked, and whether anything leaked. */
TEST_F_TIMEOUT(egm_fail_nth, kmemleak, 600)
{
	unsigned int i, total = 0, ours, all;
	char comm[32] = "", *buf;
	size_t len = 0, cap = 1 << 20;
	ssize_t n;
	double t0;
	int fd, ret;

	for (i = 0; i < NR_OPS; i++) {
		if (totals->walks[i])
			ksft_print_msg("fail_nth: %s %u points (%u walks)%s%s\n",
				       op_names[i], totals->points[i],
				       totals->walks[i],
				       totals->skipped[i][0] ? "; " : "",
				       totals->skipped[i]);
		else
			ksft_print_msg("fail_nth: %s not walked: %s\n", op_names[i],
				       totals->skipped[i][0] ? totals->skipped[i] :
				       "its test did not run or skipped");
		total += totals->points[i];
	}
	ksft_print_msg("fail_nth: total %u points, %u splats, %.0f s; injected by failslab%s%s%s\n",
		       total, totals->splats, now_s() - t_start,
		       self->fi_page ? ", fail_page_alloc" : "",
		       self->fi_usercopy ? ", fail_usercopy" : "",
		       fi_present("fail_iommufd") ? ", fail_iommufd" : "");

	if (access(KMEMLEAK, W_OK))
		SKIP(return, "no writable %s (CONFIG_DEBUG_KMEMLEAK)", KMEMLEAK);
	/* kmemleak does not report objects younger than 5 s. */
	sleep(6);
	t0 = now_s();
	ret = egm_sysfs_write(KMEMLEAK, "scan");
	if (ret)
		SKIP(return, "kmemleak scan: %s (kmemleak disabled?)", strerror(-ret));
	fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	ASSERT_LT(0, n);
	comm[strcspn(comm, "\n")] = 0;

	buf = malloc(cap);
	ASSERT_NE(NULL, buf);
	fd = open(KMEMLEAK, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0) {
		len += n;
		if (len == cap - 1) {
			cap *= 2;
			buf = realloc(buf, cap);
			ASSERT_NE(NULL, buf);
		}
	}
	close(fd);
	buf[len] = 0;
	ours = kmemleak_ours(buf, comm, &all);
	ksft_print_msg("kmemleak: scan %.1f s, %u unreferenced objects, %u allocated by %s\n",
		       now_s() - t0, all, ours, comm);
	free(buf);
	/*
	 * Objects that other programs, or kernel threads, leaked are left to
	 * the check guest's own scan at the end.
	 */
	EXPECT_EQ(0, ours);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	totals = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (totals == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}
	t_start = now_s();
	return test_harness_run(argc, argv);
}
