/* SPDX-License-Identifier: MIT */
/*
 * netpoll.c — the network poller on edge-triggered epoll (Go's
 * netpoll_epoll.go and the pollDesc half of netpoll.go).
 *
 * A descriptor is added to the epoll set once, for both directions, on its
 * first use by an I/O wrapper; from then on the kernel reports each edge
 * (became readable, became writable, hung up).  A goroutine tries its call
 * first and parks here only after EAGAIN; the M that next finds nothing to
 * run collects the ready goroutines (src/sched/sched.c), blocking in epoll_wait
 * up to the next timer when it is the only M doing so.  An eventfd in the
 * set lets the runtime interrupt that wait: an earlier timer was added, or
 * the program is ending.
 *
 * Edge-triggered epoll reports an edge once.  So each record counts the
 * edges per direction (rgen/wgen): a goroutine reads the count before its
 * attempt and, after EAGAIN, parks only if the count has not moved — an
 * edge in between means the call may now succeed, so it tries again.
 *
 * Records live in a table of fixed-size chunks indexed by fd, allocated on
 * demand and never moved, so a lookup needs no lock.  The epoll event
 * carries fd and the record's sequence number; closing bumps the number, so
 * an event for the previous file behind a reused fd is dropped.
 *
 * Closing is ordered after the calls in flight (netpoll_ref/unref and
 * netpoll_close): a goroutine woken by an edge but not yet running still
 * holds its reference, so the descriptor stays open, and the same file,
 * until it has run, seen the closing bit and left.
 *
 * Kernels before 5.11 (and valgrind) lack epoll_pwait2: netpoll_init
 * notices ENOSYS once, and netpoll() uses epoll_wait from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "alloc.h"
#include "netpoll.h"
#include "deadlock.h"
#include "scheduler.h"
#include <goro.h>

#include "atomic.h"

#define PD_CHUNK_SHIFT 10
#define PD_CHUNK (1 << PD_CHUNK_SHIFT)   /* records per chunk */
#define PD_CHUNKS 2048                   /* fds up to 2M */
#define EVENTS_MAX 128                   /* events taken per epoll_wait */
#define BREAK_MARK UINT64_MAX            /* epoll data of the eventfd */

#define READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

static struct poll_desc *_Atomic pd_chunks[PD_CHUNKS];
static int epfd = -1;
static int break_fd = -1;
static _Atomic bool break_pending;
static _Atomic int64_t last_poll;    /* 0 while an M blocks in netpoll */
static _Atomic int64_t poll_until;   /* that M's deadline; 0 = not known */
static _Atomic int64_t waiting;      /* goroutines parked here */
/* epoll_pwait2 (Linux 5.11) is missing: kernels before it, and valgrind.
 * Decided once, in netpoll_init. */
static bool no_pwait2;

/* Goroutines parked here wait on the outside world: they count in
 * sched.nblocked too, so that deadlock detection leaves them alone. */
static void restore_mode(int fd, struct poll_desc *pd);
static struct g *forget_file(struct poll_desc *pd, enum pd_kind kind,
			     bool keep_deadlines);
static void ready_all(struct g *list);

static void waiting_add(int64_t n)
{
	atomic_fetch_add_explicit(&waiting, n, RELAXED);
	deadlock_blocked_add(n);
}

int netpoll_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	break_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (break_fd < 0) {
		int err = -errno;
		close(epfd);
		epfd = -1;
		return err;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_MARK };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, break_fd, &ev) != 0) {
		int err = -errno;
		netpoll_teardown();
		return err;
	}
	struct epoll_event probe;
	struct timespec zero = { 0, 0 };
	no_pwait2 = epoll_pwait2(epfd, &probe, 1, &zero, NULL) < 0 &&
		    errno == ENOSYS;
	atomic_store_explicit(&break_pending, false, RELAXED);
	atomic_store_explicit(&last_poll, rt_now(), RELAXED);
	atomic_store_explicit(&poll_until, 0, RELAXED);
	atomic_store_explicit(&waiting, 0, RELAXED);
	return 0;
}

