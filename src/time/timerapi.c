/* SPDX-License-Identifier: MIT */
/*
 * timerapi.c — Go's time.Timer, time.AfterFunc and time.Ticker as
 * goro_timer_t and goro_ticker_t, on the per-P timer heaps of src/time/timer.c.
 *
 * What it promises:
 *  - A timer or ticker costs one heap entry while armed: start, stop and
 *    reset are O(log n) on its P's heap (removal by the index the entry
 *    keeps), never a scan.
 *  - A channel timer's channel (capacity 1) receives one int64_t, the
 *    goro_now() at firing; a ticker's receives one per period and drops a
 *    tick its receiver has not taken yet (a slow receiver misses ticks, as
 *    in Go); the next tick is then the next multiple of the period, so
 *    ticks never bunch up.
 *  - As in Go since 1.23, no stale value is received after stop or reset
 *    returns: both discard a value already sent and not yet received, and
 *    count it as "the timer was active" (1), so Go's old idiom
 *    `if (!stop) receive` never blocks.
 *  - Every call may come from any goroutine or from a thread goro did not
 *    create while the runtime runs; a freed object answers -EBADF (see
 *    rt_retire).
 *
 * Who may write what:
 *  - `active` (armed and not yet fired or stopped) and `period` are
 *    guarded by `mu`, which the expiry callback takes too.  The callback
 *    sends, spawns or re-arms only while `active`, under `mu`.
 *  - `ctl` serialises the control calls (stop, reset, free), so that two
 *    of them never arm the same heap entry twice.  A control call clears
 *    `active`, takes the entry off its heap, then waits for a callback
 *    already taken off the heap by another M (timer.running counts it) to
 *    finish: after that, nothing but the caller touches the timer.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "alloc.h"
#include "chan.h"
#include "goroutine.h"
#include "runtime.h"
#include "timer.h"
#include "timerapi.h"
#include <goro.h>

#define TIMER_MAGIC 0x74696d72u   /* a live timer or ticker */

enum timer_kind {
	KIND_CHAN,      /* goro_timer_new: value to the channel */
	KIND_FUNC,      /* goro_after_func: fn(arg) in a new goroutine */
	KIND_CALLBACK,  /* timer_new_callback: cb(arg) on the timer's M */
	KIND_TICKER,    /* goro_ticker_new */
};

struct goro_timer {
	_Atomic uint32_t magic;     /* first: rt_retire keeps it readable */
	uint8_t kind;               /* enum timer_kind, fixed at creation */
	struct rlock ctl;           /* serialises stop / reset / free */
	struct rlock mu;            /* guards active and period */
	bool active;
	int64_t period;             /* ticker */
	struct timer tm;
	goro_chan_t *chan;          /* KIND_CHAN, KIND_TICKER: int64_t, cap 1 */
	void (*fn)(void *);         /* KIND_FUNC, KIND_CALLBACK */
	void *arg;
};

/* A ticker is a timer that re-arms itself; the distinct type only keeps
 * the two apart at compile time. */
struct goro_ticker {
	struct goro_timer t;
};

