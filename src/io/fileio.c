/* SPDX-License-Identifier: MIT */
/*
 * fileio.c — the file I/O engine (see fileio.h): one request, two back
 * ends, one way of parking.
 *
 * Why this shape.  A goroutine must not hold its P while a disk works,
 * and epoll cannot tell when a disk is done.  io_uring can: the request
 * goes into the ring, the goroutine parks, and a completion thread (the
 * reaper) readies it when the kernel posts the result.  Where io_uring is
 * refused, a bounded pool of plain threads (src/io/workpool.c) makes the
 * call and readies the goroutine the same way.  Rejected: an eventfd per
 * request on the netpoller (two more system calls a request, and a
 * descriptor each); one ring per P (a goroutine parks and resumes on
 * different Ps, and the reaper would have to watch them all); the ring's
 * eventfd in the netpoller (completions would wait for an idle M to poll,
 * while a busy program polls only every 10 ms from sysmon).
 *
 * Parking.  The request (struct waiter) lives on the goroutine's stack;
 * the goroutine parks on its outside_wait (src/sched/outside_wait.h),
 * and the completer stores the result, then marks it done, which readies
 * the goroutine.  That mark is its last touch of the waiter: the goroutine
 * may return (freeing the waiter) as soon as it sees it.

 * The ring.  One ring per goro_main run, set up by the first file call
 * (or at start with GORO_FILEIO=uring), its submission side under
 * `ring.sq_lock` (any M submits), its completion side owned by the reaper
 * alone.  Each submission is entered at once, so the submission queue
 * never holds more than one entry; requests in flight are bounded by the
 * completion queue's size (`ring.inflight`), beyond which they go to the
 * pool rather than overflow it.  A read or write the kernel answers with
 * EAGAIN (a file the user opened O_NONBLOCK) is made again on the pool,
 * where it blocks as read(2) does.  Reads and writes at the file position
 * (goro_read, goro_write) always go to the pool: the ring's "current
 * position" offset (-1) does not take the file's position lock as read(2)
 * does, so two goroutines reading one descriptor could get the same bytes.
 * So does open: the ring tries it with O_NONBLOCK first, and a FIFO
 * opened so does not wait for a writer as open(2) does.  Explicit
 * offsets, fsync and stat go to the ring.
 *
 * The end of a run.  fileio_teardown waits until `pending` (requests
 * handed to either back end, not yet completed) is zero, after asking the
 * ring to cancel what it still holds: a buffer on a goroutine stack must
 * not be written after goro_main frees the stacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "m.h"
#include "outside_wait.h"
#include "scheduler.h"
#include "stack.h"
#include "workpool.h"
#include <goro.h>

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release
#define ACQ_REL memory_order_acq_rel

#define RING_ENTRIES 256          /* submission queue; completion: twice */
#define STOP_MARK 1               /* user_data of the reaper's stop NOP */
#define CANCEL_MARK 2             /* user_data of the teardown's cancel */

struct waiter {
	struct workpool_job job;     /* on the pool */
	const struct fileio_req *req;
	struct outside_wait ow;      /* the goroutine's wait for it */
	ssize_t res;                 /* written before it is done */
	struct statx stx;            /* the ring's STAT and FSTAT answer */
};

enum ring_state { RING_UNTRIED, RING_UP, RING_REFUSED };

static struct {
	pthread_mutex_t setup_lock;  /* RING_UNTRIED -> UP/REFUSED, teardown */
	_Atomic int state;           /* enum ring_state, for this run */
	int refused;                 /* errno of the refusal */
	pthread_mutex_t sq_lock;     /* the submission side */
	struct io_uring ring;
	unsigned cq_entries;
	_Atomic unsigned inflight;   /* entries submitted, not reaped */
	bool op_ok[FILEIO_FSTAT + 1];  /* the ring's ops: FILEIO_CALL never is */
	pthread_t reaper;
} ring = { .setup_lock = PTHREAD_MUTEX_INITIALIZER, .state = RING_UNTRIED,
	   .sq_lock = PTHREAD_MUTEX_INITIALIZER };

static struct workpool pool = WORKPOOL_INIT(FILEIO_THREADS_MAX, "goro-fileio");

/* Requests handed to a back end and not yet completed (teardown waits). */
static _Atomic int64_t pending;

/* ---- completing ------------------------------------------------------------- */

static void complete(struct waiter *w, ssize_t res)
{
	w->res = res;
	outside_wait_done(&w->ow);
	atomic_fetch_sub_explicit(&pending, 1, RELEASE);
}

