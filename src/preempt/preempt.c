/* SPDX-License-Identifier: MIT */
/*
 * preempt.c — asynchronous preemption by signal.
 *
 * Who asks: sysmon (a goroutine ran past its quantum while other work
 * waits, or runs on a spare P beside GOMAXPROCS others), stop-the-world
 * and program exit.  preempt_request() sets the goroutine's preempt flag —
 * its next runtime call yields — and, unless GORO_ASYNCPREEMPT=0, sends
 * PREEMPT_SIGNAL to its M with rt_tgsigqueueinfo and a cookie in si_value,
 * so the handler can tell the runtime's signals from anybody else's and
 * pass the others on to the application's own handler.
 *
 * The rule a C programmer relies on: a goroutine interrupted at an
 * arbitrary instruction — in its own code, libc, the vDSO, the loader, a
 * C++ catch block, any library — resumes on the same OS thread, and no other
 * goroutine runs on that thread until it makes a runtime call of its own.
 * Its P goes to another M meanwhile.  So everything tied to the thread
 * stays consistent across a preemption: allocator caches, recursive and
 * error-checking mutexes, rwlocks, the loader's lock, C++'s current
 * exception, TLS addresses kept in registers, the signal mask.  This is
 * KLT-switching: the kernel thread parks together with its goroutine.  Only
 * code the application declared thread-agnostic (GORO_THREAD_AGNOSTIC) may
 * instead be moved to another thread, by a plain switch, which is cheaper.
 *
 * The handler runs on the M's sigaltstack.  It stops the goroutine only
 * when: the M runs a goroutine still asked to stop (the request may be
 * stale), preemption is not disabled (goro_preempt_disable), the M holds
 * no runtime lock, the goroutine is not in a blocking call, the PC is not
 * in libgoro and no libgoro activation is live on the goroutine's stack
 * (runtime code may keep its P in a register across a call into libc or
 * jemalloc: src/base/text_ranges.h), and it runs on its own stack with room for
 * the trampoline's frame.  Otherwise it counts the refusal by reason and
 * leaves the flag set; sysmon asks again a quantum later.  To stop the
 * goroutine it makes it "call" goro_preempt_trampoline
 * (src/arch/x86_64/preempt.S): the interrupted RIP goes to a thread-local the
 * trampoline reads, RSP moves below the red zone and the return slot, RIP
 * becomes the trampoline.  The handler writes nothing to the goroutine's
 * stack: a stack-growth fault can then only happen in the trampoline, in
 * goroutine context, as any other fault there would — never nested in this
 * handler.  The trampoline saves every register and the extended state and
 * calls preempt_park_async, which parks the thread with the goroutine
 * (sched_preempt_klt) or, for thread-agnostic code, requeues it
 * (sched_preempt_self).
 */
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "probes.h"
#include "config.h"
#include "exit_kill.h"
#include "preempt.h"
#include "preempt_frame.h"
#include "runtime.h"
#include "scheduler.h"
#include "signal_install.h"
#include "text_ranges.h"
#include <goro.h>

#include "atomic.h"
/* Stack the trampoline and the scheduler below it need, beyond the XSAVE
 * area, between the interrupted RSP and the goroutine's stack limit. */
#define PREEMPT_STACK_NEED (8 * 1024)
/* Consecutive refusals for a libgoro word on the stack after which it is
 * taken to be stale (see safe_point). */
#define STALE_SCAN_REFUSALS 16

__thread uintptr_t preempt_resume_pc __attribute__((tls_model("initial-exec")));
/* Set by the handler beside preempt_resume_pc: the interrupted code is
 * thread-agnostic, the goroutine may move. */
static __thread bool preempt_may_migrate __attribute__((tls_model("initial-exec")));
uint64_t preempt_xsave_size;
uint64_t preempt_xcr0;
uint8_t preempt_use_xsavec;

/* si_value of the runtime's own signals. */
static const char preempt_cookie;
static pid_t self_pid;
static bool async_possible;        /* CPU and libgoro layout allow it */
static struct sigaction app_action;
static bool installed;

/* Why the handler let a goroutine run on; one counter each. */
enum outcome {
	OUT_PARKED,       /* stopped; its thread parks with it */
	OUT_MIGRATED,     /* stopped in thread-agnostic code; may move */
	OUT_STALE,
	OUT_NO_GOROUTINE,
	OUT_DISABLED,
	OUT_LOCKS,
	OUT_SYSCALL,
	OUT_RUNTIME,      /* PC in libgoro, or a libgoro frame on the stack */
	OUT_STACK,
	OUT_COUNT
};

static struct {
	_Atomic uint64_t requested;
	_Atomic uint64_t delivered;
	_Atomic uint64_t handed_off;
	_Atomic uint64_t flagged;
	_Atomic uint64_t yielded_at_io;
	_Atomic uint64_t thread_budget_held;
	_Atomic uint64_t outcome[OUT_COUNT];
} stats;

