/* SPDX-License-Identifier: MIT */
/*
 * preempt_cases.c — ordinary C that holds thread-owned state for a while,
 * for preempt_safe_child.  Nothing here includes goro.h or knows about
 * goroutines: it is the kind of code a user runs in them unchanged.  Each
 * case computes long enough (by the clock, not by any runtime call) to be
 * preempted in the middle of holding what it holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "preempt_cases.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void case_spin_ns(int64_t ns)
{
	int64_t until = now_ns() + ns;
	while (now_ns() < until)
		;
}

/* Blocks of random sizes, each filled with a pattern of its own and checked
 * before it is freed: two goroutines interleaved inside one thread's
 * allocator cache hand out the same block twice. */
long case_malloc_churn(unsigned seed, unsigned iters)
{
	enum { LIVE = 64 };
	unsigned char *blk[LIVE] = { 0 };
	size_t len[LIVE] = { 0 };
	long bad = 0;
	uint32_t r = seed * 2654435761u + 1;
	for (unsigned i = 0; i < iters; i++) {
		r = r * 1103515245u + 12345u;
		unsigned k = (r >> 8) % LIVE;
		if (blk[k]) {
			unsigned char want = (unsigned char)(k ^ len[k]);
			for (size_t j = 0; j < len[k]; j++)
				if (blk[k][j] != want) {
					bad++;
					break;
				}
			free(blk[k]);
		}
		len[k] = 16 + (r >> 12) % 4096;
		blk[k] = malloc(len[k]);
		if (!blk[k])
			return -1;
		memset(blk[k], (unsigned char)(k ^ len[k]), len[k]);
	}
	for (unsigned k = 0; k < LIVE; k++)
		free(blk[k]);
	return bad;
}

int case_errorcheck_mutex(int64_t hold_ns)
{
	pthread_mutexattr_t a;
	pthread_mutex_t mu;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&mu, &a);
	pthread_mutexattr_destroy(&a);
	int err = pthread_mutex_lock(&mu);
	if (err)
		return err;
	case_spin_ns(hold_ns);
	err = pthread_mutex_unlock(&mu);
	pthread_mutex_destroy(&mu);
	return err;
}

int case_rwlock(int64_t hold_ns)
{
	pthread_rwlock_t rw;
	pthread_rwlock_init(&rw, NULL);
	int err = pthread_rwlock_wrlock(&rw);
	if (err)
		return err;
	case_spin_ns(hold_ns);
	pthread_rwlock_unlock(&rw);
	/* Released for real: it can be taken again at once. */
	err = pthread_rwlock_trywrlock(&rw);
	if (err == 0)
		pthread_rwlock_unlock(&rw);
	pthread_rwlock_destroy(&rw);
	return err;
}

/* A loop over a __thread array whose end pointer GCC keeps equal to the
 * thread pointer: rebasing registers could never get both right. */
#define TLS_N 512
static __thread long tls_arr[TLS_N];

long case_tls_loop(int64_t ns)
{
	long bad = 0;
	int64_t until = now_ns() + ns;
	for (long round = 1; now_ns() < until; round++) {
		for (long *p = tls_arr; p != tls_arr + TLS_N; p++)
			*p = round;
		for (long *p = tls_arr; p != tls_arr + TLS_N; p++)
			if (*p != round)
				bad++;
	}
	return bad;
}

struct iter_arg {
	int64_t spin_ns;
	int objects;
};

static int iter_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info; (void)size;
	struct iter_arg *a = arg;
	if (a->objects++ == 0)
		case_spin_ns(a->spin_ns);  /* holding the loader's lock */
	return 0;
}

int case_dl_iterate(int64_t spin_ns)
{
	struct iter_arg a = { spin_ns, 0 };
	dl_iterate_phdr(iter_cb, &a);
	return a.objects;
}

/* A query slow enough to be preempted inside sqlite3_step, on a connection
 * shared in serialized mode (its recursive mutex is held throughout). */
int case_sqlite_query(sqlite3 *db, long n, long *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db,
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
		"WHERE x < ?1) SELECT sum(x % 7) FROM c", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, n);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (long)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A goroutine whose last statement is a blocking call: at -O2 it is a
 * jump, so no frame of the goroutine's own function is left on the stack
 * below the call (only goro_start's return address). */
void case_tail_sleep(void *arg)
{
	(void)arg;
	sleep(20);
}
