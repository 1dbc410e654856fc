// SPDX-License-Identifier: GPL-2.0-only
/*
 * Real device DMA into egm windows: QEMU's edu device (1234:11e8) behind
 * intel-iommu (x86) or SMMUv3 (arm64), bound to vfio-pci.
 *
 *  - iommufd: the VFIO device cdev attached to an IOAS that imports windows
 *    with IOMMU_IOAS_MAP_FILE. Data moves both ways between a window and
 *    edu, so the IOMMU maps the very pages the CPU sees through the
 *    window's mmap, at the right offset, for partial imports too, and for
 *    windows whose fd was closed while the import lives.
 *  - revocation: unbinding the region's platform device stops DMA to its
 *    windows, zaps their mappings and refuses new imports; the region comes
 *    back whole once every old window is gone.
 *  - legacy VFIO type1: a container maps the vaddr of a window mmap.
 *
 * edu copies between its 4 KiB buffer and DMA addresses below 256 MiB;
 * QEMU 7.2 aborts on a transfer that ends at the buffer's end, so transfers
 * stay below 4 KiB. edu has no CPU window on its buffer, so a staging buffer
 * of ordinary memory is mapped too, and every check goes through it.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <libgen.h>
#include <stdint.h>
#include <sys/mman.h>

/* Not every shared helper is used here; edu.h's paths fit in practice. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "egm_utils.h"
#include "egm_iommufd_utils.h"
#include "edu.h"
#pragma GCC diagnostic pop

/* IOVAs are of whole pages, 64K ones on arm64 too. */
#define XFER		2048		/* bytes per edu DMA */
#define STAGE_IOVA	0x100000ULL	/* staging buffer, 2 pages */
#define WIN_IOVA	EDU_IOVA	/* first window */
#define WIN2_IOVA	(EDU_IOVA + 0x1000000ULL)

FIXTURE(egm_vfio)
{
	char bdf[16];
	char egmdev[64];	/* the region device this test unbound */
	bool unbound;
	int egm;
	__u32 pxm;
	__u32 pxm2;
	__u64 free0;
	__u64 free0_2;
	struct edu_dev d;
	uint8_t *stage;
};

FIXTURE_SETUP(egm_vfio)
{
	struct egm_region_info infos[EGM_MAX_REGIONS];
	__u32 n = EGM_MAX_REGIONS;

	self->unbound = false;
	self->d.iommufd = -1;
	self->d.devfd = -1;
	ASSERT_EQ(0, edu_pci_find(EDU_VENDOR, EDU_DEVICE, self->bdf,
				  sizeof(self->bdf)));
	ASSERT_EQ(0, edu_vfio_bind(self->bdf));

	self->egm = open(EGM_DEV, O_RDWR);
	ASSERT_LE(0, self->egm);
	ASSERT_EQ(0, egm_query(self->egm, infos, &n));
	ASSERT_LE(1, n);
	set_walign(&infos[0]);
	self->pxm = infos[0].pxm;
	self->free0 = infos[0].free;
	self->pxm2 = infos[n - 1].pxm;
	self->free0_2 = infos[n - 1].free;

	ASSERT_EQ(0, (STAGE_IOVA | WIN_IOVA | WIN2_IOVA) % PAGE_SIZE);
	self->stage = mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->stage);
	memset(self->stage, 0, 2 * PAGE_SIZE);
}

/*
 * In the parent, after the test process and all its files are gone: give
 * the region back if the test took it away, and edu back to no driver.
 */
FIXTURE_TEARDOWN_PARENT(egm_vfio)
{
	int fd;

	if (self->unbound && !egm_dev_bound(self->egmdev))
		EXPECT_EQ(0, egm_bind(self->egmdev));
	if (self->bdf[0])
		EXPECT_EQ(0, edu_vfio_unbind(self->bdf));
	/* Whatever the test did, every byte came back. */
	fd = open(EGM_DEV, O_RDWR);
	EXPECT_EQ(self->free0, egm_free(fd, self->pxm));
	EXPECT_EQ(self->free0_2, egm_free(fd, self->pxm2));
	close(fd);
}

