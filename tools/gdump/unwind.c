/* SPDX-License-Identifier: MIT */
/*
 * unwind.c — libunwind-ptrace, with its accessors wrapped.
 *
 * A parked goroutine has no thread whose registers ptrace could read: its
 * registers sit in a switch frame on its stack.  So access_reg answers from
 * a register set we fill in (from that frame, or from a stopped thread's
 * registers for a running goroutine), access_mem reads through gdump's page
 * cache (process_vm_readv, not one PTRACE_PEEKDATA per word), and the rest
 * — finding unwind tables in the target's ELF files — is _UPT_*'s work.
 *
 * _UPT_find_proc_info keeps one ELF image loaded per handle and reloads it
 * (rereading /proc/PID/maps) whenever the PC lies in another object, which
 * alternating frames of the program and libgoro would do constantly; so we
 * keep one handle per mapped object.  libunwind's register-state cache
 * then skips even that for PCs seen before: 100k goroutines parked at the
 * same few places cost little more than reading their stacks.
 *
 * A core file has no process for _UPT_* to look into (it reads
 * /proc/PID/maps), and libunwind-coredump 1.6 fails to find the tables of
 * a segment mapped at a file offset other than 0, i.e. every text segment.
 * So for a core we find each module's .eh_frame_hdr ourselves (its ELF and
 * program headers, read through the target like any memory) and hand
 * libunwind's own table search the same remote-table description _UPT_
 * builds (memory_module below).  The same serves the vDSO of a live
 * process: it has no file for _UPT_ to open, only its image in memory;
 * without its table, a goroutine inside clock_gettime was cut short at
 * the vDSO's caller.
 *
 * A parked goroutine's stack is unwound from a copy taken while the
 * target was stopped (unwind_stack's `copy`), so that the target need not
 * stay stopped while 100k stacks are unwound: everything else an unwind
 * reads — text and unwind tables — does not change.
 *
 * Memoized unwinds.  libunwind takes a signal-masking lock around its
 * cache at every step (two system calls a frame), so unwinding 100k
 * goroutines one by one costs seconds.  But an unwind is a function of the
 * values it reads: registers, stack words, and text and unwind tables
 * (the same for every goroutine).  So the first unwind from a given PC is
 * recorded — each register and stack word it read, with stack addresses
 * made relative to the stack pointer — and a later goroutine with the same
 * PC whose registers and stack words at those same places hold the same
 * values (stack addresses again relative to its own stack pointer) would
 * read exactly the same things: it gets the recorded frames without
 * unwinding.  A recording is not kept if the unwind read anything of its
 * stack outside the copy.
 */
#include <elf.h>
#include <errno.h>
#include <libunwind-ptrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corefile.h"
#include "unwind.h"

struct object_range {
	uint64_t lo, hi;
	char path[256];
	void *upt;            /* _UPT_create handle, made on first use */
};

static struct {
	struct target *t;
	unw_addr_space_t as;
	struct object_range *objects;
	size_t nobjects;
	void *any_upt;        /* for PCs in no file-backed mapping */
	struct memory_module *modules;    /* tables read from memory: a
					   * core's modules, the vDSO */
	size_t nmodules;
	const struct unwind_regs *regs;   /* the unwind in progress */
	const struct memory_copy *copy;   /* its stack, copied, or NULL */
	struct recording *rec;            /* what it reads, or NULL */
} u;

static void add_memory_module(uint64_t base);

/* The file-backed mappings of the target, merged per object; the vDSO. */
static int load_objects(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char file[256] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &lo, &hi,
			   file) < 3)
			continue;
		if (strcmp(file, "[vdso]") == 0)
			add_memory_module(lo);
		if (file[0] != '/')
			continue;
		struct object_range *last = u.nobjects ?
			&u.objects[u.nobjects - 1] : NULL;
		if (last && strcmp(last->path, file) == 0) {
			if (hi > last->hi)
				last->hi = hi;
			continue;
		}
		if (u.nobjects == cap) {
			cap = cap ? 2 * cap : 32;
			void *p = realloc(u.objects, cap * sizeof(*u.objects));
			if (!p) {
				fclose(f);
				return -ENOMEM;
			}
			u.objects = p;
		}
		struct object_range *o = &u.objects[u.nobjects++];
		memset(o, 0, sizeof(*o));
		o->lo = lo;
		o->hi = hi;
		snprintf(o->path, sizeof(o->path), "%s", file);
	}
	fclose(f);
	return 0;
}

