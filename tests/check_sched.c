/* SPDX-License-Identifier: MIT */
/*
 * check_sched.c — the scheduler and goroutine lifecycle: spawning, yielding,
 * work stealing between Ps, GOMAXPROCS changes under load, state carried
 * across switches and migrations, goro_main's lifetime, bad input.
 */
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "testutil.h"

static pid_t thread_id(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- the README's seed program ------------------------------------------ */

#define HELLO_GO_OUTPUT "hello\nworld\nhello\nworld\nhello\nworld\n" \
			"hello\nworld\nhello\n"
#define HELLO_RUNS 5

/* Counts out's hello and world lines; false if a line is neither. */
static bool hello_lines(const char *out, int *hellos, int *worlds)
{
	*hellos = *worlds = 0;
	for (const char *l = out; *l; ) {
		const char *nl = strchr(l, '\n');
		if (!nl)
			return false;
		size_t len = (size_t)(nl - l);
		if (len == 5 && !strncmp(l, "hello", 5))
			++*hellos;
		else if (len == 5 && !strncmp(l, "world", 5))
			++*worlds;
		else
			return false;
		l = nl + 1;
	}
	return true;
}

/*
 * With goroutines switching only where they yield, the order is the
 * scheduler's alone, and it is Go's.
 */
START_TEST(hello_prints_what_go_prints)
{
	char out[512];
	int st = run_capture("GORO_MAXPROCS=1 GORO_ASYNCPREEMPT=0 "
			     EXAMPLES_DIR "/hello 2>&1", out, sizeof(out));
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(out, HELLO_GO_OUTPUT);
}
END_TEST

/*
 * With the defaults, preemption may also switch them: a goroutine stopped
 * inside printf (its slice over while a loaded machine kept its thread off
 * the CPU) lets the other print first, or, stopped holding stdout's lock,
 * resumes beside it.  Go does the same at its 10 ms slice: beside four
 * looping test suites on 2 CPUs, Go 1.19 at GOMAXPROCS=1 printed another
 * order in 3 of 2,844 runs, goro's hello at 1 ms in 7-10 of about 500,
 * and 0 of 467 without async preemption.  So every run must print five
 * hellos and at most five worlds, nothing else, and one of HELLO_RUNS
 * runs (nearly always the first) Go's order exactly.
 */
START_TEST(hello_with_preemption_prints_go_order)
{
	char out[512];
	int matched = 0;
	for (int run = 0; run < HELLO_RUNS && !matched; run++) {
		int st = run_capture("GORO_MAXPROCS=1 " EXAMPLES_DIR
				     "/hello 2>&1", out, sizeof(out));
		ck_assert_int_eq(st, 0);
		int hellos, worlds;
		ck_assert_msg(hello_lines(out, &hellos, &worlds) &&
			      hellos == 5 && worlds <= 5,
			      "run %d printed:\n%s", run, out);
		matched = !strcmp(out, HELLO_GO_OUTPUT);
	}
	ck_assert_msg(matched, "%d runs, none in Go's order; the last:\n%s",
		      HELLO_RUNS, out);
}
END_TEST

/* ---- many goroutines ------------------------------------------------------ */

#define MANY 100000
static atomic_long many_sum;
static atomic_long many_done;

static void many_worker(void *arg)
{
	atomic_fetch_add(&many_sum, (long)(intptr_t)arg);
	goro_yield();
	atomic_fetch_add(&many_done, 1);
}

static int many_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	for (long i = 1; i <= MANY; i++)
		ck_assert_int_gt(goro_go(many_worker, (void *)(intptr_t)i), 0);
	while (atomic_load(&many_done) < MANY)
		goro_yield();
	ck_assert_int_eq(atomic_load(&many_sum), (long)MANY * (MANY + 1) / 2);
	/* Every worker has returned: only goroutine 1 remains. */
	while (goro_count() > 1)
		goro_yield();
	ck_assert_uint_eq(goro_count(), 1);
	return 42;
}

START_TEST(hundred_thousand_goroutines_all_run)
{
	ck_assert_int_eq(run_goro(many_main, 2), 42);
	ck_assert_int_eq(atomic_load(&many_done), MANY);
}
END_TEST

/* ---- both Ps run goroutines when work is stealable ------------------------ */

static atomic_int arrived;

/* Spins without any runtime call until the other spinner arrives: that can
 * only happen if the two run at the same time, on two Ps. */
