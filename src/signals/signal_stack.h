/* SPDX-License-Identifier: MIT */
/*
 * signal_stack.h — each M's alternate signal stack.  Preemption signals
 * and stack-growth faults are handled there: never on a goroutine's stack,
 * which may be the very thing that overflowed.
 */
#ifndef GORO_SIGNAL_STACK_H
#define GORO_SIGNAL_STACK_H

struct m;

int signal_stack_install(struct m *m);
void signal_stack_remove(struct m *m);

#endif
