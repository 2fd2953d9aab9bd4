/*
 * stack.c — fixed-size goroutine stacks: one MAP_NORESERVE mapping each,
 * with a guard page below.  Pages are committed by the kernel on first
 * touch, so an idle goroutine costs the pages it used.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sanitizer.h"
#include "stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PAGE 4096UL

size_t stack_default_max = 256 * 1024;

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

static int guard_install(void *addr, size_t len)
{
	/* Linux 6.13+: a guard in the page tables, without splitting the VMA. */
	if (madvise(addr, len, MADV_GUARD_INSTALL) == 0)
		return 0;
	return mprotect(addr, len, PROT_NONE) == 0 ? 0 : -errno;
}

int stack_bind(struct stack_cache *cache, struct goro_stack *st, size_t max)
{
	if (max == 0)
		max = stack_default_max;
	max = round_up(max, PAGE);
	for (int i = cache->count - 1; i >= 0; i--) {
		if (cache->items[i].max == max) {
			*st = cache->items[i];
			cache->items[i] = cache->items[--cache->count];
			return 0;
		}
	}
	size_t size = max + PAGE;
	void *slot = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (slot == MAP_FAILED)
		return errno == ENOMEM ? -ENOMEM : -EAGAIN;
	int err = guard_install(slot, PAGE);
	if (err) {
		munmap(slot, size);
		return err == -ENOMEM ? -EAGAIN : err;
	}
	st->slot = slot;
	st->slot_size = size;
	st->lo = (char *)slot + PAGE;
	st->hi = (char *)slot + size;
	st->max = max;
	st->valgrind_id = 0;
	return 0;
}

/* ASan keeps the shadow of unmapped memory: clear the stack's poison so
 * that whatever is mapped there next does not inherit it. */
static void stack_unmap(struct goro_stack *st)
{
	sanitizer_stack_fresh(st->slot, st->slot_size);
	munmap(st->slot, st->slot_size);
}

void stack_release(struct stack_cache *cache, struct goro_stack *st)
{
	if (!st->slot)
		return;
	if (cache->count < STACK_CACHE_MAX) {
		cache->items[cache->count++] = *st;
	} else {
		stack_unmap(st);
	}
	memset(st, 0, sizeof(*st));
}

void stack_cache_drain(struct stack_cache *cache)
{
	for (int i = 0; i < cache->count; i++)
		stack_unmap(&cache->items[i]);
	cache->count = 0;
}
