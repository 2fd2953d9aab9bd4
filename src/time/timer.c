/* SPDX-License-Identifier: MIT */
/*
 * timer.c — per-P binary heaps of timers, and goro_sleep.
 *
 * Each heap has its own small lock: its owner adds and runs timers, but a
 * timer can be stopped from any P (a select that completed elsewhere) and
 * an idle M runs a busy P's expired timers while stealing.  `next` mirrors
 * the earliest deadline so that the scheduler can skip the clock read
 * entirely when a P has no timers.
 */
#include <errno.h>

#include "clock.h"
#include "alloc.h"
#include "m.h"
#include "runtime.h"
#include "scheduler.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

/* A heap slot keeps its timer's deadline beside the pointer: sifting
 * compares deadlines without touching the timers themselves (each one a
 * likely cache miss with 100,000 of them), and the heap is 4-ary, so a
 * node's children share one cache line and the tree is half as deep. */
struct heap_entry {
	int64_t when;
	struct timer *t;
};

#define HEAP_ARITY 4

struct timer_heap {
	struct rlock lock;
	struct heap_entry *items;
	int32_t count;
	int32_t capacity;
	_Atomic int64_t next;  /* earliest `when`, 0 when empty */
};

static _Atomic int64_t pending_total;

static inline void heap_place(struct timer_heap *h, int32_t i,
			      struct heap_entry e)
{
	h->items[i] = e;
	e.t->index = i;
}

static void heap_up(struct timer_heap *h, int32_t i)
{
	struct heap_entry e = h->items[i];
	while (i > 0) {
		int32_t parent = (i - 1) / HEAP_ARITY;
		if (h->items[parent].when <= e.when)
			break;
		heap_place(h, i, h->items[parent]);
		i = parent;
	}
	heap_place(h, i, e);
}

static void heap_down(struct timer_heap *h, int32_t i)
{
	struct heap_entry e = h->items[i];
	for (;;) {
		int32_t first = HEAP_ARITY * i + 1;
		if (first >= h->count)
			break;
		int32_t last = first + HEAP_ARITY < h->count ? first + HEAP_ARITY
							      : h->count;
		int32_t min = first;
		for (int32_t c = first + 1; c < last; c++)
			if (h->items[c].when < h->items[min].when)
				min = c;
		if (h->items[min].when >= e.when)
			break;
		heap_place(h, i, h->items[min]);
		i = min;
	}
	heap_place(h, i, e);
}

static void heap_update_next(struct timer_heap *h)
{
	atomic_store_explicit(&h->next, h->count ? h->items[0].when : 0,
			      RELAXED);
}

