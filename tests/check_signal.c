/* SPDX-License-Identifier: MIT */
/*
 * check_signal.c — signals as channel values (Go's signal.Notify): a
 * notified signal arrives on its channels as an int even when the thread
 * that called goro_main blocks every signal; a full channel drops it;
 * stop ends delivery and gives the signal its previous action back; the
 * runtime's own signals and bad arguments are refused.
 */
#define _GNU_SOURCE  /* memmem */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "testutil.h"

#define MS 1000000LL
#define PATIENCE (20000 * MS)

static int recv_sig(goro_chan_t *c)
{
	int sig = 0;
	goro_case_t cs = { .chan = c, .dir = GORO_RECV, .elem = &sig };
	return goro_select(&cs, 1, PATIENCE) == 0 ? sig : -1;
}

static int blocked_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 4);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	ck_assert_int_eq(goro_signal_notify(c, &set), 0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
		ck_assert_int_eq(recv_sig(c), SIGUSR1);
		ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
		ck_assert_int_eq(recv_sig(c), SIGHUP);
	}
	ck_assert_int_eq(goro_signal_stop(c), 0);
	goro_chan_free(c);
	return 0;
}

static void run_blocked(int procs)
{
	sigset_t all;
	sigfillset(&all);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &all, NULL), 0);
	ck_assert_int_eq(run_goro(blocked_main, procs), 0);
}

START_TEST(delivered_while_main_thread_blocks_everything)
{
	run_blocked(1);
}
END_TEST

START_TEST(delivered_while_main_thread_blocks_everything_2p)
{
	run_blocked(2);
}
END_TEST

static int drop_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *full = goro_chan_make(sizeof(int), 1);
	goro_chan_t *other = goro_chan_make(sizeof(int), 4);
	sigset_t both, usr2;
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	ck_assert_int_eq(goro_signal_notify(full, &both), 0);
	ck_assert_int_eq(goro_signal_notify(other, &usr2), 0);
	kill(getpid(), SIGUSR1);
	while (goro_chan_len(full) == 0)
		goro_sleep(MS);
	/* full is full: SIGUSR2 reaches other, and is dropped for full. */
	kill(getpid(), SIGUSR2);
	ck_assert_int_eq(recv_sig(other), SIGUSR2);
	/* Once stop returns no delivery is under way. */
	ck_assert_int_eq(goro_signal_stop(other), 0);
	ck_assert_uint_eq(goro_chan_len(full), 1);
	int sig = 0;
	ck_assert_int_eq(goro_chan_tryrecv(full, &sig), 1);
	ck_assert_int_eq(sig, SIGUSR1);
	ck_assert_int_eq(goro_chan_tryrecv(full, &sig), -EAGAIN);
	ck_assert_int_eq(goro_signal_stop(full), 0);
	goro_chan_free(full);
	goro_chan_free(other);
	return 0;
}

START_TEST(full_channel_drops)
{
	ck_assert_int_eq(run_goro(drop_main, 2), 0);
}
END_TEST

static atomic_int own_handler_calls;

static void own_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&own_handler_calls, 1);
}

static int restore_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *a = goro_chan_make(sizeof(int), 2);
	goro_chan_t *b = goro_chan_make(sizeof(int), 2);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ck_assert_int_eq(goro_signal_notify(a, &set), 0);
	ck_assert_int_eq(goro_signal_notify(b, &set), 0);
	kill(getpid(), SIGUSR2);
	ck_assert_int_eq(recv_sig(a), SIGUSR2);  /* each channel gets it */
	ck_assert_int_eq(recv_sig(b), SIGUSR2);
	ck_assert_int_eq(atomic_load(&own_handler_calls), 0);
	ck_assert_int_eq(goro_signal_stop(a), 0);
	kill(getpid(), SIGUSR2);  /* b still wants it */
	ck_assert_int_eq(recv_sig(b), SIGUSR2);
	ck_assert_int_eq(goro_signal_stop(b), 0);
	ck_assert_int_eq(goro_signal_stop(b), 0);  /* not registered: no-op */
	/* Nobody wants it: the program's own handler is back. */
	kill(getpid(), SIGUSR2);
	while (atomic_load(&own_handler_calls) == 0)
		goro_sleep(MS);
	ck_assert_int_eq(goro_chan_tryrecv(b, NULL), -EAGAIN);
	goro_chan_free(a);
	goro_chan_free(b);
	return 0;
}

START_TEST(stop_restores_previous_action)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = own_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);
	ck_assert_int_eq(run_goro(restore_main, 2), 0);
}
END_TEST

static int refused_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	const int runtime_sigs[] = { SIGURG, SIGSEGV, SIGBUS, SIGRTMIN + 3,
				     SIGKILL, SIGSTOP };
	for (size_t i = 0; i < sizeof(runtime_sigs) / sizeof(int); i++) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, runtime_sigs[i]);
		ck_assert_int_eq(goro_signal_notify(c, &set), -EINVAL);
	}
	sigset_t set;
	sigemptyset(&set);
	ck_assert_int_eq(goro_signal_notify(c, &set), -EINVAL);  /* empty */
	sigaddset(&set, SIGUSR1);
	ck_assert_int_eq(goro_signal_notify(c, NULL), -EINVAL);
	ck_assert_int_eq(goro_signal_notify(NULL, &set), -EINVAL);
	ck_assert_int_eq(goro_signal_stop(NULL), -EINVAL);
	goro_chan_t *wide = goro_chan_make(sizeof(long), 1);
	ck_assert_int_eq(goro_signal_notify(wide, &set), -EINVAL);
	goro_chan_free(wide);
	goro_chan_free(c);
	ck_assert_int_eq(goro_signal_notify(c, &set), -EBADF);
	return 0;
}

START_TEST(runtime_signals_and_bad_input_refused)
{
	ck_assert_int_eq(run_goro(refused_main, 1), 0);
}
END_TEST

/* examples/graceful_shutdown: SIGTERM reaches its channel, the context
 * stops every worker, the program exits 0. */
START_TEST(example_graceful_shutdown)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execl(EXAMPLES_DIR "/graceful_shutdown", "graceful_shutdown",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char out[4096];
	size_t n = 0;
	ssize_t r;
	/* Wait for "ready" (the workers run), then ask it to stop. */
	while (!memmem(out, n, "ready\n", 6) &&
	       (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	ck_assert_msg(memmem(out, n, "ready\n", 6), "no ready line");
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	while (n < sizeof(out) - 1 &&
	       (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d:\n%s",
		      st, out);
	char want[32];
	snprintf(want, sizeof(want), "stopping on signal %d\n", SIGTERM);
	ck_assert_msg(strstr(out, want), "%s", out);
	for (int i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "worker %d stopped after", i);
		ck_assert_msg(strstr(out, want), "%s", out);
	}
	ck_assert_msg(strstr(out, "clean shutdown\n"), "%s", out);
}
END_TEST

static Suite *signal_suite(void)
{
	Suite *s = suite_create("signal");
	TCase *tc = tcase_create("signal");
	tcase_add_test(tc, delivered_while_main_thread_blocks_everything);
	tcase_add_test(tc, delivered_while_main_thread_blocks_everything_2p);
	tcase_add_test(tc, full_channel_drops);
	tcase_add_test(tc, stop_restores_previous_action);
	tcase_add_test(tc, runtime_signals_and_bad_input_refused);
	tcase_add_test(tc, example_graceful_shutdown);
	suite_add_tcase(s, tc);
	return s;
}

GORO_TEST_MAIN(signal_suite)
