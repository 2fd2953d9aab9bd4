/* SPDX-License-Identifier: MIT */
/*
 * chan.c — channels: send, receive, close, and their non-blocking forms.
 *
 * The algorithm is Go's (runtime/chan.go), see src/sync/chan.h for the waiter
 * records.  A send first looks for a parked receiver and hands it the value
 * directly; otherwise it puts the value in the buffer if there is room;
 * otherwise it parks on the send queue with a pointer to its value, which
 * a receiver will take from there.  A receive mirrors this; with a full
 * buffer and a parked sender it takes the oldest buffered value and moves
 * the sender's value into the freed slot, so FIFO order is kept.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "chan.h"
#include "scheduler.h"
#include <goro.h>

#define BUF_ALIGN 16

/* ---- wait queues ---------------------------------------------------------- */

void waitq_push(struct waitq *q, struct waiter *w)
{
	w->next = NULL;
	w->prev = q->last;
	if (q->last)
		q->last->next = w;
	else
		q->first = w;
	q->last = w;
	w->queued = true;
}

void waitq_remove(struct waitq *q, struct waiter *w)
{
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->first = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->last = w->prev;
	w->queued = false;
}

/* The first waiter that may be completed now.  A select's waiter whose
 * select was already claimed through another channel is dropped on the
 * way: its goroutine removes the rest of its waiters itself. */
static struct waiter *waitq_take(struct waitq *q)
{
	struct waiter *w;
	while ((w = q->first)) {
		waitq_remove(q, w);
		if (select_claim(w))
			return w;
	}
	return NULL;
}

/* ---- the locked core, shared with select ----------------------------------- */

static inline void elem_copy(void *dst, const void *src, size_t size)
{
	if (size && dst)
		memcpy(dst, src, size);
}

static inline void *slot(struct goro_chan *c, size_t i)
{
	return c->buf + i * c->elem_size;
}

static inline size_t ring_next(struct goro_chan *c, size_t i)
{
	return ++i == c->cap ? 0 : i;
}

/* w's operation is complete: hand its goroutine back to the caller to
 * ready, or wake the thread (goro did not create) that waits on it. */
static struct g *waiter_done(struct waiter *w, bool success)
{
	w->success = success;
	if (!w->g) {
		/* The caller holds w's channel lock, which the woken thread
		 * takes before it leaves: the note outlives the wake. */
		if (w->sel) {
			atomic_store_explicit(&w->sel->won, w,
					      memory_order_release);
			note_wake(w->sel->thread_wake);
		} else {
			note_wake(&w->thread_wake);
		}
		return NULL;
	}
	w->g->param = w;
	return w->g;
}

int chan_send_locked(struct goro_chan *c, const void *elem, struct g **wake)
{
	*wake = NULL;
	if (c->closed)
		return -EPIPE;
	struct waiter *w = waitq_take(&c->recvq);
	if (w) {
		/* A receiver is parked, so the buffer is empty: hand the
		 * value over directly. */
		elem_copy(w->elem, elem, c->elem_size);
		*wake = waiter_done(w, true);
		return 0;
	}
	if (c->count < c->cap) {
		elem_copy(slot(c, c->sendx), elem, c->elem_size);
		c->sendx = ring_next(c, c->sendx);
		c->count++;
		return 0;
	}
	return -EAGAIN;
}

int chan_recv_locked(struct goro_chan *c, void *elem, struct g **wake)
{
	*wake = NULL;
	struct waiter *w = waitq_take(&c->sendq);
	if (w) {
		if (c->cap == 0) {
			elem_copy(elem, w->elem, c->elem_size);
		} else {
			/* Full buffer: take its head, append the sender's
			 * value in the slot just freed. */
			elem_copy(elem, slot(c, c->recvx), c->elem_size);
			elem_copy(slot(c, c->recvx), w->elem, c->elem_size);
			c->recvx = ring_next(c, c->recvx);
			c->sendx = c->recvx;
		}
		*wake = waiter_done(w, true);
		return 1;
	}
	if (c->count > 0) {
		elem_copy(elem, slot(c, c->recvx), c->elem_size);
		c->recvx = ring_next(c, c->recvx);
		c->count--;
		return 1;
	}
	if (c->closed) {
		if (elem && c->elem_size)
			memset(elem, 0, c->elem_size);
		return 0;
	}
	return -EAGAIN;
}

void chan_wake(struct g *g)
{
	/* The partner runs next on this P, as Go's goready does: a
	 * ping-pong pair stays on one P and one cache. */
	if (g)
		sched_ready(g, true);
}

