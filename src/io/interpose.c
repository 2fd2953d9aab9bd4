/* SPDX-License-Identifier: MIT */
/*
 * interpose.c — the runtime's side of libgoro-posix (see interpose.h).
 *
 * libgoro-posix replaces read, recv, poll, connect, ... for the whole
 * process, so libgoro's own libc calls reach its replacements too.  Two
 * marks keep them out of the scheduler:
 *  - g.rt_libc, set by io.c around each attempt it makes for a goroutine
 *    (io_libc_begin/end): the runtime's own read, poll or connect on a
 *    user goroutine, even when a sanitizer's interceptor stands between;
 *  - the caller's address in libgoro's code (text_ranges.h), for every
 *    other call libgoro makes.
 * Everything else that is not a plain goroutine — the scheduler (g0),
 * sysmon, resolver threads, threads goro did not create, a blocking
 * region, runtime locks held, the signal stack — is let through as well
 * (goro_posix_active).
 *
 * What the interposers may park on is io.c's one loop (io_call_until):
 * the only differences from goro_read's use of it are the registration
 * mode (a blocking socket is polled per call, never switched to
 * O_NONBLOCK: NP_PERCALL), EAGAIN semantics for a descriptor the
 * application made non-blocking, and the socket timeouts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "clock.h"
#include "interpose.h"
#include "io.h"
#include "netpoll.h"
#include "resolver.h"
#include "scheduler.h"
#include "stack.h"
#include "text_ranges.h"

#define RELAXED memory_order_relaxed
#define ERRNO IO_ERRNO

int goro_posix_active(const void *caller)
{
	struct m *m = m_current();
	if (!m || !m->curg || !m->p || m->locks || m->curg->rt_libc)
		return 0;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t alt = (uintptr_t)m->sigstack.mem;
	if (alt && sp >= alt && sp < alt + m->sigstack.size)
		return 0;
	if (text_is_runtime((uintptr_t)caller))
		return 0;
	if (!atomic_load_explicit(&sched.running, RELAXED) ||
	    atomic_load_explicit(&sched.exiting, RELAXED))
		return 0;
	/* A replaced call is a runtime call: a pending preemption request
	 * is honoured here, by a plain switch. */
	sched_io_point();
	return 1;
}

void goro_posix_commit(const void *p, size_t n)
{
	if (p && n && g_current())
		stack_commit_range(p, n);
}

int goro_posix_runtime(const void *caller)
{
	if (text_is_runtime((uintptr_t)caller))
		return 1;
	struct m *m = m_current();
	return m && (m->locks || (m->curg && m->curg->rt_libc));
}

void goro_posix_lock_probe(int (*held)(void))
{
	sched_set_lock_probe(held);
}

void goro_posix_engine_calls(int begin)
{
	if (begin)
		io_libc_begin();
	else
		io_libc_end();
}

struct call_ctx {
	goro_posix_try_fn try;
	void *ctx;
	int flags;
	int64_t timeo;       /* the socket timeout's deadline, once asked */
};

static ssize_t try_posix(int fd, void *arg)
{
	struct call_ctx *c = arg;
	struct poll_desc *pd = netpoll_peek(fd);
	uint8_t s = pd ? atomic_load_explicit(&pd->sock, RELAXED)
		       : PD_SOCK_UNKNOWN;
	ssize_t r = c->try(fd, c->ctx, s == PD_SOCK_YES ? 1
				    : s == PD_SOCK_NO ? 0 : -1);
	if (r < 0 && ERRNO == ENOTSOCK && pd && s == PD_SOCK_UNKNOWN) {
		/* try learnt that fd is no socket: remember it. */
		atomic_store_explicit(&pd->sock, PD_SOCK_NO, RELAXED);
		r = c->try(fd, c->ctx, 0);
	}
	return r;
}

/* Asked once, when the call is about to park: the socket's timeout. */
static int64_t socket_timeout(int fd, void *arg)
{
	struct call_ctx *c = arg;
	int opt = c->flags & GORO_POSIX_RCVTIMEO ? SO_RCVTIMEO
		: c->flags & GORO_POSIX_SNDTIMEO ? SO_SNDTIMEO : 0;
	struct timeval tv;
	socklen_t len = sizeof(tv);
	if (!opt || getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0 ||
	    (tv.tv_sec == 0 && tv.tv_usec == 0))
		return 0;
	c->timeo = rt_now() + (int64_t)tv.tv_sec * 1000000000 +
		   (int64_t)tv.tv_usec * 1000;
	return c->timeo;
}

