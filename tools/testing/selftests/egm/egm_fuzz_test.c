// SPDX-License-Identifier: GPL-2.0-only
/*
 * A seeded, bounded random sequencer over what userspace can do to
 * /dev/egm and its windows: every ioctl with valid and broken arguments,
 * mappings and their remaps (qemu_ram_remap()'s one-page MAP_FIXED among
 * them), iommufd imports, duplicated and reopened fds, fork, exec and,
 * where the kernel has an injector, poison.
 *
 * A model of what the program holds (windows, fds, mappings, imports and
 * the words it wrote) predicts every result. After each step the regions'
 * free bytes must match it; every word read must be the last one written
 * there or zero, which makes each new window's first read a check of its
 * zeroing. EGM_FUZZ_SEED and EGM_FUZZ_OPS choose the run; a failure names
 * both and the index of the op, which the same two replay.
 * EGM_FUZZ_VERBOSE=N logs every op from the Nth on (1: all of them);
 * EGM_FUZZ_SKIP=op,op... leaves ops out.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* Some helpers of the iommufd selftests go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "../iommu/iommufd_utils.h"
#include "egm_utils.h"
#include "egm_iommufd_utils.h"
#pragma GCC diagnostic pop

#define FZ_WINS		24	/* window slots */
#define FZ_FDS		48	/* window fd slots */
#define FZ_MAPS		48	/* mapping slots, one per VMA */
#define FZ_IMPS		48	/* import slots */
#define FZ_WORDS	64	/* nonzero words remembered per window */
#define FZ_BAD		EGM_MAX_BAD
#define FZ_POISON_MAX	8	/* poisoned pages are lost for good */
#define FZ_ARENA	(8ULL << 30)
#define FZ_IOVA_CAP	(512ULL << 20)	/* imported bytes per IOAS */
#define FZ_RING		16	/* ops a failure report recalls */
#define FZ_SEED		0x5eed0e9dULL
#define FZ_OPS		100000UL
#define FZ_INJECT	"/sys/kernel/debug/egm/inject_poison"
#define FZ_EXEC_ARG	"--egm-fuzz-exec"
#define FZ_MB		0x100000ULL
#define FZ_RW		(PROT_READ | PROT_WRITE)
#define FZ_MAP_RW	(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

struct fz_word {
	__u64 off;
	__u64 val;
};

struct fz_win {
	bool live;
	unsigned int serial;
	unsigned int region;
	__u64 len;
	__u64 align;
	__u64 cost;		/* what it holds of the region: itself, spares */
	__u32 flags;
	__u64 phys;		/* physical base (root only), else 0 */
	ino_t ino;		/* once fstat told, else 0 */
	__u32 events;		/* EGM_WINDOW_EVENT_* not cleared yet */
	__u32 ndma;		/* imports revoked for poison */
	unsigned int nbad;
	struct egm_bad_page bad[FZ_BAD];	/* what WINDOW_INFO must list */
	unsigned int nwords;
	struct fz_word words[FZ_WORDS];
};

struct fz_fd {
	int fd;			/* -1: a free slot */
	int win;
	int mode;		/* O_RDONLY, O_WRONLY or O_RDWR */
};

struct fz_map {
	char *addr;		/* NULL: a free slot */
	__u64 len;
	int win;
	__u64 off;
	int prot;
	bool maywrite;		/* its file was opened for writing */
};

struct fz_imp {
	bool used;
	unsigned int ioas;	/* index in fz.ioas */
	__u64 iova;
	__u64 len;
	int win;
	bool writable;		/* its pages are: IOMMU_IOAS_COPY keeps that */
	__u64 off;		/* window offset of its first byte */
	unsigned int origin;	/* the MAP_FILE it comes from: copies share it */
	bool revoked;		/* a page it reaches was poisoned */
};

struct fz_region {
	struct egm_region_info start;	/* when the run began */
	struct egm_region_info now;	/* at the last check */
	__u64 used;			/* bytes the model's windows hold */
	unsigned int poisoned;		/* pages this run poisoned */
	__u64 base;			/* from the platform file, or 0 */
};

struct fz {
	__u64 seed;
	__u64 rng;
	unsigned long nops;
	unsigned long op;
	const char *opname;
	char what[192];		/* the current op's arguments */
	char msg[768];		/* the first failure */
	char ring[FZ_RING][224];	/* the last ops, for a failure */
	bool failed;
	unsigned long verbose;	/* log ops from this one on (1: all) */
	bool stale;		/* the regions changed since the last check */
	bool dropped;		/* a reference was dropped since then */
	unsigned int weights;	/* the sum of the ops' weights */

	int egm;		/* /dev/egm, O_CLOEXEC */
	int egm2;		/* another open of it, or -1 */
	int iommufd;		/* -1 while closed */
	__u32 ioas[2];
	bool has_domain;	/* ioas[0] has a mock domain */
	const char *inject;	/* the poison injector, or NULL */
	bool mce_early;

	unsigned int nregions;
	struct fz_region r[EGM_MAX_REGIONS];
	struct egm_platform plat;

	char *arena;		/* FZ_ARENA of PROT_NONE, 1 GiB aligned */
	char *noaccess;		/* a PROT_NONE page outside the arena */
	char *ro;		/* a read-only page of valid ioctl structures */
	char *scratch;		/* two writable pages */
	unsigned int serial;
	unsigned int origins;
	unsigned int npoison;
	__u64 poison_pa[FZ_POISON_MAX];	/* what this run poisoned */

	struct fz_win w[FZ_WINS];
	struct fz_fd fds[FZ_FDS];
	struct fz_map maps[FZ_MAPS];
	struct fz_imp imps[FZ_IMPS];

	unsigned long allocs, enospc, sigbus, forks, execs, injected;
	unsigned long skipped_poison, seeded, revoked, checks;
	double check_secs;
};

/* Where the read-only page keeps its structures. */
#define FZ_RO_ALLOC	0
#define FZ_RO_QUERY	128
#define FZ_RO_INFO	256

typedef int (*fz_fn)(struct fz *f);

/* What ops that find a table full do instead. */
static int op_close(struct fz *f);
static int op_munmap(struct fz *f);
static int op_unmap(struct fz *f);

struct fz_op {
	const char *name;
	unsigned int weight;	/* relative: they add up to 100000 */
	fz_fn fn;
	unsigned long runs;
	unsigned long skips;
	double secs;
};

/*
 * SIGBUS: expected ones jump back to FZ_SIGBUS(); the others, and SIGSEGV,
 * are fatal, but say where they hit first.
 */
static sigjmp_buf fz_jmp;
static sig_atomic_t fz_armed;
static siginfo_t fz_si;
static unsigned long fz_ao;
static struct fz *fz_cur;

static void fz_sigbus(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	int n;

	/* An early-kill process hears of poison it did not touch. */
	if (sig == SIGBUS && si->si_code == BUS_MCEERR_AO) {
		fz_ao++;
		return;
	}
	if (sig == SIGBUS && fz_armed) {
		fz_si = *si;
		fz_armed = 0;
		siglongjmp(fz_jmp, 1);
	}
	n = snprintf(buf, sizeof(buf),
		     "# unexpected signal %d code %d at %p: seed %llu op %lu %s(%s)\n",
		     sig, si->si_code, si->si_addr,
		     fz_cur ? (unsigned long long)fz_cur->seed : 0ULL,
		     fz_cur ? fz_cur->op : 0, fz_cur ? fz_cur->opname : "",
		     fz_cur ? fz_cur->what : "");
	if (write(STDOUT_FILENO, buf, n) < 0)
		n = 0;
	/* Returning retries the access, which now kills. */
	signal(sig, SIG_DFL);
}

/* Evaluate @expr; true if it raised SIGBUS, whose siginfo is in fz_si. */
#define FZ_SIGBUS(expr)						\
	(sigsetjmp(fz_jmp, 0) ? true :				\
	 (fz_armed = 1, (void)(expr), fz_armed = 0, false))

/* Accesses to windows, which the compiler must not elide or merge. */
static __u64 fz_load(const void *p)
{
	return __atomic_load_n((const __u64 *)p, __ATOMIC_RELAXED);
}

static void fz_get(__u64 *out, const void *p)
{
	*out = fz_load(p);
}

static void fz_store(void *p, __u64 val)
{
	__atomic_store_n((__u64 *)p, val, __ATOMIC_RELAXED);
}

/* The first word of a page at @p that differs from @want, or -1. */
static void fz_scan(long *bad, const void *p, const __u64 *want)
{
	unsigned int i;

	*bad = -1;
	for (i = 0; i < PAGE_SIZE / 8; i++) {
		if (fz_load((const __u64 *)p + i) != want[i]) {
			*bad = i;
			return;
		}
	}
}

