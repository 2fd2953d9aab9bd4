/* SPDX-License-Identifier: MIT */
/*
 * check_stack.c — goroutine stacks: growth, the limit, system calls into
 * fresh stack memory, many parked goroutines in both guard modes, reuse
 * without leaks, and faults that are not stack faults.
 *
 * Built without -fstack-clash-protection (Makefile.am says so explicitly):
 * stacks must work for code built the way most compilers build it.  Tests
 * that loop over _i run once with the default guards and once with
 * GORO_STACK_GUARD=mprotect.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "testutil.h"

#define KIB 1024UL
#define MIB (1024UL * 1024UL)

static void set_guard_mode(int mprotect_mode)
{
	setenv("GORO_STACK_GUARD", mprotect_mode ? "mprotect" : "auto", 1);
}

/* Wait (parked, not spinning) until *counter reaches n. */
static void wait_for(atomic_long *counter, long n)
{
	while (atomic_load(counter) < n)
		goro_sleep(1000 * 1000);
}

/* ---- growth ------------------------------------------------------------- */

static char *deepest;

/* About 1 KiB per frame; not a tail call, not inlined. */
__attribute__((noinline)) static long recurse(long depth)
{
	volatile char pad[1000];
	pad[0] = (char)depth;
	pad[sizeof(pad) - 1] = 1;
	if (depth == 0) {
		deepest = (char *)pad;
		return pad[0];
	}
	return recurse(depth - 1) + pad[sizeof(pad) - 1];
}

static atomic_long deep_done;
static long deep_result;
static char *deep_top;

static void deep_goroutine(void *arg)
{
	char top;
	deep_top = &top;
	deep_result = recurse((long)(intptr_t)arg);
	atomic_store(&deep_done, 1);
}

static int deep_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "deep", .stack_max = 8 * MIB };
	if (goro_go_attr(&attr, deep_goroutine, (void *)(intptr_t)2100) <= 0)
		return 1;
	wait_for(&deep_done, 1);
	return 0;
}

START_TEST(test_recurse_2mib_with_8mib_limit)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(deep_main, 2), 0);
	ck_assert_int_eq(deep_result, 2100);
	/* It really went 2 MiB deep. */
	ck_assert_uint_ge((size_t)(deep_top - deepest), 2 * MIB);
}
END_TEST

/* Growth while being preempted: on one P with a 50us quantum, goroutines
 * that never yield take turns recursing through fresh stack, so the
 * preemption signal keeps landing mid-growth (its frame, pushed on the
 * goroutine's stack, may itself be what meets the guard). */
#define HOGS 16

static atomic_long hogs_done, hogs_wrong;

static void deep_hog(void *arg)
{
	(void)arg;
	if (recurse(2100) != 2100)
		atomic_fetch_add(&hogs_wrong, 1);
	atomic_fetch_add(&hogs_done, 1);
}

static int hogs_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "hog", .stack_max = 8 * MIB };
	for (int i = 0; i < HOGS; i++)
		if (goro_go_attr(&attr, deep_hog, NULL) <= 0)
			return 1;
	wait_for(&hogs_done, HOGS);
	return 0;
}

START_TEST(test_growth_under_preemption)
{
	set_guard_mode(_i);
	setenv("GORO_QUANTUM", "50us", 1);
	ck_assert_int_eq(run_goro(hogs_main, 1), 0);
	ck_assert_int_eq(atomic_load(&hogs_wrong), 0);
}
END_TEST

/* ---- overflow ------------------------------------------------------------- */

static volatile long recursion_limit = LONG_MAX;

__attribute__((noinline)) static long recurse_forever(long depth)
{
	volatile char pad[1000];
	pad[0] = (char)depth;
	if (depth == recursion_limit)
		return 0;
	return recurse_forever(depth + 1) + pad[0];
}

/* Set once goroutine 1 has printed the id of the goroutine about to die,
 * so that the output is in a known order. */
static atomic_bool id_shown;

static void print_id(int64_t id)
{
	printf("id=%lld\n", (long long)id);
	fflush(stdout);
	atomic_store(&id_shown, true);
}

static void await_id_shown(void)
{
	while (!atomic_load(&id_shown))
		goro_sleep(1000 * 1000);
}

static void overflow_goroutine(void *arg)
{
	if (arg)
		await_id_shown();
	recurse_forever(0);
}

static int overflow_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "deep", .stack_max = 256 * KIB };
	print_id(goro_go_attr(&attr, overflow_goroutine, &id_shown));
	goro_sleep(10LL * 1000 * 1000 * 1000);
	return 0;
}

