// SPDX-License-Identifier: GPL-2.0-only
/*
 * Window allocator: aligned page ranges of one region, first fit.
 *
 * The allocated ranges live in an allocation maple tree, which tracks the
 * largest gap below every node, so the free ranges need no structure of
 * their own and the lowest gap that is large enough is found in O(log n).
 * A gap that is large enough may still miss an aligned fit, or hold pages
 * the caller wants to avoid; the search then moves past it, so its cost
 * grows with the number of such gaps and avoided pages, not with the
 * region's size.
 *
 * The allocator also knows which free memory is clean, by chunks of
 * EGM_CHUNK_SIZE: a chunk is clean when all of it is free and zeroed. An
 * allocation makes every chunk it touches not clean, so a free needs no
 * bookkeeping and cannot fail; the background scrubber makes free chunks
 * clean again.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/log2.h>
#include <linux/overflow.h>

#include "egm.h"

#define EGM_CHUNK_PAGES		(EGM_CHUNK_SIZE >> PAGE_SHIFT)

static unsigned long egm_chunks(unsigned long pages)
{
	return DIV_ROUND_UP(pages, EGM_CHUNK_PAGES);
}

/**
 * egm_allocator_init() - set up an allocator for @pages pages
 * @a: the allocator
 * @pages: size of the managed range in pages, nonzero
 * @avoid: pages that EGM_ALLOCATOR_AVOID keeps out of ranges, or NULL
 *
 * Every page starts free and dirty.
 *
 * Return: 0 or -ENOMEM.
 */
int egm_allocator_init(struct egm_allocator *a, unsigned long pages,
		       struct xarray *avoid)
{
	unsigned long n = egm_chunks(pages);

	a->clean = bitmap_zalloc(n, GFP_KERNEL);
	a->touched = bitmap_zalloc(n, GFP_KERNEL);
	a->inflight = bitmap_zalloc(n, GFP_KERNEL);
	if (!a->clean || !a->touched || !a->inflight) {
		bitmap_free(a->clean);
		bitmap_free(a->touched);
		bitmap_free(a->inflight);
		return -ENOMEM;
	}
	mutex_init(&a->lock);
	init_waitqueue_head(&a->inflight_wq);
	mt_init_flags(&a->mt, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_LOCK_EXTERN);
	mt_set_external_lock(&a->mt, &a->lock);
	a->pages = pages;
	a->used = 0;
	a->clean_pages = 0;
	a->avoid = avoid;
	return 0;
}

/**
 * egm_allocator_destroy() - release the allocator's own memory
 * @a: the allocator; every range must have been freed
 */
void egm_allocator_destroy(struct egm_allocator *a)
{
	WARN_ON(a->used);
	mutex_lock(&a->lock);
	__mt_destroy(&a->mt);
	mutex_unlock(&a->lock);
	mutex_destroy(&a->lock);
	bitmap_free(a->clean);
	bitmap_free(a->touched);
	bitmap_free(a->inflight);
}

/* Pages of chunk @c, the last one possibly short. */
static unsigned long egm_chunk_pages(struct egm_allocator *a, unsigned long c)
{
	return min(EGM_CHUNK_PAGES, a->pages - c * EGM_CHUNK_PAGES);
}

/* The first avoided page in [start, last], or ULONG_MAX if there is none. */
static unsigned long egm_first_avoided(struct egm_allocator *a,
				       unsigned long start, unsigned long last,
				       unsigned int flags)
{
	unsigned long idx = start, found = ULONG_MAX, c;

	if ((flags & EGM_ALLOCATOR_AVOID) && a->avoid &&
	    xa_find(a->avoid, &idx, last, XA_PRESENT))
		found = idx;
	if (flags & EGM_ALLOCATOR_CLEAN) {
		c = find_next_zero_bit(a->clean, last / EGM_CHUNK_PAGES + 1,
				       start / EGM_CHUNK_PAGES);
		if (c <= last / EGM_CHUNK_PAGES)
			found = min(found, max(start, c * EGM_CHUNK_PAGES));
	}
	return found;
}

/* The last avoided page in [start, last], or ULONG_MAX if there is none. */
static unsigned long egm_last_avoided(struct egm_allocator *a,
				      unsigned long start, unsigned long last,
				      unsigned int flags)
{
	unsigned long idx, found = ULONG_MAX, c, first = start / EGM_CHUNK_PAGES;
	void *entry;

	if ((flags & EGM_ALLOCATOR_AVOID) && a->avoid)
		xa_for_each_range(a->avoid, idx, entry, start, last)
			found = idx;
	if (flags & EGM_ALLOCATOR_CLEAN) {
		/* Few chunks are tested: top-down fits are single pages. */
		for (c = last / EGM_CHUNK_PAGES; c >= first; c--) {
			if (!test_bit(c, a->clean)) {
				idx = min(last, (c + 1) * EGM_CHUNK_PAGES - 1);
				if (found == ULONG_MAX || idx > found)
					found = idx;
				break;
			}
			if (!c)
				break;
		}
	}
	return found;
}

