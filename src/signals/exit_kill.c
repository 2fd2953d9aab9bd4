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
 * (src/preempt/preempt.c) passes here first.  (A goroutine whose M holds
 * its P running is asked with the plain preemption signal from the start,
 * which, while exiting, comes here too and is taken in a system call at
 * once: only blocking regions wait for the grace.)  The handler acts only
 * when
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
 * Goroutines inside library code.  A goroutine stopped at an arbitrary
 * instruction of a library may hold any lock of it: most often, inside
 * malloc, an arena lock, which a thread's own ending and the caller's next
 * malloc after goro_main then wait for.  So while the program exits, the
 * preemption signal and the exit signal alike (this handler runs for
 * both) abandon a running goroutine only where it holds no lock of a
 * library that we know of: a system call (as above), or
 * an instruction of the executable's own code (text_is_program) or of
 * code declared thread-agnostic; a runtime call abandons it in the
 * scheduler.  Inside a library it runs on, asked again every
 * EXIT_RETRY_NS by M0, for EXIT_DRAIN_NS from the exit's start; after
 * that it is abandoned wherever it is outside libgoro, and
 * sched.exit_forced makes the run's threads stay frozen instead of ending
 * (src/sched/m.c, m_end_all).  A goroutine that a preemption had parked
 * with its thread before the exit is run on the same way, by its own
 * thread, with an idle P (sched_exit_drain; M0's own as soon as a P is
 * free, with a timer sending the exit signal, as nobody asks M0).
 * Executable code called back by libc with a lock held (a
 * dl_iterate_phdr callback) is taken as a safe stop: the lock stays held.
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
/* A goroutine inside library code at exit: how long it may run on, and
 * how often M0's drain timer asks it. */
#define EXIT_DRAIN_NS (50 * 1000 * 1000)
#define EXIT_DRAIN_PERIOD_NS (100 * 1000)

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

/* Where a goroutine whose library call was redirected returns (see
 * redirect_return): just back in the executable's code, holding no lock of
 * the library.  On a call's entry alignment, then as exit_escape. */
void exit_return_stub(void);
__asm__(".pushsection .text\n"
	".p2align 4\n"
	".type exit_return_stub, @function\n"
	"exit_return_stub:\n"
	"\tandq $-16, %rsp\n"
	"\tcall exit_escape_returned\n"
	"\tud2\n"
	".size exit_return_stub, .-exit_return_stub\n"
	".popsection\n");

__attribute__((used)) _Noreturn void exit_escape_returned(void);
__attribute__((used)) _Noreturn void exit_escape_returned(void)
{
	exit_escape();
}

/*
 * A goroutine running inside a library at exit: make its return to the
 * executable's code return into exit_return_stub instead.  Without the
 * library's unwind tables (reading them takes the loader's lock, which an
 * abandoned goroutine may hold) the return slot is not known exactly: it
 * is one of the first words from sp up that hold a return address into the
 * executable's own code (one that follows a call instruction).  Words of
 * that look below it are data of the library's frames: a stale word, or a
 * copy (ASan's malloc keeps a stack trace of its caller in its frame).  So
 * the first REDIRECT_MAX of them are all redirected.  A data word of that
 * look is only ever read as data; one the library would call (a function
 * pointer right after a call at the end of the previous function) would
 * stop the goroutine there, inside the library, as the deadline would.
 * Not instrumented, and a function of its own for memcheck's suppressions
 * (tools/valgrind/goro.supp): the words are a live stack, as in
 * text_runtime_frame_in.
 */
#define REDIRECT_MAX 8

__attribute__((no_sanitize("address"), noinline))
static void redirect_return(struct g *g, uintptr_t sp)
{
	uintptr_t hi = (uintptr_t)g->stack.hi;
	/* The committed part only: below it may lie guard pages. */
	if (!g->stack.grouped && sp < hi - g->stack.committed)
		return;
	int n = 0;
	uintptr_t *w = (uintptr_t *)((sp + 7) & ~(uintptr_t)7);
	for (; (uintptr_t)(w + 1) <= hi && n < REDIRECT_MAX; w++) {
		uintptr_t v = *(volatile uintptr_t *)w;
		if (!text_is_program(v) || !arch_follows_call(v))
			continue;
		*(volatile uintptr_t *)w = (uintptr_t)exit_return_stub;
		n++;
	}
	g->exit_redirected = n > 0;
}

bool exit_kill_handle(void *ucontext, bool exit_signal)
{
	struct m *m = m_current();
	if (!m || !atomic_load_explicit(&sched.exiting, memory_order_acquire))
		return false;
	struct g *g = m->curg;
	if (!g || m->locks > 0)
		return false;
	mcontext_t *mc = &((ucontext_t *)ucontext)->uc_mcontext;
	uintptr_t sp = arch_mc_sp(mc);
	if (sp <= (uintptr_t)g->stack.lo + ESCAPE_DROP ||
	    sp > (uintptr_t)g->stack.hi)
		return false;
	uintptr_t pc = arch_mc_pc(mc);
	if (text_is_runtime(pc))
		return false;  /* it stops in the scheduler */
	bool in_region = atomic_load_explicit(&g->status, memory_order_relaxed) ==
			 G_SYSCALL;
	if (in_system_call(mc) ||
	    (exit_signal && in_region && text_ranges_runtime_separable())) {
		/* A system call, or a region that computes: see the top. */
	} else if (in_region || g->runtime_depth) {
		return false;  /* the preemption path leaves it alone */
	} else if (text_is_program(pc) || text_is_agnostic(pc)) {
		/* The executable's own code: no lock of a library held. */
	} else if (rt_now() < atomic_load_explicit(&sched.exit_drain_until,
						   memory_order_relaxed)) {
		/* Inside a library: it stops as it returns to the
		 * executable, or is asked again shortly. */
		if (!g->exit_redirected)
			redirect_return(g, sp);
		return true;
	} else {
		atomic_store_explicit(&sched.exit_forced, true,
				      memory_order_relaxed);
	}
	/* A call's entry: RSP 8 below a 16-byte boundary.  Nothing is
	 * written to the goroutine's stack here. */
	sp = ((sp - ESCAPE_DROP) & ~(uintptr_t)15) - 8;
	arch_mc_redirect(mc, (uintptr_t)exit_escape, sp);
	return true;
}

void exit_kill_begin(void)
{
	atomic_store_explicit(&sched.exit_forced, false, memory_order_relaxed);
	atomic_store_explicit(&sched.exit_drain_until, rt_now() + EXIT_DRAIN_NS,
			      memory_order_relaxed);
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
	atomic_store_explicit(&sched.exit_drain_until, rt_now() + EXIT_DRAIN_NS,
			      memory_order_relaxed);
	struct itimerspec it = {
		.it_interval = { 0, EXIT_DRAIN_PERIOD_NS },
		.it_value = { 0, EXIT_DRAIN_PERIOD_NS },
	};
	if (timer_settime(drain_timer, 0, &it, NULL) != 0) {
		timer_delete(drain_timer);
		return false;
	}
	return true;
}

void exit_drain_end(void)
{
	/* A signal still pending finds M0 on its g0, and changes nothing. */
	timer_delete(drain_timer);
}
