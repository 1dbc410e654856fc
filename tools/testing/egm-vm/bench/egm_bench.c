// SPDX-License-Identifier: GPL-2.0-only
/*
 * make bench, P1, P2, P3 and P5: what a VMM start costs on egm, measured
 * against userspace and hugetlbfs 1 GiB pages in the same guest and run.
 *
 *   P1  EGM_ALLOC latency for windows of 1/64 ... 1/2 of a region: with
 *       clean memory, with dirty memory, and a hugetlbfs-1G memfd's
 *       fallocate() of 1 and 2 GiB
 *   P2  scrub throughput with 1 and 2 threads against a userspace memset
 *       of the same bytes
 *   P3  mmap and touch every 4 KiB of 1 GiB: faults, PageTables and time,
 *       egm against a hugetlbfs-1G memfd and egm capped to 4 KiB entries
 *   P5  1, 2 and 4 processes allocating, mapping, touching and freeing
 *       windows at once; and how long a small EGM_ALLOC takes while a
 *       large one is being zeroed
 *   P6  an unmodified QEMU 11 (the qemu11 rootfs share) starting with
 *       1 GiB of prealloc=on guest RAM: an egm window of clean memory,
 *       with align=1G as documented and without, against a hugetlbfs-1G
 *       memfd, each less a start with no RAM
 *
 * It prints one line of JSON per measurement ("egm-bench: {...}") for the
 * host to tabulate; figures are medians of several runs. It fails only if
 * it cannot measure.
 *
 *	egm_bench [-r REPETITIONS]
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/egm.h>
#include <linux/memfd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SZ_2M		(2ULL << 20)
#define SZ_1G		(1ULL << 30)
#define MAX_REPS	15
#define PARAMS		"/sys/module/egm/parameters/"
#define HUGE_1G		"/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#define QEMU_ROOT	"/mnt/egm-bench-qemu11"
#define QEMU_BIN	"/usr/bin/qemu-system-x86_64"

#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB	(30U << 26)
#endif

static int reps = 5;
static int egm_fd;

static void die(const char *what)
{
	fprintf(stderr, "egm_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_param(const char *name, const char *val)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		die(path);
	close(fd);
}

static long read_long(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 0);
		fclose(f);
	}
	return v;
}

static void write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", v) < 0 || fclose(f))
		die(path);
}

/* PageTables: of /proc/meminfo, in KiB. */
static long page_tables_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PageTables: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static bool region(unsigned int idx, struct egm_region_info *out)
{
	struct egm_region_info infos[16];
	struct egm_query q = {
		.size = sizeof(q),
		.num_regions = 16,
		.entry_size = sizeof(infos[0]),
		.regions_uptr = (uintptr_t)infos,
	};

	if (ioctl(egm_fd, EGM_QUERY, &q))
		die("EGM_QUERY");
	if (idx >= q.num_regions)
		return false;
	*out = infos[idx];
	return true;
}

static int alloc(__u32 pxm, __u64 len, __u64 align, __u32 flags)
{
	struct egm_alloc a = {
		.size = sizeof(a),
		.flags = flags,
		.pxm = pxm,
		.length = len,
		.alignment = align,
	};

	if (ioctl(egm_fd, EGM_ALLOC, &a))
		return -1;
	return a.out_fd;
}

/* Wait for the background scrubber to clean all free memory of a region. */
static void wait_clean(unsigned int idx)
{
	struct egm_region_info r;
	int i;

	for (i = 0; i < 6000; i++) {
		region(idx, &r);
		if (r.clean == r.free)
			return;
		usleep(10000);
	}
	fprintf(stderr, "egm_bench: region %u never became clean\n", idx);
	exit(1);
}

/* Make all of a region dirty: allocate it whole and free it. */
static void make_dirty(const struct egm_region_info *r)
{
	int fd = alloc(r->pxm, r->free, 4096, EGM_ALLOC_HOLES);

	if (fd < 0)
		die("EGM_ALLOC of the whole region");
	close(fd);
}

static void report(const char *id, const char *what, double value,
		   const char *unit, const char *extra)
{
	printf("egm-bench: {\"id\": \"%s\", \"what\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"%s%s}\n",
	       id, what, value, unit, extra ? ", " : "", extra ? extra : "");
	fflush(stdout);
}

