/* SPDX-License-Identifier: MIT */
/*
 * workpool.h — bounded pools of plain threads for calls a goroutine cannot
 * park on (getaddrinfo, a read of a regular file when io_uring is not
 * there): the call runs on a pool thread while the goroutine waits without
 * holding a P.
 *
 * A pool starts its threads on demand, up to its bound, and keeps them for
 * the life of the process, idle on a condition variable; jobs beyond the
 * bound wait in a FIFO queue.  Pool threads block every signal (the
 * application's handlers never run there) and need nothing of the
 * scheduler: how a job tells its goroutine it is done is the job's own
 * business (both users ready the goroutine with sched_ready_global).
 *
 * Users: src/io/resolver.c and src/io/fileio.c, one pool each, so that slow
 * name servers never starve file reads of threads and the reverse.
 */
#ifndef GORO_WORKPOOL_H
#define GORO_WORKPOOL_H

#include <pthread.h>
#include <stdbool.h>

/* One unit of work; embed it in the request and recover the request in
 * run (container_of).  The pool never touches a job after calling run. */
struct workpool_job {
	struct workpool_job *next;           /* queue link, under pool lock */
	void (*run)(struct workpool_job *job);
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct workpool_job *head, *tail;    /* FIFO, under lock */
	int queued, threads, idle;           /* under lock */
	int max;                             /* bound, set at definition */
	const char *name;                    /* thread name (15 chars max) */
};

#define WORKPOOL_INIT(max_, name_) \
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, \
	  0, 0, 0, (max_), (name_) }

/* Queue job on pool, starting a thread if none is idle and the pool may
 * grow.  false (job not queued) if the pool has no thread and none could
 * be started: the caller runs the call some other way. */
bool workpool_submit(struct workpool *pool, struct workpool_job *job);

/* Threads the pool has started (they never exit). */
int workpool_threads(struct workpool *pool);

#endif
