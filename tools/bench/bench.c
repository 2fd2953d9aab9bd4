/* SPDX-License-Identifier: MIT */
/*
 * bench.c — the goro-bench harness: collects the figures suites report,
 * runs the Go counterparts, prints one line per figure.
 *
 * The harness itself runs outside any goroutine (in goro-bench's main
 * thread, between goro_main calls), so it may use malloc and fork freely.
 *
 * Go counterparts are plain `package main` directories under the Go source
 * dir.  Each is built once per goro-bench invocation into a private temp
 * dir, in GOPATH mode with the proxy off (no go.mod, no network), then run
 * `runs` times.  Go's figures are medians over those runs, like goro's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#include "bench.h"

/* Samples of one figure, from goro or from Go. */
struct samples {
	double *v;
	int n, cap;
};

/* One line of the report: goro's samples, and Go's when Go ran the same
 * figure.  Samples accumulate over calls, so a suite may report one sample
 * per run and interleave goro's runs with Go's. */
struct figure {
	char suite[32];
	char name[48];
	char unit[16];
	struct samples goro, go;
};

static struct figure *figures;
static size_t nfigures, figures_cap;

/* ---- statistics ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *samples, int n)
{
	if (n <= 0)
		return NAN;
	double sorted[n];
	memcpy(sorted, samples, sizeof(double) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

struct summary {
	double median, min, max;
	int n;
};

static struct summary summarize(const struct samples *s)
{
	struct summary r = { .median = bench_median(s->v, s->n),
			     .min = s->v[0], .max = s->v[0], .n = s->n };
	for (int i = 1; i < s->n; i++) {
		if (s->v[i] < r.min)
			r.min = s->v[i];
		if (s->v[i] > r.max)
			r.max = s->v[i];
	}
	return r;
}

static void out_of_memory(void)
{
	fprintf(stderr, "goro-bench: out of memory\n");
	exit(1);
}

static void samples_add(struct samples *s, const double *v, int n)
{
	if (s->n + n > s->cap) {
		s->cap = s->n + n > 2 * s->cap ? s->n + n : 2 * s->cap;
		s->v = realloc(s->v, sizeof(double) * (size_t)s->cap);
		if (!s->v)
			out_of_memory();
	}
	memcpy(s->v + s->n, v, sizeof(double) * (size_t)n);
	s->n += n;
}

/* ---- figures ---------------------------------------------------------------- */

static void copy_word(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static struct figure *figure_find(const char *suite, const char *name)
{
	for (size_t i = 0; i < nfigures; i++)
		if (!strcmp(figures[i].suite, suite) &&
		    !strcmp(figures[i].name, name))
			return &figures[i];
	return NULL;
}

static struct figure *figure_add(const char *suite, const char *name,
				 const char *unit)
{
	if (nfigures == figures_cap) {
		figures_cap = figures_cap ? 2 * figures_cap : 16;
		figures = realloc(figures, figures_cap * sizeof(*figures));
		if (!figures)
			out_of_memory();
	}
	struct figure *f = &figures[nfigures++];
	memset(f, 0, sizeof(*f));
	copy_word(f->suite, sizeof(f->suite), suite);
	copy_word(f->name, sizeof(f->name), name);
	copy_word(f->unit, sizeof(f->unit), unit);
	return f;
}

static void figures_clear(void)
{
	for (size_t i = 0; i < nfigures; i++) {
		free(figures[i].goro.v);
		free(figures[i].go.v);
	}
	nfigures = 0;
}

void bench_report(const char *suite, const char *figure, const char *unit,
		  double *samples, int n)
{
	if (n <= 0)
		return;
	struct figure *f = figure_find(suite, figure);
	if (!f)
		f = figure_add(suite, figure, unit);
	copy_word(f->unit, sizeof(f->unit), unit);
	samples_add(&f->goro, samples, n);
}

/* ---- machine load ------------------------------------------------------------ */

/* The machine is shared: what other processes took during a suite says
 * how far to trust its figures (and a parallel speedup needs idle CPUs). */
struct cpu_usage {
	double busy_s, total_s;  /* all CPUs, from /proc/stat */
	double ours_s;           /* this process and its reaped children */
};

static struct cpu_usage cpu_usage_now(void)
{
	struct cpu_usage u = { 0, 0, 0 };
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	if (f) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) != 8)
			memset(v, 0, sizeof(v));
		fclose(f);
	}
	double tick = (double)sysconf(_SC_CLK_TCK);
	/* user nice system idle iowait irq softirq steal */
	u.busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
	u.total_s = u.busy_s + (double)(v[3] + v[4]) / tick;
	struct rusage self, children;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	const struct timeval *t[] = { &self.ru_utime, &self.ru_stime,
				      &children.ru_utime, &children.ru_stime };
	for (size_t i = 0; i < 4; i++)
		u.ours_s += (double)t[i]->tv_sec + (double)t[i]->tv_usec / 1e6;
	return u;
}

