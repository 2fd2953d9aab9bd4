/* SPDX-License-Identifier: MIT */
/*
 * check_timerapi.c — goro_timer_t, goro_after_func and goro_ticker_t as
 * Go's Timer, AfterFunc and Ticker: a timer's channel gets goro_now() at
 * firing and never before its deadline; stop and reset report whether the
 * timer was active and leave no stale value; a ticker drops ticks for a
 * slow receiver; timers under load fire, never early; bad input and
 * freed objects give -EINVAL / -EBADF.
 *
 * No test asserts an upper bound on a delay: "never early" is exact, and
 * waits for a value use a generous select timeout only to fail instead of
 * hanging.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define MS 1000000LL
#define PATIENCE (20000 * MS)  /* a value that never comes: fail, not hang */

static int recv_i64(goro_chan_t *c, int64_t *v)
{
	goro_case_t cs = { .chan = c, .dir = GORO_RECV, .elem = v };
	return goro_select(&cs, 1, PATIENCE);
}

/* ---- one-shot timers ------------------------------------------------------- */

static int fires_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int64_t t0 = goro_now();
	goro_timer_t *t = goro_timer_new(5 * MS);
	ck_assert_ptr_nonnull(t);
	goro_chan_t *c = goro_timer_chan(t);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(goro_chan_elem_size(c), sizeof(int64_t));
	int64_t v = 0;
	ck_assert_int_eq(recv_i64(c, &v), 0);
	ck_assert_int_ge(v, t0 + 5 * MS);  /* never early */
	ck_assert_int_le(v, goro_now());   /* the time at firing */
	ck_assert_int_eq(goro_timer_stop(t), 0);  /* fired and received */
	ck_assert_int_eq(goro_timer_free(t), 0);

	/* Zero: fires at once. */
	t = goro_timer_new(0);
	ck_assert_int_eq(recv_i64(goro_timer_chan(t), &v), 0);
	goro_timer_free(t);
	return 0;
}

START_TEST(timer_fires_with_time_of_firing)
{
	ck_assert_int_eq(run_goro(fires_main, 2), 0);
}
END_TEST

static int stop_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int64_t v;
	/* Stopped before it fires: 1, then 0; nothing ever arrives. */
	goro_timer_t *t = goro_timer_new(3 * MS);
	ck_assert_int_eq(goro_timer_stop(t), 1);
	ck_assert_int_eq(goro_timer_stop(t), 0);
	goro_sleep(10 * MS);
	ck_assert_int_eq(goro_chan_tryrecv(goro_timer_chan(t), &v), -EAGAIN);
	goro_timer_free(t);

	/* Fired, value not received: stop still reports 1 and discards
	 * it (Go 1.23), so `if (!stop) receive` cannot block. */
	t = goro_timer_new(1 * MS);
	goro_chan_t *c = goro_timer_chan(t);
	while (goro_chan_len(c) == 0)
		goro_sleep(1 * MS);
	ck_assert_int_eq(goro_timer_stop(t), 1);
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), -EAGAIN);
	goro_timer_free(t);

	/* Reset of a pending timer: 1, fires at the new time only. */
	int64_t t0 = goro_now();
	t = goro_timer_new(3600 * 1000 * MS);
	ck_assert_int_eq(goro_timer_reset(t, 2 * MS), 1);
	ck_assert_int_eq(recv_i64(goro_timer_chan(t), &v), 0);
	ck_assert_int_ge(v, t0 + 2 * MS);
	/* Reset after it fired and was received: 0, fires again. */
	t0 = goro_now();
	ck_assert_int_eq(goro_timer_reset(t, 1 * MS), 0);
	ck_assert_int_eq(recv_i64(goro_timer_chan(t), &v), 0);
	ck_assert_int_ge(v, t0 + 1 * MS);
	/* Reset with a value waiting: 1, the stale value is gone. */
	ck_assert_int_eq(goro_timer_reset(t, 0), 0);
	while (goro_chan_len(goro_timer_chan(t)) == 0)
		goro_sleep(1 * MS);
	t0 = goro_now();
	ck_assert_int_eq(goro_timer_reset(t, 2 * MS), 1);
	ck_assert_int_eq(recv_i64(goro_timer_chan(t), &v), 0);
	ck_assert_int_ge(v, t0 + 2 * MS);
	goro_timer_free(t);
	return 0;
}

START_TEST(timer_stop_and_reset_report_activity)
{
	ck_assert_int_eq(run_goro(stop_main, 2), 0);
}
END_TEST

