/* SPDX-License-Identifier: MIT */
/*
 * fileio_api.c — goro_pread, goro_pwrite, goro_fsync, goro_fdatasync,
 * goro_open, goro_stat and goro_fstat, and fileio_transfer, the read and
 * write that goro_read and goro_write make on regular files (src/io/io.c).
 *
 * Each call keeps its libc namesake's contract: the same arguments, -1
 * and errno on failure, errno untouched on success.  From a goroutine
 * holding a P, the call goes through the file engine (src/io/fileio.h) and
 * the goroutine parks while the kernel works; from any other thread — or
 * from a goroutine inside goro_blocking_enter/exit, whose P is lent out
 * already — it is libc's call, made at once.
 *
 * With GORO_DEBUG=fileiocache=1, a read of data already in the page cache
 * is not handed anywhere: it is a copy, made at once (read_cached below),
 * as Go's pread would make it.
 *
 * Calls on a descriptor hold a reference on its netpoll record for their
 * whole duration, so goro_close waits for them (src/io/netpoll.h): a read
 * in flight is never cut short by a close, and never reaches a file that
 * reused the number.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "io.h"
#include "netpoll.h"
#include "stack.h"

#define ERRNO IO_ERRNO

/* The engine can be used: a goroutine holding its P. */
static bool engine_usable(void)
{
	struct m *m = m_current();
	return m && m->curg && m->p;
}

static ssize_t fail(ssize_t err)
{
	ERRNO = (int)-err;
	return -1;
}

/*
 * The page-cache fast path, off unless GORO_DEBUG=fileiocache=1: a read
 * the kernel can answer from the page cache (preadv2 with RWF_NOWAIT) is
 * a copy, made here on the goroutine with no switch at all; only what
 * would wait for the disk goes to the engine.  Bounded in size, so that
 * the P is never held for long.  Why off: readers that never park are
 * CPU-bound goroutines, and a goroutine woken beside 64 of them waits for
 * their time slices (goro-bench io: file-late-*-cache) where the engine
 * costs a little throughput and keeps the Ps free.  The
 * bytes read (possibly fewer than n, the rest to come from the engine),
 * or a negative errno the engine would give too, or 0 with *eof, or
 * -EAGAIN: not in the cache (or RWF_NOWAIT unsupported), use the engine.
 */
#define CACHED_READ_MAX (256 * 1024)

static ssize_t read_cached(int fd, void *buf, size_t n, off_t off, bool *eof)
{
	if (!config.fileio_cache || n == 0 || n > CACHED_READ_MAX)
		return -EAGAIN;
	int saved = ERRNO;
	struct iovec iov = { buf, n };
	ssize_t r = preadv2(fd, &iov, 1, off < 0 ? -1 : off, RWF_NOWAIT);
	int err = ERRNO;
	ERRNO = saved;
	if (r >= 0) {
		*eof = r == 0;
		return r;
	}
	/* EOPNOTSUPP, EINVAL: no RWF_NOWAIT here; the engine will tell. */
	return err == EBADF || err == EISDIR || err == ESPIPE ||
	       err == EFAULT ? -err : -EAGAIN;
}

ssize_t fileio_transfer(struct poll_desc *pd, enum fileio_op op, int fd,
			void *buf, size_t n, off_t off)
{
	size_t done = 0;
	ssize_t r;
	if (op == FILEIO_READ) {
		stack_commit_range(buf, n);
		bool eof = false;
		r = read_cached(fd, buf, n, off, &eof);
		if (r == (ssize_t)n || eof || (r < 0 && r != -EAGAIN))
			return r;
		if (r > 0)
			done = (size_t)r;  /* the rest is not cached */
	}
	for (;;) {
		if (netpoll_closing(pd)) {
			r = -EBADF;
			break;
		}
		struct fileio_req q = {
			.op = op, .fd = fd, .buf = (char *)buf + done,
			.n = n - done, .off = off < 0 ? -1 : off + (off_t)done,
		};
		r = fileio_run(&q);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
		/* A read returns what one read(2) returns (with the cached
		 * part before it); a write goes on until all is written, as
		 * goro_write promises. */
		if (op == FILEIO_READ || done >= n)
			break;
	}
	return done ? (ssize_t)done : r;
}

