/* SPDX-License-Identifier: MIT */
/*
 * check_chan.c — channels: many producers and consumers on several Ps
 * lose and duplicate nothing; FIFO order; close semantics; the
 * non-blocking forms; free; signal-only channels; bad input.
 */
#include <errno.h>
#include <stdint.h>

#include "testutil.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 250000
#define TOTAL ((int64_t)PRODUCERS * PER_PRODUCER)

/* ---- 4 producers x 250k values, 4 consumers, 2 Ps ------------------------- */

static struct {
	goro_chan_t *values;      /* int64 values 1..TOTAL */
	goro_chan_t *done;        /* producers and consumers report here */
	unsigned char seen[TOTAL + 1];
} mpmc;

/* Hot loops count problems instead of asserting (a Check assertion
 * costs a write to its log). */
struct tally {
	int64_t count, sum, bad;
};

static void producer(void *arg)
{
	int64_t base = (int64_t)(intptr_t)arg * PER_PRODUCER;
	struct tally t = {0};
	for (int64_t i = 1; i <= PER_PRODUCER; i++) {
		int64_t v = base + i;
		if (goro_chan_send(mpmc.values, &v) != 0)
			t.bad++;
	}
	goro_chan_send(mpmc.done, &t);
}

static void consumer(void *arg)
{
	(void)arg;
	struct tally t = {0};
	int64_t v;
	while (goro_chan_recv(mpmc.values, &v) == 1) {
		/* Out of range or seen before (consumers run in parallel:
		 * mark atomically). */
		if (v < 1 || v > TOTAL ||
		    __atomic_exchange_n(&mpmc.seen[v], 1, __ATOMIC_RELAXED))
			t.bad++;
		t.count++;
		t.sum += v;
	}
	goro_chan_send(mpmc.done, &t);
}

static int64_t mpmc_cap;

static int mpmc_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	memset(mpmc.seen, 0, sizeof(mpmc.seen));
	mpmc.values = goro_chan_make(sizeof(int64_t), (size_t)mpmc_cap);
	mpmc.done = goro_chan_make(sizeof(struct tally), 0);
	ck_assert_ptr_nonnull(mpmc.values);
	for (intptr_t i = 0; i < CONSUMERS; i++)
		ck_assert_int_gt(goro_go(consumer, NULL), 0);
	for (intptr_t i = 0; i < PRODUCERS; i++)
		ck_assert_int_gt(goro_go(producer, (void *)i), 0);
	struct tally t;
	for (int i = 0; i < PRODUCERS; i++) {
		ck_assert_int_eq(goro_chan_recv(mpmc.done, &t), 1);
		ck_assert_int_eq(t.bad, 0);
	}
	ck_assert_int_eq(goro_chan_close(mpmc.values), 0);
	struct tally total = {0};
	for (int i = 0; i < CONSUMERS; i++) {
		ck_assert_int_eq(goro_chan_recv(mpmc.done, &t), 1);
		total.count += t.count;
		total.sum += t.sum;
		total.bad += t.bad;
	}
	ck_assert_int_eq(total.bad, 0);
	ck_assert_int_eq(total.count, TOTAL);
	ck_assert_int_eq(total.sum, TOTAL * (TOTAL + 1) / 2);
	int64_t unseen = 0;
	for (int64_t v = 1; v <= TOTAL; v++)
		unseen += !mpmc.seen[v];
	ck_assert_int_eq(unseen, 0);
	ck_assert_int_eq(goro_chan_free(mpmc.values), 0);
	ck_assert_int_eq(goro_chan_free(mpmc.done), 0);
	return 0;
}

START_TEST(mpmc_unbuffered)
{
	mpmc_cap = 0;
	ck_assert_int_eq(run_goro(mpmc_main, 2), 0);
}
END_TEST

START_TEST(mpmc_buffered)
{
	mpmc_cap = 64;
	ck_assert_int_eq(run_goro(mpmc_main, 2), 0);
}
END_TEST

/* ---- order --------------------------------------------------------------------- */

static int buffered_fifo_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 8);
	ck_assert_uint_eq(goro_chan_cap(c), 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(goro_chan_trysend(c, &i), 0);
	ck_assert_uint_eq(goro_chan_len(c), 8);
	int v = 99;
	ck_assert_int_eq(goro_chan_trysend(c, &v), -EAGAIN);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(goro_chan_tryrecv(c, &v), 1);
		ck_assert_int_eq(v, i);
	}
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), -EAGAIN);
	ck_assert_uint_eq(goro_chan_len(c), 0);
	return 0;
}

