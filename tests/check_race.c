/* SPDX-License-Identifier: MIT */
/*
 * check_race.c — the race detector (a --enable-tsan build only): a
 * deliberate race between two goroutines on two threads is reported with
 * both goroutines' stacks, and the same program with the writes under a
 * goro_mutex is not.  (Every other suite of a TSan build is the race-free
 * side: ThreadSanitizer fails any of them that it finds a race in.)
 */
#include "testutil.h"

static char out[256 * 1024];

static int race_child(const char *mode)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "GORO_MAXPROCS=2 TSAN_OPTIONS=\"$TSAN_OPTIONS:exitcode=66\" "
		 "%s %s 2>&1", RACE_CHILD, mode);
	return run_capture(cmd, out, sizeof(out));
}

START_TEST(race_reported_with_both_goroutines)
{
	int st = race_child("racy");
	ck_assert_msg(st == 66, "exit %d:\n%s", st, out);
	const char *w = strstr(out, "WARNING: ThreadSanitizer: data race");
	ck_assert_msg(w, "%s", out);
	/* The two accesses: one stack through each writer. */
	ck_assert_msg(strstr(w, "racy_write") && strstr(w, "writer_a") &&
		      strstr(w, "writer_b"), "%s", out);
}
END_TEST

START_TEST(mutex_orders_the_writes)
{
	int st = race_child("fixed");
	ck_assert_msg(st == 0 && !strstr(out, "ThreadSanitizer"), "exit %d:\n%s",
		      st, out);
	ck_assert_msg(strstr(out, "shared="), "%s", out);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("race");
	TCase *tc = tcase_create("race");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, race_reported_with_both_goroutines);
	tcase_add_test(tc, mutex_orders_the_writes);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(race_suite)
