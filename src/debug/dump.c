/* SPDX-License-Identifier: MIT */
/*
 * dump.c — every goroutine's traceback, in Go's format:
 *
 *	goroutine 7 "worker-3" [chan receive, 3 minutes]:
 *	worker_loop+0x4c
 *		/src/app/worker.c:88
 *	goro_start+0x21
 *	created by main_fn in goroutine 1
 *		/src/app/main.c:40
 *
 * Two callers.  goro_dump(fd), from a goroutine, works on a thread of its
 * own: Ms running goroutines are stopped while their stacks are read (see
 * dump.h) and let go, then PCs are symbolized with libdw (function,
 * file:line).
 * A fatal signal (src/signals/crash.c): the same, but inside a signal
 * handler, and the stopped Ms are never released.  There file:line is had
 * safely or not at all: once the Ms are stopped, a forked copy of the
 * process (src/signals/snapshot.c) prints the dump with libdw, and only a dump it
 * finishes is printed; if it cannot, the handler prints its own, which
 * allocates nothing — names come from libunwind, buffers are static.
 * GORO_DEBUG=tracebacklines=0 skips the copy (a sandbox that kills a
 * process which forks).
 *
 * Parked goroutines are read while the Ms that are not stopped (idle ones,
 * ones in system calls) keep going: one of them could resume a goroutine
 * while its stack is being read, and that goroutine's frames may then be
 * wrong or cut short.  gdump, which stops every thread, has no such race.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "alloc.h"
#include "config.h"
#include "descriptor.h"
#include "dump.h"
#include "goformat.h"
#include "goroutine.h"
#include "scheduler.h"
#include "signal_install.h"
#include "snapshot.h"
#include "symbolize.h"
#include "traceback.h"
#include <goro.h>

#include "atomic.h"
#define CAPTURE_SLOTS 256
#define NS_PER_MINUTE (60LL * 1000 * 1000 * 1000)

/* ---- stopping the other Ms --------------------------------------------- */

enum capture_state {
	CAPTURE_FREE,
	CAPTURE_REQUESTED,  /* signal sent */
	CAPTURE_COPYING,    /* the handler is recording */
	CAPTURE_HELD,       /* recorded; the M waits for CAPTURE_FREE */
	CAPTURE_GIVEN_UP,   /* the dumper stopped waiting for this one */
};

struct capture_slot {
	_Atomic uint32_t state;      /* enum capture_state; futex word */
	pid_t tid;
	struct g *g;                 /* the M's goroutine when stopped */
	ucontext_t uc;
};

static struct capture_slot slots[CAPTURE_SLOTS];
static int nslots;

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void capture_handler(int sig, siginfo_t *info, void *ucv)
{
	(void)sig;
	(void)info;
	int saved_errno = errno;
	pid_t tid = current_tid();
	for (int i = 0; i < CAPTURE_SLOTS; i++) {
		struct capture_slot *s = &slots[i];
		uint32_t want = CAPTURE_REQUESTED;
		if (s->tid != tid ||
		    !atomic_compare_exchange_strong(&s->state, &want,
						    CAPTURE_COPYING))
			continue;
		struct m *m = m_current();
		s->g = m ? m->curg : NULL;
		memcpy(&s->uc, ucv, sizeof(s->uc));
		atomic_store_explicit(&s->state, CAPTURE_HELD, RELEASE);
		while (atomic_load_explicit(&s->state, ACQUIRE) == CAPTURE_HELD)
			futex_wait(&s->state, CAPTURE_HELD, -1);
		break;
	}
	errno = saved_errno;
}

int dump_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = capture_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return signal_install(DUMP_CAPTURE_SIGNAL, &sa, NULL);
}

static void sleep_briefly(void)
{
	struct timespec ts = { 0, 100 * 1000 };
	nanosleep(&ts, NULL);
}

/*
 * Stop every M but self that runs a goroutine (with `all`: every other M,
 * idle or in a system call too, which a fatal dump can afford since
 * interrupted system calls no longer matter).  Returns when each has
 * answered or the timeout passed.  At most `max` Ms are stopped; the
 * goroutines of any others are reported as running elsewhere.
 */