/* ---- the thread pool ---------------------------------------------------------- */

static ssize_t syscall_result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

/* The call itself, as libc makes it: the pool's work, and the last
 * resort when neither back end can take a request. */
static ssize_t call_here(const struct fileio_req *q)
{
	size_t n = q->n > FILEIO_CHUNK_MAX ? FILEIO_CHUNK_MAX : q->n;
	for (;;) {
		ssize_t r;
		switch (q->op) {
		case FILEIO_READ:
			r = q->off < 0 ? read(q->fd, q->buf, n)
				       : pread(q->fd, q->buf, n, q->off);
			break;
		case FILEIO_WRITE:
			r = q->off < 0 ? write(q->fd, q->buf, n)
				       : pwrite(q->fd, q->buf, n, q->off);
			break;
		case FILEIO_FSYNC:
			r = fsync(q->fd);
			break;
		case FILEIO_FDATASYNC:
			r = fdatasync(q->fd);
			break;
		case FILEIO_OPEN:
			r = open(q->path, q->flags, q->mode);
			break;
		case FILEIO_STAT:
			r = stat(q->path, q->st);
			break;
		case FILEIO_FSTAT:
			r = fstat(q->fd, q->st);
			break;
		case FILEIO_CALL:
			r = q->call(q->fd, q->ctx);
			break;
		default:
			return -EINVAL;
		}
		r = syscall_result(r);
		if (r != -EINTR)
			return r;
	}
}

static void pool_run(struct workpool_job *job)
{
	struct waiter *w = (struct waiter *)
		((char *)job - offsetof(struct waiter, job));
	complete(w, call_here(w->req));
}

/* ---- the ring ------------------------------------------------------------------- */

static void stat_from_statx(struct stat *st, const struct statx *x)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_ino = x->stx_ino;
	st->st_mode = x->stx_mode;
	st->st_nlink = x->stx_nlink;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->st_size = (off_t)x->stx_size;
	st->st_blksize = (blksize_t)x->stx_blksize;
	st->st_blocks = (blkcnt_t)x->stx_blocks;
	st->st_atim.tv_sec = x->stx_atime.tv_sec;
	st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
	st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

static bool pool_submit(struct waiter *w)
{
	w->job.run = pool_run;
	return workpool_submit(&pool, &w->job);
}

/* The reaper's verdict on one completion of the ring. */
static void ring_done(struct waiter *w, int res)
{
	const struct fileio_req *q = w->req;
	if (res == -EAGAIN &&
	    (q->op == FILEIO_READ || q->op == FILEIO_WRITE) && pool_submit(w))
		return;  /* O_NONBLOCK file: block on the pool instead */
	if (res >= 0 && (q->op == FILEIO_STAT || q->op == FILEIO_FSTAT))
		stat_from_statx(q->st, &w->stx);
	complete(w, res);
}

static void *reaper_main(void *arg)
{
	(void)arg;
	/* Blocked here, not around pthread_create: the ring is set up by a
	 * goroutine, whose stack grows through SIGSEGV. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_setname_np(pthread_self(), "goro-uring");
	bool stop = false;
	while (!stop) {
		struct io_uring_cqe *cqe;
		int err = io_uring_wait_cqe(&ring.ring, &cqe);
		if (err == -EINTR || err == -EAGAIN)
			continue;
		if (err < 0) {
			rt_fatal("fileio: waiting for io_uring completions: %s",
				 strerror(-err));
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring.ring, head, cqe) {
			uint64_t data = cqe->user_data;
			int res = cqe->res;
			seen++;
			if (data == STOP_MARK)
				stop = true;
			else if (data != CANCEL_MARK)
				ring_done((struct waiter *)(uintptr_t)data, res);
		}
		io_uring_cq_advance(&ring.ring, seen);
		atomic_fetch_sub_explicit(&ring.inflight, seen, RELAXED);
	}
	return NULL;
}

/* Can this process use io_uring?  0, or the errno that says why not. */
static int ring_setup(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	if (f) {
		int v = 0;
		bool got = fscanf(f, "%d", &v) == 1;
		fclose(f);
		/* 1 admits members of io_uring_group only: setup will say. */
		if (got && v == 2)
			return EPERM;
	}
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int err = io_uring_queue_init_params(RING_ENTRIES, &ring.ring, &p);
	if (err < 0)
		return -err;
	ring.cq_entries = p.cq_entries;
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ring.ring);
	if (!probe) {
		io_uring_queue_exit(&ring.ring);
		return ENOSYS;
	}
	static const int opcode[] = {
		[FILEIO_READ] = IORING_OP_READ,
		[FILEIO_WRITE] = IORING_OP_WRITE,
		[FILEIO_FSYNC] = IORING_OP_FSYNC,
		[FILEIO_FDATASYNC] = IORING_OP_FSYNC,
		[FILEIO_OPEN] = IORING_OP_OPENAT,
		[FILEIO_STAT] = IORING_OP_STATX,
		[FILEIO_FSTAT] = IORING_OP_STATX,
	};
	for (int op = 0; op <= FILEIO_FSTAT; op++)
		ring.op_ok[op] = io_uring_opcode_supported(probe, opcode[op]);
	io_uring_free_probe(probe);
	atomic_store_explicit(&ring.inflight, 0, RELAXED);
	err = pthread_create(&ring.reaper, NULL, reaper_main, NULL);
	if (err) {
		io_uring_queue_exit(&ring.ring);
		return err;
	}
	return 0;
}

