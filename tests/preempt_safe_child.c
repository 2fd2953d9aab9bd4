/* SPDX-License-Identifier: MIT */
/*
 * preempt_safe_child.c — the scenarios of check_preempt_safe, one per run:
 * ordinary C code holding thread-owned state (preempt_cases.c) runs in
 * goroutines beside others that force preemptions, under whatever
 * GORO_MAXPROCS and GORO_QUANTUM the caller sets.  Exit status 0 means the
 * code behaved as it does on a plain thread; anything else says what broke.
 * A hang is caught by the caller's time bound.
 *
 *   preempt_safe_child CASE [PLUGIN]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <goro.h>

#include "preempt_cases.h"

#define MS (1000 * 1000LL)

static const char *plugin_path;
static atomic_long failures;
static goro_wg_t wg = GORO_WG_INIT;

#define CHECK(cond, ...)                                                   \
	do { if (!(cond)) { fprintf(stderr, __VA_ARGS__);                   \
		fputc('\n', stderr); atomic_fetch_add(&failures, 1); } } while (0)

static int64_t plain_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins in its own code until *stop: what the preemptions are for. */
static atomic_bool hogs_stop;
static void hog(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed))
		;
	goro_wg_done(&wg);
}

static void go(void (*fn)(void *), void *arg)
{
	goro_wg_add(&wg, 1);
	if (goro_go(fn, arg) < 0) {
		fprintf(stderr, "goro_go failed\n");
		exit(3);
	}
}

/* Workers run beside two hogs so that Ps change hands all the time. */
static void run_workers(void (*fn)(void *), int n)
{
	go(hog, NULL);
	go(hog, NULL);
	for (intptr_t i = 0; i < n; i++)
		go(fn, (void *)i);
}

static void wait_all(void)
{
	atomic_store(&hogs_stop, true);
	goro_wg_wait(&wg);
}

/* ---- the scenarios ------------------------------------------------------- */

static void malloc_worker(void *arg)
{
	long bad = case_malloc_churn((unsigned)(intptr_t)arg + 1, 300000);
	CHECK(bad == 0, "malloc: %ld corrupt blocks", bad);
	goro_wg_done(&wg);
}

static sqlite3 *shared_db;
static void sqlite_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++) {
		long sum = -1;
		int rc = case_sqlite_query(shared_db, 200000, &sum);
		CHECK(rc == SQLITE_OK && sum == 599997,
		      "sqlite: rc %d sum %ld", rc, sum);
	}
	goro_wg_done(&wg);
}

static void mutex_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 15; i++) {
		int err = case_errorcheck_mutex(3 * MS);
		CHECK(err == 0, "error-checking mutex: unlock gave %s", strerror(err));
		err = case_rwlock(3 * MS);
		CHECK(err == 0, "rwlock: still held after unlock (%s)", strerror(err));
	}
	goro_wg_done(&wg);
}

static void cxx_worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 40; i++)
		CHECK(case_cxx_rethrow(3 * MS, id * 1000 + i) == 0,
		      "C++: rethrow lost or another goroutine's exception");
	goro_wg_done(&wg);
}

static void tls_worker(void *arg)
{
	(void)arg;
	long bad = case_tls_loop(150 * MS);
	CHECK(bad == 0, "TLS loop: %ld wrong elements", bad);
	goro_wg_done(&wg);
}

static long (*plugin_tls_loop)(int64_t);
static void tls_dl_worker(void *arg)
{
	(void)arg;
	long bad = plugin_tls_loop(150 * MS);
	CHECK(bad == 0, "dlopen TLS loop: %ld wrong elements", bad);
	goro_wg_done(&wg);
}

/* Spins until the loader scenario's workers are done: it is what sysmon
 * must keep preempting (and it makes the preempted goroutines move). */
static atomic_int loader_workers;
static void loader_hog(void *arg)
{
	(void)arg;
	int64_t give_up = plain_now() + 60000 * MS;
	while (atomic_load_explicit(&loader_workers, memory_order_relaxed) > 0 &&
	       plain_now() < give_up)
		;
	goro_wg_done(&wg);
}

static void dl_iterate_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		CHECK(case_dl_iterate(30 * MS) > 0, "dl_iterate_phdr saw nothing");
	atomic_fetch_sub(&loader_workers, 1);
	goro_wg_done(&wg);
}

static void sleeper(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++)
		goro_sleep(1 * MS);
	goro_wg_done(&wg);
}

static void dlopen_worker(void *arg)
{
	(void)arg;
	void *h = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL, "dlopen %s: %s", plugin_path, dlerror());
	atomic_fetch_sub(&loader_workers, 1);
	goro_wg_done(&wg);
}

static void loader_user(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		void *h = dlopen("libm.so.6", RTLD_NOW);
		CHECK(h != NULL, "dlopen libm: %s", dlerror());
		if (h)
			dlclose(h);
		CHECK(getpwnam("root") != NULL, "getpwnam(root) failed");
		goro_sleep(1 * MS);
	}
	atomic_fetch_sub(&loader_workers, 1);
	goro_wg_done(&wg);
}

