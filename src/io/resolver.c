/* SPDX-License-Identifier: MIT */
/*
 * resolver.c — the resolver thread pool (see resolver.h).
 *
 * Why threads: getaddrinfo (and getnameinfo, gethostbyname_r) may read
 * files, talk to a DNS server or run NSS modules, none of which a goroutine can park on.  So the lookup runs
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
#include "stack.h"
#include "workpool.h"

enum req_state { REQ_WAITING, REQ_DONE, REQ_ABANDONED };
enum req_kind { REQ_ADDRINFO, REQ_NAMEINFO, REQ_HOSTBYNAME };

struct resolver_req {
	struct workpool_job job;       /* on the resolver pool */
	uint8_t kind;                  /* enum req_kind */
	char *node, *service;          /* copies, NULL allowed */
	struct addrinfo hints;
	bool has_hints;
	int efd;                       /* the goroutine's eventfd */
	_Atomic int state;             /* enum req_state */
	/* Written by the thread before WAITING -> DONE. */
	int rc, err;
	struct addrinfo *res;
	/* REQ_NAMEINFO: the address in, the names out (the request's own
	 * buffers; the goroutine copies them). */
	struct sockaddr_storage sa;
	socklen_t salen, hostlen, servlen;
	int ni_flags;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	/* REQ_HOSTBYNAME: the caller's buffers, committed and never
	 * abandoned (resolver_gethostbyname_r has no deadline). */
	struct hostent *he;
	char *buf;
	size_t buflen;
	struct hostent **result;
	int h_err;
};

static struct workpool pool = WORKPOOL_INIT(RESOLVER_THREADS_MAX,
					     "goro-resolver");

static void req_free(struct resolver_req *r)
{
	free(r->node);
	free(r->service);
	free(r);
}

/* The lookup itself, on a resolver thread. */
static void run(struct resolver_req *r)
{
	switch (r->kind) {
	case REQ_ADDRINFO:
		r->rc = getaddrinfo(r->node, r->service,
				    r->has_hints ? &r->hints : NULL, &r->res);
		break;
	case REQ_NAMEINFO:
		r->rc = getnameinfo((struct sockaddr *)&r->sa, r->salen,
				    r->hostlen ? r->host : NULL, r->hostlen,
				    r->servlen ? r->serv : NULL, r->servlen,
				    r->ni_flags);
		break;
	case REQ_HOSTBYNAME:
		r->rc = gethostbyname_r(r->node, r->he, r->buf, r->buflen,
					r->result, &r->h_err);
		break;
	}
	r->err = errno;
}

static void resolve(struct workpool_job *job)
{
	struct resolver_req *r = (struct resolver_req *)
		((char *)job - offsetof(struct resolver_req, job));
	int fd = r->efd;
	run(r);
	int expect = REQ_WAITING;
	if (atomic_compare_exchange_strong(&r->state, &expect, REQ_DONE)) {
		/* Last touch: the goroutine owns r from here on. */
		uint64_t one = 1;
		while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	} else {
		if (r->kind == REQ_ADDRINFO && r->rc == 0)
			freeaddrinfo(r->res);
		req_free(r);
	}
}

/* Queue r on the pool.  false if no thread exists and none could be
 * started. */
static bool submit(struct resolver_req *r)
{
	r->job.run = resolve;
	/* Not preempted, nor pulled out at exit, inside libc holding the
	 * pool's lock (see src/io/fileio.c). */
	rlock_section_begin();
	bool queued = workpool_submit(&pool, &r->job);
	rlock_section_end();
	return queued;
}

/* A request with its eventfd, or NULL (errno set). */
static struct resolver_req *req_new(enum req_kind kind)
{
	struct resolver_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->kind = kind;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		int err = IO_ERRNO;
		free(r);
		IO_ERRNO = err;
		return NULL;
	}
	atomic_init(&r->state, REQ_WAITING);
	return r;
}

/*
 * Hand r to the pool and park until it is done: 1 (the result is in r,
 * the caller frees it with req_done), 0 if no thread could be started (r
 * is freed: do the lookup here), or -1 when `deadline` passed first (r
 * belongs to the thread now; errno ETIMEDOUT).
 */
