/* SPDX-License-Identifier: MIT */
/*
 * traceback.c — local unwinding of goroutine stacks (see traceback.h).
 *
 * libunwind on x86-64 takes a ucontext_t as its starting context, so a
 * switched-out goroutine is described by filling one from the switch frame
 * arch_switch left on its stack: the callee-saved registers, RIP = the
 * return address into arch_switch's caller, RSP = just above the frame.
 * That is an ordinary call frame, so unw_init_local treats the PC as a
 * return address; registers a signal captured are unwound with
 * UNW_INIT_SIGNAL_FRAME instead, because their PC is the interrupted
 * instruction itself.
 */
#include <errno.h>
#include <string.h>

#include "traceback.h"

static void record(unw_cursor_t *cursor, struct traceback *tb, bool exact)
{
	tb->n = 0;
	tb->truncated = false;
	for (;;) {
		unw_word_t ip = 0;
		if (unw_get_reg(cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		int i = tb->n++;
		tb->pc[i] = ip;
		tb->exact[i] = exact;
		tb->offset[i] = 0;
		if (tb->names) {
			unw_word_t off = 0;
			if (unw_get_proc_name(cursor, tb->name[i],
					      TRACEBACK_NAME_MAX, &off) < 0 &&
			    tb->name[i][0] == '\0')
				strcpy(tb->name[i], "?");
			tb->offset[i] = off;
		}
		/* The frame above a signal frame was interrupted, not
		 * calling: its PC is exact too. */
		exact = unw_is_signal_frame(cursor) > 0;
		if (unw_step(cursor) <= 0)
			break;
		if (tb->n == TRACEBACK_MAX_FRAMES) {
			tb->truncated = true;
			break;
		}
	}
}

int traceback_saved(const struct g *g, struct traceback *tb)
{
	const struct arch_switch_frame *f = g->ctx.sp;
	tb->n = 0;
	if ((uintptr_t)f < (uintptr_t)g->stack.lo ||
	    (uintptr_t)(f + 1) > (uintptr_t)g->stack.hi)
		return -EINVAL;
	ucontext_t uc;
	arch_uc_for_unwind(&uc, f, 0);
	unw_cursor_t cursor;
	if (unw_init_local(&cursor, (unw_context_t *)&uc) < 0)
		return -EINVAL;
	record(&cursor, tb, false);
	return 0;
}

int traceback_signal(ucontext_t *uc, struct traceback *tb)
{
	unw_cursor_t cursor;
	tb->n = 0;
	if (unw_init_local2(&cursor, (unw_context_t *)uc,
			    UNW_INIT_SIGNAL_FRAME) < 0)
		return -EINVAL;
	record(&cursor, tb, true);
	return 0;
}

int traceback_context(unw_context_t *ctx, int skip, struct traceback *tb)
{
	unw_cursor_t cursor;
	tb->n = 0;
	if (unw_init_local(&cursor, ctx) < 0)
		return -EINVAL;
	for (int i = 0; i < skip; i++)
		if (unw_step(&cursor) <= 0)
			return 0;
	record(&cursor, tb, false);
	return 0;
}

void traceback_warmup(void)
{
	/* A whole unwind, steps included: besides libunwind's own setup,
	 * this binds its calls into libc (dl_iterate_phdr...) now.  Lazy
	 * binding later would run the dynamic linker on a goroutine stack or
	 * in a signal handler, both places too tight for it. */
	static struct traceback tb;
	unw_context_t ctx;
	tb.names = true;
	if (unw_getcontext(&ctx) == 0)
		traceback_context(&ctx, 0, &tb);
}

int traceback_name_of(uint64_t pc, char *buf, size_t len, uint64_t *offset)
{
	/* A cursor needs a context; one made of the PC alone is enough to
	 * ask for the name (nothing is read from the stack until a step). */
	ucontext_t uc;
	arch_uc_for_unwind(&uc, NULL, pc);
	unw_cursor_t cursor;
	unw_word_t off = 0;
	buf[0] = '\0';
	if (unw_init_local2(&cursor, (unw_context_t *)&uc,
			    UNW_INIT_SIGNAL_FRAME) < 0 ||
	    unw_get_proc_name(&cursor, buf, len, &off) < 0 || !buf[0])
		return -ENOENT;
	*offset = off;
	return 0;
}
