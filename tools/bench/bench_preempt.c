/* SPDX-License-Identifier: MIT */
/*
 * bench_preempt.c — suite "preempt": what asynchronous preemption buys and
 * what it costs, at several quanta (GORO_QUANTUM), against the cooperative
 * runtime (GORO_ASYNCPREEMPT=0) and against Go 1.19, whose quantum is
 * 10 ms (its figures appear beside goro's @10ms rows).
 *
 *   late-{p50,p99,max}@Q  (a) wake-up lateness of a goroutine sleeping 1 ms
 *                         500 times beside a hog that never calls the
 *                         runtime, on 1 P (µs)
 *   late-2p-*@1ms         the same with 100 µs sleeps on 2 Ps: no
 *                         preemption needed, the idle P's M runs the timer
 *   late-KIND-{p50,p99,max}@1ms
 *                         (a) the same at a 1 ms quantum beside other hogs
 *                         (late-*@1ms is the plain spin): "now" calls
 *                         goro_now() in a loop (a preemption point),
 *                         "memmove" copies 64 MiB buffers in libc, "zlib"
 *                         runs compress2, "sqlite" runs a query in an
 *                         in-memory database, "qsort" sorts with an
 *                         application comparator.  All but "now" are
 *                         stopped at arbitrary instructions in libraries
 *                         that keep thread-tied state, so they park with
 *                         their thread
 *   late-memmove-*@10ms   the memmove hog at Go's quantum, beside Go's copy()
 *   loss-waiting@Q        (b) throughput lost by two hogs sharing 1 P
 *                         (always something waiting: one preemption per
 *                         turn of 8 quanta, as only hogs wait — see
 *                         src/sysmon/sysmon.c) against the cooperative runtime, where
 *                         one of them simply runs (%).  Throughput is hog
 *                         iterations per CPU-second of the whole process
 *                         (sysmon included), so that time the machine gave
 *                         to other processes does not count as loss.  A
 *                         plain loop's speed drifts by ±20% between
 *                         300 ms windows on this VM, so preemptive and
 *                         cooperative runs alternate, LOSS_PAIRS pairs of
 *                         them, and each sample is the median of the
 *                         pairs' losses
 *   loss-idle@Q           (b) the same for one hog alone: nothing waits, so
 *                         nothing should be signalled (%)
 *   signal-cost           the floor under all of this: CPU time a spinning
 *                         thread loses per SIGURG sent by another thread
 *                         every 100 µs, without goro (µs)
 *   timer-cost            the floor of the other design
 *                         (src/sysmon/sysmon.c says why it was not
 *                         chosen): CPU time a spinning
 *                         thread loses per tick of its own 100 µs
 *                         timer_create(SIGEV_THREAD_ID) timer (µs)
 *   cost-klt@100us        CPU time one preemption costs when the goroutine
 *                         parks with its thread and its P is handed to
 *                         another M (KLT-switching; two hogs on 1 P taking
 *                         turns every quantum, GORO_DEBUG=hogturn=1, µs);
 *                         see preempt_cost() for the method
 *   cost-switch@100us     the same for a hog in thread-agnostic code
 *                         (GORO_THREAD_AGNOSTIC): a plain context switch on
 *                         the same thread, no hand-off (µs)
 *   turns-{klt,switch}@100us
 *                         preemptions per second in those runs: at most
 *                         one per quantum (10,000/s); fewer when sysmon or
 *                         a thread handed the P wakes late
 *   futex-handoff         the floor under cost-klt: CPU time two plain
 *                         threads need per hand-off when each wakes the
 *                         other through a futex and waits (µs)
 *   tail-{p50,p99,p999}@Q (c) sojourn time of short requests: open-loop
 *                         Poisson arrivals, 99.5% need 4 µs of CPU and 0.5%
 *                         need 10 ms, a goroutine each, 70% load on 2 Ps
 *                         (µs); tail-*@coop without async preemption;
 *                         tail-*@1ms-agnostic with the requests' code
 *                         declared thread-agnostic (no thread hand-off)
 *
 * Per-run figures are reported one sample at a time, so goro's and Go's
 * runs interleave and the medians compare runs made under the same load.
 */
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>
#include <sqlite3.h>
#include <zlib.h>