/*
 * Wait for the IOMMU to report a blocked DMA to (@write) or from @iova.
 * intel-iommu logs the direction and the address in one record ("[DMA
 * Write NO_PASID] ... fault addr 0x..."); arm-smmu-v3 logs the address
 * ("event: F_TRANSLATION ... iova: 0x... ipa: ...") and the direction
 * ("unpriv data write s1 ...") in the next one.
 */
static bool iommu_fault_logged(int kmsg, __u64 iova, bool write)
{
	char addr[64];

#ifdef __x86_64__
	snprintf(addr, sizeof(addr), "fault addr %#llx ",
		 (unsigned long long)iova);
	return egm_kmsg_find(kmsg, write ? "[DMA Write" : "[DMA Read", addr,
			     5000);
#else
	/*
	 * The SMMUv3 driver logs the event, then its direction in a second
	 * record; QEMU 7.2's SMMUv3 reports every fault as a write, so only
	 * the address tells.
	 */
	snprintf(addr, sizeof(addr), "iova: %#llx ", (unsigned long long)iova);
	return egm_kmsg_find(kmsg, "event: ", addr, 5000);
#endif
}

/*
 * Before a DMA whose IOMMU fault a test looks for. The SMMUv3 driver logs
 * at most 10 events in 5 s, and one faulting transfer of edu's is an
 * event per word: let the limit pass. intel-iommu logs the first fault of
 * each transfer.
 */
static void iommu_fault_log_ready(void)
{
#ifndef __x86_64__
	sleep(5);
#endif
}

/* Through edu's buffer: @n bytes from IOVA @src to IOVA @dst. */
static int edu_copy(struct edu_dev *d, __u64 src, __u64 dst, size_t n)
{
	int ret = edu_dma_to_dev(d, src, 0, n);

	return ret ?: edu_dma_from_dev(d, 0, dst, n);
}

/* Open edu through its cdev with the staging buffer mapped. */
#define open_edu()                                                          \
	({                                                                  \
		ASSERT_EQ(0, edu_open(&self->d, self->bdf));                \
		ASSERT_EQ(0, edu_map_user(&self->d, self->stage,            \
					  2 * PAGE_SIZE, STAGE_IOVA));      \
	})

/*
 * Device to window at @off of a window mapped at @p and imported at @iova,
 * then window to device from the same place: both must see the same bytes.
 */
static void round_trip(struct __test_metadata *_metadata, struct edu_dev *d,
		       uint8_t *stage, uint8_t *p, __u64 iova, size_t off,
		       unsigned int seed)
{
	egm_bytes_fill(stage, XFER, seed);
	ASSERT_EQ(0, edu_copy(d, STAGE_IOVA, iova + off, XFER));
	EXPECT_EQ(-1, egm_bytes_check(p + off, XFER, seed))
		TH_LOG("DMA to window offset %#zx", off);

	egm_bytes_fill(p + off, XFER, seed + 1);
	memset(stage, 0, XFER);
	ASSERT_EQ(0, edu_copy(d, iova + off, STAGE_IOVA, XFER));
	EXPECT_EQ(-1, egm_bytes_check(stage, XFER, seed + 1))
		TH_LOG("DMA from window offset %#zx", off);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

TEST_F(egm_vfio, dma_round_trip)
{
	/* Start, an unaligned middle, end: in the window at any page size. */
	const size_t offs[] = { 0, 37 * 4096 + 128, WLEN - XFER };
	unsigned int i;
	uint8_t *p;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &wfd));
	p = egm_map(wfd, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, WLEN, WIN_IOVA));

	/* The staging path itself works. */
	egm_bytes_fill(self->stage, XFER, 1);
	ASSERT_EQ(0, edu_copy(&self->d, STAGE_IOVA, STAGE_IOVA + PAGE_SIZE,
			      XFER));
	ASSERT_EQ(-1, egm_bytes_check(self->stage + PAGE_SIZE, XFER, 1));

	for (i = 0; i < ARRAY_SIZE(offs); i++)
		round_trip(_metadata, &self->d, self->stage, p, WIN_IOVA,
			   offs[i], 10 + 2 * i);
	/* Nothing else in the window changed. */
	EXPECT_TRUE(all_zero(p + XFER, offs[1] - XFER));
	EXPECT_TRUE(all_zero(p + offs[1] + XFER, offs[2] - offs[1] - XFER));

	ASSERT_EQ(0, edu_unmap(&self->d, WIN_IOVA, WLEN));
	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(wfd));
}

