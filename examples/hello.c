/* SPDX-License-Identifier: MIT */
/*
 * hello.c — the first program of the Go tour, with goroutines in C:
 *
 *	go say("world")
 *	say("hello")
 *
 * goro_yield() stands where the tour sleeps.  Run with GORO_MAXPROCS=1 it
 * prints exactly what Go prints; main returning ends the program, so
 * "world" is printed only four times.  (Unless a time slice runs out in
 * the middle of a printf: preemption can then change the order of the
 * lines, as in Go.  GORO_ASYNCPREEMPT=0 rules that out.)
 */
#include <stdio.h>

#include <goro.h>

static void say(void *arg)
{
	const char *s = arg;
	for (int i = 0; i < 5; i++) {
		goro_yield();
		printf("%s\n", s);
	}
}

static int hello_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_go(say, "world");
	say("hello");
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(hello_main, argc, argv);
}
