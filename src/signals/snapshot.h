/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h — doing, from a signal handler, work that a signal handler
 * must not do (allocate, take locks, read DWARF): in a forked copy of the
 * process, whose output is used only if it completes (signals/snapshot.c).
 */
#ifndef GORO_SNAPSHOT_H
#define GORO_SNAPSHOT_H

#include <stdbool.h>

/* The child is given up, and snapshot_run() returns false, after this
 * long neither writing nor using CPU (a lock held in the copy by a thread
 * that does not exist there never comes free), or after SNAPSHOT_BUSY_NS
 * computing without writing anything. */
#define SNAPSHOT_STALL_NS (5LL * 1000 * 1000 * 1000)
#define SNAPSHOT_BUSY_NS (60LL * 1000 * 1000 * 1000)

/*
 * Run work(arg, fd) in a child forked from this process (one thread: the
 * caller's; memory: a copy-on-write copy of the parent's at this instant),
 * writing its output to fd, an anonymous in-memory file.  If work returns
 * true, and the child neither dies nor stalls (above), copy
 * that output to out_fd and return true.  Otherwise write nothing to
 * out_fd and return false: the caller does the work its own, safe way.
 * The parent's side is async-signal-safe; nothing the child does can
 * change the parent's memory.
 */
bool snapshot_run(bool (*work)(void *arg, int fd), void *arg, int out_fd);

#endif