/* A partial import maps exactly its pages, at the right place. */
TEST_F(egm_vfio, partial_import)
{
	const size_t P = PAGE_SIZE, start = WLEN + 5 * P, len = 3 * P;
	uint8_t *p;
	int wfd;

	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, 2 * WLEN, walign, &wfd));
	p = egm_map(wfd, 2 * WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	open_edu();
	/* Pages 5..7 of the second huge page, and page 1 elsewhere. */
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, start, len, WIN_IOVA));
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, P, P, WIN2_IOVA));

	round_trip(_metadata, &self->d, self->stage, p, WIN_IOVA - start,
		   start, 20);
	round_trip(_metadata, &self->d, self->stage, p, WIN_IOVA - start,
		   start + P + 100, 22);
	round_trip(_metadata, &self->d, self->stage, p, WIN_IOVA - start,
		   start + len - XFER, 24);
	round_trip(_metadata, &self->d, self->stage, p, WIN2_IOVA - P, P, 26);

	/*
	 * Just past the import is no memory: the DMA is blocked and the
	 * window page behind it stays zero.
	 */
	egm_bytes_fill(self->stage, XFER, 28);
	ASSERT_EQ(0, edu_copy(&self->d, STAGE_IOVA, WIN_IOVA + len, XFER));
	EXPECT_TRUE(all_zero(p + start + len, P));
	EXPECT_TRUE(all_zero(p, P));
	EXPECT_TRUE(all_zero(p + 2 * P, start - 2 * P));

	ASSERT_EQ(0, edu_unmap(&self->d, WIN_IOVA, len));
	ASSERT_EQ(0, edu_unmap(&self->d, WIN2_IOVA, P));
	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p, 2 * WLEN));
	ASSERT_EQ(0, close(wfd));
}

/* Window to window, across regions, with the CPU only checking. */
TEST_F(egm_vfio, window_to_window)
{
	uint8_t *p1, *p2;
	int w1, w2;

	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &w1));
	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm2, WLEN, walign, &w2));
	p1 = egm_map(w1, WLEN, 0);
	p2 = egm_map(w2, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p1);
	ASSERT_NE(MAP_FAILED, p2);
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, w1, 0, WLEN, WIN_IOVA));
	ASSERT_EQ(0, edu_map_file(&self->d, w2, 0, WLEN, WIN2_IOVA));

	egm_bytes_fill(p1 + 3 * PAGE_SIZE, XFER, 30);
	ASSERT_EQ(0, edu_copy(&self->d, WIN_IOVA + 3 * PAGE_SIZE,
			      WIN2_IOVA + WLEN - PAGE_SIZE, XFER));
	EXPECT_EQ(-1, egm_bytes_check(p2 + WLEN - PAGE_SIZE, XFER, 30));

	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p1, WLEN));
	ASSERT_EQ(0, munmap(p2, WLEN));
	ASSERT_EQ(0, close(w1));
	ASSERT_EQ(0, close(w2));
}

/*
 * A closed window stays the device's: its memory keeps its contents and is
 * not handed to the next window until the import goes.
 */
