/* SPDX-License-Identifier: MIT */
/*
 * check_fileio.c — regular-file I/O without holding a P (goro_pread,
 * goro_pwrite, goro_fsync, goro_fdatasync, goro_open, goro_stat,
 * goro_fstat, and goro_read/goro_write on files), on both back ends:
 * every test that takes a loop index runs with GORO_FILEIO=uring, with
 * GORO_FILEIO=threads, and with auto and the page-cache fast path on
 * (GORO_DEBUG=fileiocache=1).
 *
 * What a user can rely on: the bytes, offsets, file position and errno of
 * libc's calls; libc's behaviour outside goroutines; goro_close and the
 * end of goro_main waiting for calls in flight; the thread pool taking
 * over where a seccomp filter or the kernel refuses io_uring; and issue
 * 14's Files evidence (64 goroutines, 64 KiB preads on 2 Ps beside a 1 ms
 * sleeper), every byte checked.  No timing is asserted: the sleeper's
 * lateness is printed, and goro-bench io measures it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "testutil.h"

#define MS (1000 * 1000LL)
#define KiB 1024
#define MiB (1024 * 1024)

/* Loop index: each back end; and auto with the page-cache fast path on
 * (reads of cached data made at once by the calling goroutine). */
static const char *const modes[] = { "uring", "threads", "auto" };

static void use_mode(int i)
{
	setenv("GORO_FILEIO", modes[i], 1);
	if (i == 2)
		setenv("GORO_DEBUG", "fileiocache=1", 1);
	else
		unsetenv("GORO_DEBUG");
}

/* The byte at offset off of a test file: every position differs from its
 * neighbours, so a read at a wrong offset cannot pass. */
static inline uint8_t pattern(uint64_t off)
{
	uint64_t x = ((off >> 3) + 1) * 0x9e3779b97f4a7c15ULL;
	return (uint8_t)((x >> ((off & 7) * 8)) ^ off);
}

static void fill(uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(off + i);
}

/* First offset in buf (read at off) that is wrong, or -1. */
static int64_t first_bad(const uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != pattern(off + i))
			return (int64_t)i;
	return -1;
}

static char dir[] = "/tmp/goro-check-fileio-XXXXXX";

static void make_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* A file of `size` pattern bytes, written with libc; its path in out. */
static void make_file(char *out, size_t cap, const char *name, size_t size)
{
	path_in_dir(out, cap, name);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	size_t chunk = 4 * MiB;
	uint8_t *buf = malloc(chunk);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		fill(buf, n, off);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	free(buf);
	close(fd);
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[512];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			path_in_dir(p, sizeof(p), e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* How many of this process's threads are named `name`. */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[512], comm[64] = "";
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (!strcmp(comm, name))
				count++;
		}
		fclose(f);
	}
	closedir(d);
	return count;
}

/* ---- bytes and offsets -------------------------------------------------------- */

