/* SPDX-License-Identifier: MIT */
/*
 * alloc.c — jemalloc-backed allocation for runtime objects (see alloc.h).
 */
#include <jemalloc/jemalloc.h>

#include "alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

void *rt_alloc(size_t size)
{
	return mallocx(size ? size : 1, MALLOCX_ZERO);
}

void rt_free(void *ptr, size_t size)
{
	if (ptr)
		sdallocx(ptr, size ? size : 1, 0);
}

void *rt_realloc(void *ptr, size_t old_size, size_t new_size)
{
	(void)old_size;
	if (!ptr)
		return rt_alloc(new_size);
	return rallocx(ptr, new_size ? new_size : 1, 0);
}

void rt_retire(void *ptr, size_t size, size_t keep)
{
	if (!ptr)
		return;
#if defined(__SANITIZE_ADDRESS__)
	if (size > keep)
		ASAN_POISON_MEMORY_REGION((char *)ptr + keep, size - keep);
#else
	(void)keep;
	rt_free(ptr, size);
#endif
}
