/* SPDX-License-Identifier: MIT */
/*
 * stack_clash_child.c — a goroutine program built WITH
 * -fstack-clash-protection (Makefile.am gives it the flags pkg-config gives
 * programs), for check_stack_growth: its goroutine "probed" calls a
 * function whose frame is 4 MiB, far more than the gap below its 256 KiB
 * slot.  The compiler probes such a frame page by page from the top, so
 * the first probe past the limit meets a guard: the program must end with
 * the stack-overflow report (exit status 2), whatever the frame's size.
 * Prints "id=N" for the goroutine before it runs.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <goro.h>

#define FRAME (4UL << 20)

static atomic_bool id_shown;

__attribute__((noinline)) static long probed_frame(void)
{
	volatile unsigned char a[FRAME];
	for (size_t i = 0; i < sizeof(a); i += 4096)
		a[i] = 1;
	return a[0];
}

static void probed(void *arg)
{
	(void)arg;
	while (!atomic_load(&id_shown))
		goro_sleep(1000 * 1000);
	probed_frame();
}

static int child_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "probed" };
	printf("id=%lld\n", (long long)goro_go_attr(&attr, probed, NULL));
	fflush(stdout);
	atomic_store(&id_shown, true);
	goro_sleep(10LL * 1000 * 1000 * 1000);
	printf("survived\n");
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(child_main, argc, argv);
}
