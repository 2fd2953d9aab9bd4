/* SPDX-License-Identifier: MIT */
/*
 * runq.c — the run queues (Go's runqput/runqget/runqsteal/globrunq*).
 *
 * A P's local queue is a ring of RUNQ_SIZE slots.  Only the owning P
 * writes `tail`; the owner and any number of thieves advance `head` with a
 * CAS.  Thieves copy slots before their CAS succeeds, so slots are atomics
 * read relaxed: a copy that loses the race is simply thrown away.  The
 * release store of `tail` publishes a slot to thieves; the release CAS of
 * `head` hands a slot back to the producer.
 *
 * When the local queue is full, half of it goes to the global queue in one
 * locked operation, so the cost of the lock is paid once per 128 spawns.
 */
#include <unistd.h>

#include "runq.h"

#include "atomic.h"

static bool runq_put_slow(struct p *p, struct g *g, uint32_t head,
			  uint32_t tail)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (tail - head) / 2;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&p->runq[(head + i) % RUNQ_SIZE],
						RELAXED);
	if (!atomic_compare_exchange_strong_explicit(&p->runq_head, &head,
						     head + n, RELEASE, RELAXED))
		return false;
	batch[n] = g;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	rlock_lock(&sched.lock);
	global_runq_put_batch(batch[0], batch[n], (int32_t)n + 1);
	rlock_unlock(&sched.lock);
	return true;
}

void runq_put(struct p *p, struct g *g, bool next)
{
	if (next) {
		struct g *old = atomic_load_explicit(&p->runnext, RELAXED);
		while (!atomic_compare_exchange_weak_explicit(&p->runnext, &old, g,
							      RELEASE, RELAXED))
			;
		if (!old)
			return;
		g = old;  /* the bumped goroutine goes to the tail */
	}
	for (;;) {
		uint32_t head = atomic_load_explicit(&p->runq_head, ACQUIRE);
		uint32_t tail = atomic_load_explicit(&p->runq_tail, RELAXED);
		if (tail - head < RUNQ_SIZE) {
			atomic_store_explicit(&p->runq[tail % RUNQ_SIZE], g, RELAXED);
			atomic_store_explicit(&p->runq_tail, tail + 1, RELEASE);
			return;
		}
		if (runq_put_slow(p, g, head, tail))
			return;
	}
}

struct g *runq_get(struct p *p, bool *inherit)
{
	struct g *next = atomic_load_explicit(&p->runnext, RELAXED);
	if (next && atomic_compare_exchange_strong_explicit(
			    &p->runnext, &next, NULL, ACQUIRE, RELAXED)) {
		*inherit = true;
		return next;
	}
	*inherit = false;
	for (;;) {
		uint32_t head = atomic_load_explicit(&p->runq_head, ACQUIRE);
		uint32_t tail = atomic_load_explicit(&p->runq_tail, RELAXED);
		if (tail == head)
			return NULL;
		struct g *g = atomic_load_explicit(&p->runq[head % RUNQ_SIZE],
						   RELAXED);
		if (atomic_compare_exchange_weak_explicit(&p->runq_head, &head,
							  head + 1, RELEASE,
							  RELAXED))
			return g;
	}
}

bool runq_empty(struct p *p)
{
	/* tail is re-read to get a consistent snapshot with runnext. */
	for (;;) {
		uint32_t head = atomic_load_explicit(&p->runq_head, ACQUIRE);
		uint32_t tail = atomic_load_explicit(&p->runq_tail, ACQUIRE);
		struct g *next = atomic_load_explicit(&p->runnext, ACQUIRE);
		if (tail == atomic_load_explicit(&p->runq_tail, ACQUIRE))
			return head == tail && next == NULL;
	}
}

