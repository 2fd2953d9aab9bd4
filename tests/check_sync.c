/* SPDX-License-Identifier: MIT */
/*
 * check_sync.c — goro_mutex_t (exclusion under contention, trylock, no
 * starvation), goro_wg_t, goro_cond_t, goro_once_t, and deadlock detection: a program whose
 * goroutines all wait on each other dies with Go's message and status 2,
 * and one that is merely waiting on a timer does not.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define MS 1000000LL

/* ---- mutex: an exact counter with yields inside the critical section ------- */

#define WORKERS 8
#define INCREMENTS 5000

static goro_mutex_t mu = GORO_MUTEX_INIT;
static int64_t counter;
static int64_t inside;       /* goroutines in the critical section */
static int64_t overlaps;
static goro_wg_t workers_wg = GORO_WG_INIT;

static void incrementer(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCREMENTS; i++) {
		goro_mutex_lock(&mu);
		if (__atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED) != 1)
			__atomic_add_fetch(&overlaps, 1, __ATOMIC_RELAXED);
		int64_t v = counter;
		if (i % 4 == 0)
			goro_yield();  /* others run, and must not get in */
		counter = v + 1;
		__atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED);
		goro_mutex_unlock(&mu);
	}
	goro_wg_done(&workers_wg);
}

static int mutex_counter_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	counter = 0;
	ck_assert_int_eq(goro_wg_add(&workers_wg, WORKERS), 0);
	for (int i = 0; i < WORKERS; i++)
		goro_go(incrementer, NULL);
	ck_assert_int_eq(goro_wg_wait(&workers_wg), 0);
	ck_assert_int_eq(overlaps, 0);
	ck_assert_int_eq(counter, WORKERS * INCREMENTS);
	return 0;
}

START_TEST(mutex_counter_exact)
{
	ck_assert_int_eq(run_goro(mutex_counter_main, 2), 0);
}
END_TEST

static void try_from_other(void *arg)
{
	int *r = arg;
	*r = goro_mutex_trylock(&mu);
}

static int mutex_api_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_mutex_t m = GORO_MUTEX_INIT;
	ck_assert_int_eq(goro_mutex_unlock(&m), -EPERM);
	ck_assert_int_eq(goro_mutex_trylock(&m), 0);
	ck_assert_int_eq(goro_mutex_trylock(&m), -EBUSY);
	ck_assert_int_eq(goro_mutex_unlock(&m), 0);
	ck_assert_int_eq(goro_mutex_lock(&m), 0);
	ck_assert_int_eq(goro_mutex_unlock(&m), 0);
	ck_assert_int_eq(goro_mutex_lock(NULL), -EINVAL);
	ck_assert_int_eq(goro_mutex_unlock(NULL), -EINVAL);
	ck_assert_int_eq(goro_mutex_trylock(NULL), -EINVAL);
	/* Held by one goroutine, refused to another. */
	goro_mutex_lock(&mu);
	int r = 1;
	goro_go(try_from_other, &r);
	goro_yield();
	ck_assert_int_eq(r, -EBUSY);
	goro_mutex_unlock(&mu);
	return 0;
}

START_TEST(mutex_api)
{
	ck_assert_int_eq(run_goro(mutex_api_main, 1), 0);
	goro_mutex_t m = GORO_MUTEX_INIT;
	ck_assert_int_eq(goro_mutex_lock(&m), -EPERM);
}
END_TEST

/* A goroutine that relocks at once always beats a waiter it has just
 * woken: on one P the waiter only runs when the holder yields, and the
 * holder yields only while it holds the lock.  Without starvation mode the
 * waiter would wait forever; with it, the holder hands the lock over once
 * the waiter has waited 1 ms. */
static _Atomic int waiter_got_it;
static _Atomic int64_t waiter_wait_ns;

static void starving_waiter(void *arg)
{
	(void)arg;
	int64_t t0 = goro_now();
	goro_mutex_lock(&mu);
	atomic_store(&waiter_wait_ns, goro_now() - t0);
	atomic_store(&waiter_got_it, 1);
	goro_mutex_unlock(&mu);
}