static int pread_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "data", 1 * MiB + 123);
	int fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	static uint8_t buf[300 * KiB];
	/* Offsets inside, across and at the end of the file. */
	const off_t offs[] = { 0, 1, 4095, 4096, 65537, 1 * MiB - 7, 1 * MiB };
	for (size_t i = 0; i < sizeof(offs) / sizeof(*offs); i++) {
		ssize_t want = 1 * MiB + 123 - offs[i];
		if (want > (ssize_t)sizeof(buf))
			want = sizeof(buf);
		ck_assert_int_eq(goro_pread(fd, buf, sizeof(buf), offs[i]), want);
		ck_assert_int_eq(first_bad(buf, (size_t)want, (uint64_t)offs[i]), -1);
	}
	/* At and past the end: 0, as pread gives. */
	ck_assert_int_eq(goro_pread(fd, buf, 10, 1 * MiB + 123), 0);
	ck_assert_int_eq(goro_pread(fd, buf, 10, 5 * MiB), 0);
	ck_assert_int_eq(goro_pread(fd, buf, 0, 0), 0);
	/* pread leaves the file position alone. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	/* A buffer on this goroutine's stack, deeper than anything it has
	 * touched yet: the kernel must find it committed. */
	uint8_t local[48 * KiB];
	ck_assert_int_eq(goro_pread(fd, local, sizeof(local), 777), sizeof(local));
	ck_assert_int_eq(first_bad(local, sizeof(local), 777), -1);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(pread_returns_the_bytes_at_the_offset)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(pread_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

static int pwrite_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	path_in_dir(path, sizeof(path), "out");
	int fd = goro_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	/* Out of order, leaving a hole, then filling it. */
	static uint8_t buf[3 * MiB];
	fill(buf, sizeof(buf), 0);
	ck_assert_int_eq(goro_pwrite(fd, buf + 2 * MiB, 1 * MiB, 2 * MiB), 1 * MiB);
	ck_assert_int_eq(goro_pwrite(fd, buf, 1 * MiB, 0), 1 * MiB);
	ck_assert_int_eq(goro_pwrite(fd, buf + 1 * MiB, 1 * MiB, 1 * MiB), 1 * MiB);
	ck_assert_int_eq(goro_fsync(fd), 0);
	ck_assert_int_eq(goro_fdatasync(fd), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	/* Read back with libc. */
	static uint8_t back[3 * MiB];
	ck_assert_int_eq(pread(fd, back, sizeof(back), 0), sizeof(back));
	ck_assert_int_eq(first_bad(back, sizeof(back), 0), -1);
	ck_assert_int_eq(goro_pwrite(fd, buf, 0, 0), 0);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(pwrite_writes_every_byte_at_the_offset)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(pwrite_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- the file position: goro_read and goro_write ---------------------------------- */

static int position_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	path_in_dir(path, sizeof(path), "seq");
	int fd = goro_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	static uint8_t buf[1 * MiB];
	fill(buf, sizeof(buf), 0);
	/* Sequential writes advance the position. */
	for (size_t off = 0; off < sizeof(buf); off += 100000) {
		size_t n = sizeof(buf) - off < 100000 ? sizeof(buf) - off : 100000;
		ck_assert_int_eq(goro_write(fd, buf + off, n), (ssize_t)n);
		ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), (off_t)(off + n));
	}
	/* Sequential reads from a position set with lseek. */
	ck_assert_int_eq(lseek(fd, 5000, SEEK_SET), 5000);
	static uint8_t in[1 * MiB];
	size_t got = 5000;
	for (;;) {
		ssize_t r = goro_read(fd, in + got, 77777);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		got += (size_t)r;
		ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), (off_t)got);
	}
	ck_assert_int_eq(got, sizeof(buf));
	ck_assert_int_eq(first_bad(in + 5000, sizeof(in) - 5000, 5000), -1);
	ck_assert_int_eq(goro_close(fd), 0);

	/* O_APPEND: every write lands at the end, whatever the position. */
	fd = goro_open(path, O_RDWR | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(goro_write(fd, "tail", 4), 4);
	struct stat st;
	ck_assert_int_eq(goro_fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, sizeof(buf) + 4);
	char end[4];
	ck_assert_int_eq(goro_pread(fd, end, 4, sizeof(buf)), 4);
	ck_assert_mem_eq(end, "tail", 4);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(read_write_use_the_file_position)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(position_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* Goroutines sharing one descriptor's position read each byte once. */
#define SHARE_READERS 16
#define SHARE_SIZE (4 * MiB)
#define SHARE_CHUNK (16 * KiB)

static int share_fd;
static uint8_t *share_seen;
static _Atomic int share_bad;
static goro_wg_t share_wg;

static void share_reader(void *arg)
{
	(void)arg;
	uint8_t buf[SHARE_CHUNK];
	for (;;) {
		ssize_t r = goro_read(share_fd, buf, sizeof(buf));
		if (r <= 0) {
			if (r < 0)
				atomic_fetch_add(&share_bad, 1);
			break;
		}
		/* The chunk's offset, from its first bytes' pattern: each
		 * read is a whole chunk at a chunk boundary here. */
		if (r != SHARE_CHUNK) {
			atomic_fetch_add(&share_bad, 1);
			break;
		}
		uint64_t off = UINT64_MAX;
		for (uint64_t c = 0; c < SHARE_SIZE; c += SHARE_CHUNK)
			if (first_bad(buf, 64, c) < 0) {
				off = c;
				break;
			}
		if (off == UINT64_MAX || first_bad(buf, SHARE_CHUNK, off) >= 0 ||
		    share_seen[off / SHARE_CHUNK]++)
			atomic_fetch_add(&share_bad, 1);
	}
	goro_wg_done(&share_wg);
}

static int share_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "shared", SHARE_SIZE);
	share_fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(share_fd, 0);
	share_seen = calloc(SHARE_SIZE / SHARE_CHUNK, 1);
	goro_wg_add(&share_wg, SHARE_READERS);
	for (int i = 0; i < SHARE_READERS; i++)
		goro_go(share_reader, NULL);
	goro_wg_wait(&share_wg);
	ck_assert_int_eq(atomic_load(&share_bad), 0);
	for (int i = 0; i < SHARE_SIZE / SHARE_CHUNK; i++)
		ck_assert_int_eq(share_seen[i], 1);
	free(share_seen);
	ck_assert_int_eq(goro_close(share_fd), 0);
	return 0;
}

