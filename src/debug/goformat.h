/* SPDX-License-Identifier: MIT */
/*
 * goformat.h — Go's goroutine dump format, written once: the
 * allocation-free writer and the pieces of a dump (header, frame,
 * "created by"), shared by libgoro's dumps (src/debug/dump.c, crash
 * reports) and gdump's text output (tools/gdump/output.c).
 */
#ifndef GORO_GOFORMAT_H
#define GORO_GOFORMAT_H

#include <stddef.h>
#include <stdint.h>

/* An allocation-free writer, for signal handlers. */
struct dump_out {
	int fd;
	size_t len;
	char buf[4096];
};
void out_str(struct dump_out *o, const char *s);
void out_dec(struct dump_out *o, int64_t v);
void out_hex(struct dump_out *o, uint64_t v);
void out_flush(struct dump_out *o);

struct symbol_info;

/* `goroutine ID "NAME" [STATE, N minutes]:` and a newline; an empty or
 * NULL name and 0 minutes leave their parts out. */
void gofmt_header(struct dump_out *o, int64_t id, const char *name,
		  const char *state, int64_t minutes);
/* One frame: "function+0xOFF" ("?" when unnamed), then "\tFILE:LINE"
 * where known, else, for an unnamed one, where in which object
 * ("\tMODULE+0xOFF") or its pc ("\tpc=0x..."). */
void gofmt_frame(struct dump_out *o, uint64_t pc,
		 const struct symbol_info *si);
/* "created by FUNCTION in goroutine PARENT" (an unknown function: its pc;
 * no parent: that part left out), then "\tFILE:LINE" where si knows it
 * (si may be NULL). */
void gofmt_created_by(struct dump_out *o, const char *function, uint64_t pc,
		      int64_t parent_id, const struct symbol_info *si);

#endif
