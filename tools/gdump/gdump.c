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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goro/debug.h>
#include "symbolize.h"
#include "corefile.h"
#include "target.h"
#include "unwind.h"

enum exit_status {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_NO_PROCESS = 3,
	EXIT_PERMISSION = 4,
	EXIT_NOT_GORO = 5,
	EXIT_VERSION = 6,
};

#define NS_PER_MINUTE (60LL * 1000 * 1000 * 1000)
#define MAX_MS 100000   /* bound on the M list walk */
/* Stack copied per parked goroutine; deeper frames are read from the
 * process after it has been let go. */
#define STACK_COPY_MAX (64 * 1024)

struct goroutine {
	int64_t id, parent_id;
	uint32_t status;
	uint8_t wait_reason;
	int64_t wait_since;
	char name[64];
	uint64_t ctx_sp, create_pc, fn, stack_lo, stack_hi, stack_high_water;
	bool async_preempted;
	pid_t tid;                  /* thread running it, 0 = none */
	const char *state;          /* label: "sleep", "running", ... */
	int64_t wait_minutes;
	const char *unavailable;    /* why there are no frames */
	bool switched_out;          /* frames start in the scheduler */
	bool cut_short;             /* the unwind stopped before goro_start */
	struct memory_copy copy;    /* its stack, copied while stopped */
	struct unwind_result *frames;
	struct goroutine *group_next;  /* --summary grouping */
	struct goroutine *group_tail;
	size_t group_count;
};

static struct options {
	bool summary, json, verbose;
	int64_t only_id;
	const char *state, *func;
	pid_t pid;
	const char *core, *exe;   /* --core CORE [EXE] */
} opt = { .only_id = -1 };

/* "process PID" or "core FILE", for messages. */
static char subject[320];

/* Version of --json's layout: bumped whenever a key changes meaning or
 * goes away (new keys may appear without it). */
#define JSON_SCHEMA 1

static struct goro_debug_descriptor desc;
static struct target target;
static struct symbolizer *sym;

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

