/* SPDX-License-Identifier: MIT */
/*
 * stack.c — goroutine stacks (the layout and the life of a stack are
 * described in stack.h).
 *
 * Why this shape:
 *  - Slots are carved from 64 GiB MAP_NORESERVE regions, one region per
 *    size class (slot sizes are powers of two, the smallest that holds the
 *    limit; the limit includes the hard guard page).  A million stacks are
 *    then a few mappings, not a million, and cost only the pages they
 *    touch: the top page, and a share of the page-table page mapping it.
 *  - Guards: MADV_GUARD_INSTALL (Linux 6.13+) marks page-table entries
 *    without splitting the mapping, so a guarded stack costs no mapping.
 *    With the mprotect fallback every stack in use splits its region twice
 *    (PROT_NONE below, read-write above), so vm.max_map_count caps the
 *    number of such stacks; past most of that budget, stacks come in
 *    groups that share one guard (GROUP_SLOTS), and stack_reserve() turns
 *    what is left of the cap into -EAGAIN at spawn.
 *  - Every slot sits above a gap of guard pages (STACK_GAP): code built
 *    without -fstack-clash-protection moves its stack pointer past a whole
 *    large frame at once, and the gap is what its first write past the
 *    limit meets instead of the slot below.
 *  - A stack starts with STACK_INITIAL bytes open and doubles on each fault
 *    below them, down to the faulting page or the stack pointer, whichever
 *    is lower: a frame that skipped pages may have written anywhere above
 *    its stack pointer, and the guards installed below the open part must
 *    never cover such a page (installing a guard discards the page).  The
 *    guards are what tell a stack that has stayed shallow (reused for
 *    free) from one that went deep (its deep pages are given back before
 *    the slot serves again), and where the stack's high-water mark comes
 *    from.
 *  - Dead stacks stay on their P (STACK_CACHE_MAX, warm, nothing to do to
 *    reuse a shallow one; a deep one is closed back to STACK_KEEP when
 *    reused) and overflow to a per-class free list, closed back to their
 *    first segment.  Nothing is unmapped before goro_main ends.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "lock.h"
#include "runtime.h"
#include "sanitizer.h"
#include "stack.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define STACK_VALGRIND 1
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096UL
#define STACK_INITIAL (8 * 1024UL)     /* first segment: one or two pages */
/* What a stack reused from its P's cache keeps open: a goroutine that went
 * a little deeper than STACK_INITIAL (printf alone takes a few KiB) would
 * otherwise cost the next one a growth fault and fresh pages, every time.
 * A power-of-two multiple of STACK_INITIAL, so segments still double. */
#define STACK_KEEP (32 * 1024UL)
#define REGION_SIZE (64UL << 30)
#define CLASS_MIN 14                   /* 16 KiB slots */
#define CLASS_MAX 30                   /* 1 GiB slots, the largest limit */
#define MAX_REGIONS 2048               /* 128 TiB: all the address space */
/* Never-used slots are prepared this many at a time (madvise guards). */
#define FRESH_BATCH 32
/* Mappings left for everything else (thread stacks, jemalloc, libraries)
 * when the mprotect budget is computed. */
#define MAP_COUNT_HEADROOM 4096
/*
 * The gap: guard pages below every slot, so that a frame that skips pages
 * (code built without -fstack-clash-protection) and lands up to 1 MiB past
 * its goroutine's limit faults instead of writing into the slot below.
 * Address space only: with mprotect guards it is part of the PROT_NONE
 * mapping already there; with madvise guards it costs page-table entries
 * (guard markers), 2 KiB of page-table page per slot.
 */
#define STACK_GAP ((1UL << 20) + PAGE)
/* With madvise guards, how far below the open part the guard pages reach
 * (the whole slot at the default limit).  Below that, in slots larger than
 * this, is plain memory: a frame that skips that far is still safe (growth
 * sizes itself from the stack pointer, and never guards a page above it),
 * but a system call given a buffer there may stop at the guard band. */
