/* SPDX-License-Identifier: MIT */
/*
 * wait.c — libgoro-posix's poll, ppoll, select, pselect, epoll_wait and
 * epoll_pwait.
 *
 * From a goroutine each first asks libc's own call with a zero timeout,
 * so results (revents, the sets, the events) are always libc's.  Nothing
 * ready and time left: the goroutine parks on the poller until one of
 * the descriptors may be ready or the timeout passes, then asks again.
 * One descriptor is waited on directly (goro_posix_wait); several through
 * a private epoll instance holding them all, which is itself one pollable
 * descriptor; an epoll descriptor of the application is waited on as it
 * is.  A wait that cannot be expressed so (a signal mask to install for
 * its duration, a descriptor the runtime cannot poll) is libc's call made
 * inside goro_blocking_enter/exit: the thread blocks, the P does not.
 *
 * A parked wait is not interrupted by signals (no EINTR), as the other
 * goroutine waits of the runtime are not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <goro.h>

#include "posix.h"

/* goro_now() deadline for a timeout in ns (< 0: none, 0 returned). */
static int64_t deadline_of(int64_t ns)
{
	return ns < 0 ? 0 : goro_now() + ns;
}

/* Time left to `deadline`, in ns: -1 none, 0 passed. */
static int64_t left_of(int64_t deadline)
{
	if (!deadline)
		return -1;
	int64_t left = deadline - goro_now();
	return left > 0 ? left : 0;
}

static int64_t ts_ns(const struct timespec *ts)
{
	if (!ts)
		return -1;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return INT64_MIN;
	if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
		return -1;
	return ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static uint32_t epoll_events(short events)
{
	uint32_t e = 0;
	if (events & (POLLIN | POLLRDNORM | POLLRDBAND))
		e |= EPOLLIN;
	if (events & (POLLOUT | POLLWRNORM | POLLWRBAND))
		e |= EPOLLOUT;
	if (events & POLLPRI)
		e |= EPOLLPRI;
	if (events & POLLRDHUP)
		e |= EPOLLRDHUP;
	return e;
}

/*
 * Park until one of fds may be ready or `deadline` passes.  0 to look
 * again; -1 when the runtime cannot wait for these descriptors (the
 * caller makes the blocking call instead).
 */
static int wait_any(const struct pollfd *fds, nfds_t n, int64_t deadline)
{
	int one = -1;
	nfds_t count = 0;
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].fd >= 0) {
			one = (int)i;
			count++;
		}
	if (count == 0) {
		/* poll(NULL, 0, t) is a sleep. */
		int64_t left = left_of(deadline);
		goro_sleep(left < 0 ? INT64_MAX / 2 : left);
		return 0;
	}
	if (count == 1) {
		short ev = fds[one].events & (POLLOUT | POLLWRNORM | POLLWRBAND)
			   ? POLLOUT : 0;
		if (fds[one].events & ~(POLLOUT | POLLWRNORM | POLLWRBAND) ||
		    !ev)
			ev |= POLLIN;
		if (fds[one].events & POLLPRI)
			return -1;  /* urgent data: not in the poller's terms */
		int r = goro_posix_wait(fds[one].fd, ev, left_of(deadline));
		return r < 0 && r != -ETIMEDOUT ? -1 : 0;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	int r = 0;
	for (nfds_t i = 0; i < n && r == 0; i++) {
		if (fds[i].fd < 0)
			continue;
		struct epoll_event e = { .events = epoll_events(fds[i].events) };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &e) == 0)
			continue;
		if (errno == EEXIST) {
			/* The same descriptor twice: wait for both sets. */
			for (nfds_t j = 0; j < i; j++)
				if (fds[j].fd == fds[i].fd)
					e.events |= epoll_events(fds[j].events);
			if (epoll_ctl(ep, EPOLL_CTL_MOD, fds[i].fd, &e) == 0)
				continue;
		}
		r = -1;  /* a regular file, or a bad descriptor: ask libc */
	}
	if (r == 0) {
		int w = goro_posix_wait(ep, POLLIN, left_of(deadline));
		r = w < 0 && w != -ETIMEDOUT ? -1 : 0;
	}
	goro_close(ep);
	return r;
}

/* The blocking call, made without holding the P. */
#define IN_REGION(type, expr) \
	(__extension__({ int saved_ = errno; goro_blocking_enter(); \
		type r_ = (expr); int err_ = errno; goro_blocking_exit(); \
		errno = r_ < 0 ? err_ : saved_; r_; }))

