/* SPDX-License-Identifier: MIT */
/*
 * workpool.c — the bounded thread pools (see workpool.h).
 *
 * Why plain threads and not Ms: a job blocks in the kernel or in a library
 * for as long as it likes, and nothing on its thread belongs to the
 * scheduler, so it can never hold a P or delay a stop-the-world.
 *
 * Invariants: `head`, `tail`, `queued`, `threads` and `idle` change only under
 * `lock`; a thread takes a job off the queue under the lock and runs it
 * outside it; threads never exit, so `threads` only grows, up to `max`.
 */
#include <signal.h>
#include <stddef.h>

#include "workpool.h"

static void *pool_thread(void *arg)
{
	struct workpool *pool = arg;
	/* Blocked here, not around pthread_create: the creator may run on a
	 * goroutine stack, which grows through SIGSEGV. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_setname_np(pthread_self(), pool->name);
	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (!pool->head) {
			pool->idle++;
			pthread_cond_wait(&pool->work, &pool->lock);
			pool->idle--;
		}
		struct workpool_job *job = pool->head;
		pool->head = job->next;
		if (!pool->head)
			pool->tail = NULL;
		pool->queued--;
		pthread_mutex_unlock(&pool->lock);
		job->run(job);
	}
	return NULL;
}

bool workpool_submit(struct workpool *pool, struct workpool_job *job)
{
	pthread_mutex_lock(&pool->lock);
	/* Count the jobs already queued against the idle threads: a burst
	 * of submissions must not all be promised the same idle thread. */
	if (pool->queued >= pool->idle && pool->threads < pool->max) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, pool_thread, pool) == 0)
			pool->threads++;
		pthread_attr_destroy(&attr);
	}
	if (pool->threads == 0) {
		pthread_mutex_unlock(&pool->lock);
		return false;
	}
	job->next = NULL;
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pool->queued++;
	pthread_cond_signal(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	return true;
}

int workpool_threads(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	int n = pool->threads;
	pthread_mutex_unlock(&pool->lock);
	return n;
}