#define GUARD_SPAN (1UL << 20)
/*
 * The mprotect fallback's way past vm.max_map_count: a stack with guards of
 * its own splits its region into two mappings, so only so many can exist.
 * Past GROUP_SHARE-1 in GROUP_SHARE of the budget, slots come in groups of
 * GROUP_SLOTS, opened read-write together: two mappings per group, the gap
 * below the group's lowest slot its only guard.  A grouped stack is all
 * open from the start (no growth faults; trimmed when it goes back to the
 * free list) and its gap is plain memory, never touched: a frame up to
 * 1 MiB past the limit lands there, not in the slot below, but nothing
 * reports it, and an overflow deeper than that (runaway recursion) reaches
 * the stack below.
 */
#define GROUP_SLOTS 256
#define GROUP_SHARE 8
/* The x86-64 red zone: a function may use this much below its stack
 * pointer without moving it. */
#define RED_ZONE 128
/* What stack_commit_range keeps open below its own stack pointer for the
 * frames it calls (growth itself, a system call wrapper). */
#define COMMIT_SLACK (2 * PAGE)

/*
 * The default limit.  Each stack top needs a page-table page of its own
 * when slots are 2 MiB or larger: with many parked goroutines that page
 * costs about as much memory as the goroutine's own stack, and creating a
 * goroutine is dominated by the kernel zeroing it (goro-bench stack
 * measures both), while with 256 KiB slots eight stack tops share a
 * page-table page.  256 KiB is also
 * what libmill and libdill give their coroutines; GORO_STACK_MAX and
 * goro_attr_t.stack_max raise it.
 */
#define STACK_DEFAULT_MAX (256 * 1024UL)

size_t stack_default_max = STACK_DEFAULT_MAX;

/* Bases of dead, trimmed slots. */
struct slot_list {
	char **bases;
	size_t n;
	size_t cap;
};

/* All under lock. */
struct size_class {
	struct rlock lock;
	char *bump;           /* next never-used slot in the newest region */
	char *bump_end;
	struct slot_list free;        /* slots with guards of their own */
	struct slot_list group_free;  /* mprotect fallback: grouped slots */
	char *group_next;     /* never-used slots of the newest group */
	char *group_end;
};

static struct {
	bool madvise_guards;
	int pidfd;                      /* this process, for process_madvise */
	/* The mprotect fallback's budget, in stacks: those with guards of
	 * their own (guard_cap, two mappings each) and those in groups
	 * (group_cap slots, in at most group_units groups). */
	size_t mprotect_cap;            /* guard_cap + group_cap */
	size_t guard_cap;
	size_t group_cap;
	size_t group_units;
	_Atomic size_t mprotect_used;   /* bound or cached slots + unbound
					   reservations, both kinds */
	_Atomic size_t guarded;         /* split slots, bound or cached */
	_Atomic size_t groups_made;
	_Atomic bool warned;
	long max_map_count;
	struct rlock regions_lock;
	struct region {
		void *base;
		size_t size;
	} regions[MAX_REGIONS];
	int nregions;
	struct size_class classes[CLASS_MAX + 1];
} stk;

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

static unsigned class_of(size_t max)
{
	unsigned c = CLASS_MIN;
	while ((1UL << c) < max)
		c++;
	return c;
}

/* Slots of 2^c bytes each sit above their own STACK_GAP. */
static size_t slot_stride(unsigned c)
{
	return (1UL << c) + STACK_GAP;
}

static char *slot_base(const struct goro_stack *st)
{
	return st->hi - (1UL << st->size_class);
}

/* The lowest address of the slot's gap. */
static char *slot_floor(const struct goro_stack *st)
{
	return slot_base(st) - STACK_GAP;
}

/* Madvise guards: the lowest address the guard band below a stack with
 * `committed` bytes open must reach; from there down to the slot's base
 * the memory may be plain (only in slots larger than GUARD_SPAN). */
static char *band_lo(const struct goro_stack *st, size_t committed)
{
	size_t below = (size_t)(st->hi - slot_base(st)) - committed;
	return st->hi - committed - (below < GUARD_SPAN ? below : GUARD_SPAN);
}

