// SPDX-License-Identifier: GPL-2.0-only
/*
 * The region registry.
 *
 * Each region is carried by an "egm" platform device that discovery
 * creates, so binding the driver makes the region available and
 * unbinding it revokes every window of the region, whoever still holds it.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/acpi.h>
#include <linux/cpufeature.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

#include "egm.h"

#define EGM_DRV_NAME "egm"

static DEFINE_MUTEX(egm_registry_lock);
/* Bound regions by id; egm_registry_lock. */
static DEFINE_XARRAY(egm_regions);
/* Every region device discovery created, by id; egm_registry_lock. */
static DEFINE_XARRAY_ALLOC(egm_devices);

struct egm_region_dev {
	struct egm_region_desc desc;
	struct platform_device *pdev;
};

static int egm_pxm_to_node(u32 pxm)
{
#ifdef CONFIG_ACPI_NUMA
	return pxm_to_node(pxm);
#else
	return NUMA_NO_NODE;
#endif
}

/*
 * Hidden RAM is absent from the memory map or marked reserved in it: not a
 * PCI window, firmware tables or anything else that is claimed.
 */
static bool egm_range_hidden(u64 base, u64 size)
{
	int rsv = region_intersects(base, size, IORESOURCE_MEM,
				    IORES_DESC_RESERVED);

	if (rsv == REGION_INTERSECTS)
		return true;
	return rsv == REGION_DISJOINT &&
	       region_intersects(base, size, IORESOURCE_MEM,
				 IORES_DESC_NONE) == REGION_DISJOINT;
}

static bool egm_overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

/* Check @desc against the registered regions and claim an id for it. */
static int egm_region_claim(const struct egm_region_desc *desc, u64 end,
			    struct egm_region_dev **out, u32 *id)
{
	struct egm_region_dev *rd, *o;
	unsigned long idx;
	int ret;

	guard(mutex)(&egm_registry_lock);
	xa_for_each(&egm_devices, idx, o) {
		if (o->desc.pxm == desc->pxm) {
			pr_err("PXM %u: a region is already registered\n",
			       desc->pxm);
			return -EEXIST;
		}
		if (egm_overlaps(o->desc.base, o->desc.size, desc->base,
				 desc->size)) {
			pr_err("PXM %u: range %#llx-%#llx overlaps PXM %u\n",
			       desc->pxm, desc->base, end - 1, o->desc.pxm);
			return -EBUSY;
		}
	}

	rd = kzalloc_obj(*rd);
	if (!rd)
		return -ENOMEM;
	rd->desc = *desc;
	ret = xa_alloc(&egm_devices, id, rd, xa_limit_31b, GFP_KERNEL);
	if (ret) {
		kfree(rd);
		return ret;
	}
	*out = rd;
	return 0;
}

static void egm_region_unclaim(u32 id)
{
	mutex_lock(&egm_registry_lock);
	kfree(xa_erase(&egm_devices, id));
	mutex_unlock(&egm_registry_lock);
}

/**
 * egm_region_register() - validate a region and create its device
 * @desc: what firmware or the command line says of the region
 *
 * Return: 0 or a negative errno; the reason is logged.
 */
