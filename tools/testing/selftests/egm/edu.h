/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device DMA on the egm bench: bind QEMU's "edu" device (1234:11e8) to
 * vfio-pci, attach it to an iommufd IOAS through the VFIO device cdev, map
 * memory into the IOAS (user memory or a file such as an egm window) and
 * move bytes with edu's DMA engine.
 *
 *	struct edu_dev d;
 *	edu_vfio_bind(bdf);             driver_override + drivers_probe
 *	edu_open(&d, bdf);              BIND_IOMMUFD, IOAS_ALLOC, ATTACH, BAR0
 *	edu_map_user(&d, buf, len, iova) or edu_map_file(&d, fd, off, len, iova)
 *	edu_dma_to_dev(&d, iova, EDU_BUF, n); edu_dma_from_dev(&d, EDU_BUF, iova, n)
 *	edu_close(&d); edu_vfio_unbind(bdf);
 *
 * Every helper returns 0 or a negative errno and logs the cause as a TAP
 * comment. QEMU 7.2's edu can only address IOVAs up to EDU_DMA_MASK, and it
 * aborts (the whole VM) unless a transfer ends strictly inside its buffer,
 * so offset + length must stay below EDU_BUF_SIZE; the helpers refuse
 * anything else with -ERANGE.
 */
#ifndef EGM_VM_EDU_H
#define EGM_VM_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_FROM_DEV	0x2	/* edu buffer to RAM */
#define EDU_BUF			0x40000	/* edu's internal buffer, in its DMA space */
#define EDU_BUF_SIZE		4096
#define EDU_DMA_MASK		((1ULL << 28) - 1)
#define EDU_IOVA		0x1000000ULL	/* a default IOVA edu can reach */

#define edu_log(fmt, ...) fprintf(stderr, "# edu: " fmt "\n", ##__VA_ARGS__)

struct edu_dev {
	char bdf[16];
	int iommufd;
	int devfd;
	__u32 devid;
	__u32 ioas_id;
	volatile uint8_t *bar0;
	size_t bar0_size;
	__u64 cfg_offset;
};

static inline int edu_write_str(const char *path, const char *s)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0) {
		ret = -errno;
		edu_log("open %s: %s", path, strerror(errno));
		return ret;
	}
	if (write(fd, s, strlen(s)) < 0) {
		ret = -errno;
		edu_log("write '%s' to %s: %s", s, path, strerror(errno));
	}
	close(fd);
	return ret;
}

static inline unsigned long edu_read_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return ~0UL;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return strtoul(buf, NULL, 16);
}

/* Find the first PCI function with this vendor:device; its BDF in @bdf. */
static inline int edu_pci_find(unsigned int vendor, unsigned int device,
			       char *bdf, size_t len)
{
	char path[300];
	struct dirent *e;
	DIR *dir;
	int ret = -ENODEV;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (edu_read_hex(path) != vendor)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (edu_read_hex(path) != device)
			continue;
		snprintf(bdf, len, "%s", e->d_name);
		ret = 0;
		break;
	}
	closedir(dir);
	if (ret)
		edu_log("no PCI device %04x:%04x", vendor, device);
	return ret;
}

/* The name of the driver bound to @bdf, or "" if none. */
static inline void edu_pci_driver(const char *bdf, char *drv, size_t len)
{
	char path[300], link[300];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		drv[0] = 0;
		return;
	}
	link[n] = 0;
	snprintf(drv, len, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}

/* Bind @bdf to vfio-pci (driver_override, then drivers_probe). */
static inline int edu_vfio_bind(const char *bdf)
{
	char path[300], drv[64];
	int ret;

	edu_pci_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0]) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		ret = edu_write_str(path, bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ret = edu_write_str(path, "vfio-pci");
	if (ret)
		return ret;
	ret = edu_write_str("/sys/bus/pci/drivers_probe", bdf);
	if (ret)
		return ret;
	edu_pci_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci")) {
		edu_log("%s did not bind to vfio-pci (driver '%s')", bdf, drv);
		return -ENODEV;
	}
	return 0;
}

