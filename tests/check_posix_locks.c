/* SPDX-License-Identifier: MIT */
/*
 * check_posix_locks.c — a goroutine that holds a pthread lock keeps its
 * thread across the calls libgoro-posix turns into waits (posix/lock.c,
 * keep_thread in src/sched/sched.c).
 *
 * Without that, the goroutine could park in a replaced call and continue
 * on another thread with the lock still held: an error-checking mutex's
 * unlock then failed with EPERM, and sqlite, which holds its connection's
 * recursive mutex across its file reads and writes, relocked it from a
 * thread that did not own it and waited for ever (8 goroutines sharing a
 * connection in serialized mode: 3 hangs in 3 runs).
 *
 * The same goroutines on one thread fail too, without moving: while one
 * is parked holding an error-checking mutex, another on its thread gets
 * EDEADLK, and a recursive one would let both in (15 failed lock calls
 * of 800 at 1 P before).  Each case runs at 1 and 2 Ps, many goroutines
 * at once.  A goroutine that holds nothing keeps no thread while it waits
 * (the last case), or the replaced calls would cost a thread per wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "posixutil.h"

#define GOROUTINES 16
#define ROUNDS 50

static goro_wg_t wg;
static _Atomic int moved, failed;

/* ---- an error-checking mutex across sleeps and reads ---------------------- */

static pthread_mutex_t checked;
static int pipe_fd[2];

static void hold_across_waits(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (pthread_mutex_lock(&checked) != 0) {
			atomic_fetch_add(&failed, 1);
			break;
		}
		pthread_t self = pthread_self();
		usleep(100);                      /* parks */
		struct timespec ts = { 0, 50 * 1000 };
		nanosleep(&ts, NULL);             /* parks */
		goro_yield();                     /* a runtime call, too */
		if (!pthread_equal(self, pthread_self()))
			atomic_fetch_add(&moved, 1);
		if (pthread_mutex_unlock(&checked) != 0)
			atomic_fetch_add(&failed, 1);
		usleep(50);                       /* free to move now */
	}
	goro_wg_done(&wg);
}

static int checked_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	goro_wg_add(&wg, GOROUTINES);
	for (int i = 0; i < GOROUTINES; i++)
		goro_go(hold_across_waits, NULL);
	goro_wg_wait(&wg);
	return 0;
}

static void run_checked(int procs)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&checked, &a);
	atomic_store(&moved, 0);
	atomic_store(&failed, 0);
	ck_assert_int_eq(run_goro(checked_main, procs), 0);
	ck_assert_msg(atomic_load(&moved) == 0 && atomic_load(&failed) == 0,
		      "%d moved with the mutex held, %d lock calls failed",
		      atomic_load(&moved), atomic_load(&failed));
	pthread_mutex_destroy(&checked);
}

START_TEST(errorcheck_mutex_across_waits_1p) { run_checked(1); }
END_TEST
START_TEST(errorcheck_mutex_across_waits_2p) { run_checked(2); }
END_TEST

/* ---- a recursive mutex and a write-held rwlock across a pipe read -------- */

static pthread_mutex_t recursive;
static pthread_rwlock_t rw;

static void reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		char c;
		pthread_mutex_lock(&recursive);
		pthread_rwlock_wrlock(&rw);
		pthread_t self = pthread_self();
		/* Nothing to read yet: parks until the writer's byte. */
		if (read(pipe_fd[0], &c, 1) != 1)
			atomic_fetch_add(&failed, 1);
		/* Relocking from another thread would wait for ever. */
		pthread_mutex_lock(&recursive);
		if (!pthread_equal(self, pthread_self()))
			atomic_fetch_add(&moved, 1);
		pthread_mutex_unlock(&recursive);
		if (pthread_rwlock_unlock(&rw) != 0)
			atomic_fetch_add(&failed, 1);
		if (pthread_mutex_unlock(&recursive) != 0)
			atomic_fetch_add(&failed, 1);
	}
	goro_wg_done(&wg);
}

static void writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		usleep(200);
		if (write(pipe_fd[1], "x", 1) != 1)
			atomic_fetch_add(&failed, 1);
	}
	goro_wg_done(&wg);
}

/* Others that keep the thread the reader parked on busy, until `stop`. */
static _Atomic bool stop;
static goro_wg_t spinners;

static void spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		goro_yield();
	goro_wg_done(&spinners);
}

static int recursive_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	atomic_store(&stop, false);
	goro_wg_add(&spinners, 4);
	for (int i = 0; i < 4; i++)
		goro_go(spinner, NULL);
	goro_wg_add(&wg, 2);
	goro_go(reader, NULL);
	goro_go(writer, NULL);
	goro_wg_wait(&wg);
	atomic_store(&stop, true);
	goro_wg_wait(&spinners);
	return 0;
}

