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
 *   loss-waiting@Q        (b) throughput lost by two hogs sharing 1 P
 *                         (always something waiting: one preemption per
 *                         quantum) against the cooperative runtime, where
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
 *   timer-cost            the floor of the other design (core/sysmon.c says
 *                         why it was not chosen): CPU time a spinning
 *                         thread loses per tick of its own 100 µs
 *                         timer_create(SIGEV_THREAD_ID) timer (µs)
 *   tail-{p50,p99,p999}@Q (c) sojourn time of short requests: open-loop
 *                         Poisson arrivals, 99.5% need 4 µs of CPU and 0.5%
 *                         need 10 ms, a goroutine each, 70% load on 2 Ps
 *                         (µs); tail-*@coop without async preemption
 *
 * Per-run figures are reported one sample at a time, so goro's and Go's
 * runs interleave and the medians compare runs made under the same load.
 */
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

/* ---- (a) sleeper lateness ---------------------------------------------------- */

#define SLEEPS_FULL 500
static int64_t lateness[SLEEPS_FULL];
static int sleeps;

static int64_t sleep_ns;

static int sleeper_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	hog_stop = false;
	if (goro_go(hog, (void *)0) < 0)
		bench_fail(SUITE, "goro_go failed");
	goro_yield();
	for (int i = 0; i < sleeps; i++) {
		int64_t t0 = goro_now();
		goro_sleep(sleep_ns);
		lateness[i] = goro_now() - t0 - sleep_ns;
	}
	hog_stop = true;
	return 0;
}

/* prefix "late" on 1 P: the sleeper needs the hog preempted; "late-2p" on
 * 2 Ps: it needs nothing of the hog — its timer waits on the idle P, for
 * the idle M that sleeps until it. */
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

static int throughput_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	hog_stop = false;
	hog_iters[0] = hog_iters[1] = 0;
	for (int i = 0; i < hog_count; i++)
		if (goro_go(hog, (void *)(intptr_t)i) < 0)
			bench_fail(SUITE, "goro_go failed");
	/* Goroutine 1 sleeps: with GORO_MAXPROCS=1 the hogs have the P. */
	int64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t start = hog_iters[0] + hog_iters[1];
	goro_sleep(hog_run_ns);
	uint64_t end = hog_iters[0] + hog_iters[1];
	hog_rate = (double)(end - start) /
		   ((double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / 1e3);
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
		if (goro_go(hog, (void *)(intptr_t)i) < 0)
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

/* ---- the machine's floor: one signal's cost ---------------------------------- */

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
		if (goro_go(request_body, &reqs[i]) < 0)
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

	struct bench_opts once = *opts;
	once.runs = 1;
	for (int run = 0; run < opts->runs; run++) {
		for (size_t i = 0; i < NQ; i++)
			run_sleeper("late", 1, 1 * MS, quanta[i]);
		run_sleeper("late-2p", 2, 100 * US, "1ms");
		for (size_t i = 0; i < NQ; i++)
			run_throughput(quanta[i]);
		for (size_t i = 0; i < NQ; i++)
			run_tail(tail_quanta[i], tail_quanta[i], true);
		run_tail("coop", "1ms", false);
		run_signal_cost();
		bench_go(&once, SUITE, "preempt", quick ? "-quick" : "", "us");
	}
	unsetenv("GORO_QUANTUM");
	unsetenv("GORO_ASYNCPREEMPT");
	free(reqs);
	reqs = NULL;
}