/* Seconds for one EGM_ALLOC of @len, then free. */
static double time_alloc(__u32 pxm, __u64 len)
{
	double t0 = now(), t;
	int fd = alloc(pxm, len, SZ_2M, 0);

	t = now() - t0;
	if (fd < 0)
		die("EGM_ALLOC");
	close(fd);
	return t;
}

/*
 * A hugetlbfs-1G memfd's equivalent of EGM_ALLOC: the pages are taken and
 * zeroed by fallocate(), which is what the guest's first touch would cost.
 */
static double time_hugetlb(__u64 len)
{
	double t0, t;
	int fd = memfd_create("egm-bench", MFD_HUGETLB | MFD_HUGE_1GB);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, len)) {
		close(fd);
		return -1;
	}
	t0 = now();
	if (fallocate(fd, 0, 0, len)) {
		close(fd);
		return -1;
	}
	t = now() - t0;
	close(fd);
	return t;
}

static void p1(const struct egm_region_info *r0)
{
	double v[MAX_REPS], lo = 0, hi = 0, t;
	char extra[128];
	__u64 len;
	int i, div;

	for (div = 64; div >= 2; div /= 2) {
		len = r0->size / div / SZ_2M * SZ_2M;
		for (i = 0; i < reps; i++) {
			wait_clean(0);
			v[i] = time_alloc(r0->pxm, len);
		}
		t = median(v, reps);
		snprintf(extra, sizeof(extra), "\"size\": %llu, \"kind\": \"clean\"",
			 (unsigned long long)len);
		report("P1", "EGM_ALLOC, clean memory", t * 1e3, "ms", extra);
		if (div == 64)
			lo = t;
		hi = t;
	}
	snprintf(extra, sizeof(extra), "\"target\": \"<= 2\", \"pass\": %s",
		 hi / lo <= 2 ? "true" : "false");
	report("P1", "EGM_ALLOC latency, largest / smallest window", hi / lo,
	       "ratio", extra);

	set_param("scrub_background", "0");
	for (div = 64; div >= 2; div /= 2) {
		len = r0->size / div / SZ_2M * SZ_2M;
		for (i = 0; i < reps; i++) {
			make_dirty(r0);
			v[i] = time_alloc(r0->pxm, len);
		}
		snprintf(extra, sizeof(extra), "\"size\": %llu, \"kind\": \"dirty\"",
			 (unsigned long long)len);
		report("P1", "EGM_ALLOC, dirty memory", median(v, reps) * 1e3,
		       "ms", extra);
	}
	set_param("scrub_background", "1");

	for (len = SZ_1G; len <= 2 * SZ_1G; len += SZ_1G) {
		for (i = 0; i < reps; i++)
			if ((v[i] = time_hugetlb(len)) < 0)
				break;
		if (i < reps) {
			fprintf(stderr, "egm_bench: no %llu GiB of 1 GiB hugetlb pages\n",
				(unsigned long long)(len >> 30));
			continue;
		}
		snprintf(extra, sizeof(extra), "\"size\": %llu, \"kind\": \"hugetlbfs-1G\"",
			 (unsigned long long)len);
		report("P1", "hugetlbfs-1G fallocate", median(v, reps) * 1e3,
		       "ms", extra);
	}
}

/* Bytes per second of zeroing @len of dirty memory with @threads threads. */
static double scrub_once(const struct egm_region_info *r, __u64 len,
			 const char *threads)
{
	set_param("scrub_threads", threads);
	make_dirty(r);
	return len / time_alloc(r->pxm, len);
}

/* Bytes per second of @fn over @len of prefaulted memory at @p. */
static double user_once(void *p, __u64 len, void (*fn)(void *, __u64))
{
	double t0;

	memset(p, 1, len);
	t0 = now();
	fn(p, len);
	return len / (now() - t0);
}

static void zero_memset(void *p, __u64 len)
{
	memset(p, 0, len);
}

/* Zero with one 8-byte store at a time, which the compiler must keep. */
static void zero_store8(void *p, __u64 len)
{
	volatile uint64_t *q = p;
	__u64 i;

	for (i = 0; i < len / 8; i++)
		q[i] = 0;
}