static void parse_args(int argc, char **argv)
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
		case 's': opt.summary = true; break;
		case 'j': opt.json = true; break;
		case 'v': opt.verbose = true; break;
		case 'S': opt.state = optarg; break;
		case 'F': opt.func = optarg; break;
		case 'C': opt.core = optarg; break;
		case 'g': {
			char *end;
			opt.only_id = strtoll(optarg, &end, 10);
			if (*end || opt.only_id <= 0) {
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
	if (opt.core) {
		if (optind < argc - 1) {
			usage(stderr);
			exit(EXIT_USAGE);
		}
		opt.exe = optind < argc ? argv[optind] : NULL;
		snprintf(subject, sizeof(subject), "core %s", opt.core);
		return;
	}
	if (optind != argc - 1 ||
	    (opt.pid = (pid_t)strtol(argv[optind], &end, 10)) <= 0 || *end) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	snprintf(subject, sizeof(subject), "process %d", (int)opt.pid);
}

static _Noreturn void fail(enum exit_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static _Noreturn void fail(enum exit_status status, const char *fmt, ...)
{
	target_resume(&target);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "gdump: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(status);
}

static _Noreturn void fail_permission(void)
{
	int scope = -1;
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	fprintf(stderr, "gdump: not allowed to trace process %d.\n",
		(int)opt.pid);
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
	fail(EXIT_PERMISSION, "giving up");
}

static void fail_errno(int err, const char *what)
{
	if (err == -ESRCH || err == -ENOENT)
		fail(EXIT_NO_PROCESS, "no such process: %d", (int)opt.pid);
	if (err == -EPERM || err == -EACCES)
		fail_permission();
	fail(EXIT_FAILED, "%s: %s", what, strerror(-err));
}

/* ---- reading the target --------------------------------------------- */

static uint64_t read_u64(uint64_t addr)
{
	uint64_t v = 0;
	if (target_read(&target, addr, &v, sizeof(v)))
		fail(EXIT_FAILED, "cannot read target memory at 0x%lx",
		     (unsigned long)addr);
	return v;
}

static void read_descriptor(uint64_t addr)
{
	struct goro_debug_descriptor head;
	if (target_read(&target, addr, &head, offsetof(typeof(head),
						       allgs_items_addr)))
		fail(EXIT_FAILED, "cannot read the descriptor at 0x%lx",
		     (unsigned long)addr);
	if (memcmp(head.magic, GORO_DEBUG_MAGIC, sizeof(head.magic)) != 0)
		fail(EXIT_NOT_GORO, "%s: %s is not a goro descriptor",
		     subject, GORO_DEBUG_SYMBOL);
	if (head.version != GORO_DEBUG_VERSION)
		fail(EXIT_VERSION, "%s uses goro descriptor version %u;"
		     " this gdump reads version %u: use the gdump of the "
		     "same goro release", subject, head.version,
		     GORO_DEBUG_VERSION);
	if (head.size < sizeof(desc))
		fail(EXIT_VERSION, "descriptor of %u bytes, expected %zu",
		     head.size, sizeof(desc));
	if (target_read(&target, addr, &desc, sizeof(desc)))
		fail(EXIT_FAILED, "cannot read the descriptor");
	desc.status_names[GORO_DEBUG_MAX_STATUS - 1][GORO_DEBUG_NAME_LEN - 1] = 0;
}

#define FIELD(type, buf, off) (*(const type *)((const char *)(buf) + (off)))

static const char *state_label(const struct goroutine *g)
{
	if (g->status == desc.status_waiting && g->wait_reason < desc.wait_count)
		return desc.wait_names[g->wait_reason];
	if (g->status < desc.status_count && g->status < GORO_DEBUG_MAX_STATUS)
		return desc.status_names[g->status];
	return "unknown";
}

static const uint64_t *sort_keys;

static int by_address(const void *a, const void *b)
{
	uint64_t x = sort_keys[*(const size_t *)a];
	uint64_t y = sort_keys[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

/*
 * Copy n records of `size` bytes at ptrs[] into records[i * size]; ok[i]
 * says which arrived.  Gs are allocated in runs, so the records are read
 * as a few large ranges (neighbours at most `size` apart merged): the
 * kernel then walks each page once instead of once per record.  A range
 * that cannot be read is retried record by record.
 */
static void read_records(const uint64_t *ptrs, size_t n, size_t size,
			 char *records, bool *ok)
{
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	struct target_span *spans = calloc(n ? n : 1, sizeof(*spans));
	size_t *first = malloc((n ? n : 1) * sizeof(*first));
	if (!order || !spans || !first)
		fail(EXIT_FAILED, "out of memory for %zu goroutines", n);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_keys = ptrs;
	qsort(order, n, sizeof(*order), by_address);
	size_t nranges = 0, total = 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t p = ptrs[order[k]];
		struct target_span *r = nranges ? &spans[nranges - 1] : NULL;
		if (r && p >= r->addr + r->len && p - (r->addr + r->len) <= size) {
			total += p + size - (r->addr + r->len);
			r->len = p + size - r->addr;
			continue;
		}
		first[nranges] = k;
		spans[nranges++] = (struct target_span){ p, size, NULL, false };
		total += size;
	}
	char *buf = malloc(total ? total : 1);
	if (!buf)
		fail(EXIT_FAILED, "out of memory for %zu goroutines", n);
	size_t off = 0;
	for (size_t i = 0; i < nranges; i++) {
		spans[i].buf = buf + off;
		off += spans[i].len;
	}
	target_read_many(&target, spans, nranges);
	for (size_t i = 0; i < nranges; i++) {
		size_t end = i + 1 < nranges ? first[i + 1] : n;
		for (size_t k = first[i]; k < end; k++) {
			size_t idx = order[k];
			char *dst = records + idx * size;
			if (spans[i].ok) {
				memcpy(dst, (char *)spans[i].buf +
				       (ptrs[idx] - spans[i].addr), size);
				ok[idx] = true;
			} else {
				ok[idx] = target_read(&target, ptrs[idx], dst,
						      size) == 0;
			}
		}
	}
	free(buf);
	free(first);
	free(spans);
	free(order);
}

/* Every live goroutine of the current run, in table order. */
static struct goroutine *read_goroutines(size_t *count)
{
	uint32_t generation = 0;
	target_read(&target, desc.generation_addr, &generation,
		    sizeof(generation));
	size_t n = read_u64(desc.allgs_count_addr);
	uint64_t items = read_u64(desc.allgs_items_addr);
	uint64_t *ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	struct goroutine *gs = calloc(n ? n : 1, sizeof(*gs));
	if (!ptrs || !gs)
		fail(EXIT_FAILED, "out of memory for %zu goroutines", n);
	if (n && target_read(&target, items, ptrs, n * sizeof(*ptrs)))
		fail(EXIT_FAILED, "cannot read the goroutine table");
	int64_t now = monotonic_ns();
	char *records = malloc(n ? n * desc.g_size : 1);
	bool *ok = calloc(n ? n : 1, sizeof(*ok));
	if (!records || !ok)
		fail(EXIT_FAILED, "out of memory for %zu goroutines", n);
	read_records(ptrs, n, desc.g_size, records, ok);
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		const char *buf = records + i * desc.g_size;
		if (!ok[i])
			continue;
		struct goroutine *g = &gs[live];
		g->status = FIELD(uint32_t, buf, desc.g_status);
		if (g->status == desc.status_dead ||
		    FIELD(uint32_t, buf, desc.g_generation) != generation)
			continue;
		g->id = FIELD(int64_t, buf, desc.g_id);
		g->parent_id = FIELD(int64_t, buf, desc.g_parent_id);
		g->wait_reason = FIELD(uint8_t, buf, desc.g_wait_reason);
		g->wait_since = FIELD(int64_t, buf, desc.g_wait_since);
		size_t name_len = desc.g_name_size < sizeof(g->name) ?
				  desc.g_name_size : sizeof(g->name) - 1;
		memcpy(g->name, buf + desc.g_name, name_len);
		g->name[sizeof(g->name) - 1] = '\0';
		g->ctx_sp = FIELD(uint64_t, buf, desc.g_ctx_sp);
		g->create_pc = FIELD(uint64_t, buf, desc.g_create_pc);
		g->fn = FIELD(uint64_t, buf, desc.g_fn);
		g->stack_lo = FIELD(uint64_t, buf, desc.g_stack_lo);
		g->stack_hi = FIELD(uint64_t, buf, desc.g_stack_hi);
		g->stack_high_water = FIELD(uint64_t, buf,
					    desc.g_stack_high_water);
		g->async_preempted = FIELD(bool, buf, desc.g_async_preempted);
		g->state = state_label(g);
		/* (A core's clock is not ours: no minutes.) */
		if (!target.core && g->status == desc.status_waiting &&
		    g->wait_since > 0 &&
		    now - g->wait_since >= NS_PER_MINUTE)
			g->wait_minutes = (now - g->wait_since) / NS_PER_MINUTE;
		live++;
	}
	free(records);
	free(ok);
	free(ptrs);
	*count = live;
	return gs;
}

/* Which thread runs which goroutine: from the M list. */
static void find_running_threads(struct goroutine *gs, size_t n)
{
	uint64_t m = read_u64(desc.allm_addr);
	for (int i = 0; m && i < MAX_MS; i++) {
		int32_t tid = 0;
		uint64_t curg = 0, next = 0;
		if (target_read(&target, m + desc.m_tid, &tid, sizeof(tid)) ||
		    target_read(&target, m + desc.m_curg, &curg, sizeof(curg)) ||
		    target_read(&target, m + desc.m_alllink, &next, sizeof(next)))
			break;
		if (curg) {
			int64_t id = 0;
			target_read(&target, curg + desc.g_id, &id, sizeof(id));
			for (size_t k = 0; k < n; k++)
				if (gs[k].id == id)
					gs[k].tid = tid;
		}
		m = next;
	}
}

static void unwind_into(struct goroutine *g, const struct unwind_regs *r,
			const struct memory_copy *copy)
{
	struct unwind_result *res = calloc(1, sizeof(*res));
	if (!res)
		fail(EXIT_FAILED, "out of memory");
	int err = copy ? unwind_stack_memo(r, copy, res)
		       : unwind_stack(r, NULL, res);
	if (err != 0 || res->n == 0) {
		g->unavailable = "stack unavailable";
		free(res);
		return;
	}
	g->frames = res;
}

/*
 * While the target is stopped: a goroutine on a CPU is unwound at once
 * from its thread's registers; a parked one only gets the range of its
 * stack to copy (from the saved frame up, at most STACK_COPY_MAX bytes).
 */
static void unwind_running_or_plan_copy(struct goroutine *g)
{
	bool on_cpu = g->status == desc.status_running ||
		      g->status == desc.status_syscall;
	if (on_cpu) {
		const struct user_regs_struct *regs =
			g->tid ? target_regs(&target, g->tid) : NULL;
		if (!regs) {
			/* All threads are stopped: it is between states. */
			g->unavailable = "stack unavailable (switching)";
			return;
		}
		struct unwind_regs r;
		unwind_regs_from_thread(&r, regs);
		unwind_into(g, &r, NULL);
	} else if (!g->stack_lo) {
		/* Never ran: only its entry function is known. */
		if (!(g->frames = calloc(1, sizeof(*g->frames))))
			fail(EXIT_FAILED, "out of memory");
		g->frames->n = 1;
		g->frames->pc[0] = g->fn;
		g->frames->exact[0] = true;
	} else if (g->ctx_sp < g->stack_lo ||
		   g->ctx_sp + desc.frame_size > g->stack_hi) {
		g->unavailable = "stack unavailable";
	} else {
		g->copy.addr = g->ctx_sp;
		g->copy.stack_lo = g->stack_lo;
		g->copy.stack_hi = g->stack_hi;
		g->copy.len = g->stack_hi - g->ctx_sp;
		if (g->copy.len > STACK_COPY_MAX)
			g->copy.len = STACK_COPY_MAX;
	}
}

/* Copy every planned stack range in a few system calls. */
static unsigned char *copy_stacks(struct goroutine *gs, size_t n)
{
	size_t total = 0, count = 0;
	for (size_t i = 0; i < n; i++) {
		total += gs[i].copy.len;
		count += gs[i].copy.len != 0;
	}
	unsigned char *arena = malloc(total ? total : 1);
	struct target_span *spans = calloc(count ? count : 1, sizeof(*spans));
	if (!arena || !spans)
		fail(EXIT_FAILED, "out of memory copying %zu stacks", count);
	size_t off = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gs[i].copy.len)
			continue;
		gs[i].copy.data = arena + off;
		spans[k++] = (struct target_span){ gs[i].copy.addr,
			gs[i].copy.len, arena + off, false };
		off += gs[i].copy.len;
	}
	target_read_many(&target, spans, count);
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (gs[i].copy.len && !spans[k++].ok)
			gs[i].copy.len = 0, gs[i].unavailable = "stack unavailable";
	free(spans);
	return arena;
}

