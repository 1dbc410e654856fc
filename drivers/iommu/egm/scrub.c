// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zeroing: the guarantee that no byte written by an earlier user of the
 * memory, or left from boot, is ever readable through a new window.
 *
 * Each region has its own scrub threads, created on the region's NUMA node
 * and so bound to its CPUs (or to any CPU if the node has none). They do
 * two kinds of work, by chunks of EGM_CHUNK_SIZE:
 *
 * - A new window's dirty chunks, first, at normal priority. Several
 *   threads share one window's chunks, windows take turns chunk by chunk,
 *   and a fault that needs a chunk before they get to it zeroes it itself.
 * - Free chunks that are not clean, in the background, at the lowest
 *   priority, so that the next window finds clean memory and is handed out
 *   at once. The allocator tells whether a chunk was allocated while it
 *   was being zeroed; it is then left dirty.
 *
 * Nothing is held across zeroing but a reference: allocations, frees and
 * faults on other windows go on meanwhile.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/bitmap.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/topology.h>
#include <linux/wait.h>
#include <uapi/linux/egm.h>

#include "egm.h"

static int egm_scrub_background_set(const char *val,
				    const struct kernel_param *kp);

static bool scrub_background = true;
static const struct kernel_param_ops egm_scrub_background_ops = {
	.set = egm_scrub_background_set,
	.get = param_get_bool,
};
module_param_cb(scrub_background, &egm_scrub_background_ops,
		&scrub_background, 0644);
MODULE_PARM_DESC(scrub_background,
		 "Zero free memory in the background, at the lowest CPU priority (default: on)");

static unsigned int scrub_threads;
module_param(scrub_threads, uint, 0644);
MODULE_PARM_DESC(scrub_threads,
		 "Most scrub threads of a region that work at once; 0: one per CPU of its node (default)");

#define EGM_SCRUB_MAX_THREADS	64

static int egm_scrub_kick_one(struct egm_region *r, void *arg)
{
	egm_scrub_kick(r);
	return 0;
}

static int egm_scrub_background_set(const char *val,
				    const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret)
		egm_region_for_each(egm_scrub_kick_one, NULL);
	return ret;
}

/**
 * egm_scrub_pages() - zero pages of a region, never touching a bad one
 * @r: the region
 * @pgoff: first page
 * @npages: number of pages
 *
 * Page by page with clear_page(), as the page allocator zeroes: each
 * architecture picks its fastest way for whole pages there (DC ZVA on
 * arm64, REP STOSB or an unrolled store loop on x86), where memset() is
 * tuned for any length.
 */
void egm_scrub_pages(struct egm_region *r, unsigned long pgoff,
		     unsigned long npages)
{
	bool bad = egm_region_range_bad(r, pgoff, npages);
	unsigned long i;

	for (i = pgoff; i < pgoff + npages; i++)
		if (!bad || !xa_load(&r->bad, i))
			clear_page(r->kaddr + (i << PAGE_SHIFT));
}

/* How many of the region's threads may work at once. */
static unsigned int egm_scrub_limit(struct egm_scrubber *s)
{
	unsigned int n = READ_ONCE(scrub_threads);

	return n && n < s->nthreads ? n : s->nthreads;
}

/* The region pages of chunk @bit of @req: the window's part of it. */
static void egm_scrub_req_range(struct egm_scrub_req *req, unsigned long bit,
				unsigned long *pgoff, unsigned long *npages)
{
	struct egm_window *w = req->w;
	unsigned long cs, cn, s, e;

	cn = egm_allocator_chunk_range(&w->region->alloc, req->chunk0 + bit,
				       &cs);
	s = max(cs, w->pgoff);
	e = min(cs + cn, w->pgoff + w->npages);
	*pgoff = s;
	*npages = e > s ? e - s : 0;
}

/* Zero chunk @bit of @req, handed out to us, unless the window is going. */
static void egm_scrub_req_chunk(struct egm_region *r, struct egm_scrub_req *req,
				unsigned long bit)
{
	unsigned long pgoff, npages;

	if (!READ_ONCE(req->cancel)) {
		egm_scrub_req_range(req, bit, &pgoff, &npages);
		egm_scrub_pages(r, pgoff, npages);
	}
	/* The zeroes are visible before the chunk shows as done. */
	clear_bit_unlock(bit, req->pending);
	atomic_long_dec(&req->left);
	wake_up_all(&req->wq);
}

