/* SPDX-License-Identifier: MIT */
/*
 * text_ranges.h — which code is libgoro's, which of libgoro's frames are
 * mere call-outs to application code, and which application code has been
 * declared thread-agnostic.
 *
 * The preemption handler asks two questions of an interrupted goroutine:
 *
 *  1. Is a runtime activation live on its stack?  libgoro's code may keep
 *     its P, its M or a run-queue slot in a register across any call it
 *     makes (into jemalloc, libc, the vDSO), so a goroutine with a libgoro
 *     frame anywhere on its stack is never stopped — not even on its own
 *     thread.  A return address into libgoro that follows a call
 *     instruction marks such a frame.  The frames through which libgoro
 *     calls application code and never touches scheduler state afterwards
 *     (goro_start, the main goroutine, goro_once) live in their own section,
 *     `goro_callout`, and do not count.
 *  2. May it move to another thread?  Only when its PC is in code that the
 *     application declared thread-agnostic (GORO_THREAD_AGNOSTIC, or
 *     goro_thread_agnostic_register); otherwise it resumes on its own thread.
 *
 * Nothing here calls dl_iterate_phdr after goro_main's start, so no
 * runtime thread ever waits for the loader's lock, which application code
 * may hold (a dl_iterate_phdr callback, a constructor run by dlopen).
 */
#ifndef GORO_TEXT_RANGES_H
#define GORO_TEXT_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Locate libgoro's code (once per process; cheap afterwards).  0, or
 * -ENOEXEC when libgoro's code cannot be told from the application's. */
int text_ranges_init(void);

/* Is pc in libgoro (call-out frames included)?  Async-signal-safe. */
bool text_is_runtime(uintptr_t pc);

/* Is pc in the executable's own code, libgoro's aside (a static link)?
 * Known once text_ranges_init has run.  Async-signal-safe. */
bool text_is_program(uintptr_t pc);

/* Is pc in code declared thread-agnostic?  Async-signal-safe. */
bool text_is_agnostic(uintptr_t pc);

/* Does any of the n words hold the return address of a live libgoro
 * activation (other than a call-out frame)?  Async-signal-safe; reads the
 * code before each candidate address, which lies in libgoro. */
bool text_runtime_frame_in(const uintptr_t *words, size_t n);

/* False when libgoro's code could not be located (see text_ranges_init). */
bool text_ranges_runtime_separable(void);

#endif