/* End of goro_main: every M is gone.  Sockets goro switched to
 * O_NONBLOCK go back to blocking if their number still names the same
 * file; the next run starts with fresh records. */
void netpoll_teardown(void)
{
	if (epfd >= 0)
		close(epfd);
	if (break_fd >= 0)
		close(break_fd);
	epfd = break_fd = -1;
	for (int i = 0; i < PD_CHUNKS; i++) {
		struct poll_desc *chunk = atomic_load_explicit(&pd_chunks[i],
							       RELAXED);
		for (int j = 0; chunk && j < PD_CHUNK; j++) {
			struct poll_desc *pd = &chunk[j];
			struct stat st;
			int fd = i << PD_CHUNK_SHIFT | j;
			if (pd->restore_blocking && fstat(fd, &st) == 0 &&
			    st.st_dev == pd->dev && st.st_ino == pd->ino)
				restore_mode(fd, pd);
		}
		if (chunk) {
			rt_free(chunk, PD_CHUNK * sizeof(*chunk));
			atomic_store_explicit(&pd_chunks[i], NULL, RELAXED);
		}
	}
}

struct poll_desc *netpoll_desc(int fd)
{
	if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS) {
		errno = EBADF;
		return NULL;
	}
	_Atomic(struct poll_desc *) *slot = &pd_chunks[fd >> PD_CHUNK_SHIFT];
	struct poll_desc *chunk = atomic_load_explicit(slot, ACQUIRE);
	if (__builtin_expect(chunk == NULL, 0)) {
		struct poll_desc *fresh = rt_alloc(PD_CHUNK * sizeof(*fresh));
		if (!fresh) {
			errno = ENOMEM;
			return NULL;
		}
		if (atomic_compare_exchange_strong_explicit(slot, &chunk, fresh,
							    memory_order_acq_rel,
							    ACQUIRE))
			chunk = fresh;
		else
			rt_free(fresh, PD_CHUNK * sizeof(*fresh));
	}
	return &chunk[fd & (PD_CHUNK - 1)];
}


static uint64_t event_data(int fd, struct poll_desc *pd)
{
	return (uint64_t)pd->seq << 32 | (uint32_t)fd;
}

/*
 * Caller holds pd->lock; fd's description is blocking and goro did not
 * create it, so other processes (a shell, a parent) may share it.  Give
 * fd a private description of the same file instead, opened
 * O_NONBLOCK: possible for pipes, FIFOs and terminals, through
 * /proc/self/fd.  True if done.
 */
static bool reopen_private(int fd, int flags)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
		return false;
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int keep = flags & (O_ACCMODE | O_APPEND);
	int nfd = open(path, keep | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0)
		return false;
	int fdflags = fcntl(fd, F_GETFD);
	bool ok = fdflags >= 0 &&
		  dup3(nfd, fd, fdflags & FD_CLOEXEC ? O_CLOEXEC : 0) == fd;
	close(nfd);
	return ok;
}

/* Caller holds pd->lock: switch fd, a socket, to O_NONBLOCK for now; it
 * is switched back when goro is done with it (restore_mode). */
