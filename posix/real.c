/* SPDX-License-Identifier: MIT */
/*
 * real.c — finding libc's functions (see real.h), the fork rule, and the
 * test each replacement makes first.
 *
 * Lookup: dlsym(RTLD_NEXT, name) for every function of the list, once per
 * process, by whichever comes first of the constructor and a call.  A
 * thread that calls a replacement while it is itself inside that lookup
 * (dlsym allocating, an allocator starting up and reading a file) gets
 * the raw system call instead, for the calls an allocator or a loader
 * makes (read, write, open, close, the stats, pread, fcntl, ioctl (isatty),
 * poll, nanosleep); any other function would be NULL there.
 * Pointers are published with release stores and never change.
 *
 * Fork: a child of a goroutine program has one thread, a copy of the one
 * that forked, which still looks like a goroutine to the runtime.  The
 * child handler marks the process: from then on every replacement is
 * libc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "../src/io/interpose.h"

/* Each function's raw system call, where one is defined below (a weak
 * reference: NULL for the others). */
#define POSIX_REAL_DEF(name, ret, args) \
	extern ret posix_raw_##name args \
		__attribute__((weak, visibility("hidden"))); \
	real_##name##_fn _Atomic real_##name##_ptr; \
	real_##name##_fn real_##name##_get(void) \
	{ \
		posix_resolve(); \
		real_##name##_fn f_ = atomic_load_explicit( \
			&real_##name##_ptr, memory_order_acquire); \
		return f_ ? f_ : posix_raw_##name; \
	}

_Atomic int posix_forked;
static _Atomic int resolved;
static __thread bool resolving;

static void posix_resolve(void);
POSIX_REAL_LIST(POSIX_REAL_DEF)

static void posix_resolve(void)
{
	if (atomic_load_explicit(&resolved, memory_order_acquire) || resolving)
		return;
	resolving = true;
#define POSIX_REAL_LOOKUP(name, ret, args) \
	{ void *p_ = dlsym(RTLD_NEXT, #name); \
	  if (p_) atomic_store_explicit(&real_##name##_ptr, \
		(real_##name##_fn)p_, memory_order_release); }
	POSIX_REAL_LIST(POSIX_REAL_LOOKUP)
	resolving = false;
	atomic_store_explicit(&resolved, 1, memory_order_release);
}

/* ---- raw system calls, for a lookup that re-enters ------------------------ */

#define RAW __attribute__((visibility("hidden")))

RAW ssize_t posix_raw_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

RAW ssize_t posix_raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

RAW int posix_raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static int raw_open(const char *path, int flags, va_list ap)
{
	mode_t mode = flags & (O_CREAT | __O_TMPFILE) ? (mode_t)va_arg(ap, int)
						      : 0;
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

RAW int posix_raw_open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int r = raw_open(path, flags, ap);
	va_end(ap);
	return r;
}

RAW int posix_raw_open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int r = raw_open(path, flags, ap);
	va_end(ap);
	return r;
}

RAW ssize_t posix_raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}

RAW ssize_t posix_raw_pread64(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}

RAW int posix_raw_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

RAW int posix_raw_fstat64(int fd, struct stat64 *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

RAW int posix_raw_stat(const char *path, struct stat *st)
{
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

RAW int posix_raw_stat64(const char *path, struct stat64 *st)
{
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

RAW int posix_raw_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

RAW int posix_raw_fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

RAW int posix_raw_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

RAW int posix_raw_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	return (int)syscall(SYS_poll, fds, n, timeout);
}

RAW int posix_raw_nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)syscall(SYS_nanosleep, req, rem);
}

/* ---- fork and the constructor ---------------------------------------------- */

/* Only a child forked by a goroutine has a thread that looks like one;
 * any other child is a fresh program for the runtime. */
static void in_child(void)
{
	if (goro_posix_active(NULL))
		atomic_store_explicit(&posix_forked, 1, memory_order_relaxed);
}

__attribute__((constructor(101))) static void posix_init(void)
{
	posix_resolve();
	pthread_atfork(NULL, NULL, in_child);
}

int posix_active(const void *caller)
{
	if (atomic_load_explicit(&posix_forked, memory_order_relaxed))
		return 0;
	return goro_posix_active(caller);
}
