/* SPDX-License-Identifier: MIT */
/*
 * fdtable.c — the descriptor table is grown once, before the runtime's
 * threads exist, so that a later descriptor never stalls an M.
 *
 * Why: Linux grows a process's descriptor table by doubling it, and when
 * more than one thread shares the table the thread that grows it waits for
 * an RCU grace period (milliseconds on a small VM); every other thread
 * that allocates a descriptor meanwhile (an eventfd, an accept, sysmon's
 * reads of /proc) sleeps until it is done.  An M asleep there holds its P,
 * and sysmon is asleep too: with 1,000 goroutines each making a
 * descriptor (a lookup's eventfd), a 1 ms sleeper on the same Ps woke
 * 10-20 ms late, once per doubling from 64 to 2048.  Grown here, while
 * goro_main's thread is usually the only one, the growth costs no grace
 * period at all.
 *
 * How: F_DUPFD at FDTABLE_RESERVE - 1 (or the soft RLIMIT_NOFILE, if
 * lower) takes the lowest free descriptor at or above it, so nothing the
 * application holds is touched; the duplicate is closed at once, and the
 * table keeps its size.  Beyond the reserve, growth costs what it always
 * did.  The reserve is the soft limit, up to 65,536 (512 KiB of kernel
 * table): a 4,096 reserve left a server making 16,000 descriptors with a
 * 1 ms sleeper 8-20 ms late, twice.
 */
#include <fcntl.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "fdtable.h"

int fdtable_reserve(void)
{
	struct rlimit lim;
	long want = FDTABLE_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    (long)lim.rlim_cur < want)
		want = (long)lim.rlim_cur;
	if (want < 2)
		return 0;
	int probe = eventfd(0, EFD_CLOEXEC);
	if (probe < 0)
		return 0;
	int high = fcntl(probe, F_DUPFD_CLOEXEC, (int)want - 1);
	if (high >= 0)
		close(high);
	close(probe);
	return 0;
}
