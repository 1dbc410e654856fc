// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke tests of the emulated Grace platform, independent of the egm
 * driver: the EGM ranges are hidden and reserved where platform.env says,
 * the NUMA layout is right, the firmware tables are in place and device
 * DMA through vfio-pci and iommufd works.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "edu.h"
#include "platform.h"

struct range {
	uint64_t start, end;	/* inclusive */
};

#define MAX_RANGES 16

/* "0x0-0x7fffffff,0x100000000-0x15fffffff" */
static int parse_ranges(const char *s, struct range *r, int max)
{
	int n = 0;
	char *end;

	while (s && *s && n < max) {
		r[n].start = strtoull(s, &end, 0);
		if (*end != '-')
			return -EINVAL;
		r[n].end = strtoull(end + 1, &end, 0);
		n++;
		s = *end == ',' ? end + 1 : NULL;
	}
	return n;
}

static int node_ranges(int node, struct range *r, int max)
{
	char name[64];

	snprintf(name, sizeof(name), "EGM_PLAT_NODE%d_RANGES", node);
	return parse_ranges(plat_str(name), r, max);
}

static int within(uint64_t start, uint64_t end, const struct range *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (start >= r[i].start && end <= r[i].end)
			return 1;
	return 0;
}

static int overlaps(uint64_t start, uint64_t end, const struct range *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (start <= r[i].end && end >= r[i].start)
			return 1;
	return 0;
}

static int nregions(void)
{
	uint64_t n = 0;

	plat_u64("EGM_PLAT_NREGIONS", &n);
	return n;
}

/* The whole file (sysfs hands out binary attributes a page at a time). */
static int read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (got < len && (n = read(fd, (char *)buf + got, len - got)) > 0)
		got += n;
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (int)got;
}

/* One line of /proc/iomem; top-level entries are not indented. */
struct iomem_entry {
	unsigned long long start, end;
	int top;
	char name[64];
};

#define MAX_IOMEM 1024
static struct iomem_entry iomem[MAX_IOMEM];

/* Read /proc/iomem into iomem[]: the number of entries, or -errno. */
static int iomem_read(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return -errno;
	while (n < MAX_IOMEM && fgets(line, sizeof(line), f)) {
		struct iomem_entry *e = &iomem[n];

		if (sscanf(line, " %llx-%llx : %63[^\n]", &e->start, &e->end,
			   e->name) != 3)
			continue;
		e->top = line[0] != ' ';
		n++;
	}
	fclose(f);
	return n;
}

#ifdef __x86_64__
/*
 * Is [start, end] inside one top-level /proc/iomem entry named @name? Not
 * necessarily equal to it: the kernel merges adjacent reserved e820
 * ranges, e.g. region 0 at 4 GiB with the BIOS ROM just below it.
 */
static int iomem_has(uint64_t start, uint64_t end, const char *name)
{
	int i, n = iomem_read();

	for (i = 0; i < n; i++)
		if (iomem[i].top && iomem[i].start <= start &&
		    iomem[i].end >= end && !strcmp(iomem[i].name, name))
			return 1;
	return n < 0 ? n : 0;
}
#endif

/*
 * Is [start, end] hidden in /proc/iomem: overlapped by no top-level entry
 * but "Reserved", "reserved" or egm's own claim ("egm.N")? arm64 has no
 * memmap=: its bench leaves the EGM ranges out of the memory map.
 */
static int iomem_hidden(uint64_t start, uint64_t end)
{
	int i, n = iomem_read();

	for (i = 0; i < n; i++)
		if (iomem[i].top && iomem[i].start <= end &&
		    iomem[i].end >= start &&
		    strcmp(iomem[i].name, "Reserved") &&
		    strcmp(iomem[i].name, "reserved") &&
		    strncmp(iomem[i].name, "egm.", 4))
			return 0;
	return n < 0 ? n : 1;
}

/* Does any "System RAM" entry, at any level, overlap [start, end]? */
static int iomem_ram_overlaps(uint64_t start, uint64_t end)
{
	int i, n = iomem_read();

	for (i = 0; i < n; i++)
		if (iomem[i].start <= end && iomem[i].end >= start &&
		    !strcmp(iomem[i].name, "System RAM"))
			return 1;
	return n < 0 ? n : 0;
}

static void load_platform(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, plat_load(NULL)) {
		TH_LOG("cannot read platform.env (set EGM_PLATFORM_ENV)");
	}
}

