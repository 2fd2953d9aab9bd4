/*
 * sysmon.h — the monitor thread: a plain thread with no P that watches the
 * Ps and acts on what it sees (see core/sysmon.c).
 */
#ifndef GORO_SYSMON_H
#define GORO_SYSMON_H

/* Start it (goro_main, Ps created) / stop and join it (goro_main end,
 * before the Ms are freed).  sysmon_start: 0 or a negative errno. */
int sysmon_start(void);
void sysmon_stop(void);

#endif