/* ---- AfterFunc ---------------------------------------------------------------- */

static goro_chan_t *af_chan;

static void af_fn(void *arg)
{
	int64_t id = goro_self();
	ck_assert_ptr_eq(arg, &af_chan);
	goro_chan_send(af_chan, &id);
}

static int after_func_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	af_chan = goro_chan_make(sizeof(int64_t), 4);
	goro_timer_t *t = goro_after_func(2 * MS, af_fn, &af_chan);
	ck_assert_ptr_nonnull(t);
	errno = 0;
	ck_assert_ptr_null(goro_timer_chan(t));  /* Go: C is nil */
	int64_t id = 0;
	ck_assert_int_eq(recv_i64(af_chan, &id), 0);
	ck_assert_int_gt(id, 0);
	ck_assert_int_ne(id, goro_self());  /* its own goroutine */
	ck_assert_int_eq(goro_timer_stop(t), 0);
	/* Reset re-arms it: it runs again. */
	ck_assert_int_eq(goro_timer_reset(t, 1 * MS), 0);
	ck_assert_int_eq(recv_i64(af_chan, &id), 0);
	goro_timer_free(t);

	/* Stopped in time: never runs. */
	t = goro_after_func(3600 * 1000 * MS, af_fn, &af_chan);
	ck_assert_int_eq(goro_timer_stop(t), 1);
	goro_sleep(20 * MS);
	ck_assert_int_eq(goro_chan_tryrecv(af_chan, &id), -EAGAIN);
	goro_timer_free(t);
	goro_chan_free(af_chan);
	return 0;
}

START_TEST(after_func_runs_in_own_goroutine)
{
	ck_assert_int_eq(run_goro(after_func_main, 2), 0);
}
END_TEST

/* ---- tickers ---------------------------------------------------------------- */

static int ticker_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int64_t t0 = goro_now();
	goro_ticker_t *tk = goro_ticker_new(2 * MS);
	ck_assert_ptr_nonnull(tk);
	goro_chan_t *c = goro_ticker_chan(tk);
	int64_t prev = t0, v;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(recv_i64(c, &v), 0);
		ck_assert_int_ge(v, t0 + 2 * MS * (i + 1));  /* never early */
		ck_assert_int_gt(v, prev);
		prev = v;
	}
	/* A slow receiver misses ticks: at most one waits. */
	goro_sleep(30 * MS);
	ck_assert_uint_eq(goro_chan_len(c), 1);
	ck_assert_uint_eq(goro_chan_cap(c), 1);
	/* Stop: no tick after it returns. */
	ck_assert_int_eq(goro_ticker_stop(tk), 1);
	ck_assert_int_eq(goro_ticker_stop(tk), 0);
	goro_sleep(10 * MS);
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), -EAGAIN);
	/* Reset restarts it with the new period. */
	t0 = goro_now();
	ck_assert_int_eq(goro_ticker_reset(tk, 1 * MS), 0);
	ck_assert_int_eq(recv_i64(c, &v), 0);
	ck_assert_int_ge(v, t0 + 1 * MS);
	ck_assert_int_eq(recv_i64(c, &v), 0);
	ck_assert_int_eq(goro_ticker_free(tk), 0);
	return 0;
}

START_TEST(ticker_ticks_and_drops_for_slow_receiver)
{
	ck_assert_int_eq(run_goro(ticker_main, 2), 0);
}
END_TEST

/* ---- bad input ----------------------------------------------------------------- */

static void nop(void *arg)
{
	(void)arg;
}

