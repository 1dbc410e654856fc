/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the bench's timing programs share: the median of repeated runs.
 *
 * Copyright (c) 2026, The egm authors.
 */
#ifndef __EGM_BENCH_H
#define __EGM_BENCH_H

#include <stdlib.h>

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
