/* SPDX-License-Identifier: MIT */
/*
 * sysmon.c — the monitor thread (Go's sysmon).
 *
 * One thread per goro_main run, holding no P, running no goroutine.  Each
 * round it looks at every P and decides what needs doing; then it sleeps.
 * A round has two jobs.  preempt_overrunning(): a P whose goroutine has
 * run longer than the quantum while other work waits gets its M
 * signalled.  retake_round() (src/sysmon/retake.c): Ps are taken back from Ms
 * blocked in the kernel, in annotated blocking calls or silently, and the
 * network is polled when nobody has for 10 ms.  Both lower the round's
 * wake-up time to when they next need to look.
 *
 * "Running longer than the quantum" is measured as Go does: a P's
 * schedtick changes on every new time slice; the first round that sees a
 * new value notes the time.  No clock is read on the scheduler's hot path.
 *
 * Why sysmon and not per-M timer_create(SIGEV_THREAD_ID) timers: a timer
 * interrupt costs the thread it lands on a large share of its CPU when
 * ticks are frequent (under virtualization above all; goro-bench preempt's
 * timer-cost measures it), and a per-M timer pays that whether or not
 * anything waits.  sysmon pays it only when a goroutine overran *and*
 * something waits — then once per quantum per busy P — and otherwise
 * sleeps until the next slice end or timer deadline: a lone hog runs at
 * full speed (goro-bench preempt, loss-idle) at any quantum.  Its own
 * wake-ups cost system time too, which is why a round is spent only where a
 * slice ends or a retry is due.
 *
 * Sleeping: until the earliest of (a) the end of a running goroutine's
 * slice, (b) the next timer deadline while some goroutine is past its
 * slice (that timer's goroutine will need the CPU), (c) the next retry of
 * a signal that was refused or is still pending, (d) a quantum (at least
 * 500 µs) from now while some goroutine is past its slice with nothing
 * waiting yet, (e) a quantum from now while a P is between two Ms with
 * work waiting (a thread handing it on as it parks with its preempted
 * goroutine: the next M will be running a goroutine within a hand-off's
 * latency), and (f) an adaptive delay, as Go's: 20 µs after a round that
 * acted (a job that found something to do), doubling after 50 quiet
 * rounds up to 10 ms.  Preemption needs no polling beyond (a)-(e): an
 * idle program costs 100 wake-ups a second, a lone hog 2000.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "m.h"
#include "preempt.h"
#include "retake.h"
#include "runq.h"
#include "scheduler.h"
#include "runtime.h"
#include "sysmon.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

#define DELAY_MIN_NS (20 * 1000)
#define DELAY_MAX_NS (10 * 1000 * 1000)
#define QUIET_ROUNDS_BEFORE_BACKOFF 50
#define SLEEP_FLOOR_NS (5 * 1000)
/* How often a goroutine already past its slice, with nothing waiting, is
 * looked at again for work that appeared meanwhile (goroutines it readied
 * itself; timers are waited for precisely). */
#define OVERRUN_POLL_MIN_NS (500 * 1000)
/* A thread that got less than 1/16 of a CPU since its slice began is
 * taken to be blocked in the kernel, not running. */
#define BLOCKED_CPU_SHARE 16

/* What sysmon remembers of each P between rounds. */
struct sysmon_p {
	uint32_t schedtick;          /* last value seen */
	pid_t tid;                   /* the thread of the M running it */
	int64_t since;               /* when that slice began (estimate) */
	int64_t cpu_mark;            /* that thread's CPU time ... */
	int64_t cpu_mark_at;         /* ... read at this time (0: none) */
	int64_t signalled_at;        /* asked to stop during this slice */
	bool flagged;                /* asked by its flag alone (flag_grace), */
	int64_t flagged_cpu;         /* its thread's CPU time then */
	bool budget_held;            /* its signal held back: thread budget */
};

/* One round's findings. */
struct round {
	int64_t now;
	int64_t wake;                /* sleep until then at the latest */
	bool acted;                  /* did something: poll again soon */
};

static struct {
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	struct note wake;
	struct note stopped;             /* at its exit gate (sysmon_stop) */
	_Atomic int64_t sleeping_until;  /* 0 while awake */
	struct sysmon_p p[GORO_MAXPROCS_LIMIT];
} sysmon;

static inline void wake_by(struct round *r, int64_t when)
{
	if (when < r->wake)
		r->wake = when;
}

