/* SPDX-License-Identifier: MIT */
/*
 * check_bench.c — keeps goro-bench from rotting: the harness runs the
 * "sched" suite with tiny workloads and prints every figure, and merges a
 * Go counterpart's figures beside goro's.  No timing is checked: only that
 * each figure is measured and reported.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

static const char *const sched_figures[] = {
	"spawn", "yield", "yield-cpu", "fib-1p", "fib-2p", "fib-2p/1p",
	"fib-cpu-2p/1p", "threads-2/1",
};
#define NFIGURES (sizeof(sched_figures) / sizeof(*sched_figures))

static char out[65536];

/* Copy the report line of `figure` in suite "sched" into line; false if
 * there is none. */
static bool find_line(const char *figure, char *line, size_t cap)
{
	for (const char *p = out; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char suite[32], name[64];
		if (len < cap && sscanf(p, "%31s %63s", suite, name) == 2 &&
		    !strcmp(suite, "sched") && !strcmp(name, figure)) {
			memcpy(line, p, len);
			line[len] = '\0';
			return true;
		}
		p += len + (end ? 1 : 0);
	}
	return false;
}

START_TEST(sched_suite_reports_every_figure)
{
	int st = run_capture(GORO_BENCH_PROG
			     " --quick --no-go --runs 1 sched 2>&1",
			     out, sizeof(out));
	ck_assert_msg(st == 0, "goro-bench exited %d:\n%s", st, out);
	ck_assert_msg(strstr(out, "# sched: ") && strstr(out, " while samples ran\n"),
		      "no machine load note in:\n%s", out);
	for (size_t i = 0; i < NFIGURES; i++) {
		char line[256];
		ck_assert_msg(find_line(sched_figures[i], line, sizeof(line)),
			      "no line for %s in:\n%s", sched_figures[i], out);
		double v;
		char unit[16];
		ck_assert_msg(sscanf(line, "%*s %*s %lf %15s", &v, unit) == 2 &&
				      v > 0,
			      "no positive value in \"%s\"", line);
		ck_assert_msg(strstr(line, "n=1)") != NULL,
			      "no sample count in \"%s\"", line);
		ck_assert_msg(strstr(line, "go:") == NULL,
			      "--no-go ran Go: \"%s\"", line);
	}
}
END_TEST

/* A stand-in for the go command: `go build -o BIN DIR` checks that DIR
 * holds main.go and writes a BIN that prints fixed figures, its spawn
 * figure growing by 100 each run (so the median of 3 runs is 200). */
static const char fake_go[] =
	"#!/bin/sh\n"
	"case \"$1\" in\n"
	"version) exit 0 ;;\n"
	"build) [ \"$2\" = -o ] && [ -f \"$4/main.go\" ] || exit 1\n"
	"  cat > \"$3\" <<'EOF'\n"
	"#!/bin/sh\n"
	"echo x >> \"$0.runs\"\n"
	"echo \"spawn $(( $(wc -l < \"$0.runs\") * 100 )) ns\"\n"
	"echo \"fib-2p 5.5 ms\"\n"
	"echo \"extra 7 ms\"\n"
	"EOF\n"
	"  chmod +x \"$3\" ;;\n"
	"*) exit 1 ;;\n"
	"esac\n";

