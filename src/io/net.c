/* SPDX-License-Identifier: MIT */
/*
 * net.c — goro_dial, goro_listen and goro_getaddrinfo: Go's net.Dial and
 * net.Listen for C, on top of the I/O calls (src/io/io.c) and the resolver
 * pool (src/io/resolver.c).
 *
 * What it promises: an address is parsed as Go's SplitHostPort does
 * ("host:port", "[v6]:port", ":port"); numeric hosts and ports never reach
 * the resolver threads, names always do, so a goroutine never blocks its
 * P on a lookup.  goro_dial tries the addresses in the order getaddrinfo
 * gave them, one at a time, as Go's dialer does without its dual-stack
 * race: each attempt gets an equal share of the time left (at least 2 s,
 * or whatever is left), and the first attempt's error is the one
 * reported.  Every descriptor returned is non-blocking, close-on-exec and
 * already known to the poller.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "netpoll.h"
#include "resolver.h"
#include "runtime.h"

#define MIN_ATTEMPT_NS (2 * 1000000000LL)  /* Go's minimum per address */

struct net_kind {
	int family;     /* AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX */
	int socktype;   /* SOCK_STREAM or SOCK_DGRAM */
};

static int parse_network(const char *network, struct net_kind *k)
{
	static const struct {
		const char *name;
		struct net_kind kind;
	} names[] = {
		{ "tcp", { AF_UNSPEC, SOCK_STREAM } },
		{ "tcp4", { AF_INET, SOCK_STREAM } },
		{ "tcp6", { AF_INET6, SOCK_STREAM } },
		{ "udp", { AF_UNSPEC, SOCK_DGRAM } },
		{ "udp4", { AF_INET, SOCK_DGRAM } },
		{ "udp6", { AF_INET6, SOCK_DGRAM } },
		{ "unix", { AF_UNIX, SOCK_STREAM } },
	};
	if (!network)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(network, names[i].name) == 0) {
			*k = names[i].kind;
			return 0;
		}
	return -EINVAL;
}

/* Go's SplitHostPort: "host:port", "[host]:port", ":port".  The port may
 * be a number or a service name; neither part may hold what the other
 * form would. */
static int split_host_port(const char *address, char *host, size_t hcap,
			   char *port, size_t pcap)
{
	const char *h = address, *hend, *p;
	if (address[0] == '[') {
		hend = strchr(address, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		h = address + 1;
		p = hend + 2;
	} else {
		hend = strrchr(address, ':');
		if (!hend || memchr(address, ':', (size_t)(hend - address)) ||
		    memchr(address, '[', (size_t)(hend - address)) ||
		    memchr(address, ']', (size_t)(hend - address)))
			return -EINVAL;
		p = hend + 1;
	}
	size_t hlen = (size_t)(hend - h), plen = strlen(p);
	if (plen == 0 || hlen >= hcap || plen >= pcap ||
	    strpbrk(p, ":[]"))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return 0;
}

static int unix_address(const char *path, struct sockaddr_un *sa,
			socklen_t *len)
{
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')  /* abstract namespace, as Go spells it */
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			   (path[0] == '@' ? 0 : 1));
	return 0;
}

/* getaddrinfo's failure as a negative errno. */
static int gai_errno(int rc)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return -ENOENT;
	case EAI_SERVICE:
		return -EINVAL;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return IO_ERRNO ? -IO_ERRNO : -EIO;
	default:
		return -EIO;
	}
}

/* Addresses for host:port of kind k: numeric ones at once, names on the
 * resolver pool.  0 or a negative errno. */
static int resolve(const struct net_kind *k, const char *host,
		   const char *port, bool passive, int64_t deadline,
		   struct addrinfo **res)
{
	struct addrinfo hints = {
		.ai_family = k->family,
		.ai_socktype = k->socktype,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
			    (passive ? AI_PASSIVE : 0),
	};
	const char *node = host[0] ? host : NULL;
	int rc = getaddrinfo(node, port, &hints, res);
	if (rc == EAI_NONAME) {
		hints.ai_flags &= ~(AI_NUMERICHOST | AI_NUMERICSERV);
		rc = resolver_getaddrinfo(node, port, &hints, res, deadline);
	}
	return rc == 0 ? 0 : gai_errno(rc);
}

/* A non-blocking close-on-exec socket the poller knows. */
static int new_socket(int family, int socktype, int protocol)
{
	int fd = socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			protocol);
	if (fd < 0)
		return -IO_ERRNO;
	int err = netpoll_open_fresh(fd, true, false);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int dial_one(const struct net_kind *k, const struct sockaddr *sa,
		    socklen_t len, int protocol, int64_t deadline)
{
	int fd = new_socket(sa->sa_family, k->socktype, protocol);
	if (fd < 0)
		return fd;
	if (io_connect(fd, sa, len, deadline) != 0) {
		int err = -IO_ERRNO;
		goro_close(fd);
		return err;
	}
	return fd;
}