/* Counts 1 ms sleeps; the memmove hog looks at it around each call. */
static atomic_long sleeps;
static atomic_bool sleeper_stop;
static void counting_sleeper(void *arg)
{
	(void)arg;
	while (!atomic_load(&sleeper_stop)) {
		goro_sleep(1 * MS);
		atomic_fetch_add(&sleeps, 1);
	}
	goro_wg_done(&wg);
}

static void memmove_hog(void *arg)
{
	(void)arg;
	size_t n = 128u << 20;
	char *a = malloc(n), *b = malloc(n);
	CHECK(a && b, "out of memory");
	if (a && b) {
		memset(a, 1, n);
		memset(b, 2, n);
		int overlapped = 0;
		for (int i = 0; i < 6; i++) {
			long before = atomic_load(&sleeps);
			memmove(i & 1 ? a : b, i & 1 ? b : a, n);
			overlapped += atomic_load(&sleeps) != before;
		}
		/* One P: the sleeper ran during a memmove only if the hog was
		 * stopped inside libc. */
		CHECK(overlapped > 0, "memmove: the sleeper never ran during one");
	}
	free(a);
	free(b);
	atomic_store(&sleeper_stop, true);
	goro_wg_done(&wg);
}

/* Deep enough to grow the stack several times. */
static long recurse(int depth)
{
	volatile char pad[512];
	pad[0] = (char)depth;
	return depth ? recurse(depth - 1) + pad[0] : 0;
}

static void recursing(void *arg)
{
	(void)arg;
	CHECK(recurse(300) > 0, "recursion");
	goro_wg_done(&wg);
}

static atomic_bool flag;
static void flag_waiting_hog(void *arg)
{
	(void)arg;
	int64_t give_up = plain_now() + 20000 * MS;
	while (!atomic_load_explicit(&flag, memory_order_relaxed) &&
	       plain_now() < give_up)
		;
	CHECK(atomic_load(&flag), "the hog was never preempted");
	goro_wg_done(&wg);
}

static void flag_setter(void *arg)
{
	(void)arg;
	goro_sleep(1 * MS);
	atomic_store(&flag, true);
	goro_wg_done(&wg);
}

static void mask_changer(void *arg)
{
	(void)arg;
	goro_lock_thread();
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	goro_unlock_thread();
	goro_wg_done(&wg);
}

static void mask_checker(void *arg)
{
	(void)arg;
	sigset_t cur;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	CHECK(!sigismember(&cur, SIGUSR1), "SIGUSR1 left blocked by another goroutine");
	CHECK(!sigismember(&cur, SIGURG) && !sigismember(&cur, SIGSEGV),
	      "a runtime signal is blocked in a goroutine");
	goro_wg_done(&wg);
}

static atomic_bool starve_done;
static void finite_hog(void *arg)
{
	(void)arg;
	case_spin_ns(200 * MS);
	atomic_store(&starve_done, true);
	goro_wg_done(&wg);
}

static void yielder(void *arg)
{
	(void)arg;
	while (!atomic_load(&starve_done))
		goro_yield();
	goro_wg_done(&wg);
}

/*
 * Parallelism, measured: each goroutine computes in chunks of 200 µs of its
 * thread's CPU time and keeps the wall-clock interval of every chunk that
 * ran without interruption (wall time under 1.5 times its CPU time).  With
 * one P two such intervals of different goroutines can never overlap; an
 * overlap is time both ran at once.  Chunks a loaded machine stretched are
 * dropped, so noise only hides overlap, never invents it.
 */
#define CHUNK_NS (200 * 1000)
#define CHUNKS_MAX 8192
struct chunks {
	int n;
	int64_t lo[CHUNKS_MAX], hi[CHUNKS_MAX];
};
static struct chunks spare_chunks[2];

static int64_t thread_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void compute_in_chunks(struct chunks *c, int64_t ns)
{
	for (int64_t done = 0; done < ns; done += CHUNK_NS) {
		int64_t w0 = plain_now(), c0 = thread_cpu_now(), c1;
		do
			c1 = thread_cpu_now();
		while (c1 - c0 < CHUNK_NS);
		int64_t w1 = plain_now();
		if (w1 - w0 < (c1 - c0) * 3 / 2 && c->n < CHUNKS_MAX) {
			c->lo[c->n] = w0;
			c->hi[c->n] = w1;
			c->n++;
		}
	}
}

static void napping_spinner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		usleep(20000);          /* un-annotated: its P is handed on */
		compute_in_chunks(&spare_chunks[0], 40 * MS);
	}
	goro_wg_done(&wg);
}

static void chunk_spinner(void *arg)
{
	compute_in_chunks(&spare_chunks[1], (int64_t)(intptr_t)arg * MS);
	goro_wg_done(&wg);
}

