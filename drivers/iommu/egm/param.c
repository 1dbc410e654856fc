// SPDX-License-Identifier: GPL-2.0-only
/*
 * egm.regions=<size>@<base>:<pxm>[,<size>@<base>:<pxm>...]
 *
 * Regions for platforms whose firmware does not describe them, and for
 * tests. Sizes and bases take the usual K/M/G suffixes.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "egm.h"

static char *egm_regions_param;
module_param_named(regions, egm_regions_param, charp, 0444);
MODULE_PARM_DESC(regions,
		 "EGM regions not described by firmware: <size>@<base>:<pxm>[,...]");

/**
 * egm_param_parse_one() - parse one <size>@<base>:<pxm> item
 * @s: the item, NUL-terminated
 * @d: output
 *
 * Return: 0 or -EINVAL.
 */
int egm_param_parse_one(const char *s, struct egm_region_desc *d)
{
	char *end;
	u32 pxm;

	memset(d, 0, sizeof(*d));
	d->size = memparse(s, &end);
	if (end == s || *end != '@')
		return -EINVAL;
	s = end + 1;
	d->base = memparse(s, &end);
	if (end == s || *end != ':')
		return -EINVAL;
	if (kstrtou32(end + 1, 0, &pxm))
		return -EINVAL;
	d->pxm = pxm;
	return 0;
}

/**
 * egm_param_discover() - register the regions given by egm.regions=
 *
 * Return: the number of regions registered, or -ENOMEM.
 */
int egm_param_discover(void)
{
	struct egm_region_desc d;
	char *buf, *cur, *item;
	int registered = 0;

	if (!egm_regions_param || !*egm_regions_param)
		return 0;

	buf = kstrdup(egm_regions_param, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	cur = buf;
	while ((item = strsep(&cur, ","))) {
		if (!*item)
			continue;
		if (egm_param_parse_one(item, &d)) {
			pr_err("egm.regions: cannot parse \"%s\"; expected <size>@<base>:<pxm>\n",
			       item);
			continue;
		}
		d.from_param = true;
		if (!egm_region_register(&d))
			registered++;
	}
	kfree(buf);
	return registered;
}
