/* SPDX-License-Identifier: MIT */
/*
 * output.c — gdump's last stage: goroutines as Go prints them, or as JSON
 * (gdump.h).
 */
#include <stdio.h>

#include "gdump.h"

/* Version of --json's layout: bumped whenever a key changes meaning or
 * goes away (new keys may appear without it). */
#define JSON_SCHEMA 1

/* ---- text ---------------------------------------------------------------- */

static void print_location_text(struct gdump *d, uint64_t pc, bool exact)
{
	struct symbol_info si;
	symbolize(d->sym, pc, !exact, &si);
	if (si.function)
		printf("%s+0x%lx\n", si.function, (unsigned long)si.offset);
	else
		printf("?\n");
	if (si.file)
		printf("\t%s:%d\n", si.file, si.line);
	else if (!si.function && si.module)
		printf("\t%s+0x%lx\n", si.module,
		       (unsigned long)si.module_offset);
	else if (!si.function)
		printf("\tpc=0x%lx\n", (unsigned long)pc);
}

static void print_body_text(struct gdump *d, const struct goroutine *g)
{
	if (g->unavailable) {
		printf("\t%s\n", g->unavailable);
	} else {
		for (int i = 0; i < g->frames->n; i++)
			print_location_text(d, g->frames->pc[i],
					    g->frames->exact[i]);
		if (g->frames->truncated)
			printf("...additional frames elided...\n");
		else if (g->cut_short)
			printf("...stack unwound no further...\n");
	}
	if (g->create_pc) {
		struct symbol_info si;
		symbolize(d->sym, g->create_pc, true, &si);
		if (si.function)
			printf("created by %s", si.function);
		else
			printf("created by 0x%lx", (unsigned long)g->create_pc);
		if (g->parent_id > 0)
			printf(" in goroutine %lld", (long long)g->parent_id);
		printf("\n");
		if (si.file)
			printf("\t%s:%d\n", si.file, si.line);
	}
	printf("\n");
}

static void print_state_text(const struct goroutine *g, bool minutes)
{
	printf("[%s", g->state);
	if (minutes && g->wait_minutes)
		printf(", %lld minutes", (long long)g->wait_minutes);
	printf("]:\n");
}

void print_text(struct gdump *d, struct goroutine **sel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct goroutine *g = sel[i];
		printf("goroutine %lld ", (long long)g->id);
		if (g->name[0])
			printf("\"%s\" ", g->name);
		print_state_text(g, true);
		print_body_text(d, g);
	}
}

void print_summary_text(struct gdump *d, struct goroutine **leaders, size_t ng)
{
	for (size_t i = 0; i < ng; i++) {
		const struct goroutine *g = leaders[i];
		printf("%zu goroutine%s ", g->group_count,
		       g->group_count == 1 ? "" : "s");
		print_state_text(g, false);
		printf("ids:");
		int shown = 0;
		for (const struct goroutine *m = g; m && shown < 10;
		     m = m->group_next, shown++)
			printf(" %lld", (long long)m->id);
		if (g->group_count > 10)
			printf(" ... (%zu more)", g->group_count - 10);
		printf("\n");
		print_body_text(d, g);
	}
}

/* ---- JSON ---------------------------------------------------------------- */

/* Bytes 0x80.. that start a well-formed UTF-8 sequence: its length, or 0
 * (a stray continuation byte, an overlong form, a surrogate, beyond
 * U+10FFFF, or cut short). */