static __u64 fz_rand(struct fz *f)
{
	__u64 z = (f->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 fz_below(struct fz *f, __u64 n)
{
	return n ? fz_rand(f) % n : 0;
}

static bool fz_one_in(struct fz *f, unsigned int n)
{
	return fz_below(f, n) == 0;
}

static double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Record the first failure; returns -1 for the op to return. */
static __printf(3, 4) int fz_fail(struct fz *f, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (f->failed)
		return -1;
	f->failed = true;
	n = snprintf(f->msg, sizeof(f->msg),
		     "seed %llu op %lu %s(%s), line %d: ",
		     (unsigned long long)f->seed, f->op, f->opname, f->what,
		     line);
	va_start(ap, fmt);
	vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

#define FZ_FAIL(f, fmt, ...)	fz_fail(f, __LINE__, fmt, ##__VA_ARGS__)

/* -1 (and a failure) unless @ret is -1 with errno @want. */
static int fz_want(struct fz *f, int line, const char *call, long ret,
		   int want)
{
	int err = errno;

	if (ret == -1 && err == want)
		return 0;
	return fz_fail(f, line, "%s returned %ld (%s), expected %s", call, ret,
		       ret == -1 ? strerror(err) : "no error", strerror(want));
}

#define FZ_WANT(f, want, call)	fz_want(f, __LINE__, #call, (long)(call), want)

/* The same, for a call that may fail either of two ways. */
static int fz_want2(struct fz *f, int line, const char *call, long ret,
		    int want, int want2)
{
	if (ret == -1 && errno == want2)
		return 0;
	return fz_want(f, line, call, ret, want);
}

#define FZ_WANT2(f, want, want2, call)					\
	fz_want2(f, __LINE__, #call, (long)(call), want, want2)

static __printf(2, 3) void fz_what(struct fz *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
	if (f->verbose && f->op + 1 >= f->verbose)
		ksft_print_msg("op %lu %s(%s)\n", f->op, f->opname, f->what);
}

/* The model: slots, references and the words written. */

static int fz_pick(struct fz *f, const bool *ok, int n)
{
	int i, cnt = 0, k;

	for (i = 0; i < n; i++)
		cnt += ok[i];
	if (!cnt)
		return -1;
	k = fz_below(f, cnt);
	for (i = 0; i < n; i++)
		if (ok[i] && !k--)
			return i;
	return -1;
}

#define FZ_ANY		0
#define FZ_READ		1	/* readable: mmap, import */
#define FZ_WRITE	2	/* read and write */

static bool fz_mode_ok(int mode, int need)
{
	if (need == FZ_WRITE)
		return mode == O_RDWR;
	if (need == FZ_READ)
		return mode != O_WRONLY;
	return true;
}

static int fz_pick_fd(struct fz *f, int need)
{
	bool ok[FZ_FDS];
	int i;

	for (i = 0; i < FZ_FDS; i++)
		ok[i] = f->fds[i].fd >= 0 && fz_mode_ok(f->fds[i].mode, need);
	return fz_pick(f, ok, FZ_FDS);
}

/* A fd of window @wi, or -1. */
static int fz_win_fd(struct fz *f, int wi, int need)
{
	bool ok[FZ_FDS];
	int i;

	for (i = 0; i < FZ_FDS; i++)
		ok[i] = f->fds[i].fd >= 0 && f->fds[i].win == wi &&
			fz_mode_ok(f->fds[i].mode, need);
	return fz_pick(f, ok, FZ_FDS);
}

static int fz_pick_map(struct fz *f, bool writable)
{
	bool ok[FZ_MAPS];
	int i;

	for (i = 0; i < FZ_MAPS; i++)
		ok[i] = f->maps[i].addr &&
			(!writable || (f->maps[i].prot & PROT_WRITE));
	return fz_pick(f, ok, FZ_MAPS);
}

static int fz_pick_imp(struct fz *f)
{
	bool ok[FZ_IMPS];
	int i;

	for (i = 0; i < FZ_IMPS; i++)
		ok[i] = f->imps[i].used;
	return fz_pick(f, ok, FZ_IMPS);
}

static int fz_free_fd_slot(struct fz *f)
{
	int i;

	for (i = 0; i < FZ_FDS; i++)
		if (f->fds[i].fd < 0)
			return i;
	return -1;
}

static int fz_free_map_slots(struct fz *f)
{
	int i, n = 0;

	for (i = 0; i < FZ_MAPS; i++)
		n += !f->maps[i].addr;
	return n;
}

static struct fz_map *fz_new_map(struct fz *f)
{
	int i;

	for (i = 0; i < FZ_MAPS; i++)
		if (!f->maps[i].addr)
			return &f->maps[i];
	return NULL;
}

static int fz_free_imp_slot(struct fz *f)
{
	int i;

	for (i = 0; i < FZ_IMPS; i++)
		if (!f->imps[i].used)
			return i;
	return -1;
}

static int fz_free_win_slot(struct fz *f)
{
	int i;

	for (i = 0; i < FZ_WINS; i++)
		if (!f->w[i].live)
			return i;
	return -1;
}

static unsigned int fz_refs(struct fz *f, int wi)
{
	unsigned int i, n = 0;

	for (i = 0; i < FZ_FDS; i++)
		n += f->fds[i].fd >= 0 && f->fds[i].win == wi;
	for (i = 0; i < FZ_MAPS; i++)
		n += f->maps[i].addr && f->maps[i].win == wi;
	for (i = 0; i < FZ_IMPS; i++)
		n += f->imps[i].used && f->imps[i].win == wi;
	return n;
}

/*
 * After a reference was dropped: forget the windows nothing holds, which
 * the kernel has freed, and have the accounting checked either way.
 */
static void fz_gc(struct fz *f)
{
	int i;

	f->dropped = true;
	for (i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &f->w[i];

		if (w->live && !fz_refs(f, i)) {
			w->live = false;
			f->r[w->region].used -= w->cost;
			f->stale = true;
		}
	}
}

/* The bad page entry of window offset @off, or NULL. */
static struct egm_bad_page *fz_bad(struct fz_win *w, __u64 off)
{
	unsigned int i;

	for (i = 0; i < w->nbad; i++)
		if (off / PAGE_SIZE == w->bad[i].offset / PAGE_SIZE)
			return &w->bad[i];
	return NULL;
}

/* A hole or a poisoned page: touching it must raise SIGBUS. */
static bool fz_no_touch(struct fz_win *w, __u64 off)
{
	struct egm_bad_page *b = fz_bad(w, off);

	return b && !(b->flags & EGM_BAD_PAGE_SUBSTITUTED);
}

static __u64 fz_word(struct fz_win *w, __u64 off)
{
	unsigned int i;

	for (i = 0; i < w->nwords; i++)
		if (w->words[i].off == off)
			return w->words[i].val;
	return 0;
}

/* Remember a write; false if there is no room to (write elsewhere). */
static bool fz_word_room(struct fz_win *w, __u64 off)
{
	unsigned int i;

	for (i = 0; i < w->nwords; i++)
		if (w->words[i].off == off)
			return true;
	return w->nwords < FZ_WORDS;
}

static void fz_set_word(struct fz_win *w, __u64 off, __u64 val)
{
	unsigned int i;

	for (i = 0; i < w->nwords; i++) {
		if (w->words[i].off != off)
			continue;
		if (val) {
			w->words[i].val = val;
		} else {
			w->words[i] = w->words[w->nwords - 1];
			w->nwords--;
		}
		return;
	}
	if (val && w->nwords < FZ_WORDS)
		w->words[w->nwords++] = (struct fz_word){ off, val };
}

static void fz_drop_page_words(struct fz_win *w, __u64 page)
{
	unsigned int i = 0;

	while (i < w->nwords) {
		if (w->words[i].off / PAGE_SIZE == page / PAGE_SIZE)
			w->words[i] = w->words[--w->nwords];
		else
			i++;
	}
}

/* A random offset of a page of [off, off + len) that may be touched. */
static bool fz_touchable(struct fz *f, struct fz_win *w, __u64 off, __u64 len,
			 __u64 *out)
{
	__u64 npg = len / PAGE_SIZE, pg;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		pg = off + fz_below(f, npg) * PAGE_SIZE;
		if (!fz_no_touch(w, pg)) {
			*out = pg + fz_below(f, PAGE_SIZE / 8) * 8;
			return true;
		}
	}
	return false;
}

/*
 * A word of [off, off + len) of @w to write: a new one if the model has
 * room for it, else one it remembers already.
 */
static bool fz_writable_word(struct fz *f, struct fz_win *w, __u64 off,
			     __u64 len, __u64 *out)
{
	unsigned int i, k;

	if (fz_touchable(f, w, off, len, out) && fz_word_room(w, *out))
		return true;
	k = fz_below(f, FZ_WORDS);
	for (i = 0; i < w->nwords; i++) {
		struct fz_word *x = &w->words[(i + k) % w->nwords];

		if (x->off >= off && x->off < off + len) {
			*out = x->off;
			return true;
		}
	}
	return false;
}

/* The arena: where MAP_FIXED and mremap() may put things. */

static bool fz_in_arena(struct fz *f, char *a, __u64 len)
{
	return a >= f->arena && a + len <= f->arena + FZ_ARENA;
}

/* Give a range of the arena back to PROT_NONE, so nothing else lands there. */
static int fz_arena_fill(struct fz *f, char *a, __u64 len)
{
	void *p;

	if (!fz_in_arena(f, a, len))
		return 0;
	p = mmap(a, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (p != a)
		return FZ_FAIL(f, "refilling the arena at %p: %s", a,
			       strerror(errno));
	return 0;
}

/*
 * An arena address for @len bytes of window offset @off: congruent to it
 * modulo the PMD or the PUD size (so that huge entries fit) or at any
 * page. With 64K pages a PUD (4 TiB) does not fit the arena: a PMD then.
 */
static char *fz_arena_addr(struct fz *f, __u64 len, __u64 off)
{
	__u64 u = fz_below(f, 8), slots, hp = pmd_size();
	__u64 big = pud_size() <= FZ_ARENA / 4 ? pud_size() : hp;

	if (u == 0 && len <= FZ_ARENA - 2 * big) {
		slots = (FZ_ARENA - len) / big - 1;
		return f->arena + fz_below(f, slots) * big + off % big;
	}
	slots = (FZ_ARENA - len) / hp - 1;
	if (u < 5)
		return f->arena + fz_below(f, slots) * hp + off % hp;
	return f->arena + fz_below(f, slots) * hp +
	       fz_below(f, hp / PAGE_SIZE) * PAGE_SIZE;
}

/* An arena range that holds no mapping of the model's, or NULL. */
static char *fz_arena_empty(struct fz *f, __u64 len)
{
	int tries, i;
	char *a;

	for (tries = 0; tries < 8; tries++) {
		a = fz_arena_addr(f, len, 0);
		for (i = 0; i < FZ_MAPS; i++)
			if (f->maps[i].addr && f->maps[i].addr < a + len &&
			    a < f->maps[i].addr + f->maps[i].len)
				break;
		if (i == FZ_MAPS)
			return a;
	}
	return NULL;
}

/* Drop [a, b) from the model's mappings, as munmap() or MAP_FIXED do. */
static int fz_model_unmap(struct fz *f, char *a, char *b)
{
	int i;

	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &f->maps[i], *n;
		char *ms = m->addr, *me = m->addr + m->len;

		if (!ms || b <= ms || a >= me)
			continue;
		if (a <= ms && b >= me) {
			m->addr = NULL;
		} else if (a <= ms) {
			m->off += b - ms;
			m->len = me - b;
			m->addr = b;
		} else if (b >= me) {
			m->len = a - ms;
		} else {
			n = fz_new_map(f);
			if (!n)
				return FZ_FAIL(f, "model: no mapping slot");
			*n = *m;
			n->addr = b;
			n->len = me - b;
			n->off = m->off + (b - ms);
			m->len = a - ms;
		}
	}
	return 0;
}

static int fz_add_map(struct fz *f, char *addr, __u64 len, int wi, __u64 off,
		      int prot, bool maywrite)
{
	struct fz_map *m = fz_new_map(f);

	if (!m)
		return FZ_FAIL(f, "model: no mapping slot");
	*m = (struct fz_map){ addr, len, wi, off, prot, maywrite };
	return 0;
}

/* The model's mapping that starts at @addr. */
static struct fz_map *fz_map_at(struct fz *f, char *addr)
{
	int i;

	for (i = 0; i < FZ_MAPS; i++)
		if (f->maps[i].addr == addr)
			return &f->maps[i];
	return NULL;
}

/*
 * The mapping size get_unmapped_area() aligns a mapping of @len for: the
 * largest of the PUD (which only x86 windows have) and PMD sizes that the
 * window's alignment and the length both hold.
 */
static __u64 fz_map_align(struct fz_win *w, __u64 len)
{
	if (w->align >= pud_size() && len >= pud_size())
		return pud_size();
	if (w->align >= pmd_size() && len >= pmd_size())
		return pmd_size();
	return PAGE_SIZE;
}

/* Read one word of a mapping and compare it with the model. */
static int fz_check_word(struct fz *f, struct fz_map *m, __u64 woff)
{
	struct fz_win *w = &f->w[m->win];
	char *p = m->addr + (woff - m->off);
	__u64 got = 0, want = fz_word(w, woff);

	if (FZ_SIGBUS(fz_get(&got, p)))
		return FZ_FAIL(f,
			       "SIGBUS (code %d) reading window %u offset %#llx at %p",
			       fz_si.si_code, w->serial,
			       (unsigned long long)woff, p);
	if (got != want)
		return FZ_FAIL(f,
			       "window %u offset %#llx reads %#llx, wrote %#llx",
			       w->serial, (unsigned long long)woff,
			       (unsigned long long)got,
			       (unsigned long long)want);
	return 0;
}

/* Read a whole page of a mapping: the model's words, zero elsewhere. */
static int fz_check_page(struct fz *f, struct fz_map *m, __u64 pg)
{
	struct fz_win *w = &f->w[m->win];
	const __u64 *p = (const __u64 *)(m->addr + (pg - m->off));
	__u64 want[PAGE_SIZE / 8];
	unsigned int i;
	long bad = -1;

	memset(want, 0, sizeof(want));
	for (i = 0; i < w->nwords; i++)
		if (w->words[i].off / PAGE_SIZE == pg / PAGE_SIZE)
			want[(w->words[i].off % PAGE_SIZE) / 8] = w->words[i].val;
	if (FZ_SIGBUS(fz_scan(&bad, p, want)))
		return FZ_FAIL(f, "SIGBUS (code %d) reading window %u page %#llx",
			       fz_si.si_code, w->serial,
			       (unsigned long long)pg);
	if (bad >= 0)
		return FZ_FAIL(f, "window %u offset %#llx reads %#llx, wrote %#llx%s",
			       w->serial,
			       (unsigned long long)(pg + bad * 8),
			       (unsigned long long)fz_load(p + bad),
			       (unsigned long long)want[bad],
			       want[bad] ? "" : " (never written: not zeroed?)");
	return 0;
}

/* Touch a page that must not be mapped: SIGBUS, action required, there. */
static int fz_expect_sigbus(struct fz *f, struct fz_map *m, __u64 woff)
{
	char *p = m->addr + (woff - m->off);
	struct fz_win *w = &f->w[m->win];
	__u64 got = 0;

	if (!FZ_SIGBUS(fz_get(&got, p)))
		return FZ_FAIL(f, "window %u bad page %#llx read %#llx, no SIGBUS",
			       w->serial, (unsigned long long)woff,
			       (unsigned long long)got);
	f->sigbus++;
	if (fz_si.si_code != BUS_MCEERR_AR ||
	    ((uintptr_t)fz_si.si_addr & ~(PAGE_SIZE - 1)) !=
	    ((uintptr_t)p & ~(PAGE_SIZE - 1)))
		return FZ_FAIL(f, "SIGBUS code %d addr %p, expected %d at %p",
			       fz_si.si_code, fz_si.si_addr, BUS_MCEERR_AR, p);
	return 0;
}

/* Invariants of the regions, checked after every step. */

static int fz_check_regions(struct fz *f)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS, i;

	if (egm_query(f->egm, infos, &n))
		return FZ_FAIL(f, "QUERY: %s", strerror(errno));
	if (n != f->nregions)
		return FZ_FAIL(f, "QUERY: %u regions, there were %u", n,
			       f->nregions);
	for (i = 0; i < n; i++) {
		struct egm_region_info *in = &infos[i], *s = &f->r[i].start;
		struct fz_region *r = &f->r[i];

		if (in->id != s->id || in->pxm != s->pxm ||
		    in->size != s->size || in->align != s->align ||
		    in->numa_node != s->numa_node ||
		    in->retired_pages != s->retired_pages ||
		    in->page_size != PAGE_SIZE || in->__reserved)
			return FZ_FAIL(f, "region %u (PXM %u) changed its fixed fields",
				       i, s->pxm);
		if (in->free != s->free - r->used)
			return FZ_FAIL(f,
				       "PXM %u: free %llu, expected %llu (at start %llu, windows hold %llu)",
				       s->pxm, (unsigned long long)in->free,
				       (unsigned long long)(s->free - r->used),
				       (unsigned long long)s->free,
				       (unsigned long long)r->used);
		if (in->largest_free > in->free ||
		    in->largest_free_good > in->largest_free ||
		    in->clean > in->free)
			return FZ_FAIL(f, "PXM %u: free %llu largest %llu good %llu clean %llu",
				       s->pxm, (unsigned long long)in->free,
				       (unsigned long long)in->largest_free,
				       (unsigned long long)in->largest_free_good,
				       (unsigned long long)in->clean);
		if (in->poisoned_pages != s->poisoned_pages + r->poisoned)
			return FZ_FAIL(f, "PXM %u: %llu poisoned pages, expected %llu",
				       s->pxm,
				       (unsigned long long)in->poisoned_pages,
				       (unsigned long long)(s->poisoned_pages +
							    r->poisoned));
		r->now = *in;
	}
	f->stale = false;
	f->dropped = false;
	return 0;
}

/* One entry of a QUERY reply, compared up to @len bytes. */
static int fz_check_entry(struct fz *f, const struct egm_region_info *in,
			  unsigned int i, size_t len)
{
	struct egm_region_info want = f->r[i].now;

	want.free = f->r[i].start.free - f->r[i].used;
	/* Zeroing in the background moves these. */
	want.clean = in->clean;
	if (memcmp(in, &want, len))
		return FZ_FAIL(f,
			       "QUERY entry %u (PXM %u) differs from the model: free %llu, expected %llu",
			       i, in->pxm, (unsigned long long)in->free,
			       (unsigned long long)want.free);
	return 0;
}

static int fz_egm_fd(struct fz *f)
{
	return f->egm2 >= 0 && fz_one_in(f, 2) ? f->egm2 : f->egm;
}

/* A PXM no region has. */
static __u32 fz_bad_pxm(struct fz *f)
{
	__u32 pxm = 0, i;

	for (i = 0; i < f->nregions; i++)
		if (f->r[i].start.pxm >= pxm)
			pxm = f->r[i].start.pxm + 1;
	switch (fz_below(f, 3)) {
	case 0:
		return pxm;
	case 1:
		return ~0U;
	default:
		return pxm + fz_below(f, 1000);
	}
}

/* Ops on /dev/egm. */

static int op_query(struct fz *f)
{
	struct egm_region_info *buf = (void *)f->scratch;
	const size_t minent = offsetofend(struct egm_region_info, page_size);
	struct {
		struct egm_query q;
		__u64 tail[2];
	} big;
	struct egm_query *q = &big.q;
	unsigned int v = fz_below(f, 13), i, n = f->nregions, cap;
	size_t esize = sizeof(*buf);
	int fd = fz_egm_fd(f), ret;
	unsigned char *e;

	memset(&big, 0, sizeof(big));
	memset(f->scratch, 0xa5, 2 * PAGE_SIZE);
	q->size = sizeof(*q);
	q->num_regions = n;
	q->entry_size = esize;
	q->regions_uptr = (uintptr_t)buf;
	fz_what(f, "variant %u", v);

	switch (v) {
	case 0:	/* valid */
	case 12:	/* room for more than there are */
		if (v == 12)
			q->num_regions = fz_one_in(f, 2) ? ~0U : n + 1;
		if (ioctl(fd, EGM_QUERY, q))
			return FZ_FAIL(f, "QUERY: %s", strerror(errno));
		if (q->num_regions != n)
			return FZ_FAIL(f, "QUERY: %u regions", q->num_regions);
		for (i = 0; i < n; i++)
			if (fz_check_entry(f, &buf[i], i, esize))
				return -1;
		return 0;
	case 1:	/* only the count */
	case 2:	/* too small */
		cap = v == 1 ? 0 : fz_below(f, n);
		q->num_regions = cap;
		if (FZ_WANT(f, ENOSPC, ioctl(fd, EGM_QUERY, q)))
			return -1;
		if (q->num_regions != n)
			return FZ_FAIL(f, "QUERY: %u regions needed, there are %u",
				       q->num_regions, n);
		for (i = 0; i < cap; i++)
			if (fz_check_entry(f, &buf[i], i, esize))
				return -1;
		e = (unsigned char *)&buf[cap];
		if (e[0] != 0xa5)
			return FZ_FAIL(f, "QUERY with room for %u wrote more", cap);
		return 0;
	case 3:	/* entries shorter than the first version */
		q->entry_size = fz_below(f, minent);
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_QUERY, q));
	case 4:	/* the first version exactly, or more than the kernel knows */
	case 5:
		q->entry_size = v == 4 ? minent : esize + 8 * (1 + fz_below(f, 8));
		if (ioctl(fd, EGM_QUERY, q))
			return FZ_FAIL(f, "QUERY entry_size %u: %s",
				       q->entry_size, strerror(errno));
		for (i = 0; i < n; i++) {
			struct egm_region_info in;
			size_t k, len = q->entry_size < esize ? q->entry_size : esize;

			e = (unsigned char *)buf + i * q->entry_size;
			memset(&in, 0, sizeof(in));
			memcpy(&in, e, len);
			if (len < esize)
				memcpy((char *)&in + len,
				       (char *)&f->r[i].now + len, esize - len);
			if (fz_check_entry(f, &in, i, len))
				return -1;
			for (k = len; k < q->entry_size; k++)
				if (e[k])
					return FZ_FAIL(f,
						       "QUERY entry %u byte %zu is %#x, not zeroed",
						       i, k, e[k]);
		}
		e = (unsigned char *)buf + n * q->entry_size;
		if (*e != 0xa5)
			return FZ_FAIL(f, "QUERY wrote past the last entry");
		return 0;
	case 6:
		q->flags = 1U << fz_below(f, 32);
		return FZ_WANT(f, EOPNOTSUPP, ioctl(fd, EGM_QUERY, q));
	case 7:
		q->size = fz_below(f, offsetofend(struct egm_query, regions_uptr));
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_QUERY, q));
	case 8:
		q->size = sizeof(big);
		big.tail[fz_below(f, 2)] = 1 + fz_below(f, 1000);
		return FZ_WANT(f, E2BIG, ioctl(fd, EGM_QUERY, q));
	case 9:
		q->size = sizeof(big) - 8 * fz_below(f, 2);
		ret = ioctl(fd, EGM_QUERY, q);
		if (ret || q->num_regions != n)
			return FZ_FAIL(f, "QUERY with a zero tail: %d %s", ret,
				       strerror(errno));
		return fz_check_entry(f, &buf[0], 0, esize);
	case 10:	/* entries go to memory that faults */
		q->regions_uptr = (uintptr_t)(fz_one_in(f, 2) ? f->noaccess : f->ro);
		return FZ_WANT(f, EFAULT, ioctl(fd, EGM_QUERY, q));
	default:	/* the structure itself cannot be read, or written */
		switch (fz_below(f, 4)) {
		case 0:
			return FZ_WANT(f, EFAULT, ioctl(fd, EGM_QUERY, NULL));
		case 1:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_QUERY, f->noaccess));
		case 2:	/* its size is readable, the rest is not */
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_QUERY, f->noaccess - 4));
		default:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_QUERY, f->ro + FZ_RO_QUERY));
		}
	}
}

