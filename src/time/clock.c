/* SPDX-License-Identifier: MIT */
/*
 * clock.c — goro_now(): the runtime's clock for applications, and a
 * preemption point (see clock.h).
 */
#include "clock.h"
#include "scheduler.h"
#include <goro.h>

int64_t goro_now(void)
{
	int64_t now = rt_now();
	sched_preempt_point();
	return now;
}
