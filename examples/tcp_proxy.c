/* SPDX-License-Identifier: MIT */
/*
 * tcp_proxy.c — a TCP proxy written the way a Go programmer writes one:
 *
 *     tcp_proxy LISTEN_ADDR UPSTREAM_ADDR [IDLE_TIMEOUT_MS]
 *
 *  - goro_listen and an accept loop in a goroutine of its own;
 *  - one goroutine per client: it dials the upstream (goro_dial, with a
 *    timeout) and starts two copying goroutines, one per direction;
 *  - each copier moves its read deadline (goro_fd_set_deadline) forward on
 *    every read; a connection on which no byte moved either way for the
 *    idle timeout fails with ETIMEDOUT and is closed (goro_close); an end
 *    of file is passed on as a half-close (shutdown SHUT_WR), as Go's
 *    CloseWrite is;
 *  - SIGTERM or SIGINT arrives on a channel (goro_signal_notify): the
 *    listener is closed, the root context is cancelled, every connection
 *    sets its deadlines to now so its copiers return, and main waits for
 *    the connections to drain within a grace context
 *    (goro_ctx_with_timeout).
 *
 * Output: "listening on HOST:PORT" once ready (port 0 picks a free one),
 * then after a signal "stopping on signal N", a summary line
 * "tcp_proxy: C connections, U bytes up, D bytes down, I idle timeouts,
 * F dial failures" and "clean shutdown"; exit status 0 (1 if the grace
 * period ran out or the listener failed, 2 for bad arguments).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <goro.h>

#define MS 1000000LL
#define DIAL_TIMEOUT (5000 * MS)
#define GRACE (10000 * MS)

/* Set once in proxy_main before any goroutine starts. */
static const char *upstream_addr;
static int64_t idle_ns;

/* Written by every connection goroutine. */
static _Atomic long n_conns, n_idle, n_dial_failed;
static _Atomic long bytes_up, bytes_down;

static goro_wg_t conns_wg = GORO_WG_INIT;  /* acceptor + live connections */

struct conn {
	int client, upstream;
	goro_ctx_t *ctx;            /* cancelled when one direction fails,
				     * or when the service stops */
	goro_chan_t *done;          /* int: each copier's result */
	_Atomic int64_t last_active; /* goro_now() of the last byte moved */
};

struct copier {
	struct conn *c;
	int src, dst;
	_Atomic long *count;
};

/* Set how's deadline on fd, then look at the context: a cancel that set
 * the deadline to now before this call is seen here, one after it
 * overrides this deadline.  0, or -ECANCELED. */
static int arm(struct conn *c, int fd, int how, int64_t deadline)
{
	goro_fd_set_deadline(fd, how, deadline);
	return goro_ctx_err(c->ctx) ? -ECANCELED : 0;
}

/* Copy src to dst until end of file (0), idleness (-ETIMEDOUT), a cancel
 * (-ECANCELED) or an error (-errno); the result goes to c->done. */
static void copy_main(void *arg)
{
	struct copier *p = arg;  /* its own copy (goro_go_copy) */
	struct conn *c = p->c;
	char buf[16384];
	int res;
	int64_t deadline = goro_now() + idle_ns;
	for (;;) {
		if ((res = arm(c, p->src, GORO_READ, deadline)) != 0)
			break;
		ssize_t n = goro_read(p->src, buf, sizeof(buf));
		if (n == 0) {            /* end of file: pass it on */
			shutdown(p->dst, SHUT_WR);
			break;
		}
		if (n < 0 && errno == ETIMEDOUT) {
			if (goro_ctx_err(c->ctx)) {
				res = -ECANCELED;
				break;
			}
			/* Idle only if the other direction was too. */
			deadline = atomic_load(&c->last_active) + idle_ns;
			if (deadline > goro_now())
				continue;
			res = -ETIMEDOUT;
			break;
		}
		if (n < 0) {
			res = -errno;
			break;
		}
		int64_t now = goro_now();
		atomic_store(&c->last_active, now);
		if ((res = arm(c, p->dst, GORO_WRITE, now + idle_ns)) != 0)
			break;
		if (goro_write(p->dst, buf, (size_t)n) != n) {
			res = errno == ETIMEDOUT && goro_ctx_err(c->ctx)
				? -ECANCELED : -errno;
			break;
		}
		atomic_fetch_add(p->count, n);
		now = goro_now();
		atomic_store(&c->last_active, now);
		deadline = now + idle_ns;
	}
	goro_chan_send(c->done, &res);
}

struct conn_start {
	int client;
	goro_ctx_t *root;
};

