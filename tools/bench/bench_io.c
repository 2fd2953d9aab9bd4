/* SPDX-License-Identifier: MIT */
/*
 * bench_io.c — suite "io": regular-file reads that do not hold a P
 * (issue 14's Files evidence, measured).
 *
 * 64 goroutines read one file in 64 KiB preads, taking chunks from a
 * shared counter, on 2 Ps, beside a goroutine sleeping 1 ms in a loop:
 *
 *   file-mbs[-threads]       MB/s read (10^6 bytes) by the engine,
 *                            GORO_FILEIO=uring (no suffix) or threads
 *   file-mbs-cache           the page-cache fast path on
 *                            (GORO_DEBUG=fileiocache=1): each read of the
 *                            cached file is copied by the goroutine itself
 *   file-late-{p50,p99,max}[-threads,-cache]
 *                            how late the 1 ms sleeper wakes meanwhile, µs
 *   file-mbs-pthreads        the floor: 64 plain pthreads doing the same
 *                            preads (no runtime), and its 1 ms sleeper
 *   file-late-{p50,p99,max}-pthreads
 *
 * The Go counterpart (tools/bench/go/io) does the same with 64 goroutines
 * calling (*os.File).ReadAt at GOMAXPROCS 2; its figures sit beside the
 * io_uring ones.  The file is written once per invocation and read from
 * the page cache, so the figures measure the runtime's cost of a read,
 * not the disk.  Every chunk is checked (each 4 KiB block starts with its
 * own offset); a wrong byte ends the benchmark.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#include "bench.h"

#define SUITE "io"
#define MS (1000 * 1000LL)
#define READERS 64
#define CHUNK (64 * 1024)
#define BLOCK 4096
#define LATE_MAX 20000

static char path[64];
static size_t file_size;
static int passes;

static int fd;
static _Atomic uint64_t next_chunk;
static _Atomic int readers_left;
static _Atomic bool reading;
static int64_t late[LATE_MAX];
static int nlate;
static double mbs;

/* ---- the file -------------------------------------------------------------------- */

static void make_file(void)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/goro-bench-io-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	int f = mkstemp(path);
	if (f < 0)
		bench_fail(SUITE, "mkstemp %s: %s", path, strerror(errno));
	uint8_t *buf = calloc(1, CHUNK);
	for (size_t off = 0; off < file_size; off += CHUNK) {
		for (size_t b = 0; b < CHUNK; b += BLOCK) {
			uint64_t o = off + b;
			memcpy(buf + b, &o, sizeof(o));
		}
		if (pwrite(f, buf, CHUNK, (off_t)off) != CHUNK)
			bench_fail(SUITE, "writing %s: %s", path, strerror(errno));
	}
	free(buf);
	close(f);
}

static void check_chunk(const uint8_t *buf, uint64_t off)
{
	for (size_t b = 0; b < CHUNK; b += BLOCK) {
		uint64_t o;
		memcpy(&o, buf + b, sizeof(o));
		if (o != off + b)
			bench_fail(SUITE, "read at %llu: wrong bytes",
				   (unsigned long long)(off + b));
	}
}

/* The next chunk's offset, or false when every pass is done. */
static bool take_chunk(uint64_t *off)
{
	uint64_t c = atomic_fetch_add(&next_chunk, 1);
	uint64_t per_pass = file_size / CHUNK;
	if (c >= per_pass * (uint64_t)passes)
		return false;
	*off = (c % per_pass) * CHUNK;
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *suffix)
{
	char name[48];
	snprintf(name, sizeof(name), "file-mbs%s", suffix);
	bench_report(SUITE, name, "MB/s", &mbs, 1);
	if (nlate == 0)
		return;
	qsort(late, (size_t)nlate, sizeof(*late), cmp_i64);
	double v[3] = { late[nlate / 2] / 1e3, late[nlate * 99 / 100] / 1e3,
			late[nlate - 1] / 1e3 };
	const char *which[3] = { "p50", "p99", "max" };
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "file-late-%s%s", which[i], suffix);
		bench_report(SUITE, name, "us", &v[i], 1);
	}
}

/* ---- goroutines ------------------------------------------------------------------ */

