/* store_calls: call records (DESIGN §3) and the four indexes that follow
 * each: callsbytenant and callsbyalloc for the API's listing by start time,
 * callsopen for the records a crash may leave in progress, callsdue for the
 * retention purge. Written in the caller's step like the outbox, so a record
 * and the event or joined number that goes with it commit together.
 *
 * For the call flow: a record's index entries are rewritten wholesale on each
 * put (delete the old version's, write the new one's), so any field may
 * change between versions, started_ms and the allocation included; the
 * record handed to a callback lives only during the call. */
#include "store/store_int.h"
#include "core/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int call_fail(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], int rc, const char *what)
{
	char hex[2 * STORE_ID_LEN + 1], buf[80];

	store_id_hex(hex, sid);
	snprintf(buf, sizeof(buf), "call %s: %s", hex, what);
	return store_fail(t, rc, buf);
}

static int ix_put(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], enum store_db db,
                  const void *k, size_t klen)
{
	MDB_val kv = {klen, (void *)k}, vv = {0, ""};
	int rc = mdb_put(t->txn, t->s->dbi[db], &kv, &vv, 0);

	return rc ? call_fail(t, sid, rc, "index put") : 0;
}

/* A missing key is fine: the entry is gone either way. */
static int ix_del(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], enum store_db db,
                  const void *k, size_t klen)
{
	MDB_val kv = {klen, (void *)k};
	int rc = mdb_del(t->txn, t->s->dbi[db], &kv, NULL);

	return rc && rc != MDB_NOTFOUND ? call_fail(t, sid, rc, "index del") : 0;
}

static int ix_apply(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], enum store_db db,
                    const void *k, size_t klen, bool add)
{
	return add ? ix_put(t, sid, db, k, klen) : ix_del(t, sid, db, k, klen);
}

/* Adds (or removes) every index entry of version c. */
static int entries(struct store_txn *t, const struct store_call *c, const uint8_t sid[KEY_SID_LEN],
                   bool add)
{
	uint8_t kb[KEY_MAX];
	size_t n = key_calltenant(kb, c->tenant, c->started_ms, sid);
	int rc;

	if (n == 0)
		return EINVAL; /* refused by encode already; a stored one is decoded */
	rc = ix_apply(t, sid, DB_CALLTENANT, kb, n, add);
	if (rc == 0 && c->has_alloc) {
		n = key_callalloc(kb, c->greenpin_id, c->started_ms, sid);
		rc = ix_apply(t, sid, DB_CALLALLOC, kb, n, add);
	}
	if (rc == 0 && c->state == STORE_CALL_IN_PROGRESS) {
		key_callat(kb, c->started_ms, sid);
		rc = ix_apply(t, sid, DB_CALLOPEN, kb, KEY_CALLAT_LEN, add);
	}
	if (rc == 0 && c->state == STORE_CALL_COMPLETED && c->purge_ms > 0) {
		key_callat(kb, c->purge_ms, sid);
		rc = ix_apply(t, sid, DB_CALLDUE, kb, KEY_CALLAT_LEN, add);
	}
	return rc;
}

