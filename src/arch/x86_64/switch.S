/* SPDX-License-Identifier: MIT */
/*
 * switch.S — goroutine context switch for x86-64 (System V ABI).
 *
 * A switch happens at a call, so only what the ABI says a callee preserves
 * must survive it: RBX, RBP, R12-R15, RSP, the MXCSR control bits and the
 * x87 control word.  They are pushed on the current stack and the stack
 * pointer is the whole saved context (struct arch_switch_frame in arch.h).
 * No sigprocmask, no xsave: that is what makes a switch cost nanoseconds.
 */
	.text

/* void arch_switch(struct arch_ctx *from, struct arch_ctx *to) */
	.globl	arch_switch
	.hidden	arch_switch
	.type	arch_switch, @function
	.p2align 4
arch_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
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
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)

	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	arch_switch, .-arch_switch

/*
 * goro_start — the first frame of every goroutine.  arch_ctx_init leaves the
 * goroutine's function in R12 and its argument in R13 and makes the first
 * switch "return" here with RSP 16-byte aligned.  `.cfi_undefined rip` tells
 * every unwinder (libunwind, gdb) that there is no caller: tracebacks end
 * cleanly at this frame.  It is a call-out frame (src/base/text_ranges.h): the
 * goroutine's function runs above it as preemptible as any code, and a
 * blocking call that function makes in tail position counts as its own.
 */
#define STALE_WIPE 512
	.section goro_callout,"ax",@progbits
	.globl	goro_start
	.hidden	goro_start
	.type	goro_start, @function
	.p2align 4
goro_start:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	call	sched_goroutine_started
	/* Wipe what the runtime's calls left just below: the preemption
	 * handler scans the live stack for libgoro return addresses, and
	 * stale ones in the padding of the function's first frames would
	 * make it refuse this goroutine for good. */
	subq	$STALE_WIPE, %rsp
	.cfi_adjust_cfa_offset STALE_WIPE
	movq	%rsp, %rdi
	movl	$STALE_WIPE / 8, %ecx
	xorl	%eax, %eax
	rep stosq
	addq	$STALE_WIPE, %rsp
	.cfi_adjust_cfa_offset -STALE_WIPE
	movq	%r13, %rdi
	call	*%r12
	call	sched_goroutine_returned
	ud2
	.cfi_endproc
	.size	goro_start, .-goro_start
	.text

	.section .note.GNU-stack,"",@progbits
