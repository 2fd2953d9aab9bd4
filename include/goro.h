/* SPDX-License-Identifier: MIT */
/*
 * goro.h — Go's goroutine runtime as a C library.
 *
 * A program hands its main function to goro_main(); it runs as goroutine 1
 * on an M:P:G scheduler (GOMAXPROCS processors, any number of OS threads,
 * any number of goroutines).  From there it spawns goroutines with goro_go(),
 * talks between them over channels, and relies on the runtime to preempt a
 * goroutine that runs too long.
 *
 * Error convention (the same in every man page):
 *  - A call returning int or int64_t returns a negative errno value on
 *    failure (-EINVAL, -ENOMEM...), as liburing does, and 0 or a
 *    non-negative result on success; errno is left alone.
 *  - A constructor returning a pointer (goro_chan_make, goro_timer_new,
 *    goro_ticker_new, goro_after_func, goro_ctx_*) returns NULL and sets
 *    errno on failure.
 *  - The I/O wrappers are drop-in replacements for their libc namesakes
 *    and keep libc's convention (-1 and errno).
 *  - Arguments are validated: NULL or a negative duration is -EINVAL, an
 *    object already freed (as far as it can be told: see each section) is
 *    -EBADF.  Never a crash.
 *  - Channels, timers, tickers and contexts belong to the goro_main run
 *    that made them: free them before it returns, never use them in a
 *    later run.
 *  - Every goro_* call other than goro_main(), goro_version() and
 *    goro_version_string() must be made from a goroutine, except the calls
 *    listed under "Calls from other threads" below.  A call
 *    made outside goro_main() prints a message naming the call and fails
 *    with -EPERM (NULL and errno EPERM for constructors; nothing, for calls
 *    returning void).
 *  - Goroutines migrate between OS threads.  `__thread` variables are per
 *    thread, not per goroutine, and a TLS address must not be kept across a
 *    call that may switch goroutines.  This header redefines `errno` so that
 *    its address is fetched again after every call (see below); code that
 *    must stay on one thread uses goro_lock_thread().
 */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <signal.h>
/* sigset_t even in strict ISO C modes (goro_signal_notify); glibc. */
#include <bits/types/sigset_t.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------
 * The header's version; goro_version() and goro_version_string() give the
 * library's, which may be newer than the header a program was built with.
 * These two may be called outside goro_main. */
#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 2
#define GORO_VERSION_PATCH 0
#define GORO_VERSION_HEX ((GORO_VERSION_MAJOR << 16) | \
			  (GORO_VERSION_MINOR << 8) | GORO_VERSION_PATCH)
#define GORO_VERSION_STR_(x) #x
#define GORO_VERSION_STR(x) GORO_VERSION_STR_(x)
#define GORO_VERSION_STRING GORO_VERSION_STR(GORO_VERSION_MAJOR) "." \
	GORO_VERSION_STR(GORO_VERSION_MINOR) "." \
	GORO_VERSION_STR(GORO_VERSION_PATCH)
unsigned int goro_version(void);        /* GORO_VERSION_HEX of the library */
const char *goro_version_string(void);  /* "MAJOR.MINOR.PATCH" */

/* Alignment of the opaque synchronization objects below, spelled for C11,
 * C++11 and C99 (where GCC and Clang take the attribute). */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define GORO_ALIGNAS_(n) alignas(n)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define GORO_ALIGNAS_(n) _Alignas(n)
#else
#define GORO_ALIGNAS_(n) __attribute__((aligned(n)))
#endif

/* Structs the library may grow carry their size as the caller knows it:
 * set it to sizeof the struct (the *_INIT macros do), or leave it 0 for the
 * layout of goro 0.2.  Zero-initialised and designated-initialiser code
 * keeps working; a size the library does not know is -EINVAL.  New fields
 * are only ever added after `size`. */

/* ---- Program lifetime -------------------------------------------------- */

/* Start the runtime, run fn(argc, argv) as goroutine 1 and return its value
 * once it returns.  Goroutines still alive then are abandoned, as in Go.
 * May be called again afterwards.  Returns -EBUSY if called from inside
 * goro_main, -EINVAL for a NULL fn or a bad GORO_* environment variable. */
int goro_main(int (*fn)(int, char **), int argc, char **argv);

/* ---- Goroutines -------------------------------------------------------- */

