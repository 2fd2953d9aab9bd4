/* SPDX-License-Identifier: MIT */
/*
 * http_hello.c — a minimal HTTP/1.1 server answering "Hello, World!" to
 * every request, one goroutine per connection, keep-alive and pipelining
 * supported.  It exists to compare goro's netpoller with Go's net/http
 * under load (tools/bench/bench_http.c runs it under wrk beside
 * tools/bench/go/http), so it answers with the same headers Go's
 * net/http hello server sends, and nothing more: it does not parse
 * request bodies.
 *
 *	examples/http_hello [port]      (default 8080)
 *	wrk -t1 -c64 -d5s --latency http://127.0.0.1:8080/
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#define BUF_SIZE 8192
#define BODY "Hello, World!"

/* A connection's state: what it has read but not answered, what it is
 * about to write, and the Date header of the current second. */
struct conn {
	int fd;
	size_t in_len;
	size_t out_len;
	time_t date_sec;
	char date[40];
	char in[BUF_SIZE];
	char out[BUF_SIZE];
};

static void date_refresh(struct conn *c)
{
	time_t now = time(NULL);
	if (now == c->date_sec)
		return;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(c->date, sizeof(c->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	c->date_sec = now;
}

static bool respond(struct conn *c)
{
	date_refresh(c);
	int n = snprintf(c->out + c->out_len, sizeof(c->out) - c->out_len,
			 "HTTP/1.1 200 OK\r\n"
			 "Date: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "\r\n" BODY,
			 c->date, sizeof(BODY) - 1);
	if (n < 0 || (size_t)n >= sizeof(c->out) - c->out_len)
		return false;
	c->out_len += (size_t)n;
	return true;
}

static bool flush(struct conn *c)
{
	if (c->out_len == 0)
		return true;
	bool ok = goro_write(c->fd, c->out, c->out_len) == (ssize_t)c->out_len;
	c->out_len = 0;
	return ok;
}

/* Does the request header [start, end) ask to close the connection? */
static bool wants_close(const char *start, const char *end)
{
	static const char key[] = "\r\nconnection: close";
	for (const char *p = start; p + sizeof(key) - 1 <= end; p++)
		if (*p == '\r' && !strncasecmp(p, key, sizeof(key) - 1))
			return true;
	return false;
}

static void serve(void *arg)
{
	struct conn *c = arg;
	bool open = true;
	while (open) {
		ssize_t n = goro_read(c->fd, c->in + c->in_len,
				      sizeof(c->in) - c->in_len);
		if (n <= 0)
			break;
		c->in_len += (size_t)n;
		/* Answer every complete request in the buffer at once. */
		char *start = c->in, *end = c->in + c->in_len;
		char *hdr_end;
		while ((hdr_end = memmem(start, (size_t)(end - start),
					 "\r\n\r\n", 4))) {
			hdr_end += 4;
			if (c->out_len + 256 > sizeof(c->out) && !flush(c)) {
				open = false;
				break;
			}
			if (!respond(c) || wants_close(start, hdr_end))
				open = false;
			start = hdr_end;
			if (!open)
				break;
		}
		c->in_len = (size_t)(end - start);
		memmove(c->in, start, c->in_len);
		if (!flush(c) || c->in_len == sizeof(c->in))
			break;  /* write failed, or a header too large */
	}
	goro_close(c->fd);
	free(c);
}

static int http_main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("socket");
		return 1;
	}
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, SOMAXCONN) != 0) {
		perror("bind/listen");
		return 1;
	}
	for (;;) {
		int fd = goro_accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = malloc(sizeof(*c));
		if (!c) {
			goro_close(fd);
			continue;
		}
		c->fd = fd;
		c->in_len = c->out_len = 0;
		c->date_sec = 0;
		if (goro_go(serve, c) < 0) {
			goro_close(fd);
			free(c);
		}
	}
}

int main(int argc, char **argv)
{
	return goro_main(http_main, argc, argv);
}
