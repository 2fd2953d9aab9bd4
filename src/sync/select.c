/* SPDX-License-Identifier: MIT */
/*
 * select.c — goro_select: wait on several channel operations at once.
 *
 * Go's selectgo (runtime/select.go), in three passes:
 *  1. Lock every channel involved, in address order (a consistent order,
 *     so two selects can never deadlock each other; a channel named twice
 *     is locked once), then look at the cases in a random order and
 *     complete the first that can proceed.  The random order is what makes
 *     the choice uniform among ready cases.
 *  2. Nothing ready: put a waiter on every channel's queue, all sharing one
 *     select_state, and park.  The channels are unlocked, and the timeout
 *     timer armed, only once the goroutine is off the CPU.
 *  3. Woken: whoever woke us claimed select_state.done first — a channel
 *     operation (g->param is then its waiter) or the timer (g->param is
 *     NULL).  Lock everything again and take our other waiters off their
 *     queues.
 *
 * The timer is the one party that reaches the select's frame without
 * holding a channel lock.  Its callback sets timer_done as its last access
 * to the frame; a select that was completed by a channel while the callback
 * was running waits for that before its frame goes away.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "clock.h"
#include "alloc.h"
#include "chan.h"
#include "scheduler.h"
#include "timer.h"
#include <goro.h>

/* Cases handled without allocating: the records stay on the stack. */
#define SELECT_SMALL 16
/* As Go: a select has at most this many cases. */
#define SELECT_MAX (1 << 16)

struct select_park {
	struct select_state state;    /* shared with the waiters */
	struct note thread_wake;      /* a thread goro did not create waits here */
	_Atomic uint32_t timer_done;  /* timer callback done with the frame */
	struct g *g;
	bool timed;
	struct timer timer;
	struct goro_chan **locked;    /* channels in lock order, no repeats */
	size_t nlocked;
};

static void lock_all(struct goro_chan **locked, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rlock_lock(&locked[i]->lock);
}

static void unlock_all(struct goro_chan **locked, size_t n)
{
	for (size_t i = n; i-- > 0;)
		rlock_unlock(&locked[i]->lock);
}

/* Park callback, on the other side of the switch.  Once the first channel
 * is unlocked the select may be completed and resumed elsewhere, and its
 * frame may go away as soon as it has locked every channel again: read
 * everything needed from the frame before unlocking anything. */
static void select_park_unlock(void *arg)
{
	struct select_park *sp = arg;
	struct goro_chan **locked = sp->locked;
	size_t n = sp->nlocked;
	if (sp->timed)
		timer_start(&sp->timer);
	unlock_all(locked, n);
}

static void select_timeout(struct timer *t)
{
	struct select_park *sp = t->arg;
	struct g *g = sp->g;
	uint32_t open = 0;
	bool won = atomic_compare_exchange_strong_explicit(
		&sp->state.done, &open, 1, memory_order_acq_rel,
		memory_order_relaxed);
	/* A waiting thread is woken before timer_done is set: it waits for
	 * timer_done before its frame (and the note) goes away. */
	if (won && !g)
		note_wake(&sp->thread_wake);
	atomic_store_explicit(&sp->timer_done, 1, memory_order_release);
	if (won && g)
		sched_ready(g, true);
}

/* Order case indices by channel address (heapsort: no allocation, no
 * quadratic worst case for large selects). */
static void sift_down(const goro_case_t *cases, uint32_t *order, size_t root,
		      size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && (uintptr_t)cases[order[child + 1]].chan >
				     (uintptr_t)cases[order[child]].chan)
			child++;
		if ((uintptr_t)cases[order[root]].chan >=
		    (uintptr_t)cases[order[child]].chan)
			return;
		uint32_t t = order[root];
		order[root] = order[child];
		order[child] = t;
		root = child;
	}
}

static void sort_by_chan(const goro_case_t *cases, uint32_t *order, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(cases, order, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = order[0];
		order[0] = order[end];
		order[end] = t;
		sift_down(cases, order, 0, end);
	}
}

static int validate(const goro_case_t *cases, size_t n, size_t *active)
{
	if (n > SELECT_MAX || (n && !cases))
		return -EINVAL;
	*active = 0;
	for (size_t i = 0; i < n; i++) {
		const goro_case_t *cs = &cases[i];
		/* size: 0 or this header's sizeof, the stride of the array; a
		 * later layout reads the stride from cases[0].size. */
		if (cs->size && cs->size != sizeof(goro_case_t))
			return -EINVAL;
		if (!cs->chan)
			continue;
		int err = chan_check(cs->chan);
		if (err)
			return err;
		if (cs->dir != GORO_SEND && cs->dir != GORO_RECV)
			return -EINVAL;
		if (cs->dir == GORO_SEND && !cs->elem && cs->chan->elem_size)
			return -EINVAL;
		(*active)++;
	}
	return 0;
}

static struct waitq *case_queue(const goro_case_t *cs)
{
	return cs->dir == GORO_SEND ? &cs->chan->sendq : &cs->chan->recvq;
}

