/* SPDX-License-Identifier: MIT */
/*
 * check_blocking.c — runtime calls made inside a blocking region
 * (goro_blocking_enter/exit, GORO_BLOCKING).
 *
 * Every goro call there takes a P back for its own duration and the region
 * goes on without one when it returns (Go's callback from a cgo call).
 * Each test runs in its own forked child: before this worked, the calls
 * below crashed with SIGSEGV on a NULL P.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "testutil.h"

#define MS (1000 * 1000LL)

/* ---- one call each -------------------------------------------------------- */

static int yield_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_blocking_enter();
	for (int i = 0; i < 100; i++)
		goro_yield();
	goro_blocking_exit();
	return 7;
}

static void yield_in_region(int procs)
{
	ck_assert_int_eq(run_goro(yield_main, procs), 7);
}

START_TEST(yield_in_region_1p) { yield_in_region(1); }
END_TEST
START_TEST(yield_in_region_2p) { yield_in_region(2); }
END_TEST

static int sleep_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int64_t t0 = goro_now();
	goro_blocking_enter();
	goro_sleep(2 * MS);
	goro_blocking_exit();
	/* A real sleep, not a return straight away. */
	return goro_now() - t0 >= 2 * MS ? 0 : 1;
}

START_TEST(sleep_in_region)
{
	ck_assert_int_eq(run_goro(sleep_main, 2), 0);
}
END_TEST

/* Sends 1..n on c, sleeping a little first, so the receiver parks. */
struct sender {
	goro_chan_t *c;
	int n;
};

static void send_later(void *arg)
{
	/* Copied: once the last value is taken, the receiver returns and
	 * *arg (in its frame) is gone while this loop still tests i <= n. */
	const struct sender s = *(const struct sender *)arg;
	goro_sleep(1 * MS);
	for (int i = 1; i <= s.n; i++)
		goro_chan_send(s.c, &i);
}

static int recv_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	if (!c)
		return 10;
	struct sender s = { c, 50 };
	int sum = 0;
	/* The whole exchange, spawn included, from inside the region: every
	 * receive parks on the empty unbuffered channel. */
	GORO_BLOCKING(goro_go(send_later, &s));
	for (int i = 0; i < s.n; i++) {
		int v = 0;
		if (GORO_BLOCKING(goro_chan_recv(c, &v)) != 1)
			return 11;
		sum += v;
	}
	goro_chan_free(c);
	return sum == 50 * 51 / 2 ? 0 : 12;
}

START_TEST(chan_recv_in_region_1p)
{
	ck_assert_int_eq(run_goro(recv_main, 1), 0);
}
END_TEST

START_TEST(chan_recv_in_region_2p)
{
	ck_assert_int_eq(run_goro(recv_main, 2), 0);
}
END_TEST

/* ---- a goroutine that parks inside the region, and what follows ------------ */

/* Parks in a receive in the middle of a region (waking, perhaps, on
 * another thread), then the region goes on: a plain read() of a pipe. */
struct parker {
	goro_chan_t *wake;
	goro_chan_t *done;
	int pipe_r;
	int nested;
	_Atomic int64_t id;
	int errno_after;
};

static void parker(void *arg)
{
	struct parker *p = arg;
	goro_blocking_enter();
	if (p->nested) {
		goro_blocking_enter();
		goro_blocking_enter();
		goro_yield();
		goro_blocking_exit();
	}
	int v;
	errno = EDOM;
	goro_chan_recv(p->wake, &v);  /* parks: nothing sent yet */
	int e = errno;
	if (p->nested)
		goro_blocking_exit();  /* still inside the outermost region */
	atomic_store(&p->id, goro_self());
	char b;
	ssize_t n = read(p->pipe_r, &b, 1);
	goro_blocking_exit();
	p->errno_after = e;
	int ok = n == 1 && b == 'x';
	goro_chan_send(p->done, &ok);
}

