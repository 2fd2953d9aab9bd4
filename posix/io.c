/* SPDX-License-Identifier: MIT */
/*
 * io.c — libgoro-posix's read, write, readv, writev, recv, send, recvfrom,
 * sendto, recvmsg, sendmsg, accept, accept4 and connect.
 *
 * From a goroutine each is one attempt function run by the runtime's I/O
 * loop (goro_posix_call, i.e. src/io/io.c's io_call): tried at once, and on
 * EAGAIN the goroutine parks on the poller while its thread runs others.
 * An attempt never blocks: on a socket it is the call with MSG_DONTWAIT
 * (read and write become recv and send, readv and writev become recvmsg
 * and sendmsg), so the socket's own blocking mode — shared with any other
 * process holding it — is never touched; any other pollable file was
 * given a non-blocking description of its own by the runtime.  libc's
 * contract is kept: one call returns what one call of libc's would (a
 * short read or write stays short), SIGPIPE is raised as libc's write
 * raises it, a descriptor the application made non-blocking fails with
 * EAGAIN, SO_RCVTIMEO and SO_SNDTIMEO expire with EAGAIN, and errno is
 * left alone on success.
 *
 * Anywhere else (see real.h) each is libc's call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <goro.h>

#include "posix.h"

ssize_t posix_io(int fd, short dir, goro_posix_try_fn try, void *ctx,
		 int flags)
{
	int saved = errno;
	ssize_t r = goro_posix_call(fd, dir, try, ctx, flags);
	if (r >= 0)
		errno = saved;
	return r;
}

bool posix_pass_wait(int fd, short events, int err)
{
	if (!events || (err != EAGAIN && err != EWOULDBLOCK))
		return false;
	int fl = goro_posix_fd_flags(fd);
	if (!(fl & GORO_POSIX_FD_ADDED_NB) || (fl & GORO_POSIX_FD_APP_NB))
		return false;
	/* A signal handled meanwhile ends the wait with EINTR, as it ends
	 * libc's blocking call (one installed with SA_RESTART would have
	 * restarted it: this wait cannot tell). */
	struct pollfd p = { .fd = fd, .events = events };
	if (REAL(poll)(&p, 1, -1) < 0)
		return false;
	return true;
}

/* ---- attempts ------------------------------------------------------------ */

struct io_args {
	void *buf;
	size_t n;
	int flags;
	const struct iovec *iov;
	int iovcnt;
	struct sockaddr *addr;
	socklen_t *addrlen;
	const struct sockaddr *to;
	socklen_t tolen;
	struct msghdr *msg;
	const struct msghdr *cmsg;
};

static ssize_t try_read(int fd, void *ctx, int sock)
{
	struct io_args *a = ctx;
	if (sock != 0)
		return REAL(recv)(fd, a->buf, a->n, MSG_DONTWAIT);
	return REAL(read)(fd, a->buf, a->n);
}

static ssize_t try_write(int fd, void *ctx, int sock)
{
	struct io_args *a = ctx;
	if (sock != 0)
		return REAL(send)(fd, a->buf, a->n, MSG_DONTWAIT);
	return REAL(write)(fd, a->buf, a->n);
}

static ssize_t try_readv(int fd, void *ctx, int sock)
{
	struct io_args *a = ctx;
	if (sock != 0) {
		struct msghdr m = { .msg_iov = (struct iovec *)a->iov,
				    .msg_iovlen = (size_t)a->iovcnt };
		return REAL(recvmsg)(fd, &m, MSG_DONTWAIT);
	}
	return REAL(readv)(fd, a->iov, a->iovcnt);
}

static ssize_t try_writev(int fd, void *ctx, int sock)
{
	struct io_args *a = ctx;
	if (sock != 0) {
		struct msghdr m = { .msg_iov = (struct iovec *)a->iov,
				    .msg_iovlen = (size_t)a->iovcnt };
		return REAL(sendmsg)(fd, &m, MSG_DONTWAIT);
	}
	return REAL(writev)(fd, a->iov, a->iovcnt);
}