ssize_t fileio_call(struct poll_desc *pd, int fd,
		    ssize_t (*call)(int fd, void *ctx), void *ctx)
{
	if (netpoll_closing(pd))
		return -EBADF;
	struct fileio_req q = { .op = FILEIO_CALL, .fd = fd, .off = -1,
				.call = call, .ctx = ctx };
	return fileio_run(&q);
}

/* pread and pwrite: a descriptor the poller waits on (pipe, socket,
 * terminal) cannot be read at an offset. */
static ssize_t positioned(enum fileio_op op, int fd, void *buf, size_t n,
			  off_t off)
{
	if (off < 0)
		return fail(-EINVAL);
	int err;
	struct poll_desc *pd = netpoll_ref(fd, &err);
	if (!pd)
		return fail(err);
	ssize_t r;
	if (atomic_load_explicit(&pd->kind, memory_order_relaxed) == PD_POLLED)
		r = -ESPIPE;
	else
		r = fileio_transfer(pd, op, fd, buf, n, off);
	netpoll_unref(pd);
	return r < 0 ? fail(r) : r;
}

ssize_t goro_pread(int fd, void *buf, size_t n, off_t off)
{
	if (!engine_usable())
		return pread(fd, buf, n, off);
	return positioned(FILEIO_READ, fd, buf, n, off);
}

ssize_t goro_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (!engine_usable())
		return pwrite(fd, buf, n, off);
	return positioned(FILEIO_WRITE, fd, (void *)buf, n, off);
}

/* A call on fd alone: fsync, fdatasync, fstat. */
static int on_fd(enum fileio_op op, int fd, struct stat *st)
{
	int err;
	struct poll_desc *pd = netpoll_hold(fd, &err);
	if (!pd)
		return (int)fail(err);
	struct fileio_req q = { .op = op, .fd = fd, .st = st };
	ssize_t r;
	do
		r = fileio_run(&q);
	while (r == -EINTR && !netpoll_closing(pd));
	netpoll_unref(pd);
	return r < 0 ? (int)fail(r) : 0;
}

int goro_fsync(int fd)
{
	if (!engine_usable())
		return fsync(fd);
	return on_fd(FILEIO_FSYNC, fd, NULL);
}

int goro_fdatasync(int fd)
{
	if (!engine_usable())
		return fdatasync(fd);
	return on_fd(FILEIO_FDATASYNC, fd, NULL);
}

int goro_fstat(int fd, struct stat *st)
{
	if (!engine_usable())
		return fstat(fd, st);
	if (!st)
		return (int)fail(-EFAULT);
	stack_commit_range(st, sizeof(*st));
	return on_fd(FILEIO_FSTAT, fd, st);
}

int goro_stat(const char *path, struct stat *st)
{
	if (!engine_usable())
		return stat(path, st);
	if (!path || !st)
		return (int)fail(-EFAULT);
	stack_commit_range(st, sizeof(*st));
	struct fileio_req q = { .op = FILEIO_STAT, .path = path, .st = st };
	ssize_t r;
	do
		r = fileio_run(&q);
	while (r == -EINTR);
	return r < 0 ? (int)fail(r) : 0;
}

int goro_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!engine_usable())
		return open(path, flags, mode);
	if (!path)
		return (int)fail(-EFAULT);
	struct fileio_req q = { .op = FILEIO_OPEN, .path = path,
				.flags = flags, .mode = mode };
	ssize_t fd;
	do
		fd = fileio_run(&q);
	while (fd == -EINTR);
	if (fd < 0)
		return (int)fail(fd);
	/* A new file behind this number: whatever the record knew belonged
	 * to an earlier one (closed without goro_close). */
	netpoll_forget((int)fd);
	return (int)fd;
}