/* The ring for this run, set up on first use: true if it is up. */
static bool ring_ready(void)
{
	int s = atomic_load_explicit(&ring.state, ACQUIRE);
	if (__builtin_expect(s != RING_UNTRIED, 1))
		return s == RING_UP;
	pthread_mutex_lock(&ring.setup_lock);
	s = atomic_load_explicit(&ring.state, RELAXED);
	if (s == RING_UNTRIED) {
		int err = ring_setup();
		ring.refused = err;
		s = err ? RING_REFUSED : RING_UP;
		atomic_store_explicit(&ring.state, s, RELEASE);
	}
	pthread_mutex_unlock(&ring.setup_lock);
	return s == RING_UP;
}

/* Enter what is in the submission queue; sq_lock held.  A full completion
 * queue (EBUSY) or a short kernel allocation (EAGAIN) pass once the reaper
 * has caught up. */
static void ring_enter_locked(void)
{
	for (;;) {
		int r = io_uring_submit(&ring.ring);
		if (r >= 0)
			return;
		if (r != -EINTR && r != -EAGAIN && r != -EBUSY)
			rt_fatal("fileio: io_uring_submit: %s", strerror(-r));
		if (r != -EINTR)
			sched_yield();
	}
}

/* Hand w to the ring: false if the ring cannot take it (the pool will). */
static bool ring_submit(struct waiter *w)
{
	const struct fileio_req *q = w->req;
	/* open(2) on the pool: the ring first tries an open with
	 * O_NONBLOCK, and a FIFO opened that way does not wait for its
	 * other end as open(2) does.  Any other call is the pool's too. */
	if (q->op == FILEIO_OPEN || q->op == FILEIO_CALL)
		return false;
	/* At the file position: read(2) and write(2) on the pool, which
	 * take the file's position lock; the ring's "current position"
	 * offset does not, and two reads in flight would get the same
	 * bytes. */
	if (!ring.op_ok[q->op] || ((q->op == FILEIO_READ ||
				    q->op == FILEIO_WRITE) && q->off < 0))
		return false;
	unsigned in = atomic_fetch_add_explicit(&ring.inflight, 1, RELAXED);
	if (in >= ring.cq_entries) {
		atomic_fetch_sub_explicit(&ring.inflight, 1, RELAXED);
		return false;
	}
	unsigned n = (unsigned)(q->n > FILEIO_CHUNK_MAX ? FILEIO_CHUNK_MAX : q->n);
	uint64_t off = (uint64_t)q->off;
	pthread_mutex_lock(&ring.sq_lock);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring.ring);
	if (!sqe) {
		/* Never full (each entry is entered at once), but a stray
		 * failed enter would leave one: enter it, then retry. */
		ring_enter_locked();
		sqe = io_uring_get_sqe(&ring.ring);
	}
	if (!sqe) {
		pthread_mutex_unlock(&ring.sq_lock);
		atomic_fetch_sub_explicit(&ring.inflight, 1, RELAXED);
		return false;
	}
	switch (q->op) {
	case FILEIO_READ:
		io_uring_prep_read(sqe, q->fd, q->buf, n, off);
		break;
	case FILEIO_WRITE:
		io_uring_prep_write(sqe, q->fd, q->buf, n, off);
		break;
	case FILEIO_FSYNC:
		io_uring_prep_fsync(sqe, q->fd, 0);
		break;
	case FILEIO_FDATASYNC:
		io_uring_prep_fsync(sqe, q->fd, IORING_FSYNC_DATASYNC);
		break;
	case FILEIO_OPEN:
		io_uring_prep_openat(sqe, AT_FDCWD, q->path, q->flags, q->mode);
		break;
	case FILEIO_STAT:
		io_uring_prep_statx(sqe, AT_FDCWD, q->path, 0,
				    STATX_BASIC_STATS, &w->stx);
		break;
	case FILEIO_FSTAT:
		io_uring_prep_statx(sqe, q->fd, "", AT_EMPTY_PATH,
				    STATX_BASIC_STATS, &w->stx);
		break;
	case FILEIO_CALL:
		break;  /* not reached: the pool's (above) */
	}
	/* Straight to the kernel's workers: a read the page cache can answer
	 * would otherwise be copied inside io_uring_enter, by this M, while
	 * it holds its P. */
	if (q->op == FILEIO_READ || q->op == FILEIO_WRITE)
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)w);
	ring_enter_locked();
	pthread_mutex_unlock(&ring.sq_lock);
	return true;
}