static ssize_t try_recvfrom(int fd, void *ctx, int sock)
{
	(void)sock;
	struct io_args *a = ctx;
	return REAL(recvfrom)(fd, a->buf, a->n, a->flags | MSG_DONTWAIT,
			      a->addr, a->addrlen);
}

static ssize_t try_sendto(int fd, void *ctx, int sock)
{
	(void)sock;
	struct io_args *a = ctx;
	return REAL(sendto)(fd, a->buf, a->n, a->flags | MSG_DONTWAIT, a->to,
			    a->tolen);
}

static ssize_t try_recvmsg(int fd, void *ctx, int sock)
{
	(void)sock;
	struct io_args *a = ctx;
	return REAL(recvmsg)(fd, a->msg, a->flags | MSG_DONTWAIT);
}

static ssize_t try_sendmsg(int fd, void *ctx, int sock)
{
	(void)sock;
	struct io_args *a = ctx;
	return REAL(sendmsg)(fd, a->cmsg, a->flags | MSG_DONTWAIT);
}

static ssize_t try_accept(int fd, void *ctx, int sock)
{
	(void)sock;
	struct io_args *a = ctx;
	return REAL(accept4)(fd, a->addr, a->addrlen, a->flags);
}

/* MSG_DONTWAIT asked by the caller: EAGAIN rather than park. */
static int nowait(int flags)
{
	return flags & MSG_DONTWAIT ? GORO_POSIX_NOWAIT : 0;
}

/* What a plain call waits for after EAGAIN: nothing with MSG_DONTWAIT. */
static short plain_events(short events, int flags)
{
	return flags & MSG_DONTWAIT ? 0 : events;
}

static void commit_iov(const struct iovec *iov, int n)
{
	for (int i = 0; iov && i < n; i++)
		goro_posix_commit(iov[i].iov_base, iov[i].iov_len);
}

/* ---- the replacements ---------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t n)
{
	if (POSIX_PASS())
		return POSIX_PLAIN(fd, POLLIN, ssize_t, REAL(read)(fd, buf, n));
	goro_posix_commit(buf, n);
	struct io_args a = { .buf = buf, .n = n };
	return posix_io(fd, POLLIN, try_read, &a, GORO_POSIX_RCVTIMEO);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (POSIX_PASS())
		return POSIX_PLAIN(fd, POLLOUT, ssize_t,
				   REAL(write)(fd, buf, n));
	struct io_args a = { .buf = (void *)buf, .n = n };
	return posix_io(fd, POLLOUT, try_write, &a, GORO_POSIX_SNDTIMEO);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (POSIX_PASS())
		return POSIX_PLAIN(fd, POLLIN, ssize_t,
				   REAL(readv)(fd, iov, iovcnt));
	commit_iov(iov, iovcnt);
	struct io_args a = { .iov = iov, .iovcnt = iovcnt };
	return posix_io(fd, POLLIN, try_readv, &a, GORO_POSIX_RCVTIMEO);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (POSIX_PASS())
		return POSIX_PLAIN(fd, POLLOUT, ssize_t,
				   REAL(writev)(fd, iov, iovcnt));
	struct io_args a = { .iov = iov, .iovcnt = iovcnt };
	return posix_io(fd, POLLOUT, try_writev, &a, GORO_POSIX_SNDTIMEO);
}

/* recv and recvfrom, send and sendto: one body each, told whose return
 * address decides. */
