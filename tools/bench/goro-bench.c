/* SPDX-License-Identifier: MIT */
/*
 * goro-bench — goro's benchmark suite, with Go's figures beside goro's.
 *
 *   goro-bench [--runs N] [--quick] [--no-go] [--json] [--settle SECS]
 *              [--go-dir DIR] [--list] [suite...]
 *
 * Runs the named suites (all of them by default) and prints one line per
 * figure: goro's median over N runs, its min and max, and the median of the
 * Go program doing the same work, run in the same invocation.  On a shared
 * machine, --settle takes each sample while other processes leave the CPUs
 * idle (retrying a disturbed one), as far as a time budget allows.
 *
 * The Go sources are found in --go-dir, else $GORO_BENCH_GO_DIR, else where
 * `make install` put them when this is the installed goro-bench, else in the
 * source tree it was built from.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* The suites: one line each, X(name, about).  Each suite is a function
 * void bench_<name>(const struct bench_opts *) in bench_<name>.c. */
#define BENCH_SUITES(X) \
	X(sched, "scheduler: spawn, yield, parallel fib(35) on 1 and 2 Ps") \
	X(http, "netpoller: examples/http_hello vs Go net/http under wrk, 2 Ps") \
	X(chan, "channels: ping-pong on 1 and 2 Ps, buffered, select of 4") \
	X(stack, "stacks: 1M parked goroutines (time, memory), growth to 1 MiB") \
	X(preempt, "async preemption: sleeper lateness, hog throughput, bimodal tail latency") \
	X(gdump, "gdump --summary of 100k parked goroutines: wall time, time stopped; SIGQUIT dump of 10k") \
	X(net, "networking: UDP round trip on 1 P, TCP dial+accept on 2 Ps") \
	X(timer, "timers: create+stop, 100k firing (CPU, p99 lateness), ticker drift, ctx cancel fan-out") \
	X(exit, "program end after main returns: idle, and a goroutine blocked in read()") \
	X(io, "file I/O off the P (io_uring, threads, pthreads; 1 ms sleeper), Redis from 1,000 goroutines under libgoro-posix vs hiredis async vs 1,000 pthreads, DNS beside a sleeper")

#define DECLARE_SUITE(name, about) \
	void bench_##name(const struct bench_opts *opts);
BENCH_SUITES(DECLARE_SUITE)

#define SUITE_ENTRY(name, about) { #name, about, bench_##name },
static const struct bench_suite suites[] = { BENCH_SUITES(SUITE_ENTRY) };
#define NSUITES (sizeof(suites) / sizeof(*suites))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: goro-bench [--runs N] [--quick] [--no-go] [--json] "
		"[--settle SECS] [--go-dir DIR] [--list] [suite...]\n"
		"  --runs N      samples per figure (default 5); the median is reported\n"
		"  --quick       small workloads (a smoke test, not a measurement)\n"
		"  --no-go       do not build and run the Go counterparts\n"
		"  --json        one JSON object per figure instead of the table\n"
		"  --settle SECS take each sample while other processes leave the\n"
		"                CPUs idle, retrying for up to SECS per sample\n"
		"  --go-dir DIR  where the Go counterparts' sources are\n"
		"  --list        list the suites\n");
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is this the goro-bench that `make install` put in $(bindir)? */
static bool running_installed(void)
{
	char exe[PATH_MAX], bindir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || !realpath(GORO_BENCH_BINDIR, bindir))
		return false;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return !strcmp(exe, bindir);
}

static const char *find_go_dir(const char *option)
{
	if (option)
		return option;
	const char *env = getenv("GORO_BENCH_GO_DIR");
	if (env && *env)
		return env;
	const char *first = GORO_BENCH_SRC_GO_DIR;
	const char *second = GORO_BENCH_INSTALLED_GO_DIR;
	if (running_installed()) {
		first = GORO_BENCH_INSTALLED_GO_DIR;
		second = GORO_BENCH_SRC_GO_DIR;
	}
	return is_dir(first) || !is_dir(second) ? first : second;
}

static const struct bench_suite *find_suite(const char *name)
{
	for (size_t i = 0; i < NSUITES; i++)
		if (!strcmp(suites[i].name, name))
			return &suites[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_opts opts = { .runs = 5, .go = true };
	const char *go_dir = NULL;
	bool list = false;
	enum { OPT_GO_DIR = 256, OPT_SETTLE };
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-go", no_argument, NULL, 'G' },
		{ "json", no_argument, NULL, 'j' },
		{ "go-dir", required_argument, NULL, OPT_GO_DIR },
		{ "settle", required_argument, NULL, OPT_SETTLE },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "n:qGjlh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 1000) {
				fprintf(stderr, "goro-bench: --runs wants 1..1000, "
						"not \"%s\"\n", optarg);
				return 2;
			}
			opts.runs = (int)n;
			break;
		}
		case 'q':
			opts.quick = true;
			break;
		case 'G':
			opts.go = false;
			break;
		case 'j':
			opts.json = true;
			break;
		case OPT_GO_DIR:
			go_dir = optarg;
			break;
		case OPT_SETTLE: {
			char *end;
			double secs = strtod(optarg, &end);
			if (*end || !(secs >= 0 && secs <= 3600)) {
				fprintf(stderr, "goro-bench: --settle wants "
						"seconds (0..3600), not \"%s\"\n",
					optarg);
				return 2;
			}
			bench_set_settle((int)(secs * 1000));
			break;
		}
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (list) {
		for (size_t i = 0; i < NSUITES; i++)
			printf("%-8s %s\n", suites[i].name, suites[i].about);
		return 0;
	}
	for (int i = optind; i < argc; i++) {
		if (!find_suite(argv[i])) {
			fprintf(stderr, "goro-bench: no suite \"%s\" "
					"(--list shows them)\n", argv[i]);
			return 2;
		}
	}
	opts.go_dir = find_go_dir(go_dir);

	for (size_t i = 0; i < NSUITES; i++) {
		bool wanted = optind == argc;
		for (int j = optind; j < argc; j++)
			if (!strcmp(argv[j], suites[i].name))
				wanted = true;
		if (!wanted)
			continue;
		bench_run_suite(&suites[i], &opts);
	}
	bench_cleanup();
	return 0;
}
