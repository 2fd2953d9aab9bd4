/* SPDX-License-Identifier: MIT */
/*
 * testutil.h — helpers shared by the Check suites.
 *
 * Each Check test runs in its own forked child (CK_FORK), so a test may call
 * goro_main freely, crash, or exit without harming the others.  Tests use
 * only the public API, as a user would.
 */
#ifndef GORO_TESTUTIL_H
#define GORO_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <goro.h>

/* Run fn as goroutine 1 with GORO_MAXPROCS=procs (0: leave the
 * environment alone) and return what it returned. */
static inline int run_goro(int (*fn)(int, char **), int procs)
{
	if (procs > 0) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", procs);
		setenv("GORO_MAXPROCS", buf, 1);
	}
	char *argv[] = { (char *)"test", NULL };
	return goro_main(fn, 1, argv);
}

/* Run a shell command, capture up to cap-1 bytes of its stdout+stderr in
 * out, return its exit status (or -1). */
static inline int run_capture(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Fork, run child() in the child with stderr captured, wait.  Returns the
 * child's exit status (128 + signal if killed); captured stderr in out. */
static inline int run_child(void (*child)(void), char *out, size_t cap)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		child();
		_exit(0);
	}
	close(pipefd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(pipefd[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	char sink[4096];
	while (read(pipefd[0], sink, sizeof(sink)) > 0)
		;
	close(pipefd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Standard main for a suite built by make_suite(). */
#define GORO_TEST_MAIN(make_suite)                                          \
	int main(void)                                                      \
	{                                                                   \
		SRunner *sr = srunner_create(make_suite());                 \
		srunner_run_all(sr, CK_NORMAL);                             \
		int failed = srunner_ntests_failed(sr);                     \
		srunner_free(sr);                                           \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                \
	}

#endif
