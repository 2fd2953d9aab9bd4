/* SPDX-License-Identifier: MIT */
/*
 * check_gdb.c — goroutines seen from outside through a debugger: the gdb
 * extension (info goroutines, goroutine N bt, goroutine all bt), loaded
 * automatically with libgoro.so, on a live process and on a core file;
 * and gdump on the same core file.
 *
 * The subject is tests/dump_child's park set (see its header); its core
 * file is the kernel's, written into a private directory of the build
 * tree, removed afterwards (see core_of).
 */
#include <dirent.h>

#include "dumptest.h"

#define GDB_OUT (256 * 1024)

static char out[GDB_OUT];

/* gdb -batch on `target` ("-p PID" or "EXE CORE"), with the build tree's
 * auto-load script trusted, running each command of cmds. */
static int gdb_run(const char *target, const char *const *cmds)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd),
			 "gdb -batch -nx -iex 'set auto-load safe-path %s' %s",
			 BUILDDIR, target);
	for (; *cmds; cmds++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " -ex '%s'",
			      *cmds);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 2>&1");
	return run_capture(cmd, out, sizeof(out));
}

#define CMDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The line of `info goroutines` for the goroutine named name. */
static bool info_line(const char *text, const char *name, char *line,
		      size_t cap)
{
	char key[96];
	snprintf(key, sizeof(key), " \"%s\"\n", name);
	const char *p = strstr(text, key);
	if (!p)
		return false;
	const char *end = p + strlen(key) - 1;
	while (p > text && p[-1] != '\n')
		p--;
	size_t n = (size_t)(end - p) < cap - 1 ? (size_t)(end - p) : cap - 1;
	memcpy(line, p, n);
	line[n] = '\0';
	return true;
}

static void expect_info(const char *text, const char *name, const char *what,
			const char *top)
{
	char line[512];
	ck_assert_msg(info_line(text, name, line, sizeof(line)),
		      "no goroutine \"%s\" listed:\n%s", name, text);
	ck_assert_msg(strstr(line, what) && strstr(line, top),
		      "goroutine %s: want \"%s\" and \"%s\" in: %s", name,
		      what, top, line);
}

/* In goroutine name's backtrace, each function of funcs in order. */
static void expect_bt(const char *text, const char *name,
		      const char *const *funcs)
{
	char blk[8192];
	ck_assert_msg(block_of(text, name, blk, sizeof(blk)),
		      "no backtrace of \"%s\":\n%s", name, text);
	const char *at = blk;
	for (; *funcs; funcs++) {
		char frame[128];
		snprintf(frame, sizeof(frame), " in %s (", *funcs);
		const char *f = strstr(at, frame);
		ck_assert_msg(f, "no frame %s (in order) in:\n%s", *funcs, blk);
		at = f;
	}
	ck_assert_msg(!strstr(blk, " in schedule (") &&
		      !strstr(blk, " in switch_to ("),
		      "scheduler frames left in:\n%s", blk);
}

/* What both a live process and its core must show.  live: the process
 * of the park set, main parked reading stdin; not live: the core of its
 * crash, the other threads stopped by the crash report (the running
 * goroutines' innermost frames are then the report's). */
static void expect_goroutines(const char *text, bool live)
{
	expect_info(text, "sleeper-1", "waiting (sleep)", " in goro_sleep (");
	expect_info(text, "receiver", "waiting (chan receive)", " in ");
	const char *spin_top = live ? " in spin_until_stop (" : " in ";
	expect_info(text, "spinner", "running [LWP ", spin_top);
	expect_info(text, "busy", "running [LWP ", spin_top);
	expect_info(text, "blocked", "syscall [LWP ", " in ");
	expect_bt(text, "sleeper-1", CMDS("goro_sleep", "sleep_forever",
					  "child_sleeper", "goro_start"));
	expect_bt(text, "receiver", CMDS("child_receiver", "goro_start"));
	expect_bt(text, "sender", CMDS("child_sender", "goro_start"));
	expect_bt(text, "locker", CMDS("child_locker", "goro_start"));
	expect_bt(text, "spinner", CMDS("spin_until_stop", "child_spinner",
					"goro_start"));
	expect_bt(text, "blocked", CMDS("child_blocked", "goro_start"));
	if (live)
		expect_bt(text, "main", CMDS("wait_for_stdin_eof",
					     "child_main"));
	ck_assert_msg(strstr(text, "dump_child.c:"), "no file:line:\n%s", text);
}

