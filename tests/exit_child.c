/* SPDX-License-Identifier: MIT */
/*
 * exit_child.c — a program whose goroutines sit blocked in the kernel when
 * main returns, run by check_exit: it must exit with main's status anyway.
 *
 *   exit_child MODE    MODE: read, blocking, sleep, spin (computing
 *                      inside a blocking region), accept, waitpid,
 *                      flock, malloc (goroutines calling malloc and free
 *                      for good: preempted inside the allocator, they hold
 *                      its locks at exit), all (every one of them at
 *                      once), library (a goroutine computing inside a
 *                      dlopen()ed library for good: abandoned there after
 *                      the exit's 50 ms, the runtime's threads are left
 *                      asleep; it exits 37 only if they were), twice
 *
 * The blocking calls themselves live in exit_block.c, built without
 * goro.h.  Every mode but `twice` exits with goroutine 1's status, 37;
 * `twice` runs goro_main a second time after a first run that left
 * goroutines in the kernel, checks the second run works, and exits 42.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#include "exit_block.h"

#define MS (1000 * 1000LL)

static int pipe_fds[2] = { -1, -1 };
static int listen_fd = -1;
static int lock_fd = -1;
static pid_t sleeper_pid = -1;
static _Atomic int nready;

static void ready(void)
{
	atomic_fetch_add(&nready, 1);
}

static void unexpected(const char *what, long r)
{
	/* The calls never return before exit: nobody writes, connects... */
	fprintf(stderr, "exit_child: %s returned %ld before exit\n", what, r);
}

static void g_read(void *arg)
{
	(void)arg;
	ready();
	unexpected("read", block_read(pipe_fds[0]));
}

static void g_blocking(void *arg)
{
	(void)arg;
	ready();
	char b;
	unexpected("GORO_BLOCKING(read)",
		   (long)GORO_BLOCKING(read(pipe_fds[0], &b, 1)));
}

static void g_spin_in_region(void *arg)
{
	(void)arg;
	ready();
	goro_blocking_enter();
	block_spin_forever();
}

static void g_sleep(void *arg)
{
	(void)arg;
	ready();
	block_sleep_forever();
}

static void g_accept(void *arg)
{
	(void)arg;
	ready();
	unexpected("accept", block_accept(listen_fd));
}

static void g_waitpid(void *arg)
{
	(void)arg;
	ready();
	unexpected("waitpid", block_waitpid(sleeper_pid));
}

static void g_flock(void *arg)
{
	(void)arg;
	ready();
	unexpected("flock", block_flock(lock_fd));
}

/* The plugin's loop, for as long as asked: its code is the library's. */
static long (*plugin_loop)(int64_t ns);

static void g_library(void *arg)
{
	(void)arg;
	ready();
	for (;;)
		plugin_loop(60LL * 1000 * MS);
}

static void g_allocate(void *arg)
{
	(void)arg;
	ready();
	block_allocate_forever();
}

/* Allocating goroutines: more than the Ps, so that they are preempted. */
#define ALLOCATORS 6

static int setup_accept(void)
{
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 4))
		return -1;
	return 0;
}

/* A child process that never exits by itself, forked by main() before
 * goro_main: PR_SET_PDEATHSIG follows the forking thread, and an M's
 * thread ending must not end it (the wait would then return). */
