/* SPDX-License-Identifier: MIT */
/*
 * goformat.c — Go's goroutine dump format, written once (goformat.h).
 *
 * Why one writer: libgoro prints dumps from signal handlers, where stdio
 * and allocation are out, and gdump prints the same format from outside;
 * two copies drift (a label, a line of a frame), so both print through
 * this file.
 *
 * Invariants: nothing here allocates, takes a lock or calls stdio: every
 * function is async-signal-safe.
 */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "goformat.h"
#include "symbolize.h"

void out_flush(struct dump_out *o)
{
	size_t done = 0;
	while (done < o->len) {
		ssize_t r = write(o->fd, o->buf + done, o->len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	o->len = 0;
}

void out_str(struct dump_out *o, const char *s)
{
	for (; *s; s++) {
		if (o->len == sizeof(o->buf))
			out_flush(o);
		o->buf[o->len++] = *s;
	}
}

void out_dec(struct dump_out *o, int64_t v)
{
	char tmp[24];
	int i = sizeof(tmp) - 1;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	out_str(o, tmp + i);
}

void out_hex(struct dump_out *o, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp) - 1;
	tmp[i] = '\0';
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	out_str(o, tmp + i);
}

void gofmt_header(struct dump_out *o, int64_t id, const char *name,
		  const char *state, int64_t minutes)
{
	out_str(o, "goroutine ");
	out_dec(o, id);
	if (name && name[0]) {
		out_str(o, " \"");
		out_str(o, name);
		out_str(o, "\"");
	}
	out_str(o, " [");
	out_str(o, state);
	if (minutes > 0) {
		out_str(o, ", ");
		out_dec(o, minutes);
		out_str(o, " minutes");
	}
	out_str(o, "]:\n");
}

/* "\tFILE:LINE\n", the second line of a frame. */
static void file_line(struct dump_out *o, const struct symbol_info *si)
{
	out_str(o, "\t");
	out_str(o, si->file);
	out_str(o, ":");
	out_dec(o, si->line);
	out_str(o, "\n");
}

void gofmt_frame(struct dump_out *o, uint64_t pc,
		 const struct symbol_info *si)
{
	bool named = si->function && si->function[0];
	if (named) {
		out_str(o, si->function);
		out_str(o, "+");
		out_hex(o, si->offset);
	} else {
		out_str(o, "?");
	}
	out_str(o, "\n");
	if (si->file) {
		file_line(o, si);
	} else if (si->module && !named) {
		/* No symbol: where in which object, for addr2line. */
		out_str(o, "\t");
		out_str(o, si->module);
		out_str(o, "+");
		out_hex(o, si->module_offset);
		out_str(o, "\n");
	} else if (!named) {
		out_str(o, "\tpc=");
		out_hex(o, pc);
		out_str(o, "\n");
	}
}

void gofmt_created_by(struct dump_out *o, const char *function, uint64_t pc,
		      int64_t parent_id, const struct symbol_info *si)
{
	out_str(o, "created by ");
	if (function)
		out_str(o, function);
	else
		out_hex(o, pc);
	if (parent_id > 0) {
		out_str(o, " in goroutine ");
		out_dec(o, parent_id);
	}
	out_str(o, "\n");
	if (si && si->file)
		file_line(o, si);
}
