/* SPDX-License-Identifier: MIT */
/*
 * check_foreign.c — calls from threads goro did not create, and
 * goro_go_copy.  A plain pthread, while goro_main runs, spawns goroutines
 * (with a copied argument too), sends and receives on channels (blocking
 * its own thread, not a P), closes a channel, cancels a context and drives
 * timers; outside goro_main the same calls fail with -EPERM.  goro_go_copy
 * hands the goroutine its own copy of the caller's bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define MS 1000000LL
#define PATIENCE (20000 * MS)

struct blob {
	int64_t id;
	char text[48];
};

static goro_chan_t *results;  /* int64_t */

static void report_blob(void *arg)
{
	const struct blob *b = arg;
	int64_t v = b->id * 1000 + (int64_t)strlen(b->text);
	goro_chan_send(results, &v);
}

static void report_value(void *arg)
{
	int64_t v = (int64_t)(intptr_t)arg;
	goro_chan_send(results, &v);
}

/* ---- a plain pthread using the runtime ------------------------------------------ */

struct thread_args {
	goro_chan_t *to_main;    /* int, unbuffered */
	goro_chan_t *from_main;  /* int, unbuffered */
	goro_ctx_t *ctx;
	int errors;
};

#define N_VALUES 200

static void *plain_thread(void *arg)
{
	struct thread_args *a = arg;
	/* Spawns, one with a copy of a buffer that dies right after. */
	if (goro_go(report_value, (void *)(intptr_t)7) <= 0)
		a->errors++;
	{
		struct blob b = { .id = 9 };
		strcpy(b.text, "copied");
		if (goro_go_copy(report_blob, &b, sizeof(b)) <= 0)
			a->errors++;
		memset(&b, 0, sizeof(b));
	}
	/* Blocking sends: this thread sleeps until main receives. */
	for (int i = 0; i < N_VALUES; i++)
		if (goro_chan_send(a->to_main, &i) != 0)
			a->errors++;
	/* Blocking receives. */
	for (int i = 0; i < N_VALUES; i++) {
		int v = -1;
		if (goro_chan_recv(a->from_main, &v) != 1 || v != i * 2)
			a->errors++;
	}
	/* Timers from here too. */
	goro_timer_t *t = goro_timer_new(2 * MS);
	int64_t when = 0;
	if (!t || goro_chan_recv(goro_timer_chan(t), &when) != 1 || when <= 0)
		a->errors++;
	if (goro_timer_reset(t, 3600 * 1000 * MS) != 0 ||
	    goro_timer_stop(t) != 1 || goro_timer_free(t) != 0)
		a->errors++;
	goro_ticker_t *tk = goro_ticker_new(MS);
	if (!tk || goro_chan_recv(goro_ticker_chan(tk), &when) != 1 ||
	    goro_ticker_free(tk) != 0)
		a->errors++;
	/* Select from here: a timeout, then a value main sends. */
	int v = 0;
	goro_case_t cs[2] = {
		{ .chan = a->from_main, .dir = GORO_RECV, .elem = &v },
		{ .chan = NULL, .dir = GORO_RECV },
	};
	if (goro_select(cs, 2, 2 * MS) != -ETIMEDOUT)
		a->errors++;
	if (goro_select(cs, 2, 0) != -EAGAIN)
		a->errors++;
	if (goro_chan_send(a->to_main, &v) != 0)  /* "ready for the value" */
		a->errors++;
	if (goro_select(cs, 2, -1) != 0 || v != 4242 || cs[0].ok != 1)
		a->errors++;
	goro_timer_t *t2 = goro_timer_new(MS);
	goro_case_t tc[2] = {
		{ .chan = a->from_main, .dir = GORO_RECV, .elem = &v },
		{ .chan = goro_timer_chan(t2), .dir = GORO_RECV, .elem = &when },
	};
	if (goro_select(tc, 2, -1) != 1 || when <= 0)
		a->errors++;
	goro_timer_free(t2);
	goro_ctx_cancel(a->ctx);
	if (goro_chan_close(a->to_main) != 0)
		a->errors++;
	return NULL;
}