START_TEST(gdb_goroutines_live)
{
	static struct child c;
	child_start(&c, "GORO_MAXPROCS=4", "park", NULL, true);
	char target[64];
	snprintf(target, sizeof(target), "-p %d", (int)c.goro_pid);
	int st = gdb_run(target, CMDS("info goroutines", "goroutine all bt"));
	ck_assert_msg(st == 0, "gdb exit %d:\n%s", st, out);
	expect_goroutines(out, true);

	/* One goroutine by id, and an id that does not exist. */
	long id = id_of(out, "sleeper-2");
	ck_assert(id > 0);
	char one[64];
	snprintf(one, sizeof(one), "goroutine %ld bt", id);
	/* gdb -batch exits 1 after a command that failed. */
	ck_assert_int_eq(gdb_run(target, CMDS(one, "goroutine 999999 bt")), 1);
	expect_bt(out, "sleeper-2", CMDS("sleep_forever", "child_sleeper"));
	ck_assert_msg(!strstr(out, "\"sleeper-1\"") &&
		      strstr(out, "no goroutine 999999"), "%s", out);

	/* gdb detached: the program carries on unharmed. */
	ck_assert_int_eq(child_finish(&c), 0);
	ck_assert_msg(strstr(c.out, "child done"), "child output: %s", c.out);
}
END_TEST

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/* The core's directory, removed however the test ends (a failed check
 * exits the test's process). */
static char core_dir[256];

static void remove_core_dir(void)
{
	if (core_dir[0])
		remove_dir(core_dir);
}

/*
 * A core of the park set in a fresh directory dir (its path in core), and
 * the executable's path in exe.  The kernel writes it (GORO_TRACEBACK=
 * crash, RLIMIT_CORE unlimited, the child's working directory in dir), as
 * for any crashed program, so the system's core_pattern must name a file
 * (Debian's default, "core"), not a pipe to a collector.
 *
 * Not gcore: gdb 13 writes every page of a mapping, and the stack
 * regions are 64 GiB reservations (a core of tens of gigabytes of
 * zeros); with MADV_GUARD_INSTALL guards it drops each megabyte that
 * holds one, losing the stacks.  The kernel leaves untouched pages out.
 */
static void core_of(char *dir, char *core, char *exe, size_t cap)
{
	char pattern[256] = "";
	FILE *f = fopen("/proc/sys/kernel/core_pattern", "r");
	if (f) {
		if (!fgets(pattern, sizeof(pattern), f))
			pattern[0] = '\0';
		fclose(f);
	}
	ck_assert_msg(pattern[0] && pattern[0] != '|' && pattern[0] != '/',
		      "this test needs core files written to the working "
		      "directory; /proc/sys/kernel/core_pattern is %s", pattern);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(core_dir, sizeof(core_dir), "%s", dir);
	atexit(remove_core_dir);
	snprintf(exe, cap, "%s/tests/.libs/dump_child", BUILDDIR);
	if (access(exe, X_OK) != 0)  /* a static build: no libtool wrapper */
		snprintf(exe, cap, "%s", DUMP_CHILD);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		struct rlimit core_on = { RLIM_INFINITY, RLIM_INFINITY };
		setrlimit(RLIMIT_CORE, &core_on);
		if (chdir(dir) != 0)
			_exit(126);
		setenv("GORO_TRACEBACK", "crash", 1);
		setenv("GORO_MAXPROCS", "4", 1);
		/* AddressSanitizer would take the fault first, and turns
		 * core dumps off (its shadow memory is left out of them). */
		setenv("ASAN_OPTIONS", "handle_segv=0:use_sigaltstack=1:"
		       "allow_user_segv_handler=1:detect_leaks=0:"
		       "disable_coredump=0:use_madv_dontdump=1", 1);
		execl(exe, exe, "parkcrash", (char *)NULL);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && WCOREDUMP(st)))
		remove_dir(dir);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && WCOREDUMP(st),
		      "no core dumped: status 0x%x", st);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	core[0] = '\0';
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "core", 4) == 0 &&
		    strlen(dir) + strlen(e->d_name) + 2 <= cap)
			(void)!snprintf(core, cap, "%.100s/%.100s", dir,
					e->d_name);
	closedir(d);
	ck_assert_msg(core[0], "no core file in %s (core_pattern %s)", dir,
		      pattern);
}

