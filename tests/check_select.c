/* SPDX-License-Identifier: MIT */
/*
 * check_select.c — goro_select: uniform choice among ready cases, polling,
 * timeouts, waking on send/receive/close, NULL and repeated channels, a
 * many-goroutine stress with timeouts racing completions, bad input.
 */
#include <errno.h>
#include <stdint.h>

#include "testutil.h"

#define MS 1000000LL

/* ---- fairness: two always-ready cases, 100k selects ------------------------- */

static int fairness_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *a = goro_chan_make(sizeof(int), 1);
	goro_chan_t *b = goro_chan_make(sizeof(int), 1);
	int one = 1, two = 2, va = 0, vb = 0;
	goro_chan_send(a, &one);
	goro_chan_send(b, &two);
	goro_case_t cases[2] = {
		{ .chan = a, .dir = GORO_RECV, .elem = &va },
		{ .chan = b, .dir = GORO_RECV, .elem = &vb },
	};
	long chosen[2] = {0, 0}, wrong = 0;
	for (int i = 0; i < 100000; i++) {
		int r = goro_select(cases, 2, -1);
		if (r != 0 && r != 1) {
			wrong++;
			continue;
		}
		chosen[r]++;
		/* Refill the channel just drained: both stay ready. */
		wrong += r == 0 ? (va != 1 || goro_chan_send(a, &one) != 0)
				: (vb != 2 || goro_chan_send(b, &two) != 0);
	}
	ck_assert_int_eq(wrong, 0);
	ck_assert_int_eq(chosen[0] + chosen[1], 100000);
	ck_assert_msg(chosen[0] >= 48000 && chosen[0] <= 52000,
		      "case 0 chosen %ld times of 100000", chosen[0]);
	return 0;
}

START_TEST(fairness)
{
	ck_assert_int_eq(run_goro(fairness_main, 1), 0);
}
END_TEST

/* ---- polling and timeouts ------------------------------------------------------ */

static int poll_timeout_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	int v;
	goro_case_t cs = { .chan = c, .dir = GORO_RECV, .elem = &v };
	ck_assert_int_eq(goro_select(&cs, 1, 0), -EAGAIN);
	int64_t t0 = goro_now();
	ck_assert_int_eq(goro_select(&cs, 1, 5 * MS), -ETIMEDOUT);
	ck_assert_int_ge(goro_now() - t0, 5 * MS);
	/* The timed-out waiter is gone from the channel. */
	ck_assert_int_eq(goro_chan_free(c), 0);

	/* Only NULL channels: a plain timeout, or a poll. */
	goro_case_t none[2] = {
		{ .chan = NULL, .dir = GORO_RECV },
		{ .chan = NULL, .dir = 12345 },  /* ignored entirely */
	};
	ck_assert_int_eq(goro_select(none, 2, 0), -EAGAIN);
	ck_assert_int_eq(goro_select(NULL, 0, 0), -EAGAIN);
	t0 = goro_now();
	ck_assert_int_eq(goro_select(none, 2, 2 * MS), -ETIMEDOUT);
	ck_assert_int_ge(goro_now() - t0, 2 * MS);
	return 0;
}

START_TEST(poll_and_timeout)
{
	ck_assert_int_eq(run_goro(poll_timeout_main, 2), 0);
}
END_TEST

/* ---- waking ------------------------------------------------------------------------ */

static goro_chan_t *wake_c;

static void late_sender(void *arg)
{
	goro_sleep(1 * MS);
	int v = (int)(intptr_t)arg;
	ck_assert_int_eq(goro_chan_send(wake_c, &v), 0);
}

static void late_receiver(void *arg)
{
	int *out = arg;
	goro_sleep(1 * MS);
	ck_assert_int_eq(goro_chan_recv(wake_c, out), 1);
}

static void late_closer(void *arg)
{
	(void)arg;
	goro_sleep(1 * MS);
	ck_assert_int_eq(goro_chan_close(wake_c), 0);
}

static int wake_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *idle = goro_chan_make(sizeof(int), 0);
	wake_c = goro_chan_make(sizeof(int), 0);
	int v = 0, w = 0;

	/* Receive case completed by a sender that comes later. */
	goro_case_t recv_cases[2] = {
		{ .chan = idle, .dir = GORO_RECV, .elem = &w },
		{ .chan = wake_c, .dir = GORO_RECV, .elem = &v },
	};
	goro_go(late_sender, (void *)42);
	ck_assert_int_eq(goro_select(recv_cases, 2, -1), 1);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(recv_cases[1].ok, 1);

	/* Send case completed by a receiver that comes later. */
	int out = 0, payload = 99;
	goro_case_t send_cases[2] = {
		{ .chan = wake_c, .dir = GORO_SEND, .elem = &payload },
		{ .chan = idle, .dir = GORO_RECV, .elem = &w },
	};
	goro_go(late_receiver, &out);
	ck_assert_int_eq(goro_select(send_cases, 2, 10000 * MS), 0);
	goro_sleep(2 * MS);
	ck_assert_int_eq(out, 99);

	/* Close completes a receive case with ok = 0 and a zero value. */
	v = 5;
	goro_go(late_closer, NULL);
	ck_assert_int_eq(goro_select(recv_cases, 2, -1), 1);
	ck_assert_int_eq(recv_cases[1].ok, 0);
	ck_assert_int_eq(v, 0);

	/* A send case on a closed channel fails the select. */
	ck_assert_int_eq(goro_select(send_cases, 2, -1), -EPIPE);
	ck_assert_int_eq(goro_chan_free(idle), 0);
	return 0;
}