static void overflow_child(void)
{
	/* One P: goroutine 1 prints the id before the overflow can happen. */
	_exit(run_goro(overflow_main, 1));
}

START_TEST(test_overflow_past_256k_limit_is_fatal)
{
	set_guard_mode(_i);
	char out[16384];
	int status = run_child(overflow_child, out, sizeof(out));
	ck_assert_int_eq(status, 2);
	long long id = 0;
	const char *line = strstr(out, "id=");
	ck_assert_msg(line && sscanf(line, "id=%lld", &id) == 1, "got: %s", out);
	char expect[128];
	snprintf(expect, sizeof(expect), "fatal error: goroutine %lld \"deep\" "
		 "stack exceeds 262144-byte limit", id);
	ck_assert_msg(strstr(out, expect), "got: %s", out);
	ck_assert_msg(strstr(out, "recurse_forever"), "no frames: %s", out);
}
END_TEST

/*
 * The overflow report is written in the SIGSEGV handler, where stdio's
 * formatting is not async-signal-safe.  This program's vsnprintf stands in
 * for libc's (libgoro calls it through its PLT): once a child forbids it,
 * a call leaves a mark in the output and formats nothing.
 */
static atomic_bool vsnprintf_forbidden;

int vsnprintf(char *restrict s, size_t n, const char *restrict fmt,
	      va_list ap)
{
	if (atomic_load(&vsnprintf_forbidden)) {
		static const char mark[] = "[vsnprintf in a signal handler]\n";
		(void)!write(STDERR_FILENO, mark, sizeof(mark) - 1);
		if (n)
			s[0] = '\0';
		return 0;
	}
	int (*libc)(char *, size_t, const char *, va_list) =
		(int (*)(char *, size_t, const char *, va_list))
		dlsym(RTLD_NEXT, "vsnprintf");
	return libc(s, n, fmt, ap);
}

static void overflow_without_stdio_child(void)
{
	atomic_store(&vsnprintf_forbidden, true);
	_exit(run_goro(overflow_main, 1));
}

START_TEST(test_overflow_report_formats_without_stdio)
{
	char out[16384];
	int status = run_child(overflow_without_stdio_child, out, sizeof(out));
	ck_assert_int_eq(status, 2);
	ck_assert_msg(!strstr(out, "[vsnprintf in a signal handler]"),
		      "got: %s", out);
	ck_assert_msg(strstr(out, "\"deep\" stack exceeds 262144-byte limit\n"
			      "addr=0x"), "got: %s", out);
	ck_assert_msg(strstr(out, "recurse_forever"), "no frames: %s", out);
}
END_TEST

/* The default limit comes from GORO_STACK_MAX. */
static int overflow_default_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_go(overflow_goroutine, NULL);
	goro_sleep(10LL * 1000 * 1000 * 1000);
	return 0;
}

static void overflow_default_child(void)
{
	setenv("GORO_STACK_MAX", "64k", 1);
	_exit(run_goro(overflow_default_main, 1));
}

START_TEST(test_goro_stack_max_sets_the_default_limit)
{
	char out[16384];
	int status = run_child(overflow_default_child, out, sizeof(out));
	ck_assert_int_eq(status, 2);
	ck_assert_msg(strstr(out, "stack exceeds 65536-byte limit"),
		      "got: %s", out);
}
END_TEST

/* ---- system calls into fresh stack memory --------------------------------- */

static atomic_long read_done;
static ssize_t read_result;

static void reader(void *arg)
{
	(void)arg;
	char buf[200 * 1024];
	int fd = open("/dev/zero", O_RDONLY);
	/* /dev/zero stops a read early when a signal is pending (the
	 * preemption signal, on a loaded machine): read on, as a caller
	 * must.  A guard page in the buffer fails the read with EFAULT. */
	ssize_t done = 0, r = 0;
	while (fd >= 0 && done < (ssize_t)sizeof(buf) &&
	       (r = read(fd, buf + done, sizeof(buf) - (size_t)done)) > 0)
		done += r;
	read_result = fd < 0 || r < 0 ? -1 : done;
	if (fd >= 0)
		close(fd);
	atomic_store(&read_done, 1);
}

static int read_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	if (goro_go(reader, NULL) <= 0)
		return 1;
	wait_for(&read_done, 1);
	return 0;
}

START_TEST(test_fresh_goroutine_reads_200k_into_stack_buffer)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(read_main, 2), 0);
	ck_assert_int_eq(read_result, 200 * 1024);
}
END_TEST

