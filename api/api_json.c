/* api_json: request bodies to core requests. Only types and shapes are
 * checked here; what the values mean is core/alloc's business. Every problem
 * becomes code 5 (or 3, 17 for bulk shapes) with a message that names the
 * field, so a client can fix its request without guessing. */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool api_utf8_valid(const char *buf, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		unsigned lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		/* Lead bytes and the range of the first continuation byte, which
		 * is where overlongs (E0, F0), surrogates (ED) and code points past
		 * U+10FFFF (F4) are told apart. C0, C1 and F5..FF never appear. */
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			goto fail;
		}
		if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
			goto fail;
		for (k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto fail;
		i += n + 1;
	}
	return true;
fail:
	if (bad)
		*bad = i;
	return false;
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset of a \u0000 escape inside a string, or len when there is none.
 * cJSON would cut the string there, so "12\u00003" would read as PIN "12"
 * and a key "pin\u0000x" as "pin". Run on well-formed JSON only: outside
 * strings there are no backslashes. */
static size_t nul_escape_at(const char *b, size_t len)
{
	bool in_str = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!in_str) {
			in_str = b[i] == '"';
			continue;
		}
		if (b[i] == '"') {
			in_str = false;
			continue;
		}
		if (b[i] != '\\' || i + 1 >= len)
			continue;
		if (i + 5 < len && b[i + 1] == 'u' && !memcmp(b + i + 2, "0000", 4))
			return i;
		i++; /* the escaped character, which may be a quote */
	}
	return len;
}

cJSON *api_json_parse(const char *body, size_t len, char *msg, size_t msglen)
{
	const char *end = NULL;
	size_t bad, off = 0, i;
	cJSON *json;

	/* A UTF-8 byte order mark is not JSON, but some clients send one. */
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		off = 3;
	for (i = off; i < len && json_space(body[i]); i++)
		;
	if (i == len) {
		snprintf(msg, msglen, "body is empty; send a JSON object");
		return NULL;
	}
	if (!api_utf8_valid(body, len, &bad)) {
		snprintf(msg, msglen, "body is not valid UTF-8 (byte %zu)", bad);
		return NULL;
	}
	/* A NUL byte would let cJSON stop early and ignore what follows. */
	end = memchr(body, '\0', len);
	if (end) {
		snprintf(msg, msglen, "body is not valid JSON near byte %zu", (size_t)(end - body));
		return NULL;
	}
	/* The body is not NUL-terminated (fuzzer, tests), so instead of
	 * require_null_terminated we check ourselves that only whitespace
	 * follows the value. */
	end = NULL;
	json = cJSON_ParseWithLengthOpts(body + off, len - off, &end, 0);
	if (!json) {
		size_t at = end ? (size_t)(end - body) : off;

		snprintf(msg, msglen, "body is not valid JSON near byte %zu", at > len ? len : at);
		return NULL;
	}
	for (i = (size_t)(end - body); i < len; i++) {
		if (!json_space(body[i])) {
			cJSON_Delete(json);
			snprintf(msg, msglen,
			         "body is not valid JSON near byte %zu (data after the value)", i);
			return NULL;
		}
	}
	i = nul_escape_at(body, len);
	if (i < len) {
		cJSON_Delete(json);
		snprintf(msg, msglen, "strings must not contain NUL (\\u0000); found at byte %zu",
		         i);
		return NULL;
	}
	return json;
}

static bool fail(struct alloc_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first problem only; returns false so callers can stop. */
static bool fail(struct alloc_req *req, const char *fmt, ...)
{
	va_list ap;

	if (req->parse_code != AC_OK)
		return false;
	req->parse_code = AC_BAD_PARAM;
	va_start(ap, fmt);
	vsnprintf(req->parse_msg, sizeof(req->parse_msg), fmt, ap);
	va_end(ap);
	return false;
}

/* "numbers"/"vns" of side sn: an array of at most 10 strings. */
static bool map_list(const cJSON *arr, const char *sn, const char *field, const char *noun,
                     bool *has, uint8_t *n, char out[][ALLOC_RAW_LEN], struct alloc_req *req)
{
	const cJSON *el;
	int count, i = 0;

	if (!arr)
		return true;
	if (!cJSON_IsArray(arr))
		return fail(req, "%s.%s must be an array of strings", sn, field);
	count = cJSON_GetArraySize(arr);
	if (count > STORE_MAX_NUMS)
		return fail(req, "%s.%s has %d entries; at most %d %s per side", sn, field, count,
		            STORE_MAX_NUMS, noun);
	cJSON_ArrayForEach(el, arr)
	{
		if (!cJSON_IsString(el))
			return fail(req, "%s.%s[%d] must be a string", sn, field, i);
		/* Too long to be a number: "" lets core call it invalid (16). */
		if (strlen(el->valuestring) < ALLOC_RAW_LEN)
			strcpy(out[i], el->valuestring);
		else
			out[i][0] = '\0';
		i++;
	}
	*has = true;
	*n = (uint8_t)i;
	return true;
}

/* "3" or "-1": at most 9 digits after an optional sign. */
static bool numeric_string(const char *s, int *v)
{
	long x = 0;
	int neg = 0, nd = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++, nd++) {
		if (nd == 9)
			return false;
		x = x * 10 + (*s - '0');
	}
	if (*s || nd == 0)
		return false;
	*v = (int)(neg ? -x : x);
	return true;
}

