/* SPDX-License-Identifier: MIT */
/*
 * stack_fault.c — SIGSEGV/SIGBUS: stack growth, stack overflow, and the
 * faults that are neither.
 *
 * A goroutine touching the guards below its committed segments is not an
 * error: the handler (on the M's alternate signal stack, since the
 * goroutine's own stack is the thing that ran out) opens segments down to
 * the fault or to the interrupted stack pointer less the red zone,
 * whichever is lower (a large frame may have written anywhere above its
 * stack pointer before meeting a guard), and returns, and the faulting
 * instruction runs again.  The stack is found
 * from the M: its running goroutine, or the one it is switching away from
 * (m->prev_g), whose stack is still in use until the switch completes.  A
 * fault past the goroutine's limit is a fatal, named overflow with its
 * frames.  Anything else goes to the handler the application had installed
 * before goro_main, or is reported as a crash.
 *
 * Only system calls and the crash report (signals/crash.c, which unwinds
 * with libunwind, warmed up at goro_main) run here: no locks, no
 * allocation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "runtime.h"
#include "stack.h"
#include "stack_fault.h"

static struct sigaction prev_segv, prev_bus;

/* Formatted write to stderr without stdio's buffers or locks. */
static void fault_print(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void fault_print(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	for (int off = 0; n > off;) {
		ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
		if (w <= 0)
			break;
		off += (int)w;
	}
}

static _Noreturn void stack_overflow_fatal(struct g *g, uintptr_t addr,
					   void *uctx)
{
	const ucontext_t *uc = uctx;
	fault_print("fatal error: goroutine %lld \"%s\" stack exceeds %zu-byte "
		    "limit\n", (long long)g->id, g->name, g->stack.max);
	fault_print("addr=0x%lx sp=0x%llx stack=[0x%lx, 0x%lx] (the limit: "
		    "goro_attr_t stack_max, or GORO_STACK_MAX)\n", addr,
		    (unsigned long long)uc->uc_mcontext.gregs[REG_RSP],
		    (unsigned long)g->stack.lo, (unsigned long)g->stack.hi);
	fault_print("\n");
	crash_goroutines(SIGSEGV, uctx);
}

/* The application's handler from before goro_main, if it had one. */
static bool chain_previous(int sig, siginfo_t *si, void *uctx)
{
	const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
	if (prev->sa_flags & SA_SIGINFO) {
		if (!prev->sa_sigaction)
			return false;
		prev->sa_sigaction(sig, si, uctx);
		return true;
	}
	if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN)
		return false;
	prev->sa_handler(sig);
	return true;
}

static void stack_fault_handler(int sig, siginfo_t *si, void *uctx)
{
	int saved_errno = errno;
	struct m *m = m_current();
	if (sig == SIGSEGV && m) {
		uintptr_t addr = (uintptr_t)si->si_addr, need = 0;
		uintptr_t sp = (uintptr_t)((const ucontext_t *)uctx)->
			uc_mcontext.gregs[REG_RSP];
		struct g *candidates[2] = { m->curg, m->prev_g };
		for (int i = 0; i < 2; i++) {
			struct g *g = candidates[i];
			if (!g)
				continue;
			switch (stack_fault_classify(&g->stack, addr, sp,
						     &need)) {
			case STACK_FAULT_GROW: {
				int err = stack_grow(&g->stack, need);
				if (err == 0) {
					errno = saved_errno;
					return;
				}
				fault_print("fatal error: cannot grow the stack "
					    "of goroutine %lld \"%s\" to %zu "
					    "bytes: %s\n", (long long)g->id,
					    g->name, g->stack.committed * 2,
					    strerror(-err));
				_exit(2);
			}
			case STACK_FAULT_OVERFLOW:
				stack_overflow_fatal(g, addr, uctx);
			case STACK_FAULT_NOT_OURS:
				break;
			}
		}
	}
	if (chain_previous(sig, si, uctx)) {
		errno = saved_errno;
		return;
	}
	crash_report(sig, si, uctx);
}

int stack_fault_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = stack_fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &prev_segv) != 0)
		return -errno;
	if (sigaction(SIGBUS, &sa, &prev_bus) != 0) {
		int err = -errno;
		sigaction(SIGSEGV, &prev_segv, NULL);
		return err;
	}
	return 0;
}

void stack_fault_remove(void)
{
	sigaction(SIGSEGV, &prev_segv, NULL);
	sigaction(SIGBUS, &prev_bus, NULL);
}
