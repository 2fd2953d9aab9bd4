/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c — work a signal handler must not do, done in a forked copy
 * of the process (see snapshot.h).
 *
 * Why a fork: a fatal report wants file:line, which means libdw, which
 * allocates, opens files and takes its own locks.  In the handler any of
 * those may deadlock or corrupt the heap the program died of.  A child
 * made with _Fork (no atfork handlers: async-signal-safe) has the
 * parent's memory as it was, with one thread; whatever it breaks is its
 * own.  What can still go wrong there is a lock that another thread held
 * at the fork (a malloc arena, the loader's lock): nobody in the child
 * will release it.  Hence the rules:
 *  - the child writes into a memfd, never to the parent's output, so a
 *    child that fails leaves no half report behind;
 *  - it says it finished by writing one byte to a pipe; a child that
 *    dies, or neither writes nor computes for SNAPSHOT_STALL_NS, is
 *    killed, and the caller prints its report the signal-safe way
 *    instead (a child starved of CPU by a loaded machine still computes
 *    now and then, so it is waited for);
 *  - only then is the memfd copied to the real output;
 *  - the work runs on a stack of its own (run_on_own_stack), not on the
 *    handler's.
 * The child's fatal signals are set back to their defaults, so that its
 * own crash ends it at once, and it dies with the reporting thread.
 * Under ThreadSanitizer, whose runtime a forked copy of a multithreaded
 * process does not survive, snapshot_run() always declines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "clock.h"
#include "snapshot.h"

#define POLL_MS 50

static pid_t fork_now(void)
{
#if defined(__GLIBC__)
#if __GLIBC_PREREQ(2, 34)
	return _Fork();
#endif
#endif
	return (pid_t)syscall(SYS_fork);
}

/* Close every descriptor above 2 but a and b (the child must not keep the
 * program's sockets open while it works). */
static void close_all_but(int a, int b)
{
	if (a > b) {
		int t = a;
		a = b;
		b = t;
	}
	if (a > 3)
		syscall(SYS_close_range, 3u, (unsigned)a - 1, 0u);
	if (b > a + 1)
		syscall(SYS_close_range, (unsigned)a + 1, (unsigned)b - 1, 0u);
	syscall(SYS_close_range, (unsigned)b + 1, ~0u, 0u);
}

/*
 * The copy's work runs on a stack of its own.  It starts on whatever stack
 * the reporting thread's handler runs on, most often an M's 256 KiB
 * sigaltstack (src/signals/signal_stack.c), and libdw has a function with
 * a 150 KiB frame: under ASan, whose frames are larger, the copy
 * overflowed that stack and died of SIGSEGV in about 1 SIGQUIT in 10 on a
 * loaded machine, and the report lost its file:line (check_dump in the
 * CI's sanitized stage).  The copy is single-threaded, so one static
 * context suffices.  makecontext, not the goroutine switch: arch_ctx_init
 * starts every context through goro_start and the scheduler, which the
 * copy must not enter, and ASan knows swapcontext's stack change.
 */
#define COPY_STACK_SIZE (8u << 20)

static struct {
	bool (*work)(void *, int);
	void *arg;
	int fd;
	bool ok;
	ucontext_t caller, worker;
} copy_run;

static void copy_work(void)
{
	copy_run.ok = copy_run.work(copy_run.arg, copy_run.fd);
}

/* work(arg, fd) on COPY_STACK_SIZE of fresh stack, or on this one if no
 * such stack can be had. */
static bool run_on_own_stack(bool (*work)(void *, int), void *arg, int fd)
{
	void *stack = mmap(NULL, COPY_STACK_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			   MAP_STACK, -1, 0);
	if (stack == MAP_FAILED || getcontext(&copy_run.worker) != 0)
		return work(arg, fd);
	copy_run.work = work;
	copy_run.arg = arg;
	copy_run.fd = fd;
	copy_run.ok = false;
	copy_run.worker.uc_stack.ss_sp = stack;
	copy_run.worker.uc_stack.ss_size = COPY_STACK_SIZE;
	copy_run.worker.uc_link = &copy_run.caller;
	makecontext(&copy_run.worker, copy_work, 0);
	if (swapcontext(&copy_run.caller, &copy_run.worker) != 0)
		return work(arg, fd);
	return copy_run.ok;
}

static _Noreturn void child(bool (*work)(void *, int), void *arg, int fd,
			    int done_fd, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	sigset_t unblock;
	sigemptyset(&unblock);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		signal(fatal[i], SIG_DFL);
		sigaddset(&unblock, fatal[i]);
	}
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	/* Nothing the child's libraries might print reaches the parent's
	 * output. */
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	close_all_but(fd, done_fd);
	if (!run_on_own_stack(work, arg, fd))
		_exit(1);
	(void)!write(done_fd, "D", 1);
	_exit(0);
}