START_TEST(readers_sharing_a_position_read_each_byte_once)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(share_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- open, stat, fstat -------------------------------------------------------------- */

static void assert_same_stat(const struct stat *a, const struct stat *b)
{
	ck_assert_int_eq(a->st_dev, b->st_dev);
	ck_assert_int_eq(a->st_ino, b->st_ino);
	ck_assert_int_eq(a->st_mode, b->st_mode);
	ck_assert_int_eq(a->st_nlink, b->st_nlink);
	ck_assert_int_eq(a->st_uid, b->st_uid);
	ck_assert_int_eq(a->st_gid, b->st_gid);
	ck_assert_int_eq(a->st_rdev, b->st_rdev);
	ck_assert_int_eq(a->st_size, b->st_size);
	ck_assert_int_eq(a->st_blksize, b->st_blksize);
	ck_assert_int_eq(a->st_blocks, b->st_blocks);
	ck_assert_int_eq(a->st_mtim.tv_sec, b->st_mtim.tv_sec);
	ck_assert_int_eq(a->st_mtim.tv_nsec, b->st_mtim.tv_nsec);
	ck_assert_int_eq(a->st_ctim.tv_sec, b->st_ctim.tv_sec);
	ck_assert_int_eq(a->st_ctim.tv_nsec, b->st_ctim.tv_nsec);
}

static int stat_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "s", 12345);
	struct stat mine, libc;
	ck_assert_int_eq(goro_stat(path, &mine), 0);
	ck_assert_int_eq(stat(path, &libc), 0);
	assert_same_stat(&mine, &libc);
	ck_assert_int_eq(mine.st_size, 12345);

	/* The mode given with O_CREAT, under the umask. */
	umask(022);
	char created[256];
	path_in_dir(created, sizeof(created), "created");
	int fd = goro_open(created, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0751);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(goro_fstat(fd, &mine), 0);
	ck_assert_int_eq(fstat(fd, &libc), 0);
	assert_same_stat(&mine, &libc);
	ck_assert_int_eq(mine.st_mode & 07777, 0751 & ~022);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(goro_close(fd), 0);

	/* Directories and symbolic links, followed as stat follows them. */
	ck_assert_int_eq(goro_stat(dir, &mine), 0);
	ck_assert(S_ISDIR(mine.st_mode));
	char link[256];
	path_in_dir(link, sizeof(link), "link");
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(goro_stat(link, &mine), 0);
	ck_assert(S_ISREG(mine.st_mode));
	ck_assert_int_eq(mine.st_size, 12345);

	/* O_TMPFILE takes a mode too. */
	fd = goro_open(dir, O_RDWR | O_TMPFILE, 0600);
	if (fd >= 0) {
		ck_assert_int_eq(goro_pwrite(fd, "x", 1, 0), 1);
		ck_assert_int_eq(goro_fstat(fd, &mine), 0);
		ck_assert_int_eq(mine.st_size, 1);
		ck_assert_int_eq(mine.st_mode & 0777, 0600);
		ck_assert_int_eq(goro_close(fd), 0);
	} else {
		ck_assert_int_eq(errno, EOPNOTSUPP);  /* the file system's */
	}
	return 0;
}

START_TEST(open_and_stat_agree_with_libc)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(stat_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- errno ---------------------------------------------------------------------------- */

#define ASSERT_FAILS(call, err) do { \
		errno = 0; \
		ck_assert_int_eq((call), -1); \
		ck_assert_int_eq(errno, (err)); \
	} while (0)

