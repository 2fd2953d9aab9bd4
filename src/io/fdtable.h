/* SPDX-License-Identifier: MIT */
/*
 * fdtable.h — the process's descriptor table, sized once at goro_main's
 * start (see fdtable.c).
 */
#ifndef GORO_FDTABLE_H
#define GORO_FDTABLE_H

/* Room for this many descriptors is made at start (fewer if
 * RLIMIT_NOFILE is lower). */
#define FDTABLE_RESERVE 65536

/* goro_main's stage: grow the table now.  Never fails: a table that
 * cannot grow is only left as it was.  Returns 0. */
int fdtable_reserve(void);

#endif
