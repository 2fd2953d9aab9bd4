/* SPDX-License-Identifier: MIT */
/*
 * text_ranges.c — where libgoro's code lies, and the registry of
 * thread-agnostic application code (see text_ranges.h).
 *
 * libgoro's code is found once:
 *  - in a static link, through the linker's __start_goro_text and
 *    __stop_goro_text: the archive is one relocatable object whose code
 *    sections are all named goro_text (Makefile.am);
 *  - in a shared libgoro, as the executable segments of the loaded object
 *    that holds this file's code (dl_iterate_phdr, at goro_main's first
 *    start, on the caller's thread; the object never moves afterwards).
 * The call-out section is found through __start_goro_callout in both cases.
 *
 * Readers are signal handlers: every table here is written before it is
 * published with a release store of its length, and is never rewritten.
 *
 * Invariants: the runtime and call-out ranges are set once per process;
 * agnostic entries are append-only.
 */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "arch.h"
#include "text_ranges.h"
#include <goro.h>

#define RUNTIME_RANGES_MAX 8
#define PROGRAM_RANGES_MAX 4
#define AGNOSTIC_MAX 64

struct range {
	uintptr_t lo, hi;
};

/* Linker-made bounds; absent (NULL) where the section does not exist. */
extern const char __start_goro_text[] __attribute__((weak, visibility("hidden")));
extern const char __stop_goro_text[] __attribute__((weak, visibility("hidden")));
extern const char __start_goro_callout[] __attribute__((weak, visibility("hidden")));
extern const char __stop_goro_callout[] __attribute__((weak, visibility("hidden")));

static struct {
	pthread_once_t once;
	int err;
	struct range runtime[RUNTIME_RANGES_MAX];
	_Atomic int nruntime;
	struct range callout;
	struct range runtime_span;   /* lowest to highest runtime address */
	/* The executable's own code (the first object dl_iterate_phdr
	 * reports): written before `once` completes, never again. */
	struct range program[PROGRAM_RANGES_MAX];
	int nprogram;
} code = { .once = PTHREAD_ONCE_INIT };

static struct {
	pthread_mutex_t lock;        /* writers only */
	struct range r[AGNOSTIC_MAX];
	_Atomic int n;
} agnostic = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool in(const struct range *r, uintptr_t pc)
{
	return pc >= r->lo && pc < r->hi;
}

static void add_runtime(uintptr_t lo, uintptr_t hi)
{
	int n = atomic_load_explicit(&code.nruntime, memory_order_relaxed);
	if (n == RUNTIME_RANGES_MAX || lo >= hi)
		return;
	code.runtime[n] = (struct range){ lo, hi };
	if (!code.runtime_span.lo || lo < code.runtime_span.lo)
		code.runtime_span.lo = lo;
	if (hi > code.runtime_span.hi)
		code.runtime_span.hi = hi;
	atomic_store_explicit(&code.nruntime, n + 1, memory_order_release);
}

struct find {
	bool found;
	bool in_executable;
};

static int find_libgoro(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct find *f = arg;
	uintptr_t self = (uintptr_t)text_ranges_init;
	bool mine = false;
	for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		mine = ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz;
	}
	if (!mine)
		return 0;
	/* The first object is the executable: libgoro linked in whole,
	 * without a goro_text section, is indistinguishable from the
	 * application. */
	f->found = true;
	f->in_executable = info->dlpi_name == NULL || info->dlpi_name[0] == '\0';
	if (f->in_executable)
		return 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
			add_runtime(info->dlpi_addr + ph->p_vaddr,
				    info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
	}
	return 1;
}

static int find_program(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) ||
		    code.nprogram == PROGRAM_RANGES_MAX)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		code.program[code.nprogram++] =
			(struct range){ lo, lo + ph->p_memsz };
	}
	return 1;  /* the first object only */
}

static void locate(void)
{
	dl_iterate_phdr(find_program, NULL);
	if (__start_goro_callout)
		code.callout = (struct range){ (uintptr_t)__start_goro_callout,
					       (uintptr_t)__stop_goro_callout };
	if (__start_goro_text) {
		add_runtime((uintptr_t)__start_goro_text, (uintptr_t)__stop_goro_text);
		if (code.callout.lo)
			add_runtime(code.callout.lo, code.callout.hi);
		return;
	}
	struct find f = { 0 };
	dl_iterate_phdr(find_libgoro, &f);
	if (!f.found || f.in_executable)
		code.err = -ENOEXEC;
}

int text_ranges_init(void)
{
	pthread_once(&code.once, locate);
	return code.err;
}

bool text_ranges_runtime_separable(void)
{
	return code.err == 0 &&
	       atomic_load_explicit(&code.nruntime, memory_order_acquire) > 0;
}

bool text_is_runtime(uintptr_t pc)
{
	if (pc < code.runtime_span.lo || pc >= code.runtime_span.hi)
		return false;
	int n = atomic_load_explicit(&code.nruntime, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (in(&code.runtime[i], pc))
			return true;
	return false;
}

bool text_is_program(uintptr_t pc)
{
	for (int i = 0; i < code.nprogram; i++)
		if (in(&code.program[i], pc))
			return !text_is_runtime(pc);
	return false;
}

/* Not instrumented: the words are a goroutine's live stack, whose frames
 * ASan poisons between their variables. */
__attribute__((no_sanitize("address")))
bool text_runtime_frame_in(const uintptr_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uintptr_t w = words[i];
		/* The span test rejects almost every word at once. */
		if (w < code.runtime_span.lo || w >= code.runtime_span.hi)
			continue;
		if (in(&code.callout, w) || !text_is_runtime(w))
			continue;
		/* A return address follows a call; the span starts well
		 * before any code that could be one (ELF headers, PLT). */
		if (w - code.runtime_span.lo >= ARCH_CALL_MAX_LEN &&
		    arch_follows_call(w))
			return true;
	}
	return false;
}

bool text_is_agnostic(uintptr_t pc)
{
	int n = atomic_load_explicit(&agnostic.n, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (in(&agnostic.r[i], pc))
			return true;
	return false;
}

int goro_thread_agnostic_register(const void *start, const void *end)
{
	uintptr_t lo = (uintptr_t)start, hi = (uintptr_t)end;
	if (!start || !end || lo >= hi)
		return -EINVAL;
	if (text_ranges_init() == 0 && (text_is_runtime(lo) || text_is_runtime(hi - 1)))
		return -EINVAL;  /* the runtime's own code never migrates */
	int err = 0;
	pthread_mutex_lock(&agnostic.lock);
	int n = atomic_load_explicit(&agnostic.n, memory_order_relaxed);
	for (int i = 0; i < n; i++)
		if (agnostic.r[i].lo == lo && agnostic.r[i].hi == hi)
			goto out;  /* registered already (a second constructor run) */
	if (n == AGNOSTIC_MAX) {
		err = -ENOSPC;
		goto out;
	}
	agnostic.r[n] = (struct range){ lo, hi };
	atomic_store_explicit(&agnostic.n, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&agnostic.lock);
	return err;
}
