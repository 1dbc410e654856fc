// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bench P4: the cost of IOMMU_IOAS_MAP_FILE of an egm window against a
 * memfd on hugetlbfs (2 MiB pages), both into an iommufd mock domain
 * (CONFIG_IOMMUFD_TEST), at 64 MiB, 256 MiB and 1 GiB.
 *
 * A window is one physical range, so its import should cost about the same
 * at any size; a memfd import pins and walks every folio. The hugetlb pages
 * are reserved and faulted in first, so that only the map is timed. This is
 * a timing report, not a test: it fails only if it cannot measure.
 *
 *	egm_p4 [-r REPETITIONS]
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/egm.h>
#include <linux/iommufd.h>
#include <linux/memfd.h>

#include "bench.h"
#include "iommufd_test.h"

#define SZ_2M		(2ULL << 20)
#define SZ_1G		(1ULL << 30)
#define MAX_REPS	101
#define HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define FREE_HUGEPAGES	"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
/* Fixed and 1 GiB aligned, inside the mock domain's aperture. */
#define MAP_IOVA	SZ_1G

static const uint64_t sizes[] = { 64ULL << 20, 256ULL << 20, SZ_1G };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static long old_nr_hugepages = -1;

static void die(const char *what)
{
	fprintf(stderr, "egm_p4: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long read_long(const char *path)
{
	char buf[32] = "";
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", v) < 0;
	ret |= fclose(f);
	return ret ? -1 : 0;
}

static void restore_hugepages(void)
{
	if (old_nr_hugepages >= 0)
		write_long(HUGEPAGES, old_nr_hugepages);
}

/* Make sure @n free 2 MiB pages exist; give back what we added at exit. */
static void reserve_hugepages(long n)
{
	long nr = read_long(HUGEPAGES), free = read_long(FREE_HUGEPAGES);

	if (nr < 0 || free < 0)
		die("reading the hugepage counters");
	if (free >= n)
		return;
	old_nr_hugepages = nr;
	atexit(restore_hugepages);
	if (write_long(HUGEPAGES, nr + n - free))
		die("writing " HUGEPAGES);
	free = read_long(FREE_HUGEPAGES);
	if (free < n) {
		fprintf(stderr, "egm_p4: only %ld of %ld free 2 MiB pages\n",
			free, n);
		exit(1);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct ioas {
	int fd;
	uint32_t ioas_id;
};

static void ioas_setup(struct ioas *io, bool mock_domain)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd mock = {
		.size = sizeof(mock),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
	};

	io->fd = open("/dev/iommu", O_RDWR);
	if (io->fd < 0)
		die("open /dev/iommu");
	if (ioctl(io->fd, IOMMU_IOAS_ALLOC, &alloc))
		die("IOMMU_IOAS_ALLOC");
	io->ioas_id = alloc.out_ioas_id;
	if (!mock_domain)
		return;
	mock.id = io->ioas_id;
	if (ioctl(io->fd, IOMMU_TEST_CMD, &mock))
		die("IOMMU_TEST_OP_MOCK_DOMAIN (is CONFIG_IOMMUFD_TEST set?)");
}

/* Time one MAP_FILE of [0, @len) of @fd, and the unmap after it. */
static void map_once(struct ioas *io, int fd, uint64_t len, double *map_us,
		     double *unmap_us)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = io->ioas_id,
		.fd = fd,
		.start = 0,
		.length = len,
		.iova = MAP_IOVA,
	};
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = io->ioas_id,
		.iova = MAP_IOVA,
		.length = len,
	};
	double t0, t1, t2;

	t0 = now_us();
	if (ioctl(io->fd, IOMMU_IOAS_MAP_FILE, &map))
		die("IOMMU_IOAS_MAP_FILE");
	t1 = now_us();
	if (ioctl(io->fd, IOMMU_IOAS_UNMAP, &unmap) || unmap.length != len)
		die("IOMMU_IOAS_UNMAP");
	t2 = now_us();
	*map_us = t1 - t0;
	*unmap_us = t2 - t1;
}

