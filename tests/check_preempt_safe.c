/* SPDX-License-Identifier: MIT */
/*
 * check_preempt_safe.c — preemption never breaks thread-tied state.
 *
 * Each test runs one scenario of preempt_safe_child (ordinary C code
 * holding an allocator cache, a recursive or error-checking mutex, an
 * rwlock, C++'s current exception, the loader's lock, TLS addresses, the
 * signal mask...) at 1 and 2 Ps, at a 100 µs quantum and at the default,
 * as a separate process with a time bound: a wrong answer, a crash and a
 * hang all fail.  tcmalloc and mimalloc are the real ones, preloaded.
 */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_EQUAL */
#include <dirent.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "testutil.h"

#define BOUND_S 90

static const char *const tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";
static const char *const mimalloc = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2";

/* Run the case under every configuration (with max_procs 1, at one P
 * only); `preload` may be NULL. */
static void run_case_procs(const char *name, const char *preload, int max_procs)
{
	static const int procs[] = { 1, 2 };
	static const char *const quanta[] = { "100us", "" };
	for (int i = 0; i < max_procs; i++) {
		for (int j = 0; j < 2; j++) {
			char cmd[1024], out[4096];
			snprintf(cmd, sizeof(cmd),
				 "GORO_MAXPROCS=%d %s%s %s%s timeout -s KILL %d %s %s %s 2>&1",
				 procs[i], quanta[j][0] ? "GORO_QUANTUM=" : "",
				 quanta[j], preload ? "LD_PRELOAD=" : "",
				 preload ? preload : "", BOUND_S, PREEMPT_SAFE_CHILD,
				 name, PREEMPT_PLUGIN);
			int st = run_capture(cmd, out, sizeof(out));
			ck_assert_msg(st == 0,
				      "%s at %d P, quantum %s: status %d%s\n%s",
				      name, procs[i], quanta[j][0] ? quanta[j] : "default",
				      st, st == 137 ? " (hung)" : "", out);
		}
	}
}

/* ASan must be the first library loaded: no allocator is preloaded
 * before it in the sanitizer build. */
#ifdef GORO_SANITIZED
#define SKIP_PRELOAD() return
#else
#define SKIP_PRELOAD() do { } while (0)
#endif

static void run_case(const char *name, const char *preload)
{
	run_case_procs(name, preload, 2);
}

START_TEST(tcmalloc_preloaded_survives_preemption)
{
	SKIP_PRELOAD();
	ck_assert_msg(access(tcmalloc, R_OK) == 0, "%s missing", tcmalloc);
	run_case("malloc", tcmalloc);
}
END_TEST

START_TEST(mimalloc_preloaded_survives_preemption)
{
	SKIP_PRELOAD();
	ck_assert_msg(access(mimalloc, R_OK) == 0, "%s missing", mimalloc);
	run_case("malloc", mimalloc);
}
END_TEST

START_TEST(glibc_malloc_survives_preemption)
{
	run_case("malloc", NULL);
}
END_TEST

START_TEST(sqlite_connection_mutex_is_released)
{
	run_case("sqlite", NULL);
}
END_TEST

START_TEST(errorcheck_mutex_and_rwlock_unlock_on_their_thread)
{
	run_case("mutex", NULL);
}
END_TEST

START_TEST(cxx_rethrow_after_computing_in_catch)
{
	run_case("cxx", NULL);
}
END_TEST

START_TEST(tls_loops_stay_on_their_thread)
{
	run_case("tls", NULL);
}
END_TEST

START_TEST(dlopened_tls_loops_stay_on_their_thread)
{
	run_case("tls_dl", NULL);
}
END_TEST

START_TEST(dl_iterate_phdr_callback_never_hangs_sysmon)
{
	run_case("dl_iterate", NULL);
}
END_TEST

START_TEST(slow_dlopen_constructor_never_hangs_the_loader)
{
	run_case("dlopen", NULL);
}
END_TEST