/*
 * Stacks.  A goroutine's stack may grow to its limit: stack_max, or
 * GORO_STACK_MAX (default 256 KiB), from 16 KiB to 1 GiB, one guard page
 * included.  It starts with 8 KiB open and grows on demand: touching the
 * guard pages below the open part opens segments (doubling) down to the
 * touched page or the stack pointer, whichever is lower, so a large frame
 * keeps whatever it wrote before it met a guard.  Going past the limit ends
 * the program: "fatal error: goroutine N "name" stack exceeds LIMIT-byte
 * limit", that goroutine's frames, exit status 2; 1 MiB of guard pages
 * below every stack makes that hold for frames up to 1 MiB past the limit,
 * so none lands in another goroutine's stack.  The rules for code that
 * runs in goroutines:
 *  - Build it with -fstack-clash-protection (goro.pc's Cflags carry it;
 *    the default of several distributions' compilers, not of upstream
 *    GCC).  Functions with large frames then touch each stack page in
 *    order: a frame of any size past the limit is caught.  Without it,
 *    frames more than 1 MiB past the limit are not caught, and in slots
 *    larger than 1 MiB (limits above 1 MiB) a system call given a stack
 *    buffer more than 1 MiB below the open part may stop short at the
 *    guards (EFAULT).  goro's own I/O calls open their buffer's stack
 *    pages first.
 *  - Signal handlers must be installed with SA_ONSTACK.  goro gives every
 *    thread it runs goroutines on an alternate signal stack; a handler run
 *    on the goroutine's own stack may land on its guard, and the kernel
 *    then kills the process.
 *  - goro_main installs a SIGSEGV/SIGBUS handler (growth needs it) and
 *    restores the previous one when it returns.  Install your own before
 *    goro_main, not while it runs: goro passes it every fault that is not
 *    a stack fault.
 * Memory: a parked goroutine that used under 4 KiB of stack costs one
 * resident page, plus its share of a page-table page: stack tops are the
 * limit plus 1 MiB apart, so at the default limit a page-table page serves
 * 1.6 stacks; from 1 MiB up each stack has one of its own.  On kernels
 * without MADV_GUARD_INSTALL (before 6.13), or with
 * GORO_STACK_GUARD=mprotect, a stack with guards of its own takes two
 * memory mappings; once 7/8 of what vm.max_map_count (65530 by default)
 * allows are used, stacks come in groups of 256 that share one guard:
 * their overflows are caught only for the lowest of each group (the
 * others' frames up to 1 MiB past the limit land in their own gap, unseen).
 * About a million goroutines fit at the default; past that goro_go fails
 * with -EAGAIN and a message naming the sysctl.
 */
typedef struct goro_attr {
	const char *name;  /* label shown in dumps; copied; NULL = none */
	size_t stack_max;  /* stack limit in bytes; 0 = GORO_STACK_MAX default */
	size_t size;       /* sizeof(goro_attr_t), or 0 (see above) */
} goro_attr_t;
#define GORO_ATTR_INIT { NULL, 0, sizeof(goro_attr_t) }

/* Spawn fn(arg) as a new goroutine.  Returns its id (> 0), -EINVAL for a
 * NULL fn, -ENOMEM or -EAGAIN when resources run out. */
int64_t goro_go(void (*fn)(void *), void *arg);
int64_t goro_go_attr(const goro_attr_t *attr, void (*fn)(void *), void *arg);

/* Spawn fn with a copy of the size bytes at arg, as Go copies a
 * goroutine's arguments: fn gets a pointer to storage the goroutine owns
 * (aligned for any type, freed when it exits), so the caller's object may
 * go away at once.  size 0 passes arg itself.  Returns the id, -EINVAL
 * for a NULL fn (or NULL arg with size > 0), -ENOMEM, -EAGAIN. */
int64_t goro_go_copy(void (*fn)(void *), const void *arg, size_t size);

/*
 * Calls from other threads.  While goro_main runs, a thread goro did not
 * create (a plain pthread, a library's callback thread) may call
 * goro_go, goro_go_copy, goro_chan_make, goro_chan_send/recv (and their
 * try and sized forms, and GORO_SEND/GORO_RECV), goro_select,
 * goro_chan_close, goro_chan_len/cap/free, goro_ctx_cancel and every
 * goro_timer_* and goro_ticker_* call.  A blocking channel operation or
 * select blocks that OS thread in the kernel, not a P.  Outside goro_main
 * they fail with -EPERM.  Everything else stays goroutine-only.  Once
 * such a thread has called in, the deadlock detector stays quiet for the
 * rest of that goro_main run: the thread may send at any time (as Go
 * with threads created in C).  Before its first call the runtime cannot
 * know it exists: a goroutine waiting for it should wait with a timeout
 * (a pending timer also keeps the detector quiet).  A thread still blocked
 * in a channel operation when goro_main returns stays blocked.
 */

void goro_yield(void);           /* runtime.Gosched */
void goro_exit(void);            /* runtime.Goexit: end the calling goroutine */
int64_t goro_self(void);         /* id of the calling goroutine */
size_t goro_count(void);         /* goroutines alive */
void goro_set_name(const char *name);