static void rendezvous_spinner(void *arg)
{
	atomic_int *seen = arg;
	atomic_fetch_add(&arrived, 1);
	int64_t deadline = goro_now() + 5LL * 1000 * 1000 * 1000;
	while (atomic_load(&arrived) < 2 && goro_now() < deadline)
		;
	atomic_store(seen, atomic_load(&arrived));
}

static int steal_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	atomic_int seen_a = 0, seen_b = 0;
	goro_go(rendezvous_spinner, &seen_a);
	goro_go(rendezvous_spinner, &seen_b);
	while (!atomic_load(&seen_a) || !atomic_load(&seen_b))
		goro_sleep(1000 * 1000);
	ck_assert_int_eq(atomic_load(&seen_a), 2);
	ck_assert_int_eq(atomic_load(&seen_b), 2);
	return 0;
}

START_TEST(two_ps_run_goroutines_in_parallel)
{
	ck_assert_int_eq(run_goro(steal_main, 2), 0);
}
END_TEST

/* ---- GOMAXPROCS changed under load ---------------------------------------- */

#define RESIZE_WORKERS 64
static atomic_long resize_done;
static atomic_bool resize_stop;

static void resize_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&resize_stop))
		goro_yield();
	atomic_fetch_add(&resize_done, 1);
}

static int resize_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	for (int i = 0; i < RESIZE_WORKERS; i++)
		goro_go(resize_worker, NULL);
	const int steps[] = { 4, 1, 3, 2, 8, 1, 2 };
	int expect_old = 2;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		goro_sleep(2 * 1000 * 1000);
		ck_assert_int_eq(goro_maxprocs(steps[i]), expect_old);
		expect_old = steps[i];
		/* n < 1 only reads. */
		ck_assert_int_eq(goro_maxprocs(0), expect_old);
	}
	ck_assert_int_eq(goro_maxprocs(GORO_MAXPROCS_LIMIT + 1), -EINVAL);
	atomic_store(&resize_stop, true);
	while (atomic_load(&resize_done) < RESIZE_WORKERS)
		goro_yield();
	return 0;
}

START_TEST(maxprocs_raised_and_lowered_under_load)
{
	ck_assert_int_eq(run_goro(resize_main, 2), 0);
}
END_TEST

/* ---- errno, FP rounding, MXCSR and x87 control across switches ---------- */

#define STATE_WORKERS 16
#define STATE_ROUNDS 20000
static atomic_long migrations;
static atomic_long state_errors;
static atomic_int state_done;

static uint16_t x87_cw(void)
{
	uint16_t cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void set_x87_cw(uint16_t cw)
{
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static void state_worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	static const int modes[] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD,
				     FE_TOWARDZERO };
	int mode = modes[id % 4];
	fesetround(mode);
	/* x87 precision control too: 24, 53 or 64 bits. */
	uint16_t cw = (uint16_t)((x87_cw() & ~0x300) | ((id % 3) == 0 ? 0x000
			: (id % 3) == 1 ? 0x200 : 0x300));
	set_x87_cw(cw);
	pid_t tid = thread_id();
	for (int i = 0; i < STATE_ROUNDS; i++) {
		errno = 1000 + id;
		goro_yield();
		if (errno != 1000 + id || fegetround() != mode || x87_cw() != cw)
			atomic_fetch_add(&state_errors, 1);
		pid_t now = thread_id();
		if (now != tid) {
			atomic_fetch_add(&migrations, 1);
			tid = now;
		}
	}
	fesetround(FE_TONEAREST);
	atomic_fetch_add(&state_done, 1);
}

static int state_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	for (int i = 0; i < STATE_WORKERS; i++)
		goro_go(state_worker, (void *)(intptr_t)i);
	while (atomic_load(&state_done) < STATE_WORKERS)
		goro_sleep(1000 * 1000);
	return 0;
}

START_TEST(errno_and_fp_state_survive_yields_and_migration)
{
	ck_assert_int_eq(run_goro(state_main, 2), 0);
	ck_assert_int_eq(atomic_load(&state_errors), 0);
	/* The point is migration: with 2 Ps and 16 goroutines some move. */
	ck_assert_int_gt(atomic_load(&migrations), 0);
}
END_TEST

/* ---- goro_main's lifetime ----------------------------------------------- */

