/* SPDX-License-Identifier: MIT */
/*
 * sched.c — the goroutine scheduler.
 *
 * The design is Go's (runtime/proc.go), rebuilt for C:
 *
 * An M must hold a P to run goroutines.  Each P has a local run queue
 * (src/sched/runq.c) that only it adds to; a global queue catches overflow,
 * preempted goroutines and goroutines readied from threads without a P.  A
 * goroutine readied by the running one goes to `runnext` and runs next,
 * inheriting the time slice: a producer/consumer pair ping-pongs on one P
 * without touching any other P's cache lines.
 *
 * Switching.  A goroutine giving up the CPU picks its successor itself and
 * switches straight to it (one arch_switch, no trip through a scheduler
 * stack).  What must happen to the goroutine that left — put it on a run
 * queue, release the lock it parked under, free it — cannot happen before
 * its registers are saved, or another M could resume a half-saved
 * goroutine.  So it is recorded in the M (prev_g/prev_action) and done by
 * whoever runs next on this M, right after the switch (sched_finish_switch).
 * Only when there is nothing to run locally does the M switch to its own
 * stack (g0) to look for work: steal, poll, then sleep.
 *
 * Spinning.  An M that looks for work without finding it "spins" for a
 * while before sleeping, stealing half of a random victim's queue.  At most
 * half of the busy Ps' worth of Ms spin, so idle CPUs are not burned, and
 * whenever work is readied while no M spins and a P is idle, one M is woken
 * to spin (sched_wakep).  The last spinner to find work wakes a
 * replacement: work appearing in bursts is spread over every P quickly.
 *
 * Nothing here enters the kernel on the hot paths (spawn, switch, ready):
 * the kernel is entered only to park an idle M on its futex or wake one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probes.h"
#include "alloc.h"
#include "clock.h"
#include "config.h"
#include "deadlock.h"
#include "exit_kill.h"
#include "goroutine.h"
#include "m.h"
#include "netpoll.h"
#include "preempt.h"
#include "procs.h"
#include "sysmon.h"
#include "runq.h"
#include "sanitizer.h"
#include "scheduler.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

#define STEAL_PASSES 4

__thread struct m *tls_m __attribute__((tls_model("initial-exec")));
struct sched sched;

void sched_reset(void)
{
	sched.runq_head = sched.runq_tail = NULL;
	atomic_store_explicit(&sched.runq_size, 0, RELAXED);
	atomic_store_explicit(&sched.runq_used_slice, 0, RELAXED);
	sched.pidle = NULL;
	atomic_store_explicit(&sched.npidle, 0, RELAXED);
	sched.midle = NULL;
	sched.nmidle = 0;
	atomic_store_explicit(&sched.nmspinning, 0, RELAXED);
	atomic_store_explicit(&sched.stw_waiting, false, RELAXED);
	atomic_store_explicit(&sched.nblocked, 0, RELAXED);
	atomic_store_explicit(&sched.threads_parked, 0, RELAXED);
	atomic_store_explicit(&sched.goid_next, 1, RELAXED);
}

/* What the previous goroutine of this M still needs done (see top). */
enum prev_action {
	PREV_NONE,
	PREV_YIELD,     /* to the tail of this P's queue */
	PREV_PREEMPT,   /* to the global queue */
	PREV_PARK,      /* waiting; run the unlock callback */
	PREV_EXIT,      /* dead: recycle the stack and the G */
	PREV_ABANDON,   /* program exiting: leave it where it is */
};

uint32_t sched_rand(void)
{
	/* A thread goro did not create (goro_select from a plain pthread)
	 * has no M: it keeps a state of its own. */
	static __thread uint64_t foreign_state;
	struct m *m = m_current();
	uint64_t *state = m ? &m->rand_state : &foreign_state;
	/* wyrand: fast, good enough for victim order and select. */
	*state += 0xa0761d6478bd642fULL;
	__uint128_t t = (__uint128_t)*state * (*state ^ 0xe7037ed1a0b428dbULL);
	return (uint32_t)((t >> 64) ^ t);
}

/* ---- the switch and what follows it ------------------------------------ */

