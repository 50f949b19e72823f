/* calls: a call record from its end to its purge. Finishing a record and
 * writing its call-completed event in one write step, the JSON the webhook
 * and the API show, start-up recovery of what a crash left in progress, and
 * the sweeper's retention purge. */
#include "core/calls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/rand.h"
#include "core/events.h"

/* Records handled per write job: a sweep stays short, and start-up loops. */
#define CALLS_BATCH 512

/* Retention of a tenant that left the config: DESIGN §1's default. */
#define CALLS_DEFAULT_RETENTION_MS (90LL * 24 * 3600 * 1000)

void calls_new_sid(char out[STORE_SID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[STORE_SID_LEN / 2];

	rand_bytes(b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[STORE_SID_LEN] = '\0';
}

const char *calls_type_name(enum store_call_type t)
{
	switch (t) {
	case STORE_CT_COMPLETED:
		return "completed";
	case STORE_CT_CLIENT_HANGUP:
		return "client-hangup";
	case STORE_CT_INCOMPLETE:
		return "incomplete";
	case STORE_CT_CALL_ATTEMPT:
		return "call-attempt";
	case STORE_CT_FAILED:
		return "failed";
	}
	return "failed";
}

const char *calls_dial_status_name(enum store_dial_status s)
{
	switch (s) {
	case STORE_DIAL_NONE:
		return NULL;
	case STORE_DIAL_COMPLETED:
		return "completed";
	case STORE_DIAL_BUSY:
		return "busy";
	case STORE_DIAL_NO_ANSWER:
		return "no-answer";
	case STORE_DIAL_FAILED:
		return "failed";
	case STORE_DIAL_CANCELED:
		return "canceled";
	}
	return NULL;
}

const char *calls_rec_status_name(enum store_rec_status s)
{
	switch (s) {
	case STORE_RECST_NONE:
		return NULL;
	case STORE_RECST_RECORDING:
		return "in-progress";
	case STORE_RECST_COMPLETED:
		return "completed";
	case STORE_RECST_PARTIAL:
		return "partial";
	case STORE_RECST_FAILED:
		return "failed";
	}
	return NULL;
}

/* Whole seconds from a to b, truncated; 0 when either is unset or b < a. */
static uint32_t whole_secs(int64_t a_ms, int64_t b_ms)
{
	int64_t d = (b_ms - a_ms) / 1000;

	if (a_ms <= 0 || b_ms <= 0 || d <= 0)
		return 0;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int calls_finish(struct store_txn *txn, const struct tenant *t, struct store_call *c,
                 int64_t now_ms)
{
	char *body = NULL;
	size_t len = 0;
	int rc;

	c->state = STORE_CALL_COMPLETED;
	if (c->ended_ms == 0)
		c->ended_ms = now_ms;
	/* As the reference's example has them (dial 20 s from start_time to
	 * current_time, talk 17 s): the second leg's life and the talk. */
	c->dial_call_duration =
	    c->dial_status != STORE_DIAL_NONE ? whole_secs(c->started_ms, c->ended_ms) : 0;
	c->on_call_duration = c->answered_ms ? whole_secs(c->answered_ms, c->ended_ms) : 0;
	c->purge_ms = c->ended_ms + (t ? t->calls_retention_ms : CALLS_DEFAULT_RETENTION_MS);
	rc = store_call_put(txn, c);
	if (rc != 0) {
		log_msg(LVL_ERR, "calls", c->call_sid, "cannot store the finished record: %s",
		        strerror(rc));
		return rc;
	}
	if (!t || t->webhooks.call_completed[0] == '\0')
		return 0;
	rc = calls_event_body(txn, t, c, now_ms, &body, &len);
	if (rc == 0)
		rc = events_add(txn, t, "call-completed", t->webhooks.call_completed, body, len,
		                now_ms);
	else
		log_msg(LVL_ERR, "calls", c->call_sid, "cannot build the call-completed event: %s",
		        strerror(rc));
	free(body);
	return rc;
}

/* --- the JSON of a record --- */

/* ISO 8601 in t's offset at that instant: "2020-03-23T12:58:02+05:30", with
 * ".123" before the offset when with_ms. null for 0 (not yet). */
cJSON *calls_iso_time(const struct tenant *t, int64_t ms, bool with_ms)
{
	char buf[48];
	struct tm tm;
	time_t secs;
	int off, aoff;
	size_t n;

	if (ms <= 0)
		return cJSON_CreateNull();
	off = t ? config_tz_offset(t, ms / 1000) : 0;
	aoff = off < 0 ? -off : off;
	secs = (time_t)(ms / 1000 + off);
	gmtime_r(&secs, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_ms)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03d", (int)(ms % 1000));
	snprintf(buf + n, sizeof(buf) - n, "%c%02d:%02d", off < 0 ? '-' : '+', aoff / 3600,
	         aoff % 3600 / 60);
	return cJSON_CreateString(buf);
}

static cJSON *str_or_null(const char *s)
{
	return s && s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Adds v (NULL: an allocation failed) to o under key, taking it over. */
static bool add(cJSON *o, const char *key, cJSON *v)
{
	if (!v)
		return false;
	if (!cJSON_AddItemToObject(o, key, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

/* The transaction_id of c's allocation into out ("" = none: no allocation
 * yet, or it is gone). 0 or a store errno. */
static int call_txn_id(struct store_txn *txn, const struct store_call *c,
                       char out[STORE_TXNID_MAX + 1])
{
	struct store_alloc rec;
	int rc;

	out[0] = '\0';
	if (!c->has_alloc)
		return 0;
	rc = store_alloc_get(txn, c->greenpin_id, &rec);
	if (rc == ENOENT)
		return 0;
	if (rc == 0 && strcmp(rec.tenant, c->tenant) == 0)
		memcpy(out, rec.txn_id, sizeof(rec.txn_id));
	return rc;
}

/* The reference's call-completed fields in its order, then ours. call_type
 * is null while the call is in progress (it is decided at the end);
 * recording_status is null for a call that is not recorded. */
static cJSON *call_json(const struct tenant *t, const struct store_call *c, const char *txn_id,
                        int64_t now_ms)
{
	bool done = c->state == STORE_CALL_COMPLETED;
	cJSON *o = cJSON_CreateObject();
	char gid[37] = "";

	if (c->has_alloc)
		alloc_id_format(c->greenpin_id, gid);
	if (!o || !add(o, "transaction_id", str_or_null(txn_id)) ||
	    !add(o, "call_sid", cJSON_CreateString(c->call_sid)) ||
	    !add(o, "vn", cJSON_CreateString(c->vn)) || !add(o, "greenpin_id", str_or_null(gid)) ||
	    !add(o, "from", str_or_null(c->from)) || !add(o, "to", str_or_null(c->to)) ||
	    !add(o, "call_type",
	         done ? cJSON_CreateString(calls_type_name(c->call_type)) : cJSON_CreateNull()) ||
	    !add(o, "start_time", calls_iso_time(t, c->started_ms, false)) ||
	    !add(o, "current_time", calls_iso_time(t, now_ms, false)) ||
	    !add(o, "dial_call_duration", cJSON_CreateNumber(c->dial_call_duration)) ||
	    !add(o, "on_call_duration", cJSON_CreateNumber(c->on_call_duration)) ||
	    !add(o, "direction", cJSON_CreateString("incoming")) ||
	    !add(o, "recording_url", str_or_null(c->recording_url)) ||
	    !add(o, "dial_call_status", str_or_null(calls_dial_status_name(c->dial_status))) ||
	    !add(o, "source", cJSON_CreateString("pinbridge")) ||
	    !add(o, "started_at", calls_iso_time(t, c->started_ms, true)) ||
	    !add(o, "answered_at", calls_iso_time(t, c->answered_ms, true)) ||
	    !add(o, "ended_at", calls_iso_time(t, c->ended_ms, true)) ||
	    !add(o, "recording_status", str_or_null(calls_rec_status_name(c->rec_status)))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int calls_event_body(struct store_txn *txn, const struct tenant *t, const struct store_call *c,
                     int64_t now_ms, char **body, size_t *len)
{
	char txn_id[STORE_TXNID_MAX + 1];
	cJSON *o;
	char *out;
	int rc = call_txn_id(txn, c, txn_id);

	if (rc != 0)
		return rc;
	o = call_json(t, c, txn_id, now_ms);
	out = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!out)
		return ENOMEM;
	*body = out;
	*len = strlen(out);
	return 0;
}

cJSON *calls_record_json(struct store *st, const struct tenant *t, const struct store_call *c)
{
	char txn_id[STORE_TXNID_MAX + 1] = "";
	struct store_txn *txn;
	cJSON *o;

	/* A record without its transaction_id beats no record: a read error
	 * is logged and shows as null. */
	if (store_read_begin(st, &txn) == 0) {
		int rc = call_txn_id(txn, c, txn_id);

		store_read_end(txn);
		if (rc != 0)
			log_msg(LVL_WARN, "calls", c->call_sid, "cannot read its allocation: %s",
			        strerror(rc));
	}
	o = call_json(t, c, txn_id, clock_now_ms());
	if (o && !add(o, "state",
	              cJSON_CreateString(c->state == STORE_CALL_COMPLETED ? "completed"
	                                                                  : "in-progress"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* --- start-up recovery and the retention purge --- */

struct sid_batch {
	char sids[CALLS_BATCH][STORE_SID_LEN + 1];
	size_t n;
};

static int collect_sid(void *arg, const struct store_call *c)
{
	struct sid_batch *b = arg;

	memcpy(b->sids[b->n++], c->call_sid, STORE_SID_LEN + 1);
	return b->n == CALLS_BATCH;
}

struct recover_job {
	const struct config *cfg;
	int64_t now;
	struct sid_batch b;
	unsigned done;
};

/* One record per step, so a record the store refuses stays alone. */
static int recover_step(struct store_txn *txn, void *arg, size_t i)
{
	struct recover_job *j = arg;
	struct store_call c;
	int rc = store_call_get(txn, j->b.sids[i], &c);

	if (rc != 0)
		return rc == ENOENT ? 0 : rc;
	if (c.state != STORE_CALL_IN_PROGRESS)
		return 0;
	c.call_type = STORE_CT_FAILED;
	c.ended_ms = j->now;
	/* The recorder died with the process: its file is at best a .part,
	 * left for the recordings sweep, so there is nothing to link to. */
	if (c.rec_status == STORE_RECST_RECORDING) {
		c.rec_status = STORE_RECST_FAILED;
		c.recording_url[0] = '\0';
	}
	rc = calls_finish(txn, config_tenant(j->cfg, c.tenant), &c, j->now);
	if (rc != 0)
		return rc;
	log_msg(LVL_WARN, "calls", c.call_sid, "call %s left in progress by a crash: failed",
	        c.call_sid);
	j->done++;
	return 0;
}

int calls_recover(struct store *st, const struct config *cfg, int64_t now_ms, unsigned *n)
{
	struct recover_job *j = calloc(1, sizeof(*j)); /* 17 KiB of ids */
	struct store_txn *txn;
	int rc;

	*n = 0;
	if (!j)
		return ENOMEM;
	j->cfg = cfg;
	j->now = now_ms;
	do {
		j->b.n = 0;
		j->done = 0;
		rc = store_read_begin(st, &txn);
		if (rc != 0)
			break;
		rc = store_call_open_each(txn, collect_sid, &j->b);
		store_read_end(txn);
		if (rc == 1)
			rc = 0;
		if (rc != 0 || j->b.n == 0)
			break;
		rc = store_write(st, recover_step, j, j->b.n);
		*n += j->done;
		/* A batch that finished nothing would be read again: stop. */
	} while (rc == 0 && j->b.n == CALLS_BATCH && j->done > 0);
	if (rc != 0)
		log_err("calls", "recovering calls left in progress: %s", strerror(rc));
	free(j);
	return rc;
}

static int any_due(void *arg, const struct store_call *c)
{
	(void)arg;
	(void)c;
	return 1;
}

struct purge_job {
	struct store_txn *txn;
	int64_t now;
	int n;
	int rc;
};

static int purge_one(void *arg, const struct store_call *c)
{
	struct purge_job *j = arg;

	j->rc = store_call_del(j->txn, c->call_sid);
	if (j->rc != 0) {
		log_msg(LVL_ERR, "calls", c->call_sid, "cannot purge: %s", strerror(j->rc));
		return 1;
	}
	j->n++;
	return j->n == CALLS_BATCH;
}

static int purge_step(struct store_txn *txn, void *arg, size_t i)
{
	struct purge_job *j = arg;
	int rc;

	(void)i;
	j->txn = txn;
	j->n = 0;
	j->rc = 0;
	rc = store_call_due_each(txn, j->now, purge_one, j);
	if (j->rc == 0 && rc != 1)
		j->rc = rc;
	return j->rc;
}

int calls_purge(struct store *st, int64_t now_ms)
{
	struct purge_job j = {.now = now_ms};
	struct store_txn *txn;
	int rc = store_read_begin(st, &txn);

	if (rc != 0)
		return -rc;
	/* Most sweeps find nothing due: no write job (and no sync) then. */
	rc = store_call_due_each(txn, now_ms, any_due, NULL);
	store_read_end(txn);
	if (rc != 1)
		return -rc;
	rc = store_write(st, purge_step, &j, 1);
	if (rc == 0)
		rc = j.rc;
	if (rc != 0) {
		log_err("calls", "purging call records: %s", strerror(rc));
		return -rc;
	}
	if (j.n > 0)
		log_debug("calls", "%d call records purged after retention", j.n);
	return j.n;
}
