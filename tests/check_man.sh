#!/bin/sh
# SPDX-License-Identifier: MIT
# check_man.sh — every exported function has a man page, and every page
# renders cleanly.
#
#  - each page in docs/man is listed in Makefile.am's man_MANS;
#  - each renders with `groff -man -ww -z` without a single warning;
#  - each reference to a goro page, as name(N), names an existing page;
#  - each section-3 page has NAME, SYNOPSIS, DESCRIPTION, RETURN VALUE,
#    ERRORS, EXAMPLE and SEE ALSO;
#  - the pages are installed into a scratch man tree with their links
#    (tools/man-links.sh, as make install does) and `man -w` finds a page
#    under the name of every function libgoro.so exports.
set -eu
s=${abs_top_srcdir:-.}
b=${abs_top_builddir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
cd "$s"

pages=$(ls docs/man/*.[0-9])
for p in $pages; do
	grep -q "$p" Makefile.am || { echo "$p: not in man_MANS"; fail=1; }
	if [ -n "${GROFF:-}" ]; then
		"$GROFF" -man -ww -z "$p" 2>"$tmp/err" || true
		if [ -s "$tmp/err" ]; then
			echo "$p: groff -man -ww -z:"; cat "$tmp/err"; fail=1
		fi
	fi
	case $p in *.3)
		for sec in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" ERRORS \
			   EXAMPLE "SEE ALSO"; do
			grep -q "^\.SH \"*$sec\"*\$" "$p" ||
				{ echo "$p: no $sec section"; fail=1; }
		done
	esac
done
[ -n "${GROFF:-}" ] || echo "no groff: rendering not checked"

# Every reference to a goro page, name(N), names a page or a NAME entry.
sh tools/man-links.sh names . $pages | awk '{ print $1 "(" $2 ")" }' |
	sort -u > "$tmp/names"
for p in $pages; do
	sed -n 's/^\.B[RI]* *\(goro[a-z0-9_\\-]*\|gdump\) *"*(\([0-9]\)).*/\1(\2)/p' "$p" |
	sed 's/\\-/-/g' | sort -u |
	while read -r ref; do
		grep -qxF "$ref" "$tmp/names" ||
			{ echo "$p: refers to $ref, which has no page"; exit 1; }
	done || fail=1
done

# A scratch install: pages under manN/, links from every NAME entry.
for p in $pages; do
	sec=${p##*.}
	mkdir -p "$tmp/man/man$sec"
	cp "$p" "$tmp/man/man$sec/"
done
sh tools/man-links.sh install "$tmp/man" . $pages

so=$b/.libs/libgoro.so
if [ -f "$so" ]; then
	funcs=$(${READELF:-readelf} --dyn-syms -W "$so" |
		awk '$4 == "FUNC" && $7 != "UND" { sub(/@.*/, "", $8); print $8 }' |
		sort -u)
	for f in $funcs; do
		if command -v man >/dev/null; then
			MANPATH= man -M "$tmp/man" -w 3 "$f" >/dev/null 2>&1 ||
				{ echo "man -w 3 $f: no page"; fail=1; }
		else
			[ -f "$tmp/man/man3/$f.3" ] ||
				{ echo "$f: no page"; fail=1; }
		fi
	done
	echo "$(echo "$funcs" | wc -w) exported functions checked"
else
	echo "no $so: exported functions not checked"
fi
exit $fail
