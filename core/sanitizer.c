/* SPDX-License-Identifier: MIT */
/*
 * sanitizer.c — the thread's own stack bounds, which ASan needs when a
 * goroutine switches back to the M's g0 (in an ASan build, or in a plain
 * one loaded by a program built with ASan: see sanitizer.h).
 */
#include <pthread.h>

#include "sanitizer.h"

#if !defined(__SANITIZE_THREAD__)
void sanitizer_thread_init(struct m *m)
{
	if (!asan_in_process())
		return;
	pthread_attr_t attr;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			m->g0_stack_lo = addr;
			m->g0_stack_size = size;
		}
		pthread_attr_destroy(&attr);
	}
}
#endif

