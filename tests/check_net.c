/* SPDX-License-Identifier: MIT */
/*
 * check_net.c — goro_dial, goro_listen, goro_getaddrinfo and the
 * vectored, addressed and message drop-ins: a UDP echo, TCP and unix
 * streams, a dial to a name with several addresses whose first refuses,
 * and every call's bad input.
 *
 * Servers are started by the test on loopback only.  No assertion depends
 * on how fast the machine is.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "testutil.h"

#define MS (1000 * 1000LL)

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ntohs(ss.ss_family == AF_INET
		     ? ((struct sockaddr_in *)&ss)->sin_port
		     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void assert_goro_fd(int fd)
{
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

/* ---- UDP echo -------------------------------------------------------------------- */

#define UDP_ROUNDS 200

static void udp_echo_server(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[512];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = goro_recvfrom(fd, buf, sizeof(buf), 0,
					  (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;  /* closed */
		if (goro_sendto(fd, buf, (size_t)n, 0,
				(struct sockaddr *)&from, flen) != n)
			return;
	}
}

/* The same echo through recvmsg/sendmsg. */
static void udp_msg_server(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[512];
	for (;;) {
		struct sockaddr_storage from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = goro_recvmsg(fd, &m, 0);
		if (n < 0)
			return;
		iov.iov_len = (size_t)n;
		if (goro_sendmsg(fd, &m, 0) != n)
			return;
	}
}

static void udp_rounds(int port)
{
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	int c = goro_dial("udp", addr, 5000 * MS);
	assert_goro_fd(c);
	for (int i = 0; i < UDP_ROUNDS; i++) {
		char out[64], in[64];
		int n = snprintf(out, sizeof(out), "datagram %d", i);
		ck_assert_int_eq(goro_send(c, out, (size_t)n, 0), n);
		/* Loopback does not drop here, but a lost datagram must
		 * not hang the test: a read deadline. */
		ck_assert_int_eq(goro_fd_set_deadline(c, GORO_READ,
						      goro_now() + 10000 * MS), 0);
		ssize_t r = goro_recv(c, in, sizeof(in), 0);
		ck_assert_int_eq(r, n);
		ck_assert_mem_eq(in, out, (size_t)n);
	}
	goro_close(c);
}

static int udp_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int s = goro_listen("udp", "127.0.0.1:0", 0);
	assert_goro_fd(s);
	goro_go(udp_echo_server, (void *)(intptr_t)s);
	udp_rounds(local_port(s));
	int m = goro_listen("udp4", "127.0.0.1:0", 0);
	assert_goro_fd(m);
	goro_go(udp_msg_server, (void *)(intptr_t)m);
	udp_rounds(local_port(m));
	goro_close(s);  /* the servers fail with EBADF and return */
	goro_close(m);
	while (goro_count() > 1)
		goro_sleep(MS);
	return 0;
}

START_TEST(udp_echo)
{
	ck_assert_int_eq(run_goro(udp_main, 2), 0);
}
END_TEST

/* ---- TCP and unix streams, vectored I/O ------------------------------------------------ */

static void stream_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int fd = goro_accept(lfd, NULL, NULL);
	if (fd < 0)
		return;
	char a[3], b[200000];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	size_t got = 0;
	while (got < sizeof(a) + sizeof(b)) {
		struct iovec part[2];
		int n = 0;
		size_t skip = got;
		for (int i = 0; i < 2; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			part[n].iov_base = (char *)iov[i].iov_base + skip;
			part[n++].iov_len = iov[i].iov_len - skip;
			skip = 0;
		}
		ssize_t r = goro_readv(fd, part, n);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* Echo it back in one vectored write (larger than a socket buffer:
	 * goro_writev finishes it). */
	if (got == sizeof(a) + sizeof(b))
		goro_writev(fd, iov, 2);
	goro_close(fd);
}