static int switch_nonblocking(int fd, struct poll_desc *pd, int flags)
{
	struct stat st;
	if (fstat(fd, &st) != 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return -errno;
	pd->restore_blocking = true;
	pd->dev = st.st_dev;
	pd->ino = st.st_ino;
	return 0;
}

/* Caller holds pd->lock.  nonblocking: fd is known to be O_NONBLOCK.
 * mode: what to do with a blocking socket (enum np_mode). */
static int register_fd(int fd, struct poll_desc *pd, bool nonblocking,
		       enum np_mode mode)
{
	int flags = 0;
	bool reopened = false, percall = false;
	uint8_t posix = nonblocking ? PDX_APP_NB : 0;
	if (!nonblocking) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0)
			return -errno;
		nonblocking = flags & O_NONBLOCK;
		posix = nonblocking ? PDX_APP_NB : 0;
		struct stat st;
		if (!nonblocking && mode == NP_PERCALL &&
		    fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
			percall = true;
			pd->sock = PD_SOCK_YES;
		}
		if (!nonblocking && !percall)
			nonblocking = reopened = reopen_private(fd, flags);
		if (reopened)
			posix |= PDX_ADDED_NB;
	}
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = event_data(fd, pd),
	};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		/* epoll refuses regular files and some devices: they keep
		 * their blocking mode and go through the blocking-call path.
		 * A private description goro opened goes back to blocking. */
		if (errno == EPERM) {
			if (reopened)
				fcntl(fd, F_SETFL, flags);
			pd->kind = PD_BLOCKING;
			pd->sock = PD_SOCK_NO;
			atomic_store_explicit(&pd->posix, posix & PDX_APP_NB,
					      RELAXED);
			return 0;
		}
		/* Still registered from an earlier life (closed with close()
		 * while a duplicate kept the file open): update it to the
		 * current sequence number. */
		if (errno != EEXIST ||
		    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
			return -errno;
	}
	if (percall) {
		posix |= PDX_PERCALL;
	} else if (!nonblocking) {
		/* A socket (or other file) someone else may share. */
		int err = switch_nonblocking(fd, pd, flags);
		if (err)
			return err;
		posix |= PDX_ADDED_NB;
	}
	atomic_store_explicit(&pd->posix, posix, RELAXED);
	pd->kind = PD_POLLED;
	return 0;
}

/* Caller holds pd->lock and knows fd is open: put O_NONBLOCK back as the
 * user left it, if goro changed it. */
static void restore_mode(int fd, struct poll_desc *pd)
{
	if (!pd->restore_blocking)
		return;
	pd->restore_blocking = false;
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

struct poll_desc *netpoll_hold(int fd, int *err)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd) {
		*err = -errno;
		return NULL;
	}
	uint32_t refs = atomic_load_explicit(&pd->refs, RELAXED);
	for (;;) {
		if (refs & PD_REF_CLOSING) {
			/* Either goro_close is waiting for calls on this very
			 * file (EBADF), or it holds the lock while it closes
			 * fd and resets the record, and this call is on a new
			 * file that reused the number: wait for the reset. */
			rlock_lock(&pd->lock);
			refs = atomic_load_explicit(&pd->refs, RELAXED);
			rlock_unlock(&pd->lock);
			if (refs & PD_REF_CLOSING) {
				*err = -EBADF;
				return NULL;
			}
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&pd->refs, &refs,
							  refs + 1, ACQUIRE,
							  RELAXED))
			return pd;
	}
}

