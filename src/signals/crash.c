/* SPDX-License-Identifier: MIT */
/*
 * crash.c — SIGQUIT dumps and fatal-signal reports, as Go prints them.
 *
 * SIGQUIT: every goroutine to stderr, exit status 2.
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT in goroutine code:
 *
 *	fatal error: unexpected signal
 *	[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x...]
 *
 *	goroutine 5 "parser" [running]:
 *	...
 *
 * then the other goroutines as GORO_TRACEBACK says (none: no goroutine,
 * single: the faulting one, all: every one, crash: every one and a core
 * dump instead of exit status 2).
 *
 * Chaining with the application's handlers:
 *  - SIGQUIT is taken when its disposition is the default or ignored
 *    when goro_main starts, as Go does: `cmd &` in a shell starts the
 *    program with SIGQUIT ignored, and its dump must not be lost.  A
 *    program that really wants SIGQUIT ignored runs with
 *    GORO_SIGQUIT=ignore (an ignored SIGQUIT then stays ignored), or sets
 *    SIG_IGN itself after goro_main has started.  A handler the program
 *    installed before goro_main keeps SIGQUIT.
 *  - A fatal signal for which the application installed a handler before
 *    goro_main goes to that handler, wherever it happens: the program may
 *    mean to handle it (guard pages of its own, its own crash reporter).
 *    Without one, a signal on one of goro's threads gets the report above,
 *    and one on any other thread the default action.
 *  - A handler the application installs after goro_main replaces goro's
 *    for that signal; it can call goro_dump() itself.
 *  - SIGSEGV and SIGBUS belong to the stack-growth handler
 *    (src/signals/stack_fault.c): it forwards to the application's handler in
 *    the same way, reports every other fault that is not stack growth with
 *    crash_report() (on any thread), and ends its stack-overflow report
 *    with crash_goroutines().
 * Everything below runs in signal handlers: no allocation, no stdio.
 * (The file:line in a report comes from a forked copy of the process,
 * which may allocate: see dump_fatal in src/debug/dump.c.)
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "dump.h"
#include "runtime.h"
#include "signal_install.h"

/* SIGSEGV and SIGBUS are the stack-fault handler's (stack_fault.c): it
 * sends the faults that are not stack growth to crash_report(). */
static const int fatal_signals[] = {
	SIGFPE, SIGILL, SIGABRT, SIGQUIT,
};
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

/* The dispositions found at install time, to forward to. */
static struct sigaction previous[NFATAL];
static atomic_bool install_done;

static _Atomic pid_t crashing_tid;
static struct dump_out crash_out;

static int signal_index(int sig)
{
	for (size_t i = 0; i < NFATAL; i++)
		if (fatal_signals[i] == sig)
			return (int)i;
	return -1;
}

static const char *signal_description(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV: segmentation violation";
	case SIGBUS: return "SIGBUS: bus error";
	case SIGFPE: return "SIGFPE: floating-point exception";
	case SIGILL: return "SIGILL: illegal instruction";
	case SIGABRT: return "SIGABRT: abort";
	case SIGQUIT: return "SIGQUIT: quit";
	default: return "signal";
	}
}

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Give the signal its default action: synchronous faults simply return
 * and fault again; the others are raised again. */
static void die_by_default(int sig)
{
	signal_set_default(sig);
	syscall(SYS_tgkill, getpid(), current_tid(), sig);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* The handler the application had installed, if any: true if it ran. */
static bool forward(int sig, siginfo_t *info, void *uc)
{
	return signal_forward(&previous[signal_index(sig)], sig, info, uc);
}

/* Only one thread reports; a fault inside the report ends it.  Returns
 * in the thread that reports. */
static void claim_report(void)
{
	pid_t me = current_tid();
	pid_t first = 0;
	if (!atomic_compare_exchange_strong(&crashing_tid, &first, me)) {
		if (first == me) {
			/* Faulted while reporting: say so, and stop. */
			static const char msg[] =
				"\n[fault while printing the crash report]\n";
			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
			_exit(2);
		}
		/* Another thread reports; it ends the process. */
		for (;;)
			pause();
	}
}

/* The goroutines as GORO_TRACEBACK says, then the end. */
static _Noreturn void report_goroutines(int sig, ucontext_t *ctx)
{
	struct dump_out *o = &crash_out;
	o->fd = STDERR_FILENO;
	o->len = 0;
	enum traceback_level level = config.traceback;
	if (level != TRACEBACK_NONE)
		dump_fatal(o, ctx, sig == SIGQUIT || level >= TRACEBACK_ALL);
	if (level == TRACEBACK_CRASH)
		die_by_default(sig == SIGQUIT ? SIGABRT : sig);
	_exit(2);
}

_Noreturn void crash_goroutines(int sig, void *uc)
{
	claim_report();
	report_goroutines(sig, uc);
}

_Noreturn void crash_report(int sig, siginfo_t *info, void *uc)
{
	claim_report();
	struct dump_out *o = &crash_out;
	o->fd = STDERR_FILENO;
	o->len = 0;
	ucontext_t *ctx = uc;
	uint64_t pc = (uint64_t)ctx->uc_mcontext.gregs[REG_RIP];
	struct m *m = m_current();
	if (sig == SIGQUIT) {
		out_str(o, signal_description(sig));
		out_str(o, "\nPC=");
		out_hex(o, pc);
		out_str(o, " m=");
		out_dec(o, m ? m->id : -1);
		out_str(o, "\n\n");
	} else {
		out_str(o, "fatal error: unexpected signal\n[signal ");
		out_str(o, signal_description(sig));
		out_str(o, " code=");
		out_hex(o, (uint64_t)(unsigned)info->si_code);
		out_str(o, " addr=");
		out_hex(o, (uint64_t)(uintptr_t)info->si_addr);
		out_str(o, " pc=");
		out_hex(o, pc);
		out_str(o, "]\n\n");
	}
	out_flush(o);
	report_goroutines(sig, ctx);
}

static void fatal_handler(int sig, siginfo_t *info, void *uc)
{
	bool running = atomic_load_explicit(&sched.running,
					    memory_order_relaxed);
	if (sig == SIGQUIT) {
		/* From outside, on any thread: about the whole process. */
		if (running)
			crash_report(sig, info, uc);
		die_by_default(sig);
		return;
	}
	if (forward(sig, info, uc))
		return;
	if (running && m_current())
		crash_report(sig, info, uc);
	die_by_default(sig);
}

int crash_install(void)
{
	if (atomic_exchange(&install_done, true))
		return 0;
	int err = dump_install();
	if (err)
		return err;
	for (size_t i = 0; i < NFATAL; i++) {
		int sig = fatal_signals[i];
		err = signal_query(sig, &previous[i]);
		if (err)
			return err;
		if (sig == SIGQUIT && previous[i].sa_handler != SIG_DFL &&
		    (previous[i].sa_handler != SIG_IGN || config.sigquit_ignore))
			continue;  /* the application's own */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fatal_handler;
		/* NODEFER: a fault inside the report re-enters the handler,
		 * which notices and stops, rather than the kernel killing us
		 * silently. */
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigfillset(&sa.sa_mask);
		sigdelset(&sa.sa_mask, SIGSEGV);
		sigdelset(&sa.sa_mask, SIGBUS);
		err = signal_install(sig, &sa, NULL);
		if (err)
			return err;
	}
	return 0;
}
