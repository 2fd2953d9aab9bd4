/* SPDX-License-Identifier: MIT */
/*
 * bench_gdump.c — suite "gdump": dumping a big process, from outside and
 * from inside.
 *
 *   summary-100k   wall time of `gdump --summary PID` on a process whose
 *                  100k goroutines are parked in goro_sleep (target: 2 s)
 *   stopped-100k   how long that process was stopped meanwhile, as
 *                  `gdump -v` measures it (first attach to last detach)
 *   sigquit-10k    SIGQUIT to a process whose 10k goroutines are parked:
 *                  from the signal until its whole dump (every goroutine,
 *                  with file:line) has been read from its stderr and it
 *                  has exited; Go's counterpart (tools/bench/go/sigquit)
 *                  is the same for 10k goroutines in time.Sleep
 *
 * With --quick the processes have 10k and 1k goroutines (figures *-10k,
 * sigquit-1k).  gdump's target runs in a child process made once per suite
 * run, and every sample dumps it again; SIGQUIT ends its target, so each
 * of its samples has a process of its own.
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

/* One SIGQUIT sample: a target with n parked goroutines, its dump read
 * to the end; ms from the signal to its exit. */
static double sigquit_once(long n)
{
	int ready[2], err[2];
	if (pipe(ready) != 0 || pipe(err) != 0)
		bench_fail(SUITE, "pipe failed");
	pid_t target = fork();
	if (target == 0) {
		close(ready[0]);
		close(err[0]);
		dup2(err[1], STDERR_FILENO);
		ready_fd = ready[1];
		target_goroutines = n;
		_exit(bench_goro(0, target_main));
	}
	close(ready[1]);
	close(err[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		bench_fail(SUITE, "the SIGQUIT target died before it was ready");
	close(ready[0]);
	int64_t t0 = bench_now();
	kill(target, SIGQUIT);
	char buf[65536];
	long lines = 0;
	ssize_t r;
	while ((r = read(err[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	close(err[0]);
	int st;
	waitpid(target, &st, 0);
	double ms = (double)(bench_now() - t0) / 1e6;
	/* Each goroutine has a header and at least one frame. */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || lines < 2 * n)
		bench_fail(SUITE, "SIGQUIT: exit status %d, %ld lines of dump",
			   st, lines);
	return ms;
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

	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		double ms = sigquit_once(opts->quick ? 1000 : 10000);
		bench_report(SUITE, opts->quick ? "sigquit-1k" : "sigquit-10k",
			     "ms", &ms, 1);
		bench_go(&once, SUITE, "sigquit", opts->quick ? "-quick" : "",
			 "ms");
	}
}