/* Is anything waiting that p's current goroutine keeps from running? */
static bool work_waits(struct p *p)
{
	return !runq_empty(p) ||
	       atomic_load_explicit(&sched.runq_size, RELAXED) > 0 ||
	       timers_due(p) ||
	       atomic_load_explicit(&sched.stw_waiting, RELAXED);
}

/*
 * Is all that waits for p goroutines that used up their own slice —
 * CPU-bound work taking turns, none of it waiting on anything?  Each turn
 * parks one thread and wakes another (KLT-switching), a cost worth paying
 * once a quantum for latency, not for fairness among hogs: those turns
 * last config.hog_turn_quanta quanta (8 unless GORO_DEBUG=hogturn=N).
 * A goroutine readied, a timer due or a stop-the-world still ends the
 * turn within a quantum, as sysmon looks again at that pace while
 * anything overruns.
 */
static bool hogs_only_wait(struct p *p)
{
	int32_t used = atomic_load_explicit(&sched.runq_used_slice, RELAXED);
	return used > 0 && runq_empty(p) &&
	       atomic_load_explicit(&sched.runq_size, RELAXED) == used &&
	       !timers_due(p) &&
	       !atomic_load_explicit(&sched.stw_waiting, RELAXED);
}

/*
 * A goroutine that does I/O (it has made I/O calls: goro_read, a replaced
 * libc call; a library running its own event loop, such as libcurl's or a
 * Redis client's, makes the next within microseconds) is asked by its flag
 * alone first, and yields at its next I/O call by a plain switch
 * (sched_io_point).  It is signalled only once its thread has computed for
 * 1/FLAG_GRACE_DIV of a quantum since without making one (since the last
 * refused signal, on a retry).  CPU time, not time: with more runnable
 * threads than CPUs a thread may wait its turn in the kernel (a loaded
 * machine, a thread just handed a P), and a signal would not bring its
 * turn sooner; it would stop the goroutine with its thread the moment it
 * ran.  Signalled at once, such goroutines were stopped with their threads
 * wherever they were, each thread held until its goroutine's turn came
 * round again: 200 libcurl transfers on 2 Ps held 35-62 threads
 * (check_posix_curl).  A goroutine that never made an I/O call, a hog, is
 * signalled on time as before: giving goroutines in their first slice the
 * same grace cost the request load's tail (median tail-p99@1ms of 10 runs
 * 5.6 -> 8.6 ms), so those get only first_slice_waits.  True while the
 * grace runs.
 */
#define FLAG_GRACE_DIV 4

static bool flag_grace(struct round *r, struct sysmon_p *s, struct g *g,
		       int64_t cpu)
{
	if (cpu < 0 || atomic_load_explicit(&g->io_calls, RELAXED) == 0)
		return false;
	int64_t grace = config.quantum_ns / FLAG_GRACE_DIV;
	int64_t since;
	if (s->signalled_at) {
		/* A signal was refused (in libgoro, inside a replaced call):
		 * the flag still stands, and it is counted again from then. */
		since = s->cpu_mark;
	} else {
		if (!s->flagged) {
			preempt_flag(g);
			s->flagged = true;
			s->flagged_cpu = cpu;
		}
		since = s->flagged_cpu;
	}
	if (cpu - since >= grace)
		return false;
	wake_by(r, r->now + grace - (cpu - since));
	return true;
}

/*
 * A goroutine in its first slice (never stopped at the end of one) whose
 * runnable thread has had under 1/BLOCKED_CPU_SHARE of a quantum of CPU
 * since the mark has hardly run: its thread waits for a CPU (a loaded
 * machine).  A signal would not bring its turn sooner, and would stop it
 * with its thread the moment it ran, holding that thread until its turn
 * came round again (it is looked at again half a quantum on, not sooner:
 * sysmon's own wake-ups would take CPU from it): a burst of goroutines
 * started together (200 libcurl transfers on 2 Ps, beside another test
 * process) held 9-16 threads so, before their first I/O call made them
 * subject to flag_grace.  Only the first slice, and only a thread that
 * has not run: applied to every slice this rule cost the request load's
 * tail (median tail-p99@1ms of 10 runs 6.0 -> 9.7 ms); as it is, 12 runs
 * gave 6.0 ms before and 6.1 ms after.  True while it waits.
 */