static void run_recursive(int procs)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&recursive, &a);
	pthread_rwlock_init(&rw, NULL);
	ck_assert_int_eq(pipe(pipe_fd), 0);
	atomic_store(&moved, 0);
	atomic_store(&failed, 0);
	ck_assert_int_eq(run_goro(recursive_main, procs), 0);
	ck_assert_msg(atomic_load(&moved) == 0 && atomic_load(&failed) == 0,
		      "%d moved with the locks held, %d calls failed",
		      atomic_load(&moved), atomic_load(&failed));
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pthread_rwlock_destroy(&rw);
	pthread_mutex_destroy(&recursive);
}

START_TEST(recursive_mutex_and_rwlock_across_a_read_1p) { run_recursive(1); }
END_TEST
START_TEST(recursive_mutex_and_rwlock_across_a_read_2p) { run_recursive(2); }
END_TEST

/* ---- sqlite: one connection in serialized mode, shared ------------------- */

#define SQL_GOROUTINES 8
#define SQL_ROWS 200

static sqlite3 *db;

static void inserter(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < SQL_ROWS; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES(%ld, %d)", id, i);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			atomic_fetch_add(&failed, 1);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE a = ?",
				       -1, &st, NULL) != SQLITE_OK) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_ROW ||
		    sqlite3_column_int(st, 0) != i + 1)
			atomic_fetch_add(&failed, 1);
		sqlite3_finalize(st);
	}
	goro_wg_done(&wg);
}

static char db_path[64];

static int sqlite_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db,
					 SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_FULLMUTEX, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(a, b)", NULL, NULL,
				      NULL), SQLITE_OK);
	goro_wg_add(&wg, SQL_GOROUTINES);
	for (long i = 0; i < SQL_GOROUTINES; i++)
		goro_go(inserter, (void *)i);
	goro_wg_wait(&wg);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1,
					    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), SQL_GOROUTINES * SQL_ROWS);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	return 0;
}

static void run_sqlite(int procs)
{
	ck_assert_int_eq(sqlite3_threadsafe(), 1);
	snprintf(db_path, sizeof(db_path), "/tmp/goro-locks-%d.db", getpid());
	unlink(db_path);
	atomic_store(&failed, 0);
	ck_assert_int_eq(run_goro(sqlite_main, procs), 0);
	ck_assert_int_eq(atomic_load(&failed), 0);
	unlink(db_path);
}

START_TEST(sqlite_shared_connection_on_a_file_1p) { run_sqlite(1); }
END_TEST
START_TEST(sqlite_shared_connection_on_a_file_2p) { run_sqlite(2); }
END_TEST

/* ---- holding nothing, a goroutine keeps no thread ------------------------ */

#define READERS 64

static int reader_pipe[READERS][2];

static void plain_reader(void *arg)
{
	int (*p)[2] = arg;
	for (int i = 0; i < ROUNDS; i++) {
		char c;
		/* Takes and drops a lock first: the count must come back
		 * to zero. */
		pthread_mutex_lock(&checked);
		pthread_mutex_unlock(&checked);
		if (read((*p)[0], &c, 1) != 1)
			atomic_fetch_add(&failed, 1);
	}
	goro_wg_done(&wg);
}

static void feeder(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		usleep(500);
		for (int k = 0; k < READERS; k++)
			if (write(reader_pipe[k][1], "x", 1) != 1)
				atomic_fetch_add(&failed, 1);
	}
	goro_wg_done(&wg);
}

static int plain_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct thread_sampler s = { 0 };
	sampler_start(&s);
	goro_wg_add(&wg, READERS + 1);
	for (int i = 0; i < READERS; i++)
		goro_go(plain_reader, &reader_pipe[i]);
	goro_go(feeder, NULL);
	goro_wg_wait(&wg);
	int max_seen = sampler_stop(&s);
	ck_assert_msg(max_seen <= 2 + 8, "%d threads for %d readers",
		      max_seen, READERS);
	return 0;
}

START_TEST(holding_nothing_keeps_no_thread_2p)
{
	pthread_mutex_init(&checked, NULL);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pipe(reader_pipe[i]), 0);
	atomic_store(&failed, 0);
	ck_assert_int_eq(run_goro(plain_main, 2), 0);
	ck_assert_int_eq(atomic_load(&failed), 0);
	for (int i = 0; i < READERS; i++) {
		close(reader_pipe[i][0]);
		close(reader_pipe[i][1]);
	}
	pthread_mutex_destroy(&checked);
}
END_TEST

static Suite *locks_suite(void)
{
	Suite *s = suite_create("posix_locks");
	TCase *tc = tcase_create("locks");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, errorcheck_mutex_across_waits_1p);
	tcase_add_test(tc, errorcheck_mutex_across_waits_2p);
	tcase_add_test(tc, recursive_mutex_and_rwlock_across_a_read_1p);
	tcase_add_test(tc, recursive_mutex_and_rwlock_across_a_read_2p);
	tcase_add_test(tc, sqlite_shared_connection_on_a_file_1p);
	tcase_add_test(tc, sqlite_shared_connection_on_a_file_2p);
	tcase_add_test(tc, holding_nothing_keeps_no_thread_2p);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(locks_suite)