/* CPU seconds other processes used between a and b, and in all. */
static void others_usage(struct cpu_usage a, struct cpu_usage b,
			 double *others, double *total)
{
	*total = b.total_s - a.total_s;
	*others = (b.busy_s - a.busy_s) - (b.ours_s - a.ours_s);
	if (*others < 0)
		*others = 0;
}

static double others_share(struct cpu_usage a, struct cpu_usage b)
{
	double others, total;
	others_usage(a, b, &others, &total);
	return total <= 0 ? 0 : others > total ? 1 : others / total;
}

/* What other processes used while the kept samples ran, for the note. */
static double sampling_others_s, sampling_total_s;

/*
 * With --settle, a sample is taken when the machine is quiet: wait for a
 * moment when other processes leave the CPUs idle, take the sample, and take
 * it again if they took more than QUIET_SHARE of the CPUs meanwhile, all
 * within settle_max_ms per sample (then the last one is kept).  Without it
 * (0), every sample is kept as it comes.
 */
#define QUIET_SHARE 0.1
#define QUIET_PROBE_MS 200

static int settle_max_ms;

void bench_set_settle(int max_ms)
{
	settle_max_ms = max_ms;
}

struct sampling {
	int64_t deadline;
	struct cpu_usage begin;
};

static void sampling_init(struct sampling *s)
{
	s->deadline = bench_now() + (int64_t)settle_max_ms * 1000000;
}

static void sample_begin(struct sampling *s)
{
	while (bench_now() < s->deadline) {
		struct cpu_usage a = cpu_usage_now();
		struct timespec ts = { 0, QUIET_PROBE_MS * 1000000L };
		nanosleep(&ts, NULL);
		if (others_share(a, cpu_usage_now()) < QUIET_SHARE)
			break;
	}
	s->begin = cpu_usage_now();
}

/* Keep the sample just taken?  False: take it again. */
static bool sample_end(struct sampling *s)
{
	double others, total;
	others_usage(s->begin, cpu_usage_now(), &others, &total);
	if (total > 0 && others > QUIET_SHARE * total &&
	    bench_now() < s->deadline)
		return false;
	sampling_others_s += others;
	sampling_total_s += total;
	return true;
}

/* ---- small services for suites -------------------------------------------- */

int64_t bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_goro(int procs, int (*fn)(int, char **))
{
	if (procs > 0) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", procs);
		setenv("GORO_MAXPROCS", buf, 1);
	} else {
		unsetenv("GORO_MAXPROCS");
	}
	char *argv[] = { (char *)"goro-bench", NULL };
	struct sampling sampling;
	sampling_init(&sampling);
	int r;
	do {
		sample_begin(&sampling);
		r = goro_main(fn, 1, argv);
	} while (r >= 0 && !sample_end(&sampling));
	if (r < 0) {
		fprintf(stderr, "goro-bench: goro_main failed: %s\n",
			strerror(-r));
		exit(1);
	}
	return r;
}

void bench_fail(const char *suite, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "goro-bench: %s: ", suite);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- running programs ----------------------------------------------------- */

/* Run argv (argv[0] looked up in PATH) in directory `dir` (NULL: ours)
 * with `env` ("NAME=value" strings, NULL-terminated) added to the
 * environment.  Its stdout goes to *out (malloc'd, NUL-terminated; NULL to
 * discard); its stderr to ours, or with `quiet` to *out as well.  Returns
 * the exit status, or -1. */