static bool first_slice_waits(struct round *r, struct sysmon_p *s,
			      struct g *g, int64_t cpu)
{
	int64_t quantum = config.quantum_ns;
	int64_t used = cpu - s->cpu_mark;
	if (atomic_load_explicit(&g->ever_preempted, RELAXED) ||
	    BLOCKED_CPU_SHARE * used >= quantum)
		return false;
	wake_by(r, r->now + quantum / 2);
	return true;
}

/*
 * The thread budget.  Every goroutine stopped in code not declared
 * thread-agnostic holds its thread, parked, until its turn comes round
 * again, and each such thread is one more than GOMAXPROCS.  Goroutines that
 * do I/O are the ones a flag can stop instead (flag_grace), yet on a loaded
 * machine their grace runs out too (200 libcurl transfers on 2 Ps beside
 * four other test processes held up to 21 threads, check_posix_curl), and
 * goroutines that compute between I/O calls outlast it always (24 of them
 * on 2 Ps held 25-27 threads: check_preempt's thread-budget test).  So
 * once GOMAXPROCS threads (at least PARKED_THREADS_MIN) are parked with
 * their goroutines, a goroutine that has made I/O calls is not signalled
 * until its thread has computed PARKED_STRETCH quanta since it was
 * flagged, in CPU time, without reaching its next I/O call (or until the
 * count drops below the budget); its flag stands meanwhile, so it holds
 * its P that much longer than the quantum.  Any other goroutine — a
 * hog, a request handler in its first slice — is signalled on time
 * whatever the count: holding first slices back too (for one quantum of
 * CPU) took the request load's median tail-p99@1ms from 7.0 to 7.9 ms and
 * its p999 from 10.5 to 17 ms over 6 runs.  True while it holds the
 * goroutine's signal back.
 */
#define PARKED_STRETCH 4

static bool thread_budget_spent(struct round *r, struct sysmon_p *s,
				struct g *g, int64_t cpu)
{
	int64_t quantum = config.quantum_ns;
	if (!sched_threads_over_budget())
		return false;
	if (atomic_load_explicit(&g->io_calls, RELAXED) == 0)
		return false;
	if (cpu < 0)
		return false;
	if (!s->flagged) {
		preempt_flag(g);
		s->flagged = true;
		s->flagged_cpu = cpu;
	}
	/* Counted from the flag: before it, nothing asked it to stop. */
	if (cpu - s->flagged_cpu >= PARKED_STRETCH * quantum)
		return false;
	if (!s->budget_held) {
		preempt_count_budget_hold();
		s->budget_held = true;
	}
	/* The count may drop any time: look again within half a quantum. */
	wake_by(r, r->now + quantum / 2);
	return true;
}

/*
 * Preempt goroutines that overran their slice while work waits.  Reads
 * the Ps without sched.lock: Ms and Gs are never freed while sysmon runs,
 * so a stale pointer is at worst a wasted signal — and the handler checks
 * the goroutine it lands on is the one that was asked.
 */