int goro_dial(const char *network, const char *address, int64_t timeout_ns)
{
	RT_REQUIRE_G(-EPERM);
	struct net_kind k;
	if (parse_network(network, &k) != 0 || !address || timeout_ns < 0)
		return -EINVAL;
	int64_t deadline = timeout_ns ? rt_now() + timeout_ns : 0;
	if (k.family == AF_UNIX) {
		struct sockaddr_un sa;
		socklen_t len;
		if (unix_address(address, &sa, &len) != 0)
			return -EINVAL;
		return dial_one(&k, (struct sockaddr *)&sa, len, 0, deadline);
	}
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (split_host_port(address, host, sizeof(host), port,
			    sizeof(port)) != 0)
		return -EINVAL;
	struct addrinfo *list;
	int err = resolve(&k, host, port, false, deadline, &list);
	if (err)
		return err;
	int left = 0;
	for (struct addrinfo *a = list; a; a = a->ai_next)
		left++;
	int first_err = 0, fd = -1;
	for (struct addrinfo *a = list; a; a = a->ai_next, left--) {
		/* Go's partialDeadline: an equal share of what is left. */
		int64_t part = deadline;
		if (deadline) {
			int64_t now = rt_now();
			if (now >= deadline) {
				fd = -ETIMEDOUT;
				break;
			}
			int64_t share = (deadline - now) / left;
			if (share < MIN_ATTEMPT_NS)
				share = deadline - now < MIN_ATTEMPT_NS
					? deadline - now : MIN_ATTEMPT_NS;
			part = now + share;
		}
		fd = dial_one(&k, a->ai_addr, a->ai_addrlen, a->ai_protocol,
			      part);
		if (fd >= 0)
			break;
		if (!first_err)
			first_err = fd;
	}
	freeaddrinfo(list);
	if (fd >= 0)
		return fd;
	return first_err ? first_err : fd;
}

static int bind_listen(const struct net_kind *k, const struct sockaddr *sa,
		       socklen_t len, int protocol, int backlog, bool dual)
{
	int fd = new_socket(sa->sa_family, k->socktype, protocol);
	if (fd < 0)
		return fd;
	int one = 1, zero = 0;
	if ((sa->sa_family != AF_UNIX &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one,
			sizeof(int)) != 0) ||
	    bind(fd, sa, len) != 0 ||
	    (k->socktype == SOCK_STREAM && listen(fd, backlog) != 0)) {
		int err = -IO_ERRNO;
		goro_close(fd);
		return err;
	}
	return fd;
}

int goro_listen(const char *network, const char *address, int backlog)
{
	RT_REQUIRE_G(-EPERM);
	struct net_kind k;
	if (parse_network(network, &k) != 0 || !address || backlog < 0)
		return -EINVAL;
	if (backlog == 0)
		backlog = SOMAXCONN;
	if (k.family == AF_UNIX) {
		struct sockaddr_un sa;
		socklen_t len;
		if (unix_address(address, &sa, &len) != 0)
			return -EINVAL;
		return bind_listen(&k, (struct sockaddr *)&sa, len, 0, backlog,
				   false);
	}
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (split_host_port(address, host, sizeof(host), port,
			    sizeof(port)) != 0)
		return -EINVAL;
	/* No host and either family allowed: one dual-stack IPv6 socket
	 * takes both, as Go's does, where the machine has IPv6. */
	bool wildcard = host[0] == '\0';
	struct addrinfo *list;
	int err = resolve(&k, host, port, true, 0, &list);
	if (err)
		return err;
	int fd = -EADDRNOTAVAIL, first_err = 0;
	if (wildcard && k.family == AF_UNSPEC)
		for (struct addrinfo *a = list; a; a = a->ai_next)
			if (a->ai_family == AF_INET6) {
				fd = bind_listen(&k, a->ai_addr, a->ai_addrlen,
						 a->ai_protocol, backlog, true);
				break;
			}
	for (struct addrinfo *a = list; fd < 0 && a; a = a->ai_next) {
		fd = bind_listen(&k, a->ai_addr, a->ai_addrlen, a->ai_protocol,
				 backlog, false);
		if (fd < 0 && !first_err)
			first_err = fd;
	}
	freeaddrinfo(list);
	return fd >= 0 ? fd : first_err ? first_err : fd;
}

int goro_getaddrinfo(const char *node, const char *service,
		     const struct addrinfo *hints, struct addrinfo **res)
{
	RT_REQUIRE_G((IO_ERRNO = EPERM, EAI_SYSTEM));
	if (!res) {
		IO_ERRNO = EINVAL;
		return EAI_SYSTEM;
	}
	if (!node && !service)
		return EAI_NONAME;
	return resolver_getaddrinfo(node, service, hints, res, 0);
}