/* Caller holds h->lock. */
static int heap_push(struct timer_heap *h, struct p *p, struct timer *t)
{
	if (h->count == h->capacity) {
		int32_t cap = h->capacity ? h->capacity * 2 : 64;
		struct heap_entry *items = rt_realloc(
			h->items, (size_t)h->capacity * sizeof(*items),
			(size_t)cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		h->items = items;
		h->capacity = cap;
	}
	int32_t i = h->count++;
	heap_place(h, i, (struct heap_entry){ t->when, t });
	atomic_store_explicit(&t->p, p, RELAXED);
	heap_up(h, i);
	heap_update_next(h);
	atomic_fetch_add_explicit(&pending_total, 1, RELAXED);
	return 0;
}

/* Caller holds h->lock; t is on h.  O(log n): t knows its index.  The
 * caller accounts for it in pending_total (heap_remove does). */
static void heap_take(struct timer_heap *h, struct timer *t)
{
	int32_t i = t->index;
	h->count--;
	if (i != h->count) {
		heap_place(h, i, h->items[h->count]);
		heap_down(h, i);
		heap_up(h, i);
	}
	atomic_store_explicit(&t->p, NULL, memory_order_release);
	heap_update_next(h);
}

static void heap_remove(struct timer_heap *h, struct timer *t)
{
	heap_take(h, t);
	atomic_fetch_sub_explicit(&pending_total, 1, RELAXED);
}

int timers_init(struct p *p)
{
	p->timers = rt_alloc(sizeof(*p->timers));
	return p->timers ? 0 : -ENOMEM;
}

void timers_free(struct p *p)
{
	struct timer_heap *h = p->timers;
	if (!h)
		return;
	atomic_fetch_sub_explicit(&pending_total, h->count, RELAXED);
	rt_free(h->items, (size_t)h->capacity * sizeof(*h->items));
	rt_free(h, sizeof(*h));
	p->timers = NULL;
}

void timers_move(struct p *from, struct p *to)
{
	struct timer_heap *src = from->timers, *dst = to->timers;
	rlock_lock(&src->lock);
	rlock_lock(&dst->lock);
	/* Taken from the end (the heap stays a heap) and never marked "not
	 * pending" on the way: a timer_stop from a thread goro did not create
	 * (the world is stopped for everyone else) finds it on one heap or
	 * the other, never on neither. */
	int64_t moved = 0;
	while (src->count) {
		struct timer *t = src->items[--src->count].t;
		if (heap_push(dst, to, t))
			rt_fatal("out of memory moving timers");
		moved++;
	}
	heap_update_next(src);
	atomic_fetch_sub_explicit(&pending_total, moved, RELAXED);
	rlock_unlock(&dst->lock);
	rlock_unlock(&src->lock);
}

void timer_start(struct timer *t)
{
	struct m *m = m_current();
	struct p *p = m && m->p ? m->p : sched.allp[0];
	struct timer_heap *h = p->timers;
	/* Once in the heap, t is another M's to run: a sleeper's timer lives
	 * in its goroutine's frame, which may be gone by the next line. */
	int64_t when = t->when;
	rlock_lock(&h->lock);
	int err = heap_push(h, p, t);
	rlock_unlock(&h->lock);
	if (err)
		rt_fatal("out of memory adding a timer");
	/* Who must wake for it is the scheduler's decision. */
	sched_deadline_armed(when);
}

void timer_start_unlock(void *timer)
{
	timer_start(timer);
}

bool timer_stop(struct timer *t)
{
	for (;;) {
		struct p *p = atomic_load_explicit(&t->p, memory_order_acquire);
		if (!p)
			return false;
		struct timer_heap *h = p->timers;
		rlock_lock(&h->lock);
		if (atomic_load_explicit(&t->p, RELAXED) == p) {
			heap_remove(h, t);
			rlock_unlock(&h->lock);
			return true;
		}
		rlock_unlock(&h->lock);  /* moved meanwhile: look again */
	}
}

/* pending_total drops once per batch, not per timer (a locked instruction
 * on a line every P writes); meanwhile it overstates, which only delays
 * a deadlock verdict. */
static void heap_run_expired(struct timer_heap *h, int64_t now)
{
	int64_t ran = 0;
	rlock_lock(&h->lock);
	while (h->count && h->items[0].when <= now) {
		struct timer *t = h->items[0].t;
		/* Counted before it leaves the heap: a timer_stop that sees
		 * it gone (t->p, released in heap_take) sees the count too. */
		bool counted = t->counted;
		if (counted)
			atomic_fetch_add_explicit(&t->running, 1, RELAXED);
		heap_take(h, t);
		ran++;
		rlock_unlock(&h->lock);
		t->fn(t);
		if (counted)  /* the last touch: its owner may free it now */
			atomic_fetch_sub_explicit(&t->running, 1,
						  memory_order_release);
		rlock_lock(&h->lock);
	}
	rlock_unlock(&h->lock);
	if (ran)
		atomic_fetch_sub_explicit(&pending_total, ran, RELAXED);
}

int64_t timers_next(struct p *p)
{
	return atomic_load_explicit(&p->timers->next, RELAXED);
}

bool timers_due(struct p *p)
{
	int64_t next = atomic_load_explicit(&p->timers->next, RELAXED);
	return next != 0 && next <= rt_now();
}

void timers_check(struct p *p)
{
	int64_t next = atomic_load_explicit(&p->timers->next, RELAXED);
	if (next == 0)
		return;
	int64_t now = rt_now();
	if (next <= now)
		heap_run_expired(p->timers, now);
}

void timers_check_all(void)
{
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++)
		timers_check(sched.allp[i]);
}

bool timers_any_expired(void)
{
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	int64_t now = 0;
	for (int32_t i = 0; i < n; i++) {
		int64_t next = atomic_load_explicit(&sched.allp[i]->timers->next,
						    RELAXED);
		if (next == 0)
			continue;
		if (!now)
			now = rt_now();
		if (next <= now)
			return true;
	}
	return false;
}

int64_t timers_next_deadline_rel(void)
{
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	int64_t earliest = 0;
	for (int32_t i = 0; i < n; i++) {
		int64_t next = atomic_load_explicit(&sched.allp[i]->timers->next,
						    RELAXED);
		if (next && (!earliest || next < earliest))
			earliest = next;
	}
	if (!earliest)
		return -1;
	int64_t rel = earliest - rt_now();
	return rel > 0 ? rel : 0;
}

int64_t timers_pending(void)
{
	return atomic_load_explicit(&pending_total, RELAXED);
}

/* ---- goro_sleep ----------------------------------------------------------- */

static void sleep_wake(struct timer *t)
{
	sched_ready(t->arg, true);
}

void goro_sleep(int64_t ns)
{
	RT_REQUIRE_G();
	struct g *g = g_current();
	if (ns <= 0) {
		sched_check_preempt(g);
		return;
	}
	struct timer t = {
		.when = rt_now() + ns,
		.fn = sleep_wake,
		.arg = g,
	};
	sched_park(WAIT_SLEEP, timer_start_unlock, &t);
}
