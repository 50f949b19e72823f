/* store_outbox: the webhook outbox (DESIGN §4). An event is written in the
 * caller's write step, next to the change that causes it, so both commit or
 * neither does. Four tables follow each event: outbox (seq -> event),
 * evbytenant (tenant, state, seq) for the API's listing, evid (delivery id ->
 * seq) for replay, evdue (due, seq) for the worker and the purge; meta keeps
 * the last seq and the pending counters. A new version rewrites only the
 * index entries whose fields changed: a retry moves one evdue key.
 *
 * For the events code: seq starts at 1 (after_seq 0 lists from the start);
 * strings come back NUL-padded and the body past body_len zeroed; every
 * event, whatever its state, has its evdue entry, so a walk in a write step
 * that puts an event back with due_ms <= until_ms meets it again (move it
 * past until_ms, or delete it); the event handed to fn lives only during
 * the call. */
#include "store/store_int.h"
#include "core/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t seq_key[] = {'Q'};

static int ev_fail(struct store_txn *t, uint64_t seq, int rc, const char *what)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "event %llu: %s", (unsigned long long)seq, what);
	return store_fail(t, rc, buf);
}

static int ev_put(struct store_txn *t, uint64_t seq, enum store_db db, const void *k, size_t klen,
                  const void *v, size_t vlen, unsigned flags)
{
	MDB_val kv = {klen, (void *)k}, vv = {vlen, (void *)v};
	int rc = mdb_put(t->txn, t->s->dbi[db], &kv, &vv, flags);

	return rc ? ev_fail(t, seq, rc, "index put") : 0;
}

/* A missing key is fine: the entry is gone either way. */
static int ev_del(struct store_txn *t, uint64_t seq, enum store_db db, const void *k, size_t klen)
{
	MDB_val kv = {klen, (void *)k};
	int rc = mdb_del(t->txn, t->s->dbi[db], &kv, NULL);

	return rc && rc != MDB_NOTFOUND ? ev_fail(t, seq, rc, "index del") : 0;
}

/* The stored event seq: 0, ENOENT, EIO (corrupt) or another errno. */
static int ev_load(struct store_txn *t, uint64_t seq, struct store_event *out, bool with_body)
{
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v;
	int rc;

	key_u64(kb, seq);
	rc = mdb_get(t->txn, t->s->dbi[DB_OUTBOX], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return ev_fail(t, seq, rc, "get");
	if (store_event_decode(v.mv_data, v.mv_size, out, with_body) != 0) {
		log_err("store", "event %llu: corrupt record (%zu bytes)", (unsigned long long)seq,
		        v.mv_size);
		return EIO;
	}
	out->seq = seq;
	return 0;
}

/* The seq that evid maps id to: 0, ENOENT, EIO or another errno. */
static int evid_seq(struct store_txn *t, const uint8_t id[STORE_ID_LEN], uint64_t *seq)
{
	MDB_val k = {STORE_ID_LEN, (void *)id}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_EVID], &k, &v);

	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return store_fail(t, rc, "evid get");
	if (v.mv_size != 8) {
		log_err("store", "evid index: corrupt entry");
		return EIO;
	}
	*seq = key_get_u64(v.mv_data);
	return 0;
}

/* Adds delta to one pending counter; a counter that reaches 0 is removed. */
static int counter_add(struct store_txn *t, const char *tenant, int delta)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = {key_meta_evpending(kb, tenant), kb}, v;
	uint64_t n = 0;
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &v);
	if (rc == 0 && v.mv_size == sizeof(n))
		memcpy(&n, v.mv_data, sizeof(n));
	else if (rc && rc != MDB_NOTFOUND)
		return store_fail(t, rc, "event counter get");
	if (delta < 0 && n < (uint64_t)-delta)
		n = 0;
	else
		n += (uint64_t)(int64_t)delta;
	if (n == 0) {
		rc = mdb_del(t->txn, t->s->dbi[DB_META], &k, NULL);
		return rc && rc != MDB_NOTFOUND ? store_fail(t, rc, "event counter del") : 0;
	}
	v.mv_size = sizeof(n);
	v.mv_data = &n;
	rc = mdb_put(t->txn, t->s->dbi[DB_META], &k, &v, 0);
	return rc ? store_fail(t, rc, "event counter put") : 0;
}

