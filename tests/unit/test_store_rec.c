/* Tests the recording fields of store/store_record.c's second record format:
 * an allocation's record flag and a call's rec_status and rec_dropped round
 * trip, out-of-range values are refused both ways, records of the first
 * format (built byte by byte here, as the old encoder wrote them) still
 * decode with those fields 0, and a schema-3 directory holding such records
 * opens, reads them, says schema 4 and rewrites them in the new format. */
#include "store/store_int.h"
#include "tmpstore.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#define SID "5b1e0c9d7a3f4e21a0b0c0d000000007"

/* --- the first format, written out by hand --- */

struct bytes {
	uint8_t b[STORE_CALL_REC_MAX + STORE_RECORD_MAX];
	size_t n;
};

static void b_u8(struct bytes *o, uint8_t v)
{
	assert_true(o->n < sizeof(o->b));
	o->b[o->n++] = v;
}

static void b_be(struct bytes *o, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--)
		b_u8(o, (uint8_t)(v >> (8 * i)));
}

/* The store's i64: big-endian with the sign bit flipped. */
static void b_i64(struct bytes *o, int64_t v)
{
	b_be(o, (uint64_t)v ^ (UINT64_C(1) << 63), 8);
}

static void b_str(struct bytes *o, const char *s)
{
	b_u8(o, (uint8_t)strlen(s));
	for (; *s; s++)
		b_u8(o, (uint8_t)*s);
}

/* Version 1 of what old_alloc() describes: an active twoway allocation of
 * tenant "acme", id 07 00.., txn "order-7", side a with PIN "1234", one
 * number and one VN, side b open and following a's VN. */
static void v1_alloc_bytes(struct bytes *o)
{
	memset(o, 0, sizeof(*o));
	b_u8(o, 1);
	b_u8(o, 7);
	for (int i = 1; i < STORE_ID_LEN; i++)
		b_u8(o, 0);
	b_str(o, "acme");
	b_str(o, "order-7");
	b_u8(o, STORE_TWOWAY);
	b_u8(o, STORE_ACTIVE);
	b_i64(o, 1700000000123);
	b_i64(o, 1715552000456);
	b_i64(o, 0);
	b_i64(o, 0);
	b_u8(o, 0); /* side a: flags */
	b_str(o, "1234");
	b_u8(o, 1);
	b_str(o, "+919900000001");
	b_u8(o, 1);
	b_str(o, "+916292134400");
	b_u8(o, 0x01 | 0x02); /* side b: open, follows */
	b_str(o, "");
	b_u8(o, 0);
	b_u8(o, 1);
	b_str(o, "+916292134400");
}

static void old_alloc(struct store_alloc *r)
{
	memset(r, 0, sizeof(*r));
	r->id[0] = 7;
	strcpy(r->tenant, "acme");
	strcpy(r->txn_id, "order-7");
	r->usage = STORE_TWOWAY;
	r->state = STORE_ACTIVE;
	r->created_ms = 1700000000123;
	r->dealloc_ms = 1715552000456;
	strcpy(r->side[STORE_A].pin, "1234");
	r->side[STORE_A].nnumbers = 1;
	strcpy(r->side[STORE_A].numbers[0], "+919900000001");
	r->side[STORE_A].nvns = 1;
	strcpy(r->side[STORE_A].vns[0], "+916292134400");
	r->side[STORE_B].open = true;
	r->side[STORE_B].follows = true;
	r->side[STORE_B].nvns = 1;
	strcpy(r->side[STORE_B].vns[0], "+916292134400");
}

/* Version 1 of old_call(): a completed, answered call of "acme" on
 * allocation 07 00.., with a recording_url. */
static void v1_call_bytes(struct bytes *o)
{
	memset(o, 0, sizeof(*o));
	b_u8(o, 1);
	b_str(o, SID);
	b_str(o, "acme");
	b_u8(o, 0x01); /* has an allocation */
	b_u8(o, 7);
	for (int i = 1; i < STORE_ID_LEN; i++)
		b_u8(o, 0);
	b_str(o, "+916292134400");
	b_str(o, "+919900000001");
	b_str(o, "+919900000002");
	b_u8(o, STORE_CALL_INCOMING);
	b_u8(o, STORE_CALL_COMPLETED);
	b_u8(o, STORE_CT_COMPLETED);
	b_u8(o, STORE_DIAL_COMPLETED);
	b_i64(o, 1700000000000);
	b_i64(o, 1700000002000);
	b_i64(o, 1700000019000);
	b_be(o, 19, 4);
	b_be(o, 17, 4);
	b_be(o, strlen("https://rec.example/x.wav"), 2);
	for (const char *s = "https://rec.example/x.wav"; *s; s++)
		b_u8(o, (uint8_t)*s);
	b_i64(o, 1707776019000);
}

