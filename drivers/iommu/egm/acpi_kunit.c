// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of firmware and command-line region parsing.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/mm.h>

#include "egm.h"

#define BASE	0x100000000ULL
#define SIZE	0x40000000ULL

struct seen {
	unsigned long pgoff[8];
	unsigned int n;
};

static int record(void *arg, unsigned long pgoff)
{
	struct seen *s = arg;

	if (s->n == ARRAY_SIZE(s->pgoff))
		return -ENOSPC;
	s->pgoff[s->n++] = pgoff;
	return 0;
}

static void egm_retired_test_good(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(3), cpu_to_le64(BASE),
		       cpu_to_le64(BASE + 0x5000),
		       cpu_to_le64(BASE + SIZE - 0x1000) };
	struct seen s = {};

	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), 0);
	KUNIT_ASSERT_EQ(test, s.n, 3U);
	KUNIT_EXPECT_EQ(test, s.pgoff[0], 0UL);
	KUNIT_EXPECT_EQ(test, s.pgoff[1], (unsigned long)(0x5000 >> PAGE_SHIFT));
	KUNIT_EXPECT_EQ(test, s.pgoff[2],
			(unsigned long)((SIZE - 0x1000) >> PAGE_SHIFT));
}

static void egm_retired_test_empty(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(0) };
	struct seen s = {};

	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), 0);
	KUNIT_EXPECT_EQ(test, s.n, 0U);
	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, 4, BASE, SIZE, record, &s),
			-EINVAL);
}

static void egm_retired_test_truncated(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(3), cpu_to_le64(BASE),
		       cpu_to_le64(BASE + 0x1000), cpu_to_le64(BASE + 0x2000) };
	struct seen s = {};

	/* The count promises more entries than were mapped. */
	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t) - 1, BASE, SIZE,
						record, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, s.n, 0U);
}

static void egm_retired_test_huge_count(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(U64_MAX), cpu_to_le64(BASE) };
	struct seen s = {};

	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), -EINVAL);
	t[0] = cpu_to_le64(1ULL << 61);
	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, s.n, 0U);
}

static void egm_retired_test_outside(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(4), cpu_to_le64(BASE - 0x1000),
		       cpu_to_le64(BASE + SIZE), cpu_to_le64(0),
		       cpu_to_le64(BASE + 0x3000) };
	struct seen s = {};

	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), 3);
	KUNIT_ASSERT_EQ(test, s.n, 1U);
	KUNIT_EXPECT_EQ(test, s.pgoff[0], (unsigned long)(0x3000 >> PAGE_SHIFT));
}

/* Firmware's 4 KiB records fold into the PAGE_SIZE page that holds them. */
static void egm_retired_test_granule(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(2), cpu_to_le64(BASE + 0x10000),
		       cpu_to_le64(BASE + 0x1f000) };
	struct seen s = {};

	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						record, &s), 0);
	KUNIT_ASSERT_EQ(test, s.n, 2U);
	KUNIT_EXPECT_EQ(test, s.pgoff[0], (unsigned long)(0x10000 / PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, s.pgoff[1], (unsigned long)(0x1f000 / PAGE_SIZE));
}

/* Record a page as egm_retired_load() does: once, however many records. */
static int add_retired(void *arg, unsigned long pgoff)
{
	struct egm_region *r = arg;
	int ret = egm_region_add_bad(r, pgoff, EGM_PAGE_RETIRED, GFP_KERNEL);

	if (ret < 0)
		return ret;
	r->nr_retired += ret;
	return 0;
}

/*
 * In the region's bad pages, records that share a PAGE_SIZE page are one
 * page: two 4 KiB records 4 KiB apart make one bad page with 64K pages,
 * two with 4K pages, and a repeated record counts once at any page size.
 * A record in the region's last 4 KiB marks its last page.
 */