static void sched_finish_switch(struct m *m)
{
	struct g *prev = m->prev_g;
	if (!prev)
		return;
	m->prev_g = NULL;
	switch (m->prev_action) {
	case PREV_YIELD:
		atomic_store_explicit(&prev->status, G_RUNNABLE, RELEASE);
		runq_put(m->p, prev, false);
		break;
	case PREV_PREEMPT:
		atomic_store_explicit(&prev->status, G_RUNNABLE, RELEASE);
		if (m->p)
			m->p->last_preempted = prev;
		rlock_lock(&sched.lock);
		global_runq_put(prev);
		rlock_unlock(&sched.lock);
		break;
	case PREV_PARK:
		atomic_store_explicit(&prev->status, G_WAITING, RELEASE);
		if (m->prev_unlock)
			m->prev_unlock(m->prev_unlock_arg);
		break;
	case PREV_EXIT:
		g_recycle(m->p, prev);
		break;
	case PREV_ABANDON:
		atomic_store_explicit(&prev->status, G_RUNNABLE, RELEASE);
		break;
	}
	m->prev_unlock = NULL;
}

/* Switch from `from` (NULL: this M's g0) to `to` (NULL: g0).  Returns when
 * `from` is resumed, possibly on another M. */
static void switch_to(struct m *m, struct g *from, struct g *to)
{
	struct arch_ctx *from_ctx = from ? &from->ctx : &m->g0_ctx;
	struct arch_ctx *to_ctx = to ? &to->ctx : &m->g0_ctx;
	if (from)
		from->saved_errno = *m->errno_loc;
	atomic_store_explicit(&m->curg, to, RELAXED);
	sanitizer_switch_begin(m, from, to,
			       m->prev_g == from && m->prev_action == PREV_EXIT);
	arch_switch(from_ctx, to_ctx);
	/* Resumed: `m` is stale if we moved to another thread. */
	m = m_current();
	sanitizer_switch_end(m);
	sched_finish_switch(m);
	if (from)
		*m->errno_loc = from->saved_errno;
}

/* Run `next` on m, switching from `from` (NULL: g0).  A goroutine that has
 * never run gets its stack now. */
static void execute(struct m *m, struct g *from, struct g *next, bool inherit)
{
	struct p *p = m->p;
	if (__builtin_expect(next->locked_m != NULL && next->locked_m != m, 0)) {
		/* Only g0 may give our P away and park: go there. */
		m->handoff_g = next;
		switch_to(m, from, NULL);
		return;
	}
	if (!inherit) {
		/* Only this M writes it: a load and a store, no RMW. */
		uint32_t tick = atomic_load_explicit(&p->schedtick, RELAXED);
		atomic_store_explicit(&p->schedtick, tick + 1, RELAXED);
	}
	if (__builtin_expect(next->stack.lo == NULL, 0)) {
		int err = stack_bind(&p->stack_cache, &next->stack,
				     next->stack_max);
		if (err)
			rt_fatal("cannot allocate a stack for goroutine %lld: %s",
				 (long long)next->id, strerror(-err));
		arch_ctx_init(&next->ctx, next->stack.hi, next->fn, next->arg);
		GORO_PROBE1(goroutine_start, next->id);
	}
	atomic_store_explicit(&next->status, G_RUNNING, RELAXED);
	next->async_preempted = false;
	/* A request that found it parked (sysmon's flag for the slice it
	 * was running when it parked) is stale: it must not yield at once. */
	atomic_store_explicit(&next->preempt, false, RELAXED);
	switch_to(m, from, next);
}

/* ---- finding work --------------------------------------------------------- */

static struct g *global_runq_take(struct p *p, int32_t max)
{
	if (atomic_load_explicit(&sched.runq_size, RELAXED) == 0)
		return NULL;
	rlock_lock(&sched.lock);
	struct g *g = global_runq_get(p, max);
	rlock_unlock(&sched.lock);
	return g;
}

/*
 * The fairness check's take: one goroutine from the global queue, unless
 * the one at its head is the goroutine this P has just preempted.  That
 * one has had its slice; taking it back would skip whatever the local
 * queue holds — such as the goroutine whose timer the preemption was for —
 * for another whole quantum (a 1 ms sleeper beside a hog woke 2 quanta
 * late once every 61 slices).  The check then waits for the next round, and only one round.
 */
static struct g *global_runq_take_fair(struct p *p)
{
	if (atomic_load_explicit(&sched.runq_size, RELAXED) == 0)
		return NULL;
	rlock_lock(&sched.lock);
	struct g *g = NULL;
	if (global_runq_peek() != p->last_preempted || runq_empty(p))
		g = global_runq_get(p, 1);
	else
		/* Skipped once, never twice: goroutines yielding to each
		 * other would otherwise keep it waiting for good. */
		p->last_preempted = NULL;
	rlock_unlock(&sched.lock);
	return g;
}

