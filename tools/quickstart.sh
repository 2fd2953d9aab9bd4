#!/usr/bin/env bash
# quickstart.sh — set up a fresh Debian 12 machine for goro and build it.
#
#   tools/quickstart.sh demo   install build dependencies, build, run examples/hello
#   tools/quickstart.sh test   install build dependencies, build, run the whole
#                              test suite: a normal build with -Werror, an
#                              ASan+UBSan build, then make distcheck
#
# Run as root (or with sudo available) for the apt-get step; it is skipped when
# every package is already installed.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

packages=(build-essential autoconf automake libtool pkg-config
	  libjemalloc-dev libunwind-dev libdw-dev check valgrind python3
	  libsqlite3-dev zlib1g-dev)

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
	echo "quickstart: make distcheck (tarball builds, installs, passes make check)"
	(cd build && make -j"$jobs" distcheck >distcheck.log 2>&1) ||
		{ tail -50 build/distcheck.log >&2; exit 1; }
	summary build/tests/*.log build-sanitize/tests/*.log
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 64
	;;
esac
