/* SPDX-License-Identifier: MIT */
/*
 * check_timer.c — goro_sleep and select timeouts wake no earlier than
 * asked and within a few milliseconds after, on one P and on two, with an
 * idle runtime (the M sleeps until the deadline) and with a busy one (the
 * deadline is noticed at scheduling points); many sleepers at once.
 *
 * "No earlier" is checked on every single wait.  "Not forgotten" is
 * checked on the median of several (see check_waits) against a bound far
 * beyond any scheduling delay (250 ms): on a shared 2-CPU machine the host
 * takes this process off the CPU for tens of milliseconds at a time, and
 * how late timers fire is measured by goro-bench (suite timer), not
 * asserted here.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define US 1000LL
#define MS 1000000LL
#define IDLE_SLACK_NS (250 * MS)
#define BUSY_SLACK_NS (250 * MS)
#define REPEATS 5

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Wait `ns` REPEATS times with `wait`; every wait must last at least ns,
 * the median at most ns + slack.  A median over the slack is measured
 * again, up to ATTEMPTS times: a loaded host delays a whole batch now and
 * then, while a runtime that wakes late (rounding, a deadline nobody
 * watches) does so every time. */
#define ATTEMPTS 3

static void check_waits(void (*wait)(int64_t), int64_t ns, int64_t slack)
{
	int64_t median = 0;
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		int64_t took[REPEATS];
		for (int i = 0; i < REPEATS; i++) {
			int64_t t0 = goro_now();
			wait(ns);
			took[i] = goro_now() - t0;
			ck_assert_msg(took[i] >= ns,
				      "asked %lld ns, woke after %lld",
				      (long long)ns, (long long)took[i]);
		}
		qsort(took, REPEATS, sizeof(took[0]), cmp_i64);
		median = took[REPEATS / 2];
		if (median <= ns + slack)
			return;
	}
	ck_assert_msg(0, "asked %lld ns, median wait %lld in each of %d "
			 "attempts (last)", (long long)ns, (long long)median,
		      ATTEMPTS);
}

static void sleep_wait(int64_t ns)
{
	goro_sleep(ns);
}

static void select_wait(int64_t ns)
{
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	int v;
	goro_case_t cs = { .chan = c, .dir = GORO_RECV, .elem = &v };
	ck_assert_int_eq(goro_select(&cs, 1, ns), -ETIMEDOUT);
	goro_chan_free(c);
}

static const int64_t durations[] = { 50 * US, 300 * US, 1 * MS, 7 * MS };

static int idle_precision_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		check_waits(sleep_wait, durations[i], IDLE_SLACK_NS);
		check_waits(select_wait, durations[i], IDLE_SLACK_NS);
	}
	return 0;
}

START_TEST(precision_idle_1p)
{
	ck_assert_int_eq(run_goro(idle_precision_main, 1), 0);
}
END_TEST

START_TEST(precision_idle_2p)
{
	ck_assert_int_eq(run_goro(idle_precision_main, 2), 0);
}
END_TEST

/* The same while other goroutines keep every P busy yielding. */
static _Atomic bool stop_spinners;

static void yielder(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_spinners))
		goro_yield();
}

static int busy_precision_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store(&stop_spinners, false);
	for (int i = 0; i < 3; i++)
		goro_go(yielder, NULL);
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		check_waits(sleep_wait, durations[i], BUSY_SLACK_NS);
		check_waits(select_wait, durations[i], BUSY_SLACK_NS);
	}
	atomic_store(&stop_spinners, true);
	return 0;
}

START_TEST(precision_busy_1p)
{
	ck_assert_int_eq(run_goro(busy_precision_main, 1), 0);
}
END_TEST

START_TEST(precision_busy_2p)
{
	ck_assert_int_eq(run_goro(busy_precision_main, 2), 0);
}
END_TEST

/* ---- many sleepers ------------------------------------------------------------------ */

#define SLEEPERS 1000

static goro_wg_t sleepers_wg = GORO_WG_INIT;
static _Atomic int early, late;

static void sleeper(void *arg)
{
	int64_t ns = (int64_t)(intptr_t)arg;
	int64_t t0 = goro_now();
	goro_sleep(ns);
	int64_t took = goro_now() - t0;
	if (took < ns)
		atomic_fetch_add(&early, 1);
	if (took > ns + 1000 * MS)  /* forgotten, not merely late */
		atomic_fetch_add(&late, 1);
	goro_wg_done(&sleepers_wg);
}

static int many_sleepers_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_add(&sleepers_wg, SLEEPERS);
	for (intptr_t i = 0; i < SLEEPERS; i++)
		goro_go(sleeper, (void *)((i * 7919) % 20000 * US));
	goro_wg_wait(&sleepers_wg);
	ck_assert_int_eq(atomic_load(&early), 0);
	ck_assert_int_eq(atomic_load(&late), 0);
	/* Zero and negative durations return at once (without waiting for
	 * a timer: well under the 1 s a timer would have taken). */
	int64_t t0 = goro_now();
	goro_sleep(0);
	goro_sleep(-5);
	ck_assert_int_lt(goro_now() - t0, 500 * MS);
	return 0;
}

START_TEST(many_sleepers)
{
	ck_assert_int_eq(run_goro(many_sleepers_main, 2), 0);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("timer");
	tcase_add_test(tc, precision_idle_1p);
	tcase_add_test(tc, precision_idle_2p);
	tcase_add_test(tc, precision_busy_1p);
	tcase_add_test(tc, precision_busy_2p);
	tcase_add_test(tc, many_sleepers);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(timer_suite)
