/* SPDX-License-Identifier: MIT */
/*
 * check_posix.c — libgoro-posix's replacements, call group by call group:
 * plain libc calls made from goroutines park the goroutine and keep
 * libc's contract (bytes, errno, EAGAIN for non-blocking descriptors,
 * timeouts), and are libc's own before goro_main, on other threads and in
 * a forked child.
 *
 * "Parks the goroutine" is seen in the thread count: with one P, 64
 * goroutines blocked in a libc call would each take a thread (the
 * runtime hands the P on when a thread stays in the kernel); parked,
 * they take none.  Linked with libgoro-posix before libgoro.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "posixutil.h"

#define MS 1000000LL
#define N 64

/* The kernel's own F_GETFL, past the replacement of fcntl. */
static int kernel_flags(int fd)
{
	return (int)syscall(SYS_fcntl, fd, F_GETFL);
}

/* ---- pipes and sockets: park, keep the description --------------------------- */

static int fds[N][2];
static goro_wg_t wg;
static _Atomic int good;

static void reader(void *arg)
{
	int i = (int)(intptr_t)arg;
	char buf[16] = { 0 };
	ssize_t r = read(fds[i][0], buf, sizeof(buf));
	if (r == 4 && memcmp(buf, "ping", 4) == 0)
		atomic_fetch_add(&good, 1);
	goro_wg_done(&wg);
}

static void receiver(void *arg)
{
	int i = (int)(intptr_t)arg;
	char buf[16] = { 0 };
	ssize_t r = recv(fds[i][0], buf, sizeof(buf), 0);
	if (r == 4 && memcmp(buf, "ping", 4) == 0)
		atomic_fetch_add(&good, 1);
	goro_wg_done(&wg);
}

static int park_many(bool sockets)
{
	struct thread_sampler s = { 0 };
	int dups[N];
	for (int i = 0; i < N; i++) {
		int r = sockets ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i])
				: pipe(fds[i]);
		ck_assert_int_eq(r, 0);
		/* Another holder of the same description. */
		dups[i] = dup(fds[i][0]);
	}
	sampler_start(&s);
	goro_wg_add(&wg, N);
	for (int i = 0; i < N; i++)
		goro_go(sockets ? receiver : reader, (void *)(intptr_t)i);
	goro_sleep(300 * MS);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(write(fds[i][1], "ping", 4), 4);
	goro_wg_wait(&wg);
	int max_seen = sampler_stop(&s);
	ck_assert_int_eq(atomic_load(&good), N);
	ck_assert_msg(max_seen <= 1 + 8,
		      "%d threads for %d goroutines in read at 1 P",
		      max_seen, N);
	for (int i = 0; i < N; i++) {
		/* The application's view and the shared description are
		 * both still blocking. */
		ck_assert_int_eq(fcntl(fds[i][0], F_GETFL) & O_NONBLOCK, 0);
		ck_assert_int_eq(kernel_flags(dups[i]) & O_NONBLOCK, 0);
		close(fds[i][0]);
		close(fds[i][1]);
		close(dups[i]);
	}
	return 0;
}

static int pipes_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	return park_many(false);
}

static int sockets_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	return park_many(true);
}

START_TEST(read_on_blocking_pipe_parks)
{
	ck_assert_int_eq(run_goro(pipes_main, 1), 0);
}
END_TEST

START_TEST(recv_on_blocking_socket_parks)
{
	ck_assert_int_eq(run_goro(sockets_main, 1), 0);
}
END_TEST

/* ---- non-blocking descriptors, timeouts, errno ------------------------------- */

static void write_later(void *arg)
{
	int fd = (int)(intptr_t)arg;
	goro_sleep(30 * MS);
	write(fd, "late", 4);
}

