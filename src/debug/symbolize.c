/* SPDX-License-Identifier: MIT */
/*
 * symbolize.c — PCs to names and source lines with libdw (see symbolize.h).
 *
 * Built into libgoro and into gdump alike, so it uses plain malloc: it
 * runs in neither a signal handler nor a hot path.
 */
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"

struct cached_symbol {
	uint64_t pc;           /* 0: empty slot */
	bool return_address;
	struct symbol_info info;
};

struct symbolizer {
	Dwfl *dwfl;
	Elf *core;             /* symbolizer_open_core: the core, kept open */
	int core_fd;
	struct cached_symbol *cache;
	size_t cache_cap;      /* a power of two */
	size_t cache_used;
};

static char *debuginfo_path;
/* The process last reported (modules are opened lazily, at lookup time;
 * gdump and goro_dump each use one symbolizer at a time). */
static pid_t reported_pid;

/*
 * An object whose file was replaced or deleted since it was mapped (a
 * library upgraded under a running program) is still readable through
 * /proc/PID/map_files/START-END, the kernel's handle on the mapping itself.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	int fd = dwfl_linux_proc_find_elf(mod, userdata, name, base,
					  file_name, elfp);
	if (fd >= 0 || *elfp)
		return fd;
	Dwarf_Addr start;
	dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	char dir[64], path[64 + sizeof(((struct dirent *)0)->d_name)];
	snprintf(dir, sizeof(dir), "/proc/%d/map_files", (int)reported_pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char prefix[32];
	int plen = snprintf(prefix, sizeof(prefix), "%lx-",
			    (unsigned long)start);
	struct dirent *e;
	fd = -1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, (size_t)plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = open(path, O_RDONLY);
		break;
	}
	closedir(d);
	if (fd < 0)
		return -1;
	*elfp = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!*elfp) {
		close(fd);
		return -1;
	}
	*file_name = strdup(path);
	return fd;
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static const Dwfl_Callbacks core_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static bool cache_init(struct symbolizer *s)
{
	s->cache_cap = 256;
	s->cache = calloc(s->cache_cap, sizeof(*s->cache));
	return s->cache != NULL;
}

struct symbolizer *symbolizer_open_core(const char *core, const char *exe)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	elf_version(EV_CURRENT);
	s->core_fd = open(core, O_RDONLY | O_CLOEXEC);
	if (s->core_fd < 0)
		goto fail;
	s->core = elf_begin(s->core_fd, ELF_C_READ_MMAP, NULL);
	s->dwfl = dwfl_begin(&core_callbacks);
	if (!s->core || !s->dwfl)
		goto fail;
	dwfl_report_begin(s->dwfl);
	if (dwfl_core_file_report(s->dwfl, s->core, exe) < 0)
		goto fail;
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 || !cache_init(s))
		goto fail;
	return s;
fail:
	symbolizer_close(s);
	return NULL;
}

struct symbolizer *symbolizer_open(pid_t pid)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->core_fd = -1;
	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl)
		goto fail;
	dwfl_report_begin(s->dwfl);
	reported_pid = pid;
	if (dwfl_linux_proc_report(s->dwfl, pid) != 0)
		goto fail;
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 || !cache_init(s))
		goto fail;
	return s;
fail:
	symbolizer_close(s);
	return NULL;
}

void symbolizer_close(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cache_cap && s->cache; i++) {
		free((char *)s->cache[i].info.file);
		free(s->cache[i].info.function_buf);
	}
	free(s->cache);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	if (s->core)
		elf_end(s->core);
	if (s->core_fd >= 0)
		close(s->core_fd);
	free(s);
}

static size_t slot_of(const struct symbolizer *s, uint64_t pc, bool ret)
{
	uint64_t h = (pc ^ (uint64_t)ret) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (s->cache_cap - 1);
}

static struct cached_symbol *cache_find(struct symbolizer *s, uint64_t pc,
					bool ret)
{
	for (size_t i = slot_of(s, pc, ret);; i = (i + 1) & (s->cache_cap - 1)) {
		struct cached_symbol *c = &s->cache[i];
		if (c->pc == 0 || (c->pc == pc && c->return_address == ret))
			return c;
	}
}

static void cache_grow(struct symbolizer *s)
{
	struct cached_symbol *old = s->cache;
	size_t old_cap = s->cache_cap;
	struct cached_symbol *fresh = calloc(old_cap * 2, sizeof(*fresh));
	if (!fresh)
		return;  /* keep probing the full-ish table; still correct */
	s->cache = fresh;
	s->cache_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].pc)
			*cache_find(s, old[i].pc, old[i].return_address) = old[i];
	free(old);
}

/* The C++ runtime's demangler.  gdump links libstdc++ for it
 * (SYMBOLIZE_LINKS_DEMANGLER); in libgoro the reference is weak, so that
 * the library does not depend on libstdc++ and demangles whenever the
 * process has it (a C++ program). */