START_TEST(go_figures_are_merged)
{
	char dir[] = "/tmp/check_bench.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char go[64], cmd[512];
	snprintf(go, sizeof(go), "%s/go", dir);
	FILE *f = fopen(go, "w");
	ck_assert_ptr_nonnull(f);
	fputs(fake_go, f);
	fclose(f);
	chmod(go, 0755);

	snprintf(cmd, sizeof(cmd),
		 "GO=%s TMPDIR=%s " GORO_BENCH_PROG
		 " --quick --runs 3 sched 2>&1", go, dir);
	int st = run_capture(cmd, out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(st == 0, "goro-bench exited %d:\n%s", st, out);

	char line[256];
	ck_assert_msg(find_line("spawn", line, sizeof(line)), "%s", out);
	ck_assert_msg(strstr(line, "go: 200 ns") && strstr(line, "ratio "),
		      "Go's median missing in \"%s\"", line);
	ck_assert_msg(find_line("fib-2p", line, sizeof(line)), "%s", out);
	ck_assert_msg(strstr(line, "go: 5.50 ms"), "\"%s\"", line);
	ck_assert_msg(find_line("yield", line, sizeof(line)), "%s", out);
	ck_assert_msg(!strstr(line, "go:"), "\"%s\"", line);
	ck_assert_msg(strstr(out, "extra [go]"), "Go-only figure missing:\n%s",
		      out);
}
END_TEST

START_TEST(list_and_bad_suite)
{
	int st = run_capture(GORO_BENCH_PROG " --list 2>&1", out, sizeof(out));
	ck_assert_int_eq(st, 0);
	ck_assert_msg(strncmp(out, "sched ", 6) == 0 || strstr(out, "\nsched "),
		      "%s", out);
	st = run_capture(GORO_BENCH_PROG " --no-go nosuchsuite 2>&1", out,
			 sizeof(out));
	ck_assert_int_eq(st, 2);
	ck_assert_msg(strstr(out, "nosuchsuite") != NULL, "%s", out);
}
END_TEST

/* The timer suite too (tools/bench/bench_timer.c): every figure, each
 * a number (ticker drift may be negative), none from Go under --no-go. */
START_TEST(timer_suite_reports_every_figure)
{
	static const char *const figures[] = {
		"create-stop", "live-100k-bytes", "fire-100k-cpu",
		"fire-100k-p99", "ticker-drift", "ctx-fanout-10k",
	};
	int st = run_capture(GORO_BENCH_PROG
			     " --quick --no-go --runs 1 timer 2>&1",
			     out, sizeof(out));
	ck_assert_msg(st == 0, "goro-bench exited %d:\n%s", st, out);
	for (size_t i = 0; i < sizeof(figures) / sizeof(*figures); i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "timer   %s ", figures[i]);
		const char *line = strstr(out, needle);
		ck_assert_msg(line, "no line for %s in:\n%s", figures[i], out);
		double v;
		ck_assert_msg(sscanf(line + strlen(needle), "%lf", &v) == 1,
			      "no value for %s in:\n%s", figures[i], out);
	}
	ck_assert_msg(!strstr(out, "go:"), "--no-go ran Go:\n%s", out);
}
END_TEST

/* The io suite (tools/bench/bench_io.c), where redis-server and the load
 * program exist: every figure, each a number. */
START_TEST(io_suite_reports_every_figure)
{
	static const char *const figures[] = {
		"redis-goro", "redis-async", "redis-pthreads",
		"dns-late-p99", "dns-late-max",
	};
	int st = run_capture(GORO_BENCH_PROG
			     " --quick --no-go --runs 1 io 2>&1",
			     out, sizeof(out));
	ck_assert_msg(st == 0, "goro-bench exited %d:\n%s", st, out);
	if (strstr(out, "figures skipped"))
		return;  /* no redis-server here: nothing to check */
	for (size_t i = 0; i < sizeof(figures) / sizeof(*figures); i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "io      %s ", figures[i]);
		const char *line = strstr(out, needle);
		ck_assert_msg(line, "no line for %s in:\n%s", figures[i], out);
		double v;
		ck_assert_msg(sscanf(line + strlen(needle), "%lf", &v) == 1,
			      "no value for %s in:\n%s", figures[i], out);
	}
}
END_TEST

static Suite *bench_suite(void)
{
	Suite *s = suite_create("bench");
	TCase *tc = tcase_create("goro-bench");
	tcase_add_test(tc, sched_suite_reports_every_figure);
	tcase_add_test(tc, go_figures_are_merged);
	tcase_add_test(tc, list_and_bad_suite);
	tcase_add_test(tc, timer_suite_reports_every_figure);
	tcase_add_test(tc, io_suite_reports_every_figure);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(bench_suite)
