/* SPDX-License-Identifier: MIT */
/*
 * retake.c — sysmon's jobs for goroutines that sit in the kernel.
 *
 * 1. Annotated blocking calls (goro_blocking_enter): a P left in P_SYSCALL
 *    for more than RETAKE_SYSCALL_NS is taken and handed to another M, as
 *    Go's retake() does — unless nothing waits for it and spare capacity
 *    exists, in which case it is left alone for up to 10 ms.
 *
 * 2. Un-annotated blocking (beyond Go).  A goroutine that calls plain
 *    sleep(), read() on a blocking descriptor or pthread_mutex_lock keeps
 *    its P while its thread sleeps, and everything queued on that P starves
 *    — with one P, a goroutine waiting for a mutex held by a goroutine
 *    queued behind it deadlocks.  sysmon notices it: the P has been on the
 *    same time slice for BLOCKED_AFTER_NS, the thread's CPU clock has not
 *    moved over the last BLOCKED_WINDOW_NS, and /proc says the thread is
 *    asleep.  It then swaps the M's P for a spare one and hands the real P
 *    on.  The swap must not race with the thread using the P: the thread
 *    reads m->p afresh at every runtime call, so it is enough that it
 *    stayed asleep from before the swap until after it — which holds if
 *    the thread is still asleep afterwards and its count of voluntary
 *    context switches has not changed (waking and sleeping again would
 *    have counted one).  When the thread wakes it runs its goroutine on the
 *    spare only up to the next scheduling point (the goroutine is asked to
 *    yield), where p_spare_release() gives everything back: so
 *    GOMAXPROCS is exceeded only briefly.  If the thread woke during the
 *    swap, sysmon gives up and the thread itself takes its P back at that
 *    same point.
 *
 *    Only a sleep the application's own code asked for qualifies: runtime
 *    code may keep its P in a register across a system call (mprotect on a
 *    stack, jemalloc's mutex), so the first return address above the
 *    thread's stack pointer (/proc/self/task/TID/syscall) outside libc and
 *    the support libraries must lie in application code (text table of
 *    src/base/text_ranges.c), and the sleep must be interruptible (S: sleep(),
 *    a pipe or socket, a futex), not the kernel's own (D: page faults, the
 *    mm lock).  A blocking disk read() is therefore not taken over: use
 *    goro_read or GORO_BLOCKING there.
 *
 * 3. The network is polled (non-blocking) when no M has for NETPOLL_IDLE_NS:
 *    goroutines whose data arrived run even if every M is busy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "alloc.h"
#include "procs.h"
#include "goroutine.h"
#include "m.h"
#include "netpoll.h"
#include "preempt.h"
#include "config.h"
#include "retake.h"
#include "runq.h"
#include "scheduler.h"
#include "text_ranges.h"
#include "timer.h"
#include <goro.h>

#include "atomic.h"

#define RETAKE_SYSCALL_NS (20 * 1000)
#define RETAKE_IDLE_SYSCALL_NS (10 * 1000 * 1000)
#define BLOCKED_AFTER_NS (1 * 1000 * 1000)
#define BLOCKED_WINDOW_NS (2 * 1000 * 1000)
#define NETPOLL_IDLE_NS (10 * 1000 * 1000)

/* What sysmon remembers of each P between rounds. */
struct retake_p {
	uint32_t syscalltick;
	int64_t syscall_since;       /* first round that saw syscalltick */
	uint32_t schedtick;
	struct m *m;                 /* M and goroutine of that slice */
	struct g *g;
	int64_t slice_since;         /* first round that saw the slice */
	int64_t cpu_at;              /* thread CPU time at cpu_when, -1 none */
	int64_t cpu_when;
};

static struct retake_p observed[GORO_MAXPROCS_LIMIT];

void retake_reset(void)
{
	memset(observed, 0, sizeof(observed));
}

/* ---- 1. annotated blocking calls -------------------------------------------------- */

