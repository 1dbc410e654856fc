// SPDX-License-Identifier: GPL-2.0-only
/*
 * The provider side of IOMMU_IOAS_MAP_FILE on window files.
 *
 * iommufd asks for the physical ranges behind a range of a window and holds a
 * reference on the file for as long as any IOAS maps it, so the window stays
 * allocated, and is neither zeroed nor reused, until the last mapping is
 * gone. The IOMMU maps what the CPU maps: a substituted page's spare, and
 * nothing for a hole. When the region goes away every import of the
 * window is revoked; when a page is poisoned, every import that reaches it.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "egm.h"

/**
 * struct egm_import - one IOMMU_IOAS_MAP_FILE of a window
 * @node: entry in egm_window.imports
 * @imp: iommufd's handle, for iommufd_phys_revoke()
 * @vecs: the runs lent to iommufd, until unmap_phys
 * @nr_vecs: number of @vecs
 * @revoked: iommufd_phys_revoke() was called on @imp
 */
struct egm_import {
	struct list_head node;
	struct iommufd_phys_import *imp;
	struct iommufd_phys_vec *vecs;
	unsigned int nr_vecs;
	bool revoked;
};

/**
 * struct egm_runs - runs being collected by egm_window_phys_runs()
 * @vecs: where to store them, or NULL to only count them
 * @max: number of entries in @vecs
 * @nr: number of runs found so far, which may exceed @max
 * @last: the latest run
 */
struct egm_runs {
	struct iommufd_phys_vec *vecs;
	unsigned int max;
	unsigned int nr;
	struct iommufd_phys_vec last;
};

/*
 * Add @npages pages at window byte offset @offset, backed from @paddr on:
 * extend the latest run if both follow on from it, else start a new run.
 */
static void egm_runs_add(struct egm_runs *runs, u64 offset, phys_addr_t paddr,
			 unsigned long npages)
{
	struct iommufd_phys_vec *last = &runs->last;
	u64 len = (u64)npages << PAGE_SHIFT;

	if (!npages)
		return;
	if (runs->nr && last->offset + last->phys.len == offset &&
	    last->phys.paddr + last->phys.len == paddr) {
		last->phys.len += len;
	} else {
		runs->nr++;
		last->offset = offset;
		last->phys.paddr = paddr;
		last->phys.len = len;
	}
	if (runs->vecs && runs->nr <= runs->max)
		runs->vecs[runs->nr - 1] = *last;
}

/**
 * egm_window_phys_runs() - the runs behind a range of a window
 * @w: the window; the caller holds its region's windows_lock
 * @start: page aligned byte offset in the window
 * @length: page aligned length, within the window
 * @vecs: where to store the runs, or NULL to only count them
 * @max: number of entries in @vecs
 *
 * Each run is a physically contiguous stretch of pages that a device may
 * reach. A bad page is a one-page run of its spare if it has a working one,
 * else a hole; either ends the run before it.
 *
 * Return: the number of runs, which is more than @max if they did not fit.
 */
static unsigned int egm_window_phys_runs(struct egm_window *w, u64 start,
					 u64 length, struct iommufd_phys_vec *vecs,
					 unsigned int max)
{
	struct egm_region *r = w->region;
	struct egm_runs runs = { .vecs = vecs, .max = max };
	unsigned long first = w->pgoff + (start >> PAGE_SHIFT);
	unsigned long last = first + (length >> PAGE_SHIFT) - 1;
	unsigned long pos = first;
	unsigned long idx;
	void *entry;

	lockdep_assert_held(&r->windows_lock);

	xa_for_each_range(&r->bad, idx, entry, first, last) {
		unsigned long rpg = egm_window_region_page(w, idx - w->pgoff);

		/* Pages [pos, idx) are good; a spare may back idx. */
		egm_runs_add(&runs, (u64)(pos - w->pgoff) << PAGE_SHIFT,
			     r->base + ((phys_addr_t)pos << PAGE_SHIFT),
			     idx - pos);
		if (rpg != idx && !xa_load(&r->bad, rpg))
			egm_runs_add(&runs, (u64)(idx - w->pgoff) << PAGE_SHIFT,
				     r->base + ((phys_addr_t)rpg << PAGE_SHIFT),
				     1);
		pos = idx + 1;
	}
	egm_runs_add(&runs, (u64)(pos - w->pgoff) << PAGE_SHIFT,
		     r->base + ((phys_addr_t)pos << PAGE_SHIFT), last + 1 - pos);
	return runs.nr;
}

