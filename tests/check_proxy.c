/* SPDX-License-Identifier: MIT */
/*
 * check_proxy.c — examples/tcp_proxy end to end, as a user runs it.
 *
 * Each test starts a loopback echo server (plain threads, no goro), runs
 * the built proxy as a child process in front of it, and talks to it over
 * 127.0.0.1: bytes round-trip exactly over concurrent connections, an idle
 * connection is closed by the proxy, and SIGTERM stops it with status 0,
 * closing the connections still open and printing its summary.  Waits are
 * generous upper bounds (hang checks), never timing assertions.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"

#define HANG_MS 20000   /* bound on any wait: a hang, not a slow machine */
#define CONNS 20
#define PAYLOAD (64 * 1024)

/* ---- the upstream: an echo server on plain threads ---- */

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	close(fd);
	return NULL;
}

static void *echo_accept(void *arg)
{
	int l = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

/* Listen on 127.0.0.1, port 0; return the port. */
static int echo_start(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 128), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, echo_accept,
					(void *)(intptr_t)l), 0);
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* ---- the proxy as a child process ---- */

struct proxy {
	pid_t pid;
	int out;            /* its stdout */
	int port;           /* where it listens */
	char text[8192];    /* what it printed so far */
	size_t n;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the proxy's output until needle appears or it closes stdout; true
 * if needle was seen. */
static bool read_until(struct proxy *p, const char *needle)
{
	int64_t end = now_ms() + HANG_MS;
	for (;;) {
		p->text[p->n] = '\0';
		if (needle && strstr(p->text, needle))
			return true;
		int left = (int)(end - now_ms());
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		ssize_t r = read(p->out, p->text + p->n,
				 sizeof(p->text) - 1 - p->n);
		if (r <= 0)
			return false;
		p->n += (size_t)r;
	}
}

static void proxy_start(struct proxy *p, int upstream_port, int idle_ms)
{
	char up[32], idle[16];
	snprintf(up, sizeof(up), "127.0.0.1:%d", upstream_port);
	snprintf(idle, sizeof(idle), "%d", idle_ms);
	int fds[2];
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	memset(p, 0, sizeof(*p));
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl(EXAMPLES_DIR "/tcp_proxy", "tcp_proxy", "127.0.0.1:0", up,
		      idle, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	p->out = fds[0];
	ck_assert_msg(read_until(p, "\n"), "no output: %s", p->text);
	ck_assert_msg(sscanf(p->text, "listening on 127.0.0.1:%d", &p->port)
		      == 1, "first line: %s", p->text);
}

/* The proxy must exit 0 within HANG_MS of SIGTERM, with its summary;
 * signal: send SIGTERM here (false: the test sent it already). */
static void proxy_stop(struct proxy *p, bool signal)
{
	if (signal)
		ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
	read_until(p, NULL);  /* to end of output, bounded */
	close(p->out);
	int st = 0;
	pid_t r = 0;
	for (int64_t end = now_ms() + HANG_MS; now_ms() < end;) {
		if ((r = waitpid(p->pid, &st, WNOHANG)) != 0)
			break;
		usleep(10000);
	}
	if (r == 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
		ck_abort_msg("proxy still running after SIGTERM:\n%s",
			     p->text);
	}
	ck_assert_int_eq(r, p->pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %d:\n%s", st, p->text);
	char want[32];
	snprintf(want, sizeof(want), "stopping on signal %d\n", SIGTERM);
	ck_assert_msg(strstr(p->text, want), "%s", p->text);
	ck_assert_msg(strstr(p->text, "clean shutdown\n"), "%s", p->text);
}

/* The summary's counters. */
static void summary(struct proxy *p, long *conns, long *up, long *down,
		    long *idle)
{
	const char *s = strstr(p->text, "tcp_proxy: ");
	long failed;
	ck_assert_msg(s && sscanf(s, "tcp_proxy: %ld connections, %ld bytes "
				  "up, %ld bytes down, %ld idle timeouts, "
				  "%ld dial failures", conns, up, down, idle,
				  &failed) == 5, "no summary:\n%s", p->text);
	ck_assert_int_eq(failed, 0);
}

static int client_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Wait for end of file on fd (bounded); true if it came. */
static bool wait_eof(int fd)
{
	char c;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, HANG_MS) != 1)
		return false;
	return read(fd, &c, 1) == 0;
}

static void echo_once(int fd, const char *msg)
{
	size_t len = strlen(msg);
	char buf[64] = { 0 };
	ck_assert_int_eq(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
	size_t got = 0;
	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ck_assert_int_eq(poll(&pfd, 1, HANG_MS), 1);
		ssize_t r = read(fd, buf + got, len - got);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	ck_assert_str_eq(buf, msg);
}

/* ---- round trip ---- */

struct rt {
	int port, id;
	const char *err;   /* NULL: the bytes came back exactly */
};

static unsigned char pattern(int id, size_t k)
{
	return (unsigned char)(id * 131 + k * 7 + (k >> 8));
}

/* Send PAYLOAD bytes while reading the echo, half-close, read to EOF. */
static void *rt_client(void *arg)
{
	struct rt *t = arg;
	unsigned char *out = malloc(PAYLOAD), *in = malloc(PAYLOAD + 1);
	int fd = -1;
	if (!out || !in) {
		t->err = "malloc";
		goto out;
	}
	for (size_t k = 0; k < PAYLOAD; k++)
		out[k] = pattern(t->id, k);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)t->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		t->err = "connect";
		goto out;
	}
	size_t sent = 0, got = 0;
	bool eof = false;
	while (!eof) {
		struct pollfd pfd = {
			.fd = fd,
			.events = POLLIN | (sent < PAYLOAD ? POLLOUT : 0),
		};
		if (poll(&pfd, 1, HANG_MS) != 1) {
			t->err = "no progress";
			goto out;
		}
		if (pfd.revents & POLLOUT) {
			ssize_t w = send(fd, out + sent, PAYLOAD - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN) {
				t->err = "send";
				goto out;
			}
			if (w > 0 && (sent += (size_t)w) == PAYLOAD)
				shutdown(fd, SHUT_WR);
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in + got, PAYLOAD + 1 - got,
					 MSG_DONTWAIT);
			if (r < 0 && errno != EAGAIN) {
				t->err = "recv";
				goto out;
			}
			if (r == 0)
				eof = true;
			if (r > 0 && (got += (size_t)r) > PAYLOAD) {
				t->err = "too many bytes";
				goto out;
			}
		}
	}
	if (sent != PAYLOAD || got != PAYLOAD)
		t->err = "short";
	else if (memcmp(in, out, PAYLOAD) != 0)
		t->err = "bytes differ";