/* The cheap part of finding work, safe on a goroutine's stack: this P's
 * timers, runnext, local queue, global queue.  Timers must not run while a
 * parking goroutine's unlock is still pending (a callback could need that
 * very lock), hence run_timers. */
static struct g *find_local(struct m *m, bool *inherit, bool run_timers)
{
	struct p *p = m->p;
	struct g *g;
	*inherit = false;
	if (run_timers)
		timers_check(p);
	/* Every 61st schedule, look at the global queue first, so that two
	 * goroutines ping-ponging through runnext cannot starve it. */
	uint32_t tick = atomic_load_explicit(&p->schedtick, RELAXED);
	if (tick % GLOBAL_RUNQ_EVERY == 0 && (g = global_runq_take_fair(p)))
		return g;
	if ((g = runq_get(p, inherit)))
		return g;
	return global_runq_take(p, 0);
}

static bool must_leave_p(void)
{
	struct p *p = m_current()->p;
	return (p && p->spare.is_spare) ||
	       atomic_load_explicit(&sched.stw_waiting, RELAXED) ||
	       atomic_load_explicit(&sched.exiting, RELAXED);
}

static void spinning_stop(struct m *m)
{
	m->spinning = false;
	/* The last spinner found work: more may be coming, so keep one M
	 * looking (Go's resetspinning). */
	if (atomic_fetch_sub_explicit(&sched.nmspinning, 1, RELAXED) == 1)
		sched_wakep();
}

/* Steal from other Ps, in random order, STEAL_PASSES times over; the last
 * pass takes runnext too. */
static struct g *steal_work(struct m *m)
{
	struct p *p = m->p;
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int pass = 0; pass < STEAL_PASSES; pass++) {
		bool last = pass == STEAL_PASSES - 1;
		uint32_t start = sched_rand();
		/* A stride coprime with n visits every P once. */
		uint32_t stride = procs_coprime(n, sched_rand());
		for (int32_t i = 0; i < n; i++) {
			if (must_leave_p())
				return NULL;
			struct p *victim = sched.allp[(start + (uint32_t)i * stride) % (uint32_t)n];
			if (victim == p)
				continue;
			struct g *g = runq_steal(p, victim, last);
			if (g)
				return g;
		}
	}
	return NULL;
}

/* Any local run queue non-empty?  Returns such a P's index or -1. */
static bool any_runq_nonempty(void)
{
	/* The global queue too: a thread with no P (a foreign thread, a
	 * resolver's waker) readies goroutines there, and it skips waking
	 * anyone while it sees a spinner (sched_wakep). */
	if (atomic_load_explicit(&sched.runq_size, RELAXED))
		return true;
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++) {
		struct p *p = sched.allp[i];
		if (p && !runq_empty(p))
			return true;
	}
	return false;
}

/* Give up m's P for stop-the-world, then wait to be handed one again. */
static void stop_for_world(struct m *m)
{
	if (m->spinning) {
		m->spinning = false;
		atomic_fetch_sub_explicit(&sched.nmspinning, 1, RELAXED);
	}
	rlock_lock(&sched.lock);
	if (m->p && atomic_load_explicit(&sched.stw_waiting, RELAXED))
		p_stop_for_world(p_release(m, true));
	rlock_unlock(&sched.lock);
	if (!m->p)
		m_stop(m, -1);
}

/* Goroutines the poller readied, linked through schedlink: as many as
 * there are idle Ps go to the global queue with an M started for each, the
 * rest to m's own P (Go's injectglist). */
static void netpoll_inject(struct m *m, struct g *list, int32_t n)
{
	int32_t spread = atomic_load_explicit(&sched.npidle, RELAXED);
	if (spread > n)
		spread = n;
	struct g *global = NULL;
	for (int32_t i = 0; i < spread; i++) {
		struct g *g = list;
		list = g->schedlink;
		g->schedlink = global;
		global = g;
	}
	sched_ready_list(global, spread);
	while (list) {
		struct g *g = list;
		list = g->schedlink;
		g->schedlink = NULL;
		atomic_store_explicit(&g->status, G_RUNNABLE, RELEASE);
		runq_put(m->p, g, false);
	}
}

/*
 * Find a goroutine to run, on g0, holding a P.  Blocks (parking the M)
 * until one is found.  Returns NULL when the program is exiting.
 */
