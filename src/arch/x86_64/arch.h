/* SPDX-License-Identifier: MIT */
/*
 * arch.h — the machine-dependent pieces the scheduler needs: a saved
 * execution context and the switch between two of them.
 *
 * A goroutine that gave up the CPU voluntarily (arch_switch) is described by
 * one word, its stack pointer.  Everything else the ABI requires a callee to
 * preserve sits on its stack, at that pointer, in the layout of struct
 * arch_switch_frame.  Tracebacks (in-process and gdump) read that frame to
 * start unwinding; keep the two in sync with switch.S.
 */
#ifndef GORO_ARCH_H
#define GORO_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

struct arch_ctx {
	void *sp;  /* saved stack pointer; points at a struct arch_switch_frame */
};

/* What arch_switch leaves on the stack of the context it saved. */
struct arch_switch_frame {
	uint32_t mxcsr;
	uint16_t x87_cw;
	uint16_t pad;
	uint64_t r15, r14, r13, r12, rbx, rbp;
	uint64_t rip;  /* return address into the caller of arch_switch */
};

/* Save the callee-saved registers, RSP, MXCSR and the x87 control word into
 * *from, load *to and return into it.  No system call. */
void arch_switch(struct arch_ctx *from, struct arch_ctx *to);

/* Prepare *ctx so that switching to it calls fn(arg) on the stack whose
 * highest address is stack_top, through goro_start (the bottom frame of every
 * goroutine: unwinding stops there).  goro_start first calls
 * sched_goroutine_started(), then fn(arg), then sched_goroutine_returned(). */
void arch_ctx_init(struct arch_ctx *ctx, void *stack_top,
		   void (*fn)(void *), void *arg);

/* The bottom frame of every goroutine (switch.S). */
void goro_start(void);

#define ARCH_RED_ZONE 128

/* ---- a signal context's registers ---------------------------------------- */

/* The interrupted program counter, stack pointer and return-value
 * register (RAX: a system call's result or, on the call, its number) of a
 * signal's machine context. */
static inline uintptr_t arch_mc_pc(const mcontext_t *mc)
{
	return (uintptr_t)mc->gregs[REG_RIP];
}

static inline uintptr_t arch_mc_sp(const mcontext_t *mc)
{
	return (uintptr_t)mc->gregs[REG_RSP];
}

static inline int64_t arch_mc_ret(const mcontext_t *mc)
{
	return (int64_t)mc->gregs[REG_RAX];
}

/* Resume the interrupted thread at pc with stack pointer sp. */
static inline void arch_mc_redirect(mcontext_t *mc, uintptr_t pc,
				    uintptr_t sp)
{
	mc->gregs[REG_RIP] = (greg_t)pc;
	mc->gregs[REG_RSP] = (greg_t)sp;
}

/* A context an unwinder can start from: the switch frame f describes a
 * goroutine that gave up the CPU (its callee-saved registers, and the
 * stack pointer just above the frame); or, with f NULL, a PC alone (sp
 * then points at *uc itself, a harmless readable address). */
static inline void arch_uc_for_unwind(ucontext_t *uc,
				      const struct arch_switch_frame *f,
				      uintptr_t pc)
{
	memset(uc, 0, sizeof(*uc));
	greg_t *r = uc->uc_mcontext.gregs;
	if (!f) {
		r[REG_RIP] = (greg_t)pc;
		r[REG_RSP] = (greg_t)(uintptr_t)uc;
		return;
	}
	r[REG_RIP] = (greg_t)f->rip;
	r[REG_RSP] = (greg_t)(uintptr_t)(f + 1);
	r[REG_RBP] = (greg_t)f->rbp;
	r[REG_RBX] = (greg_t)f->rbx;
	r[REG_R12] = (greg_t)f->r12;
	r[REG_R13] = (greg_t)f->r13;
	r[REG_R14] = (greg_t)f->r14;
	r[REG_R15] = (greg_t)f->r15;
}

/* A spin-wait hint to the CPU. */
static inline void arch_cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* Longest call instruction arch_follows_call recognises, in bytes. */
#define ARCH_CALL_MAX_LEN 8

/* Does the code just before `ret` end with a call, so that `ret` can be a
 * return address?  call rel32 (E8), and FF /2 through a register or memory
 * operand (2 to 8 bytes).  Reads up to ARCH_CALL_MAX_LEN bytes below ret:
 * the caller vouches they are mapped code. */
static inline bool arch_follows_call(uintptr_t ret)
{
	const uint8_t *c = (const uint8_t *)ret;
	if (c[-5] == 0xe8)
		return true;
	static const int modrm_at[] = { 1, 2, 3, 6, 7 };
	for (unsigned i = 0; i < sizeof(modrm_at) / sizeof(*modrm_at); i++) {
		int k = modrm_at[i];
		if (c[-k - 1] == 0xff && ((c[-k] >> 3) & 7) == 2)
			return true;
	}
	return false;
}

#endif
