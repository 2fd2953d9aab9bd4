/* SPDX-License-Identifier: MIT */
/*
 * sema.c — the goroutine semaphore behind the sync primitives (sema.h).
 *
 * Waiters live on their own stacks, linked into the bucket of a global
 * table that their semaphore's address hashes to.  Lost wakeups are ruled
 * out Dekker-style with sequentially consistent atomics: a waiter counts
 * itself into the bucket's nwait, then tries the count once more before
 * parking; a releaser increments the count, then reads nwait.  At least one
 * of the two sees the other.  A waiter parks with the bucket lock held
 * until it is off the CPU, so the releaser that dequeues it can ready it at
 * once.  Apart from the increment (and, with handoff, taking the count back
 * for a waiter it holds dequeued, which keeps the semaphore alive), the
 * releaser touches only the table.
 */
#include "scheduler.h"
#include "sema.h"

#define SEMA_BUCKETS 251  /* prime, as Go's semtable */

struct sema_waiter {
	struct g *g;
	struct sema *sema;
	struct sema_waiter *next, *prev;
	bool ticket;    /* handed the count directly (handoff) */
};

struct sema_bucket {
	struct rlock lock;
	_Atomic uint32_t nwait;  /* read unlocked: any waiter here? */
	struct sema_waiter *head, *tail;
} __attribute__((aligned(64)));

static struct sema_bucket table[SEMA_BUCKETS];

static struct sema_bucket *bucket_of(const struct sema *s)
{
	return &table[((uintptr_t)s >> 3) % SEMA_BUCKETS];
}

static bool sema_try(struct sema *s)
{
	uint32_t v = atomic_load(&s->count);
	while (v > 0)
		if (atomic_compare_exchange_weak(&s->count, &v, v - 1))
			return true;
	return false;
}

/* Queue operations: caller holds b->lock. */
static void queue_push(struct sema_bucket *b, struct sema_waiter *w, bool lifo)
{
	if (lifo) {
		w->prev = NULL;
		w->next = b->head;
		if (b->head)
			b->head->prev = w;
		else
			b->tail = w;
		b->head = w;
	} else {
		w->next = NULL;
		w->prev = b->tail;
		if (b->tail)
			b->tail->next = w;
		else
			b->head = w;
		b->tail = w;
	}
	atomic_fetch_add(&b->nwait, 1);
}

static void queue_remove(struct sema_bucket *b, struct sema_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	atomic_fetch_sub(&b->nwait, 1);
}

static void bucket_unlock_cb(void *b)
{
	rlock_unlock(&((struct sema_bucket *)b)->lock);
}

void sema_acquire(struct sema *s, bool lifo, enum wait_reason reason)
{
	if (sema_try(s))
		return;
	struct sema_bucket *b = bucket_of(s);
	struct sema_waiter w = { .g = g_current(), .sema = s };
	for (;;) {
		rlock_lock(&b->lock);
		queue_push(b, &w, lifo);
		if (sema_try(s)) {
			queue_remove(b, &w);
			rlock_unlock(&b->lock);
			return;
		}
		sched_park(reason, bucket_unlock_cb, b);
		if (w.ticket || sema_try(s))
			return;
		/* Woken, but a goroutine that never waited took the count
		 * first: wait again. */
	}
}

void sema_release(struct sema *s, bool handoff)
{
	struct sema_bucket *b = bucket_of(s);
	atomic_fetch_add(&s->count, 1);
	/* From here on *s may be gone, unless we dequeue one of its waiters. */
	if (atomic_load(&b->nwait) == 0)
		return;
	rlock_lock(&b->lock);
	struct sema_waiter *w = b->head;
	while (w && w->sema != s)
		w = w->next;
	if (!w) {
		rlock_unlock(&b->lock);
		return;
	}
	queue_remove(b, w);
	rlock_unlock(&b->lock);
	/* w's goroutine is off the CPU (it parked holding the lock we just
	 * took) and stays parked, keeping *s alive, until readied below. */
	struct g *g = w->g;
	bool handed = handoff && sema_try(s);
	w->ticket = handed;
	sched_ready(g, true);
	if (handed)
		sched_gosched();  /* let it run now, in our time slice */
}