/*
 * A supported alignment of @r; *req gets what to ask for (0: the default,
 * which is the PMD size). A window of a PMD costs its zeroing: with 64K
 * pages that is 512 MiB, so there PMD windows are asked for one time in
 * 50 only, in the same mix as 2 MiB ones otherwise.
 */
static __u64 fz_pick_align(struct fz *f, struct fz_region *r, __u64 *req)
{
	__u64 hp = pmd_size(), big = pud_size();
	__u64 dflt = r->start.align & hp ? hp : PAGE_SIZE;
	__u64 u = fz_below(f, 100);

	*req = 0;
	if (hp > SZ_2M && !fz_one_in(f, 50)) {
		*req = PAGE_SIZE;
		return PAGE_SIZE;
	}
	if (u < 25)
		return dflt;
	if (u < 55 || !(r->start.align & hp))
		*req = PAGE_SIZE;
	else if (u < 99 || !(r->start.align & big))
		*req = hp;
	else
		*req = big;
	return *req;
}

/* A length of @align units: mostly small, sometimes large. */
static __u64 fz_pick_len(struct fz *f, struct fz_region *r, __u64 align)
{
	__u64 u = fz_below(f, 1000), max, len;

	/* One entry of a PUD, or of a PMD larger than 2 MiB (64K pages). */
	if (align >= pud_size() || align > SZ_2M)
		return align;
	if (u < 700)
		max = align == PAGE_SIZE ? 64 * PAGE_SIZE : 4 * align;
	else if (u < 950)
		max = 32 * FZ_MB;
	else if (u < 995)
		max = 256 * FZ_MB;
	else
		max = 768 * FZ_MB;
	len = (1 + fz_below(f, max / align)) * align;
	/* Leave room for the rest, unless this is the big one. */
	if (u < 995 && r->used + len > r->start.free / 2)
		len = align;
	return len;
}

/* The page at physical address @pa is bad: retired, or poisoned by us. */
static bool fz_pa_bad(struct fz *f, struct fz_region *r, __u64 pa,
		      __u32 *why)
{
	unsigned int i, j;

	*why = 0;
	for (i = 0; i < f->npoison; i++)
		if (f->poison_pa[i] / PAGE_SIZE == pa / PAGE_SIZE)
			*why |= EGM_BAD_PAGE_POISONED;
	for (i = 0; i < f->plat.nregions; i++) {
		struct egm_plat_region *p = &f->plat.r[i];

		if (p->base != r->base)
			continue;
		for (j = 0; j < p->nretired; j++)
			if (p->base + p->retired[j] == pa / PAGE_SIZE * PAGE_SIZE)
				*why |= EGM_BAD_PAGE_RETIRED;
	}
	return *why;
}

/*
 * Where a new window lies: aligned, in its region, clear of the others;
 * its bad pages are the retired and poisoned ones there, each listed as
 * what it is. Root gets the physical address; others skip the check.
 */
static int fz_check_phys(struct fz *f, int wi)
{
	struct fz_win *w = &f->w[wi];
	struct fz_region *r = &f->r[w->region];
	unsigned int i;
	__u64 pg;
	__u32 why;

	if (!w->phys)
		return 0;
	if (w->phys % w->align ||
	    (r->base && (w->phys < r->base ||
			 w->phys + w->len > r->base + r->start.size)))
		return FZ_FAIL(f, "window %u of %#llx at %#llx, alignment %#llx, region at %#llx",
			       w->serial, (unsigned long long)w->len,
			       (unsigned long long)w->phys,
			       (unsigned long long)w->align,
			       (unsigned long long)r->base);
	for (i = 0; i < FZ_WINS; i++) {
		struct fz_win *o = &f->w[i];

		if (o != w && o->live && o->phys &&
		    o->phys < w->phys + w->len && w->phys < o->phys + o->len)
			return FZ_FAIL(f, "windows %u at %#llx+%#llx and %u at %#llx+%#llx overlap",
				       w->serial, (unsigned long long)w->phys,
				       (unsigned long long)w->len, o->serial,
				       (unsigned long long)o->phys,
				       (unsigned long long)o->len);
	}
	for (i = 0; i < w->nbad; i++) {
		fz_pa_bad(f, r, w->phys + w->bad[i].offset, &why);
		/* Poison from earlier runs is not known here: let it be. */
		if ((why & ~w->bad[i].flags) ||
		    (w->bad[i].flags & EGM_BAD_PAGE_RETIRED &&
		     !(why & EGM_BAD_PAGE_RETIRED) && r->base))
			return FZ_FAIL(f, "window %u page %#llx at %#llx is listed %#x, is %#x",
				       w->serial,
				       (unsigned long long)w->bad[i].offset,
				       (unsigned long long)(w->phys + w->bad[i].offset),
				       w->bad[i].flags, why);
	}
	if (!r->base)
		return 0;
	/* And no bad page of the range is missing from the list. */
	for (i = 0; i < f->plat.nregions; i++) {
		struct egm_plat_region *p = &f->plat.r[i];
		unsigned int j;

		for (j = 0; p->base == r->base && j < p->nretired; j++) {
			pg = p->base + p->retired[j];
			if (pg >= w->phys && pg < w->phys + w->len &&
			    !fz_bad(w, pg - w->phys))
				return FZ_FAIL(f, "window %u holds retired page %#llx, not listed",
					       w->serial, (unsigned long long)pg);
		}
	}
	for (i = 0; i < f->npoison; i++) {
		pg = f->poison_pa[i] / PAGE_SIZE * PAGE_SIZE;
		if (pg >= w->phys && pg < w->phys + w->len &&
		    !fz_bad(w, pg - w->phys))
			return FZ_FAIL(f, "window %u holds poisoned page %#llx, not listed",
				       w->serial, (unsigned long long)pg);
	}
	return 0;
}

/* Check a new window's WINDOW_INFO and take its bad pages into the model. */
static int fz_new_window_info(struct fz *f, int wi, int fd)
{
	struct fz_win *w = &f->w[wi];
	struct fz_region *r = &f->r[w->region];
	struct egm_window_info info;
	unsigned int i, nsubst = 0;

	if (egm_window_info(fd, &info, w->bad, FZ_BAD))
		return FZ_FAIL(f, "WINDOW_INFO of a new window: %s",
			       strerror(errno));
	if (info.length != w->len || info.alignment != w->align ||
	    info.pxm != r->start.pxm || info.numa_node != r->start.numa_node ||
	    info.page_size != PAGE_SIZE || info.alloc_flags != w->flags)
		return FZ_FAIL(f, "WINDOW_INFO: length %llu align %llu PXM %u node %d flags %#x",
			       (unsigned long long)info.length,
			       (unsigned long long)info.alignment, info.pxm,
			       info.numa_node, info.alloc_flags);
	if (!(w->flags & EGM_ALLOC_ASYNC) && info.pending)
		return FZ_FAIL(f, "a synchronous window has %llu bytes pending",
			       (unsigned long long)info.pending);
	if ((w->flags & EGM_ALLOC_NO_BAD_PAGES) && info.num_bad_pages)
		return FZ_FAIL(f, "EGM_ALLOC_NO_BAD_PAGES window has %u bad pages",
			       info.num_bad_pages);
	w->nbad = info.num_bad_pages;
	for (i = 0; i < w->nbad; i++) {
		struct egm_bad_page *b = &w->bad[i];
		bool subst = b->flags & EGM_BAD_PAGE_SUBSTITUTED;

		if (b->offset >= w->len || b->offset % PAGE_SIZE ||
		    (i && b->offset <= w->bad[i - 1].offset) || b->__reserved ||
		    !(b->flags & (EGM_BAD_PAGE_RETIRED | EGM_BAD_PAGE_POISONED)))
			return FZ_FAIL(f, "bad page %u: offset %#llx flags %#x",
				       i, (unsigned long long)b->offset,
				       b->flags);
		if (subst == !!(w->flags & EGM_ALLOC_HOLES))
			return FZ_FAIL(f, "bad page %#llx flags %#x in a window allocated with %#x",
				       (unsigned long long)b->offset, b->flags,
				       w->flags);
		nsubst += subst;
	}
	if (info.num_substituted != nsubst)
		return FZ_FAIL(f, "num_substituted %u, listed %u",
			       info.num_substituted, nsubst);
	if (info.events || info.num_dma_revoked)
		return FZ_FAIL(f, "a new window has events %#x, %u revoked imports",
			       info.events, info.num_dma_revoked);
	w->cost = w->len + nsubst * PAGE_SIZE;
	r->used += w->cost;
	w->phys = info.phys_addr;
	return fz_check_phys(f, wi);
}

/*
 * Every new window reads as zeroes: its first and last page and a few
 * others, or all of it if it is small. The mapping stays half the time.
 */
static int fz_check_new(struct fz *f, int wi, int fd)
{
	struct fz_win *w = &f->w[wi];
	__u64 npg = w->len / PAGE_SIZE, pg[4];
	struct fz_map m = { .len = w->len, .win = wi, .prot = FZ_RW,
			    .maywrite = true };
	unsigned int i, k;

	m.addr = mmap(NULL, w->len, FZ_RW, MAP_SHARED, fd, 0);
	if (m.addr == MAP_FAILED)
		return FZ_FAIL(f, "mmap of a new window of %llu bytes: %s",
			       (unsigned long long)w->len, strerror(errno));
	if ((uintptr_t)m.addr % fz_map_align(w, w->len))
		return FZ_FAIL(f, "new window of %llu aligned %llu mapped at %p",
			       (unsigned long long)w->len,
			       (unsigned long long)w->align, m.addr);
	pg[0] = 0;
	pg[1] = npg - 1;
	pg[2] = fz_below(f, npg);
	pg[3] = fz_below(f, npg);
	k = npg <= 4 ? npg : 4;
	if (npg <= 1024 && fz_one_in(f, 16))
		k = npg;
	for (i = 0; i < k; i++) {
		__u64 off = (k == npg ? i : pg[i]) * PAGE_SIZE;

		if (fz_no_touch(w, off)) {
			if (fz_one_in(f, 2) && fz_expect_sigbus(f, &m, off))
				return -1;
			continue;
		}
		if (fz_check_page(f, &m, off))
			return -1;
	}
	if (fz_free_map_slots(f) >= 12 && fz_one_in(f, 2))
		return fz_add_map(f, m.addr, m.len, wi, 0, FZ_RW, true);
	if (munmap(m.addr, w->len))
		return FZ_FAIL(f, "munmap: %s", strerror(errno));
	return 0;
}

static int op_alloc(struct fz *f)
{
	unsigned int ri = fz_below(f, f->nregions);
	struct fz_region *r = &f->r[ri];
	struct egm_alloc a = { .size = sizeof(a), .out_fd = -1 };
	__u64 align, req, len, lf, free;
	int wi = fz_free_win_slot(f), fi = fz_free_fd_slot(f), ret, err;
	bool must, cannot;
	struct fz_win *w;

	/* When the tables are full, make room instead (the same below). */
	if (wi < 0 || fi < 0)
		return op_close(f);
	if (f->stale && fz_check_regions(f))
		return -1;
	align = fz_pick_align(f, r, &req);
	len = fz_pick_len(f, r, align);
	a.pxm = r->start.pxm;
	a.length = len;
	a.alignment = req;
	if (fz_one_in(f, 4))
		a.flags |= EGM_ALLOC_NO_BAD_PAGES;
	if (fz_one_in(f, 4))
		a.flags |= EGM_ALLOC_HOLES;
	if (fz_one_in(f, 4))
		a.flags |= EGM_ALLOC_ASYNC;
	fz_what(f, "PXM %u length %#llx alignment %#llx flags %#x", a.pxm,
		(unsigned long long)len, (unsigned long long)req, a.flags);

	/*
	 * What must happen: a window that fits in the largest free extent
	 * (without bad pages, if asked), alignment permitting, with room left
	 * for spares, is carved; one larger than what is free is not.
	 */
	free = r->now.free;
	lf = a.flags & EGM_ALLOC_NO_BAD_PAGES ? r->now.largest_free_good :
						r->now.largest_free;
	must = len + align - PAGE_SIZE <= lf &&
	       (a.flags & (EGM_ALLOC_NO_BAD_PAGES | EGM_ALLOC_HOLES) ||
		free - len >= 64 * PAGE_SIZE);
	cannot = len > free;

	ret = ioctl(fz_egm_fd(f), EGM_ALLOC, &a);
	err = errno;
	f->stale = true;
	if (ret) {
		if (err != ENOSPC)
			return FZ_FAIL(f, "ALLOC: %s", strerror(err));
		if (a.out_fd != -1)
			return FZ_FAIL(f, "failed ALLOC wrote out_fd %d", a.out_fd);
		f->enospc++;
		if (must)
			return FZ_FAIL(f,
				       "ENOSPC, but the largest free extent%s is %llu of %llu free",
				       a.flags & EGM_ALLOC_NO_BAD_PAGES ? " without bad pages" : "",
				       (unsigned long long)lf,
				       (unsigned long long)free);
		return 0;
	}
	if (a.out_fd < 0)
		return FZ_FAIL(f, "ALLOC returned fd %d", a.out_fd);
	f->allocs++;
	f->fds[fi] = (struct fz_fd){ a.out_fd, wi, O_RDWR };
	w = &f->w[wi];
	memset(w, 0, sizeof(*w));
	w->live = true;
	w->serial = ++f->serial;
	w->region = ri;
	w->len = len;
	w->align = align;
	w->flags = a.flags;
	if (fz_new_window_info(f, wi, a.out_fd))
		return -1;
	if (cannot)
		return FZ_FAIL(f, "ALLOC of %llu succeeded with %llu free",
			       (unsigned long long)len,
			       (unsigned long long)free);
	if (!(fcntl(a.out_fd, F_GETFD) & FD_CLOEXEC))
		return FZ_FAIL(f, "window fd without FD_CLOEXEC");
	return fz_check_new(f, wi, a.out_fd);
}

