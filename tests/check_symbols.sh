#!/bin/sh
# SPDX-License-Identifier: MIT
# check_symbols.sh — libgoro.a can be linked beside any program.
#
# Fails when the static archive defines a global symbol without the goro_
# prefix (a program's own `netpoll` or `config` would then collide with the
# runtime's), or when the library's code is not in the one goro_text section
# that __start_goro_text/__stop_goro_text delimit in a static binary.
# tools/static-archive.sh makes the archive so.  Skipped (77) when the
# library was configured without a static archive.
set -eu
b=${abs_top_builddir:-.}
a=$b/.libs/libgoro.a
[ -f "$a" ] || { echo "no $a (--disable-static): skipped"; exit 77; }

bad=$(${NM:-nm} -g --defined-only "$a" |
	awk 'NF == 3 && $3 !~ /^goro_/ { print $3 }')
if [ -n "$bad" ]; then
	echo "libgoro.a defines global symbols without the goro_ prefix:"
	echo "$bad" | head -50
	echo "($(echo "$bad" | wc -l) in all)"
	exit 1
fi
echo "libgoro.a: every global symbol is goro_*:"
${NM:-nm} -g --defined-only "$a" | awk 'NF == 3' | wc -l

members=$(ar t "$a" | wc -l)
[ "$members" -eq 1 ] || { echo "libgoro.a has $members members, not 1"; exit 1; }
sections=$(${READELF:-readelf} -SW "$a" | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\) .*/\1/p')
n=$(echo "$sections" | grep -c '^goro_text$' || true)
[ "$n" -eq 1 ] || { echo "libgoro.a: $n goro_text sections, not 1"; exit 1; }
if echo "$sections" | grep -E '^\.text(\.|$)'; then
	echo "libgoro.a: code left outside goro_text (above)"; exit 1
fi
echo "libgoro.a: one object, its code in one goro_text section"
