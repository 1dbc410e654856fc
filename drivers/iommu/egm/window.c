// SPDX-License-Identifier: GPL-2.0-only
/*
 * Window files.
 *
 * A window is a regular file on egm's own pseudo filesystem. Its inode owns
 * the carved range, so the memory is released when the last file, reopen or
 * mapping goes. The inode can be reopened through /proc/self/fd/N, which is
 * how unmodified QEMU opens a memory-backend-file, by its owner: mode 0600,
 * the carving user's until fchown() gives it to a VMM's.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/egm.h>

#include "egm.h"

#define EGM_FS_MAGIC	0x45474d46	/* "EGMF" */

/*
 * Pinned only while a window file is being made: each file holds the
 * mount, whose superblock holds the module through egm_fs_type.owner, so
 * that the module outlives the last inode eviction, which runs after
 * __fput() has dropped the module reference of the file's fops.
 */
static struct vfsmount *egm_mnt;
static int egm_mnt_count;

#ifdef CONFIG_EGM_DEBUG
static unsigned int debug_evict_delay_ms;
module_param(debug_evict_delay_ms, uint, 0600);
MODULE_PARM_DESC(debug_evict_delay_ms,
		 "Debug only: sleep this long when a window's inode is evicted, to widen races for tests");
#define egm_debug_evict_delay()	msleep(READ_ONCE(debug_evict_delay_ms))
#else
#define egm_debug_evict_delay()	do { } while (0)
#endif

static void egm_window_free_spares(struct egm_window *w)
{
	unsigned long off;
	void *spare;

	xa_for_each(&w->subst, off, spare)
		egm_allocator_free(&w->region->alloc, xa_to_value(spare));
	xa_destroy(&w->subst);
	w->nr_subst = 0;
}

static void egm_window_destroy(struct egm_window *w)
{
	struct egm_region *r = w->region;

	mutex_lock(&r->windows_lock);
	list_del(&w->node);
	mutex_unlock(&r->windows_lock);
	egm_window_memfail_unregister(w);
	egm_scrub_cancel(w);
	egm_window_free_spares(w);
	egm_allocator_free(&r->alloc, w->pgoff);
	/* The range is dirty now: let the background scrubber at it. */
	egm_scrub_kick(r);
	egm_region_put(r);
	kfree(w);
}

static void egm_evict_inode(struct inode *inode)
{
	struct egm_window *w = inode->i_private;

	egm_debug_evict_delay();
	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (w)
		egm_window_destroy(w);
}

static const struct super_operations egm_sops = {
	.statfs = simple_statfs,
	.evict_inode = egm_evict_inode,
	.drop_inode = inode_just_drop,
};

static int egm_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, EGM_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->ops = &egm_sops;
	fc->s_iflags |= SB_I_NOEXEC | SB_I_NODEV;
	return 0;
}

static struct file_system_type egm_fs_type = {
	.owner = THIS_MODULE,
	.name = "egm",
	.init_fs_context = egm_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int egm_window_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			      struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);

	/* The window is a fixed physical range: it cannot grow or shrink. */
	if ((attr->ia_valid & ATTR_SIZE) &&
	    attr->ia_size != i_size_read(inode))
		return -EPERM;
	return simple_setattr(idmap, dentry, attr);
}

static const struct inode_operations egm_window_iops = {
	.setattr = egm_window_setattr,
	.getattr = simple_getattr,
};

/* A reopen through /proc/<pid>/fd/N. */
static int egm_window_open(struct inode *inode, struct file *file)
{
	struct egm_window *w = inode->i_private;

	if (READ_ONCE(w->revoked))
		return -ENODEV;
	file->private_data = w;
	return 0;
}

/*
 * Readable once the window is zeroed, for EGM_ALLOC_ASYNC; EPOLLPRI while
 * it has events that EGM_WINDOW_INFO has not cleared.
 */
static __poll_t egm_window_poll(struct file *file, poll_table *pt)
{
	struct egm_window *w = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &w->event_wq, pt);
	if (atomic_read(&w->events))
		mask |= EPOLLPRI;
	if (!w->scrub)
		return mask | EPOLLIN | EPOLLRDNORM;
	poll_wait(file, &w->scrub->wq, pt);
	if (atomic_long_read(&w->scrub->left))
		return mask;
	return mask | EPOLLIN | EPOLLRDNORM;
}

