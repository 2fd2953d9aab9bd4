/* SPDX-License-Identifier: MIT */
/*
 * descriptor.h — libgoro's own instance of the debugger ABI.
 *
 * The layout and the rules for reading it are public, in <goro/debug.h>
 * (installed, for gdump, the gdb extension and any other debugger);
 * descriptor.c fills in the one object of that layout.
 */
#ifndef GORO_DESCRIPTOR_H
#define GORO_DESCRIPTOR_H

#include <goro/debug.h>

extern struct goro_debug_descriptor goro_debug_descriptor;

#endif
