/* SPDX-License-Identifier: MIT */
/*
 * notify.h — goro_signal_notify's state as the thread-start path sees it:
 * which signals runtime threads must leave unblocked.
 */
#ifndef GORO_NOTIFY_H
#define GORO_NOTIFY_H

/* Unblock, on the calling thread, every signal some channel is notified
 * of.  Async-signal-safe; called by each M as it starts (src/sched/m.c), so
 * that a thread started from a goroutine whose mask blocks everything
 * still takes the signals goro_signal_notify asked for. */
void signal_notify_unblock_self(void);

#endif
