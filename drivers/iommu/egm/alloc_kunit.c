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
	egm_allocator_init(a, pages);
	return a;
}

static unsigned long must_alloc(struct kunit *test, struct egm_allocator *a,
				unsigned long n, unsigned long align)
{
	unsigned long start = ULONG_MAX;

	KUNIT_ASSERT_EQ(test, egm_allocator_alloc(a, n, align, OWNER, &start), 0);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(start, align));
	KUNIT_EXPECT_LE(test, start + n, a->pages);
	return start;
}

static void egm_alloc_test_args(struct kunit *test)
{
	struct egm_allocator *a = new_alloc(test, 64);
	unsigned long s;

	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 0, 1, OWNER, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 3, OWNER, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 0, OWNER, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, NULL, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 65, 1, OWNER, &s), -ENOSPC);
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
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER, &s), -ENOSPC);
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
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 2, 1, OWNER, &s), -ENOSPC);
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
	KUNIT_EXPECT_EQ(test, egm_allocator_alloc(a, 1, 1, OWNER, &s), -ENOSPC);
	egm_allocator_free(a, 0);
	KUNIT_EXPECT_EQ(test, egm_allocator_free_pages(a), 512UL);
	KUNIT_EXPECT_EQ(test, must_alloc(test, a, 512, 1), 0UL);
	egm_allocator_free(a, 0);
	egm_allocator_destroy(a);
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
			int ret = egm_allocator_alloc(a, n, align, OWNER, &start[i]);

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

static struct kunit_case egm_alloc_test_cases[] = {
	KUNIT_CASE(egm_alloc_test_args),
	KUNIT_CASE(egm_alloc_test_alignment),
	KUNIT_CASE(egm_alloc_test_first_fit),
	KUNIT_CASE(egm_alloc_test_exact_fit),
	KUNIT_CASE(egm_alloc_test_fragmentation),
	KUNIT_CASE(egm_alloc_test_exhaustion),
	KUNIT_CASE(egm_alloc_test_random),
	{}
};

static struct kunit_suite egm_alloc_test_suite = {
	.name = "egm-alloc",
	.test_cases = egm_alloc_test_cases,
};

kunit_test_suite(egm_alloc_test_suite);