/* platform.env itself: each region lies in its PXM's node, 1 GiB aligned. */
TEST(platform_env)
{
	struct range r[MAX_RANGES];
	uint64_t base, size, pxm, table;
	int i, n;

	load_platform(_metadata);
	ASSERT_GT(nregions(), 0);
	for (i = 0; i < nregions(); i++) {
		ASSERT_EQ(0, plat_region_u64(i, "BASE", &base));
		ASSERT_EQ(0, plat_region_u64(i, "SIZE", &size));
		ASSERT_EQ(0, plat_region_u64(i, "PXM", &pxm));
		ASSERT_EQ(0, plat_region_u64(i, "RETIRED_TABLE", &table));
		EXPECT_EQ(0, base % (1ULL << 30));
		n = node_ranges(pxm, r, MAX_RANGES);
		ASSERT_GT(n, 0);
		EXPECT_TRUE(within(base, base + size - 1, r, n)) {
			TH_LOG("region %d is not inside node %" PRIu64, i, pxm);
		}
	}
}

/*
 * Whether [start, end] is hidden as the architecture's bench hides it:
 * nothing but a reservation (or egm) claims it, and on x86, which hides
 * it with memmap=, a Reserved entry holds it; arm64 leaves it out of the
 * memory map.
 */
static int range_hidden(uint64_t start, uint64_t end)
{
	int hidden = iomem_hidden(start, end);

#ifdef __x86_64__
	if (hidden == 1)
		hidden = iomem_has(start, end, "Reserved");
#endif
	return hidden;
}

/* The regions and the retired tables are hidden, not System RAM. */
TEST(iomem_reserved)
{
	uint64_t base, size;
	int i;

	load_platform(_metadata);
	for (i = 0; i < nregions(); i++) {
		ASSERT_EQ(0, plat_region_u64(i, "BASE", &base));
		ASSERT_EQ(0, plat_region_u64(i, "SIZE", &size));
		EXPECT_EQ(1, range_hidden(base, base + size - 1)) {
			TH_LOG("%#" PRIx64 "-%#" PRIx64 " is not hidden in /proc/iomem",
			       base, base + size - 1);
		}
		EXPECT_EQ(0, iomem_ram_overlaps(base, base + size - 1));
	}
	ASSERT_EQ(0, plat_u64("EGM_PLAT_TABLES_BASE", &base));
	ASSERT_EQ(0, plat_u64("EGM_PLAT_TABLES_SIZE", &size));
	EXPECT_EQ(1, range_hidden(base, base + size - 1));
	EXPECT_EQ(0, iomem_ram_overlaps(base, base + size - 1));
}

/* Exactly the platform's nodes exist, and their memory is where it should be. */
TEST(numa_nodes)
{
	struct range r[MAX_RANGES];
	char path[300];
	unsigned long long bs;
	uint64_t base, size;
	int node, n, blocks, i;

	load_platform(_metadata);
	ASSERT_EQ(0, access("/sys/devices/system/node/node0", F_OK));
	ASSERT_EQ(0, access("/sys/devices/system/node/node1", F_OK));
	EXPECT_NE(0, access("/sys/devices/system/node/node2", F_OK));

	ASSERT_GT(read_file("/sys/devices/system/memory/block_size_bytes", path,
			    sizeof(path) - 1), 0);
	bs = strtoull(path, NULL, 16);
	ASSERT_NE(0, bs);

	for (node = 0; node < 2; node++) {
		struct dirent *e;
		DIR *dir;

		n = node_ranges(node, r, MAX_RANGES);
		ASSERT_GT(n, 0);
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
		dir = opendir(path);
		ASSERT_NE(NULL, dir);
		blocks = 0;
		while ((e = readdir(dir))) {
			unsigned long long idx;

			if (sscanf(e->d_name, "memory%llu", &idx) != 1)
				continue;
			blocks++;
			/*
			 * A block may hang over the end of a range that is not
			 * block aligned: arm64's 64 MiB of firmware flash at 0
			 * in a block of 128 MiB (512 MiB with 64K pages).
			 */
			EXPECT_TRUE(overlaps(idx * bs, (idx + 1) * bs - 1, r, n)) {
				TH_LOG("node%d has memory block %#llx outside its ranges",
				       node, idx * bs);
			}
			for (i = 0; i < nregions(); i++) {
				ASSERT_EQ(0, plat_region_u64(i, "BASE", &base));
				ASSERT_EQ(0, plat_region_u64(i, "SIZE", &size));
				EXPECT_FALSE(idx * bs < base + size && (idx + 1) * bs > base) {
					TH_LOG("region %d is online memory (block %#llx)",
					       i, idx * bs);
				}
			}
		}
		closedir(dir);
		EXPECT_GT(blocks, 0);
	}
}

