/* SPDX-License-Identifier: MIT */
/*
 * check_stack_growth.c — goroutine stacks hold whatever ordinary C code puts
 * on them, built the way most compilers build it: without
 * -fstack-clash-protection (Makefile.am compiles this file with
 * -fno-stack-clash-protection on purpose).  Large frames then skip pages:
 * their first write may land well below the open part of the stack, or past
 * the limit.  What these tests pin:
 *  - growth never loses data: a 64 KiB local array and a float kernel with
 *    two 16 KiB arrays read back exactly what they wrote;
 *  - a frame up to 1 MiB past the limit is a clean fatal report, and never
 *    a write into another goroutine's stack (and a frame of any size, in a
 *    program built with the flag: tests/stack_clash_child.c);
 *  - with mprotect guards, goroutines are not capped near
 *    vm.max_map_count / 2;
 *  - goro.pc gives programs -fstack-clash-protection.
 * Every test that loops over _i runs with the default guards (_i == 0) and
 * with GORO_STACK_GUARD=mprotect (_i == 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>

#include "testutil.h"

#define KIB 1024UL
#define MIB (1024UL * 1024UL)

static void set_guard_mode(int mprotect_mode)
{
	setenv("GORO_STACK_GUARD", mprotect_mode ? "mprotect" : "auto", 1);
}

static void wait_for(atomic_long *counter, long n)
{
	while (atomic_load(counter) < n)
		goro_sleep(1000 * 1000);
}

/* ---- a 64 KiB local array ------------------------------------------------ */

#define ARRAY_BYTES (64 * KIB)

/* Fills its array from the lowest address up (so the first write is far
 * below the open part of a fresh stack), then counts the bytes that did
 * not keep their value. */
__attribute__((noinline)) static long array_bytes_lost(unsigned seed)
{
	volatile unsigned char a[ARRAY_BYTES];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 7 + seed);
	long lost = 0;
	for (size_t i = 0; i < sizeof(a); i++)
		lost += a[i] != (unsigned char)(i * 7 + seed);
	return lost;
}

#define ARRAY_GOROUTINES 8

static atomic_long array_done, array_lost;

static void array_goroutine(void *arg)
{
	atomic_fetch_add(&array_lost, array_bytes_lost((unsigned)(uintptr_t)arg));
	atomic_fetch_add(&array_done, 1);
}

static int array_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	/* Fresh stacks, then (second half) stacks reused from the cache. */
	for (int i = 0; i < ARRAY_GOROUTINES; i++) {
		if (goro_go(array_goroutine, (void *)(uintptr_t)(i + 1)) <= 0)
			return 1;
		if (i == ARRAY_GOROUTINES / 2 - 1)
			wait_for(&array_done, i + 1);
	}
	wait_for(&array_done, ARRAY_GOROUTINES);
	return 0;
}

START_TEST(test_64k_local_array_keeps_every_byte)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(array_main, 1), 0);
	ck_assert_int_eq(atomic_load(&array_done), ARRAY_GOROUTINES);
	ck_assert_msg(atomic_load(&array_lost) == 0, "%ld of %lu bytes lost",
		      atomic_load(&array_lost), ARRAY_GOROUTINES * ARRAY_BYTES);
}
END_TEST

/* In a slot larger than the guard band below the open part (an 8 MiB
 * limit), a 3 MiB frame's first writes land in plain memory below the band;
 * growth must not put the band back over them. */
#define BIG_ARRAY_BYTES (3 * MIB)

__attribute__((noinline)) static long big_array_bytes_lost(void)
{
	volatile unsigned char a[BIG_ARRAY_BYTES];
	for (size_t i = 0; i < sizeof(a); i += 64)
		a[i] = (unsigned char)(i / 64 * 13 + 5);
	long lost = 0;
	for (size_t i = 0; i < sizeof(a); i += 64)
		lost += a[i] != (unsigned char)(i / 64 * 13 + 5);
	return lost;
}

static void big_array_goroutine(void *arg)
{
	(void)arg;
	atomic_fetch_add(&array_lost, big_array_bytes_lost());
	atomic_fetch_add(&array_done, 1);
}

