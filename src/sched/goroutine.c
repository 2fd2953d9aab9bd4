/* SPDX-License-Identifier: MIT */
/*
 * goroutine.c — the life of a G record, and the public calls about the
 * calling goroutine (spawn, yield, exit, id, name).
 *
 * Gs are never freed while goro_main runs: a dead G goes to its P's free
 * list (overflowing to a global one) and is reused by the next spawn, and
 * its stack goes to the P's stack cache.  A spawn-and-exit storm therefore
 * allocates nothing after warm-up.  Goroutine ids come from a global
 * counter in batches of GOID_BATCH per P, so spawning on several Ps does
 * not bounce one cache line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probes.h"
#include "alloc.h"
#include "goroutine.h"
#include "runq.h"
#include "scheduler.h"
#include <goro.h>

#include "atomic.h"
#define GFREE_LOCAL_MAX 64
#define GOID_BATCH 16
#define STACK_MIN_REQUEST (16 * 1024)
#define STACK_MAX_REQUEST (1UL << 30)

struct g_table allgs;

static struct {
	struct rlock lock;
	struct g *list;
	int32_t count;
} gfree_global;

static int allgs_add(struct g *g)
{
	rlock_lock(&allgs.lock);
	size_t n = atomic_load_explicit(&allgs.count, RELAXED);
	if (n == allgs.capacity) {
		size_t cap = allgs.capacity ? allgs.capacity * 2 : 1024;
		struct g **items = rt_realloc(allgs.items,
					      allgs.capacity * sizeof(*items),
					      cap * sizeof(*items));
		if (!items) {
			rlock_unlock(&allgs.lock);
			return -ENOMEM;
		}
		allgs.items = items;
		allgs.capacity = cap;
	}
	allgs.items[n] = g;
	atomic_store_explicit(&allgs.count, n + 1, memory_order_release);
	rlock_unlock(&allgs.lock);
	return 0;
}

static struct g *gfree_get(struct p *p)
{
	if (!p->gfree.head && gfree_global.count > 0) {
		rlock_lock(&gfree_global.lock);
		while (gfree_global.list && p->gfree.count < GFREE_LOCAL_MAX / 2) {
			struct g *g = gfree_global.list;
			gfree_global.list = g->schedlink;
			gfree_global.count--;
			g->schedlink = p->gfree.head;
			p->gfree.head = g;
			p->gfree.count++;
		}
		rlock_unlock(&gfree_global.lock);
	}
	struct g *g = p->gfree.head;
	if (g) {
		p->gfree.head = g->schedlink;
		p->gfree.count--;
	}
	return g;
}

/* A thread without a P (one goro did not create, or an M in a blocking
 * call) spawns from the global free list and takes ids one at a time. */
static struct g *g_alloc_global(void)
{
	rlock_lock(&gfree_global.lock);
	struct g *g = gfree_global.list;
	if (g) {
		gfree_global.list = g->schedlink;
		gfree_global.count--;
	}
	rlock_unlock(&gfree_global.lock);
	if (g) {
		memset(g, 0, sizeof(*g));
	} else {
		g = rt_alloc(sizeof(*g));
		if (!g)
			return NULL;
		if (allgs_add(g)) {
			rt_free(g, sizeof(*g));
			return NULL;
		}
	}
	g->id = atomic_fetch_add_explicit(&sched.goid_next, 1, RELAXED);
	g->generation = sched.generation;
	return g;
}

/* Goroutines spawned by threads without a P, which no P counts (their
 * exits are counted by the P they end on): the goro_main run (generation)
 * in the high 32 bits, the count in the low ones, so that a new run
 * starts from 0 without a reset hook. */
static _Atomic uint64_t gcount_unowned;

static void unowned_spawned(void)
{
	uint64_t gen = sched.generation;
	uint64_t old = atomic_load_explicit(&gcount_unowned, RELAXED), new;
	do
		new = old >> 32 == gen ? old + 1 : gen << 32 | 1;
	while (!atomic_compare_exchange_weak_explicit(&gcount_unowned, &old,
						      new, RELAXED, RELAXED));
}

static int64_t unowned_count(void)
{
	uint64_t v = atomic_load_explicit(&gcount_unowned, RELAXED);
	return v >> 32 == sched.generation ? (int64_t)(uint32_t)v : 0;
}

static void arg_copy_release(struct g *g)
{
	if (g->arg_copy) {
		rt_free(g->arg_copy, g->arg_copy_size);
		g->arg_copy = NULL;
		g->arg_copy_size = 0;
	}
}

