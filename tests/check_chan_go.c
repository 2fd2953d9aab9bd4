/* SPDX-License-Identifier: MIT */
/*
 * check_chan_go.c — the behaviour that Go's own channel test programs
 * nonblock.go and select3.go pin, restated with goro's calls and with the
 * timers and tickers of src/time/timerapi.c standing in for time.After and
 * time.Tick:
 *  - non-blocking operations never block, and succeed once a partner is
 *    there, for unbuffered and buffered channels (nonblock);
 *  - operations that must block do (nil channels, empty receives, full
 *    sends, selects of only such cases), and those that must not, don't
 *    (closed receives, closed sends fail at once) (select3).
 * "Blocks" is checked as "has not finished when a timer fires": it can
 * only fail when the operation wrongly completes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define MS 1000000LL
#define PATIENCE (20000 * MS)

/* ---- nonblock ------------------------------------------------------------------ */

static goro_chan_t *nb_chan, *nb_sync;

static void nb_sender(void *arg)
{
	int v = (int)(intptr_t)arg;
	goro_chan_send(nb_chan, &v);
	goro_chan_send(nb_sync, NULL);
}

static void nb_receiver(void *arg)
{
	int v = 0;
	goro_chan_recv(nb_chan, &v);
	ck_assert_int_eq(v, (int)(intptr_t)arg);
	goro_chan_send(nb_sync, NULL);
}

/* Retry a try-operation until it succeeds, a tick at a time, giving up
 * when a PATIENCE timer fires (Go's nonblock bounds its tries). */
static int until_done(int (*try_op)(goro_chan_t *, void *), goro_chan_t *c,
		      void *elem)
{
	goro_timer_t *deadline = goro_timer_new(PATIENCE);
	goro_ticker_t *tick = goro_ticker_new(100000);  /* 100 us */
	int r;
	while ((r = try_op(c, elem)) == -EAGAIN) {
		goro_case_t cs[2] = {
			{ .chan = goro_ticker_chan(tick), .dir = GORO_RECV },
			{ .chan = goro_timer_chan(deadline), .dir = GORO_RECV },
		};
		if (goro_select(cs, 2, -1) == 1)
			break;
	}
	goro_ticker_free(tick);
	goro_timer_free(deadline);
	return r;
}

static int try_send(goro_chan_t *c, void *elem)
{
	return goro_chan_trysend(c, elem);
}

static int try_recv(goro_chan_t *c, void *elem)
{
	return goro_chan_tryrecv(c, elem);
}

static int nonblock_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	nb_sync = goro_chan_make(0, 0);
	const size_t caps[] = { 0, 1, 8 };
	for (size_t k = 0; k < 3; k++) {
		nb_chan = goro_chan_make(sizeof(int), caps[k]);
		int v = 0;
		/* Nothing there: a receive would block. */
		ck_assert_int_eq(goro_chan_tryrecv(nb_chan, &v), -EAGAIN);
		/* A sender arrives: the non-blocking receive gets its value. */
		goro_go(nb_sender, (void *)(intptr_t)(100 + k));
		ck_assert_int_eq(until_done(try_recv, nb_chan, &v), 1);
		ck_assert_int_eq(v, (int)(100 + k));
		goro_chan_recv(nb_sync, NULL);
		/* Fill what buffer there is; then a send would block. */
		for (size_t i = 0; i < caps[k]; i++)
			ck_assert_int_eq(goro_chan_trysend(nb_chan, &v), 0);
		ck_assert_int_eq(goro_chan_trysend(nb_chan, &v), -EAGAIN);
		for (size_t i = 0; i < caps[k]; i++)
			ck_assert_int_eq(goro_chan_tryrecv(nb_chan, &v), 1);
		/* A receiver arrives: the non-blocking send goes through. */
		goro_go(nb_receiver, (void *)(intptr_t)(200 + k));
		v = (int)(200 + k);
		ck_assert_int_eq(until_done(try_send, nb_chan, &v), 0);
		goro_chan_recv(nb_sync, NULL);
		/* The same through a select with timeout 0 (Go's default:). */
		goro_case_t cs = { .chan = nb_chan, .dir = GORO_RECV, .elem = &v };
		ck_assert_int_eq(goro_select(&cs, 1, 0), -EAGAIN);
		goro_chan_free(nb_chan);
	}
	goro_chan_free(nb_sync);
	return 0;
}

START_TEST(nonblock)
{
	ck_assert_int_eq(run_goro(nonblock_main, 1), 0);
	ck_assert_int_eq(run_goro(nonblock_main, 2), 0);
}
END_TEST

/* ---- select3: what blocks and what does not -------------------------------------- */

/* Each blocked goroutine stays parked to the end: a channel that one
 * waits to receive on is never sent on, and the reverse. */
static goro_chan_t *s3_chan, *s3_send_only, *s3_closed, *s3_full;
static atomic_int s3_finished;

typedef void (*op_fn)(void);

static void run_op(void *arg)
{
	((op_fn)arg)();
	atomic_store(&s3_finished, 1);
}

