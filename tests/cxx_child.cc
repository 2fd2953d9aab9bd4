// SPDX-License-Identifier: MIT
/*
 * cxx_child.cc — a C++ goroutine program, for check_dump: a goroutine
 * parked in a member function of a namespaced class, whose mangled name
 * gdump must print demangled.  Prints "ready PID", ends when stdin closes.
 */
#include <cstdio>
#include <unistd.h>

#include <goro.h>

namespace app {
struct Worker {
	static void run(void *arg);
	__attribute__((noinline)) static void wait_forever(int hours);
};

void Worker::wait_forever(int hours)
{
	goro_sleep(hours * 3600LL * 1000 * 1000 * 1000);
	__asm__ volatile("");
}

void Worker::run(void *)
{
	wait_forever(1);
	__asm__ volatile("");
}
}  // namespace app

static int child_main(int, char **)
{
	goro_attr_t attr = {};
	attr.name = "cxx-worker";
	goro_go_attr(&attr, app::Worker::run, nullptr);
	goro_sleep(20 * 1000 * 1000);
	std::printf("ready %d\n", static_cast<int>(getpid()));
	std::fflush(stdout);
	char c;
	while (goro_read(0, &c, 1) > 0) {
	}
	return 0;
}

int main(int argc, char **argv)
{
	return goro_main(child_main, argc, argv);
}