static bool retake_syscall(struct p *p, struct retake_p *s, int64_t now,
			   int64_t *wake)
{
	uint32_t tick = atomic_load_explicit(&p->syscalltick, RELAXED);
	if (tick != s->syscalltick || s->syscall_since == 0) {
		s->syscalltick = tick;
		s->syscall_since = now;
	}
	int64_t since = s->syscall_since;
	if (now - since < RETAKE_SYSCALL_NS) {
		if (since + RETAKE_SYSCALL_NS < *wake)
			*wake = since + RETAKE_SYSCALL_NS;
		return false;
	}
	/* Nothing waits and other Ps or spinning Ms can take new work: the
	 * hand-off would only cost a thread wake-up. */
	if (!p_needs_m(p) &&
	    atomic_load_explicit(&sched.npidle, RELAXED) +
	    atomic_load_explicit(&sched.nmspinning, RELAXED) > 0 &&
	    now - since < RETAKE_IDLE_SYSCALL_NS) {
		if (since + RETAKE_IDLE_SYSCALL_NS < *wake)
			*wake = since + RETAKE_IDLE_SYSCALL_NS;
		return false;
	}
	uint32_t status = P_SYSCALL;
	if (!atomic_compare_exchange_strong_explicit(&p->status, &status, P_IDLE,
						     memory_order_acquire, RELAXED))
		return false;
	s->syscall_since = 0;
	p_handoff(p);
	return true;
}

/* ---- 2. silent blocking ------------------------------------------------------------ */

/* The thread's scheduler state: true if it sleeps in the kernel, with its
 * count of voluntary context switches.  Only an interruptible sleep (S)
 * counts: the uninterruptible one (D) is the kernel's own business — a
 * page fault, or the runtime's mprotect waiting for the mm lock. */
static bool thread_asleep(pid_t tid, long *nvcsw)
{
	char state;
	return m_thread_state(tid, &state, nvcsw) && state == 'S';
}

/* The words above a sleeping thread's stack pointer that are looked at. */
#define INNERMOST_WORDS 48

/*
 * Whose system call does thread tid sleep in: the application's (a plain
 * sleep(), read(), pthread_mutex_lock) or the runtime's own (mprotect on a
 * stack, jemalloc's mutex) — which must never lose its P, since it may
 * hold it in a register.  It is the application's when the innermost
 * frames above the thread's user stack pointer (INNERMOST_WORDS words)
 * hold no return address into libgoro (src/base/text_ranges.h), call-out
 * frames aside; jemalloc's mutexes, which are deeper, count as a runtime
 * lock (src/base/alloc.c).
 * Because goro_start is a call-out frame, a blocking call the goroutine's
 * function makes in tail position (`return sleep(3);` compiled to a jump)
 * is the application's too.
 *
 * Not detectable: a sleep in the kernel's own uninterruptible state (D:
 * page faults, disk I/O), which thread_asleep does not count.
 */
static bool blocked_in_app_code(pid_t tid, const struct g *g)
{
	if (!text_ranges_runtime_separable())
		return false;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return false;
	line[n] = '\0';
	/* "nr arg1 ... arg6 sp pc", or "running", or "-1 sp pc". */
	char *field = line, *end;
	long nr = strtol(field, &end, 0);
	if (end == field || nr < 0)
		return false;
	unsigned long long v[8];
	for (int i = 0; i < 8; i++) {
		field = end;
		v[i] = strtoull(field, &end, 0);
		if (end == field)
			return false;
	}
	uintptr_t sp = (uintptr_t)v[6], pc = (uintptr_t)v[7];
	uintptr_t top = (uintptr_t)g->stack.hi;
	if (text_is_runtime(pc) || sp < (uintptr_t)g->stack.lo || sp >= top ||
	    (!g->stack.grouped && sp < top - g->stack.committed))
		return false;
	uintptr_t words[INNERMOST_WORDS];
	size_t len = top - sp < sizeof(words) ? top - sp : sizeof(words);
	struct iovec local = { words, len };
	struct iovec remote = { (void *)sp, len };
	ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (got != (ssize_t)len)
		return false;
	/* Only the innermost frames: the system call's wrapper and its
	 * caller.  A libgoro caller there is the runtime's own sleep; deeper
	 * down, libgoro return addresses are as likely stale (left in the
	 * padding of the application's frames by earlier runtime calls) as
	 * live, and a stale one would leave the P with a thread asleep in the
	 * application's code for good.  The runtime's sleeps with a P live
	 * deeper than that are jemalloc's mutexes, which count as a runtime
	 * lock (src/base/alloc.c) and are never taken over. */
	return !text_runtime_frame_in(words, (size_t)got / sizeof(*words));
}

