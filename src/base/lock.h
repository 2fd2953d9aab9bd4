/* SPDX-License-Identifier: MIT */
/*
 * lock.h — the runtime's own locks and one-shot wakeups, both on futexes.
 *
 * rlock: a mutex for short runtime critical sections.  It spins briefly,
 * then sleeps in the kernel.  Holding one marks the M (m->locks) so the
 * preemption signal never stops a goroutine inside the runtime.  Never hold
 * one across a goroutine switch.
 *
 * note: a one-shot event an M sleeps on (Go's note): clear, sleep until
 * woken (optionally with a deadline), wake.
 */
#ifndef GORO_LOCK_H
#define GORO_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct rlock {
	_Atomic uint32_t state;  /* 0 free, 1 held, 2 held with sleepers */
};
#define RLOCK_INIT {0}

void rlock_lock(struct rlock *l);
void rlock_unlock(struct rlock *l);
bool rlock_trylock(struct rlock *l);

/* A runtime critical section under a lock that is not an rlock (a libc or
 * liburing mutex taken by runtime code on a goroutine): the M is marked
 * as holding a runtime lock, so neither preemption nor the exit's pull-out
 * of threads in system calls (signals/exit_kill.c) stops the goroutine
 * inside it.  No switch may happen in between. */
void rlock_section_begin(void);
void rlock_section_end(void);

struct note {
	_Atomic uint32_t key;    /* 0 clear, 1 woken */
};

void note_clear(struct note *n);
void note_wake(struct note *n);
void note_sleep(struct note *n);
/* Sleep until woken or ns elapse (ns < 0: forever); true if woken. */
bool note_sleep_for(struct note *n, int64_t ns);

/* Raw futex helpers for the rest of the runtime. */
void futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
void futex_wake(_Atomic uint32_t *addr, int count);

#endif
