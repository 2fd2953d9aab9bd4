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
 * correctness.  libc's functions are found like the other replacements'
 * (posix/real.h: dlsym(RTLD_NEXT), so that a sanitizer's interceptor
 * before this library still sees every call).  A lock taken on the thread
 * that is inside that lookup (an allocator locking while dlsym allocates)
 * goes to the __pthread_* names libc keeps for old binaries instead,
 * bound by version.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "posix.h"

/* libc's own under the names it has kept for binary compatibility since
 * version 2.2.5 (not linkable by name, hence the version): only while the
 * lookup runs on this thread.  A sanitizer may intercept these names and
 * not be ready to pass them on, so never otherwise. */
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

/* The plain calls: libc's, counted when they succeed. */
#define COUNTED(name, type, count) \
	int name(type *l) \
	{ \
		real_##name##_fn f = REAL(name); \
		return count(f ? f(l) : libc_##name(l)); \
	}
COUNTED(pthread_mutex_lock, pthread_mutex_t, taken)
COUNTED(pthread_mutex_trylock, pthread_mutex_t, taken)
COUNTED(pthread_mutex_unlock, pthread_mutex_t, released)
COUNTED(pthread_rwlock_rdlock, pthread_rwlock_t, taken)
COUNTED(pthread_rwlock_wrlock, pthread_rwlock_t, taken)
COUNTED(pthread_rwlock_tryrdlock, pthread_rwlock_t, taken)
COUNTED(pthread_rwlock_trywrlock, pthread_rwlock_t, taken)
COUNTED(pthread_rwlock_unlock, pthread_rwlock_t, released)

/* The timed ones: while the lookup runs on this thread, the untimed
 * call (they have no compatibility names). */
#define TIMED(name, type, plain) \
	int name(type *l, const struct timespec *at) \
	{ \
		real_##name##_fn f = REAL(name); \
		return taken(f ? f(l, at) : libc_##plain(l)); \
	}
#define CLOCKED(name, type, plain) \
	int name(type *l, clockid_t c, const struct timespec *at) \
	{ \
		real_##name##_fn f = REAL(name); \
		return taken(f ? f(l, c, at) : libc_##plain(l)); \
	}
TIMED(pthread_mutex_timedlock, pthread_mutex_t, pthread_mutex_lock)
CLOCKED(pthread_mutex_clocklock, pthread_mutex_t, pthread_mutex_lock)
TIMED(pthread_rwlock_timedrdlock, pthread_rwlock_t, pthread_rwlock_rdlock)
TIMED(pthread_rwlock_timedwrlock, pthread_rwlock_t, pthread_rwlock_wrlock)
CLOCKED(pthread_rwlock_clockrdlock, pthread_rwlock_t, pthread_rwlock_rdlock)
CLOCKED(pthread_rwlock_clockwrlock, pthread_rwlock_t, pthread_rwlock_wrlock)
