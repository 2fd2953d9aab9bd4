/* SPDX-License-Identifier: MIT */
/*
 * gdump.h — what gdump's stages share: one run's state (struct gdump: the
 * command line, the target, its descriptor and symbols), handed to every
 * stage and never kept in a file-scope variable, and the goroutine record
 * the stages fill in turn.
 *
 * The stages, in the order gdump.c runs them:
 *   gdump.c   the command line and the pipeline (main), failing cleanly;
 *   read.c    reading the target: the descriptor, the goroutine table, which
 *             thread runs which goroutine;
 *   frames.c  frames: unwinding (while stopped, then from the copies) and
 *             trimming to what a reader wants;
 *   filter.c  the -g/--state/--func filters and --summary's grouping;
 *   output.c  text and JSON output.
 */
#ifndef GDUMP_H
#define GDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <goro/debug.h>
#include "symbolize.h"
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

/* A field of a record copied from the target, at a descriptor offset. */
#define FIELD(type, buf, off) (*(const type *)((const char *)(buf) + (off)))

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

struct gdump_options {
	bool summary, json, verbose;
	int64_t only_id;
	const char *state, *func;
	pid_t pid;
	const char *core, *exe;   /* --core CORE [EXE] */
};

/* One run of gdump. */
struct gdump {
	struct gdump_options opt;
	char subject[320];        /* "process PID" or "core FILE" */
	struct goro_debug_descriptor desc;
	struct target target;
	struct symbolizer *sym;
};

/* gdump.c: the command line; failing (the target is let go first). */
void parse_args(struct gdump *d, int argc, char **argv);
_Noreturn void gdump_fail(struct gdump *d, enum exit_status status,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void fail_permission(struct gdump *d);
void fail_errno(struct gdump *d, int err, const char *what);

/* read.c: with the target stopped. */
void read_descriptor(struct gdump *d, uint64_t addr);
/* Every live goroutine of the current run, in table order. */
struct goroutine *read_goroutines(struct gdump *d, size_t *count);
/* Which thread runs which goroutine: from the M list. */
void find_running_threads(struct gdump *d, struct goroutine *gs, size_t n);

/* frames.c: unwind the running ones and plan the parked ones' stack copies
 * (target stopped), copy the stacks, then unwind the parked ones from
 * their copies (target let go); then trim. */
void unwind_running_or_plan_copy(struct gdump *d, struct goroutine *g);
unsigned char *copy_stacks(struct gdump *d, struct goroutine *gs, size_t n);
void unwind_parked(struct gdump *d, struct goroutine *g);
void mark_interrupted_frames(struct gdump *d, struct goroutine *g);
void check_complete(struct gdump *d, struct goroutine *g);
void drop_scheduler_frames(struct gdump *d, struct goroutine *g);

/* filter.c */
bool selected(struct gdump *d, const struct goroutine *g);
/* Group leaders, largest group first; members chained by group_next in
 * table order. */
struct goroutine **group(struct gdump *d, struct goroutine **sel, size_t n,
			 size_t *ngroups);

/* output.c */
void print_text(struct gdump *d, struct goroutine **sel, size_t n);
void print_summary_text(struct gdump *d, struct goroutine **leaders,
			size_t ng);
void print_json(struct gdump *d, struct goroutine **sel, size_t n);
void print_summary_json(struct gdump *d, struct goroutine **leaders,
			size_t ng);

#endif