void chan_unlock_cb(void *c)
{
	rlock_unlock(&((struct goro_chan *)c)->lock);
}

/* ---- public calls ---------------------------------------------------------------- */

/* Go's maxAlloc on amd64: a channel buffer (or capacity) of 2^49 or more
 * can never be allocated, so it is a size error, not an out-of-memory. */
#define CHAN_MAX_BYTES (1ULL << 49)

int chan_check(struct goro_chan *c)
{
	if (!c)
		return -EINVAL;
	return atomic_load_explicit(&c->magic, memory_order_relaxed) ==
		       CHAN_MAGIC ? 0 : -EBADF;
}

static size_t chan_header_size(void)
{
	return (sizeof(struct goro_chan) + BUF_ALIGN - 1) &
	       ~(size_t)(BUF_ALIGN - 1);
}

goro_chan_t *goro_chan_make(size_t elem_size, size_t cap)
{
	if (!g_current() && !rt_foreign_allowed(__func__)) {
		errno = EPERM;
		return NULL;
	}
	size_t header = chan_header_size();
	size_t bytes;
	if (__builtin_mul_overflow(elem_size, cap, &bytes) ||
	    bytes >= CHAN_MAX_BYTES || cap >= CHAN_MAX_BYTES) {
		errno = EINVAL;  /* Go: "makechan: size out of range" */
		return NULL;
	}
	struct goro_chan *c = rt_alloc(bytes + header);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->elem_size = elem_size;
	c->cap = cap;
	c->buf = (unsigned char *)c + header;
	atomic_store_explicit(&c->magic, CHAN_MAGIC, memory_order_relaxed);
	return c;
}

/* Ready a partner found by an operation: onto this P when the caller has
 * one, else onto the global queue (a thread goro did not create). */
static void wake_list(struct g *list)
{
	while (list) {
		struct g *g = list;
		list = g->schedlink;
		g->schedlink = NULL;
		sched_ready(g, false);
	}
}

/* A thread goro did not create waits for a partner: it sleeps in the
 * kernel on its waiter's note, holding no P. */
static void thread_wait(struct goro_chan *c, struct waitq *q, struct waiter *w)
{
	note_clear(&w->thread_wake);
	waitq_push(q, w);
	rlock_unlock(&c->lock);
	note_sleep(&w->thread_wake);
	/* The waker wrote success before waking us, under c's lock: taking
	 * the lock once orders our reads after its writes, and after it is
	 * done with w. */
	rlock_lock(&c->lock);
	rlock_unlock(&c->lock);
}

static _Noreturn void block_forever(enum wait_reason why)
{
	if (!g_current())  /* another thread: it sleeps for good */
		for (;;)
			pause();
	for (;;)
		sched_park(why, NULL, NULL);
}

static int chan_send(struct goro_chan *c, const void *elem, bool block)
{
	if (!c) {
		/* Go: a send on a nil channel blocks forever. */
		if (block)
			block_forever(WAIT_CHAN_SEND_NIL);
		return -EAGAIN;
	}
	int err = chan_check(c);
	if (err)
		return err;
	if (!elem && c->elem_size)
		return -EINVAL;
	struct g *self = g_current();
	struct g *wake;
	rlock_lock(&c->lock);
	int r = chan_send_locked(c, elem, &wake);
	if (r != -EAGAIN || !block) {
		rlock_unlock(&c->lock);
		chan_wake(wake);
		if (self)
			sched_check_preempt(self);
		return r;
	}
	struct waiter w = { .g = self, .elem = (void *)elem };
	if (self) {
		waitq_push(&c->sendq, &w);
		sched_park(WAIT_CHAN_SEND, chan_unlock_cb, c);
	} else {
		thread_wait(c, &c->sendq, &w);
	}
	/* Not completed by a receiver: the channel was closed. */
	return w.success ? 0 : -EPIPE;
}

static int chan_recv(struct goro_chan *c, void *elem, bool block)
{
	if (!c) {
		if (block)
			block_forever(WAIT_CHAN_RECV_NIL);
		return -EAGAIN;
	}
	int err = chan_check(c);
	if (err)
		return err;
	struct g *self = g_current();
	struct g *wake;
	rlock_lock(&c->lock);
	int r = chan_recv_locked(c, elem, &wake);
	if (r != -EAGAIN || !block) {
		rlock_unlock(&c->lock);
		chan_wake(wake);
		if (self)
			sched_check_preempt(self);
		return r;
	}
	struct waiter w = { .g = self, .elem = elem };
	if (self) {
		waitq_push(&c->recvq, &w);
		sched_park(WAIT_CHAN_RECV, chan_unlock_cb, c);
	} else {
		thread_wait(c, &c->recvq, &w);
	}
	/* Not completed by a sender: closed, and close zeroed elem. */
	return w.success ? 1 : 0;
}