/* GOMAXPROCS: when n >= 1 set it, in any case return the previous value
 * (-EINVAL for n > GORO_MAXPROCS_LIMIT). */
#define GORO_MAXPROCS_LIMIT 1024
int goro_maxprocs(int n);

/* Region that the runtime will not preempt asynchronously.  Nestable. */
void goro_preempt_disable(void);
void goro_preempt_enable(void);

/* Wire the calling goroutine to its OS thread (runtime.LockOSThread). */
void goro_lock_thread(void);
void goro_unlock_thread(void);

/* ---- Time ---------------------------------------------------------------- */

int64_t goro_now(void);          /* monotonic clock, ns */
void goro_sleep(int64_t ns);     /* park the goroutine for at least ns */

/* ---- Timers and tickers (Go's time.Timer, AfterFunc, time.Ticker) -------
 *
 * goro_timer_new(ns) fires once, ns from now (ns >= 0): its channel
 * (capacity 1) then receives one int64_t, the goro_now() at firing, and
 * can be used in goro_select.  goro_after_func runs fn(arg) in a goroutine
 * of its own instead (it has no channel).  stop and reset return 1 if the
 * timer was active (armed, or fired with the value not yet received) and 0
 * if not, as Go's bools; as in Go since 1.23, no stale value is received
 * after either returns.  A ticker's channel receives goro_now() once per
 * period; a tick its receiver has not taken is dropped, never queued.
 * stop, reset and free cost O(log n) in the number of timers and may be
 * called concurrently.  goro_*_free stops the object and frees it and its
 * channel (-EBUSY, leaving it stopped, while a goroutine still waits on
 * that channel); every later call on it is -EBADF (see goro_chan_make).
 * Negative durations, a period <= 0 or a NULL object are -EINVAL.
 * These calls work from threads goro did not create too. */
typedef struct goro_timer goro_timer_t;
typedef struct goro_ticker goro_ticker_t;
typedef struct goro_chan goro_chan_t;

goro_timer_t *goro_timer_new(int64_t ns);
goro_timer_t *goro_after_func(int64_t ns, void (*fn)(void *), void *arg);
goro_chan_t *goro_timer_chan(goro_timer_t *t);
int goro_timer_stop(goro_timer_t *t);
int goro_timer_reset(goro_timer_t *t, int64_t ns);
int goro_timer_free(goro_timer_t *t);

goro_ticker_t *goro_ticker_new(int64_t period);
goro_chan_t *goro_ticker_chan(goro_ticker_t *t);
int goro_ticker_stop(goro_ticker_t *t);
int goro_ticker_reset(goro_ticker_t *t, int64_t period);
int goro_ticker_free(goro_ticker_t *t);

/* ---- Channels ------------------------------------------------------------ */

/* goro_chan_t is declared with the timers, above. */

/* Unbuffered (cap 0) or buffered channel of elements of elem_size bytes
 * (0 allowed: signal-only).  NULL with errno set on failure: EINVAL when
 * elem_size * cap overflows or is 2^49 bytes or more, or cap is 2^49 or
 * more (Go's "size out of range"), ENOMEM when memory runs out.  The
 * channel keeps its element size (goro_chan_elem_size).  Operations copy
 * elem_size bytes from/to elem; a receive may pass NULL to discard the
 * value (so may a send when elem_size is 0).
 *
 * A NULL channel is Go's nil channel: goro_chan_send and goro_chan_recv
 * on it block forever (state "chan send (nil chan)"; the deadlock detector
 * reports it when nothing else can run), the try forms return -EAGAIN,
 * goro_select ignores its cases.  goro_chan_close(NULL) is -EINVAL.
 *
 * A channel passed to goro_chan_free is dead: every later call on it
 * returns -EBADF (0 for len and cap) until its memory is reused by another
 * allocation, and always in an ASan build, which never reuses it. */
goro_chan_t *goro_chan_make(size_t elem_size, size_t cap);
int goro_chan_send(goro_chan_t *c, const void *elem);  /* 0, -EPIPE if closed */
int goro_chan_recv(goro_chan_t *c, void *elem);        /* 1 value, 0 closed */
int goro_chan_trysend(goro_chan_t *c, const void *elem); /* or -EAGAIN */
int goro_chan_tryrecv(goro_chan_t *c, void *elem);       /* or -EAGAIN */
int goro_chan_close(goro_chan_t *c);   /* 0, -EPIPE if already closed */
size_t goro_chan_len(goro_chan_t *c);
size_t goro_chan_cap(goro_chan_t *c);
int goro_chan_free(goro_chan_t *c);    /* 0, -EBUSY while goroutines wait */
size_t goro_chan_elem_size(goro_chan_t *c);

