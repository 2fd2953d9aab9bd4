/* SPDX-License-Identifier: MIT */
/*
 * real.c — finding libc's functions (see real.h), the fork rule, and the
 * test each replacement makes first.
 *
 * Lookup: dlsym(RTLD_NEXT, name) for every function of the list, once per
 * process, by whichever comes first of the constructor and a call.  A
 * thread that calls a replacement while it is itself inside that lookup
 * (dlsym allocating, an allocator starting up and reading a file) gets a
 * NULL function and makes the raw system call (posix/sys.c's callers do).
 * Pointers are published with release stores and never change.
 *
 * Fork: a child of a goroutine program has one thread, a copy of the one
 * that forked, which still looks like a goroutine to the runtime.  The
 * child handler marks the process: from then on every replacement is
 * libc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "real.h"
#include "../core/interpose.h"

#define POSIX_REAL_DEF(name, ret, args) \
	real_##name##_fn _Atomic real_##name##_ptr; \
	real_##name##_fn real_##name##_get(void) \
	{ \
		posix_resolve(); \
		return atomic_load_explicit(&real_##name##_ptr, \
					    memory_order_acquire); \
	}

_Atomic int posix_forked;
static _Atomic int resolved;
static __thread bool resolving;

static void posix_resolve(void);
POSIX_REAL_LIST(POSIX_REAL_DEF)

static void posix_resolve(void)
{
	if (atomic_load_explicit(&resolved, memory_order_acquire) || resolving)
		return;
	resolving = true;
#define POSIX_REAL_LOOKUP(name, ret, args) \
	{ void *p_ = dlsym(RTLD_NEXT, #name); \
	  if (p_) atomic_store_explicit(&real_##name##_ptr, \
		(real_##name##_fn)p_, memory_order_release); }
	POSIX_REAL_LIST(POSIX_REAL_LOOKUP)
	resolving = false;
	atomic_store_explicit(&resolved, 1, memory_order_release);
}

/* Only a child forked by a goroutine has a thread that looks like one;
 * any other child is a fresh program for the runtime. */
static void in_child(void)
{
	if (goro_posix_active(NULL))
		atomic_store_explicit(&posix_forked, 1, memory_order_relaxed);
}

__attribute__((constructor(101))) static void posix_init(void)
{
	posix_resolve();
	pthread_atfork(NULL, NULL, in_child);
}

int posix_active(const void *caller)
{
	if (atomic_load_explicit(&posix_forked, memory_order_relaxed))
		return 0;
	return goro_posix_active(caller);
}
