/* SPDX-License-Identifier: MIT */
/*
 * procs.c — the P's home: creating, retiring and freeing Ps (the live set
 * and sysmon's spares alike), acquiring and releasing one, the idle list,
 * the one hand-off (p_handoff) and the one "does this P need an M?"
 * (p_needs_m); GOMAXPROCS (counting CPUs, resizing) and the stop-the-world
 * that makes changing their number safe, with its accounting.
 *
 * Invariants: a P's status changes only under the rules in runtime.h
 * (struct p); the idle list and sched.stw_remaining change only under
 * sched.lock; no other file creates, retires or frees a P.
 *
 * Stop-the-world, as Go does it: raise sched.stw_waiting, take every idle P,
 * ask every running goroutine to yield; each M, at its next scheduling
 * point, sees the flag, parks its P as stopped and sleeps.  The last one
 * wakes the goroutine that asked.  It then has the only running P and can
 * move goroutines, timers and free lists between Ps without any race.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "goroutine.h"
#include "m.h"
#include "deadlock.h"
#include "netpoll.h"
#include "preempt.h"
#include "procs.h"
#include "runq.h"
#include "scheduler.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"
#define STW_RETRY_NS (100 * 1000)

/* Serializes stop-the-world initiators. */
static struct rlock world_lock = RLOCK_INIT;

/* cgroup v2 "cpu.max": "<quota> <period>" or "max <period>". */
static int cgroup_cpu_limit(void)
{
	char path[512] = "/sys/fs/cgroup";
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (f) {
		char line[400];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "0::", 3) == 0) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(path, sizeof(path), "/sys/fs/cgroup%s",
					 line + 3);
				break;
			}
		}
		fclose(f);
	}
	strncat(path, "/cpu.max", sizeof(path) - strlen(path) - 1);
	f = fopen(path, "r");
	if (!f)
		return 0;
	char quota[32];
	long period = 0;
	int limit = 0;
	if (fscanf(f, "%31s %ld", quota, &period) == 2 &&
	    strcmp(quota, "max") != 0 && period > 0) {
		long q = atol(quota);
		limit = (int)((q + period - 1) / period);
		if (limit < 1)
			limit = 1;
	}
	fclose(f);
	return limit;
}

int procs_available_cpus(void)
{
	cpu_set_t set;
	int n = 1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	int limit = cgroup_cpu_limit();
	if (limit > 0 && limit < n)
		n = limit;
	if (n > GORO_MAXPROCS_LIMIT)
		n = GORO_MAXPROCS_LIMIT;
	return n < 1 ? 1 : n;
}

uint32_t procs_coprime(int32_t n, uint32_t r)
{
	if (n < 2)
		return 1;
	for (uint32_t s = r % (uint32_t)n; ; s = (s + 1) % (uint32_t)n) {
		uint32_t a = s, b = (uint32_t)n;
		while (b) {
			uint32_t t = a % b;
			a = b;
			b = t;
		}
		if (a == 1 && s != 0)
			return s;
	}
}

/* ---- a P changing hands ---------------------------------------------------- */

void p_acquire(struct m *m, struct p *p)
{
	atomic_store_explicit(&m->p, p, RELAXED);
	atomic_store_explicit(&p->m, m, RELAXED);
	atomic_store_explicit(&p->acquired_at, rt_now(), RELAXED);
	atomic_store_explicit(&p->status, P_RUNNING, RELAXED);
}

static void spare_retire(struct p *spare, struct p *timers_to,
			 bool sched_locked);
static void spare_put(struct p *p);

struct p *p_take_own(struct m *m, bool sched_locked)
{
	struct p *p = atomic_exchange_explicit(&m->p, NULL, memory_order_acq_rel);
	if (!p || !p->spare.is_spare)
		return p;
	/* A swap that succeeded clears stolen_p; one in progress or failed
	 * leaves it naming the P this thread went on using. */
	struct p *own = atomic_exchange_explicit(&m->stolen_p, NULL,
						 memory_order_acq_rel);
	if (!own)
		return p;
	/* What it queued on the spare meanwhile goes on; the spare goes
	 * back. */
	spare_retire(p, own, sched_locked);
	spare_put(p);
	return own;
}

struct p *p_release(struct m *m, bool sched_locked)
{
	struct p *p = p_take_own(m, sched_locked);
	atomic_store_explicit(&p->m, NULL, RELAXED);
	atomic_store_explicit(&p->status, P_IDLE, RELAXED);
	return p;
}

void pidle_put(struct p *p)
{
	/* Two Ms that each believe they hold p would both come here. */
	if (p->idle_listed)
		rt_fatal("P %d put on the idle list twice: two Ms held it",
			 (int)p->id);
	p->idle_listed = true;
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
		p->idle_listed = false;
		atomic_fetch_sub_explicit(&sched.npidle, 1, RELAXED);
	}
	return p;
}

