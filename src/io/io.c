/* SPDX-License-Identifier: MIT */
/*
 * io.c — goroutine-aware replacements for read, write, recv, send,
 * accept, connect and close, goro_fdwait and goro_fd_set_deadline, and
 * the loop they all share (io_call, see io.h).
 *
 * Each drop-in keeps its libc namesake's contract (-1 and errno), so a
 * program switches by renaming the call.  What changes is what blocking
 * means: a descriptor is made non-blocking on its first use (without
 * touching a description it shares with other processes, see netpoll.h)
 * and put in the poller's epoll set; the call is tried at once and, on
 * EAGAIN, the goroutine parks on the poller (src/io/netpoll.c) while its
 * thread runs other goroutines.  Descriptors epoll refuses — regular
 * files — stay blocking: goro_read and goro_write hand them to the file
 * engine (src/io/fileio.h), where the goroutine parks without its P while
 * the disk works; the other calls make them inside
 * goro_blocking_enter/exit, so the P is handed on if the disk is slow.
 *
 * As in Go, goro_write and goro_send return only once everything is
 * written (or an error occurs after a partial write, which returns the
 * count), a write to a socket whose peer has gone returns EPIPE rather
 * than raising SIGPIPE (send with MSG_NOSIGNAL), and a call past its
 * descriptor's deadline fails with ETIMEDOUT.
 *
 * Descriptors used here should be closed with goro_close: it waits for
 * the calls in flight on them (they fail with EBADF) and forgets the
 * record before the number can be reused.
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "io.h"
#include "netpoll.h"
#include "scheduler.h"
#include "stack.h"

#include "atomic.h"
#define ERRNO IO_ERRNO

static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

static _Atomic uint32_t *gen_of(struct poll_desc *pd, uint32_t dir)
{
	return dir == EPOLLIN ? &pd->rgen : &pd->wgen;
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/*
 * The attempt made at edge count `gen` failed with EAGAIN: park until an
 * edge newer than it, the deadline (fd's own for dir, or `extra`), a
 * deadline change, or goro_close.  0 to look again (the caller rechecks
 * closing and deadlines), or -EBADF.
 */
static int wait_edge(struct poll_desc *pd, uint32_t dir, uint32_t seq,
		     uint32_t gen, int64_t extra)
{
	rlock_lock(&pd->lock);
	if (netpoll_closing(pd) ||
	    atomic_load_explicit(&pd->seq, RELAXED) != seq) {
		rlock_unlock(&pd->lock);
		return -EBADF;
	}
	int64_t deadline = earliest(netpoll_deadline(pd, dir), extra);
	if (atomic_load_explicit(gen_of(pd, dir), RELAXED) != gen ||
	    (deadline && rt_now() >= deadline)) {
		rlock_unlock(&pd->lock);
		return 0;
	}
	int r = netpoll_wait_locked(pd, dir, deadline);
	return r == -EBADF ? -EBADF : 0;
}

/* Checks before each attempt: 0, or the errno the call fails with. */
static int attempt_blocked(struct poll_desc *pd, uint32_t dir, uint32_t seq,
			   int64_t extra)
{
	if (netpoll_closing(pd) ||
	    atomic_load_explicit(&pd->seq, RELAXED) != seq)
		return EBADF;
	int64_t deadline = earliest(netpoll_deadline(pd, dir), extra);
	if (deadline && rt_now() >= deadline)
		return ETIMEDOUT;
	return 0;
}

/* One attempt, marked as libgoro's own libc call.  No park happens inside
 * try, and a libgoro frame is live, so the goroutine stays on this M. */
static ssize_t attempt(io_try_fn try, int fd, void *ctx)
{
	io_libc_begin();
	ssize_t r = try(fd, ctx);
	io_libc_end();
	return r;
}

struct rw_ctx {
	void *buf;
	size_t n;
	int flags;
	struct poll_desc *pd;  /* write_once: learns whether fd is a socket */
};

/* io_call_until.  On a descriptor epoll refuses (a regular file) the call
 * goes to the file engine: `file`, if given, as the read or write it is
 * (the engine may take it to io_uring at an offset, or answer it from the
 * page cache); otherwise try itself, on a pool thread. */