/* The limit less its hard guard page. */
static size_t stack_usable(const struct goro_stack *st)
{
	return (size_t)(st->hi - st->lo);
}

/* ---- setup ------------------------------------------------------------------ */

static long read_long_file(const char *path, long fallback)
{
	long v = fallback;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = fallback;
		fclose(f);
	}
	return v;
}

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	long n = 0;
	int c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static bool kernel_has_guard_madvise(void)
{
	void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	bool ok = madvise(p, PAGE, MADV_GUARD_INSTALL) == 0;
	munmap(p, 2 * PAGE);
	return ok;
}

int stack_init(void)
{
	if (config.stack_max > (1UL << CLASS_MAX)) {
		fprintf(stderr, "goro: GORO_STACK_MAX=%zu is not valid: at most "
				"1G\n", config.stack_max);
		return -EINVAL;
	}
	stack_default_max = config.stack_max ? config.stack_max
					     : STACK_DEFAULT_MAX;
	stk.madvise_guards = config.stack_guard != STACK_GUARD_MPROTECT &&
			     kernel_has_guard_madvise();
	atomic_store(&stk.mprotect_used, 0);
	atomic_store(&stk.guarded, 0);
	atomic_store(&stk.groups_made, 0);
	atomic_store(&stk.warned, false);
	stk.mprotect_cap = stk.guard_cap = stk.group_cap = stk.group_units = 0;
	stk.pidfd = stk.madvise_guards ?
		(int)syscall(SYS_pidfd_open, getpid(), 0) : -1;
	if (!stk.madvise_guards) {
		stk.max_map_count = read_long_file("/proc/sys/vm/max_map_count",
						   65530);
		long spare = stk.max_map_count - count_maps() - MAP_COUNT_HEADROOM;
		size_t pairs = spare > 0 ? (size_t)spare / 2 : 0;
		stk.group_units = pairs / GROUP_SHARE;
		stk.guard_cap = pairs - stk.group_units;
		stk.group_cap = stk.group_units * GROUP_SLOTS;
		stk.mprotect_cap = stk.guard_cap + stk.group_cap;
	}
	return 0;
}

void stack_shutdown(void)
{
	/* Whatever is mapped here next must not inherit ASan poison: it can
	 * only be in the first segment of the free slots (the others closed
	 * theirs, stack_discard cleared the abandoned ones). */
	for (unsigned c = CLASS_MIN; stk.madvise_guards && c <= CLASS_MAX; c++) {
		struct size_class *cls = &stk.classes[c];
		for (size_t i = 0; i < cls->free.n; i++)
			sanitizer_stack_fresh(cls->free.bases[i] + (1UL << c) -
					      STACK_INITIAL, STACK_INITIAL);
	}
	for (int i = 0; i < stk.nregions; i++)
		munmap(stk.regions[i].base, stk.regions[i].size);
	stk.nregions = 0;
	if (stk.pidfd >= 0)
		close(stk.pidfd);
	stk.pidfd = -1;
	for (int c = 0; c <= CLASS_MAX; c++) {
		struct size_class *cls = &stk.classes[c];
		rt_free(cls->free.bases, cls->free.cap * sizeof(char *));
		rt_free(cls->group_free.bases,
			cls->group_free.cap * sizeof(char *));
		memset(cls, 0, sizeof(*cls));
	}
}

/* ---- the mprotect mapping budget ------------------------------------------------ */

static void warn_map_count(void)
{
	bool was = false;
	if (!atomic_compare_exchange_strong(&stk.warned, &was, true))
		return;
	fprintf(stderr,
		"goro: cannot create more goroutines: with mprotect stack guards "
		"(GORO_STACK_GUARD=mprotect, or a kernel without "
		"MADV_GUARD_INSTALL) vm.max_map_count=%ld allows about %zu "
		"stacks (%zu of them with guard pages of their own, the others "
		"in groups of %d); raise it (sysctl -w vm.max_map_count=N) or "
		"use Linux 6.13+\n",
		stk.max_map_count, stk.mprotect_cap, stk.guard_cap, GROUP_SLOTS);
}

