/*
 * preempt.c — asynchronous preemption by signal (DESIGN §4 "Async
 * preemption").
 *
 * Who asks: sysmon (a goroutine ran past its quantum while other work
 * waits), stop-the-world and program exit.  preempt_request() sets the
 * goroutine's preempt flag — its next runtime call yields — and, unless
 * GORO_ASYNCPREEMPT=0, sends SIGURG to its M with rt_tgsigqueueinfo and a
 * cookie in si_value, so the handler can tell the runtime's signals from
 * anybody else's and pass the others on to the application's own handler.
 *
 * The handler runs on the M's sigaltstack.  It stops the goroutine only at
 * a safe point: the M runs a goroutine that is still asked to stop (the
 * request may be stale: it yielded meanwhile), preemption is not disabled
 * (goro_preempt_disable), the M holds no runtime lock, the goroutine is not
 * in a blocking call, the interrupted PC is the application's own code
 * (core/text_ranges.c), and it runs on its own stack with room for the
 * trampoline's frame.  Otherwise it counts the refusal by reason and leaves
 * the flag set; sysmon asks again shortly.  To stop the goroutine it makes
 * it "call" goro_preempt_trampoline (arch/x86_64/preempt.S): the
 * interrupted RIP goes to a thread-local the trampoline reads, RSP moves
 * below the red zone and the return slot, RIP becomes the trampoline.  The
 * handler writes nothing to the goroutine's stack: a stack-growth fault
 * can then only happen in the trampoline, in goroutine context, as any
 * other fault there would — never nested in this handler.
 */
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "probes.h"
#include "config.h"
#include "preempt.h"
#include "preempt_frame.h"
#include "runtime.h"
#include "sched.h"
#include "text_ranges.h"
#include <goro.h>

#define RELAXED memory_order_relaxed
#define PREEMPT_SIGNAL SIGURG
/* Stack the trampoline and the scheduler below it need, beyond the XSAVE
 * area, between the interrupted RSP and the goroutine's stack limit. */
#define PREEMPT_STACK_NEED (8 * 1024)
#define EXIT_RETRY_NS (100 * 1000)

__thread uintptr_t preempt_resume_pc __attribute__((tls_model("initial-exec")));
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
	OUT_PREEMPTED,
	OUT_STALE,
	OUT_NO_GOROUTINE,
	OUT_DISABLED,
	OUT_LOCKS,
	OUT_SYSCALL,
	OUT_RUNTIME,
	OUT_LIBC,
	OUT_LIBRARY,
	OUT_STACK,
	OUT_COUNT
};