bool p_needs_m(struct p *p)
{
	/* Queued goroutines, timers (the M that finds nothing else sleeps
	 * until the next one), and goroutines waiting on the network when no
	 * M is blocked in the poller. */
	return !runq_empty(p) ||
	       atomic_load_explicit(&sched.runq_size, RELAXED) > 0 ||
	       timers_pending() > 0 || netpoll_should_poll();
}

void p_stop_for_world(struct p *p)
{
	atomic_store_explicit(&p->status, P_STOPPED, RELAXED);
	if (--sched.stw_remaining == 0)
		note_wake(&sched.stw_note);
}

bool p_handoff(struct p *p)
{
	rlock_lock(&sched.lock);
	if (atomic_load_explicit(&sched.stw_waiting, RELAXED)) {
		p_stop_for_world(p);
		rlock_unlock(&sched.lock);
		return false;
	}
	if (!p_needs_m(p)) {
		pidle_put(p);
		rlock_unlock(&sched.lock);
		/* Maybe the last busy P: nobody else would notice a deadlock. */
		deadlock_check();
		return false;
	}
	rlock_unlock(&sched.lock);
	m_start(p, false);
	return true;
}

/* ---- sysmon's spare Ps -------------------------------------------------------- */

/* Spare Ps lent to Ms whose P was taken while they slept. */
static struct rlock spare_lock = RLOCK_INIT;
static struct p *spare_free;
static struct p *spare_all;      /* every spare, through spare.next */

/* A goroutine on a spare P was found asleep in the kernel: it counts in
 * sched.nblocked until it gives the spare back, so that deadlock detection
 * leaves it alone. */
static void spares_lent_add(int64_t n)
{
	deadlock_blocked_add(n);
}

struct p *p_spare_get(void)
{
	rlock_lock(&spare_lock);
	struct p *p = spare_free;
	if (p)
		spare_free = p->link;
	rlock_unlock(&spare_lock);
	if (p) {
		p->link = NULL;
		spares_lent_add(1);
		return p;
	}
	if (!(p = p_create(-1)))
		return NULL;
	p->spare.is_spare = true;
	rlock_lock(&spare_lock);
	p->spare.next = spare_all;
	spare_all = p;
	rlock_unlock(&spare_lock);
	spares_lent_add(1);
	return p;
}

/* Back on the free list, owned by nobody. */
static void spare_put(struct p *p)
{
	atomic_store_explicit(&p->m, NULL, RELAXED);
	atomic_store_explicit(&p->status, P_IDLE, RELAXED);
	rlock_lock(&spare_lock);
	p->link = spare_free;
	spare_free = p;
	rlock_unlock(&spare_lock);
	spares_lent_add(-1);
}

void p_spare_unused(struct p *p)
{
	spare_put(p);
}

static void retire(struct p *p, struct p *timers_to, bool sched_locked);

/* A spare its M is done with: its queue and timers go on, and sysmon's
 * look at lent spares (p_spares_visit) no longer sees it lent. */
static void spare_retire(struct p *spare, struct p *timers_to,
			 bool sched_locked)
{
	retire(spare, timers_to, sched_locked);
	atomic_store_explicit(&spare->m, NULL, RELAXED);
	atomic_store_explicit(&spare->status, P_IDLE, RELAXED);
}

void p_spare_release(struct m *m)
{
	struct p *spare = m->p;
	struct p *own = atomic_exchange_explicit(&m->stolen_p, NULL,
						 memory_order_acq_rel);
	spare_retire(spare, own ? own : sched.allp[0], false);
	if (own) {
		atomic_store_explicit(&m->p, own, RELAXED);
	} else {
		atomic_store_explicit(&m->p, NULL, RELAXED);
		int64_t next = timers_next_deadline_rel();
		if (next >= 0)
			m_poke_idle_for_deadline(rt_now() + next);
	}
	spare_put(spare);
	sched_wakep();
}

void p_spares_free(void)
{
	struct p *next;
	for (struct p *p = spare_all; p; p = next) {
		next = p->spare.next;
		p_destroy(p);
	}
	spare_all = spare_free = NULL;
}

void p_spares_visit(void (*visit)(struct p *p, void *arg), void *arg)
{
	rlock_lock(&spare_lock);
	for (struct p *p = spare_all; p; p = p->spare.next)
		visit(p, arg);
	rlock_unlock(&spare_lock);
}

/* ---- the set of Ps ---------------------------------------------------------- */

struct p *p_create(int32_t id)
{
	struct p *p = rt_alloc(sizeof(*p));
	if (!p)
		return NULL;
	p->id = id;
	if (timers_init(p)) {
		rt_free(p, sizeof(*p));
		return NULL;
	}
	return p;
}

static void retire(struct p *p, struct p *timers_to, bool sched_locked)
{
	struct g *g;
	bool inherit;
	if (!sched_locked)
		rlock_lock(&sched.lock);
	while ((g = runq_get(p, &inherit)))
		global_runq_put(g);
	if (!sched_locked)
		rlock_unlock(&sched.lock);
	timers_move(p, timers_to);
	g_free_list_flush(p);
	stack_cache_drain(&p->stack_cache);
}