#include "bench.h"

#define SUITE "preempt"
#define US 1000LL
#define MS (1000 * 1000LL)

static const char *const quanta[] = { "10ms", "1ms", "100us", "50us" };
static const char *const tail_quanta[] = { "10ms", "1ms", "100us", "30us" };
#define NQ (sizeof(quanta) / sizeof(*quanta))

static bool quick;

static void set_mode(const char *quantum, bool async)
{
	setenv("GORO_QUANTUM", quantum, 1);
	setenv("GORO_ASYNCPREEMPT", async ? "1" : "0", 1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Percentile of a sorted array. */
static double pct(const int64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i];
}

/* ---- CPU work of a known length ------------------------------------------ */

static double iters_per_us;

__attribute__((noinline)) static void spin(long iters)
{
	for (long i = 0; i < iters; i++)
		__asm__ volatile("");
}

static void calibrate(void)
{
	double best = 0;
	for (int k = 0; k < 5; k++) {
		long n = 2000000;
		int64_t t0 = bench_now();
		spin(n);
		double rate = (double)n / ((double)(bench_now() - t0) / 1e3);
		if (rate > best)
			best = rate;
	}
	iters_per_us = best;
}

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- hogs -------------------------------------------------------------------- */

static volatile bool hog_stop;
static volatile uint64_t hog_iters[2];

static void hog(void *arg)
{
	volatile uint64_t *ctr = &hog_iters[(intptr_t)arg];
	while (!hog_stop)
		(*ctr)++;
}

/* The same loop, declared thread-agnostic: it keeps nothing tied to its
 * thread, so a preemption there is a plain switch and it may move. */
GORO_THREAD_AGNOSTIC static void hog_agnostic(void *arg)
{
	volatile uint64_t *ctr = &hog_iters[(intptr_t)arg];
	while (!hog_stop)
		(*ctr)++;
}
GORO_THREAD_AGNOSTIC_REGISTER()

/* Hogs that spend their time in libraries.  Each loops until hog_stop;
 * the sleeper waits for it to finish its last unit of work (hogs_alive),
 * so no hog is abandoned inside a library when goro_main returns. */

static atomic_int hogs_alive;

static void hog_now(void *arg)
{
	(void)arg;
	while (!hog_stop)
		hog_iters[0] += (uint64_t)goro_now() & 1;
}

#define MEMMOVE_FULL (64u << 20)
static size_t memmove_size;
static char *memmove_buf[2];

static void hog_memmove(void *arg)
{
	(void)arg;
	while (!hog_stop) {
		memmove(memmove_buf[0], memmove_buf[1], memmove_size);
		memmove(memmove_buf[1], memmove_buf[0], memmove_size);
		hog_iters[0]++;
	}
}

#define ZLIB_INPUT (1u << 20)
static unsigned char *zlib_in, *zlib_out;
static uLong zlib_bound;

static void hog_zlib(void *arg)
{
	(void)arg;
	while (!hog_stop) {
		uLongf len = zlib_bound;
		if (compress2(zlib_out, &len, zlib_in, ZLIB_INPUT, 6) != Z_OK)
			bench_fail(SUITE, "compress2 failed");
		hog_iters[0] += len;
	}
}

static int sqlite_stop(void *arg)
{
	(void)arg;
	return hog_stop;
}

/* A query that is all CPU inside sqlite: a million-row recursive CTE.  The
 * progress handler interrupts it once hog_stop is set. */
static void hog_sqlite(void *arg)
{
	(void)arg;
	sqlite3 *db;
	sqlite3_stmt *q;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
			       "SELECT x + 1 FROM c WHERE x < 1000000) "
			       "SELECT sum(x % 7) FROM c",
			       -1, &q, NULL) != SQLITE_OK)
		bench_fail(SUITE, "sqlite: %s", sqlite3_errmsg(db));
	sqlite3_progress_handler(db, 1000, sqlite_stop, NULL);
	while (!hog_stop) {
		int rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			hog_iters[0] += (uint64_t)sqlite3_column_int64(q, 0);
		else if (rc != SQLITE_INTERRUPT)
			bench_fail(SUITE, "sqlite: %s", sqlite3_errmsg(db));
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
}

