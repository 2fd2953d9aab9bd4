/* SPDX-License-Identifier: MIT */
/*
 * check_posix_redis.c — an unmodified synchronous client library in
 * goroutines: hiredis's redisConnect and redisCommand, from 1,000
 * goroutines on 2 Ps, each with its own connection to a redis-server this
 * test starts on 127.0.0.1, 100 SET/GET pairs each, every reply checked,
 * while the process's thread count stays within GOMAXPROCS + 8.
 *
 * hiredis blocks in connect (through poll), write and read; linked with
 * libgoro-posix, each of those parks the goroutine instead.  Under the
 * sanitizers each goroutine does 25 pairs (the time bound).
 *
 * The thread bound is checked with asynchronous preemption off and on.
 * With it on, a goroutine preempted in code not declared thread-agnostic
 * resumes on its own thread, which waits with it in the run queue, and
 * a thread that parks over the thread budget hands its P to an earlier
 * one (src/sched/sched.c, over_budget_handoff): 8 to 9 threads in 15
 * runs beside four looping test suites.  Under the sanitizers, whose
 * slower code overruns more slices, only the run with preemption off is
 * bounded.  On the defaults, a goroutine stopped inside glibc's malloc
 * holding an arena lock, while the goroutines on both Ps waited for that
 * lock in free(), once hung the program 1 run in 5 (the retake could not
 * take their Ps; see src/sysmon/retake.c, lend_spare_to_parked).
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdatomic.h>

#include "testutil.h"
#include "posixutil.h"

#define CLIENTS 1000
/* Under the sanitizers, on a loaded 2-core machine, 100 pairs took 25 s:
 * 25 keep the test well inside its time. */
#ifdef GORO_SANITIZED
#define PAIRS 25
#else
#define PAIRS 100
#endif

static int port;
static _Atomic int good, failed;
static goro_wg_t wg;
static bool check_threads;

static void client(void *arg)
{
	int id = (int)(intptr_t)arg;
	redisContext *c = redisConnect("127.0.0.1", port);
	if (!c || c->err) {
		if (atomic_fetch_add(&failed, 1) < 3)
			fprintf(stderr, "connect: %s\n",
				c ? c->errstr : "no memory");
		goto out;
	}
	for (int i = 0; i < PAIRS; i++) {
		char key[32], val[48];
		snprintf(key, sizeof(key), "k:%d:%d", id, i);
		snprintf(val, sizeof(val), "value-%d-%d-%x", id, i, id * i);
		redisReply *r = redisCommand(c, "SET %s %s", key, val);
		bool ok = r && r->type == REDIS_REPLY_STATUS &&
			  strcmp(r->str, "OK") == 0;
		freeReplyObject(r);
		r = ok ? redisCommand(c, "GET %s", key) : NULL;
		ok = r && r->type == REDIS_REPLY_STRING &&
		     strcmp(r->str, val) == 0;
		freeReplyObject(r);
		if (!ok) {
			if (atomic_fetch_add(&failed, 1) < 3)
				fprintf(stderr, "pair %d of %d: %s\n", i, id,
					c->err ? c->errstr : "wrong reply");
			break;
		}
		atomic_fetch_add(&good, 1);
	}
out:
	if (c)
		redisFree(c);
	goro_wg_done(&wg);
}

static int redis_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct thread_sampler s = { 0 };
	sampler_start(&s);
	goro_wg_add(&wg, CLIENTS);
	int64_t t0 = goro_now();
	for (int i = 0; i < CLIENTS; i++)
		goro_go(client, (void *)(intptr_t)i);
	goro_wg_wait(&wg);
	int64_t t1 = goro_now();
	int max_seen = sampler_stop(&s);
	fprintf(stderr, "redis: %d SET/GET pairs from %d goroutines in "
		"%.2f s, %d threads at most\n", atomic_load(&good), CLIENTS,
		(double)(t1 - t0) / 1e9, max_seen);
	ck_assert_int_eq(atomic_load(&failed), 0);
	ck_assert_int_eq(atomic_load(&good), CLIENTS * PAIRS);
	if (check_threads)
		ck_assert_msg(max_seen <= 2 + 8, "%d threads", max_seen);
	return 0;
}

static void run_against_server(const char *asyncpreempt)
{
	port = free_port();
	ck_assert_int_gt(port, 0);
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	char *argv[] = { (char *)REDIS_SERVER, (char *)"--port", ports,
			 (char *)"--bind", (char *)"127.0.0.1",
			 (char *)"--save", (char *)"",
			 (char *)"--appendonly", (char *)"no",
			 (char *)"--maxclients", (char *)"4000", NULL };
	pid_t pid = start_server(argv);
	ck_assert_int_gt(pid, 0);
	bool up = wait_port(port);
	setenv("GORO_ASYNCPREEMPT", asyncpreempt, 1);
	atomic_store(&good, 0);
	atomic_store(&failed, 0);
	int r = up ? run_goro(redis_main, 2) : -1;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	ck_assert_msg(up, "redis-server did not start on port %d", port);
	ck_assert_int_eq(r, 0);
}

START_TEST(hiredis_sync_1000_goroutines)
{
	check_threads = true;
	run_against_server("0");
}
END_TEST

START_TEST(hiredis_sync_under_preemption)
{
#ifdef GORO_SANITIZED
	check_threads = false;
#else
	check_threads = true;
#endif
	run_against_server("1");
}
END_TEST

static Suite *redis_suite(void)
{
	Suite *s = suite_create("posix_redis");
	TCase *tc = tcase_create("hiredis");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hiredis_sync_1000_goroutines);
	tcase_add_test(tc, hiredis_sync_under_preemption);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(redis_suite)