/* Undo edu_vfio_bind(): unbind and clear driver_override. */
static inline int edu_vfio_unbind(const char *bdf)
{
	char path[300], drv[64];
	int ret = 0;

	edu_pci_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci")) {
		ret = edu_write_str("/sys/bus/pci/drivers/vfio-pci/unbind", bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	return edu_write_str(path, "\n");
}

/* The VFIO device cdev of @bdf: /dev/vfio/devices/vfioN. */
static inline int edu_vfio_cdev(const char *bdf, char *dev, size_t len)
{
	char path[300];
	struct dirent *e;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir) {
		edu_log("%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((e = readdir(dir))) {
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(dev, len, "/dev/vfio/devices/%s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

static inline int edu_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg)) {
		int ret = -errno;

		edu_log("%s: %s", what, strerror(errno));
		return ret;
	}
	return 0;
}

static inline void edu_close(struct edu_dev *d)
{
	if (d->bar0)
		munmap((void *)d->bar0, d->bar0_size);
	if (d->devfd >= 0)
		close(d->devfd);
	if (d->iommufd >= 0)
		close(d->iommufd);
	d->bar0 = NULL;
	d->devfd = -1;
	d->iommufd = -1;
}

/*
 * Open @bdf (bound to vfio-pci) through its cdev, bind it to a new iommufd,
 * attach it to a new IOAS, map BAR0 and enable bus mastering.
 */
static inline int edu_open(struct edu_dev *d, const char *bdf)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	char dev[300];
	__u16 cmd;
	void *p;
	int ret;

	memset(d, 0, sizeof(*d));
	d->iommufd = -1;
	d->devfd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	ret = edu_vfio_cdev(bdf, dev, sizeof(dev));
	if (ret)
		return ret;
	d->devfd = open(dev, O_RDWR);
	if (d->devfd < 0) {
		ret = -errno;
		edu_log("open %s: %s", dev, strerror(errno));
		goto err;
	}
	d->iommufd = open("/dev/iommu", O_RDWR);
	if (d->iommufd < 0) {
		ret = -errno;
		edu_log("open /dev/iommu: %s", strerror(errno));
		goto err;
	}
	bind.iommufd = d->iommufd;
	ret = edu_ioctl(d->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind, "VFIO_DEVICE_BIND_IOMMUFD");
	if (ret)
		goto err;
	d->devid = bind.out_devid;
	ret = edu_ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc, "IOMMU_IOAS_ALLOC");
	if (ret)
		goto err;
	d->ioas_id = alloc.out_ioas_id;
	attach.pt_id = d->ioas_id;
	ret = edu_ioctl(d->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach,
			"VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	if (ret)
		goto err;

	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	ret = edu_ioctl(d->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg, "GET_REGION_INFO(BAR0)");
	if (ret)
		goto err;
	p = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->devfd, reg.offset);
	if (p == MAP_FAILED) {
		ret = -errno;
		edu_log("mmap BAR0: %s", strerror(errno));
		goto err;
	}
	d->bar0 = p;
	d->bar0_size = reg.size;

	memset(&reg, 0, sizeof(reg));
	reg.argsz = sizeof(reg);
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ret = edu_ioctl(d->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg, "GET_REGION_INFO(config)");
	if (ret)
		goto err;
	d->cfg_offset = reg.offset;
	if (pread(d->devfd, &cmd, sizeof(cmd), d->cfg_offset + PCI_COMMAND) != sizeof(cmd)) {
		ret = -EIO;
		edu_log("read PCI_COMMAND failed");
		goto err;
	}
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(d->devfd, &cmd, sizeof(cmd), d->cfg_offset + PCI_COMMAND) != sizeof(cmd)) {
		ret = -EIO;
		edu_log("write PCI_COMMAND failed");
		goto err;
	}
	return 0;
err:
	edu_close(d);
	return ret;
}

/* Map user memory at a fixed IOVA (IOMMU_IOAS_MAP). */
static inline int edu_map_user(struct edu_dev *d, void *va, size_t len, __u64 iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = d->ioas_id,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return edu_ioctl(d->iommufd, IOMMU_IOAS_MAP, &map, "IOMMU_IOAS_MAP");
}

/* Map @len bytes of file @fd from @start at a fixed IOVA (IOMMU_IOAS_MAP_FILE). */
static inline int edu_map_file(struct edu_dev *d, int fd, __u64 start, size_t len, __u64 iova)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = d->ioas_id,
		.fd = fd,
		.start = start,
		.length = len,
		.iova = iova,
	};

	return edu_ioctl(d->iommufd, IOMMU_IOAS_MAP_FILE, &map, "IOMMU_IOAS_MAP_FILE");
}

static inline int edu_unmap(struct edu_dev *d, __u64 iova, size_t len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = d->ioas_id,
		.iova = iova,
		.length = len,
	};

	return edu_ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &unmap, "IOMMU_IOAS_UNMAP");
}

/* Registers below 0x80 take 32-bit accesses only. */
static inline uint32_t edu_readl(struct edu_dev *d, unsigned int off)
{
	return *(volatile uint32_t *)(d->bar0 + off);
}

static inline uint64_t edu_readq(struct edu_dev *d, unsigned int off)
{
	return *(volatile uint64_t *)(d->bar0 + off);
}

static inline void edu_writeq(struct edu_dev *d, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(d->bar0 + off) = v;
}

/* Run one DMA and wait for it (edu completes it from a 100 ms timer). */
static inline int edu_dma(struct edu_dev *d, __u64 src, __u64 dst, __u64 count, __u64 cmd)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	if (!count || count >= EDU_BUF_SIZE) {
		edu_log("DMA of %llu bytes: edu takes 1 to %d", (unsigned long long)count,
			EDU_BUF_SIZE - 1);
		return -EINVAL;
	}
	if (edu_readq(d, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		edu_log("a DMA is already running");
		return -EBUSY;
	}
	edu_writeq(d, EDU_REG_DMA_SRC, src);
	edu_writeq(d, EDU_REG_DMA_DST, dst);
	edu_writeq(d, EDU_REG_DMA_COUNT, count);
	edu_writeq(d, EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
	for (i = 0; i < 2000; i++) {	/* 20 s: TCG on a busy host is slow */
		if (!(edu_readq(d, EDU_REG_DMA_CMD) & EDU_DMA_START))
			return 0;
		nanosleep(&ts, NULL);
	}
	edu_log("DMA did not complete");
	return -ETIMEDOUT;
}

/* Copy @count bytes from IOVA @iova into edu's buffer at @off. */
static inline int edu_dma_to_dev(struct edu_dev *d, __u64 iova, __u64 off, __u64 count)
{
	if (iova > EDU_DMA_MASK || iova + count - 1 > EDU_DMA_MASK ||
	    off + count >= EDU_BUF_SIZE)
		return -ERANGE;
	return edu_dma(d, iova, EDU_BUF + off, count, 0);
}

/* Copy @count bytes from edu's buffer at @off to IOVA @iova. */
static inline int edu_dma_from_dev(struct edu_dev *d, __u64 off, __u64 iova, __u64 count)
{
	if (iova > EDU_DMA_MASK || iova + count - 1 > EDU_DMA_MASK ||
	    off + count >= EDU_BUF_SIZE)
		return -ERANGE;
	return edu_dma(d, EDU_BUF + off, iova, count, EDU_DMA_FROM_DEV);
}

#endif /* EGM_VM_EDU_H */
