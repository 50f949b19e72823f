/* api: the GreenPin-compatible HTTP API on libmicrohttpd. Paths, auth, JSON
 * envelopes and the mapping of bodies to core/alloc requests; no business
 * rules live here. */
#ifndef PB_API_H
#define PB_API_H

#include <stddef.h>

#include "core/alloc.h"

struct api;
struct events;
struct callflow;

/* What the API serves: allocations (required), events (/events routes and
 * their part of /metrics; may be NULL), calls (/calls routes read the
 * store through svc; callflow adds its part of /metrics; may be NULL). */
struct api_services {
	struct alloc_service *svc;
	struct events *events;
	struct callflow *callflow;
};

/* Listens on listen ("ADDR:PORT") with a pool of threads; tenants and auth
 * come from config_current() per request. 0 or an errno value. */
int api_start(struct api **ap, const struct api_services *svcs, const char *listen, int threads);
void api_stop(struct api *a);

/* Maps a JSON body to req (type checks only; values are core's business).
 * Never fails: problems land in req->parse_code / parse_msg. Exposed for the
 * fuzzer and unit tests. */
void api_parse_alloc_req(const char *body, size_t len, struct alloc_req *req);

#endif
