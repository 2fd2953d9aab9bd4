#!/bin/sh
# SPDX-License-Identifier: MIT
# check_static.sh — a program links statically against libgoro.a with
# nothing but `pkg-config --static --libs goro`, and runs.
#
# The program defines its own netpoll(), sched and config (names the
# runtime uses internally: they must not collide), checks that
# __start_goro_text/__stop_goro_text enclose goro_main and not its own
# code, and runs goroutines over channels with asynchronous preemption off
# (GORO_ASYNCPREEMPT=0).  A C++ program with exceptions links the same
# way (libunwind's copy of the _Unwind_* API must stay out of the link).
#
# Then a 1 ms sleeper beside a hog at one P with preemption on: the
# runtime tells its own code from the program's in a static binary by the
# section goro_text.
# Skipped (77) without a static archive or in a sanitizer build (ASan does
# not link statically).
set -eu
b=${abs_top_builddir:-.}
s=${abs_top_srcdir:-.}
a=$b/.libs/libgoro.a
[ -f "$a" ] || { echo "no $a: skipped"; exit 77; }
if ${NM:-nm} "$a" | grep -q ' U __asan_'; then
	echo "sanitizer build: static links are not supported; skipped"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The build tree's goro.pc, pointed at the build tree.
mkdir "$tmp/pc"
sed -e "s|^libdir=.*|libdir=$b/.libs|" -e "s|^includedir=.*|includedir=$s/include|" \
	"$b/goro.pc" > "$tmp/pc/goro.pc"
pc=${PKG_CONFIG:-pkg-config}
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cflags=$($pc --cflags goro)
libs=$($pc --static --libs goro)
echo "pkg-config --static --libs goro: $libs"

cat > "$tmp/prog.c" <<'SNIP'
#include <goro.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char __start_goro_text[] __attribute__((weak));
extern const char __stop_goro_text[] __attribute__((weak));

/* The runtime has functions and variables of these names, all local. */
int netpoll(void) { return 7; }
int sched = 1;
int config = 2;

static volatile int stop;
static volatile uint64_t sleeps;

static void hog(void *arg)
{
	(void)arg;
	while (!stop)
		;
}

static void sleeper(void *arg)
{
	goro_chan_t *done = arg;
	for (int i = 0; i < 50; i++) {
		goro_sleep(1000000);
		sleeps++;
	}
	stop = 1;
	goro_chan_send(done, NULL);
}

static void worker(void *arg)
{
	goro_chan_t *c = arg;
	for (int i = 1; i <= 1000; i++)
		goro_chan_send(c, &i);
}

static int prog_main(int argc, char **argv)
{
	uintptr_t lo = (uintptr_t)__start_goro_text;
	uintptr_t hi = (uintptr_t)__stop_goro_text;
	uintptr_t rt = (uintptr_t)&goro_main, me = (uintptr_t)&prog_main;
	if (!(lo && lo < hi && rt >= lo && rt < hi && (me < lo || me >= hi))) {
		printf("goro_text [%#lx, %#lx) goro_main %#lx prog_main %#lx\n",
		       (unsigned long)lo, (unsigned long)hi,
		       (unsigned long)rt, (unsigned long)me);
		return 1;
	}
	if (netpoll() != 7 || sched != 1 || config != 2)
		return 2;
	if (argc > 1 && strcmp(argv[1], "preempt") == 0) {
		goro_maxprocs(1);
		goro_chan_t *done = goro_chan_make(0, 0);
		goro_go(hog, NULL);
		goro_go(sleeper, done);
		goro_chan_recv(done, NULL);
		printf("sleeper woke %llu times beside a hog at 1 P\n",
		       (unsigned long long)sleeps);
		return 0;
	}
	goro_chan_t *c = goro_chan_make(sizeof(int), 8);
	long sum = 0;
	for (int w = 0; w < 4; w++)
		goro_go(worker, c);
	for (int i = 0; i < 4000; i++) {
		int v;
		goro_chan_recv(c, &v);
		sum += v;
	}
	goro_sleep(1000000);
	printf("static: sum %ld, goroutines ran on %d P\n", sum,
	       goro_maxprocs(0));
	return sum == 4L * 1000 * 1001 / 2 ? 0 : 3;
}

int main(int argc, char **argv)
{
	return goro_main(prog_main, argc, argv);
}
SNIP

# Static glibc warns that getaddrinfo/dlopen need the shared glibc at run
# time; that is not an error.
${CC:-cc} -static $cflags "$tmp/prog.c" -o "$tmp/prog" $libs \
	2>"$tmp/ld.err" || { cat "$tmp/ld.err"; exit 1; }
file "$tmp/prog" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "not a static executable"; exit 1; }
GORO_ASYNCPREEMPT=0 "$tmp/prog"

if [ -n "${CXX:-}" ] && command -v "${CXX%% *}" >/dev/null; then
	cat > "$tmp/prog.cc" <<'SNIP'
#include <goro.h>
#include <stdexcept>
#include <string>
static int caught;
static void thrower(void *)
{
	try {
		throw std::runtime_error(std::string("from a goroutine"));
	} catch (const std::exception &) {
		caught++;
	}
}
static int cxx_main(int, char **)
{
	goro_chan_t *c = goro_chan_make(0, 0);
	goro_go([](void *p) { thrower(nullptr);
		goro_chan_send(static_cast<goro_chan_t *>(p), nullptr); }, c);
	goro_chan_recv(c, nullptr);
	return caught == 1 ? 0 : 1;
}
int main(int argc, char **argv) { return goro_main(cxx_main, argc, argv); }
SNIP
	$CXX -static $cflags "$tmp/prog.cc" -o "$tmp/progxx" $libs \
		2>"$tmp/ldxx.err" || { cat "$tmp/ldxx.err"; exit 1; }
	GORO_ASYNCPREEMPT=0 "$tmp/progxx"
	echo "static C++: an exception thrown and caught on a goroutine"
fi

# Async preemption keeps working in a static binary: libgoro's code is
# found through __start_goro_text (src/base/text_ranges.c).
GORO_MAXPROCS=1 timeout 120 "$tmp/prog" preempt
