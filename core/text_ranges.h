/* SPDX-License-Identifier: MIT */
/*
 * text_ranges.h — where the code of the libraries the preemption signal
 * must never interrupt lies, and how big a thread's static TLS block is.
 *
 * The preemption handler may stop a goroutine only in the application's own
 * code: never inside libgoro (lock-free run queues assume their owner is not
 * moved to another thread mid-operation), libc and the dynamic loader
 * (stdio's recursive locks record their owning thread), jemalloc (thread
 * caches), libunwind or libgcc_s.  The handler runs in signal context, where
 * dl_iterate_phdr is off limits (it takes the loader's lock and may
 * allocate), so the table is built beforehand and refreshed from sysmon
 * when the set of loaded objects changes; the handler only reads it.
 */
#ifndef GORO_TEXT_RANGES_H
#define GORO_TEXT_RANGES_H

#include <stdbool.h>
#include <stdint.h>

enum text_kind {
	TEXT_APP,       /* the application's own code: preemptible */
	TEXT_RUNTIME,   /* libgoro */
	TEXT_LIBC,      /* libc and its split-off pieces, ld.so, the vDSO */
	TEXT_LIBRARY,   /* jemalloc, libunwind, libgcc_s */
};

/* Build the table (goro_main start).  0 or a negative errno. */
int text_ranges_init(void);
/* Rebuild it if objects were loaded or unloaded since the last look
 * (cheap when nothing changed; not async-signal-safe). */
void text_ranges_refresh(void);

/* Kind of the code at pc.  Async-signal-safe, lock-free. */
enum text_kind text_ranges_lookup(uintptr_t pc);

/* False when libgoro is linked statically into the executable: its code
 * cannot then be told apart from the application's, so no PC is safe. */
bool text_ranges_runtime_separable(void);

/* The static TLS blocks of every thread, as offsets from the thread
 * pointer (%fs base): [tp + lo, tp + hi).  The same for every thread, so a
 * pointer into one thread's block is rebased onto another's by adding the
 * difference of their thread pointers. */
void text_ranges_static_tls(intptr_t *lo, intptr_t *hi);

#endif
