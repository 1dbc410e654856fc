// SPDX-License-Identifier: GPL-2.0-only
/*
 * Concurrency: eight threads carve windows of random sizes and alignments
 * out of every region for EGM_STRESS_SECONDS (60 by default), map them,
 * touch them, import them into an IOAS of their own and let go of them in
 * random order, while another thread keeps querying the regions and its own
 * windows. Every first read of a window must be zero, every word a thread
 * wrote must still be there when it lets go, no two live windows may
 * overlap physically (as root sees them), and at the end each region's
 * free bytes are what they were at the start. The throughput and latency
 * of each kind of op is printed.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

/* Some helpers of the iommufd selftests go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "../iommu/iommufd_utils.h"
#include "egm_utils.h"
#pragma GCC diagnostic pop

#define ST_THREADS	8
#define ST_SECONDS	60
#define ST_HELD		4	/* windows a thread holds at once */
#define ST_WORDS	8	/* words it writes into each */
#define ST_MIN		SZ_2M
#define ST_MAX		(64ULL << 20)
#define ST_MAP_RW	(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

enum {
	ST_ALLOC,
	ST_NOSPACE,	/* ALLOC that found no room: ENOSPC or ENOMEM */
	ST_MMAP,
	ST_TOUCH,	/* pages read, checked and written */
	ST_IMPORT,
	ST_UNMAP,
	ST_MUNMAP,
	ST_CLOSE,
	ST_QUERY,
	ST_WINFO,
	ST_KINDS,
};

static const char * const st_names[ST_KINDS] = {
	"alloc", "alloc ENOSPC", "mmap", "touch", "map_file", "ioas_unmap",
	"munmap", "close", "query", "window_info",
};

struct st_win {
	int fd;			/* -1: a free slot */
	__u64 len;
	__u32 pxm;
	__u64 phys;		/* its physical base, root only, else 0 */
	char *p;		/* NULL once unmapped */
	bool imported;
	__u64 iova;
	__u64 ilen;
	unsigned int nwords;
	__u64 off[ST_WORDS];
	__u64 val[ST_WORDS];
};

struct st_thread {
	pthread_t tid;
	unsigned int idx;
	__u64 rng;
	int iommufd;
	__u32 ioas;
	bool domain;
	unsigned long n[ST_KINDS];
	double secs[ST_KINDS];
	double max[ST_KINDS];
	__u64 carved;		/* bytes of windows carved */
	unsigned long serial;
	struct st_win held[ST_HELD];
	char err[384];
};

static int st_egm;
static __u32 st_nregions;
static struct egm_region_info st_regions[EGM_MAX_REGIONS];
static atomic_bool st_stop;
static double st_deadline;

/* Where every live window lies: no two may overlap, whoever holds them. */
#define ST_LIVE		(ST_THREADS * ST_HELD + EGM_MAX_REGIONS)
static pthread_mutex_t st_live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct st_win *st_live[ST_LIVE];

static __u64 st_rand(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 st_below(struct st_thread *t, __u64 n)
{
	return n ? st_rand(&t->rng) % n : 0;
}

static double st_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Count @n ops of @kind that took since @t0. */
static void st_took(struct st_thread *t, unsigned int kind, double t0,
		    unsigned int n)
{
	double dt = st_now() - t0;

	t->secs[kind] += dt;
	t->n[kind] += n;
	if (dt > t->max[kind])
		t->max[kind] = dt;
}

/* Record the first failure of a thread, and stop everyone. */
static __printf(2, 3) int st_fail(struct st_thread *t, const char *fmt, ...)
{
	va_list ap;

	if (!t->err[0]) {
		va_start(ap, fmt);
		vsnprintf(t->err, sizeof(t->err), fmt, ap);
		va_end(ap);
	}
	atomic_store(&st_stop, true);
	return -1;
}

static bool st_done(void)
{
	return atomic_load(&st_stop) || st_now() >= st_deadline;
}

/* A word of a window that nothing but its owner may ever change. */
static __u64 st_pattern(struct st_thread *t, unsigned long serial, __u64 off)
{
	return ((__u64)t->idx << 56) ^ ((__u64)serial << 32) ^ off ^ 0xa5a5;
}

static __u64 st_load(const char *p)
{
	return __atomic_load_n((const __u64 *)p, __ATOMIC_RELAXED);
}

static void st_store(char *p, __u64 val)
{
	__atomic_store_n((__u64 *)p, val, __ATOMIC_RELAXED);
}

/* What the first @n words written to @w left at @off: zero if none. */
static __u64 st_written(struct st_win *w, unsigned int n, __u64 off)
{
	__u64 val = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (w->off[i] == off)
			val = w->val[i];
	return val;
}

/* The regions' invariants, as far as they hold while others carve. */
static int st_query(struct st_thread *t)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS, i;
	double t0 = st_now();

	if (egm_query(st_egm, infos, &n))
		return st_fail(t, "QUERY: %s", strerror(errno));
	st_took(t, ST_QUERY, t0, 1);
	if (n != st_nregions)
		return st_fail(t, "QUERY: %u regions, there were %u", n,
			       st_nregions);
	for (i = 0; i < n; i++) {
		struct egm_region_info *in = &infos[i];

		if (in->pxm != st_regions[i].pxm ||
		    in->size != st_regions[i].size || in->free > in->size ||
		    in->largest_free > in->free ||
		    in->largest_free_good > in->largest_free ||
		    in->clean > in->free)
			return st_fail(t,
				       "QUERY PXM %u: size %llu free %llu largest %llu good %llu clean %llu",
				       in->pxm, (unsigned long long)in->size,
				       (unsigned long long)in->free,
				       (unsigned long long)in->largest_free,
				       (unsigned long long)in->largest_free_good,
				       (unsigned long long)in->clean);
	}
	return 0;
}

