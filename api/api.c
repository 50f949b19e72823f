/* api: the libmicrohttpd daemon. Accepts connections on a thread pool,
 * gathers each request's body (at most 1 MiB kept, the rest counted and
 * dropped), hands the request to api_routes.c and sends what it answered,
 * stamped with a request id. Handlers may block on core's group commit; the
 * pool is sized for that. */
#include "api/api_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/rand.h"

#define CONN_TIMEOUT_S 30

/* "127.0.0.1:8080" or "[::1]:8080" into ss. 0 or EINVAL. */
static int listen_parse(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
	char host[64];
	const char *colon, *h = listen;
	size_t hlen;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!listen)
		return EINVAL;
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (!close || close[1] != ':')
			return EINVAL;
		h++;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return EINVAL;
		hlen = (size_t)(colon - h);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		return EINVAL;
	if (listen[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*v6 = true;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*v6 = false;
	}
	return 0;
}

static void request_free(struct api_request *q)
{
	if (!q)
		return;
	if (q->cfg)
		config_unref(q->cfg);
	free(q->res);
	free(q->body);
	free(q->reply.body);
	if (q->reply.has_fd) /* never handed to MHD */
		close(q->reply.fd);
	free(q);
}

/* Keeps the first API_BODY_MAX bytes; beyond that only counts, so the
 * answer (413, after auth) waits for the whole upload. false: give up on
 * the connection. */
static bool body_append(struct api_request *q, const char *data, size_t n)
{
	q->received += n;
	if (q->received > API_DISCARD_MAX)
		return false;
	if (q->too_large)
		return true;
	if (q->len + n > API_BODY_MAX) {
		q->too_large = true;
		free(q->body);
		q->body = NULL;
		q->len = q->cap = 0;
		return true;
	}
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		char *nb;

		while (cap < q->len + n + 1)
			cap *= 2;
		nb = realloc(q->body, cap);
		if (!nb)
			return false;
		q->body = nb;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	q->body[q->len] = '\0';
	return true;
}

/* A Content-Length over the limit: known before any of the body arrives.
 * (MHD itself refuses a malformed Content-Length.) */
static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return end != cl && (errno == ERANGE || n > API_BODY_MAX);
}

static const char *route_log_name(enum api_route r)
{
	switch (r) {
	case ROUTE_HEALTHZ:
		return "/healthz";
	case ROUTE_METRICS:
		return "/metrics";
	case ROUTE_COLLECTION:
		return "/greenpin";
	case ROUTE_ITEM:
		return "/greenpin/{id}";
	case ROUTE_VN_ITEM:
		return "/greenvn/{id}";
	case ROUTE_NUMBERS:
		return "/greenpin/{id}/{side}/numbers";
	case ROUTE_NUMBER:
		return "/greenpin/{id}/{side}/numbers/{number}";
	case ROUTE_EVENTS:
		return "/events";
	case ROUTE_EVENT_RETRY:
		return "/events/{id}/retry";
	case ROUTE_CALLS:
		return "/calls";
	case ROUTE_CALL:
		return "/calls/{call_sid}";
	case ROUTE_RECORDING:
		return "/calls/{call_sid}/recording";
	default:
		return "(unknown path)";
	}
}

static enum MHD_Result send_reply(struct api *a, struct MHD_Connection *conn, const char *method,
                                  struct api_request *q)
{
	struct api_reply *r = &q->reply;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int64_t took;

	if (r->status < 100 || r->status > 599) {
		log_msg(LVL_ERR, "api", q->id, "no answer was built for %s %s", method,
		        route_log_name(q->route));
		api_reply_error(r, q, method, 500, AC_INTERNAL, "internal error");
	}
	if (r->has_fd) {
		/* MHD reads the file as it sends (sendfile where it can), closes
		 * fd with the response, and sends no body to HEAD. */
		resp = MHD_create_response_from_fd_at_offset64(r->length, r->fd, r->offset);
		if (resp)
			r->has_fd = false; /* the response owns it now */
	} else if (r->body) {
		resp = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, free);
		if (resp)
			r->body = NULL; /* the response owns it now */
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp) {
		log_msg(LVL_ERR, "api", q->id, "cannot build a response: out of memory");
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(resp, "X-Request-Id", q->id);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->www_auth)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_auth);
	if (r->accept_ranges)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, r->accept_ranges);
	if (r->content_range[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, r->content_range);
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);

	took = clock_mono_us() - q->start_us;
	api_metrics_observe(a->metrics, q->route, method, r->status, took);
	/* The route template, never the path: paths carry phone numbers. */
	log_msg(r->status >= 500   ? LVL_WARN
	        : r->status >= 400 ? LVL_INFO
	                           : LVL_DEBUG,
	        "api", q->id, "%s %s -> %d in %.1f ms", method, route_log_name(q->route), r->status,
	        (double)took / 1000.0);
	return ret;
}

static void change_done(void *arg)
{
	struct api_request *q = arg;
	struct api *a = q->api;

	pthread_mutex_lock(&a->mu);
	q->await = AWAIT_DONE;
	if (q->suspended) {
		q->suspended = false;
		q->resumed = true;
		a->resuming++;
		MHD_resume_connection(q->conn);
	}
	a->inflight--;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->mu);
}

/* MHD has taken a resumed connection back (it runs the handler again, or
 * completes the request): it no longer counts as suspended. */
static void resume_seen(struct api *a, struct api_request *q)
{
	pthread_mutex_lock(&a->mu);
	if (q->resumed) {
		q->resumed = false;
		a->resuming--;
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->mu);
}

