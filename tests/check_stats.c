/* SPDX-License-Identifier: MIT */
/*
 * check_stats.c — goro_stats(): counts a program can check against what it
 * did (goroutines parked on a channel, asleep, in the poller, in a
 * blocking call), preemptions and steals seen, and the size contract that
 * lets old and new programs and libraries mix; and GORO_DEBUG=schedtrace
 * (with scheddetail), whose lines are parsed.
 */
#include <errno.h>
#include <stdatomic.h>

#include "testutil.h"

#define BLOCKED_ON_CHAN 10
#define SLEEPERS 3
#define READERS 2

static goro_chan_t *never;
static int idle_pipe[2], blocking_pipe[2];
static atomic_int started;

static void receiver(void *arg)
{
	(void)arg;
	int v;
	atomic_fetch_add(&started, 1);
	goro_chan_recv(never, &v);
}

static void sleeper(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	goro_sleep(3600LL * 1000 * 1000 * 1000);
}

static void reader(void *arg)
{
	(void)arg;
	char c;
	atomic_fetch_add(&started, 1);
	goro_read(idle_pipe[0], &c, 1);
}

static void blocked(void *arg)
{
	(void)arg;
	char c;
	atomic_fetch_add(&started, 1);
	GORO_BLOCKING(read(blocking_pipe[0], &c, 1));
}

/* Poll goro_stats until done(s) holds, for up to 20 s. */
static bool wait_for(struct goro_stats *s, bool (*done)(const struct goro_stats *))
{
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(goro_stats(s, sizeof(*s)), (int)sizeof(*s));
		if (done(s))
			return true;
		goro_sleep(10 * 1000 * 1000);
	}
	return false;
}

static bool all_parked(const struct goro_stats *s)
{
	return s->g_waiting == BLOCKED_ON_CHAN + SLEEPERS + READERS &&
	       s->g_syscall == 1;
}

static int known_counts_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	never = goro_chan_make(sizeof(int), 0);
	ck_assert(pipe(idle_pipe) == 0 && pipe(blocking_pipe) == 0);
	for (int i = 0; i < BLOCKED_ON_CHAN; i++)
		goro_go(receiver, NULL);
	for (int i = 0; i < SLEEPERS; i++)
		goro_go(sleeper, NULL);
	for (int i = 0; i < READERS; i++)
		goro_go(reader, NULL);
	goro_go(blocked, NULL);
	struct goro_stats s;
	ck_assert_msg(wait_for(&s, all_parked),
		      "waiting %llu syscall %llu", (unsigned long long)s.g_waiting,
		      (unsigned long long)s.g_syscall);
	ck_assert_uint_eq(s.size, sizeof(s));
	/* main, and whatever has not yet parked: nothing else. */
	ck_assert_uint_eq(s.goroutines, 1 + BLOCKED_ON_CHAN + SLEEPERS +
				       READERS + 1);
	ck_assert_uint_eq(s.goroutines, goro_count());
	ck_assert_uint_eq(s.g_running, 1);
	ck_assert_uint_eq(s.g_runnable, 0);
	ck_assert_uint_ge(s.timers, SLEEPERS);
	ck_assert_uint_eq(s.netpoll_waiters, READERS);
	ck_assert_uint_eq(s.procs, 2);
	ck_assert_uint_le(s.procs_idle, 2);
	/* main's M, the blocked goroutine's: at least two threads. */
	ck_assert_uint_ge(s.threads, 2);
	ck_assert_uint_ge(s.m_running, 1);
	ck_assert_uint_eq(s.m_syscall, 1);
	ck_assert_uint_le(s.m_running + s.m_syscall + s.m_idle + s.m_spinning,
			  s.threads);
	ck_assert_uint_eq(s.aux_threads, 1);
	ck_assert_uint_eq(s.runq_global + s.runq_local, 0);
	/* 17 goroutines have run: each has at least a page open. */
	ck_assert_uint_ge(s.stack_inuse_bytes, 17 * 4096);
	ck_assert_uint_ge(s.stack_reserved_bytes, s.stack_inuse_bytes);

	/* Wake the blocked one; the others are abandoned at exit. */
	ck_assert_int_eq(write(blocking_pipe[1], "x", 1), 1);
	return 0;
}

