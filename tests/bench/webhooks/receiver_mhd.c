/* receiver_mhd: the webhook benchmark's receiver. A libmicrohttpd server
 * (internal polling thread, epoll, a thread pool) that answers every POST
 * with 200 at once and notes, per request, the wall-clock arrival time in
 * microseconds, the body's greenpin_id and the X-Pinbridge-Delivery header.
 *
 *   GET /count   -> the number of POSTs received so far (text)
 *   GET /dump    -> one line per POST: "<unix_us> <greenpin_id> <delivery>"
 *   GET /hold    -> from now on, POSTs are noted but left unanswered
 *                   (suspended), so the sender's queue backs up
 *   GET /release -> answers every held POST and stops holding; replies with
 *                   the release time in unix microseconds
 *   GET /reset   -> forgets every POST noted so far
 *
 * Python's http.server would be the bottleneck at thousands of events per
 * second; this one is not.
 *
 * Usage: receiver_mhd PORT THREADS MAX_EVENTS   (runs until SIGINT/SIGTERM) */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define BODY_MAX 16384
#define ID_LEN   36

struct rec {
	int64_t us;
	char gid[ID_LEN + 1];
	char delivery[ID_LEN + 1];
};

struct req {
	struct req *next_held;
	struct MHD_Connection *conn;
	int noted;
	size_t len;
	char body[BODY_MAX];
};

static struct rec *recs;
static size_t max_recs;
static atomic_size_t nrecs;
static atomic_size_t overflow;
static volatile sig_atomic_t stop;
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static int holding;
static struct req *held;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The 36-character string value of "key" in a flat JSON body, or "-". */
static void json_id(const char *body, size_t len, const char *key, char out[ID_LEN + 1])
{
	char pat[64];
	const char *p, *end = body + len;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	strcpy(out, "-");
	p = memmem(body, len, pat, strlen(pat));
	if (p == NULL)
		return;
	p += strlen(pat);
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	if (p >= end || *p != '"' || end - p < ID_LEN + 2)
		return;
	memcpy(out, p + 1, ID_LEN);
	out[ID_LEN] = '\0';
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text,
                             size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result dump(struct MHD_Connection *conn)
{
	size_t n = atomic_load(&nrecs), cap = n * 96 + 1, off = 0;
	char *buf = malloc(cap);
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (buf == NULL)
		return MHD_NO;
	if (n > max_recs)
		n = max_recs;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%lld %s %s\n", (long long)recs[i].us,
		                        recs[i].gid, recs[i].delivery);
	r = MHD_create_response_from_buffer(off, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	struct req *q = *con_cls;
	char text[64];

	(void)cls;
	(void)version;
	if (strcmp(method, "POST") != 0) {
		if (strcmp(url, "/count") == 0) {
			int n = snprintf(text, sizeof(text), "%zu\n", atomic_load(&nrecs));
			return reply(conn, MHD_HTTP_OK, text, (size_t)n);
		}
		if (strcmp(url, "/dump") == 0)
			return dump(conn);
		if (strcmp(url, "/reset") == 0) {
			atomic_store(&nrecs, 0);
			atomic_store(&overflow, 0);
			return reply(conn, MHD_HTTP_OK, "reset\n", 6);
		}
		if (strcmp(url, "/hold") == 0) {
			pthread_mutex_lock(&hold_lock);
			holding = 1;
			pthread_mutex_unlock(&hold_lock);
			return reply(conn, MHD_HTTP_OK, "holding\n", 8);
		}
		if (strcmp(url, "/release") == 0) {
			int64_t us = now_us();
			struct req *h;

			pthread_mutex_lock(&hold_lock);
			holding = 0;
			h = held;
			held = NULL;
			while (h) {
				struct req *next = h->next_held;

				h->next_held = NULL;
				MHD_resume_connection(h->conn);
				h = next;
			}
			pthread_mutex_unlock(&hold_lock);
			int n = snprintf(text, sizeof(text), "%lld\n", (long long)us);
			return reply(conn, MHD_HTTP_OK, text, (size_t)n);
		}
		return reply(conn, MHD_HTTP_NOT_FOUND, "", 0);
	}
	if (q == NULL) {
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return MHD_NO;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		if (n > BODY_MAX - q->len)
			n = BODY_MAX - q->len;
		memcpy(q->body + q->len, upload_data, n);
		q->len += n;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!q->noted) {
		int64_t us = now_us();
		size_t i = atomic_fetch_add(&nrecs, 1);

		q->noted = 1;
		if (i < max_recs) {
			const char *d = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			                                            "X-Pinbridge-Delivery");
			recs[i].us = us;
			json_id(q->body, q->len, "greenpin_id", recs[i].gid);
			snprintf(recs[i].delivery, sizeof(recs[i].delivery), "%s", d ? d : "-");
		} else {
			atomic_fetch_add(&overflow, 1);
		}
		pthread_mutex_lock(&hold_lock);
		if (holding) {
			q->conn = conn;
			q->next_held = held;
			held = q;
			MHD_suspend_connection(conn);
			pthread_mutex_unlock(&hold_lock);
			return MHD_YES;
		}
		pthread_mutex_unlock(&hold_lock);
	}
	return reply(conn, MHD_HTTP_OK, "", 0);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls, **pp;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	pthread_mutex_lock(&hold_lock);
	for (pp = &held; *pp; pp = &(*pp)->next_held)
		if (*pp == q) {
			*pp = q->next_held;
			break;
		}
	pthread_mutex_unlock(&hold_lock);
	free(q);
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct sigaction sa;
	int port, threads;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT THREADS MAX_EVENTS\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	threads = atoi(argv[2]);
	max_recs = (size_t)atol(argv[3]);
	if (port <= 0 || threads <= 0 || max_recs == 0) {
		fprintf(stderr, "receiver_mhd: bad arguments\n");
		return 2;
	}
	recs = calloc(max_recs, sizeof(*recs));
	if (recs == NULL)
		return 1;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                         MHD_ALLOW_SUSPEND_RESUME,
	                     (uint16_t)port, NULL, NULL, answer, NULL, MHD_OPTION_THREAD_POOL_SIZE,
	                     (unsigned int)threads, MHD_OPTION_CONNECTION_LIMIT, 4096u,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED,
	                     completed, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "receiver_mhd: cannot listen on port %d\n", port);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("receiver_mhd: listening on port %d, %d threads\n", port, threads);
	fflush(stdout);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	if (atomic_load(&overflow))
		fprintf(stderr, "receiver_mhd: %zu events beyond MAX_EVENTS not recorded\n",
		        atomic_load(&overflow));
	free(recs);
	return 0;
}
