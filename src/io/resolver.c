/* SPDX-License-Identifier: MIT */
/*
 * resolver.c — the resolver thread pool (see resolver.h).
 *
 * Why threads: getaddrinfo (and getnameinfo, gethostbyname_r) may read
 * files, talk to a DNS server or run NSS modules, none of which a
 * goroutine can park on.  So the lookup runs on a plain thread while the
 * goroutine parks: waiting costs no P, no M and no descriptor (a process
 * at its descriptor limit resolves as well as any), and the thread readies
 * the goroutine itself (sched_ready_global, which any thread may call).
 *
 * The threads are a workpool (src/io/workpool.h) of RESOLVER_THREADS_MAX,
 * of its own: slow name servers never hold up the file I/O pool.
 *
 * Who frees a request: it is shared by the goroutine and the thread, and
 * its outside_wait (src/sched/outside_wait.h) says who owns it.  The
 * thread, done, marks it so, readying the goroutine, and never touches it
 * again: the goroutine takes the result and frees it.  A deadline is a
 * timer armed once the goroutine is parked; firing, it abandons the
 * request and readies the goroutine, which leaves with ETIMEDOUT; the
 * thread, finding it abandoned, frees the request and its result (once
 * the timer's callback has let go of it).  Requests of a goro_main run
 * that has ended (resolver_run_end) are their threads': the goroutine is
 * gone.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "outside_wait.h"
#include "resolver.h"
#include "scheduler.h"
#include "stack.h"
#include "timer.h"
#include "workpool.h"

#include "atomic.h"

enum req_kind { REQ_ADDRINFO, REQ_NAMEINFO, REQ_HOSTBYNAME };

struct resolver_req {
	struct workpool_job job;       /* on the resolver pool */
	uint8_t kind;                  /* enum req_kind */
	char *node, *service;          /* copies, NULL allowed */
	struct addrinfo hints;
	bool has_hints;
	struct outside_wait ow;        /* the goroutine's wait for it */
	uint64_t run;                  /* the goro_main run it belongs to */
	struct timer deadline;         /* armed while it is parked, if any */
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

/* The goro_main run whose goroutines may still be readied: bumped by
 * resolver_run_end under `lock`, which a thread holds from reading it to
 * readying the goroutine. */
static struct {
	pthread_mutex_t lock;
	uint64_t run;
} live = { .lock = PTHREAD_MUTEX_INITIALIZER };

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

static void req_drop(struct resolver_req *r)
{
	if (r->kind == REQ_ADDRINFO && r->rc == 0)
		freeaddrinfo(r->res);
	req_free(r);
}

static void resolve(struct workpool_job *job)
{
	struct resolver_req *r = (struct resolver_req *)
		((char *)job - offsetof(struct resolver_req, job));
	run(r);
	pthread_mutex_lock(&live.lock);
	if (r->run != live.run) {
		pthread_mutex_unlock(&live.lock);
		req_drop(r);  /* its run has ended, and its goroutine with it */
		return;
	}
	/* Under the lock: resolver_run_end waits for this goroutine to be
	 * readied, or left alone. */
	int old = outside_wait_done(&r->ow);
	pthread_mutex_unlock(&live.lock);
	if (old == OW_ABANDONED) {
		/* The deadline's callback may still be returning. */
		while (atomic_load_explicit(&r->deadline.running, ACQUIRE))
			sched_yield();
		req_drop(r);
	}
}

/* The deadline passed while the goroutine waited. */
static void deadline_fire(struct timer *t)
{
	struct resolver_req *r = t->arg;
	outside_wait_abandon(&r->ow);
}

/* On g0 once the goroutine is parked: its deadline can fire now. */
static void arm_deadline(struct outside_wait *w)
{
	struct resolver_req *r = (struct resolver_req *)
		((char *)w - offsetof(struct resolver_req, ow));
	if (r->deadline.when)
		timer_start(&r->deadline);
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

/* A request, or NULL (errno set). */
static struct resolver_req *req_new(enum req_kind kind)
{
	struct resolver_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->kind = kind;
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
	pthread_mutex_lock(&live.lock);
	r->run = live.run;
	pthread_mutex_unlock(&live.lock);
	if (deadline) {
		r->deadline.when = deadline;
		r->deadline.fn = deadline_fire;
		r->deadline.arg = r;
		r->deadline.counted = true;
	}
	outside_wait_begin(&r->ow);
	r->ow.on_parked = arm_deadline;
	if (!submit(r)) {
		outside_wait_cancel(&r->ow);
		req_free(r);
		return 0;
	}
	if (outside_wait_park(&r->ow, WAIT_IO)) {
		/* r is the thread's: not touched again. */
		IO_ERRNO = ETIMEDOUT;
		return -1;
	}
	/* DONE: a deadline's timer may still be armed, or firing (its
	 * callback finds DONE and lets go). */
	if (r->deadline.when && !timer_stop(&r->deadline))
		while (atomic_load_explicit(&r->deadline.running, ACQUIRE))
			sched_yield();
	return 1;
}

/* The caller took its result: r freed, errno as the caller had it. */
static void req_done(struct resolver_req *r)
{
	int saved = IO_ERRNO;
	req_free(r);
	IO_ERRNO = saved;
}

void resolver_run_end(void)
{
	pthread_mutex_lock(&live.lock);
	live.run++;
	pthread_mutex_unlock(&live.lock);
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
