/*
 * stack_fault.c — SIGSEGV/SIGBUS: stack growth, stack overflow, and the
 * faults that are neither.
 *
 * A goroutine touching the growth guard below its committed segments is
 * not an error: the handler (on the M's alternate signal stack, since the
 * goroutine's own stack is the thing that ran out) opens the next segment
 * and returns, and the faulting instruction runs again.  The stack is found
 * from the M: its running goroutine, or the one it is switching away from
 * (m->prev_g), whose stack is still in use until the switch completes.  A
 * fault past the goroutine's limit is a fatal, named overflow with its
 * frames.  Anything else goes to the handler the application had installed
 * before goro_main, or is reported as a crash.
 *
 * Only system calls and libunwind run here: no locks, no allocation.
 * libunwind is warmed up at install so that its first-use setup does not
 * happen inside the handler.
 */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "config.h"
#include "runtime.h"
#include "stack.h"
#include "stack_fault.h"

#define OVERFLOW_FRAMES 50

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

/* The frames of the goroutine interrupted by the fault. */
static void print_frames(void *uctx)
{
	unw_cursor_t cursor;
	if (unw_init_local2(&cursor, (unw_context_t *)uctx,
			    UNW_INIT_SIGNAL_FRAME) < 0) {
		fault_print("\t(no frames: unwinding failed)\n");
		return;
	}
	int shown = 0, elided = 0;
	do {
		if (shown == OVERFLOW_FRAMES) {
			elided++;
			continue;
		}
		unw_word_t pc = 0, off = 0;
		char name[128];
		unw_get_reg(&cursor, UNW_REG_IP, &pc);
		if (unw_get_proc_name(&cursor, name, sizeof(name), &off) == 0)
			fault_print("%s+0x%lx\n\tpc=0x%lx\n", name,
				    (unsigned long)off, (unsigned long)pc);
		else
			fault_print("?\n\tpc=0x%lx\n", (unsigned long)pc);
		shown++;
	} while (unw_step(&cursor) > 0);
	if (elided)
		fault_print("...%d more frames...\n", elided);
}

static _Noreturn void stack_overflow_fatal(struct g *g, void *uctx)
{
	const ucontext_t *uc = uctx;
	fault_print("fatal error: goroutine %lld \"%s\" stack exceeds %zu-byte "
		    "limit\n", (long long)g->id, g->name, g->stack.max);
	fault_print("sp=0x%llx stack=[0x%lx, 0x%lx] (the limit: goro_attr_t "
		    "stack_max, or GORO_STACK_MAX)\n",
		    (unsigned long long)uc->uc_mcontext.gregs[REG_RSP],
		    (unsigned long)g->stack.lo, (unsigned long)g->stack.hi);
	if (config.traceback != TRACEBACK_NONE) {
		fault_print("\ngoroutine %lld \"%s\" [running]:\n",
			    (long long)g->id, g->name);
		print_frames(uctx);
	}
	_exit(2);
}

_Noreturn void crash_unexpected_signal(int sig, siginfo_t *si, void *uctx)
{
	const ucontext_t *uc = uctx;
	struct g *g = g_current();
	fault_print("fatal error: unexpected signal\n"
		    "[signal %s: %s code=0x%x addr=0x%lx pc=0x%llx]\n",
		    sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
		    sig == SIGBUS ? "bus error" : "segmentation violation",
		    si->si_code, (unsigned long)si->si_addr,
		    (unsigned long long)uc->uc_mcontext.gregs[REG_RIP]);
	if (g) {
		fault_print("\ngoroutine %lld \"%s\" [running]:\n",
			    (long long)g->id, g->name);
		if (config.traceback != TRACEBACK_NONE)
			print_frames(uctx);
	}
	_exit(2);
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
		uintptr_t addr = (uintptr_t)si->si_addr;
		struct g *candidates[2] = { m->curg, m->prev_g };
		for (int i = 0; i < 2; i++) {
			struct g *g = candidates[i];
			if (!g)
				continue;
			switch (stack_fault_classify(&g->stack, addr)) {
			case STACK_FAULT_GROW: {
				int err = stack_grow(&g->stack, addr);
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
				stack_overflow_fatal(g, uctx);
			case STACK_FAULT_NOT_OURS:
				break;
			}
		}
	}
	if (chain_previous(sig, si, uctx)) {
		errno = saved_errno;
		return;
	}
	crash_unexpected_signal(sig, si, uctx);
}

/* Resolve libunwind's lazily initialised state (its lock, the list of
 * loaded objects) now, not in the handler.  No unw_step: its memory
 * validation probes trouble valgrind, and nothing it sets up is needed
 * before a fatal report. */
static void unwind_warm_up(void)
{
	unw_context_t ctx;
	unw_cursor_t cursor;
	char name[64];
	unw_word_t off;
	unw_getcontext(&ctx);
	if (unw_init_local(&cursor, &ctx) == 0)
		unw_get_proc_name(&cursor, name, sizeof(name), &off);
}

int stack_fault_install(void)
{
	unwind_warm_up();
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