/* libunwind's search of a binary-search table of FDEs (.eh_frame_hdr),
 * exported by libunwind-x86_64 for its ptrace and core-file front ends. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as,
	unw_word_t ip, unw_dyn_info_t *di, unw_proc_info_t *pi,
	int need_unwind_info, void *arg);

/* One executable segment of a core's module, and its FDE table. */
struct memory_module {
	uint64_t lo, hi;
	unw_dyn_info_t di;
};

#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

/* The module mapped at `base` (an ELF header there): its text ranges and
 * .eh_frame_hdr, read from the target.  Modules without a table the
 * search understands are left out (their frames end the unwind). */
static void add_memory_module(uint64_t base)
{
	Elf64_Ehdr eh;
	if (target_read(u.t, base, &eh, sizeof(eh)) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64)
		return;
	Elf64_Phdr ph[64];
	if (target_read(u.t, base + eh.e_phoff, ph, eh.e_phnum * sizeof(*ph)))
		return;
	uint64_t bias = eh.e_type == ET_DYN ? base : 0, hdr = 0;
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			hdr = ph[i].p_vaddr + bias;
	unsigned char h[4];
	uint32_t count;
	if (!hdr || target_read(u.t, hdr, h, sizeof(h)) ||
	    target_read(u.t, hdr + 8, &count, sizeof(count)) || h[0] != 1 ||
	    h[1] != (DW_EH_PE_pcrel | DW_EH_PE_sdata4) ||
	    h[2] != DW_EH_PE_udata4 ||
	    h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		void *p = realloc(u.modules, (u.nmodules + 1) *
				  sizeof(*u.modules));
		if (!p)
			return;
		u.modules = p;
		struct memory_module *m = &u.modules[u.nmodules++];
		memset(m, 0, sizeof(*m));
		m->lo = ph[i].p_vaddr + bias;
		m->hi = m->lo + ph[i].p_memsz;
		m->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
		m->di.start_ip = m->lo;
		m->di.end_ip = m->hi;
		m->di.u.rti.segbase = hdr;
		/* Entries of two 4-byte words, after the 12-byte header. */
		m->di.u.rti.table_data = hdr + 12;
		m->di.u.rti.table_len = count * 8 / sizeof(unw_word_t);
	}
}

/* The modules of a core: each mapping at file offset 0 of its file. */
static int load_core_objects(struct target *t)
{
	uint64_t lo, hi;
	for (size_t i = 0; corefile_mapping(t->core, i, &lo, &hi); i++) {
		uint64_t prev_lo = 0, prev_hi = 0;
		const char *path = corefile_mapping(t->core, i, &lo, &hi);
		const char *prev = i ? corefile_mapping(t->core, i - 1,
							&prev_lo, &prev_hi)
				     : NULL;
		if (!prev || strcmp(prev, path) != 0)
			add_memory_module(lo);
	}
	return 0;
}

static struct memory_module *memory_module_of(unw_word_t ip)
{
	for (size_t i = 0; i < u.nmodules; i++)
		if (ip >= u.modules[i].lo && ip < u.modules[i].hi)
			return &u.modules[i];
	return NULL;
}

static void *upt_for(unw_word_t ip)
{
	for (size_t i = 0; i < u.nobjects; i++) {
		struct object_range *o = &u.objects[i];
		if (ip >= o->lo && ip < o->hi) {
			if (!o->upt)
				o->upt = _UPT_create(u.t->pid);
			return o->upt;
		}
	}
	return u.any_upt;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip,
			  unw_proc_info_t *pi, int need_unwind_info, void *arg)
{
	(void)arg;
	struct memory_module *m = memory_module_of(ip);
	if (m)
		return _Ux86_64_dwarf_search_unwind_table(as, ip, &m->di, pi,
							  need_unwind_info,
							  arg);
	if (u.t->core)
		return -UNW_ENOINFO;
	void *upt = upt_for(ip);
	if (!upt)
		return -UNW_ENOINFO;
	return _UPT_find_proc_info(as, ip, pi, need_unwind_info, upt);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
			    void *arg)
{
	(void)arg;
	/* (_UPT_put_unwind_info does just this, for any table.) */
	(void)as;
	free(pi->unwind_info);
	pi->unwind_info = NULL;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr,
				  void *arg)
{
	/* Runtime-generated code registered with libunwind: none here. */
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO;
}

/* ---- recording unwinds --------------------------------------------------- */

#define RECORD_MAX_READS 256
#define MEMO_BUCKETS 4096
#define MEMO_PER_PC 8

