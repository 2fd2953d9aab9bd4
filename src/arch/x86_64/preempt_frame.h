/* SPDX-License-Identifier: MIT */
/*
 * preempt_frame.h — the frame the asynchronous preemption trampoline
 * (preempt.S) leaves on a goroutine's stack, and the hooks between it and
 * the C side (src/preempt/preempt.c).  Tracebacks of a goroutine stopped by
 * the signal pass through this frame; keep it in sync with preempt.S.
 */
#ifndef GORO_PREEMPT_FRAME_H
#define GORO_PREEMPT_FRAME_H

#include <stdint.h>

/* Registers of the interrupted code, lowest address first; the struct
 * ends right below the 128-byte red zone of the interrupted frame. */
struct preempt_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rdi, rsi, rdx, rcx, rax;
	uint64_t rflags;
	uint64_t rip;                  /* the interrupted instruction */
};

/* What the handler moves RSP down by before entering the trampoline: the
 * red zone and the return slot (the frame's rip). */
#define PREEMPT_ENTRY_DROP (128 + 8)

/* The trampoline; entered with preempt_resume_pc holding the interrupted
 * RIP and RSP lowered by PREEMPT_ENTRY_DROP. */
void goro_preempt_trampoline(void);

/* Set by the handler, read by the trampoline on the same thread. */
extern __thread uintptr_t preempt_resume_pc
	__attribute__((tls_model("initial-exec")));

/* Extended-state parameters, filled from CPUID at start. */
extern uint64_t preempt_xsave_size;  /* bytes, plus 64 of alignment slack */
extern uint64_t preempt_xcr0;        /* components to save */
extern uint8_t preempt_use_xsavec;   /* compacted form available */

/* Called by the trampoline with its frame: parks the goroutine as
 * runnable and returns once it runs again. */
void preempt_park_async(struct preempt_frame *f);

#endif
