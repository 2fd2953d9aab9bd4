/*
 * goro.h — Go's goroutine runtime as a C library.
 *
 * A program hands its main function to goro_main(); it runs as goroutine 1
 * on an M:P:G scheduler (GOMAXPROCS processors, any number of OS threads,
 * any number of goroutines).  From there it spawns goroutines with goro_go(),
 * talks between them over channels, and relies on the runtime to preempt a
 * goroutine that runs too long.
 *
 * Conventions:
 *  - Calls that can fail return a negative errno value (-EINVAL, -ENOMEM...),
 *    as liburing does.  The I/O wrappers are drop-in replacements for their
 *    libc namesakes and keep libc's convention (-1 and errno).
 *  - Every goro_* call other than goro_main() must be made from a goroutine.
 *    A call made outside goro_main() prints a message naming the call and
 *    fails with -EPERM (or does nothing, for calls returning void).
 *  - Goroutines migrate between OS threads.  `__thread` variables are per
 *    thread, not per goroutine, and a TLS address must not be kept across a
 *    call that may switch goroutines.  This header redefines `errno` so that
 *    its address is fetched again after every call (see below); code that
 *    must stay on one thread uses goro_lock_thread().
 */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The opaque types' alignment, spelled for C and for C++. */
#ifdef __cplusplus
#define GORO_ALIGNAS(n) alignas(n)
#else
#define GORO_ALIGNAS(n) _Alignas(n)
#endif