static ssize_t do_recvfrom(const void *caller, int fd, void *buf, size_t n,
			   int flags, struct sockaddr *addr,
			   socklen_t *addrlen)
{
	if (!posix_active(caller))
		return POSIX_PLAIN(fd, plain_events(POLLIN, flags), ssize_t,
				   REAL(recvfrom)(fd, buf, n, flags, addr,
						  addrlen));
	goro_posix_commit(buf, n);
	if (addr && addrlen)
		goro_posix_commit(addr, *addrlen);
	struct io_args a = { .buf = buf, .n = n, .flags = flags,
			     .addr = addr, .addrlen = addrlen };
	return posix_io(fd, POLLIN, try_recvfrom, &a,
			nowait(flags) | GORO_POSIX_RCVTIMEO);
}

static ssize_t do_sendto(const void *caller, int fd, const void *buf,
			 size_t n, int flags, const struct sockaddr *to,
			 socklen_t tolen)
{
	if (!posix_active(caller))
		return POSIX_PLAIN(fd, plain_events(POLLOUT, flags), ssize_t,
				   REAL(sendto)(fd, buf, n, flags, to, tolen));
	struct io_args a = { .buf = (void *)buf, .n = n, .flags = flags,
			     .to = to, .tolen = tolen };
	return posix_io(fd, POLLOUT, try_sendto, &a,
			nowait(flags) | GORO_POSIX_SNDTIMEO);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return do_recvfrom(__builtin_return_address(0), fd, buf, n, flags,
			   NULL, NULL);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
		 struct sockaddr *addr, socklen_t *addrlen)
{
	return do_recvfrom(__builtin_return_address(0), fd, buf, n, flags,
			   addr, addrlen);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return do_sendto(__builtin_return_address(0), fd, buf, n, flags,
			 NULL, 0);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags,
	       const struct sockaddr *to, socklen_t tolen)
{
	return do_sendto(__builtin_return_address(0), fd, buf, n, flags, to,
			 tolen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (POSIX_PASS() || !msg)
		return POSIX_PLAIN(fd, plain_events(POLLIN, flags), ssize_t,
				   REAL(recvmsg)(fd, msg, flags));
	commit_iov(msg->msg_iov, (int)msg->msg_iovlen);
	goro_posix_commit(msg->msg_name, msg->msg_namelen);
	goro_posix_commit(msg->msg_control, msg->msg_controllen);
	struct io_args a = { .msg = msg, .flags = flags };
	return posix_io(fd, POLLIN, try_recvmsg, &a,
			nowait(flags) | GORO_POSIX_RCVTIMEO);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (POSIX_PASS() || !msg)
		return POSIX_PLAIN(fd, plain_events(POLLOUT, flags), ssize_t,
				   REAL(sendmsg)(fd, msg, flags));
	struct io_args a = { .cmsg = msg, .flags = flags };
	return posix_io(fd, POLLOUT, try_sendmsg, &a,
			nowait(flags) | GORO_POSIX_SNDTIMEO);
}

static int do_accept4(const void *caller, int fd, struct sockaddr *addr,
		      socklen_t *addrlen, int flags)
{
	int r;
	if (!posix_active(caller)) {
		r = POSIX_PLAIN(fd, POLLIN, int,
				REAL(accept4)(fd, addr, addrlen, flags));
	} else {
		if (addr && addrlen)
			goro_posix_commit(addr, *addrlen);
		/* The listening socket is switched to O_NONBLOCK while goro
		 * uses it: an accept after a readiness check could still
		 * block, where another acceptor took the connection. */
		struct io_args a = { .addr = addr, .addrlen = addrlen,
				     .flags = flags };
		r = (int)posix_io(fd, POLLIN, try_accept, &a,
				  GORO_POSIX_NONBLOCK);
	}
	if (r >= 0)
		goro_posix_forget(r);
	return r;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return do_accept4(__builtin_return_address(0), fd, addr, addrlen,
			  flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return do_accept4(__builtin_return_address(0), fd, addr, addrlen, 0);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (POSIX_PASS())
		return REAL(connect)(fd, addr, len);
	int saved = errno;
	int r = goro_posix_connect(fd, addr, len);
	if (r == 0)
		errno = saved;
	return r;
}