static int gdump_core(const char *args, const char *core, const char *exe)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s --core %s %s 2>&1", GDUMP, args,
		 core, exe);
	return run_capture(cmd, dump, sizeof(dump));
}

/* The park set's core, through gdb and through gdump --core. */
START_TEST(goroutines_of_a_core)
{
	char dir[256], core[256], exe[256];
	/* In the build tree: a failed run leaves its core there, not in
	 * /tmp. */
	snprintf(dir, sizeof(dir), "%s/tests/core-XXXXXX", BUILDDIR);
	core_of(dir, core, exe, sizeof(core));
	char target[600];
	snprintf(target, sizeof(target), "%s %s", exe, core);
	int st = gdb_run(target, CMDS("info goroutines", "goroutine all bt"));
	ck_assert_msg(st == 0, "gdb %s: exit %d:\n%s", target, st, out);
	expect_goroutines(out, false);
	/* The crashing goroutine, through the signal frame. */
	expect_bt(out, "main", CMDS("crash_here", "child_main"));

	/* gdump: the same goroutines, in its own format. */
	st = gdump_core("", core, exe);
	ck_assert_msg(st == 0, "gdump --core: exit %d:\n%s", st, dump);
	expect_goroutine(dump, "sleeper-1", "sleep",
			 FUNCS("goro_sleep", "sleep_forever", "child_sleeper",
			       "goro_start"));
	expect_goroutine(dump, "receiver", "chan receive",
			 FUNCS("child_receiver", "goro_start"));
	expect_goroutine(dump, "locker", "sync.Mutex.Lock",
			 FUNCS("child_locker", "goro_start"));
	expect_goroutine(dump, "spinner", "running",
			 FUNCS("spin_until_stop", "child_spinner", "goro_start"));
	expect_goroutine(dump, "blocked", "syscall",
			 FUNCS("child_blocked", "goro_start"));
	expect_goroutine(dump, "main", "running",
			 FUNCS("crash_here", "child_main", "goro_start"));
	ck_assert_msg(strstr(dump, "dump_child.c:") &&
		      strstr(dump, "created by park_set in goroutine 1\n"),
		      "%s", dump);
	/* Filters, --summary and --json as for a process; the executable
	 * may be left for the core to name. */
	long id = id_of(dump, "sleeper-2");
	char args[64];
	snprintf(args, sizeof(args), "-g %ld", id);
	ck_assert_int_eq(gdump_core(args, core, ""), 0);
	ck_assert_msg(strstr(dump, "\"sleeper-2\" [sleep]") &&
		      !strstr(dump, "\"sleeper-1\""), "%s", dump);
	ck_assert_int_eq(gdump_core("--summary", core, exe), 0);
	ck_assert_msg(strstr(dump, "2 goroutines [sleep]:\n"), "%s", dump);
	ck_assert_int_eq(gdump_core("--json", core,
				    "| python3 -c 'import json,sys; "
				    "d=json.load(sys.stdin); print(\"OK\", "
				    "d[\"schema\"], len(d[\"goroutines\"]))'"),
			 0);
	ck_assert_msg(strcmp(dump, "OK 1 12\n") == 0, "json: %s", dump);

	/* Not a core, no such file. */
	ck_assert_int_eq(gdump_core("", "/etc/passwd", ""), 1);
	ck_assert_msg(strstr(dump, "not an x86-64 core file"), "%s", dump);
	ck_assert_int_eq(gdump_core("", "/nonexistent/core", ""), 1);
	ck_assert_int_eq(gdump_core("", "", ""), 2);
}
END_TEST

static Suite *gdb_suite(void)
{
	Suite *s = suite_create("gdb");
	TCase *tc = tcase_create("gdb");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, gdb_goroutines_live);
	tcase_add_test(tc, goroutines_of_a_core);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(gdb_suite)