struct recording {
	bool usable;
	int nmem;
	uint32_t mem_off[RECORD_MAX_READS];  /* offsets from the copy start */
	uint64_t mem_val[RECORD_MAX_READS];  /* values, normalized */
	uint32_t regs;                       /* mask of registers read */
	uint64_t reg_val[17];                /* values, normalized */
};

struct memo {
	uint64_t pc;
	struct recording rec;
	struct unwind_result result;
	struct memo *next;
};

static struct memo *memo_table[MEMO_BUCKETS];

/* A value as the unwind saw it: an address in the stack above the saved
 * stack pointer becomes an offset from it (tagged), anything else stays. */
static uint64_t normalize(const struct memory_copy *c, uint64_t v)
{
	if (v >= c->addr && v < c->stack_hi)
		return (v - c->addr) | 1ULL << 63;
	return v;
}

static void record_mem(uint64_t off, uint64_t val)
{
	struct recording *r = u.rec;
	if (!r)
		return;
	if (r->nmem == RECORD_MAX_READS) {
		r->usable = false;
		return;
	}
	r->mem_off[r->nmem] = (uint32_t)off;
	r->mem_val[r->nmem++] = normalize(u.copy, val);
}

static void record_reg(int reg, uint64_t val)
{
	struct recording *r = u.rec;
	if (r) {
		r->regs |= 1U << reg;
		r->reg_val[reg] = normalize(u.copy, val);
	}
}

/* Would unwinding from (regs, copy) read what `rec` records? */
static bool replays(const struct recording *rec,
		    const struct unwind_regs *regs, const struct memory_copy *c)
{
	for (int reg = 0; reg < 17; reg++)
		if (rec->regs & 1U << reg &&
		    normalize(c, regs->known[reg] ? regs->r[reg] : 0) !=
			    rec->reg_val[reg])
			return false;
	for (int i = 0; i < rec->nmem; i++) {
		uint64_t v;
		if (rec->mem_off[i] + sizeof(v) > c->len)
			return false;
		memcpy(&v, c->data + rec->mem_off[i], sizeof(v));
		if (normalize(c, v) != rec->mem_val[i])
			return false;
	}
	return true;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
		      int write, void *arg)
{
	(void)as;
	(void)arg;
	if (write)
		return -UNW_EINVAL;  /* never change the target */
	const struct memory_copy *c = u.copy;
	if (c && addr >= c->addr && addr - c->addr + sizeof(*val) <= c->len) {
		memcpy(val, c->data + (addr - c->addr), sizeof(*val));
		record_mem(addr - c->addr, *val);
		return 0;
	}
	if (c && u.rec && addr >= c->stack_lo && addr < c->stack_hi)
		u.rec->usable = false;  /* the stack, beyond the copy */
	return target_read(u.t, addr, val, sizeof(*val)) ? -UNW_EINVAL : 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val,
		      int write, void *arg)
{
	(void)as;
	(void)arg;
	if (write || reg < 0 || reg > UNW_X86_64_RIP)
		return -UNW_EBADREG;
	*val = u.regs->known[reg] ? u.regs->r[reg] : 0;
	record_reg(reg, *val);
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
			unw_fpreg_t *val, int write, void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as;
	(void)c;
	(void)arg;
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf,
			 size_t len, unw_word_t *off, void *arg)
{
	(void)arg;
	if (u.t->core)
		return -UNW_ENOINFO;  /* gdump names frames with libdw */
	void *upt = upt_for(ip);
	return upt ? _UPT_get_proc_name(as, ip, buf, len, off, upt)
		   : -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

int unwind_init(struct target *t)
{
	u.t = t;
	if (t->core) {
		int err = load_core_objects(t);
		if (err)
			return err;
	} else {
		int err = load_objects(t->pid);
		if (err)
			return err;
		if (!(u.any_upt = _UPT_create(t->pid)))
			return -ENOMEM;
	}
	u.as = unw_create_addr_space(&accessors, 0);
	if (!u.as)
		return -ENOMEM;
	unw_set_caching_policy(u.as, UNW_CACHE_GLOBAL);
	return 0;
}

void unwind_fini(void)
{
	for (size_t b = 0; b < MEMO_BUCKETS; b++) {
		while (memo_table[b]) {
			struct memo *m = memo_table[b];
			memo_table[b] = m->next;
			free(m);
		}
	}
	for (size_t i = 0; i < u.nobjects; i++)
		if (u.objects[i].upt)
			_UPT_destroy(u.objects[i].upt);
	free(u.objects);
	if (u.any_upt)
		_UPT_destroy(u.any_upt);
	free(u.modules);
	if (u.as)
		unw_destroy_addr_space(u.as);
	memset(&u, 0, sizeof(u));
}

void unwind_regs_from_thread(struct unwind_regs *r,
			     const struct user_regs_struct *g)
{
	memset(r, 0, sizeof(*r));
	const uint64_t v[17] = {
		[UNW_X86_64_RAX] = g->rax, [UNW_X86_64_RDX] = g->rdx,
		[UNW_X86_64_RCX] = g->rcx, [UNW_X86_64_RBX] = g->rbx,
		[UNW_X86_64_RSI] = g->rsi, [UNW_X86_64_RDI] = g->rdi,
		[UNW_X86_64_RBP] = g->rbp, [UNW_X86_64_RSP] = g->rsp,
		[UNW_X86_64_R8] = g->r8, [UNW_X86_64_R9] = g->r9,
		[UNW_X86_64_R10] = g->r10, [UNW_X86_64_R11] = g->r11,
		[UNW_X86_64_R12] = g->r12, [UNW_X86_64_R13] = g->r13,
		[UNW_X86_64_R14] = g->r14, [UNW_X86_64_R15] = g->r15,
		[UNW_X86_64_RIP] = g->rip,
	};
	for (int i = 0; i < 17; i++) {
		r->r[i] = v[i];
		r->known[i] = true;
	}
	r->exact_pc = true;
}

void unwind_regs_from_switch(struct unwind_regs *r, const struct switch_regs *s)
{
	memset(r, 0, sizeof(*r));
	const struct { int reg; uint64_t val; } saved[] = {
		{ UNW_X86_64_RBX, s->rbx }, { UNW_X86_64_RBP, s->rbp },
		{ UNW_X86_64_R12, s->r12 }, { UNW_X86_64_R13, s->r13 },
		{ UNW_X86_64_R14, s->r14 }, { UNW_X86_64_R15, s->r15 },
		{ UNW_X86_64_RIP, s->rip }, { UNW_X86_64_RSP, s->rsp },
	};
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++) {
		r->r[saved[i].reg] = saved[i].val;
		r->known[saved[i].reg] = true;
	}
	r->exact_pc = false;
}

