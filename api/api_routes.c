/* api_routes: paths to core/alloc calls (events and calls have their own
 * files), in DESIGN §2's error precedence. This file settles auth (7, 8)
 * and version (9) and the shape of paths and bodies; target and body checks
 * are core's, which reports our parse problems at their place after its own
 * target checks. */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "core/base/log.h"
#include "core/callflow.h"
#include "core/events.h"

#define M_GET    1u
#define M_POST   2u
#define M_PUT    4u
#define M_DELETE 8u

#define MAX_SEGS 9

struct path {
	char buf[2048];
	char *seg[MAX_SEGS];
	int n;
};

/* Splits an (already percent-decoded) path at '/'. One trailing '/' is
 * forgiven; empty segments elsewhere make the path unknown. */
static bool path_split(struct path *p, const char *url)
{
	size_t len = strlen(url);
	char *s, *slash;

	p->n = 0;
	if (len == 0 || url[0] != '/' || len >= sizeof(p->buf))
		return false;
	memcpy(p->buf, url, len + 1);
	if (len > 1 && p->buf[len - 1] == '/')
		p->buf[len - 1] = '\0';
	s = p->buf + 1;
	for (;;) {
		if (p->n == MAX_SEGS)
			return false;
		slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		if (!*s)
			return false;
		p->seg[p->n++] = s;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

static unsigned method_bit(const char *method)
{
	/* HEAD is GET without a body; MHD drops the body for us. */
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return M_GET;
	if (!strcmp(method, "POST"))
		return M_POST;
	if (!strcmp(method, "PUT"))
		return M_PUT;
	if (!strcmp(method, "DELETE"))
		return M_DELETE;
	return 0;
}

static const char *allow_header(unsigned mask)
{
	switch (mask) {
	case M_GET:
		return "GET, HEAD";
	case M_POST:
		return "POST";
	case M_DELETE:
		return "DELETE";
	case M_GET | M_POST | M_PUT:
		return "GET, HEAD, POST, PUT";
	default:
		return "GET, HEAD, PUT, DELETE";
	}
}

static void method_not_allowed(struct api_request *q, const char *method, unsigned mask)
{
	q->reply.allow = allow_header(mask);
	api_reply_error(&q->reply, q, method, 405, AC_BAD_PARAM,
	                "method %s is not allowed here; use %s", method, q->reply.allow);
}

static void not_found(struct api_request *q, const char *method)
{
	api_reply_error(&q->reply, q, method, 404, AC_NOT_FOUND, "no such resource");
}

/* A malformed greenpin_id names no record: all-ones is no UUID v4, so core
 * answers 404 code 1 at the target stage, as for a missing one. */
static void path_id(const char *s, uint8_t id[STORE_ID_LEN])
{
	if (alloc_id_parse(s, id) != 0)
		memset(id, 0xff, STORE_ID_LEN);
}

static bool id_malformed(const uint8_t id[STORE_ID_LEN])
{
	static const uint8_t ones[STORE_ID_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	return memcmp(id, ones, STORE_ID_LEN) == 0;
}

/* Core's 404 would name the stand-in id; name the one the client sent. */
static void not_found_id(struct alloc_result *res, const char *raw)
{
	memset(res, 0, sizeof(*res));
	res->code = AC_NOT_FOUND;
	snprintf(res->message, sizeof(res->message), "no allocation with greenpin_id %.64s", raw);
}

/* ---- /v1/tenants/{t}/greenpin ---- */

static enum MHD_Result filter_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct alloc_filter *f = cls;
	const char **slot[] = {&f->state,        &f->transaction_id, &f->number, &f->vn,
	                       &f->created_from, &f->created_to,     &f->limit,  &f->cursor};
	static const char *const names[] = {"state",        "transaction_id", "number", "vn",
	                                    "created_from", "created_to",     "limit",  "cursor"};
	size_t i;

	(void)kind;
	if (!key || !*key)
		return MHD_YES;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(key, names[i])) {
			/* The last of repeated parameters counts: a client following
			 * next_cursor may append cursor= to a query that had one. */
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

static void do_list(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                    const char *method, const struct tenant *t)
{
	struct alloc_filter f;
	struct alloc_page page;
	cJSON *data = NULL, *list = NULL;
	size_t i;

	memset(&f, 0, sizeof(f));
	memset(&page, 0, sizeof(page));
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, filter_arg, &f);
	alloc_list(a->svc, t, &f, &page);
	if (page.code != AC_OK) {
		int status = alloc_code_http(page.code);

		api_reply_json(&q->reply, status,
		               api_envelope(q->id, method, status, page.code, page.message, NULL));
		goto out;
	}
	data = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(data, "greenpins");
	for (i = 0; list && i < page.n; i++) {
		cJSON *rec = api_record_json(t, &page.items[i]);

		if (!rec || !cJSON_AddItemToArray(list, rec)) {
			cJSON_Delete(rec);
			list = NULL;
		}
	}
	if (!list ||
	    !(page.next_cursor[0] ? cJSON_AddStringToObject(data, "next_cursor", page.next_cursor)
	                          : cJSON_AddNullToObject(data, "next_cursor"))) {
		cJSON_Delete(data);
		api_reply_json(&q->reply, 500, NULL);
		goto out;
	}
	api_reply_json(&q->reply, 200, api_envelope(q->id, method, 200, AC_OK, NULL, data));
out:
	alloc_page_free(&page);
}

/* The request's body as core's request; a too-large one was not kept, and
 * its code 5 is answered 413 (api_reply_result's too_large). */
static void body_req(const struct api_request *q, struct alloc_req *req)
{
	if (!q->too_large) {
		api_parse_alloc_req(q->body ? q->body : "", q->len, req);
		return;
	}
	memset(req, 0, sizeof(*req));
	req->parse_code = AC_BAD_PARAM;
	snprintf(req->parse_msg, sizeof(req->parse_msg), "body is larger than %d bytes",
	         API_BODY_MAX);
}

static void do_create(struct api *a, struct api_request *q, const char *method,
                      const struct config *cfg, const struct tenant *t)
{
	struct alloc_req req;
	struct alloc_op op = {.kind = ALLOC_CREATE, .cfg = cfg, .t = t, .req = &req};

	(void)a;
	if (q->await != AWAIT_DONE)
		body_req(q, &req);
	if (api_change(q, method, &op, 1))
		api_reply_result(&q->reply, q, method, t, q->res, q->too_large);
}

static cJSON *bulk_json(const struct api_request *q, const char *method, const struct tenant *t,
                        const struct alloc_result *res, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *meta, *list;
	size_t i, failed = 0;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++)
		failed += res[i].code != AC_OK;
	cJSON_AddStringToObject(o, "request_id", q->id);
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddNumberToObject(o, "http_code", 207);
	meta = cJSON_AddObjectToObject(o, "metadata");
	if (meta) {
		cJSON_AddNumberToObject(meta, "failed", (double)failed);
		cJSON_AddNumberToObject(meta, "total", (double)n);
		cJSON_AddNumberToObject(meta, "success", (double)(n - failed));
	}
	list = cJSON_AddArrayToObject(o, "response");
	for (i = 0; list && i < n; i++) {
		int status = alloc_code_http(res[i].code);
		cJSON *data = NULL, *env;

		if (res[i].has_rec && (res[i].code == AC_OK || res[i].code == AC_TXN_EXISTS))
			data = api_record_json(t, &res[i].rec);
		env = api_envelope(NULL, NULL, status, res[i].code, res[i].message, data);
		if (!env || !cJSON_AddItemToArray(list, env)) {
			cJSON_Delete(env);
			list = NULL;
		}
	}
	/* A missing member means a cJSON allocation failed somewhere. */
	if (!list || !meta || cJSON_GetArraySize(meta) != 3 || cJSON_GetArraySize(o) != 5) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void do_bulk(struct api *a, struct api_request *q, const char *method,
                    const struct config *cfg, const struct tenant *t)
{
	size_t limit = t->bulk_limit > 0 ? (size_t)t->bulk_limit : 100, i;
	struct alloc_op op = {.kind = ALLOC_BULK, .cfg = cfg, .t = t};
	struct alloc_result *res;
	struct api_bulk b;

	(void)a;
	if (q->too_large) {
		api_reply_error(&q->reply, q, method, 413, AC_BAD_PARAM,
		                "body is larger than %d bytes", API_BODY_MAX);
		return;
	}
	api_parse_bulk(q->body ? q->body : "", q->len, limit, &b);
	if (b.code != AC_OK) {
		int status = alloc_code_http(b.code);

		api_reply_json(&q->reply, status,
		               api_envelope(q->id, method, status, b.code, b.msg, NULL));
		return;
	}
	for (i = 0; i < b.n; i++) {
		b.items[i].has_id = b.ids[i][0] != '\0';
		if (b.items[i].has_id)
			path_id(b.ids[i], b.items[i].id);
	}
	op.req = b.items;
	op.n = b.n;
	if (!api_change(q, method, &op, b.n))
		goto out;
	res = q->res;
	/* An item without greenpin_id fails alone in core (code 3), changing
	 * nothing; when its shape is also wrong (not an object, wrong types),
	 * the body stage's 5 comes before 3. */
	for (i = 0; i < b.n; i++) {
		if (b.items[i].has_id && res[i].code == AC_NOT_FOUND && id_malformed(b.items[i].id))
			not_found_id(&res[i], b.ids[i][0] == '?' ? "(not a string)" : b.ids[i]);
		if (!b.items[i].has_id && b.items[i].parse_code != AC_OK) {
			memset(&res[i], 0, sizeof(res[i]));
			res[i].code = b.items[i].parse_code;
			snprintf(res[i].message, sizeof(res[i].message), "%s",
			         b.items[i].parse_msg);
		}
	}
	api_reply_json(&q->reply, 200, bulk_json(q, method, t, res, b.n));
out:
	api_bulk_free(&b);
}

/* ---- /greenpin/{id}[/{side}/numbers[/{number}]] ---- */

static void do_update(struct api *a, struct api_request *q, const char *method,
                      const struct config *cfg, const struct tenant *t, const uint8_t *id)
{
	struct alloc_req req;
	struct alloc_op op = {.kind = ALLOC_UPDATE, .cfg = cfg, .t = t, .req = &req};

	(void)a;
	if (q->await != AWAIT_DONE)
		body_req(q, &req);
	memcpy(op.id, id, STORE_ID_LEN);
	if (api_change(q, method, &op, 1))
		api_reply_result(&q->reply, q, method, t, q->res, q->too_large);
}

static void do_number_add(struct api *a, struct api_request *q, const char *method,
                          const struct config *cfg, const struct tenant *t, const uint8_t *id,
                          int side)
{
	struct alloc_result res;
	enum alloc_code code = AC_BAD_PARAM;
	char msg[160], *raw = NULL;

	memset(&res, 0, sizeof(res));
	if (q->too_large)
		snprintf(msg, sizeof(msg), "body is larger than %d bytes", API_BODY_MAX);
	else
		code =
		    api_parse_number_body(q->body ? q->body : "", q->len, &raw, msg, sizeof(msg));
	if (code == AC_OK) {
		struct alloc_op op = {
		    .kind = ALLOC_NUMBER_ADD, .cfg = cfg, .t = t, .side = side, .number = raw};

		memcpy(op.id, id, STORE_ID_LEN);
		if (api_change(q, method, &op, 1))
			api_reply_result(&q->reply, q, method, t, q->res, false);
		free(raw);
		return;
	}
	/* core's number calls take no parse result, so the target stage (1,
	 * 22) is checked here before the body's problem is told. */
	alloc_get(a->svc, t, id, &res);
	if (res.code != AC_OK) {
		api_reply_result(&q->reply, q, method, t, &res, false);
		return;
	}
	if (res.rec.state == STORE_VAULT) {
		api_reply_error(&q->reply, q, method, 410, AC_GONE,
		                "this greenpin is already deallocated");
		return;
	}
	api_reply_error(&q->reply, q, method, q->too_large ? 413 : alloc_code_http(code), code,
	                "%s", msg);
}

static void route_item(struct api *a, struct api_request *q, const char *method,
                       const struct config *cfg, const struct tenant *t, const struct path *p)
{
	unsigned allowed = p->n == 5 ? M_GET | M_PUT | M_DELETE : p->n == 7 ? M_POST : M_DELETE;
	unsigned m = method_bit(method);
	uint8_t id[STORE_ID_LEN];
	struct alloc_result res;
	int side = p->n > 5 && !strcmp(p->seg[5], "b") ? STORE_B : STORE_A;

	if (!(m & allowed)) {
		method_not_allowed(q, method, allowed);
		return;
	}
	path_id(p->seg[4], id);
	memset(&res, 0, sizeof(res));
	/* Target first (after auth and version): a malformed id is a 404. */
	if (id_malformed(id)) {
		not_found_id(&res, p->seg[4]);
		api_reply_result(&q->reply, q, method, t, &res, false);
		return;
	}
	if (p->n == 5 && m == M_PUT) {
		do_update(a, q, method, cfg, t, id);
		return;
	}
	if (p->n == 7) {
		do_number_add(a, q, method, cfg, t, id, side);
		return;
	}
	if (m == M_GET) {
		alloc_get(a->svc, t, id, &res);
		api_reply_result(&q->reply, q, method, t, &res, false);
		return;
	}
	{
		struct alloc_op op = {.kind = p->n == 8 ? ALLOC_NUMBER_REMOVE : ALLOC_DELETE,
		                      .cfg = cfg,
		                      .t = t,
		                      .side = side,
		                      .number = p->n == 8 ? p->seg[7] : NULL};

		memcpy(op.id, id, STORE_ID_LEN);
		if (api_change(q, method, &op, 1))
			api_reply_result(&q->reply, q, method, t, q->res, false);
	}
}

/* The route template of a tenant path (seg[0..1] = "v1", "tenants"). */
static enum api_route tenant_route(const struct path *p)
{
	if (p->n < 4)
		return ROUTE_OTHER;
	if (p->n == 4 && !strcmp(p->seg[3], "greenpin"))
		return ROUTE_COLLECTION;
	if (p->n == 4 && !strcmp(p->seg[3], "events"))
		return ROUTE_EVENTS;
	if (p->n == 6 && !strcmp(p->seg[3], "events") && !strcmp(p->seg[5], "retry"))
		return ROUTE_EVENT_RETRY;
	if (p->n == 5 && !strcmp(p->seg[3], "greenvn"))
		return ROUTE_VN_ITEM;
	if ((p->n == 4 || p->n == 5) && !strcmp(p->seg[3], "calls"))
		return p->n == 4 ? ROUTE_CALLS : ROUTE_CALL;
	if (p->n == 6 && !strcmp(p->seg[3], "calls") && !strcmp(p->seg[5], "recording"))
		return ROUTE_RECORDING;
	if (strcmp(p->seg[3], "greenpin"))
		return ROUTE_OTHER;
	if (p->n == 5)
		return ROUTE_ITEM;
	if ((p->n == 7 || p->n == 8) && (!strcmp(p->seg[5], "a") || !strcmp(p->seg[5], "b")) &&
	    !strcmp(p->seg[6], "numbers"))
		return p->n == 7 ? ROUTE_NUMBERS : ROUTE_NUMBER;
	return ROUTE_OTHER;
}

static void route_tenant(struct api *a, struct MHD_Connection *conn, const char *method,
                         struct api_request *q, const struct path *p)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *ver;
	/* A second pass (after a change) keeps the first pass's snapshot. */
	struct config *cfg = q->cfg ? config_ref(q->cfg) : config_current();
	const struct tenant *t = api_auth_tenant(cfg, auth);
	unsigned m = method_bit(method);

	q->route = tenant_route(p);
	if (!cfg) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "no configuration loaded");
		return;
	}
	if (!t) {
		q->reply.www_auth = "Basic realm=\"pinbridge\"";
		api_reply_error(&q->reply, q, method, 401, AC_AUTH,
		                auth ? "invalid credentials"
		                     : "authentication required: HTTP Basic api_key:api_token");
		goto out;
	}
	/* Valid credentials on another tenant's path: 403 whether or not that
	 * tenant exists. */
	if (p->n < 3) {
		not_found(q, method);
		goto out;
	}
	if (strcmp(p->seg[2], t->id) != 0) {
		api_reply_error(&q->reply, q, method, 403, AC_FORBIDDEN,
		                "these credentials are not for this tenant");
		goto out;
	}
	ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Version");
	if (ver && strcmp(ver, "1") && strcasecmp(ver, "v1")) {
		api_reply_error(&q->reply, q, method, 400, AC_VERSION,
		                "X-Api-Version %.32s is not supported; send 1 or leave it out",
		                ver);
		goto out;
	}
	switch (q->route) {
	case ROUTE_COLLECTION:
		if (m == M_POST)
			do_create(a, q, method, cfg, t);
		else if (m == M_PUT)
			do_bulk(a, q, method, cfg, t);
		else if (m == M_GET)
			do_list(a, conn, q, method, t);
		else
			method_not_allowed(q, method, M_GET | M_POST | M_PUT);
		break;
	case ROUTE_ITEM:
	case ROUTE_VN_ITEM:
	case ROUTE_NUMBERS:
	case ROUTE_NUMBER:
		route_item(a, q, method, cfg, t, p);
		break;
	case ROUTE_EVENTS:
	case ROUTE_EVENT_RETRY:
		api_events_route(a, conn, q, method, t, p->n == 6 ? p->seg[4] : NULL,
		                 q->route == ROUTE_EVENT_RETRY);
		break;
	case ROUTE_CALLS:
	case ROUTE_CALL:
		api_calls_route(a, conn, q, method, t, p->n == 5 ? p->seg[4] : NULL);
		break;
	case ROUTE_RECORDING:
		api_recording_route(a, conn, q, method, t, p->seg[4]);
		break;
	default:
		not_found(q, method);
		break;
	}
