/* SPDX-License-Identifier: MIT */
/*
 * goroutine.h — G records: allocation, reuse, and the table of all of them
 * (what dumps and gdump walk).
 */
#ifndef GORO_GOROUTINE_H
#define GORO_GOROUTINE_H

#include <stddef.h>
#include <stdint.h>

#include "lock.h"

struct g;
struct p;

/* A P's free list of dead Gs with their stacks, for reuse (struct p's
 * `gfree`).  Only the M that owns the P touches it; a P being retired
 * hands it to the global list (g_free_list_flush). */
struct g_free_list {
	struct g *head;
	int32_t count;
};

/*
 * Every G ever allocated in this goro_main run, dead ones included (they
 * are reused, never freed until the run ends).  The layout is read by
 * tools/gdump from outside the process: readers take `lock` or, from
 * another process, copy `count` then that many pointers.
 */
struct g_table {
	struct rlock lock;
	struct g **_Atomic items;   /* written under lock; the dumper reads
	                               it without */
	_Atomic size_t count;
	size_t capacity;
};
extern struct g_table allgs;

/* A fresh or recycled G with a new id, status G_IDLE, no stack. */
struct g *g_alloc(struct p *p);
/* Dead goroutine: stack back to p's cache, G to p's free list. */
void g_recycle(struct p *p, struct g *g);
void g_mark_dead(struct g *g);
/* Goroutines alive (a snapshot: exact only while nothing runs). */
int64_t g_live_count(void);
/* Move p's free Gs to the global free list (p is being retired). */
void g_free_list_flush(struct p *p);
/* Free every G, their stacks and all free lists (end of goro_main). */
void g_free_all(void);
/* Spawn with everything resolved; returns the id or a negative errno.
 * From a thread holding no P the goroutine goes to the global queue. */
int64_t g_spawn(void (*fn)(void *), void *arg, const char *name,
		size_t stack_max, uintptr_t create_pc);
/* The same, fn getting a copy of copy_size bytes at copy (copy_size 0:
 * arg as given) that the G owns and frees when it is recycled. */
int64_t g_spawn_copy(void (*fn)(void *), void *arg, const void *copy,
		     size_t copy_size, const char *name, size_t stack_max,
		     uintptr_t create_pc);

#endif
