/* SPDX-License-Identifier: MIT */
/*
 * runq.h — run queues: each P's bounded lock-free queue with its runnext
 * slot, and the global queue behind sched.lock.
 */
#ifndef GORO_RUNQ_H
#define GORO_RUNQ_H

#include <stdbool.h>

#include "runtime.h"

/* Local queue, owner side.  With next, g goes to runnext (bumping the old
 * runnext to the tail).  A full queue moves half of itself plus g to the
 * global queue. */
void runq_put(struct p *p, struct g *g, bool next);
/* Local queue, owner side: runnext first, then the head.  *inherit is set
 * when the goroutine came from runnext (it inherits the time slice). */
struct g *runq_get(struct p *p, bool *inherit);
bool runq_empty(struct p *p);

/* Steal half of victim's queue into p's; returns one goroutine to run now,
 * or NULL.  steal_next also takes the victim's runnext. */
struct g *runq_steal(struct p *p, struct p *victim, bool steal_next);
/* Successful runq_steal calls since the process started (goro_stats). */
uint64_t runq_steals(void);

/* Global queue; callers hold sched.lock. */
void global_runq_put(struct g *g);
void global_runq_put_batch(struct g *head, struct g *tail, int32_t n);
/* Take a batch for p: returns one goroutine, moves up to a fair share more
 * into p's local queue (max 0 = no limit besides fairness). */
struct g *global_runq_get(struct p *p, int32_t max);
/* The head of the global queue, or NULL. */
struct g *global_runq_peek(void);
/* Remove and return the first goroutine of the global queue for which
 * match(g, arg) is true (a scan: for rare paths). */
struct g *global_runq_take_first(bool (*match)(const struct g *, const void *),
				 const void *arg);

#endif
