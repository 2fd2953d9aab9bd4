/* SPDX-License-Identifier: MIT */
/*
 * stack.h — goroutine stacks: guarded slots in large reserved regions,
 * committed in segments as they grow (docs/architecture.md, "Stacks").
 *
 * Life of a stack:
 *   spawn       stack_reserve()   checks there will be a stack for it (the
 *                                 mprotect guards' mapping budget), so that
 *                                 running out is -EAGAIN from goro_go, never
 *                                 a crash later;
 *   first run   stack_bind()      gives it a slot, warm from the P's cache
 *                                 when one fits;
 *   growth      stack_fault_*()   a fault on the growth guard opens the next
 *                                 segment (src/signals/stack_fault.c);
 *   death       stack_release()   back to the P's cache, or to the global
 *                                 free list of its size class.
 *
 * A slot, from high addresses to low:
 *   hi                      top of the stack (where it starts)
 *   hi - committed          the segments open so far, doubling as it grows
 *   guard band              every page below them faults: the first touch
 *                           opens segments down to it (or to the stack
 *                           pointer, if that is lower: frames skip pages)
 *   lo                      the lowest usable address
 *   hard guard              the page below lo; hi - max, the limit
 *                           (stack_max) counts this page
 *   slot base               hi - 2^size_class
 *   gap                     STACK_GAP of guard pages, so that a frame up
 *                           to 1 MiB past the limit faults instead of
 *                           landing in the slot below
 * With the mprotect fallback everything below the committed segments is
 * PROT_NONE.  With madvise guards (Linux 6.13+) the band reaches
 * GUARD_SPAN below the committed segments (the whole slot at the default
 * limit); in larger slots, plain memory lies between it and the gap.
 */
#ifndef GORO_STACK_H
#define GORO_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct goro_stack {
	char *lo;            /* lowest usable address; NULL: no stack */
	char *hi;            /* one past the highest address */
	size_t max;          /* the goroutine's limit: hi - lo + the guard page */
	size_t committed;    /* bytes below hi open without a growth fault */
	size_t high_water;   /* deepest use seen by a growth fault, bytes */
	char *band;          /* madvise guards: every page from here up to
				the committed part is a guard page */
	uint8_t size_class;  /* log2 of the slot size */
	bool grouped;        /* mprotect fallback: in a group, all open */
	unsigned valgrind_id;
};

#define STACK_CACHE_MAX 64

/* Dead goroutines' stacks kept warm on a P for the next goroutine it runs. */
struct stack_cache {
	struct goro_stack items[STACK_CACHE_MAX];
	int count;
};

/* Default limit (GORO_STACK_MAX, set at goro_main). */
extern size_t stack_default_max;

/* At goro_main start: pick the guard mode (config.stack_guard), compute the
 * mprotect budget.  0 or a negative errno. */
int stack_init(void);
/* At goro_main end: unmap every region (all stacks are dead or abandoned). */
void stack_shutdown(void);

/* At spawn: make sure a stack can be bound when the goroutine first runs
 * (only the mprotect guards' mapping budget can run out).  0, or -EAGAIN
 * after printing, once per goro_main, which limit was hit. */
int stack_reserve(void);
/* Undo stack_reserve for a goroutine that will never run. */
void stack_unreserve(void);

/* Give a goroutine that reserved at spawn its stack, of `max` usable bytes
 * (0 = default), from the cache when one fits.  0 or a negative errno. */
int stack_bind(struct stack_cache *cache, struct goro_stack *st, size_t max);
/* Return a dead goroutine's stack to the cache (or the global free list). */
void stack_release(struct stack_cache *cache, struct goro_stack *st);
/* Move everything a cache holds to the global free lists. */
void stack_cache_drain(struct stack_cache *cache);
/* Forget the stack of a goroutine abandoned when goro_main ended (its
 * memory goes with the regions, at stack_shutdown, after the Ps' caches
 * were drained). */
void stack_discard(struct goro_stack *st);

/* What a fault at addr means for st. */
enum stack_fault_kind {
	STACK_FAULT_NOT_OURS,  /* not in this stack's guards */
	STACK_FAULT_GROW,      /* on the growth guard: open the next segment */
	STACK_FAULT_OVERFLOW,  /* past the limit */
};
/* addr: the fault address; sp: the interrupted stack pointer.  For GROW,
 * *need is the lowest address that must be open: the fault's page, or the
 * page of sp less the red zone where sp is in this slot and that is lower,
 * since a frame that skipped pages may have written all the way down to
 * it.  OVERFLOW: addr, or sp in this slot, is past the limit. */
enum stack_fault_kind stack_fault_classify(const struct goro_stack *st,
					   uintptr_t addr, uintptr_t sp,
					   uintptr_t *need);
/* Open segments until need is inside the committed part.  Nothing live may
 * lie below need: the guards go there.  Async-signal-safe (system calls
 * only).  0 or a negative errno. */
int stack_grow(struct goro_stack *st, uintptr_t need);

/* For the runtime's own system-call wrappers: if [buf, buf+len) lies in the
 * calling goroutine's stack below its committed part, commit it first, so
 * that the kernel writes into it instead of failing with EFAULT. */
void stack_commit_range(const void *buf, size_t len);

/* Address space reserved for stack slots, in bytes (goro_stats). */
size_t stack_reserved_bytes(void);

#endif