#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 1

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
 * included.  It starts with
 * 8 KiB open and grows on demand: touching the guard page below the open
 * part opens the next segment (doubling).  Going past the limit ends the
 * program: "fatal error: goroutine N "name" stack exceeds LIMIT-byte limit",
 * that goroutine's frames, exit status 2.  The rules for code that runs in
 * goroutines:
 *  - Build it with -fstack-clash-protection (the default of several
 *    distributions' compilers, not of upstream GCC).  Functions with large
 *    frames then touch each stack page in order, so growth always meets the
 *    guard first.  Without it, a frame bigger than a page can skip the
 *    guard: a system call given a stack buffer that spans a guard not yet
 *    reached fails with EFAULT or stops short at the guard (measured: a
 *    200 KB read() into a fresh local buffer returned 192544 bytes), and a
 *    frame skipping past the limit is not caught.  goro's own I/O calls
 *    open their buffer's stack pages first.
 *  - Signal handlers must be installed with SA_ONSTACK.  goro gives every
 *    thread it runs goroutines on an alternate signal stack; a handler run
 *    on the goroutine's own stack may land on its guard, and the kernel
 *    then kills the process.
 *  - goro_main installs a SIGSEGV/SIGBUS handler (growth needs it) and
 *    restores the previous one when it returns.  Install your own before
 *    goro_main, not while it runs: goro passes it every fault that is not
 *    a stack fault.
 * Memory: a parked goroutine that used under 4 KiB of stack costs one
 * resident page, plus a page-table page shared by the stacks whose limits
 * fall in the same 2 MiB (eight at the default limit; none shared from
 * 1 MiB up, where each stack has a page-table page of its own).  On kernels without MADV_GUARD_INSTALL (before 6.13), or
 * with GORO_STACK_GUARD=mprotect, each stack takes two memory mappings, so
 * vm.max_map_count (65530 by default) allows about 30000 goroutines;
 * goro_go then fails with -EAGAIN and a message naming the sysctl.
 */
typedef struct goro_attr {
	const char *name;  /* label shown in dumps; copied; NULL = none */
	size_t stack_max;  /* stack limit in bytes; 0 = GORO_STACK_MAX default */
} goro_attr_t;

/* Spawn fn(arg) as a new goroutine.  Returns its id (> 0), -EINVAL for a
 * NULL fn, -ENOMEM or -EAGAIN when resources run out. */
int64_t goro_go(void (*fn)(void *), void *arg);
int64_t goro_go_attr(const goro_attr_t *attr, void (*fn)(void *), void *arg);

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

/* ---- Channels ------------------------------------------------------------ */

typedef struct goro_chan goro_chan_t;

/* Unbuffered (cap 0) or buffered channel of elements of elem_size bytes
 * (0 allowed: signal-only).  NULL with errno set on failure.  Operations
 * copy elem_size bytes from/to elem; a receive may pass NULL to discard
 * the value (so may a send when elem_size is 0).  A NULL channel is
 * -EINVAL. */
goro_chan_t *goro_chan_make(size_t elem_size, size_t cap);
int goro_chan_send(goro_chan_t *c, const void *elem);  /* 0, -EPIPE if closed */
int goro_chan_recv(goro_chan_t *c, void *elem);        /* 1 value, 0 closed */
int goro_chan_trysend(goro_chan_t *c, const void *elem); /* or -EAGAIN */
int goro_chan_tryrecv(goro_chan_t *c, void *elem);       /* or -EAGAIN */
int goro_chan_close(goro_chan_t *c);   /* 0, -EPIPE if already closed */
size_t goro_chan_len(goro_chan_t *c);
size_t goro_chan_cap(goro_chan_t *c);
int goro_chan_free(goro_chan_t *c);    /* 0, -EBUSY while goroutines wait */

enum goro_dir { GORO_SEND = 1, GORO_RECV = 2 };

typedef struct goro_case {
	goro_chan_t *chan;  /* NULL: case ignored */
	int dir;            /* GORO_SEND or GORO_RECV */
	void *elem;         /* value to send, or buffer to receive into */
	int ok;             /* receive: 1 value, 0 channel closed */
} goro_case_t;

/* Index of the case that proceeded (uniformly random among ready ones).
 * timeout_ns: 0 polls (-EAGAIN if none ready), < 0 waits forever, > 0
 * returns -ETIMEDOUT after that long.  Choosing a send case whose channel is
 * closed fails the select with -EPIPE (Go panics there).  -EINVAL for bad
 * cases; with n == 0 (or only NULL channels) and no timeout it blocks for
 * good, in state "select (no cases)". */
int goro_select(goro_case_t *cases, size_t n, int64_t timeout_ns);

/* ---- Synchronization ------------------------------------------------------ */

typedef struct goro_mutex {
	GORO_ALIGNAS(8) unsigned char opaque[32];
} goro_mutex_t;
#define GORO_MUTEX_INIT {{0}}
int goro_mutex_lock(goro_mutex_t *mu);
int goro_mutex_trylock(goro_mutex_t *mu);  /* 0 or -EBUSY */
int goro_mutex_unlock(goro_mutex_t *mu);

typedef struct goro_wg {
	GORO_ALIGNAS(8) unsigned char opaque[32];
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
	GORO_ALIGNAS(8) unsigned char opaque[32];
} goro_cond_t;
#define GORO_COND_INIT {{0}}
int goro_cond_wait(goro_cond_t *cond, goro_mutex_t *mu);
int goro_cond_signal(goro_cond_t *cond);
int goro_cond_broadcast(goro_cond_t *cond);

/* Run fn(arg) once (sync.Once): the first caller runs it, concurrent
 * callers wait until it has returned, later ones return at once. */
typedef struct goro_once {
	GORO_ALIGNAS(8) unsigned char opaque[40];
} goro_once_t;
#define GORO_ONCE_INIT {{0}}
int goro_once(goro_once_t *once, void (*fn)(void *), void *arg);

/* ---- I/O: the goroutine parks on the netpoller, the thread runs others ----
 *
 * Drop-in for the libc calls (-1 and errno).  A descriptor is switched to
 * O_NONBLOCK on its first use; regular files stay blocking and are read or
 * written inside goro_blocking_enter/exit.  As in Go, goro_write/goro_send
 * return once all n bytes are written (a count below n only with an error
 * after a partial write), and writing to a socket whose peer is gone fails
 * with EPIPE instead of raising SIGPIPE.  Close descriptors used here with
 * goro_close: it wakes their waiters (EBADF) and forgets what the poller
 * knew before the number is reused.  A send/recv with MSG_DONTWAIT returns
 * EAGAIN instead of parking. */

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

/* Mark a call that may block in the kernel: the P is handed on meanwhile
 * (after ~20 µs).  Calls not marked — a plain sleep(), read() or
 * pthread_mutex_lock — are noticed too, after a few milliseconds of the
 * thread sleeping. */
void goro_blocking_enter(void);
void goro_blocking_exit(void);
#define GORO_BLOCKING(expr) \
	({ goro_blocking_enter(); __typeof__(expr) goro_r_ = (expr); \
	   goro_blocking_exit(); goro_r_; })

/* ---- Diagnostics ----------------------------------------------------------- */

void goro_dump(int fd);  /* every goroutine's traceback, Go's format */

/* Asynchronous preemption counters, cumulative since the process started
 * (every goro_main run adds to them).  A signal is requested when a
 * goroutine ran past GORO_QUANTUM while other work waited (or for
 * goro_maxprocs and program exit); the handler then either stops the
 * goroutine (preempted), finds it already gone (stale), or refuses because
 * it is not at a safe point, by reason.  A refused goroutine yields at its
 * next runtime call and is asked again shortly. */
struct goro_preempt_stats {
	uint64_t requested;            /* signals sent */
	uint64_t delivered;            /* received by the runtime's handler */
	uint64_t preempted;            /* goroutines stopped by the signal */
	uint64_t stale;                /* it had yielded meanwhile */
	uint64_t refused_no_goroutine; /* the M was in the scheduler */
	uint64_t refused_disabled;     /* goro_preempt_disable() in force */
	uint64_t refused_locks;        /* the M held a runtime lock */
	uint64_t refused_syscall;      /* in a blocking call (goro_blocking_enter) */
	uint64_t refused_runtime;      /* PC inside libgoro */
	uint64_t refused_libc;         /* PC inside libc, ld.so or the vDSO */
	uint64_t refused_library;      /* PC inside jemalloc, libunwind, libgcc_s */
	uint64_t refused_stack;        /* not on its goroutine stack, or no room */
};
/* Fill *out: 0, -EINVAL for NULL. */
int goro_preempt_stats(struct goro_preempt_stats *out);

/* ---- Runtime statistics (core/stats.c) ---------------------------------- */

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
	 * goro_preempt_stats); 0 when goro_stats is not called from a
	 * goroutine. */
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
