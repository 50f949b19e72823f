/* events_int: what the events module's files share; not for outsiders.
 * struct events is what other threads may touch (the store, counters, the
 * wake-up); the worker's own state lives in events_worker.c. */
#ifndef PB_CORE_EVENTS_INT_H
#define PB_CORE_EVENTS_INT_H

#include <curl/curl.h>
#include <pthread.h>
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
	int64_t next_due_ms; /* pending again: when the next attempt is due */
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

/* --- the worker's state: events_worker.c runs the thread, events_scan.c
 * finds and starts work. All of it is the worker thread's, except what
 * mu guards. --- */

/* The seqs of events the worker holds (queued, sending, or settling):
 * linear probing over seq + 1, 0 = empty. */
struct seqset {
	uint64_t *slot;
	size_t cap, n; /* cap a power of 2 */
};

/* Deliveries to one receiver of one tenant. */
struct events_group {
	struct events_group *next;
	char tenant[STORE_TENANT_MAX + 1];
	char hostport[300];
	char url[STORE_EVENT_URL_MAX]; /* the last URL seen here: matched before parsing */
	int sending;
	struct delivery *head, *tail; /* queued, due order */
	size_t nqueued;
	bool more; /* the last scan saw due events that did not fit */
};

#define EVENTS_DUES_MAX 64 /* retry times remembered to wake for; more wait for a tick */

struct events_worker {
	pthread_t thread;
	CURLM *multi;
	atomic_bool stopping, kicked;

	pthread_mutex_t mu; /* guards wake_ok and settled */
	pthread_cond_t cv;  /* settled gained a job */
	bool wake_ok;       /* multi may be woken */
	struct events_job *settled;

	/* the worker thread's alone */
	struct seqset held;
	struct events_group *groups;
	struct delivery *sending; /* transfers in flight */
	size_t nsending;
	unsigned jobs_out; /* store jobs not yet handed back */
	bool purging;      /* a purge job is out */
	bool want_scan;
	int64_t hold_until;            /* mono ms: no new sends before (the store failed) */
	int64_t dues[EVENTS_DUES_MAX]; /* wall ms: retries scheduled, not yet scanned for */
	size_t ndues;
};

/* events_worker.c: a store job's completion (runs on the writer), and the
 * verdict of d sent to the writer (d stays held until it comes back). */
void events_job_done(void *arg, int rc);
void events_settle(struct events *e, struct delivery *d);

/* events_scan.c */
/* Takes on due events (pending: queued in their group; past retention:
 * purged) and starts what the groups' limits allow. */
void events_scan(struct events *e, const struct config *cfg);
/* Starts g's queued deliveries while it has free slots. */
void events_pump(struct events *e, struct events_group *g, const struct config *cfg, int64_t now);
/* d's transfer is over: off the sending list and its group's count. */
void events_sending_remove(struct events_worker *w, struct delivery *d);
/* Lets go of d (no longer held) and frees it. */
void events_release(struct events *e, struct delivery *d);
void events_purge_done(struct events *e, struct events_job *j);
/* Frees groups with nothing queued or sending; clear: all, queued included. */
void events_groups_reap(struct events_worker *w);
void events_groups_clear(struct events *e);

/* The outcome step: applies d's verdict to its event if the event is still
 * pending with the attempts d read (a replay or an earlier outcome may have
 * raced). Runs on the store writer. */
int delivery_outcome_step(struct store_txn *txn, void *arg, size_t step);

#endif