static struct g *find_runnable(struct m *m, bool *inherit)
{
	struct g *g;
top:
	*inherit = false;
	if (atomic_load_explicit(&sched.exiting, RELAXED))
		return NULL;
	if (!m->p) {
		/* Woken by a timeout with no P handed over: grab an idle one. */
		rlock_lock(&sched.lock);
		struct p *p = must_leave_p() ? NULL : pidle_get();
		rlock_unlock(&sched.lock);
		if (!p) {
			/* Every P is held by an M that will run its timers. */
			m_stop(m, -1);
			goto top;
		}
		p_acquire(m, p);
	}
	if (m->p->spare.is_spare) {
		/* sysmon lent this M a spare P while it slept in the kernel. */
		p_spare_release(m);
		goto top;
	}
	if (atomic_load_explicit(&sched.stw_waiting, RELAXED)) {
		stop_for_world(m);
		goto top;
	}
	struct p *p = m->p;
	if ((g = find_local(m, inherit, true)))
		goto found;
	/* Timers of Ps whose Ms are idle or busy in a long computation. */
	timers_check_all();
	if ((g = runq_get(p, inherit)))
		goto found;
	/* Goroutines whose descriptors are ready, unless an M is blocked in
	 * the poller already (it will hand them out). */
	if (netpoll_should_poll()) {
		struct g *list;
		int32_t n = netpoll(0, &list);
		if (n) {
			g = list;
			netpoll_inject(m, g->schedlink, n - 1);
			g->schedlink = NULL;
			atomic_store_explicit(&g->status, G_RUNNABLE, RELAXED);
			netpoll_delivered(n);  /* we hold a P, running g */
			goto found;
		}
	}

	int32_t procs = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	int32_t busy = procs - atomic_load_explicit(&sched.npidle, RELAXED);
	if (m->spinning ||
	    2 * atomic_load_explicit(&sched.nmspinning, RELAXED) < busy) {
		if (!m->spinning) {
			m->spinning = true;
			atomic_fetch_add_explicit(&sched.nmspinning, 1, RELAXED);
		}
		if ((g = steal_work(m)))
			goto found;
		if (must_leave_p())
			goto top;
	}

	/* Nothing anywhere.  Give the P back, under the lock so that nobody
	 * can add to the global queue between our look and the release. */
	rlock_lock(&sched.lock);
	if (must_leave_p()) {
		rlock_unlock(&sched.lock);
		goto top;
	}
	if (atomic_load_explicit(&sched.runq_size, RELAXED)) {
		g = global_runq_get(p, 0);
		rlock_unlock(&sched.lock);
		goto found;
	}
	p = p_release(m, true);
	pidle_put(p);
	rlock_unlock(&sched.lock);

	/* A spinner that stops must look once more: work readied while it
	 * spun might have skipped waking anyone because it was spinning. */
	if (m->spinning) {
		m->spinning = false;
		/* Drop nmspinning, then look (a full barrier between): whoever
		 * readied work after our look saw us spinning and woke nobody.
		 * sched_ready_global's fence is the other half. */
		atomic_fetch_sub_explicit(&sched.nmspinning, 1, memory_order_seq_cst);
		if (any_runq_nonempty() || timers_any_expired()) {
			rlock_lock(&sched.lock);
			struct p *again = pidle_get();
			rlock_unlock(&sched.lock);
			if (again) {
				p_acquire(m, again);
				m->spinning = true;
				atomic_fetch_add_explicit(&sched.nmspinning, 1,
							  RELAXED);
				goto top;
			}
		}
	}
	/* Goroutines wait on the network and no M is blocked in the poller:
	 * this one blocks there, until the next timer at most. */
	if (netpoll_should_poll()) {
		int64_t delay = timers_next_deadline_rel();
		if (netpoll_block_begin(delay)) {
			struct g *list;
			int32_t n = netpoll(delay, &list);
			netpoll_block_end();
			rlock_lock(&sched.lock);
			struct p *again = must_leave_p() ? NULL : pidle_get();
			rlock_unlock(&sched.lock);
			if (!again) {
				sched_ready_list(list, n);
				netpoll_delivered(n);
				goto top;
			}
			p_acquire(m, again);
			if (!n)
				goto top;
			g = list;
			netpoll_inject(m, g->schedlink, n - 1);
			g->schedlink = NULL;
			atomic_store_explicit(&g->status, G_RUNNABLE, RELAXED);
			netpoll_delivered(n);  /* we hold a P, running g */
			goto found;
		}
	}
	/* About to sleep with no timer to wake us: if this was the last
	 * busy P, maybe nothing can ever run again. */
	int64_t deadline = timers_next_deadline_rel();
	if (deadline < 0)
		deadlock_check();
	m_stop(m, deadline);
	goto top;

found:
	if (m->spinning)
		spinning_stop(m);
	return g;
}

