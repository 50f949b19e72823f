/* events_list: the API side of the outbox. Lists a tenant's events by state
 * with a cursor (the last seq returned, so pages stay stable while events
 * arrive) and replays a dead event: pending again, due now, same delivery
 * id, so a receiver that de-duplicates sees it as the event it missed. */
#include "core/events_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

static const char *const state_names[] = {"pending", "delivered", "dead"};

static void page_fail(struct events_page *page, int code, const char *msg)
{
	page->code = code;
	snprintf(page->message, sizeof(page->message), "%s", msg);
}

/* Digits only, no sign or spaces, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

struct list_walk {
	struct store_event *items;
	size_t n, limit;
	bool more;
};

static int list_hit(void *arg, const struct store_event *ev)
{
	struct list_walk *w = arg;

	if (w->n == w->limit) {
		w->more = true;
		return 1;
	}
	w->items[w->n++] = *ev;
	return 0;
}

void events_list(struct events *e, const struct tenant *t, const char *status, const char *limit,
                 const char *cursor, struct events_page *page)
{
	struct list_walk w = {.limit = LIST_DEFAULT};
	struct store_txn *txn;
	uint64_t after = 0, lim;
	int state = -1, rc;

	memset(page, 0, sizeof(*page));
	page->code = AC_OK;
	if (!status)
		status = "pending";
	for (int s = 0; s < 3; s++)
		if (strcmp(status, state_names[s]) == 0)
			state = s;
	if (state < 0) {
		page_fail(page, AC_BAD_PARAM, "status must be pending, delivered or dead");
		return;
	}
	if (limit) {
		if (parse_u64(limit, &lim) != 0 || lim < 1 || lim > LIST_MAX) {
			page_fail(page, AC_BAD_PARAM, "limit must be a number from 1 to 500");
			return;
		}
		w.limit = (size_t)lim;
	}
	if (cursor && *cursor && parse_u64(cursor, &after) != 0) {
		page_fail(page, AC_BAD_PARAM, "invalid cursor");
		return;
	}
	w.items = malloc(w.limit * sizeof(*w.items));
	if (!w.items) {
		page_fail(page, AC_INTERNAL, "out of memory");
		return;
	}
	rc = store_read_begin(e->st, &txn);
	if (rc == 0) {
		rc = store_event_scan(txn, t->id, state, after, list_hit, &w);
		store_read_end(txn);
	}
	if (rc != 0 && !(rc == 1 && w.more)) {
		free(w.items);
		log_err("events", "listing events of %s: %s", t->id, strerror(rc));
		page_fail(page, AC_INTERNAL, "storage error");
		return;
	}
	page->items = w.items;
	page->n = w.n;
	if (w.more)
		snprintf(page->next_cursor, sizeof(page->next_cursor), "%llu",
		         (unsigned long long)w.items[w.n - 1].seq);
}

void events_page_free(struct events_page *page)
{
	free(page->items);
	page->items = NULL;
	page->n = 0;
}

/* The tenant's URL for an event type now, or NULL when none is set. */
static const char *current_url(const struct tenant *t, const char *type)
{
	const struct tenant_webhooks *w = &t->webhooks;
	const char *url = NULL;

	if (strcmp(type, "deallocation") == 0)
		url = w->deallocation;
	else if (strcmp(type, "call-completed") == 0)
		url = w->call_completed;
	else if (strcmp(type, "verification-success") == 0)
		url = w->verification_success;
	else if (strcmp(type, "verification-failure") == 0)
		url = w->verification_failure;
	return url && *url ? url : NULL;
}

struct retry_job {
	const struct tenant *t;
	uint8_t id[STORE_ID_LEN];
	int64_t now;
	int code;
	char msg[200];
	struct store_event ev;
};

static int retry_step(struct store_txn *txn, void *arg, size_t step)
{
	struct retry_job *j = arg;
	struct store_event *ev = &j->ev;
	const char *url;
	char ids[37];
	int rc = store_event_by_delivery(txn, j->id, ev);

	(void)step;
	alloc_id_format(j->id, ids);
	if (rc == ENOENT || (rc == 0 && strcmp(ev->tenant, j->t->id) != 0)) {
		j->code = AC_NOT_FOUND;
		snprintf(j->msg, sizeof(j->msg), "no event with delivery id %s", ids);
		return 1;
	}
	if (rc == 0 && ev->state != STORE_EV_DEAD) {
		j->code = AC_BAD_PARAM;
		snprintf(j->msg, sizeof(j->msg), "only dead events can be retried; this one is %s",
		         ev->state < 3 ? state_names[ev->state] : "unknown");
		return 1;
	}
	if (rc == 0) {
		ev->state = STORE_EV_PENDING;
		ev->attempts = 0;
		ev->first_ms = ev->due_ms = j->now;
		ev->done_ms = 0;
		/* A replay usually follows fixing the receiver: send it where
		 * the tenant's webhooks point now. */
		url = current_url(j->t, ev->type);
		if (url)
			snprintf(ev->url, sizeof(ev->url), "%s", url);
		rc = store_event_put(txn, ev);
	}
	if (rc != 0) {
		j->code = AC_INTERNAL;
		snprintf(j->msg, sizeof(j->msg), "%s",
		         rc == ENOSPC ? "storage full: the event was not replayed"
		                      : "storage error");
		return rc;
	}
	j->code = AC_OK;
	return 0;
}

int events_retry(struct events *e, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
                 struct store_event *out, char *msg, size_t msglen)
{
	struct retry_job *j = calloc(1, sizeof(*j));
	int rc, code;

	if (!j) {
		snprintf(msg, msglen, "out of memory");
		return AC_INTERNAL;
	}
	j->t = t;
	memcpy(j->id, id, STORE_ID_LEN);
	j->now = clock_now_ms();
	j->code = AC_INTERNAL;
	rc = store_write(e->st, retry_step, j, 1);
	if (rc != 0) {
		j->code = AC_INTERNAL;
		snprintf(j->msg, sizeof(j->msg), "%s",
		         rc == ENOSPC ? "storage full: the event was not replayed"
		                      : "storage error");
	}
	code = j->code;
	snprintf(msg, msglen, "%s", code == AC_OK ? "" : j->msg);
	if (code == AC_OK) {
		char ids[37];

		*out = j->ev;
		alloc_id_format(id, ids);
		log_info("events", "event %s of %s replayed", ids, t->id);
		events_kick(e);
	} else if (code == AC_INTERNAL) {
		log_err("events", "replaying an event of %s: %s", t->id, j->msg);
	}
	free(j);
	return code;
}
