/* SPDX-License-Identifier: MIT */
/*
 * check_net_fd.c — what a descriptor promises under goro: a close is
 * ordered after every call in flight on it, the poller works on kernels
 * without epoll_pwait2, a description shared with another process keeps
 * the mode its owner gave it, accepted descriptors are close-on-exec, and
 * deadlines (goro_fd_set_deadline) fail calls with ETIMEDOUT and may be
 * moved while a goroutine waits.
 *
 * Everything runs on 127.0.0.1 or on pipes inside the test process (or a
 * child it forks).  No assertion depends on how fast the machine is.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testutil.h"

#define MS (1000 * 1000LL)

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A blocking libc connect: the connection waits in the listener's backlog,
 * so the test controls when goro_accept takes it. */
static int connect_plain(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static bool wait_until(_Atomic int *flag, int not_value)
{
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(flag) != not_value)
			return true;
		goro_sleep(MS);
	}
	return false;
}

/* ---- goro_close under a reader the poller already woke ------------------------ */

static int woken_fd;
static _Atomic int woken_result = 1, woken_errno;
static char woken_buf[64];

static void woken_reader(void *arg)
{
	(void)arg;
	ssize_t r = goro_read(woken_fd, woken_buf, sizeof(woken_buf) - 1);
	atomic_store(&woken_errno, errno);
	atomic_store(&woken_result, (int)r);
}

/*
 * One P.  The reader parks on connection 1.  With preemption off, main
 * sends it a byte and keeps the P while the poller (sysmon's poll) makes
 * the reader runnable; then it closes connection 1, accepts connection 2
 * on the same fd number and has its peer send a secret.  The reader, when
 * it runs, must fail with EBADF, never read connection 2.
 */
static int woken_close_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int port;
	int lfd = listen_loopback(&port);
	int c1 = connect_plain(port);
	int s1 = goro_accept(lfd, NULL, NULL);
	ck_assert_int_ge(s1, 0);
	woken_fd = s1;
	goro_go(woken_reader, NULL);
	goro_sleep(20 * MS);
	ck_assert_int_eq(atomic_load(&woken_result), 1);  /* parked */

	goro_preempt_disable();
	int c2 = connect_plain(port);  /* waits in the backlog */
	ck_assert_int_eq(write(c1, "x", 1), 1);
	int64_t t0 = goro_now();
	while (goro_now() - t0 < 300 * MS)
		;  /* the poller finds the edge and readies the reader */
	ck_assert_int_eq(goro_close(s1), 0);
	int s2 = goro_accept(lfd, NULL, NULL);
	ck_assert_int_eq(s2, s1);  /* the number is reused */
	const char secret[] = "SECRET-of-connection-2";
	ck_assert_int_eq(write(c2, secret, sizeof(secret)),
			 (ssize_t)sizeof(secret));
	goro_preempt_enable();

	ck_assert(wait_until(&woken_result, 1));
	ck_assert_msg(strstr(woken_buf, "SECRET") == NULL,
		      "the reader of a closed fd read the next connection's "
		      "data: \"%s\"", woken_buf);
	ck_assert_int_eq(atomic_load(&woken_result), -1);
	ck_assert_int_eq(atomic_load(&woken_errno), EBADF);
	goro_close(s2);
	goro_close(lfd);
	close(c1);
	close(c2);
	return 0;
}

START_TEST(close_waits_for_woken_reader)
{
	ck_assert_int_eq(run_goro(woken_close_main, 1), 0);
}
END_TEST

/* A goroutine blocked in a write on a full socket, and goro_close from
 * another: EBADF, and a second goro_close of the same fd is EBADF too. */
static int full_fd;
static _Atomic int full_result = 1, full_errno;

static void full_writer(void *arg)
{
	(void)arg;
	static char big[1 << 20];
	ssize_t r = goro_write(full_fd, big, sizeof(big));
	atomic_store(&full_errno, errno);
	atomic_store(&full_result, r < 0 ? -1 : 0);
}

