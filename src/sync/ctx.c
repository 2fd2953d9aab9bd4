/* SPDX-License-Identifier: MIT */
/*
 * ctx.c — Go's context package without values: a tree of cancellation
 * scopes, each with a done channel that is closed once when it is
 * cancelled or its deadline passes.
 *
 * What it promises:
 *  - Cancelling a context cancels its whole subtree, with the same error
 *    (-ECANCELED, or -ETIMEDOUT for an expired deadline), before the call
 *    returns; a context created under a cancelled parent starts cancelled.
 *  - A child's deadline is never later than its parent's (a later one is
 *    simply the parent's, as Go's WithDeadline does).
 *  - goro_ctx_free cancels the context, detaches it from its parent and
 *    orphans its children (already cancelled by then); it frees nothing
 *    else.  The background context is static: free and cancel ignore it,
 *    its done channel is NULL (Go's nil Done(): never ready).
 *
 * One lock (tree_lock) guards every parent/child link and every first
 * cancellation, so a cancel racing with a child's creation or a free can
 * never lose the child.  The walk is iterative (first child, next sibling,
 * back up): a chain of contexts 100,000 deep costs no goroutine stack.
 * Closing a done channel under tree_lock nests a channel lock inside it;
 * nothing takes them the other way round.  A deadline is a callback timer
 * (src/time/timerapi.h); free stops it and waits for a callback under way
 * before touching the tree, so the callback never meets a freed context.
 */
#include <errno.h>

#include "clock.h"
#include "alloc.h"
#include "chan.h"
#include "runtime.h"
#include "timerapi.h"
#include <goro.h>

#define CTX_MAGIC 0x63747878u

struct goro_ctx {
	_Atomic uint32_t magic;       /* first: rt_retire keeps it readable */
	_Atomic int err;              /* 0 until cancelled; set under tree_lock */
	bool background;
	int64_t deadline;             /* goro_now(); 0 = none */
	goro_chan_t *done;            /* element size 0, capacity 0 */
	goro_timer_t *timer;          /* deadline; freed by goro_ctx_free */
	/* Guarded by tree_lock. */
	struct goro_ctx *parent;
	struct goro_ctx *first_child;
	struct goro_ctx *next, *prev; /* siblings */
};

static struct rlock tree_lock;

static struct goro_ctx background = {
	.magic = CTX_MAGIC,
	.background = true,
};

static int ctx_check(struct goro_ctx *c)
{
	if (!c)
		return -EINVAL;
	return atomic_load_explicit(&c->magic, memory_order_relaxed) ==
		       CTX_MAGIC ? 0 : -EBADF;
}

/* With tree_lock held: cancel c and its subtree with err (those already
 * cancelled keep their error, and so does their subtree, which they
 * cancelled themselves). */
static void cancel_locked(struct goro_ctx *root, int err)
{
	struct goro_ctx *c = root;
	for (;;) {
		bool descend = false;
		if (atomic_load_explicit(&c->err, memory_order_relaxed) == 0 &&
		    !c->background) {
			atomic_store_explicit(&c->err, err, memory_order_release);
			chan_close_rt(c->done);
			descend = true;
		}
		if (descend && c->first_child) {
			c = c->first_child;
			continue;
		}
		/* Next sibling, or climb until there is one. */
		while (c != root && !c->next)
			c = c->parent;
		if (c == root)
			return;
		c = c->next;
	}
}

static void link_child(struct goro_ctx *parent, struct goro_ctx *c)
{
	c->parent = parent;
	c->prev = NULL;
	c->next = parent->first_child;
	if (parent->first_child)
		parent->first_child->prev = c;
	parent->first_child = c;
}

static void unlink_child(struct goro_ctx *c)
{
	struct goro_ctx *parent = c->parent;
	if (!parent)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		parent->first_child = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->parent = c->next = c->prev = NULL;
}

static void ctx_expire(void *arg)
{
	rlock_lock(&tree_lock);
	cancel_locked(arg, -ETIMEDOUT);
	rlock_unlock(&tree_lock);
}