static int wait_done(struct resolver_req *r, int64_t deadline)
{
	if (!submit(r)) {
		close(r->efd);
		req_free(r);
		return 0;
	}
	if (deadline)
		goro_fd_set_deadline(r->efd, GORO_READ, deadline);
	uint64_t v;
	if (goro_read(r->efd, &v, sizeof(v)) == sizeof(v))
		return 1;
	int expect = REQ_WAITING;
	if (atomic_compare_exchange_strong(&r->state, &expect,
					   REQ_ABANDONED)) {
		goro_close(r->efd);
		IO_ERRNO = ETIMEDOUT;
		return -1;
	}
	/* The thread finished meanwhile: its write is on its way. */
	goro_fd_set_deadline(r->efd, GORO_READ, 0);
	while (goro_read(r->efd, &v, sizeof(v)) != sizeof(v))
		;
	return 1;
}

/* The caller took its result: r freed, errno as the caller had it. */
static void req_done(struct resolver_req *r)
{
	int saved = IO_ERRNO;
	goro_close(r->efd);
	req_free(r);
	IO_ERRNO = saved;
}

int resolver_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res,
			 int64_t deadline)
{
	struct resolver_req *r = req_new(REQ_ADDRINFO);
	if (!r)
		return IO_ERRNO == ENOMEM ? EAI_MEMORY : EAI_SYSTEM;
	r->node = node ? strdup(node) : NULL;
	r->service = service ? strdup(service) : NULL;
	if ((node && !r->node) || (service && !r->service)) {
		close(r->efd);
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
	int w = wait_done(r, deadline);
	if (w == 0) /* No thread at all: resolve here, handing the P on. */
		return GORO_BLOCKING(getaddrinfo(node, service, hints, res));
	if (w < 0)
		return EAI_SYSTEM;
	int rc = r->rc;
	if (rc == 0)
		*res = r->res;
	int err = r->err;
	req_done(r);
	if (rc == EAI_SYSTEM)
		IO_ERRNO = err;
	return rc;
}

int resolver_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			 char *host, socklen_t hostlen, char *serv,
			 socklen_t servlen, int flags)
{
	if (!sa || salen > sizeof(struct sockaddr_storage))
		return EAI_FAMILY;
	struct resolver_req *r = req_new(REQ_NAMEINFO);
	if (!r)
		return EAI_SYSTEM;
	memcpy(&r->sa, sa, salen);
	r->salen = salen;
	r->hostlen = host ? (hostlen < NI_MAXHOST ? hostlen : NI_MAXHOST) : 0;
	r->servlen = serv ? (servlen < NI_MAXSERV ? servlen : NI_MAXSERV) : 0;
	r->ni_flags = flags;
	int w = wait_done(r, 0);
	if (w == 0)
		return GORO_BLOCKING(getnameinfo(sa, salen, host, hostlen, serv,
						 servlen, flags));
	if (w < 0)
		return EAI_SYSTEM;
	int rc = r->rc;
	if (rc == 0) {
		/* A name that fit the request's buffer but not the caller's
		 * is EAI_OVERFLOW, as getnameinfo itself says. */
		if ((host && hostlen && strlen(r->host) >= hostlen) ||
		    (serv && servlen && strlen(r->serv) >= servlen))
			rc = EAI_OVERFLOW;
		else {
			if (host && hostlen)
				strcpy(host, r->host);
			if (serv && servlen)
				strcpy(serv, r->serv);
		}
	}
	req_done(r);
	return rc;
}

int resolver_gethostbyname_r(const char *name, struct hostent *ret,
			     char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop)
{
	struct resolver_req *r = req_new(REQ_HOSTBYNAME);
	if (!r)
		return IO_ERRNO;
	r->node = strdup(name);
	if (!r->node) {
		close(r->efd);
		req_free(r);
		return ENOMEM;
	}
	/* The resolver thread writes into the caller's memory, which may
	 * lie in a part of the goroutine's stack not yet opened. */
	stack_commit_range(ret, sizeof(*ret));
	stack_commit_range(buf, buflen);
	stack_commit_range(result, sizeof(*result));
	r->he = ret;
	r->buf = buf;
	r->buflen = buflen;
	r->result = result;
	int w = wait_done(r, 0);
	if (w == 0)
		return GORO_BLOCKING(gethostbyname_r(name, ret, buf, buflen,
						     result, h_errnop));
	if (w < 0)
		return IO_ERRNO;
	int rc = r->rc;
	if (h_errnop)
		*h_errnop = r->h_err;
	req_done(r);
	return rc;
}
