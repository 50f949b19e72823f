/* callflow: the per-call flow of DESIGN §3 on the SIP thread: routing an
 * inbound INVITE, the hunt over the numbers to dial through the tenant's
 * trunk, the anchored media session between caller and callee, and the call
 * record with its call-completed event at the end. Every call's state lives
 * on the SIP thread; the store is written through its writer without ever
 * blocking that thread. */
#ifndef PB_CORE_CALLFLOW_H
#define PB_CORE_CALLFLOW_H

#include "core/config.h"
#include "store/store.h"

struct callflow;
struct events;

/* Binds the media port range and the SIP listeners of cfg (which the flow
 * keeps a reference to until callflow_stop; calls take the snapshot in
 * force when they start) and starts the media workers and the SIP thread.
 * Records left in progress by a crash are finalised first. 0 or an errno
 * (EIO: a listen address could not be bound). */
int callflow_start(struct callflow **cfp, struct config *cfg, struct store *st, struct events *ev);

/* SIGHUP: new calls take cfg's tenants and trunks (each call keeps the
 * snapshot it started with); the trunks' allow lists are swapped into the
 * SIP thread. Listeners, the media port range and REGISTER bindings change
 * only on restart (a warning says so). NULL cf is ignored. */
void callflow_reload(struct callflow *cf, const struct config *cfg);

/* Graceful shutdown, first half: new INVITEs get 503 from now on; calls in
 * progress go on. Any thread. */
void callflow_refuse_new(struct callflow *cf);
/* Calls in progress (routed, not yet ended). Any thread. */
int callflow_active(struct callflow *cf);

/* Ends every call (BYE/CANCEL/final response), finishes their records,
 * stops the SIP thread and the media workers. NULL is allowed. */
void callflow_stop(struct callflow *cf);

/* Prometheus text: active calls, calls by outcome, setup latency
 * histogram, RTP relayed/dropped, port pool. malloc'd into *out. 0 or
 * ENOMEM. NULL cf: empty text. */
int callflow_metrics_text(struct callflow *cf, char **out);

#endif
