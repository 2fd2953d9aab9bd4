/* SPDX-License-Identifier: MIT */
/*
 * sysmon.h — the monitor thread: a plain thread with no P that watches the
 * Ps and acts on what it sees (see src/sysmon/sysmon.c).
 */
#ifndef GORO_SYSMON_H
#define GORO_SYSMON_H

#include <stdint.h>

/* Start it (goro_main, Ps created) / stop and join it (goro_main end,
 * before the Ms are freed).  sysmon_start: 0 or a negative errno. */
int sysmon_start(void);
void sysmon_stop(void);
/* A timer due at `when` (goro_now) was armed: wake sysmon if it sleeps
 * past then. */
void sysmon_timer_armed(int64_t when);

#endif