/*
 * The lowest free gap that starts at or above @from and has room for @n
 * pages: [*gs, *ge].
 */
static bool egm_gap_up(struct egm_allocator *a, unsigned long from,
		       unsigned long n, unsigned long *gs, unsigned long *ge)
{
	MA_STATE(mas, &a->mt, 0, 0);
	unsigned long last = a->pages - 1;

	if (from > last || mas_empty_area(&mas, from, last, n))
		return false;
	*gs = mas.index;
	mas_set(&mas, *gs);
	*ge = mas_find(&mas, last) ? mas.index - 1 : last;
	return true;
}

/*
 * The highest free gap that ends at or below @to and has room for @n
 * pages: [*gs, *ge].
 */
static bool egm_gap_down(struct egm_allocator *a, unsigned long to,
			 unsigned long n, unsigned long *gs, unsigned long *ge)
{
	MA_STATE(mas, &a->mt, 0, 0);

	if (to == ULONG_MAX || mas_empty_area_rev(&mas, 0, to, n))
		return false;
	*ge = mas.last;
	mas_set(&mas, *ge);
	*gs = mas_find_rev(&mas, 0) ? mas.last + 1 : 0;
	return true;
}

/* @page is avoided because its chunk is not clean. */
static bool egm_dirty_avoided(struct egm_allocator *a, unsigned long page,
			      unsigned int avoid)
{
	return (avoid & EGM_ALLOCATOR_CLEAN) &&
	       !test_bit(page / EGM_CHUNK_PAGES, a->clean);
}

/* The lowest aligned fit in [gs, ge], or ULONG_MAX. */
static unsigned long egm_fit_up(struct egm_allocator *a, unsigned long gs,
				unsigned long ge, unsigned long n,
				unsigned long align, unsigned int avoid)
{
	unsigned long s = ALIGN(gs, align), bad;

	while (s >= gs && s <= ge && ge - s >= n - 1) {
		bad = avoid ? egm_first_avoided(a, s, s + n - 1, avoid) :
			      ULONG_MAX;
		if (bad == ULONG_MAX)
			return s;
		/* A dirty chunk is avoided whole: past it, not page by page. */
		if (egm_dirty_avoided(a, bad, avoid))
			bad = (bad / EGM_CHUNK_PAGES + 1) * EGM_CHUNK_PAGES - 1;
		s = ALIGN(bad + 1, align);
	}
	return ULONG_MAX;
}

/* The highest aligned fit in [gs, ge], or ULONG_MAX. */
static unsigned long egm_fit_down(struct egm_allocator *a, unsigned long gs,
				  unsigned long ge, unsigned long n,
				  unsigned long align, unsigned int avoid)
{
	unsigned long s, bad;

	if (ge - gs < n - 1)
		return ULONG_MAX;
	s = ALIGN_DOWN(ge - n + 1, align);
	while (s >= gs && s <= ge - n + 1) {
		bad = avoid ? egm_last_avoided(a, s, s + n - 1, avoid) :
			      ULONG_MAX;
		if (bad == ULONG_MAX)
			return s;
		if (egm_dirty_avoided(a, bad, avoid))
			bad = bad / EGM_CHUNK_PAGES * EGM_CHUNK_PAGES;
		if (bad < gs + n)
			break;
		s = ALIGN_DOWN(bad - n, align);
	}
	return ULONG_MAX;
}

static unsigned long egm_find(struct egm_allocator *a, unsigned long n,
			      unsigned long align, unsigned int flags)
{
	unsigned int avoid = flags & (EGM_ALLOCATOR_AVOID | EGM_ALLOCATOR_CLEAN);
	unsigned long gs, ge, s;

	if (flags & EGM_ALLOCATOR_TOP) {
		unsigned long to = a->pages - 1;

		while (egm_gap_down(a, to, n, &gs, &ge)) {
			s = egm_fit_down(a, gs, ge, n, align, avoid);
			if (s != ULONG_MAX)
				return s;
			to = gs ? gs - 1 : ULONG_MAX;
		}
		return ULONG_MAX;
	}

	for (gs = 0; egm_gap_up(a, gs, n, &gs, &ge); gs = ge + 1) {
		s = egm_fit_up(a, gs, ge, n, align, avoid);
		if (s != ULONG_MAX || ge == a->pages - 1)
			return s;
	}
	return ULONG_MAX;
}

