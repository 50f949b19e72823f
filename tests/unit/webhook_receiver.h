/* webhook_receiver: a small HTTP server in the test process for the events
 * worker to deliver to. One thread per connection; it records every request
 * (path, head, body) and answers by path: /bad 400, /moved 302 (Location
 * /ok), /fail 500, /flaky 500 twice then 200, /hang sleeps 6 s the first
 * time, /slow sleeps 300 ms and counts how many run at once; others 200. */
#ifndef PB_TEST_WEBHOOK_RECEIVER_H
#define PB_TEST_WEBHOOK_RECEIVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/store.h"

#define MAX_REQS 256

struct req {
	char path[64];
	char head[2048];
	char body[STORE_EVENT_BODY_MAX + 1];
};

static struct {
	int fd, port;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu;
	struct req reqs[MAX_REQS];
	int nreqs, flaky, hang, slow_now, slow_max;
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

static inline int status_for(const char *path, int *delay_ms)
{
	int s = 200;

	*delay_ms = 0;
	pthread_mutex_lock(&rx.mu);
	if (strcmp(path, "/bad") == 0) {
		s = 400;
	} else if (strcmp(path, "/moved") == 0) {
		s = 302;
	} else if (strcmp(path, "/fail") == 0) {
		s = 500;
	} else if (strcmp(path, "/flaky") == 0) {
		s = rx.flaky++ < 2 ? 500 : 200;
	} else if (strcmp(path, "/hang") == 0) {
		*delay_ms = rx.hang++ == 0 ? 6000 : 0;
	} else if (strcmp(path, "/slow") == 0) {
		*delay_ms = 300;
		if (++rx.slow_now > rx.slow_max)
			rx.slow_max = rx.slow_now;
	}
	pthread_mutex_unlock(&rx.mu);
	return s;
}

static inline void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg, status, delay;
	char buf[STORE_EVENT_BODY_MAX + 4096], reply[256], *end, *cl;
	size_t n = 0, need = 0;
	struct req r = {0};

	for (;;) {
		ssize_t k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);

		if (k <= 0)
			goto out;
		n += (size_t)k;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "\r\nContent-Length:");
		need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		if (n >= need)
			break;
	}
	sscanf(buf, "POST %63s", r.path);
	snprintf(r.head, sizeof(r.head), "%.*s", (int)(end + 2 - buf), buf);
	snprintf(r.body, sizeof(r.body), "%s", end + 4);
	pthread_mutex_lock(&rx.mu);
	if (rx.nreqs < MAX_REQS)
		rx.reqs[rx.nreqs++] = r;
	pthread_mutex_unlock(&rx.mu);
	status = status_for(r.path, &delay);
	if (delay)
		usleep((useconds_t)delay * 1000);
	if (strcmp(r.path, "/slow") == 0) {
		pthread_mutex_lock(&rx.mu);
		rx.slow_now--;
		pthread_mutex_unlock(&rx.mu);
	}
	snprintf(reply, sizeof(reply),
	         "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n"
	         "Location: http://127.0.0.1:%d/ok\r\n\r\nno",
	         status, rx.port);
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
		perror("receiver send");
out:
	close(fd);
	return NULL;
}

static inline void *serve(void *arg)
{
	(void)arg;
	while (!atomic_load(&rx.stop)) {
		struct pollfd p = {.fd = rx.fd, .events = POLLIN};
		pthread_t t;
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(rx.fd, NULL, NULL);
		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
	return NULL;
}

static inline int rx_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	rx.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rx.fd < 0 || bind(rx.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(rx.fd, 64) != 0 || getsockname(rx.fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	rx.port = ntohs(a.sin_port);
	return pthread_create(&rx.thread, NULL, serve, NULL);
}

static inline int rx_count(const char *path)
{
	int n = 0;

	pthread_mutex_lock(&rx.mu);
	for (int i = 0; i < rx.nreqs; i++)
		n += strcmp(rx.reqs[i].path, path) == 0;
	pthread_mutex_unlock(&rx.mu);
	return n;
}

/* The requests for path so far, newest last; returns how many. */
static inline int rx_find(const char *path, struct req *out, int max)
{
	int n = 0;

	pthread_mutex_lock(&rx.mu);
	for (int i = 0; i < rx.nreqs; i++)
		if (strcmp(rx.reqs[i].path, path) == 0 && n < max)
			out[n++] = rx.reqs[i];
	pthread_mutex_unlock(&rx.mu);
	return n;
}

static inline void header(const struct req *r, const char *name, char *out, size_t outlen)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strcasestr(r->head, key);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

static inline void rx_stop(void)
{
	atomic_store(&rx.stop, 1);
	pthread_join(rx.thread, NULL);
	close(rx.fd);
}

#endif
