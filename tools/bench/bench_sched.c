/* SPDX-License-Identifier: MIT */
/*
 * bench_sched.c — suite "sched": what the scheduler itself costs.
 *
 *   spawn      ns per spawn-and-exit: goroutine 1 spawns 1M goroutines that
 *              each only call goro_wg_done, then waits for the WaitGroup
 *              (all Ps)
 *   yield      ns per switch: two goroutines yield to each other on 1 P
 *   yield-cpu  the same in CPU time of the process: the part of the
 *              figure other processes on the machine cannot inflate
 *   fib-1p     fib(35) with a goroutine per node above 20 (n <= 20 computed
 *   fib-2p     serially), on 1 and on 2 Ps, in ms; parents wait for their
 *              two children with an atomic counter and goro_yield
 *   fib-2p/1p  the speedup from the second P (per run, then the median)
 *   fib-cpu-2p/1p  CPU time fib used on 2 Ps over its CPU time on 1 P:
 *              1.0 when the second P wastes nothing (spinning, stealing,
 *              system calls), whatever else runs on the machine
 *   threads-2/1  the same serial work without goro: fib(n-2) twice on one
 *              thread, then on two threads at once; the best fib-2p/1p the
 *              machine allows at that moment (another process busy, or two
 *              vCPUs sharing one physical core, put it well above 0.5)
 *
 * Each sample is one goro_main that runs its workload twice and times the
 * second run: a runtime warmed up (G records and stacks allocated, threads
 * started), as the Go counterpart is, since Go cannot be measured cold
 * without also timing its process start.  tools/bench/go/sched does the
 * same work with Go's runtime; its runs are interleaved with goro's.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <goro.h>

#include "bench.h"

#define SUITE "sched"
#define FIB_CUTOFF 20

/* Workload sizes for this run and the figure each goroutine-1 leaves. */
static long spawn_count, yield_count;
static int fib_n;
static double sample, cpu_sample;

/* ---- spawn ------------------------------------------------------------------ */

static goro_wg_t spawn_wg = GORO_WG_INIT;

static void spawn_body(void *arg)
{
	(void)arg;
	goro_wg_done(&spawn_wg);
}

static void spawn_run(void)
{
	goro_wg_add(&spawn_wg, spawn_count);
	int64_t t0 = bench_now();
	for (long i = 0; i < spawn_count; i++) {
		int64_t id = goro_go(spawn_body, NULL);
		if (id < 0)
			bench_fail(SUITE, "goro_go failed after %ld spawns: %lld",
				   i, (long long)id);
	}
	goro_wg_wait(&spawn_wg);
	sample = (double)(bench_now() - t0) / (double)spawn_count;
}

static int spawn_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	spawn_run();
	spawn_run();
	return 0;
}

/* ---- yield ---------------------------------------------------------------- */

static atomic_bool partner_done;

static void yield_partner(void *arg)
{
	(void)arg;
	for (long i = 0; i < yield_count; i++)
		goro_yield();
	atomic_store_explicit(&partner_done, true, memory_order_release);
}

static void yield_run(void)
{
	atomic_store_explicit(&partner_done, false, memory_order_relaxed);
	if (goro_go(yield_partner, NULL) < 0)
		bench_fail(SUITE, "goro_go failed");
	int64_t t0 = bench_now(), cpu0 = bench_cpu_now();
	for (long i = 0; i < yield_count; i++)
		goro_yield();
	while (!atomic_load_explicit(&partner_done, memory_order_acquire))
		goro_yield();
	/* Each goroutine yielded yield_count times: one switch per yield. */
	sample = (double)(bench_now() - t0) / (double)(2 * yield_count);
	cpu_sample = (double)(bench_cpu_now() - cpu0) /
		     (double)(2 * yield_count);
}

static int yield_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	yield_run();
	yield_run();
	return 0;
}

/* ---- fib ---------------------------------------------------------------------- */

struct fib_task {
	int n;
	int64_t result;
	atomic_int *parent_pending;  /* decremented when result is set */
};

/*
 * The leaf work: plain double recursion, as Go compiles it.  The recursive
 * calls go through a volatile pointer so that GCC cannot rewrite it: at -O2
 * it turns one of the two calls into a loop, which makes the leaf about 2.5x
 * faster than Go's and so dense that on this 2-vCPU VM two copies running at
 * once get no more done than one (measured: 1.05x), leaving nothing for a
 * scheduler to gain from a second P.
 */
