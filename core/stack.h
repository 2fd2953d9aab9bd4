/*
 * stack.h — goroutine stacks behind one small interface.
 *
 * A stack is bound to a goroutine when it first runs (stack_bind), not when
 * it is spawned, so spawned-but-not-started goroutines cost only their G
 * record; it is released to the P's cache when the goroutine dies
 * (stack_release) and reused warm by the next one.
 */
#ifndef GORO_STACK_H
#define GORO_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct goro_stack {
	void *lo;            /* lowest usable address (above the hard guard) */
	void *hi;            /* one past the highest address */
	size_t max;          /* usable bytes (the goroutine's limit) */
	void *slot;          /* the mapping, including guards */
	size_t slot_size;
	unsigned valgrind_id;
};

#define STACK_CACHE_MAX 64

struct stack_cache {
	struct goro_stack items[STACK_CACHE_MAX];
	int count;
};

/* Default limit (GORO_STACK_MAX, parsed at goro_main). */
extern size_t stack_default_max;

/* Give g a stack of at most `max` usable bytes (0 = default), reusing one
 * from the cache when it fits.  0 or a negative errno. */
int stack_bind(struct stack_cache *cache, struct goro_stack *st, size_t max);
/* Return a dead goroutine's stack to the cache (or unmap it). */
void stack_release(struct stack_cache *cache, struct goro_stack *st);
/* Unmap everything a cache holds. */
void stack_cache_drain(struct stack_cache *cache);

#endif
