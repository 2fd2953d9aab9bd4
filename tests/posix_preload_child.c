/* SPDX-License-Identifier: MIT */
/*
 * posix_preload_child.c — a goro program linked with libgoro alone, run by
 * check_posix with LD_PRELOAD=libgoro-posix.so: 64 goroutines at 1 P read
 * blocking pipes that are written 300 ms later.  Prints "threads N ok M":
 * the most threads seen meanwhile and the reads that got their bytes.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <goro.h>

#define N 64

static int fds[N][2];
static _Atomic int ok;
static goro_wg_t wg;

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void reader(void *arg)
{
	char buf[8];
	if (read(fds[(intptr_t)arg][0], buf, sizeof(buf)) == 4 &&
	    memcmp(buf, "ping", 4) == 0)
		ok++;
	goro_wg_done(&wg);
}

static int main_g(int argc, char **argv)
{
	(void)argc, (void)argv;
	goro_wg_add(&wg, N);
	for (intptr_t i = 0; i < N; i++) {
		if (pipe(fds[i]) != 0)
			return 1;
		goro_go(reader, (void *)i);
	}
	int max = 0;
	for (int t = 0; t < 30; t++) {
		goro_sleep(10 * 1000 * 1000);
		int n = threads();
		max = n > max ? n : max;
	}
	for (int i = 0; i < N; i++)
		if (write(fds[i][1], "ping", 4) != 4)
			return 1;
	goro_wg_wait(&wg);
	printf("threads %d ok %d\n", max, (int)ok);
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(main_g, argc, argv);
}
