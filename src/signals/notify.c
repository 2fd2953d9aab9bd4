/* SPDX-License-Identifier: MIT */
/*
 * notify.c — signals as channel values (Go's signal.Notify / signal.Stop).
 *
 * What it promises:
 *  - A signal notified to one or more channels is sent, as an int, to
 *    each of them with a try-send: a full channel misses it, as in Go.
 *  - It arrives whatever the signal mask of the thread that called
 *    goro_main (even one blocking everything), because a helper thread of
 *    this file keeps exactly the notified signals unblocked; each M also
 *    unblocks them as it starts (signal_notify_unblock_self).
 *  - The runtime's own signals are refused: SIGURG (preemption), SIGSEGV
 *    and SIGBUS (stack growth), the dump-capture signal (src/debug/dump.h), and
 *    SIGKILL/SIGSTOP, which nobody can catch.
 *  - When the last channel stops wanting a signal, its previous action is
 *    restored.
 *  - While any notification is registered the program is never reported
 *    as deadlocked: a signal may still come (Go: the signal goroutine).
 *
 * How: the handler only sets the signal's bit in `pending` and writes to
 * an eventfd, both async-signal-safe.  The helper thread reads the
 * eventfd, swaps `pending` to zero and delivers each signal to the
 * registered channels with the runtime's own try-send (chan_trysend_rt),
 * which readies a receiver onto the global run queue.  The helper is a
 * plain thread, not an M: it holds no P and runs no goroutine.
 *
 * `lock` guards the registry (entries, saved actions, installed); the
 * helper holds it while delivering, so goro_signal_stop returning means no
 * delivery to that channel is under way.  `wanted` mirrors the installed
 * set for the handler, the helper and starting threads (atomic, read
 * without the lock).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "chan.h"
#include "deadlock.h"
#include "dump.h"
#include "notify.h"
#include "runtime.h"
#include "signal_install.h"
#include <goro.h>

#define MAX_SIG 64

struct entry {
	goro_chan_t *chan;
	uint64_t sigs;          /* bit sig-1 */
	uint32_t generation;    /* goro_main run it was registered in */
	struct entry *next;
};

static struct {
	struct rlock lock;
	struct entry *entries;
	bool installed[MAX_SIG + 1];
	struct sigaction saved[MAX_SIG + 1];
	uint32_t counted_generation;  /* run whose nblocked we count in */
	bool helper_started;
	int efd;
	_Atomic uint64_t pending;     /* written by the handler */
	_Atomic uint64_t wanted;      /* signals with our handler installed */
} notify = { .efd = -1 };

static uint64_t bit(int sig)
{
	return 1ULL << (sig - 1);
}

static bool refused(int sig)
{
	return sig < 1 || sig > MAX_SIG || sig == SIGURG || sig == SIGSEGV ||
	       sig == SIGBUS || sig == DUMP_CAPTURE_SIGNAL || sig == SIGKILL ||
	       sig == SIGSTOP;
}

static void bits_to_set(uint64_t bits, sigset_t *set)
{
	sigemptyset(set);
	for (int sig = 1; sig <= MAX_SIG; sig++)
		if (bits & bit(sig))
			sigaddset(set, sig);
}

