/* SPDX-License-Identifier: MIT */
/*
 * dump_child.c — a goroutine program with known goroutines, for the dump
 * tests (tests/check_dump.c) and the gdump benchmark.
 *
 *   dump_child park    named goroutines parked in sleep, chan receive,
 *                      chan send, select, mutex, WaitGroup and IO wait,
 *                      one in a blocking system call, one running, one
 *                      spinning with preemption disabled;
 *                      prints "ready",
 *                      ends normally ("child done") when stdin closes
 *   dump_child wedge   every M stuck: goroutines spinning with preemption
 *                      disabled, main blocked on a pthread mutex; "ready"
 *   dump_child dump    the park set, then goro_dump(1) from main
 *   dump_child segv [nofork|stall|slow|deep|nostdin]  goroutine "crasher"
 *                      dereferences NULL; with "nostdin", after closing
 *                      its standard input; with "nofork", under a seccomp filter that
 *                      refuses to create processes (threads are still
 *                      allowed), so that the crash report cannot fork;
 *                      with "stall", under one that blocks close_range
 *                      for good (the forked copy of the crash report
 *                      calls it first, and stalls there); with "slow",
 *                      the forked copy computes for SLOW_COPY_CPU_NS
 *                      before it writes anything (as one starved of CPU
 *                      on a loaded machine does: see dup2 below); with
 *                      "deep", the copy's work uses DEEP_COPY_STACK of
 *                      stack (as libdw's deepest frames under ASan do:
 *                      see getpid below)
 *   dump_child trap [own]  goroutine "trapper" executes ud2 (SIGILL); with
 *                      "own", after installing its own SIGILL handler
 *                      (which says so and exits 9) before goro_main
 *   dump_child hogs    two goroutines spinning, preemptible (run it on one
 *                      P: one of them is always preempted); "ready"; ends
 *                      when stdin closes
 *   dump_child ownquit the park set, with the program's own SIGQUIT
 *                      handler (says so, exits 7) installed before goro_main
 *   dump_child many N  N goroutines parked in one long sleep; "ready"; ends when
 *                      stdin closes
 *   dump_child hostile a goroutine whose name holds a quote, a backslash,
 *                      control characters and invalid UTF-8; "ready"; ends
 *                      when stdin closes
 *   dump_child vdso    goroutine "clocker" calling clock_gettime (the
 *                      vDSO) in a loop; "ready"; ends when stdin closes
 *   dump_child parkcrash  the park set, then main dereferences NULL (with
 *                      GORO_TRACEBACK=crash: a core file of the park set)
 *
 * The function names below are what the tests look for in the frames;
 * noinline keeps each one a frame of its own.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#define NOINLINE __attribute__((noinline))

static atomic_bool stop;
static atomic_int started;

/* Parked until the program ends (main returning abandons it): a long
 * sleep, so that a dump never catches it runnable. */
NOINLINE static void sleep_forever(void)
{
	for (;;)
		goro_sleep(3600LL * 1000 * 1000 * 1000);
}

/* Parked for good: no wakeups while a dump reads 100k of them. */
NOINLINE static void child_parked(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	goro_sleep(3600LL * 1000 * 1000 * 1000);
	__asm__ volatile("");
}

NOINLINE static void child_sleeper(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	sleep_forever();
}

NOINLINE static void spin_until_stop(void)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		__asm__ volatile("pause");
}

NOINLINE static void child_spinner(void *arg)
{
	(void)arg;
	goro_preempt_disable();
	atomic_fetch_add(&started, 1);
	spin_until_stop();
	goro_preempt_enable();
}

NOINLINE static void child_busy(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	spin_until_stop();
}

/* A plain store through NULL: the fault must reach goro's handler, not be
 * caught first by UBSan's null check in a sanitizer build. */
NOINLINE __attribute__((no_sanitize_undefined, no_sanitize_address))
static void crash_here(int *p)
{
	*p = 42;
	__asm__ volatile("");
}

NOINLINE static void child_crasher(void *arg)
{
	crash_here(arg);
}

NOINLINE static void read_clock_until_stop(void)
{
	struct timespec ts;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		clock_gettime(CLOCK_MONOTONIC, &ts);
	__asm__ volatile("");
}

NOINLINE static void child_clocker(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	read_clock_until_stop();
	__asm__ volatile("");
}

NOINLINE static void trap_here(void)
{
	__builtin_trap();
}

NOINLINE static void child_trapper(void *arg)
{
	(void)arg;
	trap_here();
	__asm__ volatile("");
}

static void own_handler(int sig)
{
	static const char msg[] = "application handler\n";
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(sig == SIGQUIT ? 7 : 9);
}

/* Parked on synchronization nobody will ever complete. */
static goro_chan_t *never_chan, *never_read_chan;
static goro_mutex_t held_mutex = GORO_MUTEX_INIT;
static goro_wg_t never_done = GORO_WG_INIT;

