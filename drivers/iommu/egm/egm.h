/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026, The egm authors.
 *
 * Lock order, outermost first:
 *
 *   mmap_lock or the VMA lock (faults)
 *     egm_region.revoke_rwsem     read in faults; taken for write alone,
 *                                 only to wait out the faults in flight
 *
 *   iommufd's iopt domains_rwsem  (unmap_phys() from iopt_release_pages())
 *   memory_failure()'s mf_mutex and pfn_space_lock (notify_failure())
 *     egm_region.windows_lock     also taken in map_phys(), with no
 *                                 iommufd lock held
 *       iopt_pages.mutex          revoking a window's imports
 *       i_mmap_rwsem              unmap_mapping_range() of a revoked window
 *                                 or of a poisoned page
 *
 *   memory_failure()'s mutexes nest outside revoke_rwsem too, which
 *   notify_failure() takes for write alone to wait out faults: pfn
 *   address spaces are (un)registered with no egm lock held.
 *
 *   egm_allocator.lock is a leaf, taken with none of the above held; the
 *   maple tree uses it as its external lock. egm_registry_lock nests
 *   outside windows_lock. Nothing is held across zeroing except a
 *   reference on the region.
 */
#ifndef __EGM_H__
#define __EGM_H__

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/kref.h>
#include <linux/maple_tree.h>
#include <linux/memory-failure.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

struct file;
struct inode;
struct pci_dev;
struct vm_area_struct;

/**
 * struct egm_allocator - carves page ranges out of one region
 * @lock: protects @mt, whose external lock it is, and @used
 * @mt: allocated ranges, indexed by page offset; the gaps are free
 * @pages: number of pages managed
 * @used: number of pages allocated
 * @avoid: pages that EGM_ALLOCATOR_AVOID keeps out of ranges, or NULL
 * @clean: chunks that are entirely free and zeroed; under @lock
 * @touched: chunks allocated since the scrubber last picked them; @lock
 * @inflight: chunks the scrubber is zeroing; set and cleared under @lock,
 *	      atomically, as egm_allocator_alloc() waits for them unlocked
 * @inflight_wq: woken when a chunk leaves @inflight
 * @clean_pages: pages in @clean chunks
 *
 * Pure logic on page offsets so that KUnit can test it without hardware.
 */
struct egm_allocator {
	struct mutex lock; /* see the kernel-doc above */
	struct maple_tree mt;
	unsigned long pages;
	unsigned long used;
	struct xarray *avoid;
	unsigned long *clean;
	unsigned long *touched;
	unsigned long *inflight;
	wait_queue_head_t inflight_wq;
	unsigned long clean_pages;
};

/* The unit in which the allocator tracks clean memory. */
#define EGM_CHUNK_SIZE		SZ_2M

/* egm_allocator_alloc() flags */
#define EGM_ALLOCATOR_AVOID	BIT(0)	/* no page of @avoid in the range */
#define EGM_ALLOCATOR_TOP	BIT(1)	/* highest fit instead of lowest */
#define EGM_ALLOCATOR_CLEAN	BIT(2)	/* only clean chunks */

/**
 * struct egm_allocator_stat - free space of an allocator, in pages
 * @free: pages not allocated
 * @largest: the largest free extent
 * @largest_good: the largest free extent with no avoided page
 * @clean: free pages known to be zero
 */
struct egm_allocator_stat {
	unsigned long free;
	unsigned long largest;
	unsigned long largest_good;
	unsigned long clean;
};

int egm_allocator_init(struct egm_allocator *a, unsigned long pages,
		       struct xarray *avoid);
void egm_allocator_destroy(struct egm_allocator *a);
int egm_allocator_alloc(struct egm_allocator *a, unsigned long npages,
			unsigned long align_pages, void *owner,
			unsigned int flags, unsigned long *start,
			unsigned long *dirty);
unsigned long egm_allocator_chunks(unsigned long npages);
void egm_allocator_wait_scrubbed(struct egm_allocator *a, unsigned long start,
				 unsigned long npages);
void egm_allocator_free(struct egm_allocator *a, unsigned long start);
unsigned long egm_allocator_free_pages(struct egm_allocator *a);
void egm_allocator_stat(struct egm_allocator *a, struct egm_allocator_stat *st);
bool egm_allocator_next_dirty(struct egm_allocator *a, unsigned long from,
			      unsigned long *chunk);
bool egm_allocator_set_clean(struct egm_allocator *a, unsigned long chunk);
unsigned long egm_allocator_chunk_range(struct egm_allocator *a,
					unsigned long chunk,
					unsigned long *start);

/**
 * struct egm_region_desc - what firmware or the command line says of a region
 * @base: physical base address
 * @size: size in bytes
 * @pxm: proximity domain
 * @retired_pa: physical address of the retired-page table, or 0
 * @from_param: given by egm.regions=, which has no retired-page table
 */
struct egm_region_desc {
	u64 base;
	u64 size;
	u32 pxm;
	u64 retired_pa;
	bool from_param;
};