int egm_region_register(const struct egm_region_desc *desc)
{
	struct platform_device *pdev;
	struct egm_region_dev *rd;
	u64 end;
	u32 id;
	int ret;

	if (!desc->size || check_add_overflow(desc->base, desc->size, &end)) {
		pr_err("PXM %u: bad range %#llx+%#llx\n", desc->pxm,
		       desc->base, desc->size);
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(desc->base) || !PAGE_ALIGNED(desc->size)) {
		pr_err("PXM %u: range %#llx+%#llx is not page aligned\n",
		       desc->pxm, desc->base, desc->size);
		return -EINVAL;
	}
	if (region_intersects(desc->base, desc->size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("PXM %u: range %#llx-%#llx overlaps System RAM\n",
		       desc->pxm, desc->base, end - 1);
		return -EINVAL;
	}
	if (!egm_range_hidden(desc->base, desc->size)) {
		pr_err("PXM %u: range %#llx-%#llx overlaps memory that is not hidden RAM (see /proc/iomem)\n",
		       desc->pxm, desc->base, end - 1);
		return -EBUSY;
	}

	ret = egm_region_claim(desc, end, &rd, &id);
	if (ret)
		return ret;

	/* Probing takes egm_registry_lock: add the device without it. */
	pdev = platform_device_alloc(EGM_DRV_NAME, id);
	if (!pdev) {
		ret = -ENOMEM;
		goto err_unclaim;
	}
	ret = platform_device_add_data(pdev, desc, sizeof(*desc));
	if (ret)
		goto err_put;
	/* Before the device is added, so that its numa_node shows it. */
	set_dev_node(&pdev->dev, egm_pxm_to_node(desc->pxm));
	ret = platform_device_add(pdev);
	if (ret)
		goto err_put;
	mutex_lock(&egm_registry_lock);
	rd->pdev = pdev;
	mutex_unlock(&egm_registry_lock);
	return 0;

err_put:
	platform_device_put(pdev);
err_unclaim:
	egm_region_unclaim(id);
	return ret;
}

/**
 * egm_regions_unregister() - remove every region device
 */
void egm_regions_unregister(void)
{
	struct egm_region_dev *rd;
	unsigned long idx;

	mutex_lock(&egm_registry_lock);
	xa_for_each(&egm_devices, idx, rd) {
		xa_erase(&egm_devices, idx);
		/* The unbind this triggers takes egm_registry_lock. */
		mutex_unlock(&egm_registry_lock);
		if (rd->pdev)
			platform_device_unregister(rd->pdev);
		kfree(rd);
		mutex_lock(&egm_registry_lock);
	}
	mutex_unlock(&egm_registry_lock);
}

static void egm_region_release(struct kref *kref)
{
	struct egm_region *r = container_of(kref, struct egm_region, kref);

	egm_region_memfail_unregister(r);
	egm_allocator_destroy(&r->alloc);
	xa_destroy(&r->bad);
	memunmap(r->kaddr);
	release_mem_region(r->base, r->size);
	kfree(r);
}

/**
 * egm_region_put() - drop a reference on a region
 * @r: the region
 */
void egm_region_put(struct egm_region *r)
{
	kref_put(&r->kref, egm_region_release);
}

/**
 * egm_region_get_by_pxm() - find a live region and reference it
 * @pxm: proximity domain
 *
 * Return: the region, or NULL if no live region has @pxm.
 */
struct egm_region *egm_region_get_by_pxm(u32 pxm)
{
	struct egm_region *r;
	unsigned long idx;

	guard(mutex)(&egm_registry_lock);
	xa_for_each(&egm_regions, idx, r) {
		if (r->pxm == pxm) {
			kref_get(&r->kref);
			return r;
		}
	}
	return NULL;
}

/**
 * egm_region_for_each() - call @fn on every live region, in id order
 * @fn: callback; a nonzero return stops the walk and is returned
 * @arg: passed to @fn
 *
 * Return: 0 or the first nonzero value @fn returned.
 */
int egm_region_for_each(int (*fn)(struct egm_region *r, void *arg), void *arg)
{
	struct egm_region *r;
	unsigned long idx;
	int ret;

	guard(mutex)(&egm_registry_lock);
	xa_for_each(&egm_regions, idx, r) {
		ret = fn(r, arg);
		if (ret)
			return ret;
	}
	return 0;
}

static bool egm_pud_leaf_ok(void)
{
#ifdef CONFIG_X86
	/* A CPU without 1 GiB pages faults on a PUD leaf. */
	return boot_cpu_has(X86_FEATURE_GBPAGES);
#else
	return true;
#endif
}

/**
 * egm_region_align_mask() - the window alignments the driver supports
 *
 * Return: a bitmap where bit n means 2^n bytes: the page size and every
 * size the architecture can map with one page table entry.
 */
unsigned long egm_region_align_mask(void)
{
	unsigned long mask = PAGE_SIZE;

	if (IS_ENABLED(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) &&
	    has_transparent_hugepage())
		mask |= PMD_SIZE;
	if (IS_ENABLED(CONFIG_ARCH_SUPPORTS_PUD_PFNMAP) && egm_pud_leaf_ok())
		mask |= PUD_SIZE;
	return mask;
}

/**
 * egm_region_range_bad() - does a page range hold a page never to be mapped
 * @r: the region
 * @pgoff: first page
 * @npages: number of pages
 *
 * Return: true if any page of the range is retired or poisoned.
 */
bool egm_region_range_bad(struct egm_region *r, unsigned long pgoff,
			  unsigned long npages)
{
	unsigned long idx = pgoff;

	return xa_find(&r->bad, &idx, pgoff + npages - 1, XA_PRESENT);
}

/**
 * egm_region_add_bad() - record a page that must never be mapped again
 * @r: the region
 * @pgoff: page offset in the region
 * @flags: EGM_PAGE_RETIRED or EGM_PAGE_POISONED
 * @gfp: allocation context
 *
 * Return: 1 if the page was not yet recorded with @flags, 0 if it was, or
 * a negative errno.
 */
int egm_region_add_bad(struct egm_region *r, unsigned long pgoff,
		       unsigned long flags, gfp_t gfp)
{
	unsigned long old = 0;
	void *entry;
	int ret;

	if (pgoff >= r->size >> PAGE_SHIFT)
		return -EINVAL;

	xa_lock(&r->bad);
	entry = xa_load(&r->bad, pgoff);
	if (entry)
		old = xa_to_value(entry);
	ret = !(old & flags);
	if (ret)
		ret = xa_err(__xa_store(&r->bad, pgoff,
					xa_mk_value(old | flags), gfp)) ?: 1;
	xa_unlock(&r->bad);
	if (ret == 1 && (flags & EGM_PAGE_POISONED))
		atomic_long_inc(&r->nr_poisoned);
	return ret;
}

static int egm_region_probe(struct platform_device *pdev)
{
	const struct egm_region_desc *desc = dev_get_platdata(&pdev->dev);
	struct device *dev = &pdev->dev;
	struct egm_region *r;
	int ret;

	if (!desc)
		return -EINVAL;

	r = kzalloc_obj(*r);
	if (!r)
		return -ENOMEM;
	kref_init(&r->kref);
	r->dev = dev;
	r->id = pdev->id;
	r->pxm = desc->pxm;
	r->node = dev_to_node(dev);
	r->base = desc->base;
	r->size = desc->size;
	r->desc = *desc;
	xa_init(&r->bad);
	init_rwsem(&r->revoke_rwsem);
	mutex_init(&r->windows_lock);
	INIT_LIST_HEAD(&r->windows);
	ret = egm_allocator_init(&r->alloc, r->size >> PAGE_SHIFT, &r->bad);
	if (ret) {
		kfree(r);
		return ret;
	}
	/* Offsets are region relative: physical alignment needs an aligned base. */
	r->align_mask = egm_region_align_mask() &
			GENMASK_ULL(r->base ? __ffs64(r->base) : 63, 0);

	/* Exclusive: /dev/mem must not read tenant memory, even as root. */
	if (!request_mem_region_exclusive(r->base, r->size, dev_name(dev))) {
		dev_err(dev, "range %pa+%#llx is claimed by another user\n",
			&r->base, r->size);
		ret = -EBUSY;
		goto err_free;
	}

	/*
	 * A write-back mapping for the zeroing workers. It also reserves
	 * the write-back memory type that user PFN mappings inherit: this is
	 * RAM, not MMIO.
	 */
	r->kaddr = memremap(r->base, r->size, MEMREMAP_WB);
	if (!r->kaddr) {
		ret = -ENOMEM;
		goto err_release;
	}

	ret = egm_retired_load(r);
	if (ret)
		goto err_unmap;

	/* Before anything is zeroed or handed out: no failure goes unheard. */
	ret = egm_region_memfail_register(r);
	if (ret)
		goto err_unmap;

	ret = egm_region_link_gpus(r);
	if (ret)
		goto err_memfail;

	/* Everything starts dirty: the scrubber zeroes it in the background. */
	ret = egm_scrub_start(r);
	if (ret)
		goto err_unlink;

	platform_set_drvdata(pdev, r);
	mutex_lock(&egm_registry_lock);
	ret = xa_err(xa_store(&egm_regions, r->id, r, GFP_KERNEL));
	mutex_unlock(&egm_registry_lock);
	if (ret)
		goto err_scrub;

	dev_info(dev, "PXM %u node %d: %pa+%#llx, %lu retired pages\n",
		 r->pxm, r->node, &r->base, r->size, r->nr_retired);
	return 0;

err_scrub:
	egm_scrub_stop(r);
err_unlink:
	egm_region_unlink_gpus(r);
err_memfail:
	egm_region_memfail_unregister(r);
err_unmap:
	memunmap(r->kaddr);
err_release:
	release_mem_region(r->base, r->size);
err_free:
	egm_allocator_destroy(&r->alloc);
	xa_destroy(&r->bad);
	kfree(r);
	return ret;
}

/*
 * Revoke every window: after this no CPU or device mapping of the region
 * exists and none can be made. The memory itself stays reserved until the
 * last window is released.
 */
static void egm_region_revoke(struct egm_region *r)
{
	struct egm_window *w;

	down_write(&r->revoke_rwsem);
	r->dead = true;
	up_write(&r->revoke_rwsem);

	mutex_lock(&r->windows_lock);
	list_for_each_entry(w, &r->windows, node)
		egm_window_revoke(w);
	mutex_unlock(&r->windows_lock);
}

static void egm_region_remove(struct platform_device *pdev)
{
	struct egm_region *r = platform_get_drvdata(pdev);

	mutex_lock(&egm_registry_lock);
	xa_erase(&egm_regions, r->id);
	mutex_unlock(&egm_registry_lock);

	egm_region_revoke(r);
	egm_scrub_stop(r);
	egm_region_unlink_gpus(r);
	dev_info(&pdev->dev, "removed\n");
	egm_region_put(r);
}

static struct platform_driver egm_region_driver = {
	.probe = egm_region_probe,
	.remove = egm_region_remove,
	.driver = {
		.name = EGM_DRV_NAME,
		.dev_groups = egm_region_groups,
		.suppress_bind_attrs = false,
	},
};

/**
 * egm_region_driver_init() - register the region driver
 *
 * Return: 0 or a negative errno.
 */
int egm_region_driver_init(void)
{
	return platform_driver_register(&egm_region_driver);
}

/**
 * egm_region_driver_exit() - unregister the region driver
 */
void egm_region_driver_exit(void)
{
	platform_driver_unregister(&egm_region_driver);
}