TEST_F(egm_vfio, closed_window_keeps_memory)
{
	uint8_t *p;
	int wfd, w2;

	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &wfd));
	p = egm_map(wfd, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_bytes_fill(p, XFER, 40);
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, WLEN, WIN_IOVA));
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(wfd));
	EXPECT_EQ(self->free0 - WLEN, egm_free(self->egm, self->pxm));

	/* The next tenant gets other memory ... */
	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &w2));
	p = egm_map(w2, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all_zero(p, XFER));
	egm_bytes_fill(p, XFER, 41);

	/* ... and the device still reaches the old window's bytes. */
	memset(self->stage, 0, XFER);
	ASSERT_EQ(0, edu_copy(&self->d, WIN_IOVA, STAGE_IOVA, XFER));
	EXPECT_EQ(-1, egm_bytes_check(self->stage, XFER, 40));
	egm_bytes_fill(self->stage, XFER, 42);
	ASSERT_EQ(0, edu_copy(&self->d, STAGE_IOVA, WIN_IOVA + PAGE_SIZE,
			      XFER));
	memset(self->stage, 0, XFER);
	ASSERT_EQ(0, edu_copy(&self->d, WIN_IOVA + PAGE_SIZE, STAGE_IOVA,
			      XFER));
	EXPECT_EQ(-1, egm_bytes_check(self->stage, XFER, 42));
	/* Which never showed up in the new window. */
	EXPECT_EQ(-1, egm_bytes_check(p, XFER, 41));
	EXPECT_TRUE(all_zero(p + PAGE_SIZE, XFER));

	ASSERT_EQ(0, edu_unmap(&self->d, WIN_IOVA, WLEN));
	EXPECT_EQ(self->free0 - WLEN, egm_free(self->egm, self->pxm));
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(w2));
	EXPECT_EQ(self->free0, egm_free(self->egm, self->pxm));
	edu_close(&self->d);
}

/*
 * Open edu the legacy way, through its group in a VFIO type1 container
 * (QEMU 7.2's path), with the staging buffer mapped at STAGE_IOVA.
 */
static void type1_open(struct __test_metadata *_metadata, const char *bdf,
		       struct edu_dev *d, uint8_t *stage, int *container,
		       int *group)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	char path[300], link[300];
	ssize_t n;
	__u16 cmd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	*group = open(path, O_RDWR);
	ASSERT_LE(0, *group) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, ioctl(*group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);

	*container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, *container);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(*container, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(*container, VFIO_CHECK_EXTENSION,
			   VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, ioctl(*group, VFIO_GROUP_SET_CONTAINER, container));
	ASSERT_EQ(0, ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));

	memset(d, 0, sizeof(*d));
	d->iommufd = -1;
	d->devfd = ioctl(*group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	ASSERT_LE(0, d->devfd);
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg));
	d->bar0 = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       d->devfd, reg.offset);
	ASSERT_NE(MAP_FAILED, d->bar0);
	d->bar0_size = reg.size;
	memset(&reg, 0, sizeof(reg));
	reg.argsz = sizeof(reg);
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg));
	ASSERT_EQ(sizeof(cmd), pread(d->devfd, &cmd, sizeof(cmd),
				     reg.offset + PCI_COMMAND));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(sizeof(cmd), pwrite(d->devfd, &cmd, sizeof(cmd),
				      reg.offset + PCI_COMMAND));

	map.vaddr = (uintptr_t)stage;
	map.iova = STAGE_IOVA;
	map.size = 2 * PAGE_SIZE;
	ASSERT_EQ(0, ioctl(*container, VFIO_IOMMU_MAP_DMA, &map));
}

/* The legacy path of QEMU 7.2: a VFIO type1 container maps the mmap's VA. */
TEST_F(egm_vfio, type1_container)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	int container, group, wfd;
	struct edu_dev *d = &self->d;
	uint8_t *p;

	type1_open(_metadata, self->bdf, d, self->stage, &container, &group);
	ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &wfd));
	p = egm_map(wfd, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* type1 resolves the PFNs of the VMA, faulted in or not. */
	map.vaddr = (uintptr_t)p;
	map.iova = WIN_IOVA;
	map.size = WLEN;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		TH_LOG("VFIO_IOMMU_MAP_DMA of the window: %s", strerror(errno));

	round_trip(_metadata, d, self->stage, p, WIN_IOVA, 0, 50);
	round_trip(_metadata, d, self->stage, p, WIN_IOVA,
		   WLEN / 2 + 3 * PAGE_SIZE + 64, 52);
	round_trip(_metadata, d, self->stage, p, WIN_IOVA, WLEN - XFER, 54);

	unmap.iova = WIN_IOVA;
	unmap.size = WLEN;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	EXPECT_EQ(WLEN, unmap.size);
	unmap.iova = STAGE_IOVA;
	unmap.size = 2 * PAGE_SIZE;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));

	edu_close(d);
	close(group);
	close(container);
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(wfd));
}