static atomic_int abandoned_started;

static void abandoned(void *arg)
{
	(void)arg;
	atomic_fetch_add(&abandoned_started, 1);
	for (;;)
		goro_sleep(1000 * 1000 * 1000);
}

static int lifetime_main(int argc, char **argv)
{
	(void)argc;
	ck_assert_str_eq(argv[0], "test");
	ck_assert_int_eq(goro_self(), 1);
	for (int i = 0; i < 10; i++)
		goro_go(abandoned, NULL);
	while (atomic_load(&abandoned_started) < 10)
		goro_yield();
	return 7;
}

START_TEST(goro_main_twice_abandons_the_rest)
{
	ck_assert_int_eq(run_goro(lifetime_main, 2), 7);
	atomic_store(&abandoned_started, 0);
	ck_assert_int_eq(run_goro(lifetime_main, 1), 7);
}
END_TEST

static atomic_int exited_after;

static void exits_early(void *arg)
{
	(void)arg;
	goro_exit();
	atomic_store(&exited_after, 1);
}

static void names_itself(void *arg)
{
	(void)arg;
	goro_set_name("worker-with-a-name-longer-than-the-runtime-keeps");
}

static int identity_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int64_t a = goro_go(exits_early, NULL);
	goro_attr_t attr = { .name = "named", .stack_max = 64 * 1024 };
	int64_t b = goro_go_attr(&attr, names_itself, NULL);
	ck_assert_int_gt(a, 1);
	ck_assert_int_gt(b, a);
	while (goro_count() > 1)
		goro_yield();
	ck_assert_int_eq(atomic_load(&exited_after), 0);
	return 0;
}

START_TEST(ids_exit_and_names)
{
	ck_assert_int_eq(run_goro(identity_main, 1), 0);
}
END_TEST

/* ---- goro_lock_thread ----------------------------------------------------- */

static atomic_int locked_moved;
static atomic_int lock_others_done;

static void locked_worker(void *arg)
{
	(void)arg;
	goro_lock_thread();
	goro_lock_thread();  /* nests */
	pid_t tid = thread_id();
	for (int i = 0; i < 300; i++) {
		if (i % 2)
			goro_yield();
		else
			goro_sleep(50 * 1000);
		if (thread_id() != tid)
			atomic_fetch_add(&locked_moved, 1);
	}
	goro_unlock_thread();
	goro_unlock_thread();
	goro_unlock_thread();  /* one too many: a no-op */
}

static void busy_neighbour(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		goro_yield();
		if (i % 100 == 0)
			goro_sleep(10 * 1000);
	}
	atomic_fetch_add(&lock_others_done, 1);
}

static int lock_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* goroutine 1 locked too: it must still be able to wait for others */
	goro_lock_thread();
	pid_t tid = thread_id();
	for (int i = 0; i < 4; i++)
		goro_go(locked_worker, NULL);
	for (int i = 0; i < 8; i++)
		goro_go(busy_neighbour, NULL);
	while (goro_count() > 1) {
		goro_sleep(200 * 1000);
		ck_assert_int_eq(thread_id(), tid);
	}
	goro_unlock_thread();
	return 0;
}

START_TEST(locked_goroutines_stay_on_their_thread)
{
	ck_assert_int_eq(run_goro(lock_main, 2), 0);
	ck_assert_int_eq(atomic_load(&locked_moved), 0);
	ck_assert_int_eq(atomic_load(&lock_others_done), 8);
}
END_TEST

/* ---- bad input ------------------------------------------------------------ */

static void nothing(void *arg)
{
	(void)arg;
}

static int nested_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	return 0;
}

static int bad_input_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	ck_assert_int_eq(goro_go(NULL, NULL), -EINVAL);
	ck_assert_int_eq(goro_go_attr(NULL, NULL, NULL), -EINVAL);
	goro_attr_t tiny = { .stack_max = 100 };
	ck_assert_int_eq(goro_go_attr(&tiny, nothing, NULL), -EINVAL);
	goro_attr_t huge = { .stack_max = (size_t)1 << 40 };
	ck_assert_int_eq(goro_go_attr(&huge, nothing, NULL), -EINVAL);
	ck_assert_int_eq(goro_main(nested_main, 0, NULL), -EBUSY);
	ck_assert_int_eq(goro_maxprocs(100000), -EINVAL);
	goro_set_name(NULL);  /* clears the name, no crash */
	return 0;
}

