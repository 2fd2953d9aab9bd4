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
#include "sched.h"
#include "sysmon.h"
#include "timer.h"
#include <goro.h>

#define RELAXED memory_order_relaxed

struct timer_heap {
	struct rlock lock;
	struct timer **items;
	int32_t count;
	int32_t capacity;
	_Atomic int64_t next;  /* earliest `when`, 0 when empty */
};

static _Atomic int64_t pending_total;

static void heap_swap(struct timer_heap *h, int32_t a, int32_t b)
{
	struct timer *t = h->items[a];
	h->items[a] = h->items[b];
	h->items[b] = t;
	h->items[a]->index = a;
	h->items[b]->index = b;
}

static void heap_up(struct timer_heap *h, int32_t i)
{
	while (i > 0) {
		int32_t parent = (i - 1) / 2;
		if (h->items[parent]->when <= h->items[i]->when)
			break;
		heap_swap(h, i, parent);
		i = parent;
	}
}

static void heap_down(struct timer_heap *h, int32_t i)
{
	for (;;) {
		int32_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < h->count && h->items[l]->when < h->items[min]->when)
			min = l;
		if (r < h->count && h->items[r]->when < h->items[min]->when)
			min = r;
		if (min == i)
			return;
		heap_swap(h, i, min);
		i = min;
	}
}

static void heap_update_next(struct timer_heap *h)
{
	atomic_store_explicit(&h->next, h->count ? h->items[0]->when : 0,
			      RELAXED);
}

/* Caller holds h->lock. */
static int heap_push(struct timer_heap *h, struct p *p, struct timer *t)
{
	if (h->count == h->capacity) {
		int32_t cap = h->capacity ? h->capacity * 2 : 64;
		struct timer **items = rt_realloc(
			h->items, (size_t)h->capacity * sizeof(*items),
			(size_t)cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		h->items = items;
		h->capacity = cap;
	}
	t->index = h->count;
	h->items[h->count++] = t;
	atomic_store_explicit(&t->p, p, RELAXED);
	heap_up(h, t->index);
	heap_update_next(h);
	atomic_fetch_add_explicit(&pending_total, 1, RELAXED);
	return 0;
}

/* Caller holds h->lock; t is on h. */
static void heap_remove(struct timer_heap *h, struct timer *t)
{
	int32_t i = t->index;
	h->count--;
	if (i != h->count) {
		h->items[i] = h->items[h->count];
		h->items[i]->index = i;
		heap_down(h, i);
		heap_up(h, i);
	}
	atomic_store_explicit(&t->p, NULL, RELAXED);
	heap_update_next(h);
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
	while (src->count) {
		struct timer *t = src->items[0];
		heap_remove(src, t);
		if (heap_push(dst, to, t))
			rt_fatal("out of memory moving timers");
	}
	rlock_unlock(&dst->lock);
	rlock_unlock(&src->lock);
}

void timer_start(struct timer *t)
{
	struct p *p = m_current()->p;
	struct timer_heap *h = p->timers;
	/* Once in the heap, t is another M's to run: a sleeper's timer lives
	 * in its goroutine's frame, which may be gone by the next line. */
	int64_t when = t->when;
	rlock_lock(&h->lock);
	int err = heap_push(h, p, t);
	rlock_unlock(&h->lock);
	if (err)
		rt_fatal("out of memory adding a timer");
	/* Idle Ms sleep until the earliest deadline they knew of; this one
	 * may be earlier. */
	m_poke_idle_for_deadline(when);
	sysmon_timer_armed(when);
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

static void heap_run_expired(struct timer_heap *h, int64_t now)
{
	rlock_lock(&h->lock);
	while (h->count && h->items[0]->when <= now) {
		struct timer *t = h->items[0];
		heap_remove(h, t);
		rlock_unlock(&h->lock);
		t->fn(t);
		rlock_lock(&h->lock);
	}
	rlock_unlock(&h->lock);
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
