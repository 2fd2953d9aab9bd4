/* SPDX-License-Identifier: MIT */
/*
 * runtime.h — the three actors of the scheduler (private to libgoro).
 *
 *   G  a goroutine: a function, its stack, its saved context, its state.
 *   M  an OS thread that runs goroutines.  Each M has its own stack ("g0",
 *      the thread's original stack) on which it runs the scheduler when it
 *      has no goroutine to run.
 *   P  a processor: the right to run goroutine code plus a local run queue.
 *      Exactly `gomaxprocs` Ps exist; an M must hold a P to run a G.
 *
 * The design and its reasons are Go's; src/sched/sched.c tells them.
 *
 * This is the root header of src/: the data every folder shares.  The
 * folders, from the bottom: arch/x86_64, base, stack; sched, time and the
 * poller in io (the scheduler's core: it runs timers and polls, they ready
 * goroutines, as Go's proc.go, time.go and netpoll.go do); sync and the
 * rest of io; signals, preempt, sysmon, debug; main.c on top.  A file
 * includes its own folder's headers and those of the folders below it,
 * and calls upward only through these sanctioned upcalls:
 *   - die with a traceback: rt_fatal, deadlock_check and the crash and
 *     stack-fault handlers end in the dump writer (src/debug/dump.h),
 *     whose capture signal every M keeps open and goro_signal_notify
 *     refuses;
 *   - goro_start (src/arch/x86_64/switch.S) enters the scheduler;
 *   - the scheduler asks a running goroutine to stop (preempt_request),
 *     and sched_deadline_armed wakes sysmon for a far deadline;
 *   - an M's thread sets up its signal stack and notify's signal mask
 *     (src/signals/) when it starts;
 *   - the timer API (src/time/timerapi.c) sends on channels (src/sync/).
 * tools/layout-counts.sh measures what is left of the loops.
 *
 * Who writes what: a field another thread writes is _Atomic in its
 * declaration, with a comment naming the writer; a field group under a
 * lock names the lock.  Each module's own state is a sub-struct declared
 * by its module (struct stack_cache, struct timer_heap).
 */
#ifndef GORO_RUNTIME_H
#define GORO_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"
#include "goroutine.h"
#include "lock.h"
#include "procs_spare.h"
#include "sanitizer_state.h"
#include "signal_stack.h"
#include "stack.h"

#define RUNQ_SIZE 256            /* per-P local run queue, a power of two */
#define GLOBAL_RUNQ_EVERY 61     /* schedticks between global-queue checks */
#define G_NAME_MAX 32

/* ---- G ------------------------------------------------------------------ */

enum g_status {
	G_IDLE,       /* allocated, never run */
	G_RUNNABLE,   /* on a run queue */
	G_RUNNING,    /* owned by an M, executing */
	G_SYSCALL,    /* running, inside a blocking call, P handed away */
	G_WAITING,    /* parked; wait_reason says why */
	G_DEAD,       /* exited; on a free list */
};

/* Why a goroutine waits; printed in dumps.  Keep wait_reason_name in step. */
enum wait_reason {
	WAIT_NONE,
	WAIT_CHAN_RECV,
	WAIT_CHAN_SEND,
	WAIT_SELECT,
	WAIT_SELECT_NO_CASES,
	WAIT_SLEEP,
	WAIT_IO,
	WAIT_MUTEX,
	WAIT_WAITGROUP,
	WAIT_COND,
	WAIT_PREEMPTED,
	WAIT_LOCKED_THREAD,
	WAIT_CHAN_SEND_NIL,
	WAIT_CHAN_RECV_NIL,
	WAIT_RWMUTEX_RLOCK,
	WAIT_RWMUTEX_LOCK,
	WAIT_REASON_COUNT
};

const char *wait_reason_name(enum wait_reason r);
/* The label of a goroutine state in a dump ("runnable", "running", ...):
 * the one definition, read by the dumper and, through the debugger
 * descriptor, by gdump and the gdb extension. */
