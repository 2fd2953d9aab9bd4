/* SPDX-License-Identifier: MIT */
/*
 * fake_descriptor.c — a process exporting a goro descriptor of a version
 * gdump does not know, so that check_dump can see gdump refuse it.
 */
#include <string.h>
#include <unistd.h>

#include <goro/debug.h>

__attribute__((used))
struct goro_debug_descriptor goro_debug_descriptor = {
	.magic = GORO_DEBUG_MAGIC,
	.version = GORO_DEBUG_VERSION + 1,
	.size = sizeof(struct goro_debug_descriptor),
};

int main(void)
{
	sleep(30);
	return 0;
}
