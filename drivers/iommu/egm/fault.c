// SPDX-License-Identifier: GPL-2.0-only
/*
 * mmap of window files.
 *
 * Nothing is inserted at mmap time. Faults insert PFNs at the largest size
 * the address, the physical address and the window's alignment allow (PUD,
 * PMD, then PTE), and fall back to a smaller size around pages that must
 * never be mapped. A page fault maps the PMD-sized block around it.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <uapi/linux/egm.h>

#include "egm.h"

static unsigned long max_map_size;
module_param(max_map_size, ulong, 0644);
MODULE_PARM_DESC(max_map_size,
		 "Largest page table entry faults insert, in bytes: PAGE_SIZE maps windows with pages only (default 0: no limit)");

/* The largest mapping size a window of alignment @align gets. */
static unsigned long egm_map_size(unsigned long align)
{
	unsigned long mask = egm_region_align_mask() & (align | (align - 1));
	unsigned long cap = READ_ONCE(max_map_size);

	if (cap)
		mask &= cap | (cap - 1);
	return mask ? BIT(__fls(mask)) : PAGE_SIZE;
}

/* The largest mapping size below @size, or PAGE_SIZE. */
static unsigned long egm_map_size_below(unsigned long size)
{
	unsigned long mask = egm_region_align_mask() & (size - 1);

	return mask ? BIT(__fls(mask)) : PAGE_SIZE;
}

static vm_fault_t egm_insert(struct vm_fault *vmf, unsigned long pfn,
			     unsigned int order)
{
	bool write = vmf->flags & FAULT_FLAG_WRITE;

	if (!order)
		return vmf_insert_pfn(vmf->vma, vmf->address, pfn);
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
	if (order == PMD_ORDER)
		return vmf_insert_pfn_pmd(vmf, pfn, write);
#endif
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	if (order == PUD_ORDER)
		return vmf_insert_pfn_pud(vmf, pfn, write);
#endif
	return VM_FAULT_FALLBACK;
}

/* Say which window, which offset and why, so an operator is not left guessing. */
static void egm_report_bad(struct egm_window *w, unsigned long off,
			   unsigned long pfn)
{
	u32 why = egm_window_bad_page(w, off);

	dev_warn_ratelimited(w->region->dev,
			     "%s[%d]: window %llu offset %#llx (pfn %#lx) is %s; SIGBUS\n",
			     current->comm, task_pid_nr(current), w->inode->i_ino,
			     (u64)off << PAGE_SHIFT, pfn,
			     why & EGM_BAD_PAGE_POISONED ? "poisoned" :
			     "retired by firmware, and the window has holes");
}

/*
 * The pages are not zeroed yet (EGM_ALLOC_ASYNC): zero them, or wait for
 * the thread that is. Like a page cache fault waiting for I/O, drop the
 * mmap lock for that and have the fault retried when the fault allows it.
 * Return: 0 to go on with the fault, or what to return from it.
 */
static vm_fault_t egm_fault_wait(struct vm_fault *vmf, struct egm_window *w,
				 unsigned long off, unsigned long npages)
{
	struct file *file;
	int ret;

	if (fault_flag_allow_retry_first(vmf->flags)) {
		if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
			return VM_FAULT_RETRY;
		/* The window lives while we wait without the lock. */
		file = get_file(vmf->vma->vm_file);
		release_fault_lock(vmf);
		egm_scrub_wait(w, off, npages, true);
		fput(file);
		return VM_FAULT_RETRY;
	}
	ret = egm_scrub_wait(w, off, npages, true);
	return ret ? VM_FAULT_SIGBUS : 0;
}

/*
 * A mapping whose address is not congruent to its file offset modulo
 * PMD_SIZE gets pages only, and QEMU maps a memory-backend-file at any
 * page unless told an alignment. Map the good, zeroed pages of the
 * PMD-sized block around a page fault with it, so that touching such a
 * mapping takes a fault per block, not per page.
 */
static void egm_fault_around(struct vm_fault *vmf, struct egm_window *w,
			     unsigned long pgoff)
{
	struct vm_area_struct *vma = vmf->vma;
	struct egm_region *r = w->region;
	unsigned long block = ALIGN_DOWN(vmf->address, PMD_SIZE);
	unsigned long start = max(block, vma->vm_start);
	unsigned long end = min(block + PMD_SIZE, vma->vm_end);
	unsigned long cap = READ_ONCE(max_map_size);
	unsigned long first, n, addr, off, rpg;

	/* Capped below PMD_SIZE: a page per fault, as asked. */
	if (cap && cap < PMD_SIZE)
		return;
	first = pgoff - ((vmf->address - start) >> PAGE_SHIFT);
	n = min((end - start) >> PAGE_SHIFT, w->npages - first);
	if (unlikely(w->scrub) && egm_scrub_pending(w, first, n))
		return;
	for (off = first; off < first + n; off++) {
		addr = start + ((off - first) << PAGE_SHIFT);
		if (off == pgoff)
			continue;
		rpg = egm_window_region_page(w, off);
		if (xa_load(&r->bad, rpg))
			continue;
		if (vmf_insert_pfn(vma, addr, PHYS_PFN(r->base) + rpg) &
		    VM_FAULT_ERROR)
			break;
	}
}