static void old_call(struct store_call *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->call_sid, SID);
	strcpy(c->tenant, "acme");
	c->has_alloc = true;
	c->greenpin_id[0] = 7;
	strcpy(c->vn, "+916292134400");
	strcpy(c->from, "+919900000001");
	strcpy(c->to, "+919900000002");
	c->state = STORE_CALL_COMPLETED;
	c->call_type = STORE_CT_COMPLETED;
	c->dial_status = STORE_DIAL_COMPLETED;
	c->started_ms = 1700000000000;
	c->answered_ms = 1700000002000;
	c->ended_ms = 1700000019000;
	c->dial_call_duration = 19;
	c->on_call_duration = 17;
	strcpy(c->recording_url, "https://rec.example/x.wav");
	c->purge_ms = 1707776019000;
}

/* Decoding an exactly sized heap copy, so an overread is an ASan error. */
static int alloc_decode(const uint8_t *b, size_t n, struct store_alloc *out)
{
	uint8_t *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, b, n);
	rc = store_record_decode(p, n, out);
	free(p);
	return rc;
}

static int call_decode(const uint8_t *b, size_t n, struct store_call *out)
{
	uint8_t *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, b, n);
	rc = store_call_decode(p, n, out);
	free(p);
	return rc;
}

/* --- codec --- */

static void test_alloc_record_roundtrip(void **state)
{
	static const uint8_t values[] = {STORE_RECORD_TENANT, STORE_RECORD_ON, STORE_RECORD_OFF};
	struct store_alloc r, back;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	for (size_t i = 0; i < sizeof(values); i++) {
		old_alloc(&r);
		r.record = values[i];
		assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), 0);
		assert_int_equal(buf[0], 2);
		assert_int_equal(buf[len - 1], values[i]); /* appended last */
		assert_int_equal(alloc_decode(buf, len, &back), 0);
		assert_int_equal(back.record, values[i]);
		assert_memory_equal(&back, &r, sizeof(r));
	}
}

static void test_call_rec_roundtrip(void **state)
{
	static const uint8_t values[] = {STORE_RECST_NONE, STORE_RECST_RECORDING,
	                                 STORE_RECST_COMPLETED, STORE_RECST_PARTIAL,
	                                 STORE_RECST_FAILED};
	struct store_call c, back;
	uint8_t buf[STORE_CALL_REC_MAX];
	size_t len;

	for (size_t i = 0; i < sizeof(values); i++) {
		old_call(&c);
		c.rec_status = values[i];
		c.rec_dropped = i == 0 ? 0 : UINT32_MAX - (uint32_t)i; /* all 32 bits kept */
		assert_int_equal(store_call_encode(&c, buf, sizeof(buf), &len), 0);
		assert_int_equal(buf[0], 2);
		assert_int_equal(call_decode(buf, len, &back), 0);
		assert_int_equal(back.rec_status, values[i]);
		assert_true(back.rec_dropped == c.rec_dropped);
		assert_memory_equal(&back, &c, sizeof(c));
	}
}

