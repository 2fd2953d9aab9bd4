/* SPDX-License-Identifier: MIT */
/*
 * mutex.c — goro_mutex_t: a mutual exclusion lock that parks the
 * goroutine, never the thread.  Go's sync.Mutex, state machine and all.
 *
 * Normal mode: waiters queue FIFO, but a woken waiter competes with
 * goroutines arriving right now (which are on a CPU already and usually
 * win): good throughput.  A waiter that loses for more than 1 ms switches
 * the mutex to starvation mode: the unlocker then hands ownership directly
 * to the waiter at the head of the queue, newcomers queue at the tail
 * without trying, so no waiter can be starved forever.  The mutex returns
 * to normal mode when the waiter that got it was the last one or waited
 * less than 1 ms.
 *
 * state: bit 0 locked, bit 1 a woken waiter is competing (so unlock need
 * not wake another), bit 2 starvation mode, the rest the waiter count.
 */
#include <errno.h>

#include "clock.h"
#include "scheduler.h"
#include "sema.h"
#include "runq.h"
#include <goro.h>

#define LOCKED 1
#define WOKEN 2
#define STARVING 4
#define WAITER_SHIFT 3
#define STARVATION_NS 1000000
#define SPIN_ITERS 4
#define SPIN_PAUSES 30

struct mutex {
	_Atomic int32_t state;
	struct sema sema;
};

_Static_assert(sizeof(struct mutex) <= sizeof(goro_mutex_t),
	       "goro_mutex_t too small");
_Static_assert(_Alignof(struct mutex) <= _Alignof(goro_mutex_t),
	       "goro_mutex_t underaligned");

static inline struct mutex *mutex_of(goro_mutex_t *mu)
{
	return (struct mutex *)mu;
}

/* Spin only when it may pay: the holder is running on another P right now
 * and nothing waits to run here (Go's sync_runtime_canSpin). */
static bool can_spin(int iter)
{
	if (iter >= SPIN_ITERS)
		return false;
	int32_t procs = atomic_load_explicit(&sched.gomaxprocs,
					     memory_order_relaxed);
	int32_t others = atomic_load_explicit(&sched.npidle,
					      memory_order_relaxed) +
			 atomic_load_explicit(&sched.nmspinning,
					      memory_order_relaxed);
	return procs > others + 1 && runq_empty(m_current()->p);
}

static void lock_slow(struct mutex *m)
{
	int64_t wait_start = 0;
	bool starving = false, awoke = false;
	int iter = 0;
	int32_t old = atomic_load(&m->state);
	for (;;) {
		/* Locked in normal mode: spin a little, telling unlock that
		 * somebody is awake so it need not wake a waiter. */
		if ((old & (LOCKED | STARVING)) == LOCKED && can_spin(iter)) {
			if (!awoke && !(old & WOKEN) && old >> WAITER_SHIFT &&
			    atomic_compare_exchange_strong(&m->state, &old,
							   old | WOKEN))
				awoke = true;
			for (int i = 0; i < SPIN_PAUSES; i++)
				arch_cpu_relax();
			iter++;
			old = atomic_load(&m->state);
			continue;
		}
		int32_t new = old;
		/* In starvation mode the lock belongs to the queue: never
		 * take it, queue up. */
		if (!(old & STARVING))
			new |= LOCKED;
		if (old & (LOCKED | STARVING))
			new += 1 << WAITER_SHIFT;
		if (starving && (old & LOCKED))
			new |= STARVING;
		if (awoke)
			new &= ~WOKEN;
		if (!atomic_compare_exchange_strong(&m->state, &old, new))
			continue;
		if (!(old & (LOCKED | STARVING)))
			return;  /* took it */
		/* Waited before: back to the front of the queue. */
		bool lifo = wait_start != 0;
		if (!wait_start)
			wait_start = rt_now();
		sema_acquire(&m->sema, lifo, WAIT_MUTEX);
		starving = starving || rt_now() - wait_start > STARVATION_NS;
		old = atomic_load(&m->state);
		if (old & STARVING) {
			/* Handed over: the lock is ours, the state still
			 * counts us as a waiter. */
			int32_t delta = LOCKED - (1 << WAITER_SHIFT);
			if (!starving || old >> WAITER_SHIFT == 1)
				delta -= STARVING;  /* leave starvation mode */
			atomic_fetch_add(&m->state, delta);
			return;
		}
		awoke = true;
		iter = 0;
	}
}

static void unlock_slow(struct mutex *m, int32_t new)
{
	if (new & STARVING) {
		/* Hand ownership to the first waiter; it runs next. */
		sema_release(&m->sema, true);
		return;
	}
	int32_t old = new;
	for (;;) {
		/* Nobody to wake, or somebody is already awake, or the lock
		 * was taken meanwhile: done. */
		if (old >> WAITER_SHIFT == 0 || (old & (LOCKED | WOKEN | STARVING)))
			return;
		new = (old - (1 << WAITER_SHIFT)) | WOKEN;
		if (atomic_compare_exchange_strong(&m->state, &old, new)) {
			sema_release(&m->sema, false);
			return;
		}
	}
}

int goro_mutex_lock(goro_mutex_t *mu)
{
	RT_REQUIRE_G(-EPERM);
	if (!mu)
		return -EINVAL;
	struct mutex *m = mutex_of(mu);
	int32_t unlocked = 0;
	if (!atomic_compare_exchange_strong(&m->state, &unlocked, LOCKED))
		lock_slow(m);
	return 0;
}

int goro_mutex_trylock(goro_mutex_t *mu)
{
	RT_REQUIRE_G(-EPERM);
	if (!mu)
		return -EINVAL;
	struct mutex *m = mutex_of(mu);
	int32_t old = atomic_load(&m->state);
	if (old & (LOCKED | STARVING))
		return -EBUSY;
	return atomic_compare_exchange_strong(&m->state, &old, old | LOCKED)
		? 0 : -EBUSY;
}

int goro_mutex_unlock(goro_mutex_t *mu)
{
	RT_REQUIRE_G(-EPERM);
	if (!mu)
		return -EINVAL;
	struct mutex *m = mutex_of(mu);
	/* Unlocking an unlocked mutex is a bug Go treats as fatal; here the
	 * call fails and leaves the state alone (racing double unlocks
	 * cannot all be caught). */
	if (!(atomic_load(&m->state) & LOCKED))
		return -EPERM;
	int32_t new = atomic_fetch_sub(&m->state, LOCKED) - LOCKED;
	if (new != 0)
		unlock_slow(m, new);
	return 0;
}