/* Blocking send/receive that also state the element's size: -EINVAL when
 * it is not the channel's element size. */
int goro_chan_send_sized(goro_chan_t *c, const void *elem, size_t size);
int goro_chan_recv_sized(goro_chan_t *c, void *elem, size_t size);

/* Typed send and receive.  GORO_SEND(c, value) sends a copy of value,
 * GORO_RECV(c, ptr) receives into *ptr; both check at run time that the
 * type's size is the channel's element size (-EINVAL), and GORO_RECV
 * refuses a void pointer at compile time.  (The function-like macros
 * share their names with the goro_case_t directions below; a name not
 * followed by '(' is still the direction.) */
#ifdef __cplusplus
#define GORO_RECV_TYPED_(ptr) ((void)0)
#else
#define GORO_RECV_TYPED_(ptr) \
	_Static_assert(!__builtin_types_compatible_p(__typeof__(ptr), void *), \
		       "GORO_RECV needs a typed pointer")
#endif
#define GORO_SEND(c, value) \
	({ __typeof__(value) goro_sv_ = (value); \
	   goro_chan_send_sized((c), &goro_sv_, sizeof(goro_sv_)); })
#define GORO_RECV(c, ptr) \
	({ GORO_RECV_TYPED_(ptr); \
	   goro_chan_recv_sized((c), (ptr), sizeof(*(ptr))); })

enum goro_dir { GORO_SEND = 1, GORO_RECV = 2 };

typedef struct goro_case {
	goro_chan_t *chan;  /* NULL: case ignored */
	int dir;            /* GORO_SEND or GORO_RECV */
	void *elem;         /* value to send, or buffer to receive into */
	int ok;             /* receive: 1 value, 0 channel closed */
	uint32_t size;      /* sizeof(goro_case_t), or 0; the same in every case */
} goro_case_t;

/* Index of the case that proceeded (uniformly random among ready ones).
 * timeout_ns: 0 polls (-EAGAIN if none ready), < 0 waits forever, > 0
 * returns -ETIMEDOUT after that long.  Choosing a send case whose channel is
 * closed fails the select with -EPIPE (Go panics there).  -EINVAL for bad
 * cases; with n == 0 (or only NULL channels) and no timeout it blocks for
 * good, in state "select (no cases)". */
int goro_select(goro_case_t *cases, size_t n, int64_t timeout_ns);

/* ---- Contexts (Go's context, without values) -----------------------------
 *
 * A tree of cancellation scopes.  goro_ctx_done(ctx) is a channel that is
 * closed once ctx is cancelled or its deadline (goro_now() clock) passes:
 * receive on it or use it in goro_select.  goro_ctx_err is then -ECANCELED
 * or -ETIMEDOUT (0 before).  Cancelling a context cancels every context
 * below it.  A child of a cancelled parent starts cancelled; a child's
 * deadline is never later than its parent's.
 *
 * Who frees what: every context a goro_ctx_with_* call returned is freed
 * by its creator with goro_ctx_free, in any order relative to its parent
 * or children.  Freeing cancels the context (and so its subtree), detaches
 * it from its parent and frees its done channel; its children stay valid
 * (cancelled) until freed themselves.  Free a context once no goroutine
 * uses it or its done channel any more.  The background context is
 * static: it is never cancelled, its done channel is NULL (never ready,
 * ignored by goro_select), goro_ctx_free and goro_ctx_cancel ignore it.
 *
 * Constructors return NULL and set errno (EINVAL for a NULL parent, a
 * negative timeout or a deadline <= 0; EBADF for a freed parent; ENOMEM),
 * as goro_chan_make does.  goro_ctx_cancel may be called from threads goro
 * did not create. */
typedef struct goro_ctx goro_ctx_t;

goro_ctx_t *goro_ctx_background(void);
goro_ctx_t *goro_ctx_with_cancel(goro_ctx_t *parent);
goro_ctx_t *goro_ctx_with_deadline(goro_ctx_t *parent, int64_t deadline_ns);
goro_ctx_t *goro_ctx_with_timeout(goro_ctx_t *parent, int64_t ns);
void goro_ctx_cancel(goro_ctx_t *ctx);
goro_chan_t *goro_ctx_done(goro_ctx_t *ctx);
int goro_ctx_err(goro_ctx_t *ctx);       /* 0, -ECANCELED, -ETIMEDOUT */
int64_t goro_ctx_deadline(goro_ctx_t *ctx); /* goro_now() deadline, 0 none */
void goro_ctx_free(goro_ctx_t *ctx);

