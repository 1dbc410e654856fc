// SPDX-License-Identifier: GPL-2.0-only
/*
 * sysfs attributes of a region, on its egm platform device.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/bitops.h>
#include <linux/device.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "egm.h"

static struct egm_region *to_region(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t pxm_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%u\n", to_region(dev)->pxm);
}
static DEVICE_ATTR_RO(pxm);

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_region(dev)->size);
}
static DEVICE_ATTR_RO(size);

static ssize_t free_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct egm_region *r = to_region(dev);

	return sysfs_emit(buf, "%llu\n",
			  (u64)egm_allocator_free_pages(&r->alloc) << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(free);

static ssize_t clean_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct egm_allocator_stat st;

	egm_allocator_stat(&to_region(dev)->alloc, &st);
	return sysfs_emit(buf, "%llu\n", (u64)st.clean << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(clean);

static ssize_t align_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	unsigned long mask = to_region(dev)->align_mask;
	unsigned int bit;
	int len = 0;

	for_each_set_bit(bit, &mask, BITS_PER_LONG)
		len += sysfs_emit_at(buf, len, "%s%lu", len ? " " : "",
				     BIT(bit));
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static DEVICE_ATTR_RO(align);

static ssize_t retired_pages_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", to_region(dev)->nr_retired);
}
static DEVICE_ATTR_RO(retired_pages);

static ssize_t poisoned_pages_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&to_region(dev)->nr_poisoned));
}
static DEVICE_ATTR_RO(poisoned_pages);

static struct attribute *egm_region_attrs[] = {
	&dev_attr_pxm.attr,
	&dev_attr_size.attr,
	&dev_attr_free.attr,
	&dev_attr_clean.attr,
	&dev_attr_align.attr,
	&dev_attr_retired_pages.attr,
	&dev_attr_poisoned_pages.attr,
	NULL
};

static const struct attribute_group egm_region_group = {
	.attrs = egm_region_attrs,
};

const struct attribute_group *egm_region_groups[] = {
	&egm_region_group,
	NULL
};

static int egm_link_gpu(struct pci_dev *pdev, void *arg)
{
	struct egm_region *r = arg;
	struct pci_dev **gpus;
	char name[16];
	int ret;

	gpus = krealloc_array(r->gpus, r->nr_gpus + 1, sizeof(*gpus),
			      GFP_KERNEL);
	if (!gpus)
		return -ENOMEM;
	r->gpus = gpus;

	snprintf(name, sizeof(name), "gpu%u", r->nr_gpus);
	ret = sysfs_create_link(&r->dev->kobj, &pdev->dev.kobj, name);
	if (ret)
		return ret;
	r->gpus[r->nr_gpus++] = pci_dev_get(pdev);
	return 0;
}

/**
 * egm_region_link_gpus() - link the region's sysfs directory to its GPUs
 * @r: the region
 *
 * The links live in the region's own directory; the GPUs' directories
 * belong to their drivers and are left alone.
 *
 * Return: 0 or a negative errno; on error no link is left.
 */
int egm_region_link_gpus(struct egm_region *r)
{
	int ret;

	ret = egm_region_walk_gpus(r, egm_link_gpu, r);
	if (ret)
		egm_region_unlink_gpus(r);
	return ret;
}

/**
 * egm_region_unlink_gpus() - remove the links and drop the GPU references
 * @r: the region
 */
void egm_region_unlink_gpus(struct egm_region *r)
{
	char name[16];

	while (r->nr_gpus) {
		r->nr_gpus--;
		snprintf(name, sizeof(name), "gpu%u", r->nr_gpus);
		sysfs_remove_link(&r->dev->kobj, name);
		pci_dev_put(r->gpus[r->nr_gpus]);
	}
	kfree(r->gpus);
	r->gpus = NULL;
}
