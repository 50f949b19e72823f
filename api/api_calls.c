/* api_calls: call records as the API shows them. GET /calls lists a
 * tenant's records (by allocation, by start date) with cursor paging; GET
 * /calls/{call_sid} reads one, and /calls/{call_sid}/recording serves its
 * recording. Another tenant's record is a 404 like a missing one. */
#include "api/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/base/log.h"
#include "core/calls.h"
#include "core/recordings.h"

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

/* The store, and the method GET or HEAD; else the reply is set. */
static struct store *readable(struct api *a, struct api_request *q, const char *method)
{
	struct store *st = a->svc ? alloc_service_store(a->svc) : NULL;

	if (!st) {
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "no such resource");
		return NULL;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		q->reply.allow = "GET, HEAD";
		api_reply_error(&q->reply, q, method, 405, AC_BAD_PARAM,
		                "method %s is not allowed here; use GET, HEAD", method);
		return NULL;
	}
	return st;
}

void api_calls_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                     const char *method, const struct tenant *t, const char *sid)
{
	struct store *st = readable(a, q, method);

	if (!st)
		return;
	if (sid)
		do_call_get(st, q, method, t, sid);
	else
		do_calls_list(st, conn, q, method, t);
}

/* ---- /calls/{call_sid}/recording ---- */

/* Whether c's recording can be served; if not, the 404 is set. */
static bool has_recording(struct api_request *q, const char *method, const struct store_call *c)
{
	switch (c->rec_status) {
	case STORE_RECST_COMPLETED:
	case STORE_RECST_PARTIAL: /* frames were lost, the file is there */
		return true;
	case STORE_RECST_RECORDING:
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND,
		                "call %s has no recording yet: it is still being recorded",
		                c->call_sid);
		return false;
	case STORE_RECST_FAILED:
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND,
		                "call %s has no recording: recording it failed", c->call_sid);
		return false;
	default:
		api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "call %s has no recording",
		                c->call_sid);
		return false;
	}
}

/* Opens c's file: 0 with fd and size, or the reply is set. */
static int open_recording(struct api_request *q, const char *method, const struct tenant *t,
                          const struct store_call *c, int *fd, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = recordings_path(t, c->call_sid, c->answered_ms, path, sizeof(path));

	if (rc != 0) {
		log_msg(LVL_ERR, "api", q->id, "recording of call %s: no path: %s", c->call_sid,
		        strerror(rc));
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL,
		                "the recording of call %s has no usable path", c->call_sid);
		return rc;
	}
	/* O_NONBLOCK: a fifo planted there must not hang the thread (it is
	 * refused below); a regular file reads the same with it. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0) {
		rc = errno;
		if (rc == ENOENT) {
			api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND,
			                "the recording of call %s was deleted: past retention",
			                c->call_sid);
			return rc;
		}
	} else {
		if (fstat(*fd, &st) != 0)
			rc = errno;
		else if (!S_ISREG(st.st_mode))
			rc = EISDIR; /* a directory, a fifo: nothing to serve */
		if (rc == 0) {
			*size = (uint64_t)st.st_size;
			return 0;
		}
		close(*fd);
	}
	log_msg(LVL_ERR, "api", q->id, "cannot read the recording %s: %s", path, strerror(rc));
	api_reply_error(&q->reply, q, method, 500, AC_INTERNAL,
	                "the recording of call %s cannot be read", c->call_sid);
	return rc;
}

void api_recording_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                         const char *method, const struct tenant *t, const char *sid)
{
	struct store *st = readable(a, q, method);
	struct api_reply *r = &q->reply;
	uint64_t size = 0, first = 0, last = 0;
	enum api_range_kind range = API_RANGE_NONE;
	struct store_call c;
	int fd, rc;

	if (!st)
		return;
	rc = calls_get(st, t, sid, &c);
	if (rc == ENOENT) {
		api_reply_error(r, q, method, 404, AC_NOT_FOUND, "no call with call_sid %.64s",
		                sid);
		return;
	}
	if (rc != 0) {
		api_reply_error(r, q, method, 500, AC_INTERNAL, "storage error: %s", strerror(rc));
		return;
	}
	if (!has_recording(q, method, &c) || open_recording(q, method, t, &c, &fd, &size) != 0)
		return;
	/* Range is defined for GET only (RFC 9110 §14.2): HEAD ignores it. */
	if (!strcmp(method, "GET"))
		range = api_range_parse(
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE), size,
		    &first, &last);
	r->accept_ranges = "bytes";
	if (range == API_RANGE_UNSATISFIABLE) {
		close(fd);
		snprintf(r->content_range, sizeof(r->content_range), "bytes */%" PRIu64, size);
		api_reply_error(r, q, method, 416, AC_BAD_PARAM,
		                "the range asked for is outside the recording's %" PRIu64 " bytes",
		                size);
		return;
	}
	if (range == API_RANGE_OK) {
		r->status = 206;
		r->offset = first;
		r->length = last - first + 1;
		snprintf(r->content_range, sizeof(r->content_range),
		         "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
	} else {
		r->status = 200;
		r->offset = 0;
		r->length = size;
	}
	r->has_fd = true;
	r->fd = fd;
	r->content_type = "audio/wav";
}