NOINLINE static void child_receiver(void *arg)
{
	(void)arg;
	int v;
	atomic_fetch_add(&started, 1);
	goro_chan_recv(never_chan, &v);
	__asm__ volatile("");
}

NOINLINE static void child_sender(void *arg)
{
	(void)arg;
	int v = 1;
	atomic_fetch_add(&started, 1);
	goro_chan_send(never_read_chan, &v);
	__asm__ volatile("");
}

NOINLINE static void child_selector(void *arg)
{
	(void)arg;
	int v;
	goro_case_t cases[2] = {
		{ .chan = never_chan, .dir = GORO_RECV, .elem = &v },
		{ .chan = never_chan, .dir = GORO_RECV, .elem = &v },
	};
	atomic_fetch_add(&started, 1);
	goro_select(cases, 2, -1);
	__asm__ volatile("");
}

NOINLINE static void child_locker(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	goro_mutex_lock(&held_mutex);
	__asm__ volatile("");
}

NOINLINE static void child_waiter(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	goro_wg_wait(&never_done);
	__asm__ volatile("");
}

/* Two pipes nobody writes to: one read through the netpoller (IO wait),
 * one in a blocking call with the P handed on (syscall). */
static int idle_pipe[2], blocking_pipe[2];

NOINLINE static void child_reader(void *arg)
{
	(void)arg;
	char c;
	atomic_fetch_add(&started, 1);
	goro_read(idle_pipe[0], &c, 1);
	__asm__ volatile("");
}

NOINLINE static void child_blocked(void *arg)
{
	(void)arg;
	char c;
	atomic_fetch_add(&started, 1);
	GORO_BLOCKING(read(blocking_pipe[0], &c, 1));
	__asm__ volatile("");
}

static void spawn(const char *name, void (*fn)(void *))
{
	goro_go_attr(&(goro_attr_t){ .name = name }, fn, NULL);
}

/* One call site for both sleepers: their stacks are identical, creator
 * included, so gdump --summary groups them. */
NOINLINE static void spawn_sleeper(const char *name)
{
	spawn(name, child_sleeper);
	__asm__ volatile("");
}

static void wait_started(int n)
{
	while (atomic_load(&started) < n)
		goro_sleep(1000 * 1000);
	/* Let the parked ones get to their park. */
	goro_sleep(20 * 1000 * 1000);
}

static void say_ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

/* Until the parent closes our stdin.  goro_read parks this goroutine in
 * the poller (not an M in read()), and it stays parked until EOF: a dump
 * taken any time after the first attempt sees it in [IO wait]. */
NOINLINE static void wait_for_stdin_eof(void)
{
	char c;
	while (goro_read(0, &c, 1) > 0)
		;
	__asm__ volatile("");
}

/* goro_main waits for threads in blocking calls: let that one out. */
static void park_set_end(void)
{
	atomic_store(&stop, true);
	(void)!write(blocking_pipe[1], "x", 1);
}

static void park_set(void)
{
	spawn_sleeper("sleeper-1");
	spawn_sleeper("sleeper-2");
	spawn("spinner", child_spinner);
	spawn("busy", child_busy);
	/* A receiver and a sender on one unbuffered channel would pair
	 * up: the sender's channel is another one. */
	never_chan = goro_chan_make(sizeof(int), 0);
	never_read_chan = goro_chan_make(sizeof(int), 0);
	goro_mutex_lock(&held_mutex);
	goro_wg_add(&never_done, 1);
	spawn("receiver", child_receiver);
	spawn("sender", child_sender);
	spawn("selector", child_selector);
	spawn("locker", child_locker);
	spawn("waiter", child_waiter);
	if (pipe(idle_pipe) != 0 || pipe(blocking_pipe) != 0)
		abort();
	spawn("reader", child_reader);
	spawn("blocked", child_blocked);
	wait_started(11);
}