static void stream_exchange(int c)
{
	assert_goro_fd(c);
	static char big[200000], back[200003];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 11);
	struct iovec out[3] = { { (void *)"abc", 3 }, { NULL, 0 },
				{ big, sizeof(big) } };
	ck_assert_int_eq(goro_writev(c, out, 3), 3 + sizeof(big));
	size_t got = 0;
	while (got < sizeof(back)) {
		ssize_t r = goro_read(c, back + got, sizeof(back) - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	ck_assert_mem_eq(back, "abc", 3);
	ck_assert_mem_eq(back + 3, big, sizeof(big));
	goro_close(c);
}

static int stream_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* TCP on 127.0.0.1. */
	int l = goro_listen("tcp", "127.0.0.1:0", 16);
	assert_goro_fd(l);
	goro_go(stream_server, (void *)(intptr_t)l);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", local_port(l));
	stream_exchange(goro_dial("tcp4", addr, 0));
	goro_close(l);

	/* A unix socket by path. */
	char path[] = "/tmp/goro-check-net-XXXXXX";
	int tmp = mkstemp(path);
	ck_assert_int_ge(tmp, 0);
	close(tmp);
	unlink(path);
	l = goro_listen("unix", path, 0);
	assert_goro_fd(l);
	goro_go(stream_server, (void *)(intptr_t)l);
	stream_exchange(goro_dial("unix", path, 5000 * MS));
	goro_close(l);
	unlink(path);

	/* And a wildcard listener reached as ":port" (the local system). */
	l = goro_listen("tcp", ":0", 0);
	assert_goro_fd(l);
	goro_go(stream_server, (void *)(intptr_t)l);
	snprintf(addr, sizeof(addr), ":%d", local_port(l));
	stream_exchange(goro_dial("tcp", addr, 5000 * MS));
	goro_close(l);
	while (goro_count() > 1)
		goro_sleep(MS);
	return 0;
}

START_TEST(tcp_and_unix_streams)
{
	ck_assert_int_eq(run_goro(stream_main, 2), 0);
}
END_TEST

/* ---- a name with several addresses, the first refusing ------------------------------- */

static void accept_one(void *arg)
{
	int fd = goro_accept((int)(intptr_t)arg, NULL, NULL);
	if (fd >= 0) {
		goro_write(fd, "!", 1);
		goro_close(fd);
	}
}

/*
 * host resolves (as goro_getaddrinfo says) to n addresses.  Listen on the
 * last one only, then dial host:port: every address before it refuses, so
 * the dial reaches the last one only by trying each in turn.  Returns n.
 */
static int dial_past_refusals(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list;
	ck_assert_int_eq(goro_getaddrinfo(host[0] ? host : NULL, "0", &hints,
					  &list), 0);
	int n = 0;
	struct addrinfo *last = NULL;
	for (struct addrinfo *a = list; a; a = a->ai_next, n++)
		last = a;
	ck_assert_ptr_nonnull(last);
	int l = socket(last->ai_family, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	int one = 1;
	if (last->ai_family == AF_INET6)
		setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	ck_assert_int_eq(bind(l, last->ai_addr, last->ai_addrlen), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	int family = last->ai_family;
	freeaddrinfo(list);
	goro_go(accept_one, (void *)(intptr_t)l);

	char addr[300];
	snprintf(addr, sizeof(addr), "%s:%d", host, local_port(l));
	int c = goro_dial("tcp", addr, 20000 * MS);
	assert_goro_fd(c);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	ck_assert_int_eq(getpeername(c, (struct sockaddr *)&peer, &plen), 0);
	ck_assert_int_eq(peer.ss_family, family);
	char x;
	ck_assert_int_eq(goro_read(c, &x, 1), 1);
	goro_close(c);
	goro_close(l);
	return n;
}

static int several_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* "localhost" goes through the resolver threads; "" (the local
	 * system) gives ::1 and 127.0.0.1 where the machine has IPv6. */
	int n_local = dial_past_refusals("localhost");
	int n_empty = dial_past_refusals("");
	if (n_local < 2 && n_empty < 2)
		fprintf(stderr, "check_net: no name with two addresses here "
			"(no IPv6 loopback?): the refusal path went untested\n");
	/* A refused dial reports the refusal. */
	int l = goro_listen("tcp4", "127.0.0.1:0", 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", local_port(l));
	goro_close(l);
	ck_assert_int_eq(goro_dial("tcp", addr, 5000 * MS), -ECONNREFUSED);
	return 0;
}

START_TEST(dial_tries_each_address)
{
	ck_assert_int_eq(run_goro(several_main, 1), 0);
}
END_TEST

/* ---- a dial that cannot complete times out ------------------------------------------ */

/*
 * A listener that never accepts, its queue filled by plain connects: Linux
 * drops further SYNs, so a dial to it stays in progress until its timeout.
 */
static int dial_timeout_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 0), 0);
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	int fillers[8];
	for (int i = 0; i < 8; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	goro_sleep(50 * MS);  /* the handshakes that can complete have */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	ck_assert_int_eq(goro_dial("tcp", addr, 300 * MS), -ETIMEDOUT);
	for (int i = 0; i < 8; i++)
		close(fillers[i]);
	close(l);
	return 0;
}

