/* SPDX-License-Identifier: MIT */
/*
 * bench_timer.c — suite "timer": what timers, tickers and contexts cost.
 *
 *   create-stop     ns per goro_timer_new(1 h) + goro_timer_stop +
 *                   goro_timer_free, on 1 P (Go: NewTimer + Stop; its
 *                   garbage collector does the free)
 *   live-100k-bytes heap bytes per live timer, for 100,000 timers
 *                   armed for an hour (timer, channel, heap slot), as
 *                   the allocator counts them (Go: HeapAlloc)
 *   fire-100k-cpu   CPU time of the whole process per timer, for 100,000
 *                   timers armed at once by 100 goroutines (1,000 each,
 *                   deadlines spread over 20-120 ms) and received, on 2 Ps
 *   fire-100k-p99   99th percentile lateness of those timers: goro_now()
 *                   when the receiving goroutine has the value, minus the
 *                   deadline, in µs
 *   ticker-drift    a 1 ms ticker received 1,000 times (100 with --quick):
 *                   how far the last tick is past 1,000 periods, in µs
 *   ctx-fanout-10k  µs from cancelling a context to the last of 10,000
 *                   goroutines waiting on its done channel having woken,
 *                   on 2 Ps
 *
 * Each sample is one goro_main.  tools/bench/go/timer does the same work
 * with Go's runtime; its runs are interleaved with goro's.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#include <goro.h>

#include "bench.h"

#define SUITE "timer"
#define MS 1000000LL
#define FIRE_GOROUTINES 100
#define FIRE_PER 1000
#define FANOUT 10000

static long count;
static double sample, sample2;

/* ---- create + stop ------------------------------------------------------------ */

static int create_stop_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (int pass = 0; pass < 2; pass++) {  /* the second is timed */
		int64_t t0 = bench_now();
		for (long i = 0; i < count; i++) {
			goro_timer_t *t = goro_timer_new(3600 * 1000 * MS);
			if (!t || goro_timer_stop(t) != 1)
				bench_fail(SUITE, "create-stop failed");
			goro_timer_free(t);
		}
		sample = (double)(bench_now() - t0) / (double)count;
	}
	return 0;
}

/* ---- 100k live timers: memory -------------------------------------------------- */

/* Bytes the runtime's allocator (jemalloc, under libgoro) has handed out
 * and not taken back: Go's counterpart reads HeapAlloc, the same kind of
 * figure, so neither is blurred by pages an earlier workload left
 * resident. */
static int64_t allocated_bytes(void)
{
	typedef int (*mallctl_fn)(const char *, void *, size_t *, void *,
				  size_t);
	mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
	if (!mallctl)
		bench_fail(SUITE, "jemalloc's mallctl not found");
	uint64_t epoch = 1;
	size_t allocated = 0, len = sizeof(epoch);
	mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch));
	len = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
		bench_fail(SUITE, "jemalloc has no stats.allocated");
	return (int64_t)allocated;
}

static int live_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_timer_t **ts = malloc(sizeof(*ts) * (size_t)count);
	int64_t a0 = allocated_bytes();
	for (long i = 0; i < count; i++)
		if (!(ts[i] = goro_timer_new(3600 * 1000 * MS)))
			bench_fail(SUITE, "goro_timer_new failed");
	sample = (double)(allocated_bytes() - a0) / (double)count;
	for (long i = 0; i < count; i++)
		goro_timer_free(ts[i]);
	free(ts);
	return 0;
}

/* ---- 100k timers firing --------------------------------------------------------- */

static int64_t *lateness;       /* FIRE_GOROUTINES * FIRE_PER */
static goro_wg_t fire_wg;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct due_idx {
	int64_t due;
	int i;
};

static int cmp_due(const void *a, const void *b)
{
	const struct due_idx *x = a, *y = b;
	return (x->due > y->due) - (x->due < y->due);
}

