/* events: webhooks (DESIGN §4). Payloads are built and written to the
 * store's outbox in the same transaction as their cause; the events worker
 * thread delivers them with libcurl's multi interface, signed, at least
 * once, with backoff, and records each outcome through the store writer.
 * The HTTP and SIP threads never wait on a webhook. */
#ifndef PB_CORE_EVENTS_H
#define PB_CORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

/* --- writing events: inside a write step, next to the change --- */

/* The deallocation event of rec (now vault) when tenant t has a
 * deallocation URL; nothing (0) otherwise. Payload exactly as the
 * reference's deallocation callback, state "vault". 0 or a store errno. */
int events_add_deallocation(struct store_txn *txn, const struct tenant *t,
                            const struct store_alloc *rec, int64_t now_ms);

/* Any event: type is the X-Pinbridge-Event value, url the tenant's URL for
 * it ("" = none configured: nothing is stored), body the JSON payload. */
int events_add(struct store_txn *txn, const struct tenant *t, const char *type, const char *url,
               const char *body, size_t len, int64_t now_ms);

/* --- the worker --- */
struct events;

/* Starts the events worker on st (libcurl global init included). */
int events_start(struct events **ep, struct store *st);
/* Finishes deliveries in flight (bounded), stops the worker. */
void events_stop(struct events *e);
/* Something was added to the outbox: look now rather than at the next tick.
 * Cheap, any thread, never blocks. NULL e is ignored. */
void events_kick(struct events *e);

/* "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" into out (at least
 * 96 bytes). */
void events_sign(const char *secret, int64_t unix_s, const char *body, size_t len, char *out,
                 size_t outlen);

/* Backoff before attempt n+1 after n failed attempts (n >= 1): base *
 * 2^(n-1), with jitter in [0.5, 1.5), capped at one hour. */
int64_t events_backoff_ms(int64_t base_ms, uint32_t n);

/* Prometheus text: queue depth per tenant, deliveries by outcome, delivery
 * latency (commit to 2xx). malloc'd into *out. */
int events_metrics_text(struct events *e, const struct config *cfg, char **out);

/* --- the API side: list and replay --- */
struct events_page {
	int code; /* enum alloc_code: AC_OK, AC_BAD_PARAM, AC_INTERNAL */
	char message[200];
	struct store_event *items; /* malloc'd; events_page_free() */
	size_t n;
	char next_cursor[32]; /* "" = last page */
};

/* status: "pending", "delivered" or "dead" (NULL: pending); limit 1..500
 * (NULL: 50); cursor as returned. */
void events_list(struct events *e, const struct tenant *t, const char *status, const char *limit,
                 const char *cursor, struct events_page *page);
void events_page_free(struct events_page *page);

/* Replays a dead event of t by delivery id: pending again, due now, attempts
 * reset, max_age counted from now. Returns an alloc_code: AC_OK (*out is the
 * event now), AC_NOT_FOUND (no such event for t), AC_BAD_PARAM (not dead),
 * AC_INTERNAL. Kicks the worker. */
int events_retry(struct events *e, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
                 struct store_event *out, char *msg, size_t msglen);

#endif
