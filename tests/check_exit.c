/* SPDX-License-Identifier: MIT */
/*
 * check_exit.c — "exit means exit": when goroutine 1 returns, the program
 * ends even while other goroutines sit blocked in the kernel (a plain
 * read() of a pipe, sleep(), accept(), waitpid(), flock(), or inside
 * GORO_BLOCKING, or computing inside a blocking region), or stopped by a
 * preemption inside malloc, and goro_main can be called again afterwards.
 *
 * Each test runs tests/exit_child in one mode and waits for it for up to
 * EXIT_BOUND_S seconds.  That bound is a hang check, not a timing
 * assertion: before the runtime ended such threads, the child never
 * exited at all.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>

#include "testutil.h"

#define EXIT_BOUND_S 20

/* Run exit_child MODE with GORO_MAXPROCS=procs; its exit status, 128 +
 * signal if killed, or -1 if it was still running after the bound. */
static int run_exit_child(const char *mode, int procs)
{
	pid_t pid = fork();
	if (pid == 0) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", procs);
		setenv("GORO_MAXPROCS", buf, 1);
		execl(EXIT_CHILD, "exit_child", mode, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	int st;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (int i = 0; i < EXIT_BOUND_S * 100; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFSIGNALED(st) ? 128 + WTERMSIG(st)
					       : WEXITSTATUS(st);
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "exit_child %s (%d P): still running after %d s\n",
		mode, procs, EXIT_BOUND_S);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

START_TEST(plain_read_2p)
{
	ck_assert_int_eq(run_exit_child("read", 2), 37);
}
END_TEST

START_TEST(plain_read_1p)
{
	ck_assert_int_eq(run_exit_child("read", 1), 37);
}
END_TEST

START_TEST(blocking_region_read_2p)
{
	ck_assert_int_eq(run_exit_child("blocking", 2), 37);
}
END_TEST

START_TEST(blocking_region_read_1p)
{
	ck_assert_int_eq(run_exit_child("blocking", 1), 37);
}
END_TEST

START_TEST(sleep_2p)
{
	ck_assert_int_eq(run_exit_child("sleep", 2), 37);
}
END_TEST

START_TEST(spin_in_region_2p)
{
	ck_assert_int_eq(run_exit_child("spin", 2), 37);
}
END_TEST

START_TEST(accept_2p)
{
	ck_assert_int_eq(run_exit_child("accept", 2), 37);
}
END_TEST

START_TEST(waitpid_2p)
{
	ck_assert_int_eq(run_exit_child("waitpid", 2), 37);
}
END_TEST

START_TEST(flock_2p)
{
	ck_assert_int_eq(run_exit_child("flock", 2), 37);
}
END_TEST

START_TEST(all_at_once_1p)
{
	ck_assert_int_eq(run_exit_child("all", 1), 37);
}
END_TEST

START_TEST(all_at_once_4p)
{
	ck_assert_int_eq(run_exit_child("all", 4), 37);
}
END_TEST

/* Goroutines preempted inside malloc when main returns: before the
 * threads were left frozen and M0's goroutine drained, every exit hung in
 * a thread's teardown (its tcache handed back to an arena whose lock the
 * abandoned goroutine held) or in main's printf after goro_main. */
START_TEST(allocating_1p)
{
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(run_exit_child("malloc", 1), 37);
}
END_TEST

START_TEST(allocating_2p)
{
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(run_exit_child("malloc", 2), 37);
}
END_TEST

/* A goroutine that never leaves library code: goro_main still returns,
 * once the exit's 50 ms are up, the threads left asleep. */
START_TEST(computing_inside_a_library_2p)
{
	ck_assert_int_eq(run_exit_child("library", 2), 37);
}
END_TEST

START_TEST(goro_main_twice)
{
	ck_assert_int_eq(run_exit_child("twice", 2), 42);
}
END_TEST

static Suite *exit_suite(void)
{
	Suite *s = suite_create("exit");
	TCase *tc = tcase_create("exit");
	tcase_add_test(tc, plain_read_2p);
	tcase_add_test(tc, plain_read_1p);
	tcase_add_test(tc, blocking_region_read_2p);
	tcase_add_test(tc, blocking_region_read_1p);
	tcase_add_test(tc, sleep_2p);
	tcase_add_test(tc, spin_in_region_2p);
	tcase_add_test(tc, accept_2p);
	tcase_add_test(tc, waitpid_2p);
	tcase_add_test(tc, flock_2p);
	tcase_add_test(tc, all_at_once_1p);
	tcase_add_test(tc, all_at_once_4p);
	tcase_add_test(tc, allocating_1p);
	tcase_add_test(tc, allocating_2p);
	tcase_add_test(tc, computing_inside_a_library_2p);
	tcase_add_test(tc, goro_main_twice);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(exit_suite)
