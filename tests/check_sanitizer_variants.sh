#!/bin/sh
# SPDX-License-Identifier: MIT
# check_sanitizer_variants.sh — programs built with -fsanitize=address get
# whole stacks in ASan's reports when their goroutines misuse memory, both
# against the plain libgoro and against the ASan build installed beside it
# (--enable-sanitizer-variants: make install puts libgoro-asan.so and
# libgoro-tsan.so, each with its own soname and .pc, next to libgoro.so).
#
# The program (built with ASan, -g) frees a buffer in a goroutine and then
# writes to it.  ASan's report has three stacks: the bad write (slow
# unwinder), the free and the malloc (fast, frame-pointer unwinder, which
# stops at the first frame outside the stack ASan believes current).  Each
# must reach the goroutine's entry function and goro_start.  Against a
# libgoro that does not tell ASan about goroutine stacks, the free and
# malloc stacks stop at frame #0.
#
# With the variants configured, they are installed (make install, under a
# DESTDIR) and the program is built with nothing but
# `pkg-config --cflags --libs goro-asan`; a race-free channel program is
# built with goro-tsan and must run without a ThreadSanitizer report.
# Skipped (77) in a sanitizer build of the library itself.
set -eu
b=${abs_top_builddir:-.}
s=${abs_top_srcdir:-.}
if ${NM:-nm} -D "$b/.libs/libgoro.so" | grep -q ' U __asan_\| U __tsan_'; then
	echo "the library is itself a sanitizer build: skipped"; exit 77
fi
cc=${CC:-cc}
if ! echo 'int main(void){return 0;}' |
	$cc -fsanitize=address -x c - -o /dev/null 2>/dev/null; then
	echo "$cc cannot build with -fsanitize=address: skipped"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=0
unset TSAN_OPTIONS || true

cat > "$tmp/uaf.c" <<'SNIP'
#include <goro.h>
#include <stdlib.h>

__attribute__((noinline)) static char *make_buffer(void)
{
	return malloc(16);
}

__attribute__((noinline)) static void drop_buffer(char *p)
{
	free(p);
}

/* volatile: the compiler may otherwise drop a store to freed memory. */
__attribute__((noinline)) static void use_after_free(char *p)
{
	((volatile char *)p)[3] = 'x';
}

__attribute__((noinline)) static void worker_goroutine(void *arg)
{
	char *p = make_buffer();
	(void)arg;
	drop_buffer(p);
	use_after_free(p);
	__asm__ volatile("");
}

static int main_fn(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_go(worker_goroutine, NULL);
	/* ASan ends the program first; if it does not, exit 0 fails the
	 * test. */
	goro_sleep(60LL * 1000 * 1000 * 1000);
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(main_fn, argc, argv);
}
SNIP

# The stack under ASan's heading $2 in report $1: its lines up to the
# first blank one.
stack() {
	awk -v h="$2" 'index($0, h) { on = 1; next } on && /^ *$/ { exit }
		on { print }' "$1"
}

# Run program $1 and check every stack of its report.
expect_full_stacks() {
	if "$1" > "$1.out" 2>&1; then
		echo "FAIL: $1 exited 0"; cat "$1.out"; exit 1
	fi
	grep -q 'ERROR: AddressSanitizer: heap-use-after-free' "$1.out" || {
		echo "FAIL: no ASan report from $1"; cat "$1.out"; exit 1; }
	stack "$1.out" 'AddressSanitizer: heap-use-after-free' > "$1.write"
	stack "$1.out" 'freed by thread' > "$1.free"
	stack "$1.out" 'previously allocated by thread' > "$1.malloc"
	for want in "write use_after_free" "free drop_buffer" \
		"malloc make_buffer"; do
		set -- "$1" $want
		for fn in "$3" worker_goroutine goro_start; do
			grep -q " in $fn " "$1.$2" || {
				echo "FAIL: $1: the $2 stack has no $fn:"
				cat "$1.out"; exit 1; }
		done
		set -- "$1"
	done
	echo "$1: full stacks"
}

# 1. Against the plain library of the build tree.
$cc -g -O1 -fsanitize=address -fno-omit-frame-pointer -I"$s/include" \
	"$tmp/uaf.c" -o "$tmp/uaf_plain" -L"$b/.libs" -lgoro \
	-Wl,-rpath,"$b/.libs"
