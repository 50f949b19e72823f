/* api_int: what the api/ files share. The request context MHD carries between
 * calls, Basic auth, JSON mapping of bodies, replies and metrics. */
#ifndef PB_API_INT_H
#define PB_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/config.h"

struct MHD_Connection;
struct MHD_Daemon;

#define API_BODY_MAX    (1024 * 1024)       /* bigger bodies answer 413 code 5 */
#define API_DISCARD_MAX (64u * 1024 * 1024) /* past this we drop the connection */

/* ---- metrics (api_metrics.c) ---- */

/* Route templates, the "route" label of the HTTP metrics. */
enum api_route {
	ROUTE_OTHER = 0,
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
	ROUTE_COLLECTION,  /* /v1/tenants/{t}/greenpin */
	ROUTE_ITEM,        /* /v1/tenants/{t}/greenpin/{id} */
	ROUTE_VN_ITEM,     /* /v1/tenants/{t}/greenvn/{id} */
	ROUTE_NUMBERS,     /* /v1/tenants/{t}/greenpin/{id}/{side}/numbers */
	ROUTE_NUMBER,      /* /v1/tenants/{t}/greenpin/{id}/{side}/numbers/{number} */
	ROUTE_EVENTS,      /* /v1/tenants/{t}/events */
	ROUTE_EVENT_RETRY, /* /v1/tenants/{t}/events/{id}/retry */
	ROUTE_CALLS,       /* /v1/tenants/{t}/calls */
	ROUTE_CALL,        /* /v1/tenants/{t}/calls/{call_sid} */
	ROUTE_RECORDING,   /* /v1/tenants/{t}/calls/{call_sid}/recording */
	ROUTE_COUNT
};

struct api_metrics;

int api_metrics_new(struct api_metrics **mp);
void api_metrics_free(struct api_metrics *m);
/* Counts one answered request; lock-free (relaxed atomics). */
void api_metrics_observe(struct api_metrics *m, enum api_route route, const char *method,
                         int status, int64_t duration_us);
/* Prometheus text of the HTTP counters, malloc'd into *out. 0 or ENOMEM. */
int api_metrics_text(struct api_metrics *m, char **out);

/* ---- the request being handled (api.c) ---- */

struct api {
	struct MHD_Daemon *daemon;
	struct alloc_service *svc;
	struct events *events;     /* the webhook outbox; NULL = no events routes */
	struct callflow *callflow; /* calls' part of /metrics; may be NULL */
	struct api_metrics *metrics;
	char listen[CONFIG_STR];
	pthread_mutex_t mu;  /* guards inflight and every request's await state */
	pthread_cond_t idle; /* inflight reached 0 */
	unsigned inflight;   /* changes submitted and not yet done */
	unsigned resuming;   /* connections resumed that MHD has not taken back yet */
	bool stopping;       /* api_stop began: no new changes */
};

struct api_reply {
	int status;
	char *body; /* malloc'd (free()), may be NULL */
	size_t len;
	const char *content_type; /* NULL = application/json */
	const char *allow;        /* Allow header for 405, or NULL */
	const char *www_auth;     /* WWW-Authenticate value for 401, or NULL */
	/* A file as the body instead of body: length bytes of fd from offset,
	 * sent by MHD without reading the file into memory. The response
	 * takes fd over (MHD closes it); until then the request owns it. */
	bool has_fd;
	int fd;
	uint64_t offset, length;
	const char *accept_ranges; /* Accept-Ranges value, or NULL */
	char content_range[64];    /* Content-Range value, or "" */
};

/* A change runs without holding its pool thread: the route submits it
 * (alloc_submit), the connection is suspended, and when the group commit
 * has synced the connection resumes, the route runs again and finds the
 * results in the request. */
enum api_await { AWAIT_NONE = 0, AWAIT_RUNNING, AWAIT_DONE };

struct api_request {
	char id[17]; /* 16 hex chars, also X-Request-Id */
	struct api *api;
	struct MHD_Connection *conn;
	struct config *cfg;       /* the snapshot of the first pass; held to the end */
	enum api_await await;     /* guarded by api.mu */
	bool suspended;           /* guarded by api.mu */
	bool resumed;             /* guarded by api.mu: counted in api.resuming */
	struct alloc_result *res; /* the change's results: 1, or a bulk's n */
	int64_t start_us;
	char *body; /* NUL-terminated; at most API_BODY_MAX bytes kept */
	size_t len, cap;
	uint64_t received; /* bytes of body seen, kept or not */
	bool too_large;
	enum api_route route;
	struct api_reply reply;
};

/* ---- auth (api_auth.c) ---- */

#define API_KEY_MAX   CONFIG_STR
#define API_TOKEN_MAX 512

/* Parses an Authorization value "Basic <base64 of key:token>": the scheme
 * case-insensitively, the space after it optional, standard base64 with or
 * without padding, split at the first ':'. 0, or EINVAL (missing scheme, bad
 * base64, no ':', NUL bytes, parts too long). */
int api_auth_parse_basic(const char *header, char key[API_KEY_MAX], char token[API_TOKEN_MAX]);

