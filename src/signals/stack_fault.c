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
 * Only system calls and the crash report (src/signals/crash.c, which unwinds
 * with libunwind, warmed up at goro_main) run here: no locks, no
 * allocation.
 */
#include <errno.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "dump.h"
#include "runtime.h"
#include "signal_install.h"
#include "stack.h"
#include "stack_fault.h"

static struct sigaction prev_segv, prev_bus;

/* `goroutine N "name"` on stderr, with the dump's allocation-free writer
 * (no stdio in a signal handler), after the words `start`. */
static void fault_start(struct dump_out *o, const char *start,
			const struct g *g)
{
	char name[G_NAME_MAX];
	memcpy(name, g->name, sizeof(name));
	name[G_NAME_MAX - 1] = '\0';
	o->fd = STDERR_FILENO;
	o->len = 0;
	out_str(o, start);
	out_str(o, "goroutine ");
	out_dec(o, g->id);
	out_str(o, " \"");
	out_str(o, name);
	out_str(o, "\"");
}

static _Noreturn void stack_overflow_fatal(struct g *g, uintptr_t addr,
					   void *uctx)
{
	const ucontext_t *uc = uctx;
	struct dump_out o;
	fault_start(&o, "fatal error: ", g);
	out_str(&o, " stack exceeds ");
	out_dec(&o, (int64_t)g->stack.max);
	out_str(&o, "-byte limit\naddr=");
	out_hex(&o, addr);
	out_str(&o, " sp=");
	out_hex(&o, arch_mc_sp(&uc->uc_mcontext));
	out_str(&o, " stack=[");
	out_hex(&o, (uint64_t)g->stack.lo);
	out_str(&o, ", ");
	out_hex(&o, (uint64_t)g->stack.hi);
	out_str(&o, "] (the limit: goro_attr_t stack_max, or GORO_STACK_MAX)"
		"\n\n");
	out_flush(&o);
	crash_goroutines(SIGSEGV, uctx);
}

static _Noreturn void stack_grow_fatal(struct g *g, int err)
{
	struct dump_out o;
	fault_start(&o, "fatal error: cannot grow the stack of ", g);
	out_str(&o, " to ");
	out_dec(&o, (int64_t)(g->stack.committed * 2));
	out_str(&o, " bytes: ");
	const char *why = strerrordesc_np(-err);
	out_str(&o, why ? why : "unknown error");
	out_str(&o, "\n");
	out_flush(&o);
	_exit(2);
}

/* The application's handler from before goro_main, if it had one. */
static bool chain_previous(int sig, siginfo_t *si, void *uctx)
{
	return signal_forward(sig == SIGBUS ? &prev_bus : &prev_segv, sig, si,
			      uctx);
}

static void stack_fault_handler(int sig, siginfo_t *si, void *uctx)
{
	int saved_errno = errno;
	struct m *m = m_current();
	if (sig == SIGSEGV && m) {
		uintptr_t addr = (uintptr_t)si->si_addr, need = 0;
		const ucontext_t *uc = uctx;
		uintptr_t sp = arch_mc_sp(&uc->uc_mcontext);
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
				stack_grow_fatal(g, err);
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
	int err = signal_install(SIGSEGV, &sa, &prev_segv);
	if (err)
		return err;
	err = signal_install(SIGBUS, &sa, &prev_bus);
	if (err)
		signal_restore(SIGSEGV, &prev_segv);
	return err;
}

void stack_fault_remove(void)
{
	signal_restore(SIGSEGV, &prev_segv);
	signal_restore(SIGBUS, &prev_bus);
}
