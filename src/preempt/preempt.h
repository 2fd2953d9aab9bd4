/* SPDX-License-Identifier: MIT */
/*
 * preempt.h — asynchronous preemption: asking a running goroutine to stop,
 * by flag (honoured at its next runtime call) and by signal (honoured at
 * once when it is at a safe point).  See src/preempt/preempt.c.
 */
#ifndef GORO_PREEMPT_H
#define GORO_PREEMPT_H

#include <signal.h>
#include <stdbool.h>

/* The runtime's preemption signal: debuggers pass it on, libc never uses
 * it, and a spurious one is harmless. */
#define PREEMPT_SIGNAL SIGURG

struct m;
struct g;

/* goro_main start: CPU extended-state parameters, the text-range table,
 * the SIGURG handler.  0 or a negative errno. */
int preempt_init(void);
/* goro_main end (every M gone): put back the application's handler. */
void preempt_fini(void);

/* Ask g, running on m, to stop: set g->preempt, and with async
 * preemption on, signal m.  m and g must stay valid for the call (hold
 * sched.lock, or be sysmon during the run).  True if a signal was sent. */
bool preempt_request(struct m *m, struct g *g);
/* Ask g to stop at its next runtime call only (g->preempt), with no
 * signal: sysmon's grace for a goroutine making I/O calls. */
void preempt_flag(struct g *g);
/* A goroutine so asked yielded at an I/O call (sched_io_point). */
void preempt_count_io_yield(void);
/* sysmon held a goroutine's signal back for the thread budget. */
void preempt_count_budget_hold(void);

/* A P was handed to another M while its thread parked with a preempted
 * goroutine (src/sched/sched.c counts it here). */
void preempt_count_handoff(void);

/* The frame between an interrupted goroutine's trampoline and the
 * scheduler: a dump hides it, as it hides SCHED_HIDDEN_FRAMES (preempt.c
 * checks that the name is its function). */
#define PREEMPT_HIDDEN_FRAMES(X) X(preempt_park_async)

#endif