int stack_reserve(void)
{
	if (stk.madvise_guards)
		return 0;
	size_t used = atomic_fetch_add_explicit(&stk.mprotect_used, 1,
						memory_order_relaxed);
	if (used >= stk.mprotect_cap) {
		atomic_fetch_sub_explicit(&stk.mprotect_used, 1,
					  memory_order_relaxed);
		warn_map_count();
		return -EAGAIN;
	}
	return 0;
}

void stack_unreserve(void)
{
	if (!stk.madvise_guards)
		atomic_fetch_sub_explicit(&stk.mprotect_used, 1,
					  memory_order_relaxed);
}

/* ---- opening and closing segments ------------------------------------------------- */

/* Guard pages over [lo, hi) (madvise mode), or remove them. */
static int set_guard(char *lo, char *hi, int advice)
{
	if (lo >= hi)
		return 0;
	return madvise(lo, (size_t)(hi - lo), advice) == 0 ? 0 : -errno;
}

/*
 * Open [hi - to, hi - from): the stack's committed part grows from `from`
 * bytes to `to`.  Whoever calls this has made sure that nothing live lies
 * below hi - to (the fault handler: the interrupted stack pointer less the
 * red zone is above it), because with madvise guards the band is extended
 * below it first, and installing a guard discards a page's contents.
 * System calls only: called from the fault handler.
 */
static int open_segments(struct goro_stack *st, size_t from, size_t to)
{
	if (stk.madvise_guards) {
		/* The band first: the stack is never unguarded.  Never
		 * above hi - to: growth may have jumped past the band, into
		 * plain memory a frame has written. */
		char *band_top = st->band < st->hi - to ? st->band : st->hi - to;
		char *lo = band_lo(st, to);
		int err = set_guard(lo, band_top, MADV_GUARD_INSTALL);
		if (!err && lo < st->band)
			st->band = lo;
		if (!err)
			err = set_guard(st->hi - to, st->hi - from,
					MADV_GUARD_REMOVE);
		return err;
	}
	if (mprotect(st->hi - to, to - from, PROT_READ | PROT_WRITE) != 0)
		return -errno;
	return 0;
}

/* Close what lies below the first `keep` bytes, giving its memory back. */
static void close_segments(struct goro_stack *st, size_t keep)
{
	size_t len = st->committed - keep;
	char *below = st->hi - st->committed;
	if (stk.madvise_guards) {
		if (!len)
			return;
		/* Installing a guard gives the page back. */
		set_guard(below, st->hi - keep, MADV_GUARD_INSTALL);
		/* A frame that skipped the band may have touched plain
		 * memory below it (slots larger than GUARD_SPAN only). */
		if (st->band > slot_base(st))
			madvise(slot_base(st), (size_t)(st->band - slot_base(st)),
				MADV_DONTNEED);
	} else {
		if (!len)
			return;
		mprotect(below, len, PROT_NONE);
		madvise(below, len, MADV_DONTNEED);
	}
	/* ASan keeps shadow memory whatever happens to the pages: poison is
	 * only ever left in the committed part, so clear it as it closes. */
	sanitizer_stack_fresh(below, len);
	st->committed = keep;
}

/* ---- slots ------------------------------------------------------------------------ */

/* A new region for slots of 2^c bytes (each above its gap): REGION_SIZE,
 * or less where the address space is limited (RLIMIT_AS), down to a single
 * slot. */
static int region_add(struct size_class *cls, unsigned c)
{
	int prot = stk.madvise_guards ? PROT_READ | PROT_WRITE : PROT_NONE;
	size_t stride = slot_stride(c);
	size_t size = REGION_SIZE > stride ? REGION_SIZE : stride;
	void *r = MAP_FAILED;
	rlock_lock(&stk.regions_lock);
	int n = stk.nregions;
	if (n < MAX_REGIONS) {
		for (; size >= stride; size /= 4) {
			r = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_NORESERVE, -1, 0);
			if (r != MAP_FAILED)
				break;
		}
	}
	if (r != MAP_FAILED) {
		stk.regions[n].base = r;
		stk.regions[n].size = size;
		stk.nregions = n + 1;
		cls->bump = r;
		cls->bump_end = (char *)r + size / stride * stride;
	}
	rlock_unlock(&stk.regions_lock);
	return r == MAP_FAILED ? -ENOMEM : 0;
}

