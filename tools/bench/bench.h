/* SPDX-License-Identifier: MIT */
/*
 * bench.h — the goro-bench harness: suites, samples, reports.
 *
 * A suite is a function that measures a few named figures.  Each figure is
 * measured `runs` times (one sample per run, usually one goro_main per
 * sample so runs are independent) and reported as its median with min and
 * max.  Where Go has the same workload (tools/bench/go/), the suite runs it
 * in the same invocation and reports Go's median beside goro's, so the ratio
 * is measured on the same noisy machine at the same time.
 *
 * A suite only reports; goro-bench prints a suite's figures once the suite
 * has finished, each goro figure on one line with the Go figure of the same
 * name beside it:
 *
 *   sched  yield          23.1 ns    (min 22.8, max 24.0, n=5)   go: 98.2 ns   ratio 0.24
 */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_opts {
	int runs;              /* samples per figure (median of these) */
	bool quick;            /* smaller workloads (make check smoke run) */
	bool go;               /* also run the Go counterparts, if go exists */
	bool json;             /* print JSON lines instead of the table */
	const char *go_dir;    /* tools/bench/go sources */
};

struct bench_suite {
	const char *name;      /* selects it on the command line */
	const char *about;     /* one line for --list */
	void (*run)(const struct bench_opts *opts);
};

/* Report one figure: samples in `unit` (lower is better unless the unit
 * says otherwise, e.g. "req/s").  Figure names are single words (no
 * spaces), so that the Go counterpart can print the same name.
 * Samples accumulate: a suite may call bench_report and bench_go once per
 * run (bench_go with a copy of opts whose runs is 1), so that goro's and
 * Go's samples interleave and share the machine's noise. */
void bench_report(const char *suite, const char *figure, const char *unit,
		  double *samples, int n);
/* Run Go's counterpart: `go build` tools/bench/go/<prog> once, run it with
 * args (split at spaces) `runs` times; each run prints
 * "<figure> <value> [unit]" lines.  A figure goro reported under the same
 * name gets Go's median beside it; others are reported as "<figure> [go]"
 * in `unit` (or the unit the line names).  Silently skipped when Go is
 * unavailable or opts->go is false; a failing build or run is reported on
 * stderr and skipped. */
void bench_go(const struct bench_opts *opts, const char *suite,
	      const char *prog, const char *args, const char *unit);

double bench_median(double *samples, int n);

/* Monotonic clock in ns; usable inside and outside goroutines. */
int64_t bench_now(void);
/* CPU time of the whole process (every thread) in ns: unlike wall time,
 * not inflated while other processes hold the CPUs. */
int64_t bench_cpu_now(void);

/* Run fn as goroutine 1 with GORO_MAXPROCS=procs (0: the runtime's
 * default, all CPUs) and return its value.  A failing goro_main ends the
 * program with a message: a benchmark that did not run has no figure. */
int bench_goro(int procs, int (*fn)(int, char **));

/* goro-bench --settle: take each goro sample (bench_goro) and each Go run
 * when other processes leave the CPUs idle, and again if they took more
 * than a tenth of them meanwhile, within max_ms per sample.  0, the
 * default, keeps every sample as it comes.  A sample run in bench_goro
 * may thus run more than once: its function must start afresh each time. */
void bench_set_settle(int max_ms);

/* Stop the benchmark with a message (a workload computed a wrong result,
 * a spawn failed...). */
void bench_fail(const char *suite, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Run a suite and print its figures, with a note of how much CPU other
 * processes took while its samples ran (goro-bench calls it for each
 * suite). */
void bench_run_suite(const struct bench_suite *suite,
		     const struct bench_opts *opts);

/* Remove what bench_go built (goro-bench calls it before exiting). */
void bench_cleanup(void);

/* Suite io's network half (bench_io_net.c), run by bench_io. */
void bench_io_net(const struct bench_opts *opts);

#endif
