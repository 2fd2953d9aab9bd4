/* SPDX-License-Identifier: MIT */
/*
 * check_ctx.c — contexts as Go's context package: cancelling a context in
 * the middle of a tree cancels its subtree and nothing above or beside it;
 * deadlines expire with -ETIMEDOUT and children never outlive their
 * parent's deadline; freeing cancels and detaches; the background context
 * is never done; bad input is -EINVAL / -EBADF, never a crash.
 */
#include <errno.h>
#include <stdint.h>

#include "testutil.h"

#define MS 1000000LL
#define PATIENCE (20000 * MS)

/* Closed done channel: a receive returns 0 at once. */
static bool is_done(goro_ctx_t *c)
{
	return goro_chan_tryrecv(goro_ctx_done(c), NULL) == 0;
}

static bool wait_done(goro_ctx_t *c)
{
	goro_case_t cs = { .chan = goro_ctx_done(c), .dir = GORO_RECV };
	return goro_select(&cs, 1, PATIENCE) == 0 && cs.ok == 0;
}

static goro_wg_t waiters = GORO_WG_INIT;

static void wait_on(void *arg)
{
	goro_chan_recv(goro_ctx_done(arg), NULL);
	goro_wg_done(&waiters);
}

static int tree_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_ctx_t *bg = goro_ctx_background();
	goro_ctx_t *root = goro_ctx_with_cancel(bg);
	goro_ctx_t *mid = goro_ctx_with_cancel(root);
	goro_ctx_t *sib = goro_ctx_with_cancel(root);
	goro_ctx_t *leaf1 = goro_ctx_with_cancel(mid);
	goro_ctx_t *leaf2 = goro_ctx_with_cancel(mid);
	goro_ctx_t *deep = goro_ctx_with_cancel(leaf1);
	goro_ctx_t *all[] = { root, mid, sib, leaf1, leaf2, deep };
	for (size_t i = 0; i < 6; i++) {
		ck_assert_ptr_nonnull(all[i]);
		ck_assert_int_eq(goro_ctx_err(all[i]), 0);
		ck_assert(!is_done(all[i]));
	}
	/* Goroutines parked on the subtree's done channels. */
	goro_wg_add(&waiters, 3);
	goro_go(wait_on, leaf2);
	goro_go(wait_on, deep);
	goro_go(wait_on, mid);
	goro_sleep(2 * MS);

	goro_ctx_cancel(mid);
	goro_wg_wait(&waiters);  /* all three woke */
	goro_ctx_t *cancelled[] = { mid, leaf1, leaf2, deep };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(goro_ctx_err(cancelled[i]), -ECANCELED);
		ck_assert(is_done(cancelled[i]));
	}
	ck_assert_int_eq(goro_ctx_err(root), 0);
	ck_assert_int_eq(goro_ctx_err(sib), 0);
	ck_assert(!is_done(root));
	ck_assert(!is_done(sib));

	/* A child of a cancelled context starts cancelled. */
	goro_ctx_t *late = goro_ctx_with_cancel(leaf2);
	ck_assert_int_eq(goro_ctx_err(late), -ECANCELED);
	ck_assert(is_done(late));

	/* Freeing a parent before its children leaves them usable. */
	goro_ctx_free(mid);
	ck_assert_int_eq(goro_ctx_err(leaf1), -ECANCELED);
	goro_ctx_cancel(leaf1);  /* again: harmless */
	/* Freeing cancels: sib goes with root. */
	goro_ctx_free(root);
	ck_assert_int_eq(goro_ctx_err(sib), -ECANCELED);
	goro_ctx_free(deep);
	goro_ctx_free(late);
	goro_ctx_free(leaf2);
	goro_ctx_free(leaf1);
	goro_ctx_free(sib);
	return 0;
}

START_TEST(tree_cancelled_from_the_middle)
{
	ck_assert_int_eq(run_goro(tree_main, 2), 0);
}
END_TEST

static int deadline_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_ctx_t *bg = goro_ctx_background();
	int64_t t0 = goro_now();
	goro_ctx_t *p = goro_ctx_with_timeout(bg, 50 * MS);
	ck_assert_ptr_nonnull(p);
	int64_t pd = goro_ctx_deadline(p);
	ck_assert_int_ge(pd, t0 + 50 * MS);
	/* A later deadline below it is the parent's. */
	goro_ctx_t *late = goro_ctx_with_deadline(p, pd + 3600 * 1000 * MS);
	ck_assert_int_eq(goro_ctx_deadline(late), pd);
	/* An earlier one is its own, and fires first (absolute deadlines:
	 * no assumption on how fast this runs). */
	goro_ctx_t *early = goro_ctx_with_deadline(p, pd - 40 * MS);
	ck_assert_int_eq(goro_ctx_deadline(early), pd - 40 * MS);
	ck_assert(wait_done(early));
	ck_assert_int_eq(goro_ctx_err(early), -ETIMEDOUT);
	ck_assert(wait_done(p));
	ck_assert_int_ge(goro_now(), pd);  /* never early */
	ck_assert_int_eq(goro_ctx_err(p), -ETIMEDOUT);
	ck_assert(wait_done(late));
	ck_assert_int_eq(goro_ctx_err(late), -ETIMEDOUT);  /* the parent's */

	/* Cancelled before its deadline: -ECANCELED stays. */
	goro_ctx_t *c = goro_ctx_with_timeout(bg, 200 * MS);
	goro_ctx_cancel(c);
	if (goro_ctx_err(c) == -ECANCELED) {  /* not stalled past 200 ms */
		while (goro_now() <= goro_ctx_deadline(c))
			goro_sleep(10 * MS);
		goro_sleep(5 * MS);
		ck_assert_int_eq(goro_ctx_err(c), -ECANCELED);
	}

	/* A deadline already past: done at once. */
	goro_ctx_t *past = goro_ctx_with_deadline(bg, goro_now() - MS);
	ck_assert_ptr_nonnull(past);
	ck_assert_int_eq(goro_ctx_err(past), -ETIMEDOUT);
	ck_assert(is_done(past));

	/* Freed before its deadline: the timer never touches it. */
	goro_ctx_t *gone = goro_ctx_with_timeout(bg, 1 * MS);
	goro_ctx_free(gone);
	goro_sleep(5 * MS);

	goro_ctx_free(early);
	goro_ctx_free(late);
	goro_ctx_free(p);
	goro_ctx_free(c);
	goro_ctx_free(past);
	return 0;
}

