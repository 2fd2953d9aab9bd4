/* SPDX-License-Identifier: MIT */
/*
 * bench_net.c — suite "net": what the networking calls cost on loopback.
 *
 *   udp-rtt      ns per round trip of a 64-byte datagram: a client
 *                goroutine (goro_dial "udp") sends, an echo goroutine
 *                (goro_listen "udp", goro_recvfrom/goro_sendto) answers;
 *                on 1 P, so both park on the poller every trip
 *   dial-accept  ns per TCP connection on 127.0.0.1: goro_dial, the
 *                server's goro_accept, one byte each way, both closed;
 *                on 2 Ps
 *
 * Each sample is one goro_main that runs its workload twice and times the
 * second run, as the Go counterpart (tools/bench/go/net) warms up too; its
 * runs are interleaved with goro's.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <goro.h>

#include "bench.h"

#define SUITE "net"

static long count;
static double sample;

static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		bench_fail(SUITE, "getsockname failed");
	return ntohs(sa.sin_port);
}

/* ---- UDP round trip --------------------------------------------------------------- */

static void udp_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[256];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = goro_recvfrom(fd, buf, sizeof(buf), 0,
					  (struct sockaddr *)&from, &len);
		if (n < 0 || goro_sendto(fd, buf, (size_t)n, 0,
					 (struct sockaddr *)&from, len) != n)
			return;
	}
}

static void udp_run(void)
{
	int s = goro_listen("udp4", "127.0.0.1:0", 0);
	if (s < 0)
		bench_fail(SUITE, "goro_listen udp: %d", s);
	goro_go(udp_echo, (void *)(intptr_t)s);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port_of(s));
	int c = goro_dial("udp4", addr, 0);
	if (c < 0)
		bench_fail(SUITE, "goro_dial udp: %d", c);
	char out[64], in[64];
	memset(out, 'u', sizeof(out));
	int64_t t0 = bench_now();
	for (long i = 0; i < count; i++)
		if (goro_send(c, out, sizeof(out), 0) != sizeof(out) ||
		    goro_recv(c, in, sizeof(in), 0) != sizeof(in))
			bench_fail(SUITE, "udp round trip %ld failed", i);
	sample = (double)(bench_now() - t0) / (double)count;
	goro_close(c);
	goro_close(s);  /* the echo goroutine fails with EBADF and leaves */
	while (goro_count() > 1)
		goro_yield();
}

static int udp_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	udp_run();
	udp_run();
	return 0;
}

/* ---- dial + accept ---------------------------------------------------------------- */

static void acceptor(void *arg)
{
	int l = (int)(intptr_t)arg;
	for (;;) {
		int fd = goro_accept(l, NULL, NULL);
		if (fd < 0)
			return;
		char b;
		if (goro_read(fd, &b, 1) == 1)
			goro_write(fd, &b, 1);
		goro_close(fd);
	}
}

static void dial_run(void)
{
	int l = goro_listen("tcp4", "127.0.0.1:0", 0);
	if (l < 0)
		bench_fail(SUITE, "goro_listen tcp: %d", l);
	goro_go(acceptor, (void *)(intptr_t)l);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port_of(l));
	int64_t t0 = bench_now();
	for (long i = 0; i < count; i++) {
		int c = goro_dial("tcp4", addr, 0);
		char b = 'd';
		if (c < 0 || goro_write(c, &b, 1) != 1 || goro_read(c, &b, 1) != 1)
			bench_fail(SUITE, "connection %ld failed: %d", i, c);
		goro_close(c);
	}
	sample = (double)(bench_now() - t0) / (double)count;
	goro_close(l);
	while (goro_count() > 1)
		goro_yield();
}

static int dial_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	dial_run();
	dial_run();
	return 0;
}

/* ---- the suite -------------------------------------------------------------------- */

void bench_net(const struct bench_opts *opts)
{
	struct bench_opts once = *opts;
	once.runs = 1;
	for (int i = 0; i < opts->runs; i++) {
		count = opts->quick ? 1000 : 50000;
		bench_goro(1, udp_main);
		bench_report(SUITE, "udp-rtt", "ns", &sample, 1);
		/* Each connection leaves a TIME_WAIT socket: keep the count
		 * well below the ephemeral port range. */
		count = opts->quick ? 200 : 5000;
		bench_goro(2, dial_main);
		bench_report(SUITE, "dial-accept", "ns", &sample, 1);
		bench_go(&once, SUITE, "net", opts->quick ? "-quick" : "", "ns");
	}
}