START_TEST(wake_on_send_recv_close)
{
	ck_assert_int_eq(run_goro(wake_main, 2), 0);
}
END_TEST

/* A select parked on a send case is failed by close. */
static goro_chan_t *send_close_c;

static void closer_now(void *arg)
{
	(void)arg;
	goro_chan_close(send_close_c);
}

static int send_close_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	send_close_c = goro_chan_make(sizeof(int), 0);
	int v = 1;
	goro_case_t cs = { .chan = send_close_c, .dir = GORO_SEND, .elem = &v };
	goro_go(closer_now, NULL);
	ck_assert_int_eq(goro_select(&cs, 1, -1), -EPIPE);
	return 0;
}

START_TEST(parked_send_case_closed)
{
	ck_assert_int_eq(run_goro(send_close_main, 1), 0);
}
END_TEST

/* ---- the same channel twice, NULL cases mixed in --------------------------------- */

static int repeated_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 4);
	int a = 0, b = 0, x = 7;
	goro_case_t cases[4] = {
		{ .chan = NULL, .dir = GORO_RECV },
		{ .chan = c, .dir = GORO_RECV, .elem = &a },
		{ .chan = c, .dir = GORO_SEND, .elem = &x },
		{ .chan = c, .dir = GORO_RECV, .elem = &b },
	};
	/* Empty: only the send is ready. */
	ck_assert_int_eq(goro_select(cases, 4, -1), 2);
	/* Now either receive or the send may proceed, never the NULL case. */
	int seen[4] = {0};
	for (int i = 0; i < 200; i++) {
		int r = goro_select(cases, 4, -1);
		ck_assert(r >= 1 && r <= 3);
		seen[r]++;
		if (r != 2)
			goro_chan_send(c, &x);
	}
	ck_assert(seen[1] > 0 && seen[3] > 0);
	ck_assert_int_eq(seen[0], 0);
	return 0;
}

START_TEST(repeated_and_null_channels)
{
	ck_assert_int_eq(run_goro(repeated_main, 1), 0);
}
END_TEST

/* Parked on the same unbuffered channel twice (send and receive): a
 * partner completes exactly one of the two. */
static goro_chan_t *twice_c;

static void twice_partner(void *arg)
{
	(void)arg;
	int v = 5;
	goro_sleep(1 * MS);
	ck_assert_int_eq(goro_chan_send(twice_c, &v), 0);
}

static int twice_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	twice_c = goro_chan_make(sizeof(int), 0);
	int in = 0, out = 9;
	goro_case_t cases[2] = {
		{ .chan = twice_c, .dir = GORO_SEND, .elem = &out },
		{ .chan = twice_c, .dir = GORO_RECV, .elem = &in },
	};
	goro_go(twice_partner, NULL);
	ck_assert_int_eq(goro_select(cases, 2, -1), 1);
	ck_assert_int_eq(in, 5);
	/* Both waiters left the queues. */
	ck_assert_int_eq(goro_chan_free(twice_c), 0);
	return 0;
}

START_TEST(parked_twice_on_one_channel)
{
	ck_assert_int_eq(run_goro(twice_main, 2), 0);
}
END_TEST

/* ---- stress: selecting senders and receivers with racing timeouts ---------------- */

#define STRESS_SENDERS 4
#define STRESS_PER_SENDER 20000
#define STRESS_TOTAL ((int64_t)STRESS_SENDERS * STRESS_PER_SENDER)

static goro_chan_t *st_a, *st_b, *st_done;
static unsigned char st_seen[STRESS_TOTAL + 1];

static void stress_sender(void *arg)
{
	int64_t base = (int64_t)(intptr_t)arg * STRESS_PER_SENDER;
	int64_t timeouts = 0;
	for (int64_t i = 1; i <= STRESS_PER_SENDER; i++) {
		int64_t v = base + i;
		goro_case_t cases[2] = {
			{ .chan = st_a, .dir = GORO_SEND, .elem = &v },
			{ .chan = st_b, .dir = GORO_SEND, .elem = &v },
		};
		/* Short timeouts race with completions; retry until sent. */
		while (goro_select(cases, 2, 1000) == -ETIMEDOUT)
			timeouts++;
	}
	int64_t report[3] = { 0, 0, timeouts };  /* tens of thousands */
	goro_chan_send(st_done, report);
}