START_TEST(memmove_in_libc_gives_up_the_p)
{
	run_case("memmove", NULL);
}
END_TEST

START_TEST(every_signal_blocked_before_goro_main)
{
	run_case("sigmask", NULL);
}
END_TEST

START_TEST(signal_mask_does_not_leak_between_goroutines)
{
	run_case("sigleak", NULL);
}
END_TEST

START_TEST(preempted_goroutine_not_starved_by_yielders)
{
	run_case("starve", NULL);
}
END_TEST

START_TEST(blocking_call_in_tail_position_gives_up_the_p)
{
	run_case_procs("tailsleep", NULL, 1);
}
END_TEST

START_TEST(spare_p_counts_against_gomaxprocs)
{
	run_case_procs("spare", NULL, 1);  /* at 2 Ps both may run */
}
END_TEST

/*
 * A goroutine inside a runtime call is never preempted, wherever its PC
 * is: the runtime calls libc, its allocator and (under ASan) the
 * sanitizer's interceptors with its P in registers, and a goroutine
 * stopped there resumes with a P it may no longer own.  This program's
 * clock_gettime stands in for libc's (libgoro calls it through its PLT):
 * armed, the coarse clock that goro_sleep reads as it parks computes for
 * 100 ms in application code first, while another goroutine waits for
 * the one P, so sysmon asks for a preemption about every quantum.  Before
 * the runtime counted its own calls, the handler took the libgoro frame
 * below for a stale word after 16 refusals and parked the goroutine in
 * the middle of goro_sleep (a false "all goroutines are asleep" in the
 * ASan build).
 */
static atomic_bool clock_armed;
static struct goro_preempt_stats spin_before, spin_after;

static int64_t raw_now(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (clk == CLOCK_MONOTONIC_COARSE &&
	    atomic_exchange(&clock_armed, false)) {
		goro_preempt_stats(&spin_before, sizeof(spin_before));
		int64_t end = raw_now() + 100 * 1000 * 1000;
		while (raw_now() < end)
			;
		goro_preempt_stats(&spin_after, sizeof(spin_after));
	}
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

static atomic_int waiter_ran;
static void waiter(void *arg)
{
	(void)arg;
	atomic_store(&waiter_ran, 1);
}

static int runtime_callee_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_go(waiter, NULL);
	atomic_store(&clock_armed, true);
	goro_sleep(1000 * 1000);
	ck_assert_msg(!atomic_load(&clock_armed),
		      "goro_sleep never read the coarse clock");
	ck_assert_msg(spin_after.preempted == spin_before.preempted,
		      "preempted %llu times inside goro_sleep",
		      (unsigned long long)(spin_after.preempted - spin_before.preempted));
	/* The test can fail only if the handler was asked often enough. */
	ck_assert_msg(spin_after.requested - spin_before.requested >= 20,
		      "only %llu preemption requests in 100 ms",
		      (unsigned long long)(spin_after.requested -
					   spin_before.requested));
	goro_sleep(20 * 1000 * 1000);
	ck_assert(atomic_load(&waiter_ran));
	return 0;
}

START_TEST(no_preemption_inside_a_runtime_call)
{
	unsetenv("GORO_QUANTUM");
	setenv("GORO_ASYNCPREEMPT", "1", 1);
	ck_assert_int_eq(run_goro(runtime_callee_main, 1), 0);
}
END_TEST

/*
 * A thread that parks with its preempted goroutine pins the M it hands
 * its P to onto its own CPU for the wake-up (src/sched/m.c, steering),
 * and that M puts its affinity back as it runs.  After thousands of such
 * hand-offs every thread of the process must have the affinity the
 * process started with: a thread left pinned would run its goroutines on
 * one CPU from then on.
 */
static atomic_bool hogs_stop;
static atomic_long hog_spins;

static void affinity_hog(void *arg)
{
	(void)arg;
	long n = 0;
	while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed))
		n++;
	atomic_fetch_add(&hog_spins, n);
}

