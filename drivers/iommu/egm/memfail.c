// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory failure on window pages.
 *
 * EGM has no struct pages, so memory_failure() reaches the driver only
 * through the pfn_address_space of the window that maps the page, and only
 * to ask where user mappings of it are. That question, which must not
 * sleep, is where the poison is recorded: later faults and zeroing skip
 * the page for good, and a worker zaps the window's mappings so that they
 * fault back in around it.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/memory-failure.h>
#include <linux/mm.h>
#include <linux/workqueue.h>

#include "egm.h"

static void egm_poison_work(struct work_struct *work)
{
	struct egm_window *w = container_of(work, struct egm_window,
					    poison_work);
	struct egm_region *r = w->region;

	/* Wait out faults that checked the page before it was recorded. */
	down_write(&r->revoke_rwsem);
	up_write(&r->revoke_rwsem);
	unmap_mapping_range(w->inode->i_mapping, 0, 0, 1);

	/*
	 * iommufd cannot unmap one page of an import: stop all DMA to the
	 * window rather than let a device reach the page.
	 */
	mutex_lock(&r->windows_lock);
	egm_window_revoke_imports(w);
	mutex_unlock(&r->windows_lock);
}

/* Called under i_mmap_lock and rcu_read_lock: must not sleep. */
static int egm_pfn_to_vma_pgoff(struct vm_area_struct *vma, unsigned long pfn,
				pgoff_t *pgoff)
{
	struct egm_window *w = vma->vm_private_data;
	unsigned long off = pfn - PHYS_PFN(egm_window_phys(w));

	if (off >= w->npages)
		return -EFAULT;
	if (egm_region_add_bad(w->region, w->pgoff + off, EGM_PAGE_POISONED,
			       GFP_ATOMIC) > 0) {
		dev_warn_ratelimited(w->region->dev,
				     "page %#lx poisoned; never mapped again\n",
				     pfn);
		schedule_work(&w->poison_work);
	}
	if (off < vma->vm_pgoff || off - vma->vm_pgoff >= vma_pages(vma))
		return -EFAULT;
	*pgoff = off;
	return 0;
}

/**
 * egm_window_memfail_register() - route memory failures of a window here
 * @w: the window, with its inode
 *
 * Return: 0 or a negative errno. Kernels without memory failure support
 * report nothing, which is not an error.
 */
int egm_window_memfail_register(struct egm_window *w)
{
	int ret;

	INIT_WORK(&w->poison_work, egm_poison_work);
	w->pfn_space.node.start = PHYS_PFN(egm_window_phys(w));
	w->pfn_space.node.last = w->pfn_space.node.start + w->npages - 1;
	w->pfn_space.mapping = w->inode->i_mapping;
	w->pfn_space.pfn_to_vma_pgoff = egm_pfn_to_vma_pgoff;
	ret = register_pfn_address_space(&w->pfn_space);
	if (ret == -EOPNOTSUPP)
		return 0;
	if (!ret)
		w->memfail_registered = true;
	return ret;
}

/**
 * egm_window_memfail_unregister() - stop routing before the range is reused
 * @w: the window
 */
void egm_window_memfail_unregister(struct egm_window *w)
{
	if (!w->memfail_registered)
		return;
	unregister_pfn_address_space(&w->pfn_space);
	cancel_work_sync(&w->poison_work);
	w->memfail_registered = false;
}