/* A marker entry (no waiter): the reaper's stop, the teardown's cancel. */
static void ring_submit_mark(uint64_t mark)
{
	pthread_mutex_lock(&ring.sq_lock);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring.ring);
	if (!sqe) {
		ring_enter_locked();
		sqe = io_uring_get_sqe(&ring.ring);
	}
	if (mark == CANCEL_MARK)
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ALL |
					       IORING_ASYNC_CANCEL_ANY);
	else
		io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, mark);
	atomic_fetch_add_explicit(&ring.inflight, 1, RELAXED);
	ring_enter_locked();
	pthread_mutex_unlock(&ring.sq_lock);
}

/* ---- the engine ------------------------------------------------------------------ */

ssize_t fileio_run(const struct fileio_req *req)
{
	struct waiter w = { .req = req };
	/* The ring writes w.stx, which may lie in a page of this frame the
	 * stack has not committed yet. */
	stack_commit_range(&w, sizeof(w));
	outside_wait_begin(&w.ow);
	atomic_fetch_add_explicit(&pending, 1, RELAXED);
	/* Not stopped while holding the ring's or the pool's lock: code
	 * outside libgoro (liburing, libc) may be preempted with its thread,
	 * which then waits for a P that the lock's other takers hold; and a
	 * goroutine pulled out of the lock's futex at exit would leave
	 * `pending` counting a request never made. */
	rlock_section_begin();
	bool taken = (config.fileio != FILEIO_MODE_THREADS && ring_ready() &&
		      ring_submit(&w)) || pool_submit(&w);
	rlock_section_end();
	if (!taken) {
		/* No ring and no pool thread at all: the call blocks this
		 * thread, with the P lent out as for any blocking call. */
		atomic_fetch_sub_explicit(&pending, 1, RELAXED);
		outside_wait_cancel(&w.ow);
		ssize_t r;
		GORO_BLOCKING_DO(r = call_here(req));
		return r;
	}
	outside_wait_park(&w.ow, WAIT_IO);  /* never abandoned */
	return w.res;
}

/* ---- a goro_main run's start and end ------------------------------------------------ */

int fileio_init(void)
{
	atomic_store_explicit(&ring.state, RING_UNTRIED, RELAXED);
	if (config.fileio != FILEIO_MODE_URING)
		return 0;
	if (ring_ready())
		return 0;
	fprintf(stderr, "goro: GORO_FILEIO=uring, but io_uring is refused: "
			"%s\n", strerror(ring.refused));
	return -ring.refused;
}

void fileio_teardown(void)
{
	pthread_mutex_lock(&ring.setup_lock);
	bool up = atomic_load_explicit(&ring.state, RELAXED) == RING_UP;
	/* Goroutines parked here are never resumed; their stacks are
	 * freed next.  Cancel what the ring still holds (a FIFO open, a
	 * read the disk is slow with), and wait for every request. */
	if (up && atomic_load_explicit(&pending, ACQUIRE) > 0)
		ring_submit_mark(CANCEL_MARK);
	while (atomic_load_explicit(&pending, ACQUIRE) > 0) {
		struct timespec ts = { 0, 200 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (up && m_exit_frozen()) {
		/* The run's threads were left frozen (src/sched/m.c,
		 * m_end_all): so is the reaper, asleep on its empty ring, which
		 * is left to it, since a thread's ending may wait for a lock
		 * an abandoned goroutine holds. */
	} else if (up) {
		ring_submit_mark(STOP_MARK);
		pthread_join(ring.reaper, NULL);
		io_uring_queue_exit(&ring.ring);
	}
	atomic_store_explicit(&ring.state, RING_UNTRIED, RELEASE);
	pthread_mutex_unlock(&ring.setup_lock);
}
