// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the window allocator.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <kunit/test.h>
#include <linux/prandom.h>

#include "egm.h"

#define OWNER ((void *)1)

static struct egm_allocator *new_alloc(struct kunit *test, unsigned long pages)
{
	struct egm_allocator *a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_EQ(test, egm_allocator_init(a, pages, NULL), 0);
	return a;
}

static unsigned long must_alloc(struct kunit *test, struct egm_allocator *a,
				unsigned long n, unsigned long align)
{
	unsigned long start = ULONG_MAX;

	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, n, align, OWNER, 0, &start, NULL), 0);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(start, align));
	KUNIT_EXPECT_LE(test, start + n, a->pages);
	return start;
}

static void egm_alloc_test_args(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 64);
	unsigned long s;

	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 0, 1, OWNER, 0, &s, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 3, OWNER, 0, &s, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 0, OWNER, 0, &s, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, NULL, 0, &s, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER, BIT(7), &s, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 65, 1, OWNER, 0, &s, NULL), -ENOSPC);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 64UL);
	egm_allocator_destroy(a);
}

static void egm_alloc_test_alignment(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 4096);
	unsigned long s1, s2, s3;

	s1 = must_alloc(test, a, 1, 1);
	KUNIT_EXPECT_EQ(test, s1, 0UL);
	s2 = must_alloc(test, a, 512, 512);
	KUNIT_EXPECT_EQ(test, s2, 512UL);
	s3 = must_alloc(test, a, 1024, 1024);
	KUNIT_EXPECT_EQ(test, s3, 1024UL);
	/* The hole below 512 still takes small unaligned windows. */
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 3, 1), 1UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 4096UL - 1 - 512 - 1024 - 3);

	egm_allocator_free(a, 1);
	egm_allocator_free(a, s1);
	egm_allocator_free(a, s2);
	egm_allocator_free(a, s3);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 4096UL);
	egm_allocator_destroy(a);
}

static void egm_alloc_test_first_fit(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 1000);
	unsigned long x, y, z;

	x = must_alloc(test, a, 100, 1);
	y = must_alloc(test, a, 100, 1);
	z = must_alloc(test, a, 100, 1);
	KUNIT_EXPECT_EQ(test, y, 100UL);
	egm_allocator_free(a, y);
	/* The lowest hole that fits wins. */
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 50, 1), 100UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 50, 1), 150UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 50, 1), 300UL);
	egm_allocator_free(a, 100);
	egm_allocator_free(a, 150);
	egm_allocator_free(a, 300);
	egm_allocator_free(a, x);
	egm_allocator_free(a, z);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 1000UL);
	egm_allocator_destroy(a);
}

/* Only an exact-fit search finds an aligned range that fills a hole. */
static void egm_alloc_test_exact_fit(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 1024);
	unsigned long s;

	s = must_alloc(test, a, 512, 512);
	KUNIT_EXPECT_EQ(test, s, 0UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 512), 512UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER, 0, &s, NULL), -ENOSPC);
	egm_allocator_free(a, 0);
	egm_allocator_free(a, 512);
	egm_allocator_destroy(a);
}

static void egm_alloc_test_fragmentation(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 256);
	unsigned long i, s;

	for (i = 0; i < 256; i++)
		KUNIT_ASSERT_EQ(test, must_alloc(test, a, 1, 1), i);
	for (i = 0; i < 256; i += 2)
		egm_allocator_free(a, i);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 128UL);
	/* Half the region is free, yet no two pages are adjacent. */
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 2, 1, OWNER, 0, &s, NULL), -ENOSPC);
	egm_allocator_free(a, 1);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 3, 1), 0UL);
	egm_allocator_free(a, 0);
	for (i = 3; i < 256; i += 2)
		egm_allocator_free(a, i);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 256UL);
	egm_allocator_destroy(a);
}

static void egm_alloc_test_exhaustion(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 512);
	unsigned long s;

	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 512), 0UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 0UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER, 0, &s, NULL), -ENOSPC);
	egm_allocator_free(a, 0);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 512UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 1), 0UL);
	egm_allocator_free(a, 0);
	egm_allocator_destroy(a);
}

