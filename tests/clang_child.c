/* SPDX-License-Identifier: MIT */
/*
 * clang_child.c — a goroutine program built by clang -g, which emits no
 * .debug_aranges: check_dump checks that gdump still finds its file:line.
 * Prints "ready PID", ends when stdin closes.
 */
#include <stdio.h>
#include <unistd.h>

#include <goro.h>

__attribute__((noinline)) static void clang_sleeper(void *arg)
{
	(void)arg;
	goro_sleep(3600LL * 1000 * 1000 * 1000);
	__asm__ volatile("");
}

static int child_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_go_attr(&(goro_attr_t){ .name = "clang-sleeper" }, clang_sleeper,
		     NULL);
	goro_sleep(20 * 1000 * 1000);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char c;
	while (goro_read(0, &c, 1) > 0)
		continue;
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(child_main, argc, argv);
}
