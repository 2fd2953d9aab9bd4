/* SPDX-License-Identifier: MIT */
/*
 * bench_http.c — suite "http": goro's netpoller against Go's net/http,
 * both answering "Hello, World!" over keep-alive HTTP/1.1 on loopback
 * under wrk.
 *
 *   rps    requests per second wrk completed
 *   p99    99th percentile latency wrk measured, in µs
 *
 * goro's side is examples/http_hello, run as its own process with
 * GORO_MAXPROCS=2; Go's is tools/bench/go/http (net/http) with
 * GOMAXPROCS=2, which serves and runs the same wrk command itself.  The
 * two alternate run by run.  The machine has two cores and wrk competes
 * with the server for them, so wrk gets one thread; the figures compare
 * the two servers under the same squeeze, not the machine's capacity.
 * Skipped (with a note) when wrk is not installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define SUITE "http"
#define PROCS "2"
#define WRK_ARGS "-t1 -c64 -d5s --latency"
#define WRK_ARGS_QUICK "-t1 -c16 -d1s --latency"
#define SERVER_START_NS (5 * 1000 * 1000 * 1000LL)

/* examples/http_hello of the build tree goro-bench runs from. */
static bool find_server(char *path, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';  /* .../tools/bench, or its .libs (libtool) */
	size_t len = strlen(self);
	if (len > 6 && !strcmp(self + len - 6, "/.libs"))
		self[len - 6] = '\0';
	snprintf(path, cap, "%s/../../examples/http_hello", self);
	return access(path, X_OK) == 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		bench_fail(SUITE, "no free loopback port: %s", strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = fd >= 0 &&
		  connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static pid_t server_start(const char *path, int port)
{
	char arg[16];
	snprintf(arg, sizeof(arg), "%d", port);
	pid_t pid = fork();
	if (pid < 0)
		bench_fail(SUITE, "fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("GORO_MAXPROCS", PROCS, 1);
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	int64_t t0 = bench_now();
	while (!port_answers(port)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			bench_fail(SUITE, "%s exited before serving", path);
		if (bench_now() - t0 > SERVER_START_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			bench_fail(SUITE, "%s does not answer on port %d",
				   path, port);
		}
		usleep(10 * 1000);
	}
	return pid;
}

/* wrk prints durations as "850.00us", "1.23ms", "1.01s". */
static bool parse_micros(const char *s, double *us)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return false;
	if (!strcmp(end, "us"))
		*us = v;
	else if (!strcmp(end, "ms"))
		*us = v * 1e3;
	else if (!strcmp(end, "s"))
		*us = v * 1e6;
	else
		return false;
	return true;
}

static void run_wrk(const char *args, int port, double *rps, double *p99)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "wrk %s http://127.0.0.1:%d/ 2>&1",
		 args, port);
	FILE *f = popen(cmd, "r");
	if (!f)
		bench_fail(SUITE, "cannot run wrk: %s", strerror(errno));
	char line[256], word[64];
	bool got_rps = false, got_p99 = false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " Requests/sec: %lf", rps) == 1)
			got_rps = true;
		else if (sscanf(line, " 99%% %63s", word) == 1 &&
			 parse_micros(word, p99))
			got_p99 = true;
	}
	int st = pclose(f);
	if (!got_rps || !got_p99 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fail(SUITE, "wrk failed or printed no figures (%s)", cmd);
}

void bench_http(const struct bench_opts *opts)
{
	char server[PATH_MAX + 32];
	if (system("command -v wrk >/dev/null 2>&1") != 0) {
		fprintf(stderr, "goro-bench: http: wrk not installed, "
				"suite skipped\n");
		return;
	}
	if (!find_server(server, sizeof(server))) {
		fprintf(stderr, "goro-bench: http: examples/http_hello not "
				"found beside this goro-bench, suite skipped\n");
		return;
	}
	const char *wrk_args = opts->quick ? WRK_ARGS_QUICK : WRK_ARGS;
	char go_args[128];
	snprintf(go_args, sizeof(go_args), "-wrk -- %s", wrk_args);
	struct bench_opts once = *opts;
	once.runs = 1;
	setenv("GOMAXPROCS", PROCS, 1);
	for (int run = 0; run < opts->runs; run++) {
		int port = free_port();
		pid_t pid = server_start(server, port);
		double rps = 0, p99 = 0;
		run_wrk(wrk_args, port, &rps, &p99);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		bench_report(SUITE, "rps", "req/s", &rps, 1);
		bench_report(SUITE, "p99", "us", &p99, 1);
		bench_go(&once, SUITE, "http", go_args, "us");
	}
	unsetenv("GOMAXPROCS");
}