/* The largest call still fits the buffer store_call_put encodes into. */
static void test_call_largest_fits(void **state)
{
	struct store_call c;
	uint8_t buf[STORE_CALL_REC_MAX];
	size_t len;

	old_call(&c);
	memset(c.tenant, 't', STORE_TENANT_MAX);
	c.tenant[STORE_TENANT_MAX] = '\0';
	strcpy(c.vn, "+123456789012345");
	strcpy(c.from, "+123456789012345");
	strcpy(c.to, "+123456789012345");
	memset(c.recording_url, 'u', STORE_CALL_URL_MAX - 1);
	c.recording_url[STORE_CALL_URL_MAX - 1] = '\0';
	c.rec_status = STORE_RECST_PARTIAL;
	c.rec_dropped = UINT32_MAX;
	assert_int_equal(store_call_encode(&c, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 473); /* what store_int.h says */
}

static void test_v1_alloc_reads_with_defaults(void **state)
{
	struct store_alloc want, back;
	struct bytes v1;

	v1_alloc_bytes(&v1);
	old_alloc(&want);
	memset(&back, 0xa5, sizeof(back)); /* decode must clear what v1 lacks */
	assert_int_equal(alloc_decode(v1.b, v1.n, &back), 0);
	assert_int_equal(back.record, STORE_RECORD_TENANT);
	assert_memory_equal(&back, &want, sizeof(want));

	/* Version 1 ends where it ends: a record byte after it is damage. */
	v1.b[v1.n++] = STORE_RECORD_ON;
	assert_int_equal(alloc_decode(v1.b, v1.n, &back), EINVAL);
	/* And version 2 without its record byte is truncated. */
	v1.b[0] = 2;
	assert_int_equal(alloc_decode(v1.b, v1.n - 1, &back), EINVAL);
	assert_int_equal(alloc_decode(v1.b, v1.n, &back), 0);
	assert_int_equal(back.record, STORE_RECORD_ON);
}

static void test_v1_call_reads_with_defaults(void **state)
{
	struct store_call want, back;
	struct bytes v1;

	v1_call_bytes(&v1);
	old_call(&want);
	memset(&back, 0xa5, sizeof(back));
	assert_int_equal(call_decode(v1.b, v1.n, &back), 0);
	assert_int_equal(back.rec_status, STORE_RECST_NONE);
	assert_true(back.rec_dropped == 0);
	assert_memory_equal(&back, &want, sizeof(want));
	for (size_t n = 0; n < v1.n; n++)
		assert_int_equal(call_decode(v1.b, n, &back), EINVAL);

	/* Version 2: the same bytes and five more. */
	v1.b[0] = 2;
	assert_int_equal(call_decode(v1.b, v1.n, &back), EINVAL);
	b_u8(&v1, STORE_RECST_PARTIAL);
	b_be(&v1, 1234, 4);
	assert_int_equal(call_decode(v1.b, v1.n, &back), 0);
	assert_int_equal(back.rec_status, STORE_RECST_PARTIAL);
	assert_true(back.rec_dropped == 1234);
	for (size_t n = 0; n < v1.n; n++)
		assert_int_equal(call_decode(v1.b, n, &back), EINVAL);
}

static void test_unknown_versions_refused(void **state)
{
	struct store_alloc r;
	struct store_call c;
	struct bytes a, k;

	v1_alloc_bytes(&a);
	v1_call_bytes(&k);
	for (unsigned v = 0; v < 256; v++) {
		if (v == 1 || v == 2)
			continue;
		a.b[0] = k.b[0] = (uint8_t)v;
		assert_int_equal(alloc_decode(a.b, a.n, &r), EINVAL);
		assert_int_equal(call_decode(k.b, k.n, &c), EINVAL);
	}
}

static void test_out_of_range_refused(void **state)
{
	struct store_alloc r, back;
	struct store_call c, cback;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	old_alloc(&r);
	r.record = STORE_RECORD_OFF + 1;
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), EINVAL);
	r.record = STORE_RECORD_OFF;
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), 0);
	buf[len - 1] = STORE_RECORD_OFF + 1;
	assert_int_equal(alloc_decode(buf, len, &back), EINVAL);
	buf[len - 1] = 0xff;
	assert_int_equal(alloc_decode(buf, len, &back), EINVAL);

	old_call(&c);
	c.rec_status = STORE_RECST_FAILED + 1;
	assert_int_equal(store_call_encode(&c, buf, sizeof(buf), &len), EINVAL);
	c.rec_status = STORE_RECST_FAILED;
	assert_int_equal(store_call_encode(&c, buf, sizeof(buf), &len), 0);
	buf[len - 5] = STORE_RECST_FAILED + 1; /* rec_status, then 4 bytes of rec_dropped */
	assert_int_equal(call_decode(buf, len, &cback), EINVAL);
	buf[len - 5] = STORE_RECST_FAILED;
	assert_int_equal(call_decode(buf, len, &cback), 0);
}