/* ---- goroutines wired to a thread (goro_lock_thread) ------------------------
 *
 * A locked goroutine runs only on its M, and that M runs nothing else.
 * When the goroutine leaves the CPU, its M gives its P away and sleeps
 * (stop_locked_m); when any other M picks the goroutine from a run queue,
 * it hands its own P to the locked M, wakes it, and parks itself
 * (start_locked_m).  Go's LockOSThread works the same way.
 */

/* m gives its P away: to another M if there is work or a timer to watch
 * (true), else to the idle list. */
static bool handoff_p(struct m *m)
{
	return p_handoff(p_release(m, false));
}

/*
 * Direct hand-offs of KLT-switching.  A goroutine parked with its thread can
 * only run on that thread, so an M that picks it from a queue merely
 * passes its P on (start_locked_m).  When the goroutine a P would run next
 * is such a one (first in the global queue, nothing local, no timer due),
 * the P goes straight to its thread: one thread wake-up per preemption,
 * where an idle M would cost two.
 */
static bool parked_and_sleeping(const struct g *g, const void *arg)
{
	(void)arg;
	return g->thread_parked && g->locked_m && g->locked_m->locked_sleeping;
}

struct m *sched_give_p_to_parked(struct p *p, bool only_first)
{
	struct g *head = global_runq_peek();
	if (!head || (only_first && !parked_and_sleeping(head, NULL)))
		return NULL;
	struct g *g = global_runq_take_first(parked_and_sleeping, NULL);
	if (!g)
		return NULL;
	struct m *owner = g->locked_m;
	owner->locked_sleeping = false;
	owner->nextp = p;
	return owner;
}

static bool is_goroutine(const struct g *g, const void *want)
{
	return g == want;
}

bool sched_take_back_parked(struct g *g)
{
	return global_runq_take_first(is_goroutine, g) != NULL;
}

bool sched_threads_over_budget(void)
{
	int32_t budget = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	if (budget < PARKED_THREADS_MIN)
		budget = PARKED_THREADS_MIN;
	return atomic_load_explicit(&sched.threads_parked, RELAXED) >= budget;
}

/*
 * Over the thread budget the P goes to the earliest goroutine parked
 * with its thread even when p's own queue holds work: each thread that
 * parks then lets one go, where otherwise the goroutines queued on p
 * started one after another, each stopped in its first slice inside
 * libc, and their threads piled up (check_posix_curl under load: the
 * count of parked threads climbed one by one to 7-9, 13-16 threads in
 * all).  Not two slices running (budget_handoff_tick): goroutines that
 * keep being stopped inside libc would otherwise pass the P among
 * themselves while p's queue starved.  Nor ahead of a goroutine readied
 * to run next, or of a timer due.
 */
static bool over_budget_handoff(struct p *p)
{
	uint32_t tick = atomic_load_explicit(&p->schedtick, RELAXED);
	return tick - p->budget_handoff_tick > 1 &&
	       !atomic_load_explicit(&p->runnext, RELAXED) &&
	       sched_threads_over_budget();
}

static bool handoff_p_to_parked(struct m *m)
{
	struct p *p = m->p;
	if (timers_due(p))
		return false;
	bool over = over_budget_handoff(p);
	if (!over && !runq_empty(p))
		return false;
	rlock_lock(&sched.lock);
	struct m *owner = NULL;
	if (!atomic_load_explicit(&sched.stw_waiting, RELAXED) &&
	    !atomic_load_explicit(&sched.exiting, RELAXED) &&
	    (owner = sched_give_p_to_parked(p, !over))) {
		if (over)
			p->budget_handoff_tick =
				atomic_load_explicit(&p->schedtick, RELAXED);
		owner->nextp = p_release(m, true);  /* p, unless a swap raced */
	}
	rlock_unlock(&sched.lock);
	if (!owner)
		return false;
	m_wake_handed(owner, &owner->locked_park);
	return true;
}

/* m's locked goroutine left the CPU: sleep until it is runnable and handed
 * back with a P.  NULL when the program is exiting. */
