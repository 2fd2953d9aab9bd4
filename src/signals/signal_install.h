/* SPDX-License-Identifier: MIT */
/*
 * signal_install.h — the one place that installs the runtime's signal
 * handlers, puts the application's dispositions back, and forwards a
 * signal that is not the runtime's to the handler the application had.
 *
 * Each subsystem that owns a signal (preemption, stack faults, crash
 * reports, the dump capture, goro_signal_notify) keeps its policy and the
 * disposition it found (its `prev`); the calls to sigaction(2) and the
 * forwarding rule are here, once.
 */
#ifndef GORO_SIGNAL_INSTALL_H
#define GORO_SIGNAL_INSTALL_H

#include <signal.h>
#include <stdbool.h>

/* Install `sa` for sig; the disposition found there goes to *prev (NULL:
 * not kept).  0 or -errno. */
int signal_install(int sig, const struct sigaction *sa,
		   struct sigaction *prev);
/* The disposition sig has now, without changing it.  0 or -errno. */
int signal_query(int sig, struct sigaction *now);
/* Put back a disposition found by signal_install or signal_query. */
void signal_restore(int sig, const struct sigaction *prev);
/* Run the application's handler `prev` (found when the runtime installed
 * its own) for a signal that is not the runtime's: true if it ran, false
 * if prev is the default action or ignores the signal.
 * Async-signal-safe. */
bool signal_forward(const struct sigaction *prev, int sig, siginfo_t *info,
		    void *uc);
/* Give sig its default action from now on (a fatal report ending the
 * process as the kernel would).  Async-signal-safe. */
void signal_set_default(int sig);

#endif