static cpu_set_t start_mask;

static int affinity_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct goro_preempt_stats before, after;
	goro_preempt_stats(&before, sizeof(before));
	for (int i = 0; i < 3; i++)
		goro_go(affinity_hog, NULL);
	goro_sleep(300 * 1000 * 1000);
	atomic_store(&hogs_stop, true);
	goro_sleep(50 * 1000 * 1000);  /* every M back asleep */
	goro_preempt_stats(&after, sizeof(after));
	ck_assert_msg(after.parked_with_thread - before.parked_with_thread >= 20,
		      "only %llu preemptions parked with their thread",
		      (unsigned long long)(after.parked_with_thread -
					   before.parked_with_thread));
	DIR *d = opendir("/proc/self/task");
	ck_assert(d != NULL);
	int threads = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		pid_t tid = (pid_t)atoi(e->d_name);
		cpu_set_t mask;
		if (sched_getaffinity(tid, sizeof(mask), &mask) != 0)
			continue;  /* gone meanwhile */
		threads++;
		ck_assert_msg(CPU_EQUAL(&mask, &start_mask),
			      "thread %d left with %d CPUs of %d", (int)tid,
			      CPU_COUNT(&mask), CPU_COUNT(&start_mask));
	}
	closedir(d);
	ck_assert_int_ge(threads, 3);
	return 0;
}

START_TEST(klt_handoffs_leave_affinity_as_it_was)
{
	ck_assert_int_eq(sched_getaffinity(0, sizeof(start_mask), &start_mask), 0);
	if (CPU_COUNT(&start_mask) < 2) {
		fprintf(stderr, "klt_handoffs_leave_affinity_as_it_was: one CPU, "
				"nothing is ever steered\n");
		return;
	}
	setenv("GORO_QUANTUM", "100us", 1);
	setenv("GORO_ASYNCPREEMPT", "1", 1);
	setenv("GORO_DEBUG", "hogturn=1", 1);
	int rc = run_goro(affinity_main, 1);
	unsetenv("GORO_QUANTUM");
	unsetenv("GORO_DEBUG");
	ck_assert_int_eq(rc, 0);
}
END_TEST

static Suite *preempt_safe_suite(void)
{
	Suite *s = suite_create("preempt_safe");
	TCase *tc = tcase_create("thread-tied state");
	tcase_set_timeout(tc, 4 * BOUND_S + 30);
	tcase_add_test(tc, tcmalloc_preloaded_survives_preemption);
	tcase_add_test(tc, mimalloc_preloaded_survives_preemption);
	tcase_add_test(tc, glibc_malloc_survives_preemption);
	tcase_add_test(tc, sqlite_connection_mutex_is_released);
	tcase_add_test(tc, errorcheck_mutex_and_rwlock_unlock_on_their_thread);
	tcase_add_test(tc, cxx_rethrow_after_computing_in_catch);
	tcase_add_test(tc, tls_loops_stay_on_their_thread);
	tcase_add_test(tc, dlopened_tls_loops_stay_on_their_thread);
	tcase_add_test(tc, dl_iterate_phdr_callback_never_hangs_sysmon);
	tcase_add_test(tc, slow_dlopen_constructor_never_hangs_the_loader);
	tcase_add_test(tc, memmove_in_libc_gives_up_the_p);
	tcase_add_test(tc, every_signal_blocked_before_goro_main);
	tcase_add_test(tc, signal_mask_does_not_leak_between_goroutines);
	tcase_add_test(tc, preempted_goroutine_not_starved_by_yielders);
	tcase_add_test(tc, spare_p_counts_against_gomaxprocs);
	tcase_add_test(tc, blocking_call_in_tail_position_gives_up_the_p);
	tcase_add_test(tc, no_preemption_inside_a_runtime_call);
	tcase_add_test(tc, klt_handoffs_leave_affinity_as_it_was);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(preempt_safe_suite)
