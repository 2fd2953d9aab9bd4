/* SPDX-License-Identifier: MIT */
/*
 * real.h — libc's own functions behind libgoro-posix's replacements, and
 * the one test every replacement makes first (posix_active).
 *
 * Each is found once with dlsym(RTLD_NEXT): all together by the library's
 * constructor, or by the first call that needs one, whichever comes first
 * (another library's constructor may call read before ours runs).  dlsym
 * may allocate, and an allocator may itself read or open a file while it
 * starts: a lookup that re-enters on its own thread gets the raw system
 * call instead (posix/real.c), so nothing recurses.
 */
#ifndef GORO_POSIX_REAL_H
#define GORO_POSIX_REAL_H

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* name, return type, parameter list: one line per function replaced. */
#define POSIX_REAL_LIST(X) \
	X(read, ssize_t, (int, void *, size_t)) \
	X(write, ssize_t, (int, const void *, size_t)) \
	X(readv, ssize_t, (int, const struct iovec *, int)) \
	X(writev, ssize_t, (int, const struct iovec *, int)) \
	X(recv, ssize_t, (int, void *, size_t, int)) \
	X(send, ssize_t, (int, const void *, size_t, int)) \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(recvmsg, ssize_t, (int, struct msghdr *, int)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int)) \
	X(accept, int, (int, struct sockaddr *, socklen_t *)) \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int)) \
	X(connect, int, (int, const struct sockaddr *, socklen_t)) \
	X(poll, int, (struct pollfd *, nfds_t, int)) \
	X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(pselect, int, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	X(epoll_wait, int, (int, struct epoll_event *, int, int)) \
	X(epoll_pwait, int, (int, struct epoll_event *, int, int, const sigset_t *)) \
	X(nanosleep, int, (const struct timespec *, struct timespec *)) \
	X(clock_nanosleep, int, (clockid_t, int, const struct timespec *, struct timespec *)) \
	X(usleep, int, (useconds_t)) \
	X(sleep, unsigned, (unsigned)) \
	X(close, int, (int)) \
	X(dup, int, (int)) \
	X(dup2, int, (int, int)) \
	X(dup3, int, (int, int, int)) \
	X(fcntl, int, (int, int, ...)) \
	X(fcntl64, int, (int, int, ...)) \
	X(ioctl, int, (int, unsigned long, ...)) \
	X(socket, int, (int, int, int)) \
	X(socketpair, int, (int, int, int, int[2])) \
	X(pipe, int, (int[2])) \
	X(pipe2, int, (int[2], int)) \
	X(open, int, (const char *, int, ...)) \
	X(open64, int, (const char *, int, ...)) \
	X(pread, ssize_t, (int, void *, size_t, off_t)) \
	X(pread64, ssize_t, (int, void *, size_t, off_t)) \
	X(pwrite, ssize_t, (int, const void *, size_t, off_t)) \
	X(pwrite64, ssize_t, (int, const void *, size_t, off_t)) \
	X(fsync, int, (int)) \
	X(fdatasync, int, (int)) \
	X(stat, int, (const char *, struct stat *)) \
	X(stat64, int, (const char *, struct stat64 *)) \
	X(fstat, int, (int, struct stat *)) \
	X(fstat64, int, (int, struct stat64 *)) \
	X(getaddrinfo, int, (const char *, const char *, const struct addrinfo *, struct addrinfo **)) \
	X(getnameinfo, int, (const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int)) \
	X(gethostbyname, struct hostent *, (const char *)) \
	X(gethostbyname_r, int, (const char *, struct hostent *, char *, size_t, struct hostent **, int *)) \
	X(pthread_mutex_lock, int, (pthread_mutex_t *)) \
	X(pthread_mutex_trylock, int, (pthread_mutex_t *)) \
	X(pthread_mutex_unlock, int, (pthread_mutex_t *)) \
	X(pthread_rwlock_rdlock, int, (pthread_rwlock_t *)) \
	X(pthread_rwlock_wrlock, int, (pthread_rwlock_t *)) \
	X(pthread_rwlock_tryrdlock, int, (pthread_rwlock_t *)) \
	X(pthread_rwlock_trywrlock, int, (pthread_rwlock_t *)) \
	X(pthread_rwlock_unlock, int, (pthread_rwlock_t *)) \
	X(pthread_mutex_timedlock, int, (pthread_mutex_t *, const struct timespec *)) \
	X(pthread_mutex_clocklock, int, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
	X(pthread_rwlock_timedrdlock, int, (pthread_rwlock_t *, const struct timespec *)) \
	X(pthread_rwlock_timedwrlock, int, (pthread_rwlock_t *, const struct timespec *)) \
	X(pthread_rwlock_clockrdlock, int, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
	X(pthread_rwlock_clockwrlock, int, (pthread_rwlock_t *, clockid_t, const struct timespec *))

#define POSIX_REAL_DECL(name, ret, args) \
	typedef ret (*real_##name##_fn) args; \
	extern real_##name##_fn _Atomic real_##name##_ptr; \
	real_##name##_fn real_##name##_get(void);
POSIX_REAL_LIST(POSIX_REAL_DECL)

/* libc's `name`, resolved on first use; NULL only while a lookup re-enters
 * on this thread (the caller then makes the raw system call). */
#define REAL(name) \
	(__extension__({ real_##name##_fn f_ = atomic_load_explicit( \
		&real_##name##_ptr, memory_order_acquire); \
		f_ ? f_ : real_##name##_get(); }))

/* A forked child: every replacement is libc's from then on. */
extern _Atomic int posix_forked;

/* Should the call made from `caller` park its goroutine? */
int posix_active(const void *caller);

/* Non-zero where the replacement is a plain libc call this time; the
 * caller's address is the replacement's own return address. */
#define POSIX_PASS() (!posix_active(__builtin_return_address(0)))

#endif
