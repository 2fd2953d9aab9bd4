/* SPDX-License-Identifier: MIT */
/*
 * retake.h — sysmon's jobs for goroutines stuck in the kernel: take Ps back
 * from Ms in annotated blocking calls, from Ms silently blocked in plain
 * system calls, and poll the network when nobody has for a while.
 */
#ifndef GORO_RETAKE_H
#define GORO_RETAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

/*
 * One sysmon round's share (sysmon calls it every round, no lock held).
 * `now` is the round's goro_now(); *wake is lowered to the time these jobs
 * want to look again.  Returns true if it acted (sysmon then keeps its
 * delay short).
 */
bool retake_round(int64_t now, int64_t *wake);
/* Forget per-P observations (sysmon start). */
void retake_reset(void);

/*
 * The scheduler's side of a silent-blocking hand-off.  While its thread
 * slept in the kernel, sysmon gave the M's P to another M and left the M a
 * spare P (p->spare) to finish with.  At its next scheduling point the M
 * calls this (on g0): the spare's goroutines, timers and caches go back to
 * the shared pool and the spare is released; the M then holds its original
 * P again if sysmon did not hand it on after all, else no P.
 */
void retake_spare_release(struct m *m);

/* Free the spare Ps (end of goro_main, every M gone). */
void retake_free_spares(void);

#endif
