/*
 * bench_sched.c — suite "sched": what the scheduler itself costs.
 *
 *   spawn      ns per spawn-and-exit: goroutine 1 spawns 1M goroutines that
 *              each only bump a counter, then waits for the counter (all Ps)
 *   yield      ns per switch: two goroutines yield to each other on 1 P
 *   fib-1p     fib(35) with a goroutine per node above 20 (n <= 20 computed
 *   fib-2p     serially), on 1 and on 2 Ps, in ms; parents wait for their
 *              two children with an atomic counter and goro_yield
 *   fib-2p/1p  the speedup from the second P (per run, then the median)
 *
 * tools/bench/go/sched does the same work with Go's runtime.
 */
#include <stdatomic.h>
#include <stdint.h>

#include <goro.h>

#include "bench.h"

#define SUITE "sched"
#define FIB_CUTOFF 20

/* Workload sizes for this run and the figure each goroutine-1 leaves. */
static long spawn_count, yield_count;
static int fib_n;
static double sample;

/* ---- spawn ------------------------------------------------------------------ */

static atomic_long spawn_exited;

static void spawn_body(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&spawn_exited, 1, memory_order_release);
}

static int spawn_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store_explicit(&spawn_exited, 0, memory_order_relaxed);
	int64_t t0 = bench_now();
	for (long i = 0; i < spawn_count; i++) {
		int64_t id = goro_go(spawn_body, NULL);
		if (id < 0)
			bench_fail(SUITE, "goro_go failed after %ld spawns: %lld",
				   i, (long long)id);
	}
	while (atomic_load_explicit(&spawn_exited, memory_order_acquire) <
	       spawn_count)
		goro_yield();
	sample = (double)(bench_now() - t0) / (double)spawn_count;
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

static int yield_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store_explicit(&partner_done, false, memory_order_relaxed);
	if (goro_go(yield_partner, NULL) < 0)
		bench_fail(SUITE, "goro_go failed");
	int64_t t0 = bench_now();
	for (long i = 0; i < yield_count; i++)
		goro_yield();
	while (!atomic_load_explicit(&partner_done, memory_order_acquire))
		goro_yield();
	/* Each goroutine yielded yield_count times: one switch per yield. */
	sample = (double)(bench_now() - t0) / (double)(2 * yield_count);
	return 0;
}

/* ---- fib ---------------------------------------------------------------------- */

struct fib_task {
	int n;
	int64_t result;
	atomic_int *parent_pending;  /* decremented when result is set */
};

static int64_t fib_serial(int n)
{
	return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
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

static int fib_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_int pending = 1;
	struct fib_task root = { fib_n, 0, &pending };
	int64_t t0 = bench_now();
	fib_node(&root);
	sample = (double)(bench_now() - t0) / 1e6;
	if (root.result != fib_expected(fib_n))
		bench_fail(SUITE, "fib(%d) computed %lld, not %lld", fib_n,
			   (long long)root.result,
			   (long long)fib_expected(fib_n));
	return 0;
}

/* ---- the suite ------------------------------------------------------------------ */

void bench_sched(const struct bench_opts *opts)
{
	int runs = opts->runs;
	spawn_count = opts->quick ? 10000 : 1000000;
	yield_count = opts->quick ? 10000 : 1000000;
	fib_n = opts->quick ? 27 : 35;

	double spawn[runs], yield[runs], fib1[runs], fib2[runs], speedup[runs];
	for (int i = 0; i < runs; i++) {
		bench_goro(0, spawn_main);
		spawn[i] = sample;
		bench_goro(1, yield_main);
		yield[i] = sample;
		bench_goro(1, fib_main);
		fib1[i] = sample;
		bench_goro(2, fib_main);
		fib2[i] = sample;
		speedup[i] = fib2[i] / fib1[i];
	}
	bench_report(SUITE, "spawn", "ns", spawn, runs);
	bench_report(SUITE, "yield", "ns", yield, runs);
	bench_report(SUITE, "fib-1p", "ms", fib1, runs);
	bench_report(SUITE, "fib-2p", "ms", fib2, runs);
	bench_report(SUITE, "fib-2p/1p", "x", speedup, runs);
	bench_go(opts, SUITE, "sched", opts->quick ? "-quick" : "", "ns");
}
