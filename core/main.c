/*
 * main.c — goro_main: the lifetime of the runtime.
 *
 * The calling thread becomes M0 and the function runs as goroutine 1.
 * When it returns, the Go rule applies: the program is over.  Other
 * goroutines are abandoned where they stand; every M leaves at its next
 * scheduling point (an M blocked in the kernel is waited for), M0 comes back
 * here, and everything the run allocated is freed, so that goro_main can be
 * called again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "crash.h"
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
	 * P is given back: preempt_until_released). */
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

static void main_goroutine(void *arg)
{
	struct main_call *call = arg;
	int code = call->fn(call->argc, call->argv);
	runtime_exit_begin(code);
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
	else if ((err = procs_init(nprocs)) == 0)
		err = netpoll_init();
	if (err)
		goto fail_procs;
	m0->is_m0 = true;
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

	if ((err = sysmon_start()) != 0)
		rt_fatal("cannot start sysmon: %s", strerror(-err));
	if ((err = schedtrace_start()) != 0)
		rt_fatal("cannot start schedtrace: %s", strerror(-err));

	sched_m_loop(m0);
	schedtrace_stop();

	/* Goroutine 1 returned.  Stop the goroutines still running, wait for
	 * the other Ms, then free it all. */
	sysmon_stop();
	preempt_until_released();
	m_join_all(m0);
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