static int64_t deadline_after(int64_t ns)
{
	int64_t now = rt_now();
	return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* The next tick after a late one: the first multiple of the period past
 * now (missed ticks are dropped, not queued). */
static int64_t next_tick(int64_t when, int64_t period, int64_t now)
{
	if (when > now)
		return when;
	int64_t missed = (now - when) / period + 1;
	if (missed > (INT64_MAX - when) / period)
		return INT64_MAX;
	return when + missed * period;
}

/* Expiry: runs on an M holding a P, no runtime lock held. */
static void timer_fire(struct timer *tm)
{
	struct goro_timer *t = (struct goro_timer *)((char *)tm -
		offsetof(struct goro_timer, tm));
	rlock_lock(&t->mu);
	if (!t->active) {  /* stopped while this callback was on its way */
		rlock_unlock(&t->mu);
		return;
	}
	int64_t now = rt_now();
	switch ((enum timer_kind)t->kind) {
	case KIND_CHAN:
		t->active = false;
		chan_trysend_rt(t->chan, &now);
		rlock_unlock(&t->mu);
		return;
	case KIND_TICKER:
		chan_trysend_rt(t->chan, &now);  /* full: the tick is dropped */
		t->tm.when = next_tick(t->tm.when, t->period, now);
		timer_start(&t->tm);
		rlock_unlock(&t->mu);
		return;
	case KIND_FUNC:
		t->active = false;
		rlock_unlock(&t->mu);
		/* The spawn can only fail for want of memory or stacks, and
		 * Go's AfterFunc has nobody to tell either. */
		(void)g_spawn(t->fn, t->arg, "goro_after_func", 0,
			      (uintptr_t)t->fn);
		return;
	case KIND_CALLBACK:
		t->active = false;
		rlock_unlock(&t->mu);
		t->fn(t->arg);
		return;
	}
	rlock_unlock(&t->mu);
}

static goro_timer_t *timer_create_kind(enum timer_kind kind, int64_t when,
				       int64_t period, void (*fn)(void *),
				       void *arg, size_t size)
{
	struct goro_timer *t = rt_alloc(size);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	if (kind == KIND_CHAN || kind == KIND_TICKER) {
		t->chan = goro_chan_make(sizeof(int64_t), 1);
		if (!t->chan) {
			int err = errno;
			rt_free(t, size);
			errno = err;
			return NULL;
		}
	}
	t->kind = (uint8_t)kind;
	t->period = period;
	t->fn = fn;
	t->arg = arg;
	t->tm.fn = timer_fire;
	t->tm.counted = true;
	t->tm.when = when;
	atomic_store_explicit(&t->magic, TIMER_MAGIC, memory_order_relaxed);
	rlock_lock(&t->mu);
	t->active = true;
	timer_start(&t->tm);
	rlock_unlock(&t->mu);
	return t;
}

static int timer_check(struct goro_timer *t)
{
	if (!t)
		return -EINVAL;
	return atomic_load_explicit(&t->magic, memory_order_relaxed) ==
		       TIMER_MAGIC ? 0 : -EBADF;
}

/* With t->ctl held: disarm, wait out a callback under way, discard a
 * value sent and not received.  True if the timer was active. */
static bool timer_halt(struct goro_timer *t)
{
	rlock_lock(&t->mu);
	bool was = t->active;
	t->active = false;
	rlock_unlock(&t->mu);
	timer_stop(&t->tm);
	while (atomic_load_explicit(&t->tm.running, memory_order_acquire))
		sched_yield();  /* a callback is a few hundred ns */
	if (t->chan) {
		int64_t stale;
		if (chan_tryrecv_rt(t->chan, &stale) == 1 &&
		    t->kind == KIND_CHAN)
			was = true;  /* fired, but nobody saw it: Go 1.23 */
	}
	return was;
}

static int timer_halt_checked(struct goro_timer *t)
{
	int err = timer_check(t);
	if (err)
		return err;
	rlock_lock(&t->ctl);
	err = timer_check(t);  /* freed meanwhile? */
	int r = err ? err : timer_halt(t);
	rlock_unlock(&t->ctl);
	return r;
}

static int timer_rearm(struct goro_timer *t, int64_t ns, int64_t period)
{
	int err = timer_check(t);
	if (err)
		return err;
	rlock_lock(&t->ctl);
	err = timer_check(t);
	if (err) {
		rlock_unlock(&t->ctl);
		return err;
	}
	bool was = timer_halt(t);
	rlock_lock(&t->mu);
	if (period)
		t->period = period;
	t->tm.when = deadline_after(ns);
	t->active = true;
	timer_start(&t->tm);
	rlock_unlock(&t->mu);
	rlock_unlock(&t->ctl);
	return was;
}

static int timer_destroy(struct goro_timer *t, size_t size)
{
	int err = timer_check(t);
	if (err)
		return err;
	rlock_lock(&t->ctl);
	err = timer_check(t);
	if (err) {
		rlock_unlock(&t->ctl);
		return err;
	}
	timer_halt(t);
	if (t->chan) {
		err = goro_chan_free(t->chan);
		if (err) {  /* a goroutine still waits on the channel */
			rlock_unlock(&t->ctl);
			return err;
		}
	}
	atomic_store_explicit(&t->magic, 0, memory_order_relaxed);
	rlock_unlock(&t->ctl);
	rt_retire(t, size, sizeof(t->magic));
	return 0;
}

/* ---- the runtime's own callback timers ------------------------------------ */

goro_timer_t *timer_new_callback(int64_t when, void (*cb)(void *), void *arg)
{
	return timer_create_kind(KIND_CALLBACK, when, 0, cb, arg,
				 sizeof(struct goro_timer));
}

/* ---- public calls: timers ------------------------------------------------- */

#define REQUIRE_RUNTIME_PTR() \
	do { if (!g_current() && !rt_foreign_allowed(__func__)) { \
		errno = EPERM; return NULL; } } while (0)

goro_timer_t *goro_timer_new(int64_t ns)
{
	REQUIRE_RUNTIME_PTR();
	if (ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	return timer_create_kind(KIND_CHAN, deadline_after(ns), 0, NULL, NULL,
				 sizeof(struct goro_timer));
}

goro_timer_t *goro_after_func(int64_t ns, void (*fn)(void *), void *arg)
{
	REQUIRE_RUNTIME_PTR();
	if (ns < 0 || !fn) {
		errno = EINVAL;
		return NULL;
	}
	return timer_create_kind(KIND_FUNC, deadline_after(ns), 0, fn, arg,
				 sizeof(struct goro_timer));
}

goro_chan_t *goro_timer_chan(goro_timer_t *t)
{
	REQUIRE_RUNTIME_PTR();
	int err = timer_check(t);
	if (err || t->kind == KIND_TICKER) {
		errno = err ? -err : EINVAL;
		return NULL;
	}
	if (!t->chan)  /* AfterFunc: no channel, as Go's nil C */
		errno = EINVAL;
	return t->chan;
}

int goro_timer_stop(goro_timer_t *t)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (t && timer_check(t) == 0 && t->kind == KIND_TICKER)
		return -EINVAL;
	return timer_halt_checked(t);
}

int goro_timer_reset(goro_timer_t *t, int64_t ns)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (ns < 0)
		return -EINVAL;
	if (t && timer_check(t) == 0 && t->kind == KIND_TICKER)
		return -EINVAL;
	return timer_rearm(t, ns, 0);
}

