/* SPDX-License-Identifier: MIT */
/*
 * m.c — OS threads.  Ms are created on demand, when work appears and no
 * idle M exists to take it; an M with nothing to do parks on its own futex
 * (m->park) and is handed a P by whoever wakes it.  They live until
 * goro_main returns, which joins them all (or, at an exit that abandons a
 * goroutine inside library code, leaves them frozen: m_end_all).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "probes.h"
#include "alloc.h"
#include "m.h"
#include "dump.h"
#include "netpoll.h"
#include "procs.h"
#include "notify.h"
#include "preempt.h"
#include "sanitizer.h"
#include "scheduler.h"
#include "signal_stack.h"
#include <goro.h>

#include "atomic.h"

struct m *m_alloc(void)
{
	struct m *m = rt_alloc(sizeof(*m));
	if (!m)
		return NULL;
	m->id = atomic_fetch_add_explicit(&sched.mid_next, 1, RELAXED);
	return m;
}

/*
 * Signal masks.  Every M runs with the mask of the thread that called
 * goro_main, whichever thread created it (sysmon and the M creator block
 * every signal, and a thread inherits its creator's mask), except that the
 * runtime's own signals are always open: a fault on a stack guard
 * (SIGSEGV, SIGBUS), the preemption signal and the dump-capture signal.  A
 * daemon that blocks everything before goro_main would otherwise die at its
 * first stack growth and never be preempted.  M0 gets the caller's mask back
 * when goro_main returns.
 *
 * A goroutine that changes its thread's mask must do so while wired to the
 * thread (goro_lock_thread): the M's mask is put back when it unwires
 * (m_restore_sigmask), so nothing leaks to the next goroutine on that thread.
 */
static __thread bool tls_defer_create;
static void steer_undo(struct m *m);

static struct {
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	struct note wake;
	struct note stopped;         /* at its exit gate (m_creator_stop) */
	struct p *queue;             /* Ps waiting for a new M (sched.lock) */
	struct m *reserve;           /* asleep, P-less, ready (sched.lock) */
	bool making;                 /* a reserve's thread is setting up
	                                (sched.lock) */
} creator;

static sigset_t m0_caller_mask;   /* written by M0 before any other M exists */
static sigset_t m_mask;           /* every M's mask; same lifetime */

static void runtime_signals_open(sigset_t *set)
{
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, PREEMPT_SIGNAL);
	sigdelset(set, DUMP_CAPTURE_SIGNAL);
}

bool m_thread_state(pid_t tid, char *state, long *nvcsw)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *st = strstr(buf, "\nState:");
	const char *vol = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!st || !vol)
		return false;
	st += strlen("\nState:");
	while (*st == ' ' || *st == '\t')
		st++;
	*state = *st;
	*nvcsw = strtol(vol + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
	return true;
}

bool m_thread_runnable(pid_t tid)
{
	char state;
	long nvcsw;
	return m_thread_state(tid, &state, &nvcsw) && state == 'R';
}