static struct g *stop_locked_m(struct m *m)
{
	/* It may hold a spare P (sysmon took its own while it slept in the
	 * kernel) or none (it came back from a blocking call to find its P
	 * taken): only a real P is handed on.  A thread parked with its
	 * preempted goroutine may hold any lock of the code it was stopped
	 * in: it creates no thread itself. */
	bool parked = m->locked_g->thread_parked;
	if (m->p && m->p->spare.is_spare)
		p_spare_release(m);
	if (m->p) {
		m_sleeps_after_handoff(true);
		if (parked && handoff_p_to_parked(m)) {
			preempt_count_handoff();
		} else {
			m_defer_creation(parked);
			if (handoff_p(m) && parked)
				preempt_count_handoff();
			m_defer_creation(false);
		}
		m_sleeps_after_handoff(false);
	}
	m_stop_locked(m);
	if (!m->p)
		return NULL;
	return m->locked_g;
}

/* g is locked to another M: give it our P and park. */
static void start_locked_m(struct m *m, struct g *g)
{
	struct m *owner = g->locked_m;
	struct p *p = p_release(m, false);
	m_sleeps_after_handoff(true);
	m_wake_locked(owner, p);
	m_sleeps_after_handoff(false);
	m_stop(m, -1);
}

/* The g0 loop of every M. */
void sched_m_loop(struct m *m)
{
	struct g *g = NULL;
	bool inherit = false;
	for (;;) {
		if (!g && !(g = find_runnable(m, &inherit)))
			break;
		if (g->locked_m && g->locked_m != m) {
			start_locked_m(m, g);
			g = NULL;
			continue;
		}
		execute(m, NULL, g, inherit);
		g = NULL;
		inherit = false;
		if (m->handoff_g) {
			/* A direct switch found a goroutine locked elsewhere. */
			g = m->handoff_g;
			m->handoff_g = NULL;
		} else if (m->locked_g &&
			   !atomic_load_explicit(&sched.exiting, RELAXED)) {
			g = stop_locked_m(m);
		}
	}
	if (m->p) {
		rlock_lock(&sched.lock);
		pidle_put(p_release(m, true));
		rlock_unlock(&sched.lock);
	}
}

/* At exit (see scheduler.h and src/signals/exit_kill.c).  An idle P is
 * taken for the goroutine's runtime calls; Ms leaving give theirs back,
 * so one comes unless the drain's time runs out first. */
bool sched_exit_drain(struct m *m, bool wait)
{
	struct g *g = m->locked_g;
	if (!g || !g->thread_parked)
		return true;
	struct p *p;
	for (;;) {
		rlock_lock(&sched.lock);
		p = pidle_get();
		rlock_unlock(&sched.lock);
		if (p)
			break;
		if (!wait)
			return false;
		if (rt_now() >= atomic_load_explicit(&sched.exit_drain_until,
						     RELAXED))
			return true;  /* left there: the threads stay frozen */
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL);
	}
	p_acquire(m, p);
	/* Nobody is left to ask M0's goroutine to stop: a timer does.  (No
	 * timer: it is left where it is, and the threads stay frozen.) */
	if (!m->is_m0 || exit_drain_begin(m)) {
		atomic_store_explicit(&g->preempt, false, RELAXED);
		execute(m, NULL, g, false);
		if (m->is_m0)
			exit_drain_end();
	}
	rlock_lock(&sched.lock);
	pidle_put(p_release(m, true));
	rlock_unlock(&sched.lock);
	return true;
}

/* ---- giving up the CPU ----------------------------------------------------- */

/* The calling goroutine leaves the CPU; `action` says what becomes of it.
 * Returns when it is resumed (never for PREV_EXIT). */
static void schedule(enum prev_action action)
{
	struct m *m = m_current();
	struct g *self = m->curg;
	m->prev_g = self;
	m->prev_action = action;
	/* Due timers are run from g0, after this goroutine's unlock.  A
	 * locked M runs nothing but its goroutine: it goes to g0 to sleep. */
	if (!must_leave_p() && !timers_due(m->p) && !m->locked_g) {
		bool inherit;
		struct g *next = find_local(m, &inherit, false);
		if (next) {
			execute(m, self, next, inherit);
			return;
		}
	}
	if (atomic_load_explicit(&sched.exiting, RELAXED) &&
	    action != PREV_EXIT && action != PREV_PARK)
		m->prev_action = PREV_ABANDON;
	switch_to(m, self, NULL);
}

/* When a wait began, for dumps that show waits from one minute on: the
 * kernel's tick-granular clock (same timeline as goro_now, a few ms behind)
 * is several times cheaper than a precise read, which would be a sizeable
 * part of an unbuffered channel round trip (it parks twice). */
