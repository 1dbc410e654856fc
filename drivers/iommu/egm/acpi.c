// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firmware discovery: the _DSD properties Grace firmware puts on each GPU's
 * ACPI companion, and the table of pages it retired for ECC errors.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/property.h>
#include <linux/slab.h>
#include <linux/unaligned.h>

#include "egm.h"

#define EGM_PROP_BASE		"nvidia,egm-base-pa"
#define EGM_PROP_SIZE		"nvidia,egm-size"
#define EGM_PROP_PXM		"nvidia,egm-pxm"
#define EGM_PROP_RETIRED	"nvidia,egm-retired-pages-data-base"

/* Firmware records retired pages at this granularity, whatever PAGE_SIZE. */
#define EGM_RETIRED_GRANULE	SZ_4K

bool egm_allow_no_retired_table;
module_param_named(allow_no_retired_table, egm_allow_no_retired_table, bool,
		   0444);
MODULE_PARM_DESC(allow_no_retired_table,
		 "Use firmware regions that have no retired-page table, as if no page were retired (unsafe)");

/**
 * egm_retired_parse() - walk a firmware retired-page table
 * @table: the table as mapped: little-endian u64 count, then count u64
 *	   physical addresses
 * @len: number of bytes mapped at @table
 * @base: physical base of the region
 * @size: size of the region in bytes
 * @add: called with the region page offset of every entry in the region;
 *	 a nonzero return stops the walk and is returned
 * @arg: passed to @add
 *
 * Entries outside the region are skipped. With a PAGE_SIZE larger than
 * firmware's 4 KiB records, the whole page that holds a record is reported.
 *
 * Return: the number of entries skipped, or -EINVAL if the table is
 * shorter than its count says, or the first error @add returned.
 */
int egm_retired_parse(const void *table, size_t len, u64 base, u64 size,
		      int (*add)(void *arg, unsigned long pgoff), void *arg)
{
	const u8 *p = table;
	u64 count, i, spa;
	int skipped = 0;
	int ret;

	if (len < sizeof(u64))
		return -EINVAL;
	count = get_unaligned_le64(p);
	if (count > (len - sizeof(u64)) / sizeof(u64))
		return -EINVAL;

	for (i = 0; i < count; i++) {
		spa = get_unaligned_le64(p + sizeof(u64) * (i + 1));
		if (spa < base || spa - base >= size) {
			skipped++;
			continue;
		}
		ret = add(arg, (spa - base) >> PAGE_SHIFT);
		if (ret)
			return ret;
	}
	return skipped;
}

static int egm_retired_add(void *arg, unsigned long pgoff)
{
	struct egm_region *r = arg;
	int ret;

	ret = egm_region_add_bad(r, pgoff, EGM_PAGE_RETIRED, GFP_KERNEL);
	if (ret < 0)
		return ret;
	r->nr_retired += ret;
	return 0;
}

/**
 * egm_retired_load() - record the pages firmware retired in a region
 * @r: the region, not yet visible to users
 *
 * A table address of 0 from firmware is a bug that may hide bad pages: the
 * region is refused unless egm.allow_no_retired_table is set. Regions of
 * egm.regions= have no table.
 *
 * Return: 0, or a negative errno if the table cannot be trusted.
 */
int egm_retired_load(struct egm_region *r)
{
	phys_addr_t pa = r->desc.retired_pa;
	u64 count, max = r->size / EGM_RETIRED_GRANULE;
	size_t len;
	void *map;
	int ret;

	if (!pa && r->desc.from_param)
		return 0;
	if (!pa && !egm_allow_no_retired_table) {
		dev_err(r->dev, FW_BUG "no retired-page table, so bad pages may be handed out; refusing the region (egm.allow_no_retired_table=1 uses it anyway)\n");
		return -ENOENT;
	}
	if (!pa) {
		dev_warn(r->dev, FW_BUG "no retired-page table; egm.allow_no_retired_table is set, assuming no page is retired\n");
		return 0;
	}

	map = memremap(pa, sizeof(u64), MEMREMAP_WB);
	if (!map)
		return -ENOMEM;
	count = get_unaligned_le64(map);
	memunmap(map);

	/* Each 4 KiB of the region can be retired at most once. */
	if (count > max) {
		dev_err(r->dev, FW_BUG "retired-page table at %pa claims %llu entries, more than the region's %llu\n",
			&pa, count, max);
		return -E2BIG;
	}
	if (!count)
		return 0;

	len = sizeof(u64) * (count + 1);
	map = memremap(pa, len, MEMREMAP_WB);
	if (!map)
		return -ENOMEM;
	ret = egm_retired_parse(map, len, r->base, r->size, egm_retired_add, r);
	memunmap(map);
	if (ret < 0)
		return ret;
	if (ret)
		dev_warn(r->dev, FW_BUG "ignored %d retired pages outside the region\n",
			 ret);
	return 0;
}

