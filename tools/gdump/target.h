/* SPDX-License-Identifier: MIT */
/*
 * target.h — what gdump inspects: a live process (stopping and resuming
 * all its threads with ptrace) or a core file (corefile.h); either way,
 * reading its memory and its threads' registers.
 */
#ifndef GDUMP_TARGET_H
#define GDUMP_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct target_thread {
	pid_t tid;
	bool have_regs;
	struct user_regs_struct regs;
};

struct corefile;

struct target {
	pid_t pid;              /* the process, or the core's first thread */
	struct corefile *core;  /* non-NULL: a core file, nothing to stop */
	const char *core_path;
	struct target_thread *threads;
	size_t nthreads, cap;
	int64_t stopped_at;     /* CLOCK_MONOTONIC ns of the first stop */
	int64_t stopped_ns;     /* how long the target was stopped */
};

/* Open core file `path` as the target: 0, or -errno / -ENOEXEC. */
int target_open_core(struct target *t, const char *path);
void target_close(struct target *t);

/* Attach to every thread of t->pid (PTRACE_SEIZE, then interrupt) and
 * wait until each has stopped; threads created meanwhile are caught by
 * rescanning /proc/PID/task.  0 or -errno (-ESRCH, -EPERM...). */
int target_stop(struct target *t);
/* (A core: stop and resume do nothing.) */
/* Detach from every thread; the process continues as before. */
void target_resume(struct target *t);

/* The registers of thread tid (after target_stop), or NULL. */
const struct user_regs_struct *target_regs(struct target *t, pid_t tid);

/* Read target memory through a page cache (the target is stopped, so
 * nothing read can change).  0 or -EFAULT. */
int target_read(struct target *t, uint64_t addr, void *buf, size_t len);

/* Many reads at once (process_vm_readv with up to IOV_MAX ranges per
 * call, bypassing the page cache): copying 100k goroutine records or
 * stacks in a few hundred system calls.  ok[i] says whether range i was
 * read in full. */
struct target_span {
	uint64_t addr;
	size_t len;
	void *buf;
	bool ok;
};
void target_read_many(struct target *t, struct target_span *spans, size_t n);

/* CLOCK_MONOTONIC in ns. */
int64_t monotonic_ns(void);

#endif
