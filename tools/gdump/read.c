/* SPDX-License-Identifier: MIT */
/*
 * read.c — gdump's reading stage: the descriptor, the goroutine table and
 * the M list, copied out of the stopped target (gdump.h).
 */
#include <stdlib.h>
#include <string.h>

#include "gdump.h"

#define MAX_MS 100000   /* bound on the M list walk */

static uint64_t read_u64(struct gdump *d, uint64_t addr)
{
	uint64_t v = 0;
	if (target_read(&d->target, addr, &v, sizeof(v)))
		gdump_fail(d, EXIT_FAILED, "cannot read target memory at 0x%lx",
		     (unsigned long)addr);
	return v;
}

void read_descriptor(struct gdump *d, uint64_t addr)
{
	struct goro_debug_descriptor head;
	if (target_read(&d->target, addr, &head, offsetof(typeof(head),
						       allgs_items_addr)))
		gdump_fail(d,
			   EXIT_FAILED, "cannot read the descriptor at 0x%lx",
		     (unsigned long)addr);
	if (memcmp(head.magic, GORO_DEBUG_MAGIC, sizeof(head.magic)) != 0)
		gdump_fail(d, EXIT_NOT_GORO, "%s: %s is not a goro descriptor",
		     d->subject, GORO_DEBUG_SYMBOL);
	if (head.version != GORO_DEBUG_VERSION)
		gdump_fail(d,
			   EXIT_VERSION, "%s uses goro descriptor version %u;"
		     " this gdump reads version %u: use the gdump of the "
		     "same goro release", d->subject, head.version,
		     GORO_DEBUG_VERSION);
	if (head.size < sizeof(d->desc))
		gdump_fail(d,
			   EXIT_VERSION, "descriptor of %u bytes, expected %zu",
		     head.size, sizeof(d->desc));
	if (target_read(&d->target, addr, &d->desc, sizeof(d->desc)))
		gdump_fail(d, EXIT_FAILED, "cannot read the descriptor");
	d->desc.status_names[GORO_DEBUG_MAX_STATUS - 1][GORO_DEBUG_NAME_LEN - 1] = 0;
}


static const char *state_label(struct gdump *d, const struct goroutine *g)
{
	const struct goro_debug_descriptor *desc = &d->desc;
	if (g->status == desc->status_waiting && g->wait_reason < desc->wait_count)
		return desc->wait_names[g->wait_reason];
	if (g->status < desc->status_count && g->status < GORO_DEBUG_MAX_STATUS)
		return desc->status_names[g->status];
	return "unknown";
}

static int by_address(const void *a, const void *b, void *keys)
{
	const uint64_t *k = keys;
	uint64_t x = k[*(const size_t *)a];
	uint64_t y = k[*(const size_t *)b];
	return x < y ? -1 : x > y;
}

/*
 * Copy n records of `size` bytes at ptrs[] into records[i * size]; ok[i]
 * says which arrived.  Gs are allocated in runs, so the records are read
 * as a few large ranges (neighbours at most `size` apart merged): the
 * kernel then walks each page once instead of once per record.  A range
 * that cannot be read is retried record by record.
 */
static void read_records(struct gdump *d, const uint64_t *ptrs, size_t n,
			 size_t size,
			 char *records, bool *ok)
{
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	struct target_span *spans = calloc(n ? n : 1, sizeof(*spans));
	size_t *first = malloc((n ? n : 1) * sizeof(*first));
	if (!order || !spans || !first)
		gdump_fail(d,
			   EXIT_FAILED, "out of memory for %zu goroutines", n);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_address, (void *)ptrs);
	size_t nranges = 0, total = 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t p = ptrs[order[k]];
		struct target_span *r = nranges ? &spans[nranges - 1] : NULL;
		if (r && p >= r->addr + r->len && p - (r->addr + r->len) <= size) {
			total += p + size - (r->addr + r->len);
			r->len = p + size - r->addr;
			continue;
		}
		first[nranges] = k;
		spans[nranges++] = (struct target_span){ p, size, NULL, false };
		total += size;
	}
	char *buf = malloc(total ? total : 1);
	if (!buf)
		gdump_fail(d,
			   EXIT_FAILED, "out of memory for %zu goroutines", n);
	size_t off = 0;
	for (size_t i = 0; i < nranges; i++) {
		spans[i].buf = buf + off;
		off += spans[i].len;
	}
	target_read_many(&d->target, spans, nranges);
	for (size_t i = 0; i < nranges; i++) {
		size_t end = i + 1 < nranges ? first[i + 1] : n;
		for (size_t k = first[i]; k < end; k++) {
			size_t idx = order[k];
			char *dst = records + idx * size;
			if (spans[i].ok) {
				memcpy(dst, (char *)spans[i].buf +
				       (ptrs[idx] - spans[i].addr), size);
				ok[idx] = true;
			} else {
				ok[idx] = target_read(&d->target, ptrs[idx], dst,
						      size) == 0;
			}
		}
	}
	free(buf);
	free(first);
	free(spans);
	free(order);
}

