/* SPDX-License-Identifier: MIT */
/*
 * resolver.c — the resolver thread pool (see resolver.h).
 *
 * Why threads: getaddrinfo may read files, talk to a DNS server or run
 * NSS modules, none of which a goroutine can park on.  So the lookup runs
 * on a plain thread and the goroutine waits for it on the poller, through
 * an eventfd of its own: waiting costs no P and no M, and the thread needs
 * nothing of the scheduler (it only writes to a descriptor).
 *
 * Threads are started on demand up to RESOLVER_THREADS_MAX, block every
 * signal as they start (so the application's handlers never run there,
 * but for the instant before), and stay for the life of the process, idle
 * on a condition variable; requests beyond that wait in a FIFO queue.
 *
 * Who frees a request: it is shared by the goroutine and the thread.  The
 * thread moves `state` from WAITING to DONE and then writes the eventfd;
 * the goroutine reads the eventfd, takes the result, closes the eventfd
 * and frees the request.  A goroutine whose deadline passes moves WAITING
 * to ABANDONED and leaves at once (closing its eventfd); the thread then
 * finds ABANDONED, never touches the eventfd, and frees the request and
 * its result.  If the thread won the race (DONE), the goroutine waits for
 * the write, which is imminent, and takes the result after all.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io.h"
#include "resolver.h"

enum req_state { REQ_WAITING, REQ_DONE, REQ_ABANDONED };

struct resolver_req {
	struct resolver_req *next;     /* queue link, under pool.lock */
	char *node, *service;          /* copies, NULL allowed */
	struct addrinfo hints;
	bool has_hints;
	int efd;                       /* the goroutine's eventfd */
	_Atomic int state;             /* enum req_state */
	/* Written by the thread before WAITING -> DONE. */
	int rc, err;
	struct addrinfo *res;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct resolver_req *head, *tail;
	int threads, idle;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	   NULL, NULL, 0, 0 };

static void req_free(struct resolver_req *r)
{
	free(r->node);
	free(r->service);
	free(r);
}

static void *resolver_thread(void *arg)
{
	(void)arg;
	/* Blocked here, not around pthread_create: the creator runs on a
	 * goroutine stack, which grows through SIGSEGV. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while (!pool.head) {
			pool.idle++;
			pthread_cond_wait(&pool.work, &pool.lock);
			pool.idle--;
		}
		struct resolver_req *r = pool.head;
		pool.head = r->next;
		if (!pool.head)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);

		int fd = r->efd;
		r->rc = getaddrinfo(r->node, r->service,
				    r->has_hints ? &r->hints : NULL, &r->res);
		r->err = errno;
		int expect = REQ_WAITING;
		if (atomic_compare_exchange_strong(&r->state, &expect,
						   REQ_DONE)) {
			/* Last touch: the goroutine owns r from here on. */
			uint64_t one = 1;
			while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
				;
		} else {
			if (r->rc == 0)
				freeaddrinfo(r->res);
			req_free(r);
		}
	}
	return NULL;
}

/* Queue r; start a thread if none is idle and the pool may grow.  false
 * if no thread exists and none could be started. */
static bool submit(struct resolver_req *r)
{
	pthread_mutex_lock(&pool.lock);
	if (pool.idle == 0 && pool.threads < RESOLVER_THREADS_MAX) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, resolver_thread, NULL) == 0)
			pool.threads++;
		pthread_attr_destroy(&attr);
	}
	if (pool.threads == 0) {
		pthread_mutex_unlock(&pool.lock);
		return false;
	}
	r->next = NULL;
	if (pool.tail)
		pool.tail->next = r;
	else
		pool.head = r;
	pool.tail = r;
	pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.lock);
	return true;
}

static int take_result(struct resolver_req *r, struct addrinfo **res)
{
	int rc = r->rc;
	if (rc == 0)
		*res = r->res;
	else if (rc == EAI_SYSTEM)
		IO_ERRNO = r->err;
	goro_close(r->efd);
	req_free(r);
	return rc;
}

int resolver_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res,
			 int64_t deadline)
{
	struct resolver_req *r = calloc(1, sizeof(*r));
	if (!r)
		return EAI_MEMORY;
	r->node = node ? strdup(node) : NULL;
	r->service = service ? strdup(service) : NULL;
	if ((node && !r->node) || (service && !r->service)) {
		req_free(r);
		return EAI_MEMORY;
	}
	if (hints) {
		r->hints = *hints;
		r->hints.ai_addr = NULL;
		r->hints.ai_canonname = NULL;
		r->hints.ai_next = NULL;
		r->has_hints = true;
	}
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		int err = IO_ERRNO;
		req_free(r);
		IO_ERRNO = err;
		return EAI_SYSTEM;
	}
	atomic_init(&r->state, REQ_WAITING);
	if (!submit(r)) {
		/* No thread at all: resolve here, handing the P on. */
		close(r->efd);
		req_free(r);
		return GORO_BLOCKING(getaddrinfo(node, service, hints, res));
	}
	if (deadline)
		goro_fd_set_deadline(r->efd, GORO_READ, deadline);
	uint64_t v;
	if (goro_read(r->efd, &v, sizeof(v)) == sizeof(v))
		return take_result(r, res);
	int expect = REQ_WAITING;
	if (atomic_compare_exchange_strong(&r->state, &expect,
					   REQ_ABANDONED)) {
		goro_close(r->efd);
		IO_ERRNO = ETIMEDOUT;
		return EAI_SYSTEM;
	}
	/* The thread finished meanwhile: its write is on its way. */
	goro_fd_set_deadline(r->efd, GORO_READ, 0);
	while (goro_read(r->efd, &v, sizeof(v)) != sizeof(v))
		;
	return take_result(r, res);
}
