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

/* A fault that is neither stack growth nor stack overflow, with no
 * application handler to pass it to: report it and exit with status 2. */
_Noreturn void crash_unexpected_signal(int sig, siginfo_t *si, void *uctx);

#endif