/*
 * Guard never-used slots of 2^c bytes below their first segment, gap
 * included (madvise mode), and fault in their top pages: one
 * process_madvise() per batch instead of a madvise() and a page fault per
 * slot.  Where process_madvise() cannot (an old kernel, a forked child's
 * stale pidfd), one madvise() each.
 */
static int prepare_fresh(char *const *his, int n, unsigned c)
{
	struct iovec guards[2 * FRESH_BATCH], tops[FRESH_BATCH];
	int ng = 0;
	long total = 0;
	for (int i = 0; i < n; i++) {
		struct goro_stack st = { .hi = his[i], .size_class = (uint8_t)c };
		char *band = band_lo(&st, STACK_INITIAL);
		char *floor = slot_floor(&st);
		if (band > slot_base(&st)) {  /* plain memory in between */
			guards[ng].iov_base = floor;
			guards[ng++].iov_len = STACK_GAP;
			floor = band;
		}
		guards[ng].iov_base = floor;
		guards[ng++].iov_len = (size_t)(his[i] - STACK_INITIAL - floor);
		tops[i].iov_base = his[i] - PAGE;
		tops[i].iov_len = PAGE;
	}
	for (int i = 0; i < ng; i++)
		total += (long)guards[i].iov_len;
	if (stk.pidfd >= 0 &&
	    syscall(SYS_process_madvise, stk.pidfd, guards, (size_t)ng,
		    MADV_GUARD_INSTALL, 0) == total) {
		/* Only a head start: a page it could not fault in now will
		 * be faulted in on first use. */
		syscall(SYS_process_madvise, stk.pidfd, tops, (size_t)n,
			MADV_POPULATE_WRITE, 0);
		return 0;
	}
	for (int i = 0; i < ng; i++) {
		char *lo = guards[i].iov_base;
		int err = set_guard(lo, lo + guards[i].iov_len, MADV_GUARD_INSTALL);
		if (err)
			return err;
	}
	return 0;
}

static char *slot_list_pop(struct slot_list *l)
{
	return l->n ? l->bases[--l->n] : NULL;
}

/* False when out of memory: the slot then stays unused until goro_main
 * ends; only its address space is lost. */
static bool slot_list_push(struct slot_list *l, char *base)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		char **bases = rt_realloc(l->bases, l->cap * sizeof(char *),
					  cap * sizeof(char *));
		if (!bases)
			return false;
		l->bases = bases;
		l->cap = cap;
	}
	l->bases[l->n++] = base;
	return true;
}

/* Never-used slots of class c, up to want of them, in address order, from
 * the newest region (a new one if it is full): their tops in his.  Their
 * number, or a negative errno. */
static int slot_carve(struct size_class *cls, unsigned c, char **his,
		      int want)
{
	if (cls->bump == cls->bump_end) {
		int err = region_add(cls, c);
		if (err)
			return err;
	}
	int n = 0;
	do {
		cls->bump += slot_stride(c);
		his[n++] = cls->bump;
	} while (n < want && cls->bump < cls->bump_end);
	return n;
}

/*
 * Mprotect fallback, once the stacks with guards of their own have used
 * their share of the budget: a grouped slot (see GROUP_SLOTS), all open.
 * Its top in *hi.  Called with cls->lock held.
 */