static int plain_thread_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	results = goro_chan_make(sizeof(int64_t), 4);
	struct thread_args a = {
		.to_main = goro_chan_make(sizeof(int), 0),
		.from_main = goro_chan_make(sizeof(int), 0),
		.ctx = goro_ctx_with_cancel(goro_ctx_background()),
	};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, plain_thread, &a), 0);
	int64_t got[2];
	for (int i = 0; i < 2; i++) {
		goro_case_t cs = { .chan = results, .dir = GORO_RECV,
				   .elem = &got[i] };
		ck_assert_int_eq(goro_select(&cs, 1, PATIENCE), 0);
	}
	ck_assert((got[0] == 7 && got[1] == 9006) ||
		  (got[1] == 7 && got[0] == 9006));
	for (int i = 0; i < N_VALUES; i++) {
		int v = -1;
		ck_assert_int_eq(goro_chan_recv(a.to_main, &v), 1);
		ck_assert_int_eq(v, i);
	}
	for (int i = 0; i < N_VALUES; i++) {
		int v = i * 2;
		ck_assert_int_eq(goro_chan_send(a.from_main, &v), 0);
	}
	/* The thread's select: it announces itself, then waits for this. */
	int ready = -1;
	ck_assert_int_eq(goro_chan_recv(a.to_main, &ready), 1);
	int v4242 = 4242;
	ck_assert_int_eq(goro_chan_send(a.from_main, &v4242), 0);
	goro_case_t done = { .chan = goro_ctx_done(a.ctx), .dir = GORO_RECV };
	ck_assert_int_eq(goro_select(&done, 1, PATIENCE), 0);
	ck_assert_int_eq(goro_ctx_err(a.ctx), -ECANCELED);
	ck_assert_int_eq(goro_chan_recv(a.to_main, NULL), 0);  /* closed */
	ck_assert_int_eq(GORO_BLOCKING(pthread_join(th, NULL)), 0);
	ck_assert_int_eq(a.errors, 0);
	goro_ctx_free(a.ctx);
	goro_chan_free(a.to_main);
	goro_chan_free(a.from_main);
	goro_chan_free(results);
	return 0;
}

START_TEST(plain_pthread_uses_runtime)
{
	ck_assert_int_eq(run_goro(plain_thread_main, 2), 0);
}
END_TEST

START_TEST(plain_pthread_uses_runtime_one_p)
{
	ck_assert_int_eq(run_goro(plain_thread_main, 1), 0);
}
END_TEST

/* Several threads feeding one goroutine through a small buffer. */
#define FEEDERS 4
#define PER_FEEDER 2000
static goro_chan_t *feed;

static void *feeder(void *arg)
{
	intptr_t base = (intptr_t)arg;
	for (int i = 0; i < PER_FEEDER; i++) {
		int64_t v = base + i;
		if (goro_chan_send(feed, &v) != 0)
			return (void *)1;
	}
	return NULL;
}

static int feeders_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	feed = goro_chan_make(sizeof(int64_t), 8);
	pthread_t th[FEEDERS];
	for (intptr_t k = 0; k < FEEDERS; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, feeder,
						(void *)(k * 1000000)), 0);
	int64_t sum = 0, expect = 0;
	for (int k = 0; k < FEEDERS; k++)
		for (int i = 0; i < PER_FEEDER; i++)
			expect += (int64_t)k * 1000000 + i;
	for (int n = 0; n < FEEDERS * PER_FEEDER; n++) {
		/* With a timeout: until a feeder has called in, the runtime
		 * cannot know one will (goro.h). */
		int64_t v;
		goro_case_t cs = { .chan = feed, .dir = GORO_RECV, .elem = &v };
		ck_assert_int_eq(goro_select(&cs, 1, PATIENCE), 0);
		ck_assert_int_eq(cs.ok, 1);
		sum += v;
	}
	ck_assert_int_eq(sum, expect);
	for (int k = 0; k < FEEDERS; k++) {
		void *r;
		GORO_BLOCKING(pthread_join(th[k], &r));
		ck_assert_ptr_null(r);
	}
	goro_chan_free(feed);
	return 0;
}

START_TEST(threads_feed_a_goroutine)
{
	ck_assert_int_eq(run_goro(feeders_main, 2), 0);
}
END_TEST

/*
 * No wake-up is lost between a thread with no P and the scheduler.  A
 * feeder that readies the receiver puts it in the global queue and wakes
 * nobody while some M spins; that M, giving up, must see the queue.  It
 * once looked only at the Ps' local queues: the receiver then stayed in
 * the global queue with every P idle until some timer woke an M (about 1
 * run of feeders_main in 10 on a loaded machine waited out its 20 s
 * timeout).  Here the receives after the first have no timeout, so the
 * old code hangs (the test's time limit fails it) and the race repeats
 * ROUNDS times.
 */
#define ROUNDS 25

