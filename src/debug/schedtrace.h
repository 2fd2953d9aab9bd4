/* SPDX-License-Identifier: MIT */
/*
 * schedtrace.h — GORO_DEBUG=schedtrace: the scheduler trace thread
 * (schedtrace.c).  Both calls are goro_main's.
 */
#ifndef GORO_SCHEDTRACE_H
#define GORO_SCHEDTRACE_H

/* Start the trace thread if GORO_DEBUG asked for one: 0 or -errno. */
int schedtrace_start(void);
/* Stop it (before the Ms it reads are freed); nothing if not started. */
void schedtrace_stop(void);

#endif