/* Does goro_dump show goroutine id in a system call? */
static bool dump_shows_syscall(int64_t id)
{
	int fd = memfd_create("dump", 0);
	if (fd < 0)
		return false;
	goro_dump(fd);
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)len + 1);
	bool found = false;
	if (buf && pread(fd, buf, (size_t)len, 0) == len) {
		char want[64];
		snprintf(want, sizeof(want), "goroutine %lld [syscall",
			 (long long)id);
		found = strstr(buf, want) != NULL;
	}
	free(buf);
	close(fd);
	return found;
}

static int parker_run(int nested)
{
	int fds[2];
	if (pipe(fds) != 0)
		return 20;
	struct parker p = {
		.wake = goro_chan_make(sizeof(int), 0),
		.done = goro_chan_make(sizeof(int), 0),
		.pipe_r = fds[0],
		.nested = nested,
	};
	goro_go(parker, &p);
	goro_sleep(2 * MS);  /* let it park in the receive */
	int v = 1;
	goro_chan_send(p.wake, &v);
	/* Its region must go on without a P after the receive: it shows as
	 * in a system call.  Bounded wait; a hang is a failure. */
	bool in_syscall = false;
	for (int i = 0; i < 2000 && !in_syscall; i++) {
		int64_t id = atomic_load(&p.id);
		if (id > 0)
			in_syscall = dump_shows_syscall(id);
		if (!in_syscall)
			goro_sleep(5 * MS);
	}
	if (write(fds[1], "x", 1) != 1)
		return 21;
	int ok = 0;
	goro_chan_recv(p.done, &ok);
	close(fds[0]);
	close(fds[1]);
	if (!in_syscall)
		return 22;
	if (!ok)
		return 23;
	if (p.errno_after != EDOM)
		return 24;
	return 0;
}

static int park_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return parker_run(0);
}

static int nested_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return parker_run(1);
}

START_TEST(park_then_region_goes_on)
{
	ck_assert_int_eq(run_goro(park_main, 2), 0);
}
END_TEST

START_TEST(park_then_region_goes_on_1p)
{
	ck_assert_int_eq(run_goro(park_main, 1), 0);
}
END_TEST

START_TEST(nested_regions)
{
	ck_assert_int_eq(run_goro(nested_main, 2), 0);
}
END_TEST

/* ---- errno ----------------------------------------------------------------- */

static int errno_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_blocking_enter();
	errno = ERANGE;
	goro_yield();
	goro_sleep(1 * MS);
	int e1 = errno;
	errno = EILSEQ;           /* as a failing blocking call leaves it */
	goro_blocking_exit();
	int e2 = errno;
	/* A failing blocking call's errno reaches the caller of
	 * GORO_BLOCKING after a callback, too. */
	int fd = -1;
	ssize_t r = GORO_BLOCKING((goro_yield(), read(fd, &fd, 1)));
	int e3 = errno;
	if (e1 != ERANGE)
		return 30;
	if (e2 != EILSEQ)
		return 31;
	if (r != -1 || e3 != EBADF)
		return 32;
	return 0;
}

START_TEST(errno_kept)
{
	ck_assert_int_eq(run_goro(errno_main, 2), 0);
}
END_TEST

/* ---- a goroutine that ends inside its region ---------------------------------- */

static void exit_inside(void *arg)
{
	goro_chan_t *c = arg;
	int v = 5;
	goro_blocking_enter();
	goro_chan_send(c, &v);
	goro_exit();  /* the region ends with the goroutine */
}

static int exit_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	int sum = 0;
	for (int i = 0; i < 20; i++) {
		int v = 0;
		if (goro_go(exit_inside, c) <= 0 || goro_chan_recv(c, &v) != 1)
			return 50;
		sum += v;
	}
	/* Every M those goroutines ran on is fit for work, in and out of
	 * regions. */
	for (int i = 0; i < 200; i++) {
		goro_blocking_enter();
		goro_yield();
		goro_blocking_exit();
	}
	goro_chan_free(c);
	return sum == 100 ? 0 : 51;
}

START_TEST(goroutine_exits_in_region)
{
	ck_assert_int_eq(run_goro(exit_main, 2), 0);
}
END_TEST

/* ---- many goroutines, callbacks against sysmon's hand-offs -------------------- */

#define STRESS_G 8
#define STRESS_ROUNDS 300

struct stress {
	goro_chan_t *c;
	goro_wg_t *wg;
};

