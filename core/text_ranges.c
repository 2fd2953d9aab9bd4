/* SPDX-License-Identifier: MIT */
/*
 * text_ranges.c — the table of code the preemption signal must not
 * interrupt (see text_ranges.h), built with dl_iterate_phdr.
 *
 * Readers are signal handlers, so the table is a static buffer behind a
 * sequence counter (a seqlock): the writer (goro_main, then sysmon) builds
 * a new table aside, then copies it in with the counter odd; a reader that
 * saw the counter odd or moving looks again.  Nothing is allocated, nothing
 * is locked on the read side.
 *
 * A refresh costs one dl_iterate_phdr call that stops at the first object
 * when dlpi_adds/dlpi_subs (glibc's load and unload counters) have not
 * changed since the table was built.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "text_ranges.h"

#define MAX_RANGES 128
/* Cap on how far below the thread pointer a module's TLS block may lie to
 * count as static TLS, when glibc does not say how big that area is. */
#define STATIC_TLS_FALLBACK (64 * 1024)

struct range {
	uintptr_t lo, hi;
	enum text_kind kind;
};

struct table {
	struct range r[MAX_RANGES];
	int n;
};

static struct table table;         /* what readers see */
static struct table scratch;       /* the next one, being built */
static _Atomic uint32_t seq;       /* odd while `table` is being replaced */

static unsigned long long seen_adds, seen_subs;
static _Atomic bool runtime_separable = true;
static intptr_t tls_lo, tls_hi;
static size_t static_tls_size;

/* Names (basename prefixes) of the objects whose code is never
 * interrupted.  libm is not here on purpose: it is pure computation, holds
 * no locks, and a hog spending its time in sin() must stay preemptible. */
static const struct {
	const char *prefix;
	enum text_kind kind;
} system_objects[] = {
	{ "libc.so", TEXT_LIBC },
	{ "ld-linux", TEXT_LIBC },
	{ "linux-vdso", TEXT_LIBC },
	{ "libpthread.so", TEXT_LIBC },
	{ "libdl.so", TEXT_LIBC },
	{ "librt.so", TEXT_LIBC },
	{ "libresolv.so", TEXT_LIBC },
	{ "libnss_", TEXT_LIBC },
	{ "libjemalloc", TEXT_LIBRARY },
	{ "libunwind", TEXT_LIBRARY },
	{ "libgcc_s", TEXT_LIBRARY },
	{ "libasan", TEXT_LIBRARY },
	{ "libubsan", TEXT_LIBRARY },
	{ "libtsan", TEXT_LIBRARY },
};

static enum text_kind object_kind(const struct dl_phdr_info *info)
{
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (size_t i = 0; i < sizeof(system_objects) / sizeof(system_objects[0]); i++)
		if (!strncmp(base, system_objects[i].prefix,
			     strlen(system_objects[i].prefix)))
			return system_objects[i].kind;
	return TEXT_APP;
}

static bool object_contains(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz)
			return true;
	}
	return false;
}

struct build {
	struct table *t;
	bool overflow;
	bool runtime_in_main;
	bool first;
	intptr_t tls_lo, tls_hi;
	uintptr_t tp;
};

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct build *b = arg;
	enum text_kind kind = object_kind(info);
	if (object_contains(info, (uintptr_t)text_ranges_init)) {
		if (b->first)
			b->runtime_in_main = true;  /* libgoro.a in the executable */
		kind = TEXT_RUNTIME;
	}
	b->first = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_TLS && info->dlpi_tls_data) {
			/* Only blocks at a fixed offset below the thread pointer
			 * are static TLS; dynamically allocated ones are not. */
			intptr_t lo = (intptr_t)((uintptr_t)info->dlpi_tls_data - b->tp);
			intptr_t hi = lo + (intptr_t)ph->p_memsz;
			if (lo < 0 && lo >= -(intptr_t)static_tls_size) {
				if (lo < b->tls_lo)
					b->tls_lo = lo;
				if (hi > b->tls_hi)
					b->tls_hi = hi;
			}
		}
		if (kind == TEXT_APP || ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (b->t->n == MAX_RANGES) {
			b->overflow = true;
			continue;
		}
		struct range *r = &b->t->r[b->t->n++];
		r->lo = info->dlpi_addr + ph->p_vaddr;
		r->hi = r->lo + ph->p_memsz;
		r->kind = kind;
	}
	return 0;
}

static void sort_ranges(struct table *t)
{
	/* Insertion sort: a few dozen entries, built rarely. */
	for (int i = 1; i < t->n; i++) {
		struct range x = t->r[i];
		int j = i - 1;
		while (j >= 0 && t->r[j].lo > x.lo) {
			t->r[j + 1] = t->r[j];
			j--;
		}
		t->r[j + 1] = x;
	}
}

static int rebuild(void)
{
	struct build b = {
		.t = &scratch,
		.first = true,
		.tp = (uintptr_t)__builtin_thread_pointer(),
	};
	b.t->n = 0;
	dl_iterate_phdr(add_object, &b);
	if (b.overflow)
		return -E2BIG;
	sort_ranges(b.t);
	/* Publish: readers retry while seq is odd or has moved. */
	atomic_fetch_add_explicit(&seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	memcpy(&table, &scratch, sizeof(table));
	atomic_fetch_add_explicit(&seq, 1, memory_order_release);
	atomic_store_explicit(&runtime_separable, !b.runtime_in_main,
			      memory_order_relaxed);
	tls_lo = b.tls_lo;
	tls_hi = b.tls_hi;
	return 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	unsigned long long *c = arg;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;  /* the counters are the same in every entry */
}

int text_ranges_init(void)
{
	/* glibc's private query for the size of the static TLS area; looked
	 * up, not linked, so that another libc only loses precision. */
	void (*info)(size_t *, size_t *) =
		(void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT,
						    "_dl_get_tls_static_info");
	size_t align = 0;
	static_tls_size = STATIC_TLS_FALLBACK;
	if (info)
		info(&static_tls_size, &align);
	unsigned long long c[2];
	dl_iterate_phdr(read_counters, c);
	seen_adds = c[0];
	seen_subs = c[1];
	return rebuild();
}

void text_ranges_refresh(void)
{
	unsigned long long c[2];
	dl_iterate_phdr(read_counters, c);
	if (c[0] == seen_adds && c[1] == seen_subs)
		return;
	if (rebuild() == 0) {
		seen_adds = c[0];
		seen_subs = c[1];
	}
}

enum text_kind text_ranges_lookup(uintptr_t pc)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&seq, memory_order_acquire);
		if (s & 1)
			continue;
		const struct table *t = &table;
		enum text_kind kind = TEXT_APP;
		int lo = 0, hi = t->n;
		while (lo < hi) {
			int mid = (lo + hi) / 2;
			if (pc < t->r[mid].lo)
				hi = mid;
			else if (pc >= t->r[mid].hi)
				lo = mid + 1;
			else {
				kind = t->r[mid].kind;
				break;
			}
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&seq, memory_order_relaxed) == s)
			return kind;
	}
}

bool text_ranges_runtime_separable(void)
{
	return atomic_load_explicit(&runtime_separable, memory_order_relaxed);
}

void text_ranges_static_tls(intptr_t *lo, intptr_t *hi)
{
	*lo = tls_lo;
	*hi = tls_hi;
}
