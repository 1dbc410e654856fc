// SPDX-License-Identifier: GPL-2.0-only
/*
 * Window allocator: first fit of aligned page ranges in one region.
 *
 * The allocated ranges live in an allocation maple tree, which tracks the
 * largest gap below every node, so the free ranges need no structure of
 * their own and a fit is found in O(log n).
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/log2.h>
#include <linux/overflow.h>

#include "egm.h"

/**
 * egm_allocator_init() - set up an allocator for @pages pages
 * @a: the allocator
 * @pages: size of the managed range in pages
 */
void egm_allocator_init(struct egm_allocator *a, unsigned long pages)
{
	mutex_init(&a->lock);
	mt_init_flags(&a->mt, MT_FLAGS_ALLOC_RANGE);
	a->pages = pages;
	a->used = 0;
}

/**
 * egm_allocator_destroy() - release the allocator's own memory
 * @a: the allocator; every range must have been freed
 */
void egm_allocator_destroy(struct egm_allocator *a)
{
	WARN_ON(a->used);
	mtree_destroy(&a->mt);
	mutex_destroy(&a->lock);
}

/* Is [start, start + npages) free? On no, *next is where to look next. */
static bool egm_range_free(struct ma_state *mas, unsigned long start,
			   unsigned long npages, unsigned long *next)
{
	mas_set(mas, start);
	if (!mas_find(mas, start + npages - 1))
		return true;
	*next = mas->last + 1;
	return false;
}

/**
 * egm_allocator_alloc() - allocate an aligned range
 * @a: the allocator
 * @npages: number of pages, nonzero
 * @align_pages: alignment in pages, a power of two
 * @owner: recorded for the range, returned by nothing but kept for lookups
 * @start: output, first page of the range
 *
 * Searching for a gap of @npages + @align_pages - 1 pages finds an aligned
 * fit in one O(log n) descent. Only when that fails, close to exhaustion,
 * are the gaps walked one by one for an exact fit.
 *
 * Return: 0, -EINVAL for bad arguments, -ENOSPC if no range fits, or
 * -ENOMEM.
 */
int egm_allocator_alloc(struct egm_allocator *a, unsigned long npages,
			unsigned long align_pages, void *owner,
			unsigned long *start)
{
	MA_STATE(mas, &a->mt, 0, 0);
	unsigned long span, cur, s, last;
	int ret = -ENOSPC;

	if (!npages || !owner || !is_power_of_2(align_pages))
		return -EINVAL;
	if (npages > a->pages)
		return -ENOSPC;
	last = a->pages - 1;

	mutex_lock(&a->lock);
	mas_lock(&mas);
	if (!check_add_overflow(npages, align_pages - 1, &span) &&
	    span <= a->pages && !mas_empty_area(&mas, 0, last, span)) {
		s = ALIGN(mas.index, align_pages);
		ret = 0;
		goto store;
	}

	for (cur = 0; cur <= last - npages + 1;) {
		mas_reset(&mas);
		if (mas_empty_area(&mas, cur, last, npages))
			break;
		s = ALIGN(mas.index, align_pages);
		if (s < mas.index || s > last - npages + 1)
			break;
		if (egm_range_free(&mas, s, npages, &cur)) {
			ret = 0;
			goto store;
		}
	}
	goto unlock;

store:
	mas_set_range(&mas, s, s + npages - 1);
	ret = mas_store_gfp(&mas, owner, GFP_KERNEL);
	if (!ret) {
		a->used += npages;
		*start = s;
	}
unlock:
	mas_unlock(&mas);
	mutex_unlock(&a->lock);
	return ret;
}

/**
 * egm_allocator_free() - free the range that starts at @start
 * @a: the allocator
 * @start: first page of a range returned by egm_allocator_alloc()
 */
void egm_allocator_free(struct egm_allocator *a, unsigned long start)
{
	MA_STATE(mas, &a->mt, start, start);
	void *entry;

	mutex_lock(&a->lock);
	mas_lock(&mas);
	entry = mas_walk(&mas);
	if (!WARN_ON(!entry || mas.index != start)) {
		a->used -= mas.last - mas.index + 1;
		mas_erase(&mas);
	}
	mas_unlock(&mas);
	mutex_unlock(&a->lock);
}

/**
 * egm_allocator_free_pages() - number of pages not allocated
 * @a: the allocator
 *
 * Return: the number of free pages.
 */
unsigned long egm_allocator_free_pages(struct egm_allocator *a)
{
	unsigned long used;

	mutex_lock(&a->lock);
	used = a->used;
	mutex_unlock(&a->lock);
	return a->pages - used;
}
