/* SPDX-License-Identifier: MIT */
/*
 * io.h — the loop every goroutine-aware I/O call shares (src/io/io.c), for
 * the wrappers in io.c, io_msg.c and net.c.
 *
 * A call is one attempt function run on a descriptor until it does not
 * fail with EAGAIN.  io_call holds a reference on the descriptor's poller
 * record for the whole call (so goro_close waits for it), honours the
 * direction's deadline (goro_fd_set_deadline), parks on the poller between
 * attempts, and gives up with EBADF as soon as goro_close begins.
 */
#ifndef GORO_IO_H
#define GORO_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <goro.h>

#include "runtime.h"

/* The library is built without goro.h's errno override; after a park the
 * goroutine may be on another thread, so errno is always fetched anew. */
#define IO_ERRNO (*goro_errno_location())

/* One attempt: the system call, returning >= 0 or -1 with errno set. */
typedef ssize_t (*io_try_fn)(int fd, void *ctx);

/*
 * Run try(fd, ctx) in direction dir (EPOLLIN or EPOLLOUT) until it
 * succeeds or fails with something other than EAGAIN/EINTR.  nowait: fail
 * with EAGAIN rather than park (MSG_DONTWAIT).  On a descriptor epoll
 * refuses (a regular file) try is called once, on a pool thread of the
 * file engine (src/io/fileio.h), while the goroutine parks.
 * Returns try's result, or -1 with errno: EBADF (bad fd, or closed with
 * goro_close meanwhile), ETIMEDOUT (the direction's deadline passed).
 */
ssize_t io_call(int fd, uint32_t dir, io_try_fn try, void *ctx, bool nowait);

/* What io_call_until asks before its first park: a deadline (goro_now()
 * clock, 0 = none) on top of fd's own, e.g. the socket's SO_RCVTIMEO. */
typedef int64_t (*io_deadline_fn)(int fd, void *ctx);

/* io_call for libgoro-posix (core/interpose.c): the record is taken in
 * `mode` (enum np_mode, netpoll.h), or'ed with IO_APP_NB to make the call
 * nowait where the application asked for O_NONBLOCK (PDX_APP_NB); `late`
 * (may be NULL) gives the extra deadline once the call would park.  Past
 * that deadline it fails with ETIMEDOUT too. */
#define IO_APP_NB 0x100
ssize_t io_call_until(int fd, uint32_t dir, io_try_fn try, void *ctx,
		      bool nowait, int mode, io_deadline_fn late);

/* goro_fdwait on a record taken in `mode` (enum np_mode). */
int io_wait(int fd, short events, int64_t timeout_ns, int mode);

/* Mark the calling goroutine's libc calls as libgoro's own for their
 * duration (g.rt_libc): libgoro-posix lets them through to libc. */
static inline void io_libc_begin(void)
{
	struct g *g = g_current();
	if (g)
		g->rt_libc++;
}
static inline void io_libc_end(void)
{
	struct g *g = g_current();
	if (g)
		g->rt_libc--;
}

/* goro_connect with an extra deadline (goro_now() clock, 0 = none) on top
 * of fd's write deadline: 0 or -1 with errno. */
int io_connect(int fd, const struct sockaddr *addr, socklen_t len,
	       int64_t deadline);

/* Public I/O calls outside a goroutine fail as libc calls do. */
#define IO_REQUIRE_G() RT_REQUIRE_G((IO_ERRNO = EPERM, -1))

#endif