START_TEST(stats_known_counts)
{
	ck_assert_int_eq(run_goro(known_counts_main, 2), 0);
}
END_TEST

static atomic_bool stop;

static void hog(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		__asm__ volatile("pause");
}

static bool preempted_some(const struct goro_stats *s)
{
	return s->preempt_done > 0;
}

/* Long enough for an idle P's thread to wake and find it queued. */
static void short_job(void *arg)
{
	int64_t until = goro_now() + 200 * 1000;
	while (goro_now() < until)
		__asm__ volatile("pause");
	goro_wg_done(arg);
}

static int preempt_and_steal_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct goro_stats before, s;
	ck_assert_int_gt(goro_stats(&before, sizeof(before)), 0);
	/* Two hogs on one P: the quantum runs out, the signal stops one. */
	goro_maxprocs(1);
	goro_go(hog, NULL);
	goro_go(hog, NULL);
	ck_assert_msg(wait_for(&s, preempted_some), "no preemption counted");
	ck_assert_uint_ge(s.preempt_requested, s.preempt_done);
	atomic_store(&stop, true);

	/* Bursts of goroutines queued on one P, fewer than its queue holds,
	 * until the other P steals some. */
	goro_maxprocs(2);
	for (int burst = 0; burst < 500 && s.steals == before.steals; burst++) {
		goro_wg_t wg = GORO_WG_INIT;
		goro_wg_add(&wg, 16);
		for (int i = 0; i < 16; i++)
			goro_go(short_job, &wg);
		goro_wg_wait(&wg);
		ck_assert_int_gt(goro_stats(&s, sizeof(s)), 0);
	}
	ck_assert_uint_gt(s.steals, before.steals);
	return 0;
}

START_TEST(stats_preemptions_and_steals)
{
	setenv("GORO_QUANTUM", "2ms", 1);
	ck_assert_int_eq(run_goro(preempt_and_steal_main, 1), 0);
}
END_TEST

/* An older caller's smaller struct, a newer caller's larger one. */
START_TEST(stats_size_contract)
{
	int known = goro_stats(NULL, 0);
	ck_assert_int_eq(known, (int)sizeof(struct goro_stats));
	ck_assert_int_eq(goro_stats(NULL, 8), -EINVAL);

	unsigned char buf[sizeof(struct goro_stats) + 64];
	memset(buf, 0xaa, sizeof(buf));
	ck_assert_int_eq(goro_stats((struct goro_stats *)buf, 16), known);
	uint64_t filled;
	memcpy(&filled, buf, sizeof(filled));
	ck_assert_uint_eq(filled, 16);
	for (size_t i = 16; i < sizeof(buf); i++)
		ck_assert_msg(buf[i] == 0xaa, "byte %zu written", i);

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_int_eq(goro_stats((struct goro_stats *)buf, sizeof(buf)),
			 known);
	memcpy(&filled, buf, sizeof(filled));
	ck_assert_uint_eq(filled, (uint64_t)known);
	for (size_t i = (size_t)known; i < sizeof(buf); i++)
		ck_assert_msg(buf[i] == 0xaa, "byte %zu written", i);

	/* Outside goro_main: nothing runs. */
	struct goro_stats s;
	goro_stats(&s, sizeof(s));
	ck_assert_uint_eq(s.goroutines + s.threads + s.procs + s.timers, 0);
}
END_TEST

/* ---- GORO_DEBUG=schedtrace ---------------------------------------------- */

static int traced_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	never = goro_chan_make(sizeof(int), 0);
	for (int i = 0; i < 5; i++)
		goro_go(receiver, NULL);
	goro_sleep(400 * 1000 * 1000);
	return 0;
}

