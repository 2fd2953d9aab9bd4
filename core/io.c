/*
 * io.c — goroutine-aware replacements for read, write, recv, send, accept,
 * connect and close, plus goro_fdwait.
 *
 * Each keeps its libc namesake's contract (-1 and errno), so a program
 * switches by renaming the call.  What changes is what blocking means: a
 * descriptor is made O_NONBLOCK on its first use and put in the poller's
 * epoll set; the call is tried at once and, on EAGAIN, the goroutine parks
 * on the poller (core/netpoll.c) while its thread runs other goroutines.
 * Descriptors epoll refuses — regular files — stay blocking and are called
 * inside goro_blocking_enter/exit, so the P is handed on if the disk is slow.
 *
 * As in Go, goro_write and goro_send return only once everything is
 * written (or an error occurs after a partial write, which returns the
 * count), and a write to a socket whose peer has gone returns EPIPE rather
 * than raising SIGPIPE (send with MSG_NOSIGNAL).
 *
 * Descriptors used here should be closed with goro_close: it wakes the
 * goroutines waiting on them (they fail with EBADF) and forgets the record
 * before the number can be reused.
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "netpoll.h"
#include "sched.h"
#include "stack.h"
#include <goro.h>

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire

/* The library is built without goro.h's errno override; after a park the
 * goroutine may be on another thread, so errno is always fetched anew. */
#define ERRNO (*goro_errno_location())

/* Public I/O calls outside a goroutine fail as libc calls do. */
#define IO_REQUIRE_G() RT_REQUIRE_G((ERRNO = EPERM, -1))

/* fd's record, with its kind decided; NULL with errno set on failure. */
static struct poll_desc *io_desc(int fd, uint8_t *kind)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd)
		return NULL;
	uint8_t k = atomic_load_explicit(&pd->kind, RELAXED);
	if (__builtin_expect(k != PD_POLLED && k != PD_BLOCKING, 0)) {
		rlock_lock(&pd->lock);
		int err = netpoll_prepare(fd, pd);
		k = pd->kind;
		rlock_unlock(&pd->lock);
		if (err) {
			ERRNO = -err;
			return NULL;
		}
	}
	*kind = k;
	return pd;
}

/* What a goroutine notes before trying a call on fd. */
struct attempt {
	uint32_t seq;
	uint32_t gen;
};

static struct attempt attempt_begin(struct poll_desc *pd, uint32_t dir)
{
	return (struct attempt){
		.seq = atomic_load_explicit(&pd->seq, RELAXED),
		.gen = atomic_load_explicit(dir == EPOLLIN ? &pd->rgen : &pd->wgen,
					    ACQUIRE),
	};
}

/* The attempt failed with EAGAIN: park until an edge newer than the
 * attempt, the deadline, or goro_close.  0 to try again; -1 with errno set
 * (EBADF: closed meanwhile; ETIMEDOUT). */
static int attempt_wait(struct poll_desc *pd, uint32_t dir, struct attempt a,
			int64_t deadline)
{
	_Atomic uint32_t *gen = dir == EPOLLIN ? &pd->rgen : &pd->wgen;
	rlock_lock(&pd->lock);
	if (atomic_load_explicit(&pd->seq, RELAXED) != a.seq) {
		rlock_unlock(&pd->lock);
		ERRNO = EBADF;
		return -1;
	}
	if (atomic_load_explicit(gen, RELAXED) != a.gen) {
		rlock_unlock(&pd->lock);
		return 0;  /* an edge came after the attempt */
	}
	int r = netpoll_wait_locked(pd, dir, deadline);
	if (r == 0)
		return 0;
	ERRNO = -r;
	return -1;
}

static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/* ---- reading ------------------------------------------------------------------ */

