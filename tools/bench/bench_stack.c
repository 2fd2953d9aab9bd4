/* SPDX-License-Identifier: MIT */
/*
 * bench_stack.c — suite "stack": what goroutine stacks cost.
 *
 *   park-create      ns per goroutine to spawn 1M goroutines and have every
 *                    one of them run and park on a channel receive, on all
 *                    Ps, with the default vm.max_map_count and guards
 *   park-create-warm the same again in the same process, once the first
 *                    million have exited: their stacks are reused, so this
 *                    is the runtime's own cost, without fresh pages
 *   park-resident    resident bytes per parked goroutine (RSS growth / 1M)
 *   park-pagetables  page-table bytes per parked goroutine (VmPTE growth /
 *                    1M): not in RSS, but memory all the same; at the
 *                    default 256 KiB limit eight stack tops share a
 *                    page-table page
 *   grow-1mib        us for a new goroutine to recurse through 1 MiB of
 *                    stack (growth faults and page faults included: the
 *                    slot it reuses had its deep pages given back)
 *   rerun-1mib       us for the same recursion again in that goroutine, on
 *                    the stack already grown: grow-1mib minus this is what
 *                    growth costs
 *   mprotect-ceiling goroutines that can be parked at once with the
 *                    mprotect guards (GORO_STACK_GUARD=mprotect, as on
 *                    kernels before 6.13) at this machine's
 *                    vm.max_map_count: spawned until goro_go fails (at
 *                    most CEILING_MAX; one sample, not per run)
 *   page-floor       ns for the kernel to give this process one fresh,
 *                    zeroed 4 KiB page in the cheapest way it offers (one
 *                    MADV_POPULATE_WRITE over as many contiguous pages as
 *                    park-create has goroutines), without goro: a parked
 *                    goroutine needs a page of its own, so park-create
 *                    cannot go below this on the same machine
 *
 * tools/bench/go/stack does the same with Go's runtime; its runs are
 * interleaved with goro's.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <goro.h>

#include "bench.h"

#define SUITE "stack"
#define GROW_BYTES (1024 * 1024)
#define FRAME_PAD 1000
#define GROW_REPEATS 20

static long park_count;
static double create_ns, warm_create_ns, resident_bytes, pagetable_bytes;
static double grow_us, rerun_us;

/* VmRSS and VmPTE of this process, in bytes. */
static void memory_now(long *rss, long *pte)
{
	char line[256];
	*rss = *pte = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		bench_fail(SUITE, "cannot read /proc/self/status");
	while (fgets(line, sizeof(line), f)) {
		long kib;
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			*rss = kib * 1024;
		else if (sscanf(line, "VmPTE: %ld kB", &kib) == 1)
			*pte = kib * 1024;
	}
	fclose(f);
}

/* ---- park ----------------------------------------------------------------- */

static atomic_long parked, woken;

static void park_body(void *arg)
{
	goro_chan_t *release = arg;
	atomic_fetch_add_explicit(&parked, 1, memory_order_relaxed);
	goro_chan_recv(release, NULL);
	atomic_fetch_add_explicit(&woken, 1, memory_order_relaxed);
}

/* One round: park_count goroutines spawned, run and parked, then released
 * and waited for.  Returns the ns per goroutine until all had parked; with
 * memory, also what they held while parked. */
static double park_round(bool memory)
{
	atomic_store(&parked, 0);
	atomic_store(&woken, 0);
	goro_chan_t *release = goro_chan_make(0, 0);
	if (!release)
		bench_fail(SUITE, "goro_chan_make failed");
	long rss0, pte0, rss1, pte1;
	if (memory)
		memory_now(&rss0, &pte0);
	int64_t t0 = bench_now();
	for (long i = 0; i < park_count; i++) {
		int64_t id = goro_go(park_body, release);
		if (id < 0)
			bench_fail(SUITE, "goro_go failed after %ld spawns: %lld",
				   i, (long long)id);
	}
	while (atomic_load_explicit(&parked, memory_order_relaxed) < park_count)
		goro_sleep(100 * 1000);
	double ns = (double)(bench_now() - t0) / (double)park_count;
	if (memory) {
		memory_now(&rss1, &pte1);
		resident_bytes = (double)(rss1 - rss0) / (double)park_count;
		pagetable_bytes = (double)(pte1 - pte0) / (double)park_count;
	}
	goro_chan_close(release);
	while (atomic_load_explicit(&woken, memory_order_relaxed) < park_count)
		goro_sleep(100 * 1000);
	goro_chan_free(release);
	return ns;
}

static int park_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	create_ns = park_round(true);
	/* The dead goroutines' stacks are pooled now: the second round is
	 * what the runtime itself costs, without the kernel's fresh pages. */
	warm_create_ns = park_round(false);
	return 0;
}