static void fire_worker(void *arg)
{
	long k = (long)(intptr_t)arg;
	unsigned seed = (unsigned)k * 2654435761u + 1;
	goro_timer_t *ts[FIRE_PER];
	int64_t due[FIRE_PER];
	for (int i = 0; i < FIRE_PER; i++) {
		int64_t ns = 20 * MS + (int64_t)(rand_r(&seed) % 100000) * 1000;
		due[i] = goro_now() + ns;
		ts[i] = goro_timer_new(ns);
		if (!ts[i])
			bench_fail(SUITE, "goro_timer_new failed");
	}
	/* Receive in deadline order: a value is taken as soon as it can be. */
	struct due_idx order[FIRE_PER];
	for (int i = 0; i < FIRE_PER; i++)
		order[i] = (struct due_idx){ due[i], i };
	qsort(order, FIRE_PER, sizeof(order[0]), cmp_due);
	for (int n = 0; n < FIRE_PER; n++) {
		int i = order[n].i;
		int64_t v;
		goro_chan_recv(goro_timer_chan(ts[i]), &v);
		lateness[k * FIRE_PER + n] = goro_now() - due[i];
		goro_timer_free(ts[i]);
	}
	goro_wg_done(&fire_wg);
}

static int fire_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int workers = (int)(count / FIRE_PER);
	lateness = malloc(sizeof(*lateness) * (size_t)count);
	goro_wg_t zero = GORO_WG_INIT;
	fire_wg = zero;
	int64_t cpu0 = bench_cpu_now();
	goro_wg_add(&fire_wg, workers);
	for (long k = 0; k < workers; k++)
		if (goro_go(fire_worker, (void *)(intptr_t)k) < 0)
			bench_fail(SUITE, "goro_go failed");
	goro_wg_wait(&fire_wg);
	sample = (double)(bench_cpu_now() - cpu0) / (double)count;
	qsort(lateness, (size_t)count, sizeof(*lateness), cmp_i64);
	sample2 = (double)lateness[count * 99 / 100] / 1000.0;
	free(lateness);
	return 0;
}

/* ---- ticker drift ------------------------------------------------------------------- */

static int ticker_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_ticker_t *tk = goro_ticker_new(MS);
	int64_t t0 = goro_now(), v = 0;
	for (long i = 0; i < count; i++)
		goro_chan_recv(goro_ticker_chan(tk), &v);
	sample = (double)(goro_now() - t0 - count * MS) / 1000.0;
	goro_ticker_free(tk);
	return 0;
}

/* ---- context cancel fan-out ------------------------------------------------------------ */

static goro_ctx_t *fan_ctx;
static goro_wg_t fan_ready, fan_woken;

static void fan_waiter(void *arg)
{
	(void)arg;
	goro_chan_t *done = goro_ctx_done(fan_ctx);
	goro_wg_done(&fan_ready);
	goro_chan_recv(done, NULL);
	goro_wg_done(&fan_woken);
}

static int fanout_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (int pass = 0; pass < 2; pass++) {
		goro_wg_t zero = GORO_WG_INIT;
		fan_ready = zero;
		fan_woken = zero;
		fan_ctx = goro_ctx_with_cancel(goro_ctx_background());
		goro_wg_add(&fan_ready, FANOUT);
		goro_wg_add(&fan_woken, FANOUT);
		for (int i = 0; i < FANOUT; i++)
			if (goro_go(fan_waiter, NULL) < 0)
				bench_fail(SUITE, "goro_go failed");
		goro_wg_wait(&fan_ready);
		goro_sleep(MS);  /* let the last ones park */
		int64_t t0 = bench_now();
		goro_ctx_cancel(fan_ctx);
		goro_wg_wait(&fan_woken);
		sample = (double)(bench_now() - t0) / 1000.0;
		goro_ctx_free(fan_ctx);
	}
	return 0;
}

/* ---- the suite ------------------------------------------------------------------------ */

void bench_timer(const struct bench_opts *opts)
{
	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		count = opts->quick ? 10000 : 1000000;
		bench_goro(1, create_stop_main);
		bench_report(SUITE, "create-stop", "ns", &sample, 1);
		count = opts->quick ? 10000 : 100000;
		bench_goro(1, live_main);
		bench_report(SUITE, "live-100k-bytes", "B", &sample, 1);
		count = (long)FIRE_PER * (opts->quick ? 10 : FIRE_GOROUTINES);
		bench_goro(2, fire_main);
		bench_report(SUITE, "fire-100k-cpu", "ns", &sample, 1);
		bench_report(SUITE, "fire-100k-p99", "us", &sample2, 1);
		count = opts->quick ? 100 : 1000;
		bench_goro(2, ticker_main);
		bench_report(SUITE, "ticker-drift", "us", &sample, 1);
		bench_goro(2, fanout_main);
		bench_report(SUITE, "ctx-fanout-10k", "us", &sample, 1);
		bench_go(&once, SUITE, "timer", opts->quick ? "-quick" : "",
			 "ns");
	}
}