static int nonblocking_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int fl = fcntl(p[0], F_GETFL);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, fl | O_NONBLOCK), 0);
	char buf[8];
	errno = 0;
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_ne(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	/* Blocking again: the read parks until the data comes. */
	ck_assert_int_eq(fcntl(p[0], F_SETFL, fl), 0);
	ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	goro_go(write_later, (void *)(intptr_t)p[1]);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);
	/* MSG_DONTWAIT on a blocking socket: EAGAIN, nothing changed. */
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	errno = 0;
	ck_assert_int_eq(recv(sp[0], buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(kernel_flags(sp[0]) & O_NONBLOCK, 0);
	/* SO_RCVTIMEO: EAGAIN once it expires. */
	struct timeval tv = { 0, 50000 };
	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	errno = 0;
	ck_assert_int_eq(read(sp[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* errno is left alone by a call that succeeds. */
	errno = 4242;
	ck_assert_int_eq(write(sp[1], "ok", 2), 2);
	ck_assert_int_eq(read(sp[0], buf, 2), 2);
	ck_assert_int_eq(errno, 4242);
	/* A bad descriptor fails as libc's call does. */
	ck_assert_int_eq(read(-1, buf, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(write(1 << 20, buf, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	return 0;
}

START_TEST(nonblocking_timeouts_errno)
{
	ck_assert_int_eq(run_goro(nonblocking_main, 2), 0);
}
END_TEST

/*
 * ioctl(FIONBIO) is the other way to set O_NONBLOCK (OpenSSL's
 * BIO_socket_nbio uses it).  Untracked, a pipe whose private description
 * the runtime had made non-blocking kept blocking semantics after the
 * application asked for EAGAIN (the read below parked until the late
 * write), and clearing the flag cleared it on the runtime's description.
 */
static int fionbio_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	int p[2];
	char buf[8];
	ck_assert_int_eq(pipe(p), 0);
	/* A parked read: the runtime now owns a non-blocking description. */
	goro_go(write_later, (void *)(intptr_t)p[1]);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 4);
	int on = 1, off = 0;
	ck_assert_int_eq(ioctl(p[0], FIONBIO, &on), 0);
	ck_assert_int_ne(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	goro_go(write_later, (void *)(intptr_t)p[1]);
	errno = 0;
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* Still EAGAIN until the late write lands (no lateness asserted:
	 * up to 10 s of 5 ms naps). */
	ssize_t got = -1;
	for (int i = 0; i < 2000 && got < 0; i++) {
		got = read(p[0], buf, sizeof(buf));
		if (got < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			goro_sleep(5 * MS);
		}
	}
	ck_assert_int_eq(got, 4);
	/* Blocking again: parks until the data comes; the runtime's
	 * description is still non-blocking underneath. */
	ck_assert_int_eq(ioctl(p[0], FIONBIO, &off), 0);
	ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(kernel_flags(p[0]) & O_NONBLOCK, 0);
	goro_go(write_later, (void *)(intptr_t)p[1]);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);
	/* A socket the runtime has not seen: the kernel's flag, EAGAIN. */
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(ioctl(sp[0], FIONBIO, &on), 0);
	ck_assert_int_ne(kernel_flags(sp[0]) & O_NONBLOCK, 0);
	errno = 0;
	ck_assert_int_eq(recv(sp[0], buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(ioctl(sp[0], FIONBIO, &off), 0);
	goro_go(write_later, (void *)(intptr_t)sp[1]);
	ck_assert_int_eq(recv(sp[0], buf, sizeof(buf), 0), 4);
	/* Other requests are libc's; a bad descriptor fails as there. */
	int avail = -1;
	ck_assert_int_eq(ioctl(sp[0], FIONREAD, &avail), 0);
	ck_assert_int_eq(avail, 0);
	errno = 0;
	ck_assert_int_eq(ioctl(-1, FIONBIO, &on), -1);
	ck_assert_int_eq(errno, EBADF);
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	return 0;
}

START_TEST(ioctl_fionbio_tracked_like_fcntl)
{
	ck_assert_int_eq(run_goro(fionbio_main, 2), 0);
}
END_TEST

/* ---- poll, select, epoll ----------------------------------------------------- */

static int waits_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	int a[2], b[2];
	ck_assert_int_eq(pipe(a), 0);
	ck_assert_int_eq(pipe(b), 0);
	struct pollfd p[2] = { { .fd = a[0], .events = POLLIN },
			       { .fd = b[0], .events = POLLIN } };
	/* Timeouts: nothing ready. */
	ck_assert_int_eq(poll(p, 1, 30), 0);
	ck_assert_int_eq(poll(p, 2, 30), 0);
	ck_assert_int_eq(poll(NULL, 0, 10), 0);
	/* Ready later, one of two. */
	goro_go(write_later, (void *)(intptr_t)b[1]);
	ck_assert_int_eq(poll(p, 2, -1), 1);
	ck_assert_int_eq(p[0].revents, 0);
	ck_assert_int_eq(p[1].revents, POLLIN);
	char buf[8];
	ck_assert_int_eq(read(b[0], buf, sizeof(buf)), 4);
	/* ppoll without a mask, single descriptor. */
	struct timespec ts = { 0, 20 * MS };
	ck_assert_int_eq(ppoll(p, 1, &ts, NULL), 0);
	/* select. */
	fd_set r;
	FD_ZERO(&r);
	FD_SET(a[0], &r);
	FD_SET(b[0], &r);
	struct timeval tv = { 0, 20000 };
	ck_assert_int_eq(select(b[0] + 1, &r, NULL, NULL, &tv), 0);
	goro_go(write_later, (void *)(intptr_t)a[1]);
	FD_ZERO(&r);
	FD_SET(a[0], &r);
	FD_SET(b[0], &r);
	ck_assert_int_eq(select(b[0] + 1, &r, NULL, NULL, NULL), 1);
	ck_assert(FD_ISSET(a[0], &r));
	ck_assert(!FD_ISSET(b[0], &r));
	ck_assert_int_eq(read(a[0], buf, sizeof(buf)), 4);
	/* The application's epoll instance. */
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN, .data.fd = a[0] };
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, a[0], &e), 0);
	e.data.fd = b[0];
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, b[0], &e), 0);
	struct epoll_event got[4];
	ck_assert_int_eq(epoll_wait(ep, got, 4, 20), 0);
	goro_go(write_later, (void *)(intptr_t)b[1]);
	ck_assert_int_eq(epoll_wait(ep, got, 4, -1), 1);
	ck_assert_int_eq(got[0].data.fd, b[0]);
	ck_assert_int_eq(epoll_pwait(ep, got, 4, 0, NULL), 1);
	close(ep);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	return 0;
}

START_TEST(poll_select_epoll)
{
	ck_assert_int_eq(run_goro(waits_main, 2), 0);
}
END_TEST

/* Many goroutines waiting in poll and epoll_wait at 1 P take no threads. */
static void poller(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct pollfd p = { .fd = fds[i][0], .events = POLLIN };
	if (i % 2) {
		if (poll(&p, 1, -1) == 1 && p.revents == POLLIN)
			atomic_fetch_add(&good, 1);
	} else {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event e = { .events = EPOLLIN }, out;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i][0], &e);
		if (epoll_wait(ep, &out, 1, -1) == 1)
			atomic_fetch_add(&good, 1);
		close(ep);
	}
	goro_wg_done(&wg);
}

