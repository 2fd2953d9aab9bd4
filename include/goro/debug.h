/* SPDX-License-Identifier: MIT */
/*
 * goro/debug.h — the debugger ABI of libgoro: how a tool outside the
 * process (gdump, the gdb extension, your own) finds and reads the
 * goroutine table of a live process or of a core file.
 *
 * libgoro exports one object, `goro_debug_descriptor` (GORO_DEBUG_SYMBOL),
 * of the layout below.  A tool finds it by symbol name, reads it out of
 * the target (its size is in the descriptor itself), and from then on
 * needs no knowledge of libgoro's private structures: every address and
 * offset it follows is here.  All addresses are the target's; all fields
 * are little-endian x86-64 values.
 *
 * Reading the table: the array of G pointers is at *allgs_items_addr and
 * holds *allgs_count_addr entries (copy the count, then that many
 * pointers).  Gs of an earlier goro_main run are still listed until their
 * record is reused: skip those whose generation differs from
 * *generation_addr, and those whose status is status_dead.  Ms form a list
 * from *allm_addr through m_alllink.  A goroutine not running was switched
 * out: at g_ctx_sp is a frame of frame_size bytes holding the
 * callee-saved registers at the frame_* offsets; its stack pointer is
 * g_ctx_sp + frame_size and frame_rip is a return address.  A goroutine
 * whose g_stack_lo is 0 has never run: g_fn is its start function.  A
 * running one (status_running, status_syscall) is on the thread whose M
 * has it as m_curg: unwind it from that thread's registers.
 *
 * Compatibility: GORO_DEBUG_VERSION changes whenever a field changes
 * meaning; fields are only ever appended within a version, and `size`
 * says how much of the structure the library filled in.
 *
 * Installed as <goro/debug.h>; it needs nothing else of goro's.
 */
#ifndef GORO_DEBUG_H
#define GORO_DEBUG_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define GORO_DEBUG_MAGIC "goro-dbg"      /* 8 bytes, no terminator needed */
#define GORO_DEBUG_VERSION 1
#define GORO_DEBUG_SYMBOL "goro_debug_descriptor"
#define GORO_DEBUG_NAME_LEN 24
#define GORO_DEBUG_MAX_STATUS 8
#define GORO_DEBUG_MAX_WAIT 32
#define GORO_DEBUG_MAX_ENTRIES 8

struct goro_debug_descriptor {
	char magic[8];
	uint32_t version;
	uint32_t size;                /* bytes of this structure */

	/* Addresses in the target. */
	uint64_t allgs_items_addr;    /* struct g **  (pointer to the array) */
	uint64_t allgs_count_addr;    /* size_t */
	uint64_t allm_addr;           /* struct m *   (head of the M list) */
	uint64_t running_addr;        /* bool: inside goro_main */
	uint64_t generation_addr;     /* uint32_t: the current run */
	uint64_t goro_start_addr;     /* bottom frame of every goroutine */

	/* struct g: its size and the offsets of the fields a dump prints. */
	uint32_t g_size;
	uint32_t g_id;                /* int64_t */
	uint32_t g_status;            /* uint32_t, index into status_names */
	uint32_t g_wait_reason;       /* uint8_t, index into wait_names */
	uint32_t g_wait_since;        /* int64_t, CLOCK_MONOTONIC ns */
	uint32_t g_name;              /* char[g_name_size], NUL-terminated */
	uint32_t g_name_size;
	uint32_t g_ctx_sp;            /* void *: saved switch frame */
	uint32_t g_async_preempted;   /* bool */
	uint32_t g_parent_id;         /* int64_t, 0 = none */
	uint32_t g_create_pc;         /* uintptr_t: return address of goro_go */
	uint32_t g_fn;                /* entry function (a goroutine not yet run) */
	uint32_t g_stack_lo;          /* void * */
	uint32_t g_stack_hi;          /* void *, NULL until the first run */
	uint32_t g_generation;        /* uint32_t */

	/* struct m */
	uint32_t m_id;                /* int64_t */
	uint32_t m_tid;               /* pid_t */
	uint32_t m_curg;              /* struct g *, NULL on the scheduler */
	uint32_t m_alllink;           /* struct m * */

	/* The switch frame at g_ctx_sp (src/arch/x86_64/arch.h). */
	uint32_t frame_size;
	uint32_t frame_rip, frame_rbp, frame_rbx;
	uint32_t frame_r12, frame_r13, frame_r14, frame_r15;

	/* Status values. */
	uint32_t status_count;
	uint32_t status_idle, status_runnable, status_running, status_syscall,
		 status_waiting, status_dead;
	char status_names[GORO_DEBUG_MAX_STATUS][GORO_DEBUG_NAME_LEN];
	/* Wait reasons, as printed ("chan receive", "sleep", ...). */
	uint32_t wait_count;
	char wait_names[GORO_DEBUG_MAX_WAIT][GORO_DEBUG_NAME_LEN];

	/* The scheduler's functions: the innermost frames of a switched-out
	 * goroutine that are among these are the scheduler's own (which ones
	 * depends on the path taken and on tail calls); dumps leave them out
	 * and start at the goroutine's own call to park or yield. */
	char scheduler_frames[GORO_DEBUG_MAX_ENTRIES][GORO_DEBUG_NAME_LEN];
	/* Frames that interrupted their caller rather than being called by
	 * it (the asynchronous preemption trampoline): the caller's PC is
	 * the interrupted instruction itself, not a return address. */
	char interrupt_frames[GORO_DEBUG_MAX_ENTRIES][GORO_DEBUG_NAME_LEN];

	/* struct g, appended: the deepest stack use the growth faults saw,
	 * bytes below g_stack_hi (a parked goroutine's saved sp may show
	 * deeper use since). */
	uint32_t g_stack_high_water;  /* size_t */
};

static inline bool goro_debug_is_scheduler_frame(
	const struct goro_debug_descriptor *d, const char *function)
{
	for (int i = 0; function && i < GORO_DEBUG_MAX_ENTRIES; i++)
		if (d->scheduler_frames[i][0] &&
		    strncmp(function, d->scheduler_frames[i],
			    GORO_DEBUG_NAME_LEN) == 0)
			return true;
	return false;
}

static inline bool goro_debug_is_interrupt_frame(
	const struct goro_debug_descriptor *d, const char *function)
{
	for (int i = 0; function && i < GORO_DEBUG_MAX_ENTRIES; i++)
		if (d->interrupt_frames[i][0] &&
		    strncmp(function, d->interrupt_frames[i],
			    GORO_DEBUG_NAME_LEN) == 0)
			return true;
	return false;
}

#endif
