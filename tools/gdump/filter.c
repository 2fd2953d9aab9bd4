/* SPDX-License-Identifier: MIT */
/*
 * filter.c — gdump's selection stage: the -g, --state and --func filters,
 * and --summary's grouping of identical stacks (gdump.h).
 */
#include <stdlib.h>
#include <string.h>

#include "gdump.h"

static bool has_function(struct gdump *d, const struct goroutine *g,
			 const char *text)
{
	for (int i = 0; g->frames && i < g->frames->n; i++) {
		struct symbol_info si;
		symbolize(d->sym, g->frames->pc[i], !g->frames->exact[i], &si);
		if (si.function && strstr(si.function, text))
			return true;
	}
	return false;
}

bool selected(struct gdump *d, const struct goroutine *g)
{
	if (d->opt.only_id > 0 && g->id != d->opt.only_id)
		return false;
	if (d->opt.state && strcmp(g->state, d->opt.state) != 0)
		return false;
	if (d->opt.func && !has_function(d, g, d->opt.func))
		return false;
	return true;
}

static bool same_stack(const struct goroutine *a, const struct goroutine *b)
{
	if (strcmp(a->state, b->state) != 0 || a->create_pc != b->create_pc ||
	    (a->unavailable != NULL) != (b->unavailable != NULL))
		return false;
	if (!a->frames || !b->frames)
		return a->frames == b->frames;
	return a->frames->n == b->frames->n &&
	       memcmp(a->frames->pc, b->frames->pc,
		      (size_t)a->frames->n * sizeof(a->frames->pc[0])) == 0;
}

static uint64_t stack_hash(const struct goroutine *g)
{
	uint64_t h = 1469598103934665603ULL ^ g->create_pc;
	for (const char *s = g->state; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (int i = 0; g->frames && i < g->frames->n; i++)
		h = (h ^ g->frames->pc[i]) * 1099511628211ULL;
	return h;
}

static int by_count(const void *a, const void *b)
{
	const struct goroutine *x = *(struct goroutine *const *)a;
	const struct goroutine *y = *(struct goroutine *const *)b;
	if (x->group_count != y->group_count)
		return x->group_count < y->group_count ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

struct goroutine **group(struct gdump *d, struct goroutine **sel, size_t n,
				size_t *ngroups)
{
	size_t cap = 1;
	while (cap < 2 * n)
		cap *= 2;
	struct goroutine **table = calloc(cap, sizeof(*table));
	struct goroutine **leaders = calloc(n ? n : 1, sizeof(*leaders));
	if (!table || !leaders)
		gdump_fail(d, EXIT_FAILED, "out of memory");
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		struct goroutine *g = sel[i];
		size_t h = stack_hash(g) & (cap - 1);
		while (table[h] && !same_stack(table[h], g))
			h = (h + 1) & (cap - 1);
		g->group_next = NULL;
		if (!table[h]) {
			table[h] = g;
			g->group_count = 1;
			g->group_tail = g;
			leaders[ng++] = g;
		} else {
			struct goroutine *lead = table[h];
			lead->group_count++;
			lead->group_tail->group_next = g;
			lead->group_tail = g;
		}
	}
	free(table);
	qsort(leaders, ng, sizeof(*leaders), by_count);
	*ngroups = ng;
	return leaders;
}