static struct {
	_Atomic uint64_t requested;
	_Atomic uint64_t delivered;
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

void preempt_until_released(void)
{
	if (!config.async_preempt || !async_possible)
		return;
	struct m *self = m_current();
	for (;;) {
		bool busy = false;
		/* Under sched.lock an M that still holds its P has not left
		 * sched_m_loop: it and its thread are alive. */
		rlock_lock(&sched.lock);
		int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
		for (int32_t i = 0; i < n; i++) {
			struct p *p = sched.allp[i];
			struct m *m = p->m;
			if (atomic_load_explicit(&p->status, RELAXED) != P_RUNNING ||
			    !m || m == self)
				continue;
			busy = true;
			struct g *g = m->curg;
			if (g)
				preempt_request(m, g);
		}
		rlock_unlock(&sched.lock);
		if (!busy)
			return;
		struct timespec ts = { 0, EXIT_RETRY_NS };
		nanosleep(&ts, NULL);
	}
}

/* ---- the handler ------------------------------------------------------- */

static bool from_runtime(const siginfo_t *si)
{
	return si->si_code == SI_QUEUE && si->si_pid == self_pid &&
	       si->si_value.sival_ptr == (void *)&preempt_cookie;
}

static void chain_to_application(int sig, siginfo_t *si, void *uc)
{
	if (app_action.sa_flags & SA_SIGINFO) {
		if (app_action.sa_sigaction)
			app_action.sa_sigaction(sig, si, uc);
	} else if (app_action.sa_handler != SIG_DFL &&
		   app_action.sa_handler != SIG_IGN) {
		app_action.sa_handler(sig);
	}
	/* SIG_DFL for SIGURG is to ignore it. */
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
	if (m->locks)
		return OUT_LOCKS;
	if (atomic_load_explicit(&g->status, RELAXED) != G_RUNNING)
		return OUT_SYSCALL;
	switch (text_ranges_lookup((uintptr_t)mc->gregs[REG_RIP])) {
	case TEXT_RUNTIME: return OUT_RUNTIME;
	case TEXT_LIBC: return OUT_LIBC;
	case TEXT_LIBRARY: return OUT_LIBRARY;
	case TEXT_APP: break;
	}
	uintptr_t sp = (uintptr_t)mc->gregs[REG_RSP];
	uintptr_t lo = (uintptr_t)g->stack.lo, hi = (uintptr_t)g->stack.hi;
	if (sp > hi || sp < lo + PREEMPT_STACK_NEED + preempt_xsave_size)
		return OUT_STACK;
	return OUT_PREEMPTED;
}

static void preempt_signal_handler(int sig, siginfo_t *si, void *ucv)
{
	if (!from_runtime(si)) {
		int saved_errno = errno;
		chain_to_application(sig, si, ucv);
		errno = saved_errno;
		return;
	}
	atomic_fetch_add_explicit(&stats.delivered, 1, RELAXED);
	ucontext_t *uc = ucv;
	mcontext_t *mc = &uc->uc_mcontext;
	enum outcome out = safe_point(m_current(), mc);
	atomic_fetch_add_explicit(&stats.outcome[out], 1, RELAXED);
	if (out != OUT_PREEMPTED)
		return;
	GORO_PROBE1(goroutine_preempt, m_current()->curg->id);
	preempt_resume_pc = (uintptr_t)mc->gregs[REG_RIP];
	mc->gregs[REG_RSP] -= PREEMPT_ENTRY_DROP;
	mc->gregs[REG_RIP] = (greg_t)(uintptr_t)goro_preempt_trampoline;
}

/* ---- the trampoline's C half ----------------------------------------- */

/* The thread pointer, read so the compiler cannot reuse a value read
 * before a switch (__builtin_thread_pointer may be merged across calls). */
static inline uintptr_t thread_pointer(void)
{
	uintptr_t tp;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

static void rebase_tls(struct preempt_frame *f, uintptr_t old_tp,
		       uintptr_t new_tp)
{
	intptr_t lo, hi;
	text_ranges_static_tls(&lo, &hi);
	uint64_t *regs = (uint64_t *)f;
	size_t n = offsetof(struct preempt_frame, rflags) / sizeof(uint64_t);
	for (size_t i = 0; i < n; i++) {
		uintptr_t v = regs[i];
		if (v >= old_tp + lo && v < old_tp + hi)
			regs[i] = v - old_tp + new_tp;
	}
}

void preempt_park_async(struct preempt_frame *f)
{
	struct m *m = m_current();
	int saved_errno = *m->errno_loc;
	uintptr_t old_tp = thread_pointer();
	sched_preempt_self(true);
	/* Running again, perhaps on another thread. */
	m = m_current();
	uintptr_t new_tp = thread_pointer();
	if (new_tp != old_tp)
		rebase_tls(f, old_tp, new_tp);
	*m->errno_loc = saved_errno;
}

/* ---- install, remove, counters ------------------------------------------ */

int preempt_init(void)
{
	self_pid = getpid();
	async_possible = xsave_setup();
	int err = text_ranges_init();
	if (err)
		return err;
	if (!text_ranges_runtime_separable())
		async_possible = false;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = preempt_signal_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	/* Nothing extra blocked: a fault while the handler runs must reach
	 * the fault handler, never be held back. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(PREEMPT_SIGNAL, &sa, &app_action) != 0)
		return -errno;
	installed = true;
	return 0;
}

void preempt_fini(void)
{
	if (!installed)
		return;
	sigaction(PREEMPT_SIGNAL, &app_action, NULL);
	installed = false;
}

int goro_preempt_stats(struct goro_preempt_stats *out)
{
	RT_REQUIRE_G(-EPERM);
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->requested = atomic_load_explicit(&stats.requested, RELAXED);
	out->delivered = atomic_load_explicit(&stats.delivered, RELAXED);
	out->preempted = atomic_load_explicit(&stats.outcome[OUT_PREEMPTED], RELAXED);
	out->stale = atomic_load_explicit(&stats.outcome[OUT_STALE], RELAXED);
	out->refused_no_goroutine =
		atomic_load_explicit(&stats.outcome[OUT_NO_GOROUTINE], RELAXED);
	out->refused_disabled =
		atomic_load_explicit(&stats.outcome[OUT_DISABLED], RELAXED);
	out->refused_locks = atomic_load_explicit(&stats.outcome[OUT_LOCKS], RELAXED);
	out->refused_syscall =
		atomic_load_explicit(&stats.outcome[OUT_SYSCALL], RELAXED);
	out->refused_runtime =
		atomic_load_explicit(&stats.outcome[OUT_RUNTIME], RELAXED);
	out->refused_libc = atomic_load_explicit(&stats.outcome[OUT_LIBC], RELAXED);
	out->refused_library =
		atomic_load_explicit(&stats.outcome[OUT_LIBRARY], RELAXED);
	out->refused_stack = atomic_load_explicit(&stats.outcome[OUT_STACK], RELAXED);
	return 0;
}