struct poll_desc *netpoll_ref_mode(int fd, int *err, enum np_mode mode)
{
	struct poll_desc *pd = netpoll_hold(fd, err);
	if (!pd)
		return NULL;
	uint8_t k = atomic_load_explicit(&pd->kind, RELAXED);
	bool stale = atomic_load_explicit(&pd->stale, ACQUIRE);
	bool upgrade = mode == NP_NONBLOCK &&
		(atomic_load_explicit(&pd->posix, RELAXED) & PDX_PERCALL);
	if (__builtin_expect(k == PD_UNKNOWN || stale || upgrade, 0)) {
		struct g *gone = NULL;
		int e = 0;
		/* epoll's EPERM for a regular file is an answer, not an
		 * error: the call that succeeds leaves errno as it was. */
		int saved_errno = errno;
		rlock_lock(&pd->lock);
		if (atomic_exchange_explicit(&pd->stale, false, RELAXED)) {
			/* The number names another file now (or none). */
			epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			gone = forget_file(pd, PD_UNKNOWN, false);
		}
		if (pd->kind == PD_UNKNOWN) {
			e = register_fd(fd, pd, false, mode);
		} else if (mode == NP_NONBLOCK &&
			   (atomic_load_explicit(&pd->posix, RELAXED) &
			    PDX_PERCALL)) {
			/* An explicit goro_* call on a socket the
			 * interposers polled per call: its attempts assume
			 * O_NONBLOCK. */
			uint8_t px = atomic_load_explicit(&pd->posix, RELAXED);
			int flags = fcntl(fd, F_GETFL);
			e = flags < 0 ? -errno
				      : switch_nonblocking(fd, pd, flags);
			if (!e)
				atomic_store_explicit(&pd->posix,
					(px & ~PDX_PERCALL) | PDX_ADDED_NB,
					RELAXED);
		}
		rlock_unlock(&pd->lock);
		ready_all(gone);
		errno = saved_errno;
		if (e) {
			netpoll_unref(pd);
			*err = e;
			return NULL;
		}
	}
	return pd;
}

struct poll_desc *netpoll_ref(int fd, int *err)
{
	return netpoll_ref_mode(fd, err, NP_NONBLOCK);
}

struct poll_desc *netpoll_peek(int fd)
{
	if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS)
		return NULL;
	struct poll_desc *chunk = atomic_load_explicit(
		&pd_chunks[fd >> PD_CHUNK_SHIFT], ACQUIRE);
	return chunk ? &chunk[fd & (PD_CHUNK - 1)] : NULL;
}

void netpoll_forget(int fd)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd)
		return;
	rlock_lock(&pd->lock);
	struct g *stale = forget_file(pd, PD_UNKNOWN, false);
	rlock_unlock(&pd->lock);
	ready_all(stale);
}

void netpoll_mark_stale(int fd)
{
	struct poll_desc *pd = netpoll_peek(fd);
	if (pd && atomic_load_explicit(&pd->kind, RELAXED) != PD_UNKNOWN)
		atomic_store_explicit(&pd->stale, true, RELEASE);
}

void netpoll_set_app_nonblock(int fd, bool on)
{
	struct poll_desc *pd = netpoll_peek(fd);
	if (!pd)
		return;
	rlock_lock(&pd->lock);
	uint8_t px = atomic_load_explicit(&pd->posix, RELAXED);
	px = on ? px | PDX_APP_NB : px & ~PDX_APP_NB;
	atomic_store_explicit(&pd->posix, px, RELAXED);
	rlock_unlock(&pd->lock);
}

void netpoll_make_percall(int fd)
{
	struct poll_desc *pd = netpoll_peek(fd);
	if (!pd)
		return;
	rlock_lock(&pd->lock);
	if (pd->kind == PD_POLLED && pd->restore_blocking) {
		restore_mode(fd, pd);
		uint8_t px = atomic_load_explicit(&pd->posix, RELAXED);
		atomic_store_explicit(&pd->posix,
				      (px & ~PDX_ADDED_NB) | PDX_PERCALL,
				      RELAXED);
		pd->sock = PD_SOCK_YES;
	}
	rlock_unlock(&pd->lock);
}

void netpoll_unref(struct poll_desc *pd)
{
	uint32_t left = atomic_fetch_sub_explicit(&pd->refs, 1,
						  memory_order_acq_rel) - 1;
	if (left != PD_REF_CLOSING)
		return;
	/* The last call left a descriptor being closed: wake the closer,
	 * which checks the count again under the lock. */
	rlock_lock(&pd->lock);
	struct g *closer = pd->closer;
	pd->closer = NULL;
	rlock_unlock(&pd->lock);
	if (closer)
		sched_ready(closer, false);
}

/* Caller holds pd->lock: unlink every waiter matching `events`, give them
 * `result`, return their goroutines linked through schedlink.  With
 * `counted`, they go on counting in `waiting` until netpoll_delivered. */
