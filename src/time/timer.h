/* SPDX-License-Identifier: MIT */
/*
 * timer.h — per-P timer heaps: goro_sleep and every timeout.
 *
 * A timer lives on the heap of the P that started it.  Expired timers run
 * when that P schedules, when an idle M steals from that P, or when the M
 * that sleeps until the earliest deadline wakes.  Callbacks run on an M
 * holding a P, with no runtime lock held; typically they ready a goroutine.
 */
#ifndef GORO_TIMER_H
#define GORO_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct p;

struct timer {
	int64_t when;                   /* goro_now() deadline */
	void (*fn)(struct timer *t);    /* runs once when it expires */
	void *arg;
	struct p *_Atomic p;            /* heap it is on; NULL when not pending */
	int32_t index;                  /* position in that heap */
	/* Set by owners that outlive their callbacks (src/time/timerapi.c):
	 * `running` then counts callbacks under way, so an owner that
	 * stopped the timer can wait for one already taken off the heap.
	 * The sleep and select timers live in frames a callback may end,
	 * so they do not count. */
	bool counted;
	_Atomic int32_t running;
};

/* Arm t (when, fn, arg filled in) on the current P, or, from a thread
 * goro did not create, on P 0 (which lives as long as the runtime). */
void timer_start(struct timer *t);
/* Disarm: true if it was pending (and so will not run). */
bool timer_stop(struct timer *t);

/* For sched_park: arm the timer passed as arg once the goroutine is off
 * the CPU, so its callback can never ready a goroutine still running. */
void timer_start_unlock(void *timer);

int timers_init(struct p *p);
void timers_free(struct p *p);
/* Move every pending timer of `from` to `to` (world stopped). */
void timers_move(struct p *from, struct p *to);

/* Run p's expired timers (cheap when none are due). */
void timers_check(struct p *p);
/* p's earliest deadline (goro_now), 0 if it has no timer. */
int64_t timers_next(struct p *p);
/* True if p has a timer due now. */
bool timers_due(struct p *p);
/* Run every live P's expired timers; callbacks ready goroutines onto the
 * caller's P. */
void timers_check_all(void);
/* Any live P with an expired timer? */
bool timers_any_expired(void);
/* ns until the earliest timer of any live P, or -1 if none. */
int64_t timers_next_deadline_rel(void);
/* Timers pending in the whole runtime. */
int64_t timers_pending(void);

#endif