/*
 * Take p from m, whose thread sleeps in the kernel inside goroutine g.
 * What retake_running saw (m holding p) may be stale by now: the thread
 * may have woken, moved to another P and slept again, in the same
 * goroutine, or be asleep in the scheduler having let p go.  So the swap
 * is a compare-and-swap of m->p from p, made between two looks that find
 * the thread asleep with the same count of context switches, the first
 * before blocked_in_app_code looks where it sleeps: the thread then held
 * p, asleep in the application's code, all along.  Only sysmon ever puts
 * a spare in m->p, so a thread that holds p cannot be on a spare
 * meanwhile, and stolen_p is read by nobody until the swap.  A thread
 * that woke in between (the second look fails) finds the spare in m->p
 * and p in stolen_p: it gives the spare back as it lets its P go
 * (p_take_own), or at its next scheduling point (p_spare_release).
 */
static bool retake_silent(struct p *p, struct m *m, struct g *g)
{
	long before, after;
	if (atomic_load_explicit(&m->p, RELAXED) != p ||
	    !thread_asleep(m->tid, &before) || !blocked_in_app_code(m->tid, g))
		return false;
	struct p *spare = p_spare_get();
	if (!spare)
		return false;
	atomic_store_explicit(&spare->m, m, RELAXED);
	spare->spare.cpu_mark = m_thread_cpu_ns(m->tid);
	atomic_store_explicit(&spare->status, P_RUNNING, RELAXED);
	struct p *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&m->stolen_p, &none, p,
						     SEQ_CST, RELAXED)) {
		p_spare_unused(spare);
		return false;
	}
	struct p *held = p;
	if (!atomic_compare_exchange_strong_explicit(&m->p, &held, spare,
						     SEQ_CST, RELAXED)) {
		/* It let p go since retake_running looked. */
		atomic_store_explicit(&m->stolen_p, NULL, RELAXED);
		p_spare_unused(spare);
		return false;
	}
	/* Whatever happens next, the goroutine leaves the spare at its next
	 * scheduling point. */
	atomic_store_explicit(&g->preempt, true, RELAXED);
	if (!thread_asleep(m->tid, &after) || after != before)
		return false;  /* it woke: it will take p back itself */
	struct p *expected = p;
	if (!atomic_compare_exchange_strong_explicit(&m->stolen_p, &expected,
						     NULL, memory_order_acq_rel,
						     RELAXED))
		return false;
	atomic_store_explicit(&p->m, NULL, RELAXED);
	atomic_store_explicit(&p->status, P_IDLE, memory_order_release);
	/* A thread asleep in the application's code most often waits for a
	 * lock, and a goroutine stopped by preemption with its thread may be
	 * the one holding it (in malloc's arena, say): that goroutine gets
	 * the P first.  Otherwise every P could go, one retake after
	 * another, to goroutines that block on the same lock, while the
	 * holder waits behind them in the global queue. */
	rlock_lock(&sched.lock);
	struct m *owner = NULL;
	if (!atomic_load_explicit(&sched.stw_waiting, RELAXED) &&
	    !atomic_load_explicit(&sched.exiting, RELAXED))
		owner = sched_give_p_to_parked(p, false);
	rlock_unlock(&sched.lock);
	if (owner) {
		note_wake(&owner->locked_park);
		return true;
	}
	p_handoff(p);
	return true;
}

