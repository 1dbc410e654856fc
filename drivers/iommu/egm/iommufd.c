// SPDX-License-Identifier: GPL-2.0-only
/*
 * The provider side of IOMMU_IOAS_MAP_FILE on window files.
 *
 * iommufd asks for the physical range behind a window and holds a reference
 * on the file for as long as any IOAS maps it, so the window stays
 * allocated, and is neither zeroed nor reused, until the last mapping is
 * gone. When the region goes away every import is revoked.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "egm.h"

struct egm_import {
	struct list_head node;
	struct iommufd_phys_import *imp;
};

static int egm_map_phys(struct file *file, u64 start, u64 length,
			struct iommufd_phys_import *imp,
			struct iommufd_phys *phys)
{
	struct egm_window *w = file->private_data;
	struct egm_region *r = w->region;
	u64 len = egm_window_length(w);
	struct egm_import *e;
	int ret = 0;

	if (!length || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(length) ||
	    start >= len || length > len - start)
		return -EINVAL;
	/*
	 * A device must not reach a retired or poisoned page any more than
	 * the CPU may: import the ranges around them, as EGM_WINDOW_INFO
	 * lists them.
	 */
	if (egm_region_range_bad(r, w->pgoff + (start >> PAGE_SHIFT),
				 length >> PAGE_SHIFT))
		return -EHWPOISON;

	e = kzalloc_obj(*e);
	if (!e)
		return -ENOMEM;
	e->imp = imp;

	mutex_lock(&r->windows_lock);
	if (w->revoked) {
		ret = -ENODEV;
	} else {
		/*
		 * This is RAM: the IOMMU maps it cacheable, exactly as the CPU
		 * does, so that device and CPU views stay coherent.
		 */
		phys->paddr = egm_window_phys(w);
		phys->len = len;
		phys->mmio = false;
		list_add_tail(&e->node, &w->imports);
	}
	mutex_unlock(&r->windows_lock);
	if (ret)
		kfree(e);
	return ret;
}

static void egm_unmap_phys(struct file *file, struct iommufd_phys_import *imp)
{
	struct egm_window *w = file->private_data;
	struct egm_region *r = w->region;
	struct egm_import *e, *found = NULL;

	mutex_lock(&r->windows_lock);
	list_for_each_entry(e, &w->imports, node) {
		if (e->imp == imp) {
			list_del(&e->node);
			found = e;
			break;
		}
	}
	mutex_unlock(&r->windows_lock);
	WARN_ON(!found);
	kfree(found);
}

/**
 * egm_window_revoke_imports() - stop all DMA to a window
 * @w: the window; the caller holds its region's windows_lock
 */
void egm_window_revoke_imports(struct egm_window *w)
{
	struct egm_import *e;

	lockdep_assert_held(&w->region->windows_lock);
	list_for_each_entry(e, &w->imports, node)
		iommufd_phys_revoke(e->imp);
}

static struct iommufd_phys_provider egm_phys_provider = {
	.fops = &egm_window_fops,
	.map_phys = egm_map_phys,
	.unmap_phys = egm_unmap_phys,
};

/**
 * egm_iommufd_init() - offer window files to IOMMU_IOAS_MAP_FILE
 *
 * Return: 0 or a negative errno.
 */
int egm_iommufd_init(void)
{
	return iommufd_phys_provider_register(&egm_phys_provider);
}

/**
 * egm_iommufd_exit() - withdraw the offer
 */
void egm_iommufd_exit(void)
{
	iommufd_phys_provider_unregister(&egm_phys_provider);
}

MODULE_IMPORT_NS("IOMMUFD");