static void traced_child(void)
{
	_exit(run_goro(traced_main, 2));
}

static char trace[64 * 1024];

START_TEST(schedtrace_lines)
{
	setenv("GORO_DEBUG", "schedtrace=50", 1);
	ck_assert_int_eq(run_child(traced_child, trace, sizeof(trace)), 0);
	int lines = 0;
	long last_ms = -1;
	for (char *l = trace; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		long ms;
		int procs, idle, threads, spinning, idlethreads, runq, q0, q1;
		int n = sscanf(l, "SCHED %ldms: gomaxprocs=%d idleprocs=%d "
			       "threads=%d spinningthreads=%d idlethreads=%d "
			       "runqueue=%d [%d %d]", &ms, &procs, &idle,
			       &threads, &spinning, &idlethreads, &runq, &q0,
			       &q1);
		ck_assert_msg(n == 9, "not a SCHED line: %.120s", l);
		/* (Two lines in one millisecond when the trace fell
		 * behind on a loaded machine.) */
		ck_assert_int_ge(ms, last_ms);
		last_ms = ms;
		ck_assert_int_eq(procs, 2);
		ck_assert(idle >= 0 && idle <= 2);
		/* The Ms, sysmon; at most one spinning or idle per M. */
		ck_assert_int_ge(threads, 2);
		ck_assert_int_le(spinning + idlethreads, threads);
		ck_assert(runq >= 0 && q0 >= 0 && q1 >= 0);
		lines++;
	}
	/* One at once, then every 50 ms of a 400 ms run. */
	ck_assert_msg(lines >= 2, "%d lines:\n%s", lines, trace);
}
END_TEST

START_TEST(scheddetail_lines)
{
	setenv("GORO_DEBUG", "schedtrace=50,scheddetail=1", 1);
	ck_assert_int_eq(run_child(traced_child, trace, sizeof(trace)), 0);
	long ms;
	int procs;
	ck_assert_msg(sscanf(trace, "SCHED %ldms: gomaxprocs=%d idleprocs=",
			     &ms, &procs) == 2 && procs == 2, "%.200s", trace);
	ck_assert_msg(strstr(trace, "\n  P0: status=") &&
		      strstr(trace, "\n  P1: status=") &&
		      strstr(trace, "\n  M0: p=") &&
		      strstr(trace, "\n  G1: status="), "%s", trace);
	/* A trace taken after the receivers parked lists all five. */
	bool seen = false;
	for (char *t = strstr(trace, "SCHED "); t && !seen;
	     t = strstr(t + 1, "SCHED ")) {
		char *end = strstr(t + 1, "SCHED ");
		int parked = 0;
		for (char *g = strstr(t, "(chan receive)"); g && (!end || g < end);
		     g = strstr(g + 1, "(chan receive)"))
			parked++;
		seen = parked == 5;
	}
	ck_assert_msg(seen, "no trace with 5 parked receivers:\n%s", trace);
	/* Known keys with bad values stop goro_main; unknown keys do not. */
	setenv("GORO_DEBUG", "schedtrace=soon", 1);
	ck_assert_int_eq(run_child(traced_child, trace, sizeof(trace)),
			 (256 - EINVAL) & 0xff);
	ck_assert_msg(strstr(trace, "GORO_DEBUG"), "%s", trace);
	setenv("GORO_DEBUG", "madvdontneed=1", 1);
	ck_assert_int_eq(run_child(traced_child, trace, sizeof(trace)), 0);
	ck_assert_msg(!strstr(trace, "SCHED"), "%s", trace);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stats_known_counts);
	tcase_add_test(tc, stats_preemptions_and_steals);
	tcase_add_test(tc, stats_size_contract);
	tcase_add_test(tc, schedtrace_lines);
	tcase_add_test(tc, scheddetail_lines);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(stats_suite)