/*
 * The P of a thread asleep in the kernel is not always safe to take: the
 * thread may sleep in the runtime's own code, or look so (a stale libgoro
 * return address in the innermost words, left there by an earlier runtime
 * call, cannot be told from a live one).  If it waits for a lock that a
 * goroutine parked with its thread holds (one preempted in malloc holding
 * its arena's lock, say), and every P is held that way, nothing would run
 * that goroutine again: the waiters keep their Ps, the holder waits for
 * one.  So such a goroutine is lent a spare P instead, which takes nothing
 * from anyone; it gives the spare back at its next scheduling point, and
 * preempt_spares stops it within about a quantum if it keeps computing.
 * GOMAXPROCS threads then run application code only if the sleeper wakes
 * meanwhile, as with every spare.
 *
 * What retake_running saw (asleep holding p, running g) may be stale by
 * now, as in retake_silent: the thread may have been only held off the
 * CPU, then stopped its goroutine and gone to sleep in the scheduler,
 * having let p go.  A spare lent then ran the goroutine it had just
 * stopped beside p's next one: on one P, a hog counted on while the
 * sleeper it had made way for ran (about one sleep in 6,000 beside four
 * busy test suites on 2 CPUs), or during a goro_preempt_disable region.
 * So the thread must be seen holding p in g between two looks that find
 * it asleep with the same count of context switches: it then slept in
 * g's slice all along, and nothing it wrote has changed.
 */
static bool lend_spare_to_parked(struct p *p, struct m *asleep, struct g *g)
{
	long before, after;
	if (!thread_asleep(asleep->tid, &before) ||
	    atomic_load_explicit(&asleep->p, ACQUIRE) != p ||
	    atomic_load_explicit(&asleep->curg, ACQUIRE) != g ||
	    !thread_asleep(asleep->tid, &after) || after != before)
		return false;
	struct p *spare = p_spare_get();
	if (!spare)
		return false;
	rlock_lock(&sched.lock);
	struct m *owner = NULL;
	if (!atomic_load_explicit(&sched.stw_waiting, RELAXED) &&
	    !atomic_load_explicit(&sched.exiting, RELAXED))
		owner = sched_give_p_to_parked(spare, false);
	if (owner)
		spare->spare.cpu_mark = m_thread_cpu_ns(owner->tid);
	rlock_unlock(&sched.lock);
	if (!owner) {
		p_spare_unused(spare);
		return false;
	}
	note_wake(&owner->locked_park);
	return true;
}

static bool retake_running(struct p *p, struct retake_p *s, int64_t now,
			   int64_t *wake)
{
	struct m *m = atomic_load_explicit(&p->m, RELAXED);
	struct g *g = m ? atomic_load_explicit(&m->curg, RELAXED) : NULL;
	uint32_t tick = atomic_load_explicit(&p->schedtick, RELAXED);
	if (!g || atomic_load_explicit(&m->p, RELAXED) != p) {
		s->g = NULL;
		return false;
	}
	if (tick != s->schedtick || m != s->m || g != s->g) {
		s->schedtick = tick;
		s->m = m;
		s->g = g;
		s->slice_since = now;
		s->cpu_at = -1;
		return false;
	}
	if (now - s->slice_since < BLOCKED_AFTER_NS) {
		if (s->slice_since + BLOCKED_AFTER_NS < *wake)
			*wake = s->slice_since + BLOCKED_AFTER_NS;
		return false;
	}
	if (s->cpu_at < 0) {
		s->cpu_at = m_thread_cpu_ns(m->tid);
		s->cpu_when = now;
	}
	if (now - s->cpu_when < BLOCKED_WINDOW_NS) {
		if (s->cpu_when + BLOCKED_WINDOW_NS < *wake)
			*wake = s->cpu_when + BLOCKED_WINDOW_NS;
		return false;
	}
	int64_t cpu = m_thread_cpu_ns(m->tid);
	bool computing = cpu < 0 || s->cpu_at < 0 ||
			 10 * (cpu - s->cpu_at) > now - s->cpu_when;
	s->cpu_at = cpu;
	s->cpu_when = now;
	if (computing || !p_needs_m(p) ||
	    atomic_load_explicit(&g->status, RELAXED) != G_RUNNING)
		return false;
	if (m->locks == 0 && g->preempt_disable == 0 &&
	    retake_silent(p, m, g)) {
		s->g = NULL;
		return true;
	}
	return lend_spare_to_parked(p, m, g);
}

