/* SPDX-License-Identifier: MIT */
/*
 * bench_chan.c — suite "chan": what channels and select cost.
 *
 *   pingpong-1p  ns per round trip: goroutine 1 sends an int on an
 *   pingpong-2p  unbuffered channel, a partner receives it and sends it
 *                back on a second one; on 1 P and on 2 Ps
 *   pingpong-1p-cpu  the 1 P round trip in CPU time of the whole process
 *                rather than wall time: on a shared machine, the part of
 *                the figure that other processes cannot inflate
 *   buffered     ns per value through a channel of capacity 128, one
 *                sender and one receiver, on 2 Ps
 *   select4      ns per value: a sender cycles over 4 unbuffered channels,
 *                the receiver takes each value with a select of the 4
 *                receive cases; on 1 P
 *
 * Each sample is one goro_main that runs its workload twice and times the
 * second run, warmed up as the Go counterpart is (see bench_sched.c).
 * tools/bench/go/chan does the same work with Go's runtime; its runs are
 * interleaved with goro's.
 */
#include <stdint.h>
#include <time.h>

#include <goro.h>

#include "bench.h"

#define SUITE "chan"
#define BUFFERED_CAP 128

static long count;
static double sample, cpu_sample;
static goro_chan_t *chans[4];
static goro_chan_t *done;

/* ---- ping-pong -------------------------------------------------------------- */

static int64_t process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pong(void *arg)
{
	(void)arg;
	long v;
	while (goro_chan_recv(chans[0], &v) == 1)
		goro_chan_send(chans[1], &v);
	goro_chan_close(chans[1]);
}

static void pingpong_run(void)
{
	chans[0] = goro_chan_make(sizeof(long), 0);
	chans[1] = goro_chan_make(sizeof(long), 0);
	if (goro_go(pong, NULL) < 0)
		bench_fail(SUITE, "goro_go failed");
	int64_t t0 = bench_now(), cpu0 = process_cpu_ns();
	for (long i = 0; i < count; i++) {
		long v = i;
		goro_chan_send(chans[0], &v);
		goro_chan_recv(chans[1], &v);
		if (v != i)
			bench_fail(SUITE, "ping-pong got %ld, sent %ld", v, i);
	}
	sample = (double)(bench_now() - t0) / (double)count;
	cpu_sample = (double)(process_cpu_ns() - cpu0) / (double)count;
	goro_chan_close(chans[0]);
	goro_chan_recv(chans[1], NULL);  /* pong has left */
	goro_chan_free(chans[0]);
	goro_chan_free(chans[1]);
}

static int pingpong_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pingpong_run();
	pingpong_run();
	return 0;
}

/* ---- buffered throughput ------------------------------------------------------ */

static void buffered_sender(void *arg)
{
	(void)arg;
	for (long i = 0; i < count; i++)
		goro_chan_send(chans[0], &i);
	goro_chan_close(chans[0]);
}

static void buffered_run(void)
{
	chans[0] = goro_chan_make(sizeof(long), BUFFERED_CAP);
	int64_t t0 = bench_now();
	if (goro_go(buffered_sender, NULL) < 0)
		bench_fail(SUITE, "goro_go failed");
	long v, sum = 0, n = 0;
	while (goro_chan_recv(chans[0], &v) == 1) {
		sum += v;
		n++;
	}
	sample = (double)(bench_now() - t0) / (double)count;
	if (n != count || sum != count * (count - 1) / 2)
		bench_fail(SUITE, "buffered: %ld values, sum %ld", n, sum);
	goro_chan_free(chans[0]);
}

static int buffered_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	buffered_run();
	buffered_run();
	return 0;
}

/* ---- select over 4 channels ---------------------------------------------------- */

static void select_sender(void *arg)
{
	(void)arg;
	for (long i = 0; i < count; i++)
		goro_chan_send(chans[i & 3], &i);
	goro_chan_send(done, NULL);
}

static void select_run(void)
{
	long vals[4];
	goro_case_t cases[4];
	for (int i = 0; i < 4; i++) {
		chans[i] = goro_chan_make(sizeof(long), 0);
		cases[i] = (goro_case_t){ .chan = chans[i], .dir = GORO_RECV,
					  .elem = &vals[i] };
	}
	done = goro_chan_make(0, 1);
	int64_t t0 = bench_now();
	if (goro_go(select_sender, NULL) < 0)
		bench_fail(SUITE, "goro_go failed");
	long sum = 0;
	for (long i = 0; i < count; i++) {
		int r = goro_select(cases, 4, -1);
		if (r < 0)
			bench_fail(SUITE, "select failed: %d", r);
		sum += vals[r];
	}
	sample = (double)(bench_now() - t0) / (double)count;
	goro_chan_recv(done, NULL);
	if (sum != count * (count - 1) / 2)
		bench_fail(SUITE, "select4: sum %ld", sum);
	for (int i = 0; i < 4; i++)
		goro_chan_free(chans[i]);
	goro_chan_free(done);
}

static int select_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	select_run();
	select_run();
	return 0;
}

/* ---- the suite ------------------------------------------------------------------ */

void bench_chan(const struct bench_opts *opts)
{
	long n = opts->quick ? 10000 : 1000000;
	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		count = n;
		bench_goro(1, pingpong_main);
		bench_report(SUITE, "pingpong-1p", "ns", &sample, 1);
		bench_report(SUITE, "pingpong-1p-cpu", "ns", &cpu_sample, 1);
		bench_goro(2, pingpong_main);
		bench_report(SUITE, "pingpong-2p", "ns", &sample, 1);
		count = 2 * n;
		bench_goro(2, buffered_main);
		bench_report(SUITE, "buffered", "ns", &sample, 1);
		count = n;
		bench_goro(1, select_main);
		bench_report(SUITE, "select4", "ns", &sample, 1);
		bench_go(&once, SUITE, "chan", opts->quick ? "-quick" : "",
			 "ns");
	}
}