#define QSORT_N (256 * 1024)
static uint32_t qsort_keys[QSORT_N];

__attribute__((noinline)) static int cmp_key(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void hog_qsort(void *arg)
{
	(void)arg;
	uint32_t x = 0x9e3779b9;
	while (!hog_stop) {
		for (size_t i = 0; i < QSORT_N; i++) {
			x ^= x << 13; x ^= x >> 17; x ^= x << 5;
			qsort_keys[i] = x;
		}
		qsort(qsort_keys, QSORT_N, sizeof(*qsort_keys), cmp_key);
		hog_iters[0] += qsort_keys[0];
	}
}

struct hog_kind {
	const char *name;
	void (*fn)(void *);
};

static const struct hog_kind hog_kinds[] = {
	{ "now", hog_now },
	{ "memmove", hog_memmove },
	{ "zlib", hog_zlib },
	{ "sqlite", hog_sqlite },
	{ "qsort", hog_qsort },
};
#define NKINDS (sizeof(hog_kinds) / sizeof(*hog_kinds))

/* Buffers of the library hogs, made once outside any goroutine. */
static void hog_buffers_init(void)
{
	memmove_size = quick ? MEMMOVE_FULL / 4 : MEMMOVE_FULL;
	for (int i = 0; i < 2; i++) {
		memmove_buf[i] = malloc(memmove_size);
		if (!memmove_buf[i])
			bench_fail(SUITE, "out of memory");
		memset(memmove_buf[i], i, memmove_size);
	}
	/* Text-like input: words from a small vocabulary compress about
	 * 3:1, so deflate does real matching work. */
	static const char *const words[] = { "goroutine ", "thread ", "park ",
		"signal ", "quantum ", "sysmon ", "stack ", "the ", "a ",
		"preempt " };
	zlib_bound = compressBound(ZLIB_INPUT);
	zlib_in = malloc(ZLIB_INPUT);
	zlib_out = malloc(zlib_bound);
	if (!zlib_in || !zlib_out)
		bench_fail(SUITE, "out of memory");
	uint32_t x = 12345;
	for (size_t n = 0; n < ZLIB_INPUT;) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		const char *w = words[x % 10];
		for (; *w && n < ZLIB_INPUT; w++)
			zlib_in[n++] = (unsigned char)*w;
	}
}

static void hog_buffers_free(void)
{
	for (int i = 0; i < 2; i++) {
		free(memmove_buf[i]);
		memmove_buf[i] = NULL;
	}
	free(zlib_in);
	free(zlib_out);
	zlib_in = zlib_out = NULL;
}

/* ---- (a) sleeper lateness ---------------------------------------------------- */

#define SLEEPS_FULL 500
static int64_t lateness[SLEEPS_FULL];
static int sleeps;

static int64_t sleep_ns;

static void (*sleeper_hog)(void *) = hog;

static void hog_entry(void *arg)
{
	sleeper_hog(arg);
	atomic_fetch_sub(&hogs_alive, 1);
}

static int sleeper_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	hog_stop = false;
	atomic_store(&hogs_alive, 1);
	if (goro_go(hog_entry, (void *)0) < 0)
		bench_fail(SUITE, "goro_go failed");
	goro_yield();
	for (int i = 0; i < sleeps; i++) {
		int64_t t0 = goro_now();
		goro_sleep(sleep_ns);
		lateness[i] = goro_now() - t0 - sleep_ns;
	}
	hog_stop = true;
	while (atomic_load(&hogs_alive) > 0)
		goro_sleep(1 * MS);
	return 0;
}

