/* SPDX-License-Identifier: MIT */
/*
 * signal_stack.c — per-M sigaltstack, guarded below so that a handler
 * overflowing it faults instead of corrupting memory.
 */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "signal_stack.h"

/* Big enough for the fault handler's libunwind traceback. */
#define SIGNAL_STACK_SIZE (256 * 1024)
#define GUARD 4096

int signal_stack_install(struct signal_stack *s)
{
	size_t size = SIGNAL_STACK_SIZE + GUARD;
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	mprotect(mem, GUARD, PROT_NONE);
	stack_t ss = {
		.ss_sp = (char *)mem + GUARD,
		.ss_size = SIGNAL_STACK_SIZE,
		.ss_flags = 0,
	};
	if (sigaltstack(&ss, &s->prev) != 0) {
		int err = -errno;
		munmap(mem, size);
		return err;
	}
	s->mem = mem;
	s->size = size;
	return 0;
}

void signal_stack_remove(struct signal_stack *s)
{
	if (!s->mem)
		return;
	/* Give the thread back its own alternate stack (m0 is the
	 * application's thread), or none. */
	if (s->prev.ss_flags & SS_DISABLE || !s->prev.ss_sp) {
		stack_t ss = { .ss_flags = SS_DISABLE };
		sigaltstack(&ss, NULL);
	} else {
		s->prev.ss_flags = 0;
		sigaltstack(&s->prev, NULL);
	}
	munmap(s->mem, s->size);
	s->mem = NULL;
}