static int big_array_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "big", .stack_max = 8 * MIB };
	for (int i = 0; i < 2; i++) {  /* a fresh slot, then the same again */
		if (goro_go_attr(&attr, big_array_goroutine, NULL) <= 0)
			return 1;
		wait_for(&array_done, i + 1);
	}
	return 0;
}

START_TEST(test_3mib_array_in_an_8mib_stack_keeps_every_byte)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(big_array_main, 1), 0);
	ck_assert_int_eq(atomic_load(&array_done), 2);
	ck_assert_msg(atomic_load(&array_lost) == 0, "%ld of %lu samples lost",
		      atomic_load(&array_lost), 2 * BIG_ARRAY_BYTES / 64);
}
END_TEST

/* goro's own I/O opens its buffer's stack pages before the kernel writes
 * into them: a 3 MiB buffer straight below the frame's top, in an 8 MiB
 * stack, never touched before goro_read fills it from /dev/zero.  The
 * frames of goro_read itself lie below the buffer and must stay open. */
static ssize_t read_result;

__attribute__((noinline)) static long read_big_buffer(void)
{
	volatile unsigned char buf[BIG_ARRAY_BYTES];
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0)
		return -1;
	buf[sizeof(buf) - 1] = 7;
	size_t got = 0;
	while (got < sizeof(buf)) {
		ssize_t r = goro_read(fd, (unsigned char *)buf + got,
				      sizeof(buf) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	read_result = (ssize_t)got;
	long nonzero = 0;
	for (size_t i = 0; i < sizeof(buf); i += 4096)
		nonzero += buf[i] != 0;
	return nonzero + (buf[sizeof(buf) - 1] != 0);
}

static void read_goroutine(void *arg)
{
	(void)arg;
	atomic_fetch_add(&array_lost, read_big_buffer());
	atomic_fetch_add(&array_done, 1);
}

static int read_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_attr_t attr = { .name = "reader", .stack_max = 8 * MIB };
	if (goro_go_attr(&attr, read_goroutine, NULL) <= 0)
		return 1;
	wait_for(&array_done, 1);
	return 0;
}

START_TEST(test_goro_read_fills_a_3mib_stack_buffer)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(read_main, 1), 0);
	ck_assert_int_eq(read_result, (ssize_t)BIG_ARRAY_BYTES);
	ck_assert_int_eq(atomic_load(&array_lost), 0);
}
END_TEST

/* ---- a float kernel with two 16 KiB arrays --------------------------------- */

#define KERNEL_N (16 * 1024 / sizeof(double))

static volatile double kernel_scale = 0.001;

/* A dot product of two arrays filled on the stack: any element lost to a
 * zeroed page changes the sum. */
__attribute__((noinline)) static double float_kernel(void)
{
	double x[KERNEL_N], y[KERNEL_N];
	double s = kernel_scale;
	for (size_t i = 0; i < KERNEL_N; i++)
		x[i] = (double)(i + 1) * s;
	for (size_t i = 0; i < KERNEL_N; i++)
		y[i] = (double)(KERNEL_N - i) * s + x[i] * 0.5;
	double sum = 0;
	for (size_t i = 0; i < KERNEL_N; i++)
		sum += x[i] * y[i];
	return sum;
}

static atomic_long kernel_done;
static double kernel_in_goroutine;

static void kernel_goroutine(void *arg)
{
	(void)arg;
	kernel_in_goroutine = float_kernel();
	atomic_store(&kernel_done, 1);
}

static int kernel_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	if (goro_go(kernel_goroutine, NULL) <= 0)
		return 1;
	wait_for(&kernel_done, 1);
	return 0;
}

START_TEST(test_float_kernel_sums_the_same_in_a_goroutine)
{
	set_guard_mode(_i);
	double on_main_thread = float_kernel();
	ck_assert_int_eq(run_goro(kernel_main, 1), 0);
	ck_assert_msg(kernel_in_goroutine == on_main_thread,
		      "goroutine %.17g, main thread %.17g", kernel_in_goroutine,
		      on_main_thread);
}
END_TEST

/* ---- a select loop over a 160 KB pointer array ------------------------------- */

