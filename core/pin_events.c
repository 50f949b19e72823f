/* pin_events: the verification-success and verification-failure webhooks
 * (DESIGN §4), payloads exactly as the reference's, written to the outbox in
 * the write step of their cause. */
#include "core/pin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/calls.h"
#include "core/events.h"

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

static int emit(struct store_txn *txn, const struct tenant *t, const char *type, const char *url,
                cJSON *o, bool ok, int64_t now_ms)
{
	char *body = ok ? cJSON_PrintUnformatted(o) : NULL;
	int rc = body ? events_add(txn, t, type, url, body, strlen(body), now_ms) : ENOMEM;

	free(body);
	cJSON_Delete(o);
	return rc;
}

int pin_event_success(struct store_txn *txn, const struct tenant *t, const struct store_alloc *a,
                      const char *caller, const char *vn, const char *pin, const char *call_sid,
                      int64_t now_ms)
{
	const char *url = t->webhooks.verification_success;
	char gid[37];
	cJSON *o;
	bool ok;

	if (!url[0])
		return 0;
	o = cJSON_CreateObject();
	if (!o)
		return ENOMEM;
	alloc_id_format(a->id, gid);
	ok = add(o, "caller", cJSON_CreateString(caller)) &&
	     add(o, "greenpin_id", cJSON_CreateString(gid)) &&
	     add(o, "vn", cJSON_CreateString(vn)) &&
	     add(o, "transaction_id", cJSON_CreateString(a->txn_id)) &&
	     add(o, "pin", cJSON_CreateString(pin)) &&
	     add(o, "call_sid", cJSON_CreateString(call_sid));
	return emit(txn, t, "verification-success", url, o, ok, now_ms);
}

int pin_event_failure(struct store_txn *txn, const struct tenant *t, const char *caller,
                      const char *vn, const char *pin, const char *call_sid, int64_t started_ms,
                      int64_t now_ms)
{
	const char *url = t->webhooks.verification_failure;
	cJSON *o;
	bool ok;

	if (!url[0])
		return 0;
	o = cJSON_CreateObject();
	if (!o)
		return ENOMEM;
	ok = add(o, "start_time", calls_iso_time(t, started_ms, false)) &&
	     add(o, "caller", cJSON_CreateString(caller)) && add(o, "vn", cJSON_CreateString(vn)) &&
	     add(o, "call_sid", cJSON_CreateString(call_sid)) &&
	     add(o, "pin", cJSON_CreateString(pin));
	return emit(txn, t, "verification-failure", url, o, ok, now_ms);
}
