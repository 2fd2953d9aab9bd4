/*
 * m.c — OS threads.  Ms are created on demand, when work appears and no
 * idle M exists to take it; an M with nothing to do parks on its own futex
 * (m->park) and is handed a P by whoever wakes it.  They live until
 * goro_main returns, which joins them all.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probes.h"
#include "alloc.h"
#include "m.h"
#include "netpoll.h"
#include "sanitizer.h"
#include "sched.h"
#include "signal_stack.h"
#include <goro.h>

#define RELAXED memory_order_relaxed

struct m *m_alloc(void)
{
	struct m *m = rt_alloc(sizeof(*m));
	if (!m)
		return NULL;
	m->id = atomic_fetch_add_explicit(&sched.mid_next, 1, RELAXED);
	return m;
}

/* The signal mask of the thread that called goro_main.  Every M runs
 * with it, whichever thread created it: sysmon, which may start Ms, blocks
 * every signal, and a thread inherits its creator's mask — an M with
 * SIGSEGV blocked dies on its first stack-growth fault. */
static sigset_t m0_sigmask;

void m_attach_thread(struct m *m)
{
	if (m->is_m0)
		pthread_sigmask(SIG_SETMASK, NULL, &m0_sigmask);
	else
		pthread_sigmask(SIG_SETMASK, &m0_sigmask, NULL);
	tls_m = m;
	m->thread = pthread_self();
	m->tid = (pid_t)syscall(SYS_gettid);
	m->errno_loc = &errno;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->rand_state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
			(uint64_t)m->tid << 32 ^ (uint64_t)m->id;
	sanitizer_thread_init(m);
	if (signal_stack_install(m) != 0)
		rt_fatal("cannot install the signal stack of M %lld",
			 (long long)m->id);
}

void m_detach_thread(struct m *m)
{
	signal_stack_remove(m);
	tls_m = NULL;
}

static void *m_thread_main(void *arg)
{
	struct m *m = arg;
	m_attach_thread(m);
	p_acquire(m, m->nextp);
	m->nextp = NULL;
	sched_m_loop(m);
	m_detach_thread(m);
	return NULL;
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
 * whoever happened by next: a 50 µs sleeper beside a hog on 2 Ps woke
 * 2-5 ms late.  When all of them watch, the latest deadline goes and
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
		note_wake(&m->park);
		if (watcher)
			note_wake(&watcher->park);  /* no P: it takes an idle one */
		return;
	}
	/* A new thread.  Created under the lock so that goro_main's final
	 * join never sees an M whose thread does not exist yet. */
	m = m_alloc();
	if (!m)
		rt_fatal("out of memory creating an M");
	m->spinning = spinning;
	m->nextp = p;
	m->alllink = sched.allm;
	sched.allm = m;
	sched.mcount++;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	int err = pthread_create(&m->thread, &attr, m_thread_main, m);
	pthread_attr_destroy(&attr);
	rlock_unlock(&sched.lock);
	if (err)
		rt_fatal("cannot create thread for M %lld: %s (threads: %d)",
			 (long long)m->id, strerror(err), sched.mcount);
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
	m->sleep_until = ns < 0 ? 0 : goro_now() + ns;
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
	if (m->nextp) {
		p_acquire(m, m->nextp);
		m->nextp = NULL;
	}
}

void m_stop_locked(struct m *m)
{
	rlock_lock(&sched.lock);
	bool exiting = atomic_load_explicit(&sched.exiting, RELAXED);
	m->locked_sleeping = !exiting;
	rlock_unlock(&sched.lock);
	if (exiting)
		return;
	note_sleep(&m->locked_park);
	note_clear(&m->locked_park);
	if (m->nextp) {
		p_acquire(m, m->nextp);
		m->nextp = NULL;
	}
}

void m_wake_locked(struct m *m, struct p *p)
{
	rlock_lock(&sched.lock);
	m->locked_sleeping = false;
	m->nextp = p;
	rlock_unlock(&sched.lock);
	note_wake(&m->locked_park);
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

void m_join_all(struct m *self)
{
	rlock_lock(&sched.lock);
	struct m *list = sched.allm;
	rlock_unlock(&sched.lock);
	for (struct m *m = list; m; m = m->alllink)
		if (m != self)
			pthread_join(m->thread, NULL);
	struct m *next;
	for (struct m *m = list; m; m = next) {
		next = m->alllink;
		if (m != self)
			rt_free(m, sizeof(*m));
	}
	sched.allm = NULL;
	sched.mcount = 0;
}

void p_acquire(struct m *m, struct p *p)
{
	m->p = p;
	p->m = m;
	atomic_store_explicit(&p->status, P_RUNNING, RELAXED);
}

void p_release(struct m *m)
{
	struct p *p = m->p;
	p->m = NULL;
	m->p = NULL;
	atomic_store_explicit(&p->status, P_IDLE, RELAXED);
}

void pidle_put(struct p *p)
{
	atomic_store_explicit(&p->status, P_IDLE, RELAXED);
	p->link = sched.pidle;
	sched.pidle = p;
	atomic_fetch_add_explicit(&sched.npidle, 1, RELAXED);
}

struct p *pidle_get(void)
{
	struct p *p = sched.pidle;
	if (p) {
		sched.pidle = p->link;
		p->link = NULL;
		atomic_fetch_sub_explicit(&sched.npidle, 1, RELAXED);
	}
	return p;
}