static struct g *take_waiters(struct poll_desc *pd, uint32_t events,
			      int result, int32_t *count, bool counted)
{
	struct g *list = NULL;
	struct io_waiter **link = &pd->waiters;
	while (*link) {
		struct io_waiter *w = *link;
		if (!(w->events & events)) {
			link = &w->next;
			continue;
		}
		*link = w->next;
		w->result = result;
		w->g->schedlink = list;
		list = w->g;
		(*count)++;
		if (!counted)
			waiting_add(-1);
	}
	return list;
}

static void ready_all(struct g *list)
{
	while (list) {
		struct g *g = list;
		list = g->schedlink;
		g->schedlink = NULL;
		sched_ready(g, false);
	}
}

/*
 * Caller holds pd->lock.  The file pd described is gone (closed, or its
 * number reused): pd becomes `kind`, every attempt and event of the old
 * file goes stale, and its waiters are returned, failed with -EBADF, for
 * the caller to ready after the unlock.
 */
static struct g *forget_file(struct poll_desc *pd, enum pd_kind kind,
			     bool keep_deadlines)
{
	int32_t n = 0;
	struct g *stale = take_waiters(pd, EPOLLIN | EPOLLOUT, -EBADF, &n,
				       false);
	pd->seq++;
	pd->kind = kind;
	pd->sock = PD_SOCK_UNKNOWN;
	pd->restore_blocking = false;
	atomic_store_explicit(&pd->posix, 0, RELAXED);
	atomic_store_explicit(&pd->stale, false, RELAXED);
	if (!keep_deadlines) {
		atomic_store_explicit(&pd->rdeadline, 0, RELAXED);
		atomic_store_explicit(&pd->wdeadline, 0, RELAXED);
	}
	atomic_fetch_add_explicit(&pd->rgen, 1, RELAXED);
	atomic_fetch_add_explicit(&pd->wgen, 1, RELAXED);
	return stale;
}

int netpoll_open_fresh(int fd, bool already_nonblocking, bool keep)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd)
		return -errno;
	rlock_lock(&pd->lock);
	/* Any waiter left here waited on a file that no longer exists. */
	struct g *stale = forget_file(pd, PD_UNKNOWN, keep);
	int err = register_fd(fd, pd, already_nonblocking, NP_NONBLOCK);
	rlock_unlock(&pd->lock);
	ready_all(stale);
	return err;
}

static void wait_timeout(struct timer *t)
{
	struct io_waiter *w = t->arg;
	struct poll_desc *pd = w->pd;
	rlock_lock(&pd->lock);
	struct g *g = NULL;
	for (struct io_waiter **link = &pd->waiters; *link; link = &(*link)->next) {
		if (*link == w) {
			*link = w->next;
			w->result = -ETIMEDOUT;
			g = w->g;
			waiting_add(-1);
			break;
		}
	}
	rlock_unlock(&pd->lock);
	if (g)
		sched_ready(g, false);
	/* Last touch of *w: its goroutine may leave as soon as it sees this. */
	atomic_store_explicit(&w->timer_done, true, RELEASE);
}

/* Runs once the waiting goroutine is off the CPU.  The timer is armed
 * before the lock is released: once unlocked, a waker may resume the
 * goroutine, which then stops the timer. */
static void wait_commit(void *arg)
{
	struct io_waiter *w = arg;
	if (w->timed)
		timer_start(&w->timer);
	rlock_unlock(&w->pd->lock);
}

