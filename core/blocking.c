/* SPDX-License-Identifier: MIT */
/*
 * blocking.c — goro_blocking_enter/exit: a goroutine about to make a call
 * that may block in the kernel lends its P out (Go's entersyscall and
 * exitsyscall, runtime/proc.go).
 *
 * Entering costs no system call and no lock: the P is only marked
 * P_SYSCALL and the M forgets it.  If the call returns quickly the
 * goroutine takes the same P back with one compare-and-swap.  If it takes
 * longer, sysmon (core/sysmon.c) moves the P from P_SYSCALL to idle and
 * hands it to another M (p_handoff), so the goroutines queued on it run
 * meanwhile.  On return the goroutine then needs another P: an idle one,
 * or else it goes to the global run queue and its M goes idle.
 */
#include <errno.h>

#include "blocking.h"
#include "deadlock.h"
#include "m.h"
#include "netpoll.h"
#include "runq.h"
#include "sched.h"
#include "timer.h"
#include <goro.h>

#define RELAXED memory_order_relaxed

void goro_blocking_enter(void)
{
	RT_REQUIRE_G();
	struct m *m = m_current();
	struct g *g = m->curg;
	struct p *p = m->p;
	if (m->syscall_p)
		return;  /* nested: the P is lent out already */
	/* Waiting on the outside world: not a deadlock (core/deadlock.c). */
	atomic_fetch_add_explicit(&sched.nblocked, 1, RELAXED);
	atomic_store_explicit(&g->status, G_SYSCALL, RELAXED);
	m->syscall_p = p;
	m->p = NULL;
	p->m = NULL;
	atomic_fetch_add_explicit(&p->syscalltick, 1, RELAXED);
	atomic_store_explicit(&p->status, P_SYSCALL, memory_order_release);
}

void goro_blocking_exit(void)
{
	RT_REQUIRE_G();
	struct m *m = m_current();
	struct p *p = m->syscall_p;
	if (!p)
		return;  /* no matching enter */
	int saved_errno = *m->errno_loc;  /* the call's result, for the caller */
	struct g *g = m->curg;
	m->syscall_p = NULL;
	atomic_fetch_sub_explicit(&sched.nblocked, 1, RELAXED);

	uint32_t status = P_SYSCALL;
	if (atomic_compare_exchange_strong_explicit(&p->status, &status,
						    P_RUNNING,
						    memory_order_acquire,
						    RELAXED)) {
		/* Fast path: nobody took it. */
		m->p = p;
		p->m = m;
		atomic_store_explicit(&g->status, G_RUNNING, RELAXED);
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
		/* No P: queue the goroutine, let this M look for work. */
		sched_requeue_without_p();
		m = m_current();
	}
	*m->errno_loc = saved_errno;
}

void p_handoff(struct p *p)
{
	rlock_lock(&sched.lock);
	if (atomic_load_explicit(&sched.stw_waiting, RELAXED)) {
		atomic_store_explicit(&p->status, P_STOPPED, RELAXED);
		if (--sched.stw_remaining == 0)
			note_wake(&sched.stw_note);
		rlock_unlock(&sched.lock);
		return;
	}
	/* An M is needed for queued goroutines, for timers (the M that
	 * finds nothing else sleeps until the next one) and for goroutines
	 * waiting on the network when no M is blocked in the poller. */
	bool work = !runq_empty(p) ||
		    atomic_load_explicit(&sched.runq_size, RELAXED) > 0 ||
		    timers_pending() > 0 || netpoll_should_poll();
	if (!work) {
		pidle_put(p);
		rlock_unlock(&sched.lock);
		/* Maybe the last busy P: nobody else would notice a deadlock. */
		deadlock_check();
		return;
	}
	rlock_unlock(&sched.lock);
	m_start(p, false);
}
