/* SPDX-License-Identifier: MIT */
/*
 * bench_gdump.c — suite "gdump": dumping a big process from outside.
 *
 *   summary-100k   wall time of `gdump --summary PID` on a process whose
 *                  100k goroutines are parked in goro_sleep (target: 2 s)
 *   stopped-100k   how long that process was stopped meanwhile, as
 *                  `gdump -v` measures it (first attach to last detach)
 *
 * With --quick the process has 10k goroutines (figures *-10k).  The
 * target runs in a child process made once per suite run; every sample
 * dumps it again.  Go has no counterpart (its dump is in-process, SIGQUIT).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <goro.h>

#include "bench.h"

#define SUITE "gdump"
#define HOUR_NS (3600LL * 1000 * 1000 * 1000)

static long target_goroutines;
static int ready_fd;
static atomic_long parked;

static void parked_body(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked, 1);
	goro_sleep(HOUR_NS);
}

static int target_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (long i = 0; i < target_goroutines; i++)
		if (goro_go(parked_body, NULL) < 0)
			bench_fail(SUITE, "spawn %ld failed", i);
	while (atomic_load(&parked) < target_goroutines)
		goro_sleep(1000 * 1000);
	goro_sleep(20 * 1000 * 1000);  /* the last ones reach their park */
	(void)!write(ready_fd, "r", 1);
	goro_sleep(HOUR_NS);  /* until the suite kills us */
	return 0;
}

/* gdump beside an installed goro-bench, else the build tree's. */
static const char *gdump_path(void)
{
	static char path[4096];
	const char *env = getenv("GORO_BENCH_GDUMP");
	if (env && *env)
		return env;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, "gdump");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return GORO_BENCH_GDUMP;
}

/* Run gdump --summary -v on pid; wall time and stopped time in ms. */
static void dump_once(const char *gdump, pid_t pid, double *wall,
		      double *stopped)
{
	int err[2];
	if (pipe(err) != 0)
		bench_fail(SUITE, "pipe failed");
	char pidarg[16];
	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	int64_t t0 = bench_now();
	pid_t child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(err[1], 2);
		execl(gdump, gdump, "--summary", "-v", pidarg, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	char out[1024];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(out) - 1 &&
	       (r = read(err[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(err[0]);
	int st;
	waitpid(child, &st, 0);
	*wall = (double)(bench_now() - t0) / 1e6;
	const char *s = strstr(out, "stopped for ");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !s)
		bench_fail(SUITE, "%s failed: %s", gdump, out);
	*stopped = atof(s + strlen("stopped for "));
}

void bench_gdump(const struct bench_opts *opts)
{
	target_goroutines = opts->quick ? 10000 : 100000;
	const char *gdump = gdump_path();
	int ready[2];
	if (pipe(ready) != 0)
		bench_fail(SUITE, "pipe failed");
	pid_t target = fork();
	if (target == 0) {
		close(ready[0]);
		ready_fd = ready[1];
		_exit(bench_goro(0, target_main));
	}
	close(ready[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		bench_fail(SUITE, "the target process died before it was ready");
	close(ready[0]);

	double wall[64], stopped[64];
	int runs = opts->runs < 64 ? opts->runs : 64;
	for (int i = 0; i < runs; i++)
		dump_once(gdump, target, &wall[i], &stopped[i]);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);

	bench_report(SUITE, opts->quick ? "summary-10k" : "summary-100k", "ms",
		     wall, runs);
	bench_report(SUITE, opts->quick ? "stopped-10k" : "stopped-100k", "ms",
		     stopped, runs);
}