static int starvation_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_mutex_lock(&mu);
	goro_go(starving_waiter, NULL);
	int64_t deadline = goro_now() + 2000 * MS;
	while (!atomic_load(&waiter_got_it) && goro_now() < deadline) {
		goro_yield();  /* the waiter runs, finds the mutex held */
		goro_mutex_unlock(&mu);
		goro_mutex_lock(&mu);
	}
	goro_mutex_unlock(&mu);
	ck_assert_msg(atomic_load(&waiter_got_it), "waiter starved for 2 s");
	ck_assert_msg(atomic_load(&waiter_wait_ns) < 100 * MS,
		      "waiter waited %lld ns",
		      (long long)atomic_load(&waiter_wait_ns));
	return 0;
}

START_TEST(mutex_no_starvation)
{
	ck_assert_int_eq(run_goro(starvation_main, 1), 0);
}
END_TEST

/* ---- waitgroup ------------------------------------------------------------------- */

static goro_wg_t wg = GORO_WG_INIT;
static _Atomic int finished;

static void sleeper_done(void *arg)
{
	goro_sleep((int64_t)(intptr_t)arg * 100000);
	atomic_fetch_add(&finished, 1);
	goro_wg_done(&wg);
}

static goro_chan_t *waiters_out;

static void second_waiter(void *arg)
{
	(void)arg;
	goro_wg_wait(&wg);
	int n = atomic_load(&finished);
	goro_chan_send(waiters_out, &n);
}

static int waitgroup_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ck_assert_int_eq(goro_wg_wait(&wg), 0);  /* zero: returns at once */
	waiters_out = goro_chan_make(sizeof(int), 4);
	for (int round = 0; round < 3; round++) {  /* reusable */
		atomic_store(&finished, 0);
		ck_assert_int_eq(goro_wg_add(&wg, 20), 0);
		for (intptr_t i = 0; i < 20; i++)
			goro_go(sleeper_done, (void *)(i % 5));
		for (int i = 0; i < 3; i++)
			goro_go(second_waiter, NULL);
		ck_assert_int_eq(goro_wg_wait(&wg), 0);
		ck_assert_int_eq(atomic_load(&finished), 20);
		for (int i = 0; i < 3; i++) {
			int n;
			goro_chan_recv(waiters_out, &n);
			ck_assert_int_eq(n, 20);
		}
	}
	ck_assert_int_eq(goro_wg_add(&wg, -1), -EINVAL);
	ck_assert_int_eq(goro_wg_done(&wg), -EINVAL);
	ck_assert_int_eq(goro_wg_add(NULL, 1), -EINVAL);
	ck_assert_int_eq(goro_wg_wait(NULL), -EINVAL);
	ck_assert_int_eq(goro_wg_wait(&wg), 0);
	return 0;
}

START_TEST(waitgroup)
{
	ck_assert_int_eq(run_goro(waitgroup_main, 2), 0);
}
END_TEST

/* ---- cond: a bounded queue guarded by a mutex and two conditions ------------------ */

#define QUEUE_CAP 4
#define QUEUE_ITEMS 20000

static struct {
	goro_mutex_t mu;
	goro_cond_t not_empty, not_full;
	int items[QUEUE_CAP];
	int head, len;
} q = { GORO_MUTEX_INIT, GORO_COND_INIT, GORO_COND_INIT, {0}, 0, 0 };

static void queue_producer(void *arg)
{
	int base = (int)(intptr_t)arg * QUEUE_ITEMS;
	for (int i = 1; i <= QUEUE_ITEMS; i++) {
		goro_mutex_lock(&q.mu);
		while (q.len == QUEUE_CAP)
			goro_cond_wait(&q.not_full, &q.mu);
		q.items[(q.head + q.len++) % QUEUE_CAP] = base + i;
		goro_cond_signal(&q.not_empty);
		goro_mutex_unlock(&q.mu);
	}
}

static int cond_queue_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_go(queue_producer, (void *)0);
	goro_go(queue_producer, (void *)1);
	int64_t sum = 0;
	for (int i = 0; i < 2 * QUEUE_ITEMS; i++) {
		goro_mutex_lock(&q.mu);
		while (q.len == 0)
			goro_cond_wait(&q.not_empty, &q.mu);
		sum += q.items[q.head];
		q.head = (q.head + 1) % QUEUE_CAP;
		q.len--;
		goro_cond_signal(&q.not_full);
		goro_mutex_unlock(&q.mu);
	}
	int64_t n = 2 * QUEUE_ITEMS;
	ck_assert_int_eq(sum, n * (n + 1) / 2);
	return 0;
}