static ssize_t call_until(int fd, uint32_t dir, io_try_fn try, void *ctx,
			  bool nowait, int mode, io_deadline_fn late,
			  struct rw_ctx *file)
{
	sched_io_point();
	int err;
	struct poll_desc *pd = netpoll_ref_mode(fd, &err,
						(enum np_mode)(mode & 0xff));
	if (!pd) {
		ERRNO = -err;
		return -1;
	}
	ssize_t r;
	if (atomic_load_explicit(&pd->kind, RELAXED) == PD_BLOCKING) {
		if (file) {
			r = fileio_transfer(pd, dir == EPOLLIN ? FILEIO_READ
							       : FILEIO_WRITE,
					    fd, file->buf, file->n, -1);
			err = r < 0 ? (int)-r : 0;
			r = r < 0 ? -1 : r;
		} else {
			r = fileio_call(pd, fd, try, ctx);
			err = r < 0 ? (int)-r : 0;
			r = r < 0 ? -1 : r;
		}
		netpoll_unref(pd);
		if (r < 0)
			ERRNO = err;
		return r;
	}
	if ((mode & IO_APP_NB) &&
	    (atomic_load_explicit(&pd->posix, RELAXED) & PDX_APP_NB))
		nowait = true;
	uint32_t seq = atomic_load_explicit(&pd->seq, RELAXED);
	int64_t extra = 0;
	bool asked = false;
	for (;;) {
		if ((err = attempt_blocked(pd, dir, seq, extra)) != 0) {
			r = -1;
			break;
		}
		uint32_t gen = atomic_load_explicit(gen_of(pd, dir), ACQUIRE);
		r = attempt(try, fd, ctx);
		if (r >= 0)
			break;
		err = ERRNO;
		if (err == EINTR)
			continue;
		if (!would_block(err) || nowait)
			break;
		if (late && !asked) {
			asked = true;
			extra = late(fd, ctx);
			if ((err = attempt_blocked(pd, dir, seq, extra)) != 0) {
				r = -1;
				break;
			}
		}
		if (wait_edge(pd, dir, seq, gen, extra) < 0) {
			err = EBADF;
			break;
		}
	}
	netpoll_unref(pd);
	if (r < 0)
		ERRNO = err;
	return r;
}

ssize_t io_call_until(int fd, uint32_t dir, io_try_fn try, void *ctx,
		      bool nowait, int mode, io_deadline_fn late)
{
	return call_until(fd, dir, try, ctx, nowait, mode, late, NULL);
}

ssize_t io_call(int fd, uint32_t dir, io_try_fn try, void *ctx, bool nowait)
{
	return call_until(fd, dir, try, ctx, nowait, NP_NONBLOCK, NULL, NULL);
}

/* ---- reading ------------------------------------------------------------------ */


static ssize_t try_read(int fd, void *arg)
{
	struct rw_ctx *c = arg;
	return read(fd, c->buf, c->n);
}

static ssize_t try_recv(int fd, void *arg)
{
	struct rw_ctx *c = arg;
	return recv(fd, c->buf, c->n, c->flags);
}

ssize_t goro_read(int fd, void *buf, size_t n)
{
	IO_REQUIRE_G();
	/* The kernel writes into buf: a not-yet-opened part of the
	 * goroutine's stack would make it fail with EFAULT. */
	stack_commit_range(buf, n);
	struct rw_ctx c = { .buf = buf, .n = n };
	return call_until(fd, EPOLLIN, try_read, &c, false, NP_NONBLOCK, NULL,
			  &c);
}

ssize_t goro_recv(int fd, void *buf, size_t n, int flags)
{
	IO_REQUIRE_G();
	stack_commit_range(buf, n);
	struct rw_ctx c = { .buf = buf, .n = n, .flags = flags };
	return io_call(fd, EPOLLIN, try_recv, &c, flags & MSG_DONTWAIT);
}

/* ---- writing ------------------------------------------------------------------ */

static ssize_t try_send(int fd, void *arg)
{
	struct rw_ctx *c = arg;
	return send(fd, c->buf, c->n, c->flags | MSG_NOSIGNAL);
}

/* One write without SIGPIPE: send(MSG_NOSIGNAL) while fd may be a
 * socket; the record remembers the answer. */
static ssize_t try_write(int fd, void *arg)
{
	struct rw_ctx *c = arg;
	struct poll_desc *pd = netpoll_desc(fd);
	uint8_t sock = pd ? atomic_load_explicit(&pd->sock, RELAXED)
			  : PD_SOCK_NO;
	if (sock != PD_SOCK_NO) {
		ssize_t r = send(fd, c->buf, c->n, MSG_NOSIGNAL);
		if (r >= 0 || ERRNO != ENOTSOCK) {
			if (sock == PD_SOCK_UNKNOWN)
				atomic_store_explicit(&pd->sock, PD_SOCK_YES,
						      RELAXED);
			return r;
		}
		atomic_store_explicit(&pd->sock, PD_SOCK_NO, RELAXED);
	}
	return write(fd, c->buf, c->n);
}

