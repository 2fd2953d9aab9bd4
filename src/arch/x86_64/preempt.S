/* SPDX-License-Identifier: MIT */
/*
 * preempt.S — the asynchronous preemption trampoline for x86-64.
 *
 * The preemption signal handler (src/preempt/preempt.c) makes the interrupted
 * goroutine "call" this function: it leaves the interrupted RIP in the
 * thread-local preempt_resume_pc, moves RSP below the 128-byte red zone and
 * one more word (the return slot, written here, in goroutine context: the
 * handler itself never writes to the goroutine's stack, so a stack-growth
 * fault can only happen here, where it is an ordinary fault), and sets RIP
 * to goro_preempt_trampoline.
 *
 * Nothing of the interrupted code may change, so everything is saved: the
 * sixteen general registers, RFLAGS, and the whole extended state
 * (x87, SSE, AVX, AVX-512 opmask and upper halves: whatever XCR0 enables)
 * with XSAVEC (XSAVE where the CPU lacks it) into a 64-byte aligned area
 * sized from CPUID leaf 0xD.  Then preempt_park_async() (C) saves errno,
 * puts the goroutine on the global run queue and, when it runs again —
 * maybe on another thread — rebases registers that pointed into the old
 * thread's static TLS and restores errno.  Everything is then restored and
 * `ret` resumes the interrupted instruction.
 *
 * Frame, from the interrupted RSP down (struct preempt_frame in arch.h):
 *   [RSP0-128, RSP0)  the red zone, untouched
 *   RSP0-136          return slot: the interrupted RIP
 *   RSP0-144          RFLAGS
 *   RSP0-152 ...      RAX RCX RDX RSI RDI R8 R9 R10 R11 RBX RBP R12-R15
 *   below             the XSAVE area, 64-byte aligned
 * The CFI describes that frame as a signal frame, so unwinders (libunwind,
 * gdb, gdump) continue into the interrupted function with its exact PC.
 */
#define FRAME_WORDS 17                 /* 15 registers + RFLAGS + RIP */
#define FRAME_SIZE (FRAME_WORDS * 8)
#define CFA_FROM_FRAME (FRAME_SIZE + 128) /* frame start to RSP0 */
#define XSAVE_HEADER 512               /* offset of the XSAVE header */
#define PARK_WIPE 1024                 /* bytes below the XSAVE area */

	.text
	.globl	goro_preempt_trampoline
	.hidden	goro_preempt_trampoline
	.type	goro_preempt_trampoline, @function
	.p2align 4
goro_preempt_trampoline:
	.cfi_startproc
	.cfi_signal_frame
	/* On entry RSP = RSP0 - 136: the CFA (RSP0) is 136 above, the return
	 * slot at its bottom is not written yet. */
	.cfi_def_cfa rsp, 136
	.cfi_offset rip, -136
	pushfq
	.cfi_adjust_cfa_offset 8
	pushq	%rax
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rax, 0
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rcx, 0
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rdx, 0
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rsi, 0
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rdi, 0
	pushq	%r8
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r8, 0
	pushq	%r9
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r9, 0
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r10, 0
	pushq	%r11
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r11, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r15, 0
	/* RBX is the frame pointer from here on (callee-saved in C). */
	movq	%rsp, %rbx
	.cfi_def_cfa rbx, CFA_FROM_FRAME
	cld				/* the C ABI wants DF clear */

	/* The interrupted RIP into the return slot. */
	movq	preempt_resume_pc@gottpoff(%rip), %rax
	movq	%fs:(%rax), %rax
	movq	%rax, (FRAME_SIZE - 8)(%rbx)

	/* The extended state, below the frame, 64-byte aligned. */
	subq	preempt_xsave_size(%rip), %rsp
	andq	$-64, %rsp
	xorl	%eax, %eax
	movq	%rax, XSAVE_HEADER(%rsp)
	movq	%rax, XSAVE_HEADER+8(%rsp)
	movq	%rax, XSAVE_HEADER+16(%rsp)
	movq	%rax, XSAVE_HEADER+24(%rsp)
	movq	%rax, XSAVE_HEADER+32(%rsp)
	movq	%rax, XSAVE_HEADER+40(%rsp)
	movq	%rax, XSAVE_HEADER+48(%rsp)
	movq	%rax, XSAVE_HEADER+56(%rsp)
	movl	preempt_xcr0(%rip), %eax
	movl	preempt_xcr0+4(%rip), %edx
	cmpb	$0, preempt_use_xsavec(%rip)
	je	1f
	xsavec64 (%rsp)
	jmp	2f
1:	xsave64	(%rsp)
2:
	/* Hand the scheduler what the ABI promises at a call: an empty x87
	 * stack (goroutines resumed by an ordinary switch, or started fresh,
	 * on this thread would otherwise overflow it), default control words,
	 * clean AVX upper halves.  XRSTOR puts everything back. */
	fninit
	ldmxcsr	mxcsr_default(%rip)
	testb	$4, preempt_xcr0(%rip)
	jz	3f
	vzeroupper
3:
	movq	%rbx, %rdi
	call	preempt_park_async
	/* Wipe what the park left below: its libgoro return addresses would
	 * otherwise sit, stale, in the padding of the frames the interrupted
	 * code makes next, where sysmon's and this handler's stack scans
	 * would take them for live runtime frames.  (The CFA is in RBX.) */
	subq	$PARK_WIPE, %rsp
	movq	%rsp, %rdi
	movl	$PARK_WIPE / 8, %ecx
	xorl	%eax, %eax
	rep stosq
	addq	$PARK_WIPE, %rsp

	movl	preempt_xcr0(%rip), %eax
	movl	preempt_xcr0+4(%rip), %edx
	xrstor64 (%rsp)
	movq	%rbx, %rsp
	.cfi_def_cfa rsp, CFA_FROM_FRAME
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore r12
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbp
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbx
	popq	%r11
	.cfi_adjust_cfa_offset -8
	.cfi_restore r11
	popq	%r10
	.cfi_adjust_cfa_offset -8
	.cfi_restore r10
	popq	%r9
	.cfi_adjust_cfa_offset -8
	.cfi_restore r9
	popq	%r8
	.cfi_adjust_cfa_offset -8
	.cfi_restore r8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	.cfi_restore rdi
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	.cfi_restore rsi
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	.cfi_restore rdx
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_restore rcx
	popq	%rax
	.cfi_adjust_cfa_offset -8
	.cfi_restore rax
	popfq
	.cfi_adjust_cfa_offset -8
	/* Back to the interrupted instruction, RSP back above the red zone. */
	ret	$128
	.cfi_endproc
	.size	goro_preempt_trampoline, .-goro_preempt_trampoline

	.section .rodata
	.p2align 2
mxcsr_default:
	.long	0x1f80		/* all exceptions masked, round to nearest */

	.section .note.GNU-stack,"",@progbits