bool api_change(struct api_request *q, const char *method, struct alloc_op *op, size_t n)
{
	struct api *a = q->api;

	if (q->await == AWAIT_DONE)
		return true;
	q->res = calloc(n, sizeof(*q->res));
	if (!q->res) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		return false;
	}
	op->res = q->res;
	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		api_reply_error(&q->reply, q, method, 503, AC_INTERNAL,
		                "shutting down: the change was not made, retry later");
		return false;
	}
	q->await = AWAIT_RUNNING;
	a->inflight++;
	pthread_mutex_unlock(&a->mu);
	/* The change reads the tenant from this snapshot until it is done, and
	 * the second pass answers from the same one. */
	q->cfg = config_ref((struct config *)op->cfg);
	alloc_submit(a->svc, op, change_done, q);
	return false;
}

/* After a first pass that submitted a change: suspends the connection until
 * the change is done (true), or, when it already is, says so (false). */
static bool await_suspend(struct api *a, struct MHD_Connection *conn, struct api_request *q)
{
	bool running;

	pthread_mutex_lock(&a->mu);
	running = q->await == AWAIT_RUNNING;
	if (running) {
		MHD_suspend_connection(conn);
		q->suspended = true;
	}
	pthread_mutex_unlock(&a->mu);
	return running;
}

/* Routes, and once more when a change submitted by the first pass is
 * already done; false when the connection was suspended meanwhile. */
static bool route(struct api *a, struct MHD_Connection *conn, const char *url, const char *method,
                  struct api_request *q)
{
	api_route(a, conn, url, method, q);
	if (q->reply.status != 0) /* answered, or a second pass */
		return true;
	/* No answer: a change was submitted. It may be done already. */
	if (await_suspend(a, conn, q))
		return false;
	api_route(a, conn, url, method, q);
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	static const char hex[] = "0123456789abcdef";
	struct api *a = cls;
	struct api_request *q = *con_cls;
	uint8_t rnd[8];
	size_t i;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->start_us = clock_mono_us();
		rand_bytes(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++) {
			q->id[2 * i] = hex[rnd[i] >> 4];
			q->id[2 * i + 1] = hex[rnd[i] & 15];
		}
		q->id[16] = '\0';
		q->api = a;
		q->conn = conn;
		*con_cls = q;
		if (!declared_too_large(conn))
			return MHD_YES;
		/* Answered before the body: MHD then reads none of it (no 100
		 * Continue either) and closes the connection after the reply. The
		 * usual order still holds: auth, version and target come first. */
		q->too_large = true;
		if (!route(a, conn, url, method, q))
			return MHD_YES;
		return send_reply(a, conn, method, q);
	}
	if (*upload_data_size) {
		if (!body_append(q, upload_data, *upload_data_size)) {
			log_msg(LVL_WARN, "api", q->id,
			        "dropping connection: body over %u bytes or out of memory",
			        API_DISCARD_MAX);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->await == AWAIT_DONE)
		resume_seen(a, q);
	if (!route(a, conn, url, method, q))
		return MHD_YES;
	return send_reply(a, conn, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	if (*con_cls)
		resume_seen(cls, *con_cls);
	request_free(*con_cls);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_msg(LVL_WARN, "api", NULL, "libmicrohttpd: %s", line);
}

int api_start(struct api **ap, const struct api_services *svcs, const char *listen, int threads)
{
	struct sockaddr_storage ss;
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	unsigned pool = threads > 1 ? (unsigned)threads : 1;
	/* Enough for keep-alive clients of every pool thread: MHD splits the
	 * limit between the threads, and connections spread unevenly. */
	unsigned limit = pool * 256 > 4096 ? pool * 256 : 4096;
	struct api *a;
	bool v6 = false;
	int err;

	if (listen_parse(listen, &ss, &v6) != 0) {
		log_err("api",
		        "http listen address \"%s\" is not ADDR:PORT (IPv4 a.b.c.d:port or "
		        "[IPv6]:port, port 1-65535)",
		        listen ? listen : "(null)");
		return EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	err = api_metrics_new(&a->metrics);
	if (err) {
		free(a);
		return err;
	}
	a->svc = svcs->svc;
	a->events = svcs->events;
	a->callflow = svcs->callflow;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->idle, NULL);
	snprintf(a->listen, sizeof(a->listen), "%s", listen);
	flags |=
	    MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
	if (v6)
		flags |= MHD_USE_IPv6;
	{
		struct MHD_OptionItem opts[] = {
		    {MHD_OPTION_SOCK_ADDR, 0, &ss},
		    {MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL},
		    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)limit, NULL},
		    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, a},
		    /* Last, so that with one thread it ends the list. */
		    {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)pool, NULL},
		    {MHD_OPTION_END, 0, NULL},
		};

		errno = 0;
		/* The logger must come first, or MHD reports problems with the
		 * other options through its own. */
		a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
		                             MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
		                             MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	if (!a->daemon) {
		err = errno ? errno : EIO;
		log_err("api", "cannot start the HTTP API on %s: %s", listen, strerror(err));
		api_metrics_free(a->metrics);
		free(a);
		return err;
	}
	log_info("api", "HTTP API listening on %s with %u threads", listen, pool);
	*ap = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	/* Changes in flight finish first (the store writer completes them and
	 * their connections resume), so no connection stays suspended. */
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	while (a->inflight > 0 || a->resuming > 0)
		pthread_cond_wait(&a->idle, &a->mu);
	pthread_mutex_unlock(&a->mu);
	if (a->daemon)
		MHD_stop_daemon(a->daemon);
	pthread_cond_destroy(&a->idle);
	pthread_mutex_destroy(&a->mu);
	api_metrics_free(a->metrics);
	free(a);
}