int goro_timer_free(goro_timer_t *t)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (t && timer_check(t) == 0 && t->kind == KIND_TICKER)
		return -EINVAL;
	return timer_destroy(t, sizeof(struct goro_timer));
}

/* ---- public calls: tickers ------------------------------------------------ */

static struct goro_timer *ticker_timer(goro_ticker_t *tk)
{
	return tk ? &tk->t : NULL;
}

goro_ticker_t *goro_ticker_new(int64_t period)
{
	REQUIRE_RUNTIME_PTR();
	if (period <= 0) {  /* Go panics: "non-positive interval" */
		errno = EINVAL;
		return NULL;
	}
	return (goro_ticker_t *)timer_create_kind(
		KIND_TICKER, deadline_after(period), period, NULL, NULL,
		sizeof(struct goro_ticker));
}

goro_chan_t *goro_ticker_chan(goro_ticker_t *tk)
{
	REQUIRE_RUNTIME_PTR();
	int err = timer_check(ticker_timer(tk));
	if (err) {
		errno = -err;
		return NULL;
	}
	return tk->t.chan;
}

int goro_ticker_stop(goro_ticker_t *tk)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return timer_halt_checked(ticker_timer(tk));
}

int goro_ticker_reset(goro_ticker_t *tk, int64_t period)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	if (period <= 0)
		return -EINVAL;
	return timer_rearm(ticker_timer(tk), period, period);
}

int goro_ticker_free(goro_ticker_t *tk)
{
	RT_REQUIRE_RUNTIME(-EPERM);
	return timer_destroy(ticker_timer(tk), sizeof(struct goro_ticker));
}