/* prefix "late" on 1 P: the sleeper needs the hog preempted; "late-2p" on
 * 2 Ps: it needs nothing of the hog — its timer waits on the idle P, for
 * the idle M that sleeps until it.  The hog is sleeper_hog. */
static void run_sleeper(const char *prefix, int procs, int64_t ns,
			const char *q)
{
	set_mode(q, true);
	sleep_ns = ns;
	bench_goro(procs, sleeper_main);
	qsort(lateness, (size_t)sleeps, sizeof(int64_t), cmp_i64);
	char name[48];
	double v;
	v = pct(lateness, (size_t)sleeps, 0.5) / 1e3;
	snprintf(name, sizeof(name), "%s-p50@%s", prefix, q);
	bench_report(SUITE, name, "us", &v, 1);
	v = pct(lateness, (size_t)sleeps, 0.99) / 1e3;
	snprintf(name, sizeof(name), "%s-p99@%s", prefix, q);
	bench_report(SUITE, name, "us", &v, 1);
	v = (double)lateness[sleeps - 1] / 1e3;
	snprintf(name, sizeof(name), "%s-max@%s", prefix, q);
	bench_report(SUITE, name, "us", &v, 1);
}

/* ---- (b) hog throughput ------------------------------------------------------- */

static int hog_count;
static int64_t hog_run_ns;
static double hog_rate;  /* iterations per µs, all hogs together */
static void (*hog_fn)(void *) = hog;
/* Of the preemptive run's timed window: */
static uint64_t hog_window_iters;
static int64_t hog_window_cpu;             /* ns, whole process */
static int64_t hog_window_wall;            /* ns */
static struct goro_preempt_stats hog_window_stats;  /* deltas */

static void preempt_stats_now(struct goro_preempt_stats *s)
{
	if (goro_preempt_stats(s, sizeof(*s)) != 0)
		bench_fail(SUITE, "goro_preempt_stats failed");
}

static int throughput_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	hog_stop = false;
	hog_iters[0] = hog_iters[1] = 0;
	for (int i = 0; i < hog_count; i++)
		if (goro_go(hog_fn, (void *)(intptr_t)i) < 0)
			bench_fail(SUITE, "goro_go failed");
	/* Goroutine 1 sleeps: with GORO_MAXPROCS=1 the hogs have the P. */
	struct goro_preempt_stats s0, s1;
	preempt_stats_now(&s0);
	int64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	int64_t wall0 = goro_now();
	uint64_t start = hog_iters[0] + hog_iters[1];
	goro_sleep(hog_run_ns);
	uint64_t end = hog_iters[0] + hog_iters[1];
	hog_window_cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	hog_window_wall = goro_now() - wall0;
	preempt_stats_now(&s1);
	hog_window_iters = end - start;
	hog_rate = (double)hog_window_iters / ((double)hog_window_cpu / 1e3);
	hog_window_stats.preempted = s1.preempted - s0.preempted;
	hog_window_stats.parked_with_thread =
		s1.parked_with_thread - s0.parked_with_thread;
	hog_window_stats.migrated = s1.migrated - s0.migrated;
	hog_stop = true;
	return 0;
}

/* The cooperative runtime never lets goroutine 1 back in while a hog
 * runs, so those runs are timed from outside: a plain thread stops the
 * hogs after hog_run_ns. */
static void *stopper(void *arg)
{
	(void)arg;
	struct timespec ts = { hog_run_ns / 1000000000, hog_run_ns % 1000000000 };
	nanosleep(&ts, NULL);
	hog_stop = true;
	return NULL;
}

static int coop_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	hog_iters[0] = hog_iters[1] = 0;
	for (int i = 0; i < hog_count; i++)
		if (goro_go(hog_fn, (void *)(intptr_t)i) < 0)
			bench_fail(SUITE, "goro_go failed");
	int64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	goro_yield();  /* a hog runs until the stopper thread ends it */
	while (!hog_stop)
		goro_yield();
	hog_rate = (double)(hog_iters[0] + hog_iters[1]) /
		   ((double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / 1e3);
	return 0;
}