/*
 * First fit means the lowest address: an exact-size aligned hole low down
 * wins over a large free extent above it.
 */
static void egm_alloc_test_first_fit_hole(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 4096);

	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 512), 0UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 512), 512UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 1024, 1024), 1024UL);
	egm_allocator_free(a, 512);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 512), 512UL);
	/* Unaligned, the same hole is taken by a smaller range. */
	egm_allocator_free(a, 512);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 300, 4), 512UL);
	egm_allocator_free(a, 0);
	egm_allocator_free(a, 512);
	egm_allocator_free(a, 1024);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 4096UL);
	egm_allocator_destroy(a);
}

static struct egm_allocator *new_alloc_avoid(struct kunit *test,
					     unsigned long pages,
					     struct xarray *xa,
					     const unsigned long *bad,
					     unsigned int nbad)
{
	struct egm_allocator *a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, a);
	xa_init(xa);
	for (i = 0; i < nbad; i++)
		KUNIT_ASSERT_EQ(test, xa_err(xa_store(xa, bad[i], xa_mk_value(1),
						      GFP_KERNEL)), 0);
	KUNIT_ASSERT_EQ(test, egm_allocator_init(a, pages, xa), 0);
	return a;
}

static unsigned long must_alloc_flags(struct kunit *test,
				      struct egm_allocator *a, unsigned long n,
				      unsigned long align, unsigned int flags)
{
	unsigned long start = ULONG_MAX;

	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, n, align, OWNER, flags,
						  &start, NULL), 0);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(start, align));
	KUNIT_EXPECT_LE(test, start + n, a->pages);
	return start;
}

/* Avoided pages stay out of a range when asked, and only then. */
static void egm_alloc_test_avoid(struct kunit *test)
{
	static const unsigned long bad[] = { 10, 600, 601, 1023 };
	struct egm_allocator *a;
	struct xarray xa;
	unsigned long s;

	a = new_alloc_avoid(test, 1024, &xa, bad, ARRAY_SIZE(bad));
	/* The first fit is past page 10. */
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 100, 1,
					       EGM_ALLOCATOR_AVOID), 11UL);
	/* Aligned, it moves on to the next aligned start past the bad page. */
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 64, 64,
					       EGM_ALLOCATOR_AVOID), 128UL);
	/* Neither 512-aligned half is clean. */
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 512, 512, OWNER,
						  EGM_ALLOCATOR_AVOID, &s, NULL),
			-ENOSPC);
	/* [602, 1022] is the largest clean extent. */
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 421, 1,
					       EGM_ALLOCATOR_AVOID), 602UL);
	/* [192, 601] is free but not clean; the plain search takes it. */
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 409, 1, OWNER,
						  EGM_ALLOCATOR_AVOID, &s, NULL),
			-ENOSPC);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 409, 1, 0), 192UL);
	egm_allocator_free(a, 11);
	egm_allocator_free(a, 128);
	egm_allocator_free(a, 192);
	egm_allocator_free(a, 602);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 1024UL);
	egm_allocator_destroy(a);
	xa_destroy(&xa);
}

/* Spares come from the top, below any avoided page. */
static void egm_alloc_test_top(struct kunit *test)
{
	static const unsigned long bad[] = { 1022, 1023, 900 };
	const unsigned int f = EGM_ALLOCATOR_AVOID | EGM_ALLOCATOR_TOP;
	struct egm_allocator *a;
	struct xarray xa;
	unsigned long s;

	a = new_alloc_avoid(test, 1024, &xa, bad, ARRAY_SIZE(bad));
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 1, 1, f), 1021UL);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 1, 1, f), 1020UL);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 1, 1,
					       EGM_ALLOCATOR_TOP), 1023UL);
	/* Aligned top-down fits skip the bad page at 900. */
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 64, 64, f), 896UL - 64);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 64, 64,
					       EGM_ALLOCATOR_TOP), 896UL);
	/* A full bottom makes the top search go down through the gaps. */
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 832, 1, 0), 0UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 65, 1, OWNER, f, &s, NULL),
			-ENOSPC);
	egm_allocator_free(a, 0);
	egm_allocator_free(a, 1021);
	egm_allocator_free(a, 1020);
	egm_allocator_free(a, 1023);
	egm_allocator_free(a, 832);
	egm_allocator_free(a, 896);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 1024UL);
	egm_allocator_destroy(a);
	xa_destroy(&xa);
}

