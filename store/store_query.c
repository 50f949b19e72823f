/* store_query: lookups and scans over the indexes, from any thread and in
 * read transactions or write steps alike. Scans in a write step re-seek after
 * each callback, so a callback may change the table being walked. */
#include "store/store_int.h"
#include "core/base/log.h"

#include <errno.h>
#include <string.h>

void store_id_hex(char out[2 * STORE_ID_LEN + 1], const uint8_t id[STORE_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < STORE_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * STORE_ID_LEN] = '\0';
}

int store_cursor(struct store_txn *t, enum store_db db, MDB_cursor **cp)
{
	uint32_t bit = UINT32_C(1) << db;
	int rc;

	if (t->write || (t->cur_busy & bit)) {
		/* Write cursors die with their nested transaction; a busy
		 * cached one belongs to an enclosing scan. */
		rc = mdb_cursor_open(t->txn, t->s->dbi[db], cp);
		return rc ? store_fail(t, rc, "cursor open") : 0;
	}
	if (t->cur[db] == NULL) {
		rc = mdb_cursor_open(t->txn, t->s->dbi[db], &t->cur[db]);
		if (rc)
			return store_fail(t, rc, "cursor open");
	} else if (!(t->cur_bound & bit)) {
		rc = mdb_cursor_renew(t->txn, t->cur[db]);
		if (rc)
			return store_fail(t, rc, "cursor renew");
	}
	t->cur_bound |= bit;
	t->cur_busy |= bit;
	*cp = t->cur[db];
	return 0;
}

void store_cursor_done(struct store_txn *t, enum store_db db, MDB_cursor *c)
{
	if (c == t->cur[db])
		t->cur_busy &= ~(UINT32_C(1) << db);
	else
		mdb_cursor_close(c);
}

void store_cursors_close(struct store_txn *t)
{
	for (int i = 0; i < DB_COUNT; i++) {
		if (t->cur[i])
			mdb_cursor_close(t->cur[i]);
		t->cur[i] = NULL;
	}
	t->cur_bound = t->cur_busy = 0;
}

int store_step_next(struct store_txn *t, MDB_cursor *c, const uint8_t *key, size_t klen,
                    const uint8_t *dup, size_t dlen, MDB_val *k, MDB_val *v)
{
	int rc;

	if (!t->write)
		return mdb_cursor_get(c, k, v, dup ? MDB_NEXT_DUP : MDB_NEXT);
	k->mv_size = klen;
	k->mv_data = (void *)key;
	if (dup == NULL) {
		rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
		if (rc == 0 && k->mv_size == klen && memcmp(k->mv_data, key, klen) == 0)
			rc = mdb_cursor_get(c, k, v, MDB_NEXT);
		return rc;
	}
	v->mv_size = dlen;
	v->mv_data = (void *)dup;
	rc = mdb_cursor_get(c, k, v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && v->mv_size == dlen && memcmp(v->mv_data, dup, dlen) == 0)
		rc = mdb_cursor_get(c, k, v, MDB_NEXT_DUP);
	return rc;
}

int store_scan_end(struct store_txn *t, int rc, const char *what)
{
	if (rc == 0 || rc == MDB_NOTFOUND)
		return 0;
	return rc > 0 ? rc : store_fail(t, rc, what);
}

int store_alloc_get(struct store_txn *t, const uint8_t id[STORE_ID_LEN], struct store_alloc *out)
{
	MDB_val k = {STORE_ID_LEN, (void *)id}, v;
	char hex[2 * STORE_ID_LEN + 1];
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[DB_ALLOC], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return store_fail(t, rc, "alloc get");
	if (store_record_decode(v.mv_data, v.mv_size, out) != 0) {
		store_id_hex(hex, id);
		log_err("store", "alloc %s: corrupt record (%zu bytes)", hex, v.mv_size);
		return EIO;
	}
	return 0;
}