/* Take a chunk of the next queued window, if a thread may work. */
static struct egm_scrub_req *egm_scrub_take(struct egm_scrubber *s,
					    unsigned long *bit, bool thread)
{
	struct egm_scrub_req *req;

	guard(spinlock)(&s->lock);
	if (thread && s->active >= egm_scrub_limit(s))
		return NULL;
	req = list_first_entry_or_null(&s->queue, struct egm_scrub_req, node);
	if (!req)
		return NULL;
	*bit = find_first_bit(req->todo, req->nbits);
	__clear_bit(*bit, req->todo);
	/* Round robin, so that a small window does not wait for a big one. */
	if (find_next_bit(req->todo, req->nbits, *bit) >= req->nbits)
		list_del_init(&req->node);
	else
		list_move_tail(&req->node, &s->queue);
	req->busy++;
	if (thread)
		s->active++;
	return req;
}

static void egm_scrub_put(struct egm_scrubber *s, struct egm_scrub_req *req,
			  bool thread)
{
	/*
	 * Wake under the lock: egm_scrub_cancel() sees busy drop to 0 under
	 * it and frees the request at once.
	 */
	guard(spinlock)(&s->lock);
	req->busy--;
	if (thread)
		s->active--;
	wake_up_all(&req->wq);
}

/* Zero one free chunk that is not clean; false if there was none to do. */
static bool egm_scrub_background_one(struct egm_region *r)
{
	struct egm_scrubber *s = &r->scrub;
	unsigned long chunk, pgoff, npages, from;

	if (!READ_ONCE(scrub_background) || READ_ONCE(r->dead))
		return false;
	scoped_guard(spinlock, &s->lock) {
		if (s->active >= egm_scrub_limit(s))
			return false;
		s->active++;
		from = s->cursor;
	}
	if (!egm_allocator_next_dirty(&r->alloc, from, &chunk) &&
	    (!from || !egm_allocator_next_dirty(&r->alloc, 0, &chunk))) {
		scoped_guard(spinlock, &s->lock)
			s->active--;
		return false;
	}
	WRITE_ONCE(s->cursor, chunk + 1);

	if (task_nice(current) != MAX_NICE)
		set_user_nice(current, MAX_NICE);
	npages = egm_allocator_chunk_range(&r->alloc, chunk, &pgoff);
	egm_scrub_pages(r, pgoff, npages);
	egm_allocator_set_clean(&r->alloc, chunk);

	scoped_guard(spinlock, &s->lock)
		s->active--;
	cond_resched();
	return true;
}

static bool egm_scrub_queued(struct egm_scrubber *s)
{
	guard(spinlock)(&s->lock);
	return !list_empty(&s->queue) && s->active < egm_scrub_limit(s);
}

static int egm_scrub_thread(void *arg)
{
	struct egm_region *r = arg;
	struct egm_scrubber *s = &r->scrub;
	struct egm_scrub_req *req;
	unsigned long bit, kick;

	while (!kthread_should_stop()) {
		kick = READ_ONCE(s->kick);
		req = egm_scrub_take(s, &bit, true);
		if (req) {
			if (task_nice(current))
				set_user_nice(current, 0);
			egm_scrub_req_chunk(r, req, bit);
			egm_scrub_put(s, req, true);
			cond_resched();
			continue;
		}
		if (egm_scrub_background_one(r))
			continue;
		wait_event_interruptible(s->wait, kthread_should_stop() ||
					 egm_scrub_queued(s) ||
					 READ_ONCE(s->kick) != kick);
	}
	return 0;
}

/**
 * egm_scrub_kick() - tell a region's scrub threads there may be work
 * @r: the region
 */
void egm_scrub_kick(struct egm_region *r)
{
	struct egm_scrubber *s = &r->scrub;

	WRITE_ONCE(s->kick, s->kick + 1);
	wake_up_all(&s->wait);
}