/* ---- many parked goroutines ------------------------------------------------ */

/* Past the ~30k goroutines the mprotect fallback used to stop at; fewer
 * under ASan, where 200k in mprotect mode can take longer than the test's
 * time bound on a loaded 2-CPU machine, and 80k once failed in a CI run
 * beside the other sanitized suites. */
#if defined(__SANITIZE_ADDRESS__)
#define PARKED 50000
#else
#define PARKED 200000
#endif

static atomic_long parked_started, parked_finished;
static long parked_spawned;
static int64_t parked_error;
static int64_t goroutine_spawned_after;

/* Parks on a channel receive until the channel is closed. */
static void parked_goroutine(void *arg)
{
	goro_chan_t *release = arg;
	atomic_fetch_add(&parked_started, 1);
	if (goro_chan_recv(release, NULL) == 0)
		atomic_fetch_add(&parked_finished, 1);
}

static int parked_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_chan_t *release = goro_chan_make(0, 0);
	if (!release)
		return 2;
	parked_spawned = 0;
	for (long i = 0; i < PARKED; i++) {
		int64_t id = goro_go(parked_goroutine, release);
		if (id < 0) {
			parked_error = id;
			break;
		}
		parked_spawned++;
	}
	wait_for(&parked_started, parked_spawned);
	goro_chan_close(release);
	wait_for(&parked_finished, parked_spawned);
	/* Their stacks are free again: spawning works again. */
	goroutine_spawned_after = parked_error ?
		goro_go(parked_goroutine, release) : 1;
	wait_for(&parked_finished, parked_spawned + (parked_error != 0));
	goro_chan_free(release);
	return goroutine_spawned_after > 0 ? 0 : 3;
}

static void parked_child(void)
{
	int code = run_goro(parked_main, 2);
	printf("spawned=%ld error=%lld code=%d\n", parked_spawned,
	       (long long)parked_error, code);
	fflush(stdout);
	_exit(code);
}

START_TEST(test_200k_parked_then_woken)
{
	set_guard_mode(_i);
	char out[4096];
	int status = run_child(parked_child, out, sizeof(out));
	/* The head of the child's output, where a fatal error's own line
	 * is (a goroutine dump of 50k goroutines follows it): Check cannot
	 * carry a message of 4 KiB, and would report its own error instead
	 * of this one. */
	if (status != 0 && strlen(out) > 600)
		out[600] = '\0';
	ck_assert_msg(status == 0, "status %d: %s", status, out);
	long spawned = -1;
	long long error = 1;
	const char *line = strstr(out, "spawned=");
	ck_assert_msg(line, "got: %s", out);
	sscanf(line, "spawned=%ld error=%lld", &spawned, &error);
	long maps = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &maps) != 1)
			maps = 65530;
		fclose(f);
	}
	/* With mprotect guards too: past vm.max_map_count / 2 (two
	 * mappings per stack with guards of its own), stacks come in
	 * groups. */
	ck_assert_msg(maps < 65530 || spawned == PARKED,
		      "vm.max_map_count=%ld: %s", maps, out);
	ck_assert_int_eq(error, 0);
	ck_assert_msg(!strstr(out, "cannot create more goroutines"), "%s", out);
}
END_TEST

/* ---- reuse without leaks ------------------------------------------------------- */

#define ROUNDS 10
#define PER_ROUND 100000
/* Spawned goroutines hold a stack reservation until they run: mprotect
 * guards cap how many may wait at once. */
#define PER_ROUND_MPROTECT 20000
#define REUSE_BATCH 1000

static long per_round;

static atomic_long reuse_done;
static long rss_kib[ROUNDS];

static long rss_now_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One in 64 goes 64 KiB deep, so its slot must be trimmed when reused. */
static void short_lived(void *arg)
{
	if ((intptr_t)arg % 64 == 0)
		recurse(64);
	goro_yield();
	atomic_fetch_add(&reuse_done, 1);
}

static int reuse_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	long spawned = 0;
	for (int r = 0; r < ROUNDS; r++) {
		/* In batches, so that how many are alive at once (and so the
		 * stacks in use) does not depend on scheduling. */
		for (long i = 0; i < per_round; i++) {
			if (goro_go(short_lived, (void *)(intptr_t)i) <= 0)
				return 1;
			if (++spawned % REUSE_BATCH == 0)
				wait_for(&reuse_done, spawned);
		}
		wait_for(&reuse_done, spawned);
		rss_kib[r] = rss_now_kib();
	}
	return 0;
}

