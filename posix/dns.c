/* SPDX-License-Identifier: MIT */
/*
 * dns.c — libgoro-posix's getaddrinfo, getnameinfo, gethostbyname and
 * gethostbyname_r.
 *
 * From a goroutine a lookup runs on the runtime's resolver threads
 * (src/io/resolver.c) while the goroutine parks, holding no P and no
 * thread.  A numeric host with a numeric (or no) service needs no lookup
 * at all and is libc's call on the spot.  gethostbyname keeps libc's
 * contract of a result in static storage, one for the process as glibc's
 * own, overwritten by the next call (MT-Unsafe, as libc's).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <goro.h>

#include "posix.h"

static bool numeric(const char *s, bool port)
{
	if (!s)
		return true;
	if (port) {
		if (!*s)
			return false;
		for (; *s; s++)
			if (*s < '0' || *s > '9')
				return false;
		return true;
	}
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	if (POSIX_PASS() || !res || (numeric(node, false) &&
				     numeric(service, true)))
		return REAL(getaddrinfo)(node, service, hints, res);
	return goro_getaddrinfo(node, service, hints, res);
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
		socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	bool numeric_only = ((flags & NI_NUMERICHOST) || !host || !hostlen) &&
			    ((flags & NI_NUMERICSERV) || !serv || !servlen);
	if (POSIX_PASS() || numeric_only)
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv,
					 servlen, flags);
	return goro_posix_getnameinfo(sa, salen, host, hostlen, serv, servlen,
				      flags);
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
		    size_t buflen, struct hostent **result, int *h_errnop)
{
	if (POSIX_PASS() || !name || !ret || !buf || !result)
		return REAL(gethostbyname_r)(name, ret, buf, buflen, result,
					     h_errnop);
	return goro_posix_gethostbyname_r(name, ret, buf, buflen, result,
					  h_errnop);
}

/* gethostbyname's static result. */
static struct {
	struct hostent he;
	char *buf;
} host_static;

struct hostent *gethostbyname(const char *name)
{
	if (POSIX_PASS() || !name)
		return REAL(gethostbyname)(name);
	size_t len = 1024;
	for (;;) {
		char *buf = malloc(len);
		if (!buf) {
			h_errno = NO_RECOVERY;
			return NULL;
		}
		struct hostent he, *res = NULL;
		int herr = 0;
		int rc = goro_posix_gethostbyname_r(name, &he, buf, len, &res,
						    &herr);
		if (rc == ERANGE && len < (1u << 20)) {
			free(buf);
			len *= 2;
			continue;
		}
		if (rc != 0 || !res) {
			free(buf);
			h_errno = herr ? herr : HOST_NOT_FOUND;
			return NULL;
		}
		/* The pointers in he point into buf, which becomes this
		 * thread's static buffer as it is. */
		free(host_static.buf);
		host_static.buf = buf;
		host_static.he = he;
		return &host_static.he;
	}
}
