/* SPDX-License-Identifier: MIT */
/*
 * posixutil.h — helpers for the libgoro-posix suites (check_posix*): the
 * process's thread count, a free loopback port, waiting for a server.
 */
#ifndef GORO_POSIXUTIL_H
#define GORO_POSIXUTIL_H

#include <dirent.h>
#include <netinet/in.h>
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

#endif
