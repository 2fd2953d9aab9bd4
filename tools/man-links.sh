#!/bin/sh
# SPDX-License-Identifier: MIT
# man-links.sh — a man page under every name its NAME section lists.
#
#   man-links.sh names SRCDIR PAGE...              "name section page" lines
#   man-links.sh install|uninstall MANDIR SRCDIR PAGE...
#   man-links.sh check MANDIR SRCDIR PAGE...       man -w finds every name
#
# A family page (goro_chan_make.3) documents several calls; its NAME
# section lists them all.  install writes, for every listed name other than
# the page's own, a one-line `.so man3/goro_chan_make.3` page, so that
# `man goro_chan_send` opens the family page.  The names are read from the
# pages themselves: a new page listed in man_MANS gets its links with no
# other change.  PAGE paths are relative to SRCDIR, as in man_MANS.
set -eu

mode=$1; shift
if [ "$mode" != names ]; then mandir=$1; shift; fi
srcdir=$1; shift

# Print "name section page" for every name in every page's NAME section.
names() {
	for page in "$@"; do
		file=$srcdir/$page
		base=$(basename "$page")
		sec=${base##*.}
		awk -v sec="$sec" -v base="$base" '
			/^\.SH/ { in_name = ($2 == "NAME"); next }
			in_name { text = text " " $0 }
			END {
				sub(/\\-.*/, "", text)
				gsub(/\\/, "", text)
				n = split(text, w, /[ ,]+/)
				for (i = 1; i <= n; i++)
					if (w[i] != "") print w[i], sec, base
			}' "$file"
	done
}

case $mode in
names)
	names "$@"
	;;
install|uninstall)
	names "$@" | while read -r name sec base; do
		[ "$name.$sec" = "$base" ] && continue
		link=$mandir/man$sec/$name.$sec
		if [ "$mode" = install ]; then
			mkdir -p "$mandir/man$sec"
			echo ".so man$sec/$base" > "$link"
		else
			rm -f "$link"
		fi
	done
	;;
check)
	if [ -z "${MAN:-}" ]; then
		echo "man-links.sh: no man(1) found, install check skipped" >&2
		exit 0
	fi
	fail=0
	names "$@" > "${TMPDIR:-/tmp}/goro-man-names.$$"
	while read -r name sec base; do
		if ! MANPATH= "$MAN" -M "$mandir" -w "$sec" "$name" >/dev/null 2>&1
		then
			echo "man-links.sh: no page for $name($sec) under $mandir" >&2
			fail=1
		fi
	done < "${TMPDIR:-/tmp}/goro-man-names.$$"
	rm -f "${TMPDIR:-/tmp}/goro-man-names.$$"
	exit $fail
	;;
*)
	echo "usage: $0 names|install|uninstall|check ..." >&2
	exit 64
	;;
esac