static int st_winfo(struct st_thread *t, struct st_win *w)
{
	struct egm_window_info info;
	double t0 = st_now();

	if (egm_window_info(w->fd, &info, NULL, 0) && errno != ENOSPC)
		return st_fail(t, "WINDOW_INFO: %s", strerror(errno));
	st_took(t, ST_WINFO, t0, 1);
	if (info.length != w->len || info.pxm != w->pxm ||
	    info.page_size != PAGE_SIZE || info.pending > info.length ||
	    (w->phys && info.phys_addr != w->phys))
		return st_fail(t, "WINDOW_INFO: length %llu of %llu, PXM %u of %u, at %#llx",
			       (unsigned long long)info.length,
			       (unsigned long long)w->len, info.pxm, w->pxm,
			       (unsigned long long)info.phys_addr);
	w->phys = info.phys_addr;
	return 0;
}

/* Enter a new window in the table of live ones: it must overlap none. */
static int st_live_add(struct st_thread *t, struct st_win *w, __u64 align)
{
	unsigned int i, slot = ST_LIVE;
	struct st_win *o;

	if (!w->phys)
		return 0;
	if (w->phys % align)
		return st_fail(t, "window at %#llx, alignment %#llx",
			       (unsigned long long)w->phys,
			       (unsigned long long)align);
	pthread_mutex_lock(&st_live_lock);
	for (i = 0; i < ST_LIVE; i++) {
		o = st_live[i];
		if (!o) {
			slot = i;
			continue;
		}
		if (o->phys < w->phys + w->len && w->phys < o->phys + o->len) {
			pthread_mutex_unlock(&st_live_lock);
			return st_fail(t, "window %#llx+%#llx overlaps a live one at %#llx+%#llx",
				       (unsigned long long)w->phys,
				       (unsigned long long)w->len,
				       (unsigned long long)o->phys,
				       (unsigned long long)o->len);
		}
	}
	if (slot < ST_LIVE)
		st_live[slot] = w;
	pthread_mutex_unlock(&st_live_lock);
	return 0;
}

/* Before its last reference goes: then its range may be carved again. */
static void st_live_del(struct st_win *w)
{
	unsigned int i;

	pthread_mutex_lock(&st_live_lock);
	for (i = 0; i < ST_LIVE; i++)
		if (st_live[i] == w)
			st_live[i] = NULL;
	pthread_mutex_unlock(&st_live_lock);
}

