// SPDX-License-Identifier: GPL-2.0-only
/*
 * Window files.
 *
 * A window is a regular file on egm's own pseudo filesystem. Its inode owns
 * the carved range, so the memory is released when the last file, reopen or
 * mapping goes. The inode is openable like a memfd: possession of the fd is
 * the capability, and a VMM can reopen it through /proc/self/fd/N, which is
 * how unmodified QEMU opens a memory-backend-file.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/egm.h>

#include "egm.h"

#define EGM_FS_MAGIC	0x45474d46	/* "EGMF" */

static struct vfsmount *egm_mnt;

static void egm_window_destroy(struct egm_window *w)
{
	struct egm_region *r = w->region;

	mutex_lock(&r->windows_lock);
	list_del(&w->node);
	mutex_unlock(&r->windows_lock);
	egm_window_memfail_unregister(w);
	egm_allocator_free(&r->alloc, w->pgoff);
	egm_region_put(r);
	kfree(w);
}

static void egm_evict_inode(struct inode *inode)
{
	struct egm_window *w = inode->i_private;

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
	return 0;
}

static struct file_system_type egm_fs_type = {
	.name = "egm",
	.init_fs_context = egm_init_fs_context,
	.kill_sb = kill_anon_super,
};

/**
 * egm_fs_init() - mount the window filesystem
 *
 * Return: 0 or a negative errno.
 */
int egm_fs_init(void)
{
	egm_mnt = kern_mount(&egm_fs_type);
	if (IS_ERR(egm_mnt))
		return PTR_ERR(egm_mnt);
	egm_mnt->mnt_flags |= MNT_NOEXEC;
	return 0;
}

/**
 * egm_fs_exit() - unmount the window filesystem
 */
void egm_fs_exit(void)
{
	kern_unmount(egm_mnt);
}

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

const struct file_operations egm_window_fops = {
	.owner = THIS_MODULE,
	.open = egm_window_open,
	.llseek = generic_file_llseek,
	.mmap_prepare = egm_window_mmap_prepare,
	.get_unmapped_area = egm_window_get_unmapped_area,
	.unlocked_ioctl = egm_window_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct inode *egm_window_inode(struct egm_window *w)
{
	struct inode *inode;

	inode = new_inode(egm_mnt->mnt_sb);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = get_next_ino();
	/* memfd-like: whoever holds the fd may reopen it. */
	inode->i_mode = S_IFREG | 0666;
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

/**
 * egm_window_create() - carve a zeroed window and open it
 * @r: the region, referenced by the caller
 * @length: length in bytes, a nonzero multiple of @align
 * @align: physical alignment in bytes, supported by the region
 *
 * Return: a new file, or an ERR_PTR: -ENOSPC if the region has no room,
 * -ENODEV if it is being removed, -EINTR, -ENOMEM.
 */
struct file *egm_window_create(struct egm_region *r, u64 length, u64 align)
{
	struct egm_window *w;
	struct inode *inode;
	struct file *file;
	int ret;

	w = kzalloc_obj(*w);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->npages = length >> PAGE_SHIFT;
	w->align = align;
	INIT_LIST_HEAD(&w->node);
	INIT_LIST_HEAD(&w->imports);

	ret = egm_allocator_alloc(&r->alloc, w->npages, align >> PAGE_SHIFT,
				  w, 0, &w->pgoff);
	if (ret) {
		kfree(w);
		return ERR_PTR(ret);
	}
	kref_get(&r->kref);
	w->region = r;

	/* From here the window owns its range; destroy gives it back. */
	ret = egm_scrub(r, w->pgoff, w->npages);
	if (ret)
		goto err_destroy;

	mutex_lock(&r->windows_lock);
	if (r->dead)
		ret = -ENODEV;
	else
		list_add_tail(&w->node, &r->windows);
	mutex_unlock(&r->windows_lock);
	if (ret)
		goto err_destroy;

	inode = egm_window_inode(w);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_destroy;
	}
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
	file = alloc_file_pseudo(inode, egm_mnt, "egm-window", O_RDWR,
				 &egm_window_fops);
	if (IS_ERR(file)) {
		fops_put(&egm_window_fops);
		iput(inode);
		return file;
	}
	file->f_flags |= O_LARGEFILE;
	file->private_data = w;
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
	egm_window_revoke_imports(w);
	if (w->inode)
		unmap_mapping_range(w->inode->i_mapping, 0, 0, 1);
}

static int egm_window_info(struct egm_window *w, struct egm_window_info *info)
{
	struct egm_bad_page __user *ubad = u64_to_user_ptr(info->bad_pages_uptr);
	struct egm_region *r = w->region;
	unsigned long idx, last = w->pgoff + w->npages - 1;
	u32 n = 0, cap = info->num_bad_pages;
	void *entry;

	if (info->flags || info->__reserved)
		return -EOPNOTSUPP;

	info->pxm = r->pxm;
	info->numa_node = r->node;
	info->length = egm_window_length(w);
	info->alignment = w->align;
	info->page_size = PAGE_SIZE;

	xa_for_each_range(&r->bad, idx, entry, w->pgoff, last) {
		if (n < cap) {
			struct egm_bad_page bad = {
				.offset = (u64)(idx - w->pgoff) << PAGE_SHIFT,
			};
			unsigned long f = xa_to_value(entry);

			if (f & EGM_PAGE_RETIRED)
				bad.flags |= EGM_BAD_PAGE_RETIRED;
			if (f & EGM_PAGE_POISONED)
				bad.flags |= EGM_BAD_PAGE_POISONED;
			if (copy_to_user(&ubad[n], &bad, sizeof(bad)))
				return -EFAULT;
		}
		n++;
	}
	info->num_bad_pages = n;
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
	return ret;
}
