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
 * The threads are a workpool (src/io/workpool.h) of RESOLVER_THREADS_MAX,
 * of its own: slow name servers never hold up the file I/O pool.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io.h"
#include "resolver.h"
#include "workpool.h"

enum req_state { REQ_WAITING, REQ_DONE, REQ_ABANDONED };

struct resolver_req {
	struct workpool_job job;       /* on the resolver pool */
	char *node, *service;          /* copies, NULL allowed */
	struct addrinfo hints;
	bool has_hints;
	int efd;                       /* the goroutine's eventfd */
	_Atomic int state;             /* enum req_state */
	/* Written by the thread before WAITING -> DONE. */
	int rc, err;
	struct addrinfo *res;
};

static struct workpool pool = WORKPOOL_INIT(RESOLVER_THREADS_MAX,
					     "goro-resolver");

static void req_free(struct resolver_req *r)
{
	free(r->node);
	free(r->service);
	free(r);
}

static void resolve(struct workpool_job *job)
{
	struct resolver_req *r = (struct resolver_req *)
		((char *)job - offsetof(struct resolver_req, job));
	int fd = r->efd;
	r->rc = getaddrinfo(r->node, r->service,
			    r->has_hints ? &r->hints : NULL, &r->res);
	r->err = errno;
	int expect = REQ_WAITING;
	if (atomic_compare_exchange_strong(&r->state, &expect, REQ_DONE)) {
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
	r->job.run = resolve;
	/* Not preempted, nor pulled out at exit, inside libc holding the
	 * pool's lock (see src/io/fileio.c). */
	rlock_section_begin();
	bool queued = workpool_submit(&pool, &r->job);
	rlock_section_end();
	if (!queued) {
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
