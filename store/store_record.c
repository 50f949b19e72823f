/* store_record: the on-disk form of an allocation, an outbox event and a
 * call. A version byte, then fixed-width integers and length-prefixed
 * strings; decoding checks every length against its limit and the end of the
 * buffer, so a damaged record is refused rather than read past. A new
 * version appends fields; the versions before it still decode, the new
 * fields 0, so records are upgraded lazily when next written. */
#include "store/store_int.h"

#include <errno.h>
#include <string.h>

#define SIDE_OPEN    0x01
#define SIDE_FOLLOWS 0x02

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	bool bad;
};

static void put_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	put_bytes(w, b, 4);
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put_bytes(w, b, 2);
}

static void put_i64(struct wbuf *w, int64_t v)
{
	uint8_t b[8];

	key_be64(b, v);
	put_bytes(w, b, 8);
}

/* s lives in a char[size] field: it must be terminated inside it, and be
 * non-empty when required. */
static void put_str(struct wbuf *w, const char *s, size_t size, bool nonempty)
{
	size_t n = strnlen(s, size);

	if (n == size || (nonempty && n == 0)) {
		w->bad = true;
		return;
	}
	put_u8(w, (uint8_t)n);
	put_bytes(w, s, n);
}

/* The same with a 16-bit length, for fields over 255 bytes. */
static void put_str16(struct wbuf *w, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size || n > UINT16_MAX) {
		w->bad = true;
		return;
	}
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

static void put_side(struct wbuf *w, const struct store_side *sd)
{
	if (sd->nnumbers > STORE_MAX_NUMS || sd->nvns > STORE_MAX_NUMS) {
		w->bad = true;
		return;
	}
	put_u8(w, (uint8_t)((sd->open ? SIDE_OPEN : 0) | (sd->follows ? SIDE_FOLLOWS : 0)));
	put_str(w, sd->pin, sizeof(sd->pin), false);
	put_u8(w, sd->nnumbers);
	for (unsigned i = 0; i < sd->nnumbers; i++)
		put_str(w, sd->numbers[i], STORE_NUM_LEN, true);
	put_u8(w, sd->nvns);
	for (unsigned i = 0; i < sd->nvns; i++)
		put_str(w, sd->vns[i], STORE_NUM_LEN, true);
}

int store_record_encode(const struct store_alloc *r, uint8_t *buf, size_t cap, size_t *len)
{
	struct wbuf w = {.p = buf, .cap = cap};

	if (r->usage > STORE_ONEWAY || r->state > STORE_VAULT || r->record > STORE_RECORD_OFF)
		return EINVAL;
	put_u8(&w, STORE_RECORD_VERSION);
	put_bytes(&w, r->id, STORE_ID_LEN);
	put_str(&w, r->tenant, sizeof(r->tenant), false);
	put_str(&w, r->txn_id, sizeof(r->txn_id), false);
	put_u8(&w, r->usage);
	put_u8(&w, r->state);
	put_i64(&w, r->created_ms);
	put_i64(&w, r->dealloc_ms);
	put_i64(&w, r->purge_ms);
	put_i64(&w, r->cooling_until_ms);
	put_side(&w, &r->side[STORE_A]);
	put_side(&w, &r->side[STORE_B]);
	put_u8(&w, r->record); /* version 2 */
	if (w.bad)
		return EINVAL;
	*len = w.len;
	return 0;
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static const uint8_t *get_bytes(struct rbuf *r, size_t n)
{
	const uint8_t *b;

	if (r->bad || r->len - r->pos < n) {
		r->bad = true;
		return NULL;
	}
	b = r->p + r->pos;
	r->pos += n;
	return b;
}

static uint8_t get_u8(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 1);

	return b ? b[0] : 0;
}

static uint16_t get_u16(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 2);

	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 4);

	return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static int64_t get_i64(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 8);

	return b ? key_get_be64(b) : 0;
}

/* Into a char[size] field: at most size-1 bytes (n of them, read), none of
 * them NUL. */