static int errno_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256], missing[256];
	make_file(path, sizeof(path), "f", 100);
	path_in_dir(missing, sizeof(missing), "missing/x");
	char buf[64];
	struct stat st;

	ASSERT_FAILS(goro_open(missing, O_RDONLY), ENOENT);
	ASSERT_FAILS(goro_open(path, O_RDONLY | O_DIRECTORY), ENOTDIR);
	ASSERT_FAILS(goro_open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);
	ASSERT_FAILS(goro_open(NULL, O_RDONLY), EFAULT);
	ASSERT_FAILS(goro_stat(missing, &st), ENOENT);
	ASSERT_FAILS(goro_stat(NULL, &st), EFAULT);
	ASSERT_FAILS(goro_stat(path, NULL), EFAULT);

	ASSERT_FAILS(goro_pread(-1, buf, 1, 0), EBADF);
	ASSERT_FAILS(goro_pwrite(-1, buf, 1, 0), EBADF);
	ASSERT_FAILS(goro_fsync(-1), EBADF);
	ASSERT_FAILS(goro_fdatasync(-1), EBADF);
	ASSERT_FAILS(goro_fstat(-1, &st), EBADF);
	int fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ASSERT_FAILS(goro_fstat(fd, NULL), EFAULT);
	ASSERT_FAILS(goro_pread(fd, buf, 1, -1), EINVAL);
	ASSERT_FAILS(goro_pread(fd, buf, 1, -4096), EINVAL);
	ASSERT_FAILS(goro_pwrite(fd, buf, 1, 0), EBADF);   /* read-only */
	ASSERT_FAILS(goro_write(fd, buf, 1), EBADF);
	ck_assert_int_eq(goro_close(fd), 0);
	/* Closed: the number no longer names a file. */
	ASSERT_FAILS(goro_pread(fd, buf, 1, 0), EBADF);
	ASSERT_FAILS(goro_fsync(fd), EBADF);
	ASSERT_FAILS(goro_fstat(fd, &st), EBADF);

	/* A directory. */
	int dfd = goro_open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ASSERT_FAILS(goro_pread(dfd, buf, sizeof(buf), 0), EISDIR);
	ASSERT_FAILS(goro_read(dfd, buf, sizeof(buf)), EISDIR);
	ASSERT_FAILS(goro_open(dir, O_WRONLY), EISDIR);
	ck_assert_int_eq(goro_close(dfd), 0);

	/* A pipe has no offsets. */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ASSERT_FAILS(goro_pread(p[0], buf, 1, 0), ESPIPE);
	ASSERT_FAILS(goro_pwrite(p[1], buf, 1, 0), ESPIPE);
	goro_close(p[0]);
	goro_close(p[1]);

	/* Success leaves errno alone, as libc does: also the first call on
	 * a descriptor, which learns that epoll refuses it (EPERM). */
	fd = goro_open(path, O_RDONLY);
	errno = 1234;
	ck_assert_int_eq(goro_read(fd, buf, 10), 10);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_eq(goro_close(fd), 0);
	fd = goro_open(path, O_RDONLY);
	errno = 1234;
	ck_assert_int_eq(goro_pread(fd, buf, 10, 0), 10);
	ck_assert_int_eq(goro_fstat(fd, &st), 0);
	ck_assert_int_eq(goro_stat(path, &st), 0);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(errors_are_libcs)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(errno_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- outside goroutines: libc's calls --------------------------------------------------- */

/* Every call, made on a thread that is not running a goroutine. */
static void *libc_calls(void *arg)
{
	const char *path = arg;
	uintptr_t bad = 0;
	char buf[16];
	struct stat st;
	int fd = goro_open(path, O_RDWR);
	bad |= fd < 0;
	bad |= goro_pwrite(fd, "0123456789", 10, 5) != 10;
	bad |= goro_pread(fd, buf, 10, 5) != 10 || memcmp(buf, "0123456789", 10);
	bad |= goro_fsync(fd) != 0 || goro_fdatasync(fd) != 0;
	bad |= goro_fstat(fd, &st) != 0 || st.st_size != 100;
	bad |= goro_stat(path, &st) != 0 || st.st_size != 100;
	bad |= goro_pread(fd, buf, 1, -1) != -1 || errno != EINVAL;
	close(fd);
	bad |= goro_pread(fd, buf, 1, 0) != -1 || errno != EBADF;
	bad |= goro_open("/nonexistent/x", O_RDONLY) != -1 || errno != ENOENT;
	return (void *)bad;
}

static char outside_path[256];

static int outside_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* A thread goro did not create, while goro_main runs. */
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, libc_calls, outside_path), 0);
	void *bad;
	pthread_join(t, &bad);
	ck_assert_ptr_null(bad);
	/* No pool thread was needed for it (GORO_FILEIO=uring sets the
	 * ring up at start, used or not). */
	ck_assert_int_eq(threads_named("goro-fileio"), 0);
	if (strcmp(getenv("GORO_FILEIO"), "uring"))
		ck_assert_int_eq(threads_named("goro-uring"), 0);
	return 0;
}

