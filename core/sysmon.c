/*
 * sysmon.c — the monitor thread (Go's sysmon).
 *
 * One thread per goro_main run, holding no P, running no goroutine.  Each
 * round it runs its jobs, then sleeps: 20 µs after a round that acted,
 * doubling after 50 quiet rounds up to 10 ms (Go's backoff), or less when
 * a job asks to look again sooner.  The jobs of this branch are in
 * core/retake.c (Ps of goroutines stuck in the kernel, polling the
 * network); the preemption of goroutines that overrun their slice is
 * another job of the same round.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#include "retake.h"
#include "runtime.h"
#include "sysmon.h"
#include <goro.h>

#define DELAY_MIN_NS (20 * 1000)
#define DELAY_MAX_NS (10 * 1000 * 1000)
#define QUIET_ROUNDS_BEFORE_BACKOFF 50
#define SLEEP_FLOOR_NS (5 * 1000)

static struct {
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	struct note wake;
} sysmon;

static void *sysmon_main(void *arg)
{
	(void)arg;
	/* Sleeps of tens of µs must not be stretched by the default 50 µs
	 * timer slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	prctl(PR_SET_NAME, "goro-sysmon", 0, 0, 0);
	int64_t delay = DELAY_MIN_NS;
	int quiet = 0;
	while (!atomic_load_explicit(&sysmon.stop, memory_order_acquire)) {
		int64_t now = goro_now();
		int64_t wake = now + DELAY_MAX_NS;
		bool acted = retake_round(now, &wake);
		if (acted) {
			delay = DELAY_MIN_NS;
			quiet = 0;
		} else if (++quiet > QUIET_ROUNDS_BEFORE_BACKOFF &&
			   delay < DELAY_MAX_NS) {
			delay *= 2;
		}
		if (now + delay < wake)
			wake = now + delay;
		int64_t sleep_ns = wake - goro_now();
		if (sleep_ns < SLEEP_FLOOR_NS)
			sleep_ns = SLEEP_FLOOR_NS;
		note_sleep_for(&sysmon.wake, sleep_ns);
	}
	return NULL;
}

int sysmon_start(void)
{
	retake_reset();
	atomic_store_explicit(&sysmon.stop, false, memory_order_relaxed);
	note_clear(&sysmon.wake);
	/* Process-directed signals are for the application's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&sysmon.thread, NULL, sysmon_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	sysmon.started = true;
	return 0;
}

void sysmon_stop(void)
{
	if (!sysmon.started)
		return;
	atomic_store_explicit(&sysmon.stop, true, memory_order_release);
	note_wake(&sysmon.wake);
	pthread_join(sysmon.thread, NULL);
	sysmon.started = false;
}
