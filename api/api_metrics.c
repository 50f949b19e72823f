/* api_metrics: HTTP request counters and a latency histogram per route
 * template, kept in relaxed atomics (no lock on the request path) and
 * printed as Prometheus text for /metrics. */
#include "api/api_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_OTHER] = "other",
    [ROUTE_HEALTHZ] = "/healthz",
    [ROUTE_METRICS] = "/metrics",
    [ROUTE_COLLECTION] = "/v1/tenants/{t}/greenpin",
    [ROUTE_ITEM] = "/v1/tenants/{t}/greenpin/{id}",
    [ROUTE_VN_ITEM] = "/v1/tenants/{t}/greenvn/{id}",
    [ROUTE_NUMBERS] = "/v1/tenants/{t}/greenpin/{id}/{side}/numbers",
    [ROUTE_NUMBER] = "/v1/tenants/{t}/greenpin/{id}/{side}/numbers/{number}",
    [ROUTE_EVENTS] = "/v1/tenants/{t}/events",
    [ROUTE_EVENT_RETRY] = "/v1/tenants/{t}/events/{id}/retry",
    [ROUTE_CALLS] = "/v1/tenants/{t}/calls",
    [ROUTE_CALL] = "/v1/tenants/{t}/calls/{call_sid}",
    [ROUTE_RECORDING] = "/v1/tenants/{t}/calls/{call_sid}/recording",
};

static const char *const method_names[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "other"};
#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

/* Every status the API answers with; anything else counts as "other". */
static const int statuses[] = {200, 206, 400, 401, 403, 404, 405, 409,
                               410, 413, 416, 422, 452, 500, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[] = {1000,   2500,   5000,    10000,   25000,   50000,   100000,
                                    250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]) + 1)

struct api_metrics {
	atomic_ullong requests[ROUTE_COUNT][NMETHODS][NSTATUS];
	atomic_ullong buckets[ROUTE_COUNT][NBUCKETS]; /* not cumulative; summed when printed */
	atomic_ullong sum_us[ROUTE_COUNT];
};

int api_metrics_new(struct api_metrics **mp)
{
	struct api_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return ENOMEM;
	*mp = m;
	return 0;
}

void api_metrics_free(struct api_metrics *m)
{
	free(m);
}

static size_t method_index(const char *method)
{
	size_t i;

	for (i = 0; i + 1 < NMETHODS; i++)
		if (strcmp(method, method_names[i]) == 0)
			return i;
	return NMETHODS - 1;
}

static size_t status_index(int status)
{
	size_t i;

	for (i = 0; i + 1 < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void api_metrics_observe(struct api_metrics *m, enum api_route route, const char *method,
                         int status, int64_t duration_us)
{
	size_t b = 0;

	if (!m || (unsigned)route >= ROUTE_COUNT)
		return;
	if (duration_us < 0)
		duration_us = 0;
	while (b + 1 < NBUCKETS && duration_us > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&m->requests[route][method_index(method)][status_index(status)],
	                          1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->buckets[route][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us[route], (unsigned long long)duration_us,
	                          memory_order_relaxed);
}

/* A growing text buffer; on ENOMEM it stays failed and appends nothing. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

int api_metrics_text(struct api_metrics *m, char **out)
{
	struct text t = {0};
	size_t r, k, s, b;

	text_add(&t, "# HELP pinbridge_http_requests_total HTTP requests answered, by route "
	             "template, method and status.\n"
	             "# TYPE pinbridge_http_requests_total counter\n");
	for (r = 0; r < ROUTE_COUNT; r++)
		for (k = 0; k < NMETHODS; k++)
			for (s = 0; s < NSTATUS; s++) {
				unsigned long long v = atomic_load_explicit(&m->requests[r][k][s],
				                                            memory_order_relaxed);
				char st[16];

				if (!v)
					continue;
				if (s + 1 < NSTATUS)
					snprintf(st, sizeof(st), "%d", statuses[s]);
				else
					strcpy(st, "other");
				text_add(&t,
				         "pinbridge_http_requests_total{route=\"%s\",method=\"%s\","
				         "status=\"%s\"} %llu\n",
				         route_names[r], method_names[k], st, v);
			}
	text_add(&t, "# HELP pinbridge_http_request_duration_seconds Time from a request's "
	             "first byte to its answer.\n"
	             "# TYPE pinbridge_http_request_duration_seconds histogram\n");
	for (r = 0; r < ROUTE_COUNT; r++) {
		unsigned long long cum = 0, counts[NBUCKETS];

		for (b = 0; b < NBUCKETS; b++) {
			counts[b] = atomic_load_explicit(&m->buckets[r][b], memory_order_relaxed);
			cum += counts[b];
		}
		if (!cum)
			continue;
		cum = 0;
		for (b = 0; b < NBUCKETS; b++) {
			cum += counts[b];
			if (b + 1 < NBUCKETS)
				text_add(
				    &t,
				    "pinbridge_http_request_duration_seconds_bucket{route=\"%s\","
				    "le=\"%g\"} %llu\n",
				    route_names[r], (double)bucket_us[b] / 1e6, cum);
			else
				text_add(
				    &t,
				    "pinbridge_http_request_duration_seconds_bucket{route=\"%s\","
				    "le=\"+Inf\"} %llu\n",
				    route_names[r], cum);
		}
		text_add(&t, "pinbridge_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
		         route_names[r],
		         (double)atomic_load_explicit(&m->sum_us[r], memory_order_relaxed) / 1e6);
		text_add(&t, "pinbridge_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		         route_names[r], cum);
	}
	if (t.failed || !t.buf) {
		free(t.buf);
		return ENOMEM;
	}
	*out = t.buf;
	return 0;
}