static double measure_hogs(int count, const char *q, bool async)
{
	hog_count = count;
	set_mode(q, async);
	if (async) {
		bench_goro(1, throughput_main);
	} else {
		hog_stop = false;
		pthread_t t;
		if (pthread_create(&t, NULL, stopper, NULL))
			bench_fail(SUITE, "pthread_create failed");
		bench_goro(1, coop_main);
		pthread_join(t, NULL);
	}
	return hog_rate;
}

#define LOSS_PAIRS 7

/* The loss of the preemptive runtime against the cooperative one with
 * `count` hogs, in %: the median over alternating pairs of runs. */
static double loss_percent(int count, const char *q)
{
	double loss[LOSS_PAIRS];
	for (int i = 0; i < LOSS_PAIRS; i++) {
		double coop = measure_hogs(count, q, false);
		double pre = measure_hogs(count, q, true);
		loss[i] = 100.0 * (1.0 - pre / coop);
	}
	return bench_median(loss, LOSS_PAIRS);
}

static void run_throughput(const char *q)
{
	char name[48];
	double v = loss_percent(2, q);
	snprintf(name, sizeof(name), "loss-waiting@%s", q);
	bench_report(SUITE, name, "%", &v, 1);
	v = loss_percent(1, q);
	snprintf(name, sizeof(name), "loss-idle@%s", q);
	bench_report(SUITE, name, "%", &v, 1);
}

/* ---- the cost of one preemption ------------------------------------------- */

/*
 * CPU time of the whole process per preemption, two hogs on 1 P at a
 * 100 µs quantum.  Wall time would charge a preemption for whatever other
 * processes took meanwhile (this machine is shared), so the cost is
 * counted in CPU time, as loss-waiting is: a cooperative run gives the
 * hog loop's price per iteration with no preemption (1 / rate_coop), and
 * in the preemptive run's window every CPU nanosecond beyond
 * iterations / rate_coop went to preempting — the signal, the handler,
 * the trampoline, the switch or the thread hand-off, sysmon's extra work:
 *
 *   cost = (cpu_pre - iters_pre / rate_coop) / preemptions_pre
 *
 * What CPU time does not see is a CPU left idle while a woken thread
 * gets going; on an idle machine that gap would add to wall time.
 * Cooperative and preemptive runs alternate in LOSS_PAIRS pairs, as for
 * loss-waiting, and each sample is the median of the pairs' costs.  The
 * stats say which path the preemptions took; a figure measured on the
 * other path would be a wrong figure, so that ends the benchmark.
 */
static double preempt_cost(void (*fn)(void *), bool agnostic,
			   double *turns_per_s)
{
	double cost[LOSS_PAIRS], turns[LOSS_PAIRS];
	int n = 0;
	hog_fn = fn;
	for (int i = 0; i < LOSS_PAIRS; i++) {
		double coop = measure_hogs(2, "100us", false);
		measure_hogs(2, "100us", true);
		const struct goro_preempt_stats *st = &hog_window_stats;
		if (st->preempted == 0 || coop <= 0)
			continue;
		if (agnostic ? st->migrated == 0 : st->parked_with_thread == 0)
			bench_fail(SUITE, "%s hogs: %llu preemptions, %llu "
				   "parked with their thread, %llu migrated",
				   agnostic ? "thread-agnostic" : "plain",
				   (unsigned long long)st->preempted,
				   (unsigned long long)st->parked_with_thread,
				   (unsigned long long)st->migrated);
		double extra_ns = (double)hog_window_cpu -
				  (double)hog_window_iters / coop * 1e3;
		turns[n] = (double)st->preempted /
			   ((double)hog_window_wall / 1e9);
		cost[n++] = extra_ns / 1e3 / (double)st->preempted;
	}
	hog_fn = hog;
	*turns_per_s = n ? bench_median(turns, n) : NAN;
	return n ? bench_median(cost, n) : NAN;
}