START_TEST(outside_goroutines_calls_are_libcs)
{
	use_mode(_i);
	make_dir();
	make_file(outside_path, sizeof(outside_path), "o", 100);
	/* Before goro_main, on the main thread. */
	ck_assert_ptr_null(libc_calls(outside_path));
	int r = run_goro(outside_main, 2);
	/* After it. */
	ck_assert_ptr_null(libc_calls(outside_path));
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- which engine ran the call ------------------------------------------------------------ */

static int routed_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "r", 1000);
	int fd = open(path, O_RDONLY);  /* libc's open: no engine yet */
	ck_assert_int_ge(fd, 0);
	char buf[1000];
	bool cache = getenv("GORO_DEBUG") != NULL;
	/* At the file position: read(2) on a pool thread, either way (it
	 * keeps read(2)'s position lock) — unless the data is in the page
	 * cache (just written), which the goroutine copies itself. */
	ck_assert_int_eq(threads_named("goro-fileio"), 0);
	ck_assert_int_eq(goro_read(fd, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(first_bad((uint8_t *)buf, sizeof(buf), 0), -1);
	if (cache)
		ck_assert_int_eq(threads_named("goro-fileio"), 0);
	else
		ck_assert_int_ge(threads_named("goro-fileio"), 1);
	/* At an offset: the ring, where it is in use. */
	ck_assert_int_eq(goro_pread(fd, buf, 100, 500), 100);
	ck_assert_int_eq(first_bad((uint8_t *)buf, 100, 500), -1);
	bool uring = !strcmp(getenv("GORO_FILEIO"), "uring");
	ck_assert_int_eq(threads_named("goro-uring"), uring ? 1 : 0);
	/* Either way, the other calls reach the engine. */
	struct stat st;
	ck_assert_int_eq(goro_fstat(fd, &st), 0);
	if (cache)
		ck_assert_int_eq(threads_named("goro-uring") +
				 threads_named("goro-fileio"), 1);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(goro_read_on_a_file_goes_through_the_engine)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(routed_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
	/* The ring and its reaper are gone with the run. */
	ck_assert_int_eq(threads_named("goro-uring"), 0);
}
END_TEST

/* goro_readv and goro_writev on a file: the engine's pool thread makes
 * the call while the goroutine parks (before, the goroutine's own thread
 * made it inside a blocking region: no pool thread ever appeared). */
static int vectored_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256], out[256];
	make_file(path, sizeof(path), "v", 3000);
	int fd = open(path, O_RDONLY);  /* libc's open: no engine yet */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(threads_named("goro-fileio"), 0);
	uint8_t a[1000], b[2000];
	struct iovec in[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	ck_assert_int_eq(goro_readv(fd, in, 2), 3000);
	ck_assert_int_eq(first_bad(a, sizeof(a), 0), -1);
	ck_assert_int_eq(first_bad(b, sizeof(b), sizeof(a)), -1);
	ck_assert_int_ge(threads_named("goro-fileio"), 1);
	/* At the end: 0, as readv(2) gives. */
	ck_assert_int_eq(goro_readv(fd, in, 2), 0);
	ck_assert_int_eq(close(fd), 0);

	path_in_dir(out, sizeof(out), "w");
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	struct iovec o[2] = { { b, sizeof(b) }, { a, sizeof(a) } };
	ck_assert_int_eq(goro_writev(fd, o, 2), 3000);
	uint8_t back[3000];
	ck_assert_int_eq(pread(fd, back, sizeof(back), 0), 3000);
	ck_assert_int_eq(memcmp(back, b, sizeof(b)), 0);
	ck_assert_int_eq(memcmp(back + sizeof(b), a, sizeof(a)), 0);
	ck_assert_int_eq(close(fd), 0);

	/* errno is the call's own. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	errno = 0;
	ck_assert_int_eq(goro_readv(dfd, in, 2), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(close(dfd), 0);
	return 0;
}

START_TEST(readv_writev_on_a_file_go_through_the_engine)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(vectored_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- io_uring refused: the thread pool takes over ------------------------------------------- */

/* Make io_uring_setup fail with `err` for this process, as a container's
 * seccomp profile does. */
static void deny_io_uring(int err)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(filter) / sizeof(*filter), filter };
	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static int refused_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "d", 2 * MiB);
	int fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	static uint8_t buf[2 * MiB];
	ck_assert_int_eq(goro_pread(fd, buf, sizeof(buf), 0), sizeof(buf));
	ck_assert_int_eq(first_bad(buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(threads_named("goro-uring"), 0);
	ck_assert_int_ge(threads_named("goro-fileio"), 1);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

static const int refusals[] = { EPERM, ENOSYS };

START_TEST(io_uring_refused_by_seccomp_falls_back_to_threads)
{
	make_dir();
	deny_io_uring(refusals[_i]);
	/* auto: the refusal is noticed and the pool does the work. */
	setenv("GORO_FILEIO", "auto", 1);
	int r = run_goro(refused_main, 2);
	ck_assert_int_eq(r, 0);
	/* uring forced: goro_main refuses to start, saying why. */
	setenv("GORO_FILEIO", "uring", 1);
	r = run_goro(refused_main, 2);
	ck_assert_int_eq(r, -refusals[_i]);
	remove_dir();
}
END_TEST

START_TEST(bad_fileio_setting_is_an_error)
{
	setenv("GORO_FILEIO", "disk", 1);
	ck_assert_int_eq(run_goro(refused_main, 1), -EINVAL);
}
END_TEST

/* ---- goro_close and the end of goro_main with calls in flight ------------------------------- */

#define BIG (64 * MiB)
static int close_fd;
static uint8_t *close_buf;
static _Atomic ssize_t close_got = -2;
static _Atomic int close_errno;

static void big_reader(void *arg)
{
	(void)arg;
	ssize_t r = goro_pread(close_fd, close_buf, BIG, 0);
	atomic_store(&close_errno, errno);
	atomic_store(&close_got, r);
}

static int close_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "big", BIG);
	close_buf = malloc(BIG);
	for (int round = 0; round < 8; round++) {
		close_fd = goro_open(path, O_RDONLY);
		ck_assert_int_ge(close_fd, 0);
		atomic_store(&close_got, -2);
		goro_go(big_reader, NULL);
		/* Rounds close before, while and after the read is in
		 * flight. */
		for (int y = 0; y < round; y++)
			goro_yield();
		ck_assert_int_eq(goro_close(close_fd), 0);
		/* goro_close waited for the call: it has its answer. */
		while (atomic_load(&close_got) == -2)
			goro_sleep(MS);
		ssize_t got = atomic_load(&close_got);
		if (got == -1) {
			ck_assert_int_eq(atomic_load(&close_errno), EBADF);
		} else {
			ck_assert_int_eq(got, BIG);
			ck_assert_int_eq(first_bad(close_buf, BIG, 0), -1);
		}
		/* And the descriptor is closed. */
		ck_assert_int_eq(fcntl(close_fd, F_GETFD), -1);
	}
	free(close_buf);
	return 0;
}