static int slot_take_grouped(struct size_class *cls, unsigned c, char **hi)
{
	char *base = slot_list_pop(&cls->group_free);
	if (base) {
		*hi = base + (1UL << c);
		return 0;
	}
	if (cls->group_next == cls->group_end) {
		/* A new group: as many slots as the region still holds, up
		 * to GROUP_SLOTS, open above the gap of the lowest. */
		if (atomic_fetch_add_explicit(&stk.groups_made, 1,
					      memory_order_relaxed) >=
		    stk.group_units) {
			atomic_fetch_sub_explicit(&stk.groups_made, 1,
						  memory_order_relaxed);
			return -EAGAIN;
		}
		/* A whole group where the regions can hold one: the budget
		 * counts GROUP_SLOTS slots per group (slots over 256 MiB
		 * make smaller groups, and may run out before the budget). */
		size_t room = (size_t)(cls->bump_end - cls->bump) /
			      slot_stride(c);
		if (room == 0 || (room < GROUP_SLOTS &&
				  REGION_SIZE / slot_stride(c) >= GROUP_SLOTS)) {
			int err = region_add(cls, c);
			if (err) {
				atomic_fetch_sub_explicit(&stk.groups_made, 1,
							  memory_order_relaxed);
				return err;
			}
		}
		char *first = cls->bump;
		room = (size_t)(cls->bump_end - first) / slot_stride(c);
		size_t n = room < GROUP_SLOTS ? room : GROUP_SLOTS;
		char *end = first + n * slot_stride(c);
		char *open = first + STACK_GAP;
		if (mprotect(open, (size_t)(end - open),
			     PROT_READ | PROT_WRITE) != 0) {
			int err = errno == ENOMEM ? -EAGAIN : -errno;
			atomic_fetch_sub_explicit(&stk.groups_made, 1,
						  memory_order_relaxed);
			return err;
		}
		cls->bump = end;
		cls->group_next = first;
		cls->group_end = end;
	}
	cls->group_next += slot_stride(c);
	*hi = cls->group_next;
	return 0;
}

/*
 * A slot whose pages are all closed (mprotect) or whose guard band sits
 * below its first segment (madvise): from the free list or never used.
 * With madvise guards, never-used slots come FRESH_BATCH at a time and the
 * spare ones go to the cache (room permitting).  With mprotect guards, a
 * grouped slot once guarded ones have used their share of the budget.
 */
static int slot_take_clean(struct stack_cache *cache, unsigned c,
			   struct goro_stack *st)
{
	struct size_class *cls = &stk.classes[c];
	char *his[FRESH_BATCH];
	int n = 1;
	bool fresh = false, grouped = false;
	if (!stk.madvise_guards &&
	    atomic_fetch_add_explicit(&stk.guarded, 1, memory_order_relaxed) >=
	    stk.guard_cap) {
		atomic_fetch_sub_explicit(&stk.guarded, 1, memory_order_relaxed);
		grouped = true;
	}
	rlock_lock(&cls->lock);
	int err = 0;
	if (grouped) {
		err = slot_take_grouped(cls, c, &his[0]);
		if (err == -EAGAIN) {
			/* No group left (slots over 256 MiB make groups
			 * smaller than the budget counts): a slot with guards
			 * of its own, from the mappings' headroom, if any. */
			grouped = false;
			err = 0;
			atomic_fetch_add_explicit(&stk.guarded, 1,
						  memory_order_relaxed);
		}
	}
	char *base = grouped ? NULL : slot_list_pop(&cls->free);
	if (base) {
		his[0] = base + (1UL << c);
	} else if (!grouped) {
		int room = STACK_CACHE_MAX - cache->count;
		int want = !stk.madvise_guards ? 1 :
			   room < FRESH_BATCH - 1 ? room + 1 : FRESH_BATCH;
		n = slot_carve(cls, c, his, want);
		if (n < 0)
			err = n;
		fresh = true;
	}
	rlock_unlock(&cls->lock);
	memset(st, 0, sizeof(*st));
	if (!err) {
		st->hi = his[0];
		st->size_class = (uint8_t)c;
		st->grouped = grouped;
		if (grouped)
			return 0;  /* all open: stack_bind sets committed */
		if (!stk.madvise_guards)
			err = open_segments(st, 0, STACK_INITIAL);
		else if (fresh)
			err = prepare_fresh(his, n, c);
	}
	if (err) {
		if (!stk.madvise_guards && !grouped)
			atomic_fetch_sub_explicit(&stk.guarded, 1,
						  memory_order_relaxed);
		memset(st, 0, sizeof(*st));
		return err == -ENOMEM ? -EAGAIN : err;
	}
	st->committed = STACK_INITIAL;
	/* From the free list, the band may reach lower: not below this. */
	st->band = stk.madvise_guards ? band_lo(st, STACK_INITIAL) : NULL;
	for (int i = 1; i < n; i++) {
		struct goro_stack *spare = &cache->items[cache->count++];
		memset(spare, 0, sizeof(*spare));
		spare->hi = his[i];
		spare->size_class = (uint8_t)c;
		spare->committed = STACK_INITIAL;
		spare->band = band_lo(spare, STACK_INITIAL);
	}
	return 0;
}

