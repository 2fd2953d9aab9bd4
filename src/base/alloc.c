/* SPDX-License-Identifier: MIT */
/*
 * alloc.c — jemalloc-backed allocation for runtime objects (see alloc.h).
 *
 * Under valgrind, memcheck sees nothing of jemalloc's explicit API
 * (mallocx, sdallocx): each runtime object is announced as a heap block
 * of its own with the client requests, so a channel or G record leaked,
 * used after goro_chan_free or overrun is reported like a malloc'd one.
 * The requests cost a few instructions when not under valgrind, and
 * nothing in a build without <valgrind/valgrind.h>.
 */
#include <jemalloc/jemalloc.h>

#include "alloc.h"
#include "runtime.h"

#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MALLOCLIKE_BLOCK(addr, size, redzone, zeroed) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(addr, redzone) ((void)0)
#endif

/* While jemalloc runs for the runtime, its M counts as holding a runtime
 * lock: jemalloc's own mutexes may put the thread to sleep with the caller's
 * P live in a register, so sysmon must not take that P, and the preemption
 * signal must not stop it there. */
static inline void in_allocator(int delta)
{
	struct m *m = m_current();
	if (m)
		m->locks += delta;
}

static inline void *je_mallocx(size_t size, int flags)
{
	in_allocator(1);
	void *p = mallocx(size, flags);
	in_allocator(-1);
	return p;
}

static inline void je_sdallocx(void *ptr, size_t size, int flags)
{
	in_allocator(1);
	sdallocx(ptr, size, flags);
	in_allocator(-1);
}

static inline void *je_rallocx(void *ptr, size_t size, int flags)
{
	in_allocator(1);
	void *p = rallocx(ptr, size, flags);
	in_allocator(-1);
	return p;
}

void *rt_alloc(size_t size)
{
	if (!size)
		size = 1;
	if (!RUNNING_ON_VALGRIND)
		return je_mallocx(size, MALLOCX_ZERO);
	/* jemalloc must not write into a block memcheck holds freed: the
	 * block is announced first, then zeroed here. */
	void *p = je_mallocx(size, 0);
	if (p) {
		VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 0);
		memset(p, 0, size);
	}
	return p;
}

void rt_free(void *ptr, size_t size)
{
	if (!ptr)
		return;
	VALGRIND_FREELIKE_BLOCK(ptr, 0);
	je_sdallocx(ptr, size ? size : 1, 0);
}

void *rt_realloc(void *ptr, size_t old_size, size_t new_size)
{
	if (!ptr)
		return rt_alloc(new_size);
	if (!RUNNING_ON_VALGRIND)
		return je_rallocx(ptr, new_size ? new_size : 1, 0);
	/* (rallocx would copy into a block memcheck holds freed.) */
	void *p = rt_alloc(new_size);
	if (p) {
		memcpy(p, ptr, old_size < new_size ? old_size : new_size);
		rt_free(ptr, old_size);
	}
	return p;
}

void rt_retire(void *ptr, size_t size, size_t keep)
{
	if (!ptr)
		return;
#if defined(__SANITIZE_ADDRESS__)
	if (size > keep)
		ASAN_POISON_MEMORY_REGION((char *)ptr + keep, size - keep);
#else
	(void)keep;
	rt_free(ptr, size);
#endif
}