START_TEST(close_waits_for_a_read_in_flight)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(close_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

static char exit_path[256];
static _Atomic int exit_started;

#define EXIT_READERS 32
/* Not malloc'd: the readers are abandoned, and LeakSanitizer would
 * count their buffers. */
static uint8_t exit_bufs[EXIT_READERS][1 * MiB];

static void endless_reader(void *arg)
{
	uint8_t *buf = exit_bufs[(uintptr_t)arg];
	int fd = goro_open(exit_path, O_RDONLY);
	uint8_t local[64 * KiB];   /* on the stack goro_main frees */
	atomic_fetch_add(&exit_started, 1);
	for (uint64_t i = 0;; i++) {
		goro_pread(fd, buf, 1 * MiB, (off_t)(i % 8) * MiB);
		goro_pread(fd, local, sizeof(local), (off_t)(i % 100) * 4096);
	}
}

static int exit_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	atomic_store(&exit_started, 0);
	for (uintptr_t i = 0; i < EXIT_READERS; i++)
		goro_go(endless_reader, (void *)i);
	while (atomic_load(&exit_started) < EXIT_READERS)
		goro_sleep(MS);
	return 7;
}

static int after_exit_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint8_t buf[4096];
	int fd = goro_open(exit_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(goro_pread(fd, buf, sizeof(buf), 8192), sizeof(buf));
	ck_assert_int_eq(first_bad(buf, sizeof(buf), 8192), -1);
	ck_assert_int_eq(goro_close(fd), 0);
	return 0;
}

