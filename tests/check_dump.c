/* SPDX-License-Identifier: MIT */
/*
 * check_dump.c — goroutine dumps: gdump on a live process (parked,
 * running and wedged goroutines; --summary, --json, filters, errors),
 * goro_dump, SIGQUIT and the crash report.
 *
 * The subject is tests/dump_child, a program whose goroutines, names and
 * function names are known (see its header).  Each check reads a dump
 * goroutine by goroutine: the block that starts with `goroutine N "name"`
 * and ends at the blank line.
 */
#include "dumptest.h"

/* The number of the first line of tests/dump_child.c holding `text`. */
static int child_line(const char *text)
{
	FILE *f = fopen(DUMP_CHILD_SRC, "r");
	ck_assert_msg(f, "%s: %s", DUMP_CHILD_SRC, strerror(errno));
	char line[512];
	int n = 0, found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, text))
			found = n;
	}
	fclose(f);
	ck_assert_msg(found, "no \"%s\" in %s", text, DUMP_CHILD_SRC);
	return found;
}

/* In goroutine `name`'s block, the frame of `func` is followed by its
 * source line, as Go prints it: "\t/path/dump_child.c:LINE" (absolute:
 * the build's directory joined to the name the compiler was given). */
static void expect_frame_line(const char *text, const char *name,
			      const char *func, const char *source)
{
	char blk[8192], frame[128], want[64];
	ck_assert_msg(block_of(text, name, blk, sizeof(blk)),
		      "no goroutine \"%s\" in:\n%s", name, text);
	snprintf(frame, sizeof(frame), "\n%s+0x", func);
	const char *f = strstr(blk, frame);
	ck_assert_msg(f, "no frame %s in:\n%s", func, blk);
	const char *next = strchr(f + 1, '\n');
	ck_assert_msg(next && next[1] == '\t', "%s: no file:line in:\n%s",
		      func, blk);
	ck_assert_msg(next[2] == '/', "%s: not an absolute path in:\n%s",
		      func, blk);
	const char *eol = strchr(next + 1, '\n');
	size_t len = eol ? (size_t)(eol - next - 1) : strlen(next + 1);
	snprintf(want, sizeof(want), "dump_child.c:%d", child_line(source));
	ck_assert_msg(len >= strlen(want) &&
		      strncmp(next + 1 + len - strlen(want), want,
			      strlen(want)) == 0,
		      "%s: want %s in:\n%s", func, want, blk);
}

/* with_lines: symbolized with libdw (not a fatal signal's dump);
 * syscall_frames: the goroutine in a blocking call was unwound (not by
 * goro_dump, which leaves threads in system calls alone). */