/* ---- extended state --------------------------------------------------- */

static bool xsave_setup(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	preempt_xcr0 = (uint64_t)hi << 32 | lo;
	/* EBX: size of the standard-format area for what XCR0 enables; the
	 * compacted form XSAVEC writes is never larger. */
	__cpuid_count(0xd, 0, a, b, c, d);
	preempt_xsave_size = b + 64;
	__cpuid_count(0xd, 1, a, b, c, d);
	preempt_use_xsavec = (a & (1u << 1)) != 0;
	return true;
}

/* ---- requests ----------------------------------------------------------- */

void preempt_flag(struct g *g)
{
	atomic_store_explicit(&g->preempt, true, RELAXED);
	atomic_fetch_add_explicit(&stats.flagged, 1, RELAXED);
}

void preempt_count_io_yield(void)
{
	atomic_fetch_add_explicit(&stats.yielded_at_io, 1, RELAXED);
}

void preempt_count_budget_hold(void)
{
	atomic_fetch_add_explicit(&stats.thread_budget_held, 1, RELAXED);
}

bool preempt_request(struct m *m, struct g *g)
{
	atomic_store_explicit(&g->preempt, true, RELAXED);
	if (!config.async_preempt || !async_possible)
		return false;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = PREEMPT_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = self_pid;
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)&preempt_cookie;
	if (syscall(SYS_rt_tgsigqueueinfo, self_pid, m->tid, PREEMPT_SIGNAL,
		    &si) != 0)
		return false;
	atomic_fetch_add_explicit(&stats.requested, 1, RELAXED);
	return true;
}

/* ---- the handler ------------------------------------------------------- */

static bool from_runtime(const siginfo_t *si)
{
	return si->si_code == SI_QUEUE && si->si_pid == self_pid &&
	       si->si_value.sival_ptr == (void *)&preempt_cookie;
}

static void chain_to_application(int sig, siginfo_t *si, void *uc)
{
	/* SIG_DFL for SIGURG is to ignore it. */
	(void)signal_forward(&app_action, sig, si, uc);
}

/* Is a libgoro activation live on the goroutine's stack, from sp up to
 * its top?  The stack between sp and its top is committed (it holds the
 * frames that got there). */
static bool runtime_frame_live(uintptr_t sp, uintptr_t top)
{
	return text_runtime_frame_in((const uintptr_t *)sp,
				     (top - sp) / sizeof(uintptr_t));
}

static enum outcome safe_point(struct m *m, const mcontext_t *mc)
{
	struct g *g = m ? m->curg : NULL;
	if (!g)
		return OUT_NO_GOROUTINE;
	if (!atomic_load_explicit(&g->preempt, RELAXED))
		return OUT_STALE;
	if (g->preempt_disable)
		return OUT_DISABLED;
	/* Inside a public runtime call, wherever the PC is (libc, the
	 * allocator, a sanitizer's interceptor the runtime called): the
	 * runtime may hold its P in a register. */
	if (g->runtime_depth)
		return OUT_RUNTIME;
	if (m->locks)
		return OUT_LOCKS;
	if (atomic_load_explicit(&g->status, RELAXED) != G_RUNNING)
		return OUT_SYSCALL;
	uintptr_t pc = (uintptr_t)mc->gregs[REG_RIP];
	if (text_is_runtime(pc))
		return OUT_RUNTIME;
	uintptr_t sp = (uintptr_t)mc->gregs[REG_RSP];
	uintptr_t lo = (uintptr_t)g->stack.lo, hi = (uintptr_t)g->stack.hi;
	if (sp > hi || sp < lo + PREEMPT_STACK_NEED + preempt_xsave_size)
		return OUT_STACK;
	/* A frame reaching below the open part, not grown into yet: the
	 * words between it and the open part may be guard pages, which the
	 * scan below must never touch (a fault there would be taken for
	 * growth, and the guards put back over the frame's data).  It grows
	 * at its first touch of the band; asked again then. */
	if (!g->stack.grouped && sp < hi - g->stack.committed)
		return OUT_STACK;
	/* A libgoro return address on the stack is a live runtime frame, or
	 * a stale word left in the padding of a frame.  The public calls
	 * were refused above (runtime_depth); a live frame of anything else
	 * (an interposed libc call, a callback) is short-lived; one that
	 * blocks the goroutine's preemption signal after signal is
	 * stale, and believing it would let a goroutine spinning on a lock
	 * held by a parked thread keep the P for good. */
	if (runtime_frame_live(sp, hi) &&
	    ++g->stale_scan_refusals < STALE_SCAN_REFUSALS)
		return OUT_RUNTIME;
	g->stale_scan_refusals = 0;
	return text_is_agnostic(pc) ? OUT_MIGRATED : OUT_PARKED;
}

