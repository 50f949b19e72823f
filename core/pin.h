/* pin: the PIN IVR's pure pieces (DESIGN §3 step 4, "DTMF" and the
 * brute-force guard): collecting digits into a PIN, counting failures per
 * (VN, caller) and per caller, and the verification events' payloads. The
 * call flow drives them on the SIP thread. */
#ifndef PB_CORE_PIN_H
#define PB_CORE_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/route.h"
#include "store/store.h"

/* --- digit collection --- */

/* Where a digit came from; the first route to deliver one is locked for the
 * call, so a gateway sending tones and events counts each key once. */
enum pin_route {
	PIN_ROUTE_NONE = 0,
	PIN_ROUTE_RFC4733 = 1,
	PIN_ROUTE_INBAND = 2,
	PIN_ROUTE_INFO = 3
};

struct pin_collect {
	enum pin_route route;
	unsigned n;
	char digits[STORE_PIN_MAX + 1];
};

enum pin_feed {
	PIN_FEED_IGNORED = 0, /* another route's digit, or not a key of the PIN pad */
	PIN_FEED_MORE,        /* keep collecting (inter-digit timer restarts) */
	PIN_FEED_RESTART,     /* '*': entry starts over */
	PIN_FEED_COMPLETE,    /* verify digits now: equal to a PIN, '#', or full */
};

/* Where the digits so far stand against the VN's PINs (route_pin_match). */
typedef enum route_pin_state (*pin_match_fn)(void *arg, const char *digits);

void pin_collect_reset(struct pin_collect *pc); /* keeps the route lock */
/* One digit by route. Digits that no PIN starts with are still collected,
 * up to STORE_PIN_MAX, so the caller learns nothing about which prefixes
 * exist; the answer comes on '#', at the inter-digit timeout, or when full. */
enum pin_feed pin_collect_feed(struct pin_collect *pc, char digit, enum pin_route route,
                               pin_match_fn match, void *arg);

/* --- brute-force guard (SIP thread only) --- */
struct pin_guard;

struct pin_guard_cfg {
	int after;         /* failures in the window that lock the caller out */
	int64_t window_ms; /* sliding window */
	int64_t lock_ms;   /* how long a lockout lasts */
};

int pin_guard_new(struct pin_guard **gp);
void pin_guard_free(struct pin_guard *g);
/* Whether caller's PIN attempts are refused now, on vn or anywhere. */
bool pin_guard_locked(struct pin_guard *g, const char *vn, const char *caller, int64_t now_ms);
/* A failed PIN: counted per (vn, caller) and per caller, and per vn for the
 * failure-rate metric. true when this failure started a lockout. */
bool pin_guard_fail(struct pin_guard *g, const struct pin_guard_cfg *c, const char *vn,
                    const char *caller, int64_t now_ms);
/* Forget entries whose window and lockout are over (bounded memory). */
void pin_guard_expire(struct pin_guard *g, const struct pin_guard_cfg *c, int64_t now_ms);
/* Prometheus lines for the per-VN failures (pinbridge_pin_failures_total
 * {vn=...}); appended to *buf (malloc'd, *len used). Any thread. */
int pin_guard_metrics(struct pin_guard *g, char **buf, size_t *len);

/* --- verification events (inside a write step) --- */

/* verification-success: caller, greenpin_id, vn, transaction_id, pin,
 * call_sid, as the reference. */
int pin_event_success(struct store_txn *txn, const struct tenant *t, const struct store_alloc *a,
                      const char *caller, const char *vn, const char *pin, const char *call_sid,
                      int64_t now_ms);
/* verification-failure: start_time (tenant offset), caller, vn, call_sid,
 * pin (the last one keyed). */
int pin_event_failure(struct store_txn *txn, const struct tenant *t, const char *caller,
                      const char *vn, const char *pin, const char *call_sid, int64_t started_ms,
                      int64_t now_ms);

#endif