/* Tenant's counter and the all-tenants one ("") move together. */
static int count_pending(struct store_txn *t, const char *tenant, int delta)
{
	int rc = counter_add(t, tenant, delta);

	return rc ? rc : counter_add(t, "", delta);
}

/* Moves the pending counters from version old (NULL: none) to ev (NULL:
 * removed). */
static int count(struct store_txn *t, const struct store_event *old, const struct store_event *ev)
{
	bool o = old && old->state == STORE_EV_PENDING, n = ev && ev->state == STORE_EV_PENDING;
	int rc = 0;

	if (o && n && strcmp(old->tenant, ev->tenant) == 0)
		return 0;
	if (o)
		rc = count_pending(t, old->tenant, -1);
	if (rc == 0 && n)
		rc = count_pending(t, ev->tenant, +1);
	return rc;
}

static int put_record(struct store_txn *t, uint64_t seq, const uint8_t *buf, size_t len,
                      unsigned flags)
{
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v = {len, (void *)buf};
	int rc;

	key_u64(kb, seq);
	rc = mdb_put(t->txn, t->s->dbi[DB_OUTBOX], &k, &v, flags);
	if (rc == MDB_KEYEXIST) /* MDB_APPEND below the last key */
		return ev_fail(t, seq, MDB_CORRUPTED, "seq counter behind the outbox");
	return rc ? ev_fail(t, seq, rc, "put") : 0;
}

static int tenant_entry(struct store_txn *t, const struct store_event *ev, uint64_t seq, bool add)
{
	uint8_t kb[KEY_MAX];
	size_t n = key_evtenant(kb, ev->tenant, ev->state, seq);

	return add ? ev_put(t, seq, DB_EVTENANT, kb, n, "", 0, 0)
	           : ev_del(t, seq, DB_EVTENANT, kb, n);
}

static int due_entry(struct store_txn *t, const struct store_event *ev, uint64_t seq, bool add)
{
	uint8_t kb[KEY_EVDUE_LEN];

	key_evdue(kb, ev->due_ms, seq);
	return add ? ev_put(t, seq, DB_EVDUE, kb, sizeof(kb), "", 0, 0)
	           : ev_del(t, seq, DB_EVDUE, kb, sizeof(kb));
}

/* Removes old's evid entry if it is still its own. */
static int evid_drop(struct store_txn *t, const struct store_event *old)
{
	uint64_t owner = 0;
	int rc = evid_seq(t, old->delivery_id, &owner);

	if (rc == ENOENT || (rc == 0 && owner != old->seq))
		return 0;
	return rc ? rc : ev_del(t, old->seq, DB_EVID, old->delivery_id, STORE_ID_LEN);
}

static int encode(const struct store_event *ev, uint8_t *buf, size_t *len)
{
	if (store_event_encode(ev, buf, STORE_EVENT_REC_MAX, len) != 0) {
		log_err("store", "event of %.*s: out of range", STORE_TENANT_MAX, ev->tenant);
		return EINVAL;
	}
	return 0;
}