out:
	config_unref(cfg);
}

/* ---- root ---- */

/* The sections of /metrics, each malloc'd; NULL where there is none. 0 or
 * ENOMEM. */
static int metrics_parts(struct api *a, const struct config *cfg, char *parts[4])
{
	if (api_metrics_text(a->metrics, &parts[0]) != 0 ||
	    (a->svc && cfg && alloc_metrics_text(a->svc, cfg, &parts[1]) != 0) ||
	    (a->events && cfg && events_metrics_text(a->events, cfg, &parts[2]) != 0) ||
	    (a->callflow && callflow_metrics_text(a->callflow, &parts[3]) != 0))
		return ENOMEM;
	return 0;
}

static void do_metrics(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                       const char *method)
{
	struct config *cfg = config_current();
	char *parts[4] = {NULL, NULL, NULL, NULL}, *all;
	size_t len[4], n = 0, i;

	if (cfg && cfg->metrics_token[0] &&
	    !api_auth_bearer_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
	                        cfg->metrics_token)) {
		q->reply.www_auth = "Bearer realm=\"pinbridge\"";
		api_reply_error(&q->reply, q, method, 401, AC_AUTH,
		                "metrics need Authorization: Bearer <metrics_token>");
		goto out;
	}
	if (metrics_parts(a, cfg, parts) != 0) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < 4; i++) {
		len[i] = parts[i] ? strlen(parts[i]) : 0;
		n += len[i];
	}
	all = malloc(n + 1);
	if (!all) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		goto out;
	}
	for (n = 0, i = 0; i < 4; n += len[i], i++)
		if (len[i])
			memcpy(all + n, parts[i], len[i]);
	all[n] = '\0';
	q->reply.status = 200;
	q->reply.body = all;
	q->reply.len = n;
	q->reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