/* fd, moved above the standard descriptors if it is one of them (a
 * program that closed its stdin): the child puts /dev/null there. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return moved;
}

/* The child's CPU time in ns, or -1 where it cannot be read.  (The
 * clock id is pure arithmetic on the pid plus one clock_getres system
 * call, and clock_gettime is async-signal-safe.) */
static int64_t child_cpu_ns(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait for the child's byte while it makes progress.  Progress is output
 * that grows, or CPU time that grows: a copy that takes seconds to read
 * DWARF on a loaded machine is working, one that waits on a lock that
 * nobody in it will release uses none.  Computing without output is
 * progress only up to SNAPSHOT_BUSY_NS (a copy looping for good). */
static bool wait_done(int done_fd, int fd, pid_t pid)
{
	clockid_t clock;
	bool have_clock = clock_getcpuclockid(pid, &clock) == 0;
	int64_t last_progress = rt_now();
	int64_t last_output = last_progress;
	int64_t last_cpu = have_clock ? child_cpu_ns(clock) : -1;
	off_t last_size = 0;
	for (;;) {
		struct pollfd p = { .fd = done_fd, .events = POLLIN };
		int r = poll(&p, 1, POLL_MS);
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0) {
			char c;
			ssize_t n = read(done_fd, &c, 1);
			if (n == 1)
				return c == 'D';
			if (n == 0 || errno != EINTR)
				return false;  /* died without finishing */
		}
		struct stat st;
		int64_t now = rt_now();
		if (fstat(fd, &st) == 0 && st.st_size != last_size) {
			last_size = st.st_size;
			last_output = last_progress = now;
		}
		int64_t cpu = have_clock ? child_cpu_ns(clock) : -1;
		if (cpu > last_cpu) {
			last_cpu = cpu;
			last_progress = now;
		}
		if (now - last_progress > SNAPSHOT_STALL_NS ||
		    now - last_output > SNAPSHOT_BUSY_NS)
			return false;
	}
}

/* Only the thread that reports a crash gets here (signals/crash.c). */
static char copy_buf[4096];

static void copy_out(int fd, int out_fd)
{
	off_t at = 0;
	for (;;) {
		ssize_t n = pread(fd, copy_buf, sizeof(copy_buf), at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		at += n;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out_fd, copy_buf + done,
					  (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			done += w;
		}
	}
}

#if defined(__SANITIZE_THREAD__)
#define FORK_IS_SAFE false
#else
#define FORK_IS_SAFE true
#endif

bool snapshot_run(bool (*work)(void *arg, int fd), void *arg, int out_fd)
{
	if (!FORK_IS_SAFE || !work || out_fd < 0)
		return false;
	int fd = above_stdio(memfd_create("goro-report", MFD_CLOEXEC));
	if (fd < 0)
		return false;
	int done[2];
	if (pipe2(done, O_CLOEXEC) != 0) {
		close(fd);
		return false;
	}
	done[0] = above_stdio(done[0]);
	done[1] = above_stdio(done[1]);
	if (done[0] < 0 || done[1] < 0) {
		if (done[0] >= 0)
			close(done[0]);
		if (done[1] >= 0)
			close(done[1]);
		close(fd);
		return false;
	}
	pid_t parent = getpid();
	pid_t pid = fork_now();
	if (pid == 0) {
		close(done[0]);
		child(work, arg, fd, done[1], parent);
	}
	close(done[1]);
	bool ok = pid > 0 && wait_done(done[0], fd, pid);
	if (pid > 0) {
		if (!ok)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(done[0]);
	if (ok)
		copy_out(fd, out_fd);
	close(fd);
	return ok;
}
