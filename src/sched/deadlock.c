/* SPDX-License-Identifier: MIT */
/*
 * deadlock.c — Go's checkdead: when every goroutine is blocked on
 * something only another goroutine could provide, the program is stuck
 * for good; say so and exit with status 2 instead of hanging.
 *
 * "Stuck" means, all at once: every P idle (nothing runs, and only an M
 * holding a P can ready a goroutine from a channel, a lock or a timer),
 * every run queue empty, no timer pending, and no goroutine waiting on
 * the outside world, which could wake it without help: none parked on a
 * descriptor (netpoll_waiting) and none in a blocking call
 * (sched.nblocked).  A goroutine parked on a descriptor counts whether or
 * not an M is in the poller for it, and until the M that collected it
 * has put it in a run queue (netpoll_delivered): the M giving up the last
 * P while another sleeps in epoll_wait, or is just back from it with the
 * reader's data, must not call that a deadlock.  The M that gives up the
 * last P and finds no timer to wait for is the one that checks, under
 * sched.lock, so the verdict cannot race with a P being taken.
 */
#include <stdio.h>
#include <unistd.h>

#include "deadlock.h"
#include "dump.h"
#include "goroutine.h"
#include "netpoll.h"
#include "runq.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

/* The goro_main run (sched.generation) in which a thread goro did not
 * create first called in; that run counts itself once in nblocked. */
static _Atomic uint32_t foreign_run;

void deadlock_foreign_caller(void)
{
	uint32_t gen = sched.generation;
	uint32_t seen = atomic_load_explicit(&foreign_run, RELAXED);
	if (seen != gen &&
	    atomic_compare_exchange_strong(&foreign_run, &seen, gen))
		deadlock_blocked_add(1);
}

static bool nothing_can_run(void)
{
	int32_t procs = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	if (atomic_load_explicit(&sched.exiting, RELAXED) ||
	    atomic_load_explicit(&sched.stw_waiting, RELAXED) ||
	    atomic_load_explicit(&sched.npidle, RELAXED) != procs ||
	    atomic_load_explicit(&sched.runq_size, RELAXED) != 0 ||
	    atomic_load_explicit(&sched.nblocked, RELAXED) != 0 ||
	    netpoll_waiting() != 0 || timers_pending() != 0)
		return false;
	for (int32_t i = 0; i < procs; i++)
		if (!runq_empty(sched.allp[i]))
			return false;
	return true;
}

void deadlock_check(void)
{
	rlock_lock(&sched.lock);
	bool dead = nothing_can_run();
	rlock_unlock(&sched.lock);
	if (!dead)
		return;
	if (g_live_count() == 0) {
		/* Only possible when goroutine 1 left through goro_exit:
		 * its return would have ended the program. */
		dprintf(STDERR_FILENO, "fatal error: no goroutines (main "
				       "called goro_exit) - deadlock!\n");
		_exit(2);
	}
	/* As Go: every goroutine's stack follows.  We are on an M's own
	 * stack (g0), where unwinding is safe, and no goroutine runs. */
	static struct dump_out out = { .fd = STDERR_FILENO };
	out_str(&out, "fatal error: all goroutines are asleep - deadlock!\n\n");
	dump_fatal(&out, NULL, true);
	_exit(2);
}

void deadlock_blocked_add(int64_t n)
{
	atomic_fetch_add_explicit(&sched.nblocked, n, RELAXED);
}