out:
	for (i = 0; i < 4; i++)
		free(parts[i]);
	if (cfg)
		config_unref(cfg);
}

void api_route(struct api *a, struct MHD_Connection *conn, const char *url, const char *method,
               struct api_request *q)
{
	struct path *p = malloc(sizeof(*p));
	bool ok = p && path_split(p, url);

	q->route = ROUTE_OTHER;
	if (!p) {
		api_reply_error(&q->reply, q, method, 500, AC_INTERNAL, "out of memory");
		return;
	}
	if (ok && p->n >= 2 && !strcmp(p->seg[0], "v1") && !strcmp(p->seg[1], "tenants")) {
		route_tenant(a, conn, method, q, p);
	} else if (ok && p->n == 1 && !strcmp(p->seg[0], "healthz")) {
		q->route = ROUTE_HEALTHZ;
		if (method_bit(method) != M_GET) {
			method_not_allowed(q, method, M_GET);
		} else {
			q->reply.status = 200;
			q->reply.body = strdup("{\"status\":\"ok\"}");
			q->reply.len = q->reply.body ? strlen(q->reply.body) : 0;
		}
	} else if (ok && p->n == 1 && !strcmp(p->seg[0], "metrics")) {
		q->route = ROUTE_METRICS;
		if (method_bit(method) != M_GET)
			method_not_allowed(q, method, M_GET);
		else
			do_metrics(a, conn, q, method);
	} else {
		not_found(q, method);
	}
	free(p);
}
