/* api: the GreenPin-compatible HTTP API on libmicrohttpd. Paths, auth, JSON
 * envelopes and the mapping of bodies to core/alloc requests; no business
 * rules live here. */
#ifndef PB_API_H
#define PB_API_H

#include <stddef.h>

#include "core/alloc.h"

struct api;
struct events;

/* Listens on listen ("ADDR:PORT") with a pool of threads; tenants and auth
 * come from config_current() per request. events (may be NULL) serves the
 * /events routes and its part of /metrics. 0 or an errno value. */
int api_start(struct api **ap, struct alloc_service *svc, struct events *events, const char *listen,
              int threads);
void api_stop(struct api *a);

/* Maps a JSON body to req (type checks only; values are core's business).
 * Never fails: problems land in req->parse_code / parse_msg. Exposed for the
 * fuzzer and unit tests. */
void api_parse_alloc_req(const char *body, size_t len, struct alloc_req *req);

#endif