struct goroutine *read_goroutines(struct gdump *d, size_t *count)
{
	uint32_t generation = 0;
	target_read(&d->target, d->desc.generation_addr, &generation,
		    sizeof(generation));
	size_t n = read_u64(d, d->desc.allgs_count_addr);
	uint64_t items = read_u64(d, d->desc.allgs_items_addr);
	uint64_t *ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	struct goroutine *gs = calloc(n ? n : 1, sizeof(*gs));
	if (!ptrs || !gs)
		gdump_fail(d,
			   EXIT_FAILED, "out of memory for %zu goroutines", n);
	if (n && target_read(&d->target, items, ptrs, n * sizeof(*ptrs)))
		gdump_fail(d, EXIT_FAILED, "cannot read the goroutine table");
	int64_t now = monotonic_ns();
	char *records = malloc(n ? n * d->desc.g_size : 1);
	bool *ok = calloc(n ? n : 1, sizeof(*ok));
	if (!records || !ok)
		gdump_fail(d,
			   EXIT_FAILED, "out of memory for %zu goroutines", n);
	read_records(d, ptrs, n, d->desc.g_size, records, ok);
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		const char *buf = records + i * d->desc.g_size;
		if (!ok[i])
			continue;
		struct goroutine *g = &gs[live];
		g->status = FIELD(uint32_t, buf, d->desc.g_status);
		if (g->status == d->desc.status_dead ||
		    FIELD(uint32_t, buf, d->desc.g_generation) != generation)
			continue;
		g->id = FIELD(int64_t, buf, d->desc.g_id);
		g->parent_id = FIELD(int64_t, buf, d->desc.g_parent_id);
		g->wait_reason = FIELD(uint8_t, buf, d->desc.g_wait_reason);
		g->wait_since = FIELD(int64_t, buf, d->desc.g_wait_since);
		size_t name_len = d->desc.g_name_size < sizeof(g->name) ?
				  d->desc.g_name_size : sizeof(g->name) - 1;
		memcpy(g->name, buf + d->desc.g_name, name_len);
		g->name[sizeof(g->name) - 1] = '\0';
		g->ctx_sp = FIELD(uint64_t, buf, d->desc.g_ctx_sp);
		g->create_pc = FIELD(uint64_t, buf, d->desc.g_create_pc);
		g->fn = FIELD(uint64_t, buf, d->desc.g_fn);
		g->stack_lo = FIELD(uint64_t, buf, d->desc.g_stack_lo);
		g->stack_hi = FIELD(uint64_t, buf, d->desc.g_stack_hi);
		g->stack_high_water = FIELD(uint64_t, buf,
					    d->desc.g_stack_high_water);
		g->async_preempted = FIELD(bool, buf, d->desc.g_async_preempted);
		g->state = state_label(d, g);
		/* (A core's clock is not ours: no minutes.) */
		if (!d->target.core && g->status == d->desc.status_waiting &&
		    g->wait_since > 0 &&
		    now - g->wait_since >= NS_PER_MINUTE)
			g->wait_minutes = (now - g->wait_since) / NS_PER_MINUTE;
		live++;
	}
	free(records);
	free(ok);
	free(ptrs);
	*count = live;
	return gs;
}

void find_running_threads(struct gdump *d, struct goroutine *gs, size_t n)
{
	uint64_t m = read_u64(d, d->desc.allm_addr);
	for (int i = 0; m && i < MAX_MS; i++) {
		int32_t tid = 0;
		uint64_t curg = 0, next = 0;
		struct target *t = &d->target;
		if (target_read(t, m + d->desc.m_tid, &tid, sizeof(tid)) ||
		    target_read(t, m + d->desc.m_curg, &curg, sizeof(curg)) ||
		    target_read(t, m + d->desc.m_alllink, &next, sizeof(next)))
			break;
		if (curg) {
			int64_t id = 0;
			target_read(t, curg + d->desc.g_id, &id, sizeof(id));
			for (size_t k = 0; k < n; k++)
				if (gs[k].id == id)
					gs[k].tid = tid;
		}
		m = next;
	}
}