/* ip at the kernel's signal return trampoline (glibc's __restore_rt:
 * mov $SYS_rt_sigreturn, %rax; syscall), which libunwind does not always
 * report as a signal frame when it has only the FDE to go by. */
static bool at_sigreturn(unw_word_t ip)
{
	static const unsigned char code[] = {
		0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	unsigned char buf[sizeof(code)];
	return target_read(u.t, ip, buf, sizeof(buf)) == 0 &&
	       memcmp(buf, code, sizeof(code)) == 0;
}

int unwind_stack(const struct unwind_regs *r, const struct memory_copy *copy,
		 struct unwind_result *out)
{
	unw_cursor_t c;
	u.regs = r;
	u.copy = copy;
	out->n = 0;
	out->truncated = false;
	int err = unw_init_remote(&c, u.as, NULL);
	if (err < 0)
		return err;
	bool exact = r->exact_pc;
	for (;;) {
		unw_word_t ip = 0;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		out->pc[out->n] = ip;
		out->exact[out->n] = exact;
		out->n++;
		/* Above a signal frame, the PC was interrupted, not calling. */
		exact = unw_is_signal_frame(&c) > 0 || at_sigreturn(ip);
		if (unw_step(&c) <= 0)
			break;
		if (out->n == UNWIND_MAX_FRAMES) {
			out->truncated = true;
			break;
		}
	}
	return 0;
}

int unwind_stack_memo(const struct unwind_regs *r,
		      const struct memory_copy *copy, struct unwind_result *out)
{
	uint64_t pc = r->r[UNW_X86_64_RIP];
	struct memo **bucket = &memo_table[(pc * 0x9e3779b97f4a7c15ULL) >> 52];
	int same_pc = 0;
	for (struct memo *m = *bucket; m; m = m->next) {
		if (m->pc != pc)
			continue;
		same_pc++;
		if (replays(&m->rec, r, copy)) {
			*out = m->result;
			return 0;
		}
	}
	struct memo *m = same_pc < MEMO_PER_PC ? calloc(1, sizeof(*m)) : NULL;
	if (m)
		m->rec.usable = true;
	u.rec = m ? &m->rec : NULL;
	int err = unwind_stack(r, copy, out);
	u.rec = NULL;
	if (!m)
		return err;
	if (err || !m->rec.usable) {
		free(m);
		return err;
	}
	m->pc = pc;
	m->result = *out;
	m->next = *bucket;
	*bucket = m;
	return 0;
}