static void preempt_overrunning(struct round *r)
{
	int64_t quantum = config.quantum_ns;
	bool overrun_seen = false;
	bool idle_timer_due = false;
	int64_t overrun_timer = 0;  /* earliest timer behind an overrun */
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++) {
		struct p *p = sched.allp[i];
		struct sysmon_p *s = &sysmon.p[i];
		struct m *m = atomic_load_explicit(&p->m, RELAXED);
		struct g *g = m ? atomic_load_explicit(&m->curg, RELAXED) : NULL;
		uint32_t status = atomic_load_explicit(&p->status, RELAXED);
		if (status != P_RUNNING || !g) {
			int64_t next = timers_next(p);
			if (status == P_IDLE && next && next <= r->now)
				idle_timer_due = true;
			/* A P seen between two Ms (handed to a thread parked
			 * with its goroutine, which wakes and runs a hog) may
			 * be running again by its next timer: be up by then. */
			if (next > r->now)
				wake_by(r, next);
			/* Between two Ms with work waiting (rule (e) above).
			 * Without it a round that met a hand-off slept the
			 * idle back-off, up to DELAY_MAX_NS, and the hog the
			 * P went to ran that long unchecked: two hogs on
			 * 1 P at a 100 µs quantum were preempted 900-1,500
			 * times in 2 s instead of about 10,000. */
			if (work_waits(p))
				wake_by(r, r->now + quantum);
			s->since = 0;
			continue;
		}
		uint32_t tick = atomic_load_explicit(&p->schedtick, RELAXED);
		if (tick != s->schedtick || s->since == 0 || s->tid != m->tid) {
			/* A new slice.  If we had signalled this P's thread,
			 * the slice began when that signal was answered, about
			 * when it was sent — on the same thread, or on the one
			 * the P went to while that thread parked with its
			 * goroutine: counting from then saves the round that
			 * would otherwise be spent just noticing it. */
			bool answered = s->signalled_at != 0;
			bool same_thread = s->tid == m->tid;
			s->schedtick = tick;
			s->since = answered ? s->signalled_at : r->now;
			/* Not before the P reached its M: a goroutine must not
			 * pay for a hand-off's latency with its own slice (a
			 * thread woken late would find it over at once). */
			int64_t acquired = atomic_load_explicit(&p->acquired_at,
								RELAXED);
			if (acquired > s->since && acquired <= r->now)
				s->since = acquired;
			if (!answered || !same_thread) {
				s->tid = m->tid;
				s->cpu_mark = m_thread_cpu_ns(m->tid);
				s->cpu_mark_at = answered ? s->signalled_at : r->now;
			}
			s->signalled_at = 0;
			s->flagged = false;
			s->budget_held = false;
		}
		int64_t slice_end = s->since + quantum;
		if (s->signalled_at)
			slice_end = s->signalled_at + quantum;  /* retry */
		if (r->now < slice_end) {
			wake_by(r, slice_end);
			continue;
		}
		overrun_seen = true;
		if (!work_waits(p)) {
			/* Its next timer will need the hog off the CPU. */
			int64_t next = timers_next(p);
			if (next && (!overrun_timer || next < overrun_timer))
				overrun_timer = next;
			continue;
		}
		if (!s->signalled_at && hogs_only_wait(p) &&
		    r->now < s->since + config.hog_turn_quanta * quantum)
			continue;
		/* A thread that spent the slice blocked in the kernel (a plain
		 * read() or usleep()) is not hogging: a signal would only risk
		 * an EINTR there.  Little CPU since the mark says so, unless
		 * the kernel says it is runnable: on a loaded machine a real
		 * hog may get only a small share of a CPU.  One exception: a
		 * goroutine in its first slice whose thread is runnable but has
		 * had next to no CPU since the mark (first_slice_waits). */
		int64_t cpu = m_thread_cpu_ns(m->tid);
		if (cpu >= 0 && s->cpu_mark >= 0 && r->now > s->cpu_mark_at &&
		    BLOCKED_CPU_SHARE * (cpu - s->cpu_mark) < r->now - s->cpu_mark_at) {
			if (!m_thread_runnable(m->tid))
				continue;
			if (first_slice_waits(r, s, g, cpu))
				continue;
		}
		if (flag_grace(r, s, g, cpu))
			continue;
		if (thread_budget_spent(r, s, g, cpu))
			continue;
		s->cpu_mark = cpu;
		s->cpu_mark_at = r->now;
		/* Refused (not at a safe point) or still pending (the thread
		 * is off the CPU): asked again a quantum later. */
		if (preempt_request(m, g)) {
			s->signalled_at = r->now;
			wake_by(r, r->now + quantum);
		}
	}
	if (overrun_seen) {
		wake_by(r, r->now + (quantum > OVERRUN_POLL_MIN_NS ?
				     quantum : OVERRUN_POLL_MIN_NS));
		/* Only a timer on an overrun P needs the hog off its CPU: an
		 * idle P's timers are run by the idle M that sleeps until
		 * them.  (Waking for those too, sysmon spun on one that was
		 * overdue, taking the CPU that M needed.) */
		if (overrun_timer)
			wake_by(r, overrun_timer > r->now ? overrun_timer : r->now);
	}
	/* An idle P's timer overdue and nobody running it (its watcher was
	 * late or taken for other work): start an M, as Go's sysmon does.
	 * Likewise goroutines in the global queue while a P is idle and no
	 * M looks for work: threads without a P ready goroutines there, and
	 * the scheduler's hand-shake with them (sched_ready_global) is the
	 * only thing between them and a wait for the next timer. */
	if (idle_timer_due ||
	    (atomic_load_explicit(&sched.runq_size, RELAXED) > 0 &&
	     atomic_load_explicit(&sched.npidle, RELAXED) > 0 &&
	     atomic_load_explicit(&sched.nmspinning, RELAXED) == 0))
		sched_wakep();
}

