/* SPDX-License-Identifier: MIT */
/*
 * errno_location.c — the non-const errno accessor goro.h's `errno` macro
 * uses.  glibc's __errno_location is declared const, so compilers keep its
 * result across calls; this one is opaque to them, so code that includes
 * goro.h fetches the current thread's errno after every call — after a
 * goroutine switch that moved it to another thread too.
 */
#include <errno.h>

#include <goro.h>

int *goro_errno_location(void)
{
	return &errno;
}