static void egm_alloc_test_stat(struct kunit *test)
{
	static const unsigned long bad[] = { 5, 700 };
	struct egm_allocator_stat st;
	struct egm_allocator *a;
	struct xarray xa;

	a = new_alloc_avoid(test, 1024, &xa, bad, ARRAY_SIZE(bad));
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.free, 1024UL);
	KUNIT_EXPECT_EQ(test, st.largest, 1024UL);
	KUNIT_EXPECT_EQ(test, st.largest_good, 700UL - 6);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 400, 1, 0), 0UL);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.free, 624UL);
	KUNIT_EXPECT_EQ(test, st.largest, 624UL);
	KUNIT_EXPECT_EQ(test, st.largest_good, 1024UL - 701);
	KUNIT_EXPECT_EQ(test, must_alloc_flags(test, a, 624, 1, 0), 400UL);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.free, 0UL);
	KUNIT_EXPECT_EQ(test, st.largest, 0UL);
	KUNIT_EXPECT_EQ(test, st.largest_good, 0UL);
	egm_allocator_free(a, 0);
	egm_allocator_free(a, 400);
	egm_allocator_destroy(a);
	xa_destroy(&xa);
}

#define RANDOM_SLOTS	32

/* Random allocs and frees: ranges never overlap and the books balance. */
static void egm_alloc_test_random(struct kunit *test)
{
	const unsigned long pages = 8192;
	struct egm_allocator *a = new_alloc(test, pages);
	unsigned long start[RANDOM_SLOTS], len[RANDOM_SLOTS] = {};
	struct rnd_state rnd;
	unsigned long used = 0, i, j, op;

	prandom_seed_state(&rnd, 0x45474d);
	for (op = 0; op < 4000; op++) {
		i = prandom_u32_state(&rnd) % RANDOM_SLOTS;
		if (len[i]) {
			egm_allocator_free(a, start[i]);
			used -= len[i];
			len[i] = 0;
		} else {
			unsigned long align = 1UL << (prandom_u32_state(&rnd) % 8);
			unsigned long n = align * (1 + prandom_u32_state(&rnd) % 8);
			int ret = egm_allocator_alloc(a, n, align, OWNER, 0, &start[i], NULL);

			if (ret) {
				KUNIT_ASSERT_EQ(test, ret, -ENOSPC);
				continue;
			}
			KUNIT_ASSERT_TRUE(test, IS_ALIGNED(start[i], align));
			KUNIT_ASSERT_LE(test, start[i] + n, pages);
			for (j = 0; j < RANDOM_SLOTS; j++) {
				bool apart = start[i] + n <= start[j] ||
					     start[j] + len[j] <= start[i];

				if (j != i && len[j])
					KUNIT_ASSERT_TRUE(test, apart);
			}
			len[i] = n;
			used += n;
		}
		KUNIT_ASSERT_EQ(test, egm_allocator_free_pages(a), pages - used);
	}
	for (i = 0; i < RANDOM_SLOTS; i++)
		if (len[i])
			egm_allocator_free(a, start[i]);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), pages);
	KUNIT_EXPECT_TRUE(test, mtree_empty(&a->mt));
	egm_allocator_destroy(a);
}

/* The longest run of free pages, and of free pages that are not bad. */
static void model_stat(const unsigned long *used, const unsigned long *bad,
		       unsigned long pages, struct egm_allocator_stat *st)
{
	unsigned long i, run = 0, good = 0;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < pages; i++) {
		if (test_bit(i, used)) {
			run = 0;
			good = 0;
			continue;
		}
		st->free++;
		st->largest = max(st->largest, ++run);
		good = test_bit(i, bad) ? 0 : good + 1;
		st->largest_good = max(st->largest_good, good);
	}
}

/*
 * Random allocs and frees with and without avoidance, against a bitmap
 * model: avoided pages never land in an avoiding range, and the stats
 * match the model exactly.
 */