/* ---- Signals as channel values (Go's signal.Notify) ----------------------
 *
 * goro_signal_notify(c, set): each signal of set that arrives is sent to c
 * (a channel of int, made with elem_size sizeof(int)) as its number, with
 * a try-send: when c is full the signal is dropped for c, as in Go.
 * Calling it again for the same channel adds signals; several channels
 * may want the same signal.  It works whatever the signal mask of the
 * thread that called goro_main: a runtime thread keeps the notified
 * signals unblocked.  goro_signal_stop(c) stops all delivery to c (none is
 * under way once it returns); a signal nobody wants any more gets back the
 * action it had before.  Both return 0 or -EINVAL (NULL, an empty set, a
 * channel of another element size, or a signal the runtime keeps: SIGURG,
 * SIGSEGV, SIGBUS, SIGRTMIN+3, or SIGKILL/SIGSTOP); -EBADF for a freed
 * channel.  Stop a channel before freeing it.  While any notification is
 * registered the deadlock detector stays quiet (a signal may still come).
 * Registrations end with the goro_main run that made them. */
int goro_signal_notify(goro_chan_t *c, const sigset_t *set);
int goro_signal_stop(goro_chan_t *c);

/* ---- Synchronization ------------------------------------------------------ */

typedef struct goro_mutex {
	GORO_ALIGNAS_(8) unsigned char opaque[32];
} goro_mutex_t;
#define GORO_MUTEX_INIT {{0}}
int goro_mutex_lock(goro_mutex_t *mu);
int goro_mutex_trylock(goro_mutex_t *mu);  /* 0 or -EBUSY */
int goro_mutex_unlock(goro_mutex_t *mu);

typedef struct goro_wg {
	GORO_ALIGNAS_(8) unsigned char opaque[32];
} goro_wg_t;
#define GORO_WG_INIT {{0}}
int goro_wg_add(goro_wg_t *wg, int64_t n);
int goro_wg_done(goro_wg_t *wg);
int goro_wg_wait(goro_wg_t *wg);

/* Condition variable (sync.Cond): goro_cond_wait unlocks mu, parks until
 * signalled, and locks mu again before returning; call it in a loop that
 * rechecks the condition.  Signal wakes one waiter (the longest waiting),
 * broadcast every one.  0, or -EINVAL for NULL arguments. */
typedef struct goro_cond {
	GORO_ALIGNAS_(8) unsigned char opaque[32];
} goro_cond_t;
#define GORO_COND_INIT {{0}}
int goro_cond_wait(goro_cond_t *cond, goro_mutex_t *mu);
int goro_cond_signal(goro_cond_t *cond);
int goro_cond_broadcast(goro_cond_t *cond);

/* Reader/writer lock (sync.RWMutex): any number of readers or one writer.
 * Writer preference: readers arriving while a writer waits queue behind
 * it.  The goroutine parks while it waits.  0, -EINVAL for NULL, -EPERM
 * for runlock/unlock of a lock not held that way (Go: fatal). */
typedef struct goro_rwmutex {
	GORO_ALIGNAS_(8) unsigned char opaque[64];
} goro_rwmutex_t;
#define GORO_RWMUTEX_INIT {{0}}
int goro_rwmutex_rlock(goro_rwmutex_t *rw);
int goro_rwmutex_runlock(goro_rwmutex_t *rw);
int goro_rwmutex_lock(goro_rwmutex_t *rw);
int goro_rwmutex_unlock(goro_rwmutex_t *rw);

/* Run fn(arg) once (sync.Once): the first caller runs it, concurrent
 * callers wait until it has returned, later ones return at once. */
typedef struct goro_once {
	GORO_ALIGNAS_(8) unsigned char opaque[40];
} goro_once_t;
#define GORO_ONCE_INIT {{0}}
int goro_once(goro_once_t *once, void (*fn)(void *), void *arg);

/* ---- I/O: the goroutine parks on the netpoller, the thread runs others ----
 *
 * Drop-in for the libc calls (-1 and errno).  A descriptor is made
 * non-blocking on its first use (see goro_accept4 below for how a shared
 * one is left alone); regular files stay blocking and are read or written
 * by the file engine (goro_pread below).  As in Go, goro_write/goro_send return
 * once all n bytes are written (a count below n only with an error after a
 * partial write), and writing to a socket whose peer is gone fails with
 * EPIPE instead of raising SIGPIPE.  Close descriptors used here with
 * goro_close: calls waiting on them fail with EBADF, and the real close
 * happens only after every call in flight on the descriptor has left, so
 * none can reach a file that reuses the number (a second goro_close of
 * the same fd meanwhile fails with EBADF).  A send/recv with MSG_DONTWAIT
 * returns EAGAIN instead of parking; a call past the descriptor's
 * deadline (goro_fd_set_deadline) fails with ETIMEDOUT. */