struct g *g_alloc(struct p *p)
{
	struct g *g = gfree_get(p);
	if (g) {
		memset(g, 0, sizeof(*g));
	} else {
		g = rt_alloc(sizeof(*g));
		if (!g)
			return NULL;
		if (allgs_add(g)) {
			rt_free(g, sizeof(*g));
			return NULL;
		}
	}
	if (p->goid_cache == p->goid_cache_end) {
		p->goid_cache = atomic_fetch_add_explicit(&sched.goid_next,
							  GOID_BATCH, RELAXED);
		p->goid_cache_end = p->goid_cache + GOID_BATCH;
	}
	g->id = p->goid_cache++;
	g->generation = sched.generation;
	return g;
}

/* Only the owning P writes its delta: no locked instruction needed. */
static void gcount_add(struct p *p, int64_t n)
{
	atomic_store_explicit(&p->gcount_delta,
			      atomic_load_explicit(&p->gcount_delta, RELAXED) + n,
			      RELAXED);
}

int64_t g_live_count(void)
{
	int64_t n = unowned_count();
	/* Ps are created from index 0 up and live until goro_main ends
	 * (retired ones keep their delta). */
	for (int i = 0; i < GORO_MAXPROCS_LIMIT && sched.allp[i]; i++)
		n += atomic_load_explicit(&sched.allp[i]->gcount_delta, RELAXED);
	return n < 0 ? 0 : n;
}

void g_mark_dead(struct g *g)
{
	GORO_PROBE1(goroutine_exit, g->id);
	atomic_store_explicit(&g->status, G_DEAD, memory_order_release);
	gcount_add(m_current()->p, -1);
}

void g_recycle(struct p *p, struct g *g)
{
	arg_copy_release(g);
	stack_release(&p->stack_cache, &g->stack);
	g->schedlink = p->gfree.head;
	p->gfree.head = g;
	if (++p->gfree.count < GFREE_LOCAL_MAX)
		return;
	/* Keep half; the rest goes where other Ps can reuse it. */
	rlock_lock(&gfree_global.lock);
	while (p->gfree.count > GFREE_LOCAL_MAX / 2) {
		struct g *x = p->gfree.head;
		p->gfree.head = x->schedlink;
		p->gfree.count--;
		x->schedlink = gfree_global.list;
		gfree_global.list = x;
		gfree_global.count++;
	}
	rlock_unlock(&gfree_global.lock);
}

void g_free_all(void)
{
	size_t n = atomic_load_explicit(&allgs.count, RELAXED);
	for (size_t i = 0; i < n; i++) {
		struct g *g = allgs.items[i];
		arg_copy_release(g);
		stack_discard(&g->stack);
		rt_free(g, sizeof(*g));
	}
	rt_free(allgs.items, allgs.capacity * sizeof(*allgs.items));
	allgs.items = NULL;
	allgs.capacity = 0;
	atomic_store_explicit(&allgs.count, 0, RELAXED);
	gfree_global.list = NULL;
	gfree_global.count = 0;
}