static void stop_others(struct m *self, bool all, int max)
{
	pid_t pid = getpid();
	nslots = 0;
	for (struct m *m = atomic_load_explicit(&sched.allm, ACQUIRE);
	     m && nslots < max; m = m->alllink) {
		if (m == self || m->tid == 0)
			continue;
		struct g *g = atomic_load_explicit(&m->curg, RELAXED);
		if (!all && (!g || atomic_load_explicit(&g->status, RELAXED) !=
					   G_RUNNING))
			continue;
		struct capture_slot *s = &slots[nslots++];
		s->tid = m->tid;
		s->g = NULL;
		atomic_store_explicit(&s->state, CAPTURE_REQUESTED, RELEASE);
		if (syscall(SYS_tgkill, pid, m->tid, DUMP_CAPTURE_SIGNAL) != 0)
			atomic_store(&s->state, CAPTURE_GIVEN_UP);
	}
	/* A fatal dump can wait longer: it is the process's last act. */
	int64_t deadline = rt_now() + DUMP_CAPTURE_TIMEOUT_NS * (all ? 5 : 1);
	for (int i = 0; i < nslots; i++) {
		struct capture_slot *s = &slots[i];
		for (;;) {
			uint32_t st = atomic_load_explicit(&s->state, ACQUIRE);
			if (st == CAPTURE_HELD || st == CAPTURE_GIVEN_UP)
				break;
			if (st == CAPTURE_REQUESTED && rt_now() > deadline &&
			    atomic_compare_exchange_strong(&s->state, &st,
							   CAPTURE_GIVEN_UP))
				break;
			sleep_briefly();
		}
	}
}

static void release_others(void)
{
	for (int i = 0; i < nslots; i++) {
		struct capture_slot *s = &slots[i];
		atomic_store_explicit(&s->state, CAPTURE_FREE, RELEASE);
		futex_wake(&s->state, 1);
		s->tid = 0;
	}
	nslots = 0;
}

/* The slot holding g's registers, or -1. */
static int captured(const struct g *g)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].g == g &&
		    atomic_load_explicit(&slots[i].state, ACQUIRE) == CAPTURE_HELD)
			return i;
	return -1;
}

/* ---- printing ------------------------------------------------------------ */

struct dump_ctx {
	struct dump_out *o;
	struct symbolizer *sym;      /* goro_dump's; NULL in a fatal dump */
	struct traceback *tb;        /* scratch */
	int64_t now;
	/* goro_dump unwinds the stopped Ms' goroutines at once and lets the
	 * Ms go before printing (symbolizing allocates, and a stopped M may
	 * hold an allocator lock): held[i] is running[i]'s stack. */
	int nheld;
	struct g *running[CAPTURE_SLOTS];
	struct traceback *held;
	bool flush_each;             /* write out each goroutine at once */
};

static const char *state_label(const struct g *g)
{
	uint32_t s = atomic_load_explicit(&g->status, RELAXED);
	if (s == G_WAITING)
		return wait_reason_name(g->wait_reason);
	return g_status_name((enum g_status)s);
}

/* `state`: what to print instead of g's own state, or NULL. */
static void print_header(struct dump_ctx *d, const struct g *g,
			 const char *state)
{
	char name[G_NAME_MAX];
	memcpy(name, g->name, sizeof(name));
	name[G_NAME_MAX - 1] = '\0';
	int64_t minutes = 0;
	if (!state && atomic_load_explicit(&g->status, RELAXED) == G_WAITING &&
	    g->wait_since > 0 && d->now - g->wait_since >= NS_PER_MINUTE)
		minutes = (d->now - g->wait_since) / NS_PER_MINUTE;
	gofmt_header(d->o, g->id, name, state ? state : state_label(g),
		     minutes);
}

/* "function+0xoff" and, where known, "\tfile:line". */
static void print_location(struct dump_ctx *d, uint64_t pc, bool exact,
			   const char *name, uint64_t offset)
{
	struct symbol_info si = {0};
	if (d->sym) {
		symbolize(d->sym, pc, !exact, &si);
	} else {
		si.function = name;
		si.offset = offset;
	}
	gofmt_frame(d->o, pc, &si);
}

static const char *frame_name(struct dump_ctx *d, const struct traceback *tb,
			      int i)
{
	if (!d->sym)
		return tb->name[i];
	struct symbol_info si;
	symbolize(d->sym, tb->pc[i], !tb->exact[i], &si);
	return si.function;
}

/*
 * A switched-out goroutine's innermost frames are the scheduler's own
 * (switch, execute...), which differ with the path taken and say nothing
 * to the reader: start at whatever called the scheduler to park or yield,
 * as Go's dumps start at gopark's caller.
 */
static int first_user_frame(struct dump_ctx *d, const struct traceback *tb)
{
	int i = 0;
	while (i + 1 < tb->n &&
	       goro_debug_is_scheduler_frame(&goro_debug_descriptor,
					     frame_name(d, tb, i)))
		i++;
	return i;
}

/* Is frame i's PC the instruction itself (not a return address)?  Also
 * when frame i - 1 interrupted it: the preemption trampoline. */