static int64_t fib_serial(int n);
static int64_t (*volatile fib_serial_call)(int) = fib_serial;

static int64_t fib_serial(int n)
{
	return n < 2 ? n : fib_serial_call(n - 1) + fib_serial_call(n - 2);
}

static void fib_node(void *arg)
{
	struct fib_task *t = arg;
	if (t->n <= FIB_CUTOFF) {
		t->result = fib_serial(t->n);
	} else {
		/* The children use this frame's memory: wait for both before
		 * returning. */
		atomic_int pending = 2;
		struct fib_task kids[2] = {
			{ t->n - 1, 0, &pending },
			{ t->n - 2, 0, &pending },
		};
		for (int i = 0; i < 2; i++)
			if (goro_go(fib_node, &kids[i]) < 0)
				bench_fail(SUITE, "goro_go failed");
		while (atomic_load_explicit(&pending, memory_order_acquire))
			goro_yield();
		t->result = kids[0].result + kids[1].result;
	}
	atomic_fetch_sub_explicit(t->parent_pending, 1, memory_order_release);
}

static int64_t fib_expected(int n)
{
	int64_t a = 0, b = 1;
	for (int i = 0; i < n; i++) {
		int64_t next = a + b;
		a = b;
		b = next;
	}
	return a;
}

static void fib_run(void)
{
	atomic_int pending = 1;
	struct fib_task root = { fib_n, 0, &pending };
	int64_t t0 = bench_now(), cpu0 = bench_cpu_now();
	fib_node(&root);
	sample = (double)(bench_now() - t0) / 1e6;
	cpu_sample = (double)(bench_cpu_now() - cpu0) / 1e6;
	if (root.result != fib_expected(fib_n))
		bench_fail(SUITE, "fib(%d) computed %lld, not %lld", fib_n,
			   (long long)root.result,
			   (long long)fib_expected(fib_n));
}

static int fib_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fib_run();
	fib_run();
	return 0;
}

/* ---- threads: the machine's own speedup for the leaf work --------------- */

static void *threads_body(void *arg)
{
	int64_t *result = arg;
	*result = fib_serial(fib_n - 2);
	return NULL;
}

/* Time of fib(n-2) twice on two threads over its time twice on one. */
static double threads_ratio(void)
{
	int64_t r[2];
	int64_t t0 = bench_now();
	threads_body(&r[0]);
	threads_body(&r[1]);
	int64_t one = bench_now() - t0;
	pthread_t t[2];
	t0 = bench_now();
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, threads_body, &r[i]))
			bench_fail(SUITE, "pthread_create failed");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	int64_t two = bench_now() - t0;
	if (r[0] != fib_expected(fib_n - 2) || r[1] != r[0])
		bench_fail(SUITE, "fib(%d) computed %lld", fib_n - 2,
			   (long long)r[0]);
	return (double)two / (double)one;
}

/* ---- the suite ------------------------------------------------------------------ */

void bench_sched(const struct bench_opts *opts)
{
	int runs = opts->runs;
	spawn_count = opts->quick ? 10000 : 1000000;
	yield_count = opts->quick ? 10000 : 1000000;
	fib_n = opts->quick ? 27 : 35;

	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < runs; i++) {
		bench_goro(0, spawn_main);
		bench_report(SUITE, "spawn", "ns", &sample, 1);
		bench_goro(1, yield_main);
		bench_report(SUITE, "yield", "ns", &sample, 1);
		bench_report(SUITE, "yield-cpu", "ns", &cpu_sample, 1);
		bench_goro(1, fib_main);
		double fib1 = sample, fib1_cpu = cpu_sample;
		bench_goro(2, fib_main);
		double fib2 = sample, fib2_cpu = cpu_sample;
		double speedup = fib2 / fib1, cpu_ratio = fib2_cpu / fib1_cpu;
		bench_report(SUITE, "fib-1p", "ms", &fib1, 1);
		bench_report(SUITE, "fib-2p", "ms", &fib2, 1);
		bench_report(SUITE, "fib-2p/1p", "x", &speedup, 1);
		bench_report(SUITE, "fib-cpu-2p/1p", "x", &cpu_ratio, 1);
		double threads = threads_ratio();
		bench_report(SUITE, "threads-2/1", "x", &threads, 1);
		bench_go(&once, SUITE, "sched", opts->quick ? "-quick" : "",
			 "ns");
	}
}
