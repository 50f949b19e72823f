/* calls: call records (DESIGN §3 "Call records") as the API and the
 * call-completed webhook (DESIGN §4) show them: finishing a record together
 * with its event in one write step, finalising what a crash left in
 * progress, purging past retention, and the tenant-isolated listing. */
#ifndef PB_CORE_CALLS_H
#define PB_CORE_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/config.h"
#include "store/store.h"

/* A fresh call_sid: 32 lowercase hex digits from the CSPRNG. */
void calls_new_sid(char out[STORE_SID_LEN + 1]);

/* "completed", "client-hangup", ... and "completed", "busy", ... (NULL for
 * STORE_DIAL_NONE) as the reference spells them. */
const char *calls_type_name(enum store_call_type t);
const char *calls_dial_status_name(enum store_dial_status s);
/* recording_status: "in-progress", "completed", "partial", "failed"; NULL
 * (JSON null) for STORE_RECST_NONE, a call not recorded. */
const char *calls_rec_status_name(enum store_rec_status s);

/* ISO 8601 in t's offset at that instant: "2020-03-23T12:58:02+05:30", with
 * ".123" before the offset when with_ms; JSON null for 0. NULL on ENOMEM. */
cJSON *calls_iso_time(const struct tenant *t, int64_t ms, bool with_ms);

/* Inside a write step: marks c completed at now_ms (ended_ms when 0,
 * durations from the timestamps in whole seconds, truncated; purge_ms from
 * t's calls retention), stores it, and adds its call-completed event to the
 * outbox when t has a URL for it. The caller sets call_type and dial_status.
 * t NULL (a tenant no longer configured): the default retention (90 d), no
 * event. c is updated in place. 0 or a store errno. */
int calls_finish(struct store_txn *txn, const struct tenant *t, struct store_call *c,
                 int64_t now_ms);

/* The call-completed payload of c: the reference's fields (transaction_id
 * of c's allocation or null, call_sid, vn, greenpin_id, from, to, call_type,
 * start_time, current_time, dial_call_duration, on_call_duration,
 * direction "incoming", recording_url, dial_call_status, source
 * "pinbridge") plus started_at/answered_at/ended_at in ms-precision ISO
 * 8601 and recording_status; times in t's offset. malloc'd NUL-terminated
 * into *body. */
int calls_event_body(struct store_txn *txn, const struct tenant *t, const struct store_call *c,
                     int64_t now_ms, char **body, size_t *len);

/* At start-up: every record left in progress becomes call_type "failed"
 * (dial status kept, ended_ms = now_ms; a recording still in progress
 * becomes "failed" without a recording_url) with its call-completed event,
 * in one blocking write. cfg names the tenants (records of a tenant no longer
 * configured are finished without an event). *n = how many. */
int calls_recover(struct store *st, const struct config *cfg, int64_t now_ms, unsigned *n);

/* Sweeper: deletes completed records whose retention ended. Returns how
 * many, or a negative errno. */
int calls_purge(struct store *st, int64_t now_ms);

/* --- the API side --- */
struct calls_filter {
	const char *greenpin_id, *from_date, *to_date, *limit, *cursor; /* raw; NULL = absent */
	bool unknown; /* a parameter that is not a filter: code 2 */
	char unknown_name[64];
};

struct calls_page {
	enum alloc_code code; /* AC_OK, AC_BAD_PARAM (2/5/23 in code_detail), AC_INTERNAL */
	int code_detail;      /* the reference's code (an enum alloc_code): AC_OK, 0, 2, 5, 23 */
	char message[200];
	struct store_call *items; /* malloc'd; calls_page_free() */
	size_t n;
	char next_cursor[64]; /* "" = last page */
};

/* GET /calls: t's records (or, with greenpin_id, that allocation's; none
 * when it is another tenant's), oldest start first, from_date/to_date as
 * the allocation list's created_from/created_to (alloc_time_parse: a bad
 * date or from after to is 23), limit 1..500 (default 50) and cursor (a
 * bad one, or a malformed greenpin_id, is 5), anything else 2. */
void calls_list(struct store *st, const struct tenant *t, const struct calls_filter *f,
                struct calls_page *page);
void calls_page_free(struct calls_page *page);

/* GET /calls/{sid}: 0 and *out; ENOENT when missing or another tenant's. */
int calls_get(struct store *st, const struct tenant *t, const char *sid, struct store_call *out);

/* One record as the API's data (same fields as the event body, plus
 * "state": "in-progress" or "completed"; call_type is null while in
 * progress; current_time is now); transaction_id is read from the store.
 * NULL on ENOMEM. */
cJSON *calls_record_json(struct store *st, const struct tenant *t, const struct store_call *c);

#endif
