// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory failure in a region.
 *
 * EGM has no struct pages: memory_failure() reaches the driver through
 * pfn_address_spaces. Each region has one that covers all of it and hears
 * of every failure, whether the page is mapped, only imported by iommufd,
 * in an open window nobody mapped, or free. Each window has one more that
 * only tells memory_failure() where its pages are mapped, so that
 * early-kill processes get their BUS_MCEERR_AO.
 *
 * A poisoned page is recorded for good: faults and zeroing skip it and the
 * allocator never hands it out. The mapping entry that covers it is zapped,
 * so that the next touch faults and gets BUS_MCEERR_AR, and the rest of
 * the block faults back in around it. iommufd cannot unmap one page of an
 * import, so the imports that reach the page are revoked and the window
 * reports it, through EGM_WINDOW_INFO and poll(), for the VMM to map its
 * DMA again around the page.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/debugfs.h>
#include <linux/memory-failure.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <uapi/linux/egm.h>

#include "egm.h"

/* The offset in @w that region page @rpg backs, if it backs any. */
static bool egm_window_offset_of(struct egm_window *w, unsigned long rpg,
				 unsigned long *off)
{
	unsigned long idx;
	void *spare;

	if (rpg >= w->pgoff && rpg - w->pgoff < w->npages &&
	    egm_window_region_page(w, rpg - w->pgoff) == rpg) {
		*off = rpg - w->pgoff;
		return true;
	}
	xa_for_each(&w->subst, idx, spare) {
		if (xa_to_value(spare) == rpg) {
			*off = idx;
			return true;
		}
	}
	return false;
}

/* Called under memory_failure()'s mutexes: must not (un)register a space. */
static void egm_region_notify_failure(struct pfn_address_space *pfn_space,
				      unsigned long pfn, int flags)
{
	struct egm_region *r = container_of(pfn_space, struct egm_region,
					    pfn_space);
	unsigned long rpg = pfn - PHYS_PFN(r->base), off;
	struct egm_window *w;
	int ret;

	/* Under windows_lock, so that map_phys() sees it or is revoked. */
	mutex_lock(&r->windows_lock);
	ret = egm_region_add_bad(r, rpg, EGM_PAGE_POISONED,
				 GFP_KERNEL | __GFP_NOFAIL);
	mutex_unlock(&r->windows_lock);
	if (ret <= 0)
		return;
	dev_warn(r->dev, "pfn %#lx poisoned; never mapped again\n", pfn);

	/* Wait out faults that checked the page before it was recorded. */
	down_write(&r->revoke_rwsem);
	up_write(&r->revoke_rwsem);

	mutex_lock(&r->windows_lock);
	list_for_each_entry(w, &r->windows, node) {
		unsigned int revoked;

		if (!egm_window_offset_of(w, rpg, &off))
			continue;
		/* The leaf entry that covers the page, huge or not. */
		unmap_mapping_range(w->inode->i_mapping,
				    (loff_t)off << PAGE_SHIFT, PAGE_SIZE, 1);
		revoked = egm_window_revoke_imports_at(w, PFN_PHYS(pfn));
		w->nr_dma_revoked += revoked;
		atomic_or(EGM_WINDOW_EVENT_POISON |
			  (revoked ? EGM_WINDOW_EVENT_DMA_REVOKED : 0),
			  &w->events);
		wake_up_all(&w->event_wq);
	}
	mutex_unlock(&r->windows_lock);
}

/*
 * Kernels without memory failure support report nothing, which is not an
 * error; *@registered says whether there is something to unregister.
 */
static int egm_pfn_space_register(struct pfn_address_space *space,
				  bool *registered)
{
	int ret = register_pfn_address_space(space);

	*registered = !ret;
	return ret == -EOPNOTSUPP ? 0 : ret;
}

/**
 * egm_region_memfail_register() - hear of every memory failure in a region
 * @r: the region
 *
 * Return: 0 or a negative errno. Kernels without memory failure support
 * report nothing, which is not an error.
 */