/* After the target is let go: unwind a parked goroutine from its copy. */
static void unwind_parked(struct goroutine *g)
{
	if (!g->copy.len)
		return;
	const unsigned char *frame = g->copy.data;
	struct switch_regs sw = {
		.rbx = FIELD(uint64_t, frame, desc.frame_rbx),
		.rbp = FIELD(uint64_t, frame, desc.frame_rbp),
		.r12 = FIELD(uint64_t, frame, desc.frame_r12),
		.r13 = FIELD(uint64_t, frame, desc.frame_r13),
		.r14 = FIELD(uint64_t, frame, desc.frame_r14),
		.r15 = FIELD(uint64_t, frame, desc.frame_r15),
		.rip = FIELD(uint64_t, frame, desc.frame_rip),
		.rsp = g->ctx_sp + desc.frame_size,
	};
	struct unwind_regs r;
	unwind_regs_from_switch(&r, &sw);
	g->switched_out = true;
	unwind_into(g, &r, &g->copy);
}

/*
 * A switched-out goroutine's innermost frames are the scheduler's (switch,
 * execute), which differ with the path taken: start at what called the
 * scheduler to park or yield, as src/debug/dump.c does, so that identical waits
 * group together.
 */
/* A frame called by the preemption trampoline did not call it: it was
 * interrupted, and its PC is exact. */
