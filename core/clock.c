/* SPDX-License-Identifier: MIT */
/*
 * clock.c — the runtime's clock: CLOCK_MONOTONIC in nanoseconds, read
 * through the vDSO (no system call).
 */
#include <time.h>

#include <goro.h>

int64_t goro_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