/*
 * IOVA of a window over retired pages; its start is within edu's reach.
 * On arm64 above the SMMU's software MSI window, [128 MiB, +1 MiB), which
 * no mapping may cross; x86's is at 0xfee00000.
 */
#ifdef __aarch64__
#define BAD_IOVA	0x8100000ULL
#else
#define BAD_IOVA	0x200000ULL
#endif
#define EDU_REACH	(1ULL << 28)

/*
 * Carve a window over retired pages of the platform (see
 * egm_alloc_over_retired()) with @flags, map it, and return its bad pages
 * that edu can reach at BAD_IOVA.
 */
static int bad_window(struct __test_metadata *_metadata, int egm,
		      __u32 flags, int *wfd, int *filler, __u64 *len,
		      uint8_t **p, struct egm_bad_page *bad)
{
	const struct egm_plat_region *r;
	struct egm_window_info wi;
	struct egm_platform plat;
	__u64 align;
	int i, n = 0;

	*wfd = -1;
	*filler = -1;
	if (!egm_platform_load(&plat))
		return -1;
	r = egm_plat_most_retired(&plat);
	if (!r)
		return -1;
	/* PMD aligned, unless its spares would then have no room (64K). */
	align = egm_over_retired_align(r, pmd_size(), 0, flags);
	ASSERT_NE(0, align);
	ASSERT_NE(~0ULL, egm_alloc_over_retired(egm, r, align, 0, flags, wfd,
						len, filler));
	ASSERT_EQ(0, egm_window_info(*wfd, &wi, bad, EGM_MAX_BAD));
	ASSERT_LT(0, wi.num_bad_pages);
	ASSERT_EQ(flags & EGM_ALLOC_HOLES ? 0 : wi.num_bad_pages,
		  wi.num_substituted);
	for (i = 0; i < (int)wi.num_bad_pages; i++)
		if (BAD_IOVA + bad[i].offset + PAGE_SIZE <= EDU_REACH)
			bad[n++] = bad[i];
	ASSERT_LT(0, n);
	*p = egm_map(*wfd, *len, 0);
	ASSERT_NE(MAP_FAILED, *p);
	return n;
}

/*
 * QEMU maps all of guest RAM with one IOMMU_IOAS_MAP_FILE, bad pages or
 * not. In a window with substituted pages, that works, and edu's DMA to a
 * substituted page lands in its spare: the page the CPU maps there.
 */
TEST_F(egm_vfio, substituted_dma)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	int wfd, filler, n, i;
	uint8_t *p;
	__u64 len;

	n = bad_window(_metadata, self->egm, 0, &wfd, &filler, &len, &p, bad);
	if (n < 0)
		SKIP(return, "the platform has no retired page");
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, len, BAD_IOVA));
	for (i = 0; i < n; i++) {
		ksft_print_msg("DMA to substituted offset %#llx\n",
			       (unsigned long long)bad[i].offset);
		round_trip(_metadata, &self->d, self->stage, p, BAD_IOVA,
			   bad[i].offset + 64, 70 + i);
		/* And the page before it, which is where it always was. */
		if (bad[i].offset)
			round_trip(_metadata, &self->d, self->stage, p,
				   BAD_IOVA, bad[i].offset - PAGE_SIZE, 80 + i);
	}
	ASSERT_EQ(0, edu_unmap(&self->d, BAD_IOVA, len));
	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, close(wfd));
	if (filler >= 0)
		close(filler);
}

/*
 * With EGM_ALLOC_HOLES the whole window imports too, and the holes stay
 * unmapped in the IOMMU: edu's DMA to one faults and moves nothing, while
 * the pages around it work.
 */
