/* SPDX-License-Identifier: MIT */
/*
 * config.h — the runtime's settings, read from GORO_* environment variables
 * at goro_main.  A bad value is an error at start, never ignored.
 */
#ifndef GORO_CONFIG_H
#define GORO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum traceback_level {
	TRACEBACK_NONE,    /* no goroutine stacks on a fatal error */
	TRACEBACK_SINGLE,  /* the failing goroutine only (Go's default) */
	TRACEBACK_ALL,     /* every goroutine */
	TRACEBACK_CRASH,   /* every goroutine, then a core dump */
};

enum stack_guard_mode {
	STACK_GUARD_AUTO,     /* MADV_GUARD_INSTALL where the kernel has it */
	STACK_GUARD_MPROTECT, /* force the mprotect fallback */
};

/* GORO_FILEIO: the file I/O engine's back end (src/io/fileio.h). */
enum fileio_mode {
	FILEIO_MODE_AUTO,     /* io_uring where the kernel allows it */
	FILEIO_MODE_URING,    /* io_uring, or goro_main fails at start */
	FILEIO_MODE_THREADS,  /* the thread pool only */
};

struct rt_config {
	int maxprocs;              /* GORO_MAXPROCS; 0 = CPUs available */
	int64_t quantum_ns;        /* GORO_QUANTUM */
	bool async_preempt;        /* GORO_ASYNCPREEMPT (default on) */
	size_t stack_max;          /* GORO_STACK_MAX; 0 = built-in default */
	enum traceback_level traceback;  /* GORO_TRACEBACK */
	enum stack_guard_mode stack_guard; /* GORO_STACK_GUARD */
	bool sigquit_ignore;       /* GORO_SIGQUIT=ignore: keep an inherited
				    * SIG_IGN rather than dump on SIGQUIT */
	/* GORO_DEBUG=schedtrace=MS,scheddetail=1 (Go's GODEBUG keys). */
	int64_t schedtrace_ms;     /* 0: off */
	bool scheddetail;
	/* GORO_DEBUG=hogturn=N: quanta a goroutine keeps its P while only
	 * goroutines that used up their own slice wait (src/sysmon/sysmon.c);
	 * 1 preempts them every quantum, as Go does. */
	int hog_turn_quanta;
	/* GORO_DEBUG=tracebacklines=0: fatal reports without file:line, and
	 * without the forked copy that finds it (src/signals/snapshot.c). */
	bool traceback_lines;
	enum fileio_mode fileio;   /* GORO_FILEIO */
	bool fileio_cache;         /* GORO_DEBUG=fileiocache=1: the page-cache
				    * fast path (src/io/fileio_api.c) */
};

extern struct rt_config config;

/* Fill `config` from the environment.  0, or -EINVAL after printing which
 * variable is wrong and what it accepts. */
int config_load(void);

/* Parsers shared with tools: "10ms", "100us", "2s", "500ns" / "8M", "64k". */
int parse_duration_ns(const char *s, int64_t *out);
int parse_size_bytes(const char *s, size_t *out);

#endif
