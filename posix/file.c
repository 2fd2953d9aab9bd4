/* SPDX-License-Identifier: MIT */
/*
 * file.c — libgoro-posix's open, pread, pwrite, fsync, fdatasync, stat
 * and fstat (with their 64-bit names), for regular files.
 *
 * From a goroutine each goes to libgoro's regular-file engine, goro_open,
 * goro_pread and friends, which run the call without holding the P.  A
 * libgoro built without that engine does not define them: they are weak
 * references here, and where one is missing the call is libc's inside
 * goro_blocking_enter/exit, which hands the P on for its duration.  The
 * results (bytes, offsets, errno) are libc's either way.  open's new
 * descriptor gets a fresh runtime record (goro_posix_forget).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <goro.h>

#include "posix.h"

/* The file engine's calls, when libgoro has it. */
extern ssize_t goro_pread(int fd, void *buf, size_t n, off_t off)
	__attribute__((weak));
extern ssize_t goro_pwrite(int fd, const void *buf, size_t n, off_t off)
	__attribute__((weak));
extern int goro_fsync(int fd) __attribute__((weak));
extern int goro_fdatasync(int fd) __attribute__((weak));
extern int goro_open(const char *path, int flags, ...) __attribute__((weak));
extern int goro_stat(const char *path, struct stat *st) __attribute__((weak));
extern int goro_fstat(int fd, struct stat *st) __attribute__((weak));

/* libc's call without the P, errno kept on success. */
#define OFF_P(type, expr) \
	(__extension__({ int saved_ = errno; goro_blocking_enter(); \
		type r_ = (expr); int err_ = errno; goro_blocking_exit(); \
		errno = r_ < 0 ? err_ : saved_; r_; }))

/* The engine's call, errno kept on success; the engine's own libc calls
 * are libc's (goro_posix_engine_calls). */
#define ENGINE(type, expr) \
	(__extension__({ int saved_ = errno; goro_posix_engine_calls(1); \
		type r_ = (expr); int err_ = errno; \
		goro_posix_engine_calls(0); \
		errno = r_ >= 0 ? saved_ : err_; r_; }))

static int do_open(const void *caller, real_open_fn real, const char *path,
		   int flags, mode_t mode)
{
	int r;
	if (!posix_active(caller))
		r = real(path, flags, mode);
	else if (goro_open)
		r = ENGINE(int, goro_open(path, flags, mode));
	else
		r = OFF_P(int, real(path, flags, mode));
	if (r >= 0)
		goro_posix_forget(r);
	return r;
}

/* The mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, ap) \
	((flags) & (O_CREAT | __O_TMPFILE) ? (mode_t)va_arg(ap, int) : 0)

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = OPEN_MODE(flags, ap);
	va_end(ap);
	return do_open(__builtin_return_address(0), REAL(open), path, flags,
		       mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = OPEN_MODE(flags, ap);
	va_end(ap);
	return do_open(__builtin_return_address(0), REAL(open64), path, flags,
		       mode);
}

static ssize_t do_pread(const void *caller, real_pread_fn real, int fd,
			void *buf, size_t n, off_t off)
{
	if (!posix_active(caller))
		return real(fd, buf, n, off);
	goro_posix_commit(buf, n);
	if (goro_pread)
		return ENGINE(ssize_t, goro_pread(fd, buf, n, off));
	return OFF_P(ssize_t, real(fd, buf, n, off));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(__builtin_return_address(0), REAL(pread), fd, buf, n,
			off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(__builtin_return_address(0), REAL(pread64), fd, buf, n,
			off);
}

static ssize_t do_pwrite(const void *caller, real_pwrite_fn real, int fd,
			 const void *buf, size_t n, off_t off)
{
	if (!posix_active(caller))
		return real(fd, buf, n, off);
	if (goro_pwrite)
		return ENGINE(ssize_t, goro_pwrite(fd, buf, n, off));
	return OFF_P(ssize_t, real(fd, buf, n, off));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return do_pwrite(__builtin_return_address(0), REAL(pwrite), fd, buf, n,
			 off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return do_pwrite(__builtin_return_address(0), REAL(pwrite64), fd, buf,
			 n, off);
}

int fsync(int fd)
{
	if (POSIX_PASS())
		return REAL(fsync)(fd);
	if (goro_fsync)
		return ENGINE(int, goro_fsync(fd));
	return OFF_P(int, REAL(fsync)(fd));
}

int fdatasync(int fd)
{
	if (POSIX_PASS())
		return REAL(fdatasync)(fd);
	if (goro_fdatasync)
		return ENGINE(int, goro_fdatasync(fd));
	return OFF_P(int, REAL(fdatasync)(fd));
}

static int do_stat(const void *caller, real_stat_fn real, const char *path,
		   struct stat *st)
{
	if (!posix_active(caller))
		return real(path, st);
	goro_posix_commit(st, sizeof(*st));
	if (goro_stat)
		return ENGINE(int, goro_stat(path, st));
	return OFF_P(int, real(path, st));
}

int stat(const char *path, struct stat *st)
{
	return do_stat(__builtin_return_address(0), REAL(stat), path, st);
}

int stat64(const char *path, struct stat64 *st)
{
	/* struct stat64 is struct stat on x86-64. */
	return do_stat(__builtin_return_address(0),
		       (real_stat_fn)REAL(stat64), path, (struct stat *)st);
}

/* fstat never waits for a disk, but the engine may want it (it is in its
 * list), so it goes there too when present. */
static int do_fstat(const void *caller, real_fstat_fn real, int fd,
		    struct stat *st)
{
	if (!posix_active(caller) || !goro_fstat)
		return real(fd, st);
	goro_posix_commit(st, sizeof(*st));
	return ENGINE(int, goro_fstat(fd, st));
}

int fstat(int fd, struct stat *st)
{
	return do_fstat(__builtin_return_address(0), REAL(fstat), fd, st);
}

int fstat64(int fd, struct stat64 *st)
{
	return do_fstat(__builtin_return_address(0),
			(real_fstat_fn)REAL(fstat64), fd, (struct stat *)st);
}
