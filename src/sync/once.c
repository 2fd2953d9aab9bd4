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
 * runtime's is live across fn, so fn is as preemptible as any code, and
 * the goroutine is out of its runtime call meanwhile (runtime_depth).  The
 * empty asm keeps the call from becoming a jump. */
RT_CALLOUT static void once_call(void (*fn)(void *), void *arg)
{
	struct g *g = g_current();
	uint32_t depth = g->runtime_depth;
	g->runtime_depth = 0;
	__asm__ volatile("" ::: "memory");
	fn(arg);
	__asm__ volatile("" ::: "memory");
	g = g_current();
	g->runtime_depth = depth;
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