/* Carve, map, touch and perhaps import a window into slot @w. */
static int st_acquire(struct st_thread *t, struct st_win *w)
{
	const struct egm_region_info *r = &st_regions[st_below(t, st_nregions)];
	__u64 align, req, len, off, val;
	unsigned int i, u = st_below(t, 4);
	__u32 flags = st_below(t, 4) ? 0 : EGM_ALLOC_ASYNC;
	double t0;
	int fd;

	/* 2 MiB to 64 MiB: the default, page and 2 MiB alignments. */
	if (u == 0 || !(r->align & SZ_2M)) {
		req = PAGE_SIZE;
		align = PAGE_SIZE;
		len = ST_MIN + st_below(t, (ST_MAX - ST_MIN) / PAGE_SIZE + 1) *
			       PAGE_SIZE;
	} else {
		req = u == 1 ? 0 : SZ_2M;
		align = SZ_2M;
		len = (1 + st_below(t, ST_MAX / SZ_2M)) * SZ_2M;
	}
	t0 = st_now();
	if (egm_alloc_flags(st_egm, r->pxm, len, req, flags, &fd)) {
		if (errno != ENOSPC && errno != ENOMEM)
			return st_fail(t, "ALLOC PXM %u length %llu align %llu: %s",
				       r->pxm, (unsigned long long)len,
				       (unsigned long long)req, strerror(errno));
		st_took(t, ST_NOSPACE, t0, 1);
		return 0;
	}
	st_took(t, ST_ALLOC, t0, 1);
	t->carved += len;
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->len = len;
	w->pxm = r->pxm;
	t->serial++;
	if (st_winfo(t, w) || st_live_add(t, w, align))
		return -1;

	t0 = st_now();
	w->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w->p == MAP_FAILED) {
		w->p = NULL;
		return st_fail(t, "mmap of %llu: %s", (unsigned long long)len,
			       strerror(errno));
	}
	st_took(t, ST_MMAP, t0, 1);
	if (align >= SZ_2M && (uintptr_t)w->p % SZ_2M)
		return st_fail(t, "window aligned %llu mapped at %p",
			       (unsigned long long)align, w->p);

	/* First and last page, and some in between: zero, then ours. */
	t0 = st_now();
	for (i = 0; i < ST_WORDS; i++) {
		off = i == 0 ? 0 : i == 1 ? len - PAGE_SIZE :
				   st_below(t, len / PAGE_SIZE) * PAGE_SIZE;
		off += st_below(t, PAGE_SIZE / 8) * 8;
		val = st_load(w->p + off);
		if (val != st_written(w, i, off))
			return st_fail(t,
				       "new window PXM %u offset %#llx of %llu reads %#llx: not zeroed",
				       w->pxm, (unsigned long long)off,
				       (unsigned long long)len,
				       (unsigned long long)val);
		w->off[i] = off;
		w->val[i] = st_pattern(t, t->serial, off);
		st_store(w->p + off, w->val[i]);
		w->nwords = i + 1;
	}
	st_took(t, ST_TOUCH, t0, ST_WORDS);

	/* Import all of it, or a part, into the thread's IOAS. */
	if (st_below(t, 4)) {
		off = st_below(t, 2) ? 0 : st_below(t, len / PAGE_SIZE) * PAGE_SIZE;
		w->ilen = off ? (1 + st_below(t, (len - off) / PAGE_SIZE)) * PAGE_SIZE :
				len;
		t0 = st_now();
		if (_test_ioctl_ioas_map_file(t->iommufd, t->ioas, fd, off,
					      w->ilen, &w->iova, ST_MAP_RW))
			return st_fail(t, "MAP_FILE %#llx+%#llx of %llu: %s",
				       (unsigned long long)off,
				       (unsigned long long)w->ilen,
				       (unsigned long long)len, strerror(errno));
		st_took(t, ST_IMPORT, t0, 1);
		w->imported = true;
	}
	return 0;
}

static int st_unmap(struct st_thread *t, struct st_win *w)
{
	unsigned long got = 0;	/* uint64_t, as the iommufd helpers take it */
	double t0 = st_now();

	if (_test_ioctl_ioas_unmap(t->iommufd, t->ioas, w->iova, w->ilen, &got) ||
	    got != w->ilen)
		return st_fail(t, "IOAS_UNMAP %#llx+%#llx: %lu, %s",
			       (unsigned long long)w->iova,
			       (unsigned long long)w->ilen, got,
			       strerror(errno));
	st_took(t, ST_UNMAP, t0, 1);
	w->imported = false;
	return 0;
}

static int st_munmap(struct st_thread *t, struct st_win *w)
{
	double t0 = st_now();
	unsigned int i;

	/* Nobody else's window, zeroing or write came near ours. */
	for (i = 0; i < w->nwords; i++)
		if (st_load(w->p + w->off[i]) !=
		    st_written(w, w->nwords, w->off[i]))
			return st_fail(t,
				       "PXM %u window %#llx+%#llx offset %#llx holds %#llx, wrote %#llx",
				       w->pxm, (unsigned long long)w->phys,
				       (unsigned long long)w->len,
				       (unsigned long long)w->off[i],
				       (unsigned long long)st_load(w->p + w->off[i]),
				       (unsigned long long)st_written(w, w->nwords,
								      w->off[i]));
	if (munmap(w->p, w->len))
		return st_fail(t, "munmap: %s", strerror(errno));
	st_took(t, ST_MUNMAP, t0, 1);
	w->p = NULL;
	return 0;
}

