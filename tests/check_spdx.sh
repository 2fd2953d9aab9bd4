#!/bin/sh
# check_spdx.sh — every source file says its licence in its first lines.
#
# Fails on a C, C++, assembly, Go, shell, automake, autoconf, template,
# linker-script, man-page or debian/rules file whose first five lines lack
# "SPDX-License-Identifier: MIT" (LICENSE holds the text).  The files are
# git's tracked ones when the tree is a checkout, else those on disk (a
# release tarball).
set -eu
s=${abs_top_srcdir:-.}
cd "$s"
top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$top" ] && [ "$top" = "$(pwd -P)" ]; then
	files=$(git ls-files)
else
	files=$(find . -type f ! -path './build*' ! -path './_*' ! -path './autom4te.cache/*' ! -path './debian/*/*' ! -path ./config.h |
		sed 's|^\./||')
fi
missing=0
for f in $files; do
	case $f in
	build-aux/*|m4/*|configure|Makefile.in|aclocal.m4|config.h.in) continue ;;
	*.c|*.h|*.S|*.cc|*.go|*.sh|*.am|*.ac|*.in|*.map|debian/rules) ;;
	docs/man/*.[0-9]) ;;
	*) continue ;;
	esac
	[ -f "$f" ] || continue
	if ! head -n 5 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
		echo "no SPDX-License-Identifier: MIT line: $f"
		missing=$((missing + 1))
	fi
done
[ $missing -eq 0 ] || { echo "$missing files lack the licence line"; exit 1; }
echo "every source file carries SPDX-License-Identifier: MIT"