ssize_t goro_read(int fd, void *buf, size_t n);
ssize_t goro_write(int fd, const void *buf, size_t n);
ssize_t goro_recv(int fd, void *buf, size_t n, int flags);
ssize_t goro_send(int fd, const void *buf, size_t n, int flags);
int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int goro_close(int fd);
/* Wait for POLLIN and/or POLLOUT: revents, 0 on timeout (timeout_ns 0
 * polls, < 0 waits forever), -EBADF if fd is closed meanwhile, -EINVAL for
 * other events. */
int goro_fdwait(int fd, short events, int64_t timeout_ns);

/* ---- I/O: accept flags, vectored and message drop-ins, deadlines ----------
 *
 * goro_accept returns descriptors with close-on-exec set, as Go's do;
 * goro_accept4 takes accept4's flags (SOCK_CLOEXEC, SOCK_NONBLOCK; any
 * other bit is EINVAL) for callers that want the descriptor inherited.
 * The returned descriptor is always non-blocking: it is goro's own.
 *
 * A descriptor whose open file description is blocking is used without
 * changing what others sharing that description see: pipes, FIFOs and
 * terminals (a shell's stdin) get a private description, reopened through
 * /proc/self/fd; sockets are switched to O_NONBLOCK and switched back by
 * goro_close, or when goro_main returns. */
int goro_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
struct iovec;
struct msghdr;
ssize_t goro_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t goro_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t goro_recvfrom(int fd, void *buf, size_t n, int flags,
		      struct sockaddr *addr, socklen_t *addrlen);
ssize_t goro_sendto(int fd, const void *buf, size_t n, int flags,
		    const struct sockaddr *to, socklen_t tolen);
ssize_t goro_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t goro_sendmsg(int fd, const struct msghdr *msg, int flags);

/* Directions of a descriptor deadline. */
#define GORO_READ 1
#define GORO_WRITE 2
/* Go's SetReadDeadline/SetWriteDeadline: calls in direction `how`
 * (GORO_READ, GORO_WRITE or both, or'ed) on fd, blocked now or made later,
 * fail with ETIMEDOUT once goro_now() reaches deadline_ns; 0 clears it.
 * The deadline may be moved while a goroutine waits.  0, -EINVAL (bad how,
 * negative deadline), -EBADF, -ENOTSUP (a regular file), -EPERM outside a
 * goroutine.  goro_close and a new file behind the number clear it. */
int goro_fd_set_deadline(int fd, int how, int64_t deadline_ns);

/* ---- File I/O without holding a P (src/io/fileio.h) ---------------------------
 *
 * libc's file calls, same arguments, -1 and errno.  From a goroutine the
 * call is handed to io_uring (where the kernel allows it) or to a bounded
 * pool of threads, and the goroutine parks: its P runs other goroutines
 * and no thread is held while the disk works.  goro_read and goro_write
 * use the same engine on regular files.  From any other thread they are
 * libc's calls.  GORO_FILEIO=auto|uring|threads picks the back end (see
 * goro(7)).  As goro_write does, goro_pwrite returns once all n bytes are
 * written (a count below n only with an error after a partial write).
 * goro_pread and goro_pwrite on a pipe, socket or terminal fail with
 * ESPIPE.  Descriptors used here should be closed with goro_close: it
 * waits for the calls in flight on them. */
struct stat;
ssize_t goro_pread(int fd, void *buf, size_t n, off_t off);
ssize_t goro_pwrite(int fd, const void *buf, size_t n, off_t off);
int goro_fsync(int fd);
int goro_fdatasync(int fd);
/* mode_t mode follows when flags has O_CREAT or O_TMPFILE. */
int goro_open(const char *path, int flags, ...);
int goro_stat(const char *path, struct stat *st);
int goro_fstat(int fd, struct stat *st);

/* ---- Networking (Go's net.Dial and net.Listen) -------------------------------
 *
 * network: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" or "unix";
 * address: "host:port", "[v6addr]:port", ":port", or a path for "unix"
 * ("@name": the abstract namespace).  Names are resolved by a small pool
 * of resolver threads while the goroutine parks: its P runs other
 * goroutines.
 *
 * goro_dial tries each address in turn, as Go's dialer does, within
 * timeout_ns for the whole call (0: no limit; resolution included), and
 * returns a connected (for udp: connected datagram) non-blocking
 * close-on-exec descriptor, or -EINVAL (bad network or address), -ENOENT
 * (unknown name, or no address of that family; no such unix path),
 * -EAGAIN (temporary resolver failure), -ETIMEDOUT, -EPERM outside a
 * goroutine, or the first address's connect error (-ECONNREFUSED...).
 *
 * goro_listen binds with SO_REUSEADDR and listens (backlog 0: SOMAXCONN);
 * for "udp" it returns the bound socket.  An empty host listens on every
 * address (IPv6 and IPv4 for "tcp"/"udp" where the machine has IPv6).
 *
 * goro_getaddrinfo is getaddrinfo(3) that parks the goroutine instead of
 * blocking the P; same arguments, same return values (0 or an EAI_ code;
 * EAI_SYSTEM with errno EINVAL for a NULL res, EPERM outside a
 * goroutine); free the list with freeaddrinfo(3). */
