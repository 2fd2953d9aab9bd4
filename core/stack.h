/*
 * stack.h — goroutine stacks: guarded slots in large reserved regions,
 * committed in segments as they grow (design: DESIGN.md §4 "Stacks").
 *
 * Life of a stack:
 *   spawn       stack_reserve()   checks there will be a stack for it (the
 *                                 mprotect guards' mapping budget), so that
 *                                 running out is -EAGAIN from goro_go, never
 *                                 a crash later;
 *   first run   stack_bind()      gives it a slot, warm from the P's cache
 *                                 when one fits;
 *   growth      stack_fault_*()   a fault on the growth guard opens the next
 *                                 segment (signals/stack_fault.c);
 *   death       stack_release()   back to the P's cache, or to the global
 *                                 free list of its size class.
 *
 * A slot, from high addresses to low:
 *   hi                      top of the stack (where it starts)
 *   hi - committed          the segments open so far, doubling as it grows
 *   growth guard            one guard page right below them
 *   lo                      the lowest usable address
 *   hard guard              the guard page below lo, in place once the
 *                           stack has grown to it; hi - max, the limit
 *                           (stack_max) counts this page
 * With madvise guards (Linux 6.13+) the pages below the growth guard are
 * plain memory, faulted in on demand; with the mprotect fallback everything
 * below the committed segments is PROT_NONE.
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
	uint8_t size_class;  /* log2 of the slot size */
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
enum stack_fault_kind stack_fault_classify(const struct goro_stack *st,
					   uintptr_t addr);
/* Open segments until addr is inside the committed part.  Async-signal-safe
 * (system calls only).  0 or a negative errno. */
int stack_grow(struct goro_stack *st, uintptr_t addr);

/* For the runtime's own system-call wrappers: if [buf, buf+len) lies in the
 * calling goroutine's stack below its committed part, commit it first, so
 * that the kernel writes into it instead of failing with EFAULT. */
void stack_commit_range(const void *buf, size_t len);

/* Address space reserved for stack slots, in bytes (goro_stats). */
size_t stack_reserved_bytes(void);

#endif