/* The stored record of sid: 0, ENOENT, EIO (corrupt) or another errno. */
static int call_load(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], struct store_call *out)
{
	MDB_val k = {KEY_SID_LEN, (void *)sid}, v;
	char hex[2 * STORE_ID_LEN + 1];
	uint8_t back[KEY_SID_LEN];
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[DB_CALLS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return call_fail(t, sid, rc, "get");
	if (store_call_decode(v.mv_data, v.mv_size, out) != 0 ||
	    key_sid16(back, out->call_sid) != 0 || memcmp(back, sid, KEY_SID_LEN) != 0) {
		store_id_hex(hex, sid);
		log_err("store", "call %s: corrupt record (%zu bytes)", hex, v.mv_size);
		return EIO;
	}
	return 0;
}

int store_call_put(struct store_txn *t, const struct store_call *c)
{
	uint8_t sid[KEY_SID_LEN], buf[STORE_CALL_REC_MAX], kb[KEY_MAX];
	struct store_call old;
	MDB_val k = {KEY_SID_LEN, sid}, v;
	size_t len;
	int rc;

	if (!t->write)
		return EINVAL;
	/* Every refusal before the first write. */
	if (key_sid16(sid, c->call_sid) != 0 ||
	    key_calltenant(kb, c->tenant, c->started_ms, sid) == 0 ||
	    store_call_encode(c, buf, sizeof(buf), &len) != 0) {
		log_err("store", "call %.*s of %.*s: out of range", STORE_SID_LEN, c->call_sid,
		        STORE_TENANT_MAX, c->tenant);
		return EINVAL;
	}
	rc = call_load(t, sid, &old);
	if (rc == 0)
		rc = entries(t, &old, sid, false);
	else if (rc == ENOENT)
		rc = 0;
	if (rc)
		return rc;
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_put(t->txn, t->s->dbi[DB_CALLS], &k, &v, 0);
	if (rc)
		return call_fail(t, sid, rc, "put");
	return entries(t, c, sid, true);
}

int store_call_get(struct store_txn *t, const char *call_sid, struct store_call *out)
{
	uint8_t sid[KEY_SID_LEN];

	if (key_sid16(sid, call_sid) != 0)
		return EINVAL;
	return call_load(t, sid, out);
}

int store_call_del(struct store_txn *t, const char *call_sid)
{
	uint8_t sid[KEY_SID_LEN];
	struct store_call old;
	int rc;

	if (!t->write || key_sid16(sid, call_sid) != 0)
		return EINVAL;
	rc = call_load(t, sid, &old);
	if (rc == 0)
		rc = entries(t, &old, sid, false);
	if (rc == 0)
		rc = ix_del(t, sid, DB_CALLS, sid, KEY_SID_LEN);
	return rc;
}

/* Hands the record an index entry points at to fn: 0 and *urc, or an errno.
 * An entry without its record is skipped with a warning. */
static int visit(struct store_txn *t, const uint8_t sid[KEY_SID_LEN], const char *index,
                 store_call_fn fn, void *arg, int *urc)
{
	struct store_call c;
	char hex[2 * STORE_ID_LEN + 1];
	int rc = call_load(t, sid, &c);

	if (rc == ENOENT) {
		store_id_hex(hex, sid);
		log_warn("store", "%s entry without its call %s", index, hex);
		return 0;
	}
	if (rc == 0)
		*urc = fn(arg, &c);
	return rc;
}

/* Walks db's keys pre ‖ be64(started) ‖ sid16 in order, from from_ms or
 * strictly after *after, up to to_ms (0 = no bound). */
static int scan_range(struct store_txn *t, enum store_db db, const char *index, const uint8_t *pre,
                      size_t plen, int64_t from_ms, int64_t to_ms,
                      const struct store_call_pos *after, store_call_fn fn, void *arg)
{
	static const uint8_t zero[KEY_SID_LEN];
	uint8_t kb[KEY_MAX];
	size_t klen = plen + 8 + KEY_SID_LEN;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	memcpy(kb, pre, plen);
	if (after && after->started_ms >= from_ms) {
		key_be64(kb + plen, after->started_ms);
		if (key_sid16(kb + plen + 8, after->call_sid) != 0)
			return EINVAL;
	} else {
		key_be64(kb + plen, from_ms);
		memcpy(kb + plen + 8, zero, KEY_SID_LEN);
		after = NULL;
	}
	rc = store_cursor(t, db, &c);
	if (rc)
		return rc;
	k.mv_size = klen;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && after && k.mv_size == klen && memcmp(k.mv_data, kb, klen) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	while (rc == 0) {
		if (k.mv_size != klen || memcmp(k.mv_data, pre, plen) != 0)
			break; /* past the tenant's or the allocation's */
		memcpy(kb, k.mv_data, klen);
		if (to_ms && key_get_be64(kb + plen) > to_ms)
			break;
		rc = visit(t, kb + plen + 8, index, fn, arg, &urc);
		if (rc || urc)
			break;
		rc = store_step_next(t, c, kb, klen, NULL, 0, &k, &v);
	}
	store_cursor_done(t, db, c);
	return urc ? urc : store_scan_end(t, rc, index);
}

int store_call_scan_tenant(struct store_txn *t, const char *tenant, int64_t from_ms, int64_t to_ms,
                           const struct store_call_pos *after, store_call_fn fn, void *arg)
{
	uint8_t pre[KEY_MAX];
	size_t plen = tenant[0] ? key_lp(pre, tenant, STORE_TENANT_MAX) : 0;

	if (plen == 0)
		return EINVAL;
	return scan_range(t, DB_CALLTENANT, "callsbytenant", pre, plen, from_ms, to_ms, after, fn,
	                  arg);
}

int store_call_scan_alloc(struct store_txn *t, const uint8_t greenpin_id[STORE_ID_LEN],
                          int64_t from_ms, int64_t to_ms, const struct store_call_pos *after,
                          store_call_fn fn, void *arg)
{
	return scan_range(t, DB_CALLALLOC, "callsbyalloc", greenpin_id, STORE_ID_LEN, from_ms,
	                  to_ms, after, fn, arg);
}

/* Walks a be64(at) ‖ sid16 table from the start while at <= until_ms. */
static int at_each(struct store_txn *t, enum store_db db, const char *index, int64_t until_ms,
                   store_call_fn fn, void *arg)
{
	uint8_t kb[KEY_CALLAT_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	rc = store_cursor(t, db, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != sizeof(kb)) {
			log_err("store", "%s index: corrupt key", index);
			rc = EIO;
			break;
		}
		memcpy(kb, k.mv_data, sizeof(kb));
		if (key_get_be64(kb) > until_ms)
			break;
		rc = visit(t, kb + 8, index, fn, arg, &urc);
		if (rc || urc)
			break;
		rc = store_step_next(t, c, kb, sizeof(kb), NULL, 0, &k, &v);
	}
	store_cursor_done(t, db, c);
	return urc ? urc : store_scan_end(t, rc, index);
}

int store_call_open_each(struct store_txn *t, store_call_fn fn, void *arg)
{
	return at_each(t, DB_CALLOPEN, "callsopen", INT64_MAX, fn, arg);
}

int store_call_due_each(struct store_txn *t, int64_t until_ms, store_call_fn fn, void *arg)
{
	return at_each(t, DB_CALLDUE, "callsdue", until_ms, fn, arg);
}