static void mark_interrupted_frames(struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	for (int i = 1; f && i < f->n; i++) {
		struct symbol_info si;
		symbolize(sym, f->pc[i - 1], !f->exact[i - 1], &si);
		if (goro_debug_is_interrupt_frame(&desc, si.function))
			f->exact[i] = true;
	}
}

/* Every goroutine that has run has goro_start as its outermost frame:
 * an unwind that ended elsewhere (before the frame limit) lost the rest,
 * and says so. */
static void check_complete(struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	if (!f || !f->n || f->truncated || !g->stack_lo)
		return;
	struct symbol_info si;
	symbolize(sym, f->pc[f->n - 1], !f->exact[f->n - 1], &si);
	g->cut_short = !si.function || strcmp(si.function, "goro_start") != 0;
}

static void drop_scheduler_frames(struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	if (!g->switched_out || !f)
		return;
	int i = 0;
	for (; i + 1 < f->n; i++) {
		struct symbol_info si;
		symbolize(sym, f->pc[i], !f->exact[i], &si);
		if (!goro_debug_is_scheduler_frame(&desc, si.function))
			break;
	}
	f->n -= i;
	memmove(f->pc, f->pc + i, (size_t)f->n * sizeof(f->pc[0]));
	memmove(f->exact, f->exact + i, (size_t)f->n * sizeof(f->exact[0]));
}

