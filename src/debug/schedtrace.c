/* SPDX-License-Identifier: MIT */
/*
 * schedtrace.c — GORO_DEBUG=schedtrace=MS: Go's scheduler trace.
 *
 * Every MS milliseconds one line on stderr, in Go's format (GODEBUG=
 * schedtrace), from the start of goro_main:
 *
 *	SCHED 12ms: gomaxprocs=2 idleprocs=1 threads=5 spinningthreads=0 \
 *	    idlethreads=2 runqueue=0 [0 0]
 *
 * threads counts the runtime's threads as Go does (its sysmon is an M);
 * runqueue is the global queue, the brackets each P's queue.  With
 * scheddetail=1, each line is followed by one per P, per M and per G,
 * with the fields of Go's detail that mean something here:
 *
 *	  P0: status=1 schedtick=41 syscalltick=3 m=0 runqsize=0 gfreecnt=2
 *	  M2: p=nil curg=nil spinning=false blocked=true locks=0 lockedg=nil
 *	  G7: status=4(chan receive) lockedm=nil
 *
 * Printed by a thread of its own, not by a goroutine (a trace must come
 * out when every P is busy or stuck) and not by sysmon (whose rounds it
 * would lengthen).  It reads the counts through stats.c and, for the
 * detail, walks the Ps and Ms under sched.lock and the G table under its
 * lock, like goro_stats: the world is not stopped, so a line is a
 * snapshot taken while things move, as Go's is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "goroutine.h"
#include "m.h"
#include "schedtrace.h"
#include "stats.h"
#include <goro.h>

#include "atomic.h"

static struct {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;                /* under lock */
	struct note stopped;      /* at its exit gate (schedtrace_stop) */
	int64_t start_ns;
	char buf[8192];
	size_t len;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void flush(void)
{
	size_t done = 0;
	while (done < st.len) {
		ssize_t r = write(STDERR_FILENO, st.buf + done, st.len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	st.len = 0;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	if (st.len > sizeof(st.buf) - 512)
		flush();
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(st.buf + st.len, sizeof(st.buf) - st.len, fmt, ap);
	va_end(ap);
	if (n > 0)
		st.len += (size_t)n < sizeof(st.buf) - st.len ?
			  (size_t)n : sizeof(st.buf) - st.len - 1;
}

static void id_or_nil(const char *key, bool some, int64_t id)
{
	if (some)
		out(" %s=%lld", key, (long long)id);
	else
		out(" %s=nil", key);
}

/* Under sched.lock. */
static void detail_procs_and_ms(void)
{
	int32_t procs = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < procs; i++) {
		const struct p *p = sched.allp[i];
		if (!p)
			continue;
		out("  P%d: status=%u schedtick=%u syscalltick=%u", (int)p->id,
		    atomic_load_explicit(&p->status, RELAXED),
		    atomic_load_explicit(&p->schedtick, RELAXED),
		    atomic_load_explicit(&p->syscalltick, RELAXED));
		struct m *m = p->m;
		id_or_nil("m", m != NULL, m ? m->id : 0);
		out(" runqsize=%u gfreecnt=%d\n", stats_runq_length(p),
		    (int)p->gfree.count);
	}
	for (struct m *m = sched.allm; m; m = m->alllink) {
		struct p *p = m->p;
		struct g *g = m->curg, *locked = m->locked_g;
		out("  M%lld:", (long long)m->id);
		id_or_nil("p", p != NULL, p ? p->id : 0);
		id_or_nil("curg", g != NULL, g ? g->id : 0);
		out(" spinning=%s blocked=%s locks=%d",
		    m->spinning ? "true" : "false", m->idle ? "true" : "false",
		    m->locks);
		id_or_nil("lockedg", locked != NULL, locked ? locked->id : 0);
		out("\n");
	}
}

static void detail_goroutines(void)
{
	uint32_t generation = sched.generation;
	rlock_lock(&allgs.lock);
	size_t n = atomic_load_explicit(&allgs.count, RELAXED);
	for (size_t i = 0; i < n; i++) {
		struct g *g = allgs.items[i];
		uint32_t status = atomic_load_explicit(&g->status, RELAXED);
		if (g->generation != generation || status == G_DEAD)
			continue;
		out("  G%lld: status=%u", (long long)g->id, status);
		if (status == G_WAITING)
			out("(%s)", wait_reason_name((enum wait_reason)
						     g->wait_reason));
		struct m *locked = g->locked_m;
		id_or_nil("lockedm", locked != NULL, locked ? locked->id : 0);
		out("\n");
	}
	rlock_unlock(&allgs.lock);
}

static void trace_once(void)
{
	struct goro_stats s;
	stats_read(&s);
	out("SCHED %lldms: gomaxprocs=%llu idleprocs=%llu threads=%llu "
	    "spinningthreads=%llu idlethreads=%llu runqueue=%llu",
	    (long long)((goro_now() - st.start_ns) / 1000000),
	    (unsigned long long)s.procs, (unsigned long long)s.procs_idle,
	    (unsigned long long)(s.threads + s.aux_threads),
	    (unsigned long long)s.m_spinning, (unsigned long long)s.m_idle,
	    (unsigned long long)s.runq_global);
	rlock_lock(&sched.lock);
	if (!config.scheddetail) {
		out(" [");
		int32_t procs = atomic_load_explicit(&sched.gomaxprocs,
						     RELAXED);
		for (int32_t i = 0; i < procs; i++)
			if (sched.allp[i])
				out("%s%u", i ? " " : "",
				    stats_runq_length(sched.allp[i]));
		out("]\n");
	} else {
		out("\n");
		detail_procs_and_ms();
	}
	rlock_unlock(&sched.lock);
	if (config.scheddetail)
		detail_goroutines();
	flush();
}

static void *schedtrace_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&st.lock);
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!st.stop) {
		pthread_mutex_unlock(&st.lock);
		trace_once();
		pthread_mutex_lock(&st.lock);
		int64_t ns = next.tv_nsec + config.schedtrace_ms * 1000000;
		next.tv_sec += ns / 1000000000;
		next.tv_nsec = ns % 1000000000;
		/* Fallen behind (a stalled machine): no burst of lines to
		 * catch up, the next one an interval from now. */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec)) {
			ns = now.tv_nsec + config.schedtrace_ms * 1000000;
			next.tv_sec = now.tv_sec + ns / 1000000000;
			next.tv_nsec = ns % 1000000000;
		}
		while (!st.stop && pthread_cond_timedwait(&st.wake, &st.lock,
							  &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&st.lock);
	/* Ended, or frozen, with the Ms (src/sched/m.c, m_end_all). */
	m_runtime_thread_leave(&st.stopped);
	return NULL;
}

int schedtrace_start(void)
{
	if (config.schedtrace_ms <= 0)
		return 0;
	st.start_ns = goro_now();
	st.stop = false;
	note_clear(&st.stopped);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&st.wake);
	pthread_cond_init(&st.wake, &ca);
	pthread_condattr_destroy(&ca);
	int err = pthread_create(&st.thread, NULL, schedtrace_main, NULL);
	if (err)
		return -err;
	st.started = true;
	return 0;
}

void schedtrace_stop(void)
{
	if (!st.started)
		return;
	pthread_mutex_lock(&st.lock);
	st.stop = true;
	pthread_cond_signal(&st.wake);
	pthread_mutex_unlock(&st.lock);
	m_runtime_thread_stopped(&st.stopped, st.thread);
	st.started = false;
}
