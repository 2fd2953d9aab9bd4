#!/bin/sh
# SPDX-License-Identifier: MIT
# check_abi.sh — libgoro.so exports exactly the committed list.
#
#   check_abi.sh                 compare .libs/libgoro.so with abi/libgoro.sym
#   check_abi.sh --list SO       print SO's list in that file's format
#
# Each line is "name@@VERSION TYPE" for a symbol the library defines and
# exports.  A change of the list is a change of the ABI: a call added,
# removed or moved to another version node (libgoro.map).  After adding a
# public call, run `make update-abi` and commit abi/libgoro.sym with it.
set -eu

list() {
	${READELF:-readelf} --dyn-syms -W "$1" |
	awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") {
		print $8, $4 }' | LC_ALL=C sort
}

if [ "${1:-}" = --list ]; then
	list "$2"
	exit 0
fi

b=${abs_top_builddir:-.}
s=${abs_top_srcdir:-.}
so=$b/.libs/libgoro.so
[ -f "$so" ] || { echo "no $so (--disable-shared): skipped"; exit 77; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
list "$so" > "$tmp"
if ! diff -u "$s/abi/libgoro.sym" "$tmp"; then
	echo "libgoro.so's exports differ from abi/libgoro.sym (- committed, + built)."
	echo "If the change is intended: make update-abi, and commit the file."
	exit 1
fi
echo "libgoro.so exports the $(wc -l < "$tmp") symbols of abi/libgoro.sym"
# Every symbol carries a version node (the nodes themselves are listed too).
if grep -v '@@GORO_' "$tmp" | grep -qv '^GORO_'; then
	echo "unversioned exports:"; grep -v '@@GORO_' "$tmp"; exit 1
fi
