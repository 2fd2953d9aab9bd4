/* SPDX-License-Identifier: MIT */
/*
 * symbolize.h — program counter to "function+offset" and "file:line",
 * through elfutils' libdw (symbol tables and DWARF line tables).
 *
 * Shared by the in-process dump (src/debug/dump.c) and gdump, which symbolize
 * the same way: one describes its own process, the other a stopped one.
 * Results are cached per PC, so 100k goroutines parked in the same few
 * places cost a handful of lookups.  Allocates: never call it from a
 * signal handler.
 */
#ifndef GORO_SYMBOLIZE_H
#define GORO_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

struct symbol_info {
	const char *function;  /* NULL when no symbol covers the PC */
	uint64_t offset;       /* pc - function start */
	const char *file;      /* NULL without line information */
	int line;
	const char *module;    /* path of the object file, or NULL */
	uint64_t module_offset;/* pc relative to the module's load base */
	char *function_buf;    /* owned copy behind function, if one was made */
};

/* The modules mapped in process pid (getpid() for this process), as they
 * are now.  NULL on failure. */
struct symbolizer *symbolizer_open(pid_t pid);
/* The modules of the process that left core file `core` (gdump --core);
 * exe: its executable, or NULL to take the path the core names. */
struct symbolizer *symbolizer_open_core(const char *core, const char *exe);
void symbolizer_close(struct symbolizer *s);

/* Describe pc.  A return address (return_address true) is looked up at
 * pc - 1, the call instruction, so that the line is the call's; the
 * offset printed stays relative to pc itself.  The strings live as long
 * as the symbolizer. */
void symbolize(struct symbolizer *s, uint64_t pc, bool return_address,
	       struct symbol_info *out);

/* Address of the global symbol `name` in any module, or 0. */
uint64_t symbolizer_lookup(struct symbolizer *s, const char *name);

#endif