static void fork_sleeper(void)
{
	sleeper_pid = fork();
	if (sleeper_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
}

static int setup_waitpid(void)
{
	return sleeper_pid > 0 ? 0 : -1;
}

/* A lock held through one open file description, wanted through another. */
static int setup_flock(void)
{
	char path[] = "/tmp/goro-exit-XXXXXX";
	int held = mkstemp(path);
	if (held < 0)
		return -1;
	lock_fd = open(path, O_RDWR | O_CLOEXEC);
	unlink(path);
	if (lock_fd < 0 || flock(held, LOCK_EX) != 0)
		return -1;
	return 0;  /* `held` stays open, and locked, to the end */
}

/* Start the goroutines of `mode`; how many there are, or -1. */
static int start(const char *mode)
{
	bool all = strcmp(mode, "all") == 0;
	int n = 0;
	if (pipe(pipe_fds) != 0)
		return -1;
	if (all || !strcmp(mode, "read"))
		n += goro_go(g_read, NULL) > 0;
	if (all || !strcmp(mode, "blocking"))
		n += goro_go(g_blocking, NULL) > 0;
	if (all || !strcmp(mode, "sleep"))
		n += goro_go(g_sleep, NULL) > 0;
	if (all || !strcmp(mode, "spin"))
		n += goro_go(g_spin_in_region, NULL) > 0;
	if (all || !strcmp(mode, "accept")) {
		if (setup_accept())
			return -1;
		n += goro_go(g_accept, NULL) > 0;
	}
	if (all || !strcmp(mode, "waitpid")) {
		if (setup_waitpid())
			return -1;
		n += goro_go(g_waitpid, NULL) > 0;
	}
	if (!strcmp(mode, "library")) {
		void *h = dlopen(PREEMPT_PLUGIN, RTLD_NOW);
		if (!h || !(plugin_loop = (long (*)(int64_t))dlsym(
				    h, "plugin_tls_loop")))
			return -1;
		n += goro_go(g_library, NULL) > 0;
	}
	if (all || !strcmp(mode, "malloc"))
		for (int i = 0; i < ALLOCATORS; i++)
			n += goro_go(g_allocate, NULL) > 0;
	if (all || !strcmp(mode, "flock")) {
		if (setup_flock())
			return -1;
		n += goro_go(g_flock, NULL) > 0;
	}
	return n;
}

/* Goroutine 1: leave goroutines in the kernel, return 37. */
static int blocked_main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "read";
	atomic_store(&nready, 0);
	int n = start(mode);
	if (n <= 0) {
		fprintf(stderr, "exit_child: cannot set up mode %s\n", mode);
		return 3;
	}
	for (int i = 0; i < 10000 && atomic_load(&nready) < n; i++)
		goro_sleep(1 * MS);
	goro_sleep(20 * MS);  /* into the kernel */
	if (getenv("EXIT_CHILD_STAMP")) {
		/* For measuring how long the exit takes: when main returns. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "stamp %lld\n",
			(long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	}
	return 37;
}

/* The second run of `twice`: ordinary work must go on as usual. */
static void ping(void *arg)
{
	goro_chan_t *c = arg;
	int v = 1;
	goro_sleep(1 * MS);
	goro_chan_send(c, &v);
}

static int second_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	if (!c)
		return 4;
	int sum = 0;
	for (int i = 0; i < 200; i++)
		if (goro_go(ping, c) <= 0)
			return 5;
	for (int i = 0; i < 200; i++) {
		int v = 0;
		goro_chan_recv(c, &v);
		sum += v;
	}
	goro_chan_free(c);
	if (sum != 200)
		return 6;
	/* And leave one in the kernel again. */
	atomic_store(&nready, 0);
	if (goro_go(g_read, NULL) <= 0)
		return 7;
	for (int i = 0; i < 10000 && atomic_load(&nready) < 1; i++)
		goro_sleep(1 * MS);
	goro_sleep(20 * MS);
	return 38;
}

static void cleanup(void)
{
	if (sleeper_pid > 0) {
		kill(sleeper_pid, SIGKILL);
		waitpid(sleeper_pid, NULL, 0);
		sleeper_pid = -1;
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "read";
	if (!strcmp(mode, "waitpid") || !strcmp(mode, "all") ||
	    !strcmp(mode, "twice"))
		fork_sleeper();
	if (strcmp(mode, "twice") == 0) {
		char *first[] = { argv[0], (char *)"all", NULL };
		int c1 = goro_main(blocked_main, 2, first);
		cleanup();
		int c2 = goro_main(second_main, 1, argv);
		printf("exit_child: runs returned %d and %d\n", c1, c2);
		return c1 == 37 && c2 == 38 ? 42 : 1;
	}
	int code = goro_main(blocked_main, argc, argv);
	if (getenv("EXIT_CHILD_STAMP")) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "back %lld\n",
			(long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	}
	cleanup();
	if (!strcmp(mode, "library")) {
		/* Left asleep: more threads than this one. */
		int tasks = 0;
		DIR *d = opendir("/proc/self/task");
		while (d && readdir(d))
			tasks++;
		if (d)
			closedir(d);
		if (tasks - 2 <= 1) {
			fprintf(stderr, "exit_child: no thread was left asleep\n");
			code = 1;
		}
	}
	/* The process goes on as usual after goro_main. */
	printf("exit_child: goro_main returned %d\n", code);
	fflush(stdout);
	return code;
}
