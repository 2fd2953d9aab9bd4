/* SPDX-License-Identifier: MIT */
/*
 * traceback.h — unwinding goroutine stacks inside this process, with
 * libunwind's local unwinder.
 *
 * Three starting points: a goroutine switched out (its saved switch frame,
 * arch.h), registers captured by a signal (a crash, or a running goroutine
 * stopped for a dump: the PC is exact, not a return address), and
 * registers a waiting goroutine saved with unw_getcontext().  Every unwind ends at goro_start, whose CFI marks
 * the bottom of a goroutine.
 *
 * Never on a goroutine stack: libunwind blocks every signal around its
 * caches, so a stack-growth fault there would kill the process.  Unwind
 * from a signal handler (the M's alternate stack) or an ordinary thread.
 *
 * Nothing here allocates: a struct traceback is a fixed buffer, so the
 * crash handler can use one.  Optionally the function names are taken
 * from libunwind during the unwind (names = true): that is the crash path,
 * which must not call libdw; everywhere else PCs are symbolized afterwards
 * (src/debug/symbolize.h).
 */
#ifndef GORO_TRACEBACK_H
#define GORO_TRACEBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "runtime.h"

#define TRACEBACK_MAX_FRAMES 100  /* as Go's traceback */
#define TRACEBACK_NAME_MAX 96

struct traceback {
	int n;                       /* frames recorded */
	bool truncated;              /* more frames than TRACEBACK_MAX_FRAMES */
	bool names;                  /* fill name/offset from libunwind */
	uint64_t pc[TRACEBACK_MAX_FRAMES];
	/* pc[i] is exact (a faulting or interrupted instruction), not a
	 * return address: look it up as is, not at pc - 1. */
	bool exact[TRACEBACK_MAX_FRAMES];
	char name[TRACEBACK_MAX_FRAMES][TRACEBACK_NAME_MAX];
	uint64_t offset[TRACEBACK_MAX_FRAMES];
};

/* Unwind once, so that libunwind's first-use work (its setup, binding
 * its calls into libc) is done before a goroutine or a signal handler
 * needs it. */
void traceback_warmup(void);

/* A goroutine that is not running: from its saved context.  0, or -EINVAL
 * when the saved stack pointer is not inside its stack. */
int traceback_saved(const struct g *g, struct traceback *tb);

/* From registers a signal captured: pc is exact. */
int traceback_signal(ucontext_t *uc, struct traceback *tb);

/* The name of the function containing pc, from libunwind (no libdw, no
 * allocation): for the crash path's "created by" line.  0 or -ENOENT. */
int traceback_name_of(uint64_t pc, char *buf, size_t len, uint64_t *offset);

/* From registers saved by unw_getcontext() (in a function that has not
 * returned since, and whose thread waits), leaving out the `skip`
 * innermost frames (frame 0 is that function). */
int traceback_context(unw_context_t *ctx, int skip, struct traceback *tb);

#endif