/* The firmware's SRAT gives each node exactly the platform's ranges. */
TEST(numa_srat)
{
	char rec[1024];
	struct range want[2][MAX_RANGES], got[2][MAX_RANGES];
	int nwant[2], ngot[2] = { 0, 0 };
	int fd, node, i, j;

	load_platform(_metadata);
	for (node = 0; node < 2; node++) {
		nwant[node] = node_ranges(node, want[node], MAX_RANGES);
		ASSERT_GT(nwant[node], 0);
	}
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	for (;;) {
		ssize_t len = read(fd, rec, sizeof(rec) - 1);
		unsigned long long s, e;
		unsigned int pxm;
		char *msg;

		if (len < 0 && errno == EPIPE)
			continue;
		if (len <= 0)
			break;
		rec[len] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		if (sscanf(msg + 1, "ACPI: SRAT: Node %d PXM %u [mem %llx-%llx]",
			   &node, &pxm, &s, &e) != 4)
			continue;
		if (node < 0 || node > 1 || ngot[node] >= MAX_RANGES) {
			TH_LOG("unexpected SRAT entry: %s", msg + 1);
			EXPECT_TRUE(0);
			continue;
		}
		EXPECT_EQ(node, pxm);
		got[node][ngot[node]].start = s;
		got[node][ngot[node]].end = e;
		ngot[node]++;
	}
	close(fd);

	for (node = 0; node < 2; node++) {
		ASSERT_GT(ngot[node], 0) {
			TH_LOG("no SRAT lines for node %d in the kernel log", node);
		}
		/* Every SRAT range lies in one platform range ... */
		for (i = 0; i < ngot[node]; i++) {
			EXPECT_TRUE(within(got[node][i].start, got[node][i].end,
					   want[node], nwant[node])) {
				TH_LOG("SRAT node %d [%#" PRIx64 "-%#" PRIx64 "] is unexpected",
				       node, got[node][i].start, got[node][i].end);
			}
		}
		/* ... and every platform range ends where an SRAT range ends. */
		for (i = 0; i < nwant[node]; i++) {
			int ok = 0;

			for (j = 0; j < ngot[node]; j++)
				ok |= got[node][j].end == want[node][i].end;
			EXPECT_TRUE(ok) {
				TH_LOG("SRAT does not cover node %d up to %#" PRIx64,
				       node, want[node][i].end);
			}
		}
	}
}

static int acpi_checksum_ok(const uint8_t *t, int len)
{
	uint8_t sum = 0;
	int i;

	for (i = 0; i < len; i++)
		sum += t[i];
	return sum == 0;
}

/* Our SSDT is loaded, intact. */
TEST(acpi_ssdt)
{
	static uint8_t t[65536];
	glob_t g;
	int found = 0;
	size_t i;

	ASSERT_EQ(0, glob("/sys/firmware/acpi/tables/SSDT*", 0, NULL, &g));
	for (i = 0; i < g.gl_pathc; i++) {
		int len = read_file(g.gl_pathv[i], t, sizeof(t));

		if (len < 36 || memcmp(t + 16, "EGMPLAT", 7))
			continue;
		found++;
		EXPECT_EQ(2, t[8]);
		EXPECT_TRUE(acpi_checksum_ok(t, len));
	}
	globfree(&g);
	EXPECT_EQ(1, found);
}

/*
 * The DSDT was upgraded to revision 2, so ACPI integers are 64 bits wide
 * (a revision 1 DSDT truncates the SSDT's addresses above 4 GiB).
 */
TEST(acpi_dsdt_revision)
{
	static uint8_t t[65536 * 4];
	int len;

	len = read_file("/sys/firmware/acpi/tables/DSDT", t, sizeof(t));
	ASSERT_GE(len, 36);
	EXPECT_EQ(0, memcmp(t, "DSDT", 4));
	EXPECT_EQ(2, t[8]);
	EXPECT_TRUE(acpi_checksum_ok(t, len));
}

/*
 * Each GPU-like function has an ACPI companion under the root bridge, at
 * its own _ADR (which firmware gives the _DSD). On x86 it must be QEMU's
 * own S<devfn> object: a second Device with the same _ADR is ignored
 * (DESIGN.md section 7). arm64's virt has none, so the SSDT declares
 * EG<devfn>: compare the address, not the name.
 */
