/*
 * bench.h — the goro-bench harness: suites, samples, reports.
 *
 * A suite is a function that measures a few named figures.  Each figure is
 * measured `runs` times (one sample per run, usually one goro_main per
 * sample so runs are independent) and reported as its median with min and
 * max.  Where Go has the same workload (tools/bench/go/), the suite runs it
 * in the same invocation and reports Go's median beside goro's, so the ratio
 * is measured on the same noisy machine at the same time.
 */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

#include <stdbool.h>
#include <stddef.h>

struct bench_opts {
	int runs;              /* samples per figure (median of these) */
	bool quick;            /* smaller workloads (make check smoke run) */
	bool go;               /* also run the Go counterparts, if go exists */
	const char *go_dir;    /* tools/bench/go sources */
};

struct bench_suite {
	const char *name;      /* selects it on the command line */
	const char *about;     /* one line for --list */
	void (*run)(const struct bench_opts *opts);
};

/* Report one figure: samples in `unit` (lower is better unless the unit
 * says otherwise, e.g. "req/s"). */
void bench_report(const char *suite, const char *figure, const char *unit,
		  double *samples, int n);
/* Run Go's counterpart: `go build` tools/bench/go/<prog> once, run it with
 * args `runs` times; each run prints "<figure> <value>" lines, reported as
 * "<figure> [go]".  Silently skipped when Go is unavailable or opts->go is
 * false. */
void bench_go(const struct bench_opts *opts, const char *suite,
	      const char *prog, const char *args, const char *unit);

double bench_median(double *samples, int n);

#endif
