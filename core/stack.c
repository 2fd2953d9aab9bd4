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
 *    number of stacks; stack_reserve() turns that cap into -EAGAIN at spawn.
 *  - A stack starts with STACK_INITIAL bytes open and doubles on each fault
 *    on its growth guard.  The growth guard is what tells a stack that has
 *    stayed shallow (reused for free) from one that went deep (its deep
 *    pages are given back before the slot serves again), and where the
 *    stack's high-water mark comes from.
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
 * The default limit.  Each stack top needs a page-table page of its own
 * when slots are 2 MiB or larger: measured here with 1M parked goroutines,
 * an 8 MiB default cost 4161 page-table bytes per goroutine on top of its
 * 4.3 KB resident, and 20-30 us to create each (most of it the kernel
 * zeroing page-table pages), against 514 bytes and 8-10 us with 256 KiB
 * slots, where eight stack tops share a page-table page.  256 KiB is also
 * what libmill and libdill give their coroutines; GORO_STACK_MAX and
 * goro_attr_t.stack_max raise it.
 */
#define STACK_DEFAULT_MAX (256 * 1024UL)

size_t stack_default_max = STACK_DEFAULT_MAX;

struct size_class {
	struct rlock lock;
	char *bump;           /* next never-used slot in the newest region */
	char *bump_end;
	char **free_slots;    /* bases of dead, trimmed stacks */
	size_t nfree;
	size_t free_cap;
};

