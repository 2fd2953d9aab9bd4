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

#endif