static void egm_alloc_test_random_avoid(struct kunit *test)
{
	const unsigned long pages = 2048;
	unsigned long start[RANDOM_SLOTS], len[RANDOM_SLOTS] = {};
	unsigned long *used, *bad, i, op, n;
	struct egm_allocator_stat st, want;
	struct egm_allocator *a;
	struct rnd_state rnd;
	struct xarray xa;

	used = kunit_kzalloc(test, BITS_TO_LONGS(pages) * sizeof(long), GFP_KERNEL);
	bad = kunit_kzalloc(test, BITS_TO_LONGS(pages) * sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, used);
	KUNIT_ASSERT_NOT_NULL(test, bad);
	prandom_seed_state(&rnd, 0x617664);
	a = new_alloc_avoid(test, pages, &xa, NULL, 0);
	for (i = 0; i < 24; i++) {
		n = prandom_u32_state(&rnd) % pages;
		set_bit(n, bad);
		KUNIT_ASSERT_EQ(test, xa_err(xa_store(&xa, n, xa_mk_value(1),
						      GFP_KERNEL)), 0);
	}

	for (op = 0; op < 3000; op++) {
		i = prandom_u32_state(&rnd) % RANDOM_SLOTS;
		if (len[i]) {
			egm_allocator_free(a, start[i]);
			bitmap_clear(used, start[i], len[i]);
			len[i] = 0;
		} else {
			unsigned int flags = prandom_u32_state(&rnd) & 3;
			unsigned long align = 1UL << (prandom_u32_state(&rnd) % 6);
			int ret;

			n = align * (1 + prandom_u32_state(&rnd) % 6);
			ret = egm_allocator_alloc(a, n, align, OWNER, flags,
						  &start[i], NULL);
			if (ret) {
				KUNIT_ASSERT_EQ(test, ret, -ENOSPC);
				continue;
			}
			KUNIT_ASSERT_TRUE(test, IS_ALIGNED(start[i], align));
			KUNIT_ASSERT_LE(test, start[i] + n, pages);
			KUNIT_ASSERT_EQ(test, find_next_bit(used, start[i] + n,
							    start[i]),
					start[i] + n);
			if (flags & EGM_ALLOCATOR_AVOID)
				KUNIT_ASSERT_EQ(test,
						find_next_bit(bad, start[i] + n,
							      start[i]),
						start[i] + n);
			bitmap_set(used, start[i], n);
			len[i] = n;
		}
		egm_allocator_stat(a, &st);
		model_stat(used, bad, pages, &want);
		KUNIT_ASSERT_EQ(test, st.free, want.free);
		KUNIT_ASSERT_EQ(test, st.largest, want.largest);
		KUNIT_ASSERT_EQ(test, st.largest_good, want.largest_good);
	}
	for (i = 0; i < RANDOM_SLOTS; i++)
		if (len[i])
			egm_allocator_free(a, start[i]);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), pages);
	egm_allocator_destroy(a);
	xa_destroy(&xa);
}

/* Make every free chunk clean, as the background scrubber would. */
static unsigned long scrub_all(struct egm_allocator *a)
{
	unsigned long c, n = 0;

	while (egm_allocator_next_dirty(a, 0, &c))
		n += egm_allocator_set_clean(a, c);
	return n;
}

/*
 * Clean tracking: everything starts dirty; the scrubber's chunks become
 * clean unless they were allocated meanwhile; an allocation reports the
 * chunks it must zero and makes every chunk it touches not clean.
 */
