/* SPDX-License-Identifier: MIT */
/*
 * stack_fault.h — the SIGSEGV/SIGBUS handler installed for the lifetime of
 * goro_main: it grows goroutine stacks, reports a goroutine that overflows
 * its limit, and hands every other fault to the application's own handler
 * (or reports it as a crash).
 */
#ifndef GORO_STACK_FAULT_H
#define GORO_STACK_FAULT_H

#include <signal.h>

/* At goro_main start / end: install the handler (keeping the previous
 * ones), restore the previous ones.  0 or a negative errno. */
int stack_fault_install(void);
void stack_fault_remove(void);

#endif