static bool map_pin_length(const cJSON *v, const char *sn, struct alloc_side_req *side,
                           struct alloc_req *req)
{
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		/* Out-of-range values are kept (clamped) for core to reject with
		 * its own message; only non-integers are a type problem. */
		if (d != d)
			return fail(req, "%s.pin_length must be a whole number from 1 to 9", sn);
		if (d > 1000000.0)
			d = 1000000.0;
		if (d < -1000000.0)
			d = -1000000.0;
		if (d != (double)(long)d)
			return fail(req, "%s.pin_length must be a whole number from 1 to 9", sn);
		side->pin_length = (int)d;
	} else if (!cJSON_IsString(v) || !numeric_string(v->valuestring, &side->pin_length)) {
		return fail(req, "%s.pin_length must be a whole number from 1 to 9", sn);
	}
	side->has_pin_length = true;
	return true;
}

static bool map_side(const cJSON *o, int s, struct alloc_req *req)
{
	const char *sn = s == STORE_A ? "a" : "b";
	struct alloc_side_req *side = &req->side[s];
	const cJSON *v;

	if (!o)
		return true;
	if (!cJSON_IsObject(o))
		return fail(req, "%s must be an object with numbers, vns, pin or pin_length", sn);
	if (!map_list(cJSON_GetObjectItemCaseSensitive(o, "numbers"), sn, "numbers", "numbers",
	              &side->has_numbers, &side->nnumbers, side->numbers, req))
		return false;
	if (!map_list(cJSON_GetObjectItemCaseSensitive(o, "vns"), sn, "vns", "VNs", &side->has_vns,
	              &side->nvns, side->vns, req))
		return false;
	v = cJSON_GetObjectItemCaseSensitive(o, "pin");
	if (v) {
		/* A JSON number would lose leading zeros, so only strings. */
		if (!cJSON_IsString(v))
			return fail(req, "%s.pin must be a string of digits, e.g. \"0123\"", sn);
		if (strlen(v->valuestring) < sizeof(side->pin))
			strcpy(side->pin, v->valuestring);
		else
			strcpy(side->pin, "x"); /* overlong: core reports it invalid */
		side->has_pin = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "pin_length");
	if (v && !map_pin_length(v, sn, side, req))
		return false;
	return true;
}

void api_map_alloc_obj(const cJSON *obj, struct alloc_req *req)
{
	const cJSON *v, *d;

	memset(req, 0, sizeof(*req));
	req->parse_code = AC_OK;
	if (!cJSON_IsObject(obj)) {
		fail(req, "body must be a JSON object");
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, "transaction_id");
	if (v) {
		if (!cJSON_IsString(v)) {
			fail(req, "transaction_id must be a string");
			return;
		}
		if (strlen(v->valuestring) > STORE_TXNID_MAX) {
			fail(req, "transaction_id is %zu bytes; at most %d are allowed",
			     strlen(v->valuestring), STORE_TXNID_MAX);
			return;
		}
		strcpy(req->txn_id, v->valuestring);
		req->has_txn_id = true;
	}
	if (!map_side(cJSON_GetObjectItemCaseSensitive(obj, "a"), STORE_A, req) ||
	    !map_side(cJSON_GetObjectItemCaseSensitive(obj, "b"), STORE_B, req))
		return;
	v = cJSON_GetObjectItemCaseSensitive(obj, "usage");
	if (v) {
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(req->usage)) {
			fail(req, "usage must be \"oneway\" or \"twoway\"");
			return;
		}
		strcpy(req->usage, v->valuestring);
		req->has_usage = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, "deallocation_policy");
	if (v) {
		if (!cJSON_IsObject(v)) {
			fail(req, "deallocation_policy must be an object such as "
			          "{\"duration\":\"1200s\"}");
			return;
		}
		d = cJSON_GetObjectItemCaseSensitive(v, "duration");
		if (d) {
			if (!cJSON_IsString(d)) {
				fail(req, "deallocation_policy.duration must be a string such as "
				          "\"1200s\"");
				return;
			}
			if (strlen(d->valuestring) >= sizeof(req->duration)) {
				fail(req, "deallocation_policy.duration is too long; use a number "
				          "and a unit s, m, h or d");
				return;
			}
			strcpy(req->duration, d->valuestring);
			req->has_duration = true;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, "record");
	if (v) {
		/* Only true or false: 0, 1, "yes" or null would each be a guess. */
		if (!cJSON_IsBool(v)) {
			fail(req, "record must be true or false");
			return;
		}
		req->record = cJSON_IsTrue(v);
		req->has_record = true;
	}
}