static void expect_park_set(const char *text, bool with_lines,
			    bool syscall_frames)
{
	expect_goroutine(text, "sleeper-1", "sleep",
			 FUNCS("goro_sleep", "sleep_forever", "child_sleeper",
			       "goro_start"));
	expect_goroutine(text, "sleeper-2", "sleep",
			 FUNCS("goro_sleep", "sleep_forever", "child_sleeper"));
	expect_goroutine(text, "spinner", "running",
			 FUNCS("spin_until_stop", "child_spinner"));
	/* busy is stopped whenever something waits for its P, and from its
	 * thread parking until it resumes it is [runnable] (seen now and
	 * then in the CI's sanitized stage, SIGQUIT dump): either state,
	 * with the same frames.  The spinner, which preemption cannot stop,
	 * is held to [running]. */
	expect_goroutine(text, "busy",
			 strstr(text, "\"busy\" [runnable") ? "runnable"
							    : "running",
			 FUNCS("spin_until_stop", "child_busy"));
	/* (The library's public calls may tail-call their workers: the
	 * callers' frames are what is certain.) */
	expect_goroutine(text, "receiver", "chan receive",
			 FUNCS("child_receiver", "goro_start"));
	expect_goroutine(text, "sender", "chan send", FUNCS("child_sender"));
	expect_goroutine(text, "selector", "select", FUNCS("child_selector"));
	expect_goroutine(text, "locker", "sync.Mutex.Lock",
			 FUNCS("child_locker"));
	expect_goroutine(text, "waiter", "sync.WaitGroup.Wait",
			 FUNCS("child_waiter"));
	expect_goroutine(text, "reader", "IO wait", FUNCS("child_reader"));
	if (syscall_frames)
		expect_goroutine(text, "blocked", "syscall",
				 FUNCS("child_blocked", "goro_start"));
	else {
		expect_goroutine(text, "blocked", "syscall", FUNCS(NULL));
		char blk[8192];
		ck_assert(block_of(text, "blocked", blk, sizeof(blk)));
		ck_assert_msg(strstr(blk, "]:\n\tgoroutine in a system call; "
				     "stack unavailable\ncreated by park_set"),
			      "%s", blk);
	}
	/* Scheduler frames are left out of parked goroutines. */
	char blk[8192];
	ck_assert(block_of(text, "receiver", blk, sizeof(blk)));
	ck_assert_msg(!strstr(blk, "sched_park+") && !strstr(blk, "schedule+"),
		      "%s", blk);
	ck_assert_msg(strstr(text, "created by spawn_sleeper in goroutine 1\n")
		      && strstr(text, "created by park_set in goroutine 1\n"),
		      "no creator line:\n%s", text);
	if (with_lines)
		ck_assert_msg(strstr(text, "\tsleep_forever+0x") == NULL &&
			      strstr(text, "dump_child.c:"),
			      "no file:line:\n%s", text);
}

START_TEST(gdump_parked_and_running)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	int st = gdump("", c.goro_pid);
	ck_assert_msg(st == 0, "gdump exit %d: %s", st, dump);
	expect_park_set(dump, true, true);
	expect_goroutine(dump, "main", "IO wait",
			 FUNCS("wait_for_stdin_eof", "child_main"));
	/* The target carries on unharmed. */
	ck_assert_int_eq(child_finish(&c), 0);
	ck_assert_msg(strstr(c.out, "child done"), "child output: %s", c.out);
}
END_TEST

START_TEST(gdump_every_m_wedged)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=2", "wedge", NULL, true);
	/* Wait for a spinner to take the second P. */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(gdump("", c.goro_pid), 0);
		if (strstr(dump, "spin_until_stop"))
			break;
		usleep(20 * 1000);
	}
	expect_goroutine(dump, "main", "running", FUNCS("child_main"));
	char main_blk[8192];
	ck_assert(block_of(dump, "main", main_blk, sizeof(main_blk)));
	ck_assert_msg(strstr(main_blk, "pthread_mutex_lock"), "%s", main_blk);
	char blk[8192];
	ck_assert(block_of(dump, "spinner-1", blk, sizeof(blk)));
	ck_assert(block_of(dump, "spinner-2", blk, sizeof(blk)));
	ck_assert_msg(strstr(dump, "[running]:\nspin_until_stop+0x"),
		      "no spinning goroutine:\n%s", dump);
	ck_assert_msg(!strstr(dump, "unavailable"), "incomplete:\n%s", dump);
	child_kill(&c);
}
END_TEST

/* An asynchronously preempted goroutine: its frames go through the
 * preemption trampoline into the interrupted function. */
START_TEST(gdump_preempted_goroutine)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=1", "hogs", NULL, true);
	char blk[8192];
	const char *want = "goro_preempt_trampoline+0x";
	bool seen = false;
	for (int i = 0; i < 100 && !seen; i++) {
		ck_assert_int_eq(gdump("--state runnable", c.goro_pid), 0);
		seen = strstr(dump, want) != NULL;
		if (!seen)
			usleep(10 * 1000);
	}
	ck_assert_msg(seen, "no preempted goroutine:\n%s", dump);
	const char *name = strstr(dump, "\"hog-1\" [runnable]") ? "hog-1"
								 : "hog-2";
	ck_assert(block_of(dump, name, blk, sizeof(blk)));
	ck_assert_msg(strstr(blk, "]:\ngoro_preempt_trampoline+0x") &&
		      strstr(blk, "\nspin_until_stop+0x") &&
		      strstr(blk, "\nchild_busy+0x"), "%s", blk);
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST

static int json_valid(const char *args, pid_t pid)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "%s %s %d | python3 -c 'import json,sys; d=json.load(sys.stdin); "
		 "print(\"OK\", len(d.get(\"goroutines\", d.get(\"groups\", []))))'"
		 " 2>&1", GDUMP, args, (int)pid);
	return run_capture(cmd, dump, sizeof(dump));
}

START_TEST(gdump_summary_json_filters)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	/* Ids depend on which P spawned: learn the sleepers' from a dump. */
	ck_assert_int_eq(gdump("", c.goro_pid), 0);
	long id1 = id_of(dump, "sleeper-1"), id2 = id_of(dump, "sleeper-2");
	ck_assert(id1 > 0 && id2 > 0);
	char want[128], args[64];

	/* The two sleepers share one stack: one group of 2. */
	ck_assert_int_eq(gdump("--summary", c.goro_pid), 0);
	snprintf(want, sizeof(want), "2 goroutines [sleep]:\nids: %ld %ld\n"
		 "goro_sleep+0x", id1 < id2 ? id1 : id2, id1 < id2 ? id2 : id1);
	ck_assert_msg(strstr(dump, want), "summary:\n%s", dump);
	ck_assert_int_eq(json_valid("--json", c.goro_pid), 0);
	ck_assert_msg(strncmp(dump, "OK 12\n", 6) == 0, "json: %s", dump);
	ck_assert_int_eq(json_valid("--summary --json", c.goro_pid), 0);
	ck_assert_msg(strncmp(dump, "OK 11\n", 6) == 0, "summary json: %s", dump);
	/* Every goroutine that has run reports how much stack it used. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "%s --json %d | python3 -c 'import json,sys; "
		 "g=json.load(sys.stdin)[\"goroutines\"]; "
		 "print(\"USED\", all(x[\"stack_used\"] > 0 for x in g))' 2>&1",
		 GDUMP, (int)c.goro_pid);
	ck_assert_int_eq(run_capture(cmd, dump, sizeof(dump)), 0);
	ck_assert_msg(strcmp(dump, "USED True\n") == 0, "stack_used: %s", dump);

	snprintf(args, sizeof(args), "-g %ld", id1);
	ck_assert_int_eq(gdump(args, c.goro_pid), 0);
	snprintf(want, sizeof(want), "goroutine %ld \"sleeper-1\"", id1);
	ck_assert_msg(strstr(dump, want) && !strstr(dump, "sleeper-2"),
		      "-g %ld:\n%s", id1, dump);
	ck_assert_int_eq(gdump("--state running", c.goro_pid), 0);
	ck_assert_msg(strstr(dump, "\"spinner\"") && strstr(dump, "\"busy\"") &&
		      !strstr(dump, "[sleep"), "--state:\n%s", dump);
	ck_assert_int_eq(gdump("--func child_sleep", c.goro_pid), 0);
	ck_assert_msg(strstr(dump, "\"sleeper-2\"") && !strstr(dump, "\"main\""),
		      "--func:\n%s", dump);
	ck_assert_int_eq(gdump("-g 999999", c.goro_pid), 1);
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST

/* Whatever bytes a goroutine's name holds, --json stays valid JSON: the
 * quote, backslash and control characters escaped, valid UTF-8 (the euro
 * sign) kept, each invalid byte (0xff, a cut-short sequence, an encoded
 * surrogate) replaced by U+FFFD. */
