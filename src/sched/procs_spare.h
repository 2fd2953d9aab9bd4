/* SPDX-License-Identifier: MIT */
/*
 * procs_spare.h — what a P carries as one of sysmon's spares (struct p's
 * `spare`): a sub-struct declared by the P's home (procs.c), which makes,
 * lends and frees spares; sysmon (src/sysmon/retake.c) keeps its CPU mark.
 */
#ifndef GORO_PROCS_SPARE_H
#define GORO_PROCS_SPARE_H

#include <stdbool.h>
#include <stdint.h>

struct p;

struct p_spare {
	bool is_spare;               /* lent to an M whose own P sysmon handed
	                                on while its thread slept in the
	                                kernel; never in allp */
	struct p *next;              /* every spare, under procs.c's spare
	                                lock */
	int64_t cpu_mark;            /* sysmon only: the borrowing thread's CPU
	                                time at its last look */
};

#endif