/**
 * egm_scrub_start() - start a region's scrub threads
 * @r: the region, whose allocator is set up
 *
 * Return: 0 or a negative errno.
 */
int egm_scrub_start(struct egm_region *r)
{
	struct egm_scrubber *s = &r->scrub;
	unsigned int i, n;

	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->queue);
	init_waitqueue_head(&s->wait);
	n = r->node == NUMA_NO_NODE ? 0 : nr_cpus_node(r->node);
	if (!n)
		n = num_online_cpus();
	n = clamp(n, 1U, EGM_SCRUB_MAX_THREADS);

	s->threads = kcalloc(n, sizeof(*s->threads), GFP_KERNEL);
	if (!s->threads)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		/* On the node's CPUs; on any if it has none. */
		struct task_struct *t = kthread_create_on_node(egm_scrub_thread,
							       r, r->node,
							       "egm%u-scrub/%u",
							       r->id, i);

		if (IS_ERR(t)) {
			egm_scrub_stop(r);
			return PTR_ERR(t);
		}
		set_user_nice(t, MAX_NICE);
		s->threads[s->nthreads++] = t;
		wake_up_process(t);
	}
	return 0;
}

/**
 * egm_scrub_stop() - stop a region's scrub threads
 * @r: the region
 *
 * Chunks of windows still queued are not zeroed: the region is dead, and
 * whoever waits for them gives up.
 */
void egm_scrub_stop(struct egm_region *r)
{
	struct egm_scrubber *s = &r->scrub;
	struct egm_scrub_req *req;
	unsigned int i;

	for (i = 0; i < s->nthreads; i++)
		kthread_stop(s->threads[i]);
	scoped_guard(spinlock, &s->lock)
		list_for_each_entry(req, &s->queue, node)
			wake_up_all(&req->wq);
	kfree(s->threads);
	s->threads = NULL;
	s->nthreads = 0;
}

/**
 * egm_scrub_window() - zero the dirty chunks of a new window
 * @w: the window, placed
 * @dirty: its chunks to zero, from egm_allocator_alloc(); taken over
 *
 * The chunks are queued for the region's threads; egm_scrub_wait()
 * waits for them. A window with nothing to zero needs no wait.
 *
 * Return: 0 or -ENOMEM.
 */
int egm_scrub_window(struct egm_window *w, unsigned long *dirty)
{
	unsigned long nbits = egm_allocator_chunks(w->npages);
	struct egm_scrubber *s = &w->region->scrub;
	struct egm_scrub_req *req;
	unsigned long n = bitmap_weight(dirty, nbits);

	if (!n) {
		bitmap_free(dirty);
		return 0;
	}
	req = kzalloc_obj(*req, GFP_KERNEL_ACCOUNT);
	if (req)
		req->todo = bitmap_alloc(nbits, GFP_KERNEL_ACCOUNT);
	if (!req || !req->todo) {
		kfree(req);
		bitmap_free(dirty);
		return -ENOMEM;
	}
	req->w = w;
	req->chunk0 = w->pgoff / (EGM_CHUNK_SIZE >> PAGE_SHIFT);
	req->nbits = nbits;
	req->pending = dirty;
	bitmap_copy(req->todo, dirty, nbits);
	atomic_long_set(&req->left, n);
	init_waitqueue_head(&req->wq);
	w->scrub = req;

	scoped_guard(spinlock, &s->lock)
		list_add_tail(&req->node, &s->queue);
	wake_up_all(&s->wait);
	return 0;
}

/* The chunk bits of @req that window pages [off, off + n) need. */
static void egm_scrub_bits(struct egm_scrub_req *req, unsigned long off,
			   unsigned long n, unsigned long *first,
			   unsigned long *last)
{
	unsigned long pages = EGM_CHUNK_SIZE >> PAGE_SHIFT;
	struct egm_window *w = req->w;

	*first = (w->pgoff + off) / pages - req->chunk0;
	*last = (w->pgoff + off + n - 1) / pages - req->chunk0;
}

static bool egm_scrub_done(struct egm_scrub_req *req, unsigned long first,
			   unsigned long last)
{
	unsigned long bit;

	for (bit = first; bit <= last; bit++)
		if (test_bit_acquire(bit, req->pending))
			return false;
	return true;
}