/* Copy half of victim's queue into batch[batch_head...]; returns how many. */
static uint32_t runq_grab(struct p *victim, struct g *_Atomic *batch,
			  uint32_t batch_head, bool steal_next)
{
	for (;;) {
		uint32_t head = atomic_load_explicit(&victim->runq_head, ACQUIRE);
		uint32_t tail = atomic_load_explicit(&victim->runq_tail, ACQUIRE);
		uint32_t n = tail - head;
		n -= n / 2;
		if (n == 0) {
			if (!steal_next)
				return 0;
			struct g *next = atomic_load_explicit(&victim->runnext,
							      RELAXED);
			if (!next)
				return 0;
			/* The victim is probably about to run its runnext:
			 * stealing it now would just bounce it between Ps.
			 * Give the owner a moment (Go waits 3 µs). */
			if (atomic_load_explicit(&victim->status, RELAXED) ==
			    P_RUNNING) {
				usleep(3);
			}
			if (!atomic_compare_exchange_strong_explicit(
				    &victim->runnext, &next, NULL, ACQUIRE,
				    RELAXED))
				continue;
			atomic_store_explicit(&batch[batch_head % RUNQ_SIZE], next,
					      RELAXED);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue;  /* head and tail read inconsistently */
		for (uint32_t i = 0; i < n; i++) {
			struct g *g = atomic_load_explicit(
				&victim->runq[(head + i) % RUNQ_SIZE], RELAXED);
			atomic_store_explicit(&batch[(batch_head + i) % RUNQ_SIZE],
					      g, RELAXED);
		}
		if (atomic_compare_exchange_strong_explicit(
			    &victim->runq_head, &head, head + n, RELEASE, RELAXED))
			return n;
	}
}

/* Counted for goro_stats; any thief may add. */
static _Atomic uint64_t steals;

uint64_t runq_steals(void)
{
	return atomic_load_explicit(&steals, RELAXED);
}

struct g *runq_steal(struct p *p, struct p *victim, bool steal_next)
{
	uint32_t tail = atomic_load_explicit(&p->runq_tail, RELAXED);
	uint32_t n = runq_grab(victim, p->runq, tail, steal_next);
	if (n == 0)
		return NULL;
	atomic_fetch_add_explicit(&steals, 1, RELAXED);
	n--;
	struct g *g = atomic_load_explicit(&p->runq[(tail + n) % RUNQ_SIZE],
					   RELAXED);
	if (n > 0)
		atomic_store_explicit(&p->runq_tail, tail + n, RELEASE);
	return g;
}

void global_runq_put(struct g *g)
{
	g->schedlink = NULL;
	if (sched.runq_tail)
		sched.runq_tail->schedlink = g;
	else
		sched.runq_head = g;
	sched.runq_tail = g;
	atomic_fetch_add_explicit(&sched.runq_size, 1, RELAXED);
	if (g->used_slice)
		atomic_fetch_add_explicit(&sched.runq_used_slice, 1, RELAXED);
}

void global_runq_put_batch(struct g *head, struct g *tail, int32_t n)
{
	tail->schedlink = NULL;
	if (sched.runq_tail)
		sched.runq_tail->schedlink = head;
	else
		sched.runq_head = head;
	sched.runq_tail = tail;
	atomic_fetch_add_explicit(&sched.runq_size, n, RELAXED);
	int32_t used = 0;
	for (struct g *g = head; g; g = g->schedlink)
		used += g->used_slice;
	if (used)
		atomic_fetch_add_explicit(&sched.runq_used_slice, used, RELAXED);
}

/* g leaves the global queue. */
static void global_runq_left(struct g *g)
{
	g->schedlink = NULL;
	if (g->used_slice) {
		g->used_slice = false;
		atomic_fetch_sub_explicit(&sched.runq_used_slice, 1, RELAXED);
	}
}

static struct g *global_runq_pop(void)
{
	struct g *g = sched.runq_head;
	if (g) {
		sched.runq_head = g->schedlink;
		if (!sched.runq_head)
			sched.runq_tail = NULL;
		global_runq_left(g);
	}
	return g;
}

struct g *global_runq_peek(void)
{
	return sched.runq_head;
}

struct g *global_runq_take_first(bool (*match)(const struct g *, const void *),
				 const void *arg)
{
	struct g *prev = NULL;
	for (struct g *g = sched.runq_head; g; prev = g, g = g->schedlink) {
		if (!match(g, arg))
			continue;
		if (prev)
			prev->schedlink = g->schedlink;
		else
			sched.runq_head = g->schedlink;
		if (sched.runq_tail == g)
			sched.runq_tail = prev;
		global_runq_left(g);
		atomic_fetch_sub_explicit(&sched.runq_size, 1, RELAXED);
		return g;
	}
	return NULL;
}

struct g *global_runq_get(struct p *p, int32_t max)
{
	int32_t size = atomic_load_explicit(&sched.runq_size, RELAXED);
	if (size == 0)
		return NULL;
	int32_t n = size / atomic_load_explicit(&sched.gomaxprocs, RELAXED) + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	/* The batch stops at a goroutine preempted for using up its slice.
	 * Moved to p's queue, it would sit ahead of whatever p readies next
	 * (short requests behind a quantum of CPU-bound work each); left
	 * here, it runs when a P has nothing better.  Tail benchmark at 70%
	 * load, 100 µs quantum: short-request p50 190-305 -> 79-99 µs. */
	struct g *g = global_runq_pop();
	int32_t taken = 1;
	while (taken < n && sched.runq_head && !sched.runq_head->used_slice) {
		runq_put(p, global_runq_pop(), false);
		taken++;
	}
	atomic_fetch_sub_explicit(&sched.runq_size, taken, RELAXED);
	return g;
}
