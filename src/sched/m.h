/* SPDX-License-Identifier: MIT */
/*
 * m.h — OS threads (Ms): creating them, parking idle ones, handing them
 * Ps; and the idle-P list.
 */
#ifndef GORO_M_H
#define GORO_M_H

#include "runtime.h"

/* Run p (or an idle P when NULL) on an idle M, or a new one.  With
 * spinning, the caller has already counted the M in sched.nmspinning. */
void m_start(struct p *p, bool spinning);

/* Park m until another M hands it a P (m->p set on return) or ns elapse
 * (ns < 0: no limit; m->p may then be NULL). */
void m_stop(struct m *m, int64_t ns);
/* A locked M whose goroutine left the CPU sleeps here until another M
 * hands it a P with m_wake_locked (or the program exits: m->p NULL). */
void m_stop_locked(struct m *m);
void m_wake_locked(struct m *m, struct p *p);
/* With sched.exiting set: wake every idle M so that it leaves. */
void m_wake_all_idle(void);
/* A timer due at `when` was added: make sure some idle M wakes by then. */
void m_poke_idle_for_deadline(int64_t when);

/* On this thread, m_start hands thread creation to the M creator (for
 * threads that may hold a lock pthread_create needs). */
void m_defer_creation(bool on);
/* On this thread, which goes to sleep as soon as it has handed its P on,
 * an M woken with that P is first moved onto this thread's CPU
 * (m_wake_handed; the M restores its affinity as it wakes). */
void m_sleeps_after_handoff(bool on);
/* Wake target, asleep on n, which was just handed a P: onto this thread's
 * CPU first if this thread sleeps after its hand-off. */
void m_wake_handed(struct m *target, struct note *n);
/* The M creator thread, for one goro_main run.  0 or a negative errno. */
int m_creator_start(void);
void m_creator_stop(void);

/* Every M's signal mask back on the calling M (see m.c). */
void m_restore_sigmask(void);
/* Thread tid's scheduler state letter (R, S, D...) and its count of
 * voluntary context switches, from /proc (not for hot paths).  False if
 * the thread is gone. */
bool m_thread_state(pid_t tid, char *state, long *nvcsw);
/* Is thread tid running or waiting for a CPU (state R), as opposed to
 * asleep in the kernel? */
bool m_thread_runnable(pid_t tid);
/* Start a runtime thread (sysmon, the M creator) that holds no P and
 * takes no signal meant for goroutines.  0 or a negative errno. */
int m_start_runtime_thread(pthread_t *thread, void *(*fn)(void *));
/* CPU time consumed by thread tid, or -1 (it is gone). */
int64_t m_thread_cpu_ns(pid_t tid);

/* Set up the calling thread as m (TLS, errno location, signal stack). */
void m_attach_thread(struct m *m);
void m_detach_thread(struct m *m);
struct m *m_alloc(void);
/* A run's list of Ms (sched.allm) starts with M0 alone. */
void m_list_start(struct m *m0);
/*
 * The end of a run's Ms, once every M but the caller has left (m->left).
 * Each one that left waits for the verdict: EXIT_END, its thread ends and
 * M0 joins and frees it; EXIT_FREEZE, it stays asleep for good (see
 * m_end_all in src/sched/m.c): when a goroutine was left inside library
 * code.  Returns true if they were frozen.
 */
enum exit_verdict { EXIT_UNDECIDED, EXIT_END, EXIT_FREEZE };
bool m_end_all(struct m *self);
/* A runtime thread stopped at exit before the Ms leave (sysmon, the M
 * creator, schedtrace) ends the same way.  The thread, as its last step:
 * wake `stopped`, then wait for the verdict (frozen, or it returns).  Its
 * stopper, having asked it to stop: wait for `stopped`, and hand the
 * thread over to m_end_all, which joins it unless frozen. */
void m_runtime_thread_leave(struct note *stopped);
void m_runtime_thread_stopped(struct note *stopped, pthread_t thread);
/* After m_end_all: were the threads left frozen? */
bool m_exit_frozen(void);

#endif