int store_event_add(struct store_txn *t, struct store_event *ev)
{
	uint8_t buf[STORE_EVENT_REC_MAX], sb[8];
	MDB_val k = {sizeof(seq_key), (void *)seq_key}, v;
	uint64_t seq = 0;
	size_t len;
	int rc;

	if (!t->write)
		return EINVAL;
	rc = encode(ev, buf, &len);
	if (rc)
		return rc;
	rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &v);
	if (rc == 0 && v.mv_size == sizeof(seq))
		memcpy(&seq, v.mv_data, sizeof(seq));
	else if (rc == 0)
		return (log_err("store", "event seq: corrupt counter"), EIO);
	else if (rc != MDB_NOTFOUND)
		return store_fail(t, rc, "event seq get");
	if (seq == UINT64_MAX)
		return ENOSPC;
	seq++;
	/* The first write: a delivery id already taken leaves the step clean
	 * (LMDB's MDB_KEYEXIST does not poison the transaction). */
	key_u64(sb, seq);
	k.mv_size = STORE_ID_LEN;
	k.mv_data = ev->delivery_id;
	v.mv_size = sizeof(sb);
	v.mv_data = sb;
	rc = mdb_put(t->txn, t->s->dbi[DB_EVID], &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return EEXIST;
	if (rc)
		return ev_fail(t, seq, rc, "evid put");
	k.mv_size = sizeof(seq_key);
	k.mv_data = (void *)seq_key;
	v.mv_size = sizeof(seq);
	v.mv_data = &seq;
	rc = mdb_put(t->txn, t->s->dbi[DB_META], &k, &v, 0);
	if (rc)
		return ev_fail(t, seq, rc, "seq put");
	/* seq is above every key in the table: append, no search. */
	rc = put_record(t, seq, buf, len, MDB_APPEND);
	if (rc == 0)
		rc = tenant_entry(t, ev, seq, true);
	if (rc == 0)
		rc = due_entry(t, ev, seq, true);
	if (rc == 0)
		rc = count(t, NULL, ev);
	if (rc == 0)
		ev->seq = seq;
	return rc;
}

int store_event_put(struct store_txn *t, const struct store_event *ev)
{
	uint8_t buf[STORE_EVENT_REC_MAX], sb[8];
	struct store_event old; /* header only */
	bool new_id;
	uint64_t owner = 0;
	size_t len;
	int rc;

	if (!t->write)
		return EINVAL;
	rc = encode(ev, buf, &len);
	if (rc)
		return rc;
	rc = ev_load(t, ev->seq, &old, false);
	if (rc)
		return rc;
	/* Every refusal before the first write. */
	new_id = memcmp(old.delivery_id, ev->delivery_id, STORE_ID_LEN) != 0;
	if (new_id) {
		rc = evid_seq(t, ev->delivery_id, &owner);
		if (rc == 0 && owner != ev->seq)
			return EEXIST;
		if (rc && rc != ENOENT)
			return rc;
		rc = evid_drop(t, &old);
		if (rc == 0) {
			key_u64(sb, ev->seq);
			rc = ev_put(t, ev->seq, DB_EVID, ev->delivery_id, STORE_ID_LEN, sb,
			            sizeof(sb), 0);
		}
		if (rc)
			return rc;
	}
	rc = put_record(t, ev->seq, buf, len, 0);
	if (rc == 0 && (old.state != ev->state || strcmp(old.tenant, ev->tenant) != 0)) {
		rc = tenant_entry(t, &old, ev->seq, false);
		if (rc == 0)
			rc = tenant_entry(t, ev, ev->seq, true);
	}
	if (rc == 0 && old.due_ms != ev->due_ms) {
		rc = due_entry(t, &old, ev->seq, false);
		if (rc == 0)
			rc = due_entry(t, ev, ev->seq, true);
	}
	if (rc == 0)
		rc = count(t, &old, ev);
	return rc;
}

int store_event_del(struct store_txn *t, uint64_t seq)
{
	struct store_event old; /* header only */
	uint8_t kb[8];
	int rc;

	if (!t->write)
		return EINVAL;
	rc = ev_load(t, seq, &old, false);
	if (rc)
		return rc;
	rc = evid_drop(t, &old);
	if (rc == 0)
		rc = tenant_entry(t, &old, seq, false);
	if (rc == 0)
		rc = due_entry(t, &old, seq, false);
	if (rc == 0)
		rc = count(t, &old, NULL);
	if (rc == 0) {
		key_u64(kb, seq);
		rc = ev_del(t, seq, DB_OUTBOX, kb, sizeof(kb));
	}
	return rc;
}