/* ---- filtering and grouping --------------------------------------------- */

static bool has_function(const struct goroutine *g, const char *text)
{
	for (int i = 0; g->frames && i < g->frames->n; i++) {
		struct symbol_info si;
		symbolize(sym, g->frames->pc[i], !g->frames->exact[i], &si);
		if (si.function && strstr(si.function, text))
			return true;
	}
	return false;
}

static bool selected(const struct goroutine *g)
{
	if (opt.only_id > 0 && g->id != opt.only_id)
		return false;
	if (opt.state && strcmp(g->state, opt.state) != 0)
		return false;
	if (opt.func && !has_function(g, opt.func))
		return false;
	return true;
}

static bool same_stack(const struct goroutine *a, const struct goroutine *b)
{
	if (strcmp(a->state, b->state) != 0 || a->create_pc != b->create_pc ||
	    (a->unavailable != NULL) != (b->unavailable != NULL))
		return false;
	if (!a->frames || !b->frames)
		return a->frames == b->frames;
	return a->frames->n == b->frames->n &&
	       memcmp(a->frames->pc, b->frames->pc,
		      (size_t)a->frames->n * sizeof(a->frames->pc[0])) == 0;
}

static uint64_t stack_hash(const struct goroutine *g)
{
	uint64_t h = 1469598103934665603ULL ^ g->create_pc;
	for (const char *s = g->state; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (int i = 0; g->frames && i < g->frames->n; i++)
		h = (h ^ g->frames->pc[i]) * 1099511628211ULL;
	return h;
}

static int by_count(const void *a, const void *b)
{
	const struct goroutine *x = *(struct goroutine *const *)a;
	const struct goroutine *y = *(struct goroutine *const *)b;
	if (x->group_count != y->group_count)
		return x->group_count < y->group_count ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Group leaders, largest group first; members chained by group_next in
 * table order. */
static struct goroutine **group(struct goroutine **sel, size_t n,
				size_t *ngroups)
{
	size_t cap = 1;
	while (cap < 2 * n)
		cap *= 2;
	struct goroutine **table = calloc(cap, sizeof(*table));
	struct goroutine **leaders = calloc(n ? n : 1, sizeof(*leaders));
	if (!table || !leaders)
		fail(EXIT_FAILED, "out of memory");
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		struct goroutine *g = sel[i];
		size_t h = stack_hash(g) & (cap - 1);
		while (table[h] && !same_stack(table[h], g))
			h = (h + 1) & (cap - 1);
		g->group_next = NULL;
		if (!table[h]) {
			table[h] = g;
			g->group_count = 1;
			g->group_tail = g;
			leaders[ng++] = g;
		} else {
			struct goroutine *lead = table[h];
			lead->group_count++;
			lead->group_tail->group_next = g;
			lead->group_tail = g;
		}
	}
	free(table);
	qsort(leaders, ng, sizeof(*leaders), by_count);
	*ngroups = ng;
	return leaders;
}

/* ---- text ---------------------------------------------------------------- */

static void print_location_text(uint64_t pc, bool exact)
{
	struct symbol_info si;
	symbolize(sym, pc, !exact, &si);
	if (si.function)
		printf("%s+0x%lx\n", si.function, (unsigned long)si.offset);
	else
		printf("?\n");
	if (si.file)
		printf("\t%s:%d\n", si.file, si.line);
	else if (!si.function && si.module)
		printf("\t%s+0x%lx\n", si.module,
		       (unsigned long)si.module_offset);
	else if (!si.function)
		printf("\tpc=0x%lx\n", (unsigned long)pc);
}

static void print_body_text(const struct goroutine *g)
{
	if (g->unavailable) {
		printf("\t%s\n", g->unavailable);
	} else {
		for (int i = 0; i < g->frames->n; i++)
			print_location_text(g->frames->pc[i],
					    g->frames->exact[i]);
		if (g->frames->truncated)
			printf("...additional frames elided...\n");
		else if (g->cut_short)
			printf("...stack unwound no further...\n");
	}
	if (g->create_pc) {
		struct symbol_info si;
		symbolize(sym, g->create_pc, true, &si);
		if (si.function)
			printf("created by %s", si.function);
		else
			printf("created by 0x%lx", (unsigned long)g->create_pc);
		if (g->parent_id > 0)
			printf(" in goroutine %lld", (long long)g->parent_id);
		printf("\n");
		if (si.file)
			printf("\t%s:%d\n", si.file, si.line);
	}
	printf("\n");
}

static void print_state_text(const struct goroutine *g, bool minutes)
{
	printf("[%s", g->state);
	if (minutes && g->wait_minutes)
		printf(", %lld minutes", (long long)g->wait_minutes);
	printf("]:\n");
}

static void print_text(struct goroutine **sel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct goroutine *g = sel[i];
		printf("goroutine %lld ", (long long)g->id);
		if (g->name[0])
			printf("\"%s\" ", g->name);
		print_state_text(g, true);
		print_body_text(g);
	}
}