static ssize_t write_all(int fd, const void *buf, size_t n, int flags,
			 io_try_fn try)
{
	/* With MSG_DONTWAIT: as much as fits now, EAGAIN if nothing did. */
	size_t done = 0;
	do {
		struct rw_ctx c = { .buf = (char *)buf + done,
				    .n = n - done, .flags = flags };
		ssize_t r = call_until(fd, EPOLLOUT, try, &c,
				       flags & MSG_DONTWAIT, NP_NONBLOCK, NULL,
				       try == try_write ? &c : NULL);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
	} while (done < n);
	return (ssize_t)done;
}

ssize_t goro_write(int fd, const void *buf, size_t n)
{
	IO_REQUIRE_G();
	return write_all(fd, buf, n, 0, try_write);
}

ssize_t goro_send(int fd, const void *buf, size_t n, int flags)
{
	IO_REQUIRE_G();
	return write_all(fd, buf, n, flags, try_send);
}

/* ---- connections ---------------------------------------------------------------- */

struct accept_ctx {
	struct sockaddr *addr;
	socklen_t *addrlen;
	int flags;
};

static ssize_t try_accept(int fd, void *arg)
{
	struct accept_ctx *c = arg;
	for (;;) {
		int nfd = accept4(fd, c->addr, c->addrlen,
				  c->flags | SOCK_NONBLOCK);
		/* A connection reset while queued: take the next one. */
		if (nfd >= 0 || ERRNO != ECONNABORTED)
			return nfd;
	}
}

int goro_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	IO_REQUIRE_G();
	if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) || (addr && !addrlen)) {
		ERRNO = EINVAL;
		return -1;
	}
	if (addr)
		stack_commit_range(addr, *addrlen);
	struct accept_ctx c = { addr, addrlen, flags };
	int nfd = (int)io_call(fd, EPOLLIN, try_accept, &c, false);
	if (nfd < 0)
		return -1;
	/* A new file behind this number: whatever the record knew belonged
	 * to an earlier one. */
	int err = netpoll_open_fresh(nfd, true, false);
	if (err) {
		close(nfd);
		ERRNO = -err;
		return -1;
	}
	return nfd;
}

int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return goro_accept4(fd, addr, addrlen, SOCK_CLOEXEC);
}

int io_connect(int fd, const struct sockaddr *addr, socklen_t len,
	       int64_t deadline)
{
	/* A socket is connected once, right after socket(): start afresh,
	 * keeping any deadline the caller set on it. */
	int err = netpoll_open_fresh(fd, false, true);
	struct poll_desc *pd = err ? NULL : netpoll_ref(fd, &err);
	if (!pd) {
		ERRNO = -err;
		return -1;
	}
	int r = -1;
	if (atomic_load_explicit(&pd->kind, RELAXED) == PD_BLOCKING) {
		io_libc_begin();
		r = GORO_BLOCKING(connect(fd, addr, len));
		io_libc_end();
		err = ERRNO;
		goto out;
	}
	uint32_t seq = atomic_load_explicit(&pd->seq, RELAXED);
	if ((err = attempt_blocked(pd, EPOLLOUT, seq, deadline)) != 0)
		goto out;
	uint32_t gen = atomic_load_explicit(&pd->wgen, ACQUIRE);
	io_libc_begin();
	r = connect(fd, addr, len);
	err = ERRNO;
	io_libc_end();
	if (r == 0)
		goto out;
	if (err != EINPROGRESS && err != EINTR)
		goto out;
	/* Writable means done; an edge may also be one the socket had before
	 * connecting, so confirm with SO_ERROR and the peer's address. */
	for (;;) {
		r = -1;
		if (wait_edge(pd, EPOLLOUT, seq, gen, deadline) < 0) {
			err = EBADF;
			break;
		}
		if ((err = attempt_blocked(pd, EPOLLOUT, seq, deadline)) != 0)
			break;
		gen = atomic_load_explicit(&pd->wgen, ACQUIRE);
		int soerr = 0;
		socklen_t slen = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0) {
			err = ERRNO;
			break;
		}
		if (soerr != 0 && soerr != EINPROGRESS && soerr != EALREADY &&
		    soerr != EINTR) {
			err = soerr;
			break;
		}
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		if (soerr == 0 &&
		    getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			r = 0;
			break;
		}
	}
