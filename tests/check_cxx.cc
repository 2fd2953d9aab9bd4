// SPDX-License-Identifier: MIT
/*
 * check_cxx.cc — goro from C++: the header, the library and the runtime.
 *
 * Built with the project's C++ compiler and linked with libgoro: spawns
 * goroutines from lambdas (through a captureless trampoline), talks over a
 * channel, selects, waits on a wait group and locks a mutex, all with the
 * header's C++-compatible initialisers.  Also checks that the library's
 * version matches the package's and the header's.  Exit 0 on success; each
 * failure prints what broke.
 */
#include <goro.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "check_cxx: FAIL: %s\n", what);
		failures++;
	}
}

/* A std::function run as a goroutine: the trampoline owns and frees it. */
int64_t go(std::function<void()> fn)
{
	auto *heap = new std::function<void()>(std::move(fn));
	return goro_go([](void *arg) {
		auto *f = static_cast<std::function<void()> *>(arg);
		(*f)();
		delete f;
	}, heap);
}

goro_mutex_t mu = GORO_MUTEX_INIT;
goro_wg_t wg = GORO_WG_INIT;

int cxx_main(int, char **)
{
	const int workers = 8, per = 100;
	goro_chan_t *c = goro_chan_make(sizeof(int), 4);
	expect(c != nullptr, "goro_chan_make");
	long total = 0;
	std::vector<std::string> names;

	goro_wg_add(&wg, workers);
	for (int w = 0; w < workers; w++) {
		go([c, w, per]() {
			for (int i = 0; i < per; i++) {
				int v = w * per + i;
				goro_chan_send(c, &v);
			}
			goro_wg_done(&wg);
		});
	}
	go([c]() {
		goro_wg_wait(&wg);
		goro_chan_close(c);
	});

	int v = 0;
	for (;;) {
		goro_case_t cs[1];
		std::memset(cs, 0, sizeof cs);
		cs[0].chan = c;
		cs[0].dir = GORO_RECV;
		cs[0].elem = &v;
		cs[0].size = sizeof cs[0];
		int r = goro_select(cs, 1, -1);
		expect(r == 0, "goro_select index");
		if (!cs[0].ok)
			break;
		goro_mutex_lock(&mu);
		total += v;
		goro_mutex_unlock(&mu);
	}
	const long n = (long)workers * per;
	expect(total == n * (n - 1) / 2, "sum of every value sent");

	goro_attr_t attr = GORO_ATTR_INIT;
	attr.name = "cxx-named";
	goro_chan_t *done = goro_chan_make(0, 1);
	expect(goro_go_attr(&attr, [](void *d) {
		goro_chan_send(static_cast<goro_chan_t *>(d), nullptr);
	}, done) > 0, "goro_go_attr with GORO_ATTR_INIT");
	expect(goro_chan_recv(done, nullptr) == 1, "named goroutine ran");
	attr.size = 1;
	expect(goro_go_attr(&attr, [](void *) {}, nullptr) == -EINVAL,
	       "goro_go_attr rejects a size it does not know");

	goro_case_t bad[1];
	std::memset(bad, 0, sizeof bad);
	bad[0].chan = done;
	bad[0].dir = GORO_RECV;
	bad[0].size = sizeof bad[0] + 8;
	expect(goro_select(bad, 1, 0) == -EINVAL,
	       "goro_select rejects a case size it does not know");

	expect(goro_chan_free(c) == 0 && goro_chan_free(done) == 0,
	       "goro_chan_free");
	return failures;
}

} // namespace

int main(int argc, char **argv)
{
	/* The version calls need no runtime. */
	expect(std::string(goro_version_string()) == PACKAGE_VERSION_STRING,
	       "goro_version_string() is the package version");
	expect(std::string(goro_version_string()) == GORO_VERSION_STRING,
	       "goro_version_string() is the header's GORO_VERSION_STRING");
	expect(goro_version() == GORO_VERSION_HEX, "goro_version()");
	int r = goro_main(cxx_main, argc, argv);
	expect(r == 0, "goro_main returned the main function's value");
	if (failures == 0)
		std::printf("check_cxx: ok\n");
	return failures ? 1 : 0;
}