START_TEST(test_reused_stacks_do_not_leak)
{
	set_guard_mode(_i);
	per_round = _i ? PER_ROUND_MPROTECT : PER_ROUND;
	ck_assert_int_eq(run_goro(reuse_main, 2), 0);
	/* After the first round has warmed the caches, RSS stays flat: a
	 * leaked stack per goroutine would add ~400 MB a round. */
	for (int r = 1; r < ROUNDS; r++)
		ck_assert_msg(rss_kib[r] <= rss_kib[0] + 16 * 1024,
			      "round %d: %ld KiB, round 0: %ld KiB", r,
			      rss_kib[r], rss_kib[0]);
}
END_TEST

/* ---- faults that are not stack faults ------------------------------------------- */

static int *volatile wild_pointer = (int *)16;

static void wild_write(void *arg)
{
	(void)arg;
	await_id_shown();
	*wild_pointer = 1;
}

static int wild_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	print_id(goro_go(wild_write, NULL));
	goro_sleep(10LL * 1000 * 1000 * 1000);
	return 0;
}

static void wild_child(void)
{
	_exit(run_goro(wild_main, 1));
}

START_TEST(test_wild_pointer_is_not_growth)
{
	char out[16384];
	int status = run_child(wild_child, out, sizeof(out));
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's handler was there first: the fault is passed on to it. */
	ck_assert_int_eq(status, 1);
	ck_assert_msg(strstr(out, "SEGV on unknown address 0x000000000010"),
		      "got: %s", out);
#else
	ck_assert_int_eq(status, 2);
	ck_assert_msg(strstr(out, "fatal error: unexpected signal"), "got: %s", out);
	ck_assert_msg(strstr(out, "addr=0x10 "), "got: %s", out);
	long long id = 0;
	ck_assert_int_eq(sscanf(out, "id=%lld", &id), 1);
	char expect[64];
	snprintf(expect, sizeof(expect), "\ngoroutine %lld ", id);
	ck_assert_msg(strstr(out, expect), "got: %s", out);
#endif
}
END_TEST

/* An application's own SIGSEGV handler still sees the faults that are its
 * business, and is back in place after goro_main. */
static char *app_page;
static volatile sig_atomic_t app_handled;

static void app_segv(int sig, siginfo_t *si, void *uctx)
{
	(void)sig; (void)uctx;
	if ((char *)si->si_addr == app_page) {
		mprotect(app_page, 4096, PROT_READ | PROT_WRITE);
		app_handled++;
		return;
	}
	_exit(99);
}

static atomic_long app_done;

static void touch_app_page(void *arg)
{
	(void)arg;
	app_page[0] = 42;
	atomic_store(&app_done, 1);
}

static int chain_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_go(touch_app_page, NULL);
	wait_for(&app_done, 1);
	return 0;
}

static void chain_child(void)
{
	app_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_sigaction = app_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	if (run_goro(chain_main, 2) != 0 || app_handled != 1 || app_page[0] != 42)
		_exit(1);
	struct sigaction now;
	sigaction(SIGSEGV, NULL, &now);
	_exit(now.sa_sigaction == app_segv ? 0 : 3);
}

START_TEST(test_application_segv_handler_is_chained)
{
	char out[4096];
	int status = run_child(chain_child, out, sizeof(out));
	/* The head of the child's output, where a fatal error's own line
	 * is (a goroutine dump of 50k goroutines follows it): Check cannot
	 * carry a message of 4 KiB, and would report its own error instead
	 * of this one. */
	if (status != 0 && strlen(out) > 600)
		out[600] = '\0';
	ck_assert_msg(status == 0, "status %d: %s", status, out);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("stack");
	tcase_add_loop_test(tc, test_recurse_2mib_with_8mib_limit, 0, 2);
	tcase_add_loop_test(tc, test_growth_under_preemption, 0, 2);
	tcase_add_loop_test(tc, test_overflow_past_256k_limit_is_fatal, 0, 2);
	tcase_add_test(tc, test_goro_stack_max_sets_the_default_limit);
	tcase_add_test(tc, test_overflow_report_formats_without_stdio);
	tcase_add_loop_test(tc, test_fresh_goroutine_reads_200k_into_stack_buffer, 0, 2);
	tcase_add_loop_test(tc, test_200k_parked_then_woken, 0, 2);
	tcase_add_loop_test(tc, test_reused_stacks_do_not_leak, 0, 2);
	tcase_add_test(tc, test_wild_pointer_is_not_growth);
	tcase_add_test(tc, test_application_segv_handler_is_chained);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(stack_suite)