static int egm_map_phys(struct file *file, u64 start, u64 length,
			struct iommufd_phys_import *imp,
			struct iommufd_phys_map *map)
{
	struct egm_window *w = file->private_data;
	struct egm_region *r = w->region;
	u64 len = egm_window_length(w);
	struct iommufd_phys_vec *vecs;
	unsigned int nr, got;
	struct egm_import *e;
	int ret = 0;

	if (!length || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(length) ||
	    start >= len || length > len - start)
		return -EINVAL;
	/* A device must not read what the window held before it was zeroed. */
	ret = egm_scrub_wait(w, start >> PAGE_SHIFT, length >> PAGE_SHIFT,
			     false);
	if (ret)
		return ret;

	e = kzalloc_obj(*e, GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	e->imp = imp;

	/*
	 * Build the runs and join the window's imports under the lock that
	 * poison is recorded under, so that a page poisoned after the runs
	 * were built finds the import to revoke.
	 */
	mutex_lock(&r->windows_lock);
	nr = egm_window_phys_runs(w, start, length, NULL, 0);
	vecs = NULL;
	if (nr) {
		vecs = kvcalloc(nr, sizeof(*vecs), GFP_KERNEL_ACCOUNT);
		if (!vecs)
			ret = -ENOMEM;
	}
	if (!ret) {
		got = egm_window_phys_runs(w, start, length, vecs, nr);
		if (WARN_ON_ONCE(got != nr))
			ret = -EAGAIN;
	}
	if (!ret && w->revoked)
		ret = -ENODEV;
	if (!ret) {
		e->vecs = vecs;
		e->nr_vecs = got;
		list_add_tail(&e->node, &w->imports);
	}
	mutex_unlock(&r->windows_lock);
	if (ret) {
		kvfree(vecs);
		kfree(e);
		return ret;
	}

	map->vecs = vecs;
	map->nr_vecs = got;
	/*
	 * This is RAM: the IOMMU maps it cacheable, exactly as the CPU does,
	 * so that device and CPU views stay coherent.
	 */
	map->mmio = false;
	return 0;
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
	if (WARN_ON(!found))
		return;
	kvfree(found->vecs);
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
	list_for_each_entry(e, &w->imports, node) {
		iommufd_phys_revoke(e->imp);
		e->revoked = true;
	}
}

/**
 * egm_window_revoke_imports_at() - stop the DMA that reaches a page
 * @w: the window; the caller holds its region's windows_lock
 * @pa: physical address of the page
 *
 * Return: the number of imports newly revoked.
 */
unsigned int egm_window_revoke_imports_at(struct egm_window *w,
					  phys_addr_t pa)
{
	struct egm_import *e;
	unsigned int i, n = 0;

	lockdep_assert_held(&w->region->windows_lock);
	list_for_each_entry(e, &w->imports, node) {
		if (e->revoked)
			continue;
		for (i = 0; i < e->nr_vecs; i++) {
			struct iommufd_phys_vec *v = &e->vecs[i];

			if (pa >= v->phys.paddr &&
			    pa - v->phys.paddr < v->phys.len)
				break;
		}
		if (i == e->nr_vecs)
			continue;
		iommufd_phys_revoke(e->imp);
		e->revoked = true;
		n++;
	}
	return n;
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