expect_full_stacks "$tmp/uaf_plain"

# 2. The variants, installed.
if [ ! -f "$b/libgoro-asan.la" ]; then
	echo "configured without --enable-sanitizer-variants: done"
	exit 0
fi
pc=${PKG_CONFIG:-pkg-config}
libdir=$(PKG_CONFIG_PATH="$b" $pc --variable=libdir goro-asan)
${MAKE:-make} -s -C "$b" install-libLTLIBRARIES install-pkgconfigDATA \
	install-includeHEADERS install-dist_tsanDATA DESTDIR="$tmp/root" > "$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; exit 1; }
for v in asan tsan; do
	so="$tmp/root$libdir/libgoro-$v.so.0"
	[ -f "$so" ] || { echo "FAIL: $so not installed"; exit 1; }
	${READELF:-readelf} -d "$so" | grep -q "SONAME.*\[libgoro-$v\.so\.0\]" || {
		echo "FAIL: $so: soname"; ${READELF:-readelf} -d "$so"; exit 1; }
	${READELF:-readelf} -d "$so" | grep -q "NEEDED.*lib$v\.so" || {
		echo "FAIL: $so does not need lib$v"; exit 1; }
	[ -f "$tmp/root$libdir/pkgconfig/goro-$v.pc" ] || {
		echo "FAIL: goro-$v.pc not installed"; exit 1; }
done
export PKG_CONFIG_PATH="$tmp/root$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$($pc --cflags goro-asan)
libs=$($pc --libs goro-asan)
echo "pkg-config --cflags --libs goro-asan: $cflags $libs"
$cc -g -O1 $cflags "$tmp/uaf.c" -o "$tmp/uaf_asan" $libs \
	-Wl,-rpath,"$tmp/root$libdir"
${READELF:-readelf} -d "$tmp/uaf_asan" | grep -q 'NEEDED.*libgoro-asan\.so\.0' || {
	echo "FAIL: uaf_asan is not linked with libgoro-asan"; exit 1; }
expect_full_stacks "$tmp/uaf_asan"

# 3. goro-tsan: a channel hand-off between goroutines on two Ps, no report.
cat > "$tmp/handoff.c" <<'SNIP'
#include <goro.h>
#include <stdio.h>

static goro_chan_t *ch;
static int shared[64];

static void producer(void *arg)
{
	(void)arg;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 64; i++)
			shared[i] = round + i;
		int token = round;
		goro_chan_send(ch, &token);
		goro_chan_recv(ch, &token);
	}
}

static int main_fn(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ch = goro_chan_make(sizeof(int), 0);
	goro_go(producer, NULL);
	long sum = 0;
	for (int round = 0; round < 200; round++) {
		int token;
		goro_chan_recv(ch, &token);
		for (int i = 0; i < 64; i++)
			sum += shared[i];
		goro_chan_send(ch, &token);
	}
	printf("sum %ld\n", sum);
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(main_fn, argc, argv);
}
SNIP
cflags=$($pc --cflags goro-tsan)
libs=$($pc --libs goro-tsan)
supp=$tmp/root$(PKG_CONFIG_SYSROOT_DIR= $pc --variable=tsan_supp goro-tsan)
[ -f "$supp" ] || { echo "FAIL: goro-tsan.pc's tsan_supp, $supp, is not installed"; exit 1; }
$cc -g -O1 $cflags "$tmp/handoff.c" -o "$tmp/handoff" $libs \
	-Wl,-rpath,"$tmp/root$libdir"
${READELF:-readelf} -d "$tmp/handoff" | grep -q 'NEEDED.*libgoro-tsan\.so\.0' || {
	echo "FAIL: handoff is not linked with libgoro-tsan"; exit 1; }
GORO_MAXPROCS=2 TSAN_OPTIONS="suppressions=$supp" \
	"$tmp/handoff" > "$tmp/handoff.out" 2>&1 || {
	echo "FAIL: handoff under goro-tsan"; cat "$tmp/handoff.out"; exit 1; }
if grep -q 'ThreadSanitizer' "$tmp/handoff.out"; then
	echo "FAIL: a report for a race-free program:"; cat "$tmp/handoff.out"
	exit 1
fi
grep -q '^sum ' "$tmp/handoff.out"
echo "goro-tsan: race-free channel program, no report"
