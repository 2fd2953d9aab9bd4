/* SPDX-License-Identifier: MIT */
/*
 * netpoll.h — the network poller: goroutines waiting for a descriptor to
 * become readable or writable park here, and the scheduler collects the
 * ones whose descriptors are ready (Go's netpoll, on epoll).
 *
 * Every descriptor the I/O wrappers touch has a record (struct poll_desc)
 * in a table indexed by fd.  Records are never freed while goro_main runs;
 * closing an fd bumps the record's sequence number, so an epoll event that
 * was already in flight for the old file is recognised as stale and
 * dropped when the number is reused.
 *
 * Each I/O call holds a reference on the record while it runs (Go's
 * fdMutex): netpoll_ref at entry, netpoll_unref on the way out.
 * netpoll_close marks the record closing, wakes its waiters with EBADF and
 * closes the descriptor only once the last reference is gone, so no call
 * still in flight can ever reach a file that reused the number.
 */
#ifndef GORO_NETPOLL_H
#define GORO_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "runtime.h"
#include "timer.h"

/* How the I/O wrappers treat a descriptor, decided at first use. */
enum pd_kind {
	PD_UNKNOWN,   /* not seen since it was opened (or since goro_close) */
	PD_POLLED,    /* O_NONBLOCK, in the epoll set: park on EAGAIN */
	PD_BLOCKING,  /* epoll refuses it (regular file): blocking call */
};

/* pd->posix: how the descriptor's blocking mode is kept, for the
 * interposers of libgoro-posix. */
#define PDX_PERCALL  1  /* a socket left blocking: every attempt is a
			   per-call non-blocking form (MSG_DONTWAIT) */
#define PDX_APP_NB   2  /* the application asked for O_NONBLOCK */
#define PDX_ADDED_NB 4  /* goro made the description O_NONBLOCK
			   although the application did not (a private
			   reopened description, or restore_blocking) */

/* refs: calls in flight, plus this bit once goro_close has begun. */
#define PD_REF_CLOSING 0x80000000u

enum pd_sock { PD_SOCK_UNKNOWN, PD_SOCK_YES, PD_SOCK_NO };

struct io_waiter;

struct poll_desc {
	struct rlock lock;           /* guards everything but the generations */
	_Atomic uint32_t seq;        /* bumped when the fd is closed or reset */
	_Atomic uint8_t kind;        /* enum pd_kind */
	_Atomic uint8_t sock;        /* enum pd_sock: goro_write on a socket
					uses send(MSG_NOSIGNAL) */
	/* Edges seen per direction.  A goroutine reads its generation before
	 * trying the call and parks after EAGAIN only if no edge came since:
	 * with edge-triggered epoll an edge missed is never repeated. */
	_Atomic uint32_t rgen, wgen;
	_Atomic uint32_t refs;       /* calls in flight | PD_REF_CLOSING */
	/* Deadlines (goro_now() clock, 0 = none), written under lock and
	 * read by calls without it. */
	_Atomic int64_t rdeadline, wdeadline;
	struct g *closer;            /* goro_close waiting for refs to drain */
	/* goro set O_NONBLOCK on a description it did not create (a
	 * socket: it cannot be reopened privately); cleared again when the
	 * fd is closed with goro_close or goro_main ends, if the number
	 * still names that file (dev, ino). */
	bool restore_blocking;
	dev_t dev;
	ino_t ino;
	/* PDX_* bits for libgoro-posix (core/interpose.c), written under
	 * lock, read by any thread without it. */
	_Atomic uint8_t posix;
	/* Closed or replaced behind goro's back (an interposed close on a
	 * thread that is no goroutine, a new file at this number): the next
	 * call forgets the record and registers the file afresh. */
	_Atomic bool stale;
	struct io_waiter *waiters;   /* parked goroutines, any direction */
};

/* A goroutine parked on a descriptor; lives on that goroutine's stack. */
struct io_waiter {
	struct g *g;
	struct io_waiter *next;
	struct poll_desc *pd;
	uint32_t events;             /* EPOLLIN and/or EPOLLOUT */
	int result;                  /* 0 ready, -EBADF closed, -ETIMEDOUT */
	bool timed;                  /* timer armed (deadline given) */
	_Atomic bool timer_done;     /* the timer callback has finished with us */
	struct timer timer;
};

/* goro_main start / end.  0 or a negative errno. */
int netpoll_init(void);
void netpoll_teardown(void);

/* The record of fd, created on demand; NULL (errno EBADF/ENOMEM) if fd is
 * out of range or memory is short. */
struct poll_desc *netpoll_desc(int fd);

/*
 * An I/O call begins on fd: the record, with a reference held and its
 * kind decided (first use: put fd in the epoll set, non-blocking, or mark
 * it blocking), or NULL with *err = -EBADF (bad fd, or goro_close has
 * begun), -ENOMEM...  Every successful netpoll_ref is paired with one
 * netpoll_unref.
 *
 * First use of a descriptor whose open file description is blocking never
 * changes what other holders of the description see: a pipe, FIFO or
 * terminal is reopened through /proc/self/fd into a private description
 * (dup3 onto the same number) that goro makes non-blocking; a socket, which
 * cannot be reopened, is switched to O_NONBLOCK and switched back by
 * goro_close or at the end of goro_main.
 */
struct poll_desc *netpoll_ref(int fd, int *err);
void netpoll_unref(struct poll_desc *pd);
/* netpoll_ref for calls that never wait on the poller (goro_fstat,
 * goro_fsync): the reference only, the kind left as it is. */