START_TEST(dial_timeout)
{
	ck_assert_int_eq(run_goro(dial_timeout_main, 1), 0);
}
END_TEST

/* ---- IPv6 literals ------------------------------------------------------------------ */

static int v6_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int l = goro_listen("tcp6", "[::1]:0", 0);
	if (l == -EADDRNOTAVAIL || l == -EAFNOSUPPORT) {
		fprintf(stderr, "check_net: no ::1 here, IPv6 literal untested\n");
		return 0;
	}
	assert_goro_fd(l);
	goro_go(accept_one, (void *)(intptr_t)l);
	char addr[64];
	snprintf(addr, sizeof(addr), "[::1]:%d", local_port(l));
	int c = goro_dial("tcp6", addr, 5000 * MS);
	assert_goro_fd(c);
	char x;
	ck_assert_int_eq(goro_read(c, &x, 1), 1);
	goro_close(c);
	goro_close(l);
	return 0;
}

START_TEST(ipv6_literal)
{
	ck_assert_int_eq(run_goro(v6_main, 1), 0);
}
END_TEST

/* ---- bad input, every call ------------------------------------------------------------- */

static int bad_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* goro_dial */
	ck_assert_int_eq(goro_dial(NULL, "127.0.0.1:1", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("sctp", "127.0.0.1:1", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", NULL, 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "127.0.0.1", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "127.0.0.1:", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "::1:80", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "[::1]80", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "[::1:80", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "127.0.0.1:1", -1), -EINVAL);
	ck_assert_int_eq(goro_dial("tcp", "127.0.0.1:no-such-service", 0), -EINVAL);
	ck_assert_int_eq(goro_dial("unix", "", 0), -EINVAL);
	char longpath[200];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(goro_dial("unix", longpath, 0), -EINVAL);
	ck_assert_int_eq(goro_dial("unix", "/nonexistent/goro.sock", 0), -ENOENT);
	/* An unknown name: "no such host", or, on a machine whose DNS
	 * server cannot be reached, a temporary failure or the timeout. */
	int r = goro_dial("tcp", "name.invalid:80", 5000 * MS);
	ck_assert_msg(r == -ENOENT || r == -EAGAIN || r == -ETIMEDOUT,
		      "dial name.invalid: %d", r);
	/* goro_listen */
	ck_assert_int_eq(goro_listen(NULL, ":0", 0), -EINVAL);
	ck_assert_int_eq(goro_listen("ip", ":0", 0), -EINVAL);
	ck_assert_int_eq(goro_listen("tcp", NULL, 0), -EINVAL);
	ck_assert_int_eq(goro_listen("tcp", "0", 0), -EINVAL);
	ck_assert_int_eq(goro_listen("tcp", ":0", -1), -EINVAL);
	ck_assert_int_eq(goro_listen("tcp4", "192.0.2.1:0", 0), -EADDRNOTAVAIL);
	/* goro_getaddrinfo: libc's convention */
	struct addrinfo *res;
	ck_assert_int_eq(goro_getaddrinfo("localhost", "80", NULL, NULL), EAI_SYSTEM);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_getaddrinfo(NULL, NULL, NULL, &res), EAI_NONAME);
	r = goro_getaddrinfo("name.invalid", NULL, NULL, &res);
	ck_assert(r == EAI_NONAME || r == EAI_AGAIN);
	/* drop-ins: libc's convention */
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };
	ck_assert_int_eq(goro_readv(-1, &iov, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(goro_readv(0, NULL, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_writev(1, &iov, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	struct iovec nulls = { NULL, 4 };
	ck_assert_int_eq(goro_writev(1, &nulls, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_recvfrom(-1, buf, sizeof(buf), 0, NULL, NULL), -1);
	ck_assert_int_eq(errno, EBADF);
	struct sockaddr_in sa;
	ck_assert_int_eq(goro_recvfrom(0, buf, sizeof(buf), 0,
				       (struct sockaddr *)&sa, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_recvfrom(0, NULL, 4, 0, NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_sendto(-1, buf, 1, 0, NULL, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(goro_sendto(1, buf, 1, 0, NULL, 4), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_recvmsg(0, NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_sendmsg(1, NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ck_assert_int_eq(goro_recvmsg(-1, &m, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	return 0;
}

START_TEST(bad_input)
{
	ck_assert_int_eq(run_goro(bad_main, 1), 0);
}
END_TEST

START_TEST(outside_goroutine)
{
	ck_assert_int_eq(goro_dial("tcp", "127.0.0.1:1", 0), -EPERM);
	ck_assert_int_eq(goro_listen("tcp", ":0", 0), -EPERM);
	struct addrinfo *res;
	ck_assert_int_eq(goro_getaddrinfo("localhost", NULL, NULL, &res), EAI_SYSTEM);
	ck_assert_int_eq(errno, EPERM);
	char c;
	struct iovec iov = { &c, 1 };
	ck_assert_int_eq(goro_readv(0, &iov, 1), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(goro_accept4(0, NULL, NULL, 0), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

/* ---- many lookups at once: the pool is bounded, every one completes ---------------- */

static _Atomic int lookups_ok;

static void lookup(void *arg)
{
	(void)arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (goro_getaddrinfo("localhost", "http", &hints, &res) == 0) {
		atomic_fetch_add(&lookups_ok, 1);
		freeaddrinfo(res);
	}
}

static int lookups_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	for (int i = 0; i < 64; i++)
		goro_go(lookup, NULL);
	while (goro_count() > 1)
		goro_sleep(MS);
	return atomic_load(&lookups_ok);
}

START_TEST(many_lookups)
{
	ck_assert_int_eq(run_goro(lookups_main, 1), 64);
}
END_TEST

/* ---- lookups take no descriptor ------------------------------------------------------ */

/* 200 lookups at once with 16 descriptors to spare: the waiting goroutines
 * hold none (each had an eventfd of its own before, and most failed with
 * EAI_SYSTEM/EMFILE). */
static int few_fds_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	/* Descriptor numbers, not counts, are limited: above the highest. */
	int top = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)))
		if (atoi(e->d_name) > top)
			top = atoi(e->d_name);
	closedir(d);
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = (rlim_t)top + 1 + 16;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* And every free number up to the highest taken. */
	static int fill[4096];
	int nfill = 0, f;
	while (nfill < 4096 && (f = open("/dev/null", O_RDONLY)) >= 0) {
		if (f > top) {
			close(f);
			break;
		}
		fill[nfill++] = f;
	}
	atomic_store(&lookups_ok, 0);
	for (int i = 0; i < 200; i++)
		goro_go(lookup, NULL);
	while (goro_count() > 1)
		goro_sleep(MS);
	while (nfill > 0)
		close(fill[--nfill]);
	rl.rlim_cur = was;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return atomic_load(&lookups_ok);
}

START_TEST(lookups_take_no_descriptor)
{
	ck_assert_int_eq(run_goro(few_fds_main, 2), 200);
}
END_TEST

/* Dials whose deadline passes during the lookup, or just after it: the
 * request is left to its thread, or its result taken; neither leaks nor
 * touches freed memory (ASan), nor readies a goroutine twice. */
static _Atomic int dials_back;

static void dial_in_a_hurry(void *arg)
{
	int l = (int)(intptr_t)arg;
	char addr[64];
	snprintf(addr, sizeof(addr), "localhost:%d", local_port(l));
	for (int i = 0; i < 20; i++) {
		int c = goro_dial("tcp", addr, (int64_t)(i % 5) * 20 * 1000);
		if (c >= 0)
			goro_close(c);
		else
			ck_assert_int_eq(c, -ETIMEDOUT);
	}
	atomic_fetch_add(&dials_back, 1);
}

static void accept_all(void *arg)
{
	int l = (int)(intptr_t)arg;
	int c;
	while ((c = goro_accept4(l, NULL, NULL, 0)) >= 0)
		goro_close(c);
}

/* A loopback listener whose connections are accepted and closed. */
static int serve_and_close(void)
{
	int l = goro_listen("tcp", "127.0.0.1:0", 0);
	assert_goro_fd(l);
	goro_go(accept_all, (void *)(intptr_t)l);
	return l;
}

static int hurry_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int l = serve_and_close();
	atomic_store(&dials_back, 0);
	for (int i = 0; i < 16; i++)
		goro_go(dial_in_a_hurry, (void *)(intptr_t)l);
	while (atomic_load(&dials_back) < 16)
		goro_sleep(MS);
	goro_close(l);
	return 0;
}

START_TEST(lookup_deadlines_race_their_results)
{
	ck_assert_int_eq(run_goro(hurry_main, 2), 0);
}
END_TEST

/* Lookups that finish while their goroutine is still parking: the
 * resolver thread readies it between the park's commit and the arming of
 * its deadline, and the goroutine frees the request at once.  The deadline
 * must not be armed in freed memory afterwards (old code did, about 4
 * runs in 10 of this test under ASan: a timer in freed memory, whose
 * callback, run later, jumped into the heap).  Two pthreads computing
 * beside the 2 Ps make the kernel stop Ms at any instruction, the
 * commit's included. */
#define BEAT_DIALERS 8
#define BEAT_DIALS 600
static _Atomic int beaters_back, beat_stop;

static void dial_with_deadline(void *arg)
{
	int l = (int)(intptr_t)arg;
	char addr[64];
	snprintf(addr, sizeof(addr), "localhost:%d", local_port(l));
	for (int i = 0; i < BEAT_DIALS; i++) {
		int c = goro_dial("tcp", addr, (int64_t)5000 * 1000 * 1000);
		ck_assert_int_ge(c, 0);
		goro_close(c);
	}
	atomic_fetch_add(&beaters_back, 1);
}

static void *compute(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&beat_stop, memory_order_relaxed))
		;
	return NULL;
}

static int beat_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int l = serve_and_close();
	atomic_store(&beaters_back, 0);
	atomic_store(&beat_stop, 0);
	pthread_t hog[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&hog[i], NULL, compute, NULL), 0);
	for (int i = 0; i < BEAT_DIALERS; i++)
		goro_go(dial_with_deadline, (void *)(intptr_t)l);
	while (atomic_load(&beaters_back) < BEAT_DIALERS)
		goro_sleep(MS);
	atomic_store(&beat_stop, 1);
	for (int i = 0; i < 2; i++)
		GORO_BLOCKING(pthread_join(hog[i], NULL));
	goro_close(l);
	return 0;
}

START_TEST(lookups_done_before_the_park_ends)
{
	ck_assert_int_eq(run_goro(beat_main, 2), 0);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("net");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, udp_echo);
	tcase_add_test(tc, tcp_and_unix_streams);
	tcase_add_test(tc, dial_tries_each_address);
	tcase_add_test(tc, dial_timeout);
	tcase_add_test(tc, ipv6_literal);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, outside_goroutine);
	tcase_add_test(tc, many_lookups);
	tcase_add_test(tc, lookups_take_no_descriptor);
	tcase_add_test(tc, lookup_deadlines_race_their_results);
	tcase_add_test(tc, lookups_done_before_the_park_ends);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(net_suite)
