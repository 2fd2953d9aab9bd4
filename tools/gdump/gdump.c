/* SPDX-License-Identifier: MIT */
/*
 * gdump — print every goroutine of a running goro process, like Go's
 * SIGQUIT dump, without killing it and without its cooperation: it works
 * when every thread of the target is stuck.
 *
 *	gdump [--summary] [--json] [-g ID] [--state STATE] [--func TEXT] [-v] PID
 *	gdump [same options] --core CORE [EXE]
 *
 * How: find the runtime's descriptor (<goro/debug.h>) by symbol, stop
 * every thread with ptrace, copy the goroutine table out, unwind every
 * goroutine (unwind.c) — a running one from its thread's registers, a
 * parked one from the switch frame on its stack — let the process go, and
 * only then symbolize and print.  The target is stopped for the copying
 * and unwinding alone.  A core file (--core) is read the same way, with
 * nothing to stop: the process it describes is gone.
 *
 * Exit status: 0 done, 1 other failure, 2 usage, 3 no such process,
 * 4 permission denied, 5 not a goro process, 6 descriptor version mismatch.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corefile.h"
#include "gdump.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gdump [options] PID\n"
		"       gdump [options] --core CORE [EXE]\n"
		"Print every goroutine of the goro process PID, or of the\n"
		"process that left core file CORE (EXE: its executable, if\n"
		"not where the core says).\n\n"
		"  --summary      group identical stacks, largest group first\n"
		"  --json         JSON instead of text\n"
		"  -g ID          only goroutine ID\n"
		"  --state STATE  only goroutines in STATE (running, runnable,\n"
		"                 syscall, sleep, chan receive, ...)\n"
		"  --func TEXT    only goroutines with a frame whose function\n"
		"                 name contains TEXT\n"
		"  -v             report how long the target was stopped\n"
		"  -h, --help     this text\n");
}

void parse_args(struct gdump *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "summary", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 'S' },
		{ "func", required_argument, NULL, 'F' },
		{ "core", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "g:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': d->opt.summary = true; break;
		case 'j': d->opt.json = true; break;
		case 'v': d->opt.verbose = true; break;
		case 'S': d->opt.state = optarg; break;
		case 'F': d->opt.func = optarg; break;
		case 'C': d->opt.core = optarg; break;
		case 'g': {
			char *end;
			d->opt.only_id = strtoll(optarg, &end, 10);
			if (*end || d->opt.only_id <= 0) {
				fprintf(stderr, "gdump: -g wants a goroutine id, "
						"not \"%s\"\n", optarg);
				exit(EXIT_USAGE);
			}
			break;
		}
		case 'h': usage(stdout); exit(EXIT_DONE);
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	char *end;
	if (d->opt.core) {
		if (optind < argc - 1) {
			usage(stderr);
			exit(EXIT_USAGE);
		}
		d->opt.exe = optind < argc ? argv[optind] : NULL;
		snprintf(d->subject, sizeof(d->subject), "core %s", d->opt.core);
		return;
	}
	if (optind != argc - 1 ||
	    (d->opt.pid = (pid_t)strtol(argv[optind], &end, 10)) <= 0 || *end) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	snprintf(d->subject, sizeof(d->subject), "process %d", (int)d->opt.pid);
}

_Noreturn void gdump_fail(struct gdump *d, enum exit_status status,
			  const char *fmt, ...)
{
	target_resume(&d->target);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "gdump: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(status);
}

_Noreturn void fail_permission(struct gdump *d)
{
	int scope = -1;
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	fprintf(stderr, "gdump: not allowed to trace process %d.\n",
		(int)d->opt.pid);
	if (scope >= 1)
		fprintf(stderr,
			"  /proc/sys/kernel/yama/ptrace_scope is %d: only %s may "
			"attach.\n  Run gdump as root (or with CAP_SYS_PTRACE)%s.\n",
			scope, scope == 1 ? "a parent process or root" : "root",
			scope == 1 ? ", or lower it: "
				     "sysctl kernel.yama.ptrace_scope=0" : "");
	else
		fprintf(stderr,
			"  The process belongs to another user, or is not "
			"dumpable;\n  run gdump as its owner or as root.\n");
	gdump_fail(d, EXIT_PERMISSION, "giving up");
}

void fail_errno(struct gdump *d, int err, const char *what)
{
	if (err == -ESRCH || err == -ENOENT)
		gdump_fail(d,
			   EXIT_NO_PROCESS, "no such process: %d", (int)d->opt.pid);
	if (err == -EPERM || err == -EACCES)
		fail_permission(d);
	gdump_fail(d, EXIT_FAILED, "%s: %s", what, strerror(-err));
}


static void open_process(struct gdump *d)
{
	d->target.pid = d->opt.pid;
	if (kill(d->opt.pid, 0) != 0 && errno == ESRCH)
		gdump_fail(d,
			   EXIT_NO_PROCESS, "no such process: %d", (int)d->opt.pid);
	char maps[64];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)d->opt.pid);
	if (access(maps, R_OK) != 0)
		fail_errno(d, -errno, "cannot read the process's memory map");

	/* Symbols first, while the target still runs. */
	d->sym = symbolizer_open(d->opt.pid);
	if (!d->sym) {
		if (kill(d->opt.pid, 0) != 0 && errno == ESRCH)
			gdump_fail(d, EXIT_NO_PROCESS, "no such process: %d",
			     (int)d->opt.pid);
		fail_permission(d);
	}
}