struct egm_fw_region {
	struct egm_region_desc desc;
	struct pci_dev *first;
	bool conflict;
};

static int egm_read_props(struct pci_dev *pdev, struct egm_region_desc *d)
{
	struct device *dev = &pdev->dev;
	u64 pxm;
	int ret;

	ret = device_property_read_u64(dev, EGM_PROP_BASE, &d->base);
	ret = ret ?: device_property_read_u64(dev, EGM_PROP_SIZE, &d->size);
	ret = ret ?: device_property_read_u64(dev, EGM_PROP_PXM, &pxm);
	ret = ret ?: device_property_read_u64(dev, EGM_PROP_RETIRED,
					      &d->retired_pa);
	if (ret) {
		pci_err(pdev, FW_BUG "incomplete EGM properties (%d)\n", ret);
		return ret;
	}
	if (pxm > U32_MAX) {
		pci_err(pdev, FW_BUG "EGM PXM %llu out of range\n", pxm);
		return -EINVAL;
	}
	d->pxm = pxm;
	return 0;
}

/* The next PCI device after @pdev with complete EGM properties, in @d. */
static struct pci_dev *egm_next_gpu(struct pci_dev *pdev,
				    struct egm_region_desc *d)
{
	while ((pdev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, pdev))) {
		memset(d, 0, sizeof(*d));
		if (device_property_present(&pdev->dev, EGM_PROP_BASE) &&
		    !egm_read_props(pdev, d))
			return pdev;
	}
	return NULL;
}

/**
 * egm_acpi_discover() - register the regions that firmware describes
 *
 * Several GPUs of one socket report the same region; keep one per PXM. GPUs
 * that disagree about a PXM's region make it unusable: which one to trust
 * cannot be known.
 *
 * Return: the number of regions registered.
 */
int egm_acpi_discover(void)
{
	struct egm_fw_region *regs = NULL, *f;
	struct egm_region_desc d;
	struct pci_dev *pdev = NULL;
	unsigned int n = 0, i;
	int registered = 0;

	while ((pdev = egm_next_gpu(pdev, &d))) {
		for (i = 0; i < n; i++)
			if (regs[i].desc.pxm == d.pxm)
				break;
		if (i < n) {
			f = &regs[i];
			if (f->desc.base != d.base || f->desc.size != d.size ||
			    f->desc.retired_pa != d.retired_pa) {
				pci_err(pdev, FW_BUG "EGM region of PXM %u is %#llx+%#llx (retired %#llx) but %s says %#llx+%#llx (retired %#llx); not using PXM %u\n",
					d.pxm, d.base, d.size, d.retired_pa,
					pci_name(f->first), f->desc.base,
					f->desc.size, f->desc.retired_pa, d.pxm);
				f->conflict = true;
			}
			continue;
		}

		f = krealloc_array(regs, n + 1, sizeof(*regs), GFP_KERNEL);
		if (!f) {
			pci_dev_put(pdev);
			break;
		}
		regs = f;
		regs[n].desc = d;
		regs[n].first = pci_dev_get(pdev);
		regs[n].conflict = false;
		n++;
	}

	for (i = 0; i < n; i++) {
		if (!regs[i].conflict && !egm_region_register(&regs[i].desc))
			registered++;
		pci_dev_put(regs[i].first);
	}
	kfree(regs);
	return registered;
}

/**
 * egm_region_walk_gpus() - call @fn for every GPU that reports @r
 * @r: the region
 * @fn: callback
 * @arg: passed to @fn
 *
 * Return: 0 or the first nonzero value @fn returned.
 */
int egm_region_walk_gpus(struct egm_region *r, egm_gpu_fn fn, void *arg)
{
	struct egm_region_desc d;
	struct pci_dev *pdev = NULL;
	int ret;

	while ((pdev = egm_next_gpu(pdev, &d))) {
		if (d.pxm != r->pxm || d.base != r->base || d.size != r->size)
			continue;
		ret = fn(pdev, arg);
		if (ret) {
			pci_dev_put(pdev);
			return ret;
		}
	}
	return 0;
}
