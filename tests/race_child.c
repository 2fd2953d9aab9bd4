/* SPDX-License-Identifier: MIT */
/*
 * race_child.c — two goroutines on two threads write one variable with
 * nothing ordering them: a data race for ThreadSanitizer to report
 * (check_race).  With "fixed", the same writes under a goro_mutex: no
 * race.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <goro.h>

static long shared;
static goro_mutex_t mu = GORO_MUTEX_INIT;
static bool locked;
static goro_wg_t wg = GORO_WG_INIT;
static atomic_int arrived;

__attribute__((noinline)) static void racy_write(long v)
{
	if (locked)
		goro_mutex_lock(&mu);
	shared = v;
	if (locked)
		goro_mutex_unlock(&mu);
}

/* Both writers run at once on the two Ps: each waits (spinning) for the
 * other to arrive, so no goroutine switch orders them. */
__attribute__((noinline)) static void writer_a(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&arrived, 1, memory_order_relaxed);
	while (atomic_load_explicit(&arrived, memory_order_relaxed) < 2)
		;
	racy_write(1);
	goro_wg_done(&wg);
}

__attribute__((noinline)) static void writer_b(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&arrived, 1, memory_order_relaxed);
	while (atomic_load_explicit(&arrived, memory_order_relaxed) < 2)
		;
	racy_write(2);
	goro_wg_done(&wg);
}

static int child_main(int argc, char **argv)
{
	locked = argc > 1 && strcmp(argv[1], "fixed") == 0;
	goro_wg_add(&wg, 2);
	goro_go(writer_a, NULL);
	goro_go(writer_b, NULL);
	goro_wg_wait(&wg);
	printf("shared=%ld\n", shared);
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(child_main, argc, argv);
}