/* Workers fill a 160 KB array of pointers on their stacks, then wait in
 * goro_select, switching away and back many times; no pointer may have
 * become NULL (a stack page discarded under them). */
#define SELECT_WORKERS 4
#define SELECT_POINTERS (160 * 1000 / sizeof(void *))
#define SELECT_ROUNDS 200

static int pointee;
static atomic_long select_done, select_nulls;

__attribute__((noinline)) static long select_with_big_array(goro_chan_t *ping,
							    goro_chan_t *pong)
{
	void *volatile ptrs[SELECT_POINTERS];
	for (size_t i = 0; i < SELECT_POINTERS; i++)
		ptrs[i] = &pointee;
	for (int r = 0; r < SELECT_ROUNDS; r++) {
		int v = 0;
		goro_case_t cases[2] = {
			{ .chan = ping, .dir = GORO_RECV, .elem = &v },
			{ .chan = pong, .dir = GORO_SEND, .elem = &r },
		};
		if (goro_select(cases, 2, -1) < 0)
			return -1;
	}
	long nulls = 0;
	for (size_t i = 0; i < SELECT_POINTERS; i++)
		nulls += ptrs[i] == NULL;
	return nulls;
}

struct select_chans {
	goro_chan_t *ping, *pong;
};

static void select_worker(void *arg)
{
	struct select_chans *ch = arg;
	atomic_fetch_add(&select_nulls, select_with_big_array(ch->ping, ch->pong));
	atomic_fetch_add(&select_done, 1);
}

static int select_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct select_chans ch = { goro_chan_make(sizeof(int), 0),
				   goro_chan_make(sizeof(int), 0) };
	if (!ch.ping || !ch.pong)
		return 1;
	for (int i = 0; i < SELECT_WORKERS; i++)
		if (goro_go(select_worker, &ch) <= 0)
			return 1;
	/* Each worker's select proceeds SELECT_ROUNDS times, on a ping
	 * from here or a pong taken here. */
	for (long n = 0; n < (long)SELECT_WORKERS * SELECT_ROUNDS; n++) {
		int v = (int)n, got = 0;
		goro_case_t cases[2] = {
			{ .chan = ch.ping, .dir = GORO_SEND, .elem = &v },
			{ .chan = ch.pong, .dir = GORO_RECV, .elem = &got },
		};
		if (goro_select(cases, 2, -1) < 0)
			return 2;
	}
	wait_for(&select_done, SELECT_WORKERS);
	goro_chan_free(ch.ping);
	goro_chan_free(ch.pong);
	return 0;
}

START_TEST(test_160k_pointer_array_survives_select)
{
	set_guard_mode(_i);
	ck_assert_int_eq(run_goro(select_main, 2), 0);
	ck_assert_int_eq(atomic_load(&select_done), SELECT_WORKERS);
	ck_assert_msg(atomic_load(&select_nulls) == 0, "%ld pointers became NULL",
		      atomic_load(&select_nulls));
}
END_TEST

/* ---- a frame past the limit ------------------------------------------------- */

/* Neighbours: goroutines parked with a canary at the top of their stacks,
 * where a frame skipping past the limit of the goroutine above would land. */
#define NEIGHBOURS 48
#define CANARY_BYTES 512

static atomic_long neighbours_parked, neighbours_checked, canaries_hit;

static void neighbour(void *arg)
{
	goro_chan_t *release = arg;
	unsigned char canary[CANARY_BYTES];
	memset(canary, 0xa5, sizeof(canary));
	__asm__ volatile("" : : "r"(canary) : "memory");
	atomic_fetch_add(&neighbours_parked, 1);
	goro_chan_recv(release, NULL);
	for (size_t i = 0; i < sizeof(canary); i++)
		if (canary[i] != 0xa5) {
			atomic_fetch_add(&canaries_hit, 1);
			break;
		}
	atomic_fetch_add(&neighbours_checked, 1);
}

/* A frame of the default 256 KiB limit plus up to 1 MiB: written from its
 * lowest address up, so its first write is the one past the limit. */
#define LIMIT (256 * KIB)
#define PAST (1 * MIB - 16 * KIB)