static int op_alloc_bad(struct fz *f)
{
	struct fz_region *r = &f->r[fz_below(f, f->nregions)];
	struct {
		struct egm_alloc a;
		__u64 tail[2];
	} big;
	struct egm_alloc *a = &big.a;
	unsigned int v = fz_below(f, 13);
	int fd = fz_egm_fd(f);
	static const __u64 unsupported[] = {
		4ULL << 20, 512ULL << 20, 2ULL << 30, 1ULL << 40, 1ULL << 63,
	};
	__u64 hp = pmd_size();

	memset(&big, 0, sizeof(big));
	a->size = sizeof(*a);
	a->pxm = r->start.pxm;
	/* Valid but for what each case breaks: 2 MiB, PMD aligned with 4K. */
	a->length = SZ_2M;
	a->alignment = r->start.align & SZ_2M ? SZ_2M : PAGE_SIZE;
	a->out_fd = -1;
	fz_what(f, "variant %u PXM %u", v, a->pxm);

	switch (v) {
	case 0:
		a->length = 0;
		a->alignment = fz_one_in(f, 2) ? 0 : PAGE_SIZE;
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	case 1:	/* not a multiple of the alignment, the PMD size */
		if (!(r->start.align & hp))
			return 1;
		a->length = hp + PAGE_SIZE * (1 + fz_below(f, hp / PAGE_SIZE - 1));
		a->alignment = fz_one_in(f, 2) ? 0 : hp;
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	case 2:	/* not a power of two */
		a->alignment = PAGE_SIZE * (3 + 2 * fz_below(f, 100));
		a->length = a->alignment;
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	case 3:	/* a power of two the region does not support */
		a->alignment = unsupported[fz_below(f, ARRAY_SIZE(unsupported))];
		if (fz_one_in(f, 2))
			a->alignment = 1ULL << fz_below(f, __builtin_ctzl(PAGE_SIZE));
		a->length = a->alignment;
		if (r->start.align & a->alignment)
			return 1;
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	case 4:
		a->pxm = fz_bad_pxm(f);
		return FZ_WANT(f, ENODEV, ioctl(fd, EGM_ALLOC, a));
	case 5:
		a->flags = 1U << (3 + fz_below(f, 29));
		return FZ_WANT(f, EOPNOTSUPP, ioctl(fd, EGM_ALLOC, a));
	case 6:
		a->size = fz_below(f, offsetofend(struct egm_alloc, alignment));
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	case 7:
		a->size = sizeof(big);
		big.tail[fz_below(f, 2)] = 1ULL << fz_below(f, 64);
		return FZ_WANT(f, E2BIG, ioctl(fd, EGM_ALLOC, a));
	case 8:
		switch (fz_below(f, 3)) {
		case 0:
			return FZ_WANT(f, EFAULT, ioctl(fd, EGM_ALLOC, NULL));
		case 1:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_ALLOC, f->noaccess));
		default:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_ALLOC, f->noaccess - 4));
		}
	case 9:
		/*
		 * A valid request the reply cannot be written back to: the
		 * window is carved and must be given back, fd and all (the
		 * accounting check after the op sees a leak).
		 */
		f->stale = true;
		return FZ_WANT(f, EFAULT, ioctl(fd, EGM_ALLOC, f->ro + FZ_RO_ALLOC));
	case 10:	/* larger than what is free, or than the region */
		a->length = fz_one_in(f, 2) ? r->start.size + SZ_2M :
					      r->start.free + SZ_2M;
		return FZ_WANT(f, ENOSPC, ioctl(fd, EGM_ALLOC, a));
	case 11:	/* unaligned to the page */
		a->alignment = fz_one_in(f, 2) ? PAGE_SIZE : 0;
		a->length = PAGE_SIZE * (1 + fz_below(f, 4)) + 1 +
			    fz_below(f, PAGE_SIZE - 1);
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_ALLOC, a));
	default:	/* ALLOC through a window fd */
		if (fz_pick_fd(f, FZ_ANY) < 0)
			return 1;
		fd = f->fds[fz_pick_fd(f, FZ_ANY)].fd;
		return FZ_WANT(f, ENOTTY, ioctl(fd, EGM_ALLOC, a));
	}
}

/* Lengths no region can hold, up to what a __u64 can say: ENOSPC. */
static int op_alloc_huge(struct fz *f)
{
	struct fz_region *r = &f->r[fz_below(f, f->nregions)];
	struct egm_alloc a = {
		.size = sizeof(a),
		.pxm = r->start.pxm,
		.alignment = r->start.align & SZ_2M ? SZ_2M : PAGE_SIZE,
		.out_fd = -1,
	};

	a.length = fz_one_in(f, 8) ? ~(a.alignment - 1) :
				     1ULL << (34 + fz_below(f, 29));
	fz_what(f, "PXM %u length %#llx", a.pxm, (unsigned long long)a.length);
	return FZ_WANT(f, ENOSPC, ioctl(fz_egm_fd(f), EGM_ALLOC, &a));
}

/* Ops on window fds. */

static int op_winfo(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), ret;
	struct {
		struct egm_window_info wi;
		__u64 tail[2];
	} big;
	struct egm_window_info *info = &big.wi;
	struct egm_bad_page *bad = (void *)f->scratch;
	unsigned int v = fz_below(f, 10), i, nbad, cap = FZ_BAD;
	const size_t v1 = offsetofend(struct egm_window_info, bad_pages_uptr);
	struct fz_win *w;
	int fd;

	if (fi < 0)
		return 1;
	fd = f->fds[fi].fd;
	w = &f->w[f->fds[fi].win];
	nbad = w->nbad;
	memset(&big, 0, sizeof(big));
	memset(f->scratch, 0xa5, 2 * PAGE_SIZE);
	info->size = sizeof(*info);
	info->num_bad_pages = FZ_BAD;
	info->bad_pages_uptr = (uintptr_t)bad;
	fz_what(f, "variant %u window %u fd %d", v, w->serial, fd);

	switch (v) {
	case 0:
	case 1:
	case 2:
		if (v == 1)
			cap = fz_below(f, nbad + 1);
		info->num_bad_pages = cap;
		if (v == 2)
			info->size = fz_one_in(f, 2) ? v1 : sizeof(big);
		/* Report the events, and clear them: they are still reported. */
		if (fz_one_in(f, 4))
			info->flags = EGM_WINDOW_INFO_CLEAR_EVENTS;
		ret = ioctl(fd, EGM_WINDOW_INFO, info);
		if (cap < nbad) {
			if (FZ_WANT(f, ENOSPC, ret))
				return -1;
		} else if (ret) {
			return FZ_FAIL(f, "WINDOW_INFO: %s", strerror(errno));
		}
		if (info->num_bad_pages != nbad)
			return FZ_FAIL(f, "WINDOW_INFO: %u bad pages, expected %u",
				       info->num_bad_pages, nbad);
		for (i = 0; i < nbad && i < cap; i++)
			if (memcmp(&bad[i], &w->bad[i], sizeof(bad[i])))
				return FZ_FAIL(f,
					       "bad page %u: offset %#llx flags %#x, expected %#llx %#x",
					       i, (unsigned long long)bad[i].offset,
					       bad[i].flags,
					       (unsigned long long)w->bad[i].offset,
					       w->bad[i].flags);
		if (info->length != w->len || info->alignment != w->align ||
		    info->pxm != f->r[w->region].start.pxm ||
		    info->page_size != PAGE_SIZE)
			return FZ_FAIL(f, "WINDOW_INFO: length %llu align %llu PXM %u",
				       (unsigned long long)info->length,
				       (unsigned long long)info->alignment,
				       info->pxm);
		if (info->size == v1) {
			if (info->alloc_flags || info->pending || info->events ||
			    info->phys_addr)
				return FZ_FAIL(f, "WINDOW_INFO wrote past the size it was given");
		} else if (info->alloc_flags != w->flags || big.tail[0] ||
			   big.tail[1] || info->events != w->events ||
			   info->num_dma_revoked != w->ndma ||
			   info->phys_addr != w->phys) {
			return FZ_FAIL(f,
				       "WINDOW_INFO: flags %#x events %#x revoked %u at %#llx, expected %#x %#x %u %#llx",
				       info->alloc_flags, info->events,
				       info->num_dma_revoked,
				       (unsigned long long)info->phys_addr,
				       w->flags, w->events, w->ndma,
				       (unsigned long long)w->phys);
		} else if (info->pending > w->len ||
			   (info->pending % SZ_2M && info->pending != w->len)) {
			return FZ_FAIL(f, "WINDOW_INFO: %llu bytes pending",
				       (unsigned long long)info->pending);
		}
		/* What was reported, and only that, is cleared. */
		if (info->flags & EGM_WINDOW_INFO_CLEAR_EVENTS)
			w->events = 0;
		return 0;
	case 3:
		if (fz_one_in(f, 2))
			info->flags = 2U << fz_below(f, 31);
		else
			info->__reserved = 1U << fz_below(f, 32);
		return FZ_WANT(f, EOPNOTSUPP, ioctl(fd, EGM_WINDOW_INFO, info));
	case 4:
		info->size = fz_below(f, v1);
		return FZ_WANT(f, EINVAL, ioctl(fd, EGM_WINDOW_INFO, info));
	case 5:
		info->size = sizeof(big);
		big.tail[fz_below(f, 2)] = 1ULL << fz_below(f, 64);
		return FZ_WANT(f, E2BIG, ioctl(fd, EGM_WINDOW_INFO, info));
	case 6:	/* bad pages go to memory that faults */
		info->bad_pages_uptr = (uintptr_t)(fz_one_in(f, 2) ? f->noaccess : f->ro);
		ret = ioctl(fd, EGM_WINDOW_INFO, info);
		if (nbad)
			return FZ_WANT(f, EFAULT, ret);
		if (ret)
			return FZ_FAIL(f, "WINDOW_INFO with no bad page: %s",
				       strerror(errno));
		return 0;
	case 7:
		switch (fz_below(f, 4)) {
		case 0:
			return FZ_WANT(f, EFAULT, ioctl(fd, EGM_WINDOW_INFO, NULL));
		case 1:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_WINDOW_INFO, f->noaccess));
		case 2:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_WINDOW_INFO, f->noaccess - 4));
		default:
			return FZ_WANT(f, EFAULT,
				       ioctl(fd, EGM_WINDOW_INFO, f->ro + FZ_RO_INFO));
		}
	case 8:	/* poll() says what pending and events say */
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLPRI };

		if (egm_window_info(fd, info, NULL, 0) && errno != ENOSPC)
			return FZ_FAIL(f, "WINDOW_INFO: %s", strerror(errno));
		if (poll(&pfd, 1, 0) < 0)
			return FZ_FAIL(f, "poll: %s", strerror(errno));
		if ((!info->pending && !(pfd.revents & POLLIN)) ||
		    !(pfd.revents & POLLPRI) != !w->events)
			return FZ_FAIL(f, "%llu bytes pending, events %#x, but poll() says %#x",
				       (unsigned long long)info->pending,
				       w->events, pfd.revents);
		return 0;
	}
	default:	/* WINDOW_INFO on /dev/egm */
		return FZ_WANT(f, ENOTTY, ioctl(fz_egm_fd(f), EGM_WINDOW_INFO, info));
	}
}

/* Commands that do not exist, on /dev/egm and on windows. */
static int op_bad_ioctl(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY);
	unsigned long cmd;
	bool win = fi >= 0 && fz_one_in(f, 2);
	int fd = win ? f->fds[fi].fd : fz_egm_fd(f);

	switch (fz_below(f, 4)) {
	case 0:
		cmd = _IO(EGM_TYPE, EGM_CMD_WINDOW_INFO + 1 + fz_below(f, 250));
		break;
	case 1:	/* the right number, the wrong direction or size */
		cmd = _IOWR(EGM_TYPE, fz_below(f, 3), struct egm_query);
		if (fz_one_in(f, 2))
			cmd = _IOC(fz_below(f, 4), EGM_TYPE, fz_below(f, 3),
				   1 + fz_below(f, 255));
		break;
	case 2:	/* the other device's commands */
		cmd = win ? (fz_one_in(f, 2) ? EGM_QUERY : EGM_ALLOC) :
			    EGM_WINDOW_INFO;
		break;
	default:
		cmd = _IO(EGM_TYPE + 1 + fz_below(f, 3), fz_below(f, 4));
		break;
	}
	fz_what(f, "%s cmd %#lx", win ? "window" : "/dev/egm", cmd);
	return FZ_WANT(f, ENOTTY, ioctl(fd, cmd, f->scratch));
}

/* A page aligned [*off, *off + *len) of @w, sometimes of whole PMDs. */
static void fz_pick_range(struct fz *f, struct fz_win *w, __u64 *off,
			  __u64 *len)
{
	__u64 hp = pmd_size(), npg = w->len / PAGE_SIZE, nhp = w->len / hp;
	__u64 u = fz_below(f, 10);

	if (u < 4) {
		*off = 0;
		*len = w->len;
	} else if (u < 7 || !nhp) {
		*off = fz_below(f, npg) * PAGE_SIZE;
		*len = (1 + fz_below(f, npg - *off / PAGE_SIZE)) * PAGE_SIZE;
	} else if (u < 9) {
		*off = fz_below(f, nhp) * hp;
		*len = (1 + fz_below(f, nhp - *off / hp)) * hp;
	} else {
		*off = fz_one_in(f, 2) ? w->len - PAGE_SIZE :
					 fz_below(f, npg) * PAGE_SIZE;
		*len = PAGE_SIZE;
	}
}

