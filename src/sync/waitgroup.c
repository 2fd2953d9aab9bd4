/* SPDX-License-Identifier: MIT */
/*
 * waitgroup.c — goro_wg_t: wait for a collection of goroutines to finish
 * (Go's sync.WaitGroup).
 *
 * One 64-bit word holds the counter (high half) and the number of waiters
 * (low half), so that "the counter reached zero while n goroutines wait"
 * is seen atomically by the Add that brings it there; that Add resets the
 * word and releases the semaphore once per waiter.
 */
#include <errno.h>
#include <stdint.h>

#include "scheduler.h"
#include "sema.h"
#include <goro.h>

struct waitgroup {
	_Atomic uint64_t state;   /* counter << 32 | waiters */
	struct sema sema;
};

_Static_assert(sizeof(struct waitgroup) <= sizeof(goro_wg_t),
	       "goro_wg_t too small");
_Static_assert(_Alignof(struct waitgroup) <= _Alignof(goro_wg_t),
	       "goro_wg_t underaligned");

static inline struct waitgroup *wg_of(goro_wg_t *wg)
{
	return (struct waitgroup *)wg;
}

int goro_wg_add(goro_wg_t *wgp, int64_t n)
{
	RT_REQUIRE_G(-EPERM);
	if (!wgp)
		return -EINVAL;
	struct waitgroup *wg = wg_of(wgp);
	uint64_t old = atomic_load(&wg->state);
	int64_t counter;
	uint32_t waiters;
	do {
		counter = (int64_t)(int32_t)(old >> 32) + n;
		waiters = (uint32_t)old;
		/* A negative counter is Go's panic; here the call fails and
		 * the group is left as it was. */
		if (counter < 0 || counter > INT32_MAX)
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(
			 &wg->state, &old,
			 (uint64_t)(uint32_t)counter << 32 | waiters));
	if (counter > 0 || waiters == 0)
		return 0;
	/* Zero with waiters: nobody may Add or Wait concurrently now (Go's
	 * rule), so the word can simply be reset. */
	atomic_store(&wg->state, 0);
	for (uint32_t i = 0; i < waiters; i++)
		sema_release(&wg->sema, false);
	return 0;
}

int goro_wg_done(goro_wg_t *wg)
{
	RT_REQUIRE_G(-EPERM);
	return goro_wg_add(wg, -1);
}

int goro_wg_wait(goro_wg_t *wgp)
{
	RT_REQUIRE_G(-EPERM);
	if (!wgp)
		return -EINVAL;
	struct waitgroup *wg = wg_of(wgp);
	uint64_t old = atomic_load(&wg->state);
	for (;;) {
		if (old >> 32 == 0) {
			sched_check_preempt(g_current());
			return 0;
		}
		if (atomic_compare_exchange_weak(&wg->state, &old, old + 1)) {
			sema_acquire(&wg->sema, false, WAIT_WAITGROUP);
			return 0;
		}
	}
}
