/* SPDX-License-Identifier: MIT */
/*
 * corefile.c — a core file as gdump's target: the memory and the threads
 * of a process that is gone (see corefile.h).
 *
 * What a core holds: one PT_LOAD per mapping of the process, with the
 * bytes the kernel (or gcore) chose to write — anonymous memory in full,
 * pages never touched as holes, file-backed text usually not at all (its
 * p_filesz stops short of p_memsz) — and notes: NT_PRSTATUS per thread
 * (its tid and general registers), NT_FILE listing the file-backed
 * mappings (start, end, offset in the file, path).
 *
 * A read is answered from the core when the segment holds those bytes,
 * otherwise from the mapped file named by NT_FILE (the text and unwind
 * tables libunwind needs), otherwise it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "corefile.h"

struct segment {
	uint64_t vaddr, memsz, filesz, offset;
};

struct core_mapping {
	uint64_t start, end, file_offset;
	char *path;
	int fd;               /* opened on first read; -1 failed, -2 not yet */
};

struct corefile {
	int fd;
	struct segment *segs;
	size_t nsegs;
	struct core_mapping *maps;
	size_t nmaps;
	struct core_thread *threads;
	size_t nthreads;
};

static int parse_file_note(struct corefile *c, const char *desc, size_t len)
{
	/* count, page size, then count × (start, end, page offset), then
	 * count NUL-terminated paths. */
	if (len < 16)
		return -EINVAL;
	uint64_t count, page;
	memcpy(&count, desc, 8);
	memcpy(&page, desc + 8, 8);
	if (count > (len - 16) / 24)
		return -EINVAL;
	c->maps = calloc(count ? count : 1, sizeof(*c->maps));
	if (!c->maps)
		return -ENOMEM;
	const char *names = desc + 16 + 24 * count, *end = desc + len;
	for (uint64_t i = 0; i < count && names < end; i++) {
		uint64_t v[3];
		memcpy(v, desc + 16 + 24 * i, sizeof(v));
		size_t n = strnlen(names, (size_t)(end - names));
		struct core_mapping *m = &c->maps[c->nmaps++];
		m->start = v[0];
		m->end = v[1];
		m->file_offset = v[2] * page;
		m->path = strndup(names, n);
		m->fd = -2;
		if (!m->path)
			return -ENOMEM;
		names += n + 1;
	}
	return 0;
}

static int add_thread(struct corefile *c, const char *desc, size_t len)
{
	struct elf_prstatus st;
	if (len < sizeof(st))
		return 0;
	memcpy(&st, desc, sizeof(st));
	void *p = realloc(c->threads, (c->nthreads + 1) * sizeof(*c->threads));
	if (!p)
		return -ENOMEM;
	c->threads = p;
	struct core_thread *t = &c->threads[c->nthreads++];
	t->tid = st.pr_pid;
	_Static_assert(sizeof(st.pr_reg) == sizeof(t->regs),
		       "elf_gregset_t is user_regs_struct");
	memcpy(&t->regs, &st.pr_reg, sizeof(t->regs));
	return 0;
}

static int read_notes(struct corefile *c, Elf *elf, GElf_Phdr *ph)
{
	size_t size = (size_t)ph->p_filesz;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	if (pread(c->fd, buf, size, (off_t)ph->p_offset) != (ssize_t)size) {
		free(buf);
		return -EIO;
	}
	Elf_Data data = { .d_buf = buf, .d_size = size, .d_type = ELF_T_NHDR,
			  .d_version = EV_CURRENT };
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;
	int err = 0;
	while (!err && off < size &&
	       (off = gelf_getnote(&data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_PRSTATUS)
			err = add_thread(c, buf + desc_off, nh.n_descsz);
		else if (nh.n_type == NT_FILE && !c->maps)
			err = parse_file_note(c, buf + desc_off, nh.n_descsz);
	}
	(void)elf;
	free(buf);
	return err;
}

int corefile_open(const char *path, struct corefile **out)
{
	elf_version(EV_CURRENT);
	struct corefile *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int err = 0;
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		err = -errno;
		free(c);
		return err;
	}
	Elf *elf = elf_begin(c->fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	size_t nph = 0;
	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_type != ET_CORE ||
	    eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &nph) != 0) {
		err = -ENOEXEC;
		goto out;
	}
	c->segs = calloc(nph ? nph : 1, sizeof(*c->segs));
	if (!c->segs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nph && !err; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD)
			c->segs[c->nsegs++] = (struct segment){
				ph.p_vaddr, ph.p_memsz, ph.p_filesz, ph.p_offset };
		else if (ph.p_type == PT_NOTE)
			err = read_notes(c, elf, &ph);
	}
	if (!err && c->nthreads == 0)
		err = -ENOEXEC;
out:
	if (elf)
		elf_end(elf);
	if (err) {
		corefile_close(c);
		return err;
	}
	*out = c;
	return 0;
}

void corefile_close(struct corefile *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nmaps; i++) {
		free(c->maps[i].path);
		if (c->maps[i].fd >= 0)
			close(c->maps[i].fd);
	}
	free(c->maps);
	free(c->segs);
	free(c->threads);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

const struct core_thread *corefile_threads(const struct corefile *c,
					   size_t *n)
{
	*n = c->nthreads;
	return c->threads;
}

const char *corefile_mapping(const struct corefile *c, size_t i,
			     uint64_t *start, uint64_t *end)
{
	if (i >= c->nmaps)
		return NULL;
	*start = c->maps[i].start;
	*end = c->maps[i].end;
	return c->maps[i].path;
}

/* Up to len bytes at addr, from one segment or one file: how many. */
static size_t read_piece(struct corefile *c, uint64_t addr, void *buf,
			 size_t len)
{
	for (size_t i = 0; i < c->nsegs; i++) {
		struct segment *s = &c->segs[i];
		if (addr < s->vaddr || addr - s->vaddr >= s->filesz)
			continue;
		uint64_t avail = s->filesz - (addr - s->vaddr);
		size_t n = len < avail ? len : (size_t)avail;
		ssize_t r = pread(c->fd, buf, n,
				  (off_t)(s->offset + (addr - s->vaddr)));
		return r > 0 ? (size_t)r : 0;
	}
	for (size_t i = 0; i < c->nmaps; i++) {
		struct core_mapping *m = &c->maps[i];
		if (addr < m->start || addr >= m->end)
			continue;
		if (m->fd == -2)
			m->fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (m->fd < 0)
			return 0;
		uint64_t avail = m->end - addr;
		size_t n = len < avail ? len : (size_t)avail;
		ssize_t r = pread(m->fd, buf, n,
				  (off_t)(m->file_offset + (addr - m->start)));
		return r > 0 ? (size_t)r : 0;
	}
	return 0;
}

int corefile_read(struct corefile *c, uint64_t addr, void *buf, size_t len)
{
	unsigned char *out = buf;
	while (len) {
		size_t n = read_piece(c, addr, out, len);
		if (!n)
			return -EFAULT;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
