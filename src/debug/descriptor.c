/* SPDX-License-Identifier: MIT */
/*
 * descriptor.c — goro_debug_descriptor: where gdump finds the goroutine
 * table and how to read it (layout and rules in descriptor.h).
 *
 * The only exported data object of libgoro; its name starts with goro_ so
 * the export filter keeps it, and it lives as long as the library does.
 */
#include <stddef.h>
#include <string.h>

#include "descriptor.h"
#include "goroutine.h"
#include "preempt.h"
#include "scheduler.h"

#define OFF(type, field) ((uint32_t)offsetof(struct type, field))
#define FRAME_NAME(fn) #fn,
#define FRAME_COUNT(fn) + 1

_Static_assert(0 SCHED_HIDDEN_FRAMES(FRAME_COUNT)
	       PREEMPT_HIDDEN_FRAMES(FRAME_COUNT) <= GORO_DEBUG_MAX_ENTRIES,
	       "grow GORO_DEBUG_MAX_ENTRIES (and GORO_DEBUG_VERSION)");

_Static_assert(WAIT_REASON_COUNT <= GORO_DEBUG_MAX_WAIT,
	       "grow GORO_DEBUG_MAX_WAIT (and GORO_DEBUG_VERSION)");
_Static_assert(G_DEAD < GORO_DEBUG_MAX_STATUS, "too many G states");

__attribute__((visibility("default"), used))
struct goro_debug_descriptor goro_debug_descriptor = {
	.magic = GORO_DEBUG_MAGIC,
	.version = GORO_DEBUG_VERSION,
	.size = sizeof(struct goro_debug_descriptor),

	.allgs_items_addr = (uint64_t)(uintptr_t)&allgs.items,
	.allgs_count_addr = (uint64_t)(uintptr_t)&allgs.count,
	.allm_addr = (uint64_t)(uintptr_t)&sched.allm,
	.running_addr = (uint64_t)(uintptr_t)&sched.running,
	.generation_addr = (uint64_t)(uintptr_t)&sched.generation,
	.goro_start_addr = (uint64_t)(uintptr_t)goro_start,

	.g_size = sizeof(struct g),
	.g_id = OFF(g, id),
	.g_status = OFF(g, status),
	.g_wait_reason = OFF(g, wait_reason),
	.g_wait_since = OFF(g, wait_since),
	.g_name = OFF(g, name),
	.g_name_size = G_NAME_MAX,
	.g_ctx_sp = OFF(g, ctx.sp),
	.g_async_preempted = OFF(g, async_preempted),
	.g_parent_id = OFF(g, parent_id),
	.g_create_pc = OFF(g, create_pc),
	.g_fn = OFF(g, fn),
	.g_stack_lo = OFF(g, stack.lo),
	.g_stack_hi = OFF(g, stack.hi),
	.g_generation = OFF(g, generation),

	.m_id = OFF(m, id),
	.m_tid = OFF(m, tid),
	.m_curg = OFF(m, curg),
	.m_alllink = OFF(m, alllink),

	.frame_size = sizeof(struct arch_switch_frame),
	.frame_rip = OFF(arch_switch_frame, rip),
	.frame_rbp = OFF(arch_switch_frame, rbp),
	.frame_rbx = OFF(arch_switch_frame, rbx),
	.frame_r12 = OFF(arch_switch_frame, r12),
	.frame_r13 = OFF(arch_switch_frame, r13),
	.frame_r14 = OFF(arch_switch_frame, r14),
	.frame_r15 = OFF(arch_switch_frame, r15),

	.status_count = G_DEAD + 1,
	.status_idle = G_IDLE,
	.status_runnable = G_RUNNABLE,
	.status_running = G_RUNNING,
	.status_syscall = G_SYSCALL,
	.status_waiting = G_WAITING,
	.status_dead = G_DEAD,
	.wait_count = WAIT_REASON_COUNT,
	.scheduler_frames = {
		SCHED_HIDDEN_FRAMES(FRAME_NAME)
		PREEMPT_HIDDEN_FRAMES(FRAME_NAME)
	},
	.interrupt_frames = { "goro_preempt_trampoline" },
	.g_stack_high_water = OFF(g, stack.high_water),
};

/* The state labels and the wait reasons' names come from the tables that
 * define them (g_status_name, wait_reason_name), copied in when the
 * library is loaded. */
__attribute__((constructor))
static void descriptor_fill_names(void)
{
	for (int s = 0; s <= G_DEAD; s++)
		strncpy(goro_debug_descriptor.status_names[s],
			g_status_name((enum g_status)s),
			GORO_DEBUG_NAME_LEN - 1);
	for (int r = 0; r < WAIT_REASON_COUNT; r++)
		strncpy(goro_debug_descriptor.wait_names[r],
			wait_reason_name((enum wait_reason)r),
			GORO_DEBUG_NAME_LEN - 1);
}
