/* SPDX-License-Identifier: MIT */
/*
 * lock.c — futex-based runtime mutex and notes (see lock.h).
 *
 * Why not pthread_mutex_t: the runtime must know, cheaply and without
 * asking libc, that an M holds a runtime lock: the preemption handler
 * refuses to stop a goroutine whose M holds one (m->locks), since stopping
 * it there could leave every other M waiting for that lock.  A three-state
 * word (free, held, held with sleepers) lets an uncontended lock and
 * unlock be one atomic each, with a futex call only when someone sleeps.
 *
 * Invariants: m->locks counts the rlocks the calling M holds (rlock_lock
 * counts before it may sleep, so a goroutine waiting for a runtime lock is
 * never preempted either); a note is woken at most once between clears.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#define SPIN_TRIES 100

void futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
	struct timespec ts, *tsp = NULL;
	if (ns >= 0) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		tsp = &ts;
	}
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void futex_wake(_Atomic uint32_t *addr, int count)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

static void lock_held_by_m(int delta)
{
	struct m *m = m_current();
	if (m)
		m->locks += delta;
}

void rlock_section_begin(void)
{
	lock_held_by_m(1);
}

void rlock_section_end(void)
{
	lock_held_by_m(-1);
}

bool rlock_trylock(struct rlock *l)
{
	uint32_t expected = 0;
	if (atomic_compare_exchange_strong_explicit(&l->state, &expected, 1,
						    memory_order_acquire,
						    memory_order_relaxed)) {
		lock_held_by_m(1);
		return true;
	}
	return false;
}

void rlock_lock(struct rlock *l)
{
	lock_held_by_m(1);
	uint32_t expected = 0;
	if (atomic_compare_exchange_strong_explicit(&l->state, &expected, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return;
	for (int i = 0; i < SPIN_TRIES; i++) {
		arch_cpu_relax();
		expected = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &expected, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
	/* Announce a sleeper (state 2) so the unlocker knows to wake. */
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
		futex_wait(&l->state, 2, -1);
}

void rlock_unlock(struct rlock *l)
{
	if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
		futex_wake(&l->state, 1);
	lock_held_by_m(-1);
}

void note_clear(struct note *n)
{
	atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void note_wake(struct note *n)
{
	atomic_store_explicit(&n->key, 1, memory_order_release);
	futex_wake(&n->key, INT_MAX);
}

void note_sleep(struct note *n)
{
	while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
		futex_wait(&n->key, 0, -1);
}

bool note_sleep_for(struct note *n, int64_t ns)
{
	if (ns < 0) {
		note_sleep(n);
		return true;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t deadline = now.tv_sec * 1000000000LL + now.tv_nsec + ns;
	while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = deadline - (now.tv_sec * 1000000000LL + now.tv_nsec);
		if (left <= 0)
			return false;
		futex_wait(&n->key, 0, left);
	}
	return true;
}