static int64_t wait_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A goroutine whose thread holds a pthread lock keeps that thread across a
 * park or a yield: the lock's owner is the thread (a recursive mutex
 * relocked, an error-checking one unlocked, a write-held rwlock released
 * from another thread fail or hang), and libgoro-posix makes waits out of
 * libc calls that an unmodified library makes with its locks held
 * (sqlite's connection mutex across its file reads and its busy-wait
 * sleeps).  libgoro-posix counts the locks (posix/lock.c) and says so
 * through lock_probe; the goroutine is then wired to its thread as
 * goro_lock_thread wires it, until it runs again: its M hands the P on
 * and sleeps, and whichever M picks the goroutine wakes this one.  Without
 * libgoro-posix nothing is counted: a goroutine parks only in runtime
 * calls, across which it may hold nothing tied to its thread.
 */
static int (*_Atomic lock_probe)(void);

void sched_set_lock_probe(int (*held)(void))
{
	atomic_store_explicit(&lock_probe, held, RELEASE);
}

/* Wire g to m, as goro_lock_thread does, unless it is wired already;
 * true if it did (keep_thread_end undoes it). */
static bool wire_to_thread(struct m *m, struct g *g)
{
	if (m->locked_g == g)
		return false;
	g->locked_m = m;
	m->locked_g = g;
	return true;
}

/* Wire g to m if its thread holds a lock; true if it did. */
static bool keep_thread_begin(struct m *m, struct g *g)
{
	int (*held)(void) = atomic_load_explicit(&lock_probe, ACQUIRE);
	/* At exit goroutines are left where they stop (src/main.c). */
	if (!held || atomic_load_explicit(&sched.exiting, RELAXED) || !held())
		return false;
	return wire_to_thread(m, g);
}

/* Undo wire_to_thread (or keep_thread_begin) if it wired g. */
static void keep_thread_end(struct g *g, bool wired)
{
	if (!wired)
		return;
	struct m *m = m_current();  /* the same M: it was wired */
	g->locked_m = NULL;
	m->locked_g = NULL;
}

void sched_park(enum wait_reason reason, void (*unlock)(void *), void *arg)
{
	struct m *m = m_current();
	struct g *g = m->curg;
	bool wired = keep_thread_begin(m, g);
	g->wait_reason = (uint8_t)reason;
	g->wait_since = wait_clock();
	GORO_PROBE3(goroutine_park, g->id, (int)reason, wait_reason_name(reason));
	m->prev_unlock = unlock;
	m->prev_unlock_arg = arg;
	schedule(PREV_PARK);
	g->wait_reason = WAIT_NONE;
	keep_thread_end(g, wired);
}

void sched_ready(struct g *g, bool next)
{
	struct m *m = m_current();
	GORO_PROBE1(goroutine_ready, g->id);
	atomic_store_explicit(&g->status, G_RUNNABLE, RELEASE);
	if (!m || !m->p) {
		sched_ready_global(g);
		return;
	}
	runq_put(m->p, g, next);
	sched_wakep();
}

void sched_ready_global(struct g *g)
{
	atomic_store_explicit(&g->status, G_RUNNABLE, RELEASE);
	rlock_lock(&sched.lock);
	global_runq_put(g);
	rlock_unlock(&sched.lock);
	/* The queue's new length before our look at nmspinning: a spinner
	 * giving up looks at the queue after dropping nmspinning (see
	 * find_runnable), so one of us sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	sched_wakep();
}

void sched_ready_list(struct g *head, int32_t n)
{
	if (!head)
		return;
	struct g *tail = head;
	for (struct g *g = head; g; g = g->schedlink) {
		atomic_store_explicit(&g->status, G_RUNNABLE, RELEASE);
		tail = g;
	}
	rlock_lock(&sched.lock);
	global_runq_put_batch(head, tail, n);
	rlock_unlock(&sched.lock);
	for (int32_t i = 0; i < n &&
			    atomic_load_explicit(&sched.npidle, RELAXED) > 0; i++)
		m_start(NULL, false);
}

void sched_gosched(void)
{
	struct m *m = m_current();
	struct g *g = m->curg;
	atomic_store_explicit(&g->preempt, false, RELAXED);
	bool wired = keep_thread_begin(m, g);
	if (must_leave_p()) {
		schedule(PREV_PREEMPT);
		keep_thread_end(g, wired);
		return;
	}
	if (m->locked_g) {
		schedule(PREV_YIELD);
		keep_thread_end(g, wired);
		return;
	}
	bool inherit;
	struct g *next = find_local(m, &inherit, true);
	if (!next)
		return;  /* nothing else to run here: keep going */
	m->prev_g = m->curg;
	m->prev_action = PREV_YIELD;
	execute(m, m->curg, next, false);
}