int store_event_get(struct store_txn *t, uint64_t seq, struct store_event *out)
{
	return ev_load(t, seq, out, true);
}

int store_event_by_delivery(struct store_txn *t, const uint8_t id[STORE_ID_LEN],
                            struct store_event *out)
{
	uint64_t seq = 0;
	int rc = evid_seq(t, id, &seq);

	if (rc == 0) {
		rc = ev_load(t, seq, out, true);
		if (rc == ENOENT) {
			log_err("store", "evid entry without its event %llu",
			        (unsigned long long)seq);
			rc = EIO;
		}
	}
	return rc;
}

/* Hands the event an index entry points at to fn: 0 and *urc, or an errno.
 * An entry without its event is skipped with a warning. */
static int visit(struct store_txn *t, uint64_t seq, struct store_event *ev, store_event_fn fn,
                 void *arg, int *urc)
{
	int rc = ev_load(t, seq, ev, true);

	if (rc == ENOENT) {
		log_warn("store", "outbox index entry without its event %llu",
		         (unsigned long long)seq);
		return 0;
	}
	if (rc == 0)
		*urc = fn(arg, ev);
	return rc;
}

int store_event_due_each(struct store_txn *t, int64_t until_ms, store_event_fn fn, void *arg)
{
	uint8_t kb[KEY_EVDUE_LEN];
	struct store_event ev;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	rc = store_cursor(t, DB_EVDUE, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != sizeof(kb)) {
			log_err("store", "evdue index: corrupt key");
			rc = EIO;
			break;
		}
		memcpy(kb, k.mv_data, sizeof(kb));
		if (key_get_be64(kb) > until_ms)
			break;
		rc = visit(t, key_get_u64(kb + 8), &ev, fn, arg, &urc);
		if (rc || urc)
			break;
		rc = store_step_next(t, c, kb, sizeof(kb), NULL, 0, &k, &v);
	}
	store_cursor_done(t, DB_EVDUE, c);
	return urc ? urc : store_scan_end(t, rc, "evdue scan");
}

int store_event_scan(struct store_txn *t, const char *tenant, int state, uint64_t after_seq,
                     store_event_fn fn, void *arg)
{
	uint8_t kb[KEY_MAX];
	struct store_event ev;
	size_t plen, klen;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	if (state < STORE_EV_PENDING || state > STORE_EV_DEAD)
		return EINVAL;
	plen = key_evtenant_prefix(kb, tenant, (uint8_t)state);
	if (plen == 0)
		return EINVAL;
	if (after_seq == UINT64_MAX)
		return 0;
	klen = plen + 8;
	key_u64(kb + plen, after_seq + 1);
	rc = store_cursor(t, DB_EVTENANT, &c);
	if (rc)
		return rc;
	k.mv_size = klen;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size != klen || memcmp(k.mv_data, kb, plen) != 0)
			break; /* past the tenant's events in this state */
		memcpy(kb, k.mv_data, klen);
		rc = visit(t, key_get_u64(kb + plen), &ev, fn, arg, &urc);
		if (rc || urc)
			break;
		rc = store_step_next(t, c, kb, klen, NULL, 0, &k, &v);
	}
	store_cursor_done(t, DB_EVTENANT, c);
	return urc ? urc : store_scan_end(t, rc, "evbytenant scan");
}

uint64_t store_event_pending_count(struct store_txn *t, const char *tenant)
{
	uint8_t kb[KEY_MAX];
	MDB_val k, v;
	uint64_t n = 0;

	if (tenant && tenant[0] == '\0')
		return 0;
	k.mv_size = key_meta_evpending(kb, tenant ? tenant : "");
	k.mv_data = kb;
	if (k.mv_size == 0)
		return 0;
	if (mdb_get(t->txn, t->s->dbi[DB_META], &k, &v) == 0 && v.mv_size == sizeof(n))
		memcpy(&n, v.mv_data, sizeof(n));
	return n;
}
