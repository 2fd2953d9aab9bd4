/* SPDX-License-Identifier: MIT */
/*
 * once.c — goro_once_t: run a function exactly once (Go's sync.Once).
 *
 * The fast path is one acquire load.  The slow path serializes on a
 * goro_mutex_t, so callers racing the first run park until it is done
 * (and see everything it wrote) instead of spinning.
 */
#include <errno.h>
#include <stdint.h>

#include "runtime.h"
#include <goro.h>

struct once {
	_Atomic uint32_t done;
	goro_mutex_t mu;
};

_Static_assert(sizeof(struct once) <= sizeof(goro_once_t),
	       "goro_once_t too small");
_Static_assert(_Alignof(struct once) <= _Alignof(goro_once_t),
	       "goro_once_t underaligned");

/* The call-out frame of goro_once (src/base/text_ranges.h): nothing of the
 * runtime's is live across fn but the goroutine's own G (the same after
 * fn, on whichever thread it then runs), so fn is as preemptible as any
 * code: the goroutine is out of its runtime call meanwhile
 * (runtime_depth).  The store after fn keeps the call from becoming a
 * jump. */
RT_CALLOUT static void once_call(void (*fn)(void *), void *arg)
{
	volatile uint32_t *depth = &g_current()->runtime_depth;
	uint32_t outer = *depth;
	*depth = 0;
	fn(arg);
	*depth = outer;
}

int goro_once(goro_once_t *once, void (*fn)(void *), void *arg)
{
	RT_REQUIRE_G(-EPERM);
	if (!once || !fn)
		return -EINVAL;
	struct once *o = (struct once *)once;
	if (atomic_load_explicit(&o->done, memory_order_acquire))
		return 0;
	goro_mutex_lock(&o->mu);
	if (!atomic_load_explicit(&o->done, memory_order_relaxed)) {
		once_call(fn, arg);
		atomic_store_explicit(&o->done, 1, memory_order_release);
	}
	goro_mutex_unlock(&o->mu);
	return 0;
}