/*
 * A goroutine whose thread woke up on a spare P runs beside GOMAXPROCS
 * others.  It is asked to leave the spare at its next runtime call, but
 * application code may make none for a long time: as soon as its thread
 * is seen computing again (its CPU clock moved by more than
 * SPARE_RUNNING_NS since the last look), it is preempted like a hog, and
 * sysmon looks at least once a quantum while any spare is lent.  A thread
 * still asleep in the kernel is left alone: a signal there would be an
 * EINTR.
 */
#define SPARE_RUNNING_NS (20 * 1000)

struct spares_seen {
	bool acted, lent;
};

static void preempt_spare(struct p *p, void *arg)
{
	struct spares_seen *seen = arg;
	struct m *m = atomic_load_explicit(&p->m, ACQUIRE);
	struct g *g = m ? atomic_load_explicit(&m->curg, RELAXED) : NULL;
	if (!g || atomic_load_explicit(&p->status, RELAXED) != P_RUNNING)
		return;
	seen->lent = true;
	int64_t cpu = m_thread_cpu_ns(m->tid);
	if (cpu >= 0 && p->spare.cpu_mark >= 0 &&
	    cpu - p->spare.cpu_mark > SPARE_RUNNING_NS) {
		preempt_request(m, g);
		seen->acted = true;
	}
	p->spare.cpu_mark = cpu;
}

static bool preempt_spares(int64_t now, int64_t *wake)
{
	struct spares_seen seen = { false, false };
	p_spares_visit(preempt_spare, &seen);
	if (seen.lent && now + config.quantum_ns < *wake)
		*wake = now + config.quantum_ns;
	return seen.acted;
}

/* ---- 3. the network ----------------------------------------------------------------- */

static bool poll_network(int64_t now)
{
	int64_t last = netpoll_last_poll();
	if (!netpoll_should_poll() || now - last < NETPOLL_IDLE_NS ||
	    !netpoll_claim_poll(last))
		return false;
	struct g *list;
	int32_t n = netpoll(0, &list);
	sched_ready_list(list, n);
	netpoll_delivered(n);
	return n > 0;
}

bool retake_round(int64_t now, int64_t *wake)
{
	bool acted = false;
	int32_t n = atomic_load_explicit(&sched.gomaxprocs, RELAXED);
	for (int32_t i = 0; i < n; i++) {
		struct p *p = sched.allp[i];
		struct retake_p *s = &observed[i];
		switch (atomic_load_explicit(&p->status, RELAXED)) {
		case P_SYSCALL:
			acted |= retake_syscall(p, s, now, wake);
			s->g = NULL;
			break;
		case P_RUNNING:
			acted |= retake_running(p, s, now, wake);
			s->syscall_since = 0;
			break;
		default:
			s->g = NULL;
			s->syscall_since = 0;
		}
	}
	acted |= preempt_spares(now, wake);
	acted |= poll_network(now);
	if (netpoll_waiting() > 0 && now + NETPOLL_IDLE_NS < *wake)
		*wake = now + NETPOLL_IDLE_NS;
	return acted;
}

