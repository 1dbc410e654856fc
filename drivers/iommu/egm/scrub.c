// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zeroing of windows before anyone can read them.
 *
 * A window is split into chunks that unbound workers zero in parallel on
 * the region's NUMA node, so the cost of a large window is spread over the
 * socket's CPUs and no lock is held while it is paid.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/cpumask.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/topology.h>
#include <linux/workqueue.h>

#include "egm.h"

/* Zero this much between reschedule points. */
#define EGM_SCRUB_STEP		(SZ_2M >> PAGE_SHIFT)
/* Below this a chunk is not worth a worker of its own. */
#define EGM_SCRUB_MIN_CHUNK	(SZ_64M >> PAGE_SHIFT)

struct egm_scrub {
	struct egm_region *region;
	atomic_t pending;
	bool cancel;
	struct completion done;
};

struct egm_scrub_chunk {
	struct work_struct work;
	struct egm_scrub *scrub;
	unsigned long pgoff;
	unsigned long npages;
};

/* Zero a range, never touching a page that is retired or poisoned. */
static void egm_zero(struct egm_region *r, unsigned long pgoff,
		     unsigned long npages)
{
	unsigned long i;

	if (!egm_region_range_bad(r, pgoff, npages)) {
		memset(r->kaddr + (pgoff << PAGE_SHIFT), 0,
		       npages << PAGE_SHIFT);
		return;
	}
	for (i = pgoff; i < pgoff + npages; i++)
		if (!xa_load(&r->bad, i))
			memset(r->kaddr + (i << PAGE_SHIFT), 0, PAGE_SIZE);
}

static void egm_scrub_range(struct egm_scrub *s, unsigned long pgoff,
			    unsigned long npages)
{
	unsigned long done, n;

	for (done = 0; done < npages; done += n) {
		if (READ_ONCE(s->cancel))
			break;
		n = min(npages - done, EGM_SCRUB_STEP);
		egm_zero(s->region, pgoff + done, n);
		cond_resched();
	}
}

static void egm_scrub_work(struct work_struct *work)
{
	struct egm_scrub_chunk *c =
		container_of(work, struct egm_scrub_chunk, work);
	struct egm_scrub *s = c->scrub;

	egm_scrub_range(s, c->pgoff, c->npages);
	if (atomic_dec_and_test(&s->pending))
		complete(&s->done);
}

/**
 * egm_scrub() - zero a page range of a region
 * @r: the region, referenced by the caller
 * @pgoff: first page
 * @npages: number of pages
 *
 * Return: 0, -ENOMEM, or -EINTR if a fatal signal cut the zeroing short;
 * then the range is only partly zeroed and must not be handed out.
 */
int egm_scrub(struct egm_region *r, unsigned long pgoff, unsigned long npages)
{
	struct egm_scrub s = { .region = r };
	struct egm_scrub_chunk *chunks;
	unsigned long per, cpus;
	unsigned int i, n;
	int ret = 0;

	cpus = r->node == NUMA_NO_NODE ? num_online_cpus() :
					 nr_cpus_node(r->node);
	n = clamp(DIV_ROUND_UP(npages, EGM_SCRUB_MIN_CHUNK), 1UL,
		  max(cpus, 1UL));
	if (n == 1) {
		egm_scrub_range(&s, pgoff, npages);
		return fatal_signal_pending(current) ? -EINTR : 0;
	}

	chunks = kcalloc(n, sizeof(*chunks), GFP_KERNEL);
	if (!chunks)
		return -ENOMEM;

	init_completion(&s.done);
	atomic_set(&s.pending, n);
	per = DIV_ROUND_UP(npages, n);
	for (i = 0; i < n; i++) {
		struct egm_scrub_chunk *c = &chunks[i];

		c->scrub = &s;
		c->pgoff = pgoff + i * per;
		c->npages = min(per, npages - i * per);
		INIT_WORK(&c->work, egm_scrub_work);
		queue_work_node(r->node, system_dfl_long_wq, &c->work);
	}

	if (wait_for_completion_killable(&s.done)) {
		WRITE_ONCE(s.cancel, true);
		wait_for_completion(&s.done);
		ret = -EINTR;
	}
	kfree(chunks);
	return ret;
}