START_TEST(bad_arguments_are_rejected)
{
	ck_assert_int_eq(goro_main(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(run_goro(bad_input_main, 1), 0);
}
END_TEST

static void call_outside(void)
{
	ck_assert_int_eq(goro_go(nothing, NULL), -EPERM);
	goro_yield();
	ck_assert_int_eq(goro_self(), -EPERM);
	ck_assert_int_eq(goro_maxprocs(2), -EPERM);
	_exit(0);
}

START_TEST(calls_outside_goro_main_say_so)
{
	char out[4096];
	ck_assert_int_eq(run_child(call_outside, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "goro_go() called outside a goroutine"));
	ck_assert_ptr_nonnull(strstr(out, "goro_yield() called outside a goroutine"));
	ck_assert_ptr_nonnull(strstr(out, "goro_maxprocs() called outside"));
}
END_TEST

static void bad_env(void)
{
	setenv("GORO_MAXPROCS", "many", 1);
	ck_assert_int_eq(goro_main(nested_main, 0, NULL), -EINVAL);
	setenv("GORO_MAXPROCS", "2", 1);
	setenv("GORO_QUANTUM", "10 parsecs", 1);
	ck_assert_int_eq(goro_main(nested_main, 0, NULL), -EINVAL);
	unsetenv("GORO_QUANTUM");
	setenv("GORO_TRACEBACK", "verbose", 1);
	ck_assert_int_eq(goro_main(nested_main, 0, NULL), -EINVAL);
	unsetenv("GORO_TRACEBACK");
	/* After all those refusals the runtime still starts. */
	ck_assert_int_eq(goro_main(nested_main, 0, NULL), 0);
	_exit(0);
}

START_TEST(bad_environment_is_a_clear_error)
{
	char out[4096];
	ck_assert_int_eq(run_child(bad_env, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "GORO_MAXPROCS=\"many\" is not valid"));
	ck_assert_ptr_nonnull(strstr(out, "GORO_QUANTUM=\"10 parsecs\""));
	ck_assert_ptr_nonnull(strstr(out, "GORO_TRACEBACK=\"verbose\""));
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__)
static int oom_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* Spawn without ever yielding until memory runs out: goro_go must say
	 * so, not crash.  sysmon asks a goroutine that overran its quantum to
	 * yield at its next runtime call (even with GORO_ASYNCPREEMPT=0, as
	 * Go's cooperative preemption): preemption is disabled so that the
	 * spawned goroutines never get to run and be recycled. */
	goro_preempt_disable();
	for (long i = 0; i < 100L * 1000 * 1000; i++) {
		int64_t r = goro_go(nothing, NULL);
		if (r < 0)
			return (int)-r;
	}
	goro_preempt_enable();
	return 0;
}

static void out_of_memory(void)
{
	struct rlimit lim = { 256UL << 20, 256UL << 20 };
	setrlimit(RLIMIT_AS, &lim);
	setenv("GORO_ASYNCPREEMPT", "0", 1);
	_exit(run_goro(oom_main, 1));
}

START_TEST(out_of_memory_is_enomem)
{
	char out[4096];
	ck_assert_int_eq(run_child(out_of_memory, out, sizeof(out)), ENOMEM);
}
END_TEST
#endif

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hello_prints_what_go_prints);
	tcase_add_test(tc, hello_with_preemption_prints_go_order);
	tcase_add_test(tc, hundred_thousand_goroutines_all_run);
	tcase_add_test(tc, two_ps_run_goroutines_in_parallel);
	tcase_add_test(tc, maxprocs_raised_and_lowered_under_load);
	tcase_add_test(tc, errno_and_fp_state_survive_yields_and_migration);
	tcase_add_test(tc, goro_main_twice_abandons_the_rest);
	tcase_add_test(tc, ids_exit_and_names);
	tcase_add_test(tc, locked_goroutines_stay_on_their_thread);
	tcase_add_test(tc, bad_arguments_are_rejected);
	tcase_add_test(tc, calls_outside_goro_main_say_so);
	tcase_add_test(tc, bad_environment_is_a_clear_error);
#if !defined(__SANITIZE_ADDRESS__)  /* ASan's shadow needs more than the limit */
	tcase_add_test(tc, out_of_memory_is_enomem);
#endif
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(sched_suite)
