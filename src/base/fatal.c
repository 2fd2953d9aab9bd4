/* SPDX-License-Identifier: MIT */
/*
 * fatal.c — how the runtime dies: "fatal error: ...", the goroutine that
 * was running, exit status 2 (Go's convention).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "deadlock.h"
#include "runtime.h"

void rt_outside_goroutine(const char *call)
{
	fprintf(stderr, "goro: %s() called outside a goroutine "
			"(call it from a function run by goro_main)\n", call);
}

bool rt_foreign_allowed(const char *call)
{
	if (!m_current() && atomic_load(&sched.running)) {
		deadlock_foreign_caller();
		return true;
	}
	rt_outside_goroutine(call);
	return false;
}

_Noreturn void rt_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct g *g = g_current();
	if (g)
		dprintf(STDERR_FILENO, "fatal error: %s\n\ngoroutine %lld \"%s\" [running]\n",
			msg, (long long)g->id, g->name);
	else
		dprintf(STDERR_FILENO, "fatal error: %s\n", msg);
	_exit(2);
}
