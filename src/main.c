/* SPDX-License-Identifier: MIT */
/*
 * main.c — goro_main: the lifetime of the runtime.
 *
 * The calling thread becomes M0 and the function runs as goroutine 1.
 * When it returns, the Go rule applies: the program is over.  Other
 * goroutines are abandoned where they stand; every M leaves at its next
 * scheduling point (running ones are asked to by the preemption signal),
 * M0 comes back here, and everything the run allocated is freed, so that
 * goro_main can be called again.  An M whose goroutine is still blocked in
 * the kernel after a short grace period (a plain read(), sleep(), accept(),
 * or a GORO_BLOCKING region) never reaches a scheduling point: its thread
 * is pulled out of the call and the goroutine abandoned there
 * (src/signals/exit_kill.c); the thread then leaves as the others do, and
 * goro_main returns once every thread of the run is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "config.h"
#include "crash.h"
#include "exit_kill.h"
#include "fdtable.h"
#include "fileio.h"
#include "goroutine.h"
#include "m.h"
#include "netpoll.h"
#include "preempt.h"
#include "procs.h"
#include "resolver.h"
#include "runq.h"
#include "scheduler.h"
#include "schedtrace.h"
#include "stack_fault.h"
#include "sysmon.h"
#include "timer.h"
#include "traceback.h"
#include <goro.h>

#include "atomic.h"

/* At exit: how long Ms get to leave by themselves before the ones in the
 * kernel inside a blocking region are pulled out (one holding its P is
 * asked at once: src/signals/exit_kill.c), and how often M0 looks (and
 * asks again). */
#define EXIT_GRACE_NS (2 * 1000 * 1000)
#define EXIT_RETRY_NS (100 * 1000)

struct main_call {
	int (*fn)(int, char **);
	int argc;
	char **argv;
};

static void runtime_exit_begin(int code)
{
	sched.exit_code = code;
	exit_kill_begin();
	atomic_store_explicit(&sched.exiting, true, memory_order_release);
	/* Running goroutines leave at their next scheduling point, or at
	 * once by the preemption signal (goro_main keeps asking until every
	 * P is given back: end_other_ms). */
	struct m *self = m_current();
	rlock_lock(&sched.lock);
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++) {
		struct p *p = sched.allp[i];
		if (p->m && p->m != self && p->m->curg)
			preempt_request(p->m, p->m->curg);
	}
	rlock_unlock(&sched.lock);
	m_wake_all_idle();
}

/* The M0 of the run, and whether it is back from its scheduler loop. */
static struct m *run_m0;
static _Atomic bool m0_back;

/* Exit: ask m, which has not left yet, to drop its goroutine.  One still
 * holding a P running is asked to stop (flag and preemption signal); once
 * `late`, one in a system call is pulled out of it
 * (src/signals/exit_kill.c). */
static void ask_to_leave(struct m *m, bool late)
{
	struct g *g = atomic_load_explicit(&m->curg, RELAXED);
	struct p *p = atomic_load_explicit(&m->p, RELAXED);
	if (!g)
		return;  /* on its g0: on its way out */
	if (p && atomic_load_explicit(&p->status, RELAXED) == P_RUNNING)
		preempt_request(m, g);
	if (late)
		exit_kill_request(m);
}

static void exit_pause(void)
{
	struct timespec ts = { 0, EXIT_RETRY_NS };
	nanosleep(&ts, NULL);
}

/*
 * Goroutine 1 returned on another M than M0, and M0 must run the rest of
 * the exit (goro_main returns on the caller's thread) — but M0 may be
 * running a goroutine blocked in the kernel, which would never bring it
 * back.  Ask it until it is back.  This runs as goroutine 1, spinning on
 * nanosleep (parking would take this M off to leave).
 */
static void call_m0_back(void)
{
	int64_t start = rt_now();
	while (!atomic_load_explicit(&m0_back, memory_order_acquire)) {
		rlock_lock(&sched.lock);
		ask_to_leave(run_m0, rt_now() - start >= EXIT_GRACE_NS);
		rlock_unlock(&sched.lock);
		exit_pause();
	}
}

/*
 * On M0, goroutine 1 having returned and sysmon being stopped: wait for
 * every other M to leave (m->left: back on its g0 for good), asking those
 * that have not (EXIT_GRACE_NS before any is pulled out of a system
 * call), and drain M0's own parked goroutine.  Their threads are then
 * ended, or frozen, by m_end_all.
 */
static void end_other_ms(struct m *self)
{
	int64_t start = rt_now();
	bool self_drained = false;
	for (;;) {
		/* A goroutine parked with this thread inside library code is
		 * run on to a stop holding no lock of it, as soon as a P is
		 * free: the caller's next malloc could wait for its arena
		 * lock, and so could a thread still setting up
		 * (src/signals/exit_kill.c). */
		if (!self_drained)
			self_drained = sched_exit_drain(self, false);
		bool late = rt_now() - start >= EXIT_GRACE_NS;
		rlock_lock(&sched.lock);
		/* Ms still being created (sched.exiting stops new ones). */
		bool alive = sched.mcreating > 0;
		for (struct m *m = sched.allm; m; m = m->alllink) {
			if (m == self ||
			    atomic_load_explicit(&m->left, memory_order_acquire))
				continue;
			alive = true;
			ask_to_leave(m, late);
		}
		rlock_unlock(&sched.lock);
		if (!alive && self_drained)
			return;
		exit_pause();
	}
}

