#!/bin/sh
# SPDX-License-Identifier: MIT
# tsan-filter.sh - make check's test runner in a --enable-tsan build.
#
# The race-free suites that exercise every synchronising operation
# (channels, select, mutex, rwmutex, wait group, cond, once, semaphores,
# goroutine start and wait) run, and must get no report; so does the
# deliberate race.  The others are skipped, each for a reason of
# ThreadSanitizer's, not of the code under test.
case "$1" in
*/check_chan|*/check_select|*/check_sync|*/check_race)
	exec "$@" ;;
*/check_sched|*/check_bench)
	why="TSan allows 8128 threads and counts each goroutine's fiber as one" ;;
*/check_preempt|*/check_stats)
	why="asynchronous preemption (which they count on) is off under TSan" ;;
*/check_timer|*/check_io)
	why="their deadlines do not allow for TSan's slowdown" ;;
*/check_dump|*/check_gdb|*/check_stack)
	why="debuggers, core files and stack faults on TSan's runtime" ;;
*)
	exec "$@" ;;
esac
echo "SKIP in a TSan build: $why"
exit 77
