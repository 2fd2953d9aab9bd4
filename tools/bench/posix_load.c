/* SPDX-License-Identifier: MIT */
/*
 * posix_load.c — the load generator of goro-bench io: unmodified blocking
 * C in goroutines under libgoro-posix, and its peers.
 *
 * Redis: N clients, each on its own connection, each doing P SET/GET pairs
 * against a redis-server on 127.0.0.1, every reply checked, in one of
 * three ways:
 *
 *   goro      N goroutines on 2 Ps with hiredis's synchronous API
 *             (redisConnect, redisCommand): linked with libgoro-posix,
 *             each blocking call parks its goroutine
 *   pthreads  N threads with the same synchronous API
 *   async     hiredis's asynchronous API on one libevent loop
 *
 *	posix_load MODE PORT N P      prints "pairs/s <value>"
 *
 * DNS: N goroutines on 2 Ps each resolve "localhost" and the machine's own
 * name with getaddrinfo (on the resolver threads) while a goroutine sleeps
 * 1 ms at a time with nanosleep; prints the sleeper's lateness:
 *
 *	posix_load dns N              prints "late-p99-ms <v>" and
 *	                              "late-max-ms <v>"
 *
 * It is its own program because goro-bench itself is not linked with
 * libgoro-posix (that would change every other suite's figures).
 */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

static int port, clients, pairs;
static _Atomic long done_pairs;
static _Atomic int failures;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- synchronous: one client's whole session ------------------------------ */

static void session(int id)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	if (!c || c->err) {
		failures++;
		if (c)
			redisFree(c);
		return;
	}
	for (int i = 0; i < pairs; i++) {
		char key[32], val[32];
		snprintf(key, sizeof(key), "b:%d:%d", id, i);
		snprintf(val, sizeof(val), "v%d", id ^ i);
		redisReply *r = redisCommand(c, "SET %s %s", key, val);
		int ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		r = ok ? redisCommand(c, "GET %s", key) : NULL;
		ok = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, val);
		freeReplyObject(r);
		if (!ok) {
			failures++;
			break;
		}
		done_pairs++;
	}
	redisFree(c);
}

static goro_wg_t wg;

static void goro_client(void *arg)
{
	session((int)(intptr_t)arg);
	goro_wg_done(&wg);
}

static double elapsed;

static int goro_run(int argc, char **argv)
{
	(void)argc, (void)argv;
	double t0 = now();
	goro_wg_add(&wg, clients);
	for (int i = 0; i < clients; i++)
		goro_go(goro_client, (void *)(intptr_t)i);
	goro_wg_wait(&wg);
	elapsed = now() - t0;
	return 0;
}

static void *thread_client(void *arg)
{
	session((int)(intptr_t)arg);
	return NULL;
}

static void pthreads_run(void)
{
	pthread_t *t = calloc((size_t)clients, sizeof(*t));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	double t0 = now();
	for (int i = 0; i < clients; i++)
		if (pthread_create(&t[i], &attr, thread_client,
				   (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	for (int i = 0; i < clients; i++)
		pthread_join(t[i], NULL);
	elapsed = now() - t0;
	free(t);
}

/* ---- asynchronous: a chain of callbacks per client ------------------------ */

struct aclient {
	redisAsyncContext *ac;
	int id, i;
	char val[32];
};

static void send_set(struct aclient *a);

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
	struct aclient *a = priv;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, a->val)) {
		failures++;
		redisAsyncDisconnect(ac);
		return;
	}
	done_pairs++;
	if (++a->i == pairs)
		redisAsyncDisconnect(ac);
	else
		send_set(a);
}

static void on_set(redisAsyncContext *ac, void *reply, void *priv)
{
	struct aclient *a = priv;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_STATUS) {
		failures++;
		redisAsyncDisconnect(ac);
		return;
	}
	redisAsyncCommand(ac, on_get, a, "GET b:%d:%d", a->id, a->i);
}

static void send_set(struct aclient *a)
{
	snprintf(a->val, sizeof(a->val), "v%d", a->id ^ a->i);
	redisAsyncCommand(a->ac, on_set, a, "SET b:%d:%d %s", a->id, a->i,
			  a->val);
}