/**
 * struct egm_scrubber - a region's zeroing threads
 * @lock: protects @queue, @active and every queued request's @todo
 * @queue: windows with chunks no thread has taken yet, in turn
 * @wait: where idle threads sleep
 * @kick: bumped when there may be new background work
 * @cursor: where the background search goes on
 * @active: threads working now
 * @nthreads: number of @threads
 * @threads: the threads, created on the region's node
 */
struct egm_scrubber {
	spinlock_t lock; /* see the kernel-doc above */
	struct list_head queue;
	wait_queue_head_t wait;
	unsigned long kick;
	unsigned long cursor;
	unsigned int active;
	unsigned int nthreads;
	struct task_struct **threads;
};

/**
 * struct egm_scrub_req - the chunks of a new window still to zero
 * @node: entry in egm_scrubber.queue while @todo is not empty
 * @w: the window
 * @chunk0: the region chunk of bit 0
 * @nbits: bits in @todo and @pending
 * @todo: chunks nobody has started; egm_scrubber.lock
 * @pending: chunks not zeroed yet; cleared with release semantics
 * @left: bits set in @pending
 * @busy: chunks being zeroed now; egm_scrubber.lock
 * @cancel: the window is going away
 * @wq: woken whenever a chunk is done
 */
struct egm_scrub_req {
	struct list_head node;
	struct egm_window *w;
	unsigned long chunk0;
	unsigned long nbits;
	unsigned long *todo;
	unsigned long *pending;
	atomic_long_t left;
	unsigned int busy;
	bool cancel;
	wait_queue_head_t wq;
};

/* Bits kept in egm_region.bad, as xa_mk_value(). */
#define EGM_PAGE_RETIRED	BIT(0)
#define EGM_PAGE_POISONED	BIT(1)

/**
 * struct egm_region - one socket's EGM region
 * @kref: the registry, every window and every in-flight ioctl hold one
 * @dev: the egm platform device that carries the region in sysfs
 * @id: registry index, also the platform device id
 * @pxm: ACPI proximity domain
 * @node: NUMA node of @pxm, NUMA_NO_NODE if none
 * @base: physical base address
 * @size: size in bytes
 * @align_mask: window alignments the region supports, bit n for 2^n bytes
 * @kaddr: write-back kernel mapping, used for zeroing; it also records the
 *	   write-back memory type that user mappings of the range inherit
 * @alloc: the window allocator
 * @scrub: the zeroing threads
 * @bad: page offset -> EGM_PAGE_* of every page that is never mapped
 * @nr_retired: number of EGM_PAGE_RETIRED pages in @bad
 * @nr_poisoned: number of EGM_PAGE_POISONED pages in @bad
 * @revoke_rwsem: faults hold it for read, removal for write
 * @dead: set under @revoke_rwsem once the region is being removed
 * @windows_lock: protects @windows
 * @windows: live windows, for revocation
 * @desc: what the region was created from
 * @nr_gpus: number of entries in @gpus
 * @gpus: the GPUs that report the region, referenced, linked from sysfs
 * @pfn_space: hears of every memory failure in the region
 * @memfail_registered: @pfn_space is registered
 */
struct egm_region {
	struct kref kref;
	struct device *dev;
	u32 id;
	u32 pxm;
	int node;
	phys_addr_t base;
	u64 size;
	unsigned long align_mask;
	void *kaddr;
	struct egm_allocator alloc;
	struct egm_scrubber scrub;
	struct xarray bad;
	unsigned long nr_retired;
	atomic_long_t nr_poisoned;
	struct rw_semaphore revoke_rwsem;
	bool dead;
	struct mutex windows_lock; /* see the kernel-doc above */
	struct list_head windows;
	struct egm_region_desc desc;
	unsigned int nr_gpus;
	struct pci_dev **gpus;
	struct pfn_address_space pfn_space;
	bool memfail_registered;
};

/**
 * struct egm_window - a carved range of a region, owned by its inode
 * @region: the region, referenced
 * @inode: the inode on the egm filesystem that owns the window
 * @pgoff: first page of the window within the region
 * @npages: number of pages
 * @align: physical alignment in bytes
 * @alloc_flags: the EGM_ALLOC_* flags it was allocated with
 * @subst: window page offset -> xa_mk_value(region page offset) of the spare
 *	   page that backs it; fixed once the window is created
 * @nr_subst: number of entries in @subst
 * @scrub: chunks still to zero, or NULL
 * @revoked: the region went away; no new mapping may be made
 * @node: entry in egm_region.windows
 * @imports: iommufd imports of the window; egm_region.windows_lock
 * @pfn_space: tells memory_failure() where the window's pages are mapped
 * @memfail_registered: @pfn_space is registered
 * @events: EGM_WINDOW_EVENT_* not yet cleared by EGM_WINDOW_INFO
 * @event_wq: woken when @events gains a bit
 * @nr_dma_revoked: imports revoked because a page they reach was
 *		    poisoned; egm_region.windows_lock
 */