/* A call-out frame (src/base/text_ranges.h): the application's main runs
 * above it, as preemptible as any goroutine. */
RT_CALLOUT static void main_goroutine(void *arg)
{
	struct main_call *call = arg;
	int code = call->fn(call->argc, call->argv);
	runtime_exit_begin(code);
	if (m_current() != run_m0)
		call_m0_back();
}

/* ---- the lifecycle --------------------------------------------------------- */

/* A new run: the scheduler's state is the scheduler's to reset; the
 * program-lifetime fields of struct sched are this file's. */
static int run_begin(void)
{
	sched_reset();
	atomic_store_explicit(&sched.exiting, false, RELAXED);
	atomic_store_explicit(&sched.exit_verdict, EXIT_UNDECIDED, RELAXED);
	sched.exit_code = 0;
	sched.generation++;
	return 0;
}

static int tracebacks_warm(void)
{
	traceback_warmup();
	return 0;
}

static int procs_start(void)
{
	return procs_init(config.maxprocs ? config.maxprocs
					  : procs_available_cpus());
}

/* Every P and G record of the run, spares included (every M gone). */
static void procs_end(void)
{
	p_spares_free();
	g_free_all();
	procs_free_all();
}

/*
 * goro_main's stages, in order.  Each init runs once those above it have
 * succeeded; the one teardown ladder (stages_fini) runs the finis of the
 * stages that succeeded, in reverse order, after a failed start and at the
 * end of every run alike.  M0, goroutine 1 and the runtime's threads live
 * between the two.
 */
static const struct stage {
	const char *name;
	int (*init)(void);
	void (*fini)(void);
} stages[] = {
	{ "settings", config_load, NULL },
	/* Before any thread of the runtime's: see src/io/fdtable.c. */
	{ "descriptor table", fdtable_reserve, NULL },
	{ "preemption signal", preempt_init, preempt_fini },
	{ "crash reports", crash_install, NULL },  /* once per process */
	{ "stacks", stack_init, stack_shutdown },
	{ "stack faults", stack_fault_install, stack_fault_remove },
	{ "tracebacks", tracebacks_warm, NULL },
	{ "scheduler state", run_begin, NULL },
	{ "Ps", procs_start, procs_end },
	{ "network poller", netpoll_init, netpoll_teardown },
	/* Its teardown runs before the stacks go: the kernel may still be
	 * writing into one. */
	{ "file I/O", fileio_init, fileio_teardown },
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

/* Run the inits in order; on failure undo those that succeeded.  0 or a
 * negative errno. */
static int stages_init(void)
{
	for (size_t i = 0; i < NSTAGES; i++) {
		int err = stages[i].init();
		if (err) {
			while (i-- > 0)
				if (stages[i].fini)
					stages[i].fini();
			return err;
		}
	}
	return 0;
}

static void stages_fini(void)
{
	for (size_t i = NSTAGES; i-- > 0;)
		if (stages[i].fini)
			stages[i].fini();
}

int goro_main(int (*fn)(int, char **), int argc, char **argv)
{
	if (!fn)
		return -EINVAL;
	if (m_current()) {
		fprintf(stderr, "goro: goro_main() called from inside goro_main\n");
		return -EBUSY;
	}
	bool was_running = false;
	if (!atomic_compare_exchange_strong(&sched.running, &was_running, true)) {
		fprintf(stderr, "goro: goro_main() is already running in "
				"another thread\n");
		return -EBUSY;
	}
	int err = stages_init();
	if (err)
		goto fail;
	struct m *m0 = m_alloc();
	if (!m0) {
		err = -ENOMEM;
		stages_fini();
		goto fail;
	}
	m0->is_m0 = true;
	run_m0 = m0;
	atomic_store_explicit(&m0_back, false, RELAXED);
	m_list_start(m0);
	m_attach_thread(m0);
	int saved_errno = errno;

	rlock_lock(&sched.lock);
	p_acquire(m0, pidle_get());
	rlock_unlock(&sched.lock);

	struct main_call call = { fn, argc, argv };
	int64_t id = g_spawn(main_goroutine, &call, "main", 0,
			     (uintptr_t)__builtin_return_address(0));
	if (id < 0)
		rt_fatal("cannot create the main goroutine: %s", strerror((int)-id));

	if ((err = m_creator_start()) != 0)
		rt_fatal("cannot start the M creator: %s", strerror(-err));
	if ((err = sysmon_start()) != 0)
		rt_fatal("cannot start sysmon: %s", strerror(-err));
	if ((err = schedtrace_start()) != 0)
		rt_fatal("cannot start schedtrace: %s", strerror(-err));

	sched_m_loop(m0);
	atomic_store_explicit(&m0_back, true, memory_order_release);
	schedtrace_stop();

	/* Goroutine 1 returned.  Stop the goroutines still running, wait for
	 * the other Ms, then free it all. */
	sysmon_stop();
	/* The M creator first: its reserve M leaves only when it stops. */
	m_creator_stop();
	end_other_ms(m0);
	m_end_all(m0);
	/* Lookups still running are their threads' now. */
	resolver_run_end();
	m_detach_thread(m0);
	stages_fini();
	rt_free(m0, sizeof(*m0));
	int code = sched.exit_code;
	errno = saved_errno;
	atomic_store(&sched.running, false);
	return code;

fail:
	atomic_store(&sched.running, false);
	return err;
}
