/* SPDX-License-Identifier: MIT */
/*
 * config.c — reading and checking the GORO_* environment variables.
 *
 * Why one place: every setting is read once, at goro_main, into `config`
 * (config.h), so that the runtime never calls getenv on a hot path or
 * from a signal handler, and a bad value stops goro_main with a message
 * naming the variable instead of being half-honoured.  The parsers of
 * durations and sizes are shared with the tools (goro-bench).
 *
 * Invariants: `config` is written only by config_load, before any M but
 * M0 exists; every field holds a checked value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Time slice (GORO_QUANTUM).  Each preemption costs CPU (signal delivery,
 * expensive under virtualization), paid once per quantum by hogs sharing
 * a P; a sleeper beside a hog wakes up to a quantum late.  goro-bench's
 * preempt suite measures both against Go's 10 ms: 1 ms keeps the cost
 * near Go's and the latency well below it; latency-critical programs
 * lower it. */
#define DEFAULT_QUANTUM_NS (1000 * 1000)
#define DEFAULT_HOG_TURN_QUANTA 8

struct rt_config config;

int parse_duration_ns(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -EINVAL;
	double scale;
	if (!strcmp(end, "ns"))
		scale = 1;
	else if (!strcmp(end, "us") || !strcmp(end, "µs"))
		scale = 1e3;
	else if (!strcmp(end, "ms"))
		scale = 1e6;
	else if (!strcmp(end, "s"))
		scale = 1e9;
	else
		return -EINVAL;
	double ns = v * scale;
	if (ns > 1e18)
		return -EINVAL;
	*out = (int64_t)ns;
	return 0;
}

int parse_size_bytes(const char *s, size_t *out)
{
	char *end;
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno)
		return -EINVAL;
	unsigned long long scale = 1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': scale = 1ULL << 10; break;
		case 'M': scale = 1ULL << 20; break;
		case 'G': scale = 1ULL << 30; break;
		default: return -EINVAL;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v > (1ULL << 40) / scale)
		return -EINVAL;
	*out = (size_t)(v * scale);
	return 0;
}

static int bad(const char *name, const char *value, const char *accepts)
{
	fprintf(stderr, "goro: %s=\"%s\" is not valid: expected %s\n", name,
		value, accepts);
	return -EINVAL;
}

/* GORO_DEBUG: comma-separated key=value, as Go's GODEBUG.  Keys it does
 * not know are left alone (as Go does); a known key's bad value is an
 * error. */
static int parse_debug(const char *v)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", v);
	char *save = NULL;
	for (char *kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *val = eq + 1;
		char *end;
		long long n = strtoll(val, &end, 10);
		bool number = *val && !*end;
		if (!strcmp(kv, "schedtrace")) {
			if (!number || n < 0 || n > 3600 * 1000)
				return bad("GORO_DEBUG", v, "schedtrace=MS with "
					   "MS from 0 to 3600000");
			config.schedtrace_ms = n;
		} else if (!strcmp(kv, "scheddetail")) {
			if (!number || (n != 0 && n != 1))
				return bad("GORO_DEBUG", v, "scheddetail=0 or 1");
			config.scheddetail = n == 1;
		} else if (!strcmp(kv, "hogturn")) {
			if (!number || n < 1 || n > 1000)
				return bad("GORO_DEBUG", v, "hogturn=N with N "
					   "from 1 to 1000");
			config.hog_turn_quanta = (int)n;
		} else if (!strcmp(kv, "tracebacklines")) {
			if (!number || (n != 0 && n != 1))
				return bad("GORO_DEBUG", v, "tracebacklines=0 or 1");
			config.traceback_lines = n == 1;
		} else if (!strcmp(kv, "fileiocache")) {
			if (!number || (n != 0 && n != 1))
				return bad("GORO_DEBUG", v, "fileiocache=0 or 1");
			config.fileio_cache = n == 1;
		}
	}
	return 0;
}

int config_load(void)
{
	const char *v;
	memset(&config, 0, sizeof(config));
	config.quantum_ns = DEFAULT_QUANTUM_NS;
	config.hog_turn_quanta = DEFAULT_HOG_TURN_QUANTA;
	config.async_preempt = true;
	config.traceback = TRACEBACK_SINGLE;
	config.traceback_lines = true;

	if ((v = getenv("GORO_MAXPROCS")) && *v) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 1024)
			return bad("GORO_MAXPROCS", v, "an integer from 1 to 1024");
		config.maxprocs = (int)n;
	}
	if ((v = getenv("GORO_QUANTUM")) && *v) {
		if (parse_duration_ns(v, &config.quantum_ns) ||
		    config.quantum_ns < 10000)
			return bad("GORO_QUANTUM", v,
				   "a duration of at least 10us, such as 10ms or 100us");
	}
	if ((v = getenv("GORO_ASYNCPREEMPT")) && *v) {
		if (!strcmp(v, "0"))
			config.async_preempt = false;
		else if (!strcmp(v, "1"))
			config.async_preempt = true;
		else
			return bad("GORO_ASYNCPREEMPT", v, "0 or 1");
	}
	if ((v = getenv("GORO_STACK_MAX")) && *v) {
		if (parse_size_bytes(v, &config.stack_max) ||
		    config.stack_max < 16384)
			return bad("GORO_STACK_MAX", v,
				   "a size of at least 16k, such as 256k or 8M");
	}
	if ((v = getenv("GORO_TRACEBACK")) && *v) {
		if (!strcmp(v, "none") || !strcmp(v, "0"))
			config.traceback = TRACEBACK_NONE;
		else if (!strcmp(v, "single"))
			config.traceback = TRACEBACK_SINGLE;
		else if (!strcmp(v, "all") || !strcmp(v, "1") ||
			 !strcmp(v, "system"))
			config.traceback = TRACEBACK_ALL;
		else if (!strcmp(v, "crash"))
			config.traceback = TRACEBACK_CRASH;
		else
			return bad("GORO_TRACEBACK", v, "none, single, all or crash");
	}
	if ((v = getenv("GORO_STACK_GUARD")) && *v) {
		if (!strcmp(v, "mprotect"))
			config.stack_guard = STACK_GUARD_MPROTECT;
		else if (!strcmp(v, "auto") || !strcmp(v, "madvise"))
			config.stack_guard = STACK_GUARD_AUTO;
		else
			return bad("GORO_STACK_GUARD", v, "auto or mprotect");
	}
	if ((v = getenv("GORO_DEBUG")) && *v) {
		int err = parse_debug(v);
		if (err)
			return err;
	}
	if ((v = getenv("GORO_SIGQUIT")) && *v) {
		if (!strcmp(v, "ignore"))
			config.sigquit_ignore = true;
		else if (!strcmp(v, "dump"))
			config.sigquit_ignore = false;
		else
			return bad("GORO_SIGQUIT", v, "dump or ignore");
	}
	if ((v = getenv("GORO_FILEIO")) && *v) {
		if (!strcmp(v, "auto"))
			config.fileio = FILEIO_MODE_AUTO;
		else if (!strcmp(v, "uring"))
			config.fileio = FILEIO_MODE_URING;
		else if (!strcmp(v, "threads"))
			config.fileio = FILEIO_MODE_THREADS;
		else
			return bad("GORO_FILEIO", v, "auto, uring or threads");
	}
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer delivers asynchronous signals late, from its own
	 * frames, where the preemption handler's context change is lost:
	 * preemption is cooperative in a TSan build. */
	config.async_preempt = false;
#endif
	return 0;
}