/*
 * Ask the kernel for the shortest time slice (EEVDF's custom slice, Linux
 * 6.12 on; older kernels ignore the request, and a refusal changes
 * nothing).  sysmon wakes once a quantum while a hog overruns, usually
 * onto a CPU that a hog's thread occupies: with a default slice it may
 * wait there for the next scheduler tick (up to 4 ms at HZ=250), and every
 * preemption it was due to send waits with it.  A slice shorter than the
 * hog's lets its wake-up preempt the hog at once.  It asks only for a
 * latency, not for more CPU: its weight (nice) and policy stay as they
 * were, and a thread the application made SCHED_BATCH, SCHED_IDLE or
 * real-time is left alone.
 */
struct sysmon_sched_attr {  /* the kernel's struct sched_attr, version 0 */
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

#define SYSMON_SLICE_NS (100 * 1000)  /* the kernel's lower bound */

static void ask_short_slice(void)
{
	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice == -1 && errno)
		return;
	struct sysmon_sched_attr at = {
		.size = sizeof(at),
		.sched_policy = SCHED_OTHER,
		.sched_nice = nice,
		.sched_runtime = SYSMON_SLICE_NS,
	};
	(void)syscall(SYS_sched_setattr, 0, &at, 0);
}

static void *sysmon_main(void *arg)
{
	(void)arg;
	/* Sleeps of tens of µs must not be stretched by the default 50 µs
	 * timer slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	ask_short_slice();
	prctl(PR_SET_NAME, "goro-sysmon", 0, 0, 0);
	int64_t delay = DELAY_MIN_NS;
	int quiet = 0;
	/* Ms it needs are made by the M creator: sysmon takes no lock that
	 * application code can hold (src/sched/m.c). */
	m_defer_creation(true);
	while (!atomic_load_explicit(&sysmon.stop, memory_order_acquire)) {
		struct round r = { .now = rt_now() };
		r.wake = r.now + DELAY_MAX_NS;

		preempt_overrunning(&r);
		if (retake_round(r.now, &r.wake))
			r.acted = true;

		if (r.acted) {
			delay = DELAY_MIN_NS;
			quiet = 0;
		} else if (++quiet > QUIET_ROUNDS_BEFORE_BACKOFF && delay < DELAY_MAX_NS) {
			delay *= 2;
		}
		wake_by(&r, r.now + delay);
		int64_t sleep_ns = r.wake - rt_now();
		if (sleep_ns < SLEEP_FLOOR_NS)
			sleep_ns = SLEEP_FLOOR_NS;
		atomic_store(&sysmon.sleeping_until, r.wake);
		note_sleep_for(&sysmon.wake, sleep_ns);
		atomic_store(&sysmon.sleeping_until, 0);
		note_clear(&sysmon.wake);
	}
	/* Ended, or frozen, with the Ms (src/sched/m.c, m_end_all). */
	m_runtime_thread_leave(&sysmon.stopped);
	return NULL;
}

int sysmon_start(void)
{
	memset(sysmon.p, 0, sizeof(sysmon.p));
	retake_reset();
	atomic_store_explicit(&sysmon.stop, false, RELAXED);
	note_clear(&sysmon.stopped);
	note_clear(&sysmon.wake);
	int err = m_start_runtime_thread(&sysmon.thread, sysmon_main);
	if (err)
		return err;
	sysmon.started = true;
	return 0;
}

void sysmon_timer_armed(int64_t when)
{
	/* Asleep more than a quantum past this deadline (an idle back-off):
	 * the goroutine the timer readies may find its P held by a hog that
	 * only sysmon can preempt, and sysmon would not even know that the
	 * hog's slice began.  Closer deadlines are covered by the slice
	 * ends sysmon already sleeps until; waking it for each of those
	 * would cost a futex wake per timer. */
	int64_t until = atomic_load_explicit(&sysmon.sleeping_until, RELAXED);
	if (until && until - when > config.quantum_ns &&
	    atomic_compare_exchange_strong(&sysmon.sleeping_until, &until, 0))
		note_wake(&sysmon.wake);
}

void sysmon_stop(void)
{
	if (!sysmon.started)
		return;
	atomic_store_explicit(&sysmon.stop, true, memory_order_release);
	note_wake(&sysmon.wake);
	m_runtime_thread_stopped(&sysmon.stopped, sysmon.thread);
	sysmon.started = false;
}
