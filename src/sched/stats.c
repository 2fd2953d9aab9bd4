/* SPDX-License-Identifier: MIT */
/*
 * stats.c — goro_stats(): a snapshot of the scheduler for programs (Go's
 * runtime/metrics), and the same counts for GORO_DEBUG=schedtrace
 * (schedtrace.c).
 *
 * Nothing here keeps a counter of its own.  Each number is read from the
 * module that owns it — the G table (goroutine.h), the M list and the Ps
 * (struct sched), the run queues (runq.c: steals), the preemption
 * counters (goro_preempt_stats), timers (timers_pending), the poller
 * (netpoll_waiting), stacks (stack_reserved_bytes) — when asked, so the
 * fast paths pay nothing for statistics nobody reads.
 *
 * Consistency: the M list and the Ps are walked under sched.lock, the G
 * table under its own lock; the world is not stopped, so goroutines may
 * change state while they are counted (each count is of real goroutines;
 * their sum can be off by those in flight).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "goroutine.h"
#include "netpoll.h"
#include "runq.h"
#include "stack.h"
#include "stats.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

static void count_goroutines(struct goro_stats *s)
{
	uint32_t generation = sched.generation;
	rlock_lock(&allgs.lock);
	size_t n = atomic_load_explicit(&allgs.count, RELAXED);
	for (size_t i = 0; i < n; i++) {
		struct g *g = allgs.items[i];
		if (g->generation != generation)
			continue;
		switch (atomic_load_explicit(&g->status, RELAXED)) {
		case G_IDLE:
		case G_RUNNABLE: s->g_runnable++; break;
		case G_RUNNING: s->g_running++; break;
		case G_SYSCALL: s->g_syscall++; break;
		case G_WAITING: s->g_waiting++; break;
		default: continue;  /* dead */
		}
		if (g->stack.lo)
			s->stack_inuse_bytes += g->stack.committed;
	}
	rlock_unlock(&allgs.lock);
	s->goroutines = s->g_runnable + s->g_running + s->g_syscall +
			s->g_waiting;
}

uint32_t stats_runq_length(const struct p *p)
{
	uint32_t head = atomic_load_explicit(&p->runq_head, RELAXED);
	uint32_t tail = atomic_load_explicit(&p->runq_tail, RELAXED);
	uint32_t n = tail - head;
	if (n > RUNQ_SIZE)  /* read between a thief's and the owner's update */
		n = 0;
	return n + (atomic_load_explicit(&p->runnext, RELAXED) != NULL);
}

/* Under sched.lock. */
static void count_threads_and_procs(struct goro_stats *s)
{
	for (struct m *m = sched.allm; m; m = m->alllink) {
		s->threads++;
		/* Each field read once: its owner may change it meanwhile. */
		struct g *g = m->curg;
		struct p *p = m->p;
		if (m->idle)
			s->m_idle++;
		else if (g && atomic_load_explicit(&g->status, RELAXED) ==
				      G_SYSCALL)
			s->m_syscall++;
		else if (g)
			s->m_running++;
		else if (p)
			s->m_spinning++;
		if (!m->idle && p && p->spare.is_spare)
			s->m_spare++;
	}
	int32_t procs = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	s->procs = (uint64_t)procs;
	s->procs_idle = (uint64_t)atomic_load_explicit(&sched.npidle, RELAXED);
	s->runq_global = (uint64_t)atomic_load_explicit(&sched.runq_size,
							RELAXED);
	for (int32_t i = 0; i < procs; i++) {
		const struct p *p = sched.allp[i];
		if (!p)
			continue;
		uint32_t n = stats_runq_length(p);
		s->runq_local += n;
		if (n > s->runq_local_max)
			s->runq_local_max = n;
	}
}

void stats_read(struct goro_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	struct goro_preempt_stats ps;
	if (goro_preempt_stats(&ps, sizeof(ps)) == 0) {
		s->preempt_requested = ps.requested;
		s->preempt_done = ps.preempted;
		uint64_t settled = ps.preempted + ps.stale;
		s->preempt_refused = ps.delivered > settled ?
				     ps.delivered - settled : 0;
	}
	s->steals = runq_steals();
	if (!atomic_load_explicit(&sched.running, RELAXED))
		return;
	count_goroutines(s);
	rlock_lock(&sched.lock);
	count_threads_and_procs(s);
	rlock_unlock(&sched.lock);
	s->aux_threads = 1;  /* sysmon */
	int64_t t = timers_pending(), w = netpoll_waiting();
	s->timers = t > 0 ? (uint64_t)t : 0;
	s->netpoll_waiters = w > 0 ? (uint64_t)w : 0;
	s->stack_reserved_bytes = stack_reserved_bytes();
}

int goro_stats(struct goro_stats *out, size_t size)
{
	if (!out)
		return size ? -EINVAL : (int)sizeof(*out);
	struct goro_stats s;
	stats_read(&s);
	if (size > sizeof(s))
		size = sizeof(s);
	s.size = size;
	memcpy(out, &s, size);
	return (int)sizeof(s);
}
