/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h — what the rest of the runtime uses of the scheduler: parking
 * and readying goroutines, yielding, and waking idle Ms.
 */
#ifndef GORO_SCHED_H
#define GORO_SCHED_H

#include "preempt.h"
#include "runtime.h"

/*
 * Park the calling goroutine (state G_WAITING, `reason` shown in dumps).
 * `unlock(arg)`, if given, runs after the goroutine's context is saved, on
 * the other side of the switch: a channel can keep its lock held until the
 * goroutine is safely off-CPU, so that a waker can never resume a goroutine
 * that has not finished switching away.  Returns when some goroutine calls
 * sched_ready() on it; g->param carries whatever the waker left there.
 */
void sched_park(enum wait_reason reason, void (*unlock)(void *), void *arg);

/* Make a parked goroutine runnable, into the current P's runnext (it runs
 * next and inherits the time slice) or its queue tail, and wake an idle P
 * if there is one.  Callable from a goroutine or from an M's g0 holding a
 * P.  From a thread without a P (sysmon, netpoll waking), use
 * sched_ready_global(). */
void sched_ready(struct g *g, bool next);
void sched_ready_global(struct g *g);
/* Batch of goroutines linked through schedlink: to the global queue, waking
 * as many idle Ps as there are goroutines. */
void sched_ready_list(struct g *head, int32_t n);

/* Gosched: the calling goroutine goes to the tail of the queue. */
void sched_gosched(void);
/* The preemption path: the goroutine goes to the global queue (as Go's
 * gopreempt_m) so it is not immediately picked up again by this P. */
void sched_preempt_self(bool async);
/* The asynchronous preemption of code that is not thread-agnostic: the
 * goroutine leaves the CPU and its thread parks with it; it resumes on
 * this same thread (KLT-switching, see sched.c). */
void sched_preempt_klt(void);
/* At exit, on an M leaving: run on the goroutine parked with this thread
 * inside library code, if any, until it stops where it holds no lock of
 * it (src/signals/exit_kill.c), and leave it there.  It needs an idle P:
 * with wait, it waits for one (until the drain's time is up); without,
 * it returns false at once if there is none, to be called again. */
bool sched_exit_drain(struct m *m, bool wait);

/* The calling goroutine's M holds no P (it lost it during a blocking
 * call): the goroutine goes to the global queue, the M looks for work. */
void sched_requeue_without_p(void);

/* How to ask whether the calling thread holds a pthread lock (registered
 * by libgoro-posix, which counts them; NULL: nobody counts).  While it
 * does, the goroutine keeps its thread wherever it parks or yields. */
void sched_set_lock_probe(int (*held)(void));

/* Cooperative preemption point: yields if the goroutine was asked to. */
static inline void sched_check_preempt(struct g *g)
{
	if (__builtin_expect(atomic_load_explicit(&g->preempt,
						  memory_order_relaxed), 0) &&
	    g->preempt_disable == 0)
		sched_preempt_self(false);
}

/* Was the goroutine g, running on m, asked to stop, and may it now
 * (holding its P, no runtime lock, preemption enabled)? */
static inline bool sched_preempt_pending(struct m *m, struct g *g)
{
	return __builtin_expect(atomic_load_explicit(&g->preempt,
						     memory_order_relaxed), 0) &&
	       g->preempt_disable == 0 && m->locks == 0 && m->p != NULL &&
	       atomic_load_explicit(&g->status, memory_order_relaxed) ==
		       G_RUNNING;
}

/* The preemption point of the cheap public calls (goro_now, goro_self,
 * goro_count): yields if the calling goroutine was asked to stop and may.
 * No-op outside a goroutine. */
static inline void sched_preempt_point(void)
{
	struct m *m = m_current();
	struct g *g = m ? m->curg : NULL;
	if (g && sched_preempt_pending(m, g))
		sched_preempt_self(false);
}