struct addrinfo;
int goro_dial(const char *network, const char *address, int64_t timeout_ns);
int goro_listen(const char *network, const char *address, int backlog);
int goro_getaddrinfo(const char *node, const char *service,
		     const struct addrinfo *hints, struct addrinfo **res);

/* Mark a call that may block in the kernel: the P is handed on meanwhile
 * (after ~20 µs).  Calls not marked — a plain sleep(), read() or
 * pthread_mutex_lock — are noticed too, after a few milliseconds of the
 * thread sleeping.  Regions nest.  Any goro call may be made inside one: it
 * takes a P back for its own duration (it may park, and resume on another
 * thread), errno is kept, and the rest of the region runs without a P.
 * When goroutine 1 returns, a goroutine still blocked in the kernel,
 * marked or not, is abandoned there: the call never returns (goro(3),
 * EXIT). */
void goro_blocking_enter(void);
void goro_blocking_exit(void);
/* GORO_BLOCKING_DO(n = read(fd, buf, len)): any statement, marked; ISO C
 * and C++.  GORO_BLOCKING(read(fd, buf, len)) is an expression with the
 * call's value, for GCC and Clang (a GNU statement expression). */
#define GORO_BLOCKING_DO(stmt) \
	do { goro_blocking_enter(); stmt; goro_blocking_exit(); } while (0)
#if defined(__GNUC__)
#define GORO_BLOCKING(expr) \
	(__extension__({ goro_blocking_enter(); \
	   __typeof__(expr) goro_r_ = (expr); goro_blocking_exit(); goro_r_; }))
#endif

/* ---- Diagnostics ----------------------------------------------------------- */

void goro_dump(int fd);  /* every goroutine's traceback, Go's format */

/* Asynchronous preemption counters, cumulative since the process started
 * (every goro_main run adds to them).  A signal is requested when a
 * goroutine ran past GORO_QUANTUM while other work waited (or ran on a
 * spare P, or for goro_maxprocs and program exit); the handler then either
 * stops the goroutine, finds it already gone (stale), or refuses because it
 * is not at a safe point, by reason.  A refused goroutine yields at its next
 * runtime call and is asked again a quantum later.
 *
 * A stopped goroutine resumes on its own OS thread (parked_with_thread):
 * the thread parks with it and its P goes to another M (handed_off counts
 * the Ps that went to another M that way), so any thread-tied state it
 * holds stays consistent.  Only in code declared thread-agnostic
 * (GORO_THREAD_AGNOSTIC) may it move to another thread (migrated). */
struct goro_preempt_stats {
	uint64_t requested;            /* signals sent */
	uint64_t delivered;            /* received by the runtime's handler */
	uint64_t preempted;            /* stopped: parked_with_thread + migrated */
	uint64_t parked_with_thread;   /* resumed on its own thread */
	uint64_t migrated;             /* in thread-agnostic code: may move */
	uint64_t handed_off;           /* Ps handed on while their thread parked */
	uint64_t stale;                /* it had yielded meanwhile */
	uint64_t refused_no_goroutine; /* the M was in the scheduler */
	uint64_t refused_disabled;     /* goro_preempt_disable() in force */
	uint64_t refused_locks;        /* the M held a runtime lock */
	uint64_t refused_syscall;      /* in a blocking call (goro_blocking_enter) */
	uint64_t refused_runtime;      /* in libgoro, or called by it */
	uint64_t refused_stack;        /* not on its goroutine stack, or no room */
	/* Goroutines that do I/O are asked by a flag first and signalled
	 * only if they compute on (see goro_preempt_stats(3)): */
	uint64_t flagged;              /* asked so, without a signal */
	uint64_t yielded_at_io;        /* stopped at an I/O call (may move) */
	/* Slices whose signal sysmon held back, the flag standing, while
	 * the threads parked with goroutines were at their budget: */
	uint64_t thread_budget_held;
};
/* Fill the first `size` bytes of *out (pass sizeof(*out): a caller built
 * against an older, shorter struct gets what it knows of).  0, or -EINVAL
 * for NULL or a size under 8.  Callable at any time. */
int goro_preempt_stats(struct goro_preempt_stats *out, size_t size);

