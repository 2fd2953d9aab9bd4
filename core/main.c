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
 * (signals/exit_kill.c); the thread then leaves as the others do, and
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
#include "fileio.h"
#include "goroutine.h"
#include "m.h"
#include "netpoll.h"
#include "preempt.h"
#include "procs.h"
#include "runq.h"
#include "retake.h"
#include "sched.h"
#include "schedtrace.h"
#include "stack_fault.h"
#include "sysmon.h"
#include "timer.h"
#include "traceback.h"
#include <goro.h>

#define RELAXED memory_order_relaxed

/* At exit: how long Ms get to leave by themselves before the ones in the
 * kernel are pulled out, and how often M0 looks (and asks again). */
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
 * `late`, one in a system call is pulled out of it (signals/exit_kill.c). */
static void ask_to_leave(struct m *m, bool late)
{
	struct g *g = __atomic_load_n(&m->curg, __ATOMIC_RELAXED);
	struct p *p = __atomic_load_n(&m->p, __ATOMIC_RELAXED);
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
 * every other M to leave, joining each thread as it does, and asking the
 * others to (EXIT_GRACE_NS before any is pulled out of a system call).
 */
static void end_other_ms(struct m *self)
{
	int64_t start = rt_now();
	for (;;) {
		bool alive = false;
		bool late = rt_now() - start >= EXIT_GRACE_NS;
		rlock_lock(&sched.lock);
		for (struct m *m = sched.allm; m; m = m->alllink) {
			if (m == self || m->exit_joined)
				continue;
			if (pthread_tryjoin_np(m->thread, NULL) == 0) {
				m->exit_joined = true;
				continue;
			}
			alive = true;
			ask_to_leave(m, late);
		}
		rlock_unlock(&sched.lock);
		if (!alive)
			return;
		exit_pause();
	}
}

/* A call-out frame (core/text_ranges.h): the application's main runs
 * above it, as preemptible as any goroutine. */
RT_CALLOUT static void main_goroutine(void *arg)
{
	struct main_call *call = arg;
	int code = call->fn(call->argc, call->argv);
	runtime_exit_begin(code);
	if (m_current() != run_m0)
		call_m0_back();
}

static void runtime_reset(void)
{
	sched.runq_head = sched.runq_tail = NULL;
	atomic_store_explicit(&sched.runq_size, 0, RELAXED);
	sched.pidle = NULL;
	atomic_store_explicit(&sched.npidle, 0, RELAXED);
	sched.midle = NULL;
	sched.nmidle = 0;
	atomic_store_explicit(&sched.nmspinning, 0, RELAXED);
	atomic_store_explicit(&sched.stw_waiting, false, RELAXED);
	atomic_store_explicit(&sched.exiting, false, RELAXED);
	atomic_store_explicit(&sched.nblocked, 0, RELAXED);
	atomic_store_explicit(&sched.goid_next, 1, RELAXED);
	sched.exit_code = 0;
	sched.generation++;
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
	struct m *m0 = NULL;
	int err = config_load();
	if (err)
		goto fail;
	if ((err = preempt_init()) != 0)
		goto fail;
	if ((err = crash_install()) != 0 || (err = stack_init()) != 0)
		goto fail_preempt;
	if ((err = stack_fault_install()) != 0)
		goto fail_stack;
	traceback_warmup();

	runtime_reset();
	int nprocs = config.maxprocs ? config.maxprocs : procs_available_cpus();
	m0 = m_alloc();
	if (!m0)
		err = -ENOMEM;
	else if ((err = procs_init(nprocs)) == 0 &&
		 (err = netpoll_init()) == 0 && (err = fileio_init()) != 0)
		netpoll_teardown();
	if (err)
		goto fail_procs;
	m0->is_m0 = true;
	run_m0 = m0;
	atomic_store_explicit(&m0_back, false, RELAXED);
	sched.allm = m0;
	sched.mcount = 1;
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
	m_join_all(m0);
	/* Before the stacks go: the kernel may still be writing into one. */
	fileio_teardown();
	netpoll_teardown();
	retake_free_spares();
	m_detach_thread(m0);
	g_free_all();
	procs_free_all();
	stack_shutdown();
	stack_fault_remove();
	rt_free(m0, sizeof(*m0));
	preempt_fini();
	int code = sched.exit_code;
	errno = saved_errno;
	atomic_store(&sched.running, false);
	return code;

	/* Undone in the reverse order of the setup above. */
fail_procs:
	procs_free_all();
	rt_free(m0, sizeof(*m0));
	stack_fault_remove();
fail_stack:
	stack_shutdown();
fail_preempt:
	preempt_fini();
fail:
	atomic_store(&sched.running, false);
	return err;
}
