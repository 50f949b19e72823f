/* route: the routing decision of DESIGN §3 over a read transaction. The
 * indexes answer the two questions routing asks: which allocation sides hold
 * this caller on this VN (vnnum), and which PINs live on this VN (vnpin);
 * the records fill in usage, the other side's numbers and VNs. */
#include "core/route.h"

#include <errno.h>
#include <string.h>

static const char *const kind_names[] = {
    [ROUTE_NOT_OURS] = "not-ours",
    [ROUTE_DIRECT] = "direct",
    [ROUTE_PIN] = "pin",
    [ROUTE_FORBIDDEN] = "forbidden",
    [ROUTE_NOBODY] = "nobody",
    [ROUTE_PIN_ACCEPTED] = "pin-accepted",
    [ROUTE_PIN_WRONG] = "pin-wrong",
    [ROUTE_PIN_REFUSED] = "pin-refused",
    [ROUTE_PIN_COOLING] = "pin-cooling",
};

const char *route_kind_name(enum route_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

/* Usage lets side s call: oneway allows only side a. */
static bool side_may_call(const struct store_alloc *rec, int s)
{
	return s == STORE_A || rec->usage == STORE_TWOWAY;
}

static bool side_has(const char list[][STORE_NUM_LEN], uint8_t n, const char *num)
{
	for (uint8_t i = 0; i < n; i++)
		if (strcmp(list[i], num) == 0)
			return true;
	return false;
}

/* "+" and 8-15 digits: a number that may join an open side. */
static bool is_e164(const char *s)
{
	size_t n = 0;

	if (s[0] != '+')
		return false;
	for (s++; *s; s++, n++)
		if (*s < '0' || *s > '9')
			return false;
	return n >= 8 && n <= 15;
}

static void refuse(struct route_decision *out, enum route_kind kind, int status, const char *reason)
{
	out->kind = kind;
	out->sip_status = status;
	out->reason = reason;
}

/* out names rec and the caller's side s: fills what to dial (side s̄, in
 * list order) and the presented caller ID, or makes it NOBODY when s̄ has
 * no numbers yet. */
static void dial_other(struct route_decision *out, const struct store_alloc *rec, int s,
                       const char *vn, enum route_kind kind)
{
	const struct store_side *o = &rec->side[!s];

	out->has_alloc = true;
	out->alloc = *rec;
	out->side = s;
	if (o->nnumbers == 0) {
		refuse(out, ROUTE_NOBODY, 480, "nobody has joined this allocation yet");
		return;
	}
	out->kind = kind;
	out->ndial = o->nnumbers;
	memcpy(out->dial, o->numbers, sizeof(out->dial));
	if (side_has(o->vns, o->nvns, vn) || o->nvns == 0)
		strcpy(out->present, vn); /* no VNs of its own cannot happen; stay masked */
	else
		strcpy(out->present, o->vns[0]);
}

/* Step 2: R, the active allocations where vn is in side s's VNs, the caller
 * is on side s and usage lets s call. vnnum holds active ones only, keyed by
 * the side's own VNs and numbers. */
struct r_walk {
	struct store_txn *txn;
	unsigned n;
	struct store_alloc first;
	int first_side;
	int err;
};

static int r_hit(void *arg, const struct store_num_hit *hit)
{
	struct r_walk *w = arg;
	struct store_alloc rec;
	int rc = store_alloc_get(w->txn, hit->id, &rec);

	if (rc == ENOENT)
		return 0; /* an index entry without its record: store logged it */
	if (rc) {
		w->err = rc;
		return 1;
	}
	if (rec.state != STORE_ACTIVE || !side_may_call(&rec, hit->side))
		return 0;
	if (w->n++ == 0) {
		w->first = rec;
		w->first_side = hit->side;
	}
	return 0;
}

/* Step 4's question: could any allocation on vn route by PIN? An active PIN
 * on vn whose side usage lets call. A cooling PIN routes nobody, so it does
 * not by itself make the IVR answer. */
struct pin_walk {
	struct store_txn *txn;
	bool found;
	int err;
};

static int pin_hit(void *arg, const struct store_pin_hit *hit)
{
	struct pin_walk *w = arg;
	struct store_alloc rec;
	int rc;

	if (hit->cooling_until_ms != 0)
		return 0;
	rc = store_alloc_get(w->txn, hit->id, &rec);
	if (rc == ENOENT)
		return 0;
	if (rc) {
		w->err = rc;
		return 1;
	}
	if (rec.state == STORE_ACTIVE && side_may_call(&rec, hit->side)) {
		w->found = true;
		return 1;
	}
	return 0;
}

/* Step 1 for both entry points: 0 with out->tenant set, 1 when the VN is in
 * no pool (out is then NOT_OURS), or EINVAL. */
static int start(const struct config *cfg, const char *caller, const char *vn,
                 struct route_decision *out)
{
	if (!cfg || !caller || !vn || !out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->tenant = config_vn_owner(cfg, vn);
	if (out->tenant == NULL) {
		refuse(out, ROUTE_NOT_OURS, 404, "not a number of this service");
		return 1;
	}
	return 0;
}

int route_decide(struct store_txn *txn, const struct config *cfg, const char *caller,
                 const char *vn, struct route_decision *out)
{
	struct r_walk r = {.txn = txn};
	struct pin_walk p = {.txn = txn};
	int rc = start(cfg, caller, vn, out);

	if (rc)
		return rc == 1 ? 0 : rc;
	/* A caller with no usable number (anonymous) is on no side. */
	if (caller[0] != '\0') {
		rc = store_num_each(txn, vn, caller, r_hit, &r);
		if (r.err)
			return r.err;
		if (rc && rc != EINVAL) /* EINVAL: not a number the index can hold */
			return rc;
	}
	out->nmatch = r.n;
	/* Step 3. */
	if (r.n == 1 && r.first.side[r.first_side].pin[0] == '\0') {
		dial_other(out, &r.first, r.first_side, vn, ROUTE_DIRECT);
		return 0;
	}
	/* Step 4. */
	rc = store_pin_each(txn, vn, pin_hit, &p);
	if (p.err)
		return p.err;
	if (rc && rc != 1)
		return rc;
	if (p.found) {
		out->kind = ROUTE_PIN;
		return 0;
	}
	/* Step 5. */
	refuse(out, ROUTE_FORBIDDEN, 403,
	       r.n > 1 ? "more than one allocation matches and no PIN tells them apart"
	               : "no allocation lets this number call this number");
	return 0;
}

int route_by_pin(struct store_txn *txn, const struct config *cfg, const char *caller,
                 const char *vn, const char *pin, struct route_decision *out)
{
	struct store_pin_hit hit;
	struct store_alloc rec;
	const struct store_side *s, *o;
	int rc = start(cfg, caller, vn, out);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!pin)
		return EINVAL;
	rc = store_pin_get(txn, vn, pin, &hit);
	if (rc == ENOENT || rc == EINVAL) { /* EINVAL: "" or too long for a PIN */
		refuse(out, ROUTE_PIN_WRONG, 0, "no such PIN on this number");
		return 0;
	}
	if (rc)
		return rc;
	if (hit.cooling_until_ms != 0) {
		refuse(out, ROUTE_PIN_COOLING, 0, "the PIN's allocation has ended");
		return 0;
	}
	rc = store_alloc_get(txn, hit.id, &rec);
	if (rc == ENOENT || (rc == 0 && rec.state != STORE_ACTIVE)) {
		refuse(out, ROUTE_PIN_COOLING, 0, "the PIN's allocation has ended");
		return 0;
	}
	if (rc)
		return rc;
	out->has_alloc = true;
	out->alloc = rec;
	out->side = hit.side;
	s = &rec.side[hit.side];
	o = &rec.side[!hit.side];
	if (!side_may_call(&rec, hit.side)) {
		refuse(out, ROUTE_PIN_REFUSED, 0, "this side of a oneway allocation may not call");
		return 0;
	}
	if (!side_has(s->numbers, s->nnumbers, caller)) {
		if (side_has(o->numbers, o->nnumbers, caller)) {
			refuse(out, ROUTE_PIN_REFUSED, 0,
			       "the caller is on the side it would reach");
			out->foreign = true;
			return 0;
		}
		if (!s->open) {
			refuse(out, ROUTE_PIN_REFUSED, 0, "the caller is not on this side");
			out->foreign = true;
			return 0;
		}
		if (s->nnumbers >= STORE_MAX_NUMS) {
			refuse(out, ROUTE_PIN_REFUSED, 0, "this open side is full");
			return 0;
		}
		if (!is_e164(caller)) {
			refuse(out, ROUTE_PIN_REFUSED, 0, "the caller has no number to join with");
			return 0;
		}
		out->join = true;
	}
	dial_other(out, &rec, hit.side, vn, ROUTE_PIN_ACCEPTED);
	return 0;
}

static int any_pin(void *arg, const struct store_pin_hit *hit)
{
	(void)arg;
	(void)hit;
	return 1;
}

int route_pin_match(struct store_txn *txn, const char *vn, const char *digits,
                    enum route_pin_state *state)
{
	struct store_pin_hit hit;
	size_t n = strlen(digits);
	int rc;

	*state = ROUTE_PIN_NONE;
	if (n > STORE_PIN_MAX || strspn(digits, "0123456789") != n)
		return 0;
	if (n == 0) {
		rc = store_pin_each(txn, vn, any_pin, NULL);
		if (rc == 1)
			*state = ROUTE_PIN_PREFIX;
		return rc == 1 ? 0 : rc;
	}
	/* The clash is the one PIN digits could still become: prefix-free
	 * PINs leave at most one, unless a shorter PIN was passed over. */
	rc = store_pin_clash(txn, vn, digits, &hit);
	if (rc == ENOENT)
		return 0;
	if (rc)
		return rc;
	if (strcmp(hit.pin, digits) == 0)
		*state = ROUTE_PIN_COMPLETE;
	else if (strlen(hit.pin) > n)
		*state = ROUTE_PIN_PREFIX;
	return 0;
}
