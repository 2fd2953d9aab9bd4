/* SPDX-License-Identifier: MIT */
/*
 * exit_block.c — blocking calls made the way code that knows nothing of
 * goro makes them (this file does not include goro.h), for exit_child:
 * the goroutines that call them sit in the kernel when main returns.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit_block.h"

long block_read(int fd)
{
	char b;
	return (long)read(fd, &b, 1);
}

void block_sleep_forever(void)
{
	/* A signal may end one sleep early: sleep again, as a background
	 * loop would. */
	for (;;)
		sleep(1000);
}

int block_accept(int fd)
{
	return accept(fd, NULL, NULL);
}

int block_waitpid(int pid)
{
	int st;
	return (int)waitpid((pid_t)pid, &st, 0);
}

int block_flock(int fd)
{
	return flock(fd, LOCK_EX);
}

void block_spin_forever(void)
{
	/* Computes in a loop, never entering the kernel or libc. */
	static volatile unsigned long spins;
	for (;;)
		spins++;
}

void block_allocate_forever(void)
{
	/* malloc and free of assorted sizes, for good: preempted, such a
	 * goroutine is most often stopped inside the allocator, holding an
	 * arena lock. */
	enum { SLOTS = 64 };
	void *slot[SLOTS] = { 0 };
	unsigned s = 1;
	for (;;) {
		for (int i = 0; i < SLOTS; i++) {
			s = s * 1103515245u + 12345u;
			free(slot[i]);
			slot[i] = malloc(2000 + (s >> 16) % 60000);
			if (slot[i])
				memset(slot[i], 1, 64);
		}
	}
}