static vm_fault_t egm_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct egm_window *w = vma->vm_private_data;
	struct egm_region *r = w->region;
	unsigned long size = PAGE_SIZE << order;
	unsigned long addr = ALIGN_DOWN(vmf->address, size);
	unsigned long pgoff, rpg, pfn;
	vm_fault_t ret;

	if (order && (size > egm_map_size(w->align) ||
		      addr < vma->vm_start || addr + size > vma->vm_end))
		return VM_FAULT_FALLBACK;

	pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	if (pgoff >= w->npages || (1UL << order) > w->npages - pgoff)
		return VM_FAULT_SIGBUS;
	if (unlikely(w->scrub) && egm_scrub_pending(w, pgoff, 1UL << order)) {
		ret = egm_fault_wait(vmf, w, pgoff, 1UL << order);
		if (ret)
			return ret;
	}
	/* A substituted page is a single page elsewhere: order 0 only. */
	rpg = order ? w->pgoff + pgoff : egm_window_region_page(w, pgoff);
	pfn = PHYS_PFN(r->base) + rpg;
	if (!IS_ALIGNED(pfn, 1UL << order))
		return VM_FAULT_FALLBACK;

	down_read(&r->revoke_rwsem);
	if (r->dead || READ_ONCE(w->revoked)) {
		ret = VM_FAULT_SIGBUS;
	} else if (order) {
		/* Map the good pages around a bad one with smaller entries. */
		ret = egm_region_range_bad(r, rpg, 1UL << order) ?
		      VM_FAULT_FALLBACK : egm_insert(vmf, pfn, order);
	} else if (xa_load(&r->bad, rpg)) {
		egm_report_bad(w, pgoff, pfn);
		ret = VM_FAULT_HWPOISON;
	} else {
		ret = egm_insert(vmf, pfn, 0);
		if (ret == VM_FAULT_NOPAGE)
			egm_fault_around(vmf, w, pgoff);
	}
	up_read(&r->revoke_rwsem);
	return ret;
}

static vm_fault_t egm_fault(struct vm_fault *vmf)
{
	return egm_huge_fault(vmf, 0);
}

const struct vm_operations_struct egm_vm_ops = {
	.fault = egm_fault,
	.huge_fault = egm_huge_fault,
};

/**
 * egm_window_mmap_prepare() - set up a mapping of a window
 * @desc: the mapping being created
 *
 * Only shared mappings that lie within the window are allowed: a private
 * copy-on-write mapping would need struct pages that EGM does not have.
 *
 * Return: 0 or a negative errno.
 */
int egm_window_mmap_prepare(struct vm_area_desc *desc)
{
	struct egm_window *w = desc->file->private_data;
	unsigned long npages = vma_desc_pages(desc);

	if (!vma_desc_test(desc, VMA_MAYSHARE_BIT))
		return -EINVAL;
	if (desc->pgoff >= w->npages || npages > w->npages - desc->pgoff)
		return -EINVAL;
	if (READ_ONCE(w->revoked))
		return -ENODEV;

	vma_desc_set_flags(desc, VMA_IO_BIT, VMA_PFNMAP_BIT,
			   VMA_DONTEXPAND_BIT, VMA_DONTDUMP_BIT);
	desc->vm_ops = &egm_vm_ops;
	desc->private_data = w;
	return 0;
}

/**
 * egm_window_get_unmapped_area() - pick an address fit for huge mappings
 * @file: the window file
 * @addr: hint
 * @len: length
 * @pgoff: offset into the window in pages
 * @flags: mmap flags
 *
 * Return: the address or a negative errno.
 */
unsigned long egm_window_get_unmapped_area(struct file *file,
					   unsigned long addr,
					   unsigned long len,
					   unsigned long pgoff,
					   unsigned long flags)
{
	struct egm_window *w = file->private_data;
	unsigned long align = egm_map_size(w->align);
	unsigned long off = pgoff << PAGE_SHIFT, len_align, ret;

	if (addr || (flags & MAP_FIXED))
		goto out;
	/* A mapping shorter than a PUD can still use PMDs. */
	while (align > PAGE_SIZE && len < align)
		align = egm_map_size_below(align);
	if (align == PAGE_SIZE)
		goto out;
	if (check_add_overflow(len, align, &len_align))
		goto out;

	ret = mm_get_unmapped_area(file, 0, len_align, pgoff, flags);
	if (!IS_ERR_VALUE(ret))
		return ret + ((off - ret) & (align - 1));
out:
	return mm_get_unmapped_area(file, addr, len, pgoff, flags);
}
