#!/bin/sh
# SPDX-License-Identifier: MIT
# static-archive.sh — turn libtool's libgoro.a into an archive that a static
# program can link beside any code of its own.
#
#   tools/static-archive.sh ARCHIVE
#
# libtool archives the library's objects as they are, so every function one
# runtime file calls in another (sched, netpoll, config, ...) is a global
# symbol of the archive and collides with a program's own function of that
# name.  This script promises, for the archive it rewrites in place:
#  - it holds ONE object, the relocatable link (ld -r) of every member, in
#    which the runtime's cross-file references are resolved;
#  - the only global symbols that object defines are goro_* (goro__* for the
#    private ones other goro code must reach); everything else is local;
#  - all of the library's code (.text and every .text.* input section) sits
#    in one section named goro_text, so a static binary can tell the
#    runtime's code from the program's by the linker-made symbols
#    __start_goro_text and __stop_goro_text.
# The shared library needs none of this: its version script (libgoro.map)
# exports goro_* only.  Running the script twice is harmless.
# Tools come from the environment as configure found them: LD, OBJCOPY, AR,
# RANLIB, READELF.
set -eu

archive=$1
: "${LD:=ld}" "${OBJCOPY:=objcopy}" "${AR:=ar}" "${RANLIB:=ranlib}"
: "${READELF:=readelf}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/goro-static.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. One object: the members linked together, nothing from outside.
$LD -r -o "$tmp/joined.o" --whole-archive "$archive"

# 2. Every text section renamed goro_text (flags and relocations follow).
renames=$($READELF -SW "$tmp/joined.o" |
	sed -n 's/^ *\[ *[0-9]*\] \(\.text\(\.[^ ]*\)\{0,1\}\) .*/\1/p' |
	sort -u | sed 's/.*/--rename-section &=goro_text/')
# 3. Only goro_* stays global; undefined references are left alone.
# shellcheck disable=SC2086
$OBJCOPY $renames --wildcard --keep-global-symbol='goro_*' \
	"$tmp/joined.o" "$tmp/renamed.o"

# 4. A second ld -r merges the same-named sections into one goro_text.
$LD -r -o "$tmp/libgoro.o" "$tmp/renamed.o"

rm -f "$tmp/new.a"
$AR cr "$tmp/new.a" "$tmp/libgoro.o"
$RANLIB "$tmp/new.a"
# A program linking against the archive meanwhile sees the old or the new.
cp "$tmp/new.a" "$archive.tmp"
mv -f "$archive.tmp" "$archive"