static int utf8_length(const unsigned char *p)
{
	unsigned c = p[0];
	int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* A JSON string for any bytes: control characters and DEL escaped, valid
 * UTF-8 kept, every byte of invalid UTF-8 replaced by U+FFFD. */
static void json_string(const char *s)
{
	putchar('"');
	const unsigned char *p = (const unsigned char *)s;
	while (p && *p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			printf("\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
		} else if (c < 0x80) {
			putchar(c);
		} else {
			int n = utf8_length(p);
			if (n) {
				fwrite(p, 1, (size_t)n, stdout);
				p += n;
				continue;
			}
			printf("\\ufffd");
		}
		p++;
	}
	putchar('"');
}

static void json_location(const struct symbol_info *si, uint64_t pc)
{
	printf("{\"pc\":%llu,\"function\":", (unsigned long long)pc);
	if (si->function)
		json_string(si->function);
	else
		printf("null");
	printf(",\"offset\":%llu,\"file\":", (unsigned long long)si->offset);
	if (si->file)
		json_string(si->file);
	else
		printf("null");
	printf(",\"line\":%d}", si->line);
}

/* Bytes of its stack a goroutine is known to have used: the deepest
 * growth the runtime recorded, or the depth of its saved stack pointer
 * if that is deeper (0 before its first run). */
static uint64_t stack_used(const struct goroutine *g)
{
	uint64_t used = g->stack_high_water;
	if (g->stack_hi && g->ctx_sp > g->stack_lo && g->ctx_sp < g->stack_hi &&
	    g->stack_hi - g->ctx_sp > used)
		used = g->stack_hi - g->ctx_sp;
	return used;
}

static void json_body(struct gdump *d, const struct goroutine *g)
{
	printf("\"state\":");
	json_string(g->state);
	printf(",\"frames\":[");
	for (int i = 0; g->frames && i < g->frames->n; i++) {
		struct symbol_info si;
		symbolize(d->sym, g->frames->pc[i], !g->frames->exact[i], &si);
		if (i)
			putchar(',');
		json_location(&si, g->frames->pc[i]);
	}
	printf("],\"truncated\":%s,\"unavailable\":",
	       g->frames && (g->frames->truncated || g->cut_short) ? "true"
								   : "false");
	if (g->unavailable)
		json_string(g->unavailable);
	else
		printf("null");
	printf(",\"created_by\":");
	if (g->create_pc) {
		struct symbol_info si;
		symbolize(d->sym, g->create_pc, true, &si);
		json_location(&si, g->create_pc);
	} else {
		printf("null");
	}
	printf(",\"parent_id\":%lld", (long long)g->parent_id);
	printf(",\"stack_used\":%llu", (unsigned long long)stack_used(g));
}

/* The keys every --json output opens with. */
static void json_header(struct gdump *d)
{
	printf("{\"schema\":%d,\"pid\":%d,", JSON_SCHEMA, (int)d->target.pid);
	if (d->opt.core) {
		printf("\"core\":");
		json_string(d->opt.core);
		printf(",");
	}
	printf("\"stopped_us\":%lld,", (long long)(d->target.stopped_ns / 1000));
}

void print_json(struct gdump *d, struct goroutine **sel, size_t n)
{
	json_header(d);
	printf("\"goroutines\":[");
	for (size_t i = 0; i < n; i++) {
		const struct goroutine *g = sel[i];
		printf("%s\n{\"id\":%lld,\"name\":", i ? "," : "",
		       (long long)g->id);
		json_string(g->name);
		printf(",\"wait_minutes\":%lld,\"async_preempted\":%s,",
		       (long long)g->wait_minutes,
		       g->async_preempted ? "true" : "false");
		json_body(d, g);
		printf("}");
	}
	printf("]}\n");
}

void print_summary_json(struct gdump *d, struct goroutine **leaders, size_t ng)
{
	json_header(d);
	printf("\"groups\":[");
	for (size_t i = 0; i < ng; i++) {
		const struct goroutine *g = leaders[i];
		printf("%s\n{\"count\":%zu,\"ids\":[", i ? "," : "",
		       g->group_count);
		for (const struct goroutine *m = g; m; m = m->group_next)
			printf("%s%lld", m == g ? "" : ",", (long long)m->id);
		printf("],");
		json_body(d, g);
		printf("}");
	}
	printf("]}\n");
}