static int bad_input_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errno = 0;
	ck_assert_ptr_null(goro_timer_new(-1));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_after_func(1, NULL, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(goro_after_func(-5, nop, NULL));
	errno = 0;
	ck_assert_ptr_null(goro_ticker_new(0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(goro_ticker_new(-MS));
	ck_assert_int_eq(goro_timer_stop(NULL), -EINVAL);
	ck_assert_int_eq(goro_timer_reset(NULL, 1), -EINVAL);
	ck_assert_int_eq(goro_timer_free(NULL), -EINVAL);
	ck_assert_ptr_null(goro_timer_chan(NULL));
	ck_assert_int_eq(goro_ticker_stop(NULL), -EINVAL);
	ck_assert_int_eq(goro_ticker_reset(NULL, MS), -EINVAL);
	ck_assert_int_eq(goro_ticker_free(NULL), -EINVAL);
	ck_assert_ptr_null(goro_ticker_chan(NULL));

	goro_timer_t *t = goro_timer_new(MS);
	ck_assert_int_eq(goro_timer_reset(t, -1), -EINVAL);
	goro_ticker_t *tk = goro_ticker_new(MS);
	ck_assert_int_eq(goro_ticker_reset(tk, 0), -EINVAL);
	/* A ticker is not a timer. */
	ck_assert_int_eq(goro_timer_stop((goro_timer_t *)tk), -EINVAL);
	ck_assert_int_eq(goro_timer_free((goro_timer_t *)tk), -EINVAL);

	/* Freed: -EBADF. */
	ck_assert_int_eq(goro_timer_free(t), 0);
	ck_assert_int_eq(goro_timer_stop(t), -EBADF);
	ck_assert_int_eq(goro_timer_reset(t, MS), -EBADF);
	ck_assert_int_eq(goro_timer_free(t), -EBADF);
	errno = 0;
	ck_assert_ptr_null(goro_timer_chan(t));
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(goro_ticker_free(tk), 0);
	ck_assert_int_eq(goro_ticker_stop(tk), -EBADF);
	ck_assert_int_eq(goro_ticker_reset(tk, MS), -EBADF);
	ck_assert_int_eq(goro_ticker_free(tk), -EBADF);
	return 0;
}

START_TEST(bad_input_and_freed_objects)
{
	ck_assert_int_eq(run_goro(bad_input_main, 1), 0);
}
END_TEST

/* ---- ordering under load ---------------------------------------------------------- */

#define ORDER_N 200
static atomic_bool stop_spin;

static void spinner(void *arg)
{
	(void)arg;
	volatile uint64_t x = 0;
	while (!atomic_load(&stop_spin))
		x++;
}

struct due {
	int64_t deadline;
	goro_timer_t *t;
	int64_t fired;
};

static int cmp_deadline(const void *a, const void *b)
{
	const struct due *x = a, *y = b;
	return (x->deadline > y->deadline) - (x->deadline < y->deadline);
}

/* ORDER_N timers with distinct deadlines, created in shuffled order
 * beside goroutines that never yield (the preemption signal must
 * interrupt them): each fires, none before its deadline.  The values are
 * not compared with each other: a heap hands its timers out in deadline
 * order, but two Ms may run the callbacks of one heap at once (an M on a
 * spare P checks every P's timers) and read the clock in either order, so
 * firing times of close deadlines may cross even on one P. */
static int order_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store(&stop_spin, false);
	for (int i = 0; i < 3; i++)
		goro_go(spinner, NULL);
	static struct due d[ORDER_N];
	int idx[ORDER_N];
	for (int i = 0; i < ORDER_N; i++)
		idx[i] = i;
	srand(12345);
	for (int i = ORDER_N - 1; i > 0; i--) {
		int j = rand() % (i + 1), x = idx[i];
		idx[i] = idx[j];
		idx[j] = x;
	}
	for (int k = 0; k < ORDER_N; k++) {
		int i = idx[k];
		int64_t ns = 20 * MS + (int64_t)i * 150000;  /* 150 us apart */
		d[k].deadline = goro_now() + ns;
		d[k].t = goro_timer_new(ns);
		ck_assert_ptr_nonnull(d[k].t);
	}
	for (int k = 0; k < ORDER_N; k++)
		ck_assert_int_eq(recv_i64(goro_timer_chan(d[k].t),
					  &d[k].fired), 0);
	atomic_store(&stop_spin, true);
	qsort(d, ORDER_N, sizeof(d[0]), cmp_deadline);
	for (int k = 0; k < ORDER_N; k++) {
		ck_assert_msg(d[k].fired >= d[k].deadline,
			      "timer %d fired at %lld, before its deadline "
			      "%lld", k, (long long)d[k].fired,
			      (long long)d[k].deadline);
		goro_timer_free(d[k].t);
	}
	return 0;
}

START_TEST(never_early_under_load_one_p)
{
	ck_assert_int_eq(run_goro(order_main, 1), 0);
}
END_TEST

START_TEST(never_early_under_load_two_p)
{
	ck_assert_int_eq(run_goro(order_main, 2), 0);
}
END_TEST

/* ---- many timers, concurrent control ------------------------------------------------ */

#define MANY 20000

static int many_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_timer_t **ts = malloc(MANY * sizeof(*ts));
	int64_t *due = malloc(MANY * sizeof(*due));
	for (int i = 0; i < MANY; i++) {
		int64_t ns = (int64_t)(i % 997) * 50000;  /* up to 50 ms */
		due[i] = goro_now() + ns;
		ts[i] = goro_timer_new(ns);
		ck_assert_ptr_nonnull(ts[i]);
	}
	/* Stop every third one (no scan: O(log n) each). */
	int stopped = 0;
	for (int i = 0; i < MANY; i += 3)
		stopped += goro_timer_stop(ts[i]);
	ck_assert_int_gt(stopped, 0);
	for (int i = 0; i < MANY; i++) {
		if (i % 3 == 0)
			continue;
		int64_t v;
		ck_assert_int_eq(recv_i64(goro_timer_chan(ts[i]), &v), 0);
		ck_assert_int_ge(v, due[i]);
	}
	for (int i = 0; i < MANY; i++)
		ck_assert_int_eq(goro_timer_free(ts[i]), 0);
	free(ts);
	free(due);
	return 0;
}

