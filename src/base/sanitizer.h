/* SPDX-License-Identifier: MIT */
/*
 * sanitizer.h — telling AddressSanitizer and ThreadSanitizer about stack
 * switches.
 *
 * ASan tracks one stack per thread; a switch to a goroutine's stack without
 * telling it looks like a wild stack-pointer jump and produces false
 * reports.  Each switch is bracketed by start/finish_switch_fiber, and ASan's
 * "fake stack" of the context switched away from is kept where that
 * context will find it when it resumes (its G, or the M for g0).
 *
 * ThreadSanitizer (--enable-tsan) keeps a vector clock per thread; a
 * goroutine moving between threads, or two goroutines sharing one, would
 * be taken for the thread.  Each goroutine is a TSan fiber (created at its
 * first run, kept with its G record, which reuses it), each M's g0 is its
 * thread's own, and every switch is announced with __tsan_switch_to_fiber.
 * The switch synchronises (flags 0): what a goroutine did before it
 * parked happens before what the scheduler does next on that thread, and
 * that before the next goroutine it runs; the runtime's own locks and
 * atomics (all instrumented) carry the edges between threads, so a
 * channel send happens before the receive it completes, a goro_mutex
 * unlock before the next lock, goro_go before the goroutine's first
 * instruction.  Two goroutines on different threads with no such edge are
 * reported.  The fiber handles live in the fields ASan uses for its fake
 * stacks (the two sanitizers never share a build).
 *
 * Without --enable-sanitizers or --enable-tsan the ASan hooks stay, each
 * behind one test of whether ASan's runtime is in the process (a program
 * built with -fsanitize=address linked against the plain library); the
 * TSan ones need an instrumented library and compile to nothing.
 */
#ifndef GORO_SANITIZER_H
#define GORO_SANITIZER_H

#include "runtime.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>

static inline void sanitizer_switch_begin(struct m *m, struct g *from,
					  struct g *to, bool from_dying)
{
	(void)from;
	(void)from_dying;
	void *fiber = m->san.fiber;  /* g0: the thread's own */
	if (to) {
		if (!to->san.fiber)
			to->san.fiber = __tsan_create_fiber(0);
		fiber = to->san.fiber;
	}
	__tsan_switch_to_fiber(fiber, 0);
}
static inline void sanitizer_switch_end(struct m *m) { (void)m; }
static inline void sanitizer_stack_fresh(void *lo, size_t size)
{
	(void)lo; (void)size;
}
static inline void sanitizer_thread_init(struct m *m)
{
	m->san.fiber = __tsan_get_current_fiber();
}

#else

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define asan_in_process() true
#else
/*
 * A plain libgoro in a program built with -fsanitize=address: ASan's
 * runtime is in the process all the same, and its fast unwinder (the
 * stacks of malloc and free in its reports) stops at the first frame
 * outside the stack it believes current, so it is told of each switch
 * as in an ASan build.  Weak references: null, and every hook a
 * predicted branch, in a process without ASan.
 */
#include <stddef.h>
extern void __sanitizer_start_switch_fiber(void **fake_stack_save,
					   const void *bottom, size_t size)
	__attribute__((weak));
extern void __sanitizer_finish_switch_fiber(void *fake_stack_save,
					    const void **bottom_old,
					    size_t *size_old)
	__attribute__((weak));
extern void __asan_unpoison_memory_region(void const volatile *addr,
					  size_t size) __attribute__((weak));
#define asan_in_process() (__sanitizer_start_switch_fiber != NULL)
#endif

static inline void sanitizer_switch_begin(struct m *m, struct g *from,
					  struct g *to, bool from_dying)
{
	if (!asan_in_process())
		return;
	const void *bottom;
	size_t size;
	if (to) {
		bottom = to->stack.lo;
		size = (size_t)((char *)to->stack.hi - (char *)to->stack.lo);
	} else {
		bottom = m->san.g0_stack_lo;
		size = m->san.g0_stack_size;
	}
	void **save = from_dying ? NULL
		    : from ? &from->san.fiber : &m->san.fiber;
	__sanitizer_start_switch_fiber(save, bottom, size);
}

static inline void sanitizer_switch_end(struct m *m)
{
	if (!asan_in_process())
		return;
	void *fake = m->curg ? m->curg->san.fiber : m->san.fiber;
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
}

/* A recycled stack may still carry poison from its previous goroutine. */
static inline void sanitizer_stack_fresh(void *lo, size_t size)
{
	if (asan_in_process())
		__asan_unpoison_memory_region(lo, size);
}

void sanitizer_thread_init(struct m *m);

#endif
#endif