static int op_mmap(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), mi = -1, prot = FZ_RW;
	__u64 off, len, u = fz_below(f, 8);
	char *addr = NULL, *p;
	bool fixed = false, eacces;
	struct fz_win *w;
	struct fz_fd *d;

	if (fz_free_map_slots(f) < 3)
		return op_munmap(f);
	if (fi < 0)
		return 1;
	d = &f->fds[fi];
	w = &f->w[d->win];
	fz_pick_range(f, w, &off, &len);
	if (d->mode == O_RDONLY && !fz_one_in(f, 8))
		prot = PROT_READ;
	else if (d->mode == O_RDWR && fz_one_in(f, 4))
		prot = PROT_READ;
	eacces = d->mode == O_WRONLY || (d->mode == O_RDONLY && prot != PROT_READ);

	if (u >= 6)
		mi = fz_pick_map(f, false);
	if (u >= 4 && u < 6) {
		addr = fz_arena_addr(f, len, off);
		fixed = true;
	} else if (mi >= 0) {
		/* Over a mapping, as qemu_ram_remap(): one page, its offset. */
		struct fz_map *m = &f->maps[mi];
		__u64 pg = fz_below(f, m->len / PAGE_SIZE) * PAGE_SIZE;

		addr = m->addr + pg;
		fixed = true;
		if (m->win == d->win && fz_one_in(f, 2)) {
			off = m->off + pg;
			len = PAGE_SIZE;
		}
		if (!fz_in_arena(f, addr, len) &&
		    addr + len > m->addr + m->len)
			len = m->addr + m->len - addr;
		if (off + len > w->len)
			len = w->len - off;
	}
	fz_what(f, "window %u fd %d mode %d offset %#llx length %#llx prot %d at %p",
		w->serial, d->fd, d->mode, (unsigned long long)off,
		(unsigned long long)len, prot, addr);
	p = mmap(addr, len, prot, MAP_SHARED | (fixed ? MAP_FIXED : 0), d->fd,
		 off);
	if (eacces) {
		if (FZ_WANT(f, EACCES, (long)p))
			return -1;
		return 0;
	}
	if (p == MAP_FAILED)
		return FZ_FAIL(f, "mmap: %s", strerror(errno));
	if (fixed && p != addr)
		return FZ_FAIL(f, "MAP_FIXED at %p mapped at %p", addr, p);
	if (!fixed && ((uintptr_t)p - off) % fz_map_align(w, len))
		return FZ_FAIL(f, "mapped at %p, not aligned for huge entries", p);
	if (fixed && fz_model_unmap(f, p, p + len))
		return -1;
	if (fz_add_map(f, p, len, d->win, off, prot, d->mode == O_RDWR))
		return -1;
	/* What MAP_FIXED replaced may have been a window's last mapping. */
	if (fixed)
		fz_gc(f);
	if (fz_touchable(f, w, off, len, &u))
		return fz_check_word(f, fz_map_at(f, p), u);
	return 0;
}

static int op_mmap_bad(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_READ);
	unsigned int v = fz_below(f, 9);
	struct fz_win *w;
	char *addr;
	int fd;

	if (fi < 0)
		return 1;
	fd = f->fds[fi].fd;
	w = &f->w[f->fds[fi].win];
	fz_what(f, "variant %u window %u", v, w->serial);
	switch (v) {
	case 0:
		return FZ_WANT(f, EINVAL, (long)mmap(NULL, w->len + PAGE_SIZE,
						     PROT_READ, MAP_SHARED, fd, 0));
	case 1:
		return FZ_WANT(f, EINVAL, (long)mmap(NULL, PAGE_SIZE, PROT_READ,
						     MAP_SHARED, fd, w->len));
	case 2:
		return FZ_WANT(f, EINVAL,
			       (long)mmap(NULL, 2 * PAGE_SIZE, PROT_READ,
					  MAP_SHARED, fd, w->len - PAGE_SIZE));
	case 3:
		return FZ_WANT(f, EINVAL,
			       (long)mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED,
					  fd, 1ULL << (36 + fz_below(f, 6))));
	case 4:	/* copy-on-write needs struct pages */
		return FZ_WANT(f, EINVAL,
			       (long)mmap(NULL, PAGE_SIZE,
					  fz_one_in(f, 2) ? PROT_READ : FZ_RW,
					  MAP_PRIVATE, fd, 0));
	case 5:
		return FZ_WANT(f, EINVAL,
			       syscall(__NR_mmap, NULL, PAGE_SIZE, PROT_READ,
				       MAP_SHARED, fd, 1 + fz_below(f, PAGE_SIZE - 1)));
	case 6:
		return FZ_WANT(f, EINVAL, (long)mmap(NULL, 0, PROT_READ,
						     MAP_SHARED, fd, 0));
	case 7:
		return FZ_WANT(f, EOVERFLOW,
			       syscall(__NR_mmap, NULL, PAGE_SIZE, PROT_READ,
				       MAP_SHARED, fd, LONG_MAX & ~(PAGE_SIZE - 1)));
	default:	/* beyond the window, over nothing but the arena */
		addr = fz_arena_empty(f, w->len + PAGE_SIZE);
		if (!addr)
			return 1;
		if (FZ_WANT(f, EINVAL, (long)mmap(addr, w->len + PAGE_SIZE,
						  PROT_READ, MAP_SHARED | MAP_FIXED,
						  fd, 0)))
			return -1;
		/* A failed MAP_FIXED may have unmapped what was there. */
		return fz_arena_fill(f, addr, w->len + PAGE_SIZE);
	}
}

static int op_munmap(struct fz *f)
{
	int mi = fz_pick_map(f, false);
	__u64 npg, a, l, u = fz_below(f, 8);
	struct fz_map *m;
	char *s;

	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	npg = m->len / PAGE_SIZE;
	/* A split needs a slot: with none left, unmap whole mappings. */
	if (u < 4 || npg < 2 || fz_free_map_slots(f) < 2) {
		a = 0;
		l = npg;
	} else if (u < 7) {
		a = fz_below(f, npg);
		l = 1 + fz_below(f, npg - a);
	} else {
		/* From inside this mapping to beyond it, in the arena only. */
		a = fz_below(f, npg);
		l = npg - a + 1 + fz_below(f, 1024);
		if (!fz_in_arena(f, m->addr + a * PAGE_SIZE, l * PAGE_SIZE))
			l = npg - a;
	}
	s = m->addr + a * PAGE_SIZE;
	l *= PAGE_SIZE;
	fz_what(f, "window %u %p+%#llx of %p+%#llx", f->w[m->win].serial, s,
		(unsigned long long)l, m->addr, (unsigned long long)m->len);
	if (munmap(s, l))
		return FZ_FAIL(f, "munmap: %s", strerror(errno));
	if (fz_model_unmap(f, s, s + l) || fz_arena_fill(f, s, l))
		return -1;
	fz_gc(f);
	return 0;
}

static int op_mremap(struct fz *f)
{
	int mi = fz_pick_map(f, false), prot;
	__u64 npg, a, l, woff, u = fz_below(f, 8);
	struct fz_map *m, *n = NULL;
	char *s, *dst, *p;
	bool maywrite;
	int wi, i;

	if (fz_free_map_slots(f) < 4)
		return op_munmap(f);
	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	npg = m->len / PAGE_SIZE;
	fz_what(f, "variant %llu window %u %p+%#llx",
		(unsigned long long)u, f->w[m->win].serial, m->addr,
		(unsigned long long)m->len);
	switch (u) {
	case 0:	/* no growing, not even within the window */
		return FZ_WANT(f, EFAULT,
			       (long)mremap(m->addr, m->len,
					    m->len + PAGE_SIZE * (1 + fz_below(f, 4)),
					    fz_one_in(f, 2) ? MREMAP_MAYMOVE : 0));
	case 1:	/* nor duplicating */
		return FZ_WANT(f, EFAULT, (long)mremap(m->addr, 0, PAGE_SIZE,
						      MREMAP_MAYMOVE));
	case 2:
		return FZ_WANT(f, EINVAL,
			       (long)mremap(m->addr, m->len, m->len,
					    MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	case 3:	/* shrink in place */
		if (npg < 2)
			return 1;
		l = (1 + fz_below(f, npg - 1)) * PAGE_SIZE;
		p = mremap(m->addr, m->len, l, 0);
		if (p != m->addr)
			return FZ_FAIL(f, "mremap shrink to %#llx: %s",
				       (unsigned long long)l, strerror(errno));
		s = m->addr + l;
		a = m->len - l;
		m->len = l;
		return fz_arena_fill(f, s, a);
	default:	/* move all or part of it into the arena */
		break;
	}
	if (u < 6) {
		a = 0;
		l = npg;
	} else {
		a = fz_below(f, npg);
		l = 1 + fz_below(f, npg - a);
	}
	s = m->addr + a * PAGE_SIZE;
	l *= PAGE_SIZE;
	woff = m->off + a * PAGE_SIZE;
	for (i = 0; i < 4; i++) {
		dst = fz_arena_addr(f, l, woff);
		if (dst + l <= s || dst >= s + l)
			break;
	}
	if (i == 4)
		return 1;
	wi = m->win;
	prot = m->prot;
	maywrite = m->maywrite;
	fz_what(f, "window %u move %p+%#llx (offset %#llx) to %p",
		f->w[wi].serial, s, (unsigned long long)l,
		(unsigned long long)woff, dst);
	p = mremap(s, l, l, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p != dst)
		return FZ_FAIL(f, "mremap to %p: %p %s", dst, p, strerror(errno));
	if (fz_model_unmap(f, dst, dst + l) || fz_model_unmap(f, s, s + l) ||
	    fz_add_map(f, dst, l, wi, woff, prot, maywrite) ||
	    fz_arena_fill(f, s, l))
		return -1;
	fz_gc(f);
	n = fz_map_at(f, dst);
	if (fz_touchable(f, &f->w[wi], woff, l, &a))
		return fz_check_word(f, n, a);
	return 0;
}

static int op_mprotect(struct fz *f)
{
	int mi = fz_pick_map(f, false), prot;
	__u64 npg, a, l;
	struct fz_map *m, *n;
	char *s;

	if (fz_free_map_slots(f) < 3)
		return op_munmap(f);
	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	npg = m->len / PAGE_SIZE;
	a = fz_below(f, npg);
	l = 1 + fz_below(f, npg - a);
	if (fz_one_in(f, 2)) {
		a = 0;
		l = npg;
	}
	s = m->addr + a * PAGE_SIZE;
	l *= PAGE_SIZE;
	prot = m->prot == FZ_RW ? PROT_READ : FZ_RW;
	fz_what(f, "window %u %p+%#llx prot %d maywrite %d",
		f->w[m->win].serial, s, (unsigned long long)l, prot,
		m->maywrite);
	if (prot == FZ_RW && !m->maywrite)
		return FZ_WANT(f, EACCES, mprotect(s, l, prot));
	if (mprotect(s, l, prot))
		return FZ_FAIL(f, "mprotect: %s", strerror(errno));
	/* Split the entry as the VMA was: before, the range, after. */
	if (s + l < m->addr + m->len) {
		n = fz_new_map(f);
		*n = *m;
		n->addr = s + l;
		n->len = m->addr + m->len - (s + l);
		n->off = m->off + (n->addr - m->addr);
	}
	if (s > m->addr) {
		n = fz_new_map(f);
		*n = *m;
		n->addr = s;
		n->len = l;
		n->off = m->off + (s - m->addr);
		n->prot = prot;
		m->len = s - m->addr;
	} else {
		m->len = l;
		m->prot = prot;
	}
	return 0;
}

static int op_madvise(struct fz *f)
{
	int mi = fz_pick_map(f, false);
	static const int einval[] = {
		MADV_DONTNEED, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_FREE, MADV_REMOVE, MADV_COLD, MADV_PAGEOUT, MADV_DODUMP,
		MADV_DOFORK, MADV_WIPEONFORK,
	};
	static const int fine[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
		MADV_DONTDUMP,
	};
	struct fz_map *m;
	int adv;

	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	if (fz_one_in(f, 3)) {
		fz_what(f, "msync %p+%#llx", m->addr, (unsigned long long)m->len);
		if (msync(m->addr, m->len, fz_one_in(f, 2) ? MS_SYNC : MS_ASYNC))
			return FZ_FAIL(f, "msync: %s", strerror(errno));
		return 0;
	}
	if (fz_one_in(f, 2)) {
		adv = einval[fz_below(f, ARRAY_SIZE(einval))];
		fz_what(f, "madvise %d %p+%#llx", adv, m->addr,
			(unsigned long long)m->len);
		/* MADV_REMOVE needs a writable file to get that far. */
		if (adv == MADV_REMOVE && !m->maywrite)
			return FZ_WANT(f, EACCES, madvise(m->addr, m->len, adv));
		if (adv == MADV_REMOVE)
			return FZ_WANT(f, EOPNOTSUPP, madvise(m->addr, m->len, adv));
		return FZ_WANT(f, EINVAL, madvise(m->addr, m->len, adv));
	}
	adv = fine[fz_below(f, ARRAY_SIZE(fine))];
	fz_what(f, "madvise %d %p+%#llx", adv, m->addr,
		(unsigned long long)m->len);
	if (madvise(m->addr, m->len, adv))
		return FZ_FAIL(f, "madvise: %s", strerror(errno));
	return 0;
}

/* Read and write words through mappings. */
static int op_access(struct fz *f)
{
	unsigned int k;

	fz_what(f, "4 words");
	for (k = 0; k < 4; k++) {
		int mi = fz_pick_map(f, false);
		struct fz_map *m;
		struct fz_win *w;
		__u64 woff, val;
		char *p;

		if (mi < 0)
			return 1;
		m = &f->maps[mi];
		w = &f->w[m->win];
		if (!fz_touchable(f, w, m->off, m->len, &woff))
			continue;
		if ((m->prot & PROT_WRITE) && !fz_word_room(w, woff) &&
		    fz_one_in(f, 2))
			fz_writable_word(f, w, m->off, m->len, &woff);
		if (!(m->prot & PROT_WRITE) || fz_one_in(f, 2) ||
		    !fz_word_room(w, woff)) {
			if (fz_check_word(f, m, woff))
				return -1;
			continue;
		}
		val = fz_one_in(f, 8) ? 0 : fz_rand(f);
		p = m->addr + (woff - m->off);
		if (FZ_SIGBUS(fz_store(p, val)))
			return FZ_FAIL(f, "SIGBUS (code %d) writing window %u offset %#llx",
				       fz_si.si_code, w->serial,
				       (unsigned long long)woff);
		fz_set_word(w, woff, val);
	}
	return 0;
}

static int op_scan(struct fz *f)
{
	int mi = fz_pick_map(f, false);
	struct fz_map *m;
	__u64 woff;

	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	if (!fz_touchable(f, &f->w[m->win], m->off, m->len, &woff))
		return 1;
	woff &= ~(PAGE_SIZE - 1);
	fz_what(f, "window %u page %#llx", f->w[m->win].serial,
		(unsigned long long)woff);
	return fz_check_page(f, m, woff);
}

/* Touch a hole or a poisoned page on purpose. */
static int op_touch_bad(struct fz *f)
{
	bool ok[FZ_MAPS];
	int i, mi;
	unsigned int b;
	struct fz_map *m;
	struct fz_win *w;

	for (i = 0; i < FZ_MAPS; i++) {
		m = &f->maps[i];
		ok[i] = false;
		if (!m->addr)
			continue;
		w = &f->w[m->win];
		for (b = 0; b < w->nbad; b++)
			if (fz_no_touch(w, w->bad[b].offset) &&
			    w->bad[b].offset >= m->off &&
			    w->bad[b].offset < m->off + m->len)
				ok[i] = true;
	}
	mi = fz_pick(f, ok, FZ_MAPS);
	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	w = &f->w[m->win];
	for (b = 0; b < w->nbad; b++)
		if (fz_no_touch(w, w->bad[b].offset) &&
		    w->bad[b].offset >= m->off &&
		    w->bad[b].offset < m->off + m->len)
			break;
	fz_what(f, "window %u offset %#llx", w->serial,
		(unsigned long long)w->bad[b].offset);
	return fz_expect_sigbus(f, m, w->bad[b].offset +
				fz_below(f, PAGE_SIZE / 8) * 8);
}

/* iommufd. */

static __u64 fz_ioas_bytes(struct fz *f, unsigned int ioas)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < FZ_IMPS; i++)
		if (f->imps[i].used && f->imps[i].ioas == ioas)
			n += f->imps[i].len;
	return n;
}

