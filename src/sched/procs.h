/* SPDX-License-Identifier: MIT */
/*
 * procs.h — the set of Ps: how many (GOMAXPROCS), creating and retiring
 * them, and stopping the world to change their number.
 */
#ifndef GORO_PROCS_H
#define GORO_PROCS_H

#include <stdint.h>

#include "runtime.h"

void p_acquire(struct m *m, struct p *p);
void p_release(struct m *m);

/* Idle P list; callers hold sched.lock. */
void pidle_put(struct p *p);
struct p *pidle_get(void);

/*
 * Give p, taken from an M that cannot use it now, to whoever should have
 * it: a stop-the-world in progress, an M to run its work, or the idle list.
 * p's status must already have been moved off P_SYSCALL/P_RUNNING by the
 * caller (sysmon).  Callable from any thread, no runtime lock held.
 */
void p_handoff(struct p *p);

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