START_TEST(cond_signal_queue)
{
	ck_assert_int_eq(run_goro(cond_queue_main, 2), 0);
}
END_TEST

static goro_mutex_t gate_mu = GORO_MUTEX_INIT;
static goro_cond_t gate_cond = GORO_COND_INIT;
static bool gate_open;
static _Atomic int through;

static void gate_waiter(void *arg)
{
	(void)arg;
	goro_mutex_lock(&gate_mu);
	while (!gate_open)
		goro_cond_wait(&gate_cond, &gate_mu);
	goro_mutex_unlock(&gate_mu);
	atomic_fetch_add(&through, 1);
}

static int cond_broadcast_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_mutex_t unheld = GORO_MUTEX_INIT;
	ck_assert_int_eq(goro_cond_wait(&gate_cond, &unheld), -EPERM);
	ck_assert_int_eq(goro_cond_wait(NULL, &unheld), -EINVAL);
	ck_assert_int_eq(goro_cond_signal(NULL), -EINVAL);
	ck_assert_int_eq(goro_cond_signal(&gate_cond), 0);  /* nobody waits */
	for (int i = 0; i < 50; i++)
		goro_go(gate_waiter, NULL);
	goro_sleep(2 * MS);
	ck_assert_int_eq(atomic_load(&through), 0);
	goro_mutex_lock(&gate_mu);
	gate_open = true;
	goro_cond_broadcast(&gate_cond);
	goro_mutex_unlock(&gate_mu);
	int64_t deadline = goro_now() + 5000 * MS;
	while (atomic_load(&through) < 50 && goro_now() < deadline)
		goro_sleep(100000);
	ck_assert_int_eq(atomic_load(&through), 50);
	return 0;
}

START_TEST(cond_broadcast)
{
	ck_assert_int_eq(run_goro(cond_broadcast_main, 2), 0);
}
END_TEST

/* ---- once ---------------------------------------------------------------------------------- */

static goro_once_t once = GORO_ONCE_INIT;
static _Atomic int once_runs, once_seen_after;
static goro_wg_t once_wg = GORO_WG_INIT;

static void once_fn(void *arg)
{
	goro_sleep(1 * MS);  /* others arrive meanwhile and must wait */
	atomic_fetch_add(&once_runs, 1);
	*(int *)arg = 42;
}

static int once_value;

static void once_caller(void *arg)
{
	(void)arg;
	goro_once(&once, once_fn, &once_value);
	if (once_value == 42)
		atomic_fetch_add(&once_seen_after, 1);
	goro_wg_done(&once_wg);
}

static int once_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_wg_add(&once_wg, 20);
	for (int i = 0; i < 20; i++)
		goro_go(once_caller, NULL);
	goro_wg_wait(&once_wg);
	ck_assert_int_eq(atomic_load(&once_runs), 1);
	ck_assert_int_eq(atomic_load(&once_seen_after), 20);
	ck_assert_int_eq(goro_once(NULL, once_fn, NULL), -EINVAL);
	ck_assert_int_eq(goro_once(&once, NULL, NULL), -EINVAL);
	return 0;
}

START_TEST(once_runs_once)
{
	ck_assert_int_eq(run_goro(once_main, 2), 0);
}
END_TEST

/* ---- deadlock detection (in a child process) ---------------------------------------- */

static goro_mutex_t dl_mu = GORO_MUTEX_INIT;
static goro_wg_t dl_wg = GORO_WG_INIT;

static void stuck_on_mutex(void *arg)
{
	(void)arg;
	goro_set_name("locker");
	goro_mutex_lock(&dl_mu);
}

static void stuck_on_wg(void *arg)
{
	(void)arg;
	goro_wg_wait(&dl_wg);
}

static int deadlock_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_mutex_lock(&dl_mu);
	goro_wg_add(&dl_wg, 1);
	goro_go(stuck_on_mutex, NULL);
	goro_go(stuck_on_wg, NULL);
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	int v;
	goro_chan_recv(c, &v);  /* nobody will ever send */
	return 0;
}

static void deadlock_child(void)
{
	run_goro(deadlock_main, 2);
	_exit(0);  /* not reached when the deadlock is detected */
}

