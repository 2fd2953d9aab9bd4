/* SPDX-License-Identifier: MIT */
/*
 * check_rwmutex.c — goro_rwmutex_t as Go's sync.RWMutex: readers share,
 * a writer excludes everyone, a waiting writer goes before readers that
 * arrive after it (writer preference), misuse is -EPERM and NULL -EINVAL.
 */
#include <errno.h>
#include <stdatomic.h>

#include "testutil.h"

#define MS 1000000LL

static goro_rwmutex_t rw = GORO_RWMUTEX_INIT;

/* ---- readers share ------------------------------------------------------------ */

#define READERS 4
static atomic_int inside;
static goro_wg_t readers_done = GORO_WG_INIT;

static void sharing_reader(void *arg)
{
	(void)arg;
	ck_assert_int_eq(goro_rwmutex_rlock(&rw), 0);
	atomic_fetch_add(&inside, 1);
	/* Every reader holds the lock at once, or this never ends. */
	while (atomic_load(&inside) < READERS)
		goro_yield();
	ck_assert_int_eq(goro_rwmutex_runlock(&rw), 0);
	goro_wg_done(&readers_done);
}

static int share_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_add(&readers_done, READERS);
	for (int i = 0; i < READERS; i++)
		goro_go(sharing_reader, NULL);
	goro_wg_wait(&readers_done);
	/* And then a writer gets it. */
	ck_assert_int_eq(goro_rwmutex_lock(&rw), 0);
	ck_assert_int_eq(goro_rwmutex_unlock(&rw), 0);
	return 0;
}

START_TEST(readers_share)
{
	ck_assert_int_eq(run_goro(share_main, 2), 0);
}
END_TEST

/* ---- writers exclude ------------------------------------------------------------ */

static struct {
	long a, b;  /* a writer keeps them equal; only it changes them */
} shared;
static goro_wg_t mixed_done = GORO_WG_INIT;

static void writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		goro_rwmutex_lock(&rw);
		long a = shared.a;
		if (i % 100 == 0)
			goro_yield();  /* hold it across a switch */
		shared.a = a + 1;
		shared.b = shared.b + 1;
		goro_rwmutex_unlock(&rw);
	}
	goro_wg_done(&mixed_done);
}

static void reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		goro_rwmutex_rlock(&rw);
		ck_assert_int_eq(shared.a, shared.b);
		goro_rwmutex_runlock(&rw);
	}
	goro_wg_done(&mixed_done);
}

static int exclude_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_add(&mixed_done, 8);
	for (int i = 0; i < 4; i++) {
		goro_go(writer, NULL);
		goro_go(reader, NULL);
	}
	goro_wg_wait(&mixed_done);
	ck_assert_int_eq(shared.a, 4 * 5000);
	ck_assert_int_eq(shared.b, 4 * 5000);
	return 0;
}

START_TEST(writers_exclude)
{
	ck_assert_int_eq(run_goro(exclude_main, 2), 0);
}
END_TEST

/* ---- writer preference ---------------------------------------------------------- */

static atomic_int order_log[2], order_n;
static atomic_bool writer_started;
static goro_wg_t pref_done = GORO_WG_INIT;

static void log_event(int who)
{
	order_log[atomic_fetch_add(&order_n, 1)] = who;
}

static void pref_writer(void *arg)
{
	(void)arg;
	atomic_store(&writer_started, true);
	goro_rwmutex_lock(&rw);
	log_event('W');
	goro_rwmutex_unlock(&rw);
	goro_wg_done(&pref_done);
}

static void late_reader(void *arg)
{
	(void)arg;
	goro_rwmutex_rlock(&rw);
	log_event('R');
	goro_rwmutex_runlock(&rw);
	goro_wg_done(&pref_done);
}

/* One P, so that once the writer has run it is parked in lock (it does
 * not yield between announcing itself and parking). */
static int pref_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_rwmutex_rlock(&rw);
	goro_wg_add(&pref_done, 2);
	goro_go(pref_writer, NULL);
	while (!atomic_load(&writer_started))
		goro_yield();
	goro_go(late_reader, NULL);
	for (int i = 0; i < 10; i++)
		goro_yield();  /* the late reader runs and must queue */
	ck_assert_int_eq(atomic_load(&order_n), 0);
	goro_rwmutex_runlock(&rw);
	goro_wg_wait(&pref_done);
	ck_assert_int_eq(order_log[0], 'W');
	ck_assert_int_eq(order_log[1], 'R');
	return 0;
}

START_TEST(writer_preference)
{
	ck_assert_int_eq(run_goro(pref_main, 1), 0);
}
END_TEST

/* ---- misuse ------------------------------------------------------------------ */

static int misuse_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_rwmutex_t m = GORO_RWMUTEX_INIT;
	ck_assert_int_eq(goro_rwmutex_runlock(&m), -EPERM);
	ck_assert_int_eq(goro_rwmutex_unlock(&m), -EPERM);
	ck_assert_int_eq(goro_rwmutex_rlock(NULL), -EINVAL);
	ck_assert_int_eq(goro_rwmutex_runlock(NULL), -EINVAL);
	ck_assert_int_eq(goro_rwmutex_lock(NULL), -EINVAL);
	ck_assert_int_eq(goro_rwmutex_unlock(NULL), -EINVAL);
	/* Still usable after the refused calls. */
	ck_assert_int_eq(goro_rwmutex_lock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_runlock(&m), -EPERM);
	ck_assert_int_eq(goro_rwmutex_unlock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_rlock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_rlock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_unlock(&m), -EPERM);
	ck_assert_int_eq(goro_rwmutex_runlock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_runlock(&m), 0);
	ck_assert_int_eq(goro_rwmutex_runlock(&m), -EPERM);
	return 0;
}

START_TEST(misuse_refused)
{
	ck_assert_int_eq(run_goro(misuse_main, 1), 0);
}
END_TEST

static Suite *rwmutex_suite(void)
{
	Suite *s = suite_create("rwmutex");
	TCase *tc = tcase_create("rwmutex");
	tcase_add_test(tc, readers_share);
	tcase_add_test(tc, writers_exclude);
	tcase_add_test(tc, writer_preference);
	tcase_add_test(tc, misuse_refused);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(rwmutex_suite)
