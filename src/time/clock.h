/* SPDX-License-Identifier: MIT */
/*
 * clock.h — the runtime's clock: CLOCK_MONOTONIC in nanoseconds, read
 * through the vDSO (no system call).
 *
 * The runtime reads it with rt_now(), which never yields.  Applications
 * read it with goro_now(), which is also a preemption point: a goroutine
 * asked to stop yields there, so a loop that spends its time reading the
 * clock (and would mostly be interrupted inside the vDSO, called from
 * libgoro, where the signal cannot stop it) still gives up its P.
 */
#ifndef GORO_CLOCK_H
#define GORO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