static ssize_t read_common(int fd, void *buf, size_t n, int flags, bool is_recv)
{
	uint8_t kind;
	struct poll_desc *pd = io_desc(fd, &kind);
	if (!pd)
		return -1;
	/* The kernel writes into buf: a not-yet-opened part of the
	 * goroutine's stack would make it fail with EFAULT. */
	stack_commit_range(buf, n);
	if (kind == PD_BLOCKING)
		return is_recv ? GORO_BLOCKING(recv(fd, buf, n, flags))
			       : GORO_BLOCKING(read(fd, buf, n));
	for (;;) {
		struct attempt a = attempt_begin(pd, EPOLLIN);
		ssize_t r = is_recv ? recv(fd, buf, n, flags) : read(fd, buf, n);
		if (r >= 0)
			return r;
		int err = ERRNO;
		if (err == EINTR)
			continue;
		if (!would_block(err) || (is_recv && (flags & MSG_DONTWAIT)))
			return -1;
		if (attempt_wait(pd, EPOLLIN, a, 0) < 0)
			return -1;
	}
}

ssize_t goro_read(int fd, void *buf, size_t n)
{
	IO_REQUIRE_G();
	return read_common(fd, buf, n, 0, false);
}

ssize_t goro_recv(int fd, void *buf, size_t n, int flags)
{
	IO_REQUIRE_G();
	return read_common(fd, buf, n, flags, true);
}

/* ---- writing ------------------------------------------------------------------ */

/* One write or send without SIGPIPE; learns whether fd is a socket. */
static ssize_t write_once(struct poll_desc *pd, int fd, const void *buf,
			  size_t n, int flags, bool is_send)
{
	if (is_send)
		return send(fd, buf, n, flags | MSG_NOSIGNAL);
	uint8_t sock = atomic_load_explicit(&pd->sock, RELAXED);
	if (sock != PD_SOCK_NO) {
		ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
		if (r >= 0 || ERRNO != ENOTSOCK) {
			if (sock == PD_SOCK_UNKNOWN)
				atomic_store_explicit(&pd->sock, PD_SOCK_YES,
						      RELAXED);
			return r;
		}
		atomic_store_explicit(&pd->sock, PD_SOCK_NO, RELAXED);
	}
	return write(fd, buf, n);
}

static ssize_t write_common(int fd, const void *buf, size_t n, int flags,
			    bool is_send)
{
	uint8_t kind;
	struct poll_desc *pd = io_desc(fd, &kind);
	if (!pd)
		return -1;
	if (kind == PD_BLOCKING)
		return is_send ? GORO_BLOCKING(send(fd, buf, n, flags))
			       : GORO_BLOCKING(write(fd, buf, n));
	size_t done = 0;
	for (;;) {
		struct attempt a = attempt_begin(pd, EPOLLOUT);
		ssize_t r = write_once(pd, fd, (const char *)buf + done,
				       n - done, flags, is_send);
		if (r >= 0) {
			done += (size_t)r;
			if (done == n)
				return (ssize_t)done;
			continue;
		}
		int err = ERRNO;
		if (err == EINTR)
			continue;
		if (!would_block(err) || (is_send && (flags & MSG_DONTWAIT)) ||
		    attempt_wait(pd, EPOLLOUT, a, 0) < 0)
			return done ? (ssize_t)done : -1;
	}
}

ssize_t goro_write(int fd, const void *buf, size_t n)
{
	IO_REQUIRE_G();
	return write_common(fd, buf, n, 0, false);
}

ssize_t goro_send(int fd, const void *buf, size_t n, int flags)
{
	IO_REQUIRE_G();
	return write_common(fd, buf, n, flags, true);
}

/* ---- connections ---------------------------------------------------------------- */

int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	IO_REQUIRE_G();
	uint8_t kind;
	struct poll_desc *pd = io_desc(fd, &kind);
	if (!pd)
		return -1;
	if (addr && addrlen)
		stack_commit_range(addr, *addrlen);
	if (kind == PD_BLOCKING)
		return GORO_BLOCKING(accept(fd, addr, addrlen));
	for (;;) {
		struct attempt a = attempt_begin(pd, EPOLLIN);
		int nfd = accept4(fd, addr, addrlen, SOCK_NONBLOCK);
		if (nfd >= 0) {
			/* A new file behind this number: whatever the record
			 * knew belonged to an earlier one. */
			int err = netpoll_open_fresh(nfd, true);
			if (err) {
				close(nfd);
				ERRNO = -err;
				return -1;
			}
			return nfd;
		}
		int err = ERRNO;
		if (err == EINTR || err == ECONNABORTED)
			continue;
		if (!would_block(err))
			return -1;
		if (attempt_wait(pd, EPOLLIN, a, 0) < 0)
			return -1;
	}
}