/* The PXM of the region with the most free bytes. */
static uint32_t pick_region(int egm, uint64_t need)
{
	struct egm_region_info infos[16];
	struct egm_query q = {
		.size = sizeof(q),
		.num_regions = 16,
		.entry_size = sizeof(infos[0]),
		.regions_uptr = (uintptr_t)infos,
	};
	uint32_t i, best = 0;

	if (ioctl(egm, EGM_QUERY, &q))
		die("EGM_QUERY");
	if (!q.num_regions) {
		fprintf(stderr, "egm_p4: no EGM region\n");
		exit(1);
	}
	for (i = 1; i < q.num_regions; i++)
		if (infos[i].free > infos[best].free)
			best = i;
	if (infos[best].free < need) {
		fprintf(stderr, "egm_p4: no region has %llu free bytes\n",
			(unsigned long long)need);
		exit(1);
	}
	return infos[best].pxm;
}

static int window_alloc(int egm, uint32_t pxm, uint64_t len)
{
	struct egm_alloc a = {
		.size = sizeof(a),
		.pxm = pxm,
		.length = len,
		.alignment = SZ_2M,
	};

	if (ioctl(egm, EGM_ALLOC, &a))
		die("EGM_ALLOC");
	return a.out_fd;
}

static const char *size_str(uint64_t s)
{
	static char buf[4][16];
	static int i;

	i = (i + 1) % 4;
	if (s >= SZ_1G)
		snprintf(buf[i], sizeof(buf[i]), "%lluG",
			 (unsigned long long)(s >> 30));
	else
		snprintf(buf[i], sizeof(buf[i]), "%lluM",
			 (unsigned long long)(s >> 20));
	return buf[i];
}