/* Back to the free list of its class, trimmed to a clean slot. */
static void slot_put_clean(struct goro_stack *st)
{
	struct size_class *cls = &stk.classes[st->size_class];
	struct slot_list *list = &cls->free;
	if (st->grouped) {
		/* Its gap too: a frame past the limit may have touched it.
		 * ASan's poison goes for the whole slot, since nothing else
		 * clears a free grouped slot's top before goro_main ends. */
		char *floor = slot_floor(st), *keep = st->hi - STACK_INITIAL;
		madvise(floor, (size_t)(keep - floor), MADV_DONTNEED);
		sanitizer_stack_fresh(slot_base(st),
				      (size_t)(st->hi - slot_base(st)));
		list = &cls->group_free;
	} else if (stk.madvise_guards) {
		close_segments(st, STACK_INITIAL);
	} else {
		close_segments(st, 0);
		atomic_fetch_sub_explicit(&stk.guarded, 1, memory_order_relaxed);
	}
	if (!stk.madvise_guards)
		atomic_fetch_sub_explicit(&stk.mprotect_used, 1,
					  memory_order_relaxed);
	char *base = slot_base(st);
	rlock_lock(&cls->lock);
	slot_list_push(list, base);
	rlock_unlock(&cls->lock);
}

/* ---- binding and releasing ------------------------------------------------------------ */

int stack_bind(struct stack_cache *cache, struct goro_stack *st, size_t max)
{
	max = round_up(max ? max : stack_default_max, PAGE);
	unsigned c = class_of(max);
	size_t dirty = 0;  /* bytes a previous goroutine may have left poisoned */
	int i;
	for (i = cache->count - 1; i >= 0; i--)
		if (cache->items[i].size_class == c)
			break;
	if (i >= 0) {
		*st = cache->items[i];
		cache->items[i] = cache->items[--cache->count];
		dirty = st->committed;
		/* Never more than the new goroutine's limit (same class,
		 * possibly a smaller limit than the previous owner's).  A
		 * grouped stack is all open: it is trimmed when it goes back
		 * to the free list. */
		size_t keep = dirty < STACK_KEEP ? dirty : STACK_KEEP;
		if (keep > max - PAGE)
			keep = STACK_INITIAL;
		if (keep < dirty && !st->grouped)
			close_segments(st, keep);
		/* It was counted as a split slot already. */
		stack_unreserve();
	} else {
		int err = slot_take_clean(cache, c, st);
		if (err)
			return err;
		dirty = STACK_INITIAL;
	}
	st->max = max;
	st->lo = st->hi - max + PAGE;  /* the hard guard is the limit's last page */
	if (st->grouped)
		dirty = st->committed = stack_usable(st);
	st->high_water = 0;
	sanitizer_stack_fresh(st->hi - dirty, dirty);
#ifdef STACK_VALGRIND
	st->valgrind_id = VALGRIND_STACK_REGISTER(st->lo, st->hi);
#endif
	return 0;
}

void stack_release(struct stack_cache *cache, struct goro_stack *st)
{
	if (!st->lo)
		return;
#ifdef STACK_VALGRIND
	VALGRIND_STACK_DEREGISTER(st->valgrind_id);
#endif
	if (cache->count < STACK_CACHE_MAX)
		cache->items[cache->count++] = *st;
	else
		slot_put_clean(st);
	memset(st, 0, sizeof(*st));
}

void stack_cache_drain(struct stack_cache *cache)
{
	for (int i = 0; i < cache->count; i++)
		slot_put_clean(&cache->items[i]);
	cache->count = 0;
}

