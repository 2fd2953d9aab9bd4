/* SPDX-License-Identifier: MIT */
/*
 * lock.c — libgoro-posix's pthread mutex and rwlock calls: each is libc's,
 * and counts the locks the calling thread holds.
 *
 * Why: the replaced calls make a goroutine park where an unmodified
 * library expects its thread to block, and a goroutine that parks may
 * continue on another thread.  A library that holds a pthread lock across
 * such a call (sqlite holds its connection's recursive mutex across its
 * file reads and writes and the sleeps of its busy handler) would then
 * relock or unlock it from a thread that does not own it: a recursive
 * relock waits for ever, an error-checking unlock fails with EPERM, a
 * write-held rwlock stays held.  So while its thread holds any, a
 * goroutine keeps that thread wherever it parks or yields (the runtime
 * asks through goro_posix_lock_probe; src/sched/sched.c, keep_thread).
 *
 * The count is per thread, as ownership is: while it is above zero the
 * goroutine does not leave the thread, so the thread's count is its
 * goroutine's.  Only calls that reach these replacements count: a lock
 * taken inside libc itself (stdio's, malloc's, C11 mtx_lock) or by a raw
 * futex is not seen.  A mutex locked on one thread and unlocked on another
 * (used as a semaphore) leaves the first thread's count high: its
 * goroutines then keep it across waits, which costs threads, never
 * correctness.  libc's own functions are called by the __pthread_* names
 * it still exports for old binaries, so nothing here needs dlsym (a lock may be taken
 * while another library's constructor runs, or inside the lookup
 * itself); the timed and clock variants have no such names and are found
 * like the other replacements (posix/real.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "posix.h"

/* libc's own, under the names it has kept for binary compatibility
 * since version 2.2.5 (not linkable by name, hence the version). */
#define LIBC_COMPAT(name, ret, args) \
	ret libc_##name args; \
	__asm__(".symver libc_" #name ", __" #name "@GLIBC_2.2.5");
LIBC_COMPAT(pthread_mutex_lock, int, (pthread_mutex_t *))
LIBC_COMPAT(pthread_mutex_trylock, int, (pthread_mutex_t *))
LIBC_COMPAT(pthread_mutex_unlock, int, (pthread_mutex_t *))
LIBC_COMPAT(pthread_rwlock_rdlock, int, (pthread_rwlock_t *))
LIBC_COMPAT(pthread_rwlock_wrlock, int, (pthread_rwlock_t *))
LIBC_COMPAT(pthread_rwlock_tryrdlock, int, (pthread_rwlock_t *))
LIBC_COMPAT(pthread_rwlock_trywrlock, int, (pthread_rwlock_t *))
LIBC_COMPAT(pthread_rwlock_unlock, int, (pthread_rwlock_t *))

static __thread unsigned held __attribute__((tls_model("initial-exec")));

static inline int taken(int r)
{
	if (r == 0)
		held++;
	return r;
}

static inline int released(int r)
{
	if (r == 0 && held > 0)
		held--;
	return r;
}

/* What the runtime asks (goro_posix_lock_probe). */
static int thread_holds_locks(void)
{
	return held > 0;
}

__attribute__((constructor)) static void lock_probe_register(void)
{
	goro_posix_lock_probe(thread_holds_locks);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	return taken(libc_pthread_mutex_lock(m));
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
	return taken(libc_pthread_mutex_trylock(m));
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *at)
{
	real_pthread_mutex_timedlock_fn f = REAL(pthread_mutex_timedlock);
	return taken(f ? f(m, at) : libc_pthread_mutex_lock(m));
}

int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c,
			    const struct timespec *at)
{
	real_pthread_mutex_clocklock_fn f = REAL(pthread_mutex_clocklock);
	return taken(f ? f(m, c, at) : libc_pthread_mutex_lock(m));
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	return released(libc_pthread_mutex_unlock(m));
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	return taken(libc_pthread_rwlock_rdlock(l));
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	return taken(libc_pthread_rwlock_wrlock(l));
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	return taken(libc_pthread_rwlock_tryrdlock(l));
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	return taken(libc_pthread_rwlock_trywrlock(l));
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *at)
{
	real_pthread_rwlock_timedrdlock_fn f = REAL(pthread_rwlock_timedrdlock);
	return taken(f ? f(l, at) : libc_pthread_rwlock_rdlock(l));
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *at)
{
	real_pthread_rwlock_timedwrlock_fn f = REAL(pthread_rwlock_timedwrlock);
	return taken(f ? f(l, at) : libc_pthread_rwlock_wrlock(l));
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
			       const struct timespec *at)
{
	real_pthread_rwlock_clockrdlock_fn f = REAL(pthread_rwlock_clockrdlock);
	return taken(f ? f(l, c, at) : libc_pthread_rwlock_rdlock(l));
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
			       const struct timespec *at)
{
	real_pthread_rwlock_clockwrlock_fn f = REAL(pthread_rwlock_clockwrlock);
	return taken(f ? f(l, c, at) : libc_pthread_rwlock_wrlock(l));
}

int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	return released(libc_pthread_rwlock_unlock(l));
}
