/* SPDX-License-Identifier: MIT */
/*
 * stats.h — the scheduler's counts, read from their owners on demand
 * (stats.c): for goro_stats() and for GORO_DEBUG=schedtrace.
 */
#ifndef GORO_STATS_H
#define GORO_STATS_H

#include <stdint.h>

#include "runtime.h"

struct goro_stats;

/* Fill every field of *s (its size included).  Takes the G table's lock
 * and sched.lock, one after the other: not from a signal handler. */
void stats_read(struct goro_stats *s);

/* Goroutines queued on p (runnext included), read without its owner's
 * cooperation. */
uint32_t stats_runq_length(const struct p *p);

#endif