static bool fz_iova_busy(struct fz *f, unsigned int ioas, __u64 iova,
			 __u64 len)
{
	int i;

	for (i = 0; i < FZ_IMPS; i++) {
		struct fz_imp *m = &f->imps[i];

		if (m->used && m->ioas == ioas && iova < m->iova + m->len &&
		    m->iova < iova + len)
			return true;
	}
	return false;
}

static int op_map_file(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), ii = fz_free_imp_slot(f), ret;
	unsigned int ioas = fz_below(f, 2);
	__u64 off, len, iova = 0;
	__u32 flags = IOMMU_IOAS_MAP_READABLE;
	bool fixed = fz_one_in(f, 4), busy = false;
	struct fz_win *w;
	struct fz_fd *d;

	if (ii < 0)
		return op_unmap(f);
	if (fi < 0 || f->iommufd < 0)
		return 1;
	d = &f->fds[fi];
	w = &f->w[d->win];
	fz_pick_range(f, w, &off, &len);
	if (fz_ioas_bytes(f, ioas) + len > FZ_IOVA_CAP)
		len = PAGE_SIZE;
	if (d->mode == O_RDWR ? fz_one_in(f, 4) == 0 : fz_one_in(f, 6))
		flags |= IOMMU_IOAS_MAP_WRITEABLE;
	if (fz_one_in(f, 8))
		flags &= ~IOMMU_IOAS_MAP_READABLE;
	if (!(flags & FZ_MAP_RW))
		flags = IOMMU_IOAS_MAP_READABLE;
	if (fixed) {
		flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		iova = MOCK_APERTURE_START +
		       fz_below(f, (MOCK_APERTURE_LAST + 1ULL - MOCK_APERTURE_START -
				    len) / PAGE_SIZE) * PAGE_SIZE;
		busy = fz_iova_busy(f, ioas, iova, len);
	}
	fz_what(f, "window %u fd %d mode %d IOAS %u offset %#llx length %#llx flags %#x iova %#llx",
		w->serial, d->fd, d->mode, ioas, (unsigned long long)off,
		(unsigned long long)len, flags, (unsigned long long)iova);
	ret = _test_ioctl_ioas_map_file(f->iommufd, f->ioas[ioas], d->fd, off,
					len, &iova, flags);
	/* As for mmap(): readable to import, writable to import writable. */
	if (d->mode == O_WRONLY ||
	    (d->mode == O_RDONLY && (flags & IOMMU_IOAS_MAP_WRITEABLE)))
		return FZ_WANT(f, EACCES, ret);
	if (busy)
		return FZ_WANT(f, EEXIST, ret);
	if (ret)
		return FZ_FAIL(f, "MAP_FILE: %s", strerror(errno));
	if (iova % PAGE_SIZE || fz_iova_busy(f, ioas, iova, len) ||
	    (ioas == 0 && f->has_domain &&
	     (iova < MOCK_APERTURE_START || iova + len - 1 > MOCK_APERTURE_LAST)))
		return FZ_FAIL(f, "MAP_FILE put %#llx bytes at IOVA %#llx",
			       (unsigned long long)len, (unsigned long long)iova);
	f->imps[ii] = (struct fz_imp){ true, ioas, iova, len, d->win,
				       flags & IOMMU_IOAS_MAP_WRITEABLE, off,
				       ++f->origins, false };
	return 0;
}

static int op_map_file_bad(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_READ), rofd = fz_pick_fd(f, FZ_ANY), fd, ret;
	unsigned int v = fz_below(f, 14);
	__u64 off = 0, len = PAGE_SIZE, iova = 0;
	__u32 flags = FZ_MAP_RW, ioas;
	struct fz_win *w;

	if (fi < 0 || f->iommufd < 0)
		return 1;
	fd = f->fds[fi].fd;
	w = &f->w[f->fds[fi].win];
	ioas = f->ioas[fz_below(f, 2)];
	if (f->fds[fi].mode != O_RDWR)
		flags = IOMMU_IOAS_MAP_READABLE;
	fz_what(f, "variant %u window %u", v, w->serial);
	switch (v) {
	case 0:
		off = w->len + PAGE_SIZE * fz_below(f, 4);
		break;
	case 1:
		len = w->len + PAGE_SIZE * (1 + fz_below(f, 4));
		break;
	case 2:
		off = w->len - PAGE_SIZE;
		len = 2 * PAGE_SIZE;
		break;
	case 3:
		off = 1 + fz_below(f, PAGE_SIZE - 1);
		break;
	case 4:
		len = PAGE_SIZE + 1 + fz_below(f, PAGE_SIZE - 1);
		break;
	case 5:
		len = 0;
		break;
	case 6:
		off = 1ULL << (36 + fz_below(f, 20));
		break;
	case 7:	/* start + length - 1 wraps, or the length does not fit */
		off = 2 * PAGE_SIZE;
		len = fz_one_in(f, 2) ? UINT64_MAX : -(__u64)PAGE_SIZE;
		ret = _test_ioctl_ioas_map_file(f->iommufd, ioas, fd, off, len,
						&iova, flags);
		return FZ_WANT(f, EOVERFLOW, ret);
	case 8:	/* no such fd */
		for (fd = 1000; fcntl(fd, F_GETFD) != -1; fd++)
			;
		ret = _test_ioctl_ioas_map_file(f->iommufd, ioas,
						fz_one_in(f, 2) ? -1 : fd, off,
						len, &iova, flags);
		return FZ_WANT(f, EBADF, ret);
	case 9:
		/*
		 * /dev/egm is neither a window nor a memfd; iommufd finds out
		 * when it fills a domain, so only where there is one.
		 */
		if (!f->has_domain)
			return 1;
		ioas = f->ioas[0];
		fd = fz_egm_fd(f);
		break;
	case 10:
		flags = IOMMU_IOAS_MAP_FIXED_IOVA;
		iova = MOCK_APERTURE_START;
		break;
	case 11:
		flags |= 1U << (3 + fz_below(f, 29));
		ret = _test_ioctl_ioas_map_file(f->iommufd, ioas, fd, off, len,
						&iova, flags);
		return FZ_WANT(f, EOPNOTSUPP, ret);
	case 12:
		ioas = 100000 + fz_below(f, 1000);
		ret = _test_ioctl_ioas_map_file(f->iommufd, ioas, fd, off, len,
						&iova, flags);
		return FZ_WANT(f, ENOENT, ret);
	default:	/* a read-only fd cannot be imported writable */
		if (f->fds[rofd].mode == O_RDWR)
			return 1;
		ret = _test_ioctl_ioas_map_file(f->iommufd, ioas, f->fds[rofd].fd,
						0, PAGE_SIZE, &iova, FZ_MAP_RW);
		return FZ_WANT(f, EACCES, ret);
	}
	ret = _test_ioctl_ioas_map_file(f->iommufd, ioas, fd, off, len, &iova,
					flags);
	return FZ_WANT(f, EINVAL, ret);
}

static int op_unmap(struct fz *f)
{
	int ii = fz_pick_imp(f), i, ret, expect = 0;
	unsigned int ioas, v = fz_below(f, 10);
	__u64 iova, len, last, sum = 0;
	unsigned long got = 0;	/* uint64_t, as the iommufd helpers take it */
	struct fz_imp *m;

	if (f->iommufd < 0)
		return 1;
	if (ii < 0)
		v = 9;
	ioas = ii < 0 ? fz_below(f, 2) : f->imps[ii].ioas;
	if (v < 5) {		/* exactly one import */
		iova = f->imps[ii].iova;
		len = f->imps[ii].len;
	} else if (v < 8) {	/* from inside one on, over others */
		m = &f->imps[ii];
		iova = m->iova + (fz_one_in(f, 2) ? 0 :
				  fz_below(f, m->len / PAGE_SIZE) * PAGE_SIZE);
		len = PAGE_SIZE * (1 + fz_below(f, 4 * (m->len / PAGE_SIZE)));
	} else if (v < 9) {
		iova = 0;
		len = UINT64_MAX;
	} else {
		iova = MOCK_APERTURE_START + fz_below(f, 1 << 19) * PAGE_SIZE;
		len = PAGE_SIZE * (1 + fz_below(f, 64));
	}
	fz_what(f, "IOAS %u iova %#llx length %#llx", ioas,
		(unsigned long long)iova, (unsigned long long)len);
	ret = _test_ioctl_ioas_unmap(f->iommufd, f->ioas[ioas], iova, len, &got);

	/*
	 * The model of iopt_unmap_iova(): areas go lowest first while they
	 * lie wholly inside; one that sticks out fails it with ENOENT, as
	 * does finding none. unmap-all takes everything.
	 */
	last = iova + len - 1;
	for (;;) {
		int lo = -1;

		for (i = 0; i < FZ_IMPS; i++) {
			m = &f->imps[i];
			if (!m->used || m->ioas != ioas || m->iova > last ||
			    m->iova + m->len - 1 < iova)
				continue;
			if (lo < 0 || m->iova < f->imps[lo].iova)
				lo = i;
		}
		if (lo < 0)
			break;
		m = &f->imps[lo];
		if (!(iova == 0 && len == UINT64_MAX) &&
		    (m->iova < iova || m->iova + m->len - 1 > last)) {
			expect = ENOENT;
			break;
		}
		sum += m->len;
		m->used = false;
	}
	if (!sum && !(iova == 0 && len == UINT64_MAX))
		expect = ENOENT;
	fz_gc(f);
	if (expect)
		return FZ_WANT(f, expect, ret);
	if (ret)
		return FZ_FAIL(f, "IOAS_UNMAP: %s", strerror(errno));
	if (got != sum)
		return FZ_FAIL(f, "IOAS_UNMAP took %#llx bytes, the model %#llx",
			       (unsigned long long)got, (unsigned long long)sum);
	return 0;
}

static int op_copy(struct fz *f)
{
	int ii = fz_pick_imp(f), ni = fz_free_imp_slot(f), ret;
	struct iommu_ioas_copy c = { .size = sizeof(c) };
	bool deny;
	struct fz_imp *s;

	if (ii < 0 || ni < 0 || f->iommufd < 0)
		return 1;
	s = &f->imps[ii];
	if (fz_ioas_bytes(f, !s->ioas) + s->len > FZ_IOVA_CAP)
		return 1;
	c.flags = IOMMU_IOAS_MAP_READABLE;
	if (s->writable || fz_one_in(f, 6))
		c.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	deny = (c.flags & IOMMU_IOAS_MAP_WRITEABLE) && !s->writable;
	c.src_ioas_id = f->ioas[s->ioas];
	c.dst_ioas_id = f->ioas[!s->ioas];
	c.src_iova = s->iova;
	c.length = s->len;
	fz_what(f, "IOAS %u iova %#llx length %#llx flags %#x", s->ioas,
		(unsigned long long)s->iova, (unsigned long long)s->len,
		c.flags);
	ret = ioctl(f->iommufd, IOMMU_IOAS_COPY, &c);
	if (deny)
		return FZ_WANT(f, EPERM, ret);
	if (ret)
		return FZ_FAIL(f, "IOAS_COPY: %s", strerror(errno));
	if (fz_iova_busy(f, !s->ioas, c.dst_iova, s->len))
		return FZ_FAIL(f, "IOAS_COPY put it over another import");
	f->imps[ni] = *s;
	f->imps[ni].ioas = !s->ioas;
	f->imps[ni].iova = c.dst_iova;
	return 0;
}

/* Open iommufd with two IOASes, the first with a mock domain. */
static int fz_iommufd_open(struct fz *f)
{
	f->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (f->iommufd < 0)
		return FZ_FAIL(f, "open /dev/iommu: %s", strerror(errno));
	if (_test_ioctl_ioas_alloc(f->iommufd, &f->ioas[0]) ||
	    _test_ioctl_ioas_alloc(f->iommufd, &f->ioas[1]))
		return FZ_FAIL(f, "IOAS_ALLOC: %s", strerror(errno));
	f->has_domain = !_test_cmd_mock_domain(f->iommufd, f->ioas[0], NULL,
					       NULL, NULL);
	return 0;
}

/* Close iommufd: every import goes at once. */
static int op_iommufd_reset(struct fz *f)
{
	int i;

	if (f->iommufd < 0)
		return 1;
	fz_what(f, "close %d", f->iommufd);
	if (close(f->iommufd))
		return FZ_FAIL(f, "close iommufd: %s", strerror(errno));
	f->iommufd = -1;
	for (i = 0; i < FZ_IMPS; i++)
		f->imps[i].used = false;
	fz_gc(f);
	if (fz_check_regions(f))
		return -1;
	return fz_iommufd_open(f);
}

/* File descriptors. */

static int op_close(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY);

	if (fi < 0)
		return 1;
	fz_what(f, "fd %d of window %u", f->fds[fi].fd,
		f->w[f->fds[fi].win].serial);
	if (close(f->fds[fi].fd))
		return FZ_FAIL(f, "close: %s", strerror(errno));
	f->fds[fi].fd = -1;
	fz_gc(f);
	return 0;
}

static int op_dup(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), ni = fz_free_fd_slot(f), fd;
	bool cloexec = fz_one_in(f, 2);

	if (ni < 0)
		return op_close(f);
	if (fi < 0)
		return 1;
	fz_what(f, "fd %d cloexec %d", f->fds[fi].fd, cloexec);
	fd = cloexec ? fcntl(f->fds[fi].fd, F_DUPFD_CLOEXEC, 3) :
		       dup(f->fds[fi].fd);
	if (fd < 0)
		return FZ_FAIL(f, "dup: %s", strerror(errno));
	if (!!(fcntl(fd, F_GETFD) & FD_CLOEXEC) != cloexec)
		return FZ_FAIL(f, "dup: FD_CLOEXEC is %d", !cloexec);
	f->fds[ni] = f->fds[fi];
	f->fds[ni].fd = fd;
	return 0;
}

/* /proc/self/fd/N, as QEMU opens a memory-backend-file. */
static int op_reopen(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), ni = fz_free_fd_slot(f), fd, mode;
	static const int modes[] = { O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };
	char path[64];

	if (ni < 0)
		return op_close(f);
	if (fi < 0)
		return 1;
	mode = modes[fz_below(f, ARRAY_SIZE(modes))];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fds[fi].fd);
	fz_what(f, "%s mode %d", path, mode);
	if (fz_one_in(f, 10))	/* a window cannot be truncated */
		return FZ_WANT(f, EPERM, open(path, O_RDWR | O_TRUNC));
	fd = open(path, mode | (fz_one_in(f, 2) ? O_CLOEXEC : 0));
	if (fd < 0)
		return FZ_FAIL(f, "reopen: %s", strerror(errno));
	f->fds[ni] = (struct fz_fd){ fd, f->fds[fi].win, mode };
	return 0;
}