static int st_close(struct st_thread *t, struct st_win *w)
{
	double t0 = st_now();

	if (close(w->fd))
		return st_fail(t, "close: %s", strerror(errno));
	st_took(t, ST_CLOSE, t0, 1);
	w->fd = -1;
	return 0;
}

/* Let go of a window: its import, mapping and fd, in any order. */
static int st_release(struct st_thread *t, struct st_win *w)
{
	unsigned int order = st_below(t, 3);

	st_live_del(w);
	if (order == 0 && w->fd >= 0 && st_close(t, w))
		return -1;
	if (w->imported && order != 2 && st_unmap(t, w))
		return -1;
	if (w->p && st_munmap(t, w))
		return -1;
	if (w->imported && st_unmap(t, w))
		return -1;
	if (w->fd >= 0 && st_close(t, w))
		return -1;
	return 0;
}

/* After a failure: let go of what is left, checking nothing. */
static void st_drop(struct st_thread *t, struct st_win *w)
{
	unsigned long got;

	st_live_del(w);
	if (w->imported)
		_test_ioctl_ioas_unmap(t->iommufd, t->ioas, w->iova, w->ilen,
				       &got);
	if (w->p)
		munmap(w->p, w->len);
	if (w->fd >= 0)
		close(w->fd);
	w->imported = false;
	w->p = NULL;
	w->fd = -1;
}

static bool st_held(struct st_win *w)
{
	return w->fd >= 0 || w->p || w->imported;
}

static void *st_worker(void *arg)
{
	struct st_thread *t = arg;
	unsigned int i;

	while (!st_done()) {
		struct st_win *w = &t->held[st_below(t, ST_HELD)];

		if (st_held(w) ? st_release(t, w) : st_acquire(t, w))
			break;
		if (!st_below(t, 2) && st_query(t))
			break;
		w = &t->held[st_below(t, ST_HELD)];
		if (w->fd >= 0 && st_winfo(t, w))
			break;
	}
	for (i = 0; i < ST_HELD; i++) {
		if (!st_held(&t->held[i]))
			continue;
		if (t->err[0] || st_release(t, &t->held[i]))
			st_drop(t, &t->held[i]);
	}
	return NULL;
}

/* Queries, and WINDOW_INFO on windows of its own, as fast as it can. */
static void *st_observer(void *arg)
{
	struct st_thread *t = arg;
	struct st_win own[EGM_MAX_REGIONS];
	unsigned int i;

	memset(own, 0, sizeof(own));
	for (i = 0; i < EGM_MAX_REGIONS; i++)
		own[i].fd = -1;
	for (i = 0; i < st_nregions; i++) {
		/*
		 * The default alignment, a PMD, where 2 MiB holds one (4K
		 * pages); with 64K pages a PMD is 512 MiB: the page size.
		 */
		__u64 req = st_regions[i].align & SZ_2M ? 0 : PAGE_SIZE;

		own[i].len = SZ_2M;
		own[i].pxm = st_regions[i].pxm;
		if (egm_alloc(st_egm, own[i].pxm, SZ_2M, req, &own[i].fd) &&
		    errno != ENOSPC) {
			st_fail(t, "ALLOC: %s", strerror(errno));
			break;
		}
		if (own[i].fd >= 0 &&
		    (st_winfo(t, &own[i]) ||
		     st_live_add(t, &own[i], req ?: SZ_2M)))
			break;
	}
	while (!st_done()) {
		if (st_query(t))
			break;
		for (i = 0; i < st_nregions; i++)
			if (own[i].fd >= 0 && st_winfo(t, &own[i]))
				break;
	}
	for (i = 0; i < st_nregions; i++) {
		st_live_del(&own[i]);
		if (own[i].fd >= 0)
			close(own[i].fd);
	}
	return NULL;
}

static int st_thread_init(struct st_thread *t, unsigned int idx, __u64 seed)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->idx = idx;
	t->rng = seed ^ ((__u64)idx * 0x9e3779b97f4a7c15ULL);
	for (i = 0; i < ST_HELD; i++)
		t->held[i].fd = -1;
	t->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (t->iommufd < 0)
		return st_fail(t, "open /dev/iommu: %s", strerror(errno));
	if (_test_ioctl_ioas_alloc(t->iommufd, &t->ioas))
		return st_fail(t, "IOAS_ALLOC: %s", strerror(errno));
	/* A mock domain makes each import fill a page table, as a device's. */
	t->domain = !_test_cmd_mock_domain(t->iommufd, t->ioas, NULL, NULL,
					   NULL);
	return 0;
}