START_TEST(buffered_fifo)
{
	ck_assert_int_eq(run_goro(buffered_fifo_main, 1), 0);
}
END_TEST

/* Parked receivers are served in the order they parked; parked senders
 * likewise, behind a full buffer (values then come out in send order). */
static goro_chan_t *order_c, *order_log;

static void order_receiver(void *arg)
{
	int v;
	ck_assert_int_eq(goro_chan_recv(order_c, &v), 1);
	int who = (int)(intptr_t)arg;
	ck_assert_int_eq(v, who);
	goro_chan_send(order_log, &who);
}

static void order_sender(void *arg)
{
	int v = (int)(intptr_t)arg;
	ck_assert_int_eq(goro_chan_send(order_c, &v), 0);
}

static int waiter_fifo_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	order_c = goro_chan_make(sizeof(int), 0);
	order_log = goro_chan_make(sizeof(int), 16);
	/* One P: each goroutine runs (and parks) at the yield. */
	for (intptr_t i = 0; i < 5; i++) {
		goro_go(order_receiver, (void *)i);
		goro_yield();
	}
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(goro_chan_send(order_c, &i), 0);
	/* Each receiver checked it got its own index; all five report. */
	for (int i = 0; i < 5; i++) {
		int who;
		ck_assert_int_eq(goro_chan_recv(order_log, &who), 1);
	}

	goro_chan_t *b = goro_chan_make(sizeof(int), 2);
	order_c = b;
	for (intptr_t i = 0; i < 6; i++) {
		goro_go(order_sender, (void *)i);
		goro_yield();
	}
	ck_assert_uint_eq(goro_chan_len(b), 2);
	for (int i = 0; i < 6; i++) {
		int v;
		ck_assert_int_eq(goro_chan_recv(b, &v), 1);
		ck_assert_int_eq(v, i);
	}
	return 0;
}

START_TEST(waiter_fifo)
{
	ck_assert_int_eq(run_goro(waiter_fifo_main, 1), 0);
}
END_TEST

/* ---- close ------------------------------------------------------------------------- */

static goro_chan_t *close_c, *close_results;

static void closed_receiver(void *arg)
{
	(void)arg;
	int64_t v = 12345;
	int r = goro_chan_recv(close_c, &v);
	int64_t report[2] = { r, v };
	goro_chan_send(close_results, report);
}

static void closed_sender(void *arg)
{
	(void)arg;
	int64_t v = 7;
	int64_t report[2] = { goro_chan_send(close_c, &v), -1 };
	goro_chan_send(close_results, report);
}

static int close_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* A closed buffered channel still delivers what it holds. */
	goro_chan_t *c = goro_chan_make(sizeof(int), 4);
	int v = 1;
	goro_chan_send(c, &v);
	v = 2;
	goro_chan_send(c, &v);
	ck_assert_int_eq(goro_chan_close(c), 0);
	ck_assert_int_eq(goro_chan_close(c), -EPIPE);
	ck_assert_int_eq(goro_chan_send(c, &v), -EPIPE);
	ck_assert_int_eq(goro_chan_trysend(c, &v), -EPIPE);
	ck_assert_int_eq(goro_chan_recv(c, &v), 1);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), 1);
	ck_assert_int_eq(v, 2);
	v = 77;
	ck_assert_int_eq(goro_chan_recv(c, &v), 0);
	ck_assert_int_eq(v, 0);  /* zero value */
	v = 77;
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(goro_chan_free(c), 0);

	/* Close wakes every parked receiver (0, zeroed) and sender (-EPIPE). */
	close_results = goro_chan_make(2 * sizeof(int64_t), 16);
	close_c = goro_chan_make(sizeof(int64_t), 0);
	for (int i = 0; i < 3; i++)
		goro_go(closed_receiver, NULL);
	goro_yield();
	ck_assert_int_eq(goro_chan_free(close_c), -EBUSY);
	ck_assert_int_eq(goro_chan_close(close_c), 0);
	for (int i = 0; i < 3; i++) {
		int64_t report[2];
		ck_assert_int_eq(goro_chan_recv(close_results, report), 1);
		ck_assert_int_eq(report[0], 0);
		ck_assert_int_eq(report[1], 0);
	}
	ck_assert_int_eq(goro_chan_free(close_c), 0);

	close_c = goro_chan_make(sizeof(int64_t), 0);
	for (int i = 0; i < 3; i++)
		goro_go(closed_sender, NULL);
	goro_yield();
	ck_assert_int_eq(goro_chan_free(close_c), -EBUSY);
	ck_assert_int_eq(goro_chan_close(close_c), 0);
	for (int i = 0; i < 3; i++) {
		int64_t report[2];
		ck_assert_int_eq(goro_chan_recv(close_results, report), 1);
		ck_assert_int_eq(report[0], -EPIPE);
	}
	ck_assert_int_eq(goro_chan_free(close_c), 0);
	return 0;
}