static void run_preempt_cost(void)
{
	/* One preemption per quantum: with the default turns of 8 quanta
	 * among hogs, sysmon's looks between preemptions would be charged
	 * to them. */
	setenv("GORO_DEBUG", "hogturn=1", 1);
	double turns;
	double v = preempt_cost(hog, false, &turns);
	if (!isnan(v)) {
		bench_report(SUITE, "cost-klt@100us", "us", &v, 1);
		bench_report(SUITE, "turns-klt@100us", "/s", &turns, 1);
	}
	v = preempt_cost(hog_agnostic, true, &turns);
	if (!isnan(v)) {
		bench_report(SUITE, "cost-switch@100us", "us", &v, 1);
		bench_report(SUITE, "turns-switch@100us", "/s", &turns, 1);
	}
	unsetenv("GORO_DEBUG");
}

/* ---- the machine's floors: one signal, one thread hand-off ------------------- */

#define SIGNAL_PERIOD_NS (100 * 1000)
#define SIGNAL_SPIN_ITERS 400000000L

static volatile bool signal_done;
static volatile long signal_hits;
static pid_t spinner_tid;

static void count_signal(int sig)
{
	(void)sig;
	signal_hits++;
}

static void *signal_sender(void *arg)
{
	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct timespec ts = { 0, SIGNAL_PERIOD_NS };
	while (!signal_done) {
		nanosleep(&ts, NULL);
		syscall(SYS_tgkill, getpid(), spinner_tid, SIGURG);
	}
	return NULL;
}

enum disturbance { QUIET, SIGNALS_FROM_THREAD, OWN_TIMER };

/* CPU ns the calling thread needs for the spin while disturbed so. */
static int64_t spin_cpu(enum disturbance how)
{
	pthread_t t;
	timer_t timer;
	signal_done = false;
	spinner_tid = (pid_t)syscall(SYS_gettid);
	if (how == SIGNALS_FROM_THREAD &&
	    pthread_create(&t, NULL, signal_sender, NULL))
		bench_fail(SUITE, "pthread_create failed");
	if (how == OWN_TIMER) {
		struct sigevent ev;
		memset(&ev, 0, sizeof(ev));
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = SIGURG;
		ev._sigev_un._tid = spinner_tid;
		struct itimerspec every = {
			{ 0, SIGNAL_PERIOD_NS }, { 0, SIGNAL_PERIOD_NS }
		};
		if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0 ||
		    timer_settime(timer, 0, &every, NULL) != 0)
			bench_fail(SUITE, "timer_create failed");
	}
	int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	spin(quick ? SIGNAL_SPIN_ITERS / 10 : SIGNAL_SPIN_ITERS);
	int64_t used = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	signal_done = true;
	if (how == SIGNALS_FROM_THREAD)
		pthread_join(t, NULL);
	if (how == OWN_TIMER)
		timer_delete(timer);
	return used;
}

/* The spinner's CPU time lost per signal, in µs. */
static double cost_per_signal(enum disturbance how, int64_t quiet)
{
	signal_hits = 0;
	int64_t noisy = spin_cpu(how);
	long hits = signal_hits;
	return hits ? (double)(noisy - quiet) / 1e3 / (double)hits : 0;
}

static void run_signal_cost(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGURG, &sa, &old);
	int64_t quiet = spin_cpu(QUIET);
	double v = cost_per_signal(SIGNALS_FROM_THREAD, quiet);
	bench_report(SUITE, "signal-cost", "us", &v, 1);
	v = cost_per_signal(OWN_TIMER, quiet);
	bench_report(SUITE, "timer-cost", "us", &v, 1);
	sigaction(SIGURG, &old, NULL);
}

/* Two plain threads pass a turn back and forth: each, on its turn, hands
 * the turn to the other, wakes it (FUTEX_WAKE) and waits (FUTEX_WAIT)
 * until the turn comes back.  One hand-off is one wake plus the other
 * side running; its price, in CPU time of both threads, is the floor
 * under a KLT park, which hands the P to another thread the same way.
 * They run for a fixed wall time, however slowly a loaded machine lets
 * them alternate. */
