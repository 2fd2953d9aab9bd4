/* SPDX-License-Identifier: MIT */
/*
 * deadlock.h — detecting a program that can never make progress again.
 */
#ifndef GORO_DEADLOCK_H
#define GORO_DEADLOCK_H

#include <stdint.h>

/* Called by an M about to sleep with no timer to wake it.  If no goroutine
 * can ever run again, print Go's "all goroutines are asleep - deadlock!"
 * report and exit with status 2; otherwise return. */
void deadlock_check(void);

/* A thread goro did not create called into the runtime: it may send,
 * close or spawn at any time, so for the rest of this goro_main run no
 * state counts as a deadlock (Go's checkdead with cgo threads). */
void deadlock_foreign_caller(void);

/* n goroutines more (or, negative, fewer) wait on the outside world (an
 * I/O wait, a blocking call, signal delivery, a spare P lent to a thread
 * in the kernel): while any do, no state counts as a deadlock.  The one
 * writer of sched.nblocked besides the reset at the start of a run. */
void deadlock_blocked_add(int64_t n);

#endif
