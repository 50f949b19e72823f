/* events_int: what the events module's files share; not for outsiders.
 * struct events is what other threads may touch (the store, counters, the
 * wake-up); the worker's own state lives in events_worker.c. */
#ifndef PB_CORE_EVENTS_INT_H
#define PB_CORE_EVENTS_INT_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/events.h"

/* Delivery latency buckets (seconds, commit to 2xx); +Inf is implied. */
#define EVENTS_LAT_BUCKETS 12
extern const double events_lat_le[EVENTS_LAT_BUCKETS];

struct events_stats {
	atomic_uint_fast64_t delivered, retry, dead;
	atomic_uint_fast64_t lat_bucket[EVENTS_LAT_BUCKETS + 1]; /* not cumulative */
	atomic_uint_fast64_t lat_sum_ms;
};

/* Counts one committed outcome for /metrics: state is the event's new
 * state (pending again = a retry). */
void events_stats_count(struct events_stats *s, int state, int64_t latency_ms);

struct events_worker; /* events_worker.c: the worker thread's alone */

struct events {
	struct store *st;
	struct events_stats stats;
	struct events_worker *w;
};

/* --- one delivery: events_delivery.c --- */

/* Every store job the worker submits starts with this head, so one
 * completion path hands any of them back to the worker. */
enum events_job_kind { EVENTS_JOB_OUTCOME, EVENTS_JOB_PURGE };
struct events_job {
	struct events_job *next; /* on the worker's settled list */
	struct events *e;
	int kind; /* enum events_job_kind */
	int rc;   /* the store's completion */
};

enum delivery_verdict { DELIVERY_OK, DELIVERY_RETRY, DELIVERY_DEAD };

struct events_group;

/* A pending event the worker has taken on: queued in its group, being sent,
 * or waiting for its outcome to commit. Owned by the worker thread; the
 * store writer touches it only inside the outcome step. */
struct delivery {
	struct events_job job;          /* first: the completion finds the delivery */
	struct delivery *next;          /* in its group's queue */
	struct delivery *sprev, *snext; /* on the worker's list of transfers, while sending */
	struct events_group *g;         /* while queued or sending */
	uint64_t seq;
	uint8_t id[STORE_ID_LEN];
	uint32_t attempts; /* as read: the outcome applies only if unchanged */
	int64_t created_ms;
	char tenant[STORE_TENANT_MAX + 1];
	char type[STORE_EVENT_TYPE_MAX];
	char url[STORE_EVENT_URL_MAX];
	char *body;
	uint32_t body_len;

	/* while sending */
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	size_t resp_bytes;

	/* the verdict, and the tenant settings it is recorded with */
	enum delivery_verdict verdict;
	bool attempted; /* a request went out (not "tenant removed") */
	int status;     /* HTTP status, 0 = none */
	char error[STORE_EVENT_ERR_MAX];
	int64_t done_ms;
	int64_t backoff_ms, max_age_ms, retention_ms;

	/* what the outcome step did */
	bool applied;
	uint8_t new_state;
};

/* A delivery for ev (pending), or NULL when out of memory. */
struct delivery *delivery_new(const struct store_event *ev);
void delivery_free(struct delivery *d);

/* Starts the POST on multi, signed now with t's secret; keeps t's timing
 * settings for the verdict. 0 or an errno (nothing was added). */
int delivery_send(CURLM *multi, struct delivery *d, const struct tenant *t, int64_t now_ms);
/* The transfer ended with res: sets the verdict, removes and frees the
 * easy handle. */
void delivery_judge(CURLM *multi, struct delivery *d, CURLcode res, int64_t now_ms);
/* A verdict without a request (tenant removed, URL unusable). */
void delivery_condemn(struct delivery *d, const char *why, int64_t now_ms);

/* The outcome step: applies d's verdict to its event if the event is still
 * pending with the attempts d read (a replay or an earlier outcome may have
 * raced). Runs on the store writer. */
int delivery_outcome_step(struct store_txn *txn, void *arg, size_t step);

#endif