int netpoll_wait_locked(struct poll_desc *pd, uint32_t events,
			int64_t deadline_ns)
{
	struct io_waiter w = {
		.g = g_current(),
		.pd = pd,
		.events = events,
		.timed = deadline_ns > 0,
	};
	if (w.timed) {
		w.timer.when = deadline_ns;
		w.timer.fn = wait_timeout;
		w.timer.arg = &w;
	}
	w.next = pd->waiters;
	pd->waiters = &w;
	waiting_add(1);
	sched_park(WAIT_IO, wait_commit, &w);
	if (w.timed && !timer_stop(&w.timer)) {
		/* The callback has begun: it still reads w. */
		while (!atomic_load_explicit(&w.timer_done, ACQUIRE))
			arch_cpu_relax();
	}
	return w.result;
}

int netpoll_set_deadline(int fd, uint32_t dirs, int64_t deadline_ns)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd)
		return -errno;
	rlock_lock(&pd->lock);
	if (atomic_load_explicit(&pd->refs, RELAXED) & PD_REF_CLOSING) {
		rlock_unlock(&pd->lock);
		return -EBADF;
	}
	if (dirs & EPOLLIN)
		atomic_store_explicit(&pd->rdeadline, deadline_ns, RELAXED);
	if (dirs & EPOLLOUT)
		atomic_store_explicit(&pd->wdeadline, deadline_ns, RELAXED);
	/* Waiters parked with the old deadline look again: they fail at
	 * once if the new one has passed, else park with it. */
	int32_t n = 0;
	struct g *woken = take_waiters(pd, dirs, 0, &n, false);
	rlock_unlock(&pd->lock);
	ready_all(woken);
	return 0;
}

static void close_commit(void *arg)
{
	rlock_unlock(&((struct poll_desc *)arg)->lock);
}

int netpoll_close(int fd)
{
	struct poll_desc *pd = netpoll_desc(fd);
	if (!pd)
		return -errno;
	uint32_t old = atomic_fetch_or_explicit(&pd->refs, PD_REF_CLOSING,
						memory_order_acq_rel);
	if (old & PD_REF_CLOSING)
		return -EBADF;
	rlock_lock(&pd->lock);
	bool polled = pd->kind == PD_POLLED;
	/* Waiters fail with EBADF; calls between attempts see the closing
	 * bit and give up. */
	int32_t n = 0;
	struct g *list = take_waiters(pd, EPOLLIN | EPOLLOUT, -EBADF, &n,
				      false);
	rlock_unlock(&pd->lock);
	ready_all(list);

	/* Wait until every call in flight has left (Go's fd.decref). */
	rlock_lock(&pd->lock);
	while (atomic_load_explicit(&pd->refs, ACQUIRE) != PD_REF_CLOSING) {
		pd->closer = g_current();
		sched_park(WAIT_IO, close_commit, pd);
		rlock_lock(&pd->lock);
	}
	/* Nothing uses fd now.  The lock is held across close(): a call on
	 * a new file that reuses the number waits in netpoll_ref until the
	 * record is reset. */
	restore_mode(fd, pd);
	if (polled)
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	int r = close(fd);
	int err = r == 0 ? 0 : -errno;
	list = forget_file(pd, PD_UNKNOWN, false);
	atomic_store_explicit(&pd->refs, 0, RELEASE);
	rlock_unlock(&pd->lock);
	ready_all(list);
	/* close() fails with EINTR or EIO after releasing the number. */
	return err == -EINTR ? 0 : err;
}

/* ---- collecting ready goroutines -------------------------------------------- */