/* ---- grow ------------------------------------------------------------------- */

/* About FRAME_PAD bytes per frame; not a tail call, not inlined. */
static long recurse(long depth);
static long (*volatile recurse_call)(long) = recurse;

static long recurse(long depth)
{
	volatile char pad[FRAME_PAD];
	pad[0] = (char)depth;
	if (depth == 0)
		return pad[0];
	return recurse_call(depth - 1) + pad[0];
}

static atomic_bool grown;

static void grow_body(void *arg)
{
	double *times = arg;
	long depth = GROW_BYTES / FRAME_PAD;
	int64_t t0 = bench_now();
	recurse_call(depth);
	int64_t t1 = bench_now();
	recurse_call(depth);
	int64_t t2 = bench_now();
	times[0] = (double)(t1 - t0) / 1e3;
	times[1] = (double)(t2 - t1) / 1e3;
	atomic_store_explicit(&grown, true, memory_order_release);
}

static int grow_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	double first[GROW_REPEATS], again[GROW_REPEATS];
	goro_attr_t attr = { .name = "grow", .stack_max = 2 * GROW_BYTES };
	for (int i = 0; i < GROW_REPEATS; i++) {
		double times[2];
		atomic_store(&grown, false);
		if (goro_go_attr(&attr, grow_body, times) < 0)
			bench_fail(SUITE, "goro_go failed");
		while (!atomic_load_explicit(&grown, memory_order_acquire))
			goro_yield();
		first[i] = times[0];
		again[i] = times[1];
	}
	grow_us = bench_median(first, GROW_REPEATS);
	rerun_us = bench_median(again, GROW_REPEATS);
	return 0;
}

/* ---- the mprotect fallback's ceiling ------------------------------------------- */

#define CEILING_MAX 4000000L

static long ceiling_limit, ceiling_count;

static int ceiling_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store(&parked, 0);
	atomic_store(&woken, 0);
	goro_chan_t *release = goro_chan_make(0, 0);
	if (!release)
		bench_fail(SUITE, "goro_chan_make failed");
	long n = 0;
	while (n < ceiling_limit && goro_go(park_body, release) > 0)
		n++;
	while (atomic_load_explicit(&parked, memory_order_relaxed) < n)
		goro_sleep(100 * 1000);
	ceiling_count = n;
	goro_chan_close(release);
	while (atomic_load_explicit(&woken, memory_order_relaxed) < n)
		goro_sleep(100 * 1000);
	goro_chan_free(release);
	return 0;
}

static double mprotect_ceiling(bool quick)
{
	ceiling_limit = quick ? 50000 : CEILING_MAX;
	const char *was = getenv("GORO_STACK_GUARD");
	char *saved = was ? strdup(was) : NULL;
	setenv("GORO_STACK_GUARD", "mprotect", 1);
	bench_goro(0, ceiling_main);
	if (saved) {
		setenv("GORO_STACK_GUARD", saved, 1);
		free(saved);
	} else {
		unsetenv("GORO_STACK_GUARD");
	}
	return (double)ceiling_count;
}

/* ---- the machine's floor: one fresh page ------------------------------------- */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double page_floor_ns(long pages)
{
	size_t len = (size_t)pages * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		bench_fail(SUITE, "mmap of %ld pages failed", pages);
	int64_t t0 = bench_now();
	if (madvise(p, len, MADV_POPULATE_WRITE) != 0)
		bench_fail(SUITE, "MADV_POPULATE_WRITE failed (Linux 5.14+)");
	double ns = (double)(bench_now() - t0) / (double)pages;
	munmap(p, len);
	return ns;
}

/* ---- the suite ---------------------------------------------------------------- */

void bench_stack(const struct bench_opts *opts)
{
	park_count = opts->quick ? 10000 : 1000000;
	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		bench_goro(0, park_main);
		bench_report(SUITE, "park-create", "ns", &create_ns, 1);
		bench_report(SUITE, "park-create-warm", "ns", &warm_create_ns, 1);
		bench_report(SUITE, "park-resident", "bytes", &resident_bytes, 1);
		bench_report(SUITE, "park-pagetables", "bytes", &pagetable_bytes, 1);
		bench_goro(1, grow_main);
		bench_report(SUITE, "grow-1mib", "us", &grow_us, 1);
		bench_report(SUITE, "rerun-1mib", "us", &rerun_us, 1);
		double floor_ns = page_floor_ns(park_count);
		bench_report(SUITE, "page-floor", "ns", &floor_ns, 1);
		bench_go(&once, SUITE, "stack", opts->quick ? "-quick" : "", "ns");
	}
	double ceiling = mprotect_ceiling(opts->quick);
	bench_report(SUITE, "mprotect-ceiling", "goroutines", &ceiling, 1);
}