int store_txnid_get(struct store_txn *t, const char *tenant, const char *txn_id,
                    uint8_t id_out[STORE_ID_LEN])
{
	uint8_t kb[KEY_MAX];
	MDB_val k = {key_txn(kb, tenant, txn_id), kb}, v;
	int rc;

	if (k.mv_size == 0)
		return EINVAL;
	rc = mdb_get(t->txn, t->s->dbi[DB_TXN], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return store_fail(t, rc, "txn get");
	if (v.mv_size != STORE_ID_LEN) {
		log_err("store", "txn index of %s: corrupt entry", tenant);
		return EIO;
	}
	memcpy(id_out, v.mv_data, STORE_ID_LEN);
	return 0;
}

static int pin_hit(const MDB_val *k, const MDB_val *v, struct store_pin_hit *hit)
{
	const uint8_t *b = v->mv_data;

	if (v->mv_size != VNPIN_VAL || key_vnpin_pin(k->mv_data, k->mv_size, hit->pin) != 0 ||
	    b[STORE_ID_LEN] > STORE_B) {
		log_err("store", "vnpin index: corrupt entry");
		return EIO;
	}
	memcpy(hit->id, b, STORE_ID_LEN);
	hit->side = b[STORE_ID_LEN];
	hit->cooling_until_ms = key_get_be64(b + STORE_ID_LEN + 1);
	return 0;
}

int store_pin_get(struct store_txn *t, const char *vn, const char *pin, struct store_pin_hit *hit)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = {key_vnpin(kb, vn, pin), kb}, v;
	int rc;

	if (k.mv_size == 0)
		return EINVAL;
	rc = mdb_get(t->txn, t->s->dbi[DB_VNPIN], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return store_fail(t, rc, "vnpin get");
	return pin_hit(&k, &v, hit);
}

int store_pin_clash(struct store_txn *t, const char *vn, const char *pin, struct store_pin_hit *hit)
{
	size_t len = strnlen(pin, STORE_PIN_MAX + 1);
	uint8_t kb[KEY_MAX];
	MDB_cursor *c;
	MDB_val k, v;
	int rc = MDB_NOTFOUND;

	if (len == 0 || len > STORE_PIN_MAX)
		return EINVAL;
	/* Shorter or equal: each prefix of pin is one exact key. */
	for (size_t l = 1; l <= len; l++) {
		k.mv_size = key_vnpin_prefix(kb, vn, pin, l);
		k.mv_data = kb;
		if (k.mv_size == 0)
			return EINVAL;
		rc = mdb_get(t->txn, t->s->dbi[DB_VNPIN], &k, &v);
		if (rc == 0)
			return pin_hit(&k, &v, hit);
		if (rc != MDB_NOTFOUND)
			return store_fail(t, rc, "vnpin get");
	}
	if (len == STORE_PIN_MAX)
		return ENOENT;
	/* Longer: keys of length l that start with pin sort together. */
	rc = store_cursor(t, DB_VNPIN, &c);
	if (rc)
		return rc;
	for (size_t l = len + 1; l <= STORE_PIN_MAX; l++) {
		size_t plen = key_vnpin_prefix(kb, vn, pin, l);

		k.mv_size = plen;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, kb, plen) == 0) {
			rc = pin_hit(&k, &v, hit);
			break;
		}
		if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = store_fail(t, rc, "vnpin scan");
			break;
		}
		rc = ENOENT;
	}
	store_cursor_done(t, DB_VNPIN, c);
	return rc;
}

int store_pin_each(struct store_txn *t, const char *vn, store_pin_fn fn, void *arg)
{
	uint8_t pre[KEY_NUM_LEN], kb[KEY_MAX];
	MDB_cursor *c;
	MDB_val k = {KEY_NUM_LEN, pre}, v;
	int rc, urc = 0;

	if (key_num16(pre, vn))
		return EINVAL;
	rc = store_cursor(t, DB_VNPIN, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > KEY_NUM_LEN && memcmp(k.mv_data, pre, KEY_NUM_LEN) == 0) {
		struct store_pin_hit hit;
		size_t klen = k.mv_size;

		rc = pin_hit(&k, &v, &hit);
		if (rc)
			break;
		memcpy(kb, k.mv_data, klen);
		urc = fn(arg, &hit);
		if (urc)
			break;
		rc = store_step_next(t, c, kb, klen, NULL, 0, &k, &v);
	}
	store_cursor_done(t, DB_VNPIN, c);
	return urc ? urc : store_scan_end(t, rc, "vnpin scan");
}

