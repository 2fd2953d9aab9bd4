/* SPDX-License-Identifier: MIT */
/*
 * preempt_plugin.c — a dlopen()ed object for preempt_safe_child: its
 * constructor computes for 30 ms, under the loader's lock, and its TLS is
 * dynamic (heap memory, not the static TLS block).
 */
#include <stdint.h>
#include <time.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((constructor)) static void slow_constructor(void)
{
	int64_t until = now_ns() + 30 * 1000 * 1000;
	while (now_ns() < until)
		;
}

#define N 512
static __thread long plugin_tls[N];

long plugin_tls_loop(int64_t ns);
long plugin_tls_loop(int64_t ns)
{
	long bad = 0;
	int64_t until = now_ns() + ns;
	for (long round = 1; now_ns() < until; round++) {
		for (long *p = plugin_tls; p != plugin_tls + N; p++)
			*p = round;
		for (long *p = plugin_tls; p != plugin_tls + N; p++)
			if (*p != round)
				bad++;
	}
	return bad;
}