static bool frame_exact(struct dump_ctx *d, const struct traceback *tb, int i)
{
	return tb->exact[i] ||
	       (i > 0 && goro_debug_is_interrupt_frame(&goro_debug_descriptor,
						       frame_name(d, tb, i - 1)));
}

static void print_frames_from(struct dump_ctx *d, const struct traceback *tb,
			      int first)
{
	for (int i = first; i < tb->n; i++)
		print_location(d, tb->pc[i], frame_exact(d, tb, i),
			       tb->names ? tb->name[i] : NULL, tb->offset[i]);
	if (tb->truncated)
		out_str(d->o, "...additional frames elided...\n");
}

static void print_frames(struct dump_ctx *d, const struct traceback *tb)
{
	print_frames_from(d, tb, 0);
}

static void print_created_by(struct dump_ctx *d, const struct g *g)
{
	if (!g->create_pc)
		return;
	struct symbol_info si = {0};
	const char *name = NULL;
	char buf[TRACEBACK_NAME_MAX];
	if (d->sym) {
		symbolize(d->sym, g->create_pc, true, &si);
		name = si.function;
	} else {
		uint64_t off;
		if (traceback_name_of(g->create_pc - 1, buf, sizeof(buf),
				      &off) == 0)
			name = buf;
	}
	gofmt_created_by(d->o, name, g->create_pc, g->parent_id, &si);
}

static bool captured_in_fatal(struct dump_ctx *d, const struct g *g)
{
	return !d->held && captured(g) >= 0;
}

/* A goroutine that is not the one dumping. */
static void print_other(struct dump_ctx *d, struct g *g)
{
	uint32_t status = atomic_load_explicit(&g->status, ACQUIRE);
	struct traceback *tb = d->tb;
	print_header(d, g, NULL);
	if (status == G_SYSCALL && !captured_in_fatal(d, g)) {
		/* goro_dump leaves Ms in system calls alone (a signal would
		 * interrupt the call). */
		out_str(d->o, "\tgoroutine in a system call; stack "
			      "unavailable\n");
	} else if (status == G_RUNNING || status == G_SYSCALL) {
		int i;
		if (d->held) {
			for (i = 0; i < d->nheld && d->running[i] != g; i++)
				;
			if (i < d->nheld && d->held[i].n > 0)
				print_frames(d, &d->held[i]);
			else
				out_str(d->o, "\tgoroutine running on other "
					      "thread; stack unavailable\n");
		} else if ((i = captured(g)) >= 0 &&
			   traceback_signal(&slots[i].uc, tb) == 0)
			print_frames(d, tb);
		else
			out_str(d->o, "\tgoroutine running on other thread; "
				      "stack unavailable\n");
	} else if (g->stack.lo == NULL) {
		/* Never ran: only its entry function is known. */
		print_location(d, (uint64_t)(uintptr_t)g->fn, true, NULL, 0);
	} else if (traceback_saved(g, tb) == 0) {
		print_frames_from(d, tb, first_user_frame(d, tb));
	} else {
		out_str(d->o, "\tstack unavailable\n");
	}
	print_created_by(d, g);
	out_str(d->o, "\n");
	if (d->flush_each)
		out_flush(d->o);
}

static void print_all_but(struct dump_ctx *d, const struct g *first)
{
	size_t n = atomic_load_explicit(&allgs.count, ACQUIRE);
	struct g **items = atomic_load_explicit(&allgs.items, ACQUIRE);
	uint32_t gen = sched.generation;
	for (size_t i = 0; i < n; i++) {
		struct g *g = items[i];
		if (g == first || g->generation != gen ||
		    atomic_load_explicit(&g->status, ACQUIRE) == G_DEAD)
			continue;
		print_other(d, g);
	}
}

/* ---- entry points ----------------------------------------------------- */

static struct traceback fatal_tb;

/* A fatal dump, its Ms stopped: the interrupted goroutine, the others. */
static void print_fatal(struct dump_ctx *d, ucontext_t *uc, bool others)
{
	struct g *self = g_current();
	if (self) {
		print_header(d, self, NULL);
		if (traceback_signal(uc, d->tb) == 0)
			print_frames(d, d->tb);
		print_created_by(d, self);
		out_str(d->o, "\n");
	}
	if (others)
		print_all_but(d, self);
	out_flush(d->o);
}

struct fatal_job {
	ucontext_t *uc;
	bool others;
	int64_t now;
};

/* In the forked copy (snapshot_run): the same dump, symbolized with
 * libdw.  Written out goroutine by goroutine, which shows it is alive. */
