/* SPDX-License-Identifier: MIT */
/*
 * version.c — the library's version, as a program asks for it at run time.
 *
 * A program built against one goro.h may run with a newer libgoro.so; the
 * header's GORO_VERSION_* macros give the first, these calls the second.
 * They need no runtime and may be called before or outside goro_main.  The
 * header and configure.ac carry the version in two places; make check
 * (check_cxx) compares goro_version_string() with the package version.
 */
#include "goro.h"

unsigned int goro_version(void)
{
	return GORO_VERSION_HEX;
}

const char *goro_version_string(void)
{
	return GORO_VERSION_STRING;
}
