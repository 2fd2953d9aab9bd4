/* SPDX-License-Identifier: MIT */
/*
 * fd.c — libgoro-posix's close, dup, dup2, dup3, fcntl (and fcntl64),
 * ioctl(FIONBIO), and the creators socket, socketpair, pipe, pipe2: the
 * calls that end a descriptor, put a new file behind its number, or read
 * and set its blocking mode.
 *
 * The runtime keeps a record per descriptor number (src/io/netpoll.h).
 * close from a goroutine is goro_close: calls parked on the descriptor
 * fail with EBADF, and the number is released only once they have left.
 * Everywhere else — other threads, dup2/dup3 over a number, a new socket
 * or pipe at a number — the record is marked stale, and the next call
 * starts afresh.
 *
 * fcntl keeps the application's view of O_NONBLOCK: where the runtime had
 * to make a description non-blocking behind its back (a private
 * description of a pipe, FIFO or terminal; a listening socket), F_GETFL
 * reports what the application last set, and F_SETFL records it while
 * the description stays non-blocking.  Elsewhere the flag is the
 * kernel's; a change of it makes the record stale, so that the next call
 * decides again how to wait on the descriptor.  ioctl(FIONBIO), the other
 * way to set the flag (OpenSSL's BIO_socket_nbio uses it), is kept the
 * same way as F_SETFL.  F_SETLKW waits for its lock inside
 * goro_blocking_enter/exit, so the P goes on running others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <goro.h>

#include "posix.h"

int close(int fd)
{
	const void *caller = __builtin_return_address(0);
	if (goro_posix_runtime(caller))
		return REAL(close)(fd);
	if (!posix_active(caller)) {
		int r = REAL(close)(fd);
		goro_posix_forget(fd);
		return r;
	}
	int saved = errno;
	int r = goro_close(fd);
	if (r == 0)
		errno = saved;
	return r;
}

int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0 && !goro_posix_runtime(__builtin_return_address(0)))
		goro_posix_forget(r);
	return r;
}

int dup2(int oldfd, int newfd)
{
	int r = REAL(dup2)(oldfd, newfd);
	if (r >= 0 && oldfd != newfd &&
	    !goro_posix_runtime(__builtin_return_address(0)))
		goro_posix_forget(newfd);
	return r;
}

int dup3(int oldfd, int newfd, int flags)
{
	int r = REAL(dup3)(oldfd, newfd, flags);
	/* The runtime's own dup3 gives a descriptor a private description
	 * of the same file, and updates the record itself. */
	if (r >= 0 && !goro_posix_runtime(__builtin_return_address(0)))
		goro_posix_forget(newfd);
	return r;
}

static int do_fcntl(const void *caller, real_fcntl_fn real, int fd, int cmd,
		    unsigned long arg)
{
	int fl, r;
	if (goro_posix_runtime(caller))
		return real(fd, cmd, arg);
	switch (cmd) {
	case F_GETFL:
		r = real(fd, cmd);
		fl = goro_posix_fd_flags(fd);
		if (r >= 0 && (fl & GORO_POSIX_FD_ADDED_NB))
			r = (r & ~O_NONBLOCK) |
			    (fl & GORO_POSIX_FD_APP_NB ? O_NONBLOCK : 0);
		return r;
	case F_SETFL:
		fl = goro_posix_fd_flags(fd);
		if (fl & GORO_POSIX_FD_ADDED_NB) {
			r = real(fd, cmd, arg | O_NONBLOCK);
			if (r == 0)
				goro_posix_set_app_nonblock(
					fd, (arg & O_NONBLOCK) != 0);
			return r;
		}
		r = real(fd, cmd, arg);
		if (r == 0 && (fl & GORO_POSIX_FD_KNOWN) &&
		    !(arg & O_NONBLOCK) != !(fl & GORO_POSIX_FD_APP_NB))
			goro_posix_forget(fd);
		return r;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = real(fd, cmd, arg);
		if (r >= 0)
			goro_posix_forget(r);
		return r;
	case F_SETLKW:
	case F_OFD_SETLKW:
		if (posix_active(caller)) {
			int saved = errno;
			goro_blocking_enter();
			r = real(fd, cmd, arg);
			int err = errno;
			goro_blocking_exit();
			errno = r == 0 ? saved : err;
			return r;
		}
		return real(fd, cmd, arg);
	default:
		return real(fd, cmd, arg);
	}
}

/* The third argument, whatever its type: on x86-64 an int and a pointer
 * travel alike. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return do_fcntl(__builtin_return_address(0), REAL(fcntl), fd, cmd,
			arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return do_fcntl(__builtin_return_address(0), REAL(fcntl64), fd, cmd,
			arg);
}

int socket(int domain, int type, int protocol)
{
	int r = REAL(socket)(domain, type, protocol);
	if (r >= 0)
		goro_posix_forget(r);
	return r;
}

int socketpair(int domain, int type, int protocol, int fds[2])
{
	int r = REAL(socketpair)(domain, type, protocol, fds);
	if (r == 0) {
		goro_posix_forget(fds[0]);
		goro_posix_forget(fds[1]);
	}
	return r;
}

int pipe2(int fds[2], int flags)
{
	int r = REAL(pipe2)(fds, flags);
	if (r == 0) {
		goro_posix_forget(fds[0]);
		goro_posix_forget(fds[1]);
	}
	return r;
}

int pipe(int fds[2])
{
	int r = REAL(pipe)(fds);
	if (r == 0) {
		goro_posix_forget(fds[0]);
		goro_posix_forget(fds[1]);
	}
	return r;
}

/* FIONBIO as F_SETFL's O_NONBLOCK; every other request is libc's. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (request != FIONBIO || goro_posix_runtime(__builtin_return_address(0)))
		return REAL(ioctl)(fd, request, arg);
	const int *on = (const int *)arg;
	int fl = goro_posix_fd_flags(fd);
	if (fl & GORO_POSIX_FD_ADDED_NB) {
		/* The description stays non-blocking; the application's
		 * wish is recorded. */
		if (!on) {
			errno = EFAULT;
			return -1;
		}
		int one = 1;
		int r = REAL(ioctl)(fd, FIONBIO, &one);
		if (r == 0)
			goro_posix_set_app_nonblock(fd, *on != 0);
		return r;
	}
	int r = REAL(ioctl)(fd, FIONBIO, arg);
	if (r == 0 && (fl & GORO_POSIX_FD_KNOWN) &&
	    !*on != !(fl & GORO_POSIX_FD_APP_NB))
		goro_posix_forget(fd);
	return r;
}