static _Atomic uint32_t handoff_turn;      /* 0, 1: whose turn; or: */
#define HANDOFF_DONE 2u
static _Atomic bool handoff_stop;

struct handoff_side {
	uint32_t me;
	long handoffs;
	int64_t cpu_ns;
};

static void *handoff_thread(void *arg)
{
	struct handoff_side *side = arg;
	int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (;;) {
		uint32_t t;
		while ((t = atomic_load(&handoff_turn)) != side->me) {
			if (t == HANDOFF_DONE)
				goto out;
			syscall(SYS_futex, &handoff_turn, FUTEX_WAIT_PRIVATE, t,
				NULL, NULL, 0);
		}
		/* Only the side holding the turn ends the game, and it ends
		 * it for both: the other one may be waiting for the turn. */
		if (atomic_load(&handoff_stop)) {
			atomic_store(&handoff_turn, HANDOFF_DONE);
			syscall(SYS_futex, &handoff_turn, FUTEX_WAKE_PRIVATE, 1,
				NULL, NULL, 0);
			break;
		}
		side->handoffs++;
		atomic_store(&handoff_turn, !side->me);
		syscall(SYS_futex, &handoff_turn, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
	}
out:
	side->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

static void run_futex_handoff(void)
{
	struct handoff_side side[2] = { { .me = 0 }, { .me = 1 } };
	pthread_t t[2];
	atomic_store(&handoff_turn, 0);
	atomic_store(&handoff_stop, false);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, handoff_thread, &side[i]))
			bench_fail(SUITE, "pthread_create failed");
	int64_t run_ns = (quick ? 50 : 300) * MS;
	struct timespec ts = { 0, (long)run_ns };
	nanosleep(&ts, NULL);
	atomic_store(&handoff_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	long n = side[0].handoffs + side[1].handoffs;
	double v = (double)(side[0].cpu_ns + side[1].cpu_ns) / 1e3 / (double)n;
	bench_report(SUITE, "futex-handoff", "us", &v, 1);
}

/* ---- (c) tail latency under a bimodal open-loop load ---------------------- */

#define LOAD 0.70
#define SHORT_US 4
#define LONG_US 10000
#define LONG_SHARE 0.005

struct request {
	int64_t arrival;     /* intended, ns from the start */
	int64_t sojourn;     /* completion - arrival */
	bool is_long;
};

static struct request *reqs;
static size_t nreqs;
static int64_t tail_t0;
static atomic_long tail_done;

static void request_body(void *arg)
{
	struct request *r = arg;
	spin((long)(iters_per_us * (r->is_long ? LONG_US : SHORT_US)));
	r->sojourn = goro_now() - tail_t0 - r->arrival;
	atomic_fetch_add_explicit(&tail_done, 1, memory_order_release);
}

/* The same requests in code declared thread-agnostic: preempted there, a
 * goroutine is switched out on its thread and may resume on another, with
 * no thread hand-off (tail-agnostic-*). */
GORO_THREAD_AGNOSTIC static void spin_agnostic(long iters)
{
	for (long i = 0; i < iters; i++)
		__asm__ volatile("");
}

GORO_THREAD_AGNOSTIC static void request_body_agnostic(void *arg)
{
	struct request *r = arg;
	spin_agnostic((long)(iters_per_us * (r->is_long ? LONG_US : SHORT_US)));
	r->sojourn = goro_now() - tail_t0 - r->arrival;
	atomic_fetch_add_explicit(&tail_done, 1, memory_order_release);
}

static void (*tail_body)(void *) = request_body;

static void tail_plan(double seconds)
{
	double mean_us = (1 - LONG_SHARE) * SHORT_US + LONG_SHARE * LONG_US;
	double rate_per_us = LOAD * 2 / mean_us;  /* 2 Ps */
	nreqs = (size_t)(seconds * 1e6 * rate_per_us);
	free(reqs);
	reqs = calloc(nreqs, sizeof(*reqs));
	if (!reqs)
		bench_fail(SUITE, "out of memory");
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	double t = 0;
	for (size_t i = 0; i < nreqs; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		double u = (double)(x >> 11) / 9007199254740992.0;
		t += -log(1 - u) / rate_per_us;
		reqs[i].arrival = (int64_t)(t * 1e3);
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		reqs[i].is_long = (double)(x >> 11) / 9007199254740992.0 < LONG_SHARE;
	}
}

static int tail_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	atomic_store(&tail_done, 0);
	tail_t0 = goro_now();
	for (size_t i = 0; i < nreqs; i++) {
		/* Sleep until each arrival, however short the gap.  Spinning
		 * on goro_yield() for the last tens of µs handed the P, at
		 * every yield, to whatever waited there — a long request for a
		 * whole quantum — and put arrivals milliseconds behind. */
		int64_t at = tail_t0 + reqs[i].arrival;
		int64_t now = goro_now();
		if (at > now)
			goro_sleep(at - now);
		if (goro_go(tail_body, &reqs[i]) < 0)
			bench_fail(SUITE, "goro_go failed");
	}
	while (atomic_load_explicit(&tail_done, memory_order_acquire) < (long)nreqs)
		goro_sleep(1 * MS);
	return 0;
}