START_TEST(main_returns_with_reads_in_flight)
{
	use_mode(_i);
	make_dir();
	make_file(exit_path, sizeof(exit_path), "e", 8 * MiB);
	for (int run = 0; run < 3; run++)
		ck_assert_int_eq(run_goro(exit_main, 2), 7);
	/* The engine starts afresh in the next run. */
	ck_assert_int_eq(run_goro(after_exit_main, 2), 0);
	remove_dir();
}
END_TEST

/* ---- a goroutine waiting in the engine is not deadlocked ------------------------------------ */

static char fifo_path[256];

/* Opens the FIFO for writing once the goroutine is waiting on its other
 * end: the only thing that can end that wait. */
static void *fifo_writer(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 200 * MS };
	nanosleep(&ts, NULL);
	int fd = open(fifo_path, O_WRONLY);
	if (fd >= 0) {
		ssize_t r = write(fd, "hi", 2);
		(void)r;
		close(fd);
	}
	return NULL;
}

static int fifo_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, fifo_writer, NULL), 0);
	/* Every goroutine is blocked here, none on a channel or timer: the
	 * deadlock detector must leave it alone. */
	int fd = goro_open(fifo_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	char buf[2];
	ck_assert_int_eq(goro_read(fd, buf, 2), 2);
	ck_assert_mem_eq(buf, "hi", 2);
	ck_assert_int_eq(goro_close(fd), 0);
	pthread_join(t, NULL);
	return 0;
}

START_TEST(waiting_in_the_engine_is_not_a_deadlock)
{
	use_mode(_i);
	make_dir();
	path_in_dir(fifo_path, sizeof(fifo_path), "fifo");
	ck_assert_int_eq(mkfifo(fifo_path, 0600), 0);
	int r = run_goro(fifo_main, 1);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- more requests than the ring holds ---------------------------------------------------- */

#define MANY 1500
static int many_fd;
static _Atomic int many_bad;
static goro_wg_t many_wg;

static void small_reader(void *arg)
{
	uint64_t off = (uint64_t)(uintptr_t)arg * 997;
	uint8_t buf[512];
	for (int i = 0; i < 4; i++) {
		if (goro_pread(many_fd, buf, sizeof(buf), (off_t)off) != sizeof(buf) ||
		    first_bad(buf, sizeof(buf), off) >= 0)
			atomic_fetch_add(&many_bad, 1);
		off += 4096;
	}
	goro_wg_done(&many_wg);
}

static int many_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "m", 4 * MiB);
	many_fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(many_fd, 0);
	goro_wg_add(&many_wg, MANY);
	for (uintptr_t i = 0; i < MANY; i++)
		goro_go(small_reader, (void *)i);
	goro_wg_wait(&many_wg);
	ck_assert_int_eq(atomic_load(&many_bad), 0);
	ck_assert_int_eq(goro_close(many_fd), 0);
	return 0;
}