int main(int argc, char **argv)
{
	double egm_map[NSIZES], egm_unmap[NSIZES], mfd_map[NSIZES];
	double mfd_unmap[NSIZES], egm_bare[NSIZES], t[5][MAX_REPS], t0;
	double fault_us, alloc_us, unused;
	uint64_t max = sizes[NSIZES - 1];
	int reps = 11, opt, egm, mfd, i, r;
	bool all_met = true;
	struct ioas io, bare;
	uint32_t pxm;
	char *p;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r')
			goto usage;
		reps = atoi(optarg);
		if (reps < 1 || reps > MAX_REPS)
			goto usage;
	}

	egm = open("/dev/egm", O_RDWR);
	if (egm < 0)
		die("open /dev/egm");
	pxm = pick_region(egm, max);
	ioas_setup(&io, true);
	/* Without a domain: the cost of the import itself. */
	ioas_setup(&bare, false);

	/* The memfd: 1 GiB of 2 MiB hugetlb pages, all faulted in. */
	reserve_hugepages(max / SZ_2M);
	mfd = memfd_create("egm-p4", MFD_HUGETLB | MFD_HUGE_2MB);
	if (mfd < 0)
		die("memfd_create(MFD_HUGETLB | MFD_HUGE_2MB)");
	if (ftruncate(mfd, max))
		die("ftruncate of the hugetlb memfd");
	p = mmap(NULL, max, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap of the hugetlb memfd");
	t0 = now_us();
	for (uint64_t off = 0; off < max; off += SZ_2M)
		p[off] = 1;
	fault_us = now_us() - t0;

	printf("egm P4: IOMMU_IOAS_MAP_FILE into an iommufd mock domain\n");
	printf("  egm window (PXM %u, 2M aligned) vs memfd on hugetlbfs\n",
	       pxm);
	printf("  (2M pages, reserved and faulted in first: %.0f ms)\n",
	       fault_us / 1000);
	printf("  fixed IOVA %#llx, median of %d runs, microseconds\n\n",
	       (unsigned long long)MAP_IOVA, reps);

	for (i = 0; i < (int)NSIZES; i++) {
		int wfd;

		t0 = now_us();
		wfd = window_alloc(egm, pxm, sizes[i]);
		alloc_us = now_us() - t0;
		/*
		 * One path at a time: a memfd unmap leaves work behind (unpin
		 * of every page) that would slow whatever runs next.
		 */
		usleep(200 * 1000);
		map_once(&io, wfd, sizes[i], &t[0][0], &t[1][0]);
		for (r = 0; r < reps; r++)
			map_once(&io, wfd, sizes[i], &t[0][r], &t[1][r]);
		for (r = 0; r < reps; r++)
			map_once(&bare, wfd, sizes[i], &t[4][r], &unused);
		usleep(200 * 1000);
		map_once(&io, mfd, sizes[i], &t[2][0], &t[3][0]);
		for (r = 0; r < reps; r++)
			map_once(&io, mfd, sizes[i], &t[2][r], &t[3][r]);
		egm_map[i] = median(t[0], reps);
		egm_unmap[i] = median(t[1], reps);
		mfd_map[i] = median(t[2], reps);
		mfd_unmap[i] = median(t[3], reps);
		egm_bare[i] = median(t[4], reps);
		close(wfd);
		printf("  (window of %s carved and zeroed in %.0f ms)\n",
		       size_str(sizes[i]), alloc_us / 1000);
	}

	printf("\n  %-6s %12s %12s %10s | %12s %12s %10s\n", "size",
	       "egm map", "memfd map", "egm/memfd", "egm unmap", "memfd unmap",
	       "map+unmap");
	for (i = 0; i < (int)NSIZES; i++) {
		double ratio = egm_map[i] / mfd_map[i];

		all_met &= ratio <= 0.2;
		printf("  %-6s %12.1f %12.1f %10.3f | %12.1f %12.1f %10.4f\n",
		       size_str(sizes[i]), egm_map[i], mfd_map[i], ratio,
		       egm_unmap[i], mfd_unmap[i],
		       (egm_map[i] + egm_unmap[i]) /
			       (mfd_map[i] + mfd_unmap[i]));
	}
	printf("  (egm/memfd and map+unmap are ratios of egm to memfd time)\n");
	printf("\n  egm map into an IOAS without a domain (the import alone):");
	for (i = 0; i < (int)NSIZES; i++)
		printf(" %s %.1f", size_str(sizes[i]), egm_bare[i]);
	printf("\n");
	printf("\n  egm(%s)/egm(%s) map time = %.2f (memfd: %.2f) for %llux the size\n",
	       size_str(sizes[NSIZES - 1]), size_str(sizes[0]),
	       egm_map[NSIZES - 1] / egm_map[0],
	       mfd_map[NSIZES - 1] / mfd_map[0],
	       (unsigned long long)(sizes[NSIZES - 1] / sizes[0]));
	printf("  target egm/memfd map <= 0.2:");
	if (all_met)
		printf(" met at every size\n");
	for (i = 0; !all_met && i < (int)NSIZES; i++)
		printf(" %s %s (%.3f)%s", size_str(sizes[i]),
		       egm_map[i] / mfd_map[i] <= 0.2 ? "met" : "MISSED",
		       egm_map[i] / mfd_map[i], i + 1 < (int)NSIZES ? "," : "\n");

	/* The same verdicts as rows for the table of make bench. */
	for (i = 0; i < (int)NSIZES; i++)
		printf("egm-bench: {\"id\": \"P4\", \"what\": \"IOMMU_IOAS_MAP_FILE, egm / hugetlbfs memfd\", \"value\": %.6g, \"unit\": \"ratio\", \"size\": %llu, \"target\": \"<= 0.2\", \"pass\": %s}\n",
		       egm_map[i] / mfd_map[i], (unsigned long long)sizes[i],
		       egm_map[i] / mfd_map[i] <= 0.2 ? "true" : "false");
	printf("egm-bench: {\"id\": \"P4\", \"what\": \"IOMMU_IOAS_MAP_FILE, egm %s / %s\", \"value\": %.6g, \"unit\": \"ratio\", \"target\": \"<= 2 (flat)\", \"pass\": %s}\n",
	       size_str(sizes[NSIZES - 1]), size_str(sizes[0]),
	       egm_map[NSIZES - 1] / egm_map[0],
	       egm_map[NSIZES - 1] / egm_map[0] <= 2 ? "true" : "false");
	fflush(stdout);

	munmap(p, max);
	close(mfd);
	close(io.fd);
	close(bare.fd);
	close(egm);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-r REPETITIONS (1..%d)]\n", argv[0],
		MAX_REPS);
	return 2;
}