/*
 * A range is being allocated: record which of its chunks were not clean in
 * @dirty (bit i for the i-th chunk the range touches), then make them all
 * not clean and touched.
 */
static void egm_take_chunks(struct egm_allocator *a, unsigned long s,
			    unsigned long n, unsigned long *dirty)
{
	unsigned long c, first = s / EGM_CHUNK_PAGES;
	unsigned long last = (s + n - 1) / EGM_CHUNK_PAGES;

	for (c = first; c <= last; c++) {
		if (test_and_clear_bit(c, a->clean))
			a->clean_pages -= egm_chunk_pages(a, c);
		else if (dirty)
			__set_bit(c - first, dirty);
		__set_bit(c, a->touched);
	}
}

/* A chunk of [s, s + n) is being zeroed by the background scrubber. */
static bool egm_range_inflight(struct egm_allocator *a, unsigned long s,
			       unsigned long n)
{
	unsigned long last = (s + n - 1) / EGM_CHUNK_PAGES;

	return find_next_bit(a->inflight, last + 1, s / EGM_CHUNK_PAGES) <=
	       last;
}

/**
 * egm_allocator_alloc() - allocate an aligned range
 * @a: the allocator
 * @npages: number of pages, nonzero
 * @align_pages: alignment in pages, a power of two
 * @owner: stored for the range; must not be NULL
 * @flags: EGM_ALLOCATOR_AVOID to keep the avoided pages out of the range,
 *	   EGM_ALLOCATOR_CLEAN to keep out chunks that are not clean too,
 *	   EGM_ALLOCATOR_TOP for the highest fit instead of the lowest
 * @start: output, first page of the range
 * @dirty: NULL, or a zeroed bitmap of egm_allocator_chunks(@npages) bits:
 *	   output, bit i set if the i-th chunk the range touches may hold
 *	   data and must be zeroed
 *
 * Return: 0, -EINVAL for bad arguments, -ENOSPC if no range fits, or
 * -ENOMEM.
 */
int egm_allocator_alloc(struct egm_allocator *a, unsigned long npages,
			unsigned long align_pages, void *owner,
			unsigned int flags, unsigned long *start,
			unsigned long *dirty)
{
	MA_STATE(mas, &a->mt, 0, 0);
	unsigned long s;
	int ret;

	if (!npages || !owner || !is_power_of_2(align_pages) ||
	    (flags & ~(EGM_ALLOCATOR_AVOID | EGM_ALLOCATOR_TOP |
		       EGM_ALLOCATOR_CLEAN)))
		return -EINVAL;
	if (npages > a->pages)
		return -ENOSPC;

	mutex_lock(&a->lock);
	s = egm_find(a, npages, align_pages, flags);
	if (s == ULONG_MAX) {
		ret = -ENOSPC;
		goto unlock;
	}
	mas_set_range(&mas, s, s + npages - 1);
	ret = mas_store_gfp(&mas, owner, GFP_KERNEL_ACCOUNT);
	if (!ret) {
		a->used += npages;
		egm_take_chunks(a, s, npages, dirty);
		*start = s;
	}
unlock:
	mutex_unlock(&a->lock);
	return ret;
}

/**
 * egm_allocator_wait_scrubbed() - wait out background zeroing of a range
 * @a: the allocator
 * @start: first page of an allocated range
 * @npages: its length
 *
 * The background scrubber does not hold the chunk it zeroes, so an
 * allocation can get it meanwhile: the new owner must not use the range
 * before the scrubber is done with it, or it zeroes what the owner wrote.
 */
void egm_allocator_wait_scrubbed(struct egm_allocator *a, unsigned long start,
				 unsigned long npages)
{
	wait_event(a->inflight_wq, !egm_range_inflight(a, start, npages));
}

/**
 * egm_allocator_chunks() - the number of chunks a range can touch
 * @npages: length of the range in pages
 *
 * Return: the size in bits of egm_allocator_alloc()'s @dirty bitmap.
 */
unsigned long egm_allocator_chunks(unsigned long npages)
{
	return egm_chunks(npages) + 1;
}

/**
 * egm_allocator_free() - free the range that starts at @start
 * @a: the allocator
 * @start: first page of a range returned by egm_allocator_alloc()
 *
 * The range is dirty from now on, until it is scrubbed.
 */