START_TEST(gdump_json_hostile_name)
{
	static struct child c;
	child_start(&c, NULL, "hostile", NULL, true);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "%s --json %d | python3 -c 'import json,sys; "
		 "d=json.load(sys.stdin); print(d[\"schema\"], "
		 "ascii([g[\"name\"] for g in d[\"goroutines\"] "
		 "if g[\"name\"] != \"main\"]))' 2>&1", GDUMP,
		 (int)c.goro_pid);
	ck_assert_int_eq(run_capture(cmd, dump, sizeof(dump)), 0);
	ck_assert_str_eq(dump, "1 ['q\"b\\\\n\\n\\x01\\x7f\\ufffd"
			 "\\ufffd(\\u20ac\\ufffd\\ufffd\\ufffdz']\n");
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST

/* A goroutine inside clock_gettime runs in the vDSO, which has no file:
 * its frames are unwound from the vDSO's own tables in memory, down to
 * goro_start, and the dump says the stack is complete. */
START_TEST(gdump_running_in_vdso)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "vdso", NULL, true);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "%s --json %d | python3 -c 'import json,sys; "
		 "g=[x for x in json.load(sys.stdin)[\"goroutines\"] "
		 "if x[\"name\"]==\"clocker\"][0]; "
		 "print(g[\"truncated\"], \" \".join(f[\"function\"] or \"?\" "
		 "for f in g[\"frames\"]))'", GDUMP, (int)c.goro_pid);
	bool in_vdso = false;
	for (int i = 0; i < 100 && !in_vdso; i++) {
		ck_assert_int_eq(run_capture(cmd, dump, sizeof(dump)), 0);
		ck_assert_msg(strncmp(dump, "False ", 6) == 0 &&
			      strstr(dump, " read_clock_until_stop "
				     "child_clocker goro_start\n"),
			      "sample %d: %s", i, dump);
		in_vdso = strstr(dump, "vdso") != NULL;
	}
	ck_assert_msg(in_vdso, "never caught in the vDSO: %s", dump);
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST

/* A C++ program's frames are named as C++ programmers write them. */
START_TEST(gdump_demangles_cxx)
{
	static struct child c;
	child_start_prog(&c, NULL, CXX_CHILD, NULL, NULL, true);
	ck_assert_int_eq(gdump("--func Worker::", c.goro_pid), 0);
	expect_goroutine(dump, "cxx-worker", "sleep",
			 FUNCS("app::Worker::wait_forever(int)",
			       "app::Worker::run(void*)", "goro_start"));
	ck_assert_msg(!strstr(dump, "_ZN3app"), "%s", dump);
	ck_assert_msg(strstr(dump, "cxx_child.cc:"), "%s", dump);
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST

#ifdef CLANG_CHILD
/* clang -g emits no .debug_aranges: file:line comes from the CUs. */
START_TEST(gdump_lines_without_aranges)
{
	static struct child c;
	child_start_prog(&c, NULL, CLANG_CHILD, NULL, NULL, true);
	ck_assert_int_eq(gdump("", c.goro_pid), 0);
	expect_goroutine(dump, "clang-sleeper", "sleep",
			 FUNCS("clang_sleeper", "goro_start"));
	ck_assert_msg(strstr(dump, "\nclang_sleeper+0x") &&
		      strstr(strstr(dump, "\nclang_sleeper+0x"),
			     "clang_child.c:"), "%s", dump);
	ck_assert_int_eq(child_finish(&c), 0);
}
END_TEST
#endif

START_TEST(gdump_errors)
{
	/* No such process: a child already reaped. */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	ck_assert_int_eq(gdump("", gone), 3);
	ck_assert_msg(strstr(dump, "no such process"), "%s", dump);

	/* Not a goro process. */
	pid_t plain = fork();
	if (plain == 0) {
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	ck_assert_int_eq(gdump("", plain), 5);
	ck_assert_msg(strstr(dump, "not a goro process"), "%s", dump);
	kill(plain, SIGKILL);
	waitpid(plain, NULL, 0);

	/* A descriptor of a version this gdump does not read. */
	pid_t fake = fork();
	if (fake == 0) {
		execl(FAKE_DESCRIPTOR, FAKE_DESCRIPTOR, (char *)NULL);
		_exit(127);
	}
	usleep(200 * 1000);
	ck_assert_int_eq(gdump("", fake), 6);
	ck_assert_msg(strstr(dump, "version"), "%s", dump);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);

	/* Permission denied: gdump as an unprivileged user on our process. */
	if (geteuid() == 0) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 "
			 "--clear-groups %s %d 2>&1", GDUMP, (int)getpid());
		ck_assert_int_eq(run_capture(cmd, dump, sizeof(dump)), 4);
		ck_assert_msg(strstr(dump, "not allowed"), "%s", dump);
	}
	ck_assert_int_eq(gdump("", 0), 2);
}
END_TEST