void stack_discard(struct goro_stack *st)
{
	if (!st->lo)
		return;
#ifdef STACK_VALGRIND
	VALGRIND_STACK_DEREGISTER(st->valgrind_id);
#endif
	sanitizer_stack_fresh(st->hi - st->committed, st->committed);
	memset(st, 0, sizeof(*st));
}

/* ---- growth -------------------------------------------------------------------------- */

enum stack_fault_kind stack_fault_classify(const struct goro_stack *st,
					   uintptr_t addr, uintptr_t sp,
					   uintptr_t *need)
{
	if (!st->lo)
		return STACK_FAULT_NOT_OURS;
	uintptr_t hi = (uintptr_t)st->hi, lo = (uintptr_t)st->lo;
	uintptr_t open = hi - st->committed;
	/* Below the open part everything faults (PROT_NONE, or guard pages
	 * wherever plain memory is not): a fault there is growth or past the
	 * limit, whatever kind of guard it met. */
	if (addr >= open || addr < (uintptr_t)slot_floor(st))
		return STACK_FAULT_NOT_OURS;
	if (addr < lo)
		return STACK_FAULT_OVERFLOW;
	/* A frame that skipped pages may have written anywhere down to the
	 * stack pointer (and the red zone below it) before this fault: all
	 * of that must be open, or growth would guard live data.  The stack
	 * pointer counts when it is in this slot or its gap; elsewhere (the
	 * M's own stack: a switch, or a signal handler touching the
	 * goroutine's stack) only the fault address does.  A red zone that
	 * would reach past the limit is not counted against it: only a stack
	 * pointer past it is an overflow. */
	uintptr_t low = addr;
	if (sp <= hi && sp >= (uintptr_t)slot_floor(st)) {
		if (sp < lo)
			return STACK_FAULT_OVERFLOW;
		uintptr_t red = sp - lo < RED_ZONE ? lo : sp - RED_ZONE;
		if (red < low)
			low = red;
	}
	*need = low & ~(PAGE - 1);
	return STACK_FAULT_GROW;
}

int stack_grow(struct goro_stack *st, uintptr_t need)
{
	size_t want = (uintptr_t)st->hi - (need & ~(PAGE - 1));
	size_t to = st->committed;
	while (to < want || to == st->committed)
		to *= 2;
	if (to > stack_usable(st))
		to = stack_usable(st);
	if (want > to)
		return -EFAULT;
	int err = open_segments(st, st->committed, to);
	if (err)
		return err;
	sanitizer_stack_fresh(st->hi - to, to - st->committed);
	st->committed = to;
	if (want > st->high_water)
		st->high_water = want;
	return 0;
}

void stack_commit_range(const void *buf, size_t len)
{
	struct g *g = g_current();
	if (!g || !g->stack.lo || !len)
		return;
	struct goro_stack *st = &g->stack;
	uintptr_t start = (uintptr_t)buf;
	uintptr_t open = (uintptr_t)st->hi - st->committed;
	if (start >= open || start + len <= (uintptr_t)st->lo ||
	    start + len > (uintptr_t)st->hi)
		return;
	/* A guard in the buffer would make the kernel fail with EFAULT. */
	if (start < (uintptr_t)st->lo)
		start = (uintptr_t)st->lo;
	if (stk.madvise_guards &&
	    start + len <= (uintptr_t)st->band)
		return;  /* below the guard band: plain memory */
	/* The frames below this one (growth itself, then the caller's system
	 * call) are live too: the guard band must go below them. */
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t need = sp - COMMIT_SLACK < start ? sp - COMMIT_SLACK : start;
	if (need < (uintptr_t)st->lo)
		need = (uintptr_t)st->lo;
	stack_grow(st, need);
}

size_t stack_reserved_bytes(void)
{
	size_t total = 0;
	rlock_lock(&stk.regions_lock);
	for (int i = 0; i < stk.nregions; i++)
		total += stk.regions[i].size;
	rlock_unlock(&stk.regions_lock);
	return total;
}
