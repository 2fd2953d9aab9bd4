/* SPDX-License-Identifier: MIT */
/*
 * sema.h — a counting semaphore that parks goroutines (Go's
 * runtime_Semacquire / runtime_Semrelease), the blocking part of
 * goro_mutex_t and goro_wg_t.
 *
 * The semaphore itself is only its count.  Waiters queue in a global table
 * of buckets hashed by the semaphore's address, as in Go's semtable: a
 * releaser touches the semaphore's memory exactly once (the increment), so
 * a waiter that takes the count and returns may free it at once — a
 * WaitGroup or mutex on the stack of a function that has returned.
 */
#ifndef GORO_SEMA_H
#define GORO_SEMA_H

#include <stdbool.h>

#include "runtime.h"

struct sema {
	_Atomic uint32_t count;
};

/* Wait until count > 0, then decrement it.  lifo queues the caller at the
 * front (a waiter that already waited once, as Go's mutex does). */
void sema_acquire(struct sema *s, bool lifo, enum wait_reason reason);
/* Increment count and wake one waiter.  With handoff, the count goes
 * straight to the woken waiter, which runs next (mutex starvation mode). */
void sema_release(struct sema *s, bool handoff);

#endif
