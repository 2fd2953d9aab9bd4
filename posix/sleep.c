/* SPDX-License-Identifier: MIT */
/*
 * sleep.c — libgoro-posix's nanosleep, clock_nanosleep, usleep and sleep.
 *
 * From a goroutine a sleep is goro_sleep: the goroutine parks on a timer
 * and its thread runs others.  The whole interval is always slept (a
 * signal does not cut it short: no EINTR, and *rem, when given, is set to
 * zero).  clock_nanosleep on CLOCK_REALTIME, CLOCK_MONOTONIC or
 * CLOCK_BOOTTIME, relative or TIMER_ABSTIME, is measured on that clock;
 * other clocks (a CPU-time clock) are libc's call without the P held.
 * Invalid arguments fail as libc's do, before anything sleeps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#include "posix.h"

static int64_t ns_of(const struct timespec *ts)
{
	if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
		return INT64_MAX / 2;
	return ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static bool valid(const struct timespec *ts)
{
	return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000 &&
	       ts->tv_sec >= 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (POSIX_PASS() || !valid(req))
		return REAL(nanosleep)(req, rem);
	goro_sleep(ns_of(req));
	if (rem)
		*rem = (struct timespec){ 0, 0 };
	return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
		    struct timespec *rem)
{
	if (POSIX_PASS() || !valid(req) ||
	    (flags & ~TIMER_ABSTIME) ||
	    (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC &&
	     clock != CLOCK_BOOTTIME)) {
		if (POSIX_PASS() || !valid(req) || (flags & ~TIMER_ABSTIME))
			return REAL(clock_nanosleep)(clock, flags, req, rem);
		int saved = errno;
		goro_blocking_enter();
		int r = REAL(clock_nanosleep)(clock, flags, req, rem);
		goro_blocking_exit();
		errno = saved;
		return r;
	}
	if (!(flags & TIMER_ABSTIME)) {
		goro_sleep(ns_of(req));
	} else {
		/* Until the clock reads *req; a clock set forward meanwhile
		 * (CLOCK_REALTIME) is seen at the next look. */
		for (;;) {
			struct timespec now;
			clock_gettime(clock, &now);
			int64_t left = ns_of(req) - ns_of(&now);
			if (left <= 0)
				break;
			goro_sleep(left);
		}
	}
	if (rem && !(flags & TIMER_ABSTIME))
		*rem = (struct timespec){ 0, 0 };
	return 0;
}

int usleep(useconds_t us)
{
	if (POSIX_PASS())
		return REAL(usleep)(us);
	goro_sleep((int64_t)us * 1000);
	return 0;
}

unsigned sleep(unsigned s)
{
	if (POSIX_PASS())
		return REAL(sleep)(s);
	goro_sleep((int64_t)s * 1000000000);
	return 0;
}