const char *g_status_name(enum g_status s);

struct m;
struct p;

struct g {
	struct arch_ctx ctx;         /* saved context while not running */
	int64_t id;
	_Atomic uint32_t status;     /* enum g_status */
	uint8_t wait_reason;         /* enum wait_reason, while G_WAITING */
	bool async_preempted;        /* ctx is a preemption trampoline frame */
	uint8_t stale_scan_refusals; /* signals refused in a row for a libgoro
	                                word on its stack (src/preempt/preempt.c;
	                                only its own thread's handler) */
	/* At exit, its return from a library to the executable's code made
	 * to return into the exit path (src/signals/exit_kill.c, its own M
	 * only). */
	bool exit_redirected;
	bool thread_parked;          /* wired to its M by an asynchronous
	                                preemption, until it runs again
	                                (sched_preempt_klt) */
	bool used_slice;             /* in the global queue for having used up
	                                its slice (src/sched/runq.c) */
	uint8_t rt_libc;             /* libgoro is making a libc call for this
	                                goroutine (src/io/io.h): libgoro-posix's
	                                interposers pass it straight to libc */
	int64_t wait_since;          /* when the wait began (goro_now's
	                                timeline, tick-granular: sched_park) */

	void (*fn)(void *);
	void *arg;
	void *arg_copy;              /* goro_go_copy's copy of the argument, */
	size_t arg_copy_size;        /* freed when the G is recycled */

	struct goro_stack stack;     /* bound at first run (src/stack/stack.h) */
	size_t stack_max;            /* limit requested at spawn, 0 = default */

	int saved_errno;             /* errno carried across switches */
	struct sanitizer_g san;      /* src/base/sanitizer_state.h */
	_Atomic bool preempt;        /* please yield at the next safe point */
	/* I/O calls made (sched_io_point): written by the goroutine
	 * itself, read by sysmon, which gives a goroutine seen making them
	 * a grace to reach the next before stopping it with its thread. */
	_Atomic uint32_t io_calls;
	/* Ever stopped at the end of a slice (sched_preempt_self): written
	 * by the goroutine's own thread, read by sysmon, which lets a
	 * goroutine in its first slice wait for a CPU unsignalled. */
	_Atomic bool ever_preempted;
	int preempt_disable;         /* goro_preempt_disable nesting */
	/* Public runtime calls in progress (RT_REQUIRE_G and
	 * RT_REQUIRE_RUNTIME count them): while non-zero, nothing on this
	 * goroutine is preemptible, whatever the PC (libc, the allocator, a
	 * sanitizer's interceptor called by the runtime).  Written by the
	 * goroutine itself; read by the preemption handler on its thread. */
	uint32_t runtime_depth;
	struct m *locked_m;          /* goro_lock_thread */
	int32_t lock_thread_depth;   /* its nesting */

	void *param;                 /* value handed over by whoever readies it */
	struct g *schedlink;         /* run queue / free list link */
	void *waiting;               /* what it waits on (channel waiter list) */

	int64_t parent_id;           /* creator's goroutine id (0: none) */
	uintptr_t create_pc;         /* where goro_go was called */
	char name[G_NAME_MAX];
	uint32_t generation;         /* goro_main run it belongs to */
};

/* ---- P ------------------------------------------------------------------ */

enum p_status {
	P_IDLE,       /* on the idle list, no M */
	P_RUNNING,    /* owned by an M */
	P_SYSCALL,    /* its M is in a blocking call; may be retaken */
	P_STOPPED,    /* stopped for stop-the-world */
	P_DEAD,       /* beyond gomaxprocs */
};