static goro_ctx_t *ctx_new(goro_ctx_t *parent, int64_t deadline)
{
	if (!g_current() && !rt_foreign_allowed(__func__)) {
		errno = EPERM;
		return NULL;
	}
	int err = ctx_check(parent);
	if (err) {
		errno = -err;
		return NULL;
	}
	struct goro_ctx *c = rt_alloc(sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->done = goro_chan_make(0, 0);
	if (!c->done) {
		rt_free(c, sizeof(*c));
		errno = ENOMEM;
		return NULL;
	}
	atomic_store_explicit(&c->magic, CTX_MAGIC, memory_order_relaxed);
	if (parent->deadline && (!deadline || parent->deadline <= deadline))
		deadline = 0;  /* the parent's deadline comes first */
	rlock_lock(&tree_lock);
	if (ctx_check(parent)) {  /* freed meanwhile */
		rlock_unlock(&tree_lock);
		goro_chan_free(c->done);
		rt_free(c, sizeof(*c));
		errno = EBADF;
		return NULL;
	}
	link_child(parent, c);
	c->deadline = deadline ? deadline : parent->deadline;
	int perr = atomic_load_explicit(&parent->err, memory_order_relaxed);
	if (perr)
		cancel_locked(c, perr);
	else if (deadline && deadline <= rt_now())
		cancel_locked(c, -ETIMEDOUT);
	rlock_unlock(&tree_lock);
	if (deadline && !atomic_load_explicit(&c->err, memory_order_relaxed)) {
		c->timer = timer_new_callback(deadline, ctx_expire, c);
		if (!c->timer) {
			int e = errno;
			goro_ctx_free(c);
			errno = e;
			return NULL;
		}
	}
	return c;
}

/* ---- public calls ----------------------------------------------------------- */

goro_ctx_t *goro_ctx_background(void)
{
	return &background;
}

goro_ctx_t *goro_ctx_with_cancel(goro_ctx_t *parent)
{
	return ctx_new(parent, 0);
}

goro_ctx_t *goro_ctx_with_deadline(goro_ctx_t *parent, int64_t deadline_ns)
{
	if (deadline_ns <= 0) {
		errno = EINVAL;
		return NULL;
	}
	return ctx_new(parent, deadline_ns);
}

goro_ctx_t *goro_ctx_with_timeout(goro_ctx_t *parent, int64_t ns)
{
	if (ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	int64_t now = rt_now();
	return ctx_new(parent, ns > INT64_MAX - now ? INT64_MAX : now + ns);
}

void goro_ctx_cancel(goro_ctx_t *c)
{
	RT_REQUIRE_RUNTIME();
	if (ctx_check(c))
		return;
	rlock_lock(&tree_lock);
	if (!ctx_check(c))
		cancel_locked(c, -ECANCELED);
	rlock_unlock(&tree_lock);
}

goro_chan_t *goro_ctx_done(goro_ctx_t *c)
{
	int err = ctx_check(c);
	if (err) {
		errno = -err;
		return NULL;
	}
	return c->done;  /* NULL for the background context */
}

int goro_ctx_err(goro_ctx_t *c)
{
	int err = ctx_check(c);
	if (err)
		return err == -EBADF ? -EBADF : -EINVAL;
	return atomic_load_explicit(&c->err, memory_order_acquire);
}

int64_t goro_ctx_deadline(goro_ctx_t *c)
{
	int err = ctx_check(c);
	return err ? err : c->deadline;
}

void goro_ctx_free(goro_ctx_t *c)
{
	RT_REQUIRE_RUNTIME();
	if (ctx_check(c) || c->background)
		return;
	/* First the timer: after this no callback can reach c. */
	if (c->timer) {
		goro_timer_free(c->timer);
		c->timer = NULL;
	}
	rlock_lock(&tree_lock);
	if (ctx_check(c)) {  /* a concurrent free won */
		rlock_unlock(&tree_lock);
		return;
	}
	cancel_locked(c, -ECANCELED);
	unlink_child(c);
	for (struct goro_ctx *k = c->first_child, *next; k; k = next) {
		next = k->next;
		k->parent = k->next = k->prev = NULL;
	}
	c->first_child = NULL;
	atomic_store_explicit(&c->magic, 0, memory_order_relaxed);
	rlock_unlock(&tree_lock);
	goro_chan_free(c->done);
	rt_retire(c, sizeof(*c), sizeof(c->magic));
}
