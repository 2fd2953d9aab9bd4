// SPDX-License-Identifier: MIT
/*
 * hello_cxx.cc — goro from C++: goroutines that run lambdas, a channel,
 * a wait group.
 *
 * goro_go takes a C function and a pointer; go() below wraps any callable
 * in a std::function on the heap and a captureless lambda that runs and
 * frees it.  Three workers square numbers from a channel; main collects the
 * results on another.  Build:
 *	g++ -std=c++17 hello_cxx.cc $(pkg-config --cflags --libs goro)
 */
#include <goro.h>

#include <cstdio>
#include <functional>

static int64_t go(std::function<void()> fn)
{
	auto *heap = new std::function<void()>(std::move(fn));
	return goro_go([](void *arg) {
		auto *f = static_cast<std::function<void()> *>(arg);
		(*f)();
		delete f;
	}, heap);
}

static int hello_main(int, char **)
{
	goro_chan_t *jobs = goro_chan_make(sizeof(int), 0);
	goro_chan_t *results = goro_chan_make(sizeof(int), 0);
	static goro_wg_t wg = GORO_WG_INIT;

	for (int w = 0; w < 3; w++) {
		goro_wg_add(&wg, 1);
		go([=]() {
			int n;
			while (goro_chan_recv(jobs, &n) == 1) {
				int sq = n * n;
				goro_chan_send(results, &sq);
			}
			goro_wg_done(&wg);
		});
	}
	go([=]() {
		for (int n = 1; n <= 10; n++)
			goro_chan_send(jobs, &n);
		goro_chan_close(jobs);
		goro_wg_wait(&wg);
		goro_chan_close(results);
	});

	int sum = 0, sq;
	while (goro_chan_recv(results, &sq) == 1)
		sum += sq;
	std::printf("sum of squares 1..10 = %d\n", sum);
	goro_chan_free(jobs);
	goro_chan_free(results);
	return sum == 385 ? 0 : 1;
}

int main(int argc, char **argv)
{
	return goro_main(hello_main, argc, argv);
}
