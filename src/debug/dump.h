/* SPDX-License-Identifier: MIT */
/*
 * dump.h — printing every goroutine in Go's format (docs/architecture.md), from a
 * goroutine (goro_dump) or from a signal handler (SIGQUIT, crashes).
 *
 * Goroutines running on other Ms are stopped for the dump: their M is sent
 * DUMP_CAPTURE_SIGNAL, whose handler records the registers and waits until
 * the dump is over (for a fatal dump: forever).  An M that does not answer
 * within DUMP_CAPTURE_TIMEOUT_NS (five times that in a fatal dump) is
 * reported as "running on other thread".
 */
#ifndef GORO_DUMP_H
#define GORO_DUMP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "goformat.h"

/* The signal that stops an M for a dump: a real-time one, so it is
 * queued and never confused with SIGURG (preemption).  SIGRTMIN+0..2
 * belong to glibc's threads implementation; goro takes SIGRTMIN+3. */
#define DUMP_CAPTURE_SIGNAL (SIGRTMIN + 3)
#define DUMP_CAPTURE_TIMEOUT_NS (200 * 1000 * 1000)


/*
 * The dump a fatal signal prints, on the signalled thread: the goroutine
 * it interrupted (registers in uc) first, then, with `others`, every other
 * goroutine.  Other Ms stay stopped afterwards: the caller is about to end
 * the process.  With file:line where a forked copy of the process can
 * symbolize it (src/signals/snapshot.h); otherwise names from libunwind only,
 * printed by the handler itself (libdw allocates).
 */
void dump_fatal(struct dump_out *o, ucontext_t *uc, bool others);

/* Install the capture signal's handler (once per process). */
int dump_install(void);

#endif
