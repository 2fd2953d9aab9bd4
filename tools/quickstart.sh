#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# quickstart.sh — set up a fresh Debian 12 machine for goro and build it.
#
#   tools/quickstart.sh demo   install build dependencies, build, run examples/hello
#   tools/quickstart.sh test   install build dependencies, build, run the whole
#                              test suite: a normal build with -Werror, an
#                              ASan+UBSan build, make distcheck, then the
#                              package stage
#   tools/quickstart.sh package build the Debian packages from the release
#                              tarball, check them with lintian, install
#                              them, build a program with pkg-config goro,
#                              then remove them again
#
# Run as root (or with sudo available) for the apt-get step; it is skipped when
# every package is already installed.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

packages=(build-essential autoconf automake libtool pkg-config
	  libjemalloc-dev libunwind-dev libdw-dev check valgrind python3)
# Packaging (issue 16): g++ for the C++ test and example, groff and man-db
# for the man-page check, debhelper/dpkg-dev/lintian for the package stage.
packages+=(g++ groff-base man-db debhelper dpkg-dev lintian)
# The debugger tests (check_gdb) drive gdb; the USDT probes need
# <sys/sdt.h> (tests/probes.test checks they are built in); the demangling
# test's child is C++, another test child is built by clang.
packages+=(gdb systemtap-sdt-dev clang)
# The preemption tests run real thread-tied C in goroutines: sqlite in
# serialized mode (also needed by configure when Check is present), and
# tcmalloc and mimalloc preloaded.
packages+=(libsqlite3-dev libtcmalloc-minimal4 libmimalloc2.0)
# goro-bench preempt's library hogs: zlib's compress2 (and sqlite, above).
packages+=(zlib1g-dev)
# File I/O off the P (src/io/fileio.c): liburing, required by configure.
packages+=(liburing-dev)
# libgoro-posix (issue 14): its tests run unmodified client libraries in
# goroutines against real servers: redis-server with hiredis, libcurl;
# goro-bench io compares hiredis's async API on libevent.
packages+=(redis-server libhiredis-dev libcurl4-openssl-dev libevent-dev)

install_deps() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "quickstart: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# build DIR CONFIGURE-ARGS...
build() {
	local dir=$1; shift
	[ -x configure ] || ./autogen.sh
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --enable-werror "$@" >/dev/null &&
	 make -j"$jobs")
}

# check DIR: make check there; on failure show the failing suites' logs.
check() {
	if ! (cd "$1" && make -j"$jobs" check); then
		cat "$1"/test-suite.log >&2 || true
		return 1
	fi
}

# Sum Check's per-suite lines ("100%: Checks: 7, Failures: 0, Errors: 0").
summary() {
	cat "$@" 2>/dev/null | awk -F'[:,] *' '/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
		for (i = 1; i < NF; i++) {
			if ($i ~ /Checks$/) c += $(i+1)
			if ($i ~ /Failures$/) f += $(i+1)
			if ($i ~ /Errors$/) f += $(i+1)
		}
	} END { printf "tests: %d passed, %d failed\n", c - f, f }'
}

