/* SPDX-License-Identifier: MIT */
/*
 * blocking.h — goroutines inside calls that may block in the kernel
 * (goro_blocking_enter/exit, Go's entersyscall/exitsyscall), and the P
 * hand-off sysmon performs for them.
 */
#ifndef GORO_BLOCKING_H
#define GORO_BLOCKING_H

#include <stdint.h>

#include "runtime.h"

/*
 * Give p, taken from an M that cannot use it now, to whoever should have
 * it: a stop-the-world in progress, an M to run its work, or the idle list.
 * p's status must already have been moved off P_SYSCALL/P_RUNNING by the
 * caller (sysmon).  Callable from any thread, no runtime lock held.
 */
void p_handoff(struct p *p);

#endif
