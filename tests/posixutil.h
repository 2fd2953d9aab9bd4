/* SPDX-License-Identifier: MIT */
/*
 * posixutil.h — helpers for the libgoro-posix suites (check_posix*): the
 * process's thread count, a free loopback port, waiting for a server.
 */
#ifndef GORO_POSIXUTIL_H
#define GORO_POSIXUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* Threads of this process now (/proc/self/task). */
static inline int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A TCP port on 127.0.0.1 free a moment ago. */
static inline int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

/* Keep the highest thread count seen in *max until *stop: a goroutine
 * body sampling every 10 ms. */
struct thread_sampler {
	_Atomic int max;
	_Atomic bool stop;
	goro_wg_t done;
};

static inline void sample_threads(void *arg)
{
	struct thread_sampler *s = arg;
	while (!atomic_load(&s->stop)) {
		int n = thread_count();
		if (n > atomic_load(&s->max))
			atomic_store(&s->max, n);
		goro_sleep(10 * 1000000);
	}
	goro_wg_done(&s->done);
}

/* Start argv[0] (a server) with its output to /dev/null; its pid.  It
 * gets SIGTERM if the test process dies first (a test killed at its
 * timeout leaves no server behind). */
static inline pid_t start_server(char *const argv[])
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait up to ~20 s until 127.0.0.1:port accepts a connection. */
static inline bool wait_port(int port)
{
	for (int i = 0; i < 2000; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK) };
		int r = connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		if (r == 0)
			return true;
		usleep(10000);
	}
	return false;
}

#endif