/* f must still be blocked when a 20 ms timer fires (time.After). */
static void expect_blocks(op_fn f)
{
	atomic_store(&s3_finished, 0);
	goro_go(run_op, (void *)f);
	goro_timer_t *t = goro_timer_new(20 * MS);
	goro_chan_recv(goro_timer_chan(t), NULL);
	goro_timer_free(t);
	ck_assert_int_eq(atomic_load(&s3_finished), 0);
}

/* f must finish, long before a PATIENCE timer fires. */
static void expect_completes(op_fn f)
{
	atomic_store(&s3_finished, 0);
	goro_go(run_op, (void *)f);
	goro_ticker_t *tick = goro_ticker_new(MS);
	goro_timer_t *limit = goro_timer_new(PATIENCE);
	while (!atomic_load(&s3_finished)) {
		goro_case_t cs[2] = {
			{ .chan = goro_ticker_chan(tick), .dir = GORO_RECV },
			{ .chan = goro_timer_chan(limit), .dir = GORO_RECV },
		};
		if (goro_select(cs, 2, -1) == 1)
			break;
	}
	goro_ticker_free(tick);
	goro_timer_free(limit);
	ck_assert_int_eq(atomic_load(&s3_finished), 1);
}

static void recv_nil(void) { goro_chan_recv(NULL, NULL); }
static void send_nil(void) { int v = 1; goro_chan_send(NULL, &v); }
static void recv_empty(void) { int v; goro_chan_recv(s3_chan, &v); }
static void send_unbuffered(void) { int v = 1; goro_chan_send(s3_send_only, &v); }
static void send_full(void) { int v = 1; goro_chan_send(s3_full, &v); }
static void select_nils(void)
{
	int v = 1;
	goro_case_t cs[2] = {
		{ .chan = NULL, .dir = GORO_RECV, .elem = &v },
		{ .chan = NULL, .dir = GORO_SEND, .elem = &v },
	};
	goro_select(cs, 2, -1);
}
static void select_empty_and_nil(void)
{
	int v;
	goro_case_t cs[2] = {
		{ .chan = s3_chan, .dir = GORO_RECV, .elem = &v },
		{ .chan = NULL, .dir = GORO_RECV, .elem = &v },
	};
	goro_select(cs, 2, -1);
}
static void select_nothing(void) { goro_select(NULL, 0, -1); }

static void recv_closed(void)
{
	int v = 5;
	ck_assert_int_eq(goro_chan_recv(s3_closed, &v), 0);
	ck_assert_int_eq(v, 0);  /* the zero value */
}
static void send_closed(void)
{
	int v = 1;
	ck_assert_int_eq(goro_chan_send(s3_closed, &v), -EPIPE);  /* Go panics */
}
static void select_closed_recv_beside_nil(void)
{
	int v;
	goro_case_t cs[2] = {
		{ .chan = NULL, .dir = GORO_RECV, .elem = &v },
		{ .chan = s3_closed, .dir = GORO_RECV, .elem = &v },
	};
	ck_assert_int_eq(goro_select(cs, 2, -1), 1);
	ck_assert_int_eq(cs[1].ok, 0);
}
static void select_closed_send(void)
{
	int v = 1;
	goro_case_t cs = { .chan = s3_closed, .dir = GORO_SEND, .elem = &v };
	ck_assert_int_eq(goro_select(&cs, 1, -1), -EPIPE);
}
static void select_after(void)
{
	/* time.After in a select: the timer's channel wins. */
	int v;
	goro_timer_t *t = goro_timer_new(MS);
	goro_case_t cs[2] = {
		{ .chan = s3_chan, .dir = GORO_RECV, .elem = &v },
		{ .chan = goro_timer_chan(t), .dir = GORO_RECV },
	};
	ck_assert_int_eq(goro_select(cs, 2, -1), 1);
	goro_timer_free(t);
}

static int select3_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	s3_chan = goro_chan_make(sizeof(int), 0);
	s3_send_only = goro_chan_make(sizeof(int), 0);
	s3_closed = goro_chan_make(sizeof(int), 0);
	goro_chan_close(s3_closed);
	s3_full = goro_chan_make(sizeof(int), 2);
	int v = 0;
	goro_chan_send(s3_full, &v);
	goro_chan_send(s3_full, &v);

	expect_blocks(recv_nil);
	expect_blocks(send_nil);
	expect_blocks(recv_empty);
	expect_blocks(send_unbuffered);
	expect_blocks(send_full);
	expect_blocks(select_nils);
	expect_blocks(select_empty_and_nil);
	expect_blocks(select_nothing);

	expect_completes(recv_closed);
	expect_completes(send_closed);
	expect_completes(select_closed_recv_beside_nil);
	expect_completes(select_closed_send);
	expect_completes(select_after);
	/* The blocked goroutines stay parked; main returning ends them. */
	return 0;
}

START_TEST(select3)
{
	ck_assert_int_eq(run_goro(select3_main, 2), 0);
}
END_TEST

static Suite *chan_go_suite(void)
{
	Suite *s = suite_create("chan_go");
	TCase *tc = tcase_create("chan_go");
	tcase_add_test(tc, nonblock);
	tcase_add_test(tc, select3);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(chan_go_suite)