struct egm_window {
	struct egm_region *region;
	struct inode *inode;
	unsigned long pgoff;
	unsigned long npages;
	unsigned long align;
	u32 alloc_flags;
	struct xarray subst;
	unsigned long nr_subst;
	struct egm_scrub_req *scrub;
	bool revoked;
	struct list_head node;
	struct list_head imports;
	struct pfn_address_space pfn_space;
	bool memfail_registered;
	atomic_t events;
	wait_queue_head_t event_wq;
	u32 nr_dma_revoked;
};

static inline phys_addr_t egm_window_phys(const struct egm_window *w)
{
	return w->region->base + ((phys_addr_t)w->pgoff << PAGE_SHIFT);
}

static inline u64 egm_window_length(const struct egm_window *w)
{
	return (u64)w->npages << PAGE_SHIFT;
}

/* The region page that backs page @off of window @w. */
static inline unsigned long egm_window_region_page(struct egm_window *w,
						   unsigned long off)
{
	void *spare = w->nr_subst ? xa_load(&w->subst, off) : NULL;

	return spare ? xa_to_value(spare) : w->pgoff + off;
}

/* region.c */
int egm_region_register(const struct egm_region_desc *desc);
void egm_regions_unregister(void);
int egm_region_driver_init(void);
void egm_region_driver_exit(void);
struct egm_region *egm_region_get_by_pxm(u32 pxm);
void egm_region_put(struct egm_region *r);
int egm_region_for_each(int (*fn)(struct egm_region *r, void *arg), void *arg);
unsigned long egm_region_align_mask(void);
bool egm_region_range_bad(struct egm_region *r, unsigned long pgoff,
			  unsigned long npages);
int egm_region_add_bad(struct egm_region *r, unsigned long pgoff,
		       unsigned long flags, gfp_t gfp);

/* acpi.c */
typedef int (*egm_gpu_fn)(struct pci_dev *pdev, void *arg);
int egm_retired_parse(const void *table, size_t len, u64 base, u64 size,
		      int (*add)(void *arg, unsigned long pgoff), void *arg);
int egm_retired_load(struct egm_region *r);
extern bool egm_allow_no_retired_table;
int egm_acpi_discover(void);
int egm_region_walk_gpus(struct egm_region *r, egm_gpu_fn fn, void *arg);

/* param.c */
int egm_param_parse_one(const char *s, struct egm_region_desc *d);
int egm_param_discover(void);

/* scrub.c */
void egm_scrub_pages(struct egm_region *r, unsigned long pgoff,
		     unsigned long npages);
int egm_scrub_start(struct egm_region *r);
void egm_scrub_stop(struct egm_region *r);
void egm_scrub_kick(struct egm_region *r);
int egm_scrub_window(struct egm_window *w, unsigned long *dirty);
int egm_scrub_wait(struct egm_window *w, unsigned long off,
		   unsigned long npages, bool help);
bool egm_scrub_pending(struct egm_window *w, unsigned long off,
		       unsigned long npages);
u64 egm_scrub_pending_bytes(struct egm_window *w);
void egm_scrub_cancel(struct egm_window *w);

/* window.c */
extern const struct file_operations egm_window_fops;
struct file *egm_window_create(struct egm_region *r, u64 length, u64 align,
			       u32 flags);
void egm_window_revoke(struct egm_window *w);
u32 egm_window_bad_page(struct egm_window *w, unsigned long off);
long egm_window_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* memfail.c */
int egm_region_memfail_register(struct egm_region *r);
void egm_region_memfail_unregister(struct egm_region *r);
int egm_window_memfail_register(struct egm_window *w);
void egm_window_memfail_unregister(struct egm_window *w);
#ifdef CONFIG_EGM_DEBUG
void egm_memfail_debugfs_init(void);
void egm_memfail_debugfs_exit(void);
#else
static inline void egm_memfail_debugfs_init(void)
{
}

static inline void egm_memfail_debugfs_exit(void)
{
}
#endif

/* fault.c */
extern const struct vm_operations_struct egm_vm_ops;
int egm_window_mmap_prepare(struct vm_area_desc *desc);
unsigned long egm_window_get_unmapped_area(struct file *file,
					   unsigned long addr,
					   unsigned long len,
					   unsigned long pgoff,
					   unsigned long flags);

/* iommufd.c */
#if IS_ENABLED(CONFIG_IOMMUFD)
int egm_iommufd_init(void);
void egm_iommufd_exit(void);
void egm_window_revoke_imports(struct egm_window *w);
unsigned int egm_window_revoke_imports_at(struct egm_window *w,
					  phys_addr_t pa);
#else
static inline int egm_iommufd_init(void)
{
	return 0;
}

static inline void egm_iommufd_exit(void)
{
}

static inline void egm_window_revoke_imports(struct egm_window *w)
{
}

static inline unsigned int egm_window_revoke_imports_at(struct egm_window *w,
							phys_addr_t pa)
{
	return 0;
}
#endif

/* sysfs.c */
extern const struct attribute_group *egm_region_groups[];
int egm_region_link_gpus(struct egm_region *r);
void egm_region_unlink_gpus(struct egm_region *r);

/* main.c */
int egm_ioctl_copy_struct(void *kbuf, size_t ksize, size_t minsize,
			  void __user *ubuf, u32 usize);

#endif /* __EGM_H__ */