static void open_core(struct gdump *d)
{
	int err = target_open_core(&d->target, d->opt.core);
	if (err == -ENOEXEC)
		gdump_fail(d,
			   EXIT_FAILED, "%s is not an x86-64 core file", d->opt.core);
	if (err)
		gdump_fail(d, EXIT_FAILED, "cannot read %s: %s", d->opt.core,
		     strerror(-err));
	d->sym = symbolizer_open_core(d->opt.core, d->opt.exe);
	if (!d->sym)
		gdump_fail(d,
			   EXIT_FAILED, "cannot find the modules of %s%s%s", d->subject,
		     d->opt.exe ? " with executable " : "",
		     d->opt.exe ? d->opt.exe : "");
}

int main(int argc, char **argv)
{
	/* The run's state, handed to each stage. */
	struct gdump run = { .opt = { .only_id = -1 } };
	struct gdump *d = &run;
	parse_args(d, argc, argv);
	int64_t start = monotonic_ns();
	if (d->opt.core)
		open_core(d);
	else
		open_process(d);
	uint64_t desc_addr = symbolizer_lookup(d->sym, GORO_DEBUG_SYMBOL);
	if (!desc_addr)
		gdump_fail(d, EXIT_NOT_GORO, "%s is not a goro process (no %s "
		     "symbol: is it linked with libgoro?)", d->subject,
		     GORO_DEBUG_SYMBOL);

	int err = target_stop(&d->target);
	if (err)
		fail_errno(d, err, "cannot stop the process");
	if ((err = unwind_init(&d->target)) != 0)
		fail_errno(d, err, "cannot prepare unwinding");
	read_descriptor(d, desc_addr);
	bool running = false;
	target_read(&d->target, d->desc.running_addr, &running,
		    sizeof(running));
	size_t n = 0;
	struct goroutine *gs = NULL;
	unsigned char *stacks = NULL;
	if (running) {
		gs = read_goroutines(d, &n);
		find_running_threads(d, gs, n);
		for (size_t i = 0; i < n; i++)
			if (d->opt.only_id <= 0 || gs[i].id == d->opt.only_id)
				unwind_running_or_plan_copy(d, &gs[i]);
		stacks = copy_stacks(d, gs, n);
	}
	target_resume(&d->target);
	for (size_t i = 0; i < n; i++)
		unwind_parked(d, &gs[i]);
	unwind_fini();
	if (!running)
		gdump_fail(d, EXIT_DONE, "%s: the goro runtime is not running "
		     "(goro_main has not started, or has returned)",
		     d->subject);

	struct goroutine **sel = calloc(n ? n : 1, sizeof(*sel));
	if (!sel)
		gdump_fail(d, EXIT_FAILED, "out of memory");
	size_t nsel = 0;
	for (size_t i = 0; i < n; i++) {
		mark_interrupted_frames(d, &gs[i]);
		check_complete(d, &gs[i]);
		drop_scheduler_frames(d, &gs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (selected(d, &gs[i]))
			sel[nsel++] = &gs[i];
	if (d->opt.only_id > 0 && nsel == 0)
		gdump_fail(d, EXIT_FAILED, "%s has no goroutine %lld",
		     d->subject, (long long)d->opt.only_id);
	if (d->opt.summary) {
		size_t ng;
		struct goroutine **leaders = group(d, sel, nsel, &ng);
		if (d->opt.json)
			print_summary_json(d, leaders, ng);
		else
			print_summary_text(d, leaders, ng);
		free(leaders);
	} else if (d->opt.json) {
		print_json(d, sel, nsel);
	} else {
		print_text(d, sel, nsel);
	}
	fflush(stdout);
	if (d->opt.verbose)
		fprintf(stderr, "gdump: %zu goroutines; target stopped for "
			"%.3f ms; %.3f ms in all\n", n,
			d->target.stopped_ns / 1e6,
			(monotonic_ns() - start) / 1e6);
	for (size_t i = 0; i < n; i++)
		free(gs[i].frames);
	free(gs);
	free(sel);
	free(stacks);
	unwind_fini();
	symbolizer_close(d->sym);
	target_close(&d->target);
	return EXIT_DONE;
}

