/* api_events: the webhook outbox as the API shows it. GET /events lists a
 * tenant's events by status; POST /events/{id}/retry replays a dead one. */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "core/events.h"

static const char *const ev_states[] = {"pending", "delivered", "dead"};

/* ISO 8601 with the tenant's offset, as webhooks show times (DESIGN §4). */
static cJSON *iso_time(const struct tenant *t, int64_t ms)
{
	time_t secs;
	struct tm tm;
	char buf[40];
	int off;

	if (ms <= 0)
		return cJSON_CreateNull();
	off = config_tz_offset(t, ms / 1000);
	secs = (time_t)(ms / 1000 + off);
	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%c%02d:%02d", off < 0 ? '-' : '+',
	         (off < 0 ? -off : off) / 3600, ((off < 0 ? -off : off) % 3600) / 60);
	return cJSON_CreateString(buf);
}

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

static cJSON *event_json(const struct tenant *t, const struct store_event *ev)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *payload = cJSON_ParseWithLength(ev->body, ev->body_len);
	bool pending = ev->state == STORE_EV_PENDING;
	char id[37];

	alloc_id_format(ev->delivery_id, id);
	if (!o || !payload || !add(o, "id", cJSON_CreateString(id)) ||
	    !add(o, "event", cJSON_CreateString(ev->type)) ||
	    !add(o, "status", cJSON_CreateString(ev_states[ev->state % 3])) ||
	    !add(o, "attempts", cJSON_CreateNumber(ev->attempts)) ||
	    !add(o, "created_at", iso_time(t, ev->created_ms)) ||
	    !add(o, "next_attempt_at", pending ? iso_time(t, ev->due_ms) : cJSON_CreateNull()) ||
	    !add(o, "done_at", pending ? cJSON_CreateNull() : iso_time(t, ev->done_ms)) ||
	    !add(o, "last_status",
	         ev->last_status ? cJSON_CreateNumber(ev->last_status) : cJSON_CreateNull()) ||
	    !add(o, "last_error",
	         ev->last_error[0] ? cJSON_CreateString(ev->last_error) : cJSON_CreateNull())) {
		cJSON_Delete(o);
		cJSON_Delete(payload);
		return NULL;
	}
	if (!add(o, "payload", payload)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void do_events_list(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                           const char *method, const struct tenant *t)
{
	const char *status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
	const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
	struct events_page page;
	cJSON *data, *list;

	events_list(a->events, t, status, limit, cursor, &page);
	if (page.code != AC_OK) {
		int http = alloc_code_http((enum alloc_code)page.code);

		api_reply_json(&q->reply, http,
		               api_envelope(q->id, method, http, (enum alloc_code)page.code,
		                            page.message, NULL));
		goto out;
	}
	data = cJSON_CreateObject();
	list = data ? cJSON_AddArrayToObject(data, "events") : NULL;
	for (size_t i = 0; list && i < page.n; i++) {
		cJSON *ev = event_json(t, &page.items[i]);

		if (!ev || !cJSON_AddItemToArray(list, ev)) {
			cJSON_Delete(ev);
			list = NULL;
		}
	}
	if (!list ||
	    !add(data, "next_cursor",
	         page.next_cursor[0] ? cJSON_CreateString(page.next_cursor) : cJSON_CreateNull())) {
		cJSON_Delete(data);
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		goto out;
	}
	api_reply_json(&q->reply, 200, api_envelope(q->id, method, 200, AC_OK, NULL, data));
out:
	events_page_free(&page);
}

static void do_events_retry(struct api *a, struct api_request *q, const char *method,
                            const struct tenant *t, const char *raw_id)
{
	struct store_event *ev;
	uint8_t id[STORE_ID_LEN];
	char msg[200];
	cJSON *data = NULL;
	int code;

	if (alloc_id_parse(raw_id, id) != 0) {
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "no event with id %.40s",
		                raw_id);
		return;
	}
	ev = malloc(sizeof(*ev)); /* 8 KiB of body: not for a pool thread's stack */
	if (!ev) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		return;
	}
	code = events_retry(a->events, t, id, ev, msg, sizeof(msg));
	if (code != AC_OK) {
		int http = alloc_code_http((enum alloc_code)code);

		api_reply_json(&q->reply, http,
		               api_envelope(q->id, method, http, (enum alloc_code)code, msg, NULL));
	} else if (!(data = event_json(t, ev))) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
	} else {
		api_reply_json(&q->reply, 200, api_envelope(q->id, method, 200, AC_OK, NULL, data));
	}
	free(ev);
}

void api_events_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                      const char *method, const struct tenant *t, const char *id, bool retry)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	if (!a->events) {
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "no such resource");
		return;
	}
	if (!retry && !get) {
		q->reply.allow = "GET, HEAD";
		api_reply_error(&q->reply, q, method, 405, AC_BAD_PARAM, "%s is not allowed here",
		                method);
		return;
	}
	if (retry && strcmp(method, "POST") != 0) {
		q->reply.allow = "POST";
		api_reply_error(&q->reply, q, method, 405, AC_BAD_PARAM, "%s is not allowed here",
		                method);
		return;
	}
	if (retry)
		do_events_retry(a, q, method, t, id);
	else
		do_events_list(a, conn, q, method, t);
}