void signal_notify_unblock_self(void)
{
	uint64_t bits = atomic_load_explicit(&notify.wanted,
					     memory_order_acquire);
	if (!bits)
		return;
	sigset_t set;
	bits_to_set(bits, &set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void notify_handler(int sig)
{
	int saved = errno;
	atomic_fetch_or_explicit(&notify.pending, bit(sig),
				 memory_order_release);
	uint64_t one = 1;
	ssize_t r = write(notify.efd, &one, sizeof(one));
	(void)r;
	errno = saved;
}

static bool entry_live(const struct entry *e)
{
	return e->generation == sched.generation &&
	       atomic_load(&sched.running);
}

static void deliver(uint64_t sigs)
{
	rlock_lock(&notify.lock);
	for (int sig = 1; sig <= MAX_SIG; sig++) {
		if (!(sigs & bit(sig)))
			continue;
		for (struct entry *e = notify.entries; e; e = e->next)
			if ((e->sigs & bit(sig)) && entry_live(e))
				chan_trysend_rt(e->chan, &sig);
	}
	rlock_unlock(&notify.lock);
}

/* The helper: keeps exactly the wanted signals unblocked (re-reading the
 * set each time it wakes), waits on the eventfd, delivers. */
static void *helper_main(void *arg)
{
	(void)arg;
	uint64_t mask_bits = UINT64_MAX;
	for (;;) {
		uint64_t wanted = atomic_load_explicit(&notify.wanted,
						       memory_order_acquire);
		if (wanted != mask_bits) {
			sigset_t block, unblock;
			sigfillset(&block);
			bits_to_set(wanted, &unblock);
			for (int sig = 1; sig <= MAX_SIG; sig++)
				if (sigismember(&unblock, sig))
					sigdelset(&block, sig);
			pthread_sigmask(SIG_SETMASK, &block, NULL);
			mask_bits = wanted;
		}
		uint64_t count;
		if (read(notify.efd, &count, sizeof(count)) < 0 &&
		    errno != EINTR)
			continue;
		uint64_t sigs = atomic_exchange_explicit(&notify.pending, 0,
							 memory_order_acq_rel);
		if (sigs)
			deliver(sigs);
	}
	return NULL;
}

/* A forked child has no helper thread (and no thread that could hold the
 * lock): the next goro_signal_notify there starts its own. */
static void notify_atfork_child(void)
{
	struct rlock unlocked = RLOCK_INIT;
	notify.lock = unlocked;
	notify.helper_started = false;
}

/* With lock held: start the helper once per process. */
static int helper_start_locked(void)
{
	static bool atfork_registered;
	if (notify.helper_started)
		return 0;
	if (!atfork_registered) {
		if (pthread_atfork(NULL, NULL, notify_atfork_child) != 0)
			return -ENOMEM;
		atfork_registered = true;
	}
	if (notify.efd < 0) {
		notify.efd = eventfd(0, EFD_CLOEXEC);
		if (notify.efd < 0)
			return -errno;
	}
	/* It starts with every signal blocked and then opens the wanted
	 * ones itself.  SIGSEGV and SIGBUS stay open here: this runs on a
	 * goroutine's stack, which grows through SIGSEGV, and pthread_create
	 * (deep under ASan) may need it to; a fault with SIGSEGV blocked
	 * kills the process without a word. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int err = pthread_create(&t, &attr, helper_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	notify.helper_started = true;
	return 0;
}

static void wake_helper(void)
{
	uint64_t one = 1;
	ssize_t r = write(notify.efd, &one, sizeof(one));
	(void)r;
}

/* With lock held: drop entries of earlier goro_main runs, install or
 * restore handlers to match what the entries want, and count the program
 * as waiting on the outside world while any entry is live. */
static int sync_locked(void)
{
	for (struct entry **pp = &notify.entries; *pp;) {
		struct entry *e = *pp;
		if (e->generation != sched.generation) {
			*pp = e->next;
			rt_free(e, sizeof(*e));
		} else {
			pp = &e->next;
		}
	}
	uint64_t want = 0;
	for (struct entry *e = notify.entries; e; e = e->next)
		want |= e->sigs;
	for (int sig = 1; sig <= MAX_SIG; sig++) {
		bool w = want & bit(sig);
		if (w && !notify.installed[sig]) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = notify_handler;
			sa.sa_flags = SA_ONSTACK | SA_RESTART;
			sigfillset(&sa.sa_mask);
			int err = signal_install(sig, &sa, &notify.saved[sig]);
			if (err)
				return err;
			notify.installed[sig] = true;
		} else if (!w && notify.installed[sig]) {
			signal_restore(sig, &notify.saved[sig]);
			notify.installed[sig] = false;
		}
	}
	atomic_store_explicit(&notify.wanted, want, memory_order_release);
	bool counted = notify.counted_generation == sched.generation;
	if (want && !counted) {
		deadlock_blocked_add(1);
		notify.counted_generation = sched.generation;
	} else if (!want && counted) {
		deadlock_blocked_add(-1);
		notify.counted_generation = 0;
	}
	if (notify.helper_started)
		wake_helper();  /* to re-read the set it keeps unblocked */
	return 0;
}

int goro_signal_notify(goro_chan_t *c, const sigset_t *set)
{
	RT_REQUIRE_G(-EPERM);
	if (!set)
		return -EINVAL;
	int err = chan_check(c);
	if (err)
		return err;
	if (goro_chan_elem_size(c) != sizeof(int))
		return -EINVAL;
	uint64_t sigs = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(set, sig) != 1)
			continue;
		if (refused(sig))
			return -EINVAL;
		sigs |= bit(sig);
	}
	if (!sigs)
		return -EINVAL;
	rlock_lock(&notify.lock);
	err = helper_start_locked();
	if (err) {
		rlock_unlock(&notify.lock);
		return err;
	}
	struct entry *e = notify.entries;
	while (e && !(e->chan == c && e->generation == sched.generation))
		e = e->next;
	if (!e) {
		e = rt_alloc(sizeof(*e));
		if (!e) {
			rlock_unlock(&notify.lock);
			return -ENOMEM;
		}
		e->chan = c;
		e->generation = sched.generation;
		e->next = notify.entries;
		notify.entries = e;
	}
	e->sigs |= sigs;
	err = sync_locked();
	rlock_unlock(&notify.lock);
	return err;
}

int goro_signal_stop(goro_chan_t *c)
{
	RT_REQUIRE_G(-EPERM);
	if (!c)
		return -EINVAL;
	rlock_lock(&notify.lock);
	for (struct entry **pp = &notify.entries; *pp;) {
		struct entry *e = *pp;
		if (e->chan == c) {
			*pp = e->next;
			rt_free(e, sizeof(*e));
		} else {
			pp = &e->next;
		}
	}
	int err = sync_locked();
	rlock_unlock(&notify.lock);
	return err;
}