/*
 * The kernel's zeroing against userspace's, of the same number of bytes
 * in the same VM, taken in turns so that a change in the host's load
 * weighs on both alike.
 */
static void p2(const struct egm_region_info *r0)
{
	__u64 len = r0->size / 2 / SZ_2M * SZ_2M;
	double user[MAX_REPS], user8[MAX_REPS], one[MAX_REPS], two[MAX_REPS];
	double mu, m8, m1, m2;
	char extra[160];
	void *p;
	int i;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	set_param("scrub_background", "0");
	for (i = 0; i < reps; i++) {
		user[i] = user_once(p, len, zero_memset);
		one[i] = scrub_once(r0, len, "1");
		user8[i] = user_once(p, len, zero_store8);
		two[i] = scrub_once(r0, len, "2");
	}
	set_param("scrub_threads", "0");
	set_param("scrub_background", "1");
	munmap(p, len);
	mu = median(user, reps);
	m8 = median(user8, reps);
	m1 = median(one, reps);
	m2 = median(two, reps);

	report("P2", "userspace memset", mu / 1e6, "MB/s", NULL);
	report("P2", "userspace 8-byte stores", m8 / 1e6, "MB/s", NULL);
	report("P2", "scrub, 1 thread", m1 / 1e6, "MB/s", NULL);
	report("P2", "scrub, 2 threads", m2 / 1e6, "MB/s", NULL);
	snprintf(extra, sizeof(extra), "\"target\": \">= 0.9\", \"pass\": %s",
		 m1 / mu >= 0.9 ? "true" : "false");
	report("P2", "scrub 1 thread / userspace memset", m1 / mu, "ratio",
	       extra);
	snprintf(extra, sizeof(extra), "\"target\": \"> 1\", \"pass\": %s",
		 m2 > m1 ? "true" : "false");
	report("P2", "scrub 2 threads / 1 thread", m2 / m1, "ratio", extra);
}

struct touch {
	double secs;
	long faults;
	long pt_kb;
};

/* Map @fd, touch every 4 KiB once, unmap. */
static int touch_all(int fd, __u64 len, struct touch *t)
{
	long f0, pt0;
	double t0;
	char *p;
	__u64 off;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	pt0 = page_tables_kb();
	f0 = minflt();
	t0 = now();
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	t->secs = now() - t0;
	t->faults = minflt() - f0;
	t->pt_kb = page_tables_kb() - pt0;
	munmap(p, len);
	return 0;
}

static void p3_report(const char *kind, const struct touch *t, __u64 len)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "\"kind\": \"%s\"", kind);
	report("P3", "touch 1 GiB: time", t->secs * 1e3, "ms", extra);
	report("P3", "touch 1 GiB: minor faults per GiB",
	       (double)t->faults * SZ_1G / len, "faults", extra);
	report("P3", "touch 1 GiB: PageTables per GiB",
	       (double)t->pt_kb * 1024 / 4096 * SZ_1G / len, "pages", extra);
}

static void p3(const struct egm_region_info *r0)
{
	struct touch egm = {}, capped = {}, huge = {};
	__u64 len = SZ_1G, align = r0->align & SZ_1G ? SZ_1G : SZ_2M;
	char extra[128];
	int fd;

	wait_clean(0);
	fd = alloc(r0->pxm, len, align, 0);
	if (fd < 0 || touch_all(fd, len, &egm))
		die("P3 egm");
	close(fd);

	set_param("max_map_size", "4096");
	wait_clean(0);
	fd = alloc(r0->pxm, len, align, 0);
	if (fd < 0 || touch_all(fd, len, &capped))
		die("P3 egm capped");
	close(fd);
	set_param("max_map_size", "0");

	fd = memfd_create("egm-bench", MFD_HUGETLB | MFD_HUGE_1GB);
	if (fd < 0 || ftruncate(fd, len) || touch_all(fd, len, &huge)) {
		fprintf(stderr, "egm_bench: P3: no 1 GiB hugetlb page: %s\n",
			strerror(errno));
		huge.secs = -1;
	}
	if (fd >= 0)
		close(fd);

	p3_report(align == SZ_1G ? "egm (1 GiB entries)" : "egm (2 MiB entries)",
		  &egm, len);
	p3_report("egm capped to 4 KiB", &capped, len);
	if (huge.secs >= 0)
		p3_report("hugetlbfs-1G", &huge, len);
	snprintf(extra, sizeof(extra), "\"target\": \"<= 1\", \"pass\": %s",
		 egm.faults <= 1 ? "true" : "false");
	report("P3", "egm minor faults per GiB", egm.faults, "faults", extra);
	snprintf(extra, sizeof(extra), "\"target\": \"<= 1\", \"pass\": %s",
		 egm.pt_kb <= 4 ? "true" : "false");
	report("P3", "egm PageTables per GiB", egm.pt_kb / 4.0, "pages", extra);
	if (huge.secs < 0) {
		report("P3", "egm time / hugetlbfs-1G time", 0, "ratio",
		       "\"target\": \"<= 1.0\", \"pass\": false, \"note\": \"not measured\"");
		return;
	}
	snprintf(extra, sizeof(extra), "\"target\": \"<= 1.0\", \"pass\": %s",
		 egm.secs <= huge.secs ? "true" : "false");
	report("P3", "egm time / hugetlbfs-1G time", egm.secs / huge.secs,
	       "ratio", extra);
}

