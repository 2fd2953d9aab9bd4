/*
 * deadlock.c — Go's checkdead: when every goroutine is blocked on
 * something only another goroutine could provide, the program is stuck
 * for good; say so and exit with status 2 instead of hanging.
 *
 * "Stuck" means, all at once: every P idle (nothing runs, and only an M
 * holding a P can ready a goroutine from a channel, a lock or a timer),
 * every run queue empty, no timer pending, and no goroutine waiting on
 * the outside world (I/O, a blocking call: sched.nblocked), which could
 * wake it without help.  The M that gives up the last P and finds no
 * timer to wait for is the one that checks, under sched.lock, so the
 * verdict cannot race with a P being taken.
 */
#include <stdio.h>
#include <unistd.h>

#include "deadlock.h"
#include "goroutine.h"
#include "runq.h"
#include "timer.h"
#include <goro.h>

#define RELAXED memory_order_relaxed
#define MINUTE_NS (60LL * 1000000000)

static bool nothing_can_run(void)
{
	int32_t procs = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	if (atomic_load_explicit(&sched.exiting, RELAXED) ||
	    atomic_load_explicit(&sched.stw_waiting, RELAXED) ||
	    atomic_load_explicit(&sched.npidle, RELAXED) != procs ||
	    atomic_load_explicit(&sched.runq_size, RELAXED) != 0 ||
	    atomic_load_explicit(&sched.nblocked, RELAXED) != 0 ||
	    timers_pending() != 0)
		return false;
	for (int32_t i = 0; i < procs; i++)
		if (!runq_empty(sched.allp[i]))
			return false;
	return true;
}

static void print_goroutines(int64_t now)
{
	rlock_lock(&allgs.lock);
	size_t n = atomic_load_explicit(&allgs.count, RELAXED);
	for (size_t i = 0; i < n; i++) {
		struct g *g = allgs.items[i];
		if (atomic_load_explicit(&g->status, RELAXED) != G_WAITING)
			continue;
		char name[G_NAME_MAX + 3] = "";
		if (g->name[0])
			snprintf(name, sizeof(name), " \"%s\"", g->name);
		char since[32] = "";
		int64_t waited = now - g->wait_since;
		if (waited >= MINUTE_NS)
			snprintf(since, sizeof(since), ", %lld minutes",
				 (long long)(waited / MINUTE_NS));
		dprintf(STDERR_FILENO, "\ngoroutine %lld%s [%s%s]:\n",
			(long long)g->id, name,
			wait_reason_name(g->wait_reason), since);
	}
	rlock_unlock(&allgs.lock);
}

void deadlock_check(void)
{
	rlock_lock(&sched.lock);
	bool dead = nothing_can_run();
	rlock_unlock(&sched.lock);
	if (!dead)
		return;
	if (atomic_load_explicit(&sched.gcount, RELAXED) == 0) {
		/* Only possible when goroutine 1 left through goro_exit:
		 * its return would have ended the program. */
		dprintf(STDERR_FILENO, "fatal error: no goroutines (main "
				       "called goro_exit) - deadlock!\n");
		_exit(2);
	}
	dprintf(STDERR_FILENO,
		"fatal error: all goroutines are asleep - deadlock!\n");
	print_goroutines(goro_now());
	_exit(2);
}
