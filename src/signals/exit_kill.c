/* SPDX-License-Identifier: MIT */
/*
 * exit_kill.c — "exit means exit": when goroutine 1 returns, goro_main
 * returns even if other goroutines sit blocked in the kernel — in a plain
 * read() of a pipe or stdin, sleep(), accept(), waitpid(), flock(), a
 * pthread mutex, or inside GORO_BLOCKING.  Go's exit ends the process and
 * every thread with it.  goro_main must instead return to its caller, on
 * the caller's thread, and be callable again; but an M blocked in the
 * kernel never reaches a scheduling point where it would notice the exit.
 *
 * What happens.  After a short grace period (src/main.c), every M still
 * running a goroutine is sent exit_kill_request(): the preemption signal
 * (SIGURG) with a cookie of its own, which the preemption handler
 * (src/preempt/preempt.c) passes here first.  The handler acts only when
 *   - the program is exiting and the M runs a goroutine (not its g0),
 *   - the M holds no runtime lock (m->locks == 0),
 *   - the thread was interrupted on the goroutine's own stack (not inside
 *     another handler on the signal stack), and
 *   - it was in a system call that is not libgoro's own: RIP just after a
 *     `syscall` instruction with RAX == -EINTR (the call was interrupted
 *     and would return EINTR), or RIP on a `syscall` instruction with RAX
 *     holding a call number again (the kernel rewinds a call it restarts
 *     after the handler: SA_RESTART, or a restartable call) — or its
 *     goroutine is inside a blocking region (G_SYSCALL, where the
 *     preemption signal leaves it alone) and RIP is in the application's
 *     own code: a region that computes instead of blocking.
 * Then it abandons the goroutine where it stands: the signal frame is
 * edited so that, instead of going back into the system call, the thread
 * resumes in exit_escape() on the goroutine's stack, below the red zone,
 * which gives the goroutine up (as the scheduler abandons every goroutine
 * at exit) and returns the thread to its own scheduler stack.  From there
 * the M leaves normally: its thread ends through pthread's usual path (or,
 * for M0, returns from goro_main), and M0 joins it and frees the run —
 * the goroutine's stack included — with no thread of the run left
 * behind.  Otherwise (user code running, runtime code) the handler changes
 * nothing: the M is left to the preemption path and asked again shortly.
 *
 * Why not end such threads with a raw SYS_exit: that cannot be done to
 * M0, the application's own thread, which must come back from goro_main —
 * and M0 runs goroutines like any other M, so it may be the one blocked.
 * Why not abandon (detach) the threads: a detached thread wakes up some
 * day — the pipe gets data, the sleep ends — and goes on running the
 * goroutine's code on a stack that has been freed, calling into a runtime
 * that is torn down or belongs to the next goro_main run.
 *
 * Draining M0's goroutine.  A goroutine parked with its thread by a
 * preemption (sched_preempt_klt) stopped at an arbitrary instruction of
 * foreign code, and may hold any lock of it: most often, inside malloc,
 * the arena lock of that very thread.  Abandoned on another M, that only
 * stops the M's own thread from ending (src/sched/m.c, m_end_all); on M0
 * it would hang the application's next malloc after goro_main returns.  So
 * M0 runs such a goroutine on, on its own thread, with a timer sending the
 * exit signal every EXIT_DRAIN_PERIOD_NS, and abandons it at the first
 * stop that holds no lock of libc or of a library that we know of: a
 * runtime call (the scheduler abandons it there), a system call (as
 * above), or an instruction of the executable's own code
 * (text_is_program).  After EXIT_DRAIN_NS without one (a library computing
 * for good) it is abandoned wherever it is outside libgoro, and the exit
 * goes on as before this drain.  Code of the executable called back by
 * libc with a lock held (a dl_iterate_phdr callback) is taken as a safe
 * stop: the lock stays held.
 *
 * What the application must know: the abandoned call never returns, as
 * under Go's exit.  A lock it held stays held (an application mutex, or a
 * stdio stream's lock if the goroutine was blocked inside printf or fgets:
 * the thread that comes back owns it).  Calls that cannot be interrupted
 * (an uninterruptible disk wait) are waited for, and a thread on which the
 * application blocked SIGURG is waited for as before.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "clock.h"
#include "exit_kill.h"
#include "runtime.h"
#include "scheduler.h"
#include "text_ranges.h"

/* The preemption signal: its handler is the one installed for the run. */
#define EXIT_KILL_SIGNAL SIGURG
/* x86-64 `syscall`: 0f 05. */
#define SYSCALL_OP0 0x0f
#define SYSCALL_OP1 0x05
/* Call numbers are small; anything else in RAX is not a rewound call. */
#define SYSCALL_NR_MAX 1024
/* Left alone below the interrupted stack pointer: the red zone, and
 * more. */
#define ESCAPE_DROP 256
/* Draining M0's goroutine: how often it is asked, and for how long. */
#define EXIT_DRAIN_PERIOD_NS (100 * 1000)
#define EXIT_DRAIN_NS (50 * 1000 * 1000)