/*
 * The preemption point of an I/O call (goro_read and the rest of io.c's
 * calls, libgoro-posix's replaced calls): counts the call for sysmon
 * (g->io_calls; src/sysmon/sysmon.c gives a goroutine that makes such
 * calls a grace to reach the next one before it is stopped with its
 * thread) and yields if the goroutine was asked to stop.  A goroutine
 * that yields here resumes on whichever thread runs it next, as after
 * any call that parks.
 */
static inline void sched_io_point(void)
{
	struct m *m = m_current();
	struct g *g = m ? m->curg : NULL;
	if (!g)
		return;
	atomic_store_explicit(&g->io_calls,
			      atomic_load_explicit(&g->io_calls,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	if (sched_preempt_pending(m, g)) {
		preempt_count_io_yield();
		sched_preempt_self(false);
	}
}

/* With sched.lock held.  Give p to the thread of a goroutine parked with
 * it (KLT-switching) that is first in the global queue (only_first) or
 * anywhere in it, taking that goroutine off the queue: returns the M to
 * wake (note_wake of its locked_park, after unlocking), or NULL. */
struct m *sched_give_p_to_parked(struct p *p, bool only_first);
/* With sched.lock held: take g off the global queue (its own thread runs
 * it after all).  False if it is not there. */
bool sched_take_back_parked(struct g *g);
/* The thread budget: true once GOMAXPROCS goroutines (at least
 * PARKED_THREADS_MIN) are parked with their threads.  sysmon then holds
 * back the signals of goroutines that do I/O (src/sysmon/sysmon.c), and
 * a thread that parks hands its P to an earlier one (stop_locked_m). */
#define PARKED_THREADS_MIN 2
bool sched_threads_over_budget(void);

/* Start an M spinning on an idle P if there is idle capacity and no M is
 * already looking for work. */
void sched_wakep(void);

/* The one entry that decides who wakes when a deadline is armed (a timer
 * started, by any thread): an idle M sleeping past `when`, in the poller
 * or parked, and sysmon backed off past it.  Timers call nothing else. */
void sched_deadline_armed(int64_t when);

/* Entry points called from goro_start (src/arch/x86_64/switch.S). */
void sched_goroutine_started(void);
_Noreturn void sched_goroutine_returned(void);
_Noreturn void sched_goroutine_exit(void);

/* Run the scheduler on the calling thread's g0 until the program exits
 * (m0) or this M is no longer needed. */
void sched_m_loop(struct m *m);

/* The calling goroutine is about to block in the kernel: its M lends its
 * P out until sched_blocking_exit (regions nest).  goro_blocking_enter and
 * _exit are these behind the public argument checks; the runtime's own
 * callers (the dumper waiting for its worker thread) use these. */
void sched_blocking_enter(void);
void sched_blocking_exit(void);

/* The start of a goro_main run: the scheduler's queues, idle lists and
 * counts back to empty (the owner of struct sched resets it; the
 * program-lifetime fields are goro_main's). */
void sched_reset(void);

/* Random number for stealing order and select. */
uint32_t sched_rand(void);

/*
 * The scheduler's own frames between a goroutine's call to park or yield
 * and arch_switch: a dump hides them (the debugger descriptor lists them,
 * with preempt.h's PREEMPT_HIDDEN_FRAMES, for gdump and gdb).  sched.c
 * checks at compile time that each name is one of its functions, so
 * renaming one without this list fails the build.
 */
#define SCHED_HIDDEN_FRAMES(X) \
	X(switch_to) X(execute) X(schedule) X(sched_park) X(sched_gosched) \
	X(sched_preempt_self) X(sched_preempt_klt)
/* Each X(fn) above or in another list of hidden frames: fn is a function
 * of the file that expands it. */
#define HIDDEN_FRAME_IS_FUNCTION(fn) \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&fn), \
						     __typeof__(&fn)), #fn);

#endif