#ifdef SYMBOLIZE_LINKS_DEMANGLER
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status);
#define have_demangler() true
#else
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status) __attribute__((weak));
#define have_demangler() (__cxa_demangle != NULL)
#endif

/* "_ZN3app6Worker3runEPv" -> "app::Worker::run(void*)", in a malloc'd
 * string; NULL if not a mangled name or no demangler. */
static char *demangle(const char *name)
{
	if (!have_demangler() || strncmp(name, "_Z", 2) != 0)
		return NULL;
	int status = -1;
	char *out = __cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * dwfl_module_getsrc finds a PC's compilation unit through .debug_aranges,
 * which clang does not emit by default (nor GCC with some flags): without
 * it, look at each CU's own address ranges instead, as addr2line does.
 * Linear in the module's CUs, once per PC (results are cached).
 */
static const char *line_from_cus(Dwfl_Module *mod, Dwarf_Addr at,
				 int *lineno, const char **comp_dir)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias))) {
		if (dwarf_haspc(cu, at - bias) <= 0)
			continue;
		Dwarf_Line *l = dwarf_getsrc_die(cu, at - bias);
		const char *file = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
		if (!file || dwarf_lineno(l, lineno) != 0)
			return NULL;
		Dwarf_Attribute attr;
		*comp_dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir,
							&attr));
		return file;
	}
	return NULL;
}

/* A relative source name (an out-of-tree build's "../src/x.c") joined to
 * its compilation directory, as addr2line prints it: a dump read
 * anywhere names the file.  malloc'd. */
static char *source_path(const char *file, const char *comp_dir)
{
	if (file[0] == '/' || !comp_dir || comp_dir[0] != '/')
		return strdup(file);
	size_t dir_len = strlen(comp_dir), file_len = strlen(file);
	char *path = malloc(dir_len + 1 + file_len + 1);
	if (!path)
		return NULL;
	memcpy(path, comp_dir, dir_len);
	path[dir_len] = '/';
	memcpy(path + dir_len + 1, file, file_len + 1);
	return path;
}

static void lookup(struct symbolizer *s, uint64_t pc, bool ret,
		   struct symbol_info *out)
{
	memset(out, 0, sizeof(*out));
	Dwarf_Addr at = ret ? pc - 1 : pc;
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, at);
	if (!mod)
		return;
	Dwarf_Addr base;
	out->module = dwfl_module_info(mod, NULL, &base, NULL, NULL, NULL,
				       NULL, NULL);
	out->module_offset = pc - base;
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, at, &off, &sym, NULL,
						NULL, NULL);
	if (name) {
		/* "pthread_mutex_lock@GLIBC_2.2.5": the version is noise. */
		const char *version = strchr(name, '@');
		if (version) {
			out->function_buf = strndup(name,
						    (size_t)(version - name));
			if (out->function_buf)
				name = out->function_buf;
		}
		char *plain = demangle(name);
		if (plain) {
			free(out->function_buf);
			out->function_buf = plain;
			name = plain;
		}
		out->function = name;
		out->offset = pc - (at - off);
	}
	Dwfl_Line *line = dwfl_module_getsrc(mod, at);
	int lineno = 0;
	const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL,
						NULL, NULL) : NULL;
	const char *comp_dir = NULL;
	if (file)
		comp_dir = dwfl_line_comp_dir(line);
	else
		file = line_from_cus(mod, at, &lineno, &comp_dir);
	if (file) {
		out->file = source_path(file, comp_dir);
		out->line = lineno;
	}
}

void symbolize(struct symbolizer *s, uint64_t pc, bool return_address,
	       struct symbol_info *out)
{
	if (pc == 0) {
		memset(out, 0, sizeof(*out));
		return;
	}
	if (2 * (s->cache_used + 1) > s->cache_cap)
		cache_grow(s);
	struct cached_symbol *c = cache_find(s, pc, return_address);
	if (c->pc == 0) {
		lookup(s, pc, return_address, &c->info);
		c->pc = pc;
		c->return_address = return_address;
		s->cache_used++;
	}
	*out = c->info;
}

struct symbol_search {
	const char *name;
	uint64_t addr;
};

static int search_module(Dwfl_Module *mod, void **userdata, const char *mname,
			 Dwarf_Addr start, void *arg)
{
	(void)userdata;
	(void)mname;
	(void)start;
	struct symbol_search *q = arg;
	int n = dwfl_module_getsymtab(mod);
	for (int i = 0; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);
		if (name && sym.st_shndx != SHN_UNDEF &&
		    strcmp(name, q->name) == 0) {
			q->addr = addr;
			return DWARF_CB_ABORT;
		}
	}
	return DWARF_CB_OK;
}

uint64_t symbolizer_lookup(struct symbolizer *s, const char *name)
{
	struct symbol_search q = { name, 0 };
	dwfl_getmodules(s->dwfl, search_module, &q, 0);
	return q.addr;
}