out:
	if (fd >= 0)
		close(fd);
	free(out);
	free(in);
	return NULL;
}

START_TEST(round_trip_concurrent)
{
	struct proxy p;
	proxy_start(&p, echo_start(), 10000);
	pthread_t th[CONNS];
	struct rt t[CONNS];
	for (int i = 0; i < CONNS; i++) {
		t[i] = (struct rt){ .port = p.port, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, rt_client,
						&t[i]), 0);
	}
	for (int i = 0; i < CONNS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(!t[i].err, "connection %d: %s", i, t[i].err);
	}
	proxy_stop(&p, true);
	long conns, up, down, idle;
	summary(&p, &conns, &up, &down, &idle);
	ck_assert_int_eq(conns, CONNS);
	ck_assert_int_eq(up, (long)CONNS * PAYLOAD);
	ck_assert_int_eq(down, (long)CONNS * PAYLOAD);
	ck_assert_int_eq(idle, 0);
}
END_TEST

/* A connection on which nothing moves is closed after the idle timeout;
 * one that was used and then went quiet too. */
START_TEST(idle_connection_closed)
{
	struct proxy p;
	proxy_start(&p, echo_start(), 300);
	int quiet = client_connect(p.port);
	int used = client_connect(p.port);
	echo_once(used, "ping");
	ck_assert_msg(wait_eof(quiet), "quiet connection not closed");
	ck_assert_msg(wait_eof(used), "used connection not closed");
	close(quiet);
	close(used);
	proxy_stop(&p, true);
	long conns, up, down, idle;
	summary(&p, &conns, &up, &down, &idle);
	ck_assert_int_eq(conns, 2);
	ck_assert_int_eq(idle, 2);
	ck_assert_int_eq(up, 4);
	ck_assert_int_eq(down, 4);
}
END_TEST

/* SIGTERM with connections open and busy-able: the proxy closes them,
 * drains and exits 0. */
START_TEST(sigterm_closes_open_connections)
{
	enum { OPEN = 5 };
	struct proxy p;
	proxy_start(&p, echo_start(), 600000);
	int fd[OPEN];
	for (int i = 0; i < OPEN; i++) {
		fd[i] = client_connect(p.port);
		echo_once(fd[i], "hello");
	}
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	for (int i = 0; i < OPEN; i++) {
		ck_assert_msg(wait_eof(fd[i]), "connection %d left open", i);
		close(fd[i]);
	}
	proxy_stop(&p, false);
	long conns, up, down, idle;
	summary(&p, &conns, &up, &down, &idle);
	ck_assert_int_eq(conns, OPEN);
	ck_assert_int_eq(idle, 0);
	ck_assert_int_eq(up, OPEN * 5);
	ck_assert_int_eq(down, OPEN * 5);
}
END_TEST

static Suite *proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip_concurrent);
	tcase_add_test(tc, idle_connection_closed);
	tcase_add_test(tc, sigterm_closes_open_connections);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(proxy_suite)
