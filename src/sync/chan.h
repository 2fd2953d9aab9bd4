/* SPDX-License-Identifier: MIT */
/*
 * chan.h — a channel's insides, shared by plain operations (src/sync/chan.c)
 * and select (src/sync/select.c).
 *
 * As in Go (runtime/chan.go), a goroutine that must wait puts a record of
 * itself — a waiter, Go's sudog — on the channel's send or receive queue.
 * The record lives on the waiting goroutine's own stack: it exists exactly
 * as long as the goroutine is parked.  Whoever completes the operation
 * copies the element straight between the two goroutines (an unbuffered
 * value never passes through a buffer), marks the waiter, and readies its
 * goroutine.
 *
 * Everything in a channel is guarded by its lock.  A goroutine parks with
 * sched_park(..., chan_unlock_cb, c): the lock is released only once the
 * goroutine is off the CPU, so anybody who finds its waiter on a queue may
 * ready it at once.
 */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime.h"

struct select_state;

struct waiter {
	struct g *g;
	struct waiter *next, *prev;
	/* Send: the value to send.  Receive: where the value goes (NULL:
	 * the value is discarded). */
	void *elem;
	/* The select this waiter belongs to, NULL for a plain operation.  A
	 * select waits on several queues at once; only the one that claims
	 * it (select_claim) may complete it. */
	struct select_state *sel;
	bool queued;    /* on a queue (guarded by the channel's lock) */
	bool success;   /* completed by a partner, not by close */
	/* A thread goro did not create waits here instead of parking (g is
	 * NULL then); whoever completes the waiter wakes it. */
	struct note thread_wake;
};

struct waitq {
	struct waiter *first, *last;
};

/* A live channel's magic word; goro_chan_free clears it (src/sync/chan.c). */
#define CHAN_MAGIC 0x6368616eu

struct goro_chan {
	_Atomic uint32_t magic;        /* CHAN_MAGIC while the channel lives */
	struct rlock lock;
	bool closed;
	size_t elem_size;
	size_t cap;
	size_t count;                  /* values in the buffer */
	size_t sendx, recvx;           /* ring positions */
	struct waitq recvq, sendq;     /* parked receivers / senders, FIFO */
	unsigned char *buf;            /* cap * elem_size, after the struct */
};

/* What a select keeps in its frame and shares with its waiters and its
 * timeout timer.  `done` is claimed exactly once (Go's selectDone): by the
 * channel operation that completes the select, or by the timer. */
struct select_state {
	_Atomic uint32_t done;
	/* A select made by a thread goro did not create: the completing
	 * waiter is recorded here (a goroutine gets it in g->param) and the
	 * thread is woken on thread_wake. */
	struct waiter *_Atomic won;
	struct note *thread_wake;
};

/* May w be completed by the caller?  Always for a plain waiter; for a
 * select's waiter, only by the first to claim its select. */
static inline bool select_claim(struct waiter *w)
{
	uint32_t open = 0;
	return !w->sel ||
	       atomic_compare_exchange_strong_explicit(&w->sel->done, &open, 1,
						       memory_order_acq_rel,
						       memory_order_relaxed);
}

void waitq_push(struct waitq *q, struct waiter *w);
/* Unlink w if it is still queued (idempotent). */
void waitq_remove(struct waitq *q, struct waiter *w);

/*
 * With c locked: complete a send or a receive if it can proceed now.
 * Return as goro_chan_trysend / goro_chan_tryrecv (-EAGAIN: would block);
 * a parked partner whose operation was completed is returned in *wake, to
 * be readied by the caller once c is unlocked (chan_wake).
 */
int chan_send_locked(struct goro_chan *c, const void *elem, struct g **wake);
int chan_recv_locked(struct goro_chan *c, void *elem, struct g **wake);

/* Ready a partner returned in *wake (NULL: nothing to do). */
void chan_wake(struct g *g);

/* sched_park unlock callback: releases the channel passed as arg. */
void chan_unlock_cb(void *c);

/* 0 for a live channel, -EBADF for one freed (or never made). */
int chan_check(struct goro_chan *c);

/* For the runtime's own senders (timers, signals, contexts), from a
 * goroutine, an M's scheduler or a thread goro did not create: a send
 * or receive that never blocks (-EAGAIN when it would), and close. */
int chan_trysend_rt(struct goro_chan *c, const void *elem);
int chan_tryrecv_rt(struct goro_chan *c, void *elem);
int chan_close_rt(struct goro_chan *c);

#endif