static void reader(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t off;
	while (take_chunk(&off)) {
		if (goro_pread(fd, buf, CHUNK, (off_t)off) != CHUNK)
			bench_fail(SUITE, "goro_pread at %llu: %s",
				   (unsigned long long)off, strerror(errno));
		check_chunk(buf, off);
	}
	free(buf);
	atomic_fetch_sub(&readers_left, 1);
}

static void sleeper(void *arg)
{
	(void)arg;
	while (atomic_load(&reading)) {
		int64_t t0 = goro_now();
		goro_sleep(MS);
		if (nlate < LATE_MAX)
			late[nlate++] = goro_now() - t0 - MS;
	}
	atomic_fetch_sub(&readers_left, 1);
}

static int goro_read_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fd = goro_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_fail(SUITE, "goro_open %s: %s", path, strerror(errno));
	atomic_store(&next_chunk, 0);
	atomic_store(&reading, true);
	atomic_store(&readers_left, READERS + 1);
	nlate = 0;
	goro_go(sleeper, NULL);
	goro_sleep(2 * MS);
	int64_t t0 = bench_now();
	for (int i = 0; i < READERS; i++)
		if (goro_go(reader, NULL) < 0)
			bench_fail(SUITE, "goro_go failed");
	while (atomic_load(&readers_left) > 1)
		goro_sleep(MS);
	int64_t ns = bench_now() - t0;
	atomic_store(&reading, false);
	while (atomic_load(&readers_left) > 0)
		goro_sleep(MS);
	mbs = (double)file_size * passes / ((double)ns / 1e9) / 1e6;
	goro_close(fd);
	return 0;
}

static void run_goro(const char *mode, bool cache, const char *suffix)
{
	setenv("GORO_FILEIO", mode, 1);
	if (cache)
		setenv("GORO_DEBUG", "fileiocache=1", 1);
	bench_goro(2, goro_read_main);
	unsetenv("GORO_FILEIO");
	unsetenv("GORO_DEBUG");
	report(suffix);
}

/* ---- the pthread floor --------------------------------------------------------------- */

static void *thread_reader(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t off;
	while (take_chunk(&off)) {
		if (pread(fd, buf, CHUNK, (off_t)off) != CHUNK)
			bench_fail(SUITE, "pread at %llu: %s",
				   (unsigned long long)off, strerror(errno));
		check_chunk(buf, off);
	}
	free(buf);
	return NULL;
}

static void *thread_sleeper(void *arg)
{
	(void)arg;
	while (atomic_load(&reading)) {
		int64_t t0 = bench_now();
		struct timespec ts = { 0, MS };
		nanosleep(&ts, NULL);
		if (nlate < LATE_MAX)
			late[nlate++] = bench_now() - t0 - MS;
	}
	return NULL;
}

static void run_pthreads(void)
{
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_fail(SUITE, "open %s: %s", path, strerror(errno));
	atomic_store(&next_chunk, 0);
	atomic_store(&reading, true);
	nlate = 0;
	pthread_t s, t[READERS];
	pthread_create(&s, NULL, thread_sleeper, NULL);
	int64_t t0 = bench_now();
	for (int i = 0; i < READERS; i++)
		if (pthread_create(&t[i], NULL, thread_reader, NULL) != 0)
			bench_fail(SUITE, "pthread_create failed");
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	int64_t ns = bench_now() - t0;
	atomic_store(&reading, false);
	pthread_join(s, NULL);
	mbs = (double)file_size * passes / ((double)ns / 1e9) / 1e6;
	close(fd);
	report("-pthreads");
}

/* ---- the suite ------------------------------------------------------------------------ */

void bench_io(const struct bench_opts *opts)
{
	file_size = opts->quick ? 16u << 20 : 256u << 20;
	passes = opts->quick ? 1 : 4;
	make_file();
	struct bench_opts once = *opts;
	once.runs = 1;
	char args[128];
	snprintf(args, sizeof(args), "-file %s -passes %d", path, passes);
	for (int i = 0; i < opts->runs; i++) {
		run_goro("uring", false, "");
		run_goro("threads", false, "-threads");
		run_goro("auto", true, "-cache");
		run_pthreads();
		bench_go(&once, SUITE, "io", args, "MB/s");
	}
	unlink(path);
	/* The network half of the suite: Redis and DNS (bench_io_net.c). */
	bench_io_net(opts);
}