TEST_F(egm_vfio, hole_dma_faults)
{
	struct egm_bad_page bad[EGM_MAX_BAD];
	int wfd, filler, n, kmsg;
	uint8_t *p;
	__u64 len, iova;

	n = bad_window(_metadata, self->egm, EGM_ALLOC_HOLES, &wfd, &filler,
		       &len, &p, bad);
	if (n < 0)
		SKIP(return, "the platform has no retired page");
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, len, BAD_IOVA));
	iova = BAD_IOVA + bad[0].offset;
	kmsg = egm_kmsg_open();
	ASSERT_LE(0, kmsg);

	/* A write to the hole is blocked ... */
	egm_bytes_fill(self->stage, XFER, 90);
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, STAGE_IOVA, 0, XFER));
	iommu_fault_log_ready();
	ASSERT_EQ(0, edu_dma_from_dev(&self->d, 0, iova, XFER));
	EXPECT_TRUE(iommu_fault_logged(kmsg, iova, true));
	/*
	 * ... and so is a read: edu's buffer keeps what it held, or gets
	 * zeroes (QEMU reads unmapped DMA as zeroes), never the page.
	 */
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, STAGE_IOVA, 0, XFER));
	iommu_fault_log_ready();
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, iova, 0, XFER));
	EXPECT_TRUE(iommu_fault_logged(kmsg, iova, false));
	memset(self->stage, 0xee, XFER);
	ASSERT_EQ(0, edu_dma_from_dev(&self->d, 0, STAGE_IOVA, XFER));
	EXPECT_TRUE(all_zero(self->stage, XFER) ||
		    egm_bytes_check(self->stage, XFER, 90) == -1);
	close(kmsg);

	/* The neighbours are mapped. */
	if (bad[0].offset)
		round_trip(_metadata, &self->d, self->stage, p, BAD_IOVA,
			   bad[0].offset - PAGE_SIZE, 91);
	round_trip(_metadata, &self->d, self->stage, p, BAD_IOVA,
		   bad[0].offset + PAGE_SIZE, 92);
	ASSERT_EQ(0, edu_unmap(&self->d, BAD_IOVA, len));
	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, close(wfd));
	if (filler >= 0)
		close(filler);
}

/*
 * QEMU 7.2's type1 container faults every page of guest RAM in to map it:
 * a window with substituted pages maps whole, and DMA reaches the spares.
 */
TEST_F(egm_vfio, type1_substituted)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	struct egm_bad_page bad[EGM_MAX_BAD];
	int container, group, wfd, filler, n, i;
	uint8_t *p;
	__u64 len;

	n = bad_window(_metadata, self->egm, 0, &wfd, &filler, &len, &p, bad);
	if (n < 0)
		SKIP(return, "the platform has no retired page");
	type1_open(_metadata, self->bdf, &self->d, self->stage, &container,
		   &group);
	map.vaddr = (uintptr_t)p;
	map.iova = BAD_IOVA;
	map.size = len;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		TH_LOG("VFIO_IOMMU_MAP_DMA of the window: %s", strerror(errno));
	for (i = 0; i < n; i++)
		round_trip(_metadata, &self->d, self->stage, p, BAD_IOVA,
			   bad[i].offset + 128, 100 + i);
	unmap.iova = BAD_IOVA;
	unmap.size = len;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	unmap.iova = STAGE_IOVA;
	unmap.size = 2 * PAGE_SIZE;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	edu_close(&self->d);
	close(group);
	close(container);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, close(wfd));
	if (filler >= 0)
		close(filler);
}

/*
 * Unbind the region of a window that edu has imported and the CPU has
 * mapped. Runs last; the parent rebinds the region whatever happens.
 */
