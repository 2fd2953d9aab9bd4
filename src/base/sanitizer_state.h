/* SPDX-License-Identifier: MIT */
/*
 * sanitizer_state.h — what the sanitizer hooks (sanitizer.h) keep in each
 * G and M: sub-structs declared here, embedded in struct g and struct m
 * (src/runtime.h), touched only by sanitizer.h and sanitizer.c.  Unused
 * outside a sanitizer build.
 */
#ifndef GORO_SANITIZER_STATE_H
#define GORO_SANITIZER_STATE_H

#include <stddef.h>

/* A goroutine's fake stack (ASan) or fiber (TSan) across its switches. */
struct sanitizer_g {
	void *fiber;
};

/* The same for the M's own stack (g0), and that stack's bounds. */
struct sanitizer_m {
	void *fiber;
	void *g0_stack_lo;
	size_t g0_stack_size;
};

#endif
