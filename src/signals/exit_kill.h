/* SPDX-License-Identifier: MIT */
/*
 * exit_kill.h — program exit: pulling the Ms whose goroutine sits in a
 * system call out of it, so that they leave (src/signals/exit_kill.c).
 */
#ifndef GORO_EXIT_KILL_H
#define GORO_EXIT_KILL_H

#include <signal.h>
#include <stdbool.h>

struct m;

/* Ask m to drop its goroutine if that goroutine sits in a system call:
 * sends m's thread the runtime's signal with the exit cookie.  Only with
 * sched.exiting set.  True if the signal was sent. */
bool exit_kill_request(struct m *m);

/* The preemption signal handler's first question: is this the exit
 * signal?  If so it calls exit_kill_handle(ucontext) and returns. */
bool exit_kill_from_runtime(const siginfo_t *si);
/* In the handler: if the thread was interrupted in a system call made by
 * its goroutine (holding no runtime lock), make it abandon that goroutine
 * and return to its scheduler stack once the handler returns; otherwise
 * change nothing. */
void exit_kill_handle(void *ucontext);

/* Draining (sched_exit_drain): while m runs on the goroutine it had
 * abandoned inside foreign code, a timer sends its thread the exit signal
 * every EXIT_DRAIN_PERIOD_NS, and the handler stops the goroutine at the
 * first stop that holds no foreign lock (see exit_kill.c).  Begin: false
 * if no timer could be made.  End: false if the goroutine had to be
 * stopped in foreign code after all. */
bool exit_drain_begin(struct m *m);
bool exit_drain_end(struct m *m);

#endif
