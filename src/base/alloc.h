/* SPDX-License-Identifier: MIT */
/*
 * alloc.h — runtime object allocation through jemalloc's explicit API.
 *
 * Runtime objects (G, channels, waiters, timers) never come from glibc
 * malloc: jemalloc's thread caches make them cheap, and sized deallocation
 * (sdallocx) skips the size lookup.  Never call these from a signal handler.
 */
#ifndef GORO_ALLOC_H
#define GORO_ALLOC_H

#include <stddef.h>

void *rt_alloc(size_t size);        /* zeroed; NULL when out of memory */
void rt_free(void *ptr, size_t size);
void *rt_realloc(void *ptr, size_t old_size, size_t new_size);

/* Free a public object whose first `keep` bytes hold a magic word already
 * cleared, so that later calls on it can answer -EBADF.  Without ASan the
 * memory is reused like any other; under ASan it is never reused, and all
 * but the magic word is poisoned, so a stale handle is always caught. */
void rt_retire(void *ptr, size_t size, size_t keep);

#endif
