// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unloading egm while its last window file closes.
 *
 * __fput() drops the module reference of a file's fops before dput()
 * evicts the inode, so a window's eviction must not rely on it: the
 * window filesystem's superblock holds the module until the file's mount
 * goes. With debug_evict_delay_ms (CONFIG_EGM_DEBUG) holding eviction
 * open, rmmod is tried over and over while the last file closes; it must
 * not succeed until the eviction is done. Then egm.regions= must refuse
 * ranges that are not hidden RAM. Reloads the module from EGM_MODULE
 * (/egm/modules/egm.ko), without rerunning its KUnit suites.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

#include "egm_utils.h"

#define PARAM_DIR	"/sys/module/egm/parameters/"
#define KUNIT_FILTER	"/sys/module/kunit/parameters/filter_glob"
#define DELAY_MS	300

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

struct racer {
	volatile bool stop;
	double removed;		/* when rmmod succeeded, 0 if it did not */
	int err;		/* an unexpected errno */
	long tries;
};

static void *rmmod_loop(void *arg)
{
	struct racer *r = arg;

	while (!r->stop) {
		r->tries++;
		if (!syscall(SYS_delete_module, "egm", O_NONBLOCK)) {
			r->removed = now_s();
			break;
		}
		if (errno != EWOULDBLOCK) {
			r->err = errno;
			break;
		}
		usleep(500);
	}
	return NULL;
}

TEST(close_races_rmmod)
{
	const char *ko = getenv("EGM_MODULE") ?: "/egm/modules/egm.ko";
	struct egm_region_info info[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS, n2 = EGM_MAX_REGIONS;
	struct racer r = {};
	double t0, t1;
	pthread_t th;
	int kofd, fd, wfd;
	char delay[16];
	__u64 align;
	char *p;

	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kofd) TH_LOG("no module at %s (EGM_MODULE)", ko);
	snprintf(delay, sizeof(delay), "%d", DELAY_MS);
	ASSERT_TRUE(write_str(PARAM_DIR "debug_evict_delay_ms", delay))
		TH_LOG("no debug_evict_delay_ms: is CONFIG_EGM_DEBUG set?");

	fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, egm_query(fd, info, &n));
	/* 2 MiB aligned where that is a PMD, page aligned with 64K pages. */
	align = info[0].align & SZ_2M ? SZ_2M : PAGE_SIZE;
	ASSERT_EQ(0, egm_alloc(fd, info[0].pxm, SZ_2M, align, &wfd));
	p = egm_map(wfd, SZ_2M, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_touch(p, SZ_2M);
	ASSERT_EQ(0, munmap(p, SZ_2M));
	close(fd);

	/* Only the window holds the module now: it stays. */
	EXPECT_ERRNO(EWOULDBLOCK, syscall(SYS_delete_module, "egm", O_NONBLOCK));

	ASSERT_EQ(0, pthread_create(&th, NULL, rmmod_loop, &r));
	usleep(20000);
	t0 = now_s();
	close(wfd);
	t1 = now_s();
	/* Give the module time to go, once everything let go of it. */
	for (int i = 0; i < 100 && !r.removed && !r.err; i++)
		usleep(50000);
	r.stop = true;
	pthread_join(th, NULL);
	ksft_print_msg("close took %.0f ms; rmmod tried %ld times, succeeded %.0f ms after close began\n",
		       (t1 - t0) * 1e3, r.tries, r.removed ? (r.removed - t0) * 1e3 : -1.0);

	EXPECT_EQ(0, r.err);
	ASSERT_NE(0, r.removed) TH_LOG("egm never unloaded after its last file closed");
	/* The eviction ran in close(), and the module outlived it. */
	EXPECT_LE(DELAY_MS / 1e3, t1 - t0);
	EXPECT_LE(t0 + DELAY_MS / 1e3, r.removed);

	/* Back for the tests that follow; KUnit ran at the first load. */
	write_str(KUNIT_FILTER, "egm_unload_test_none");
	ASSERT_EQ(0, syscall(SYS_finit_module, kofd, "", 0));
	close(kofd);
	fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, egm_query(fd, info, &n2));
	EXPECT_EQ(n, n2);
	close(fd);
}

