/* api_calls: call records as the API shows them. GET /calls lists a
 * tenant's records (by allocation, by start date) with cursor paging; GET
 * /calls/{call_sid} reads one. Another tenant's record is a 404 like a
 * missing one. */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "core/calls.h"

static enum MHD_Result filter_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct calls_filter *f = cls;
	const char **slot[] = {&f->greenpin_id, &f->from_date, &f->to_date, &f->limit, &f->cursor};
	static const char *const names[] = {"greenpin_id", "from_date", "to_date", "limit",
	                                    "cursor"};

	(void)kind;
	if (!key || !*key)
		return MHD_YES;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(key, names[i])) {
			/* The last of repeated parameters counts, as for /greenpin. */
			*slot[i] = value ? value : "";
			return MHD_YES;
		}
	}
	if (!f->unknown) {
		f->unknown = true;
		snprintf(f->unknown_name, sizeof(f->unknown_name), "%s", key);
	}
	return MHD_YES;
}

static cJSON *page_json(struct store *st, const struct tenant *t, const struct calls_page *page)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *list = data ? cJSON_AddArrayToObject(data, "calls") : NULL;

	for (size_t i = 0; list && i < page->n; i++) {
		cJSON *rec = calls_record_json(st, t, &page->items[i]);

		if (!rec || !cJSON_AddItemToArray(list, rec)) {
			cJSON_Delete(rec);
			list = NULL;
		}
	}
	if (!list ||
	    !(page->next_cursor[0] ? cJSON_AddStringToObject(data, "next_cursor", page->next_cursor)
	                           : cJSON_AddNullToObject(data, "next_cursor"))) {
		cJSON_Delete(data);
		return NULL;
	}
	return data;
}

static void do_calls_list(struct store *st, struct MHD_Connection *conn, struct api_request *q,
                          const char *method, const struct tenant *t)
{
	struct calls_filter f;
	struct calls_page page;
	cJSON *data;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, filter_arg, &f);
	calls_list(st, t, &f, &page);
	if (page.code != AC_OK) {
		enum alloc_code code = (enum alloc_code)page.code_detail;
		int status = alloc_code_http(code);

		api_reply_json(&q->reply, status,
		               api_envelope(q->id, method, status, code, page.message, NULL));
	} else if (!(data = page_json(st, t, &page))) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
	} else {
		api_reply_json(&q->reply, 200, api_envelope(q->id, method, 200, AC_OK, NULL, data));
	}
	calls_page_free(&page);
}

static void do_call_get(struct store *st, struct api_request *q, const char *method,
                        const struct tenant *t, const char *sid)
{
	struct store_call c;
	cJSON *data;
	int rc = calls_get(st, t, sid, &c);

	if (rc == ENOENT) {
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND,
		                "no call with call_sid %.64s", sid);
	} else if (rc != 0) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "storage error: %s",
		                strerror(rc));
	} else if (!(data = calls_record_json(st, t, &c))) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
	} else {
		api_reply_json(&q->reply, 200, api_envelope(q->id, method, 200, AC_OK, NULL, data));
	}
}

void api_calls_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                     const char *method, const struct tenant *t, const char *sid)
{
	struct store *st = a->svc ? alloc_service_store(a->svc) : NULL;

	if (!st) {
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "no such resource");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		q->reply.allow = "GET, HEAD";
		api_reply_error(&q->reply, q, method, 405, AC_BAD_PARAM,
		                "method %s is not allowed here; use GET, HEAD", method);
		return;
	}
	if (sid)
		do_call_get(st, q, method, t, sid);
	else
		do_calls_list(st, conn, q, method, t);
}