static int child_main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "park";
	if (!strcmp(mode, "park")) {
		park_set();
		say_ready();
		wait_for_stdin_eof();
		park_set_end();
		printf("child done\n");
		return 0;
	}
	if (!strcmp(mode, "dump")) {
		park_set();
		goro_dump(1);
		park_set_end();
		return 0;
	}
	if (!strcmp(mode, "wedge")) {
		/* No sleeping here: the spinners could take every P and
		 * the timer would never fire.  Not preemptible either: a
		 * spinner given main's P would keep it, and main would never
		 * reach the mutex it is to be found blocked in. */
		goro_preempt_disable();
		spawn("spinner-1", child_spinner);
		spawn("spinner-2", child_spinner);
		static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		pthread_mutex_lock(&mu);
		say_ready();
		pthread_mutex_lock(&mu);  /* never returns */
		return 1;
	}
	if (!strcmp(mode, "segv")) {
		if (argc > 2 && !strcmp(argv[2], "nostdin"))
			close(STDIN_FILENO);
		spawn("sleeper-1", child_sleeper);
		wait_started(1);
		spawn("crasher", child_crasher);
		goro_sleep(5LL * 1000 * 1000 * 1000);
		return 1;
	}
	if (!strcmp(mode, "trap")) {
		spawn("sleeper-1", child_sleeper);
		wait_started(1);
		spawn("trapper", child_trapper);
		goro_sleep(5LL * 1000 * 1000 * 1000);
		return 1;
	}
	if (!strcmp(mode, "hogs")) {
		spawn("hog-1", child_busy);
		spawn("hog-2", child_busy);
		wait_started(2);
		say_ready();
		wait_for_stdin_eof();
		atomic_store(&stop, true);
		return 0;
	}
	if (!strcmp(mode, "ownquit")) {
		park_set();
		say_ready();
		wait_for_stdin_eof();
		park_set_end();
		return 0;
	}
	if (!strcmp(mode, "vdso")) {
		spawn("clocker", child_clocker);
		wait_started(1);
		say_ready();
		wait_for_stdin_eof();
		atomic_store(&stop, true);
		return 0;
	}
	if (!strcmp(mode, "hostile")) {
		spawn("q\"b\\n\n\x01\x7f\xff\xc3(\xe2\x82\xac\xed\xa0\x80z",
		      child_sleeper);
		wait_started(1);
		say_ready();
		wait_for_stdin_eof();
		return 0;
	}
	if (!strcmp(mode, "parkcrash")) {
		park_set();
		say_ready();
		crash_here(NULL);
		return 1;
	}
	if (!strcmp(mode, "many") && argc > 2) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++)
			goro_go(child_parked, NULL);
		while (atomic_load(&started) < n)
			goro_sleep(1000 * 1000);
		say_ready();
		wait_for_stdin_eof();
		atomic_store(&stop, true);
		return 0;
	}
	fprintf(stderr, "usage: dump_child park|wedge|dump|segv|trap|hogs|ownquit|parkcrash|many N\n");
	return 2;
}

/* fork, vfork and clone without CLONE_THREAD fail with EPERM; clone3,
 * whose flags a filter cannot read, with ENOSYS (glibc then creates its
 * threads with clone). */
static void refuse_fork(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* clone's flags: the low half of its first argument. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp");
		exit(3);
	}
}

/* close_range waits for a supervisor's answer that never comes: the
 * listener is kept open, and never read. */
static void block_close_range(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog) < 0) {
		perror("seccomp");
		exit(3);
	}
}

/* "segv slow": the crash report's forked copy calls dup2 before its
 * work (to point its standard descriptors at /dev/null).  This definition
 * takes the place of libc's for the whole program; in that copy, and
 * only there, it first computes for longer than a copy may go without
 * writing and without computing, the stall limit (5 s). */
#define SLOW_COPY_CPU_NS (6LL * 1000 * 1000 * 1000)
static pid_t slow_copy_parent;

int dup2(int oldfd, int newfd)
{
	if (slow_copy_parent && getpid() != slow_copy_parent) {
		struct timespec ts;
		do
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		while ((long long)ts.tv_sec * 1000000000 + ts.tv_nsec <
		       SLOW_COPY_CPU_NS);
	}
	return (int)syscall(SYS_dup2, oldfd, newfd);
}

/* "segv deep": the first thing the copy's work does is getpid(), for the
 * symbolizer; there, and only in the copy, it first uses DEEP_COPY_STACK
 * of stack, one probe a page from the top (past the end of a signal
 * stack, the probes fault on its guard page instead of skipping it). */
#define DEEP_COPY_STACK (1 << 20)
static pid_t deep_copy_parent;

static __attribute__((noinline)) char use_deep_stack(void)
{
	volatile char buf[DEEP_COPY_STACK];
	for (long i = DEEP_COPY_STACK - 1; i >= 0; i -= 4096)
		buf[i] = (char)i;
	buf[0] = 1;
	return buf[0];
}

pid_t getpid(void)
{
	pid_t self = (pid_t)syscall(SYS_getpid);
	if (deep_copy_parent && self != deep_copy_parent &&
	    use_deep_stack() != 1)
		abort();
	return self;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "segv") && !strcmp(argv[2], "nofork"))
		refuse_fork();
	if (argc > 2 && !strcmp(argv[1], "segv") && !strcmp(argv[2], "stall"))
		block_close_range();
	if (argc > 2 && !strcmp(argv[1], "segv") && !strcmp(argv[2], "slow"))
		slow_copy_parent = getpid();
	if (argc > 2 && !strcmp(argv[1], "segv") && !strcmp(argv[2], "deep"))
		deep_copy_parent = getpid();
	if (argc > 1 && !strcmp(argv[1], "ownquit"))
		signal(SIGQUIT, own_handler);
	if (argc > 2 && !strcmp(argv[1], "trap") && !strcmp(argv[2], "own"))
		signal(SIGILL, own_handler);
	return goro_main(child_main, argc, argv);
}