/* One process's share of P5: operations until @until. */
static long churn(const struct egm_region_info *r, double until)
{
	long ops = 0;
	char *p;
	int fd;

	while (now() < until) {
		fd = alloc(r->pxm, SZ_2M, SZ_2M, 0);
		if (fd < 0)
			continue;
		p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			p[0] = 1;
			p[SZ_2M - 1] = 1;
			munmap(p, SZ_2M);
		}
		close(fd);
		ops++;
	}
	return ops;
}

/* Operations per second of @n processes churning for @secs. */
static double churn_rate(const struct egm_region_info *r, int n, double secs)
{
	int pipes[2], i, status;
	double until;
	long total = 0, ops;

	if (pipe(pipes))
		die("pipe");
	until = now() + secs;
	for (i = 0; i < n; i++) {
		if (!fork()) {
			ops = churn(r, until);
			if (write(pipes[1], &ops, sizeof(ops)) != sizeof(ops))
				_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < n; i++) {
		if (read(pipes[0], &ops, sizeof(ops)) == sizeof(ops))
			total += ops;
		wait(&status);
	}
	close(pipes[0]);
	close(pipes[1]);
	return total / secs;
}

/*
 * Every window freed is dirty, so in a steady churn each allocation needs
 * zeroing: with the background scrubber off, that is what the numbers
 * measure, and they can grow with processes only if no global lock is
 * held across zeroing.
 */
static void p5(const struct egm_region_info *r0)
{
	double one, two, four, t0, big, small_max = 0, t;
	char extra[160];
	int fd, status, i;
	pid_t pid;

	set_param("scrub_background", "0");
	make_dirty(r0);
	one = churn_rate(r0, 1, 3);
	two = churn_rate(r0, 2, 3);
	four = churn_rate(r0, 4, 3);
	report("P5", "churn, 1 process", one, "ops/s", NULL);
	report("P5", "churn, 2 processes", two, "ops/s", NULL);
	report("P5", "churn, 4 processes", four, "ops/s", NULL);
	snprintf(extra, sizeof(extra),
		 "\"target\": \"> 1.3 (2 CPUs)\", \"pass\": %s",
		 two > 1.3 * one ? "true" : "false");
	report("P5", "churn 2 processes / 1", two / one, "ratio", extra);
	snprintf(extra, sizeof(extra), "\"target\": \">= 0.9\", \"pass\": %s",
		 four >= 0.9 * two ? "true" : "false");
	report("P5", "churn 4 processes / 2", four / two, "ratio", extra);

	/* Small allocations go on while a large window is being zeroed. */
	make_dirty(r0);
	pid = fork();
	if (!pid) {
		fd = alloc(r0->pxm, r0->size / 2 / SZ_2M * SZ_2M, SZ_2M, 0);
		_exit(fd < 0);
	}
	t0 = now();
	usleep(20000);
	for (i = 0; i < 10 && waitpid(pid, &status, WNOHANG) == 0; i++) {
		t = time_alloc(r0->pxm, SZ_2M);
		if (t > small_max)
			small_max = t;
	}
	waitpid(pid, &status, 0);
	big = now() - t0;
	set_param("scrub_background", "1");
	snprintf(extra, sizeof(extra),
		 "\"target\": \"< 0.25\", \"pass\": %s, \"small_ms\": %.3f, \"big_ms\": %.3f",
		 i && small_max / big < 0.25 ? "true" : "false", small_max * 1e3,
		 big * 1e3);
	report("P5", "slowest 2 MiB EGM_ALLOC during a large zeroing / the zeroing",
	       small_max / big, "ratio", extra);
}

/* The qemu11 rootfs share, with what QEMU needs of the guest bound in. */
static bool qemu_root(void)
{
	static const char *const binds[] = { "/dev", "/proc", "/sys", "/tmp" };
	char to[128];
	unsigned int i;

	if (!access(QEMU_ROOT QEMU_BIN, X_OK))
		return true;
	mkdir("/mnt", 0755);
	mkdir(QEMU_ROOT, 0755);
	if (mount("qemu11", QEMU_ROOT, "9p", MS_RDONLY,
		  "trans=virtio,version=9p2000.L,msize=262144,cache=loose")) {
		fprintf(stderr, "egm_bench: P6: no qemu11 share (%s): does the host have the rootfs (qemu-rootfs.sh build qemu11)?\n",
			strerror(errno));
		return false;
	}
	for (i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
		snprintf(to, sizeof(to), QEMU_ROOT "%s", binds[i]);
		if (mount(binds[i], to, NULL, MS_BIND | MS_REC, NULL)) {
			fprintf(stderr, "egm_bench: P6: bind %s: %s\n", binds[i],
				strerror(errno));
			return false;
		}
	}
	return !access(QEMU_ROOT QEMU_BIN, X_OK);
}

/*
 * Seconds from starting QEMU with memory backend @object (none if NULL)
 * to its exit: QMP's quit is read only once the backends are made, and
 * so their RAM preallocated. @fd is handed to QEMU, if not -1; QEMU's
 * rusage goes to @ru.
 */
static double time_qemu(const char *object, int fd, struct rusage *ru)
{
	static const char qmp[] = "{\"execute\": \"qmp_capabilities\"}\n"
				  "{\"execute\": \"quit\"}\n";
	char *argv[16] = { QEMU_BIN, "-machine", "none", "-nodefaults",
			   "-display", "none", "-qmp", "stdio" };
	int in[2], null, status, n = 8;
	double t0, t;
	pid_t pid;

	if (object) {
		argv[n++] = "-object";
		argv[n++] = (char *)object;
	}
	argv[n] = NULL;
	if (pipe(in))
		die("pipe");
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		null = open("/dev/null", O_WRONLY);
		if (dup2(in[0], 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		close(in[1]);
		if (fd >= 0)
			fcntl(fd, F_SETFD, 0);
		if (chroot(QEMU_ROOT) || chdir("/"))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (write(in[1], qmp, sizeof(qmp) - 1) != sizeof(qmp) - 1)
		die("write to QEMU");
	close(in[1]);
	if (wait4(pid, &status, 0, ru) != pid)
		die("wait4");
	t = now() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "egm_bench: P6: QEMU failed (status %#x) with %s\n",
			status, object ? object : "no memory");
		return -1;
	}
	return t;
}

static void p6_usage(const char *kind, const struct rusage *ru)
{
	char extra[96];

	snprintf(extra, sizeof(extra), "\"kind\": \"%s\"", kind);
	report("P6", "QEMU: minor faults", ru->ru_minflt, "faults", extra);
	report("P6", "QEMU: CPU time, user", ru->ru_utime.tv_sec * 1e3 +
	       ru->ru_utime.tv_usec / 1e3, "ms", extra);
	report("P6", "QEMU: CPU time, system", ru->ru_stime.tv_sec * 1e3 +
	       ru->ru_stime.tv_usec / 1e3, "ms", extra);
}

/* One QEMU start on a fresh window of clean memory, @opts added. */
static double time_qemu_egm(const struct egm_region_info *r0, __u64 len,
			    const char *opts, struct rusage *ru)
{
	__u64 align = r0->align & SZ_1G ? SZ_1G : SZ_2M;
	char obj[256];
	double t;
	int fd;

	wait_clean(0);
	fd = alloc(r0->pxm, len, align, 0);
	if (fd < 0)
		die("P6 EGM_ALLOC");
	snprintf(obj, sizeof(obj),
		 "memory-backend-file,id=m,size=%llu,mem-path=/proc/self/fd/%d,share=on,prealloc=on%s",
		 (unsigned long long)len, fd, opts);
	t = time_qemu(obj, fd, ru);
	close(fd);
	return t;
}

static void p6(const struct egm_region_info *r0)
{
	double base[MAX_REPS], egm[MAX_REPS], any[MAX_REPS], huge[MAX_REPS];
	struct rusage ru_base, ru_egm, ru_any, ru_huge;
	double b, e, a, h;
	__u64 len = SZ_1G;
	char obj[256], extra[160];
	int i;

	if (!qemu_root())
		goto fail;
	/* Once, for the page cache: the binary and its libraries over 9p. */
	if (time_qemu(NULL, -1, &ru_base) < 0)
		goto fail;
	snprintf(obj, sizeof(obj),
		 "memory-backend-memfd,id=m,size=%llu,hugetlb=on,hugetlbsize=1G,share=on,prealloc=on",
		 (unsigned long long)len);
	for (i = 0; i < reps; i++) {
		base[i] = time_qemu(NULL, -1, &ru_base);
		/* As the documentation says: align=1G, for huge entries. */
		egm[i] = time_qemu_egm(r0, len, ",align=1G", &ru_egm);
		/* QEMU's default: mapped at any page. */
		any[i] = time_qemu_egm(r0, len, "", &ru_any);
		huge[i] = time_qemu(obj, -1, &ru_huge);
		if (base[i] < 0 || egm[i] < 0 || any[i] < 0 || huge[i] < 0)
			goto fail;
	}
	b = median(base, reps);
	e = median(egm, reps);
	a = median(any, reps);
	h = median(huge, reps);
	report("P6", "QEMU start, no guest RAM", b * 1e3, "ms", NULL);
	report("P6", "QEMU start, 1 GiB prealloc=on, egm align=1G", e * 1e3,
	       "ms", NULL);
	report("P6", "QEMU start, 1 GiB prealloc=on, egm, no align=", a * 1e3,
	       "ms", NULL);
	report("P6", "QEMU start, 1 GiB prealloc=on, hugetlbfs-1G", h * 1e3,
	       "ms", NULL);
	p6_usage("no guest RAM", &ru_base);
	p6_usage("egm align=1G", &ru_egm);
	p6_usage("egm, no align=", &ru_any);
	p6_usage("hugetlbfs-1G", &ru_huge);
	report("P6", "guest RAM ready, egm no align= / hugetlbfs-1G (less the start)",
	       (a - b) / (h - b), "ratio", NULL);
	snprintf(extra, sizeof(extra), "\"target\": \"<= 0.25\", \"pass\": %s",
		 e - b <= 0.25 * (h - b) ? "true" : "false");
	report("P6", "guest RAM ready, egm align=1G / hugetlbfs-1G (less the start)",
	       (e - b) / (h - b), "ratio", extra);
	return;
fail:
	report("P6", "guest RAM ready, egm align=1G / hugetlbfs-1G (less the start)", 0,
	       "ratio", "\"target\": \"<= 0.25\", \"pass\": false, \"note\": \"not measured\"");
}

int main(int argc, char **argv)
{
	struct egm_region_info r0;
	long huge0;
	int opt;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt == 'r')
			reps = atoi(optarg);
	}
	if (reps < 1 || reps > MAX_REPS)
		reps = 5;
	egm_fd = open("/dev/egm", O_RDWR | O_CLOEXEC);
	if (egm_fd < 0)
		die("/dev/egm");
	if (!region(0, &r0))
		die("no region");

	/* Two 1 GiB pages for the hugetlbfs comparisons. */
	huge0 = read_long(HUGE_1G "nr_hugepages");
	if (huge0 >= 0 && huge0 < 2)
		write_long(HUGE_1G "nr_hugepages", 2);

	p1(&r0);
	p2(&r0);
	p3(&r0);
	p5(&r0);
	p6(&r0);

	if (huge0 >= 0 && huge0 < 2)
		write_long(HUGE_1G "nr_hugepages", huge0);
	return 0;
}
