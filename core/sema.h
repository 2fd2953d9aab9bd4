/*
 * sema.h — a counting semaphore that parks goroutines (Go's
 * runtime_Semacquire / runtime_Semrelease), the blocking part of
 * goro_mutex_t and goro_wg_t.
 *
 * The queue lives in the semaphore itself (24 bytes), so that the public
 * sync types stay small and need no global table.
 */
#ifndef GORO_SEMA_H
#define GORO_SEMA_H

#include <stdbool.h>

#include "runtime.h"

struct sema_waiter;

struct sema {
	_Atomic uint32_t count;
	struct rlock lock;                   /* guards the queue */
	struct sema_waiter *_Atomic head;    /* read unlocked: any waiter? */
	struct sema_waiter *tail;
};

/* Wait until count > 0, then decrement it.  lifo queues the caller at the
 * front (a waiter that already waited once, as Go's mutex does). */
void sema_acquire(struct sema *s, bool lifo, enum wait_reason reason);
/* Increment count and wake one waiter.  With handoff, the count goes
 * straight to the woken waiter, which runs next (mutex starvation mode). */
void sema_release(struct sema *s, bool handoff);

#endif