static void egm_alloc_test_clean(struct kunit *test)
{
	const unsigned long cp = EGM_CHUNK_SIZE >> PAGE_SHIFT;
	struct egm_allocator *a = new_alloc(test, 8 * cp + cp / 2);
	unsigned long s, c, dirty[2] = {};
	struct egm_allocator_stat st;

	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.clean, 0UL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER,
						  EGM_ALLOCATOR_CLEAN, &s,
						  NULL), -ENOSPC);

	/* A chunk allocated while it was being zeroed stays dirty. */
	KUNIT_ASSERT_TRUE(test, egm_allocator_next_dirty(a, 0, &c));
	KUNIT_EXPECT_EQ(test, c, 0UL);
	/* The next pick does not hand out a chunk in flight. */
	KUNIT_ASSERT_TRUE(test, egm_allocator_next_dirty(a, 0, &s));
	KUNIT_EXPECT_EQ(test, s, 1UL);
	KUNIT_EXPECT_TRUE(test, egm_allocator_set_clean(a, s));
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 1, 1), 0UL);
	KUNIT_EXPECT_FALSE(test, egm_allocator_set_clean(a, c));
	egm_allocator_free(a, 0);

	/* The short last chunk counts its own pages. */
	KUNIT_EXPECT_EQ(test, scrub_all(a), 8UL);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.clean, 8 * cp + cp / 2);
	KUNIT_EXPECT_FALSE(test, egm_allocator_next_dirty(a, 0, &c));

	/* A clean range needs no zeroing ... */
	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, 2 * cp, cp, OWNER,
						  EGM_ALLOCATOR_CLEAN, &s,
						  dirty), 0);
	KUNIT_EXPECT_EQ(test, s, 0UL);
	KUNIT_EXPECT_EQ(test, dirty[0], 0UL);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.clean, 6 * cp + cp / 2);
	/* ... and once freed it does, until it is scrubbed again. */
	egm_allocator_free(a, 0);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.clean, 6 * cp + cp / 2);
	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, 3 * cp, 1, OWNER, 0, &s,
						  dirty), 0);
	KUNIT_EXPECT_EQ(test, s, 0UL);
	/* Chunks 0 and 1 were dirty, chunk 2 clean. */
	KUNIT_EXPECT_EQ(test, dirty[0], 3UL);
	/* Clean first fit skips what is not clean: here, none is left low. */
	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, cp, 1, OWNER,
						  EGM_ALLOCATOR_CLEAN, &c,
						  NULL), 0);
	KUNIT_EXPECT_EQ(test, c, 3 * cp);
	/*
	 * An unaligned range touches one more chunk than its length says:
	 * a page at 4 * cp takes chunk 4 out of the clean ones, so the range
	 * after it must zero chunk 4 but not chunk 5.
	 */
	KUNIT_EXPECT_EQ(test, egm_allocator_chunks(cp), 2UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 1, 1), 4 * cp);
	memset(dirty, 0, sizeof(dirty));
	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, cp, 1, OWNER, 0,
						  &s, dirty), 0);
	KUNIT_EXPECT_EQ(test, s, 4 * cp + 1);
	KUNIT_EXPECT_EQ(test, dirty[0], 1UL);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.clean, 2 * cp + cp / 2);
	egm_allocator_free(a, 0);
	egm_allocator_free(a, c);
	egm_allocator_free(a, 4 * cp);
	egm_allocator_free(a, s);
	egm_allocator_stat(a, &st);
	KUNIT_EXPECT_EQ(test, st.free, 8 * cp + cp / 2);
	egm_allocator_destroy(a);
}

static struct kunit_case egm_alloc_test_cases[] = {
	KUNIT_CASE(egm_alloc_test_args),
	KUNIT_CASE(egm_alloc_test_alignment),
	KUNIT_CASE(egm_alloc_test_first_fit),
	KUNIT_CASE(egm_alloc_test_exact_fit),
	KUNIT_CASE(egm_alloc_test_fragmentation),
	KUNIT_CASE(egm_alloc_test_exhaustion),
	KUNIT_CASE(egm_alloc_test_random),
	KUNIT_CASE(egm_alloc_test_first_fit_hole),
	KUNIT_CASE(egm_alloc_test_avoid),
	KUNIT_CASE(egm_alloc_test_top),
	KUNIT_CASE(egm_alloc_test_stat),
	KUNIT_CASE(egm_alloc_test_random_avoid),
	KUNIT_CASE(egm_alloc_test_clean),
	{}
};

static struct kunit_suite egm_alloc_test_suite = {
	.name = "egm-alloc",
	.test_cases = egm_alloc_test_cases,
};

kunit_test_suite(egm_alloc_test_suite);
