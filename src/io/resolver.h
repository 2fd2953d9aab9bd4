/* SPDX-License-Identifier: MIT */
/*
 * resolver.h — name resolution that does not hold a P: getaddrinfo runs
 * on a small pool of resolver threads while the goroutine parks.
 *
 * The one place the runtime resolves names: goro_getaddrinfo, goro_dial
 * and goro_listen use it, and so can any later drop-in (a libgoro-posix
 * getaddrinfo) without a second pool.
 */
#ifndef GORO_RESOLVER_H
#define GORO_RESOLVER_H

#include <netdb.h>
#include <stdint.h>

/* At most this many resolver threads; more requests queue. */
#define RESOLVER_THREADS_MAX 4

/*
 * getaddrinfo(node, service, hints, res) on a resolver thread; the
 * calling goroutine parks until it is done or `deadline` (goro_now()
 * clock, 0 = none) passes.  Returns getaddrinfo's code; a deadline passed
 * is EAI_SYSTEM with errno ETIMEDOUT (the lookup finishes in the
 * background and its result is dropped).  Must run on a goroutine.
 */
int resolver_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res,
			 int64_t deadline);

/* getnameinfo and gethostbyname_r the same way, without a deadline (the
 * thread writes the caller's buffers: the call always waits for it). */
int resolver_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			 char *host, socklen_t hostlen, char *serv,
			 socklen_t servlen, int flags);
int resolver_gethostbyname_r(const char *name, struct hostent *ret,
			     char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop);

/* A goro_main run ends (every M gone, its goroutines about to be freed):
 * lookups still running belong to their threads from now on. */
void resolver_run_end(void);

#endif