__attribute__((noinline)) static long huge_frame(void)
{
	volatile unsigned char a[LIMIT + PAST];
	for (size_t i = 0; i < sizeof(a); i += 512)
		a[i] = 1;
	return a[sizeof(a) - 1];
}

/* Bound to its stack before the second half of the neighbours are: they
 * take the slots around it. */
static void too_deep(void *arg)
{
	(void)arg;
	wait_for(&neighbours_parked, NEIGHBOURS);
	huge_frame();
}

/* Parked first, to use up the mprotect guards' own share of the budget. */
static long fillers;
static atomic_long fillers_parked;

static void filler(void *arg)
{
	atomic_fetch_add(&fillers_parked, 1);
	goro_chan_recv(arg, NULL);
}

static int overflow_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	goro_chan_t *release = goro_chan_make(0, 0);
	if (!release)
		return 1;
	for (long i = 0; i < fillers; i++)
		if (goro_go(filler, release) <= 0) {
			printf("filler %ld failed\n", i);
			return 3;
		}
	wait_for(&fillers_parked, fillers);
	for (int i = 0; i < NEIGHBOURS / 2; i++)
		goro_go(neighbour, release);
	wait_for(&neighbours_parked, NEIGHBOURS / 2);
	goro_attr_t attr = { .name = "too-deep" };
	int64_t id = goro_go_attr(&attr, too_deep, NULL);
	printf("id=%lld\n", (long long)id);
	fflush(stdout);
	goro_sleep(1000 * 1000);
	for (int i = NEIGHBOURS / 2; i < NEIGHBOURS; i++)
		goro_go(neighbour, release);
	wait_for(&neighbours_parked, NEIGHBOURS);
	/* Only reached if the frame did not end the program. */
	goro_sleep(100LL * 1000 * 1000);
	goro_chan_close(release);
	wait_for(&neighbours_checked, NEIGHBOURS);
	printf("survived, canaries hit: %ld\n", atomic_load(&canaries_hit));
	fflush(stdout);
	return 0;
}

static void overflow_child(void)
{
	unsetenv("GORO_STACK_MAX");
	_exit(run_goro(overflow_main, 1));
}

START_TEST(test_frame_1mib_past_the_limit_is_fatal_not_a_neighbour_write)
{
	set_guard_mode(_i);
	char out[16384];
	int status = run_child(overflow_child, out, sizeof(out));
	ck_assert_msg(status == 2, "status %d: %s", status, out);
	long long id = 0;
	const char *line = strstr(out, "id=");
	ck_assert_msg(line && sscanf(line, "id=%lld", &id) == 1, "got: %s", out);
	char expect[128];
	snprintf(expect, sizeof(expect), "fatal error: goroutine %lld "
		 "\"too-deep\" stack exceeds %lu-byte limit", id, LIMIT);
	ck_assert_msg(strstr(out, expect), "got: %s", out);
	ck_assert_msg(strstr(out, "huge_frame"), "no frames: %s", out);
	/* With file:line (symbolized in a forked copy of the process). */
	const char *frame = strstr(out, "\nhuge_frame");
	ck_assert_msg(frame && strstr(frame, "\n\t/") ==
		      strchr(frame + 1, '\n') &&
		      strstr(frame, "check_stack_growth.c:"),
		      "no file:line: %s", out);
	/* The write that faulted is the frame's first, below the limit but
	 * not in another stack: within 1 MiB of the limit. */
	unsigned long long addr = 0, lo = 0, hi = 0;
	const char *a = strstr(out, "addr=0x");
	const char *s = strstr(out, "stack=[0x");
	ck_assert_msg(a && s && sscanf(a, "addr=0x%llx", &addr) == 1 &&
		      sscanf(s, "stack=[0x%llx, 0x%llx]", &lo, &hi) == 2,
		      "got: %s", out);
	ck_assert_msg(addr < lo && hi - addr <= LIMIT + MIB,
		      "fault at 0x%llx, stack [0x%llx, 0x%llx]", addr, lo, hi);
	ck_assert_msg(!strstr(out, "survived"), "got: %s", out);
}
END_TEST

