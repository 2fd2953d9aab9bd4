/* SPDX-License-Identifier: MIT */
/*
 * signal_install.c — the only file that calls sigaction(2).
 *
 * Why one file: the runtime owns several signals (SIGURG for preemption,
 * SIGSEGV and SIGBUS for stack growth, the fatal signals and SIGQUIT for
 * crash reports, a real-time signal for the dump capture, and whatever
 * goro_signal_notify is asked for), and each must hand what is not its own
 * to the handler the application installed before.  The rule for that
 * hand-over (a SA_SIGINFO handler gets the siginfo and context, a plain
 * one the number, SIG_DFL and SIG_IGN are not run) is written here once,
 * so that every owner forwards the same way.
 *
 * Invariants: no other file of the library calls sigaction(2); everything
 * here that runs inside a handler (signal_forward, signal_set_default) is
 * async-signal-safe.
 */
#include <errno.h>
#include <string.h>

#include "signal_install.h"

int signal_install(int sig, const struct sigaction *sa, struct sigaction *prev)
{
	return sigaction(sig, sa, prev) != 0 ? -errno : 0;
}

int signal_query(int sig, struct sigaction *now)
{
	return sigaction(sig, NULL, now) != 0 ? -errno : 0;
}

void signal_restore(int sig, const struct sigaction *prev)
{
	sigaction(sig, prev, NULL);
}

bool signal_forward(const struct sigaction *prev, int sig, siginfo_t *info,
		    void *uc)
{
	if (prev->sa_flags & SA_SIGINFO) {
		if (!prev->sa_sigaction)
			return false;
		prev->sa_sigaction(sig, info, uc);
		return true;
	}
	if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN)
		return false;
	prev->sa_handler(sig);
	return true;
}

void signal_set_default(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
}