FIXTURE(egm_stress)
{
	struct st_thread t[ST_THREADS + 1];
	__u64 free0[EGM_MAX_REGIONS];
	unsigned int seconds;
};

FIXTURE_SETUP(egm_stress)
{
	const char *s = getenv("EGM_STRESS_SECONDS");
	__u32 i;

	st_egm = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	if (st_egm < 0 && errno == ENOENT)
		SKIP(return, "no %s: egm is not loaded", EGM_DEV);
	ASSERT_LE(0, st_egm);
	st_nregions = EGM_MAX_REGIONS;
	ASSERT_EQ(0, egm_query(st_egm, st_regions, &st_nregions));
	if (!st_nregions)
		SKIP(return, "this machine has no EGM region");
	for (i = 0; i < st_nregions; i++)
		self->free0[i] = st_regions[i].free;
	self->seconds = s && *s ? strtoul(s, NULL, 0) : ST_SECONDS;
}

FIXTURE_TEARDOWN(egm_stress)
{
	if (st_egm >= 0)
		close(st_egm);
}

TEST_F(egm_stress, threads)
{
	unsigned long n[ST_KINDS] = {}, total = 0;
	double secs[ST_KINDS] = {}, max[ST_KINDS] = {}, elapsed, t0;
	__u64 carved = 0, seed = (__u64)time(NULL);
	unsigned int i, k, domains = 0;
	__u32 r;

	for (i = 0; i <= ST_THREADS; i++) {
		ASSERT_EQ(0, st_thread_init(&self->t[i], i, seed))
			TH_LOG("thread %u: %s", i, self->t[i].err);
		domains += self->t[i].domain;
	}
	ksft_print_msg("%d threads and an observer for %u s on %u regions; %u mock domains\n",
		       ST_THREADS, self->seconds, st_nregions, domains);

	t0 = st_now();
	st_deadline = t0 + self->seconds;
	for (i = 0; i <= ST_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&self->t[i].tid, NULL,
					    i < ST_THREADS ? st_worker : st_observer,
					    &self->t[i]));
	for (i = 0; i <= ST_THREADS; i++)
		ASSERT_EQ(0, pthread_join(self->t[i].tid, NULL));
	elapsed = st_now() - t0;

	for (i = 0; i <= ST_THREADS; i++) {
		struct st_thread *t = &self->t[i];

		EXPECT_EQ(0, t->err[0]) TH_LOG("thread %u: %s", i, t->err);
		for (k = 0; k < ST_KINDS; k++) {
			n[k] += t->n[k];
			secs[k] += t->secs[k];
			if (t->max[k] > max[k])
				max[k] = t->max[k];
		}
		carved += t->carved;
		close(t->iommufd);
	}

	for (k = 0; k < ST_KINDS; k++) {
		total += n[k];
		ksft_print_msg("  %-13s %8lu  %8.1f/s  %8.3f ms each, %8.1f ms at most\n",
			       st_names[k], n[k], n[k] / elapsed,
			       n[k] ? 1e3 * secs[k] / n[k] : 0, 1e3 * max[k]);
	}
	ksft_print_msg("total %lu ops in %.1f s: %.1f ops/s\n", total, elapsed,
		       total / elapsed);
	ksft_print_msg("allocs %.1f/s (%lu ENOSPC); carved %.1f MiB/s\n",
		       n[ST_ALLOC] / elapsed, n[ST_NOSPACE],
		       carved / elapsed / (1 << 20));
	/* ALLOC returns once what was dirty of the window is zero. */
	if (secs[ST_ALLOC] > 0)
		ksft_print_msg("ALLOC: %.1f MiB carved per second inside it\n",
			       carved / secs[ST_ALLOC] / (1 << 20));

	/* Every window is gone: each region is back where it started. */
	for (r = 0; r < st_nregions; r++)
		EXPECT_EQ(self->free0[r], egm_free(st_egm, st_regions[r].pxm))
			TH_LOG("PXM %u", st_regions[r].pxm);
	EXPECT_LT(0, n[ST_ALLOC]);
}

int main(int argc, char **argv)
{
	const char *s = getenv("EGM_STRESS_SECONDS");
	unsigned long secs = s && *s ? strtoul(s, NULL, 0) : ST_SECONDS;

	/* The run itself, then time to let go of everything. */
	_egm_stress_threads_object->timeout = secs + 120;
	return test_harness_run(argc, argv);
}
