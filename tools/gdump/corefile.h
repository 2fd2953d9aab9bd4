/* SPDX-License-Identifier: MIT */
/*
 * corefile.h — reading a core file (x86-64 Linux, as the kernel or gcore
 * writes it) as gdump reads a stopped process: its memory, its threads'
 * registers, and the files it had mapped.
 */
#ifndef GDUMP_COREFILE_H
#define GDUMP_COREFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct corefile;

struct core_thread {
	pid_t tid;
	struct user_regs_struct regs;
};

/* 0, -errno from open, or -ENOEXEC (not an x86-64 core with threads). */
int corefile_open(const char *path, struct corefile **out);
void corefile_close(struct corefile *c);

/* The threads, as NT_PRSTATUS notes list them (the first one faulted). */
const struct core_thread *corefile_threads(const struct corefile *c,
					   size_t *n);

/* File-backed mapping i (NT_FILE): its path and range, or NULL past the
 * last. */
const char *corefile_mapping(const struct corefile *c, size_t i,
			     uint64_t *start, uint64_t *end);

/* len bytes at addr: from the core, or from the mapped file when the core
 * left them out.  0 or -EFAULT. */
int corefile_read(struct corefile *c, uint64_t addr, void *buf, size_t len);

#endif