/* --- a schema-3 directory of version-1 records --- */

static char dir[64];
static struct store *st;

static int setup(void **state)
{
	tmpstore_mkdir(dir, "storerec");
	tmpstore_open(&st, dir, 0);
	return 0;
}

static int teardown(void **state)
{
	tmpstore_remove(st, dir);
	return 0;
}

static int step_alloc(struct store_txn *t, void *arg, size_t i)
{
	return store_alloc_put(t, arg);
}

static int step_call(struct store_txn *t, void *arg, size_t i)
{
	return store_call_put(t, arg);
}

/* With the store closed: what LMDB itself holds for key in table name. */
static void raw_get(const char *name, const void *key, size_t klen, struct bytes *out)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(out->b));
	memcpy(out->b, v.mv_data, v.mv_size);
	out->n = v.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static void raw_put(const char *name, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_schema_3_directory_upgrades(void **state)
{
	struct store_alloc rec, back;
	struct store_call call, cback;
	struct store_txn *t;
	struct bytes a1, c1, raw;
	uint8_t sid[KEY_SID_LEN];
	uint32_t ver = 3;

	/* What a build of schema 3 left: the same records (their indexes are
	 * the same in both formats), in the first format. */
	old_alloc(&rec);
	old_call(&call);
	assert_int_equal(store_write(st, step_alloc, &rec, 1), 0);
	assert_int_equal(store_write(st, step_call, &call, 1), 0);
	store_close(st);
	v1_alloc_bytes(&a1);
	v1_call_bytes(&c1);
	assert_int_equal(key_sid16(sid, SID), 0);
	raw_put("alloc", rec.id, STORE_ID_LEN, a1.b, a1.n);
	raw_put("calls", sid, sizeof(sid), c1.b, c1.n);
	raw_put("meta", "V", 1, &ver, sizeof(ver));

	tmpstore_open(&st, dir, 0);
	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_alloc_get(t, rec.id, &back), 0);
	assert_memory_equal(&back, &rec, sizeof(rec));
	assert_int_equal(store_call_get(t, SID, &cback), 0);
	assert_memory_equal(&cback, &call, sizeof(call));
	store_read_end(t);

	/* Opening said 4; the records stay as they were until written. */
	store_close(st);
	raw_get("meta", "V", 1, &raw);
	assert_int_equal(raw.n, sizeof(ver));
	memcpy(&ver, raw.b, sizeof(ver));
	assert_int_equal(ver, 4);
	raw_get("alloc", rec.id, STORE_ID_LEN, &raw);
	assert_int_equal(raw.b[0], 1);

	tmpstore_open(&st, dir, 0);
	rec.record = STORE_RECORD_OFF;
	call.rec_status = STORE_RECST_COMPLETED;
	call.rec_dropped = 3;
	assert_int_equal(store_write(st, step_alloc, &rec, 1), 0);
	assert_int_equal(store_write(st, step_call, &call, 1), 0);
	store_close(st);
	raw_get("alloc", rec.id, STORE_ID_LEN, &raw);
	assert_int_equal(raw.b[0], 2);
	assert_int_equal(raw.n, a1.n + 1);
	raw_get("calls", sid, sizeof(sid), &raw);
	assert_int_equal(raw.b[0], 2);
	assert_int_equal(raw.n, c1.n + 5);

	tmpstore_open(&st, dir, 0);
	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_alloc_get(t, rec.id, &back), 0);
	assert_int_equal(back.record, STORE_RECORD_OFF);
	assert_int_equal(store_call_get(t, SID, &cback), 0);
	assert_memory_equal(&cback, &call, sizeof(call));
	store_read_end(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc_record_roundtrip),
	    cmocka_unit_test(test_call_rec_roundtrip),
	    cmocka_unit_test(test_call_largest_fits),
	    cmocka_unit_test(test_v1_alloc_reads_with_defaults),
	    cmocka_unit_test(test_v1_call_reads_with_defaults),
	    cmocka_unit_test(test_unknown_versions_refused),
	    cmocka_unit_test(test_out_of_range_refused),
	    cmocka_unit_test_setup_teardown(test_schema_3_directory_upgrades, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
