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

#endif
