/* SPDX-License-Identifier: MIT */
/*
 * unwind.h — unwinding the goroutines of a stopped process with
 * libunwind's remote interface.
 */
#ifndef GDUMP_UNWIND_H
#define GDUMP_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "target.h"

#define UNWIND_MAX_FRAMES 100

/* Where an unwind starts: x86-64 registers in libunwind's numbering
 * (UNW_X86_64_RAX .. UNW_X86_64_RIP). */
struct unwind_regs {
	uint64_t r[17];
	bool known[17];
	bool exact_pc;   /* r[RIP] is the next instruction, not a return address */
};

struct unwind_result {
	int n;
	bool truncated;
	uint64_t pc[UNWIND_MAX_FRAMES];
	bool exact[UNWIND_MAX_FRAMES];
};

int unwind_init(struct target *t);
void unwind_fini(void);

/* The registers of a stopped thread. */
void unwind_regs_from_thread(struct unwind_regs *r,
			     const struct user_regs_struct *u);

/* The registers a switched-out goroutine saved (its switch frame). */
struct switch_regs {
	uint64_t rbx, rbp, r12, r13, r14, r15;
	uint64_t rip;   /* a return address */
	uint64_t rsp;   /* after the frame */
};
void unwind_regs_from_switch(struct unwind_regs *r, const struct switch_regs *s);

/* A copy of part of a goroutine's stack, read while the target was
 * stopped: from the saved stack pointer (addr) up. */
struct memory_copy {
	uint64_t addr;
	size_t len;
	const unsigned char *data;
	uint64_t stack_lo, stack_hi;  /* the whole stack's bounds */
};

/* Unwind from r.  Reads inside `copy` (may be NULL) are answered from it;
 * others go to the target.  0 or a negative libunwind error. */
int unwind_stack(const struct unwind_regs *r, const struct memory_copy *copy,
		 struct unwind_result *out);

/* The same for a switched-out goroutine (copy required), reusing the
 * result of an earlier goroutine whose unwind would read the same values
 * (see unwind.c): 100k goroutines parked alike are unwound a few times. */
int unwind_stack_memo(const struct unwind_regs *r,
		      const struct memory_copy *copy, struct unwind_result *out);

#endif
