/* SPDX-License-Identifier: MIT */
/*
 * outside_wait.c — parking a goroutine for a thread goro did not create
 * (see outside_wait.h).
 *
 * The race it settles: the thread may finish before the goroutine is off
 * the CPU.  The goroutine parks with a commit callback that runs on g0
 * once it is off the CPU and moves SUBMITTED to PARKED; the thread swaps
 * in DONE.  Whoever comes second readies the goroutine: the thread if it
 * found PARKED, the commit if it found DONE.  Each side reads what it
 * needs of the wait (the goroutine, the flag on its stack) before its
 * exchange, because after it the other side may free the request.
 *
 * The commit's on_parked callback (a deadline armed) uses the request
 * too, so it runs in a state of its own, ARMING, which neither the
 * thread nor the deadline may leave: they wait the few instructions it
 * lasts.  Without it, a thread done between the commit's exchange and the
 * callback readied the goroutine, which freed the request, and the
 * callback then armed a timer inside freed memory.
 */
#include <sched.h>

#include "outside_wait.h"
#include "scheduler.h"

#include "atomic.h"

void outside_wait_begin(struct outside_wait *w)
{
	w->g = g_current();
	atomic_init(&w->state, OW_SUBMITTED);
	w->on_parked = NULL;
	w->abandoned = NULL;
	atomic_fetch_add_explicit(&sched.nblocked, 1, RELAXED);
}

void outside_wait_cancel(struct outside_wait *w)
{
	(void)w;
	atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);
}

static void park_commit(void *arg)
{
	struct outside_wait *w = arg;
	struct g *g = w->g;
	void (*on_parked)(struct outside_wait *) = w->on_parked;
	int expect = OW_SUBMITTED;
	if (atomic_compare_exchange_strong_explicit(&w->state, &expect,
						    on_parked ? OW_ARMING :
						    OW_PARKED, ACQ_REL,
						    ACQUIRE)) {
		if (on_parked) {
			on_parked(w);
			atomic_store_explicit(&w->state, OW_PARKED, RELEASE);
		}
		return;
	}
	/* DONE while it was switching away. */
	sched_ready(g, false);
	atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);
}

bool outside_wait_park(struct outside_wait *w, enum wait_reason reason)
{
	bool abandoned = false;
	w->abandoned = &abandoned;
	if (atomic_load_explicit(&w->state, ACQUIRE) == OW_DONE)
		atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);
	else
		sched_park(reason, park_commit, w);
	if (abandoned)
		return true;  /* w may be freed already */
	/* Pairs with the thread's exchange: its results are in. */
	(void)atomic_load_explicit(&w->state, ACQUIRE);
	return false;
}

/* The state once the commit's on_parked callback has ended. */
static int settled(struct outside_wait *w)
{
	int s;
	while ((s = atomic_load_explicit(&w->state, ACQUIRE)) == OW_ARMING)
		sched_yield();
	return s;
}

int outside_wait_done(struct outside_wait *w)
{
	struct g *g = w->g;
	int old = settled(w);
	while (old != OW_ABANDONED &&
	       !atomic_compare_exchange_weak_explicit(&w->state, &old, OW_DONE,
						      ACQ_REL, ACQUIRE))
		if (old == OW_ARMING)
			old = settled(w);
	if (old == OW_PARKED) {
		sched_ready_global(g);
		atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);
	}
	return old;
}

bool outside_wait_abandon(struct outside_wait *w)
{
	struct g *g = w->g;
	bool *abandoned = w->abandoned;
	int expect = OW_PARKED;
	if (settled(w) != OW_PARKED ||
	    !atomic_compare_exchange_strong_explicit(&w->state, &expect,
						     OW_ABANDONED, ACQ_REL,
						     ACQUIRE))
		return false;
	*abandoned = true;
	sched_ready(g, false);
	atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);
	return true;
}