int egm_region_memfail_register(struct egm_region *r)
{
	r->pfn_space.node.start = PHYS_PFN(r->base);
	r->pfn_space.node.last = PHYS_PFN(r->base + r->size) - 1;
	r->pfn_space.notify_failure = egm_region_notify_failure;
	return egm_pfn_space_register(&r->pfn_space, &r->memfail_registered);
}

/**
 * egm_region_memfail_unregister() - stop hearing of failures in a region
 * @r: the region, with no window left
 */
void egm_region_memfail_unregister(struct egm_region *r)
{
	if (r->memfail_registered)
		unregister_pfn_address_space(&r->pfn_space);
	r->memfail_registered = false;
}

/* Called under i_mmap_lock and rcu_read_lock: must not sleep. */
static int egm_pfn_to_vma_pgoff(struct vm_area_struct *vma, unsigned long pfn,
				pgoff_t *pgoff)
{
	struct egm_window *w = vma->vm_private_data;
	unsigned long off = pfn - PHYS_PFN(egm_window_phys(w));

	if (off >= w->npages || off < vma->vm_pgoff ||
	    off - vma->vm_pgoff >= vma_pages(vma))
		return -EFAULT;
	*pgoff = off;
	return 0;
}

/**
 * egm_window_memfail_register() - say where a window's pages are mapped
 * @w: the window, with its inode
 *
 * Return: 0 or a negative errno.
 */
int egm_window_memfail_register(struct egm_window *w)
{
	w->pfn_space.node.start = PHYS_PFN(egm_window_phys(w));
	w->pfn_space.node.last = w->pfn_space.node.start + w->npages - 1;
	w->pfn_space.mapping = w->inode->i_mapping;
	w->pfn_space.pfn_to_vma_pgoff = egm_pfn_to_vma_pgoff;
	return egm_pfn_space_register(&w->pfn_space, &w->memfail_registered);
}

/**
 * egm_window_memfail_unregister() - before the range is reused
 * @w: the window
 */
void egm_window_memfail_unregister(struct egm_window *w)
{
	if (w->memfail_registered)
		unregister_pfn_address_space(&w->pfn_space);
	w->memfail_registered = false;
}

#ifdef CONFIG_EGM_DEBUG
static struct dentry *egm_debugfs;

struct egm_inject {
	struct work_struct work;
	unsigned long pfn;
	int ret;
};

static void egm_inject_work(struct work_struct *work)
{
	struct egm_inject *inj = container_of(work, struct egm_inject, work);

	inj->ret = memory_failure(inj->pfn, 0);
}

/*
 * Write a physical address: memory_failure() runs on it from a workqueue,
 * as for an error GHES reports, and the write returns what it returned.
 */
static ssize_t egm_inject_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct egm_inject inj;
	u64 pa;
	int ret;

	ret = kstrtou64_from_user(ubuf, count, 0, &pa);
	if (ret)
		return ret;
	inj.pfn = PHYS_PFN(pa);
	INIT_WORK_ONSTACK(&inj.work, egm_inject_work);
	queue_work(system_dfl_wq, &inj.work);
	flush_work(&inj.work);
	destroy_work_on_stack(&inj.work);
	return inj.ret ?: count;
}

static const struct file_operations egm_inject_fops = {
	.owner = THIS_MODULE,
	.write = egm_inject_write,
	.llseek = noop_llseek,
};

/**
 * egm_memfail_debugfs_init() - the poison injection knob of debug kernels
 */
void egm_memfail_debugfs_init(void)
{
	egm_debugfs = debugfs_create_dir("egm", NULL);
	debugfs_create_file("inject_poison", 0200, egm_debugfs, NULL,
			    &egm_inject_fops);
}

/**
 * egm_memfail_debugfs_exit() - remove the knob
 */
void egm_memfail_debugfs_exit(void)
{
	debugfs_remove(egm_debugfs);
}
#endif