static int close_writer_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	full_fd = sv[0];
	goro_go(full_writer, NULL);
	goro_sleep(20 * MS);
	ck_assert_int_eq(goro_close(sv[0]), 0);
	ck_assert(wait_until(&full_result, 1));
	/* Partial writes return their count; a write that wrote nothing
	 * returns -1.  Either way the call has left. */
	if (atomic_load(&full_result) < 0)
		ck_assert_int_eq(atomic_load(&full_errno), EBADF);
	ck_assert_int_eq(goro_close(sv[0]), -1);
	ck_assert_int_eq(errno, EBADF);
	close(sv[1]);
	return 0;
}

START_TEST(close_wakes_writer)
{
	ck_assert_int_eq(run_goro(close_writer_main, 2), 0);
}
END_TEST

/* ---- kernels without epoll_pwait2 ------------------------------------------------ */

/* Make epoll_pwait2 fail with ENOSYS in this process, as on Linux < 5.11
 * or under valgrind: a raw seccomp filter, every thread. */
static bool deny_epoll_pwait2(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_pwait2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};
	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		/* A kernel built without seccomp filters. */
		ck_assert_msg(errno == ENOSYS || errno == EINVAL,
			      "seccomp: %s", strerror(errno));
		fprintf(stderr, "check_net_fd: no seccomp filters here: the "
			"epoll_wait fallback went untested\n");
		return false;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev;
	struct timespec zero = { 0, 0 };
	ck_assert_int_eq(epoll_pwait2(ep, &ev, 1, &zero, NULL), -1);
	ck_assert_int_eq(errno, ENOSYS);
	close(ep);
	return true;
}

static int old_pipe[2];

static void old_writer(void *arg)
{
	(void)arg;
	goro_sleep(100 * MS);
	ck_assert_int_eq(goro_write(old_pipe[1], "z", 1), 1);
}

static int old_kernel_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	ck_assert_int_eq(pipe(old_pipe), 0);
	goro_go(old_writer, NULL);
	char c;
	ck_assert_int_eq(goro_read(old_pipe[0], &c, 1), 1);  /* parks */
	ck_assert_int_eq(c, 'z');
	goro_sleep(200 * MS);
	ck_assert_int_eq(goro_fdwait(old_pipe[0], POLLIN, 100 * MS), 0);
	goro_close(old_pipe[0]);
	goro_close(old_pipe[1]);
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

START_TEST(no_epoll_pwait2_falls_back)
{
	if (!deny_epoll_pwait2())
		return;
	double cpu0 = cpu_seconds();
	ck_assert_int_eq(run_goro(old_kernel_main, 2), 0);
	double cpu = cpu_seconds() - cpu0;
	/* ~400 ms asleep or waiting; a spinning poller burns all of it. */
	ck_assert_msg(cpu < 0.2, "%.0f ms of CPU for 400 ms of waiting",
		      cpu * 1000);
}
END_TEST

/* ---- descriptors stay as their other holders left them ---------------------------- */

static int shared_data[2], to_parent[2], to_child[2];

static int pipe_child_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	char c;
	if (goro_read(shared_data[0], &c, 1) != 1 || c != 'p')
		return 10;
	if (goro_write(shared_data[1], "c", 1) != 1)
		return 11;
	if (goro_write(to_parent[1], "r", 1) != 1)
		return 12;
	if (goro_read(to_child[0], &c, 1) != 1)  /* parks until the parent checked */
		return 13;
	/* goro's own copy is non-blocking, a private description. */
	if (!(fcntl(shared_data[0], F_GETFL) & O_NONBLOCK))
		return 14;
	return 0;
}

static bool is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	ck_assert_int_ge(fl, 0);
	return fl & O_NONBLOCK;
}

/* The parent (a shell, say) shares pipes with a child that runs goro:
 * while the child reads and writes them, and after it has gone, the
 * parent's descriptions are still blocking. */
