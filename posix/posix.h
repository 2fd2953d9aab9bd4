/* SPDX-License-Identifier: MIT */
/*
 * posix.h — what the replacement files of libgoro-posix share: the
 * goroutine path of a descriptor call (posix_io, in posix/io.c) and the
 * plain path's one correction (posix_pass_wait).
 */
#ifndef GORO_POSIX_POSIX_H
#define GORO_POSIX_POSIX_H

#include <stdbool.h>
#include <sys/types.h>

/* errno through goro_errno_location: a goroutine may continue on another
 * thread after a park. */
#include <goro.h>

#include "../src/io/interpose.h"
#include "real.h"

/* goro_posix_call with libc's errno rule: unchanged on success. */
ssize_t posix_io(int fd, short dir, goro_posix_try_fn try, void *ctx,
		 int flags);

/*
 * A plain libc call (not from a goroutine) on fd failed with `err`: if it
 * is EAGAIN on a descriptor the runtime made non-blocking behind the
 * application's back (a pipe given a private non-blocking description),
 * wait as the blocking call would have, with libc's poll, and return true
 * (try again).  Otherwise false, and false with errno EINTR when a signal
 * handler ended that wait.  events 0: the caller asked for EAGAIN
 * (MSG_DONTWAIT), never wait.
 */
bool posix_pass_wait(int fd, short events, int err);

/* posix_pass_wait's loop around one plain call expression. */
#define POSIX_PLAIN(fd, events, type, expr) \
	(__extension__({ type r_; \
		while ((r_ = (expr)) < 0 && \
		       posix_pass_wait((fd), (events), errno)) \
			; \
		r_; }))

#endif