static void print_summary_text(struct goroutine **leaders, size_t ng)
{
	for (size_t i = 0; i < ng; i++) {
		const struct goroutine *g = leaders[i];
		printf("%zu goroutine%s ", g->group_count,
		       g->group_count == 1 ? "" : "s");
		print_state_text(g, false);
		printf("ids:");
		int shown = 0;
		for (const struct goroutine *m = g; m && shown < 10;
		     m = m->group_next, shown++)
			printf(" %lld", (long long)m->id);
		if (g->group_count > 10)
			printf(" ... (%zu more)", g->group_count - 10);
		printf("\n");
		print_body_text(g);
	}
}

/* ---- JSON ---------------------------------------------------------------- */

/* Bytes 0x80.. that start a well-formed UTF-8 sequence: its length, or 0
 * (a stray continuation byte, an overlong form, a surrogate, beyond
 * U+10FFFF, or cut short). */
static int utf8_length(const unsigned char *p)
{
	unsigned c = p[0];
	int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* A JSON string for any bytes: control characters and DEL escaped, valid
 * UTF-8 kept, every byte of invalid UTF-8 replaced by U+FFFD. */
static void json_string(const char *s)
{
	putchar('"');
	const unsigned char *p = (const unsigned char *)s;
	while (p && *p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			printf("\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
		} else if (c < 0x80) {
			putchar(c);
		} else {
			int n = utf8_length(p);
			if (n) {
				fwrite(p, 1, (size_t)n, stdout);
				p += n;
				continue;
			}
			printf("\\ufffd");
		}
		p++;
	}
	putchar('"');
}

static void json_location(const struct symbol_info *si, uint64_t pc)
{
	printf("{\"pc\":%llu,\"function\":", (unsigned long long)pc);
	if (si->function)
		json_string(si->function);
	else
		printf("null");
	printf(",\"offset\":%llu,\"file\":", (unsigned long long)si->offset);
	if (si->file)
		json_string(si->file);
	else
		printf("null");
	printf(",\"line\":%d}", si->line);
}

/* Bytes of its stack a goroutine is known to have used: the deepest
 * growth the runtime recorded, or the depth of its saved stack pointer
 * if that is deeper (0 before its first run). */
static uint64_t stack_used(const struct goroutine *g)
{
	uint64_t used = g->stack_high_water;
	if (g->stack_hi && g->ctx_sp > g->stack_lo && g->ctx_sp < g->stack_hi &&
	    g->stack_hi - g->ctx_sp > used)
		used = g->stack_hi - g->ctx_sp;
	return used;
}

static void json_body(const struct goroutine *g)
{
	printf("\"state\":");
	json_string(g->state);
	printf(",\"frames\":[");
	for (int i = 0; g->frames && i < g->frames->n; i++) {
		struct symbol_info si;
		symbolize(sym, g->frames->pc[i], !g->frames->exact[i], &si);
		if (i)
			putchar(',');
		json_location(&si, g->frames->pc[i]);
	}
	printf("],\"truncated\":%s,\"unavailable\":",
	       g->frames && (g->frames->truncated || g->cut_short) ? "true"
								   : "false");
	if (g->unavailable)
		json_string(g->unavailable);
	else
		printf("null");
	printf(",\"created_by\":");
	if (g->create_pc) {
		struct symbol_info si;
		symbolize(sym, g->create_pc, true, &si);
		json_location(&si, g->create_pc);
	} else {
		printf("null");
	}
	printf(",\"parent_id\":%lld", (long long)g->parent_id);
	printf(",\"stack_used\":%llu", (unsigned long long)stack_used(g));
}

/* The keys every --json output opens with. */
static void json_header(void)
{
	printf("{\"schema\":%d,\"pid\":%d,", JSON_SCHEMA, (int)target.pid);
	if (opt.core) {
		printf("\"core\":");
		json_string(opt.core);
		printf(",");
	}
	printf("\"stopped_us\":%lld,", (long long)(target.stopped_ns / 1000));
}

static void print_json(struct goroutine **sel, size_t n)
{
	json_header();
	printf("\"goroutines\":[");
	for (size_t i = 0; i < n; i++) {
		const struct goroutine *g = sel[i];
		printf("%s\n{\"id\":%lld,\"name\":", i ? "," : "",
		       (long long)g->id);
		json_string(g->name);
		printf(",\"wait_minutes\":%lld,\"async_preempted\":%s,",
		       (long long)g->wait_minutes,
		       g->async_preempted ? "true" : "false");
		json_body(g);
		printf("}");
	}
	printf("]}\n");
}

static void print_summary_json(struct goroutine **leaders, size_t ng)
{
	json_header();
	printf("\"groups\":[");
	for (size_t i = 0; i < ng; i++) {
		const struct goroutine *g = leaders[i];
		printf("%s\n{\"count\":%zu,\"ids\":[", i ? "," : "",
		       g->group_count);
		for (const struct goroutine *m = g; m; m = m->group_next)
			printf("%s%lld", m == g ? "" : ",", (long long)m->id);
		printf("],");
		json_body(g);
		printf("}");
	}
	printf("]}\n");
}

/* ---- main -------------------------------------------------------------- */

static void open_process(void)
{
	target.pid = opt.pid;
	if (kill(opt.pid, 0) != 0 && errno == ESRCH)
		fail(EXIT_NO_PROCESS, "no such process: %d", (int)opt.pid);
	char maps[64];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)opt.pid);
	if (access(maps, R_OK) != 0)
		fail_errno(-errno, "cannot read the process's memory map");

	/* Symbols first, while the target still runs. */
	sym = symbolizer_open(opt.pid);
	if (!sym) {
		if (kill(opt.pid, 0) != 0 && errno == ESRCH)
			fail(EXIT_NO_PROCESS, "no such process: %d",
			     (int)opt.pid);
		fail_permission();
	}
}