static struct {
	bool madvise_guards;
	int pidfd;                      /* this process, for process_madvise */
	size_t mprotect_cap;            /* stacks the mapping budget allows */
	_Atomic size_t mprotect_used;   /* split slots + unbound reservations */
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

static char *slot_base(const struct goro_stack *st)
{
	return st->hi - (1UL << st->size_class);
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
	atomic_store(&stk.warned, false);
	stk.mprotect_cap = 0;
	stk.pidfd = stk.madvise_guards ?
		(int)syscall(SYS_pidfd_open, getpid(), 0) : -1;
	if (!stk.madvise_guards) {
		stk.max_map_count = read_long_file("/proc/sys/vm/max_map_count",
						   65530);
		long spare = stk.max_map_count - count_maps() - MAP_COUNT_HEADROOM;
		stk.mprotect_cap = spare > 0 ? (size_t)spare / 2 : 0;
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
		for (size_t i = 0; i < cls->nfree; i++)
			sanitizer_stack_fresh(cls->free_slots[i] + (1UL << c) -
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
		rt_free(cls->free_slots, cls->free_cap * sizeof(char *));
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
		"MADV_GUARD_INSTALL) each stack takes 2 memory mappings, and "
		"vm.max_map_count=%ld allows about %zu stacks; raise it "
		"(sysctl -w vm.max_map_count=N) or use Linux 6.13+\n",
		stk.max_map_count, stk.mprotect_cap);
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

static int set_guard(char *page, int advice)
{
	return madvise(page, PAGE, advice) == 0 ? 0 : -errno;
}

/* Open [hi - to, hi - from): the stack's committed part grows from `from`
 * bytes to `to`.  System calls only: called from the fault handler. */
static int open_segments(struct goro_stack *st, size_t from, size_t to)
{
	if (stk.madvise_guards) {
		/* The new guard first: the stack is never unguarded. */
		int err = set_guard(st->hi - to - PAGE, MADV_GUARD_INSTALL);
		if (!err && from)
			err = set_guard(st->hi - from - PAGE, MADV_GUARD_REMOVE);
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
		set_guard(st->hi - keep - PAGE, MADV_GUARD_INSTALL);
		/* Guard pages survive MADV_DONTNEED; the old one is removed. */
		madvise(below - PAGE, len + PAGE, MADV_DONTNEED);
		set_guard(below - PAGE, MADV_GUARD_REMOVE);
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

/* A new region for slots of 2^c bytes: REGION_SIZE, or less where the
 * address space is limited (RLIMIT_AS), down to a single slot. */
static int region_add(struct size_class *cls, unsigned c)
{
	int prot = stk.madvise_guards ? PROT_READ | PROT_WRITE : PROT_NONE;
	size_t size = REGION_SIZE > (1UL << c) ? REGION_SIZE : 1UL << c;
	void *r = MAP_FAILED;
	rlock_lock(&stk.regions_lock);
	if (stk.nregions < MAX_REGIONS) {
		for (; size >= (1UL << c); size /= 4) {
			r = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_NORESERVE, -1, 0);
			if (r != MAP_FAILED)
				break;
		}
	}
	if (r != MAP_FAILED) {
		stk.regions[stk.nregions].base = r;
		stk.regions[stk.nregions].size = size;
		stk.nregions++;
		cls->bump = r;
		cls->bump_end = (char *)r + size;
	}
	rlock_unlock(&stk.regions_lock);
	return r == MAP_FAILED ? -ENOMEM : 0;
}

/*
 * Guard the first segment of never-used slots (madvise mode) and fault in
 * their top pages: one process_madvise() per batch instead of a madvise()
 * and a page fault per slot.  Where process_madvise() cannot (an old
 * kernel, a forked child's stale pidfd), one madvise() each.
 */
static int prepare_fresh(char *const *his, int n)
{
	struct iovec guards[FRESH_BATCH], tops[FRESH_BATCH];
	for (int i = 0; i < n; i++) {
		guards[i].iov_base = his[i] - STACK_INITIAL - PAGE;
		guards[i].iov_len = PAGE;
		tops[i].iov_base = his[i] - PAGE;
		tops[i].iov_len = PAGE;
	}
	if (stk.pidfd >= 0 &&
	    syscall(SYS_process_madvise, stk.pidfd, guards, (size_t)n,
		    MADV_GUARD_INSTALL, 0) == (long)(n * PAGE)) {
		/* Only a head start: a page it could not fault in now will
		 * be faulted in on first use. */
		syscall(SYS_process_madvise, stk.pidfd, tops, (size_t)n,
			MADV_POPULATE_WRITE, 0);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int err = set_guard(guards[i].iov_base, MADV_GUARD_INSTALL);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A slot whose pages are all closed (mprotect) or whose guard sits below
 * its first segment (madvise): from the free list or never used.  With
 * madvise guards, never-used slots come FRESH_BATCH at a time and the
 * spare ones go to the cache (room permitting).
 */
static int slot_take_clean(struct stack_cache *cache, unsigned c,
			   struct goro_stack *st)
{
	struct size_class *cls = &stk.classes[c];
	size_t size = 1UL << c;
	char *his[FRESH_BATCH];
	int n = 0;
	bool fresh;
	rlock_lock(&cls->lock);
	if (cls->nfree) {
		his[n++] = cls->free_slots[--cls->nfree] + size;
		fresh = false;
	} else {
		if (cls->bump == cls->bump_end) {
			int err = region_add(cls, c);
			if (err) {
				rlock_unlock(&cls->lock);
				return err;
			}
		}
		int room = STACK_CACHE_MAX - cache->count;
		int want = !stk.madvise_guards ? 1 :
			   room < FRESH_BATCH - 1 ? room + 1 : FRESH_BATCH;
		do {
			cls->bump += size;
			his[n++] = cls->bump;
		} while (n < want && cls->bump < cls->bump_end);
		fresh = true;
	}
	rlock_unlock(&cls->lock);
	memset(st, 0, sizeof(*st));
	st->hi = his[0];
	st->size_class = (uint8_t)c;
	int err = 0;
	if (!stk.madvise_guards)
		err = open_segments(st, 0, STACK_INITIAL);
	else if (fresh)
		err = prepare_fresh(his, n);
	if (err)
		return err == -ENOMEM ? -EAGAIN : err;
	st->committed = STACK_INITIAL;
	for (int i = 1; i < n; i++) {
		struct goro_stack *spare = &cache->items[cache->count++];
		memset(spare, 0, sizeof(*spare));
		spare->hi = his[i];
		spare->size_class = (uint8_t)c;
		spare->committed = STACK_INITIAL;
	}
	return 0;
}

/* Back to the free list of its class, trimmed to a clean slot. */
static void slot_put_clean(struct goro_stack *st)
{
	struct size_class *cls = &stk.classes[st->size_class];
	if (stk.madvise_guards) {
		close_segments(st, STACK_INITIAL);
	} else {
		close_segments(st, 0);
		atomic_fetch_sub_explicit(&stk.mprotect_used, 1,
					  memory_order_relaxed);
	}
	char *base = slot_base(st);
	rlock_lock(&cls->lock);
	if (cls->nfree == cls->free_cap) {
		size_t cap = cls->free_cap ? cls->free_cap * 2 : 1024;
		char **slots = rt_realloc(cls->free_slots,
					  cls->free_cap * sizeof(char *),
					  cap * sizeof(char *));
		if (!slots) {
			/* Out of memory: the slot stays unused until goro_main
			 * ends; only its address space is lost. */
			rlock_unlock(&cls->lock);
			return;
		}
		cls->free_slots = slots;
		cls->free_cap = cap;
	}
	cls->free_slots[cls->nfree++] = base;
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
		 * possibly a smaller limit than the previous owner's). */
		size_t keep = dirty < STACK_KEEP ? dirty : STACK_KEEP;
		if (keep > max - PAGE)
			keep = STACK_INITIAL;
		if (keep < dirty)
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
					   uintptr_t addr)
{
	if (!st->lo)
		return STACK_FAULT_NOT_OURS;
	uintptr_t hi = (uintptr_t)st->hi, lo = (uintptr_t)st->lo;
	uintptr_t open = hi - st->committed;
	if (addr >= open || addr < (uintptr_t)slot_base(st))
		return STACK_FAULT_NOT_OURS;
	if (stk.madvise_guards) {
		/* Below the guard is ordinary memory: only the guard faults. */
		if (addr < open - PAGE)
			return STACK_FAULT_NOT_OURS;
		return st->committed < stack_usable(st) ? STACK_FAULT_GROW
							: STACK_FAULT_OVERFLOW;
	}
	return addr >= lo ? STACK_FAULT_GROW : STACK_FAULT_OVERFLOW;
}

int stack_grow(struct goro_stack *st, uintptr_t addr)
{
	size_t want = (uintptr_t)st->hi - (addr & ~(PAGE - 1));
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
	if (stk.madvise_guards && start + len <= open - PAGE)
		return;  /* below the guard: plain memory */
	stack_grow(st, start);
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