int32_t netpoll(int64_t delay_ns, struct g **list)
{
	*list = NULL;
	if (epfd < 0)
		return 0;
	struct epoll_event events[EVENTS_MAX];
	int n;
	if (no_pwait2) {
		/* Milliseconds, rounded up: waking early would only make the
		 * caller poll again at once. */
		int ms = -1;
		if (delay_ns >= 0)
			ms = delay_ns >= (int64_t)INT_MAX * 1000000 ? INT_MAX
				: (int)((delay_ns + 999999) / 1000000);
		n = epoll_wait(epfd, events, EVENTS_MAX, ms);
	} else {
		struct timespec ts, *tsp = NULL;
		if (delay_ns >= 0) {
			ts.tv_sec = delay_ns / 1000000000;
			ts.tv_nsec = delay_ns % 1000000000;
			tsp = &ts;
		}
		n = epoll_pwait2(epfd, events, EVENTS_MAX, tsp, NULL);
	}
	if (n < 0)
		return 0;  /* EINTR: the caller looks again */
	int32_t count = 0;
	struct g *head = NULL;
	for (int i = 0; i < n; i++) {
		uint64_t data = events[i].data.u64;
		if (data == BREAK_MARK) {
			uint64_t v;
			if (read(break_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				rt_fatal("netpoll: reading the eventfd: %s",
					 strerror(errno));
			atomic_store_explicit(&break_pending, false, RELEASE);
			continue;
		}
		int fd = (int)(uint32_t)data;
		uint32_t seq = (uint32_t)(data >> 32);
		uint32_t ev = events[i].events;
		uint32_t mask = (ev & READ_EVENTS ? EPOLLIN : 0) |
				(ev & WRITE_EVENTS ? EPOLLOUT : 0);
		struct poll_desc *pd = netpoll_desc(fd);
		if (!pd || !mask)
			continue;
		rlock_lock(&pd->lock);
		if (pd->seq == seq) {
			if (mask & EPOLLIN)
				atomic_fetch_add_explicit(&pd->rgen, 1, RELEASE);
			if (mask & EPOLLOUT)
				atomic_fetch_add_explicit(&pd->wgen, 1, RELEASE);
			struct g *ready = take_waiters(pd, mask, 0, &count,
						       true);
			while (ready) {
				struct g *g = ready;
				ready = g->schedlink;
				g->schedlink = head;
				head = g;
			}
		}
		rlock_unlock(&pd->lock);
	}
	*list = head;
	return count;
}

void netpoll_delivered(int32_t n)
{
	if (n > 0)
		waiting_add(-n);
}

void netpoll_break(void)
{
	if (break_fd < 0 ||
	    atomic_exchange_explicit(&break_pending, true, ACQUIRE))
		return;
	uint64_t one = 1;
	if (write(break_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rt_fatal("netpoll: writing the eventfd: %s", strerror(errno));
}

/* ---- who polls, and when ------------------------------------------------------ */

bool netpoll_should_poll(void)
{
	return atomic_load_explicit(&waiting, RELAXED) > 0 &&
	       atomic_load_explicit(&last_poll, RELAXED) != 0;
}

bool netpoll_block_begin(int64_t delay_ns)
{
	int64_t last = atomic_load_explicit(&last_poll, RELAXED);
	if (last == 0 || epfd < 0 ||
	    !atomic_compare_exchange_strong_explicit(&last_poll, &last, 0,
						     ACQUIRE, RELAXED))
		return false;
	atomic_store_explicit(&poll_until,
			      delay_ns < 0 ? INT64_MAX : rt_now() + delay_ns,
			      RELEASE);
	return true;
}

void netpoll_block_end(void)
{
	atomic_store_explicit(&poll_until, 0, RELAXED);
	atomic_store_explicit(&last_poll, rt_now(), RELEASE);
}

int64_t netpoll_last_poll(void)
{
	return atomic_load_explicit(&last_poll, RELAXED);
}

bool netpoll_claim_poll(int64_t last)
{
	return last != 0 &&
	       atomic_compare_exchange_strong_explicit(&last_poll, &last,
						       rt_now(), RELAXED,
						       RELAXED);
}

bool netpoll_wake_for_deadline(int64_t when)
{
	if (atomic_load_explicit(&last_poll, ACQUIRE) != 0)
		return false;
	int64_t until = atomic_load_explicit(&poll_until, ACQUIRE);
	if (until == 0 || until > when)
		netpoll_break();
	return true;
}

int64_t netpoll_waiting(void)
{
	return atomic_load_explicit(&waiting, RELAXED);
}
