// SPDX-License-Identifier: GPL-2.0-only
/*
 * NVIDIA Grace Extended GPU Memory (EGM) driver.
 *
 * Grace firmware leaves one region of each socket's memory out of the
 * host's memory map. /dev/egm lists those regions and carves them into
 * window files that VMMs map as guest memory and import into iommufd.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/egm.h>

#include "egm.h"

/**
 * egm_ioctl_copy_struct() - read an extensible ioctl structure
 * @kbuf: kernel copy
 * @ksize: size of @kbuf
 * @minsize: size of the first version of the structure
 * @ubuf: user copy
 * @usize: size userspace says it passed
 *
 * Return: 0, -EINVAL if @usize is below @minsize, -E2BIG if it is larger
 * than @ksize and the bytes beyond are not zero, or -EFAULT.
 */
int egm_ioctl_copy_struct(void *kbuf, size_t ksize, size_t minsize,
			  void __user *ubuf, u32 usize)
{
	if (usize < minsize)
		return -EINVAL;
	return copy_struct_from_user(kbuf, ksize, ubuf, usize);
}

/**
 * struct egm_ucmd - one ioctl call on /dev/egm
 * @cmd: kernel copy of the command's structure
 * @file: a file to install at @fd once the reply has reached userspace
 * @fd: reserved descriptor for @file
 */
struct egm_ucmd {
	void *cmd;
	struct file *file;
	int fd;
};

struct egm_query_ctx {
	struct egm_region_info *infos;
	u32 cap;
	u32 n;
};

static int egm_query_one(struct egm_region *r, void *arg)
{
	struct egm_query_ctx *ctx = arg;
	struct egm_region_info *info;

	if (ctx->n < ctx->cap) {
		struct egm_allocator_stat st;

		egm_allocator_stat(&r->alloc, &st);
		info = &ctx->infos[ctx->n];
		info->id = r->id;
		info->pxm = r->pxm;
		info->numa_node = r->node;
		info->size = r->size;
		info->free = (u64)st.free << PAGE_SHIFT;
		info->largest_free = (u64)st.largest << PAGE_SHIFT;
		info->largest_free_good = (u64)st.largest_good << PAGE_SHIFT;
		info->clean = (u64)st.clean << PAGE_SHIFT;
		info->align = r->align_mask;
		info->retired_pages = r->nr_retired;
		info->poisoned_pages = atomic_long_read(&r->nr_poisoned);
		info->page_size = PAGE_SIZE;
	}
	ctx->n++;
	return 0;
}

static int egm_count_one(struct egm_region *r, void *arg)
{
	(*(u32 *)arg)++;
	return 0;
}

static int egm_ioctl_query(struct egm_ucmd *ucmd)
{
	struct egm_query *q = ucmd->cmd;
	struct egm_query_ctx ctx = {};
	u8 __user *uptr = u64_to_user_ptr(q->regions_uptr);
	size_t esize;
	u32 i;
	int ret = 0;

	if (q->flags)
		return -EOPNOTSUPP;
	if (q->entry_size < offsetofend(struct egm_region_info, page_size))
		return -EINVAL;
	esize = min_t(size_t, q->entry_size, sizeof(struct egm_region_info));

	/* Snapshot, then copy out with no driver lock held. */
	egm_region_for_each(egm_count_one, &ctx.cap);
	ctx.cap = min(ctx.cap, q->num_regions);
	if (ctx.cap) {
		ctx.infos = kcalloc(ctx.cap, sizeof(*ctx.infos), GFP_KERNEL);
		if (!ctx.infos)
			return -ENOMEM;
	}
	egm_region_for_each(egm_query_one, &ctx);

	for (i = 0; i < min(ctx.n, ctx.cap); i++) {
		u8 __user *dst = uptr + (size_t)i * q->entry_size;

		if (copy_to_user(dst, &ctx.infos[i], esize) ||
		    clear_user(dst + esize, q->entry_size - esize)) {
			ret = -EFAULT;
			break;
		}
	}
	kfree(ctx.infos);
	if (ret)
		return ret;
	q->num_regions = ctx.n;
	return ctx.n > ctx.cap ? -ENOSPC : 0;
}