START_TEST(more_requests_than_the_ring_holds)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(many_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

/* ---- issue 14's Files evidence -------------------------------------------------------------- */

#define READERS 64
#define CHUNK (64 * KiB)
#ifdef GORO_SANITIZED
#define FILE_SIZE (64 * MiB)     /* ASan's checks make each byte dearer */
#else
#define FILE_SIZE (256 * MiB)
#endif
#define LATE_MAX 100000

static int ev_fd;
static _Atomic uint64_t ev_next;        /* next chunk to hand out */
static _Atomic uint64_t ev_chunks_ok, ev_bad;
static _Atomic bool ev_reading;
static goro_wg_t ev_wg;
static int64_t late[LATE_MAX];
static int nlate;

static void ev_reader(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(CHUNK);
	for (;;) {
		uint64_t c = atomic_fetch_add(&ev_next, 1);
		if (c >= FILE_SIZE / CHUNK)
			break;
		uint64_t off = c * CHUNK;
		ssize_t r = goro_pread(ev_fd, buf, CHUNK, (off_t)off);
		if (r != CHUNK || first_bad(buf, CHUNK, off) >= 0)
			atomic_fetch_add(&ev_bad, 1);
		else
			atomic_fetch_add(&ev_chunks_ok, 1);
	}
	free(buf);
	goro_wg_done(&ev_wg);
}

static void ev_sleeper(void *arg)
{
	(void)arg;
	while (atomic_load(&ev_reading)) {
		int64_t t0 = goro_now();
		goro_sleep(MS);
		if (nlate < LATE_MAX)
			late[nlate++] = goro_now() - t0 - MS;
	}
	goro_wg_done(&ev_wg);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int evidence_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char path[256];
	make_file(path, sizeof(path), "evidence", FILE_SIZE);
	ev_fd = goro_open(path, O_RDONLY);
	ck_assert_int_ge(ev_fd, 0);
	atomic_store(&ev_reading, true);
	goro_wg_add(&ev_wg, READERS + 1);
	goro_go(ev_sleeper, NULL);
	int64_t t0 = goro_now();
	for (int i = 0; i < READERS; i++)
		goro_go(ev_reader, NULL);
	/* The readers finish; then the sleeper is told to stop. */
	while (atomic_load(&ev_chunks_ok) + atomic_load(&ev_bad) <
	       FILE_SIZE / CHUNK)
		goro_sleep(10 * MS);
	int64_t elapsed = goro_now() - t0;
	atomic_store(&ev_reading, false);
	goro_wg_wait(&ev_wg);
	ck_assert_int_eq(atomic_load(&ev_bad), 0);
	ck_assert_int_eq(atomic_load(&ev_chunks_ok), FILE_SIZE / CHUNK);
	qsort(late, (size_t)nlate, sizeof(*late), cmp64);
	if (nlate > 0)
		printf("files evidence (%s): %d MiB in %.0f ms, %.0f MB/s; "
		       "1 ms sleeper late p50 %.3f ms, p99 %.3f ms, max %.3f ms "
		       "(%d sleeps)\n", getenv("GORO_FILEIO"), FILE_SIZE / MiB,
		       elapsed / 1e6, FILE_SIZE / (elapsed / 1e3),
		       late[nlate / 2] / 1e6, late[nlate * 99 / 100] / 1e6,
		       late[nlate - 1] / 1e6, nlate);
	ck_assert_int_eq(goro_close(ev_fd), 0);
	return 0;
}

START_TEST(files_evidence_64_readers_beside_a_sleeper)
{
	use_mode(_i);
	make_dir();
	int r = run_goro(evidence_main, 2);
	remove_dir();
	ck_assert_int_eq(r, 0);
}
END_TEST

static Suite *fileio_suite(void)
{
	Suite *s = suite_create("fileio");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, pread_returns_the_bytes_at_the_offset, 0, 3);
	tcase_add_loop_test(tc, pwrite_writes_every_byte_at_the_offset, 0, 3);
	tcase_add_loop_test(tc, read_write_use_the_file_position, 0, 3);
	tcase_add_loop_test(tc, readers_sharing_a_position_read_each_byte_once, 0, 3);
	tcase_add_loop_test(tc, open_and_stat_agree_with_libc, 0, 3);
	tcase_add_loop_test(tc, errors_are_libcs, 0, 3);
	tcase_add_loop_test(tc, outside_goroutines_calls_are_libcs, 0, 3);
	tcase_add_loop_test(tc, goro_read_on_a_file_goes_through_the_engine, 0, 3);
	tcase_add_loop_test(tc, readv_writev_on_a_file_go_through_the_engine, 0, 3);
	tcase_add_loop_test(tc, io_uring_refused_by_seccomp_falls_back_to_threads, 0, 2);
	tcase_add_test(tc, bad_fileio_setting_is_an_error);
	tcase_add_loop_test(tc, close_waits_for_a_read_in_flight, 0, 3);
	tcase_add_loop_test(tc, main_returns_with_reads_in_flight, 0, 3);
	tcase_add_loop_test(tc, more_requests_than_the_ring_holds, 0, 3);
	tcase_add_loop_test(tc, waiting_in_the_engine_is_not_a_deadlock, 0, 3);
	suite_add_tcase(s, tc);
	TCase *ev = tcase_create("evidence");
	tcase_set_timeout(ev, 300);
	tcase_add_loop_test(ev, files_evidence_64_readers_beside_a_sleeper, 0, 3);
	suite_add_tcase(s, ev);
	return s;
}

GORO_TEST_MAIN(fileio_suite)
