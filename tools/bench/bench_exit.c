/* SPDX-License-Identifier: MIT */
/*
 * bench_exit.c — suite "exit": how long the program takes to end once
 * goroutine 1 returns.
 *
 *   idle          µs from goroutine 1's return to goro_main's return, with
 *                 every other goroutine parked on a channel
 *   blocked-read  the same with one goroutine blocked in a plain read() of
 *                 a pipe that never gets data: its thread is pulled out of
 *                 the call after the runtime's grace period
 *                 (src/signals/exit_kill.c)
 *
 * Both on 2 Ps.  Go's counterpart (tools/bench/go/exit) times, from a
 * parent process, the same program's end: from the child's main returning
 * to the parent seeing it exit (Go ends the process; goro_main returns to
 * its caller, which then exits).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include <goro.h>

#include "bench.h"

#define SUITE "exit"
#define MS (1000 * 1000LL)

static int pipe_fds[2];
static goro_chan_t *never;
static _Atomic bool reader_started;
static int64_t returned_at;
static bool blocked;

static void reader(void *arg)
{
	(void)arg;
	char b;
	atomic_store(&reader_started, true);
	if (read(pipe_fds[0], &b, 1) >= 0)
		bench_fail(SUITE, "the pipe had data");
}

static void parked(void *arg)
{
	(void)arg;
	int v;
	goro_chan_recv(never, &v);
}

static int exit_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	never = goro_chan_make(sizeof(int), 0);
	for (int i = 0; i < 4; i++)
		goro_go(parked, NULL);
	if (blocked) {
		atomic_store(&reader_started, false);
		goro_go(reader, NULL);
		while (!atomic_load(&reader_started))
			goro_sleep(1 * MS);
	}
	goro_sleep(10 * MS);  /* in the kernel by now */
	returned_at = bench_now();
	return 0;
}

static double run_once(bool with_reader)
{
	if (pipe(pipe_fds) != 0)
		bench_fail(SUITE, "pipe failed");
	blocked = with_reader;
	bench_goro(2, exit_main);
	double us = (double)(bench_now() - returned_at) / 1000.0;
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	return us;
}

void bench_exit(const struct bench_opts *opts)
{
	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		double s = run_once(false);
		bench_report(SUITE, "idle", "us", &s, 1);
		s = run_once(true);
		bench_report(SUITE, "blocked-read", "us", &s, 1);
		bench_go(&once, SUITE, "exit", "", "us");
	}
}
