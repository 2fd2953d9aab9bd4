/* SPDX-License-Identifier: MIT */
/*
 * bench_io_net.c — suite "io", its network half (bench_io.c has the
 * file half and calls this): blocking I/O from goroutines.
 *
 *   redis-goro      SET/GET pairs per second from 1,000 goroutines on 2
 *                   Ps, each its own connection, with hiredis's
 *                   synchronous API under libgoro-posix
 *   redis-async     the same load through hiredis's asynchronous API on
 *                   one libevent loop (one thread)
 *   redis-pthreads  the same synchronous load from 1,000 threads
 *   dns-late-p99    ms late, 99th percentile, of a goroutine sleeping
 *   dns-late-max    1 ms at a time (nanosleep) while 1,000 goroutines on
 *                   the same 2 Ps resolve "localhost" and the machine's
 *                   name with getaddrinfo (lower is better); Go's
 *                   figure beside it: the same with net.DefaultResolver
 *
 * One redis-server (started here, 127.0.0.1, no persistence) serves every
 * sample; the three ways take turns within each run, so they share the
 * machine's noise.  The load runs in a program of its own linked with
 * libgoro-posix (tools/bench/posix_load).  Skipped, with a message, where
 * redis-server or that program is missing.  Higher is better for the
 * Redis figures.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define SUITE "io"

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static bool port_up(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool up = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return up;
}

/* One run of the load program: pairs per second, or < 0. */
static double load(const char *mode, int port, int clients, int pairs)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s %s %d %d %d", GORO_BENCH_POSIX_LOAD,
		 mode, port, clients, pairs);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	double v = -1;
	if (fscanf(f, "pairs/s %lf", &v) != 1)
		v = -1;
	if (pclose(f) != 0)
		return -1;
	return v;
}

void bench_io_net(const struct bench_opts *opts)
{
	if (access(GORO_BENCH_POSIX_LOAD, X_OK) != 0 ||
	    access(GORO_BENCH_REDIS_SERVER, X_OK) != 0) {
		fprintf(stderr, "io: redis-server or posix_load missing: "
			"figures skipped\n");
		return;
	}
	int port = free_port();
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Gone with goro-bench, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execl(GORO_BENCH_REDIS_SERVER, GORO_BENCH_REDIS_SERVER,
		      "--port", ports, "--bind", "127.0.0.1", "--save", "",
		      "--appendonly", "no", "--maxclients", "4000",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !port_up(port); i++)
		usleep(10000);
	int clients = opts->quick ? 50 : 1000;
	int pairs = opts->quick ? 10 : 100;
	static const char *modes[] = { "goro", "async", "pthreads" };
	double s[3][64];
	int runs = opts->runs < 64 ? opts->runs : 64;
	for (int r = 0; r < runs; r++)
		for (int m = 0; m < 3; m++) {
			s[m][r] = load(modes[m], port, clients, pairs);
			if (s[m][r] < 0) {
				kill(pid, SIGTERM);
				waitpid(pid, NULL, 0);
				bench_fail(SUITE, "posix_load %s failed",
					   modes[m]);
			}
		}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	bench_report(SUITE, "redis-goro", "pairs/s", s[0], runs);
	bench_report(SUITE, "redis-async", "pairs/s", s[1], runs);
	bench_report(SUITE, "redis-pthreads", "pairs/s", s[2], runs);

	/* DNS beside a 1 ms sleeper, Go's counterpart (tools/bench/go/io)
	 * taking turns with it. */
	struct bench_opts once = *opts;
	once.runs = 1;
	int lookups = opts->quick ? 100 : 1000;
	for (int r = 0; r < runs; r++) {
		char cmd[512];
		double p99, max;
		snprintf(cmd, sizeof(cmd), "%s dns %d", GORO_BENCH_POSIX_LOAD,
			 lookups);
		FILE *f = popen(cmd, "r");
		if (!f || fscanf(f, "late-p99-ms %lf late-max-ms %lf", &p99,
				 &max) != 2 || pclose(f) != 0)
			bench_fail(SUITE, "posix_load dns failed");
		bench_report(SUITE, "dns-late-p99", "ms", &p99, 1);
		bench_report(SUITE, "dns-late-max", "ms", &max, 1);
		bench_go(&once, SUITE, "iodns", opts->quick ? "-quick" : "", "ms");
	}
}
