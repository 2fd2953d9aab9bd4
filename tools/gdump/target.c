/* SPDX-License-Identifier: MIT */
/*
 * target.c — stopping a process, reading it, letting it go.
 *
 * PTRACE_SEIZE + PTRACE_INTERRUPT rather than PTRACE_ATTACH: no SIGSTOP is
 * queued, so after PTRACE_DETACH the process carries on exactly as if
 * nothing happened (no stray stop for its parent to see).
 *
 * Memory is read with process_vm_readv a page at a time into a
 * direct-mapped cache: unwinding 100k goroutines reads the same text and
 * unwind tables over and over, and each stack page once.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "corefile.h"
#include "target.h"

#define PAGE 4096UL
#define CACHE_PAGES 4096      /* 16 MiB */

struct cached_page {
	uint64_t addr;        /* page address + 1; 0 = empty */
	bool ok;              /* false: unreadable */
	unsigned char data[PAGE];
};

static struct cached_page *cache;

int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct target_thread *find_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

static int add_thread(struct target *t, pid_t tid)
{
	if (t->nthreads == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		void *p = realloc(t->threads, cap * sizeof(*t->threads));
		if (!p)
			return -ENOMEM;
		t->threads = p;
		t->cap = cap;
	}
	struct target_thread *th = &t->threads[t->nthreads];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0)
		return -errno;
	t->nthreads++;
	if (t->nthreads == 1)
		t->stopped_at = monotonic_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
		return -errno;
	/* Wait for the interrupt's stop; other stops (a signal arriving
	 * first) are passed on and waited through. */
	for (;;) {
		int st;
		if (waitpid(tid, &st, __WALL) < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			t->nthreads--;
			return 0;
		}
		if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP)
			break;
		/* A signal-delivery stop: reinject the signal, keep waiting
		 * for the interrupt (still pending). */
		ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st));
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &th->regs) == 0)
		th->have_regs = true;
	return 0;
}

int target_open_core(struct target *t, const char *path)
{
	int err = corefile_open(path, &t->core);
	if (err)
		return err;
	t->core_path = path;
	size_t n;
	const struct core_thread *th = corefile_threads(t->core, &n);
	t->pid = th[0].tid;
	return 0;
}

void target_close(struct target *t)
{
	corefile_close(t->core);
	t->core = NULL;
	free(t->threads);
	t->threads = NULL;
	t->cap = 0;
}

int target_stop(struct target *t)
{
	if (t->core)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	/* Rescan until a pass finds no thread not already stopped: a thread
	 * being created while we attach appears in a later pass. */
	for (bool found = true; found;) {
		found = false;
		DIR *d = opendir(path);
		if (!d)
			return errno == ENOENT ? -ESRCH : -errno;
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			if (tid <= 0 || find_thread(t, tid))
				continue;
			int err = add_thread(t, tid);
			if (err == -ESRCH)
				continue;  /* exited meanwhile */
			if (err) {
				closedir(d);
				return err;
			}
			found = true;
		}
		closedir(d);
	}
	if (!t->nthreads)
		return -ESRCH;
	if (!cache)
		cache = calloc(CACHE_PAGES, sizeof(*cache));
	else
		for (size_t i = 0; i < CACHE_PAGES; i++)
			cache[i].addr = 0;
	return cache ? 0 : -ENOMEM;
}

void target_resume(struct target *t)
{
	for (size_t i = 0; i < t->nthreads; i++)
		ptrace(PTRACE_DETACH, t->threads[i].tid, 0, 0);
	if (t->nthreads)
		t->stopped_ns = monotonic_ns() - t->stopped_at;
	t->nthreads = 0;
}

const struct user_regs_struct *target_regs(struct target *t, pid_t tid)
{
	if (t->core) {
		size_t n;
		const struct core_thread *th = corefile_threads(t->core, &n);
		for (size_t i = 0; i < n; i++)
			if (th[i].tid == tid)
				return &th[i].regs;
		return NULL;
	}
	struct target_thread *th = find_thread(t, tid);
	return th && th->have_regs ? &th->regs : NULL;
}

static struct cached_page *page_of(struct target *t, uint64_t page)
{
	struct cached_page *c = &cache[(page / PAGE) % CACHE_PAGES];
	if (c->addr != page + 1) {
		struct iovec local = { c->data, PAGE };
		struct iovec remote = { (void *)(uintptr_t)page, PAGE };
		c->ok = process_vm_readv(t->pid, &local, 1, &remote, 1, 0) ==
			(ssize_t)PAGE;
		c->addr = page + 1;
	}
	return c;
}

int target_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	if (t->core)
		return corefile_read(t->core, addr, buf, len);
	unsigned char *out = buf;
	while (len) {
		uint64_t page = addr & ~(PAGE - 1);
		size_t in_page = PAGE - (addr - page);
		size_t n = len < in_page ? len : in_page;
		struct cached_page *c = page_of(t, page);
		if (!c->ok)
			return -EFAULT;
		memcpy(out, c->data + (addr - page), n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

void target_read_many(struct target *t, struct target_span *spans, size_t n)
{
	if (t->core) {
		for (size_t i = 0; i < n; i++)
			spans[i].ok = corefile_read(t->core, spans[i].addr,
						    spans[i].buf,
						    spans[i].len) == 0;
		return;
	}
	static struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t i = 0;
	while (i < n) {
		size_t k = 0;
		for (size_t j = i; j < n && k < IOV_MAX; j++, k++) {
			local[k] = (struct iovec){ spans[j].buf, spans[j].len };
			remote[k] = (struct iovec){
				(void *)(uintptr_t)spans[j].addr, spans[j].len };
		}
		ssize_t r = process_vm_readv(t->pid, local, k, remote, k, 0);
		size_t got = r > 0 ? (size_t)r : 0;
		/* Transfers stop at the first range that fails: those before
		 * it are complete, that one is given up, the rest retried. */
		size_t done = 0;
		while (done < k && got >= spans[i + done].len) {
			got -= spans[i + done].len;
			spans[i + done].ok = true;
			done++;
		}
		if (done < k) {
			spans[i + done].ok = false;
			done++;
		}
		i += done;
	}
}