static void preempt_signal_handler(int sig, siginfo_t *si, void *ucv)
{
	if (exit_kill_from_runtime(si)) {
		exit_kill_handle(ucv, true);
		return;
	}
	if (!from_runtime(si)) {
		int saved_errno = errno;
		chain_to_application(sig, si, ucv);
		errno = saved_errno;
		return;
	}
	atomic_fetch_add_explicit(&stats.delivered, 1, RELAXED);
	/* Exiting: stopped only where it holds no library's lock. */
	if (atomic_load_explicit(&sched.exiting, RELAXED) &&
	    exit_kill_handle(ucv, false))
		return;
	ucontext_t *uc = ucv;
	mcontext_t *mc = &uc->uc_mcontext;
	enum outcome out = safe_point(m_current(), mc);
	atomic_fetch_add_explicit(&stats.outcome[out], 1, RELAXED);
	if (out != OUT_PARKED && out != OUT_MIGRATED)
		return;
	preempt_may_migrate = out == OUT_MIGRATED;
	GORO_PROBE1(goroutine_preempt, m_current()->curg->id);
	preempt_resume_pc = (uintptr_t)mc->gregs[REG_RIP];
	mc->gregs[REG_RSP] -= PREEMPT_ENTRY_DROP;
	mc->gregs[REG_RIP] = (greg_t)(uintptr_t)goro_preempt_trampoline;
}

/* ---- the trampoline's C half ----------------------------------------- */

void preempt_park_async(struct preempt_frame *f)
{
	(void)f;
	struct m *m = m_current();
	int saved_errno = *m->errno_loc;
	if (preempt_may_migrate)
		sched_preempt_self(true);
	else
		sched_preempt_klt();
	/* Running again: on the same thread, unless it migrated. */
	m = m_current();
	*m->errno_loc = saved_errno;
}

void preempt_count_handoff(void)
{
	atomic_fetch_add_explicit(&stats.handed_off, 1, RELAXED);
}

/* ---- install, remove, counters ------------------------------------------ */

int preempt_init(void)
{
	self_pid = getpid();
	async_possible = xsave_setup();
	if (text_ranges_init() != 0) {
		/* Never silently cooperative: say why. */
		if (config.async_preempt)
			fprintf(stderr, "goro: asynchronous preemption is off: "
				"libgoro's code cannot be told from the "
				"application's (a static link must use the "
				"libgoro.a that make install builds, whose code "
				"is in section goro_text)\n");
		async_possible = false;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = preempt_signal_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	/* Nothing extra blocked: a fault while the handler runs must reach
	 * the fault handler, never be held back. */
	sigemptyset(&sa.sa_mask);
	int err = signal_install(PREEMPT_SIGNAL, &sa, &app_action);
	if (err)
		return err;
	installed = true;
	return 0;
}

void preempt_fini(void)
{
	if (!installed)
		return;
	signal_restore(PREEMPT_SIGNAL, &app_action);
	installed = false;
}

int goro_preempt_stats(struct goro_preempt_stats *out, size_t size)
{
	if (!out || size < sizeof(uint64_t))
		return -EINVAL;
	struct goro_preempt_stats st = {
		.requested = atomic_load_explicit(&stats.requested, RELAXED),
		.delivered = atomic_load_explicit(&stats.delivered, RELAXED),
		.parked_with_thread =
			atomic_load_explicit(&stats.outcome[OUT_PARKED], RELAXED),
		.migrated = atomic_load_explicit(&stats.outcome[OUT_MIGRATED], RELAXED),
		.handed_off = atomic_load_explicit(&stats.handed_off, RELAXED),
		.stale = atomic_load_explicit(&stats.outcome[OUT_STALE], RELAXED),
		.refused_no_goroutine =
			atomic_load_explicit(&stats.outcome[OUT_NO_GOROUTINE], RELAXED),
		.refused_disabled =
			atomic_load_explicit(&stats.outcome[OUT_DISABLED], RELAXED),
		.refused_locks = atomic_load_explicit(&stats.outcome[OUT_LOCKS], RELAXED),
		.refused_syscall =
			atomic_load_explicit(&stats.outcome[OUT_SYSCALL], RELAXED),
		.refused_runtime =
			atomic_load_explicit(&stats.outcome[OUT_RUNTIME], RELAXED),
		.refused_stack = atomic_load_explicit(&stats.outcome[OUT_STACK], RELAXED),
		.flagged = atomic_load_explicit(&stats.flagged, RELAXED),
		.yielded_at_io = atomic_load_explicit(&stats.yielded_at_io, RELAXED),
		.thread_budget_held =
			atomic_load_explicit(&stats.thread_budget_held, RELAXED),
	};
	st.preempted = st.parked_with_thread + st.migrated;
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

PREEMPT_HIDDEN_FRAMES(HIDDEN_FRAME_IS_FUNCTION)