static void async_run(void)
{
	struct event_base *base = event_base_new();
	struct aclient *cl = calloc((size_t)clients, sizeof(*cl));
	double t0 = now();
	for (int i = 0; i < clients; i++) {
		cl[i].id = i;
		cl[i].ac = redisAsyncConnect("127.0.0.1", port);
		if (!cl[i].ac || cl[i].ac->err) {
			fprintf(stderr, "redisAsyncConnect failed\n");
			exit(1);
		}
		redisLibeventAttach(cl[i].ac, base);
		if (pairs > 0)
			send_set(&cl[i]);
	}
	event_base_dispatch(base);
	elapsed = now() - t0;
	event_base_free(base);
	free(cl);
}

/* ---- DNS beside a 1 ms sleeper --------------------------------------------- */

#define LATE_MAX 100000
static double late[LATE_MAX];
static int nlate;
static _Atomic int resolved, dns_left;
static char own_name[256];

static void resolver(void *arg)
{
	(void)arg;
	const char *names[] = { "localhost", own_name };
	for (int i = 0; i < 2; i++) {
		struct addrinfo hints = { .ai_family = AF_INET,
					  .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		if (getaddrinfo(names[i], "80", &hints, &res) == 0) {
			resolved++;
			freeaddrinfo(res);
		} else {
			failures++;
		}
	}
	dns_left--;
	goro_wg_done(&wg);
}

static void ms_sleeper(void *arg)
{
	(void)arg;
	while (dns_left > 0 && nlate < LATE_MAX) {
		double t0 = now();
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		late[nlate++] = (now() - t0) * 1e3 - 1.0;
	}
	goro_wg_done(&wg);
}

static int dns_run(int argc, char **argv)
{
	(void)argc, (void)argv;
	dns_left = clients;
	goro_wg_add(&wg, clients + 1);
	goro_go(ms_sleeper, NULL);
	for (int i = 0; i < clients; i++)
		goro_go(resolver, NULL);
	goro_wg_wait(&wg);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int dns_main(void)
{
	if (gethostname(own_name, sizeof(own_name) - 1) != 0)
		strcpy(own_name, "localhost");
	setenv("GORO_MAXPROCS", "2", 1);
	char *args[] = { (char *)"posix_load", NULL };
	if (goro_main(dns_run, 1, args) != 0 || failures ||
	    resolved != 2 * clients || nlate == 0) {
		fprintf(stderr, "posix_load dns: %d failures, %d of %d "
			"lookups\n", (int)failures, (int)resolved, 2 * clients);
		return 1;
	}
	qsort(late, (size_t)nlate, sizeof(*late), cmp);
	printf("late-p99-ms %.3f\nlate-max-ms %.3f\n",
	       late[(nlate * 99) / 100], late[nlate - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "dns")) {
		clients = atoi(argv[2]);
		return dns_main();
	}
	if (argc != 5) {
		fprintf(stderr, "usage: posix_load goro|pthreads|async PORT N P\n"
			"       posix_load dns N\n");
		return 2;
	}
	port = atoi(argv[2]);
	clients = atoi(argv[3]);
	pairs = atoi(argv[4]);
	if (!strcmp(argv[1], "goro")) {
		setenv("GORO_MAXPROCS", "2", 1);
		char *args[] = { argv[0], NULL };
		if (goro_main(goro_run, 1, args) != 0)
			return 1;
	} else if (!strcmp(argv[1], "pthreads")) {
		pthreads_run();
	} else if (!strcmp(argv[1], "async")) {
		async_run();
	} else {
		return 2;
	}
	if (failures || done_pairs != (long)clients * pairs) {
		fprintf(stderr, "posix_load %s: %d failures, %ld of %ld pairs\n",
			argv[1], (int)failures, (long)done_pairs,
			(long)clients * pairs);
		return 1;
	}
	printf("pairs/s %.0f\n", (double)done_pairs / elapsed);
	return 0;
}