int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	IO_REQUIRE_G();
	/* A socket is connected once, right after socket(): start afresh. */
	int err = netpoll_open_fresh(fd, false);
	if (err) {
		ERRNO = -err;
		return -1;
	}
	struct poll_desc *pd = netpoll_desc(fd);
	if (atomic_load_explicit(&pd->kind, RELAXED) == PD_BLOCKING)
		return GORO_BLOCKING(connect(fd, addr, addrlen));
	struct attempt a = attempt_begin(pd, EPOLLOUT);
	if (connect(fd, addr, addrlen) == 0)
		return 0;
	err = ERRNO;
	if (err != EINPROGRESS && err != EINTR)
		return -1;
	/* Writable means done; an edge may also be one the socket had before
	 * connecting, so confirm with SO_ERROR and the peer's address. */
	for (;;) {
		if (attempt_wait(pd, EPOLLOUT, a, 0) < 0)
			return -1;
		a = attempt_begin(pd, EPOLLOUT);
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			return -1;
		if (soerr != 0 && soerr != EINPROGRESS && soerr != EALREADY &&
		    soerr != EINTR) {
			ERRNO = soerr;
			return -1;
		}
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		if (soerr == 0 &&
		    getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
			return 0;
	}
}

int goro_close(int fd)
{
	IO_REQUIRE_G();
	netpoll_close_begin(fd);
	int r = close(fd);
	int err = ERRNO;
	netpoll_close_end(fd);
	ERRNO = err;
	return r;
}

/* ---- waiting -------------------------------------------------------------------- */

int goro_fdwait(int fd, short events, int64_t timeout_ns)
{
	RT_REQUIRE_G(-EPERM);
	if (!(events & (POLLIN | POLLOUT)) || (events & ~(POLLIN | POLLOUT)))
		return -EINVAL;
	uint8_t kind;
	struct poll_desc *pd = io_desc(fd, &kind);
	if (!pd)
		return -ERRNO;
	uint32_t dir = (events & POLLIN ? EPOLLIN : 0) |
		       (events & POLLOUT ? EPOLLOUT : 0);
	int64_t deadline = timeout_ns > 0 ? rt_now() + timeout_ns : 0;
	for (;;) {
		uint32_t seq = atomic_load_explicit(&pd->seq, RELAXED);
		uint32_t rgen = atomic_load_explicit(&pd->rgen, ACQUIRE);
		uint32_t wgen = atomic_load_explicit(&pd->wgen, ACQUIRE);
		/* Edge-triggered epoll keeps no level: ask the kernel. */
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, 0);
		if (r < 0) {
			if (ERRNO == EINTR)
				continue;
			return -ERRNO;
		}
		if (r > 0)
			return p.revents & POLLNVAL ? -EBADF : p.revents;
		/* Regular files are always ready; anything else epoll
		 * refused cannot be waited for here. */
		if (kind == PD_BLOCKING)
			return -EPERM;
		if (timeout_ns == 0 || (deadline && rt_now() >= deadline))
			return 0;
		rlock_lock(&pd->lock);
		if (atomic_load_explicit(&pd->seq, RELAXED) != seq) {
			rlock_unlock(&pd->lock);
			return -EBADF;
		}
		if (((dir & EPOLLIN) && atomic_load_explicit(&pd->rgen, RELAXED) != rgen) ||
		    ((dir & EPOLLOUT) && atomic_load_explicit(&pd->wgen, RELAXED) != wgen)) {
			rlock_unlock(&pd->lock);
			continue;
		}
		int w = netpoll_wait_locked(pd, dir, deadline);
		if (w == -ETIMEDOUT)
			return 0;
		if (w == -EBADF)
			return -EBADF;
	}
}