START_TEST(inherited_pipe_stays_blocking)
{
	ck_assert_int_eq(pipe(shared_data), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	ck_assert_int_eq(pipe(to_child), 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(run_goro(pipe_child_main, 2));
	ck_assert_int_eq(write(shared_data[1], "p", 1), 1);
	char c;
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	int fds[] = { shared_data[0], shared_data[1], to_parent[0],
		      to_parent[1], to_child[0], to_child[1] };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		ck_assert_msg(!is_nonblocking(fds[i]),
			      "fd %d of the parent became O_NONBLOCK while "
			      "the child ran", fds[i]);
	ck_assert_int_eq(read(shared_data[0], &c, 1), 1);
	ck_assert_int_eq(c, 'c');
	ck_assert_int_eq(write(to_child[1], "g", 1), 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		ck_assert(!is_nonblocking(fds[i]));
}
END_TEST

/* Sockets cannot be reopened: goro switches them and switches them back
 * at goro_close, or when goro_main returns. */
static int sock_a[2], sock_b[2], dup_a, dup_b;

static int socket_mode_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	char c;
	ck_assert_int_eq(goro_write(sock_a[1], "a", 1), 1);
	ck_assert_int_eq(goro_read(sock_a[0], &c, 1), 1);
	ck_assert_int_eq(goro_write(sock_b[1], "b", 1), 1);
	ck_assert_int_eq(goro_read(sock_b[0], &c, 1), 1);
	ck_assert_int_eq(goro_close(sock_a[0]), 0);
	ck_assert(!is_nonblocking(dup_a));  /* restored by goro_close */
	return 0;
}

START_TEST(socket_mode_restored)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_b), 0);
	dup_a = dup(sock_a[0]);
	dup_b = dup(sock_b[0]);
	ck_assert_int_eq(run_goro(socket_mode_main, 1), 0);
	ck_assert(!is_nonblocking(dup_b));  /* restored when goro_main ended */
	ck_assert(!is_nonblocking(sock_b[1]));
}
END_TEST

/* ---- goro_accept and close-on-exec ------------------------------------------------ */