static int egm_ioctl_alloc(struct egm_ucmd *ucmd)
{
	struct egm_alloc *a = ucmd->cmd;
	struct egm_region *r;
	struct file *file;
	u64 align;
	int fd;

	if (a->flags & ~(EGM_ALLOC_NO_BAD_PAGES | EGM_ALLOC_HOLES |
			 EGM_ALLOC_ASYNC))
		return -EOPNOTSUPP;
	align = a->alignment;
	if (align && (!is_power_of_2(align) ||
		      align > BIT_ULL(BITS_PER_LONG - 1)))
		return -EINVAL;

	r = egm_region_get_by_pxm(a->pxm);
	if (!r)
		return -ENODEV;
	/* The default is the PMD size, where the region allows it. */
	if (!align)
		align = r->align_mask & PMD_SIZE ? PMD_SIZE : PAGE_SIZE;
	if (!(r->align_mask & align) || !a->length ||
	    !IS_ALIGNED(a->length, align)) {
		egm_region_put(r);
		return -EINVAL;
	}
	/* Before anything is sized by it: no region holds more than itself. */
	if (a->length > r->size) {
		egm_region_put(r);
		return -ENOSPC;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		egm_region_put(r);
		return fd;
	}
	file = egm_window_create(r, a->length, align, a->flags);
	egm_region_put(r);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	a->out_fd = fd;
	ucmd->file = file;
	ucmd->fd = fd;
	return 0;
}

union egm_ucmd_buffer {
	struct egm_query query;
	struct egm_alloc alloc;
};

struct egm_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	int (*execute)(struct egm_ucmd *ucmd);
};

#define EGM_IOCTL_OP(_ioctl, _fn, _struct, _last)                       \
	[_IOC_NR(_ioctl) - EGM_CMD_BASE] = {                             \
		.size = sizeof(_struct) +                                \
			BUILD_BUG_ON_ZERO(sizeof(union egm_ucmd_buffer) < \
					  sizeof(_struct)),              \
		.min_size = offsetofend(_struct, _last),                 \
		.execute = _fn,                                          \
	}

static const struct egm_ioctl_op egm_ioctl_ops[] = {
	EGM_IOCTL_OP(EGM_QUERY, egm_ioctl_query, struct egm_query,
		     regions_uptr),
	EGM_IOCTL_OP(EGM_ALLOC, egm_ioctl_alloc, struct egm_alloc, alignment),
};

static long egm_fops_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	const struct egm_ioctl_op *op;
	union egm_ucmd_buffer buf;
	struct egm_ucmd ucmd = { .cmd = &buf };
	unsigned int nr = _IOC_NR(cmd);
	u32 usize;
	int ret;

	if (_IOC_TYPE(cmd) != EGM_TYPE || nr < EGM_CMD_BASE ||
	    nr - EGM_CMD_BASE >= ARRAY_SIZE(egm_ioctl_ops) ||
	    cmd != _IO(EGM_TYPE, nr))
		return -ENOTTY;
	op = &egm_ioctl_ops[nr - EGM_CMD_BASE];
	if (!op->execute)
		return -ENOTTY;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	ret = egm_ioctl_copy_struct(&buf, op->size, op->min_size, uarg, usize);
	if (ret)
		return ret;

	ret = op->execute(&ucmd);
	if (ret && ret != -ENOSPC)
		return ret;
	if (copy_to_user(uarg, &buf, min_t(u32, usize, op->size))) {
		if (ucmd.file) {
			fput(ucmd.file);
			put_unused_fd(ucmd.fd);
		}
		return -EFAULT;
	}
	if (ucmd.file)
		fd_install(ucmd.fd, ucmd.file);
	return ret;
}

static const struct file_operations egm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = egm_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice egm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "egm",
	.fops = &egm_fops,
	.mode = 0600,
};

static int __init egm_init(void)
{
	int ret, n;

	ret = egm_region_driver_init();
	if (ret)
		return ret;

	n = egm_acpi_discover();
	ret = egm_param_discover();
	if (ret >= 0)
		n += ret;
	pr_info("%d region(s) registered\n", n);

	ret = egm_iommufd_init();
	if (ret)
		goto err_regions;
	ret = misc_register(&egm_misc);
	if (ret)
		goto err_iommufd;
	egm_memfail_debugfs_init();
	return 0;

err_iommufd:
	egm_iommufd_exit();
err_regions:
	egm_regions_unregister();
	egm_region_driver_exit();
	return ret;
}

static void __exit egm_exit(void)
{
	egm_memfail_debugfs_exit();
	misc_deregister(&egm_misc);
	egm_iommufd_exit();
	egm_regions_unregister();
	egm_region_driver_exit();
}

module_init(egm_init);
module_exit(egm_exit);

MODULE_DESCRIPTION("NVIDIA Grace Extended GPU Memory (EGM) driver");
MODULE_LICENSE("GPL");