void api_parse_alloc_req(const char *body, size_t len, struct alloc_req *req)
{
	char msg[sizeof(req->parse_msg)];
	cJSON *json = api_json_parse(body, len, msg, sizeof(msg));

	if (!json) {
		memset(req, 0, sizeof(*req));
		req->parse_code = AC_BAD_PARAM;
		memcpy(req->parse_msg, msg, sizeof(msg));
		return;
	}
	api_map_alloc_obj(json, req);
	cJSON_Delete(json);
}

static void bulk_fail(struct api_bulk *b, enum alloc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bulk_fail(struct api_bulk *b, enum alloc_code code, const char *fmt, ...)
{
	va_list ap;

	b->code = code;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
}

void api_parse_bulk(const char *body, size_t len, size_t max_items, struct api_bulk *b)
{
	const cJSON *list, *el;
	cJSON *json;
	size_t i = 0;
	int count;

	memset(b, 0, sizeof(*b));
	b->code = AC_OK;
	json = api_json_parse(body, len, b->msg, sizeof(b->msg));
	if (!json) {
		b->code = AC_BAD_PARAM;
		return;
	}
	if (!cJSON_IsObject(json)) {
		bulk_fail(b, AC_BAD_PARAM, "body must be a JSON object {\"greenpins\":[...]}");
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(json, "greenpins");
	if (!list) {
		bulk_fail(b, AC_MISSING,
		          "greenpins is required: the list of allocations to update");
		goto out;
	}
	if (!cJSON_IsArray(list)) {
		bulk_fail(b, AC_BAD_PARAM, "greenpins must be an array of objects");
		goto out;
	}
	count = cJSON_GetArraySize(list);
	if (count == 0) {
		bulk_fail(b, AC_MISSING, "greenpins is empty; give at least one allocation");
		goto out;
	}
	/* Checked before mapping: a 1 MiB body of "{}," would otherwise ask
	 * for hundreds of thousands of requests' worth of memory. */
	if ((size_t)count > max_items) {
		bulk_fail(b, AC_BULK_LIMIT, "greenpins has %d items; at most %zu per request",
		          count, max_items);
		goto out;
	}
	b->items = calloc((size_t)count, sizeof(*b->items));
	b->ids = calloc((size_t)count, sizeof(*b->ids));
	if (!b->items || !b->ids) {
		api_bulk_free(b);
		bulk_fail(b, AC_INTERNAL, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(el, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(el, "greenpin_id");

		api_map_alloc_obj(el, &b->items[i]);
		if (!cJSON_IsObject(el))
			snprintf(b->items[i].parse_msg, sizeof(b->items[i].parse_msg),
			         "greenpins[%zu] must be an object", i);
		if (id && cJSON_IsString(id) && strlen(id->valuestring) < sizeof(b->ids[i]))
			strcpy(b->ids[i], id->valuestring);
		else if (id)
			strcpy(b->ids[i], "?");
		i++;
	}
	b->n = i;
out:
	cJSON_Delete(json);
}

void api_bulk_free(struct api_bulk *b)
{
	free(b->items);
	free(b->ids);
	b->items = NULL;
	b->ids = NULL;
	b->n = 0;
}

enum alloc_code api_parse_number_body(const char *body, size_t len, char **out, char *msg,
                                      size_t msglen)
{
	const cJSON *v;
	enum alloc_code code = AC_BAD_PARAM;
	cJSON *json = api_json_parse(body, len, msg, msglen);

	*out = NULL;
	if (!json)
		return AC_BAD_PARAM;
	if (!cJSON_IsObject(json)) {
		snprintf(msg, msglen, "body must be a JSON object such as {\"number\":\"+91...\"}");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(json, "number");
	if (v) {
		if (!cJSON_IsString(v)) {
			snprintf(msg, msglen, "number must be a string");
			goto out;
		}
	} else {
		v = cJSON_GetObjectItemCaseSensitive(json, "numbers");
		if (!v) {
			code = AC_MISSING;
			snprintf(msg, msglen,
			         "number is required, e.g. {\"number\":\"+919956555625\"}");
			goto out;
		}
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1 ||
		    !cJSON_IsString(cJSON_GetArrayItem(v, 0))) {
			snprintf(msg, msglen,
			         "numbers must hold exactly one string; add numbers one at a time");
			goto out;
		}
		v = cJSON_GetArrayItem(v, 0);
	}
	*out = strdup(v->valuestring);
	if (!*out) {
		code = AC_INTERNAL;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	code = AC_OK;
out:
	cJSON_Delete(json);
	return code;
}
