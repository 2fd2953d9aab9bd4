#!/bin/sh
# SPDX-License-Identifier: MIT
# check_spdx.sh — every source file says its licence in its first lines.
#
#   check_spdx.sh          fail on a file that lacks the line (make check)
#   check_spdx.sh --fix    add the line where it lacks, in the file's own
#                          comment syntax, as its first line (its second
#                          after a #! line)
#
# The files: C, C++, assembly, Go, shell, automake, autoconf, templates
# (*.in), linker scripts (*.map), man pages and debian/rules.  A file
# passes when one of its first five lines holds
# "SPDX-License-Identifier: MIT" (LICENSE holds the text).  They are git's
# tracked files when the tree is a checkout, else those on disk (a release
# tarball, a package build).  After merging branches that add files, run
# --fix once and commit.
set -eu
fix=no
[ "${1:-}" = --fix ] && fix=yes
s=${abs_top_srcdir:-$(dirname "$0")/..}
cd "$s"
top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$top" ] && [ "$top" = "$(pwd -P)" ]; then
	files=$(git ls-files)
else
	files=$(find . -type f ! -path './build*' ! -path './_*' \
		! -path './autom4te.cache/*' ! -path './debian/*/*' \
		! -path ./config.h | sed 's|^\./||')
fi

# The line in the comment syntax of file $1.
spdx_line() {
	case $1 in
	*.c|*.h|*.S|*.map) echo '/* SPDX-License-Identifier: MIT */' ;;
	*.cc|*.go) echo '// SPDX-License-Identifier: MIT' ;;
	*.ac) echo 'dnl SPDX-License-Identifier: MIT' ;;
	docs/man/*) echo '.\" SPDX-License-Identifier: MIT' ;;
	*) echo '# SPDX-License-Identifier: MIT' ;;
	esac
}

missing=0
for f in $files; do
	case $f in
	build-aux/*|m4/*|configure|Makefile.in|aclocal.m4|config.h.in) continue ;;
	*.c|*.h|*.S|*.cc|*.go|*.sh|*.am|*.ac|*.in|*.map|debian/rules) ;;
	docs/man/*.[0-9]) ;;
	*) continue ;;
	esac
	[ -f "$f" ] || continue
	head -n 5 "$f" | grep -q 'SPDX-License-Identifier: MIT' && continue
	if [ $fix = yes ]; then
		line=$(spdx_line "$f")
		tmp=$f.spdx.$$
		if head -n 1 "$f" | grep -q '^#!'; then
			{ head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } > "$tmp"
		else
			{ echo "$line"; cat "$f"; } > "$tmp"
		fi
		# A new inode: a shell running this very script reads on.
		chmod "$(stat -c %a "$f")" "$tmp"
		mv -f "$tmp" "$f"
		echo "added: $f"
	else
		echo "no SPDX-License-Identifier: MIT line: $f"
		missing=$((missing + 1))
	fi
done
[ $missing -eq 0 ] || { echo "$missing files lack the licence line" \
	"(tests/check_spdx.sh --fix adds it)"; exit 1; }
echo "every source file carries SPDX-License-Identifier: MIT"