static void run_tail(const char *label, const char *q, bool async)
{
	set_mode(q, async);
	bench_goro(2, tail_main);
	int64_t *s = malloc(nreqs * sizeof(int64_t));
	if (!s)
		bench_fail(SUITE, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < nreqs; i++)
		if (!reqs[i].is_long)
			s[n++] = reqs[i].sojourn;
	qsort(s, n, sizeof(int64_t), cmp_i64);
	const char *which[] = { "p50", "p99", "p999" };
	const double at[] = { 0.5, 0.99, 0.999 };
	for (int k = 0; k < 3; k++) {
		char name[48];
		double v = pct(s, n, at[k]) / 1e3;
		snprintf(name, sizeof(name), "tail-%s@%s", which[k], label);
		bench_report(SUITE, name, "us", &v, 1);
	}
	free(s);
}

/* ---- the suite ------------------------------------------------------------------ */

void bench_preempt(const struct bench_opts *opts)
{
	quick = opts->quick;
	sleeps = quick ? 50 : SLEEPS_FULL;
	hog_run_ns = (quick ? 20 : 100) * MS;
	calibrate();
	tail_plan(quick ? 0.2 : 2.0);
	hog_buffers_init();

	struct bench_opts once = *opts;
	once.runs = 1;
	for (int run = 0; run < opts->runs; run++) {
		for (size_t i = 0; i < NQ; i++)
			run_sleeper("late", 1, 1 * MS, quanta[i]);
		run_sleeper("late-2p", 2, 100 * US, "1ms");
		for (size_t k = 0; k < NKINDS; k++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "late-%s",
				 hog_kinds[k].name);
			sleeper_hog = hog_kinds[k].fn;
			run_sleeper(prefix, 1, 1 * MS, "1ms");
		}
		sleeper_hog = hog_memmove;
		run_sleeper("late-memmove", 1, 1 * MS, "10ms");
		sleeper_hog = hog;
		for (size_t i = 0; i < NQ; i++)
			run_throughput(quanta[i]);
		for (size_t i = 0; i < NQ; i++)
			run_tail(tail_quanta[i], tail_quanta[i], true);
		run_tail("coop", "1ms", false);
		tail_body = request_body_agnostic;
		run_tail("1ms-agnostic", "1ms", true);
		tail_body = request_body;
		run_preempt_cost();
		run_signal_cost();
		run_futex_handoff();
		bench_go(&once, SUITE, "preempt", quick ? "-quick" : "", "us");
	}
	unsetenv("GORO_QUANTUM");
	unsetenv("GORO_ASYNCPREEMPT");
	free(reqs);
	reqs = NULL;
	hog_buffers_free();
}
