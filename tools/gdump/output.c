/* SPDX-License-Identifier: MIT */
/*
 * output.c — gdump's last stage: goroutines as Go prints them, or as JSON
 * (gdump.h).
 */
#include <stdio.h>
#include <unistd.h>

#include "gdump.h"
#include "goformat.h"

/* Version of --json's layout: bumped whenever a key changes meaning or
 * goes away (new keys may appear without it). */
#define JSON_SCHEMA 1

/* ---- text: Go's format, through the writer libgoro's dumps use ---------- */

static void print_body_text(struct gdump *d, struct dump_out *o,
			    const struct goroutine *g)
{
	if (g->unavailable) {
		out_str(o, "\t");
		out_str(o, g->unavailable);
		out_str(o, "\n");
	} else {
		for (int i = 0; i < g->frames->n; i++) {
			struct symbol_info si;
			symbolize(d->sym, g->frames->pc[i],
				  !g->frames->exact[i], &si);
			gofmt_frame(o, g->frames->pc[i], &si);
		}
		if (g->frames->truncated)
			out_str(o, "...additional frames elided...\n");
		else if (g->cut_short)
			out_str(o, "...stack unwound no further...\n");
	}
	if (g->create_pc) {
		struct symbol_info si;
		symbolize(d->sym, g->create_pc, true, &si);
		gofmt_created_by(o, si.function, g->create_pc, g->parent_id,
				 &si);
	}
	out_str(o, "\n");
}

void print_text(struct gdump *d, struct goroutine **sel, size_t n)
{
	struct dump_out o = { .fd = STDOUT_FILENO };
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		const struct goroutine *g = sel[i];
		gofmt_header(&o, g->id, g->name, g->state, g->wait_minutes);
		print_body_text(d, &o, g);
	}
	out_flush(&o);
}

void print_summary_text(struct gdump *d, struct goroutine **leaders,
			size_t ng)
{
	struct dump_out o = { .fd = STDOUT_FILENO };
	fflush(stdout);
	for (size_t i = 0; i < ng; i++) {
		const struct goroutine *g = leaders[i];
		out_dec(&o, (int64_t)g->group_count);
		out_str(&o, g->group_count == 1 ? " goroutine [" :
			" goroutines [");
		out_str(&o, g->state);
		out_str(&o, "]:\nids:");
		int shown = 0;
		for (const struct goroutine *m = g; m && shown < 10;
		     m = m->group_next, shown++) {
			out_str(&o, " ");
			out_dec(&o, m->id);
		}
		if (g->group_count > 10) {
			out_str(&o, " ... (");
			out_dec(&o, (int64_t)(g->group_count - 10));
			out_str(&o, " more)");
		}
		out_str(&o, "\n");
		print_body_text(d, &o, g);
	}
	out_flush(&o);
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