struct p {
	int32_t id;
	_Atomic uint32_t status;     /* enum p_status */
	/* The M that owns this P while it runs: written by that M (and by
	 * sysmon when it hands the P on), read by sysmon. */
	struct m *_Atomic m;
	struct p *link;              /* idle list; under sched.lock */
	bool idle_listed;            /* on the idle list; under sched.lock */
	/* Schedules done on this P: written only by the M that owns the P,
	 * read by sysmon to see a new time slice. */
	_Atomic uint32_t schedtick;
	/* When an M last took this P: written by that M (p_acquire), read
	 * by sysmon (a slice on this P began no earlier). */
	_Atomic int64_t acquired_at;
	/* The goroutine this P last sent to the global queue at the end of
	 * its slice: not to be taken straight back by the fairness check
	 * (compared, never dereferenced). */
	struct g *last_preempted;
	/* schedtick when this P last went, over the thread budget, to a
	 * goroutine parked with its thread (handoff_p_to_parked): written
	 * and read only by the M that owns the P. */
	uint32_t budget_handoff_tick;
	_Atomic uint32_t syscalltick;

	/* Local run queue: lock-free, single producer (the owner), many
	 * consumers (owner and stealers).  runnext holds a goroutine readied by
	 * the current one; it runs next and inherits the time slice. */
	_Atomic uint32_t runq_head;
	_Atomic uint32_t runq_tail;
	struct g *_Atomic runq[RUNQ_SIZE];
	struct g *_Atomic runnext;

	struct g_free_list gfree;    /* src/sched/goroutine.h */
	struct stack_cache stack_cache;

	/* Goroutines spawned minus goroutines exited on this P; their sum
	 * over all Ps is the live count (g_live_count).  Kept per P so that
	 * spawn and exit touch no shared cache line. */
	_Atomic int64_t gcount_delta;
	int64_t goid_cache;          /* goroutine ids reserved by this P */
	int64_t goid_cache_end;
	struct timer_heap *timers;   /* src/time/timer.c */
	struct p_spare spare;        /* src/sched/procs_spare.h */
};

/* ---- M ------------------------------------------------------------------ */

struct m {
	int64_t id;
	struct arch_ctx g0_ctx;      /* the scheduler's context on this thread */
	/* The running goroutine, or NULL on g0: written only by this M's
	 * own thread, read by sysmon and the dumper. */
	struct g *_Atomic curg;
	/* The attached P: written by this M's thread, and by sysmon when it
	 * swaps in a spare while the thread sleeps in the kernel. */
	struct p *_Atomic p;
	struct p *nextp;             /* P handed over by whoever woke this M */
	struct p *syscall_p;         /* P lent out by goro_blocking_enter */
	int blocking_depth;          /* nested goro_blocking_enter calls; the
	                                M's own thread only (src/sched/blocking.c) */
	struct p *_Atomic stolen_p;  /* own P while running on a spare */
	bool spinning;               /* looking for work while holding no G */
	bool is_m0;                  /* the thread that called goro_main */
	bool idle;                   /* on sched.midle */
	int64_t sleep_until;         /* idle until (goro_now), 0 = no limit */
	struct note park;            /* idle Ms sleep here */
	struct m *link;              /* idle list */
	struct m *alllink;           /* list of all Ms */

	pthread_t thread;
	pid_t tid;
	int *errno_loc;              /* this thread's &errno */
	uint64_t rand_state;
	int locks;                   /* runtime locks held: no async preemption */
	struct g *locked_g;          /* goroutine wired to this M */
	struct g *handoff_g;         /* runnable, locked to another M: hand over */
	bool locked_sleeping;        /* parked until locked_g is runnable */
	struct note locked_park;     /* ... here */
	/* Moved onto the CPU of the thread that handed it a P and slept
	 * (m_wake_handed, src/sched/m.c): written by that thread before the
	 * wake-up, read and cleared by this M after it. */
	bool steered;
	cpu_set_t steer_restore;     /* its affinity before the move */

	/* What the goroutine switched away from still needs done, performed on
	 * the other side of the switch (see sched_finish_switch). */
	struct g *prev_g;
	int prev_action;
	void (*prev_unlock)(void *);
	void *prev_unlock_arg;