/* What else a window file answers: stat, seek, read, truncate, poll. */
static int op_fd_misc(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_ANY), fd;
	unsigned int v = fz_below(f, 7);
	struct fz_win *w;
	struct stat st;
	char buf[16];
	off_t len;

	if (fi < 0)
		return 1;
	fd = f->fds[fi].fd;
	w = &f->w[f->fds[fi].win];
	len = w->len;
	fz_what(f, "variant %u fd %d mode %d window %u", v, fd,
		f->fds[fi].mode, w->serial);
	switch (v) {
	case 0:
		if (fstat(fd, &st))
			return FZ_FAIL(f, "fstat: %s", strerror(errno));
		if (st.st_size != len || !S_ISREG(st.st_mode) ||
		    (st.st_mode & 0777) != 0600)
			return FZ_FAIL(f, "fstat: size %lld mode %o",
				       (long long)st.st_size, st.st_mode);
		if (!w->ino)
			w->ino = st.st_ino;
		if (st.st_ino != w->ino)
			return FZ_FAIL(f, "window %u is inode %lu and %lu",
				       w->serial, (unsigned long)w->ino,
				       (unsigned long)st.st_ino);
		for (fd = 0; fd < FZ_WINS; fd++)
			if (f->w[fd].live && &f->w[fd] != w &&
			    f->w[fd].ino == st.st_ino)
				return FZ_FAIL(f, "two windows are inode %lu",
					       (unsigned long)st.st_ino);
		return 0;
	case 1:
		if (lseek(fd, 0, SEEK_END) != len ||
		    lseek(fd, fz_below(f, len), SEEK_SET) < 0)
			return FZ_FAIL(f, "lseek: %s", strerror(errno));
		return 0;
	case 2:
		/*
		 * No read or write: mappings are the only way in. A window's
		 * first file is a pseudo file, which cannot even pread().
		 */
		if (f->fds[fi].mode == O_WRONLY)
			return FZ_WANT(f, EBADF, pread(fd, buf, sizeof(buf),
						       fz_below(f, 2 * len)));
		return FZ_WANT2(f, EINVAL, ESPIPE,
				pread(fd, buf, sizeof(buf), fz_below(f, 2 * len)));
	case 3:
		memset(buf, 0x5a, sizeof(buf));
		if (f->fds[fi].mode == O_RDONLY)
			return FZ_WANT(f, EBADF, pwrite(fd, buf, sizeof(buf),
							fz_below(f, 2 * len)));
		return FZ_WANT2(f, EINVAL, ESPIPE,
				pwrite(fd, buf, sizeof(buf), fz_below(f, 2 * len)));
	case 4:	/* a fixed physical range does not change size */
		if (f->fds[fi].mode == O_RDONLY)
			return FZ_WANT(f, EINVAL, ftruncate(fd, len + PAGE_SIZE));
		if (fz_one_in(f, 2)) {
			if (ftruncate(fd, len))
				return FZ_FAIL(f, "ftruncate to its size: %s",
					       strerror(errno));
			return 0;
		}
		return FZ_WANT(f, EPERM,
			       ftruncate(fd, fz_one_in(f, 2) ? 0 : len + PAGE_SIZE));
	case 5:
		if (fsync(fd) || fdatasync(fd))
			return FZ_FAIL(f, "fsync: %s", strerror(errno));
		return 0;
	default:
		if (f->fds[fi].mode == O_RDONLY)
			return 1;
		return FZ_WANT(f, EOPNOTSUPP, fallocate(fd, 0, 0, PAGE_SIZE));
	}
}

