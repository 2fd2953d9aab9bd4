/* SPDX-License-Identifier: MIT */
/*
 * timerapi.h — the public timer objects (goro_timer_t, goro_ticker_t) as
 * the rest of the runtime uses them: a context's deadline is a timer whose
 * callback runs on the timer's own M.
 */
#ifndef GORO_TIMERAPI_H
#define GORO_TIMERAPI_H

#include <stdint.h>

#include <goro.h>

/* A timer that runs cb(arg) on the M that finds it expired, at goro_now()
 * >= when: cb must not block (it may take runtime locks and ready
 * goroutines).  Stopped and freed with goro_timer_stop/goro_timer_free,
 * which wait for a cb already under way.  NULL and errno on failure. */
goro_timer_t *timer_new_callback(int64_t when, void (*cb)(void *), void *arg);

#endif