	struct signal_stack sigstack; /* for preemption and faults */
	struct sanitizer_m san;      /* src/base/sanitizer_state.h */

	/* At exit (src/sched/m.c, m_leave): set by this M's thread once it
	 * is back on g0 for good, its goroutine given up; M0 reads it, then
	 * the M's locked_g, to decide how the threads end. */
	_Atomic bool left;
};

/* ---- the scheduler's global state -------------------------------------- */

/*
 * Only src/sched/sched.c (sched_reset) resets this struct, at the start of
 * each run; goro_main (src/main.c) owns and resets the program-lifetime
 * group.  Plain fields are written under `lock`; the _Atomic ones are read
 * without it.
 */
struct sched {
	struct rlock lock;           /* guards everything below unless atomic */

	struct g *runq_head, *runq_tail;  /* global run queue */
	_Atomic int32_t runq_size;
	/* Of those, goroutines there for having used up their slice
	 * (g->used_slice): written under lock, read by sysmon. */
	_Atomic int32_t runq_used_slice;

	struct p *pidle;             /* idle Ps */
	_Atomic int32_t npidle;
	struct m *midle;             /* idle Ms */
	int32_t nmidle;
	_Atomic int32_t nmspinning;
	/* Every M of this run, and their number: written under `lock`, read
	 * without it by the dumper (which walks the list from another
	 * thread while Ms start). */
	struct m *_Atomic allm;
	_Atomic int32_t mcount;
	int32_t mcreating;           /* threads being created outside the lock */

	struct p *allp[1024];        /* GORO_MAXPROCS_LIMIT */
	_Atomic int32_t gomaxprocs;

	/* stop-the-world (goro_maxprocs): written by src/sched/procs.c */
	_Atomic bool stw_waiting;
	int32_t stw_remaining;
	struct note stw_note;

	/* program lifetime: written by src/main.c only */
	_Atomic bool running;        /* inside goro_main */
	_Atomic bool exiting;        /* goroutine 1 returned */
	int exit_code;
	struct note exit_note;       /* M0 waits here for the others to leave */
	uint32_t generation;

	/* How the Ms that left at exit end (enum exit_verdict, src/sched/m.h):
	 * written by M0 once every M has left, read by them. */
	_Atomic uint32_t exit_verdict;
	/* Exit (src/signals/exit_kill.c): until when a goroutine in library
	 * code is let run on to a stop that holds no lock of it (goro_now
	 * time), and whether one had to be stopped inside it after all.
	 * Written by M0 and by the exit signal's handler. */
	_Atomic int64_t exit_drain_until;
	_Atomic bool exit_forced;

	_Atomic int64_t goid_next;
	/* Goroutines waiting on the outside world (I/O wait, a blocking
	 * call): they may wake without help from any other goroutine, so
	 * while there are any the program is not deadlocked (src/sched/deadlock.c).
	 * The I/O and blocking-call paths count themselves in and out with
	 * deadlock_blocked_add, its one writer. */
	_Atomic int64_t nblocked;
	_Atomic int64_t mid_next;
	/* Goroutines parked with their thread right now (KLT-switching),
	 * each holding an M: written by sched_preempt_klt, read through
	 * sched_threads_over_budget (the thread budget). */
	_Atomic int32_t threads_parked;
};

extern struct sched sched;

/* The per-thread M pointer.  Read through asm volatile so that the compiler
 * can never cache it (or the thread pointer) across a goroutine switch: the
 * same goroutine may continue on another thread. */
extern __thread struct m *tls_m __attribute__((tls_model("initial-exec")));

static inline struct m *m_current(void)
{
	struct m *m;
	__asm__ volatile("movq tls_m@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0" : "=r"(m));
	return m;
}

static inline struct g *g_current(void)
{
	struct m *m = m_current();
	return m ? m->curg : NULL;
}

