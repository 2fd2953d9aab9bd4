/* SPDX-License-Identifier: MIT */
/*
 * io_msg.c — the vectored, addressed and message drop-ins: goro_readv,
 * goro_writev, goro_recvfrom, goro_sendto, goro_recvmsg, goro_sendmsg.
 *
 * Each runs its libc namesake through io_call (src/io/io.h), so it parks on
 * the poller instead of blocking, honours the descriptor's deadlines and
 * fails with EBADF when goro_close runs meanwhile, and keeps libc's
 * convention (-1 and errno).  goro_writev, like goro_write, returns only
 * once every byte is written (Go's Buffers.WriteTo); the datagram calls
 * (sendto, sendmsg) make one call, as libc's do, a stream socket may then
 * accept part of the data.  Sends never raise SIGPIPE (MSG_NOSIGNAL).
 */
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io.h"
#include "stack.h"

#define ERRNO IO_ERRNO

/* libc would fail these with EINVAL (or fault on them); fail first. */
static bool bad_iov(const struct iovec *iov, int iovcnt)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov))
		return true;
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len && !iov[i].iov_base)
			return true;
	return false;
}

static void commit_iov(const struct iovec *iov, size_t iovcnt)
{
	for (size_t i = 0; i < iovcnt; i++)
		stack_commit_range(iov[i].iov_base, iov[i].iov_len);
}

static int fail(int err)
{
	ERRNO = err;
	return -1;
}

/* ---- vectored ------------------------------------------------------------------ */

struct iov_ctx {
	const struct iovec *iov;
	int iovcnt;
};

static ssize_t try_readv(int fd, void *arg)
{
	struct iov_ctx *c = arg;
	return readv(fd, c->iov, c->iovcnt);
}

static ssize_t try_writev(int fd, void *arg)
{
	struct iov_ctx *c = arg;
	return writev(fd, c->iov, c->iovcnt);
}

ssize_t goro_readv(int fd, const struct iovec *iov, int iovcnt)
{
	IO_REQUIRE_G();
	if (bad_iov(iov, iovcnt))
		return fail(EINVAL);
	commit_iov(iov, (size_t)iovcnt);
	struct iov_ctx c = { iov, iovcnt };
	return io_call(fd, EPOLLIN, try_readv, &c, false);
}

ssize_t goro_writev(int fd, const struct iovec *iov, int iovcnt)
{
	IO_REQUIRE_G();
	if (bad_iov(iov, iovcnt))
		return fail(EINVAL);
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	size_t done = 0;
	while (iovcnt > 0 && iov->iov_len == 0)
		iov++, iovcnt--;
	if (iovcnt == 0) {
		/* Nothing to write: still a call on fd (EBADF if bad). */
		struct iov_ctx c = { iov, 0 };
		return io_call(fd, EPOLLOUT, try_writev, &c, false);
	}
	while (done < total) {
		struct iov_ctx c = { iov, iovcnt };
		ssize_t r = io_call(fd, EPOLLOUT, try_writev, &c, false);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
		/* Skip what was written; a part-written buffer finishes with
		 * goro_write before the rest goes as one writev again. */
		size_t skip = (size_t)r;
		while (iovcnt > 0 && skip >= iov->iov_len)
			skip -= iov->iov_len, iov++, iovcnt--;
		if (iovcnt > 0 && skip > 0) {
			size_t rest = iov->iov_len - skip;
			ssize_t w = goro_write(fd, (char *)iov->iov_base + skip,
					       rest);
			if (w < 0)
				return (ssize_t)done;
			done += (size_t)w;
			if ((size_t)w < rest)
				return (ssize_t)done;
			iov++, iovcnt--;
		}
	}
	return (ssize_t)done;
}

/* ---- addressed and message I/O ------------------------------------------------- */

struct addr_ctx {
	void *buf;
	size_t n;
	int flags;
	struct sockaddr *addr;
	socklen_t *addrlen;
	const struct sockaddr *to;
	socklen_t tolen;
	struct msghdr *msg;
	const struct msghdr *cmsg;
};

static ssize_t try_recvfrom(int fd, void *arg)
{
	struct addr_ctx *c = arg;
	return recvfrom(fd, c->buf, c->n, c->flags, c->addr, c->addrlen);
}

static ssize_t try_sendto(int fd, void *arg)
{
	struct addr_ctx *c = arg;
	return sendto(fd, c->buf, c->n, c->flags | MSG_NOSIGNAL, c->to,
		      c->tolen);
}

static ssize_t try_recvmsg(int fd, void *arg)
{
	struct addr_ctx *c = arg;
	return recvmsg(fd, c->msg, c->flags);
}

static ssize_t try_sendmsg(int fd, void *arg)
{
	struct addr_ctx *c = arg;
	return sendmsg(fd, c->cmsg, c->flags | MSG_NOSIGNAL);
}

ssize_t goro_recvfrom(int fd, void *buf, size_t n, int flags,
		      struct sockaddr *addr, socklen_t *addrlen)
{
	IO_REQUIRE_G();
	if ((n && !buf) || (addr && !addrlen))
		return fail(EINVAL);
	stack_commit_range(buf, n);
	if (addr)
		stack_commit_range(addr, *addrlen);
	struct addr_ctx c = { .buf = buf, .n = n, .flags = flags,
			      .addr = addr, .addrlen = addrlen };
	return io_call(fd, EPOLLIN, try_recvfrom, &c, flags & MSG_DONTWAIT);
}

ssize_t goro_sendto(int fd, const void *buf, size_t n, int flags,
		    const struct sockaddr *to, socklen_t tolen)
{
	IO_REQUIRE_G();
	if ((n && !buf) || (!to && tolen))
		return fail(EINVAL);
	struct addr_ctx c = { .buf = (void *)buf, .n = n, .flags = flags,
			      .to = to, .tolen = tolen };
	return io_call(fd, EPOLLOUT, try_sendto, &c, flags & MSG_DONTWAIT);
}

ssize_t goro_recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO_REQUIRE_G();
	if (!msg || bad_iov(msg->msg_iov, (int)msg->msg_iovlen) ||
	    msg->msg_iovlen > IOV_MAX)
		return fail(EINVAL);
	commit_iov(msg->msg_iov, msg->msg_iovlen);
	if (msg->msg_name)
		stack_commit_range(msg->msg_name, msg->msg_namelen);
	if (msg->msg_control)
		stack_commit_range(msg->msg_control, msg->msg_controllen);
	struct addr_ctx c = { .msg = msg, .flags = flags };
	return io_call(fd, EPOLLIN, try_recvmsg, &c, flags & MSG_DONTWAIT);
}

ssize_t goro_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_REQUIRE_G();
	if (!msg || msg->msg_iovlen > IOV_MAX ||
	    bad_iov(msg->msg_iov, (int)msg->msg_iovlen))
		return fail(EINVAL);
	struct addr_ctx c = { .cmsg = msg, .flags = flags };
	return io_call(fd, EPOLLOUT, try_sendmsg, &c, flags & MSG_DONTWAIT);
}