/* ---- Thread-agnostic code ---------------------------------------------------
 *
 * A preempted goroutine normally resumes on its own OS thread (see above),
 * which costs a thread hand-off.  Code that keeps nothing tied to its
 * thread — no TLS address in a register, no thread-owned lock, no
 * allocator cache in use, no C++ exception being handled — in it and in
 * every caller above it on the goroutine's stack, may be declared
 * thread-agnostic: interrupted there, the goroutine is switched out with a
 * plain context switch and may resume on any thread.  Mark such functions
 * GORO_THREAD_AGNOSTIC and put GORO_THREAD_AGNOSTIC_REGISTER() once in each
 * executable or shared object that has any, or register address ranges
 * yourself.  Registration may happen before goro_main. */
#define GORO_THREAD_AGNOSTIC __attribute__((section("goro_agnostic"), noinline))
/* 0; -EINVAL for an empty range or one in libgoro; -ENOSPC past 64
 * ranges.  Registering the same range again is a no-op. */
int goro_thread_agnostic_register(const void *start, const void *end);
#define GORO_THREAD_AGNOSTIC_REGISTER()                                       \
	extern const char __start_goro_agnostic[]                             \
		__attribute__((weak, visibility("hidden")));                  \
	extern const char __stop_goro_agnostic[]                              \
		__attribute__((weak, visibility("hidden")));                  \
	__attribute__((constructor)) static void goro__agnostic_register(void) \
	{                                                                     \
		if (__start_goro_agnostic)                                    \
			goro_thread_agnostic_register(__start_goro_agnostic,  \
						      __stop_goro_agnostic);  \
	}

/* ---- Runtime statistics (src/sched/stats.c) ---------------------------- */

/* A snapshot of the scheduler, like Go's runtime/metrics.  ABI-safe by
 * size: pass sizeof(struct goro_stats) as size; the library fills
 * min(size, what it knows) bytes, sets `size` to that, and returns the
 * size it knows (a newer library appends fields; an older one leaves the
 * tail of a newer caller's struct untouched).  size 0 with out NULL asks
 * for that size.  -EINVAL: out NULL with size > 0.  Outside goro_main
 * every count is 0.  Counts are read without stopping the world: each is
 * exact, their sum may be off by goroutines changing state meanwhile. */
struct goro_stats {
	uint64_t size;                 /* bytes filled in */
	/* Goroutines, by state (Go's _Grunnable ... _Gwaiting). */
	uint64_t goroutines;           /* alive: the four below */
	uint64_t g_runnable;           /* in a run queue, or not yet run */
	uint64_t g_running;            /* on a thread */
	uint64_t g_syscall;            /* in a blocking call */
	uint64_t g_waiting;            /* parked: channel, timer, lock, I/O */
	/* Threads (Ms) of the scheduler. */
	uint64_t threads;              /* every M of this run */
	uint64_t m_running;            /* running a goroutine */
	uint64_t m_spinning;           /* holding a P, looking for work */
	uint64_t m_idle;               /* parked, no P */
	uint64_t m_syscall;            /* in a blocking call */
	uint64_t m_spare;              /* on a spare P, its own retaken */
	uint64_t aux_threads;          /* the runtime's other threads (sysmon) */
	/* Ps and their run queues. */
	uint64_t procs;                /* GOMAXPROCS */
	uint64_t procs_idle;
	uint64_t runq_global;          /* goroutines in the global queue */
	uint64_t runq_local;           /* in the Ps' queues (runnext included) */
	uint64_t runq_local_max;       /* the longest P queue */
	uint64_t steals;               /* successful steals, since start */
	/* Asynchronous preemption, since start (by outcome and reason:
	 * goro_preempt_stats). */
	uint64_t preempt_requested;
	uint64_t preempt_done;         /* goroutines stopped by the signal */
	uint64_t preempt_refused;      /* not at a safe point; asked again */
	/* Timers and the network poller. */
	uint64_t timers;               /* pending (sleeps, timeouts, timers) */
	uint64_t netpoll_waiters;      /* goroutines parked on descriptors */
	/* Stacks. */
	uint64_t stack_reserved_bytes; /* address space reserved for stacks */
	uint64_t stack_inuse_bytes;    /* opened for live goroutines (an upper
					* bound on their resident stack) */
};
int goro_stats(struct goro_stats *out, size_t size);

/* ---- errno ----------------------------------------------------------------- */

/* glibc declares __errno_location() const, so a compiler keeps &errno in a
 * register across calls — across a goroutine switch too, after which it
 * points at the previous thread's errno.  goro_errno_location() is not
 * const: code including this header re-fetches the address after every call.
 * The runtime carries errno's value across every switch. */
int *goro_errno_location(void);
#ifndef GORO_NO_ERRNO_OVERRIDE
#undef errno
#define errno (*goro_errno_location())
#endif

#ifdef __cplusplus
}
#endif
#endif /* GORO_H */