START_TEST(deadlock_detected)
{
	char out[4096];
	int status = run_child(deadlock_child, out, sizeof(out));
	ck_assert_int_eq(status, 2);
	ck_assert_msg(strstr(out, "fatal error: all goroutines are asleep - "
				  "deadlock!\n"), "output: %s", out);
	ck_assert_msg(strstr(out, "goroutine 1 \"main\" [chan receive]:"),
		      "output: %s", out);
	ck_assert_msg(strstr(out, "\"locker\" [sync.Mutex.Lock]:"),
		      "output: %s", out);
	ck_assert_msg(strstr(out, "[sync.WaitGroup.Wait]:"), "output: %s", out);
	/* Each goroutine's stack follows its header, as in Go (the
	 * stuck_on_* functions may be gone: they tail-call). */
	ck_assert_msg(strstr(out, "\ngoro_mutex_lock+0x"), "output: %s", out);
	ck_assert_msg(strstr(out, "\ngoro_wg_wait+0x"), "output: %s", out);
	ck_assert_msg(strstr(out, "\ndeadlock_main+0x"), "output: %s", out);
}
END_TEST

static int select_forever_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_select(NULL, 0, -1);
	return 0;
}

static void select_forever_child(void)
{
	run_goro(select_forever_main, 1);
	_exit(0);
}

START_TEST(deadlock_select_no_cases)
{
	char out[4096];
	ck_assert_int_eq(run_child(select_forever_child, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "all goroutines are asleep - deadlock!"),
		      "output: %s", out);
	ck_assert_msg(strstr(out, "goroutine 1 \"main\" [select (no cases)]:"),
		      "output: %s", out);
}
END_TEST

/* Goroutine 1 wired to its thread: its M gives the P away when it parks,
 * and that hand-off must notice the deadlock too. */
static int locked_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_lock_thread();
	goro_chan_t *c = goro_chan_make(0, 0);
	goro_chan_recv(c, NULL);
	return 0;
}

static void locked_child(void)
{
	run_goro(locked_main, 1);
	_exit(0);
}

START_TEST(deadlock_locked_thread)
{
	char out[4096];
	ck_assert_int_eq(run_child(locked_child, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "goroutine 1 \"main\" [chan receive]:"),
		      "output: %s", out);
}
END_TEST

static void brief_worker(void *arg)
{
	(void)arg;
	goro_sleep(1 * MS);
}

static int main_exits_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_go(brief_worker, NULL);
	goro_exit();
	return 0;
}

static void main_exits_child(void)
{
	run_goro(main_exits_main, 2);
	_exit(0);
}

START_TEST(deadlock_main_called_exit)
{
	char out[4096];
	ck_assert_int_eq(run_child(main_exits_child, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "fatal error: no goroutines (main called "
				  "goro_exit) - deadlock!"), "output: %s", out);
}
END_TEST

/* Waiting on something a sleeping goroutine will provide is not a
 * deadlock, even while every goroutine is parked. */
static goro_chan_t *later;

static void send_later(void *arg)
{
	(void)arg;
	goro_sleep(30 * MS);
	int v = 1;
	goro_chan_send(later, &v);
}

static int not_deadlocked_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	later = goro_chan_make(sizeof(int), 0);
	goro_go(send_later, NULL);
	int v = 0;
	goro_chan_recv(later, &v);
	/* And a select with a timeout is waiting on a timer. */
	goro_case_t cs = { .chan = later, .dir = GORO_RECV, .elem = &v };
	return goro_select(&cs, 1, 20 * MS) == -ETIMEDOUT && v == 1 ? 7 : 1;
}

static void not_deadlocked_child(void)
{
	_exit(run_goro(not_deadlocked_main, 2));
}

START_TEST(no_false_deadlock)
{
	char out[4096];
	ck_assert_int_eq(run_child(not_deadlocked_child, out, sizeof(out)), 7);
	ck_assert_msg(!strstr(out, "deadlock"), "output: %s", out);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, mutex_counter_exact);
	tcase_add_test(tc, mutex_api);
	tcase_add_test(tc, mutex_no_starvation);
	tcase_add_test(tc, waitgroup);
	tcase_add_test(tc, cond_signal_queue);
	tcase_add_test(tc, cond_broadcast);
	tcase_add_test(tc, once_runs_once);
	tcase_add_test(tc, deadlock_detected);
	tcase_add_test(tc, deadlock_select_no_cases);
	tcase_add_test(tc, deadlock_locked_thread);
	tcase_add_test(tc, deadlock_main_called_exit);
	tcase_add_test(tc, no_false_deadlock);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(sync_suite)
