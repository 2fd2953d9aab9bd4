/* SPDX-License-Identifier: MIT */
/*
 * context.c — building the first context of a goroutine, so that the first
 * arch_switch into it lands in goro_start with the ABI's alignment.
 */
#include <stdint.h>
#include <string.h>

#include "arch.h"

#define MXCSR_DEFAULT 0x1f80   /* all exceptions masked, round to nearest */
#define X87_CW_DEFAULT 0x037f  /* extended precision, exceptions masked */

void arch_ctx_init(struct arch_ctx *ctx, void *stack_top,
		   void (*fn)(void *), void *arg)
{
	/* goro_start is entered by `ret`, not `call`: for the calls it makes to
	 * see an ABI-aligned stack, RSP must be 16-byte aligned on arrival. */
	uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
	top -= 16;  /* a zero word above the entry frame for frame-pointer walkers */
	struct arch_switch_frame *f =
		(struct arch_switch_frame *)(top - sizeof(*f));
	memset(f, 0, sizeof(*f));
	memset((void *)top, 0, 16);
	f->mxcsr = MXCSR_DEFAULT;
	f->x87_cw = X87_CW_DEFAULT;
	f->r12 = (uint64_t)(uintptr_t)fn;
	f->r13 = (uint64_t)(uintptr_t)arg;
	f->rip = (uint64_t)(uintptr_t)goro_start;
	ctx->sp = f;
}
