/* SPDX-License-Identifier: MIT */
/*
 * frames.c — gdump's frames stage: every goroutine's frames, unwound from
 * its thread's registers or from its switch frame, then trimmed to what
 * a reader wants (gdump.h).
 */
#include <stdlib.h>
#include <string.h>

#include "gdump.h"

/* Stack copied per parked goroutine; deeper frames are read from the
 * process after it has been let go. */
#define STACK_COPY_MAX (64 * 1024)

static void unwind_into(struct gdump *d, struct goroutine *g,
			const struct unwind_regs *r,
			const struct memory_copy *copy)
{
	struct unwind_result *res = calloc(1, sizeof(*res));
	if (!res)
		gdump_fail(d, EXIT_FAILED, "out of memory");
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
void unwind_running_or_plan_copy(struct gdump *d, struct goroutine *g)
{
	bool on_cpu = g->status == d->desc.status_running ||
		      g->status == d->desc.status_syscall;
	if (on_cpu) {
		const struct user_regs_struct *regs =
			g->tid ? target_regs(&d->target, g->tid) : NULL;
		if (!regs) {
			/* All threads are stopped: it is between states. */
			g->unavailable = "stack unavailable (switching)";
			return;
		}
		struct unwind_regs r;
		unwind_regs_from_thread(&r, regs);
		unwind_into(d, g, &r, NULL);
	} else if (!g->stack_lo) {
		/* Never ran: only its entry function is known. */
		if (!(g->frames = calloc(1, sizeof(*g->frames))))
			gdump_fail(d, EXIT_FAILED, "out of memory");
		g->frames->n = 1;
		g->frames->pc[0] = g->fn;
		g->frames->exact[0] = true;
	} else if (g->ctx_sp < g->stack_lo ||
		   g->ctx_sp + d->desc.frame_size > g->stack_hi) {
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
unsigned char *copy_stacks(struct gdump *d, struct goroutine *gs, size_t n)
{
	size_t total = 0, count = 0;
	for (size_t i = 0; i < n; i++) {
		total += gs[i].copy.len;
		count += gs[i].copy.len != 0;
	}
	unsigned char *arena = malloc(total ? total : 1);
	struct target_span *spans = calloc(count ? count : 1, sizeof(*spans));
	if (!arena || !spans)
		gdump_fail(d,
			   EXIT_FAILED, "out of memory copying %zu stacks", count);
	size_t off = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gs[i].copy.len)
			continue;
		gs[i].copy.data = arena + off;
		spans[k++] = (struct target_span){ gs[i].copy.addr,
			gs[i].copy.len, arena + off, false };
		off += gs[i].copy.len;
	}
	target_read_many(&d->target, spans, count);
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (gs[i].copy.len && !spans[k++].ok)
			gs[i].copy.len = 0, gs[i].unavailable = "stack unavailable";
	free(spans);
	return arena;
}

/* After the target is let go: unwind a parked goroutine from its copy. */
void unwind_parked(struct gdump *d, struct goroutine *g)
{
	if (!g->copy.len)
		return;
	const unsigned char *frame = g->copy.data;
	struct switch_regs sw = {
		.rbx = FIELD(uint64_t, frame, d->desc.frame_rbx),
		.rbp = FIELD(uint64_t, frame, d->desc.frame_rbp),
		.r12 = FIELD(uint64_t, frame, d->desc.frame_r12),
		.r13 = FIELD(uint64_t, frame, d->desc.frame_r13),
		.r14 = FIELD(uint64_t, frame, d->desc.frame_r14),
		.r15 = FIELD(uint64_t, frame, d->desc.frame_r15),
		.rip = FIELD(uint64_t, frame, d->desc.frame_rip),
		.rsp = g->ctx_sp + d->desc.frame_size,
	};
	struct unwind_regs r;
	unwind_regs_from_switch(&r, &sw);
	g->switched_out = true;
	unwind_into(d, g, &r, &g->copy);
}

/*
 * A switched-out goroutine's innermost frames are the scheduler's (switch,
 * execute), which differ with the path taken: start at what called the
 * scheduler to park or yield, as src/debug/dump.c does, so that identical waits
 * group together.
 */
/* A frame called by the preemption trampoline did not call it: it was
 * interrupted, and its PC is exact. */
void mark_interrupted_frames(struct gdump *d, struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	for (int i = 1; f && i < f->n; i++) {
		struct symbol_info si;
		symbolize(d->sym, f->pc[i - 1], !f->exact[i - 1], &si);
		if (goro_debug_is_interrupt_frame(&d->desc, si.function))
			f->exact[i] = true;
	}
}

/* Every goroutine that has run has goro_start as its outermost frame:
 * an unwind that ended elsewhere (before the frame limit) lost the rest,
 * and says so. */
void check_complete(struct gdump *d, struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	if (!f || !f->n || f->truncated || !g->stack_lo)
		return;
	struct symbol_info si;
	symbolize(d->sym, f->pc[f->n - 1], !f->exact[f->n - 1], &si);
	g->cut_short = !si.function || strcmp(si.function, "goro_start") != 0;
}

void drop_scheduler_frames(struct gdump *d, struct goroutine *g)
{
	struct unwind_result *f = g->frames;
	if (!g->switched_out || !f)
		return;
	int i = 0;
	for (; i + 1 < f->n; i++) {
		struct symbol_info si;
		symbolize(d->sym, f->pc[i], !f->exact[i], &si);
		if (!goro_debug_is_scheduler_frame(&d->desc, si.function))
			break;
	}
	f->n -= i;
	memmove(f->pc, f->pc + i, (size_t)f->n * sizeof(f->pc[0]));
	memmove(f->exact, f->exact + i, (size_t)f->n * sizeof(f->exact[0]));
}

