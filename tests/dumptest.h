/* SPDX-License-Identifier: MIT */
/*
 * dumptest.h — driving tests/dump_child for the suites that inspect it
 * (check_dump: gdump and the runtime's own dumps; check_gdb: the gdb
 * extension and core files): start it, read what it prints, wait for it,
 * and pick one goroutine's block out of a dump.
 *
 * Needs DUMP_CHILD and GDUMP defined (paths, from Makefile.am).
 */
#ifndef GORO_DUMPTEST_H
#define GORO_DUMPTEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "testutil.h"

#define OUT_CAP (256 * 1024)

struct child {
	pid_t pid;        /* the process forked */
	pid_t goro_pid;   /* the goro program's pid, from its "ready" line */
	int to_child;     /* its stdin */
	int from_child;   /* its stdout and stderr */
	char out[OUT_CAP];
	size_t len;
};

static inline void read_some(struct child *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->from_child, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	ssize_t r = read(c->from_child, c->out + c->len, OUT_CAP - 1 - c->len);
	if (r > 0)
		c->len += (size_t)r;
	c->out[c->len] = '\0';
}

/* Start `prog mode arg` (either may be NULL) with env ("NAME=value", may
 * be NULL); wait for its "ready PID" line when wait_ready. */
static inline void child_start_prog(struct child *c, const char *env,
				    const char *prog, const char *mode,
				    const char *arg, bool wait_ready)
{
	memset(c, 0, sizeof(*c));
	int in[2], out[2];
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		if (env)
			putenv((char *)env);
		/* In a sanitizer build: AddressSanitizer's fault handlers,
		 * installed before goro_main, would get the crashes first
		 * (goro passes signals to handlers installed before it). */
		char asan[512];
		const char *prev = getenv("ASAN_OPTIONS");
		snprintf(asan, sizeof(asan), "%s%shandle_segv=0:handle_sigbus=0:"
			 "handle_sigill=0:handle_sigfpe=0:handle_abort=0",
			 prev ? prev : "", prev && *prev ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		execl(prog, prog, mode, arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to_child = in[1];
	c->from_child = out[0];
	if (!wait_ready)
		return;
	for (int i = 0; i < 200 && !strstr(c->out, "ready "); i++)
		read_some(c, 50);
	char *r = strstr(c->out, "ready ");
	ck_assert_msg(r, "child never got ready: %s", c->out);
	c->goro_pid = (pid_t)atoi(r + 6);
	ck_assert_int_gt(c->goro_pid, 0);
}

/* The same for tests/dump_child. */
static inline void child_start(struct child *c, const char *env,
			       const char *mode, const char *arg,
			       bool wait_ready)
{
	child_start_prog(c, env, DUMP_CHILD, mode, arg, wait_ready);
}

/* Collect everything it prints until it closes its output (a minute at
 * most: a crash report may take seconds of silence while its forked copy
 * reads DWARF on a loaded machine), then return its exit status (128 +
 * signal if killed); with close_stdin, first close its stdin (the park
 * child then ends). */
static inline int child_wait(struct child *c, bool close_stdin)
{
	if (close_stdin)
		close(c->to_child);
	for (int i = 0; i < 600; i++) {
		struct pollfd p = { .fd = c->from_child, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t r = read(c->from_child, c->out + c->len,
				 OUT_CAP - 1 - c->len);
		if (r <= 0)
			break;
		c->len += (size_t)r;
		c->out[c->len] = '\0';
	}
	int st;
	waitpid(c->pid, &st, 0);
	close(c->from_child);
	if (!close_stdin)
		close(c->to_child);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static inline int child_finish(struct child *c)
{
	return child_wait(c, true);
}

static inline void child_kill(struct child *c)
{
	kill(c->pid, SIGKILL);
	child_finish(c);
}

/* The last gdump output (each test program has its own). */
static char dump[OUT_CAP];

static inline int gdump(const char *args, pid_t pid)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s %s %d 2>&1", GDUMP, args, (int)pid);
	return run_capture(cmd, dump, sizeof(dump));
}

/* The block of goroutine `name` (quoted in its header), copied to blk. */
static inline bool block_of(const char *text, const char *name, char *blk,
			    size_t cap)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\" [", name);
	const char *p = strstr(text, key);
	if (!p)
		return false;
	while (p > text && p[-1] != '\n')
		p--;
	const char *end = strstr(p, "\n\n");
	size_t n = end ? (size_t)(end - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(blk, p, n);
	blk[n] = '\0';
	return true;
}

/* The id in `goroutine N "name"`, or -1. */
static inline long id_of(const char *text, const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\" [", name);
	const char *p = strstr(text, key);
	if (!p)
		return -1;
	while (p > text && p[-1] != '\n')
		p--;
	long id;
	return sscanf(p, "goroutine %ld ", &id) == 1 ? id : -1;
}

static inline void expect_goroutine(const char *text, const char *name,
				    const char *state,
				    const char *const *funcs)
{
	char blk[8192], head[128];
	ck_assert_msg(block_of(text, name, blk, sizeof(blk)),
		      "no goroutine \"%s\" in:\n%s", name, text);
	snprintf(head, sizeof(head), "\"%s\" [%s", name, state);
	ck_assert_msg(strstr(blk, head), "goroutine %s not [%s]:\n%s", name,
		      state, blk);
	for (; *funcs; funcs++) {
		char frame[128];
		snprintf(frame, sizeof(frame), "\n%s+0x", *funcs);
		ck_assert_msg(strstr(blk, frame), "no frame %s in:\n%s",
			      *funcs, blk);
	}
}

#define FUNCS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#endif
