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
/* In the preemption signal's handler while the program exits, for the
 * exit signal (exit_signal) and for a preemption request alike: if the
 * goroutine stands where it may be abandoned (see exit_kill.c), make it
 * abandon that goroutine and return to its scheduler stack once the
 * handler returns.  True if the signal was dealt with here (abandoned, or
 * left to run on inside a library until asked again); false to leave it
 * to the preemption path. */
bool exit_kill_handle(void *ucontext, bool exit_signal);
/* At the exit's start: goroutines in library code get EXIT_DRAIN_NS from
 * now to reach a stop that holds no lock of it. */
void exit_kill_begin(void);

/* Draining M0's goroutine (sched_exit_drain): while M0 runs on the
 * goroutine it had abandoned inside library code, a timer sends it the
 * exit signal every EXIT_DRAIN_PERIOD_NS, with EXIT_DRAIN_NS more to reach
 * such a stop (other Ms are asked by M0 itself).  Begin: false if no timer
 * could be made. */
bool exit_drain_begin(struct m *m);
void exit_drain_end(void);

#endif
