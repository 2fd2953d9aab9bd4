/* SPDX-License-Identifier: MIT */
/*
 * interpose.h — what libgoro offers libgoro-posix (posix/), the library
 * that replaces libc's blocking calls for goroutines.
 *
 * libgoro-posix is a separate shared object and sees only libgoro's
 * exports, so the few things it needs from the runtime are exported here
 * under goro_posix_*: whether a call should park at all, the one I/O loop
 * (io_call, src/io/io.c) with the options a libc call needs, readiness
 * waits, the descriptor's blocking-mode bookkeeping and the resolver pool.
 * Nothing here is meant for applications: goro.h does not declare it, and
 * the interface may change with libgoro-posix, which is built with it.
 *
 * Every call that parks must be made from a goroutine for which
 * goro_posix_active() said yes.
 */
#ifndef GORO_INTERPOSE_H
#define GORO_INTERPOSE_H

#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Non-zero when a libc call made by the code whose return address is
 * `caller` should park its goroutine: the calling thread runs a goroutine
 * (not the scheduler, not a thread goro did not start, not a forked
 * child's copy), holds its P (outside goro_blocking_enter/exit), holds no
 * runtime lock, is not on its signal stack (a handler), is not making a
 * call for libgoro itself (g.rt_libc, or `caller` inside libgoro), and
 * goro_main is running.  Async-signal-safe.
 */
int goro_posix_active(const void *caller);

/* Non-zero when the call made from `caller` is libgoro's own (its code,
 * g.rt_libc, or a runtime lock held): the descriptor bookkeeping of the
 * replacements (fcntl's view, close's record) must ignore it.  Any
 * thread; async-signal-safe. */
int goro_posix_runtime(const void *caller);

/* begin != 0: the libc calls the calling goroutine makes from now on are
 * libgoro's own (g.rt_libc), until a matching call with begin == 0.
 * libgoro-posix brackets its calls into libgoro's file engine with it, so
 * that the engine's own read or open, reaching a replacement through a
 * sanitizer's interceptor, is libc's and never the engine again. */
void goro_posix_engine_calls(int begin);

/* libgoro-posix counts, per thread, the pthread mutexes and rwlocks its
 * thread holds (posix/lock.c) and registers here how to ask: a goroutine
 * whose thread holds one keeps that thread wherever it parks or yields
 * (src/sched/sched.c, keep_thread), so a lock's owner stays right across
 * a replaced call that waits.  `held` must be async-signal-safe and take
 * no lock. */
void goro_posix_lock_probe(int (*held)(void));

/* One attempt of a libc call: its result, or -1 with errno.  sock: 1 if fd
 * is known to be a socket, 0 if known not to be, -1 unknown.  It must not
 * block: on a socket it uses MSG_DONTWAIT (the description may be
 * blocking), on anything else the runtime made fd non-blocking. */
typedef ssize_t (*goro_posix_try_fn)(int fd, void *ctx, int sock);

/* [p, p+n) may lie in a part of the calling goroutine's stack not yet
 * opened: open it, so that the kernel (or a resolver thread) can write
 * there rather than fail with EFAULT.  Anything else: nothing to do. */
void goro_posix_commit(const void *p, size_t n);

/* goro_posix_call flags. */
#define GORO_POSIX_NOWAIT 1   /* fail with EAGAIN rather than park */
#define GORO_POSIX_RCVTIMEO 2 /* honour the socket's SO_RCVTIMEO */
#define GORO_POSIX_SNDTIMEO 4 /* honour the socket's SO_SNDTIMEO */
#define GORO_POSIX_NONBLOCK 8 /* fd must be O_NONBLOCK (a listening socket) */

/*
 * Run try until it does not fail with EAGAIN, parking between attempts
 * (io_call).  dir: POLLIN or POLLOUT.  A descriptor the application made
 * non-blocking gets one attempt.  Regular files: one attempt inside
 * goro_blocking_enter/exit.  A SO_RCVTIMEO/SO_SNDTIMEO that expires fails
 * with EAGAIN, as libc's call does.  -1 and errno otherwise.
 */
ssize_t goro_posix_call(int fd, short dir, goro_posix_try_fn try, void *ctx,
			int flags);

/* connect(2) on a socket the application left blocking: the goroutine
 * parks until it is connected; the socket stays blocking.  0 or -1 and
 * errno. */
int goro_posix_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* Park until fd is ready for events (POLLIN, POLLOUT), or timeout_ns
 * (< 0: none; 0: just look).  The revents, 0 on timeout, or -errno.  A
 * socket's blocking mode is left alone. */
int goro_posix_wait(int fd, short events, int64_t timeout_ns);

/* fd's file is gone or replaced (closed, dup2'ed over, or a new file was
 * created at this number): forget what the runtime knew.  Any thread. */
void goro_posix_forget(int fd);

/* goro_posix_fd_flags bits. */
#define GORO_POSIX_FD_APP_NB 1   /* the application wants O_NONBLOCK */
#define GORO_POSIX_FD_ADDED_NB 2 /* the runtime set O_NONBLOCK it did not */
#define GORO_POSIX_FD_KNOWN 4    /* the runtime has a record of fd's file */

/* What the runtime did to fd's blocking mode (0 for a descriptor it never
 * touched).  Any thread. */
int goro_posix_fd_flags(int fd);

/* The application set (on != 0) or cleared O_NONBLOCK on fd. */
void goro_posix_set_app_nonblock(int fd, int on);

/* getnameinfo(3) and gethostbyname_r(3) on the resolver threads while the
 * goroutine parks (getaddrinfo: goro_getaddrinfo). */
int goro_posix_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			   char *host, socklen_t hostlen, char *serv,
			   socklen_t servlen, int flags);
int goro_posix_gethostbyname_r(const char *name, struct hostent *ret,
			       char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop);

#endif