static void copy_name(char *dst, const char *src)
{
	size_t n = src ? strnlen(src, G_NAME_MAX - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

int64_t g_spawn_copy(void (*fn)(void *), void *arg, const void *copy,
		     size_t copy_size, const char *name, size_t stack_max,
		     uintptr_t create_pc)
{
	struct m *m = m_current();
	struct p *p = m ? m->p : NULL;
	/* The stack is bound at first run; whether there will be one is
	 * known now, while the caller can still be told. */
	int err = stack_reserve();
	if (err)
		return err;
	void *arg_copy = NULL;
	if (copy_size) {
		arg_copy = rt_alloc(copy_size);
		if (!arg_copy) {
			stack_unreserve();
			return -ENOMEM;
		}
		memcpy(arg_copy, copy, copy_size);
		arg = arg_copy;
	}
	struct g *g = p ? g_alloc(p) : g_alloc_global();
	if (!g) {
		rt_free(arg_copy, copy_size);
		stack_unreserve();
		return -ENOMEM;
	}
	g->fn = fn;
	g->arg = arg;
	g->arg_copy = arg_copy;
	g->arg_copy_size = copy_size;
	g->stack_max = stack_max;
	g->parent_id = m && m->curg ? m->curg->id : 0;
	g->create_pc = create_pc;
	copy_name(g->name, name);
	int64_t id = g->id;
	GORO_PROBE3(goroutine_create, id, g->parent_id, g->fn);
	if (!p) {
		unowned_spawned();
		sched_ready_global(g);
		return id;
	}
	gcount_add(p, 1);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
	/* As in Go, a new goroutine runs next on this P. */
	runq_put(p, g, true);
	sched_wakep();
	return id;
}

int64_t g_spawn(void (*fn)(void *), void *arg, const char *name,
		size_t stack_max, uintptr_t create_pc)
{
	return g_spawn_copy(fn, arg, NULL, 0, name, stack_max, create_pc);
}

const char *g_status_name(enum g_status s)
{
	static const char *const names[G_DEAD + 1] = {
		[G_IDLE] = "runnable",
		[G_RUNNABLE] = "runnable",
		[G_RUNNING] = "running",
		[G_SYSCALL] = "syscall",
		[G_WAITING] = "waiting",
		[G_DEAD] = "dead",
	};
	return (unsigned)s <= G_DEAD ? names[s] : "unknown";
}

const char *wait_reason_name(enum wait_reason r)
{
	static const char *const names[WAIT_REASON_COUNT] = {
		[WAIT_NONE] = "waiting",
		[WAIT_CHAN_RECV] = "chan receive",
		[WAIT_CHAN_SEND] = "chan send",
		[WAIT_SELECT] = "select",
		[WAIT_SELECT_NO_CASES] = "select (no cases)",
		[WAIT_SLEEP] = "sleep",
		[WAIT_IO] = "IO wait",
		[WAIT_MUTEX] = "sync.Mutex.Lock",
		[WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
		[WAIT_COND] = "sync.Cond.Wait",
		[WAIT_PREEMPTED] = "preempted",
		[WAIT_LOCKED_THREAD] = "locked to thread",
		[WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
		[WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
		[WAIT_RWMUTEX_RLOCK] = "sync.RWMutex.RLock",
		[WAIT_RWMUTEX_LOCK] = "sync.RWMutex.Lock",
	};
	return (unsigned)r < WAIT_REASON_COUNT && names[r] ? names[r] : "waiting";
}

void g_free_list_flush(struct p *p)
{
	rlock_lock(&gfree_global.lock);
	while (p->gfree.head) {
		struct g *x = p->gfree.head;
		p->gfree.head = x->schedlink;
		x->schedlink = gfree_global.list;
		gfree_global.list = x;
		gfree_global.count++;
	}
	p->gfree.count = 0;
	rlock_unlock(&gfree_global.lock);
}

/* ---- public calls ------------------------------------------------------- */

int64_t goro_go_attr(const goro_attr_t *attr, void (*fn)(void *), void *arg)
{
	RT_REQUIRE_G(-EPERM);
	if (!fn)
		return -EINVAL;
	/* size: 0 or this header's sizeof (the only layout so far). */
	if (attr && attr->size && attr->size != sizeof(goro_attr_t))
		return -EINVAL;
	size_t stack_max = attr ? attr->stack_max : 0;
	if (stack_max &&
	    (stack_max < STACK_MIN_REQUEST || stack_max > STACK_MAX_REQUEST))
		return -EINVAL;
	struct g *self = g_current();
	int64_t id = g_spawn(fn, arg, attr ? attr->name : NULL, stack_max,
			     (uintptr_t)__builtin_return_address(0));
	sched_check_preempt(self);
	return id;
}

int64_t goro_go(void (*fn)(void *), void *arg)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (!fn)
		return -EINVAL;
	struct g *self = g_current();
	int64_t id = g_spawn(fn, arg, NULL, 0,
			     (uintptr_t)__builtin_return_address(0));
	if (self)
		sched_check_preempt(self);
	return id;
}

int64_t goro_go_copy(void (*fn)(void *), const void *arg, size_t size)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (!fn || (size && !arg))
		return -EINVAL;
	struct g *self = g_current();
	int64_t id = g_spawn_copy(fn, (void *)arg, arg, size, NULL, 0,
				  (uintptr_t)__builtin_return_address(0));
	if (self)
		sched_check_preempt(self);
	return id;
}

void goro_yield(void)
{
	RT_REQUIRE_G();
	sched_gosched();
}

void goro_exit(void)
{
	RT_REQUIRE_G();
	sched_goroutine_exit();
}

int64_t goro_self(void)
{
	RT_REQUIRE_G(-EPERM);
	sched_preempt_point();
	return g_current()->id;
}

size_t goro_count(void)
{
	RT_REQUIRE_G(0);
	sched_preempt_point();
	return (size_t)g_live_count();
}

void goro_set_name(const char *name)
{
	RT_REQUIRE_G();
	copy_name(g_current()->name, name);
}

void goro_preempt_disable(void)
{
	RT_REQUIRE_G();
	g_current()->preempt_disable++;
}

void goro_preempt_enable(void)
{
	RT_REQUIRE_G();
	struct g *g = g_current();
	if (g->preempt_disable == 0) {
		fprintf(stderr, "goro: goro_preempt_enable() without a matching "
				"goro_preempt_disable() in goroutine %lld\n",
			(long long)g->id);
		return;
	}
	if (--g->preempt_disable == 0)
		sched_check_preempt(g);
}