/* Past vm.max_map_count / 2 stacks, mprotect guards put stacks in groups
 * that share one guard: a frame up to 1 MiB past the limit then lands in
 * the goroutine's own gap.  Either it meets its group's guard (a fatal
 * report) or it runs on, but no other goroutine's stack is touched. */
#define FILLERS 40000

START_TEST(test_grouped_stacks_keep_neighbours_whole)
{
	set_guard_mode(1);
	fillers = FILLERS;
	char out[16384];
	int status = run_child(overflow_child, out, sizeof(out));
	if (status == 2) {
		ck_assert_msg(strstr(out, "\"too-deep\" stack exceeds"),
			      "got: %s", out);
	} else {
		ck_assert_msg(status == 0, "status %d: %s", status, out);
		ck_assert_msg(strstr(out, "survived, canaries hit: 0\n"),
			      "got: %s", out);
	}
}
END_TEST

/* ---- any frame, with -fstack-clash-protection ----------------------------------- */

/* A 4 MiB frame, 16 times the limit, in a program built with the flag:
 * its page-by-page probes meet the guards, whatever the gap's size. */
static void clash_child(void)
{
	unsetenv("GORO_STACK_MAX");
	execl(STACK_CLASH_CHILD, STACK_CLASH_CHILD, (char *)NULL);
	_exit(127);
}

START_TEST(test_4mib_frame_built_with_clash_protection_is_fatal)
{
	set_guard_mode(_i);
	if (STACK_CLASH_CFLAGS[0] == '\0')
		return;  /* a compiler without the flag: nothing to test */
	char out[16384];
	int status = run_child(clash_child, out, sizeof(out));
	ck_assert_msg(status == 2, "status %d: %s", status, out);
	long long id = 0;
	const char *line = strstr(out, "id=");
	ck_assert_msg(line && sscanf(line, "id=%lld", &id) == 1, "got: %s", out);
	char expect[128];
	snprintf(expect, sizeof(expect), "fatal error: goroutine %lld "
		 "\"probed\" stack exceeds 262144-byte limit", id);
	ck_assert_msg(strstr(out, expect), "got: %s", out);
	ck_assert_msg(strstr(out, "probed_frame"), "no frames: %s", out);
}
END_TEST

/* ---- goro.pc --------------------------------------------------------------- */

/* Programs built with pkg-config's flags probe their large frames page by
 * page, so any frame past the limit meets a guard. */
START_TEST(test_goro_pc_cflags_carry_stack_clash_protection)
{
	FILE *f = fopen(GORO_PC, "r");
	ck_assert_msg(f, "cannot open %s", GORO_PC);
	char line[512];
	bool found = false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Cflags:", 7) == 0)
			found = strstr(line, "-fstack-clash-protection") != NULL;
	fclose(f);
	/* Only a compiler that lacks the flag leaves it out. */
	ck_assert_msg(found || STACK_CLASH_CFLAGS[0] == '\0',
		      "goro.pc's Cflags lack -fstack-clash-protection");
}
END_TEST

static Suite *stack_growth_suite(void)
{
	Suite *s = suite_create("stack_growth");
	TCase *tc = tcase_create("stack_growth");
	tcase_add_loop_test(tc, test_64k_local_array_keeps_every_byte, 0, 2);
	tcase_add_loop_test(tc, test_3mib_array_in_an_8mib_stack_keeps_every_byte, 0, 2);
	tcase_add_loop_test(tc, test_goro_read_fills_a_3mib_stack_buffer, 0, 2);
	tcase_add_loop_test(tc, test_float_kernel_sums_the_same_in_a_goroutine, 0, 2);
	tcase_add_loop_test(tc, test_160k_pointer_array_survives_select, 0, 2);
	tcase_add_loop_test(tc, test_frame_1mib_past_the_limit_is_fatal_not_a_neighbour_write, 0, 2);
	tcase_add_test(tc, test_grouped_stacks_keep_neighbours_whole);
	tcase_add_loop_test(tc, test_4mib_frame_built_with_clash_protection_is_fatal, 0, 2);
	tcase_add_test(tc, test_goro_pc_cflags_carry_stack_clash_protection);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(stack_growth_suite)