void egm_allocator_free(struct egm_allocator *a, unsigned long start)
{
	MA_STATE(mas, &a->mt, start, start);
	void *entry;

	mutex_lock(&a->lock);
	entry = mas_walk(&mas);
	if (!WARN_ON(!entry || mas.index != start)) {
		a->used -= mas.last - mas.index + 1;
		mas_erase(&mas);
	}
	mutex_unlock(&a->lock);
}

/**
 * egm_allocator_stat() - what is free
 * @a: the allocator
 * @st: output
 *
 * Walks every gap, so it costs O(gaps + avoided pages); for queries, not
 * for the allocation path.
 */
void egm_allocator_stat(struct egm_allocator *a, struct egm_allocator_stat *st)
{
	unsigned long gs, ge, from, p, bad, end;

	memset(st, 0, sizeof(*st));
	mutex_lock(&a->lock);
	st->free = a->pages - a->used;
	st->clean = a->clean_pages;
	for (from = 0; egm_gap_up(a, from, 1, &gs, &ge); from = ge + 1) {
		st->largest = max(st->largest, ge - gs + 1);
		for (p = gs; p <= ge; p = bad + 1) {
			bad = egm_first_avoided(a, p, ge, EGM_ALLOCATOR_AVOID);
			end = bad == ULONG_MAX ? ge + 1 : bad;
			st->largest_good = max(st->largest_good, end - p);
			if (bad == ULONG_MAX)
				break;
		}
		if (ge == a->pages - 1)
			break;
	}
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

/*
 * Is chunk @c entirely free? Called with the lock held; on no, *next is
 * the first chunk after the range that holds it.
 */
static bool egm_chunk_free(struct egm_allocator *a, unsigned long c,
			   unsigned long *next)
{
	MA_STATE(mas, &a->mt, c * EGM_CHUNK_PAGES, c * EGM_CHUNK_PAGES);

	if (!mas_find(&mas, c * EGM_CHUNK_PAGES + egm_chunk_pages(a, c) - 1))
		return true;
	*next = (mas.last + 1) / EGM_CHUNK_PAGES;
	if (*next <= c)
		*next = c + 1;
	return false;
}

/**
 * egm_allocator_next_dirty() - pick a free chunk that is not clean
 * @a: the allocator
 * @from: first chunk to consider
 * @chunk: output, the chunk
 *
 * The chunk is not taken: an allocation may still get it while it is
 * being zeroed. egm_allocator_set_clean() tells whether that happened,
 * and must follow, so that the chunk can be picked again.
 *
 * Return: true if there is such a chunk at or after @from.
 */
bool egm_allocator_next_dirty(struct egm_allocator *a, unsigned long from,
			      unsigned long *chunk)
{
	unsigned long n = egm_chunks(a->pages), c, next;
	bool found = false;

	mutex_lock(&a->lock);
	for (c = from; c < n; c = next) {
		c = find_next_zero_bit(a->clean, n, c);
		if (c >= n)
			break;
		next = c + 1;
		if (!test_bit(c, a->inflight) && egm_chunk_free(a, c, &next)) {
			/* From now on, an allocation of it shows. */
			__clear_bit(c, a->touched);
			set_bit(c, a->inflight);
			*chunk = c;
			found = true;
			break;
		}
	}
	mutex_unlock(&a->lock);
	return found;
}

/**
 * egm_allocator_set_clean() - a chunk from egm_allocator_next_dirty() is zeroed
 * @a: the allocator
 * @chunk: the chunk
 *
 * Return: true if it is now clean; false if it was allocated meanwhile,
 * and so is not.
 */
bool egm_allocator_set_clean(struct egm_allocator *a, unsigned long chunk)
{
	bool clean = false;

	mutex_lock(&a->lock);
	clear_bit(chunk, a->inflight);
	if (!test_bit(chunk, a->touched) && !test_bit(chunk, a->clean)) {
		__set_bit(chunk, a->clean);
		a->clean_pages += egm_chunk_pages(a, chunk);
		clean = true;
	}
	mutex_unlock(&a->lock);
	wake_up_all(&a->inflight_wq);
	return clean;
}

/**
 * egm_allocator_chunk_range() - the pages of a chunk
 * @a: the allocator
 * @chunk: the chunk
 * @start: output, its first page
 *
 * Return: its number of pages.
 */
unsigned long egm_allocator_chunk_range(struct egm_allocator *a,
					unsigned long chunk,
					unsigned long *start)
{
	*start = chunk * EGM_CHUNK_PAGES;
	return egm_chunk_pages(a, chunk);
}