static int pollers_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct thread_sampler s = { 0 };
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pipe(fds[i]), 0);
	sampler_start(&s);
	goro_wg_add(&wg, N);
	for (int i = 0; i < N; i++)
		goro_go(poller, (void *)(intptr_t)i);
	goro_sleep(300 * MS);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(write(fds[i][1], "x", 1), 1);
	goro_wg_wait(&wg);
	int max_seen = sampler_stop(&s);
	ck_assert_int_eq(atomic_load(&good), N);
	ck_assert_msg(max_seen <= 1 + 8, "%d threads", max_seen);
	return 0;
}

START_TEST(poll_and_epoll_wait_park)
{
	ck_assert_int_eq(run_goro(pollers_main, 1), 0);
}
END_TEST

/* ---- sleeps ------------------------------------------------------------------ */

static void sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct timespec ts = { 0, 200 * MS }, rem = { 1, 1 };
	int r = -1;
	switch (i % 4) {
	case 0:
		r = nanosleep(&ts, &rem);
		if (rem.tv_sec || rem.tv_nsec)
			r = -1;
		break;
	case 1:
		r = usleep(200000);
		break;
	case 2: {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		now.tv_nsec += 200 * MS;
		if (now.tv_nsec >= 1000000000) {
			now.tv_sec++;
			now.tv_nsec -= 1000000000;
		}
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now,
				    NULL);
		struct timespec after;
		clock_gettime(CLOCK_MONOTONIC, &after);
		if (after.tv_sec < now.tv_sec ||
		    (after.tv_sec == now.tv_sec && after.tv_nsec < now.tv_nsec))
			r = -1;  /* woke before the absolute time */
		break;
	}
	case 3:
		r = (int)sleep(1);
		break;
	}
	if (r == 0)
		atomic_fetch_add(&good, 1);
	goro_wg_done(&wg);
}

static int sleeps_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct thread_sampler s = { 0 };
	sampler_start(&s);
	goro_wg_add(&wg, N);
	for (int i = 0; i < N; i++)
		goro_go(sleeper, (void *)(intptr_t)i);
	goro_wg_wait(&wg);
	int max_seen = sampler_stop(&s);
	ck_assert_int_eq(atomic_load(&good), N);
	ck_assert_msg(max_seen <= 1 + 8, "%d threads", max_seen);
	/* Invalid arguments fail as libc's. */
	struct timespec bad = { 0, 2000000000 };
	errno = 0;
	ck_assert_int_eq(nanosleep(&bad, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL),
			 EINVAL);
	return 0;
}