int store_num_each(struct store_txn *t, const char *vn, const char *number, store_num_fn fn,
                   void *arg)
{
	uint8_t kb[2 * KEY_NUM_LEN], db[VNNUM_VAL];
	MDB_val k = {key_vnnum(kb, vn, number), kb}, v;
	MDB_cursor *c;
	int rc, urc = 0;

	if (k.mv_size == 0)
		return EINVAL;
	rc = store_cursor(t, DB_VNNUM, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	while (rc == 0) {
		struct store_num_hit hit;

		if (v.mv_size != VNNUM_VAL || ((uint8_t *)v.mv_data)[STORE_ID_LEN] > STORE_B) {
			log_err("store", "vnnum index: corrupt entry");
			rc = EIO;
			break;
		}
		memcpy(db, v.mv_data, VNNUM_VAL);
		memcpy(hit.id, db, STORE_ID_LEN);
		hit.side = db[STORE_ID_LEN];
		urc = fn(arg, &hit);
		if (urc)
			break;
		rc = store_step_next(t, c, kb, sizeof(kb), db, sizeof(db), &k, &v);
	}
	store_cursor_done(t, DB_VNNUM, c);
	return urc ? urc : store_scan_end(t, rc, "vnnum scan");
}

int store_vn_in_use(struct store_txn *t, const char *vn)
{
	uint8_t pre[KEY_NUM_LEN];
	MDB_cursor *c;
	MDB_val k = {KEY_NUM_LEN, pre}, v;
	int rc, used;

	if (key_num16(pre, vn))
		return 0;
	/* On an error say "in use": the caller uses it to refuse removing a VN. */
	if (store_cursor(t, DB_BYVN, &c))
		return 1;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		used = k.mv_size > KEY_NUM_LEN && memcmp(k.mv_data, pre, KEY_NUM_LEN) == 0;
	else if (rc == MDB_NOTFOUND)
		used = 0;
	else
		used = (store_fail(t, rc, "byvn scan"), 1);
	store_cursor_done(t, DB_BYVN, c);
	return used;
}

int store_due_each(struct store_txn *t, int64_t until_ms, store_due_fn fn, void *arg)
{
	uint8_t kb[8 + STORE_ID_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	rc = store_cursor(t, DB_EXPIRY, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		int64_t at;

		if (k.mv_size != sizeof(kb)) {
			log_err("store", "expiry index: corrupt key");
			rc = EIO;
			break;
		}
		memcpy(kb, k.mv_data, sizeof(kb));
		at = key_get_be64(kb);
		if (at > until_ms)
			break;
		urc = fn(arg, kb + 8, at);
		if (urc)
			break;
		rc = store_step_next(t, c, kb, sizeof(kb), NULL, 0, &k, &v);
	}
	store_cursor_done(t, DB_EXPIRY, c);
	return urc ? urc : store_scan_end(t, rc, "expiry scan");
}

int store_alloc_scan(struct store_txn *t, const char *tenant, int64_t created_from_ms,
                     int64_t created_to_ms, const struct store_pos *after, store_alloc_fn fn,
                     void *arg)
{
	static const uint8_t zero[STORE_ID_LEN];
	uint8_t start[KEY_MAX], pre[KEY_MAX];
	size_t plen = key_bytenant_prefix(pre, tenant), slen;
	struct store_alloc rec;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, urc = 0;

	if (plen == 0)
		return EINVAL;
	if (after && after->created_ms >= created_from_ms) {
		slen = key_bytenant(start, tenant, after->created_ms, after->id);
	} else {
		slen = key_bytenant(start, tenant, created_from_ms, zero);
		after = NULL;
	}
	rc = store_cursor(t, DB_BYTENANT, &c);
	if (rc)
		return rc;
	k.mv_size = slen;
	k.mv_data = start;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && after && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	while (rc == 0) {
		size_t klen = k.mv_size;

		if (klen != plen + 8 + STORE_ID_LEN || memcmp(k.mv_data, pre, plen) != 0)
			break; /* past the tenant */
		memcpy(start, k.mv_data, klen);
		if (created_to_ms && key_get_be64(start + plen) > created_to_ms)
			break;
		rc = store_alloc_get(t, start + plen + 8, &rec);
		if (rc == ENOENT) {
			log_warn("store", "bytenant entry of %s without its record", tenant);
		} else if (rc) {
			break;
		} else {
			urc = fn(arg, &rec);
			if (urc)
				break;
		}
		rc = store_step_next(t, c, start, klen, NULL, 0, &k, &v);
	}
	store_cursor_done(t, DB_BYTENANT, c);
	return urc ? urc : store_scan_end(t, rc, "bytenant scan");
}

uint64_t store_active_count(struct store_txn *t, const char *tenant)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = {key_meta_active(kb, tenant), kb}, v;
	uint64_t n = 0;

	if (k.mv_size == 0)
		return 0;
	if (mdb_get(t->txn, t->s->dbi[DB_META], &k, &v) == 0 && v.mv_size == sizeof(n))
		memcpy(&n, v.mv_data, sizeof(n));
	return n;
}
