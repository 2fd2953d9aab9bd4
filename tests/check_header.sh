#!/bin/sh
# SPDX-License-Identifier: MIT
# check_header.sh — goro.h compiles cleanly for every language a user may
# build with: C99, C11 and C17 with -pedantic, and C++11 to C++23 with g++
# (and $CXX when it is another compiler), -Wall -Wextra -Werror each time.
# The snippet uses what a program uses: the *_INIT macros, a case array,
# GORO_BLOCKING_DO (ISO) and, where the compiler is GNU, GORO_BLOCKING.
set -eu
s=${abs_top_srcdir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/use.c" <<'SNIP'
#include <goro.h>
#include <unistd.h>
static goro_mutex_t mu = GORO_MUTEX_INIT;
static goro_wg_t wg = GORO_WG_INIT;
static goro_cond_t cond = GORO_COND_INIT;
static goro_once_t once = GORO_ONCE_INIT;
int use(goro_chan_t *c, int fd);
int use(goro_chan_t *c, int fd)
{
	goro_attr_t attr = GORO_ATTR_INIT;
	int v = 0;
	ssize_t n;
	goro_case_t cases[1];
	cases[0].chan = c;
	cases[0].dir = GORO_RECV;
	cases[0].elem = &v;
	cases[0].ok = 0;
	cases[0].size = sizeof cases[0];
	GORO_BLOCKING_DO(n = read(fd, &v, sizeof v));
#ifdef __GNUC__
	n += GORO_BLOCKING(read(fd, &v, sizeof v));
#endif
	(void)attr; (void)mu; (void)wg; (void)cond; (void)once;
	return goro_select(cases, 1, 0) + (int)n + errno +
	       (goro_version() >= GORO_VERSION_HEX);
}
SNIP
cp "$tmp/use.c" "$tmp/use.cc"

fail=0
try() {
	if "$@" -Wall -Wextra -Werror -pedantic -I"$s/include" -c \
	     -o "$tmp/out.o" 2>"$tmp/err"; then
		echo "ok:   $*"
	else
		echo "FAIL: $*"; cat "$tmp/err"; fail=1
	fi
}
for std in c99 c11 c17; do
	try "${CC:-cc}" -std=$std "$tmp/use.c"
done
cxxs="g++"
[ -n "${CXX:-}" ] && [ "${CXX%% *}" != g++ ] && cxxs="$cxxs $CXX"
for cxx in $cxxs; do
	command -v "${cxx%% *}" >/dev/null || { echo "FAIL: no $cxx"; fail=1; continue; }
	for std in c++11 c++14 c++17 c++20 c++23; do
		# Older compilers know C++23 by its draft name.
		if [ $std = c++23 ] &&
		   ! echo | $cxx -std=c++23 -x c++ -E - >/dev/null 2>&1; then
			std=c++2b
		fi
		try $cxx -std=$std "$tmp/use.cc"
	done
done
exit $fail
