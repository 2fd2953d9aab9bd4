/* SPDX-License-Identifier: MIT */
/*
 * signal_stack.h — each M's alternate signal stack.  Preemption signals
 * and stack-growth faults are handled there: never on a goroutine's stack,
 * which may be the very thing that overflowed.
 */
#ifndef GORO_SIGNAL_STACK_H
#define GORO_SIGNAL_STACK_H

#include <signal.h>
#include <stddef.h>

/* An M's alternate signal stack (struct m's `sigstack`); only its own
 * thread installs and removes it. */
struct signal_stack {
	void *mem;                   /* the mapping, guard page first; NULL
	                                when none is installed */
	size_t size;
	stack_t prev;                /* the thread's own, restored at exit */
};

/* On the calling thread.  0 or a negative errno. */
int signal_stack_install(struct signal_stack *s);
void signal_stack_remove(struct signal_stack *s);

#endif