START_TEST(sleeps_park)
{
	ck_assert_int_eq(run_goro(sleeps_main, 1), 0);
}
END_TEST

/* ---- accept and connect ------------------------------------------------------ */

static int listener;
static struct sockaddr_in laddr;

static void echo_once(void *arg)
{
	(void)arg;
	for (int i = 0; i < 16; i++) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			break;
		char buf[8];
		ssize_t n = read(c, buf, sizeof(buf));
		if (n > 0)
			write(c, buf, (size_t)n);
		close(c);
	}
	goro_wg_done(&wg);
}

static void client(void *arg)
{
	(void)arg;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char buf[8] = { 0 };
	if (connect(s, (struct sockaddr *)&laddr, sizeof(laddr)) == 0 &&
	    (fcntl(s, F_GETFL) & O_NONBLOCK) == 0 &&
	    (kernel_flags(s) & O_NONBLOCK) == 0 &&
	    write(s, "echo", 4) == 4 && read(s, buf, sizeof(buf)) == 4 &&
	    memcmp(buf, "echo", 4) == 0)
		atomic_fetch_add(&good, 1);
	close(s);
	goro_wg_done(&wg);
}

static int accept_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	laddr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(laddr);
	ck_assert_int_eq(bind(listener, (struct sockaddr *)&laddr,
			      sizeof(laddr)), 0);
	ck_assert_int_eq(getsockname(listener, (struct sockaddr *)&laddr,
				     &len), 0);
	ck_assert_int_eq(listen(listener, 64), 0);
	goro_wg_add(&wg, 1 + 16);
	goro_go(echo_once, NULL);
	for (int i = 0; i < 16; i++)
		goro_go(client, NULL);
	goro_wg_wait(&wg);
	ck_assert_int_eq(atomic_load(&good), 16);
	/* The application still sees its listener as it made it. */
	ck_assert_int_eq(fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
	/* Made non-blocking by the application: EAGAIN, no park. */
	int fl = fcntl(listener, F_GETFL);
	ck_assert_int_eq(fcntl(listener, F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_ne(fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
	errno = 0;
	ck_assert_int_eq(accept(listener, NULL, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(listener, F_SETFL, fl), 0);
	ck_assert_int_eq(fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
	/* A refused connection is refused. */
	int port = free_port();
	struct sockaddr_in none = laddr;
	none.sin_port = htons((uint16_t)port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	ck_assert_int_eq(connect(s, (struct sockaddr *)&none, sizeof(none)),
			 -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(s);
	close(listener);
	return 0;
}

START_TEST(accept_connect)
{
	ck_assert_int_eq(run_goro(accept_main, 2), 0);
}
END_TEST

/* ---- vectored and message calls, dup2 over a number, masks ------------------ */

static void writev_later(void *arg)
{
	int fd = (int)(intptr_t)arg;
	goro_sleep(30 * MS);
	struct iovec v[3] = { { (void *)"ab", 2 }, { (void *)"cd", 2 },
			      { (void *)"ef", 2 } };
	writev(fd, v, 3);
}

static void sendmsg_later(void *arg)
{
	int fd = (int)(intptr_t)arg;
	goro_sleep(30 * MS);
	struct iovec v[2] = { { (void *)"msg", 3 }, { (void *)"!", 1 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	sendmsg(fd, &m, 0);
}

static void udp_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[64];
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &len);
	if (n > 0)
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
}

static void *signal_process(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		struct timespec ts = { 0, 20 * MS };
		nanosleep(&ts, NULL);
		kill(getpid(), SIGUSR2);
	}
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
}

static int more_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	int sp[2];
	char buf[16] = { 0 };
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	/* readv parks until writev's bytes come. */
	goro_go(writev_later, (void *)(intptr_t)sp[1]);
	struct iovec in[2] = { { buf, 3 }, { buf + 3, 3 } };
	ssize_t n = 0;
	while (n < 6) {
		ssize_t r = readv(sp[0], in, 2);
		ck_assert_int_gt(r, 0);
		n += r;
		in[0].iov_base = buf + n;
		in[0].iov_len = 6 - (size_t)n;
		in[1].iov_len = 0;
	}
	ck_assert_int_eq(memcmp(buf, "abcdef", 6), 0);
	/* recvmsg parks until sendmsg's. */
	goro_go(sendmsg_later, (void *)(intptr_t)sp[1]);
	struct iovec v = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	ck_assert_int_eq(recvmsg(sp[0], &m, 0), 4);
	ck_assert_int_eq(memcmp(buf, "msg!", 4), 0);
	/* UDP: recvfrom parks, the reply comes back through sendto. */
	int u = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	ck_assert_int_eq(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(u, (struct sockaddr *)&a, &len), 0);
	goro_go(udp_echo, (void *)(intptr_t)u);
	goro_sleep(10 * MS);
	ck_assert_int_eq(sendto(c, "dgram", 5, 0, (struct sockaddr *)&a,
				sizeof(a)), 5);
	ck_assert_int_eq(recvfrom(c, buf, sizeof(buf), 0, NULL, NULL), 5);
	ck_assert_int_eq(memcmp(buf, "dgram", 5), 0);
	close(u);
	close(c);

	/* dup2 over a number the runtime knows: the next read is on the
	 * new file, and parks on it. */
	int a1[2], b1[2];
	ck_assert_int_eq(pipe(a1), 0);
	ck_assert_int_eq(pipe(b1), 0);
	goro_go(write_later, (void *)(intptr_t)a1[1]);
	ck_assert_int_eq(read(a1[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(dup2(b1[0], a1[0]), a1[0]);
	goro_go(write_later, (void *)(intptr_t)b1[1]);
	ck_assert_int_eq(read(a1[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);
	ck_assert_int_eq(fcntl(a1[0], F_GETFL) & O_NONBLOCK, 0);
	/* The runtime saw the new file and gave it a private non-blocking
	 * description of its own: without that, the read above would have
	 * blocked its thread on the old record. */
	ck_assert_int_ne(kernel_flags(a1[0]) & O_NONBLOCK, 0);
	ck_assert_int_eq(kernel_flags(b1[0]) & O_NONBLOCK, 0);
	/* dup3 the same way, close-on-exec asked. */
	int c1[2];
	ck_assert_int_eq(pipe(c1), 0);
	ck_assert_int_eq(dup3(c1[0], a1[0], O_CLOEXEC), a1[0]);
	ck_assert_int_ne(fcntl(a1[0], F_GETFD) & FD_CLOEXEC, 0);
	goro_go(write_later, (void *)(intptr_t)c1[1]);
	ck_assert_int_eq(read(a1[0], buf, sizeof(buf)), 4);
	ck_assert_int_ne(kernel_flags(a1[0]) & O_NONBLOCK, 0);
	ck_assert_int_eq(kernel_flags(c1[0]) & O_NONBLOCK, 0);
	for (int i = 0; i < 2; i++) {
		close(a1[i]);
		close(b1[i]);
		close(c1[i]);
	}

	/* A signal mask: libc's pselect and epoll_pwait, without the P. */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	sigset_t mask;
	sigemptyset(&mask);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	goro_go(write_later, (void *)(intptr_t)p[1]);
	ck_assert_int_eq(pselect(p[0] + 1, &r, NULL, NULL, NULL, &mask), 1);
	ck_assert(FD_ISSET(p[0], &r));
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN }, out;
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e), 0);
	ck_assert_int_eq(epoll_pwait(ep, &out, 1, 1000, &mask), 1);
	close(ep);
	close(p[0]);
	close(p[1]);

	/* gethostbyname's static result; CLOCK_REALTIME sleeps. */
	struct hostent *h = gethostbyname("localhost");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->h_addrtype, AF_INET);
	ck_assert_int_eq(*(uint32_t *)h->h_addr_list[0], htonl(INADDR_LOOPBACK));
	struct timespec ts = { 0, 5 * MS };
	ck_assert_int_eq(clock_nanosleep(CLOCK_REALTIME, 0, &ts, NULL), 0);

	/* A parked sleep is not cut short by signals handled meanwhile. */
	struct sigaction sa = { .sa_handler = on_usr2 };
	sigaction(SIGUSR2, &sa, NULL);
	pthread_t t;
	pthread_create(&t, NULL, signal_process, NULL);
	struct timespec long_ts = { 0, 200 * MS }, rem = { 9, 9 };
	int64_t t0 = goro_now();
	ck_assert_int_eq(nanosleep(&long_ts, &rem), 0);
	ck_assert_int_ge(goro_now() - t0, 200 * MS);
	ck_assert(rem.tv_sec == 0 && rem.tv_nsec == 0);
	GORO_BLOCKING_DO(pthread_join(t, NULL));
	close(sp[0]);
	close(sp[1]);
	return 0;
}

START_TEST(vectored_message_dup_masks)
{
	ck_assert_int_eq(run_goro(more_main, 2), 0);
}
END_TEST

/* ---- other threads, before goro_main, fork, EINTR ----------------------------- */

static int tpipe[2];
static _Atomic int thread_read_result;

static void *thread_reader(void *arg)
{
	(void)arg;
	char buf[8];
	atomic_store(&thread_read_result, (int)read(tpipe[0], buf, sizeof(buf)));
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static int threads_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	ck_assert_int_eq(pipe(tpipe), 0);
	/* A goroutine uses the pipe first: the runtime gives it a private
	 * non-blocking description. */
	goro_go(write_later, (void *)(intptr_t)tpipe[1]);
	char buf[8];
	ck_assert_int_eq(read(tpipe[0], buf, sizeof(buf)), 4);
	/* A plain thread's read then still blocks until data comes, as
	 * libc's does for a blocking descriptor (no EAGAIN). */
	atomic_store(&thread_read_result, -2);
	pthread_t t;
	pthread_create(&t, NULL, thread_reader, NULL);
	goro_sleep(50 * MS);
	ck_assert_int_eq(atomic_load(&thread_read_result), -2);
	ck_assert_int_eq(write(tpipe[1], "data", 4), 4);
	GORO_BLOCKING_DO(pthread_join(t, NULL));
	ck_assert_int_eq(atomic_load(&thread_read_result), 4);

	/* EINTR on a plain thread, as libc's. */
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&thread_read_result, -2);
	pthread_create(&t, NULL, thread_reader, NULL);
	goro_sleep(50 * MS);
	pthread_kill(t, SIGUSR1);
	GORO_BLOCKING_DO(pthread_join(t, NULL));
	ck_assert_int_eq(atomic_load(&thread_read_result), -1);

	/* A forked child gets libc's calls. */
	int back[2];
	ck_assert_int_eq(pipe(back), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, 10 * MS };
		char c[8];
		nanosleep(&ts, NULL);
		ssize_t n = read(tpipe[0], c, sizeof(c));  /* blocks */
		struct pollfd p = { .fd = back[1], .events = POLLOUT };
		if (n == 4 && poll(&p, 1, 1000) == 1 &&
		    write(back[1], "kid", 3) == 3)
			_exit(0);
		_exit(1);
	}
	goro_sleep(50 * MS);
	ck_assert_int_eq(write(tpipe[1], "more", 4), 4);
	ck_assert_int_eq(read(back[0], buf, sizeof(buf)), 3);
	int st;
	GORO_BLOCKING_DO(waitpid(pid, &st, 0));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}

START_TEST(other_threads_fork_eintr)
{
	ck_assert_int_eq(run_goro(threads_main, 2), 0);
}
END_TEST

/* The replacements in a constructor of the program (libgoro-posix's own
 * constructor has run: it is a dependency), before main. */
static int ctor_result = -1;

__attribute__((constructor)) static void calls_in_constructor(void)
{
	int p[2];
	char buf[4];
	struct pollfd pf;
	struct timespec ts = { 0, MS };
	struct addrinfo *res = NULL;
	bool ok = pipe(p) == 0 && write(p[1], "ctor", 4) == 4;
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };
	ok = ok && poll(&pf, 1, 1000) == 1 && read(p[0], buf, 4) == 4 &&
	     memcmp(buf, "ctor", 4) == 0 && nanosleep(&ts, NULL) == 0 &&
	     getaddrinfo("127.0.0.1", "80", NULL, &res) == 0 &&
	     (fcntl(p[0], F_GETFL) & O_NONBLOCK) == 0 &&
	     close(p[0]) == 0 && close(p[1]) == 0;
	if (res)
		freeaddrinfo(res);
	ctor_result = ok;
}

START_TEST(calls_in_a_constructor)
{
	ck_assert_int_eq(ctor_result, 1);
}
END_TEST

START_TEST(before_goro_main)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "pre", 3), 3);
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	ck_assert_int_eq(poll(&pf, 1, 1000), 1);
	char buf[4];
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 3);
	struct timespec ts = { 0, MS };
	ck_assert_int_eq(nanosleep(&ts, NULL), 0);
	struct addrinfo *res = NULL;
	ck_assert_int_eq(getaddrinfo("localhost", NULL, NULL, &res), 0);
	freeaddrinfo(res);
	ck_assert_int_eq(close(p[0]), 0);
	ck_assert_int_eq(close(p[1]), 0);
	ck_assert_int_eq(close(p[1]), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* ---- the explicit API beside the replacements -------------------------------- */

static int explicit_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	/* A socket first polled per call, then used through goro_read. */
	goro_go(write_later, (void *)(intptr_t)sp[1]);
	char buf[8];
	ck_assert_int_eq(read(sp[0], buf, sizeof(buf)), 4);
	goro_go(write_later, (void *)(intptr_t)sp[1]);
	ck_assert_int_eq(goro_read(sp[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(fcntl(sp[0], F_GETFL) & O_NONBLOCK, 0);
	goro_go(write_later, (void *)(intptr_t)sp[1]);
	ck_assert_int_eq(read(sp[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(goro_close(sp[0]), 0);
	ck_assert_int_eq(close(sp[1]), 0);
	return 0;
}

START_TEST(explicit_api_beside)
{
	ck_assert_int_eq(run_goro(explicit_main, 2), 0);
}
END_TEST

/* ---- regular files ----------------------------------------------------------- */

static int files_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	char path[] = "/tmp/check_posix_XXXXXX";
	int tmp = mkstemp(path);
	ck_assert_int_ge(tmp, 0);
	close(tmp);
	int fd = open(path, O_RDWR | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	char data[8192];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	ck_assert_int_eq(pwrite(fd, data, sizeof(data), 4096), sizeof(data));
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(fdatasync(fd), 0);
	char back[8192];
	ck_assert_int_eq(pread(fd, back, sizeof(back), 4096), sizeof(back));
	ck_assert_int_eq(memcmp(back, data, sizeof(data)), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert_int_eq(write(fd, "head", 4), 4);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 4);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(read(fd, back, 4), 4);
	ck_assert_int_eq(memcmp(back, "head", 4), 0);
	struct stat st, fst;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(fstat(fd, &fst), 0);
	ck_assert_int_eq(st.st_size, 4096 + 8192);
	ck_assert_int_eq(fst.st_ino, st.st_ino);
	errno = 0;
	ck_assert_int_eq(open("/nonexistent/x", O_RDONLY), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(stat("/nonexistent/x", &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(pread(-1, back, 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	int created = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(created, -1);
	ck_assert_int_eq(errno, EEXIST);
	close(fd);
	unlink(path);
	return 0;
}

START_TEST(regular_files)
{
	ck_assert_int_eq(run_goro(files_main, 2), 0);
}
END_TEST

/* ---- names ------------------------------------------------------------------- */

#define DNS_G 1000

/* The machine's own name, as libc resolved it before goro_main (from
 * /etc/hosts where it is there), and its IPv4 address; "" if it does
 * not resolve.  No file of the test's own can be put in front of libc's
 * resolver without privileges (HOSTALIASES applies to DNS queries only). */
static char own_name[256];
static uint32_t own_addr;

static void resolve_own_name(void)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	if (gethostname(own_name, sizeof(own_name) - 1) != 0 ||
	    getaddrinfo(own_name, "80", &hints, &res) != 0) {
		own_name[0] = '\0';
		return;
	}
	own_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
	freeaddrinfo(res);
}

static _Atomic int64_t late_max;
static _Atomic int finished;

static void dns_one(void *arg)
{
	int i = (int)(intptr_t)arg;
	bool ok = false;
	if (i % 3 == 0) {
		struct addrinfo hints = { .ai_family = AF_INET,
					  .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		bool own = i % 2 == 0 && own_name[0];
		if (getaddrinfo(own ? own_name : "localhost", "80", &hints,
				&res) == 0) {
			struct sockaddr_in *a = (void *)res->ai_addr;
			ok = a->sin_addr.s_addr == (own ? own_addr
					: htonl(INADDR_LOOPBACK)) &&
			     a->sin_port == htons(80);
			freeaddrinfo(res);
		}
	} else if (i % 3 == 1) {
		struct hostent he, *r = NULL;
		char buf[1024];
		int herr = 0;
		if (gethostbyname_r("localhost", &he, buf, sizeof(buf), &r,
				    &herr) == 0 && r &&
		    r->h_addrtype == AF_INET)
			ok = *(uint32_t *)r->h_addr_list[0] ==
			     htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons(80),
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK) };
		char host[NI_MAXHOST], serv[NI_MAXSERV];
		if (getnameinfo((struct sockaddr *)&a, sizeof(a), host,
				sizeof(host), serv, sizeof(serv),
				NI_NAMEREQD | NI_NUMERICSERV) == 0)
			ok = strcmp(serv, "80") == 0 && host[0] != '\0';
	}
	if (ok)
		atomic_fetch_add(&good, 1);
	atomic_fetch_add(&finished, 1);
	goro_wg_done(&wg);
}

static _Atomic bool dns_done;

static void ms_sleeper(void *arg)
{
	(void)arg;
	while (!atomic_load(&dns_done)) {
		int64_t t0 = goro_now();
		struct timespec ts = { 0, MS };
		nanosleep(&ts, NULL);
		int64_t late = goro_now() - t0 - MS;
		if (late > atomic_load(&late_max))
			atomic_store(&late_max, late);
	}
	goro_wg_done(&wg);
}

static int dns_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct thread_sampler s = { 0 };
	sampler_start(&s);
	goro_wg_add(&wg, 1 + DNS_G);
	goro_go(ms_sleeper, NULL);
	for (int i = 0; i < DNS_G; i++)
		goro_go(dns_one, (void *)(intptr_t)i);
	/* The lookups are done when `done` reaches DNS_G (the sleeper, also
	 * in wg, runs until told). */
	int64_t t0 = goro_now();
	while (atomic_load(&finished) < DNS_G && goro_now() - t0 < 60000 * MS)
		goro_sleep(5 * MS);
	atomic_store(&dns_done, true);
	goro_wg_wait(&wg);
	int max_seen = sampler_stop(&s);
	fprintf(stderr, "dns: %d lookups, 1 ms sleeper's worst lateness "
		"%.2f ms, %d threads at most\n", atomic_load(&good),
		(double)atomic_load(&late_max) / MS, max_seen);
	ck_assert_int_eq(atomic_load(&good), DNS_G);
	/* The usual bound, plus the resolver pool's own threads (at most
	 * four, src/io/resolver.h): a lookup never takes a thread of its own. */
	ck_assert_msg(max_seen <= 2 + 8 + 4, "%d threads", max_seen);
	return 0;
}

/* Asynchronous preemption off, as in check_posix_curl: a goroutine
 * preempted in the resolver's caller code resumes on its own thread only,
 * and under the sanitizers on a loaded machine that alone took the count
 * to 12 (the bound is about the lookups, which take none). */
START_TEST(dns_1000_goroutines)
{
	resolve_own_name();
	setenv("GORO_ASYNCPREEMPT", "0", 1);
	ck_assert_int_eq(run_goro(dns_main, 2), 0);
}
END_TEST

/* ---- LD_PRELOAD ---------------------------------------------------------------- */

/* A program linked with libgoro alone gets the replacements by preloading
 * libgoro-posix.  Not under the sanitizers: their runtime must come first
 * in the initial library list, before anything preloaded. */
START_TEST(works_preloaded)
{
#ifdef GORO_SANITIZED
	return;
#else
	char out[256];
	int st = run_capture("GORO_MAXPROCS=1 LD_LIBRARY_PATH=" LIBS_DIR
			     " LD_PRELOAD=" LIBS_DIR "/libgoro-posix.so "
			     PRELOAD_CHILD " 2>&1", out, sizeof(out));
	ck_assert_msg(st == 0, "exit %d: %s", st, out);
	int threads = -1, ok = -1;
	ck_assert_int_eq(sscanf(out, "threads %d ok %d", &threads, &ok), 2);
	ck_assert_int_eq(ok, 64);
	ck_assert_msg(threads <= 1 + 8, "%d threads", threads);
#endif
}
END_TEST

static Suite *posix_suite(void)
{
	Suite *s = suite_create("posix");
	TCase *tc = tcase_create("descriptors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, read_on_blocking_pipe_parks);
	tcase_add_test(tc, recv_on_blocking_socket_parks);
	tcase_add_test(tc, nonblocking_timeouts_errno);
	tcase_add_test(tc, ioctl_fionbio_tracked_like_fcntl);
	tcase_add_test(tc, poll_select_epoll);
	tcase_add_test(tc, poll_and_epoll_wait_park);
	tcase_add_test(tc, sleeps_park);
	tcase_add_test(tc, accept_connect);
	tcase_add_test(tc, vectored_message_dup_masks);
	tcase_add_test(tc, other_threads_fork_eintr);
	tcase_add_test(tc, before_goro_main);
	tcase_add_test(tc, calls_in_a_constructor);
	tcase_add_test(tc, explicit_api_beside);
	tcase_add_test(tc, regular_files);
	tcase_add_test(tc, dns_1000_goroutines);
	tcase_add_test(tc, works_preloaded);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(posix_suite)
