/* SPDX-License-Identifier: MIT */
/*
 * outside_wait.h — a goroutine parked until a thread goro did not create
 * (a file-engine pool thread, the io_uring reaper, a resolver thread) has
 * done something for it, and readied by that thread directly: no
 * descriptor, no P and no M wait meanwhile.  The one implementation of
 * that handshake (src/sched/outside_wait.c); src/io/fileio.c and
 * src/io/resolver.c use it.
 *
 * The wait's state says who owns the request around it: SUBMITTED (both:
 * the goroutine is on its way to parking), PARKED, DONE (the goroutine's:
 * the thread touches it no more), ABANDONED (the thread's: the goroutine
 * gave up, by a deadline, and left).  While it lasts the goroutine counts
 * in sched.nblocked: waiting on the outside world is not a deadlock.
 */
#ifndef GORO_OUTSIDE_WAIT_H
#define GORO_OUTSIDE_WAIT_H

#include <stdbool.h>

#include "runtime.h"

/* OW_ARMING: parked, its on_parked callback still running on g0.  The
 * thread and the deadline wait for it to end (it is short: arming a
 * timer), so that the goroutine never frees the request under it. */
enum outside_state { OW_SUBMITTED, OW_ARMING, OW_PARKED, OW_DONE,
		     OW_ABANDONED };

struct outside_wait {
	struct g *g;               /* the goroutine waiting */
	_Atomic int state;         /* enum outside_state */
	/* Called on g0 once the goroutine is parked (arm a deadline): */
	void (*on_parked)(struct outside_wait *w);
	bool *abandoned;           /* on the goroutine's stack, while parked */
};

/* Before the request is handed to the thread: the calling goroutine is
 * the one to wait. */
void outside_wait_begin(struct outside_wait *w);
/* The request could not be handed over after all: no wait. */
void outside_wait_cancel(struct outside_wait *w);
/* Park until outside_wait_done (at once if done already) or
 * outside_wait_abandon.  True if abandoned: the request is the thread's
 * now, and must not be touched again. */
bool outside_wait_park(struct outside_wait *w, enum wait_reason reason);

/* The thread, done: DONE, readying the goroutine if it was PARKED; from
 * here on the request is the goroutine's.  Returns the state it found:
 * OW_ABANDONED means the request is the thread's to free.  Any thread. */
int outside_wait_done(struct outside_wait *w);
/* A deadline (a timer callback): PARKED -> ABANDONED, readying the
 * goroutine.  True if so: the request is the thread's from here on. */
bool outside_wait_abandon(struct outside_wait *w);

#endif