static void egm_retired_test_fold(struct kunit *test)
{
	__le64 t[] = { cpu_to_le64(4), cpu_to_le64(BASE + 0xa000000),
		       cpu_to_le64(BASE + 0xa001000),
		       cpu_to_le64(BASE + 0xa001000),
		       cpu_to_le64(BASE + SIZE - 0x1000) };
	struct egm_region *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	unsigned long idx, n = 0, pages;
	void *entry;

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->base = BASE;
	r->size = SIZE;
	xa_init(&r->bad);
	pages = (0xa000000 >> PAGE_SHIFT) == (0xa001000 >> PAGE_SHIFT) ? 2 : 3;
	KUNIT_EXPECT_EQ(test, egm_retired_parse(t, sizeof(t), BASE, SIZE,
						add_retired, r), 0);
	KUNIT_EXPECT_EQ(test, r->nr_retired, pages);
	xa_for_each(&r->bad, idx, entry)
		n++;
	KUNIT_EXPECT_EQ(test, n, pages);
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->bad, 0xa000000 >> PAGE_SHIFT));
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->bad, 0xa001000 >> PAGE_SHIFT));
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->bad, (SIZE >> PAGE_SHIFT) - 1));
	xa_destroy(&r->bad);
}

/*
 * A firmware table address of 0 is a bug that may hide bad pages: the
 * region is refused unless egm.allow_no_retired_table says otherwise.
 * egm.regions= regions have no table and are not refused for it.
 */
static void egm_retired_test_zero_base(struct kunit *test)
{
	struct egm_region *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	bool allow = egm_allow_no_retired_table;

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->dev = kunit_device_register(test, "egm-kunit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(r->dev));
	r->base = BASE;
	r->size = SIZE;
	xa_init(&r->bad);
	egm_allow_no_retired_table = false;
	KUNIT_EXPECT_EQ(test, egm_retired_load(r), -ENOENT);
	egm_allow_no_retired_table = true;
	KUNIT_EXPECT_EQ(test, egm_retired_load(r), 0);
	egm_allow_no_retired_table = false;
	r->desc.from_param = true;
	KUNIT_EXPECT_EQ(test, egm_retired_load(r), 0);
	egm_allow_no_retired_table = allow;
	KUNIT_EXPECT_EQ(test, r->nr_retired, 0UL);
	KUNIT_EXPECT_TRUE(test, xa_empty(&r->bad));
}

static void egm_param_test(struct kunit *test)
{
	struct egm_region_desc d;

	KUNIT_ASSERT_EQ(test, egm_param_parse_one("1G@0x100000000:3", &d), 0);
	KUNIT_EXPECT_EQ(test, d.size, 1ULL << 30);
	KUNIT_EXPECT_EQ(test, d.base, 0x100000000ULL);
	KUNIT_EXPECT_EQ(test, d.pxm, 3U);
	KUNIT_EXPECT_EQ(test, d.retired_pa, 0ULL);
	KUNIT_ASSERT_EQ(test, egm_param_parse_one("256M@4G:0", &d), 0);
	KUNIT_EXPECT_EQ(test, d.base, 4ULL << 30);

	KUNIT_EXPECT_EQ(test, egm_param_parse_one("", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("1G", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("1G@4G", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("1G@4G:", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("1G@4G:x", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("1G@4G:1:2", &d), -EINVAL);
	KUNIT_EXPECT_EQ(test, egm_param_parse_one("@4G:1", &d), -EINVAL);
}

static struct kunit_case egm_firmware_test_cases[] = {
	KUNIT_CASE(egm_retired_test_good),
	KUNIT_CASE(egm_retired_test_empty),
	KUNIT_CASE(egm_retired_test_truncated),
	KUNIT_CASE(egm_retired_test_huge_count),
	KUNIT_CASE(egm_retired_test_outside),
	KUNIT_CASE(egm_retired_test_granule),
	KUNIT_CASE(egm_retired_test_fold),
	KUNIT_CASE(egm_retired_test_zero_base),
	KUNIT_CASE(egm_param_test),
	{}
};

static struct kunit_suite egm_firmware_test_suite = {
	.name = "egm-firmware",
	.test_cases = egm_firmware_test_cases,
};

kunit_test_suite(egm_firmware_test_suite);