static void open_core(void)
{
	int err = target_open_core(&target, opt.core);
	if (err == -ENOEXEC)
		fail(EXIT_FAILED, "%s is not an x86-64 core file", opt.core);
	if (err)
		fail(EXIT_FAILED, "cannot read %s: %s", opt.core,
		     strerror(-err));
	sym = symbolizer_open_core(opt.core, opt.exe);
	if (!sym)
		fail(EXIT_FAILED, "cannot find the modules of %s%s%s", subject,
		     opt.exe ? " with executable " : "",
		     opt.exe ? opt.exe : "");
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	int64_t start = monotonic_ns();
	if (opt.core)
		open_core();
	else
		open_process();
	uint64_t desc_addr = symbolizer_lookup(sym, GORO_DEBUG_SYMBOL);
	if (!desc_addr)
		fail(EXIT_NOT_GORO, "%s is not a goro process (no %s "
		     "symbol: is it linked with libgoro?)", subject,
		     GORO_DEBUG_SYMBOL);

	int err = target_stop(&target);
	if (err)
		fail_errno(err, "cannot stop the process");
	if ((err = unwind_init(&target)) != 0)
		fail_errno(err, "cannot prepare unwinding");
	read_descriptor(desc_addr);
	bool running = false;
	target_read(&target, desc.running_addr, &running, sizeof(running));
	size_t n = 0;
	struct goroutine *gs = NULL;
	unsigned char *stacks = NULL;
	if (running) {
		gs = read_goroutines(&n);
		find_running_threads(gs, n);
		for (size_t i = 0; i < n; i++)
			if (opt.only_id <= 0 || gs[i].id == opt.only_id)
				unwind_running_or_plan_copy(&gs[i]);
		stacks = copy_stacks(gs, n);
	}
	target_resume(&target);
	for (size_t i = 0; i < n; i++)
		unwind_parked(&gs[i]);
	unwind_fini();
	if (!running)
		fail(EXIT_DONE, "%s: the goro runtime is not running "
		     "(goro_main has not started, or has returned)",
		     subject);

	struct goroutine **sel = calloc(n ? n : 1, sizeof(*sel));
	if (!sel)
		fail(EXIT_FAILED, "out of memory");
	size_t nsel = 0;
	for (size_t i = 0; i < n; i++) {
		mark_interrupted_frames(&gs[i]);
		check_complete(&gs[i]);
		drop_scheduler_frames(&gs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (selected(&gs[i]))
			sel[nsel++] = &gs[i];
	if (opt.only_id > 0 && nsel == 0)
		fail(EXIT_FAILED, "%s has no goroutine %lld",
		     subject, (long long)opt.only_id);
	if (opt.summary) {
		size_t ng;
		struct goroutine **leaders = group(sel, nsel, &ng);
		if (opt.json)
			print_summary_json(leaders, ng);
		else
			print_summary_text(leaders, ng);
		free(leaders);
	} else if (opt.json) {
		print_json(sel, nsel);
	} else {
		print_text(sel, nsel);
	}
	fflush(stdout);
	if (opt.verbose)
		fprintf(stderr, "gdump: %zu goroutines; target stopped for "
			"%.3f ms; %.3f ms in all\n", n,
			target.stopped_ns / 1e6,
			(monotonic_ns() - start) / 1e6);
	for (size_t i = 0; i < n; i++)
		free(gs[i].frames);
	free(gs);
	free(sel);
	free(stacks);
	unwind_fini();
	symbolizer_close(sym);
	target_close(&target);
	return EXIT_DONE;
}
