/* SPDX-License-Identifier: MIT */
/*
 * leak_child.c — channel misuse for memcheck to find (tests/valgrind.test):
 *   leak_child leak   a channel made and dropped: definitely lost
 *   leak_child uaf    goro_chan_len on a channel already freed
 *   leak_child clean  made and freed: nothing to report
 */
#include <stdio.h>
#include <string.h>

#include <goro.h>

__attribute__((noinline)) static goro_chan_t *make_lost_channel(void)
{
	return goro_chan_make(sizeof(int), 4);
}

static int child_main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";
	if (!strcmp(mode, "leak")) {
		goro_chan_t *c = make_lost_channel();
		c = NULL;
		(void)c;
	} else if (!strcmp(mode, "uaf")) {
		goro_chan_t *c = goro_chan_make(sizeof(int), 4);
		goro_chan_free(c);
		printf("len %zu\n", goro_chan_len(c));
	} else {
		goro_chan_free(goro_chan_make(sizeof(int), 4));
	}
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(child_main, argc, argv);
}