START_TEST(goro_dump_in_process)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "dump", NULL, false);
	ck_assert_int_eq(child_finish(&c), 0);
	/* The caller first, from goro_dump's caller on. */
	ck_assert_msg(strncmp(c.out, "goroutine 1 \"main\" [running]:\n"
				     "child_main+0x", 43) == 0, "%s", c.out);
	expect_park_set(c.out, true, false);
}
END_TEST

START_TEST(sigquit_dumps_and_exits_2)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	kill(c.goro_pid, SIGQUIT);
	/* stdin stays open: the program must not end by itself meanwhile. */
	ck_assert_int_eq(child_wait(&c, false), 2);
	ck_assert_msg(strstr(c.out, "SIGQUIT: quit\nPC=0x"), "%s", c.out);
	/* Same frames, with file:line (symbolized in a forked copy). */
	expect_park_set(c.out, true, true);
	expect_frame_line(c.out, "sleeper-1", "sleep_forever",
			  "goro_sleep(3600LL");
	expect_frame_line(c.out, "sleeper-1", "child_sleeper",
			  "sleep_forever();");
	expect_frame_line(c.out, "receiver", "child_receiver",
			  "goro_chan_recv(");
	ck_assert(!strstr(c.out, "child done"));
}
END_TEST

/* `cmd &` in a shell starts a program with SIGQUIT ignored: it still
 * dumps, as a Go program does, unless GORO_SIGQUIT=ignore says not to. */
START_TEST(sigquit_dumps_when_inherited_ignored)
{
	static struct child c;
	signal(SIGQUIT, SIG_IGN);  /* inherited through fork and exec */
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	kill(c.goro_pid, SIGQUIT);
	ck_assert_int_eq(child_wait(&c, false), 2);
	ck_assert_msg(strstr(c.out, "SIGQUIT: quit\nPC=0x"), "%s", c.out);
	expect_park_set(c.out, false, true);

	setenv("GORO_SIGQUIT", "ignore", 1);
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	kill(c.goro_pid, SIGQUIT);
	ck_assert_int_eq(child_finish(&c), 0);
	ck_assert_msg(strstr(c.out, "child done") &&
		      !strstr(c.out, "SIGQUIT"), "%s", c.out);

	/* A value it does not know is an error at start. */
	setenv("GORO_SIGQUIT", "maybe", 1);
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, false);
	ck_assert_int_ne(child_finish(&c), 0);
	ck_assert_msg(strstr(c.out, "GORO_SIGQUIT"), "%s", c.out);
}
END_TEST

static void expect_crash_report(const char *out)
{
	ck_assert_msg(strstr(out, "fatal error: unexpected signal\n"
				  "[signal SIGSEGV: segmentation violation "
				  "code=0x1 addr=0x0 pc=0x"), "%s", out);
	expect_goroutine(out, "crasher", "running",
			 FUNCS("crash_here", "child_crasher", "goro_start"));
	/* file:line: the faulting store, then the call to it. */
	expect_frame_line(out, "crasher", "crash_here", "*p = 42;");
	expect_frame_line(out, "crasher", "child_crasher", "crash_here(arg);");
	/* The faulting goroutine comes first. */
	ck_assert_msg(strstr(out, "]\n\ngoroutine ") ==
		      strstr(out, "]\n\n") &&
		      strstr(strstr(out, "]\n\n"), "\"crasher\""), "%s", out);
}