static int ms_of(int64_t left)
{
	if (left < 0)
		return -1;
	int64_t ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* poll and ppoll without a mask, from a goroutine. */
static int poll_g(struct pollfd *fds, nfds_t n, int64_t timeout_ns)
{
	int saved = errno;
	int64_t deadline = deadline_of(timeout_ns);
	for (;;) {
		int r = REAL(poll)(fds, n, 0);
		if (r != 0 || timeout_ns == 0 || left_of(deadline) == 0)
			return r;
		if (wait_any(fds, n, deadline) < 0)
			return IN_REGION(int, REAL(poll)(fds, n,
					 ms_of(left_of(deadline))));
		errno = saved;
	}
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (POSIX_PASS())
		return REAL(poll)(fds, n, timeout);
	return poll_g(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
	  const sigset_t *mask)
{
	int64_t ns = ts_ns(ts);
	if (POSIX_PASS() || mask || ns == INT64_MIN)
		return POSIX_PASS() || ns == INT64_MIN
			? REAL(ppoll)(fds, n, ts, mask)
			: IN_REGION(int, REAL(ppoll)(fds, n, ts, mask));
	return poll_g(fds, n, ns);
}

#define SELECT_WAIT_MAX 64

/* select's sets as a poll list of at most SELECT_WAIT_MAX entries; more
 * than that: SELECT_WAIT_MAX + 1. */
static nfds_t sets_to_poll(int nfds, const fd_set *r, const fd_set *w,
			   const fd_set *e, struct pollfd *fds)
{
	nfds_t n = 0;
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		short ev = (r && FD_ISSET(fd, r) ? POLLIN : 0) |
			   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
			   (e && FD_ISSET(fd, e) ? POLLPRI : 0);
		if (!ev)
			continue;
		if (n == SELECT_WAIT_MAX)
			return n + 1;
		fds[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	return n;
}

/* select and pselect without a mask, from a goroutine: libc's select with
 * a zero timeout on copies of the sets, then a park, until something is
 * ready or the time is up. */
static int select_g(int nfds, fd_set *r, fd_set *w, fd_set *e,
		    int64_t timeout_ns, struct timeval *tv)
{
	int saved = errno;
	int64_t deadline = deadline_of(timeout_ns);
	for (;;) {
		fd_set rc, wc, ec;
		if (r) rc = *r;
		if (w) wc = *w;
		if (e) ec = *e;
		struct timeval zero = { 0, 0 };
		int n = REAL(select)(nfds, r ? &rc : NULL, w ? &wc : NULL,
				     e ? &ec : NULL, &zero);
		int64_t left = left_of(deadline);
		if (n != 0 || timeout_ns == 0 || left == 0) {
			if (n >= 0) {
				if (r) *r = rc;
				if (w) *w = wc;
				if (e) *e = ec;
				if (tv && left >= 0) {
					tv->tv_sec = left / 1000000000;
					tv->tv_usec = left % 1000000000 / 1000;
				}
			}
			return n;
		}
		struct pollfd fds[SELECT_WAIT_MAX];
		nfds_t count = sets_to_poll(nfds, r, w, e, fds);
		int res = count > SELECT_WAIT_MAX ? -1
			  : wait_any(fds, count, deadline);
		if (res < 0) {
			struct timeval t = { left / 1000000000,
					     left % 1000000000 / 1000 };
			return IN_REGION(int, REAL(select)(nfds, r, w, e,
					 left < 0 ? NULL : &t));
		}
		errno = saved;
	}
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (POSIX_PASS() || nfds < 0 || nfds > FD_SETSIZE ||
	    (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)))
		return REAL(select)(nfds, r, w, e, tv);
	int64_t ns = tv ? (int64_t)tv->tv_sec * 1000000000 +
			  (int64_t)tv->tv_usec * 1000 : -1;
	return select_g(nfds, r, w, e, ns, tv);
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
	    const struct timespec *ts, const sigset_t *mask)
{
	int64_t ns = ts_ns(ts);
	if (POSIX_PASS() || nfds < 0 || nfds > FD_SETSIZE || ns == INT64_MIN)
		return REAL(pselect)(nfds, r, w, e, ts, mask);
	if (mask)
		return IN_REGION(int, REAL(pselect)(nfds, r, w, e, ts, mask));
	return select_g(nfds, r, w, e, ns, NULL);
}

static int epoll_g(int epfd, struct epoll_event *ev, int max, int timeout)
{
	int saved = errno;
	int64_t deadline = deadline_of(timeout < 0 ? -1
					: (int64_t)timeout * 1000000);
	for (;;) {
		int r = REAL(epoll_wait)(epfd, ev, max, 0);
		int64_t left = left_of(deadline);
		if (r != 0 || timeout == 0 || left == 0)
			return r;
		int w = goro_posix_wait(epfd, POLLIN, left);
		if (w < 0 && w != -ETIMEDOUT)
			return IN_REGION(int, REAL(epoll_wait)(epfd, ev, max,
					 ms_of(left)));
		errno = saved;
	}
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	if (POSIX_PASS())
		return REAL(epoll_wait)(epfd, ev, max, timeout);
	return epoll_g(epfd, ev, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
		const sigset_t *mask)
{
	if (POSIX_PASS())
		return REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
	if (mask)
		return IN_REGION(int, REAL(epoll_pwait)(epfd, ev, max,
						       timeout, mask));
	return epoll_g(epfd, ev, max, timeout);
}
