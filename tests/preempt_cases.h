/* SPDX-License-Identifier: MIT */
/*
 * preempt_cases.h — the plain C under test in preempt_safe_child (see
 * preempt_cases.c and preempt_cases_cxx.cc).
 */
#ifndef GORO_TEST_PREEMPT_CASES_H
#define GORO_TEST_PREEMPT_CASES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;

void case_spin_ns(int64_t ns);
long case_malloc_churn(unsigned seed, unsigned iters);
int case_errorcheck_mutex(int64_t hold_ns);
int case_rwlock(int64_t hold_ns);
long case_tls_loop(int64_t ns);
int case_dl_iterate(int64_t spin_ns);
int case_sqlite_query(struct sqlite3 *db, long n, long *out);
/* 0 when a rethrow from a catch block that computed for hold_ns is caught
 * again with its own tag; 2 for another's exception; std::terminate when
 * the thread has none. */
int case_cxx_rethrow(int64_t hold_ns, int tag);
/* A goroutine function that ends in sleep(20), a tail call. */
void case_tail_sleep(void *arg);

#ifdef __cplusplus
}
#endif
#endif
