/* SPDX-License-Identifier: MIT */
/*
 * blocking.c — goro_blocking_enter/exit: a goroutine about to make a call
 * that may block in the kernel lends its P out (Go's entersyscall and
 * exitsyscall, runtime/proc.go).
 *
 * Entering costs no system call and no lock: the P is only marked
 * P_SYSCALL and the M forgets it.  If the call returns quickly the
 * goroutine takes the same P back with one compare-and-swap.  If it takes
 * longer, sysmon (src/sysmon/sysmon.c) moves the P from P_SYSCALL to idle and
 * hands it to another M (p_handoff), so the goroutines queued on it run
 * meanwhile.  On return the goroutine then needs another P: an idle one,
 * or else it goes to the global run queue and its M goes idle.
 *
 * Regions nest (the innermost exit does not end the outer region), and
 * any runtime call made inside one works: it takes a P back for its own
 * duration (blocking_callback_begin below).
 */
#include <errno.h>
#include <stdio.h>

#include "deadlock.h"
#include "m.h"
#include "procs.h"
#include "runq.h"
#include "scheduler.h"
#include <goro.h>

#include "atomic.h"

/* Lend m's P out: the calling goroutine is about to block in the kernel. */
static void region_enter(struct m *m)
{
	struct g *g = m->curg;
	/* Waiting on the outside world: not a deadlock (src/sched/deadlock.c). */
	deadlock_blocked_add(1);
	atomic_store_explicit(&g->status, G_SYSCALL, RELAXED);
	struct p *p = p_take_own(m, false);
	m->syscall_p = p;
	atomic_store_explicit(&p->m, NULL, RELAXED);
	atomic_fetch_add_explicit(&p->syscalltick, 1, RELAXED);
	atomic_store_explicit(&p->status, P_SYSCALL, memory_order_release);
}

/* Take a P back: the lent one if nobody took it, else an idle one, else
 * wait in the global queue for one (the goroutine may then continue on
 * another M).  errno is the blocking call's result: kept. */
static void region_exit(struct m *m)
{
	struct p *p = m->syscall_p;
	int saved_errno = *m->errno_loc;
	struct g *g = m->curg;
	m->syscall_p = NULL;

	/* The goroutine counts in sched.nblocked until it holds a P again or
	 * sits in a run queue: in between, an M giving up the last P would
	 * see nothing to run and nobody blocked — a false deadlock. */
	uint32_t status = P_SYSCALL;
	if (atomic_compare_exchange_strong_explicit(&p->status, &status,
						    P_RUNNING,
						    memory_order_acquire,
						    RELAXED)) {
		/* Fast path: nobody took it. */
		atomic_store_explicit(&m->p, p, RELAXED);
		atomic_store_explicit(&p->m, m, RELAXED);
		atomic_store_explicit(&g->status, G_RUNNING, RELAXED);
		deadlock_blocked_add(-1);
		return;
	}
	/* sysmon or a stop-the-world took it: any idle P will do. */
	rlock_lock(&sched.lock);
	struct p *idle = NULL;
	if (!atomic_load_explicit(&sched.stw_waiting, RELAXED) &&
	    !atomic_load_explicit(&sched.exiting, RELAXED))
		idle = pidle_get();
	rlock_unlock(&sched.lock);
	atomic_store_explicit(&g->status, G_RUNNING, RELAXED);
	if (idle) {
		p_acquire(m, idle);
	} else {
		/* No P: queue the goroutine, let this M look for work.  It
		 * resumes holding a P (unless the program exits first). */
		sched_requeue_without_p();
		m = m_current();
	}
	deadlock_blocked_add(-1);
	*m->errno_loc = saved_errno;
}

void sched_blocking_enter(void)
{
	struct m *m = m_current();
	if (m->syscall_p) {
		m->blocking_depth++;  /* nested: the P is lent out already */
		return;
	}
	region_enter(m);
	m->blocking_depth = 1;
}

void sched_blocking_exit(void)
{
	struct m *m = m_current();
	if (!m->syscall_p)
		return;  /* no matching enter */
	if (--m->blocking_depth > 0)
		return;  /* an outer region goes on */
	region_exit(m);
}

void goro_blocking_enter(void)
{
	RT_REQUIRE_G_NO_P();
	sched_blocking_enter();
}

void goro_blocking_exit(void)
{
	RT_REQUIRE_G_NO_P();
	sched_blocking_exit();
}

/*
 * A runtime call inside a blocking region (goro_yield, goro_sleep, a
 * channel operation ... between goro_blocking_enter and _exit).  Go allows
 * the equivalent, a callback into Go from a cgo call: it leaves the system
 * call state for the callback (exitsyscall) and enters it again when the
 * callback returns (entersyscall).  RT_REQUIRE_G (src/runtime.h) does the
 * same for every public entry point of a goroutine whose M holds no P: it
 * calls this, which takes a P back as goro_blocking_exit does, runs the
 * call with it, and its scope guard calls blocking_callback_leave on the
 * way out, which lends the P out again.  The call may park, or continue on
 * another M; the region's nesting depth travels with the guard, so the
 * rest of the region, however nested, runs without a P as before.
 */
int blocking_callback_begin(const char *call)
{
	struct m *m = m_current();
	if (!m->syscall_p) {
		/* A goroutine on an M with no P outside any region: never
		 * expected; fail the call rather than run it without a P. */
		fprintf(stderr, "goro: %s() called by goroutine %lld on a thread "
				"that holds no P, outside a blocking region\n",
			call, (long long)m->curg->id);
		return -1;
	}
	int depth = m->blocking_depth;
	m->blocking_depth = 0;
	region_exit(m);
	return depth;
}

void blocking_callback_leave(int depth)
{
	struct m *m = m_current();
	if (m->syscall_p) {
		/* The call left a region of its own open: ours nests in it. */
		m->blocking_depth += depth;
		return;
	}
	region_enter(m);
	m->blocking_depth = depth;
}

