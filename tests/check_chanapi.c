/* SPDX-License-Identifier: MIT */
/*
 * check_chanapi.c — what a channel promises beyond send and receive:
 * Go's nil-channel semantics for NULL, "size out of range" for impossible
 * capacities, the element size it keeps (sized calls, GORO_SEND/GORO_RECV),
 * and -EBADF, never a crash, for a channel used after goro_chan_free.
 */
#include <errno.h>
#include <stdint.h>

#include "testutil.h"

/* ---- NULL is Go's nil channel -------------------------------------------- */

static int nil_send_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int v = 1;
	goro_chan_send(NULL, &v);  /* blocks forever: a deadlock */
	return 0;
}

static void nil_send_child(void)
{
	_exit(run_goro(nil_send_main, 2) == 0 ? 0 : 1);
}

START_TEST(nil_chan_send_blocks_forever)
{
	char out[4096];
	ck_assert_int_eq(run_child(nil_send_child, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "all goroutines are asleep - deadlock!"),
		      "output: %s", out);
	ck_assert_msg(strstr(out, "goroutine 1 \"main\" [chan send (nil chan)]"),
		      "output: %s", out);
}
END_TEST

static int nil_recv_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int v;
	goro_chan_recv(NULL, &v);
	return 0;
}

static void nil_recv_child(void)
{
	_exit(run_goro(nil_recv_main, 1) == 0 ? 0 : 1);
}

START_TEST(nil_chan_recv_blocks_forever)
{
	char out[4096];
	ck_assert_int_eq(run_child(nil_recv_child, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "goroutine 1 \"main\" "
				  "[chan receive (nil chan)]"),
		      "output: %s", out);
}
END_TEST

static void recv_nil_forever(void *arg)
{
	(void)arg;
	goro_chan_recv(NULL, NULL);
}

static int nil_beside_work_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int v = 7;
	/* try forms: would block */
	ck_assert_int_eq(goro_chan_trysend(NULL, &v), -EAGAIN);
	ck_assert_int_eq(goro_chan_tryrecv(NULL, &v), -EAGAIN);
	ck_assert_int_eq(goro_chan_close(NULL), -EINVAL);
	/* A goroutine stuck on nil does not keep main from finishing. */
	ck_assert_int_gt(goro_go(recv_nil_forever, NULL), 0);
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	goro_case_t cs[2] = {
		{ .chan = NULL, .dir = GORO_RECV, .elem = &v },
		{ .chan = c, .dir = GORO_SEND, .elem = &v },
	};
	ck_assert_int_eq(goro_select(cs, 2, -1), 1);  /* nil case ignored */
	goro_chan_free(c);
	goro_sleep(1000000);
	return 42;
}

START_TEST(nil_chan_try_and_beside_work)
{
	ck_assert_int_eq(run_goro(nil_beside_work_main, 2), 42);
}
END_TEST

/* ---- impossible capacities ------------------------------------------------ */

static int sizes_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(0, SIZE_MAX));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(8, 1ULL << 46));  /* 2^49 bytes */
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(1, 1ULL << 49));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_chan_make(SIZE_MAX / 2, 3));  /* overflow */
	ck_assert_int_eq(errno, EINVAL);
	/* Just below the limit is a size the machine may refuse: ENOMEM,
	 * not EINVAL. */
	errno = 0;
	goro_chan_t *c = goro_chan_make(1, (1ULL << 49) - 1);
	if (!c)
		ck_assert_int_eq(errno, ENOMEM);
	else
		goro_chan_free(c);
	c = goro_chan_make(0, 1000000);  /* fine: signal-only */
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(goro_chan_cap(c), 1000000);
	goro_chan_free(c);
	return 0;
}

START_TEST(impossible_capacity_is_einval)
{
	ck_assert_int_eq(run_goro(sizes_main, 1), 0);
}
END_TEST

/* ---- the element size ----------------------------------------------------- */

struct pair {
	int64_t a, b;
};

static int sized_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 2);
	ck_assert_uint_eq(goro_chan_elem_size(c), sizeof(int));
	long l = 5;
	int i = 9, out = 0;
	ck_assert_int_eq(goro_chan_send_sized(c, &l, sizeof(l)), -EINVAL);
	ck_assert_int_eq(goro_chan_send_sized(c, &i, sizeof(i)), 0);
	ck_assert_int_eq(goro_chan_recv_sized(c, &l, sizeof(l)), -EINVAL);
	ck_assert_int_eq(goro_chan_recv_sized(c, &out, sizeof(out)), 1);
	ck_assert_int_eq(out, 9);
	ck_assert_int_eq(GORO_SEND(c, 11), 0);        /* int literal */
	ck_assert_int_eq(GORO_SEND(c, 11L), -EINVAL); /* long */
	ck_assert_int_eq(GORO_RECV(c, &out), 1);
	ck_assert_int_eq(out, 11);
	ck_assert_int_eq(GORO_RECV(c, &l), -EINVAL);
	goro_chan_free(c);

	goro_chan_t *pc = goro_chan_make(sizeof(struct pair), 1);
	struct pair p = { 1, 2 }, q = { 0, 0 };
	ck_assert_int_eq(GORO_SEND(pc, p), 0);
	ck_assert_int_eq(GORO_RECV(pc, &q), 1);
	ck_assert(q.a == 1 && q.b == 2);
	ck_assert_int_eq(GORO_SEND(pc, i), -EINVAL);
	goro_chan_close(pc);
	ck_assert_int_eq(GORO_RECV(pc, &q), 0);  /* closed */
	goro_chan_free(pc);
	return 0;
}

START_TEST(sized_operations_check_size)
{
	ck_assert_int_eq(run_goro(sized_main, 1), 0);
}
END_TEST

/* ---- use after free ------------------------------------------------------- */

static int freed_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 4);
	int v = 3;
	ck_assert_int_eq(goro_chan_send(c, &v), 0);
	ck_assert_int_eq(goro_chan_free(c), 0);
	ck_assert_int_eq(goro_chan_send(c, &v), -EBADF);
	ck_assert_int_eq(goro_chan_recv(c, &v), -EBADF);
	ck_assert_int_eq(goro_chan_trysend(c, &v), -EBADF);
	ck_assert_int_eq(goro_chan_tryrecv(c, &v), -EBADF);
	ck_assert_int_eq(goro_chan_send_sized(c, &v, sizeof(v)), -EBADF);
	ck_assert_int_eq(goro_chan_close(c), -EBADF);
	ck_assert_int_eq(goro_chan_free(c), -EBADF);
	ck_assert_uint_eq(goro_chan_len(c), 0);
	ck_assert_uint_eq(goro_chan_cap(c), 0);
	goro_case_t cs = { .chan = c, .dir = GORO_RECV, .elem = &v };
	ck_assert_int_eq(goro_select(&cs, 1, 0), -EBADF);
	return 0;
}

START_TEST(use_after_free_is_ebadf)
{
	ck_assert_int_eq(run_goro(freed_main, 1), 0);
}
END_TEST

static Suite *chanapi_suite(void)
{
	Suite *s = suite_create("chanapi");
	TCase *tc = tcase_create("chanapi");
	tcase_add_test(tc, nil_chan_send_blocks_forever);
	tcase_add_test(tc, nil_chan_recv_blocks_forever);
	tcase_add_test(tc, nil_chan_try_and_beside_work);
	tcase_add_test(tc, impossible_capacity_is_einval);
	tcase_add_test(tc, sized_operations_check_size);
	tcase_add_test(tc, use_after_free_is_ebadf);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(chanapi_suite)