START_TEST(null_dereference_report)
{
	static struct child c;
	child_start(&c, NULL, "segv", NULL, false);
	ck_assert_int_eq(child_finish(&c), 2);
	expect_crash_report(c.out);
	char blk[8192];
	/* GORO_TRACEBACK=single (default): the faulting goroutine only. */
	ck_assert(!block_of(c.out, "sleeper-1", blk, sizeof(blk)));

	child_start(&c, "GORO_TRACEBACK=all", "segv", NULL, false);
	ck_assert_int_eq(child_finish(&c), 2);
	expect_crash_report(c.out);
	expect_goroutine(c.out, "sleeper-1", "sleep",
			 FUNCS("goro_sleep", "sleep_forever"));
	expect_frame_line(c.out, "sleeper-1", "sleep_forever",
			  "goro_sleep(3600LL");

	child_start(&c, "GORO_TRACEBACK=none", "segv", NULL, false);
	ck_assert_int_eq(child_finish(&c), 2);
	ck_assert(strstr(c.out, "fatal error: unexpected signal"));
	ck_assert(!strstr(c.out, "goroutine "));

	/* crash: the report, then death by the signal itself (core). */
	child_start(&c, "GORO_TRACEBACK=crash", "segv", NULL, false);
	ck_assert_int_eq(child_finish(&c), 128 + SIGSEGV);
	expect_crash_report(c.out);
}
END_TEST

/* Where the report cannot fork its symbolizing copy (a sandbox), or the
 * copy stalls (here: blocked for good in a system call, as it would be on
 * a lock no thread of the copy will release), the handler prints the
 * report itself: the same frames, no file:line, once. */
static void crash_report_without_copy(const char *how)
{
	static struct child c;
	child_start(&c, NULL, "segv", how, false);
	ck_assert_int_eq(child_finish(&c), 2);
	expect_goroutine(c.out, "crasher", "running",
			 FUNCS("crash_here", "child_crasher", "goro_start"));
	ck_assert_msg(!strstr(c.out, "dump_child.c:"), "%s", c.out);
	const char *first = strstr(c.out, "\"crasher\" [");
	ck_assert_msg(!strstr(first + 1, "\"crasher\" ["), "two reports:\n%s",
		      c.out);
	const char *fatal = strstr(c.out, "fatal error: unexpected signal");
	ck_assert_msg(fatal && !strstr(fatal + 1, "fatal error"), "%s", c.out);
}

/* The whole report, file:line included, from dump_child segv <how>. */
static void crash_report_with_lines(const char *how)
{
	static struct child c;
	child_start(&c, NULL, "segv", how, false);
	ck_assert_int_eq(child_finish(&c), 2);
	expect_crash_report(c.out);
}

/* A program that closed its standard input (a daemon) gets the same
 * report: the descriptors the report opens are not taken for stdin. */
START_TEST(crash_report_with_stdin_closed)
{
	crash_report_with_lines("nostdin");
}
END_TEST

START_TEST(crash_report_when_fork_is_refused)
{
	crash_report_without_copy("nofork");
}
END_TEST

START_TEST(crash_report_when_the_copy_stalls)
{
	crash_report_without_copy("stall");
}
END_TEST

/* A copy that is slow but computing (a loaded machine: the CI's sanitized
 * stage once took more than 5 s) is waited for: the report keeps its
 * file:line.  Here it computes for 6 s before writing anything. */
START_TEST(crash_report_when_the_copy_is_slow)
{
	crash_report_with_lines("slow");
}
END_TEST