START_TEST(deadlines_expire)
{
	ck_assert_int_eq(run_goro(deadline_main, 2), 0);
}
END_TEST

static int background_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_ctx_t *bg = goro_ctx_background();
	ck_assert_ptr_nonnull(bg);
	ck_assert_ptr_eq(goro_ctx_background(), bg);
	ck_assert_ptr_null(goro_ctx_done(bg));  /* never ready */
	goro_ctx_cancel(bg);
	goro_ctx_free(bg);
	ck_assert_int_eq(goro_ctx_err(bg), 0);
	ck_assert_int_eq(goro_ctx_deadline(bg), 0);
	/* Its nil done channel is ignored by select. */
	goro_chan_t *c = goro_chan_make(0, 1);
	goro_chan_send(c, NULL);
	goro_case_t cs[2] = {
		{ .chan = goro_ctx_done(bg), .dir = GORO_RECV },
		{ .chan = c, .dir = GORO_RECV },
	};
	ck_assert_int_eq(goro_select(cs, 2, PATIENCE), 1);
	goro_chan_free(c);
	return 0;
}

START_TEST(background_is_never_done)
{
	ck_assert_int_eq(run_goro(background_main, 1), 0);
}
END_TEST

static int bad_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_ctx_t *bg = goro_ctx_background();
	errno = 0;
	ck_assert_ptr_null(goro_ctx_with_cancel(NULL));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_ctx_with_timeout(bg, -1));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(goro_ctx_with_deadline(bg, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(goro_ctx_with_deadline(NULL, goro_now()));
	ck_assert_int_eq(goro_ctx_err(NULL), -EINVAL);
	ck_assert_ptr_null(goro_ctx_done(NULL));
	goro_ctx_cancel(NULL);
	goro_ctx_free(NULL);

	goro_ctx_t *c = goro_ctx_with_cancel(bg);
	goro_ctx_free(c);
	ck_assert_int_eq(goro_ctx_err(c), -EBADF);
	errno = 0;
	ck_assert_ptr_null(goro_ctx_done(c));
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_ptr_null(goro_ctx_with_cancel(c));
	ck_assert_int_eq(errno, EBADF);
	goro_ctx_cancel(c);  /* no crash */
	goro_ctx_free(c);    /* no crash */
	return 0;
}

START_TEST(bad_input)
{
	ck_assert_int_eq(run_goro(bad_main, 1), 0);
}
END_TEST

#define DEPTH 20000
#define FANOUT 1000

static int big_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* A chain far deeper than a goroutine stack could recurse. */
	static goro_ctx_t *chain[DEPTH];
	chain[0] = goro_ctx_with_cancel(goro_ctx_background());
	for (int i = 1; i < DEPTH; i++) {
		chain[i] = goro_ctx_with_cancel(chain[i - 1]);
		ck_assert_ptr_nonnull(chain[i]);
	}
	/* Fan-out: many waiters on one context's children. */
	static goro_ctx_t *kids[FANOUT];
	goro_wg_add(&waiters, FANOUT);
	for (int i = 0; i < FANOUT; i++) {
		kids[i] = goro_ctx_with_cancel(chain[DEPTH / 2]);
		goro_go(wait_on, kids[i]);
	}
	goro_ctx_cancel(chain[0]);
	goro_wg_wait(&waiters);
	ck_assert_int_eq(goro_ctx_err(chain[DEPTH - 1]), -ECANCELED);
	for (int i = 0; i < FANOUT; i++)
		goro_ctx_free(kids[i]);
	for (int i = 0; i < DEPTH; i++)
		goro_ctx_free(chain[i]);
	return 0;
}

START_TEST(deep_chain_and_fan_out)
{
	ck_assert_int_eq(run_goro(big_main, 2), 0);
}
END_TEST

static Suite *ctx_suite(void)
{
	Suite *s = suite_create("ctx");
	TCase *tc = tcase_create("ctx");
	tcase_add_test(tc, tree_cancelled_from_the_middle);
	tcase_add_test(tc, deadlines_expire);
	tcase_add_test(tc, background_is_never_done);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, deep_chain_and_fan_out);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(ctx_suite)