/* si_value of the exit signal. */
static const char exit_cookie;

bool exit_kill_request(struct m *m)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = EXIT_KILL_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)&exit_cookie;
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), m->tid,
		       EXIT_KILL_SIGNAL, &si) == 0;
}

bool exit_kill_from_runtime(const siginfo_t *si)
{
	/* The cookie first: every preemption signal passes here, and only
	 * the exit signal pays for getpid().  A timer's signal (the drain)
	 * comes from a timer of this process. */
	if (si->si_value.sival_ptr != (void *)&exit_cookie)
		return false;
	return si->si_code == SI_TIMER ||
	       (si->si_code == SI_QUEUE && si->si_pid == getpid());
}

/* Was the interrupted context in a system call (see the top)? */
static bool in_system_call(const mcontext_t *mc)
{
	uintptr_t ip = arch_mc_pc(mc);
	int64_t ax = arch_mc_ret(mc);
	if (text_is_runtime(ip))
		return false;
	const volatile uint8_t *c = (const volatile uint8_t *)ip;
	/* Interrupted, returning EINTR.  (Not at the very start of a page:
	 * the bytes before it might not be mapped.) */
	if ((ip & 4095) >= 2 && ax == -EINTR && c[-2] == SYSCALL_OP0 &&
	    c[-1] == SYSCALL_OP1)
		return true;
	/* Rewound, to be restarted. */
	return (uint64_t)ax < SYSCALL_NR_MAX && c[0] == SYSCALL_OP0 &&
	       c[1] == SYSCALL_OP1;
}

/* Where the thread resumes, on the abandoned goroutine's stack, as if it
 * had been called there.  The program is exiting, so the scheduler leaves
 * the goroutine where it stands and this M goes back to its g0, from which
 * it leaves; the goroutine is never resumed. */
static _Noreturn void exit_escape(void)
{
	sched_preempt_self(false);
	for (;;)
		pause();  /* not reached */
}

void exit_kill_handle(void *ucontext)
{
	struct m *m = m_current();
	if (!m || !atomic_load_explicit(&sched.exiting, memory_order_acquire))
		return;
	struct g *g = m->curg;
	if (!g || m->locks > 0)
		return;
	mcontext_t *mc = &((ucontext_t *)ucontext)->uc_mcontext;
	uintptr_t sp = arch_mc_sp(mc);
	if (sp <= (uintptr_t)g->stack.lo + ESCAPE_DROP ||
	    sp > (uintptr_t)g->stack.hi)
		return;
	uintptr_t pc = arch_mc_pc(mc);
	if (atomic_load_explicit(&m->exit_draining, memory_order_relaxed)) {
		if (text_is_runtime(pc))
			return;  /* it stops at the scheduler */
		if (!text_is_program(pc) && !in_system_call(mc)) {
			if (rt_now() < m->exit_drain_until)
				return;
			atomic_store_explicit(&m->exit_drain_forced, true,
					      memory_order_relaxed);
		}
	} else {
		bool app_in_region =
			atomic_load_explicit(&g->status, memory_order_relaxed) ==
				G_SYSCALL &&
			text_ranges_runtime_separable() && !text_is_runtime(pc);
		if (!app_in_region && !in_system_call(mc))
			return;
	}
	/* A call's entry: RSP 8 below a 16-byte boundary.  Nothing is
	 * written to the goroutine's stack here. */
	sp = ((sp - ESCAPE_DROP) & ~(uintptr_t)15) - 8;
	arch_mc_redirect(mc, (uintptr_t)exit_escape, sp);
}

/* ---- draining M0's goroutine (see the top) ------------------------------- */

static timer_t drain_timer;

bool exit_drain_begin(struct m *m)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = EXIT_KILL_SIGNAL;
	sev.sigev_value.sival_ptr = (void *)&exit_cookie;
	sev._sigev_un._tid = m->tid;  /* sigev_notify_thread_id */
	if (timer_create(CLOCK_MONOTONIC, &sev, &drain_timer) != 0)
		return false;
	m->exit_drain_until = rt_now() + EXIT_DRAIN_NS;
	atomic_store_explicit(&m->exit_drain_forced, false, memory_order_relaxed);
	atomic_store_explicit(&m->exit_draining, true, memory_order_relaxed);
	struct itimerspec it = {
		.it_interval = { 0, EXIT_DRAIN_PERIOD_NS },
		.it_value = { 0, EXIT_DRAIN_PERIOD_NS },
	};
	if (timer_settime(drain_timer, 0, &it, NULL) != 0) {
		atomic_store_explicit(&m->exit_draining, false, memory_order_relaxed);
		timer_delete(drain_timer);
		return false;
	}
	return true;
}

bool exit_drain_end(struct m *m)
{
	/* A signal still pending finds M0 on its g0, and changes nothing. */
	timer_delete(drain_timer);
	atomic_store_explicit(&m->exit_draining, false, memory_order_relaxed);
	return !atomic_load_explicit(&m->exit_drain_forced, memory_order_relaxed);
}