/*
 * Zero the still untaken chunks of [first, last] in the caller, so that
 * what it waits for is done in the order it needs it.
 */
static void egm_scrub_help(struct egm_scrub_req *req, unsigned long first,
			   unsigned long last)
{
	struct egm_region *r = req->w->region;
	struct egm_scrubber *s = &r->scrub;
	unsigned long bit;
	bool mine;

	for (bit = first; bit <= last; bit++) {
		scoped_guard(spinlock, &s->lock) {
			mine = __test_and_clear_bit(bit, req->todo);
			if (mine) {
				if (find_first_bit(req->todo, req->nbits) >=
				    req->nbits)
					list_del_init(&req->node);
				req->busy++;
			}
		}
		if (!mine)
			continue;
		egm_scrub_req_chunk(r, req, bit);
		egm_scrub_put(s, req, false);
		if (fatal_signal_pending(current))
			return;
	}
}

/**
 * egm_scrub_wait() - wait until window pages are zeroed
 * @w: the window
 * @off: first page, window relative
 * @npages: number of pages; 0 for the whole window
 * @help: zero in the caller what no thread has started yet; for a fault,
 *	  which needs its pages now, not for a waiter that has time for the
 *	  node's own threads
 *
 * Return: 0, -EINTR if a fatal signal came first, or -ENODEV if the region
 * is being removed.
 */
int egm_scrub_wait(struct egm_window *w, unsigned long off,
		   unsigned long npages, bool help)
{
	struct egm_scrub_req *req = w->scrub;
	struct egm_region *r = w->region;
	unsigned long first, last;

	if (!req || !atomic_long_read(&req->left))
		return 0;
	if (!npages) {
		first = 0;
		last = req->nbits - 1;
	} else {
		egm_scrub_bits(req, off, npages, &first, &last);
	}
	if (help)
		egm_scrub_help(req, first, last);
	if (wait_event_killable(req->wq, egm_scrub_done(req, first, last) ||
				READ_ONCE(r->dead)))
		return -EINTR;
	return egm_scrub_done(req, first, last) ? 0 : -ENODEV;
}

/**
 * egm_scrub_pending() - are window pages still being zeroed
 * @w: the window
 * @off: first page, window relative
 * @npages: number of pages
 *
 * Return: true if any of them is not zeroed yet.
 */
bool egm_scrub_pending(struct egm_window *w, unsigned long off,
		       unsigned long npages)
{
	struct egm_scrub_req *req = w->scrub;
	unsigned long first, last;

	if (!req || !atomic_long_read(&req->left))
		return false;
	egm_scrub_bits(req, off, npages, &first, &last);
	return !egm_scrub_done(req, first, last);
}

/**
 * egm_scrub_pending_bytes() - how much of a window is not zeroed yet
 * @w: the window
 *
 * Return: the bytes, counted by whole chunks.
 */
u64 egm_scrub_pending_bytes(struct egm_window *w)
{
	struct egm_scrub_req *req = w->scrub;
	u64 bytes;

	if (!req)
		return 0;
	bytes = (u64)atomic_long_read(&req->left) * EGM_CHUNK_SIZE;
	return min(bytes, egm_window_length(w));
}

/**
 * egm_scrub_cancel() - stop zeroing a window that is going away
 * @w: the window
 *
 * Chunks not started are left dirty, which they are anyway once the
 * window's range is freed. Waits for the chunks in progress.
 */
void egm_scrub_cancel(struct egm_window *w)
{
	struct egm_scrub_req *req = w->scrub;
	struct egm_scrubber *s = &w->region->scrub;

	if (!req)
		return;
	WRITE_ONCE(req->cancel, true);
	spin_lock(&s->lock);
	list_del_init(&req->node);
	spin_unlock(&s->lock);
	wait_event(req->wq, ({
		bool idle;

		spin_lock(&s->lock);
		idle = !req->busy;
		spin_unlock(&s->lock);
		idle;
	}));
	bitmap_free(req->todo);
	bitmap_free(req->pending);
	kfree(req);
	w->scrub = NULL;
}