/* A copy whose work needs more stack than the handler's (libdw under ASan,
 * in about 1 SIGQUIT in 10 on a loaded machine: the CI's sanitized stage)
 * runs it on a stack of its own and keeps its file:line.  Here the copy
 * uses 1 MiB, four times an M's signal stack. */
START_TEST(crash_report_when_the_copy_needs_a_deep_stack)
{
	crash_report_with_lines("deep");
}
END_TEST

/* GORO_DEBUG=tracebacklines=0: the handler's report, without forking. */
START_TEST(crash_report_with_tracebacklines_off)
{
	static struct child c;
	child_start(&c, "GORO_DEBUG=tracebacklines=0", "segv", NULL, false);
	ck_assert_int_eq(child_finish(&c), 2);
	expect_goroutine(c.out, "crasher", "running",
			 FUNCS("crash_here", "child_crasher", "goro_start"));
	ck_assert_msg(!strstr(c.out, "dump_child.c:"), "%s", c.out);

	child_start(&c, "GORO_DEBUG=tracebacklines=2", "segv", NULL, false);
	ck_assert_int_ne(child_finish(&c), 0);
	ck_assert_msg(strstr(c.out, "tracebacklines=0 or 1"), "%s", c.out);
}
END_TEST

START_TEST(illegal_instruction_report)
{
	static struct child c;
	child_start(&c, NULL, "trap", NULL, false);
	ck_assert_int_eq(child_finish(&c), 2);
	ck_assert_msg(strstr(c.out, "fatal error: unexpected signal\n"
				    "[signal SIGILL: illegal instruction code="),
		      "%s", c.out);
	expect_goroutine(c.out, "trapper", "running",
			 FUNCS("trap_here", "child_trapper"));
	expect_frame_line(c.out, "trapper", "trap_here", "__builtin_trap();");
}
END_TEST

/* Handlers the program installed before goro_main keep their signals. */
START_TEST(application_handlers_chain)
{
	static struct child c;
	child_start(&c, NULL, "trap", "own", false);
	ck_assert_int_eq(child_finish(&c), 9);
	ck_assert_msg(strstr(c.out, "application handler") &&
		      !strstr(c.out, "fatal error"), "%s", c.out);

	child_start(&c, "GORO_MAXPROCS=4", "ownquit", NULL, true);
	kill(c.goro_pid, SIGQUIT);
	ck_assert_int_eq(child_wait(&c, false), 7);
	ck_assert_msg(strstr(c.out, "application handler") &&
		      !strstr(c.out, "goroutine "), "%s", c.out);
}
END_TEST

static Suite *dump_suite(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("dump");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gdump_parked_and_running);
	tcase_add_test(tc, gdump_every_m_wedged);
	tcase_add_test(tc, gdump_preempted_goroutine);
	tcase_add_test(tc, gdump_summary_json_filters);
	tcase_add_test(tc, gdump_json_hostile_name);
	tcase_add_test(tc, gdump_running_in_vdso);
	tcase_add_test(tc, gdump_demangles_cxx);
#ifdef CLANG_CHILD
	tcase_add_test(tc, gdump_lines_without_aranges);
#endif
	tcase_add_test(tc, gdump_errors);
	tcase_add_test(tc, goro_dump_in_process);
	tcase_add_test(tc, sigquit_dumps_and_exits_2);
	tcase_add_test(tc, sigquit_dumps_when_inherited_ignored);
	tcase_add_test(tc, null_dereference_report);
	tcase_add_test(tc, illegal_instruction_report);
	tcase_add_test(tc, crash_report_with_stdin_closed);
	tcase_add_test(tc, crash_report_when_fork_is_refused);
	tcase_add_test(tc, crash_report_when_the_copy_stalls);
	tcase_add_test(tc, crash_report_when_the_copy_is_slow);
	tcase_add_test(tc, crash_report_when_the_copy_needs_a_deep_stack);
	tcase_add_test(tc, crash_report_with_tracebacklines_off);
	tcase_add_test(tc, application_handlers_chain);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(dump_suite)
