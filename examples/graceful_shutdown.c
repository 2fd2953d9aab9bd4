/* SPDX-License-Identifier: MIT */
/*
 * graceful_shutdown.c — a service that stops cleanly on SIGTERM or SIGINT,
 * the way a Go program does it with signal.Notify, a context and tickers:
 *
 *  - N workers each do a unit of work per tick of their own ticker until
 *    the service context is done;
 *  - main waits for a signal on a channel (goro_signal_notify), then
 *    cancels the context, and gives the workers a grace period with a
 *    context of its own (goro_ctx_with_timeout) to say they have stopped;
 *  - every worker finishes the unit it is in, reports, and returns.
 *
 * Output: "ready" once the workers run, then after the signal
 * "stopping on signal N", one "worker K stopped after M ticks" per worker
 * and "clean shutdown"; exit status 0 (1 if the grace period ran out).
 */
#include <signal.h>
#include <stdio.h>

#include <goro.h>

#define WORKERS 4
#define MS 1000000LL

struct worker {
	int id;
	goro_ctx_t *ctx;        /* the service: done means stop */
	goro_chan_t *stopped;   /* int: this worker's id, once it is out */
};

static void worker_main(void *arg)
{
	struct worker *w = arg;  /* its own copy (goro_go_copy) */
	goro_ticker_t *tick = goro_ticker_new((5 + w->id) * MS);
	long ticks = 0;
	int64_t when;
	for (;;) {
		goro_case_t cs[2] = {
			{ .chan = goro_ctx_done(w->ctx), .dir = GORO_RECV },
			{ .chan = goro_ticker_chan(tick), .dir = GORO_RECV,
			  .elem = &when },
		};
		if (goro_select(cs, 2, -1) == 0)
			break;  /* cancelled */
		ticks++;  /* a unit of work */
	}
	goro_ticker_free(tick);
	printf("worker %d stopped after %ld ticks\n", w->id, ticks);
	goro_chan_send(w->stopped, &w->id);
}

static int service_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	goro_chan_t *sigs = goro_chan_make(sizeof(int), 1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (goro_signal_notify(sigs, &set) != 0)
		return 1;

	goro_ctx_t *service = goro_ctx_with_cancel(goro_ctx_background());
	goro_chan_t *stopped = goro_chan_make(sizeof(int), WORKERS);
	for (int i = 0; i < WORKERS; i++) {
		struct worker w = { .id = i, .ctx = service, .stopped = stopped };
		goro_go_copy(worker_main, &w, sizeof(w));
	}
	printf("ready\n");
	fflush(stdout);

	int sig = 0;
	goro_chan_recv(sigs, &sig);
	printf("stopping on signal %d\n", sig);
	goro_ctx_cancel(service);

	goro_ctx_t *grace = goro_ctx_with_timeout(goro_ctx_background(),
						  5000 * MS);
	int left = WORKERS, id;
	while (left > 0) {
		goro_case_t cs[2] = {
			{ .chan = stopped, .dir = GORO_RECV, .elem = &id },
			{ .chan = goro_ctx_done(grace), .dir = GORO_RECV },
		};
		if (goro_select(cs, 2, -1) == 1)
			break;
		left--;
	}
	printf(left ? "grace period over, %d workers still running\n"
		    : "clean shutdown\n", left);
	goro_ctx_free(grace);
	goro_ctx_free(service);
	goro_signal_stop(sigs);
	goro_chan_free(sigs);
	if (!left)
		goro_chan_free(stopped);
	return left ? 1 : 0;
}

int main(int argc, char **argv)
{
	return goro_main(service_main, argc, argv);
}