static int accept_flags_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int port;
	int lfd = listen_loopback(&port);
	int c1 = connect_plain(port), c2 = connect_plain(port);
	int a = goro_accept(lfd, NULL, NULL);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int b = goro_accept4(lfd, (struct sockaddr *)&peer, &plen, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(fcntl(b, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(peer.sin_family, AF_INET);
	/* Bad flags, or an address without its length. */
	ck_assert_int_eq(goro_accept4(lfd, NULL, NULL, SOCK_STREAM), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_accept4(lfd, (struct sockaddr *)&peer, NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_accept4(-1, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(errno, EBADF);
	goro_close(a);
	goro_close(b);
	goro_close(lfd);
	close(c1);
	close(c2);
	return 0;
}

START_TEST(accept_sets_cloexec)
{
	ck_assert_int_eq(run_goro(accept_flags_main, 2), 0);
}
END_TEST

/* ---- deadlines ------------------------------------------------------------------- */

static int dl_fd;
#define DL_WAITING 99
static _Atomic int dl_result = DL_WAITING, dl_errno;

static void dl_reader(void *arg)
{
	(void)arg;
	char c;
	ssize_t r = goro_read(dl_fd, &c, 1);
	atomic_store(&dl_errno, errno);
	atomic_store(&dl_result, (int)r);
}

static void dl_start_reader(int fd)
{
	dl_fd = fd;
	atomic_store(&dl_result, DL_WAITING);
	atomic_store(&dl_errno, 0);
	goro_go(dl_reader, NULL);
	goro_sleep(20 * MS);
	ck_assert_int_eq(atomic_load(&dl_result), DL_WAITING);  /* parked */
}

static int deadline_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char c;

	/* A deadline already past: fails at once, even with data there. */
	ck_assert_int_eq(goro_write(sv[1], "d", 1), 1);
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ, goro_now() - 1), 0);
	ck_assert_int_eq(goro_read(sv[0], &c, 1), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* Only the read side: writing still works. */
	ck_assert_int_eq(goro_write(sv[0], "w", 1), 1);
	ck_assert_int_eq(goro_read(sv[1], &c, 1), 1);
	/* Cleared: the byte is there. */
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ, 0), 0);
	ck_assert_int_eq(goro_read(sv[0], &c, 1), 1);
	ck_assert_int_eq(c, 'd');

	/* Set while a reader waits with none: it times out. */
	dl_start_reader(sv[0]);
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ,
					      goro_now() + 30 * MS), 0);
	ck_assert(wait_until(&dl_result, DL_WAITING));
	ck_assert_int_eq(atomic_load(&dl_result), -1);
	ck_assert_int_eq(atomic_load(&dl_errno), ETIMEDOUT);

	/* Moved later while a reader waits: it does not time out at the old
	 * deadline, and gets the byte sent long after it. */
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ,
					      goro_now() + 1000 * MS), 0);
	dl_start_reader(sv[0]);
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ,
					      goro_now() + 60000 * MS), 0);
	goro_sleep(1500 * MS);
	ck_assert_int_eq(atomic_load(&dl_result), DL_WAITING);
	ck_assert_int_eq(goro_write(sv[1], "m", 1), 1);
	ck_assert(wait_until(&dl_result, DL_WAITING));
	ck_assert_int_eq(atomic_load(&dl_result), 1);

	/* Write deadline on a full socket. */
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ | GORO_WRITE, 0), 0);
	static char chunk[65536];
	while (goro_send(sv[0], chunk, sizeof(chunk), MSG_DONTWAIT) > 0)
		;
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_WRITE,
					      goro_now() + 30 * MS), 0);
	ck_assert_int_eq(goro_write(sv[0], chunk, sizeof(chunk)), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);

	/* Bad arguments. */
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], 0, 0), -EINVAL);
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], 4, 0), -EINVAL);
	ck_assert_int_eq(goro_fd_set_deadline(sv[0], GORO_READ, -1), -EINVAL);
	ck_assert_int_eq(goro_fd_set_deadline(-1, GORO_READ, 0), -EBADF);
	char path[] = "/tmp/goro-check-dl-XXXXXX";
	int file = mkstemp(path);
	ck_assert_int_ge(file, 0);
	unlink(path);
	ck_assert_int_eq(goro_fd_set_deadline(file, GORO_READ, 1), -ENOTSUP);
	goro_close(file);
	ck_assert_int_eq(goro_fd_set_deadline(file, GORO_READ, 1), -EBADF);

	/* goro_close forgets the deadline: the next file on the number
	 * starts without one. */
	goro_close(sv[0]);
	goro_close(sv[1]);
	int nv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0);
	ck_assert_int_eq(goro_write(nv[1], "n", 1), 1);
	ck_assert_int_eq(goro_read(nv[0], &c, 1), 1);
	goro_close(nv[0]);
	goro_close(nv[1]);
	return 0;
}

START_TEST(deadline_moved_while_waiting)
{
	ck_assert_int_eq(run_goro(deadline_main, 2), 0);
}
END_TEST

/* Accept waits on the read deadline too. */
static int accept_deadline_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	int port;
	int lfd = listen_loopback(&port);
	ck_assert_int_eq(goro_fd_set_deadline(lfd, GORO_READ, goro_now() + 20 * MS), 0);
	ck_assert_int_eq(goro_accept(lfd, NULL, NULL), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	goro_close(lfd);
	return 0;
}

START_TEST(accept_deadline)
{
	ck_assert_int_eq(run_goro(accept_deadline_main, 1), 0);
}
END_TEST

START_TEST(deadline_outside_goroutine)
{
	ck_assert_int_eq(goro_fd_set_deadline(0, GORO_READ, 0), -EPERM);
}
END_TEST

static Suite *net_fd_suite(void)
{
	Suite *s = suite_create("net_fd");
	TCase *tc = tcase_create("close");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, close_waits_for_woken_reader);
	tcase_add_test(tc, close_wakes_writer);
	suite_add_tcase(s, tc);
	tc = tcase_create("kernel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, no_epoll_pwait2_falls_back);
	suite_add_tcase(s, tc);
	tc = tcase_create("modes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, inherited_pipe_stays_blocking);
	tcase_add_test(tc, socket_mode_restored);
	tcase_add_test(tc, accept_sets_cloexec);
	suite_add_tcase(s, tc);
	tc = tcase_create("deadline");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deadline_moved_while_waiting);
	tcase_add_test(tc, accept_deadline);
	tcase_add_test(tc, deadline_outside_goroutine);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(net_fd_suite)