# package: the Debian packages, built from `make dist`'s tarball in
# build-deb/ (make check ran in the test stage: nocheck here), checked by
# lintian (no errors allowed), installed, used, and removed.  dpkg runs
# under /tmp/apt.lock, which serialises it with other apt users on a
# shared machine.
package() {
	build build
	(cd build && make -s dist >/dev/null)
	local v
	v=$(build/config.status --version | sed -n '1s/.* //p')
	local d=$top/build-deb
	rm -rf "$d"
	mkdir -p "$d"
	tar -C "$d" -xzf "build/goro-$v.tar.gz"
	cp "build/goro-$v.tar.gz" "$d/goro_$v.orig.tar.gz"
	cp -r debian "$d/goro-$v/"
	echo "quickstart: dpkg-buildpackage -us -uc -b (log: $d/build.log)"
	(cd "$d/goro-$v" &&
	 DEB_BUILD_OPTIONS="nocheck parallel=$jobs" dpkg-buildpackage -us -uc -b) \
		>"$d/build.log" 2>&1 || { tail -50 "$d/build.log" >&2; exit 1; }
	local changes
	changes=$(ls "$d"/goro_*_amd64.changes)
	lintian "$changes" >"$d/lintian.log" 2>&1 || true
	echo "quickstart: lintian: $(grep -c '^E:' "$d/lintian.log") errors," \
	     "$(grep -c '^W:' "$d/lintian.log") warnings"
	cat "$d/lintian.log"
	grep -q '^E:' "$d/lintian.log" && exit 1

	local sudo="" lock=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	command -v flock >/dev/null && lock="flock /tmp/apt.lock"
	local debs=("$d"/libgoro0_*.deb "$d"/libgoro-dev_*.deb "$d"/goro-tools_*.deb)
	debs+=("$d"/libgoro-asan0_*.deb "$d"/libgoro-asan-dev_*.deb)
	$sudo $lock dpkg -i "${debs[@]}" >"$d/install.log"
	local remove="$sudo $lock dpkg -r goro-tools libgoro-asan-dev libgoro-asan0 libgoro-dev libgoro0"
	trap "$remove >/dev/null" EXIT
	echo "quickstart: a program built with only pkg-config goro"
	local ex=/usr/share/doc/goro/examples
	cc "$ex/hello.c" -o "$d/hello" $(pkg-config --cflags --libs goro)
	GORO_MAXPROCS=1 "$d/hello" >/dev/null
	g++ "$ex/hello_cxx.cc" -o "$d/hello_cxx" $(pkg-config --cflags --libs goro)
	"$d/hello_cxx"
	cc -static "$ex/hello.c" -o "$d/hello_static" \
		$(pkg-config --static --cflags --libs goro) 2>/dev/null
	GORO_MAXPROCS=1 GORO_ASYNCPREEMPT=0 "$d/hello_static" >/dev/null
	echo "quickstart: a program built with -fsanitize=address and pkg-config goro-asan"
	cc "$ex/hello.c" -o "$d/hello_asan" $(pkg-config --cflags --libs goro-asan)
	GORO_MAXPROCS=1 "$d/hello_asan" >/dev/null
	man -w goro_chan_send
	command -v gdump goro-bench
	$remove >/dev/null
	trap - EXIT
	echo "quickstart: packages built, installed, used and removed"
}

case "${1:-}" in
demo)
	install_deps
	build build
	echo "quickstart: running examples/hello with GORO_MAXPROCS=1"
	GORO_MAXPROCS=1 build/examples/hello
	;;
test)
	install_deps
	build build
	check build
	echo "quickstart: sanitized build (ASan + UBSan)"
	build build-sanitize --enable-sanitizers
	check build-sanitize
	# The full suites ran above in both builds; the tarball's own build
	# runs a smoke subset, to keep the whole test command well inside 20
	# minutes on 2 CPUs.
	echo "quickstart: make distcheck (tarball builds, installs, passes a smoke subset of make check)"
	# The tarball's build also makes and installs the sanitizer variants
	# (libgoro-asan, libgoro-tsan), which check_sanitizer_variants.sh uses.
	(cd build && make -j"$jobs" distcheck \
		DISTCHECK_CONFIGURE_FLAGS=--enable-sanitizer-variants \
		TESTS="tests/check_sched tests/check_chan tests/check_abi.sh tests/check_man.sh tests/check_sanitizer_variants.sh" \
		>distcheck.log 2>&1) ||
		{ tail -50 build/distcheck.log >&2; exit 1; }
	summary build/tests/*.log build-sanitize/tests/*.log
	package
	;;
package)
	install_deps
	package
	;;
*)
	echo "usage: $0 demo|test|package" >&2
	exit 64
	;;
esac