/* The tenant whose api_key and token match, or NULL. Unknown keys go through
 * the same digest and compare as known ones, so timing tells nothing. */
const struct tenant *api_auth_tenant(const struct config *cfg, const char *authorization);

/* A Bearer header against the metrics token, compared as digests. */
bool api_auth_bearer_ok(const char *authorization, const char *token);

/* Standard base64 (padding optional) into out. Decoded length, or -1. */
long api_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

/* ---- JSON bodies (api_json.c) ---- */

/* Whether buf is well-formed UTF-8 (no overlongs, surrogates, or code points
 * past U+10FFFF); *bad is the offset of the first bad byte. */
bool api_utf8_valid(const char *buf, size_t len, size_t *bad);

/* Parses a body into a cJSON value after the UTF-8 check, requiring nothing
 * after the value. NULL and an actionable message in msg on failure. */
cJSON *api_json_parse(const char *body, size_t len, char *msg, size_t msglen);

/* Maps one object's fields into req (req reset first). Problems land in
 * req->parse_code/parse_msg. Also used for each bulk item. */
void api_map_alloc_obj(const cJSON *obj, struct alloc_req *req);

/* A bulk body {"greenpins":[...]}. code is a body-level problem (5: bad
 * JSON or types; 3: no items; 17: more than max_items, items not mapped). */
struct api_bulk {
	enum alloc_code code;
	char msg[160];
	size_t n;
	struct alloc_req *items; /* n, malloc'd */
	char (*ids)[40];         /* n: greenpin_id as sent; "" absent, "?" not a usable string */
};
void api_parse_bulk(const char *body, size_t len, size_t max_items, struct api_bulk *b);
void api_bulk_free(struct api_bulk *b);

/* A numbers body {"number":"..."} or {"numbers":["..."]} (exactly one).
 * AC_OK and the number as sent in *out (malloc'd), else the code (5, 3) and
 * a message. */
enum alloc_code api_parse_number_body(const char *body, size_t len, char **out, char *msg,
                                      size_t msglen);

/* ---- replies (api_reply.c) ---- */

/* The record as the reference shows it. NULL on ENOMEM. */
cJSON *api_record_json(const struct tenant *t, const struct store_alloc *rec);
/* One envelope; data is taken over (NULL = null). request_id/method are
 * omitted when NULL (bulk items). */
cJSON *api_envelope(const char *request_id, const char *method, int status, enum alloc_code code,
                    const char *message, cJSON *data);
/* Fills r from an envelope (or any JSON value), consuming it. */
void api_reply_json(struct api_reply *r, int status, cJSON *json);
/* An error envelope straight into r. */
void api_reply_error(struct api_reply *r, const struct api_request *q, const char *method,
                     int status, enum alloc_code code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A core result into r: success with the record, error with code 18's
 * record. too_large turns core's code 5 (the body stage's first check,
 * our parse_code) into 413. */
void api_reply_result(struct api_reply *r, const struct api_request *q, const char *method,
                      const struct tenant *t, const struct alloc_result *res, bool too_large);

/* ---- changes without a waiting thread (api.c) ---- */

/* true: the change op has run and its results are in q->res (second pass).
 * false: it was just submitted with op->res = q->res (n results) and the
 * route must return without a reply; or, out of memory, the reply is set. */
bool api_change(struct api_request *q, const char *method, struct alloc_op *op, size_t n);

/* ---- webhook events (api_events.c) ---- */

/* GET /events (retry false) or POST /events/{id}/retry. */
void api_events_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                      const char *method, const struct tenant *t, const char *id, bool retry);

/* ---- call records (api_calls.c) ---- */

/* GET /calls (sid NULL) or GET /calls/{sid}; auth, version and tenant
 * already settled. */
void api_calls_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                     const char *method, const struct tenant *t, const char *sid);

/* GET or HEAD /calls/{sid}/recording: the call's WAV file, with Range.
 * Auth, version and tenant already settled. */
void api_recording_route(struct api *a, struct MHD_Connection *conn, struct api_request *q,
                         const char *method, const struct tenant *t, const char *sid);

/* ---- byte ranges (api_range.c) ---- */

enum api_range_kind {
	API_RANGE_NONE = 0,      /* no Range, or one ignored: send everything (200) */
	API_RANGE_OK,            /* one range, *first..*last inclusive (206) */
	API_RANGE_UNSATISFIABLE, /* 416, with the size in Content-Range */
};

/* A Range header value (NULL = none) against a body of size bytes, as RFC
 * 9110 §14.2 reads it. Only a single "bytes=" range is honoured: another
 * unit, a malformed value or several ranges give API_RANGE_NONE. */
enum api_range_kind api_range_parse(const char *header, uint64_t size, uint64_t *first,
                                    uint64_t *last);

/* ---- routing (api_routes.c) ---- */

/* Answers a request under /v1/tenants/ or at the root into q->reply; sets
 * q->route. headers: MHD connection for header and argument lookups. */
void api_route(struct api *a, struct MHD_Connection *conn, const char *url, const char *method,
               struct api_request *q);

#endif
