/* SPDX-License-Identifier: MIT */
/*
 * sanitizer.c — the thread's own stack bounds, which ASan needs when a
 * goroutine switches back to the M's g0 (in an ASan build, or in a plain
 * one loaded by a program built with ASan: see sanitizer.h).
 *
 * Why: AddressSanitizer keeps one notion of "the current stack" per
 * thread and must be told at each switch which stack comes next
 * (sanitizer.h's start/finish pairs); goroutine stacks are known from
 * their records, but an M's own stack (g0) is the thread's, found here
 * once when the M starts.  Without a sanitizer this file is empty.
 *
 * Invariants: sanitizer_thread_init runs on the M's own thread before its
 * first switch.
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
			m->san.g0_stack_lo = addr;
			m->san.g0_stack_size = size;
		}
		pthread_attr_destroy(&attr);
	}
}
#endif