/* Total time the two goroutines' uninterrupted chunks overlap. */
static int64_t chunks_overlap(const struct chunks *a, const struct chunks *b)
{
	int64_t total = 0;
	int j = 0;
	for (int i = 0; i < a->n; i++) {
		while (j < b->n && b->hi[j] <= a->lo[i])
			j++;
		for (int k = j; k < b->n && b->lo[k] < a->hi[i]; k++) {
			int64_t lo = a->lo[i] > b->lo[k] ? a->lo[i] : b->lo[k];
			int64_t hi = a->hi[i] < b->hi[k] ? a->hi[i] : b->hi[k];
			if (hi > lo)
				total += hi - lo;
		}
	}
	return total;
}

static int child_main(int argc, char **argv)
{
	(void)argc;
	const char *c = argv[1];
	if (!strcmp(c, "malloc")) {
		run_workers(malloc_worker, 4);
	} else if (!strcmp(c, "sqlite")) {
		int rc = sqlite3_open_v2(":memory:", &shared_db,
			SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			SQLITE_OPEN_FULLMUTEX, NULL);
		CHECK(rc == SQLITE_OK && sqlite3_threadsafe() == 1,
		      "sqlite3_open_v2: %d (threadsafe %d)", rc, sqlite3_threadsafe());
		run_workers(sqlite_worker, 3);
		wait_all();
		sqlite3_close(shared_db);
	} else if (!strcmp(c, "mutex")) {
		run_workers(mutex_worker, 4);
	} else if (!strcmp(c, "cxx")) {
		run_workers(cxx_worker, 4);
	} else if (!strcmp(c, "tls")) {
		run_workers(tls_worker, 4);
	} else if (!strcmp(c, "tls_dl")) {
		void *h = dlopen(plugin_path, RTLD_NOW);
		CHECK(h != NULL, "dlopen: %s", dlerror());
		if (!h)
			return 4;
		plugin_tls_loop = (long (*)(int64_t))dlsym(h, "plugin_tls_loop");
		run_workers(tls_dl_worker, 4);
	} else if (!strcmp(c, "dl_iterate")) {
		atomic_store(&loader_workers, 1);
		go(loader_hog, NULL);
		go(loader_hog, NULL);
		go(dl_iterate_worker, NULL);
		go(sleeper, (void *)(intptr_t)100);
	} else if (!strcmp(c, "dlopen")) {
		atomic_store(&loader_workers, 3);
		go(loader_hog, NULL);
		go(loader_hog, NULL);
		go(dlopen_worker, NULL);
		go(loader_user, NULL);
		go(loader_user, NULL);
		go(sleeper, (void *)(intptr_t)100);
	} else if (!strcmp(c, "memmove")) {
		go(counting_sleeper, NULL);
		go(memmove_hog, NULL);
	} else if (!strcmp(c, "sigmask")) {
		/* main() blocked every signal before goro_main. */
		go(recursing, NULL);
		go(flag_waiting_hog, NULL);
		go(flag_setter, NULL);
	} else if (!strcmp(c, "sigleak")) {
		go(mask_changer, NULL);
		goro_wg_wait(&wg);
		for (int i = 0; i < 8; i++)
			go(mask_checker, NULL);
	} else if (!strcmp(c, "starve")) {
		go(finite_hog, NULL);
		goro_yield();
		go(yielder, NULL);
		go(yielder, NULL);
	} else if (!strcmp(c, "tailsleep")) {
		/* One P: the only P is held by a goroutine asleep in the kernel
		 * in a call it made in tail position; sysmon must see it is the
		 * application's sleep and hand the P on, or main's 10 ms sleep
		 * lasts 20 s (the caller's bound fails first). */
		if (goro_go(case_tail_sleep, NULL) < 0)
			return 3;
		goro_yield();
		goro_sleep(10 * MS);
		return 0;  /* the sleeper is left in the kernel: exit ends it */
	} else if (!strcmp(c, "spare")) {
		/* A goroutine that woke on a spare P must not compute beside
		 * the one holding the only P for longer than it takes sysmon
		 * to see it (a quantum or two each time, 10 times). */
		go(napping_spinner, NULL);
		go(chunk_spinner, (void *)(intptr_t)700);
		goro_wg_wait(&wg);
		int64_t both = chunks_overlap(&spare_chunks[0], &spare_chunks[1]);
		CHECK(both < 40 * MS, "spare: two goroutines computed at once for "
		      "%lld ms with one P", (long long)(both / MS));
		if (getenv("PREEMPT_SAFE_VERBOSE"))
			fprintf(stderr, "spare: overlap %.1f ms (%d and %d chunks)\n",
				both / 1e6, spare_chunks[0].n, spare_chunks[1].n);
	} else {
		fprintf(stderr, "unknown case %s\n", c);
		return 64;
	}
	wait_all();
	long f = atomic_load(&failures);
	return f ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE [PLUGIN]\n", argv[0]);
		return 64;
	}
	plugin_path = argc > 2 ? argv[2] : NULL;
	if (!strcmp(argv[1], "sigmask")) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, NULL);
	}
	return goro_main(child_main, argc, argv);
}