int chan_trysend_rt(struct goro_chan *c, const void *elem)
{
	int err = chan_check(c);
	if (err)
		return err;
	struct g *wake;
	rlock_lock(&c->lock);
	int r = chan_send_locked(c, elem, &wake);
	rlock_unlock(&c->lock);
	chan_wake(wake);
	return r;
}

int chan_tryrecv_rt(struct goro_chan *c, void *elem)
{
	int err = chan_check(c);
	if (err)
		return err;
	struct g *wake;
	rlock_lock(&c->lock);
	int r = chan_recv_locked(c, elem, &wake);
	rlock_unlock(&c->lock);
	chan_wake(wake);
	return r;
}

int goro_chan_send(goro_chan_t *c, const void *elem)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return chan_send(c, elem, true);
}

int goro_chan_trysend(goro_chan_t *c, const void *elem)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return chan_send(c, elem, false);
}

int goro_chan_recv(goro_chan_t *c, void *elem)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return chan_recv(c, elem, true);
}

int goro_chan_tryrecv(goro_chan_t *c, void *elem)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return chan_recv(c, elem, false);
}

/* The sized forms: the caller states the size of its element, and a
 * channel of another element size refuses it. */
static int size_matches(struct goro_chan *c, size_t size)
{
	int err = chan_check(c);
	if (err)
		return err == -EINVAL ? 0 : err;  /* NULL: Go's nil channel */
	return size == c->elem_size ? 0 : -EINVAL;
}

int goro_chan_send_sized(goro_chan_t *c, const void *elem, size_t size)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	int err = size_matches(c, size);
	return err ? err : chan_send(c, elem, true);
}

int goro_chan_recv_sized(goro_chan_t *c, void *elem, size_t size)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	int err = size_matches(c, size);
	return err ? err : chan_recv(c, elem, true);
}

int chan_close_rt(struct goro_chan *c)
{
	int err = chan_check(c);
	if (err)
		return err;
	rlock_lock(&c->lock);
	if (c->closed) {
		rlock_unlock(&c->lock);
		return -EPIPE;
	}
	c->closed = true;
	/* Every waiter fails: receivers get a zero value, senders -EPIPE.
	 * Their goroutines are readied once the lock is released. */
	struct g *list = NULL;
	struct waiter *w;
	while ((w = waitq_take(&c->recvq))) {
		if (w->elem && c->elem_size)
			memset(w->elem, 0, c->elem_size);
		struct g *g = waiter_done(w, false);
		if (g) {
			g->schedlink = list;
			list = g;
		}
	}
	while ((w = waitq_take(&c->sendq))) {
		struct g *g = waiter_done(w, false);
		if (g) {
			g->schedlink = list;
			list = g;
		}
	}
	rlock_unlock(&c->lock);
	wake_list(list);
	return 0;
}

int goro_chan_close(goro_chan_t *c)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return chan_close_rt(c);
}

size_t goro_chan_len(goro_chan_t *c)
{
	RT_REQUIRE_RUNTIME(0);
	if (chan_check(c))
		return 0;
	rlock_lock(&c->lock);
	size_t n = c->count;
	rlock_unlock(&c->lock);
	return n;
}

size_t goro_chan_cap(goro_chan_t *c)
{
	RT_REQUIRE_RUNTIME(0);
	return chan_check(c) ? 0 : c->cap;
}

size_t goro_chan_elem_size(goro_chan_t *c)
{
	RT_REQUIRE_RUNTIME(0);
	return chan_check(c) ? 0 : c->elem_size;
}

int goro_chan_free(goro_chan_t *c)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	int err = chan_check(c);
	if (err)
		return err;
	rlock_lock(&c->lock);
	bool busy = c->recvq.first || c->sendq.first;
	if (!busy)
		atomic_store_explicit(&c->magic, 0, memory_order_relaxed);
	rlock_unlock(&c->lock);
	if (busy)
		return -EBUSY;
	size_t bytes = chan_header_size() + c->cap * c->elem_size;
	rt_retire(c, bytes, sizeof(c->magic));
	return 0;
}