void sched_requeue_without_p(void)
{
	struct m *m = m_current();
	m->prev_g = m->curg;
	m->prev_action = PREV_PREEMPT;
	switch_to(m, m->curg, NULL);
}

void sched_preempt_self(bool async)
{
	struct m *m = m_current();
	struct g *g = m->curg;
	/* At a runtime call (not async: the trampoline moves only
	 * thread-agnostic code, or comes through sched_preempt_klt wired). */
	bool wired = !async && keep_thread_begin(m, g);
	atomic_store_explicit(&g->preempt, false, RELAXED);
	g->async_preempted = async;
	g->used_slice = true;
	atomic_store_explicit(&g->ever_preempted, true, RELAXED);
	schedule(PREV_PREEMPT);
	keep_thread_end(g, wired);
}

/*
 * KLT-switching: the goroutine, stopped at an arbitrary instruction, is
 * wired to this thread as goro_lock_thread would wire it, and preempted.
 * Being wired, it goes to the global queue while this M hands its P on and
 * sleeps (stop_locked_m); whichever M picks it from the queue hands its own
 * P over and wakes this thread (start_locked_m).  It therefore resumes on
 * its own thread, and nothing else runs on that thread meanwhile.  The
 * wiring ends as it resumes, unless the goroutine had wired itself.
 */
void sched_preempt_klt(void)
{
	struct m *m = m_current();
	struct g *g = m->curg;
	bool wired = wire_to_thread(m, g);
	g->thread_parked = true;
	atomic_fetch_add_explicit(&sched.threads_parked, 1, RELAXED);
	sched_preempt_self(true);
	atomic_fetch_sub_explicit(&sched.threads_parked, 1, RELAXED);
	g->thread_parked = false;
	keep_thread_end(g, wired);
}

/* ---- goro_lock_thread ------------------------------------------------------- */

void goro_lock_thread(void)
{
	RT_REQUIRE_G();
	struct m *m = m_current();
	struct g *g = m->curg;
	g->locked_m = m;
	m->locked_g = g;
	g->lock_thread_depth++;
}

void goro_unlock_thread(void)
{
	RT_REQUIRE_G();
	struct m *m = m_current();
	struct g *g = m->curg;
	if (g->lock_thread_depth == 0)
		return;  /* as Go: unlocking an unlocked goroutine is a no-op */
	if (--g->lock_thread_depth == 0) {
		g->locked_m = NULL;
		m->locked_g = NULL;
		/* Whatever it did to the thread's signal mask ends here. */
		m_restore_sigmask();
	}
}

/* ---- waking Ms ------------------------------------------------------------ */

void sched_wakep(void)
{
	if (atomic_load_explicit(&sched.npidle, RELAXED) == 0)
		return;
	int32_t zero = 0;
	if (atomic_load_explicit(&sched.nmspinning, RELAXED) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&sched.nmspinning, &zero, 1,
						     RELAXED, RELAXED))
		return;
	m_start(NULL, true);
}

void sched_deadline_armed(int64_t when)
{
	/* Idle Ms sleep until the earliest deadline they knew of (in the
	 * poller or parked); this one may be earlier. */
	m_poke_idle_for_deadline(when);
	/* sysmon may be backed off well past it, blind to the hog that could
	 * keep the readied goroutine from its P. */
	sysmon_timer_armed(when);
}

/* ---- the life of a goroutine ------------------------------------------------ */

void sched_goroutine_started(void)
{
	struct m *m = m_current();
	sanitizer_switch_end(m);
	sched_finish_switch(m);
	*m->errno_loc = 0;
}

_Noreturn void sched_goroutine_exit(void)
{
	struct m *m = m_current();
	struct g *g = m->curg;
	g_mark_dead(g);
	if (m->locked_g == g) {
		/* Exiting while locked releases the thread (Go would end it),
		 * with the M's own signal mask. */
		m->locked_g = NULL;
		g->locked_m = NULL;
		g->lock_thread_depth = 0;
		m_restore_sigmask();
	}
	schedule(PREV_EXIT);
	__builtin_unreachable();
}

_Noreturn void sched_goroutine_returned(void)
{
	sched_goroutine_exit();
}

SCHED_HIDDEN_FRAMES(HIDDEN_FRAME_IS_FUNCTION)