/* One client: dial the upstream, copy both ways, close both. */
static void conn_main(void *arg)
{
	struct conn_start *s = arg;
	struct conn c = { .client = s->client };
	int up = goro_dial("tcp", upstream_addr, DIAL_TIMEOUT);
	if (up < 0) {
		fprintf(stderr, "tcp_proxy: dial %s: %s\n", upstream_addr,
			strerror(-up));
		atomic_fetch_add(&n_dial_failed, 1);
		goro_close(s->client);
		goro_wg_done(&conns_wg);
		return;
	}
	c.upstream = up;
	c.ctx = goro_ctx_with_cancel(s->root);
	c.done = goro_chan_make(sizeof(int), 2);
	atomic_store(&c.last_active, goro_now());
	struct copier a = { &c, c.client, up, &bytes_up };
	struct copier b = { &c, up, c.client, &bytes_down };
	goro_go_copy(copy_main, &a, sizeof(a));
	goro_go_copy(copy_main, &b, sizeof(b));

	int finished = 0, stopping = 0, idle = 0, res;
	while (finished < 2) {
		goro_case_t cs[2] = {
			{ .chan = c.done, .dir = GORO_RECV, .elem = &res },
			/* NULL once handled: a nil channel, never ready */
			{ .chan = stopping ? NULL : goro_ctx_done(c.ctx),
			  .dir = GORO_RECV },
		};
		if (goro_select(cs, 2, -1) == 0) {
			finished++;
			idle |= res == -ETIMEDOUT;
			if (res < 0)
				goro_ctx_cancel(c.ctx);  /* stop the other */
		} else {
			/* Cancelled: wake both copiers now. */
			stopping = 1;
			int64_t now = goro_now();
			goro_fd_set_deadline(c.client, GORO_READ | GORO_WRITE,
					     now);
			goro_fd_set_deadline(up, GORO_READ | GORO_WRITE, now);
		}
	}
	if (idle)
		atomic_fetch_add(&n_idle, 1);
	goro_close(c.client);
	goro_close(up);
	goro_chan_free(c.done);
	goro_ctx_free(c.ctx);
	goro_wg_done(&conns_wg);
}

struct acceptor {
	int listener;
	goro_ctx_t *root;
};

/* Accept until the listener is closed. */
static void accept_main(void *arg)
{
	struct acceptor *a = arg;
	for (;;) {
		int fd = goro_accept(a->listener, NULL, NULL);
		if (fd < 0) {
			if (errno == EBADF || goro_ctx_err(a->root))
				break;  /* closed by the shutdown */
			perror("tcp_proxy: accept");
			goro_sleep(10 * MS);  /* EMFILE and the like */
			continue;
		}
		atomic_fetch_add(&n_conns, 1);
		goro_wg_add(&conns_wg, 1);
		struct conn_start s = { fd, a->root };
		if (goro_go_copy(conn_main, &s, sizeof(s)) < 0) {
			goro_close(fd);
			goro_wg_done(&conns_wg);
		}
	}
	goro_wg_done(&conns_wg);
}

static void drain_main(void *arg)
{
	goro_wg_wait(&conns_wg);
	goro_chan_close(arg);
}

static void print_listening(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		printf("listening\n");
	} else {
		const char *fmt = ss.ss_family == AF_INET6
			? "listening on [%s]:%s\n" : "listening on %s:%s\n";
		printf(fmt, host, port);
	}
	fflush(stdout);
}

static int proxy_main(int argc, char **argv)
{
	long idle_ms = 60000;
	if (argc == 4) {
		char *end;
		idle_ms = strtol(argv[3], &end, 10);
		if (*end || idle_ms <= 0)
			argc = 0;
	}
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tcp_proxy LISTEN_ADDR UPSTREAM_ADDR "
			"[IDLE_TIMEOUT_MS]\n");
		return 2;
	}
	upstream_addr = argv[2];
	idle_ns = idle_ms * MS;

	goro_chan_t *sigs = goro_chan_make(sizeof(int), 1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (goro_signal_notify(sigs, &set) != 0)
		return 1;
	int l = goro_listen("tcp", argv[1], 0);
	if (l < 0) {
		fprintf(stderr, "tcp_proxy: listen %s: %s\n", argv[1],
			strerror(-l));
		return 1;
	}
	goro_ctx_t *root = goro_ctx_with_cancel(goro_ctx_background());
	struct acceptor a = { l, root };
	goro_wg_add(&conns_wg, 1);
	goro_go_copy(accept_main, &a, sizeof(a));
	print_listening(l);

	int sig = 0;
	goro_chan_recv(sigs, &sig);
	printf("stopping on signal %d\n", sig);
	fflush(stdout);
	goro_close(l);          /* stop accepting */
	goro_ctx_cancel(root);  /* stop every connection */

	goro_ctx_t *grace = goro_ctx_with_timeout(goro_ctx_background(), GRACE);
	goro_chan_t *drained = goro_chan_make(0, 0);
	goro_go(drain_main, drained);
	goro_case_t cs[2] = {
		{ .chan = drained, .dir = GORO_RECV },
		{ .chan = goro_ctx_done(grace), .dir = GORO_RECV },
	};
	int late = goro_select(cs, 2, -1) == 1;
	printf("tcp_proxy: %ld connections, %ld bytes up, %ld bytes down, "
	       "%ld idle timeouts, %ld dial failures\n",
	       atomic_load(&n_conns), atomic_load(&bytes_up),
	       atomic_load(&bytes_down), atomic_load(&n_idle),
	       atomic_load(&n_dial_failed));
	printf(late ? "grace period over, connections still open\n"
		    : "clean shutdown\n");
	goro_ctx_free(grace);
	goro_signal_stop(sigs);
	goro_chan_free(sigs);
	if (!late) {  /* nothing uses them any more */
		goro_ctx_free(root);
		goro_chan_free(drained);
	}
	return late;
}

int main(int argc, char **argv)
{
	return goro_main(proxy_main, argc, argv);
}