static int run_program(const char *dir, char *const argv[],
		       char *const env[], char **out, bool quiet)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		if (quiet)
			dup2(pipefd[1], STDERR_FILENO);
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		if (dir && chdir(dir) != 0) {
			fprintf(stderr, "goro-bench: %s: %s\n", dir,
				strerror(errno));
			_exit(127);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "goro-bench: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;
	while (buf && (r = read(pipefd[0], buf + len, cap - len - 1)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)r;
		if (cap - len < 2) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
		}
	}
	close(pipefd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (buf)
		buf[len] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- Go counterparts ------------------------------------------------------------ */

static char *tmp_dir;           /* built Go programs, removed at exit */

struct go_build {
	char prog[32];
	char *path;                     /* NULL: the build failed */
};
static struct go_build go_builds[16];
static int ngo_builds;

/* The go command: $GO, else the one configure found, else go in PATH.
 * NULL when there is none. */
static const char *go_command(void)
{
	static const char *go;
	static bool looked;
	if (looked)
		return go;
	looked = true;
	const char *candidates[] = { getenv("GO"), GORO_BENCH_GO, "go" };
	for (size_t i = 0; i < sizeof(candidates) / sizeof(*candidates); i++) {
		const char *c = candidates[i];
		if (!c || !*c)
			continue;
		char *argv[] = { (char *)c, (char *)"version", NULL };
		if (run_program(NULL, argv, NULL, NULL, true) == 0) {
			go = c;
			break;
		}
	}
	return go;
}

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

void bench_cleanup(void)
{
	if (tmp_dir) {
		/* The go build cache may hold read-only directories. */
		char *argv[] = { (char *)"chmod", (char *)"-R", (char *)"u+w",
				 tmp_dir, NULL };
		run_program(NULL, argv, NULL, NULL, true);
		nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(tmp_dir);
		tmp_dir = NULL;
	}
	for (int i = 0; i < ngo_builds; i++)
		free(go_builds[i].path);
	ngo_builds = 0;
	figures_clear();
	free(figures);
	figures = NULL;
	nfigures = figures_cap = 0;
}

/* Build tools/bench/go/<prog> once; the binary's path, or NULL. */
static const char *go_build(const struct bench_opts *opts, const char *go,
			    const char *prog)
{
	for (int i = 0; i < ngo_builds; i++)
		if (!strcmp(go_builds[i].prog, prog))
			return go_builds[i].path;
	if (ngo_builds == (int)(sizeof(go_builds) / sizeof(*go_builds)))
		return NULL;
	struct go_build *b = &go_builds[ngo_builds++];
	copy_word(b->prog, sizeof(b->prog), prog);
	b->path = NULL;

	if (!tmp_dir) {
		const char *t = getenv("TMPDIR");
		if (asprintf(&tmp_dir, "%s/goro-bench.XXXXXX",
			     t && *t ? t : "/tmp") < 0)
			return tmp_dir = NULL;
		if (!mkdtemp(tmp_dir)) {
			fprintf(stderr, "goro-bench: mkdtemp %s: %s\n", tmp_dir,
				strerror(errno));
			free(tmp_dir);
			return tmp_dir = NULL;
		}
		/* go build runs in the source dir: the output path must not
		 * be relative. */
		char *abs = realpath(tmp_dir, NULL);
		if (abs) {
			free(tmp_dir);
			tmp_dir = abs;
		}
	}
	char *src = NULL, *bin = NULL, *cache = NULL;
	if (asprintf(&src, "%s/%s", opts->go_dir, prog) < 0 ||
	    asprintf(&bin, "%s/%s", tmp_dir, prog) < 0 ||
	    asprintf(&cache, "GOCACHE=%s/gocache", tmp_dir) < 0)
		goto out;
	/* GOPATH mode: no go.mod needed, nothing fetched; it builds "." (it
	 * refuses absolute import paths).  The build cache stays the user's
	 * when there is one (fast rebuilds), else ours. */
	char *env[] = { (char *)"GO111MODULE=off", (char *)"GOFLAGS=",
			(char *)"GOPROXY=off", (char *)"GOTOOLCHAIN=local",
			getenv("GOCACHE") || getenv("HOME") ? NULL : cache,
			NULL };
	char *argv[] = { (char *)go, (char *)"build", (char *)"-o", bin,
			 (char *)".", NULL };
	char *output = NULL;
	int st = run_program(src, argv, env, &output, true);
	if (st == 0) {
		b->path = bin;
		bin = NULL;
	} else {
		fprintf(stderr, "goro-bench: go build %s failed (status %d):\n%s",
			src, st, output ? output : "");
	}
	free(output);
out:
	free(src);
	free(bin);
	free(cache);
	return b->path;
}

/* Add the "<figure> <value> [unit]" lines of one Go run to the figures. */
static void go_collect(const char *suite, const char *unit, char *output)
{
	char *save = NULL;
	for (char *line = strtok_r(output, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[48], line_unit[16] = "";
		double v;
		if (sscanf(line, "%47s %lf %15s", name, &v, line_unit) < 2)
			continue;
		struct figure *f = figure_find(suite, name);
		if (!f)
			f = figure_add(suite, name,
				       *line_unit ? line_unit : unit);
		samples_add(&f->go, &v, 1);
	}
}

void bench_go(const struct bench_opts *opts, const char *suite,
	      const char *prog, const char *args, const char *unit)
{
	if (!opts->go)
		return;
	const char *go = go_command();
	if (!go)
		return;
	const char *bin = go_build(opts, go, prog);
	if (!bin)
		return;

	char *argbuf = strdup(args ? args : "");
	char *argv[32] = { (char *)bin };
	int argc = 1;
	char *save = NULL;
	for (char *a = strtok_r(argbuf, " ", &save); a && argc < 31;
	     a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	argv[argc] = NULL;

	for (int run = 0; run < opts->runs; run++) {
		char *output = NULL;
		struct sampling sampling;
		sampling_init(&sampling);
		int st;
		do {
			free(output);
			output = NULL;
			sample_begin(&sampling);
			st = run_program(NULL, argv, NULL, &output, false);
		} while (st == 0 && !sample_end(&sampling));
		if (st != 0) {
			fprintf(stderr, "goro-bench: %s: go counterpart %s "
					"exited with status %d\n",
				suite, prog, st);
			free(output);
			break;
		}
		if (output)
			go_collect(suite, unit, output);
		free(output);
	}
	free(argbuf);
}

/* ---- printing ------------------------------------------------------------------ */

/* Three significant digits or so, without exponents for everyday values. */
static const char *fmt_value(char *buf, size_t cap, double v)
{
	double a = fabs(v);
	const char *f = a >= 100 ? "%.0f" : a >= 10 ? "%.1f" :
			a >= 1 ? "%.2f" : "%.3f";
	snprintf(buf, cap, f, v);
	return buf;
}

/* "sched   yield   23.1 ns   (min 22.8, max 24.0, n=5)" */
static int format_samples(char *line, size_t cap, const struct figure *f,
			  const char *name, const struct samples *s)
{
	char a[32], b[32], c[32];
	struct summary r = summarize(s);
	return snprintf(line, cap, "%-7s %-14s %9s %-5s (min %s, max %s, n=%d)",
			f->suite, name, fmt_value(a, sizeof(a), r.median),
			f->unit, fmt_value(b, sizeof(b), r.min),
			fmt_value(c, sizeof(c), r.max), r.n);
}

static void print_line(const struct figure *f)
{
	char line[256], go[32];
	if (!f->goro.n) {
		char name[64];
		snprintf(name, sizeof(name), "%s [go]", f->name);
		format_samples(line, sizeof(line), f, name, &f->go);
		printf("%s\n", line);
	} else if (!f->go.n) {
		format_samples(line, sizeof(line), f, f->name, &f->goro);
		printf("%s\n", line);
	} else {
		format_samples(line, sizeof(line), f, f->name, &f->goro);
		double goro_median = bench_median(f->goro.v, f->goro.n);
		double go_median = bench_median(f->go.v, f->go.n);
		printf("%-68s go: %s %s   ratio %.2f\n", line,
		       fmt_value(go, sizeof(go), go_median), f->unit,
		       goro_median / go_median);
	}
}

static void print_json_samples(const char *key, const struct samples *s)
{
	struct summary r = summarize(s);
	printf(",\"%s\":{\"median\":%g,\"min\":%g,\"max\":%g,\"n\":%d}", key,
	       r.median, r.min, r.max, r.n);
}

static void print_json(const struct figure *f)
{
	printf("{\"suite\":\"%s\",\"figure\":\"%s\",\"unit\":\"%s\"", f->suite,
	       f->name, f->unit);
	if (f->goro.n)
		print_json_samples("goro", &f->goro);
	if (f->go.n)
		print_json_samples("go", &f->go);
	printf("}\n");
}

void bench_run_suite(const struct bench_suite *suite,
		     const struct bench_opts *opts)
{
	sampling_others_s = sampling_total_s = 0;
	suite->run(opts);
	double others = sampling_total_s > 0 ?
				sampling_others_s / sampling_total_s : 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (opts->json)
		printf("{\"suite\":\"%s\",\"cpus\":%ld,\"others_cpu_share\":%.3f}\n",
		       suite->name, ncpu, others);
	else
		printf("# %s: %ld CPUs, other processes used %.0f%% of them "
		       "while samples ran\n", suite->name, ncpu, 100 * others);
	for (size_t i = 0; i < nfigures; i++) {
		if (opts->json)
			print_json(&figures[i]);
		else
			print_line(&figures[i]);
	}
	figures_clear();
	fflush(stdout);
}