static int op_egm_reopen(struct fz *f)
{
	fz_what(f, "fd %d", f->egm2);
	if (f->egm2 >= 0) {
		close(f->egm2);
		f->egm2 = -1;
		return 0;
	}
	f->egm2 = open(EGM_DEV, (fz_one_in(f, 2) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->egm2 < 0)
		return FZ_FAIL(f, "open %s: %s", EGM_DEV, strerror(errno));
	return 0;
}

/* A child touches what it inherited, and exits. */
static int op_fork(struct fz *f)
{
	int mi = fz_pick_map(f, true), status;
	char *rp, *wp;
	__u64 roff, woff, want, val = fz_rand(f) | 1, got = 0;
	struct fz_map *m;
	struct fz_win *w;
	pid_t pid;

	if (mi < 0)
		return 1;
	m = &f->maps[mi];
	w = &f->w[m->win];
	if (!fz_touchable(f, w, m->off, m->len, &roff) ||
	    !fz_writable_word(f, w, m->off, m->len, &woff))
		return 1;
	want = fz_word(w, roff);
	rp = m->addr + (roff - m->off);
	wp = m->addr + (woff - m->off);
	fz_what(f, "window %u read %#llx write %#llx", w->serial,
		(unsigned long long)roff, (unsigned long long)woff);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return FZ_FAIL(f, "fork: %s", strerror(errno));
	if (!pid) {
		if (FZ_SIGBUS(fz_get(&got, rp)))
			_exit(2);
		if (got != want)
			_exit(3);
		if (FZ_SIGBUS(fz_store(wp, val)))
			_exit(4);
		_exit(0);
	}
	f->forks++;
	if (waitpid(pid, &status, 0) != pid)
		return FZ_FAIL(f, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return FZ_FAIL(f, "child: status %#x (2: SIGBUS, 3: wrong data, 4: SIGBUS writing)",
			       status);
	fz_set_word(w, woff, val);
	return fz_check_word(f, m, woff);
}

/*
 * Re-exec this program with an inherited dup of a window fd: the child
 * checks it, maps it, reads and writes a word, and that an O_CLOEXEC fd
 * did not come along.
 */
static int op_exec(struct fz *f)
{
	int fi = fz_pick_fd(f, FZ_WRITE), fd, status;
	char a[6][32], *argv[9];
	__u64 woff, want, val = fz_rand(f) | 1;
	struct fz_win *w;
	unsigned int i;
	pid_t pid;

	if (fi < 0)
		return 1;
	w = &f->w[f->fds[fi].win];
	if (!fz_writable_word(f, w, 0, w->len, &woff))
		return 1;
	want = fz_word(w, woff);
	fd = dup(f->fds[fi].fd);
	if (fd < 0)
		return FZ_FAIL(f, "dup: %s", strerror(errno));
	snprintf(a[0], sizeof(a[0]), "%d", fd);
	snprintf(a[1], sizeof(a[1]), "%llu", (unsigned long long)w->len);
	snprintf(a[2], sizeof(a[2]), "%llu", (unsigned long long)woff);
	snprintf(a[3], sizeof(a[3]), "%llu", (unsigned long long)want);
	snprintf(a[4], sizeof(a[4]), "%llu", (unsigned long long)val);
	snprintf(a[5], sizeof(a[5]), "%d", f->egm);
	argv[0] = "/proc/self/exe";
	argv[1] = FZ_EXEC_ARG;
	for (i = 0; i < 6; i++)
		argv[2 + i] = a[i];
	argv[8] = NULL;
	fz_what(f, "window %u fd %d offset %#llx", w->serial, fd,
		(unsigned long long)woff);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return FZ_FAIL(f, "fork: %s", strerror(errno));
	if (!pid) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	f->execs++;
	if (waitpid(pid, &status, 0) != pid)
		return FZ_FAIL(f, "waitpid: %s", strerror(errno));
	close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return FZ_FAIL(f, "exec child: status %#x (see fz_exec_child())",
			       status);
	fz_set_word(w, woff, val);
	return 0;
}

/* The other side of op_exec(). Exit codes say what went wrong. */
static int fz_exec_child(int argc, char **argv)
{
	struct egm_window_info info;
	struct stat st;
	__u64 *p;
	__u64 len, off;
	int fd, cfd;

	if (argc != 8)
		return 20;
	fd = atoi(argv[2]);
	len = strtoull(argv[3], NULL, 0);
	off = strtoull(argv[4], NULL, 0);
	cfd = atoi(argv[7]);
	if (fcntl(cfd, F_GETFD) != -1 || errno != EBADF)
		return 21;	/* an O_CLOEXEC fd came through exec */
	if (fcntl(fd, F_GETFD) != 0)
		return 22;
	if (egm_window_info(fd, &info, NULL, 0) && errno != ENOSPC)
		return 23;
	if (info.length != len)
		return 24;
	if (fstat(fd, &st) || st.st_size != (off_t)len)
		return 25;
	p = mmap(NULL, len, FZ_RW, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 26;
	if (fz_load(p + off / 8) != strtoull(argv[5], NULL, 0))
		return 27;
	fz_store(p + off / 8, strtoull(argv[6], NULL, 0));
	return munmap((void *)p, len) ? 28 : 0;
}

/*
 * The model after page @off of window @wi went bad with @flags: its words
 * are lost, it is never touched again, and the imports that reach it are
 * revoked, once per MAP_FILE (copies share its pages).
 */
static void fz_model_poison(struct fz *f, int wi, __u64 off, __u32 flags)
{
	struct fz_win *w = &f->w[wi];
	struct egm_bad_page *b = fz_bad(w, off);
	unsigned int i, j, n = 0;

	fz_drop_page_words(w, off);
	if (b) {
		b->flags = flags;
	} else {
		for (i = w->nbad; i && w->bad[i - 1].offset > off; i--)
			w->bad[i] = w->bad[i - 1];
		w->bad[i] = (struct egm_bad_page){ .offset = off, .flags = flags };
		w->nbad++;
	}
	for (i = 0; i < FZ_IMPS; i++) {
		struct fz_imp *m = &f->imps[i];

		if (!m->used || m->win != wi || m->revoked || off < m->off ||
		    off >= m->off + m->len)
			continue;
		n++;
		for (j = 0; j < FZ_IMPS; j++)
			if (f->imps[j].used && f->imps[j].origin == m->origin)
				f->imps[j].revoked = true;
	}
	w->events |= EGM_WINDOW_EVENT_POISON;
	if (n)
		w->events |= EGM_WINDOW_EVENT_DMA_REVOKED;
	w->ndma += n;
	f->revoked += n;
}

/* WINDOW_INFO of window @wi against the model, if it has an fd left. */
static int fz_compare_info(struct fz *f, int wi)
{
	struct egm_bad_page bad[FZ_BAD];
	struct egm_window_info info;
	struct fz_win *w = &f->w[wi];
	int fi = fz_win_fd(f, wi, FZ_ANY);
	unsigned int i;

	if (fi < 0)
		return 0;
	if (egm_window_info(f->fds[fi].fd, &info, bad, FZ_BAD))
		return FZ_FAIL(f, "WINDOW_INFO: %s", strerror(errno));
	if (info.num_bad_pages != w->nbad || info.events != w->events ||
	    info.num_dma_revoked != w->ndma)
		return FZ_FAIL(f,
			       "window %u: %u bad pages, events %#x, %u imports revoked; expected %u %#x %u",
			       w->serial, info.num_bad_pages, info.events,
			       info.num_dma_revoked, w->nbad, w->events, w->ndma);
	for (i = 0; i < w->nbad; i++)
		if (bad[i].offset != w->bad[i].offset ||
		    bad[i].flags != w->bad[i].flags)
			return FZ_FAIL(f, "window %u bad page %#llx flags %#x, expected %#llx %#x",
				       w->serial, (unsigned long long)bad[i].offset,
				       bad[i].flags,
				       (unsigned long long)w->bad[i].offset,
				       w->bad[i].flags);
	return 0;
}

/* A free page of region @ri to poison, or 0. */
static __u64 fz_free_page(struct fz *f, unsigned int ri)
{
	struct fz_region *r = &f->r[ri];
	__u64 pa;
	__u32 why;
	int i;

	if (!r->base)
		return 0;
	pa = r->base + fz_below(f, r->start.size / PAGE_SIZE) * PAGE_SIZE;
	if (fz_pa_bad(f, r, pa, &why))
		return 0;
	for (i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &f->w[i];

		if (!w->live || w->region != ri)
			continue;
		/* Spares lie anywhere free: none must be about. */
		if (!w->phys || (pa >= w->phys && pa < w->phys + w->len) ||
		    w->cost != w->len)
			return 0;
	}
	return pa;
}

/*
 * Poison a page through the injector, which runs memory_failure() from a
 * workqueue and returns once it is handled: a page of a window (found with
 * the phys_addr root gets), mapped or not, or a free one. The page must be
 * recorded, counted, listed, reported as an event, cost the imports that
 * reach it, and raise SIGBUS where it is mapped.
 */
static int op_poison(struct fz *f)
{
	unsigned int ri = fz_below(f, f->nregions), u = fz_below(f, 4);
	int wi = -1, mi = -1, fd, n, i;
	__u64 off = 0, pa = 0;
	struct fz_map *m = NULL;
	struct fz_win *w;
	bool ok[FZ_WINS];
	char buf[32];

	if (!f->inject) {
		f->skipped_poison++;
		return 1;
	}
	if (f->npoison >= FZ_POISON_MAX)
		return 1;
	if (u == 0)
		pa = fz_free_page(f, ri);
	else if (u == 1)
		mi = fz_pick_map(f, false);
	if (mi >= 0) {
		m = &f->maps[mi];
		wi = m->win;
		off = m->off + fz_below(f, m->len / PAGE_SIZE) * PAGE_SIZE;
	} else if (u) {
		for (i = 0; i < FZ_WINS; i++)
			ok[i] = f->w[i].live && f->w[i].phys;
		wi = fz_pick(f, ok, FZ_WINS);
		if (wi >= 0)
			off = fz_below(f, f->w[wi].len / PAGE_SIZE) * PAGE_SIZE;
	}
	if (wi >= 0) {
		w = &f->w[wi];
		if (!w->phys || fz_bad(w, off) || w->nbad >= FZ_BAD)
			return 1;
		pa = w->phys + off;
		ri = w->region;
	}
	if (!pa)
		return 1;
	fz_what(f, "%#llx: window %d offset %#llx", (unsigned long long)pa,
		wi >= 0 ? (int)f->w[wi].serial : -1, (unsigned long long)off);
	fd = open(f->inject, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return FZ_FAIL(f, "open %s: %s", f->inject, strerror(errno));
	n = snprintf(buf, sizeof(buf), "0x%llx\n", (unsigned long long)pa);
	if (write(fd, buf, n) != n) {
		close(fd);
		return FZ_FAIL(f, "inject at %#llx: %s", (unsigned long long)pa,
			       strerror(errno));
	}
	close(fd);
	f->injected++;
	f->poison_pa[f->npoison++] = pa;
	f->r[ri].poisoned++;
	f->stale = true;
	if (wi < 0)
		return 0;

	fz_model_poison(f, wi, off, EGM_BAD_PAGE_POISONED);
	if (fz_compare_info(f, wi))
		return -1;
	/* Every mapping of the page now faults with SIGBUS. */
	for (i = 0; i < FZ_MAPS; i++) {
		m = &f->maps[i];
		if (m->addr && m->win == wi && off >= m->off &&
		    off < m->off + m->len &&
		    fz_expect_sigbus(f, m, off + fz_below(f, PAGE_SIZE / 8) * 8))
			return -1;
	}
	return 0;
}

static struct fz_op fz_ops[] = {
	{ "query", 3000, op_query },
	{ "alloc", 2000, op_alloc },
	{ "alloc_bad", 2000, op_alloc_bad },
	{ "alloc_huge", 200, op_alloc_huge },
	{ "window_info", 12000, op_winfo },
	{ "bad_ioctl", 3000, op_bad_ioctl },
	{ "mmap", 2500, op_mmap },
	{ "mmap_bad", 2000, op_mmap_bad },
	{ "munmap", 2400, op_munmap },
	{ "mremap", 1000, op_mremap },
	{ "mprotect", 1000, op_mprotect },
	{ "madvise", 1500, op_madvise },
	{ "access", 41022, op_access },
	{ "scan", 2500, op_scan },
	{ "touch_bad", 500, op_touch_bad },
	{ "map_file", 4000, op_map_file },
	{ "map_file_bad", 2500, op_map_file_bad },
	{ "unmap", 3600, op_unmap },
	{ "copy", 600, op_copy },
	{ "close", 2800, op_close },
	{ "dup", 1800, op_dup },
	{ "reopen", 800, op_reopen },
	{ "fd_misc", 7000, op_fd_misc },
	{ "egm_reopen", 200, op_egm_reopen },
	{ "iommufd_reset", 20, op_iommufd_reset },
	{ "fork", 20, op_fork },
	{ "exec", 8, op_exec },
	{ "poison", 30, op_poison },
};

static struct fz_op *fz_pick_op(struct fz *f)
{
	__u64 k = fz_below(f, f->weights);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fz_ops) - 1; i++) {
		if (k < fz_ops[i].weight)
			return &fz_ops[i];
		k -= fz_ops[i].weight;
	}
	return &fz_ops[i];
}

/* EGM_FUZZ_SKIP=name,name...: leave those ops out, to tell bugs apart. */
static void fz_weigh(struct fz *f)
{
	const char *skip = getenv("EGM_FUZZ_SKIP") ?: "";
	unsigned int i;
	size_t n;

	f->weights = 0;
	for (i = 0; i < ARRAY_SIZE(fz_ops); i++) {
		const char *p = strstr(skip, fz_ops[i].name);

		n = strlen(fz_ops[i].name);
		if (p && (p == skip || p[-1] == ',') && (!p[n] || p[n] == ',')) {
			ksft_print_msg("EGM_FUZZ_SKIP: no %s\n", fz_ops[i].name);
			fz_ops[i].weight = 0;
		}
		f->weights += fz_ops[i].weight;
	}
}

static __u64 fz_env(const char *name, __u64 dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/*
 * Windows over retired pages, which first fit avoids while it can: one
 * substituted on the first region, one with holes on the next, carved
 * behind a filler as egm_alloc_over_retired() does, if they are all free.
 */
static int fz_seed_bad_windows(struct fz *f)
{
	unsigned int i, j;

	for (i = 0; i < f->nregions && i < 2; i++) {
		const struct egm_plat_region *p = NULL;
		struct fz_region *r = &f->r[i];
		int wi = fz_free_win_slot(f), fi = fz_free_fd_slot(f);
		int wfd, filler;
		__u32 flags = i ? EGM_ALLOC_HOLES : 0;
		struct fz_win *w;
		__u64 len, align;

		for (j = 0; j < f->plat.nregions; j++)
			if (f->plat.r[j].base == r->base && f->plat.r[j].nretired)
				p = &f->plat.r[j];
		if (!p || r->start.free != r->start.size)
			continue;
		/* A PMD, or a page where its spares would have no room (64K). */
		align = egm_over_retired_align(p, pmd_size(), SZ_2M, flags);
		if (!align || !(r->start.align & align))
			continue;
		fz_what(f, "PXM %u over retired page %#llx", r->start.pxm,
			(unsigned long long)p->retired[0]);
		if (egm_alloc_over_retired(f->egm, p, align, SZ_2M, flags, &wfd,
					   &len, &filler) == ~0ULL)
			continue;
		if (filler >= 0)
			close(filler);
		f->fds[fi] = (struct fz_fd){ wfd, wi, O_RDWR };
		w = &f->w[wi];
		memset(w, 0, sizeof(*w));
		w->live = true;
		w->serial = ++f->serial;
		w->region = i;
		w->len = len;
		w->align = align;
		w->flags = flags;
		if (fz_new_window_info(f, wi, wfd) || fz_check_new(f, wi, wfd))
			return -1;
		if (!w->nbad)
			return FZ_FAIL(f, "window %u over retired page %#llx has no bad page",
				       w->serial, (unsigned long long)p->retired[0]);
		f->seeded++;
		f->allocs++;
	}
	return 0;
}

static int fz_setup(struct fz *f)
{
	struct sigaction sa = {
		.sa_sigaction = fz_sigbus,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS, i, j;
	char *p;

	f->opname = "setup";
	f->egm2 = -1;
	f->iommufd = -1;
	for (i = 0; i < FZ_FDS; i++)
		f->fds[i].fd = -1;
	if (sigaction(SIGBUS, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL))
		return FZ_FAIL(f, "sigaction: %s", strerror(errno));
	fz_cur = f;

	f->egm = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	if (f->egm < 0)
		return FZ_FAIL(f, "open %s: %s", EGM_DEV, strerror(errno));
	if (egm_query(f->egm, infos, &n) || !n)
		return FZ_FAIL(f, "QUERY: %u regions, %s", n, strerror(errno));
	f->nregions = n;
	egm_platform_load(&f->plat);
	for (i = 0; i < n; i++) {
		f->r[i].start = infos[i];
		f->r[i].now = infos[i];
		for (j = 0; j < f->plat.nregions; j++)
			if (f->plat.r[j].pxm == infos[i].pxm &&
			    f->plat.r[j].size == infos[i].size)
				f->r[i].base = f->plat.r[j].base;
	}

	p = mmap(NULL, FZ_ARENA + SZ_1G, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return FZ_FAIL(f, "arena: %s", strerror(errno));
	f->arena = (char *)(((uintptr_t)p + SZ_1G - 1) & ~(SZ_1G - 1));
	p = mmap(NULL, 4 * PAGE_SIZE, FZ_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return FZ_FAIL(f, "scratch: %s", strerror(errno));
	f->scratch = p;
	f->ro = p + 2 * PAGE_SIZE;
	f->noaccess = p + 3 * PAGE_SIZE;
	{
		struct egm_alloc *a = (void *)(f->ro + FZ_RO_ALLOC);
		struct egm_query *q = (void *)(f->ro + FZ_RO_QUERY);
		struct egm_window_info *wi = (void *)(f->ro + FZ_RO_INFO);

		*a = (struct egm_alloc){ .size = sizeof(*a),
					 .pxm = infos[0].pxm,
					 .length = PAGE_SIZE,
					 .alignment = PAGE_SIZE,
					 .out_fd = -1 };
		*q = (struct egm_query){ .size = sizeof(*q),
					 .num_regions = n,
					 .entry_size = sizeof(infos[0]),
					 .regions_uptr = (uintptr_t)f->scratch };
		*wi = (struct egm_window_info){ .size = sizeof(*wi) };
		/* A size the kernel can read, just before what it cannot. */
		*(__u32 *)(f->noaccess - 4) = sizeof(struct egm_window_info);
	}
	if (mprotect(f->ro, PAGE_SIZE, PROT_READ) ||
	    mprotect(f->noaccess, PAGE_SIZE, PROT_NONE))
		return FZ_FAIL(f, "mprotect: %s", strerror(errno));

	if (!access(FZ_INJECT, W_OK))
		f->inject = FZ_INJECT;
	if (f->inject && f->mce_early &&
	    prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		return FZ_FAIL(f, "PR_MCE_KILL: %s", strerror(errno));
	if (fz_iommufd_open(f))
		return -1;
	return fz_seed_bad_windows(f);
}

/* Let go of everything, checking each import's length on the way. */
static int fz_teardown(struct fz *f)
{
	int i;

	f->opname = "teardown";
	f->what[0] = 0;
	if (f->iommufd >= 0) {
		for (i = 0; i < 2; i++) {
			unsigned long got = 0;
			__u64 want = fz_ioas_bytes(f, i);

			if (_test_ioctl_ioas_unmap(f->iommufd, f->ioas[i], 0,
						   UINT64_MAX, &got) || got != want)
				return FZ_FAIL(f, "unmap all of IOAS %d: %#llx of %#llx, %s",
					       i, (unsigned long long)got,
					       (unsigned long long)want,
					       strerror(errno));
		}
		for (i = 0; i < FZ_IMPS; i++)
			f->imps[i].used = false;
		fz_gc(f);
		if (fz_check_regions(f))
			return -1;
		close(f->iommufd);
		f->iommufd = -1;
	}
	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &f->maps[i];

		if (!m->addr)
			continue;
		if (munmap(m->addr, m->len))
			return FZ_FAIL(f, "munmap: %s", strerror(errno));
		m->addr = NULL;
		fz_gc(f);
		if (fz_check_regions(f))
			return -1;
	}
	for (i = 0; i < FZ_FDS; i++) {
		if (f->fds[i].fd < 0)
			continue;
		close(f->fds[i].fd);
		f->fds[i].fd = -1;
		fz_gc(f);
		if (fz_check_regions(f))
			return -1;
	}
	for (i = 0; i < FZ_WINS; i++)
		if (f->w[i].live)
			return FZ_FAIL(f, "model: window %u still live",
				       f->w[i].serial);
	if (fz_check_regions(f))
		return -1;
	/* Free bytes count poisoned pages too: they are not allocated. */
	for (i = 0; i < (int)f->nregions; i++)
		if (f->r[i].now.free != f->r[i].start.free)
			return FZ_FAIL(f, "PXM %u: %llu free at the end, %llu at the start",
				       f->r[i].start.pxm,
				       (unsigned long long)f->r[i].now.free,
				       (unsigned long long)f->r[i].start.free);
	if (f->egm2 >= 0)
		close(f->egm2);
	close(f->egm);
	return 0;
}

static void fz_report(struct fz *f, double secs)
{
	unsigned int i;

	ksft_print_msg("seed %llu: %lu ops in %.1f s, %.0f ops/s\n",
		       (unsigned long long)f->seed, f->op, secs,
		       secs > 0 ? f->op / secs : 0);
	for (i = 0; i < ARRAY_SIZE(fz_ops); i++) {
		struct fz_op *o = &fz_ops[i];

		ksft_print_msg("  %-14s %7lu run %6lu skipped %7.2f s %6.3f ms%s\n",
			       o->name, o->runs, o->skips, o->secs,
			       o->runs ? 1e3 * o->secs / o->runs : 0,
			       o->fn == op_poison && !f->inject ?
			       "  (no " FZ_INJECT ": poison not tested)" : "");
	}
	ksft_print_msg("  %-14s %7lu run %22.2f s %6.3f ms\n", "(accounting)",
		       f->checks, f->check_secs,
		       f->checks ? 1e3 * f->check_secs / f->checks : 0);
	ksft_print_msg("windows carved %lu, ENOSPC %lu; expected SIGBUS %lu\n",
		       f->allocs, f->enospc, f->sigbus);
	ksft_print_msg("forks %lu, execs %lu; windows over retired pages %lu\n",
		       f->forks, f->execs, f->seeded);
	if (f->inject)
		ksft_print_msg("poison: %lu pages (at most %d), %lu imports revoked, %lu AO\n",
			       f->injected, FZ_POISON_MAX, f->revoked,
			       (unsigned long)fz_ao);
	else
		ksft_print_msg("poison: SKIPPED, no %s: %lu ops not run\n",
			       FZ_INJECT, f->skipped_poison);
}

FIXTURE(egm_fuzz)
{
	struct fz *f;
};

FIXTURE_SETUP(egm_fuzz)
{
	if (access(EGM_DEV, F_OK))
		SKIP(return, "no %s: egm is not loaded", EGM_DEV);
	self->f = calloc(1, sizeof(*self->f));
	ASSERT_NE(NULL, self->f);
}

FIXTURE_TEARDOWN(egm_fuzz)
{
	free(self->f);
}

TEST_F_TIMEOUT(egm_fuzz, sequence, 900)
{
	struct fz *f = self->f;
	unsigned long forced_fork, forced_exec;
	double t0, t1, secs;
	struct fz_op *o;
	int ret;

	f->seed = fz_env("EGM_FUZZ_SEED", FZ_SEED);
	f->nops = fz_env("EGM_FUZZ_OPS", FZ_OPS);
	f->verbose = fz_env("EGM_FUZZ_VERBOSE", 0);
	f->mce_early = fz_env("EGM_FUZZ_MCE_EARLY", 0);
	f->rng = f->seed;
	ksft_print_msg("EGM_FUZZ_SEED=%llu EGM_FUZZ_OPS=%lu\n",
		       (unsigned long long)f->seed, f->nops);
	fz_weigh(f);
	ASSERT_LT(0, f->weights);
	t0 = fz_now();
	ASSERT_EQ(0, fz_setup(f)) TH_LOG("%s", f->msg);
	ASSERT_EQ(0, fz_check_regions(f)) TH_LOG("%s", f->msg);
	ksft_print_msg("setup: %.1f s\n", fz_now() - t0);
	if (!f->inject)
		ksft_print_msg("%s is absent: the poison op is skipped\n",
			       FZ_INJECT);

	/* Processes are slow on a debug kernel: a few of each, always. */
	forced_fork = f->nops / 3;
	forced_exec = 2 * f->nops / 3;
	t0 = fz_now();
	for (f->op = 0; f->op < f->nops && !f->failed; f->op++) {
		o = fz_pick_op(f);
		if (f->op == forced_fork && !f->forks &&
		    fz_ops[ARRAY_SIZE(fz_ops) - 3].weight)
			o = &fz_ops[ARRAY_SIZE(fz_ops) - 3];
		if (f->op == forced_exec && !f->execs &&
		    fz_ops[ARRAY_SIZE(fz_ops) - 2].weight)
			o = &fz_ops[ARRAY_SIZE(fz_ops) - 2];
		f->opname = o->name;
		f->what[0] = 0;
		t1 = fz_now();
		ret = o->fn(f);
		o->secs += fz_now() - t1;
		snprintf(f->ring[f->op % FZ_RING], sizeof(f->ring[0]),
			 "op %lu %s(%s): %s", f->op, f->opname, f->what,
			 ret < 0 ? "failed" : ret ? "skipped" : "done");
		if (ret > 0) {
			o->skips++;
			continue;
		}
		o->runs++;
		if (ret < 0 || f->failed)
			break;
		/*
		 * The accounting, from QUERY: after every step that carved or
		 * freed a window in the model, and a sample of the others,
		 * more of those that let go of something.
		 */
		f->opname = "check";
		if (!f->stale && !(f->dropped && fz_one_in(f, 4)) &&
		    !fz_one_in(f, 32))
			continue;
		t1 = fz_now();
		ret = fz_check_regions(f);
		f->check_secs += fz_now() - t1;
		f->checks++;
		if (ret)
			break;
	}
	secs = fz_now() - t0;
	fz_report(f, secs);
	for (ret = 1; f->failed && ret <= FZ_RING; ret++)
		if (f->ring[(f->op + ret) % FZ_RING][0])
			ksft_print_msg("%s\n", f->ring[(f->op + ret) % FZ_RING]);
	ASSERT_FALSE(f->failed) TH_LOG("%s; replay with EGM_FUZZ_SEED=%llu EGM_FUZZ_OPS=%lu",
				       f->msg, (unsigned long long)f->seed,
				       f->op + 1);
	ASSERT_EQ(0, fz_teardown(f)) TH_LOG("%s", f->msg);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], FZ_EXEC_ARG))
		return fz_exec_child(argc, argv);
	return test_harness_run(argc, argv);
}