static void stress_receiver(void *arg)
{
	(void)arg;
	int64_t count = 0, sum = 0, bad = 0, va, vb;
	goro_case_t cases[2] = {
		{ .chan = st_a, .dir = GORO_RECV, .elem = &va },
		{ .chan = st_b, .dir = GORO_RECV, .elem = &vb },
	};
	while (cases[0].chan || cases[1].chan) {
		int r = goro_select(cases, 2, 2000);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			bad++;
			break;
		}
		if (!cases[r].ok) {
			/* Closed and drained: stop selecting on it (the
			 * other may still hold buffered values). */
			cases[r].chan = NULL;
			continue;
		}
		int64_t v = r == 0 ? va : vb;
		if (v < 1 || v > STRESS_TOTAL ||
		    __atomic_exchange_n(&st_seen[v], 1, __ATOMIC_RELAXED))
			bad++;
		count++;
		sum += v;
		/* Work a little (0-1.8 us) so that senders' timeouts fire
		 * about when their values are taken. */
		int64_t until = goro_now() + (v % 7) * 300;
		while (goro_now() < until)
			;
		goro_yield();  /* a scheduling point: due timers fire */
	}
	int64_t report[3] = { count, sum, bad };
	goro_chan_send(st_done, report);
}

static int stress_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	st_a = goro_chan_make(sizeof(int64_t), 0);
	st_b = goro_chan_make(sizeof(int64_t), 3);
	st_done = goro_chan_make(3 * sizeof(int64_t), 0);
	for (int i = 0; i < 4; i++)
		goro_go(stress_receiver, NULL);
	for (intptr_t i = 0; i < STRESS_SENDERS; i++)
		goro_go(stress_sender, (void *)i);
	int64_t r[3];
	for (int i = 0; i < STRESS_SENDERS; i++)
		ck_assert_int_eq(goro_chan_recv(st_done, r), 1);
	goro_chan_close(st_a);
	goro_chan_close(st_b);
	int64_t count = 0, sum = 0, bad = 0;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(goro_chan_recv(st_done, r), 1);
		count += r[0];
		sum += r[1];
		bad += r[2];
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(count, STRESS_TOTAL);
	ck_assert_int_eq(sum, STRESS_TOTAL * (STRESS_TOTAL + 1) / 2);
	return 0;
}

START_TEST(stress_with_timeouts)
{
	ck_assert_int_eq(run_goro(stress_main, 2), 0);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------ */

static int bad_input_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	int v = 0;
	goro_case_t bad_dir = { .chan = c, .dir = 0, .elem = &v };
	ck_assert_int_eq(goro_select(&bad_dir, 1, 0), -EINVAL);
	goro_case_t no_elem = { .chan = c, .dir = GORO_SEND, .elem = NULL };
	ck_assert_int_eq(goro_select(&no_elem, 1, 0), -EINVAL);
	ck_assert_int_eq(goro_select(NULL, 3, 0), -EINVAL);
	/* A receive may discard its value. */
	goro_chan_send(c, &v);
	goro_case_t discard = { .chan = c, .dir = GORO_RECV, .elem = NULL };
	ck_assert_int_eq(goro_select(&discard, 1, 0), 0);
	ck_assert_int_eq(discard.ok, 1);
	return 0;
}

START_TEST(bad_input)
{
	ck_assert_int_eq(run_goro(bad_input_main, 1), 0);
	ck_assert_int_eq(goro_select(NULL, 0, 0), -EPERM);
}
END_TEST

/* ---- many cases (beyond the on-stack arrays) ------------------------------------------- */

static int many_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	enum { N = 100 };
	goro_chan_t *chans[N];
	goro_case_t cases[N];
	int vals[N];
	for (int i = 0; i < N; i++) {
		chans[i] = goro_chan_make(sizeof(int), 1);
		cases[i] = (goro_case_t){ .chan = chans[i], .dir = GORO_RECV,
					  .elem = &vals[i] };
	}
	ck_assert_int_eq(goro_select(cases, N, 1 * MS), -ETIMEDOUT);
	int x = 17;
	goro_chan_send(chans[63], &x);
	ck_assert_int_eq(goro_select(cases, N, -1), 63);
	ck_assert_int_eq(vals[63], 17);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(goro_chan_free(chans[i]), 0);
	return 0;
}

START_TEST(many_cases)
{
	ck_assert_int_eq(run_goro(many_main, 1), 0);
}
END_TEST

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("select");
	tcase_add_test(tc, fairness);
	tcase_add_test(tc, poll_and_timeout);
	tcase_add_test(tc, wake_on_send_recv_close);
	tcase_add_test(tc, parked_send_case_closed);
	tcase_add_test(tc, repeated_and_null_channels);
	tcase_add_test(tc, parked_twice_on_one_channel);
	tcase_add_test(tc, stress_with_timeouts);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, many_cases);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(select_suite)
