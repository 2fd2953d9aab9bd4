/* SPDX-License-Identifier: MIT */
/*
 * cond.c — goro_cond_t, a condition variable (Go's sync.Cond with its
 * runtime notifyList).
 *
 * A waiter takes a ticket before unlocking the user's mutex, and parks
 * only if its ticket has not been notified meanwhile: a signal between the
 * unlock and the park is never lost, and no lock is held across the
 * user's unlock (which may yield, in the mutex's starvation mode).
 * Signal notifies the oldest unnotified ticket; broadcast all of them.
 */
#include <errno.h>
#include <stdint.h>

#include "scheduler.h"
#include <goro.h>

struct cond_waiter {
	struct g *g;
	uint32_t ticket;
	struct cond_waiter *next;
};

struct cond {
	_Atomic uint32_t wait;     /* next ticket to hand out */
	_Atomic uint32_t notify;   /* next ticket to notify (written locked) */
	struct rlock lock;
	struct cond_waiter *head, *tail;
};

_Static_assert(sizeof(struct cond) <= sizeof(goro_cond_t),
	       "goro_cond_t too small");
_Static_assert(_Alignof(struct cond) <= _Alignof(goro_cond_t),
	       "goro_cond_t underaligned");

/* Tickets wrap around: compare by distance. */
static inline bool ticket_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void cond_unlock_cb(void *c)
{
	rlock_unlock(&((struct cond *)c)->lock);
}

static void notify_wait(struct cond *c, uint32_t ticket)
{
	rlock_lock(&c->lock);
	if (ticket_before(ticket, atomic_load(&c->notify))) {
		rlock_unlock(&c->lock);  /* notified before we got here */
		return;
	}
	struct cond_waiter w = { .g = g_current(), .ticket = ticket };
	if (c->tail)
		c->tail->next = &w;
	else
		c->head = &w;
	c->tail = &w;
	sched_park(WAIT_COND, cond_unlock_cb, c);
}

int goro_cond_wait(goro_cond_t *cond, goro_mutex_t *mu)
{
	RT_REQUIRE_G(-EPERM);
	if (!cond || !mu)
		return -EINVAL;
	struct cond *c = (struct cond *)cond;
	/* Waiting without holding mu is a bug: refuse it before taking a
	 * ticket, which a signal would otherwise be spent on. */
	if (goro_mutex_trylock(mu) == 0) {
		goro_mutex_unlock(mu);
		return -EPERM;
	}
	uint32_t ticket = atomic_fetch_add(&c->wait, 1);
	goro_mutex_unlock(mu);
	notify_wait(c, ticket);
	return goro_mutex_lock(mu);
}

int goro_cond_signal(goro_cond_t *cond)
{
	RT_REQUIRE_G(-EPERM);
	if (!cond)
		return -EINVAL;
	struct cond *c = (struct cond *)cond;
	if (atomic_load(&c->wait) == atomic_load(&c->notify))
		return 0;  /* nobody waits */
	rlock_lock(&c->lock);
	uint32_t ticket = atomic_load(&c->notify);
	if (ticket == atomic_load(&c->wait)) {
		rlock_unlock(&c->lock);
		return 0;
	}
	atomic_store(&c->notify, ticket + 1);
	/* Its holder may not be queued yet; then it will see the ticket
	 * notified and not park at all. */
	struct cond_waiter *prev = NULL, *w = c->head;
	while (w && w->ticket != ticket) {
		prev = w;
		w = w->next;
	}
	if (w) {
		if (prev)
			prev->next = w->next;
		else
			c->head = w->next;
		if (c->tail == w)
			c->tail = prev;
	}
	rlock_unlock(&c->lock);
	if (w)
		sched_ready(w->g, true);
	return 0;
}

int goro_cond_broadcast(goro_cond_t *cond)
{
	RT_REQUIRE_G(-EPERM);
	if (!cond)
		return -EINVAL;
	struct cond *c = (struct cond *)cond;
	if (atomic_load(&c->wait) == atomic_load(&c->notify))
		return 0;
	rlock_lock(&c->lock);
	atomic_store(&c->notify, atomic_load(&c->wait));
	struct cond_waiter *list = c->head;
	c->head = c->tail = NULL;
	rlock_unlock(&c->lock);
	while (list) {
		struct cond_waiter *w = list;
		list = w->next;  /* read before w's goroutine can run */
		sched_ready(w->g, false);
	}
	return 0;
}