/* A call-out frame: a libgoro function that calls application code and
 * keeps no P, M or other scheduler state live across that call, so that the
 * code it calls stays preemptible (src/base/text_ranges.h). */
#define RT_CALLOUT __attribute__((section("goro_callout"), noinline))

/* The goroutine m runs is inside a public runtime call (struct g's
 * runtime_depth): asynchronous preemption leaves it alone until the call
 * returns.  Returns that goroutine, or NULL if m runs none.  A goroutine
 * that exits inside a call (goro_exit) never leaves; its G is zeroed when
 * reused.  volatile: the count is never moved past the call's work, as
 * the handler that reads it runs on this same thread. */
static inline struct g *rt_runtime_enter(struct m *m)
{
	struct g *g = m ? m->curg : NULL;
	if (g)
		(*(volatile uint32_t *)&g->runtime_depth)++;
	return g;
}

static inline void rt_runtime_leave(struct g **g)
{
	if (*g)
		(*(volatile uint32_t *)&(*g)->runtime_depth)--;
}

/* Public entry points call this first: outside goro_main they print a
 * message naming the call and return `ret`.  Inside a blocking region
 * (goro_blocking_enter) the M holds no P: the call takes one back for its
 * own duration and a scope guard re-enters the region when it returns, as
 * Go's cgo callback does (src/sched/blocking.c); where that cannot be done the
 * call returns `ret` after a message naming it.  Once per function. */
#define RT_REQUIRE_G(ret) \
	struct g *rt_in_ __attribute__((cleanup(rt_runtime_leave))) = NULL; \
	int rt_region_ __attribute__((cleanup(blocking_callback_end))) = 0; \
	do { struct m *rt_m_ = m_current(); \
		if (__builtin_expect(!(rt_in_ = rt_runtime_enter(rt_m_)), 0)) { \
			rt_outside_goroutine(__func__); return ret; } \
		if (__builtin_expect(rt_m_->p == NULL, 0) && \
		    (rt_region_ = blocking_callback_begin(__func__)) < 0) { \
			rt_region_ = 0; return ret; } } while (0)
/* The same check for the calls that run without a P themselves
 * (goro_blocking_enter/exit). */
#define RT_REQUIRE_G_NO_P(ret) \
	do { if (__builtin_expect(g_current() == NULL, 0)) { \
		rt_outside_goroutine(__func__); return ret; } } while (0)
void rt_outside_goroutine(const char *call);
/* src/sched/blocking.c: leave the blocking region for a runtime call (returns
 * the region's nesting depth, > 0, or -1 if this M cannot get a P back),
 * and enter it again at the end of the call's scope. */
int blocking_callback_begin(const char *call);
void blocking_callback_leave(int depth);
static inline void blocking_callback_end(int *depth)
{
	if (__builtin_expect(*depth != 0, 0))
		blocking_callback_leave(*depth);
}

/* Entry points that threads goro did not create may call too (goro.h,
 * "Calls from other threads"): from a goroutine, or from a thread that is
 * no M while goro_main runs.  Anything else prints the message above and
 * returns `ret`. */
#define RT_REQUIRE_RUNTIME(ret) \
	struct g *rt_in_ __attribute__((cleanup(rt_runtime_leave))) = NULL; \
	int rt_region_ __attribute__((cleanup(blocking_callback_end))) = 0; \
	do { struct m *rt_m_ = m_current(); \
		if (__builtin_expect(!(rt_in_ = rt_runtime_enter(rt_m_)), 0)) { \
			if (!rt_foreign_allowed(__func__)) return ret; } \
		else if (__builtin_expect(rt_m_->p == NULL, 0) && \
		    (rt_region_ = blocking_callback_begin(__func__)) < 0) { \
			rt_region_ = 0; return ret; } } while (0)
bool rt_foreign_allowed(const char *call);

/* Fatal runtime error: prints "fatal error: <msg>" and the calling
 * goroutine, then exits with status 2. */
_Noreturn void rt_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
