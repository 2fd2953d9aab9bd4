/* SPDX-License-Identifier: MIT */
/*
 * crash.h — what happens when a goroutine program dies of a signal, or is
 * asked for its goroutines with SIGQUIT (Go's behaviour, GORO_TRACEBACK as
 * GOTRACEBACK).
 */
#ifndef GORO_CRASH_H
#define GORO_CRASH_H

#include <signal.h>

/* Install the SIGQUIT and fatal-signal handlers and the dump capture
 * signal (once per process; later calls do nothing).  0 or -errno. */
int crash_install(void);

/*
 * Print the report of a fatal signal in goroutine code — "fatal error:
 * unexpected signal", the signal, the faulting address, the goroutine's
 * frames, then the others as GORO_TRACEBACK says — and end the process
 * (exit status 2, or a core dump with GORO_TRACEBACK=crash).  For handlers
 * of other subsystems (the stack-fault handler) that find a fault is not
 * theirs.  Async-signal-safe.
 */
_Noreturn void crash_report(int sig, siginfo_t *info, void *uc);

/* What a fatal report with first lines of its own (a goroutine exceeding
 * its stack limit) prints after them: the goroutine interrupted in uc,
 * then the others as GORO_TRACEBACK says; then the end, as crash_report.
 * Async-signal-safe. */
_Noreturn void crash_goroutines(int sig, void *uc);

#endif