/* Not RAM, and not claimed: what iomem_find() must not take for "other". */
static bool iomem_hidden_or_ram(const char *name)
{
	static const char * const names[] = {
		"System RAM", "reserved", "Reserved", "PCI Bus", "egm", NULL
	};
	unsigned int i;

	for (i = 0; names[i]; i++)
		if (!strncmp(name, names[i], strlen(names[i])))
			return true;
	return false;
}

/*
 * The first top-level /proc/iomem range named @name, or with @name NULL
 * the first that is none of the above, that starts on a page and is at
 * least @len long, in *start; false if there is none.
 */
static bool iomem_find(const char *name, unsigned long long len,
		       unsigned long long *start)
{
	unsigned long long s, e;
	char line[256], *n;
	bool found = false;
	FILE *f;

	f = fopen("/proc/iomem", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (line[0] == ' ' || sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		n = strstr(line, " : ");
		if (!n || s % PAGE_SIZE || e - s + 1 < len)
			continue;
		if (name ? !strncmp(n + 3, name, strlen(name)) :
			   !iomem_hidden_or_ram(n + 3)) {
			*start = s;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static int load(int kofd, const char *params)
{
	write_str(KUNIT_FILTER, "egm_unload_test_none");
	return syscall(SYS_finit_module, kofd, params, 0);
}

/*
 * egm.regions= takes only hidden RAM: ranges the memory map leaves out or
 * marks reserved. A PCI window, a claimed range (ACPI storage on x86; on
 * arm64, whose ACPI tables lie in System RAM, a device's MMIO) or System
 * RAM are refused, each with a message, and the firmware regions are
 * still there.
 */
TEST(regions_param_refused)
{
	const char *ko = getenv("EGM_MODULE") ?: "/egm/modules/egm.ko";
	unsigned long long pci, acpi, ram;
	__u32 n = EGM_MAX_REGIONS, n2 = EGM_MAX_REGIONS;
	struct egm_region_info info[EGM_MAX_REGIONS];
	char params[256];
	int kofd, fd, kmsg;

	ASSERT_TRUE(iomem_find("PCI Bus", SZ_2M, &pci));
	if (!iomem_find("ACPI", PAGE_SIZE, &acpi))
		ASSERT_TRUE(iomem_find(NULL, PAGE_SIZE, &acpi));
	ASSERT_TRUE(iomem_find("System RAM", SZ_2M, &ram));
	fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, egm_query(fd, info, &n));
	close(fd);

	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kofd);
	ASSERT_EQ(0, syscall(SYS_delete_module, "egm", O_NONBLOCK));
	kmsg = egm_kmsg_open();
	ASSERT_LE(0, kmsg);
	/* Sizes of whole pages, or the range is refused for that instead. */
	snprintf(params, sizeof(params),
		 "regions=2M@%#llx:40,%luK@%#llx:41,2M@%#llx:42", pci,
		 PAGE_SIZE >> 10, acpi, ram);
	ASSERT_EQ(0, load(kofd, params)) TH_LOG("finit_module(%s)", params);
	EXPECT_TRUE(egm_kmsg_find(kmsg, "PXM 40:", "not hidden RAM", 2000));
	EXPECT_TRUE(egm_kmsg_find(kmsg, "PXM 41:", "not hidden RAM", 2000));
	EXPECT_TRUE(egm_kmsg_find(kmsg, "PXM 42:", "System RAM", 2000));
	close(kmsg);
	fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, egm_query(fd, info, &n2));
	EXPECT_EQ(n, n2);
	EXPECT_FALSE(egm_region_by_pxm(fd, 40, &info[0]));
	EXPECT_FALSE(egm_region_by_pxm(fd, 41, &info[0]));
	EXPECT_FALSE(egm_region_by_pxm(fd, 42, &info[0]));
	close(fd);

	/* Back as it was for the tests that follow. */
	ASSERT_EQ(0, syscall(SYS_delete_module, "egm", O_NONBLOCK));
	ASSERT_EQ(0, load(kofd, ""));
	close(kofd);
}

TEST_HARNESS_MAIN