out:
	netpoll_unref(pd);
	if (r < 0)
		ERRNO = err;
	return r;
}

int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	IO_REQUIRE_G();
	if (!addr) {
		ERRNO = EFAULT;
		return -1;
	}
	return io_connect(fd, addr, addrlen, 0);
}

int goro_close(int fd)
{
	IO_REQUIRE_G();
	int err = netpoll_close(fd);
	if (err) {
		ERRNO = -err;
		return -1;
	}
	return 0;
}

/* ---- deadlines ------------------------------------------------------------------ */

int goro_fd_set_deadline(int fd, int how, int64_t deadline_ns)
{
	RT_REQUIRE_G(-EPERM);
	if (how == 0 || (how & ~(GORO_READ | GORO_WRITE)) || deadline_ns < 0)
		return -EINVAL;
	int err;
	struct poll_desc *pd = netpoll_ref(fd, &err);
	if (!pd)
		return err;
	/* Regular files are never waited for: there is nothing to time out
	 * (Go's ErrNoDeadline). */
	if (atomic_load_explicit(&pd->kind, RELAXED) == PD_BLOCKING)
		err = -ENOTSUP;
	else
		err = netpoll_set_deadline(fd,
					   (how & GORO_READ ? EPOLLIN : 0) |
					   (how & GORO_WRITE ? EPOLLOUT : 0),
					   deadline_ns);
	netpoll_unref(pd);
	return err;
}

/* ---- waiting -------------------------------------------------------------------- */

static int fdwait_ref(int fd, struct poll_desc *pd, short events,
		      int64_t timeout_ns)
{
	uint32_t dir = (events & POLLIN ? EPOLLIN : 0) |
		       (events & POLLOUT ? EPOLLOUT : 0);
	int64_t deadline = timeout_ns > 0 ? rt_now() + timeout_ns : 0;
	for (;;) {
		uint32_t seq = atomic_load_explicit(&pd->seq, RELAXED);
		uint32_t rgen = atomic_load_explicit(&pd->rgen, ACQUIRE);
		uint32_t wgen = atomic_load_explicit(&pd->wgen, ACQUIRE);
		if (netpoll_closing(pd))
			return -EBADF;
		/* Edge-triggered epoll keeps no level: ask the kernel. */
		struct pollfd p = { .fd = fd, .events = events };
		io_libc_begin();
		int r = poll(&p, 1, 0);
		io_libc_end();
		if (r < 0) {
			if (ERRNO == EINTR)
				continue;
			return -ERRNO;
		}
		if (r > 0)
			return p.revents & POLLNVAL ? -EBADF : p.revents;
		/* Regular files are always ready; anything else epoll
		 * refused cannot be waited for here. */
		if (atomic_load_explicit(&pd->kind, RELAXED) == PD_BLOCKING)
			return -EPERM;
		if (timeout_ns == 0 || (deadline && rt_now() >= deadline))
			return 0;
		rlock_lock(&pd->lock);
		if (netpoll_closing(pd) ||
		    atomic_load_explicit(&pd->seq, RELAXED) != seq) {
			rlock_unlock(&pd->lock);
			return -EBADF;
		}
		if (((dir & EPOLLIN) && atomic_load_explicit(&pd->rgen, RELAXED) != rgen) ||
		    ((dir & EPOLLOUT) && atomic_load_explicit(&pd->wgen, RELAXED) != wgen)) {
			rlock_unlock(&pd->lock);
			continue;
		}
		if (netpoll_wait_locked(pd, dir, deadline) == -EBADF)
			return -EBADF;
	}
}

int io_wait(int fd, short events, int64_t timeout_ns, int mode)
{
	int err;
	struct poll_desc *pd = netpoll_ref_mode(fd, &err, (enum np_mode)mode);
	if (!pd)
		return err;
	int r = fdwait_ref(fd, pd, events, timeout_ns);
	netpoll_unref(pd);
	return r;
}

int goro_fdwait(int fd, short events, int64_t timeout_ns)
{
	RT_REQUIRE_G(-EPERM);
	if (!(events & (POLLIN | POLLOUT)) || (events & ~(POLLIN | POLLOUT)))
		return -EINVAL;
	return io_wait(fd, events, timeout_ns, NP_NONBLOCK);
}