START_TEST(many_timers)
{
	ck_assert_int_eq(run_goro(many_main, 2), 0);
}
END_TEST

static goro_timer_t *shared_t;
static goro_wg_t churn_wg = GORO_WG_INIT;

static void churn(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	for (int i = 0; i < 2000; i++) {
		int r = (i + (int)k) % 3 ? goro_timer_reset(shared_t,
							   (i % 5) * 20000)
					 : goro_timer_stop(shared_t);
		ck_assert(r == 0 || r == 1);
		if (i % 64 == 0)
			goro_yield();
	}
	goro_wg_done(&churn_wg);
}

static int churn_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	shared_t = goro_timer_new(MS);
	goro_wg_add(&churn_wg, 4);
	for (uintptr_t k = 0; k < 4; k++)
		goro_go(churn, (void *)k);
	goro_wg_wait(&churn_wg);
	goro_timer_stop(shared_t);
	goro_sleep(5 * MS);
	int64_t v;
	ck_assert_int_eq(goro_chan_tryrecv(goro_timer_chan(shared_t), &v),
			 -EAGAIN);
	ck_assert_int_eq(goro_timer_free(shared_t), 0);
	return 0;
}

START_TEST(concurrent_stop_and_reset)
{
	ck_assert_int_eq(run_goro(churn_main, 2), 0);
}
END_TEST

/* Timers on Ps that goro_maxprocs retires move to the Ps that stay: each
 * still fires once, and stop still finds the pending ones. */
#define MOVE_N 64
static goro_timer_t *moved[4][MOVE_N];
static goro_wg_t made = GORO_WG_INIT;

static void make_timers(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	for (int i = 0; i < MOVE_N; i++)
		moved[k][i] = goro_timer_new(i % 2 ? 3600 * 1000 * MS
						   : (20 + i) * MS);
	goro_wg_done(&made);
}

static int move_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_add(&made, 4);
	for (uintptr_t k = 0; k < 4; k++)
		goro_go(make_timers, (void *)k);
	goro_wg_wait(&made);
	ck_assert_int_eq(goro_maxprocs(1), 4);
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < MOVE_N; i++) {
			goro_timer_t *t = moved[k][i];
			if (i % 2) {  /* an hour away: still pending */
				ck_assert_int_eq(goro_timer_stop(t), 1);
			} else {
				int64_t v;
				ck_assert_int_eq(recv_i64(goro_timer_chan(t),
							  &v), 0);
			}
			ck_assert_int_eq(goro_timer_free(t), 0);
		}
	return 0;
}

START_TEST(timers_survive_maxprocs_shrink)
{
	ck_assert_int_eq(run_goro(move_main, 4), 0);
}
END_TEST

static Suite *timerapi_suite(void)
{
	Suite *s = suite_create("timerapi");
	TCase *tc = tcase_create("timerapi");
	tcase_add_test(tc, timer_fires_with_time_of_firing);
	tcase_add_test(tc, timer_stop_and_reset_report_activity);
	tcase_add_test(tc, after_func_runs_in_own_goroutine);
	tcase_add_test(tc, ticker_ticks_and_drops_for_slow_receiver);
	tcase_add_test(tc, bad_input_and_freed_objects);
	tcase_add_test(tc, never_early_under_load_one_p);
	tcase_add_test(tc, never_early_under_load_two_p);
	tcase_add_test(tc, many_timers);
	tcase_add_test(tc, concurrent_stop_and_reset);
	tcase_add_test(tc, timers_survive_maxprocs_shrink);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(timerapi_suite)