TEST_F(egm_vfio, revoke)
{
	struct egm_region_info info;
	uint8_t *p, *q;
	int wfd, w2, nfd, kmsg;
	__u64 pxm = self->pxm2;

	ASSERT_EQ(0, egm_region_dev_name(pxm, self->egmdev,
					 sizeof(self->egmdev)));
	ASSERT_EQ(0, egm_alloc(self->egm, pxm, WLEN, walign, &wfd));
	p = egm_map(wfd, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	egm_bytes_fill(p, XFER, 60);
	open_edu();
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, WLEN, WIN_IOVA));
	memset(self->stage, 0, XFER);
	ASSERT_EQ(0, edu_copy(&self->d, WIN_IOVA, STAGE_IOVA, XFER));
	ASSERT_EQ(-1, egm_bytes_check(self->stage, XFER, 60));

	ASSERT_EQ(0, egm_unbind(self->egmdev));
	self->unbound = true;

	/* The region is gone and its windows cannot be imported again. */
	EXPECT_FALSE(egm_region_by_pxm(self->egm, pxm, &info));
	EXPECT_ERRNO(ENODEV, egm_alloc(self->egm, pxm, WLEN, walign, &nfd));
	EXPECT_EQ(-ENODEV, edu_map_file(&self->d, wfd, 0, WLEN, WIN2_IOVA));

	/* The CPU mapping is gone. */
	EXPECT_EQ(SIGBUS, egm_probe_signal(p, false));
	EXPECT_EQ(SIGBUS, egm_probe_signal(p + PAGE_SIZE, true));

	/*
	 * So is the device's: load edu's buffer with a known pattern, then
	 * have it read the window. The IOMMU faults the read, so the buffer
	 * never holds the window's bytes (QEMU reads unmapped DMA as zeroes).
	 */
	egm_bytes_fill(self->stage, XFER, 61);
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, STAGE_IOVA, 0, XFER));
	kmsg = egm_kmsg_open();
	ASSERT_LE(0, kmsg);
	iommu_fault_log_ready();
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, WIN_IOVA, 0, XFER));
	/* The IOMMU reports the blocked read at the window's IOVA. */
	EXPECT_TRUE(iommu_fault_logged(kmsg, WIN_IOVA, false));
	memset(self->stage, 0xee, XFER);
	ASSERT_EQ(0, edu_dma_from_dev(&self->d, 0, STAGE_IOVA, XFER));
	EXPECT_NE(-1, egm_bytes_check(self->stage, XFER, 60))
		TH_LOG("the device read a revoked window");
	EXPECT_TRUE(all_zero(self->stage, XFER) ||
		    egm_bytes_check(self->stage, XFER, 61) == -1);
	/* A write is blocked the same way, and the device works on. */
	ASSERT_EQ(0, edu_dma_to_dev(&self->d, STAGE_IOVA, 0, XFER));
	iommu_fault_log_ready();
	ASSERT_EQ(0, edu_dma_from_dev(&self->d, 0, WIN_IOVA, XFER));
	EXPECT_TRUE(iommu_fault_logged(kmsg, WIN_IOVA, true));
	close(kmsg);

	/* The other region's windows are not affected. */
	if (self->pxm != pxm) {
		ASSERT_EQ(0, egm_alloc(self->egm, self->pxm, WLEN, walign, &w2));
		q = egm_map(w2, WLEN, 0);
		ASSERT_NE(MAP_FAILED, q);
		ASSERT_EQ(0, edu_map_file(&self->d, w2, 0, WLEN, WIN2_IOVA));
		round_trip(_metadata, &self->d, self->stage, q, WIN2_IOVA,
			   PAGE_SIZE, 62);
		ASSERT_EQ(0, edu_unmap(&self->d, WIN2_IOVA, WLEN));
		ASSERT_EQ(0, munmap(q, WLEN));
		ASSERT_EQ(0, close(w2));
	}

	/* Old windows pin the old region: no rebind while one lives. */
	EXPECT_EQ(-EBUSY, egm_bind(self->egmdev));
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(wfd));
	/* The import still holds the window. */
	EXPECT_EQ(-EBUSY, egm_bind(self->egmdev));
	ASSERT_EQ(0, edu_unmap(&self->d, WIN_IOVA, WLEN));

	ASSERT_EQ(0, egm_bind(self->egmdev));
	self->unbound = false;
	ASSERT_TRUE(egm_region_by_pxm(self->egm, pxm, &info));
	EXPECT_EQ(info.size, info.free);

	/* And it works again, for DMA too. */
	ASSERT_EQ(0, egm_alloc(self->egm, pxm, WLEN, walign, &wfd));
	p = egm_map(wfd, WLEN, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all_zero(p, XFER));
	ASSERT_EQ(0, edu_map_file(&self->d, wfd, 0, WLEN, WIN_IOVA));
	round_trip(_metadata, &self->d, self->stage, p, WIN_IOVA, 0, 64);
	ASSERT_EQ(0, edu_unmap(&self->d, WIN_IOVA, WLEN));
	edu_close(&self->d);
	ASSERT_EQ(0, munmap(p, WLEN));
	ASSERT_EQ(0, close(wfd));
}

TEST_HARNESS_MAIN
