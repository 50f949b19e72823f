/* api_reply: records and core results as the reference's JSON: the envelope
 * {"request_id","method","success","status","code","message","data"} and the
 * record's keys in the reference's order. cJSON prints with the default
 * hooks (malloc), so reply bodies are released with free(). */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *string_array(const char (*list)[STORE_NUM_LEN], unsigned n)
{
	cJSON *arr = cJSON_CreateArray();
	unsigned i;

	for (i = 0; arr && i < n; i++) {
		cJSON *s = cJSON_CreateString(list[i]);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *side_json(const struct store_side *s)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!add(o, "vns", string_array(s->vns, s->nvns)) ||
	    !add(o, "numbers", string_array(s->numbers, s->nnumbers)) ||
	    (s->pin[0] && !add(o, "pin", cJSON_CreateString(s->pin)))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *api_record_json(const struct tenant *t, const struct store_alloc *rec)
{
	char id[37], when[32];
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	alloc_id_format(rec->id, id);
	alloc_time_format(t, rec->dealloc_ms, when);
	if (!add(o, "transaction_id", cJSON_CreateString(rec->txn_id)) ||
	    !add(o, "greenpin_id", cJSON_CreateString(id)) ||
	    !add(o, "a", side_json(&rec->side[STORE_A])) ||
	    !add(o, "b", side_json(&rec->side[STORE_B])) ||
	    !add(o, "usage",
	         cJSON_CreateString(rec->usage == STORE_ONEWAY ? "oneway" : "twoway")) ||
	    !add(o, "state", cJSON_CreateString(rec->state == STORE_VAULT ? "vault" : "active")) ||
	    !add(o, "deallocation_time", cJSON_CreateString(when)) ||
	    /* Beyond the reference, so only when the allocation set it: one
	     * that follows its tenant reads exactly as the reference's. */
	    (rec->record != STORE_RECORD_TENANT &&
	     !add(o, "record", cJSON_CreateBool(rec->record == STORE_RECORD_ON)))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *api_envelope(const char *request_id, const char *method, int status, enum alloc_code code,
                    const char *message, cJSON *data)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	if (ok && request_id)
		ok = add(o, "request_id", cJSON_CreateString(request_id)) &&
		     add(o, "method", cJSON_CreateString(method));
	ok = ok && add(o, "success", cJSON_CreateBool(code == AC_OK)) &&
	     add(o, "status", cJSON_CreateNumber(status)) &&
	     add(o, "code", code == AC_OK ? cJSON_CreateNull() : cJSON_CreateNumber(code)) &&
	     add(o, "message",
	         code == AC_OK || !message ? cJSON_CreateNull() : cJSON_CreateString(message));
	if (ok) {
		ok = add(o, "data", data ? data : cJSON_CreateNull());
		data = NULL; /* add() took it, or freed it on failure */
	}
	cJSON_Delete(data);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void api_reply_json(struct api_reply *r, int status, cJSON *json)
{
	static const char oom[] = "{\"success\":false,\"status\":500,\"code\":0,"
	                          "\"message\":\"out of memory\",\"data\":null}";

	free(r->body);
	r->body = json ? cJSON_PrintUnformatted(json) : NULL;
	cJSON_Delete(json);
	r->status = status;
	if (!r->body) {
		r->status = 500;
		r->body = strdup(oom);
	}
	r->len = r->body ? strlen(r->body) : 0;
}

void api_reply_error(struct api_reply *r, const struct api_request *q, const char *method,
                     int status, enum alloc_code code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_reply_json(r, status, api_envelope(q->id, method, status, code, msg, NULL));
}

void api_reply_result(struct api_reply *r, const struct api_request *q, const char *method,
                      const struct tenant *t, const struct alloc_result *res, bool too_large)
{
	int status = alloc_code_http(res->code);
	cJSON *data = NULL;

	/* Core reports our parse_code first in the body stage, so a code 5
	 * after a too-large body is that one: the status is 413, not 400. */
	if (too_large && res->code == AC_BAD_PARAM)
		status = 413;
	if (res->has_rec && (res->code == AC_OK || res->code == AC_TXN_EXISTS)) {
		data = api_record_json(t, &res->rec);
		if (!data) {
			api_reply_json(r, 500, NULL);
			return;
		}
	}
	api_reply_json(r, status,
	               api_envelope(q->id, method, status, res->code, res->message, data));
}