static int lost_wakeup_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (int r = 0; r < ROUNDS; r++) {
		feed = goro_chan_make(sizeof(int64_t), 8);
		pthread_t th[FEEDERS];
		for (intptr_t k = 0; k < FEEDERS; k++)
			ck_assert_int_eq(pthread_create(&th[k], NULL, feeder,
							(void *)(k * 1000000)), 0);
		int64_t v;
		/* Until a feeder has called in, the runtime cannot know one
		 * will (goro.h): the first receive has a timeout. */
		goro_case_t cs = { .chan = feed, .dir = GORO_RECV, .elem = &v };
		ck_assert_int_eq(goro_select(&cs, 1, PATIENCE), 0);
		for (int n = 1; n < FEEDERS * PER_FEEDER; n++)
			ck_assert_int_eq(goro_chan_recv(feed, &v), 1);
		for (int k = 0; k < FEEDERS; k++) {
			void *ret;
			GORO_BLOCKING(pthread_join(th[k], &ret));
			ck_assert_ptr_null(ret);
		}
		goro_chan_free(feed);
	}
	return 0;
}

START_TEST(foreign_wakeups_are_not_lost)
{
	ck_assert_int_eq(run_goro(lost_wakeup_main, 2), 0);
}
END_TEST

/* ---- outside goro_main: -EPERM ------------------------------------------------- */

static void nop(void *arg)
{
	(void)arg;
}

START_TEST(outside_goro_main_is_eperm)
{
	int v = 0;
	ck_assert_int_eq(goro_go(nop, NULL), -EPERM);
	ck_assert_int_eq(goro_go_copy(nop, &v, sizeof(v)), -EPERM);
	ck_assert_int_eq(goro_chan_send((goro_chan_t *)&v, &v), -EPERM);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(4, 1));
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_ptr_null(goro_timer_new(MS));
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(goro_timer_stop((goro_timer_t *)&v), -EPERM);
}
END_TEST

/* ---- goro_go_copy ------------------------------------------------------------------ */

static void spawn_with_stack_blob(int64_t id)
{
	struct blob b = { .id = id };
	strcpy(b.text, "from a frame that is gone");
	ck_assert_int_gt(goro_go_copy(report_blob, &b, sizeof(b)), 0);
	memset(&b, 0xff, sizeof(b));  /* the caller's copy changes */
}

static void big_copy(void *arg)
{
	const unsigned char *p = arg;
	int64_t ok = 1;
	for (int i = 0; i < 65536; i++)
		if (p[i] != (unsigned char)(i * 7))
			ok = 0;
	goro_chan_send(results, &ok);
	goro_exit();  /* the copy is freed on this path too */
}

static int copy_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	results = goro_chan_make(sizeof(int64_t), 16);
	/* One P: nothing runs until we park, by when the frames are gone. */
	for (int64_t id = 1; id <= 10; id++)
		spawn_with_stack_blob(id);
	int64_t seen = 0;
	for (int i = 0; i < 10; i++) {
		int64_t v;
		goro_chan_recv(results, &v);
		ck_assert_int_eq(v % 1000, (int64_t)strlen(
			"from a frame that is gone"));
		seen |= 1LL << (v / 1000);
	}
	ck_assert_int_eq(seen, 0x7fe);  /* ids 1..10 */

	unsigned char *big = malloc(65536);
	for (int i = 0; i < 65536; i++)
		big[i] = (unsigned char)(i * 7);
	ck_assert_int_gt(goro_go_copy(big_copy, big, 65536), 0);
	memset(big, 0, 65536);
	free(big);
	int64_t ok = 0;
	goro_chan_recv(results, &ok);
	ck_assert_int_eq(ok, 1);

	/* size 0 passes the pointer itself. */
	ck_assert_int_gt(goro_go_copy(report_value, (void *)(intptr_t)5, 0), 0);
	goro_chan_recv(results, &ok);
	ck_assert_int_eq(ok, 5);
	/* Bad input. */
	ck_assert_int_eq(goro_go_copy(NULL, &ok, sizeof(ok)), -EINVAL);
	ck_assert_int_eq(goro_go_copy(report_value, NULL, 8), -EINVAL);
	/* Many: each copy is freed when its goroutine ends (ASan checks). */
	for (int i = 0; i < 5000; i++) {
		struct blob b = { .id = 0 };
		ck_assert_int_gt(goro_go_copy(nop, &b, sizeof(b)), 0);
		if (i % 256 == 0)
			goro_sleep(100000);
	}
	goro_chan_free(results);
	return 0;
}

START_TEST(go_copy_owns_its_argument)
{
	ck_assert_int_eq(run_goro(copy_main, 1), 0);
}
END_TEST

static Suite *foreign_suite(void)
{
	Suite *s = suite_create("foreign");
	TCase *tc = tcase_create("foreign");
	tcase_add_test(tc, plain_pthread_uses_runtime);
	tcase_add_test(tc, plain_pthread_uses_runtime_one_p);
	tcase_add_test(tc, threads_feed_a_goroutine);
	tcase_add_test(tc, foreign_wakeups_are_not_lost);
	tcase_add_test(tc, outside_goro_main_is_eperm);
	tcase_add_test(tc, go_copy_owns_its_argument);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(foreign_suite)
