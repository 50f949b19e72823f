/* store_index: writing an allocation and keeping every index in line with
 * it. A new version replaces the old one's entries wholesale (delete the
 * old version's, write the new one's) inside the caller's step, so a failed
 * step leaves no half-moved index behind. */
#include "store/store_int.h"
#include "core/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct ix {
	struct store_txn *t;
	const uint8_t *id;
	char hex[2 * STORE_ID_LEN + 1];
};

static MDB_dbi dbi(struct ix *x, enum store_db db)
{
	return x->t->s->dbi[db];
}

static int fail(struct ix *x, int rc, const char *what)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "alloc %s: %s", x->hex, what);
	return store_fail(x->t, rc, buf);
}

static int put(struct ix *x, enum store_db db, const void *k, size_t klen, const void *v,
               size_t vlen, unsigned flags)
{
	MDB_val kv = {klen, (void *)k}, vv = {vlen, (void *)v};
	int rc = mdb_put(x->t->txn, dbi(x, db), &kv, &vv, flags);

	if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA))
		return 0; /* the same pair twice (a VN listed twice) */
	return rc ? fail(x, rc, "index put") : 0;
}

/* Deletes a key (or one duplicate when v is given); a missing one is fine. */
static int del(struct ix *x, enum store_db db, const void *k, size_t klen, const void *v,
               size_t vlen)
{
	MDB_val kv = {klen, (void *)k}, vv = {vlen, (void *)v};
	int rc = mdb_del(x->t->txn, dbi(x, db), &kv, v ? &vv : NULL);

	return rc && rc != MDB_NOTFOUND ? fail(x, rc, "index del") : 0;
}

/* The id in the entry under k, if any: 0 and *owner, ENOENT, or an error. */
static int owner_of(struct ix *x, enum store_db db, const void *k, size_t klen,
                    const uint8_t **owner, int64_t *cooling)
{
	MDB_val kv = {klen, (void *)k}, vv;
	int rc = mdb_get(x->t->txn, dbi(x, db), &kv, &vv);

	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return fail(x, rc, "index get");
	if (vv.mv_size < STORE_ID_LEN)
		return EIO;
	*owner = vv.mv_data;
	if (cooling)
		*cooling = vv.mv_size == VNPIN_VAL
		               ? key_get_be64((const uint8_t *)vv.mv_data + STORE_ID_LEN + 1)
		               : 0;
	return 0;
}

/* Bit s of the result: vn is one of side s's VNs. */
static uint8_t vn_mask(const struct store_alloc *r, const char *vn)
{
	uint8_t m = 0;

	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; i < r->side[s].nvns; i++)
			if (strcmp(r->side[s].vns[i], vn) == 0)
				m |= (uint8_t)(1u << s);
	return m;
}

/* Everything put would refuse, checked before anything is changed so a
 * refusal leaves the step's transaction clean. */
static int check(struct ix *x, const struct store_alloc *r)
{
	uint8_t kb[KEY_MAX];
	const uint8_t *owner = NULL;
	int64_t cool = 0;
	int rc;

	if (r->state == STORE_ACTIVE && r->txn_id[0]) {
		size_t n = key_txn(kb, r->tenant, r->txn_id);

		rc = owner_of(x, DB_TXN, kb, n, &owner, NULL);
		if (rc == 0 && memcmp(owner, x->id, STORE_ID_LEN) != 0)
			return EEXIST;
		if (rc && rc != ENOENT)
			return rc;
	}
	for (int s = 0; s < 2; s++) {
		const struct store_side *sd = &r->side[s];

		for (unsigned i = 0; i < sd->nvns; i++) {
			if (sd->pin[0] == '\0' || r->state != STORE_ACTIVE)
				continue;
			/* Both sides' PIN on one VN would be one key. */
			if (s == STORE_B && strcmp(sd->pin, r->side[STORE_A].pin) == 0 &&
			    (vn_mask(r, sd->vns[i]) & 1))
				return EEXIST;
			/* Another active allocation's PIN is refused; a cooling one
			 * is taken over (the caller decided it may). */
			rc = owner_of(x, DB_VNPIN, kb, key_vnpin(kb, sd->vns[i], sd->pin), &owner,
			              &cool);
			if (rc == 0 && memcmp(owner, x->id, STORE_ID_LEN) != 0 && cool == 0)
				return EEXIST;
			if (rc && rc != ENOENT)
				return rc;
		}
	}
	return 0;
}