struct poll_desc *netpoll_hold(int fd, int *err);

/* How netpoll_ref_mode's first use treats a blocking socket. */
enum np_mode {
	NP_NONBLOCK,  /* make it O_NONBLOCK (netpoll_ref) */
	NP_PERCALL,   /* leave it blocking: every attempt on it uses a
			 per-call non-blocking form (PDX_PERCALL); other
			 files as NP_NONBLOCK */
};
/* netpoll_ref with a mode.  An NP_NONBLOCK call on a PDX_PERCALL socket
 * switches it to O_NONBLOCK (restored as restore_blocking is). */
struct poll_desc *netpoll_ref_mode(int fd, int *err, enum np_mode mode);

/* The record of fd if its chunk exists, never allocating; any thread. */
struct poll_desc *netpoll_peek(int fd);

/* fd no longer names the file its record describes (any thread): mark it
 * stale, see poll_desc.stale. */
void netpoll_mark_stale(int fd);

/* The application set or cleared O_NONBLOCK on fd (PDX_APP_NB). */
void netpoll_set_app_nonblock(int fd, bool on);

/* fd, a socket goro switched to O_NONBLOCK for connect, goes back to
 * blocking as the application left it, polled per call (PDX_PERCALL). */
void netpoll_make_percall(int fd);

/* True once goro_close has begun on pd: calls still in flight give up with
 * EBADF instead of trying again. */
static inline bool netpoll_closing(struct poll_desc *pd)
{
	return atomic_load_explicit(&pd->refs, memory_order_acquire) &
	       PD_REF_CLOSING;
}

/* fd was just created by goro (accept, socket for dial/listen): forget
 * what the record knew, register it as non-blocking and polled.  keep:
 * the same file as before (connect on a socket the user made): keep its
 * deadlines. */
int netpoll_open_fresh(int fd, bool already_nonblocking, bool keep);
/* fd was just opened by goro_open: forget what the record knew of an
 * earlier file behind the number; the kind is decided at first use. */
void netpoll_forget(int fd);

/* goro_fd_set_deadline: set the deadline of `dirs` (EPOLLIN, EPOLLOUT) and
 * wake the goroutines waiting in those directions, which look at the new
 * deadline.  0, -EBADF. */
int netpoll_set_deadline(int fd, uint32_t dirs, int64_t deadline_ns);

/* The deadline of direction dir (EPOLLIN or EPOLLOUT), 0 = none. */
static inline int64_t netpoll_deadline(struct poll_desc *pd, uint32_t dir)
{
	return atomic_load_explicit(dir == EPOLLIN ? &pd->rdeadline
						       : &pd->wdeadline,
				    memory_order_relaxed);
}

/*
 * Park the calling goroutine until fd (record pd, lock held by the caller)
 * is ready for `events`, the deadline `deadline_ns` (goro_now() clock,
 * 0 = none) passes, its deadline is moved, or fd is closed.  The lock is
 * released once the goroutine is off the CPU.  Returns 0 (ready, or woken
 * to look again), -ETIMEDOUT or -EBADF.
 */
int netpoll_wait_locked(struct poll_desc *pd, uint32_t events,
			int64_t deadline_ns);

/*
 * goro_close: mark fd closing (new calls fail with EBADF), wake every
 * waiter with -EBADF, park until the calls still in flight have left,
 * restore the blocking mode goro changed, then close(fd) and forget the
 * record.  0 or a negative errno (-EBADF: a close already in progress).
 */
int netpoll_close(int fd);

/*
 * Collect goroutines whose descriptors became ready, waiting up to
 * delay_ns (0: just look; < 0: until something happens or
 * netpoll_break()).  The goroutines are linked through schedlink, status
 * still G_WAITING; returns how many.  They still count as waiting on a
 * descriptor (netpoll_waiting) until the caller has put them in run
 * queues, or is running one, and says so with netpoll_delivered(n):
 * deadlock detection must never see them nowhere.
 */
int32_t netpoll(int64_t delay_ns, struct g **list);
void netpoll_delivered(int32_t n);

/* Interrupt an M blocked in netpoll(). */
void netpoll_break(void);

/*
 * The scheduler's view (src/sched/sched.c, sysmon):
 * netpoll_should_poll: the poller exists, goroutines wait on it, and no M
 *   is blocked in it right now.
 * netpoll_block_begin: become the one M blocked in netpoll (false if
 *   another already is); netpoll_block_end after netpoll() returns.
 * netpoll_last_poll: goro_now() of the last poll, 0 while an M blocks in it.
 * netpoll_claim_poll: sysmon takes the next non-blocking poll if
 *   last_poll is still `last` (nobody polled meanwhile).
 * netpoll_wake_for_deadline: a timer due at `when` was added.  If an M is
 *   blocked in netpoll, make sure it is awake by then (break it out if its
 *   deadline is later) and return true: it will see the timer.
 */
bool netpoll_should_poll(void);
bool netpoll_block_begin(int64_t delay_ns);
void netpoll_block_end(void);
int64_t netpoll_last_poll(void);
bool netpoll_claim_poll(int64_t last);
bool netpoll_wake_for_deadline(int64_t when);

/* Goroutines parked on the poller (deadlock detection: they are not
 * deadlocked, the network may wake them). */
int64_t netpoll_waiting(void);

#endif