static void get_strn(struct rbuf *r, size_t n, char *out, size_t size, bool nonempty)
{
	const uint8_t *b;

	if (n >= size || (nonempty && n == 0)) {
		r->bad = true;
		return;
	}
	b = get_bytes(r, n);
	if (b == NULL || memchr(b, '\0', n)) {
		r->bad = true;
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

static void get_str(struct rbuf *r, char *out, size_t size, bool nonempty)
{
	size_t n = get_u8(r);

	get_strn(r, n, out, size, nonempty);
}

static void get_side(struct rbuf *r, struct store_side *sd)
{
	uint8_t flags = get_u8(r);

	if (flags & ~(SIDE_OPEN | SIDE_FOLLOWS))
		r->bad = true;
	sd->open = flags & SIDE_OPEN;
	sd->follows = flags & SIDE_FOLLOWS;
	get_str(r, sd->pin, sizeof(sd->pin), false);
	sd->nnumbers = get_u8(r);
	if (sd->nnumbers > STORE_MAX_NUMS) {
		r->bad = true;
		return;
	}
	for (unsigned i = 0; i < sd->nnumbers && !r->bad; i++)
		get_str(r, sd->numbers[i], STORE_NUM_LEN, true);
	sd->nvns = get_u8(r);
	if (sd->nvns > STORE_MAX_NUMS) {
		r->bad = true;
		return;
	}
	for (unsigned i = 0; i < sd->nvns && !r->bad; i++)
		get_str(r, sd->vns[i], STORE_NUM_LEN, true);
}

int store_record_decode(const uint8_t *buf, size_t len, struct store_alloc *out)
{
	struct rbuf r = {.p = buf, .len = len};
	const uint8_t *id;
	uint8_t version;

	memset(out, 0, sizeof(*out));
	version = get_u8(&r);
	if (version < 1 || version > STORE_RECORD_VERSION)
		return EINVAL;
	id = get_bytes(&r, STORE_ID_LEN);
	if (id)
		memcpy(out->id, id, STORE_ID_LEN);
	get_str(&r, out->tenant, sizeof(out->tenant), false);
	get_str(&r, out->txn_id, sizeof(out->txn_id), false);
	out->usage = get_u8(&r);
	out->state = get_u8(&r);
	out->created_ms = get_i64(&r);
	out->dealloc_ms = get_i64(&r);
	out->purge_ms = get_i64(&r);
	out->cooling_until_ms = get_i64(&r);
	get_side(&r, &out->side[STORE_A]);
	get_side(&r, &out->side[STORE_B]);
	if (version >= 2)
		out->record = get_u8(&r);
	if (r.bad || r.pos != r.len || out->usage > STORE_ONEWAY || out->state > STORE_VAULT ||
	    out->record > STORE_RECORD_OFF)
		return EINVAL;
	return 0;
}

int64_t store_record_due(const struct store_alloc *r)
{
	int64_t at;

	if (r->state == STORE_ACTIVE)
		return r->dealloc_ms;
	at = r->cooling_until_ms;
	if (r->purge_ms > 0 && (at <= 0 || r->purge_ms < at))
		at = r->purge_ms;
	return at > 0 ? at : 0;
}

/* --- outbox events --- */

_Static_assert(STORE_EVENT_BODY_MAX <= UINT16_MAX, "body_len is stored in 16 bits");
_Static_assert(STORE_TENANT_MAX < 256 && STORE_EVENT_TYPE_MAX <= 256 && STORE_EVENT_ERR_MAX <= 256,
               "8-bit string lengths");

int store_event_encode(const struct store_event *ev, uint8_t *buf, size_t cap, size_t *len)
{
	struct wbuf w = {.p = buf, .cap = cap};

	if (ev->state > STORE_EV_DEAD || ev->body_len > STORE_EVENT_BODY_MAX)
		return EINVAL;
	put_u8(&w, STORE_EVENT_VERSION);
	put_bytes(&w, ev->delivery_id, STORE_ID_LEN);
	put_str(&w, ev->tenant, sizeof(ev->tenant), true);
	put_str(&w, ev->type, sizeof(ev->type), true);
	put_str16(&w, ev->url, sizeof(ev->url));
	put_u8(&w, ev->state);
	put_u32(&w, ev->attempts);
	put_i64(&w, ev->created_ms);
	put_i64(&w, ev->first_ms);
	put_i64(&w, ev->due_ms);
	put_i64(&w, ev->done_ms);
	put_u32(&w, (uint32_t)ev->last_status);
	put_str(&w, ev->last_error, sizeof(ev->last_error), false);
	put_u16(&w, (uint16_t)ev->body_len);
	put_bytes(&w, ev->body, ev->body_len);
	if (w.bad)
		return EINVAL;
	*len = w.len;
	return 0;
}

int store_event_decode(const uint8_t *buf, size_t len, struct store_event *out, bool with_body)
{
	struct rbuf r = {.p = buf, .len = len};
	const uint8_t *b;

	/* The body is 8 KiB: clear the header here, the body below. */
	memset(out, 0, offsetof(struct store_event, body));
	if (get_u8(&r) != STORE_EVENT_VERSION)
		return EINVAL;
	b = get_bytes(&r, STORE_ID_LEN);
	if (b)
		memcpy(out->delivery_id, b, STORE_ID_LEN);
	get_str(&r, out->tenant, sizeof(out->tenant), true);
	get_str(&r, out->type, sizeof(out->type), true);
	get_strn(&r, get_u16(&r), out->url, sizeof(out->url), false);
	out->state = get_u8(&r);
	out->attempts = get_u32(&r);
	out->created_ms = get_i64(&r);
	out->first_ms = get_i64(&r);
	out->due_ms = get_i64(&r);
	out->done_ms = get_i64(&r);
	out->last_status = (int)(int32_t)get_u32(&r);
	get_str(&r, out->last_error, sizeof(out->last_error), false);
	out->body_len = get_u16(&r);
	if (out->body_len > STORE_EVENT_BODY_MAX)
		return EINVAL;
	b = get_bytes(&r, out->body_len);
	if (r.bad || r.pos != r.len || out->state > STORE_EV_DEAD)
		return EINVAL;
	if (with_body) {
		memcpy(out->body, b, out->body_len);
		memset(out->body + out->body_len, 0, STORE_EVENT_BODY_MAX - out->body_len);
	}
	return 0;
}

/* --- call records --- */

#define CALL_HAS_ALLOC 0x01

_Static_assert(STORE_CALL_URL_MAX <= UINT16_MAX, "recording_url is stored with 16 bits");

int store_call_encode(const struct store_call *c, uint8_t *buf, size_t cap, size_t *len)
{
	struct wbuf w = {.p = buf, .cap = cap};

	if (c->direction > STORE_CALL_INCOMING || c->state > STORE_CALL_COMPLETED ||
	    c->call_type > STORE_CT_FAILED || c->dial_status > STORE_DIAL_CANCELED ||
	    c->rec_status > STORE_RECST_FAILED)
		return EINVAL;
	put_u8(&w, STORE_CALL_VERSION);
	put_str(&w, c->call_sid, sizeof(c->call_sid), true);
	put_str(&w, c->tenant, sizeof(c->tenant), true);
	put_u8(&w, c->has_alloc ? CALL_HAS_ALLOC : 0);
	put_bytes(&w, c->greenpin_id, STORE_ID_LEN);
	put_str(&w, c->vn, sizeof(c->vn), false);
	put_str(&w, c->from, sizeof(c->from), false);
	put_str(&w, c->to, sizeof(c->to), false);
	put_u8(&w, c->direction);
	put_u8(&w, c->state);
	put_u8(&w, c->call_type);
	put_u8(&w, c->dial_status);
	put_i64(&w, c->started_ms);
	put_i64(&w, c->answered_ms);
	put_i64(&w, c->ended_ms);
	put_u32(&w, c->dial_call_duration);
	put_u32(&w, c->on_call_duration);
	put_str16(&w, c->recording_url, sizeof(c->recording_url));
	put_i64(&w, c->purge_ms);
	put_u8(&w, c->rec_status); /* version 2 */
	put_u32(&w, c->rec_dropped);
	if (w.bad)
		return EINVAL;
	*len = w.len;
	return 0;
}

int store_call_decode(const uint8_t *buf, size_t len, struct store_call *out)
{
	struct rbuf r = {.p = buf, .len = len};
	const uint8_t *b;
	uint8_t flags, version;

	memset(out, 0, sizeof(*out));
	version = get_u8(&r);
	if (version < 1 || version > STORE_CALL_VERSION)
		return EINVAL;
	get_str(&r, out->call_sid, sizeof(out->call_sid), true);
	get_str(&r, out->tenant, sizeof(out->tenant), true);
	flags = get_u8(&r);
	out->has_alloc = flags & CALL_HAS_ALLOC;
	b = get_bytes(&r, STORE_ID_LEN);
	if (b)
		memcpy(out->greenpin_id, b, STORE_ID_LEN);
	get_str(&r, out->vn, sizeof(out->vn), false);
	get_str(&r, out->from, sizeof(out->from), false);
	get_str(&r, out->to, sizeof(out->to), false);
	out->direction = get_u8(&r);
	out->state = get_u8(&r);
	out->call_type = get_u8(&r);
	out->dial_status = get_u8(&r);
	out->started_ms = get_i64(&r);
	out->answered_ms = get_i64(&r);
	out->ended_ms = get_i64(&r);
	out->dial_call_duration = get_u32(&r);
	out->on_call_duration = get_u32(&r);
	get_strn(&r, get_u16(&r), out->recording_url, sizeof(out->recording_url), false);
	out->purge_ms = get_i64(&r);
	if (version >= 2) {
		out->rec_status = get_u8(&r);
		out->rec_dropped = get_u32(&r);
	}
	if (r.bad || r.pos != r.len || (flags & ~CALL_HAS_ALLOC) ||
	    out->direction > STORE_CALL_INCOMING || out->state > STORE_CALL_COMPLETED ||
	    out->call_type > STORE_CT_FAILED || out->dial_status > STORE_DIAL_CANCELED ||
	    out->rec_status > STORE_RECST_FAILED)
		return EINVAL;
	return 0;
}