TEST(gpu_companions)
{
	char path[300], got[64];
	const char *gpus;
	int n = 0;

	load_platform(_metadata);
	gpus = plat_str("EGM_PLAT_GPUS");
	ASSERT_NE(NULL, gpus);
	while (*gpus) {
		unsigned int slot, fn, region;
		int len, used;

		ASSERT_EQ(3, sscanf(gpus, "%x.%x:%u%n", &slot, &fn, &region, &used));
		gpus += used;
		gpus += strspn(gpus, " ");
		n++;

		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/0000:00:%02x.%x/firmware_node/path", slot, fn);
		len = read_file(path, got, sizeof(got) - 1);
		got[len > 0 ? len : 0] = 0;
		got[strcspn(got, "\n")] = 0;
		EXPECT_EQ(0, strncmp(got, "\\_SB_.PCI0.", 11)) {
			TH_LOG("%s: %s", path, len < 0 ? strerror(-len) : got);
		}
#ifdef __x86_64__
		{
			char want[64];

			snprintf(want, sizeof(want), "\\_SB_.PCI0.S%02X_",
				 slot << 3 | fn);
			EXPECT_STREQ(want, got);
		}
#endif
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/0000:00:%02x.%x/firmware_node/adr", slot, fn);
		len = read_file(path, got, sizeof(got) - 1);
		got[len > 0 ? len : 0] = 0;
		EXPECT_LT(0, len) {
			TH_LOG("%s: %s", path, strerror(-len));
		}
		EXPECT_EQ((unsigned long long)slot << 16 | fn,
			  strtoull(got, NULL, 0));

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/0000:00:%02x.%x/driver",
			 slot, fn);
		EXPECT_NE(0, access(path, F_OK)) {
			TH_LOG("a driver claimed the GPU-like function %02x.%x", slot, fn);
		}
	}
	EXPECT_EQ(3, n);
}

FIXTURE(vfio_edu) {
	char bdf[32];
	struct edu_dev dev;
	uint8_t *buf;
	size_t len;
};

FIXTURE_SETUP(vfio_edu)
{
	self->dev.devfd = -1;
	self->dev.iommufd = -1;
	self->buf = MAP_FAILED;
	ASSERT_EQ(0, edu_pci_find(EDU_VENDOR, EDU_DEVICE, self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, edu_vfio_bind(self->bdf));
	ASSERT_EQ(0, edu_open(&self->dev, self->bdf));
	EXPECT_EQ(0x010000ed, edu_readl(&self->dev, EDU_REG_ID));
	self->len = 2 * sysconf(_SC_PAGESIZE);
	self->buf = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, edu_map_user(&self->dev, self->buf, self->len, EDU_IOVA));
}

FIXTURE_TEARDOWN(vfio_edu)
{
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->len);
	edu_close(&self->dev);
	if (self->bdf[0])
		EXPECT_EQ(0, edu_vfio_unbind(self->bdf));
}

/* RAM -> edu -> RAM through the IOMMU, at a few sizes and offsets. */
TEST_F(vfio_edu, dma_round_trip)
{
	static const struct { size_t off, len; } cases[] = {
		{ 0, 1 }, { 8, 64 }, { 100, 3000 }, { 0, EDU_BUF_SIZE - 1 },
	};
	size_t half = self->len / 2, i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t off = cases[i].off, len = cases[i].len;

		for (j = 0; j < self->len; j++)
			self->buf[j] = (uint8_t)(j * 7 + i + 1);
		memset(self->buf + half, 0, half);
		ASSERT_EQ(0, edu_dma_to_dev(&self->dev, EDU_IOVA, off, len));
		ASSERT_EQ(0, edu_dma_from_dev(&self->dev, off, EDU_IOVA + half, len));
		ASSERT_EQ(0, memcmp(self->buf, self->buf + half, len)) {
			TH_LOG("%zu bytes at edu offset %zu came back different", len, off);
		}
		for (j = len; j < half; j++)
			ASSERT_EQ(0, self->buf[half + j]);
	}
}

/* After an unmap the device can no longer reach the memory. */
TEST_F(vfio_edu, unmap)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = self->dev.ioas_id,
		.iova = EDU_IOVA,
		.length = self->len,
	};

	ASSERT_EQ(0, edu_unmap(&self->dev, EDU_IOVA, self->len));
	ASSERT_EQ(-1, ioctl(self->dev.iommufd, IOMMU_IOAS_UNMAP, &unmap));
	ASSERT_EQ(ENOENT, errno);
}

TEST_HARNESS_MAIN
