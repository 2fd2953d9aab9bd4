/* SPDX-License-Identifier: MIT */
/*
 * procs.h — the P: creating, retiring and freeing one, acquiring and
 * releasing it, the idle list, the hand-off and the "needs an M"
 * predicate; how many there are (GOMAXPROCS), and stopping the world to
 * change their number.
 */
#ifndef GORO_PROCS_H
#define GORO_PROCS_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

void p_acquire(struct m *m, struct p *p);
/* m's thread lets its P go, and gets it back to pass on; sched_locked
 * says whether it holds sched.lock.  Normally that is m->p.  But if
 * sysmon swapped a spare into m->p (retake_silent) while the thread,
 * awake after all, still used its own P, that swap fails (sysmon sees the
 * thread run): the spare goes back, and the own P is the one released. */
struct p *p_release(struct m *m, bool sched_locked);
/* The same without releasing: m->p, now NULL, and the P the thread holds
 * (region_enter, which lends it out as P_SYSCALL). */
struct p *p_take_own(struct m *m, bool sched_locked);

/* Idle P list; callers hold sched.lock. */
void pidle_put(struct p *p);
struct p *pidle_get(void);

/*
 * The one hand-off: give p, taken from or released by an M that cannot use
 * it now, to whoever should have it: a stop-the-world in progress, an M to
 * run its work (true), or the idle list.  p's status must already have
 * been moved off P_SYSCALL/P_RUNNING (p_release, or sysmon).  Callable
 * from any thread, no runtime lock held.
 */
bool p_handoff(struct p *p);
/* The one answer to "does this P need an M?": goroutines queued on it or
 * globally, a timer anywhere, or network waiters nobody polls for. */
bool p_needs_m(struct p *p);
/* With sched.lock held during a stop-the-world: p stops and counts as
 * stopped (the last one wakes the initiator). */
void p_stop_for_world(struct p *p);

/* A new P (id -1 for sysmon's spares) with its timer heap, not yet on any
 * list; NULL when out of memory. */
struct p *p_create(int32_t id);
/* Retire p, which its caller owns and no M runs: its queued goroutines go
 * to the global queue, its timers to timers_to, its G and stack caches
 * back to the shared pools.  The caller then sets its status. */
void p_retire(struct p *p, struct p *timers_to);
/* Free p and what it holds (end of goro_main, every M gone). */
void p_destroy(struct p *p);

/* sysmon's spare Ps (src/sysmon/retake.c): a P lent to an M whose own P
 * was taken while its thread slept in the kernel.  p_spare_get: a spare
 * (p->spare, counted in sched.nblocked while lent), or NULL when out of
 * memory. */
struct p *p_spare_get(void);
/* Return a spare from p_spare_get that was never handed to an M (its m
 * and status, if set for the hand-off, are cleared). */
void p_spare_unused(struct p *p);
/*
 * The scheduler's side of a silent-blocking hand-off.  While its thread
 * slept in the kernel, sysmon gave the M's P to another M and left the M a
 * spare P (p->spare) to finish with.  At its next scheduling point the M
 * calls this (on g0): the spare's goroutines, timers and caches go back to
 * the shared pool and the spare is released; the M then holds its original
 * P again if sysmon did not hand it on after all, else no P.
 */
void p_spare_release(struct m *m);
/* Call visit on every spare ever made, lent or not (spare lock held). */
void p_spares_visit(void (*visit)(struct p *p, void *arg), void *arg);
/* Free the spare Ps (end of goro_main, every M gone). */
void p_spares_free(void);

/* CPUs this process may use: affinity mask, capped by a cgroup v2 quota. */
int procs_available_cpus(void);

/* Create Ps 0..n-1, all idle (start of goro_main). 0 or -ENOMEM. */
int procs_init(int n);
/* Free every P (end of goro_main, all Ms gone). */
void procs_free_all(void);

/* A stride in [1, n) coprime with n (1 if n < 2), derived from r: walking
 * i*stride mod n visits every P once, in an order that varies with r. */
uint32_t procs_coprime(int32_t n, uint32_t r);

/* Stop every P but the caller's / hand them out again.  Called from a
 * goroutine holding a P. */
void stop_the_world(void);
void start_the_world(void);

#endif