START_TEST(close_semantics)
{
	ck_assert_int_eq(run_goro(close_main, 1), 0);
}
END_TEST

/* ---- signal-only channels, discarded values -------------------------------------- */

static goro_chan_t *sig;

static void signaller(void *arg)
{
	(void)arg;
	int bad = 0;
	for (int i = 0; i < 1000; i++)
		bad += goro_chan_send(sig, NULL) != 0;
	ck_assert_int_eq(bad, 0);
	goro_chan_close(sig);
}

static int zero_size_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (size_t cap = 0; cap <= 4; cap += 4) {
		sig = goro_chan_make(0, cap);
		ck_assert_ptr_nonnull(sig);
		goro_go(signaller, NULL);
		int n = 0;
		while (goro_chan_recv(sig, NULL) == 1)
			n++;
		ck_assert_int_eq(n, 1000);
		ck_assert_int_eq(goro_chan_free(sig), 0);
	}
	/* A receive may discard the value. */
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	int v = 5;
	goro_chan_send(c, &v);
	ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
	ck_assert_uint_eq(goro_chan_len(c), 0);
	goro_chan_free(c);
	return 0;
}

START_TEST(zero_size_elements)
{
	ck_assert_int_eq(run_goro(zero_size_main, 2), 0);
}
END_TEST

/* ---- the non-blocking forms on an unbuffered channel ------------------------------ */

static goro_chan_t *try_c;

static void parked_receiver(void *arg)
{
	int *out = arg;
	ck_assert_int_eq(goro_chan_recv(try_c, out), 1);
}

static int try_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	try_c = goro_chan_make(sizeof(int), 0);
	int v = 3;
	ck_assert_int_eq(goro_chan_trysend(try_c, &v), -EAGAIN);
	ck_assert_int_eq(goro_chan_tryrecv(try_c, &v), -EAGAIN);
	/* With a receiver parked, trysend hands the value straight over. */
	int got = 0;
	goro_go(parked_receiver, &got);
	goro_yield();
	ck_assert_int_eq(goro_chan_trysend(try_c, &v), 0);
	ck_assert_uint_eq(goro_chan_len(try_c), 0);
	goro_yield();
	ck_assert_int_eq(got, 3);
	return 0;
}

START_TEST(try_ops)
{
	ck_assert_int_eq(run_goro(try_main, 1), 0);
}
END_TEST

/* ---- bad input -------------------------------------------------------------------- */

static int bad_input_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int v = 0;
	/* NULL is Go's nil channel: the try forms would block (the blocking
	 * forms block for good: check_chanapi). */
	ck_assert_int_eq(goro_chan_trysend(NULL, &v), -EAGAIN);
	ck_assert_int_eq(goro_chan_tryrecv(NULL, &v), -EAGAIN);
	ck_assert_int_eq(goro_chan_close(NULL), -EINVAL);
	ck_assert_int_eq(goro_chan_free(NULL), -EINVAL);
	ck_assert_uint_eq(goro_chan_len(NULL), 0);
	ck_assert_uint_eq(goro_chan_cap(NULL), 0);
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	ck_assert_int_eq(goro_chan_send(c, NULL), -EINVAL);
	ck_assert_int_eq(goro_chan_trysend(c, NULL), -EINVAL);
	ck_assert_uint_eq(goro_chan_len(c), 0);
	goro_chan_free(c);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(SIZE_MAX / 2, 4));
	ck_assert_int_eq(errno, EINVAL);
	return 0;
}

START_TEST(bad_input)
{
	ck_assert_int_eq(run_goro(bad_input_main, 1), 0);
	/* Outside goro_main. */
	int v = 0;
	ck_assert_int_eq(goro_chan_send(NULL, &v), -EPERM);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(sizeof(int), 0));
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

static Suite *chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tcase_create("chan");
	tcase_add_test(tc, mpmc_unbuffered);
	tcase_add_test(tc, mpmc_buffered);
	tcase_add_test(tc, buffered_fifo);
	tcase_add_test(tc, waiter_fifo);
	tcase_add_test(tc, close_semantics);
	tcase_add_test(tc, zero_size_elements);
	tcase_add_test(tc, try_ops);
	tcase_add_test(tc, bad_input);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(chan_suite)