const struct file_operations egm_window_fops = {
	.owner = THIS_MODULE,
	.open = egm_window_open,
	.llseek = generic_file_llseek,
	.mmap_prepare = egm_window_mmap_prepare,
	.get_unmapped_area = egm_window_get_unmapped_area,
	/* Nothing to write back: msync() and fsync() succeed as on a memfd. */
	.fsync = noop_fsync,
	.poll = egm_window_poll,
	.unlocked_ioctl = egm_window_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct inode *egm_window_inode(struct egm_window *w,
				      struct super_block *sb)
{
	struct inode *inode;

	inode = new_inode(sb);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = get_next_ino();
	/*
	 * The carver's alone: a read-only reopen handed to another user
	 * stays read-only. A broker gives a VMM the window with fchown().
	 */
	inode->i_mode = S_IFREG | 0600;
	inode->i_uid = current_fsuid();
	inode->i_gid = current_fsgid();
	inode->i_op = &egm_window_iops;
	inode->i_fop = &egm_window_fops;
	inode->i_size = egm_window_length(w);
	inode->i_flags |= S_NOATIME;
	simple_inode_init_ts(inode);
	mapping_set_unevictable(inode->i_mapping);
	inode->i_private = w;
	w->inode = inode;
	return inode;
}

/*
 * First fit on clean memory without bad pages, so that the window needs
 * no zeroing; then on any memory without bad pages; then, unless told not
 * to, anywhere. @dirty gets the chunks that must be zeroed.
 */
static int egm_window_place(struct egm_region *r, struct egm_window *w,
			    unsigned long *dirty)
{
	static const unsigned int tries[] = {
		EGM_ALLOCATOR_AVOID | EGM_ALLOCATOR_CLEAN,
		EGM_ALLOCATOR_AVOID,
		0,
	};
	unsigned long align = w->align >> PAGE_SHIFT;
	unsigned int i;
	int ret = -ENOSPC;

	for (i = 0; i < ARRAY_SIZE(tries); i++) {
		if (!tries[i] && (w->alloc_flags & EGM_ALLOC_NO_BAD_PAGES))
			break;
		ret = egm_allocator_alloc(&r->alloc, w->npages, align, w,
					  tries[i], &w->pgoff, dirty);
		if (ret != -ENOSPC)
			break;
	}
	return ret;
}

/* A clean spare page if there is one, else any good one, zeroed. */
static int egm_window_spare(struct egm_region *r, struct egm_window *w,
			    unsigned long *spare)
{
	const unsigned int f = EGM_ALLOCATOR_AVOID | EGM_ALLOCATOR_TOP;
	unsigned long dirty = 0;
	int ret;

	ret = egm_allocator_alloc(&r->alloc, 1, 1, w, f | EGM_ALLOCATOR_CLEAN,
				  spare, NULL);
	if (ret != -ENOSPC)
		return ret;
	ret = egm_allocator_alloc(&r->alloc, 1, 1, w, f, spare, &dirty);
	if (!ret)
		egm_allocator_wait_scrubbed(&r->alloc, *spare, 1);
	if (!ret && dirty)
		egm_scrub_pages(r, *spare, 1);
	return ret;
}

/*
 * Back every bad page of a new window with a spare good page, taken from
 * the top of the region so that spares do not split the large free
 * extents that windows are carved from. Only pages known bad now are
 * substituted: one that goes bad while a guest uses it has lost data, and
 * the guest must hear of it.
 */
static int egm_window_substitute(struct egm_region *r, struct egm_window *w)
{
	unsigned long idx, spare;
	void *entry;
	int ret;

	if (w->alloc_flags & EGM_ALLOC_HOLES)
		return 0;
	xa_for_each_range(&r->bad, idx, entry, w->pgoff,
			  w->pgoff + w->npages - 1) {
		ret = egm_window_spare(r, w, &spare);
		if (ret)
			return ret;
		ret = xa_err(xa_store(&w->subst, idx - w->pgoff,
				      xa_mk_value(spare), GFP_KERNEL_ACCOUNT));
		if (ret) {
			egm_allocator_free(&r->alloc, spare);
			return ret;
		}
		w->nr_subst++;
	}
	return 0;
}

/*
 * Give a carved, zeroed window its inode and first file. On failure the
 * window is gone: its inode's eviction, or egm_window_destroy(), freed it.
 */
static struct file *egm_window_file(struct egm_region *r,
				    struct egm_window *w, struct vfsmount *mnt)
{
	struct inode *inode;
	struct file *file;
	int ret = 0;

	/* Revocation reads w->inode unlocked: set it before the list add. */
	inode = egm_window_inode(w, mnt->mnt_sb);
	if (IS_ERR(inode)) {
		egm_window_destroy(w);
		return ERR_CAST(inode);
	}
	mutex_lock(&r->windows_lock);
	if (r->dead)
		ret = -ENODEV;
	else
		list_add_tail(&w->node, &r->windows);
	mutex_unlock(&r->windows_lock);
	if (!ret)
		ret = egm_window_memfail_register(w);
	if (ret) {
		iput(inode);
		return ERR_PTR(ret);
	}

	/* alloc_file_pseudo() does not pin the module; __fput() unpins it. */
	if (!fops_get(&egm_window_fops)) {
		iput(inode);
		return ERR_PTR(-ENOENT);
	}
	file = alloc_file_pseudo(inode, mnt, "egm-window", O_RDWR,
				 &egm_window_fops);
	if (IS_ERR(file)) {
		fops_put(&egm_window_fops);
		iput(inode);
		return file;
	}
	file->f_flags |= O_LARGEFILE;
	file->private_data = w;
	return file;
}

/**
 * egm_window_create() - carve a zeroed window and open it
 * @r: the region, referenced by the caller
 * @length: length in bytes, a nonzero multiple of @align
 * @align: physical alignment in bytes, supported by the region
 * @flags: EGM_ALLOC_* flags
 *
 * Unless @flags has EGM_ALLOC_ASYNC, the window is zeroed when this
 * returns; with it, faults and imports wait for the pages they need.
 *
 * Return: a new file, or an ERR_PTR: -ENOSPC if the region has no room,
 * -ENODEV if it is being removed, -EINTR, -ENOMEM.
 */
struct file *egm_window_create(struct egm_region *r, u64 length, u64 align,
			       u32 flags)
{
	unsigned long *dirty;
	struct egm_window *w;
	struct file *file;
	int ret;

	w = kzalloc_obj(*w, GFP_KERNEL_ACCOUNT);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->npages = length >> PAGE_SHIFT;
	w->align = align;
	w->alloc_flags = flags;
	xa_init(&w->subst);
	INIT_LIST_HEAD(&w->node);
	INIT_LIST_HEAD(&w->imports);
	init_waitqueue_head(&w->event_wq);

	dirty = bitmap_zalloc(egm_allocator_chunks(w->npages),
			      GFP_KERNEL_ACCOUNT);
	ret = dirty ? egm_window_place(r, w, dirty) : -ENOMEM;
	if (ret) {
		bitmap_free(dirty);
		kfree(w);
		return ERR_PTR(ret);
	}
	kref_get(&r->kref);
	w->region = r;

	/* From here the window owns its range; destroy gives it back. */
	egm_allocator_wait_scrubbed(&r->alloc, w->pgoff, w->npages);
	ret = egm_window_substitute(r, w);
	if (ret)
		bitmap_free(dirty);
	else
		ret = egm_scrub_window(w, dirty);
	if (!ret && !(flags & EGM_ALLOC_ASYNC))
		ret = egm_scrub_wait(w, 0, 0, false);
	if (ret)
		goto err_destroy;

	ret = simple_pin_fs(&egm_fs_type, &egm_mnt, &egm_mnt_count);
	if (ret)
		goto err_destroy;
	file = egm_window_file(r, w, egm_mnt);
	simple_release_fs(&egm_mnt, &egm_mnt_count);
	return file;

err_destroy:
	egm_window_destroy(w);
	return ERR_PTR(ret);
}

/**
 * egm_window_revoke() - make a window unreachable
 * @w: the window, on its region's list
 *
 * Called with the region's windows_lock held, after the region was marked
 * dead, so no fault can map anything again. Device mappings go first.
 */
void egm_window_revoke(struct egm_window *w)
{
	WRITE_ONCE(w->revoked, true);
	if (w->scrub)
		wake_up_all(&w->scrub->wq);
	egm_window_revoke_imports(w);
	if (w->inode)
		unmap_mapping_range(w->inode->i_mapping, 0, 0, 1);
}

static u32 egm_bad_flags(void *entry)
{
	unsigned long f = entry ? xa_to_value(entry) : 0;
	u32 flags = 0;

	if (f & EGM_PAGE_RETIRED)
		flags |= EGM_BAD_PAGE_RETIRED;
	if (f & EGM_PAGE_POISONED)
		flags |= EGM_BAD_PAGE_POISONED;
	return flags;
}

/**
 * egm_window_bad_page() - what is wrong with a page of a window
 * @w: the window
 * @off: page offset in the window
 *
 * Return: 0 for a good page, or EGM_BAD_PAGE_* flags: those of the page at
 * @off, with EGM_BAD_PAGE_SUBSTITUTED if a spare backs it, plus
 * EGM_BAD_PAGE_POISONED if that spare went bad too.
 */
u32 egm_window_bad_page(struct egm_window *w, unsigned long off)
{
	struct egm_region *r = w->region;
	u32 flags = egm_bad_flags(xa_load(&r->bad, w->pgoff + off));
	unsigned long rpg = egm_window_region_page(w, off);

	if (rpg == w->pgoff + off)
		return flags;
	if (xa_load(&r->bad, rpg))
		return flags | EGM_BAD_PAGE_POISONED;
	return flags | EGM_BAD_PAGE_SUBSTITUTED;
}

static int egm_window_info(struct egm_window *w, struct egm_window_info *info)
{
	struct egm_bad_page __user *ubad = u64_to_user_ptr(info->bad_pages_uptr);
	struct egm_region *r = w->region;
	unsigned long idx, last = w->pgoff + w->npages - 1;
	u32 n = 0, nsubst = 0, cap = info->num_bad_pages;
	void *entry;

	if ((info->flags & ~EGM_WINDOW_INFO_CLEAR_EVENTS) || info->__reserved)
		return -EOPNOTSUPP;

	info->pxm = r->pxm;
	info->numa_node = r->node;
	info->length = egm_window_length(w);
	info->alignment = w->align;
	info->page_size = PAGE_SIZE;
	info->alloc_flags = w->alloc_flags;
	info->pending = egm_scrub_pending_bytes(w);
	info->events = atomic_read(&w->events);
	info->num_dma_revoked = READ_ONCE(w->nr_dma_revoked);
	/* As device-dax's resource attribute: for the administrator only. */
	info->phys_addr = capable(CAP_SYS_ADMIN) ? egm_window_phys(w) : 0;

	xa_for_each_range(&r->bad, idx, entry, w->pgoff, last) {
		struct egm_bad_page bad = {
			.offset = (u64)(idx - w->pgoff) << PAGE_SHIFT,
			.flags = egm_window_bad_page(w, idx - w->pgoff),
		};

		if (bad.flags & EGM_BAD_PAGE_SUBSTITUTED)
			nsubst++;
		if (n < cap && copy_to_user(&ubad[n], &bad, sizeof(bad)))
			return -EFAULT;
		n++;
	}
	info->num_bad_pages = n;
	info->num_substituted = nsubst;
	return n > cap ? -ENOSPC : 0;
}

/**
 * egm_window_ioctl() - ioctls on a window file
 * @file: the window file
 * @cmd: the command
 * @arg: user pointer to the command's structure
 *
 * Return: 0 or a negative errno.
 */
long egm_window_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct egm_window *w = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct egm_window_info info;
	u32 usize;
	int ret;

	if (cmd != EGM_WINDOW_INFO)
		return -ENOTTY;
	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	ret = egm_ioctl_copy_struct(&info, sizeof(info),
				    offsetofend(struct egm_window_info,
						bad_pages_uptr),
				    uarg, usize);
	if (ret)
		return ret;

	ret = egm_window_info(w, &info);
	if (ret && ret != -ENOSPC)
		return ret;
	if (copy_to_user(uarg, &info, min_t(u32, usize, sizeof(info))))
		return -EFAULT;
	/* Only what was reported: a bit set since stays set. */
	if (info.flags & EGM_WINDOW_INFO_CLEAR_EVENTS)
		atomic_andnot(info.events, &w->events);
	return ret;
}