static bool print_fatal_with_lines(void *arg, int fd)
{
	struct fatal_job *job = arg;
	static struct dump_out o;
	o.fd = fd;
	o.len = 0;
	struct dump_ctx d = { .o = &o, .tb = &fatal_tb, .now = job->now,
			      .flush_each = true };
	fatal_tb.names = false;
	d.sym = symbolizer_open(getpid());
	if (!d.sym)
		return false;
	print_fatal(&d, job->uc, job->others);
	return true;  /* the process ends: no need to close d.sym */
}

void dump_fatal(struct dump_out *o, ucontext_t *uc, bool others)
{
	struct fatal_job job = { .uc = uc, .others = others, .now = rt_now() };
	if (others)
		stop_others(m_current(), true, CAPTURE_SLOTS);
	out_flush(o);
	if (config.traceback_lines &&
	    snapshot_run(print_fatal_with_lines, &job, o->fd))
		return;
	struct dump_ctx d = { .o = o, .tb = &fatal_tb, .now = job.now };
	fatal_tb.names = true;
	print_fatal(&d, uc, others);
}

/* One goroutine at a time: the capture slots are shared. */
static struct rlock dump_lock = RLOCK_INIT;

/* goro_dump's work, done on a thread of its own (below). */
struct dump_job {
	struct dump_ctx *d;
	int max;                   /* Ms that may be stopped */
	struct m *self_m;          /* the caller's M, waiting for us */
	struct g *self;            /* the caller, or NULL */
	unw_context_t self_ctx;    /* its registers, in goro_dump */
	struct traceback *self_tb;
};

static void *dump_worker(void *arg)
{
	struct dump_job *job = arg;
	struct dump_ctx *d = job->d;
	stop_others(job->self_m, false, job->max);
	for (int i = 0; i < nslots; i++) {
		d->running[i] = captured(slots[i].g) == i ? slots[i].g : NULL;
		if (d->running[i])
			traceback_signal(&slots[i].uc, &d->held[i]);
	}
	d->nheld = nslots;
	release_others();

	d->sym = symbolizer_open(getpid());
	if (!d->sym)
		return NULL;
	if (job->self) {
		/* Running goro_dump, though handed over as "syscall". */
		print_header(d, job->self, "running");
		/* From goro_dump's caller. */
		if (traceback_context(&job->self_ctx, 1, job->self_tb) == 0)
			print_frames(d, job->self_tb);
		print_created_by(d, job->self);
		out_str(d->o, "\n");
	}
	print_all_but(d, job->self);
	out_flush(d->o);
	symbolizer_close(d->sym);
	return NULL;
}

/*
 * Everything is done by a thread of its own, with an ordinary stack, while
 * the caller waits: libunwind must not run on a goroutine stack (see
 * traceback.h), and libdw allocates freely and can use more stack than a
 * goroutine has.  The caller's own registers are taken here, so that the
 * worker can unwind its stack too; meanwhile its P is handed on as for
 * any blocking call.
 */
#define DUMP_THREAD_STACK (8 << 20)

void goro_dump(int fd)
{
	if (fd < 0 || !atomic_load_explicit(&sched.running, ACQUIRE))
		return;
	rlock_lock(&dump_lock);
	struct dump_ctx d = { .now = rt_now() };
	int max = atomic_load_explicit(&sched.mcount, RELAXED);
	if (max > CAPTURE_SLOTS)
		max = CAPTURE_SLOTS;
	size_t held_size = (size_t)max * sizeof(*d.held);
	struct dump_job *job = rt_alloc(sizeof(*job));
	struct traceback *self_tb = rt_alloc(sizeof(*self_tb));
	d.o = rt_alloc(sizeof(*d.o));
	d.tb = rt_alloc(sizeof(*d.tb));
	d.held = rt_alloc(held_size);
	if (!job || !d.o || !d.tb || !d.held || !self_tb)
		goto out;
	d.o->fd = fd;
	job->d = &d;
	job->max = max;
	job->self_m = m_current();
	job->self = g_current();
	job->self_tb = self_tb;
	unw_getcontext(&job->self_ctx);

	pthread_attr_t attr;
	pthread_t worker;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, DUMP_THREAD_STACK);
	if (pthread_create(&worker, &attr, dump_worker, job) == 0) {
		/* The goroutines queued on this P need not wait for us. */
		if (job->self)
			sched_blocking_enter();
		pthread_join(worker, NULL);
		if (job->self)
			sched_blocking_exit();
	}
	pthread_attr_destroy(&attr);
out:
	rt_free(job, sizeof(*job));
	rt_free(self_tb, sizeof(*self_tb));
	rt_free(d.held, held_size);
	rt_free(d.tb, sizeof(*d.tb));
	rt_free(d.o, sizeof(*d.o));
	rlock_unlock(&dump_lock);
}