int m_start_runtime_thread(pthread_t *thread, void *(*fn)(void *))
{
	/* It must not take process-directed signals meant for the
	 * application's goroutines (they may expect an M). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(thread, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

void m_restore_sigmask(void)
{
	pthread_sigmask(SIG_SETMASK, &m_mask, NULL);
}

/* A thread's CPU time, from its tid: the kernel's per-thread CPU clock id
 * (MAKE_THREAD_CPUCLOCK with CPUCLOCK_SCHED) is computed from the tid, so a
 * thread that has exited yields -1 instead of a use of a stale pthread_t. */
int64_t m_thread_cpu_ns(pid_t tid)
{
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;
	if (clock_gettime(clk, &ts) != 0)
		return -1;
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void m_attach_thread(struct m *m)
{
	if (m->is_m0) {
		pthread_sigmask(SIG_SETMASK, NULL, &m0_caller_mask);
		m_mask = m0_caller_mask;
		runtime_signals_open(&m_mask);
	}
	pthread_sigmask(SIG_SETMASK, &m_mask, NULL);
	if (!m->is_m0)
		signal_notify_unblock_self();  /* src/signals/notify.h */
	tls_m = m;
	m->thread = pthread_self();
	m->tid = (pid_t)syscall(SYS_gettid);
	m->errno_loc = &errno;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->rand_state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
			(uint64_t)m->tid << 32 ^ (uint64_t)m->id;
	sanitizer_thread_init(m);
	if (signal_stack_install(&m->sigstack) != 0)
		rt_fatal("cannot install the signal stack of M %lld",
			 (long long)m->id);
}

void m_detach_thread(struct m *m)
{
	signal_stack_remove(&m->sigstack);
	tls_m = NULL;
	if (m->is_m0)
		pthread_sigmask(SIG_SETMASK, &m0_caller_mask, NULL);
}

/* The end of an M's thread (see m_end_all): asleep for good, deaf to
 * every signal. */
static _Noreturn void m_freeze(void)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (;;)
		pause();
}

/* Wait for M0's verdict (m_end_all); frozen, or back to end. */
static void m_exit_gate(void)
{
	uint32_t v;
	while ((v = atomic_load_explicit(&sched.exit_verdict,
					 memory_order_acquire)) == EXIT_UNDECIDED)
		futex_wait(&sched.exit_verdict, EXIT_UNDECIDED, -1);
	if (v == EXIT_FREEZE)
		m_freeze();
}

/* Back on g0 at exit for good: run on a goroutine parked with this thread
 * to a stop that holds no library's lock, say so, and wait for M0's
 * verdict. */
static void m_leave(struct m *m)
{
	sched_exit_drain(m, true);
	atomic_store_explicit(&m->left, true, memory_order_release);
	m_exit_gate();
}

void m_runtime_thread_leave(struct note *stopped)
{
	note_wake(stopped);
	m_exit_gate();
}

/* Runtime threads stopped at exit, joined by m_end_all: M0 only. */
static struct {
	pthread_t thread[4];
	int n;
} exit_joins;

void m_runtime_thread_stopped(struct note *stopped, pthread_t thread)
{
	note_sleep(stopped);
	if (exit_joins.n < (int)(sizeof(exit_joins.thread) /
				 sizeof(exit_joins.thread[0])))
		exit_joins.thread[exit_joins.n++] = thread;
	else
		pthread_detach(thread);  /* not reached: three such threads */
}

bool m_exit_frozen(void)
{
	return atomic_load_explicit(&sched.exit_verdict, memory_order_acquire) ==
	       EXIT_FREEZE;
}

/* An M's life once its thread is set up: run the P it was handed, if
 * any, until the exit; then leave. */
static void *m_run(struct m *m)
{
	if (m->nextp) {
		p_acquire(m, m->nextp);
		m->nextp = NULL;
		sched_m_loop(m);
	}
	m_leave(m);
	m_detach_thread(m);
	return NULL;
}

static void *m_thread_main(void *arg)
{
	struct m *m = arg;
	m_attach_thread(m);
	return m_run(m);
}

/* The M creator's reserve: asleep until handed a P (its wake-up always
 * consumed, even when the P came before the thread got here), or until the
 * program exits (no P). */
static void *m_reserve_main(void *arg)
{
	struct m *m = arg;
	/* Set up before any P can be handed over (see the M creator), and
	 * only then made the reserve. */
	m_attach_thread(m);
	rlock_lock(&sched.lock);
	creator.making = false;
	bool stopping = atomic_load_explicit(&creator.stop, memory_order_acquire);
	if (!stopping)
		creator.reserve = m;  /* none other: the creator made only it */
	rlock_unlock(&sched.lock);
	if (!stopping) {
		note_wake(&creator.wake);  /* a P may be queued for it */
		note_sleep(&m->park);
		note_clear(&m->park);
		steer_undo(m);
	}
	return m_run(m);
}

static struct m *midle_get(void)
{
	struct m *m = sched.midle;
	if (m) {
		sched.midle = m->link;
		sched.nmidle--;
		m->link = NULL;
		m->idle = false;
	}
	return m;
}

/*
 * The idle M that goes to run a P: one watching no deadline if there is
 * one.  An M asleep until the next timer is that timer's watcher (the
 * timer's P may be idle, with nobody else to run it); taken for other
 * work — a spinning M sent to steal, say — it would leave the timer to
 * whoever happened by next, and a short sleeper beside a hog woke
 * milliseconds late.  When all of them watch, the latest deadline goes and
 * *passed_on is set: the caller lets another idle M take up that watch.
 */
static struct m *midle_get_for_work(int64_t *passed_on)
{
	struct m **pick = NULL;
	*passed_on = 0;
	for (struct m **pp = &sched.midle; *pp; pp = &(*pp)->link) {
		if (!(*pp)->sleep_until) {
			pick = pp;
			break;
		}
		if (!pick || (*pp)->sleep_until > (*pick)->sleep_until)
			pick = pp;
	}
	if (!pick)
		return NULL;
	struct m *m = *pick;
	*pick = m->link;
	sched.nmidle--;
	m->link = NULL;
	m->idle = false;
	*passed_on = m->sleep_until;
	return m;
}

/* Caller holds sched.lock.  An idle M to wake (handing it no P) so that
 * someone is up by `when`, or NULL when one already will be. */
static struct m *watcher_for(int64_t when)
{
	for (struct m *m = sched.midle; m; m = m->link)
		if (m->sleep_until && m->sleep_until <= when)
			return NULL;
	return midle_get();
}

void m_start(struct p *p, bool spinning)
{
	rlock_lock(&sched.lock);
	if (atomic_load_explicit(&sched.exiting, RELAXED) ||
	    (!p && !(p = pidle_get()))) {
		rlock_unlock(&sched.lock);
		if (spinning)
			atomic_fetch_sub_explicit(&sched.nmspinning, 1, RELAXED);
		return;
	}
	int64_t watched;
	struct m *m = midle_get_for_work(&watched);
	if (m) {
		struct m *watcher = watched ? watcher_for(watched) : NULL;
		rlock_unlock(&sched.lock);
		m->spinning = spinning;
		m->nextp = p;
		m_wake_handed(m, &m->park);
		if (watcher)
			note_wake(&watcher->park);  /* no P: it takes an idle one */
		return;
	}
	if (tls_defer_create || creator.reserve) {
		/* The M creator's reserve M takes the P, its thread set up
		 * already, and the creator makes the next reserve.  On a
		 * thread that may hold a lock pthread_create needs, without a
		 * reserve the creator makes the M.  (A thread made here would
		 * hold the P while it sets up, which may wait for an allocator
		 * lock a parked goroutine holds: under ASan, both Ps once sat
		 * behind new Ms in pthread_getattr_np.) */
		struct m *r = creator.reserve, *owner = NULL;
		if (r) {
			creator.reserve = NULL;
			r->spinning = spinning;
			r->nextp = p;
		} else if (!(owner = sched_give_p_to_parked(p, false))) {
			/* Until the creator has an M, or a thread parks with a
			 * runnable goroutine and takes the P (m_stop_locked). */
			p->link = creator.queue;
			creator.queue = p;
		}
		rlock_unlock(&sched.lock);
		if (r)
			m_wake_handed(r, &r->park);
		else if (owner)
			m_wake_handed(owner, &owner->locked_park);
		if (!r && spinning)
			atomic_fetch_sub_explicit(&sched.nmspinning, 1, RELAXED);
		note_wake(&creator.wake);
		return;
	}
	/* A new thread, created outside sched.lock (pthread_create may wait
	 * for malloc's or the loader's lock).  sched.mcreating keeps
	 * goroutine 1's final join from missing it. */
	sched.mcreating++;
	rlock_unlock(&sched.lock);
	m = m_alloc();
	if (!m)
		rt_fatal("out of memory creating an M");
	m->spinning = spinning;
	m->nextp = p;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	int err = pthread_create(&m->thread, &attr, m_thread_main, m);
	pthread_attr_destroy(&attr);
	if (err)
		rt_fatal("cannot create thread for M %lld: %s (threads: %d)",
			 (long long)m->id, strerror(err), sched.mcount);
	rlock_lock(&sched.lock);
	m->alllink = sched.allm;
	sched.allm = m;
	sched.mcount++;
	sched.mcreating--;
	rlock_unlock(&sched.lock);
}

/* ---- the M creator --------------------------------------------------------
 *
 * Threads on which no M may be created: sysmon, and an M parking with the
 * goroutine it was preempted in, whose interrupted code may hold a lock
 * that pthread_create needs (a malloc arena's; the loader's, held while a
 * constructor runs under dlopen).  This thread makes their Ms, where
 * waiting on such a lock is harmless.  It also keeps one reserve M asleep,
 * its thread set up before any P is handed to it (the setup,
 * pthread_getattr_np or the sanitizers' thread state, may wait for an
 * allocator's lock that a parked goroutine holds: under ASan, both Ps
 * once sat behind it, handed to new Ms still setting up),
 * ready before it is needed: the goroutine holding the loader's lock may be
 * the very one whose thread parks, and then no new thread could be made
 * until it ran again — on the reserve.  (Later parks hand the P straight to
 * a parked thread when no M is idle: src/sched/sched.c.)
 */

void m_defer_creation(bool on)
{
	tls_defer_create = on;
}

/*
 * Steering a hand-off.  A thread that parks with its preempted goroutine
 * (KLT-switching) wakes another M with its P and sleeps at once: the best
 * CPU for that M is the one being vacated.  The kernel does not always
 * see it: where CPUs share no cache (as on the 2-vCPU VMs this project is
 * measured on) a wake-up is never steered to an idle CPU, and the woken
 * thread lands on its previous CPU — an idle vCPU that takes about 50 µs
 * to wake, or one busy with a hog, where it waits for the next tick (up
 * to 4 ms at HZ=250) while the vacated CPU idles.  So the waker pins the
 * M to its own CPU just before the wake-up, and the M restores the
 * affinity it had as soon as it runs.  Nothing is moved when the waker's
 * CPU is outside the M's affinity or the M is pinned to one CPU already
 * (the application's choice), or when a call fails.
 */
static __thread bool tls_sleeps_after_handoff;

void m_sleeps_after_handoff(bool on)
{
	tls_sleeps_after_handoff = on;
}

static void steer_here(struct m *target)
{
	if (!tls_sleeps_after_handoff || target->tid <= 0)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return;
	if (sched_getaffinity(target->tid, sizeof(target->steer_restore),
			      &target->steer_restore) != 0 ||
	    !CPU_ISSET(cpu, &target->steer_restore) ||
	    CPU_COUNT(&target->steer_restore) < 2)
		return;
	cpu_set_t here;
	CPU_ZERO(&here);
	CPU_SET(cpu, &here);
	if (sched_setaffinity(target->tid, sizeof(here), &here) == 0)
		target->steered = true;
}

void m_wake_handed(struct m *target, struct note *n)
{
	steer_here(target);
	note_wake(n);
}

/* The woken M's side: back to the affinity it had.  Should that set have
 * left the process's cpuset meanwhile, every CPU is asked for, which the
 * kernel narrows to the cpuset: never left on one CPU. */
static void steer_undo(struct m *m)
{
	if (!m->steered)
		return;
	m->steered = false;
	if (sched_setaffinity(0, sizeof(m->steer_restore),
			      &m->steer_restore) != 0) {
		cpu_set_t all;
		memset(&all, 0xff, sizeof(all));
		(void)sched_setaffinity(0, sizeof(all), &all);
	}
}

/* A sleeping M with no P, registered like any other (the final join),
 * which makes itself the reserve once its thread is set up
 * (m_reserve_main).  False if none could be made. */
static bool reserve_make(void)
{
	struct m *m = m_alloc();
	if (!m)
		return false;
	rlock_lock(&sched.lock);
	bool exiting = atomic_load_explicit(&sched.exiting, RELAXED);
	if (!exiting) {
		m->alllink = sched.allm;
		sched.allm = m;
		sched.mcount++;
		sched.mcreating++;
		creator.making = true;
	}
	rlock_unlock(&sched.lock);
	if (exiting) {
		rt_free(m, sizeof(*m));
		return false;
	}
	int err = pthread_create(&m->thread, NULL, m_reserve_main, m);
	rlock_lock(&sched.lock);
	sched.mcreating--;
	if (err) {
		creator.making = false;
		/* Unlink: nothing else knows it yet. */
		if (sched.allm == m) {
			sched.allm = m->alllink;
		} else {
			struct m *q = sched.allm;
			while (q->alllink != m)
				q = q->alllink;
			q->alllink = m->alllink;
		}
		sched.mcount--;
		rlock_unlock(&sched.lock);
		rt_free(m, sizeof(*m));
		return false;
	}
	rlock_unlock(&sched.lock);
	return true;  /* the reserve once its thread is set up */
}

static void *creator_main(void *arg)
{
	(void)arg;
	/* Unnamed: the Ms it creates inherit its name, the program's. */
	while (!atomic_load_explicit(&creator.stop, memory_order_acquire)) {
		for (;;) {
			/* The M is made first, P-less, as the reserve; a queued
			 * P then goes to it.  So a P never waits inside
			 * pthread_create, where the creator may block. */
			rlock_lock(&sched.lock);
			struct p *p = creator.queue;
			struct m *r = creator.reserve;
			if (p && r) {
				creator.queue = p->link;
				p->link = NULL;
				creator.reserve = NULL;
				r->nextp = p;
				rlock_unlock(&sched.lock);
				note_wake(&r->park);
				continue;
			}
			bool need = !r && !creator.making &&
				    !atomic_load_explicit(&sched.exiting, RELAXED);
			rlock_unlock(&sched.lock);
			if (!need || !reserve_make())
				break;
		}
		note_sleep(&creator.wake);
		note_clear(&creator.wake);
	}
	m_runtime_thread_leave(&creator.stopped);
	return NULL;
}

int m_creator_start(void)
{
	creator.queue = NULL;
	creator.reserve = NULL;
	creator.making = false;
	atomic_store_explicit(&creator.stop, false, RELAXED);
	note_clear(&creator.wake);
	note_clear(&creator.stopped);
	int err = m_start_runtime_thread(&creator.thread, creator_main);
	if (err)
		return err;
	creator.started = true;
	return 0;
}

void m_creator_stop(void)
{
	if (!creator.started)
		return;
	atomic_store_explicit(&creator.stop, true, memory_order_release);
	note_wake(&creator.wake);
	m_runtime_thread_stopped(&creator.stopped, creator.thread);
	creator.started = false;
	/* The reserve leaves (woken with no P); the final join waits for it. */
	rlock_lock(&sched.lock);
	struct m *r = creator.reserve;
	creator.reserve = NULL;
	rlock_unlock(&sched.lock);
	if (r)
		note_wake(&r->park);
	/* Ps still queued: nothing will run them now (the program exits). */
	creator.queue = NULL;
}

void m_stop(struct m *m, int64_t ns)
{
	rlock_lock(&sched.lock);
	if (atomic_load_explicit(&sched.exiting, RELAXED)) {
		rlock_unlock(&sched.lock);
		return;
	}
	m->link = sched.midle;
	m->idle = true;
	m->sleep_until = ns < 0 ? 0 : rt_now() + ns;
	sched.midle = m;
	sched.nmidle++;
	rlock_unlock(&sched.lock);

	GORO_PROBE1(m_park, m->id);
	if (!note_sleep_for(&m->park, ns)) {
		/* Timed out.  Unless someone popped us meanwhile (and is about
		 * to hand us a P), leave the idle list with no P. */
		rlock_lock(&sched.lock);
		if (m->idle) {
			struct m **pp = &sched.midle;
			while (*pp != m)
				pp = &(*pp)->link;
			*pp = m->link;
			sched.nmidle--;
			m->idle = false;
			rlock_unlock(&sched.lock);
			GORO_PROBE1(m_unpark, m->id);
			return;
		}
		rlock_unlock(&sched.lock);
		note_sleep(&m->park);
	}
	GORO_PROBE1(m_unpark, m->id);
	note_clear(&m->park);
	steer_undo(m);
	if (m->nextp) {
		p_acquire(m, m->nextp);
		m->nextp = NULL;
	}
}

void m_stop_locked(struct m *m)
{
	rlock_lock(&sched.lock);
	bool exiting = atomic_load_explicit(&sched.exiting, RELAXED);
	struct p *p = m->nextp;
	if (p) {
		/* Its goroutine was picked, and a P handed over, before this
		 * M got here: take it (the wake-up is consumed below). */
		m->nextp = NULL;
	} else if (!exiting && (p = creator.queue) && m->locked_g &&
		   m->locked_g->thread_parked &&
		   sched_take_back_parked(m->locked_g)) {
		/* A P waits for the M creator (which may wait for a lock
		 * this very goroutine holds) while the goroutine is
		 * runnable: run it. */
		creator.queue = p->link;
		p->link = NULL;
		rlock_unlock(&sched.lock);
		p_acquire(m, p);
		return;
	} else {
		p = NULL;
		/* Only now may a waker pick this thread for a P
		 * (sched_give_p_to_parked). */
		m->locked_sleeping = !exiting;
	}
	rlock_unlock(&sched.lock);
	if (exiting && !p)
		return;
	note_sleep(&m->locked_park);
	note_clear(&m->locked_park);
	steer_undo(m);
	if (!p) {
		rlock_lock(&sched.lock);
		p = m->nextp;
		m->nextp = NULL;
		rlock_unlock(&sched.lock);
	}
	if (p)
		p_acquire(m, p);
}

void m_wake_locked(struct m *m, struct p *p)
{
	rlock_lock(&sched.lock);
	m->locked_sleeping = false;
	m->nextp = p;
	rlock_unlock(&sched.lock);
	m_wake_handed(m, &m->locked_park);
}

/* Called with sched.exiting set: wake every idle M, and every locked M
 * waiting for its goroutine, so that they leave. */
void m_wake_all_idle(void)
{
	rlock_lock(&sched.lock);
	struct m *m;
	while ((m = midle_get()))
		note_wake(&m->park);
	for (m = sched.allm; m; m = m->alllink) {
		if (m->locked_sleeping) {
			m->locked_sleeping = false;
			note_wake(&m->locked_park);
		}
	}
	rlock_unlock(&sched.lock);
	netpoll_break();  /* and the one blocked in the poller */
}

void m_poke_idle_for_deadline(int64_t when)
{
	if (atomic_load_explicit(&sched.npidle, RELAXED) == 0)
		return;  /* every P is busy and will see the timer itself */
	if (netpoll_wake_for_deadline(when))
		return;  /* the M blocked in the poller wakes in time */
	rlock_lock(&sched.lock);
	struct m *m = watcher_for(when);
	rlock_unlock(&sched.lock);
	if (m)
		note_wake(&m->park);  /* no P handed: it takes an idle one */
}

void m_list_start(struct m *m0)
{
	sched.allm = m0;
	sched.mcount = 1;
}

/*
 * Ending the Ms at exit.  A goroutine abandoned while parked with its
 * thread (stopped by a preemption at an arbitrary instruction of foreign
 * code: sched_preempt_klt) may hold any lock of that code, such as a
 * malloc arena's or the sanitizer allocator's.  A thread's own ending
 * takes such locks (glibc hands the thread's tcache back to the arenas the
 * chunks came from; ASan drains its thread cache), so ending the threads
 * then can wait for ever, and goro_main with it: six goroutines calling
 * malloc and free hung every exit at 1 and 2 Ps.  So when any M has such a
 * goroutine, no M's thread ends: each one stays asleep for good with
 * every signal blocked, unjoined, its struct m and stacks left to it, and
 * the process's own exit ends it.  So do the runtime threads stopped
 * before the Ms left (sysmon, the M creator, schedtrace: under ASan,
 * sysmon's ending waited for the allocator lock a goroutine held).
 * Otherwise they all end and are joined, and no thread of the run is left
 * behind.
 */
bool m_end_all(struct m *self)
{
	rlock_lock(&sched.lock);
	struct m *list = sched.allm;
	rlock_unlock(&sched.lock);
	bool freeze = atomic_load_explicit(&sched.exit_forced, RELAXED);
	for (struct m *m = list; m; m = m->alllink)
		if (m->locked_g && m->locked_g->thread_parked)
			freeze = true;
	atomic_store_explicit(&sched.exit_verdict,
			      freeze ? EXIT_FREEZE : EXIT_END,
			      memory_order_release);
	futex_wake(&sched.exit_verdict, INT32_MAX);
	for (int i = 0; i < exit_joins.n; i++)
		if (!freeze)
			pthread_join(exit_joins.thread[i], NULL);
	exit_joins.n = 0;
	if (!freeze) {
		struct m *next;
		for (struct m *m = list; m; m = next) {
			next = m->alllink;
			if (m == self)
				continue;
			pthread_join(m->thread, NULL);
			rt_free(m, sizeof(*m));
		}
	}
	rlock_lock(&sched.lock);
	sched.allm = NULL;
	sched.mcount = 0;
	rlock_unlock(&sched.lock);
	return freeze;
}

