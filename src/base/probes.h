/* SPDX-License-Identifier: MIT */
/*
 * probes.h — USDT probes: static tracepoints for perf, bpftrace and
 * SystemTap, at the scheduler's events (provider "goro"):
 *
 *	goroutine_create(id, parent_id, fn)   goro_go
 *	goroutine_start(id)                   first run, on its new stack
 *	goroutine_park(id, reason, reason_name)  e.g. reason_name "chan receive"
 *	goroutine_ready(id)                   made runnable by another
 *	goroutine_preempt(id)                 stopped by the preemption signal
 *	goroutine_exit(id)
 *	m_park(m_id), m_unpark(m_id)          a thread idles and wakes
 *
 * A probe compiles to one nop and an ELF note (.note.stapsdt) naming it
 * and where its arguments are: nothing runs unless a tracer attaches,
 * which replaces the nop by a breakpoint.  Without <sys/sdt.h> (Debian's
 * systemtap-sdt-dev) the probes compile to nothing.  Examples of use are
 * in docs/architecture.md.
 */
#ifndef GORO_PROBES_H
#define GORO_PROBES_H

#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define GORO_PROBE1(name, a) STAP_PROBE1(goro, name, a)
#define GORO_PROBE3(name, a, b, c) STAP_PROBE3(goro, name, a, b, c)
#else
#define GORO_PROBE1(name, a) ((void)(a))
#define GORO_PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#endif

#endif
