/* alloc_validate: the body stage of DESIGN §2's error precedence. Turns a
 * mapped request (and the current record, for updates) into the record it
 * asks for, or the first error in precedence order. Touches no store. */
#include "core/alloc_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/duration.h"
#include "core/number.h"

static const char *const side_name[2] = {"a", "b"};

void alloc_fail(struct alloc_err *e, enum alloc_code code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

int alloc_code_http(enum alloc_code code)
{
	switch (code) {
	case AC_OK:
		return 200;
	case AC_INTERNAL:
		return 500;
	case AC_NOT_FOUND:
	case AC_NO_MAPPING:
		return 404;
	case AC_BAD_FILTER:
	case AC_MISSING:
	case AC_BAD_PARAM:
	case AC_VERSION:
	case AC_BAD_NUMBER:
	case AC_BAD_RANGE:
		return 400;
	case AC_NO_PIN:
		return 452;
	case AC_AUTH:
		return 401;
	case AC_FORBIDDEN:
	case AC_COUNTRY:
		return 403;
	case AC_DUP_NUMBER:
	case AC_SHARED_NUMBER:
	case AC_TXN_EXISTS:
	case AC_ROUTING:
		return 409;
	case AC_BULK_LIMIT:
		return 413;
	case AC_GONE:
		return 410;
	case AC_BAD_FLOW:
		return 422;
	}
	return 500;
}

bool alloc_side_direct(const struct store_alloc *rec, int s)
{
	return rec->side[s].pin[0] == '\0' && (s == STORE_A || rec->usage == STORE_TWOWAY);
}

static bool pin_enabled(const struct tenant *t, int s)
{
	return s == STORE_A ? t->pin.a : t->pin.b;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* 5: values the mapping could not judge. */
static int check_values(const struct tenant *t, const struct alloc_req *req, struct alloc_err *e)
{
	for (int s = 0; s < 2; s++) {
		const struct alloc_side_req *sr = &req->side[s];

		if (sr->has_vns && sr->nvns == 0) {
			alloc_fail(e, AC_BAD_PARAM,
			           "%s.vns must list at least one virtual number (or be left out)",
			           side_name[s]);
			return -1;
		}
		if (!pin_enabled(t, s))
			continue; /* that side gets no PIN: pin and pin_length are ignored */
		if (sr->has_pin && !all_digits(sr->pin, 1, STORE_PIN_MAX)) {
			alloc_fail(e, AC_BAD_PARAM, "%s.pin must be a string of 1 to 9 digits",
			           side_name[s]);
			return -1;
		}
		if (!sr->has_pin && sr->has_pin_length &&
		    (sr->pin_length < 1 || sr->pin_length > STORE_PIN_MAX)) {
			alloc_fail(e, AC_BAD_PARAM, "%s.pin_length must be between 1 and 9",
			           side_name[s]);
			return -1;
		}
	}
	if (req->has_usage && strcmp(req->usage, "oneway") != 0 &&
	    strcmp(req->usage, "twoway") != 0) {
		alloc_fail(e, AC_BAD_PARAM, "usage must be \"oneway\" or \"twoway\"");
		return -1;
	}
	if (req->has_duration) {
		int64_t ms;
		char max[32];

		if (duration_parse(req->duration, true, &ms) != 0) {
			alloc_fail(e, AC_BAD_PARAM,
			           "deallocation_policy.duration must be a whole number and a "
			           "unit s, m, h or d, like \"1200s\"");
			return -1;
		}
		if (ms > t->dealloc.max_ms) {
			duration_format(t->dealloc.max_ms, max, sizeof(max));
			alloc_fail(e, AC_BAD_PARAM,
			           "deallocation_policy.duration is over this tenant's maximum %s",
			           max);
			return -1;
		}
	}
	return 0;
}

/* 3 */
static int check_mandatory(const struct store_alloc *old, const struct tenant *t,
                           const struct alloc_req *req, struct alloc_err *e)
{
	int n[2];

	if (!old && (!req->has_txn_id || req->txn_id[0] == '\0')) {
		alloc_fail(e, AC_MISSING, "transaction_id is required");
		return -1;
	}
	if (old) {
		bool any = req->has_usage || req->has_duration || req->has_record;

		for (int s = 0; s < 2; s++) {
			const struct alloc_side_req *sr = &req->side[s];

			any = any || sr->has_numbers || sr->has_vns ||
			      (pin_enabled(t, s) && (sr->has_pin || sr->has_pin_length));
		}
		if (!any) {
			alloc_fail(e, AC_MISSING,
			           "nothing to update: give numbers, vns, pin, pin_length, usage, "
			           "deallocation_policy.duration or record");
			return -1;
		}
	}
	for (int s = 0; s < 2; s++)
		n[s] = req->side[s].has_numbers ? req->side[s].nnumbers
		                                : (old ? old->side[s].nnumbers : 0);
	if (n[0] == 0 && n[1] == 0) {
		alloc_fail(e, AC_MISSING, "numbers are required on at least one side (a or b)");
		return -1;
	}
	return 0;
}

/* 16: normalises one list into out. */
static int normalize_list(const struct config *cfg, const struct tenant *t, const char *what, int s,
                          const char raw[][ALLOC_RAW_LEN], uint8_t n, char out[][STORE_NUM_LEN],
                          bool party, struct alloc_err *e)
{
	for (uint8_t i = 0; i < n; i++) {
		if (number_normalize(raw[i], t->country, t->national_length, out[i]) != 0) {
			alloc_fail(e, AC_BAD_NUMBER, "%s.%s[%u] \"%s\" is not a valid phone number",
			           side_name[s], what, i, raw[i]);
			return -1;
		}
		if (party && config_vn_owner(cfg, out[i])) {
			alloc_fail(e, AC_BAD_NUMBER,
			           "%s.%s[%u] %s is a virtual number, not a party's number",
			           side_name[s], what, i, out[i]);
			return -1;
		}
	}
	return 0;
}

/* 13 */
static int check_dups(const char *what, int s, char list[][STORE_NUM_LEN], uint8_t n,
                      struct alloc_err *e)
{
	for (uint8_t i = 0; i < n; i++)
		for (uint8_t j = 0; j < i; j++)
			if (strcmp(list[i], list[j]) == 0) {
				alloc_fail(e, AC_DUP_NUMBER, "%s.%s lists %s twice", side_name[s],
				           what, list[i]);
				return -1;
			}
	return 0;
}

static bool country_allowed(const struct tenant *t, const char *e164)
{
	const char *codes[16];
	size_t n = t->ncountries < 16 ? t->ncountries : 16;

	for (size_t i = 0; i < n; i++)
		codes[i] = t->countries[i];
	return number_country_allowed(e164, codes, n);
}

static bool list_has(char list[][STORE_NUM_LEN], uint8_t n, const char *num)
{
	for (uint8_t i = 0; i < n; i++)
		if (strcmp(list[i], num) == 0)
			return true;
	return false;
}

static void copy_vns(struct store_side *dst, const struct store_side *src)
{
	dst->nvns = src->nvns;
	memcpy(dst->vns, src->vns, sizeof(dst->vns));
}

/* The side lists of the result: given lists replace, following sides follow. */
static void merge_lists(const struct store_alloc *old, const struct alloc_req *req,
                        char nums[2][STORE_MAX_NUMS][STORE_NUM_LEN],
                        char vns[2][STORE_MAX_NUMS][STORE_NUM_LEN], bool keep_open,
                        struct alloc_draft *d)
{
	struct store_alloc *r = &d->rec;

	for (int s = 0; s < 2; s++) {
		const struct alloc_side_req *sr = &req->side[s];
		struct store_side *side = &r->side[s];

		if (sr->has_numbers) {
			side->nnumbers = sr->nnumbers;
			memcpy(side->numbers, nums[s], sizeof(side->numbers));
			if (!old || !keep_open)
				side->open = sr->nnumbers == 0;
		} else if (!old) {
			side->nnumbers = 0;
			side->open = true;
		}
		if (sr->has_vns) {
			side->nvns = sr->nvns;
			memcpy(side->vns, vns[s], sizeof(side->vns));
			side->follows = false;
		}
	}
	for (int s = 0; s < 2; s++) {
		struct store_side *side = &r->side[s];
		const struct store_side *other = &r->side[!s];

		if (req->side[s].has_vns)
			continue;
		if (!old) {
			if (req->side[!s].has_vns) {
				copy_vns(side, other);
				side->follows = true;
			}
		} else if (side->follows && req->side[!s].has_vns) {
			copy_vns(side, other);
		}
	}
	if (!old && !req->side[0].has_vns && !req->side[1].has_vns) {
		d->auto_vn = true; /* the writer picks one; b follows a */
		r->side[STORE_B].follows = true;
	}
}

/* 50: some side that may call has numbers, or an enabled PIN and room to join. */
static bool usable(const struct tenant *t, const struct store_alloc *r)
{
	for (int s = 0; s < 2; s++) {
		if (s == STORE_B && r->usage == STORE_ONEWAY)
			continue;
		if (r->side[s].nnumbers > 0 || (pin_enabled(t, s) && r->side[s].open))
			return true;
	}
	return false;
}

static void plan_pins(const struct tenant *t, const struct store_alloc *old,
                      const struct alloc_req *req, struct alloc_draft *d)
{
	for (int s = 0; s < 2; s++) {
		const struct alloc_side_req *sr = &req->side[s];
		struct store_side *side = &d->rec.side[s];

		d->pin_gen[s] = 0;
		d->pin_check[s] = false;
		if (!pin_enabled(t, s)) {
			side->pin[0] = '\0';
		} else if (sr->has_pin) {
			size_t n = strnlen(sr->pin, STORE_PIN_MAX); /* checked: 1..9 digits */

			memcpy(side->pin, sr->pin, n);
			side->pin[n] = '\0';
			d->pin_check[s] = true;
		} else if (sr->has_pin_length) {
			d->pin_gen[s] = sr->pin_length;
		} else if (!old || old->side[s].pin[0] == '\0') {
			d->pin_gen[s] = 4;
		} else {
			d->pin_check[s] = true; /* kept, but its VNs may have changed */
		}
	}
}

int alloc_check_body(const struct config *cfg, const struct tenant *t,
                     const struct store_alloc *old, const struct alloc_req *req, bool keep_open,
                     struct alloc_draft *d, struct alloc_err *e)
{
	struct store_alloc *r = &d->rec;
	char n_[2][STORE_MAX_NUMS][STORE_NUM_LEN];
	char v_[2][STORE_MAX_NUMS][STORE_NUM_LEN];

	memset(d, 0, sizeof(*d));
	memset(n_, 0, sizeof(n_));
	memset(v_, 0, sizeof(v_));
	if (old) {
		*r = *old;
	} else {
		r->usage = STORE_TWOWAY;
		r->state = STORE_ACTIVE;
		snprintf(r->tenant, sizeof(r->tenant), "%s", t->id);
		snprintf(r->txn_id, sizeof(r->txn_id), "%s", req->txn_id);
	}

	if (req->parse_code != AC_OK) {
		alloc_fail(e, req->parse_code, "%s", req->parse_msg);
		return -1;
	}
	if (check_values(t, req, e) || check_mandatory(old, t, req, e))
		return -1;

	for (int s = 0; s < 2; s++) {
		const struct alloc_side_req *sr = &req->side[s];

		if (sr->has_numbers &&
		    normalize_list(cfg, t, "numbers", s, sr->numbers, sr->nnumbers, n_[s], true, e))
			return -1;
		if (sr->has_vns &&
		    normalize_list(cfg, t, "vns", s, sr->vns, sr->nvns, v_[s], false, e))
			return -1;
	}
	for (int s = 0; s < 2; s++) {
		if (req->side[s].has_numbers &&
		    check_dups("numbers", s, n_[s], req->side[s].nnumbers, e))
			return -1;
		if (req->side[s].has_vns && check_dups("vns", s, v_[s], req->side[s].nvns, e))
			return -1;
	}

	merge_lists(old, req, n_, v_, keep_open, d);
	if (req->has_usage)
		r->usage = strcmp(req->usage, "oneway") == 0 ? STORE_ONEWAY : STORE_TWOWAY;
	/* Once given, the flag wins over the tenant's record setting for good;
	 * left out, a create follows the tenant and an update keeps it. */
	if (req->has_record)
		r->record = req->record ? STORE_RECORD_ON : STORE_RECORD_OFF;

	/* 14 */
	for (uint8_t i = 0; i < r->side[0].nnumbers; i++)
		if (list_has(r->side[1].numbers, r->side[1].nnumbers, r->side[0].numbers[i])) {
			alloc_fail(e, AC_SHARED_NUMBER,
			           "%s is on both sides: a and b cannot share a number",
			           r->side[0].numbers[i]);
			return -1;
		}
	/* 15 */
	for (int s = 0; s < 2; s++)
		for (uint8_t i = 0; req->side[s].has_numbers && i < r->side[s].nnumbers; i++)
			if (!country_allowed(t, r->side[s].numbers[i])) {
				alloc_fail(e, AC_COUNTRY,
				           "%s.numbers[%u] %s: that country is not enabled for "
				           "this tenant",
				           side_name[s], i, r->side[s].numbers[i]);
				return -1;
			}
	/* 8 */
	for (int s = 0; s < 2; s++)
		for (uint8_t i = 0; req->side[s].has_vns && i < r->side[s].nvns; i++)
			if (!config_tenant_has_vn(t, r->side[s].vns[i])) {
				alloc_fail(e, AC_FORBIDDEN,
				           "%s.vns[%u] %s is not a virtual number of this tenant",
				           side_name[s], i, r->side[s].vns[i]);
				return -1;
			}
	/* 50 */
	if (!usable(t, r)) {
		alloc_fail(e, AC_BAD_FLOW,
		           "no call could use this allocation: no side that may call has "
		           "numbers, or an open side with a PIN");
		return -1;
	}

	plan_pins(t, old, req, d);
	if (req->has_duration) {
		d->set_duration = true;
		duration_parse(req->duration, true, &d->duration_ms);
	}
	return 0;
}

enum alloc_code alloc_validate_create(const struct config *cfg, const struct tenant *t,
                                      const struct alloc_req *req, char *msg, size_t msglen)
{
	struct alloc_draft d;
	struct alloc_err e = {.code = AC_OK};

	if (alloc_check_body(cfg, t, NULL, req, false, &d, &e) != 0) {
		snprintf(msg, msglen, "%s", e.msg);
		return e.code;
	}
	if (msglen > 0)
		msg[0] = '\0';
	return AC_OK;
}