ssize_t goro_posix_call(int fd, short dir, goro_posix_try_fn try, void *ctx,
			int flags)
{
	RT_REQUIRE_G((ERRNO = EPERM, -1));
	if (!try || (dir != POLLIN && dir != POLLOUT)) {
		ERRNO = EINVAL;
		return -1;
	}
	struct call_ctx c = { try, ctx, flags, 0 };
	bool timeo = flags & (GORO_POSIX_RCVTIMEO | GORO_POSIX_SNDTIMEO);
	ssize_t r = io_call_until(fd, dir == POLLIN ? EPOLLIN : EPOLLOUT,
				  try_posix, &c, flags & GORO_POSIX_NOWAIT,
				  IO_APP_NB | (flags & GORO_POSIX_NONBLOCK
					       ? NP_NONBLOCK : NP_PERCALL),
				  timeo ? socket_timeout : NULL);
	if (r < 0 && ERRNO == ETIMEDOUT && c.timeo && rt_now() >= c.timeo)
		ERRNO = EAGAIN;
	return r;
}

int goro_posix_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	RT_REQUIRE_G((ERRNO = EPERM, -1));
	if (!addr) {
		ERRNO = EFAULT;
		return -1;
	}
	int px = goro_posix_fd_flags(fd);
	io_libc_begin();
	int fl = fcntl(fd, F_GETFL);
	io_libc_end();
	if (fl < 0)
		return -1;
	bool app_nb = px & GORO_POSIX_FD_ADDED_NB ? px & GORO_POSIX_FD_APP_NB
						   : fl & O_NONBLOCK;
	if (app_nb) {
		/* EINPROGRESS is what the application asked for. */
		io_libc_begin();
		int r = connect(fd, addr, len);
		io_libc_end();
		return r;
	}
	int r = io_connect(fd, addr, len, 0);
	int err = ERRNO;
	/* Connected or not, the socket is blocking again, as it was. */
	netpoll_make_percall(fd);
	ERRNO = err;
	return r;
}

int goro_posix_wait(int fd, short events, int64_t timeout_ns)
{
	RT_REQUIRE_G(-EPERM);
	if (!(events & (POLLIN | POLLOUT)) || (events & ~(POLLIN | POLLOUT)))
		return -EINVAL;
	return io_wait(fd, events, timeout_ns, NP_PERCALL);
}

void goro_posix_forget(int fd)
{
	netpoll_mark_stale(fd);
}

int goro_posix_fd_flags(int fd)
{
	struct poll_desc *pd = netpoll_peek(fd);
	if (!pd || atomic_load_explicit(&pd->kind, RELAXED) == PD_UNKNOWN ||
	    atomic_load_explicit(&pd->stale, RELAXED))
		return 0;
	uint8_t px = atomic_load_explicit(&pd->posix, RELAXED);
	return GORO_POSIX_FD_KNOWN |
	       (px & PDX_APP_NB ? GORO_POSIX_FD_APP_NB : 0) |
	       (px & PDX_ADDED_NB ? GORO_POSIX_FD_ADDED_NB : 0);
}

void goro_posix_set_app_nonblock(int fd, int on)
{
	struct poll_desc *pd = netpoll_peek(fd);
	if (pd && atomic_load_explicit(&pd->kind, RELAXED) != PD_UNKNOWN)
		netpoll_set_app_nonblock(fd, on != 0);
}

int goro_posix_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			   char *host, socklen_t hostlen, char *serv,
			   socklen_t servlen, int flags)
{
	RT_REQUIRE_G((ERRNO = EPERM, EAI_SYSTEM));
	return resolver_getnameinfo(sa, salen, host, hostlen, serv, servlen,
				    flags);
}

int goro_posix_gethostbyname_r(const char *name, struct hostent *ret,
			       char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	RT_REQUIRE_G(EPERM);
	if (!name || !ret || !buf || !result)
		return EINVAL;
	return resolver_gethostbyname_r(name, ret, buf, buflen, result,
					h_errnop);
}