void p_retire(struct p *p, struct p *timers_to)
{
	retire(p, timers_to, false);
}

void p_destroy(struct p *p)
{
	stack_cache_drain(&p->stack_cache);
	timers_free(p);
	rt_free(p, sizeof(*p));
}

int procs_init(int n)
{
	for (int i = 0; i < n; i++) {
		if (!sched.allp[i] && !(sched.allp[i] = p_create(i)))
			return -ENOMEM;
	}
	for (int i = n - 1; i >= 0; i--) {
		sched.allp[i]->idle_listed = false;  /* a list of a past run */
		pidle_put(sched.allp[i]);
	}
	atomic_store_explicit(&sched.gomaxprocs, n, RELAXED);
	return 0;
}

void procs_free_all(void)
{
	for (int i = 0; i < GORO_MAXPROCS_LIMIT; i++) {
		struct p *p = sched.allp[i];
		if (!p)
			continue;
		p_destroy(p);
		sched.allp[i] = NULL;
	}
}

void stop_the_world(void)
{
	/* Another goroutine may be stopping the world: yield (which stops
	 * our P for it) until it is done. */
	while (!rlock_trylock(&world_lock))
		sched_preempt_self(false);

	struct m *m = m_current();
	rlock_lock(&sched.lock);
	atomic_store_explicit(&sched.stw_waiting, true, RELAXED);
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	sched.stw_remaining = n - 1;
	atomic_store_explicit(&m->p->status, P_STOPPED, RELAXED);
	struct p *p;
	while ((p = pidle_get())) {
		atomic_store_explicit(&p->status, P_STOPPED, RELAXED);
		sched.stw_remaining--;
	}
	note_clear(&sched.stw_note);
	rlock_unlock(&sched.lock);

	for (;;) {
		rlock_lock(&sched.lock);
		for (int32_t i = 0; i < n; i++) {
			p = sched.allp[i];
			uint32_t st = P_SYSCALL;
			/* A P whose M is blocked in the kernel is ours at once. */
			if (atomic_compare_exchange_strong_explicit(
				    &p->status, &st, P_STOPPED, RELAXED, RELAXED)) {
				sched.stw_remaining--;
				continue;
			}
			/* Under sched.lock, p->m and its goroutine stay
			 * valid; a goroutine in a tight loop is stopped by the
			 * preemption signal.  Each is read once: the M
			 * switches goroutines meanwhile (curg is NULL on its
			 * g0), and a second read may find NULL. */
			struct m *pm = atomic_load_explicit(&p->m, RELAXED);
			struct g *pg = pm ?
				atomic_load_explicit(&pm->curg, RELAXED) : NULL;
			if (st == P_RUNNING && pg)
				preempt_request(pm, pg);
		}
		bool done = sched.stw_remaining == 0;
		rlock_unlock(&sched.lock);
		if (done || note_sleep_for(&sched.stw_note, STW_RETRY_NS))
			break;
	}
}

void start_the_world(void)
{
	struct m *m = m_current();
	struct p *to_start[GORO_MAXPROCS_LIMIT];
	int count = 0;
	rlock_lock(&sched.lock);
	atomic_store_explicit(&sched.stw_waiting, false, RELAXED);
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++) {
		struct p *p = sched.allp[i];
		if (p == m->p)
			continue;
		if (runq_empty(p))
			pidle_put(p);
		else
			to_start[count++] = p;
	}
	atomic_store_explicit(&m->p->status, P_RUNNING, RELAXED);
	rlock_unlock(&sched.lock);
	for (int i = 0; i < count; i++)
		m_start(to_start[i], false);
	sched_wakep();
	rlock_unlock(&world_lock);
}

/* With the world stopped: make Ps 0..n-1 the live set. */
static int procs_resize(int32_t n)
{
	struct m *m = m_current();
	int32_t old = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = old; i < n; i++) {
		if (!sched.allp[i] && !(sched.allp[i] = p_create(i)))
			return -ENOMEM;
		atomic_store_explicit(&sched.allp[i]->status, P_STOPPED, RELAXED);
	}
	/* The caller keeps running: if its P goes away, it takes P 0. */
	if (m->p->id >= n) {
		struct p *mine = m->p;
		struct p *p0 = sched.allp[0];
		p_acquire(m, p0);
		atomic_store_explicit(&p0->status, P_STOPPED, RELAXED);
		atomic_store_explicit(&mine->m, NULL, RELAXED);
	}
	for (int32_t i = n; i < old; i++) {
		struct p *p = sched.allp[i];
		p_retire(p, m->p);
		atomic_store_explicit(&p->status, P_DEAD, RELAXED);
	}
	atomic_store_explicit(&sched.gomaxprocs, n, RELAXED);
	return 0;
}

int goro_maxprocs(int n)
{
	RT_REQUIRE_G(-EPERM);
	int old = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	if (n > GORO_MAXPROCS_LIMIT)
		return -EINVAL;
	if (n < 1 || n == old)
		return old;
	stop_the_world();
	int err = procs_resize(n);
	start_the_world();
	return err ? err : old;
}
