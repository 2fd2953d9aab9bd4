/* SPDX-License-Identifier: MIT */
/*
 * echo_server.c — a TCP echo server with one goroutine per connection, the
 * way a Go programmer writes it:
 *
 *	for { conn := l.Accept(); go handle(conn) }
 *
 * Each handler reads and writes as if it had a thread of its own; when a
 * read would block, the goroutine parks on the netpoller and its thread
 * serves other connections.
 *
 *	examples/echo_server [port]     (default 7777; try: nc 127.0.0.1 7777)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <goro.h>

static void handle(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;
	while ((n = goro_read(fd, buf, sizeof(buf))) > 0)
		if (goro_write(fd, buf, (size_t)n) != n)
			break;
	goro_close(fd);
}

static int echo_main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7777;
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
	printf("echo server on port %d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = goro_accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("accept");
			continue;
		}
		if (goro_go(handle, (void *)(intptr_t)fd) < 0)
			goro_close(fd);
	}
}

int main(int argc, char **argv)
{
	return goro_main(echo_main, argc, argv);
}