static void stress_worker(void *arg)
{
	struct stress *s = arg;
	for (int i = 0; i < STRESS_ROUNDS; i++) {
		goro_blocking_enter();
		int v = i;
		goro_chan_send(s->c, &v);
		if (i % 16 == 0)
			usleep(100);  /* long enough for sysmon to take the P */
		goro_yield();
		goro_blocking_exit();
	}
	goro_wg_done(s->wg);
}

static int stress_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_t wg = GORO_WG_INIT;
	struct stress s = { goro_chan_make(sizeof(int), 4), &wg };
	goro_wg_add(&wg, STRESS_G);
	for (int i = 0; i < STRESS_G; i++)
		goro_go(stress_worker, &s);
	long sum = 0;
	for (int i = 0; i < STRESS_G * STRESS_ROUNDS; i++) {
		int v;
		if (GORO_BLOCKING(goro_chan_recv(s.c, &v)) != 1)
			return 40;
		sum += v;
	}
	goro_wg_wait(&wg);
	return sum == (long)STRESS_G * (STRESS_ROUNDS - 1) * STRESS_ROUNDS / 2
	       ? 0 : 41;
}

START_TEST(stress_1p)
{
	ck_assert_int_eq(run_goro(stress_main, 1), 0);
}
END_TEST

START_TEST(stress_2p)
{
	ck_assert_int_eq(run_goro(stress_main, 2), 0);
}
END_TEST

/* ---- leaving a region whose P was taken, against the deadlock check ------------- */

/*
 * A goroutine leaving a region whose P sysmon handed on, with no idle P,
 * goes to the global queue.  It must count as waiting on the outside world
 * until it is in that queue: an M giving up the last P meanwhile found
 * nothing to run, no one blocked, and declared a deadlock.
 */
#define REQUEUE_G 4
#define REQUEUE_ROUNDS 400

static void requeue_worker(void *arg)
{
	goro_chan_t *c = arg;
	for (int i = 0; i < REQUEUE_ROUNDS; i++) {
		GORO_BLOCKING(usleep(50));
		goro_chan_send(c, &i);
	}
}

static int requeue_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	for (int i = 0; i < REQUEUE_G; i++)
		goro_go(requeue_worker, c);
	long sum = 0;
	for (int i = 0; i < REQUEUE_G * REQUEUE_ROUNDS; i++) {
		int v;
		goro_chan_recv(c, &v);  /* parks: this M gives its P up */
		sum += v;
	}
	return sum == (long)REQUEUE_G * (REQUEUE_ROUNDS - 1) * REQUEUE_ROUNDS / 2
	       ? 0 : 60;
}

/* The window is short: several runs (a false deadlock exits with 2). */
#define REQUEUE_RUNS 10

START_TEST(region_exit_requeue_1p)
{
	for (int i = 0; i < REQUEUE_RUNS; i++)
		ck_assert_int_eq(run_goro(requeue_main, 1), 0);
}
END_TEST

START_TEST(region_exit_requeue_2p)
{
	for (int i = 0; i < REQUEUE_RUNS; i++)
		ck_assert_int_eq(run_goro(requeue_main, 2), 0);
}
END_TEST

static Suite *blocking_suite(void)
{
	Suite *s = suite_create("blocking");
	TCase *tc = tcase_create("callbacks");
	tcase_add_test(tc, yield_in_region_1p);
	tcase_add_test(tc, yield_in_region_2p);
	tcase_add_test(tc, sleep_in_region);
	tcase_add_test(tc, chan_recv_in_region_1p);
	tcase_add_test(tc, chan_recv_in_region_2p);
	tcase_add_test(tc, park_then_region_goes_on);
	tcase_add_test(tc, park_then_region_goes_on_1p);
	tcase_add_test(tc, nested_regions);
	tcase_add_test(tc, errno_kept);
	tcase_add_test(tc, goroutine_exits_in_region);
	tcase_add_test(tc, stress_1p);
	tcase_add_test(tc, stress_2p);
	tcase_add_test(tc, region_exit_requeue_1p);
	tcase_add_test(tc, region_exit_requeue_2p);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(blocking_suite)