/* The three passes (see top), on arrays sized for `active` cases. */
static int select_run(goro_case_t *cases, size_t n, size_t active,
		      int64_t timeout_ns, uint32_t *pollorder,
		      uint32_t *lockorder, struct goro_chan **locked,
		      struct waiter *waiters)
{
	struct g *self = g_current();

	/* Random poll order (inside-out Fisher-Yates) and address order. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cases[i].chan)
			continue;
		size_t j = (size_t)(((uint64_t)sched_rand() * (k + 1)) >> 32);
		pollorder[k] = pollorder[j];
		pollorder[j] = (uint32_t)i;
		lockorder[k] = (uint32_t)i;
		k++;
	}
	sort_by_chan(cases, lockorder, active);
	size_t nlocked = 0;
	for (size_t i = 0; i < active; i++) {
		struct goro_chan *c = cases[lockorder[i]].chan;
		if (!nlocked || locked[nlocked - 1] != c)
			locked[nlocked++] = c;
	}

	/* Pass 1: anything ready? */
	lock_all(locked, nlocked);
	for (size_t i = 0; i < active; i++) {
		goro_case_t *cs = &cases[pollorder[i]];
		struct g *wake;
		int r;
		if (cs->dir == GORO_RECV) {
			r = chan_recv_locked(cs->chan, cs->elem, &wake);
			if (r >= 0)
				cs->ok = r;
		} else {
			r = chan_send_locked(cs->chan, cs->elem, &wake);
		}
		if (r != -EAGAIN) {
			unlock_all(locked, nlocked);
			chan_wake(wake);
			if (self)
				sched_check_preempt(self);
			return r < 0 ? r : (int)pollorder[i];
		}
	}
	if (timeout_ns == 0) {
		unlock_all(locked, nlocked);
		if (self)
			sched_check_preempt(self);
		return -EAGAIN;
	}

	/* Pass 2: wait on every channel. */
	struct select_park sp = {
		.g = self,
		.timed = timeout_ns > 0,
		.locked = locked,
		.nlocked = nlocked,
	};
	if (sp.timed) {
		int64_t now = rt_now();
		sp.timer.when = timeout_ns > INT64_MAX - now ? INT64_MAX
							    : now + timeout_ns;
		sp.timer.fn = select_timeout;
		sp.timer.arg = &sp;
	}
	if (self) {
		self->param = NULL;
	} else {
		note_clear(&sp.thread_wake);
		sp.state.thread_wake = &sp.thread_wake;
	}
	for (size_t i = 0; i < active; i++) {
		uint32_t ci = lockorder[i];
		waiters[i] = (struct waiter){
			.g = self,
			.elem = cases[ci].elem,
			.sel = &sp.state,
		};
		waitq_push(case_queue(&cases[ci]), &waiters[i]);
	}
	struct waiter *won;
	if (self) {
		sched_park(WAIT_SELECT, select_park_unlock, &sp);
		/* Pass 3: woken by a channel (its waiter in param) or the
		 * timer. */
		won = self->param;
		self->param = NULL;
	} else {
		select_park_unlock(&sp);
		note_sleep(&sp.thread_wake);
		won = atomic_load_explicit(&sp.state.won, memory_order_acquire);
	}
	if (sp.timed && !timer_stop(&sp.timer))
		while (!atomic_load_explicit(&sp.timer_done,
					     memory_order_acquire))
			arch_cpu_relax();
	lock_all(locked, nlocked);
	for (size_t i = 0; i < active; i++)
		if (&waiters[i] != won)
			waitq_remove(case_queue(&cases[lockorder[i]]),
				     &waiters[i]);
	unlock_all(locked, nlocked);
	if (!won)
		return -ETIMEDOUT;
	goro_case_t *cs = &cases[lockorder[won - waiters]];
	if (cs->dir == GORO_RECV) {
		cs->ok = won->success;
		return (int)(cs - cases);
	}
	return won->success ? (int)(cs - cases) : -EPIPE;
}

int goro_select(goro_case_t *cases, size_t n, int64_t timeout_ns)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	size_t active;
	int err = validate(cases, n, &active);
	if (err)
		return err;
	if (!active && timeout_ns < 0) {
		/* Nothing can ever wake it (Go's select {}). */
		if (!g_current())
			for (;;)
				pause();
		for (;;)
			sched_park(WAIT_SELECT_NO_CASES, NULL, NULL);
	}
	if (active <= SELECT_SMALL) {
		uint32_t pollorder[SELECT_SMALL], lockorder[SELECT_SMALL];
		struct goro_chan *locked[SELECT_SMALL];
		struct waiter waiters[SELECT_SMALL];
		return select_run(cases, n, active, timeout_ns, pollorder,
				  lockorder, locked, waiters);
	}
	size_t bytes = active * (2 * sizeof(uint32_t) +
				 sizeof(struct goro_chan *) +
				 sizeof(struct waiter));
	struct waiter *waiters = rt_alloc(bytes);
	if (!waiters)
		return -ENOMEM;
	struct goro_chan **locked = (struct goro_chan **)(waiters + active);
	uint32_t *pollorder = (uint32_t *)(locked + active);
	uint32_t *lockorder = pollorder + active;
	int r = select_run(cases, n, active, timeout_ns, pollorder, lockorder,
			   locked, waiters);
	rt_free(waiters, bytes);
	return r;
}
