/* SPDX-License-Identifier: MIT */
/*
 * fileio.h — regular-file I/O that does not hold a P: the one engine
 * behind goro_pread, goro_pwrite, goro_fsync, goro_fdatasync, goro_open,
 * goro_stat and goro_fstat (src/io/fileio_api.c), and behind every call
 * of io.c's loop on a descriptor epoll refuses (src/io/io.c): goro_read
 * and goro_write, goro_readv and goro_writev, and libgoro-posix's read,
 * write, readv, writev and their kin.
 *
 * epoll cannot wait for a disk, so a goroutine reading a file used to
 * block its thread inside goro_blocking_enter/exit until sysmon handed its
 * P on.  Here the call is handed to the kernel (io_uring) or to a pool
 * thread, and the goroutine parks: its P runs other goroutines at once and
 * no M is held while the disk works.
 *
 * Which back end (GORO_FILEIO, src/base/config.h):
 *   auto     io_uring if the kernel lets this process set up a ring (the
 *            first file call of a goro_main run tries; io_uring_disabled,
 *            ENOSYS, or a seccomp filter's EPERM mean threads), else threads;
 *   uring    io_uring, and goro_main fails at start if it is refused;
 *   threads  the bounded pool of FILEIO_THREADS_MAX threads.
 * An operation io_uring lacks on this kernel (its probe) goes to the pool.
 */
#ifndef GORO_FILEIO_H
#define GORO_FILEIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Pool threads for the threads back end (and for what io_uring lacks). */
#define FILEIO_THREADS_MAX 16

enum fileio_op {
	FILEIO_READ,       /* fd, buf, n, off */
	FILEIO_WRITE,      /* fd, buf, n, off */
	FILEIO_FSYNC,      /* fd */
	FILEIO_FDATASYNC,  /* fd */
	FILEIO_OPEN,       /* path, flags, mode */
	FILEIO_STAT,       /* path, st */
	FILEIO_FSTAT,      /* fd, st */
	FILEIO_CALL,       /* fd, call, ctx: call(fd, ctx) on a pool thread,
			      -1 and errno on failure (readv, writev, ...) */
};

/* One call, described by the caller on its own stack. */
struct fileio_req {
	enum fileio_op op;
	int fd;
	void *buf;
	size_t n;
	off_t off;          /* -1: the file position, used and advanced by
			       read(2) and write(2) on a pool thread */
	const char *path;
	int flags;
	mode_t mode;
	struct stat *st;
	ssize_t (*call)(int fd, void *ctx);
	void *ctx;
};

/*
 * Run req once, parking the calling goroutine (which holds a P) until it
 * is done: the system call's result (>= 0: a count, 0, or a descriptor),
 * or a negative errno.  READ and WRITE may transfer fewer than n bytes, as
 * one pread/pwrite may; at most FILEIO_CHUNK_MAX per call.  The caller
 * keeps fd from being closed meanwhile (a netpoll reference) and commits
 * the goroutine stack under any buffer the kernel writes.
 */
ssize_t fileio_run(const struct fileio_req *req);

#define FILEIO_CHUNK_MAX ((size_t)0x7ffff000)  /* the kernel's own bound */

struct poll_desc;

/*
 * A read or write of fd (its netpoll record pd, a reference held by the
 * caller) at off, or at the file position if off is -1: a read returns
 * what one read(2) would; a write goes on until all n bytes are written.
 * The count, or a negative errno (-EBADF once goro_close has begun on fd,
 * if nothing was transferred).  src/io/fileio_api.c.
 */
ssize_t fileio_transfer(struct poll_desc *pd, enum fileio_op op, int fd,
			void *buf, size_t n, off_t off);

/*
 * Any other call on fd (its netpoll record pd, a reference held by the
 * caller): call(fd, ctx) made once on a pool thread, which is no
 * goroutine (libgoro-posix lets its calls through to libc), while the
 * caller parks.  The caller commits the goroutine stack under any buffer
 * the call writes.  call's result, or a negative errno (-EBADF once
 * goro_close has begun on fd).  src/io/fileio_api.c.
 */
ssize_t fileio_call(struct poll_desc *pd, int fd,
		    ssize_t (*call)(int fd, void *ctx), void *ctx);

/* goro_main start (GORO_FILEIO=uring: set up the ring now; 0 or a
 * negative errno) and end (after every M has left: waits for requests
 * still with the kernel or a pool thread, so that none writes into a
 * goroutine stack about to be freed, and closes the ring). */
int fileio_init(void);
void fileio_teardown(void);

#endif