/* Adds (add) or removes the index entries of version r. */
static int index_apply(struct ix *x, const struct store_alloc *r, bool add)
{
	uint8_t kb[KEY_MAX], vb[VNPIN_VAL];
	bool active = r->state == STORE_ACTIVE;
	bool pins = active || r->cooling_until_ms > 0;
	int64_t due = store_record_due(r);
	const uint8_t *owner = NULL;
	int64_t cool = 0;
	size_t n;
	int rc;

	n = key_bytenant(kb, r->tenant, r->created_ms, x->id);
	rc = add ? put(x, DB_BYTENANT, kb, n, "", 0, 0) : del(x, DB_BYTENANT, kb, n, NULL, 0);
	if (rc == 0 && due > 0) {
		n = key_expiry(kb, due, x->id);
		rc = add ? put(x, DB_EXPIRY, kb, n, "", 0, 0) : del(x, DB_EXPIRY, kb, n, NULL, 0);
	}
	if (rc == 0 && active && r->txn_id[0]) {
		n = key_txn(kb, r->tenant, r->txn_id);
		if (add)
			rc = put(x, DB_TXN, kb, n, x->id, STORE_ID_LEN, 0);
		else if (owner_of(x, DB_TXN, kb, n, &owner, NULL) == 0 &&
		         memcmp(owner, x->id, STORE_ID_LEN) == 0)
			rc = del(x, DB_TXN, kb, n, NULL, 0);
	}
	for (int s = 0; s < 2 && rc == 0; s++) {
		const struct store_side *sd = &r->side[s];

		for (unsigned i = 0; i < sd->nvns && rc == 0; i++) {
			const char *vn = sd->vns[i];

			if (active) {
				uint8_t mask = vn_mask(r, vn);

				n = key_byvn(kb, vn, x->id);
				rc = add ? put(x, DB_BYVN, kb, n, &mask, 1, 0)
				         : del(x, DB_BYVN, kb, n, NULL, 0);
				memcpy(vb, x->id, STORE_ID_LEN);
				vb[STORE_ID_LEN] = (uint8_t)s;
				for (unsigned j = 0; j < sd->nnumbers && rc == 0; j++) {
					n = key_vnnum(kb, vn, sd->numbers[j]);
					rc = add ? put(x, DB_VNNUM, kb, n, vb, VNNUM_VAL,
					               MDB_NODUPDATA)
					         : del(x, DB_VNNUM, kb, n, vb, VNNUM_VAL);
				}
			}
			if (rc || !pins || sd->pin[0] == '\0')
				continue;
			n = key_vnpin(kb, vn, sd->pin);
			rc = owner_of(x, DB_VNPIN, kb, n, &owner, &cool);
			if (rc == ENOENT) {
				rc = 0;
				owner = NULL;
			}
			if (rc)
				break;
			if (owner && memcmp(owner, x->id, STORE_ID_LEN) != 0) {
				/* Another allocation's: never remove it; an active
				 * record takes a cooling PIN over (check() allowed
				 * it), a cooling one leaves it to its new holder. */
				if (!add || !active)
					continue;
			} else if (!add) {
				rc = owner ? del(x, DB_VNPIN, kb, n, NULL, 0) : 0;
				continue;
			}
			val_vnpin(vb, x->id, (uint8_t)s, active ? 0 : r->cooling_until_ms);
			rc = put(x, DB_VNPIN, kb, n, vb, VNPIN_VAL, 0);
		}
	}
	return rc;
}

static int count_active(struct ix *x, const char *tenant, int delta)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = {key_meta_active(kb, tenant), kb}, v;
	uint64_t n = 0;
	int rc;

	rc = mdb_get(x->t->txn, dbi(x, DB_META), &k, &v);
	if (rc == 0 && v.mv_size == sizeof(n))
		memcpy(&n, v.mv_data, sizeof(n));
	else if (rc && rc != MDB_NOTFOUND)
		return fail(x, rc, "counter get");
	if (delta < 0 && n < (uint64_t)-delta)
		n = 0;
	else
		n += (uint64_t)(int64_t)delta;
	if (n == 0)
		return del(x, DB_META, kb, k.mv_size, NULL, 0);
	v.mv_size = sizeof(n);
	v.mv_data = &n;
	rc = mdb_put(x->t->txn, dbi(x, DB_META), &k, &v, 0);
	return rc ? fail(x, rc, "counter put") : 0;
}

/* Moves the active counters from version old (NULL: none) to version r
 * (NULL: removed). */
static int count(struct ix *x, const struct store_alloc *old, const struct store_alloc *r)
{
	int o = old && old->state == STORE_ACTIVE, n = r && r->state == STORE_ACTIVE;
	int rc = 0;

	if (o && n && strcmp(old->tenant, r->tenant) == 0)
		return 0;
	if (o)
		rc = count_active(x, old->tenant, -1);
	if (rc == 0 && n)
		rc = count_active(x, r->tenant, +1);
	return rc;
}

int store_alloc_put(struct store_txn *t, const struct store_alloc *rec)
{
	struct ix x = {.t = t, .id = rec->id};
	struct store_alloc old;
	uint8_t buf[STORE_RECORD_MAX];
	MDB_val k = {STORE_ID_LEN, (void *)rec->id}, v;
	bool had;
	size_t len;
	int rc;

	if (!t->write)
		return EINVAL;
	store_id_hex(x.hex, rec->id);
	/* Encoding checks every length, so every key below fits. */
	if (store_record_encode(rec, buf, sizeof(buf), &len) != 0) {
		log_err("store", "alloc %s: record out of range", x.hex);
		return EINVAL;
	}
	rc = check(&x, rec);
	if (rc)
		return rc;
	rc = store_alloc_get(t, rec->id, &old);
	if (rc && rc != ENOENT)
		return rc;
	had = rc == 0;
	if (had && (rc = index_apply(&x, &old, false)) != 0)
		return rc;
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_put(t->txn, t->s->dbi[DB_ALLOC], &k, &v, 0);
	if (rc)
		return fail(&x, rc, "put");
	rc = index_apply(&x, rec, true);
	if (rc == 0)
		rc = count(&x, had ? &old : NULL, rec);
	return rc;
}

int store_alloc_del(struct store_txn *t, const uint8_t id[STORE_ID_LEN])
{
	struct ix x = {.t = t, .id = id};
	struct store_alloc old;
	MDB_val k = {STORE_ID_LEN, (void *)id};
	int rc;

	if (!t->write)
		return EINVAL;
	store_id_hex(x.hex, id);
	rc = store_alloc_get(t, id, &old);
	if (rc)
		return rc;
	rc = index_apply(&x, &old, false);
	if (rc == 0)
		rc = count(&x, &old, NULL);
	if (rc == 0 && (rc = mdb_del(t->txn, t->s->dbi[DB_ALLOC], &k, NULL)) != 0)
		rc = fail(&x, rc, "del");
	return rc;
}
