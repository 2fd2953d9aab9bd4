/*
 * sema.c — the goroutine semaphore behind the sync primitives (sema.h).
 *
 * Lost wakeups are ruled out Dekker-style, with sequentially consistent
 * atomics: a waiter first publishes itself on the queue, then tries the
 * count once more before parking; a releaser first increments the count,
 * then looks for a waiter.  At least one of the two sees the other.  A
 * waiter parks with the queue lock held until it is off the CPU, so the
 * releaser that dequeues it can ready it at once.
 */
#include "sched.h"
#include "sema.h"

struct sema_waiter {
	struct g *g;
	struct sema_waiter *next, *prev;
	bool ticket;    /* handed the count directly (handoff) */
};

static bool sema_try(struct sema *s)
{
	uint32_t v = atomic_load(&s->count);
	while (v > 0)
		if (atomic_compare_exchange_weak(&s->count, &v, v - 1))
			return true;
	return false;
}

/* Queue operations: caller holds s->lock. */
static void queue_push(struct sema *s, struct sema_waiter *w, bool lifo)
{
	struct sema_waiter *head = atomic_load_explicit(&s->head,
							memory_order_relaxed);
	if (lifo) {
		w->prev = NULL;
		w->next = head;
		if (head)
			head->prev = w;
		else
			s->tail = w;
		atomic_store(&s->head, w);
	} else {
		w->next = NULL;
		w->prev = s->tail;
		if (s->tail)
			s->tail->next = w;
		else
			atomic_store(&s->head, w);
		s->tail = w;
	}
}

static void queue_remove(struct sema *s, struct sema_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		atomic_store(&s->head, w->next);
	if (w->next)
		w->next->prev = w->prev;
	else
		s->tail = w->prev;
}

static void sema_unlock_cb(void *s)
{
	rlock_unlock(&((struct sema *)s)->lock);
}

void sema_acquire(struct sema *s, bool lifo, enum wait_reason reason)
{
	if (sema_try(s))
		return;
	struct sema_waiter w = { .g = g_current() };
	for (;;) {
		rlock_lock(&s->lock);
		queue_push(s, &w, lifo);
		if (sema_try(s)) {
			queue_remove(s, &w);
			rlock_unlock(&s->lock);
			return;
		}
		sched_park(reason, sema_unlock_cb, s);
		if (w.ticket || sema_try(s))
			return;
		/* Woken, but a goroutine that never waited took the count
		 * first: wait again. */
	}
}

void sema_release(struct sema *s, bool handoff)
{
	atomic_fetch_add(&s->count, 1);
	if (!atomic_load(&s->head))
		return;
	rlock_lock(&s->lock);
	struct sema_waiter *w = atomic_load_explicit(&s->head,
						     memory_order_relaxed);
	if (!w) {
		rlock_unlock(&s->lock);
		return;
	}
	queue_remove(s, w);
	rlock_unlock(&s->lock);
	/* w's goroutine is off the CPU (it parked holding the lock we just
	 * took) and stays parked until readied below. */
	struct g *g = w->g;
	bool handed = handoff && sema_try(s);
	w->ticket = handed;
	sched_ready(g, true);
	if (handed)
		sched_gosched();  /* let it run now, in our time slice */
}
