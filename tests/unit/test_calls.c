/* Tests the store's call records on a temporary LMDB: round trip and
 * update, refusals, listing by tenant and by allocation with paging and
 * isolation, in-progress records listed until completed, the purge walk's
 * order and deleting from it, reopening, and the upgrade of a schema-2
 * directory (no call tables) in place. */
#include "store/store.h"
#include "tmpstore.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

static char dir[64];
static struct store *st;

static void open_store(void)
{
	tmpstore_open(&st, dir, 0);
}

static int setup(void **state)
{
	tmpstore_mkdir(dir, "calls");
	open_store();
	return 0;
}

static int teardown(void **state)
{
	tmpstore_remove(st, dir);
	return 0;
}

static void reopen(void)
{
	store_close(st);
	open_store();
}

/* An in-progress call n of tenant started at started; sid ends in n. */
static void mk(struct store_call *c, const char *tenant, unsigned n, int64_t started)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->call_sid, sizeof(c->call_sid), "5b1e0c9d7a3f4e21a0b0c0d0%08x", n);
	strcpy(c->tenant, tenant);
	strcpy(c->vn, "+916292134400");
	strcpy(c->from, "+919000000001");
	c->started_ms = started;
}

static void with_alloc(struct store_call *c, uint8_t id)
{
	c->has_alloc = true;
	memset(c->greenpin_id, 0, STORE_ID_LEN);
	c->greenpin_id[0] = id;
}

static void complete(struct store_call *c, int64_t ended, int64_t purge)
{
	c->state = STORE_CALL_COMPLETED;
	c->call_type = STORE_CT_COMPLETED;
	c->dial_status = STORE_DIAL_COMPLETED;
	c->answered_ms = c->started_ms + 2000;
	c->ended_ms = ended;
	c->on_call_duration = (uint32_t)((ended - c->started_ms) / 1000);
	c->dial_call_duration = (uint32_t)((ended - c->answered_ms) / 1000);
	c->purge_ms = purge;
}

/* --- writes: one step doing one thing --- */

struct op {
	const struct store_call *c;
	const char *sid;
	int rc;
};

static int step_put(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_call_put(t, o->c);
	return o->rc;
}

static int step_del(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_call_del(t, o->sid);
	return o->rc;
}

static int put(const struct store_call *c)
{
	struct op o = {.c = c};

	assert_int_equal(store_write(st, step_put, &o, 1), 0);
	return o.rc;
}

static int del(const char *sid)
{
	struct op o = {.sid = sid};

	assert_int_equal(store_write(st, step_del, &o, 1), 0);
	return o.rc;
}

static int get(const char *sid, struct store_call *out)
{
	struct store_txn *t;
	int rc;

	assert_int_equal(store_read_begin(st, &t), 0);
	rc = store_call_get(t, sid, out);
	store_read_end(t);
	return rc;
}

/* --- walks collect the sids' last byte (the n of mk) --- */

struct seen {
	unsigned n[64];
	int len;
	int stop_after; /* 0 = never */
	struct store_call_pos last;
};

static int collect(void *arg, const struct store_call *c)
{
	struct seen *s = arg;

	s->n[s->len++] = (unsigned)strtoul(c->call_sid + 24, NULL, 16);
	s->last.started_ms = c->started_ms;
	strcpy(s->last.call_sid, c->call_sid);
	return s->stop_after && s->len == s->stop_after ? 1 : 0;
}

static struct seen scan_tenant(const char *tenant, int64_t from, int64_t to,
                               const struct store_call_pos *after, int page)
{
	struct seen s = {.stop_after = page};
	struct store_txn *t;
	int rc;

	assert_int_equal(store_read_begin(st, &t), 0);
	rc = store_call_scan_tenant(t, tenant, from, to, after, collect, &s);
	assert_int_equal(rc, page && s.len == page ? 1 : 0);
	store_read_end(t);
	return s;
}

static struct seen scan_alloc(uint8_t id, int64_t from, int64_t to,
                              const struct store_call_pos *after, int page)
{
	uint8_t gid[STORE_ID_LEN] = {id};
	struct seen s = {.stop_after = page};
	struct store_txn *t;
	int rc;

	assert_int_equal(store_read_begin(st, &t), 0);
	rc = store_call_scan_alloc(t, gid, from, to, after, collect, &s);
	assert_int_equal(rc, page && s.len == page ? 1 : 0);
	store_read_end(t);
	return s;
}

static struct seen open_calls(void)
{
	struct seen s = {0};
	struct store_txn *t;

	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_call_open_each(t, collect, &s), 0);
	store_read_end(t);
	return s;
}

static struct seen due(int64_t until)
{
	struct seen s = {0};
	struct store_txn *t;

	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_call_due_each(t, until, collect, &s), 0);
	store_read_end(t);
	return s;
}

static void expect(struct seen s, const unsigned *want, int n)
{
	assert_int_equal(s.len, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(s.n[i], want[i]);
}

/* --- tests --- */

static void test_put_get_update(void **state)
{
	struct store_call c, back;

	mk(&c, "acme", 1, 1000);
	assert_int_equal(put(&c), 0);
	assert_int_equal(get(c.call_sid, &back), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_false(back.has_alloc);
	assert_int_equal(back.state, STORE_CALL_IN_PROGRESS);
	assert_int_equal(back.dial_status, STORE_DIAL_NONE);

	/* routing picks an allocation, then the call ends */
	with_alloc(&c, 7);
	strcpy(c.to, "+918000000001");
	assert_int_equal(put(&c), 0);
	complete(&c, 65000, 90000);
	strcpy(c.recording_url, "https://rec.example/x.wav");
	assert_int_equal(put(&c), 0);
	assert_int_equal(get(c.call_sid, &back), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(back.on_call_duration, 64);
	assert_int_equal(back.dial_call_duration, 62);
	assert_string_equal(back.to, "+918000000001");

	/* unknown and malformed sids */
	mk(&c, "acme", 2, 1000);
	assert_int_equal(get(c.call_sid, &back), ENOENT);
	assert_int_equal(get("5B1E0C9D7A3F4E21A0B0C0D000000001", &back), EINVAL);
	assert_int_equal(get("5b1e", &back), EINVAL);
}

static void test_refusals(void **state)
{
	struct store_call c, back;
	struct store_txn *t;

	mk(&c, "acme", 1, 1000);
	strcpy(c.call_sid, "not-hex-not-hex-not-hex-not-hex!");
	assert_int_equal(put(&c), EINVAL);
	mk(&c, "", 1, 1000);
	assert_int_equal(put(&c), EINVAL);
	mk(&c, "acme", 1, 1000);
	c.call_type = STORE_CT_FAILED + 1;
	assert_int_equal(put(&c), EINVAL);
	mk(&c, "acme", 1, 1000);
	c.dial_status = STORE_DIAL_CANCELED + 1;
	assert_int_equal(put(&c), EINVAL);
	mk(&c, "acme", 1, 1000);
	memset(c.vn, '9', sizeof(c.vn)); /* unterminated */
	assert_int_equal(put(&c), EINVAL);
	mk(&c, "acme", 1, 1000);
	assert_int_equal(get(c.call_sid, &back), ENOENT);
	assert_int_equal(del(c.call_sid), ENOENT);

	/* not in a write step */
	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_call_put(t, &c), EINVAL);
	assert_int_equal(store_call_del(t, c.call_sid), EINVAL);
	store_read_end(t);
	assert_int_equal(scan_tenant("acme", 0, 0, NULL, 0).len, 0);
}

static void test_scan_tenant_paging(void **state)
{
	static const unsigned all[] = {3, 1, 2, 4, 5};
	struct store_call c;
	struct seen s;

	/* 1 and 2 start at the same ms: the sid orders them */
	mk(&c, "acme", 2, 2000);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 1, 2000);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 3, 1000);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 4, 3000);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 5, 4000);
	assert_int_equal(put(&c), 0);
	mk(&c, "other", 6, 2500);
	assert_int_equal(put(&c), 0);
	/* a tenant whose name extends another's */
	mk(&c, "acme2", 7, 2500);
	assert_int_equal(put(&c), 0);

	expect(scan_tenant("acme", 0, 0, NULL, 0), all, 5);
	/* date bounds, both inclusive */
	expect(scan_tenant("acme", 2000, 3000, NULL, 0), all + 1, 3);
	/* pages of two, continuing after the last one seen */
	s = scan_tenant("acme", 0, 0, NULL, 2);
	expect(s, all, 2);
	s = scan_tenant("acme", 0, 0, &s.last, 2);
	expect(s, all + 2, 2);
	s = scan_tenant("acme", 0, 0, &s.last, 2);
	expect(s, all + 4, 1);
	/* a cursor before from_ms is ignored */
	s.last.started_ms = 500;
	expect(scan_tenant("acme", 3000, 0, &s.last, 0), all + 3, 2);
	expect(scan_tenant("other", 0, 0, NULL, 0), (const unsigned[]){6}, 1);
	expect(scan_tenant("acme2", 0, 0, NULL, 0), (const unsigned[]){7}, 1);
	assert_int_equal(scan_tenant("nobody", 0, 0, NULL, 0).len, 0);
}

static void test_scan_alloc(void **state)
{
	struct store_call c;
	struct seen s;

	mk(&c, "acme", 1, 1000); /* no allocation yet: not listed by one */
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 2, 2000);
	with_alloc(&c, 7);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 3, 3000);
	with_alloc(&c, 8);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 4, 4000);
	with_alloc(&c, 7);
	assert_int_equal(put(&c), 0);
	expect(scan_alloc(7, 0, 0, NULL, 0), (const unsigned[]){2, 4}, 2);
	expect(scan_alloc(8, 0, 0, NULL, 0), (const unsigned[]){3}, 1);
	s = scan_alloc(7, 0, 0, NULL, 1);
	expect(scan_alloc(7, 0, 0, &s.last, 0), (const unsigned[]){4}, 1);
	expect(scan_alloc(7, 2001, 0, NULL, 0), (const unsigned[]){4}, 1);

	/* call 1 gets allocation 8; call 3 moves to 7 */
	mk(&c, "acme", 1, 1000);
	with_alloc(&c, 8);
	assert_int_equal(put(&c), 0);
	mk(&c, "acme", 3, 3000);
	with_alloc(&c, 7);
	assert_int_equal(put(&c), 0);
	expect(scan_alloc(7, 0, 0, NULL, 0), (const unsigned[]){2, 3, 4}, 3);
	expect(scan_alloc(8, 0, 0, NULL, 0), (const unsigned[]){1}, 1);
	assert_int_equal(del(c.call_sid), 0);
	expect(scan_alloc(7, 0, 0, NULL, 0), (const unsigned[]){2, 4}, 2);
	expect(scan_tenant("acme", 0, 0, NULL, 0), (const unsigned[]){1, 2, 4}, 3);
}

static void test_open_until_completed(void **state)
{
	struct store_call c[3];

	for (unsigned i = 0; i < 3; i++) {
		mk(&c[i], "acme", i + 1, 3000 - 1000 * (int64_t)i);
		assert_int_equal(put(&c[i]), 0);
	}
	expect(open_calls(), (const unsigned[]){3, 2, 1}, 3);
	complete(&c[1], 9000, 50000);
	assert_int_equal(put(&c[1]), 0);
	expect(open_calls(), (const unsigned[]){3, 1}, 2);
	/* finalised after a crash */
	c[2].state = STORE_CALL_COMPLETED;
	c[2].call_type = STORE_CT_FAILED;
	c[2].ended_ms = 9500;
	assert_int_equal(put(&c[2]), 0);
	expect(open_calls(), (const unsigned[]){1}, 1);
	/* an in-progress record is never due for purge */
	c[0].purge_ms = 1;
	assert_int_equal(put(&c[0]), 0);
	expect(due(INT64_MAX), (const unsigned[]){2}, 1);
	assert_int_equal(del(c[0].call_sid), 0);
	assert_int_equal(open_calls().len, 0);
}

/* A purge step: deletes every due record from inside the walk. */
static int purge_one(void *arg, const struct store_call *c)
{
	struct store_txn *t = arg;

	return store_call_del(t, c->call_sid);
}

static int step_purge(struct store_txn *t, void *arg, size_t i)
{
	int64_t *until = arg;

	return store_call_due_each(t, *until, purge_one, t);
}

static void test_due_order_and_purge(void **state)
{
	struct store_call c;
	int64_t until = 7000;

	for (unsigned i = 1; i <= 5; i++) {
		mk(&c, "acme", i, 1000 + i);
		complete(&c, 2000 + i, i == 5 ? 0 : 10000 - 1000 * (int64_t)i);
		assert_int_equal(put(&c), 0);
	}
	/* purge times 9000, 8000, 7000, 6000; 5 is kept for good */
	expect(due(INT64_MAX), (const unsigned[]){4, 3, 2, 1}, 4);
	expect(due(7000), (const unsigned[]){4, 3}, 2);
	expect(due(5999), NULL, 0);
	/* a new purge time moves the entry */
	mk(&c, "acme", 4, 1004);
	complete(&c, 2004, 9500);
	assert_int_equal(put(&c), 0);
	expect(due(INT64_MAX), (const unsigned[]){3, 2, 1, 4}, 4);

	assert_int_equal(store_write(st, step_purge, &until, 1), 0);
	expect(due(INT64_MAX), (const unsigned[]){2, 1, 4}, 3);
	expect(scan_tenant("acme", 0, 0, NULL, 0), (const unsigned[]){1, 2, 4, 5}, 4);
	until = INT64_MAX;
	assert_int_equal(store_write(st, step_purge, &until, 1), 0);
	expect(due(INT64_MAX), NULL, 0);
	expect(scan_tenant("acme", 0, 0, NULL, 0), (const unsigned[]){5}, 1);
}

static void test_reopen(void **state)
{
	struct store_call a, b, back;

	mk(&a, "acme", 1, 1000);
	with_alloc(&a, 9);
	assert_int_equal(put(&a), 0);
	mk(&b, "acme", 2, 2000);
	complete(&b, 5000, 8000);
	assert_int_equal(put(&b), 0);
	reopen();
	assert_int_equal(get(a.call_sid, &back), 0);
	assert_memory_equal(&back, &a, sizeof(a));
	expect(open_calls(), (const unsigned[]){1}, 1);
	expect(due(INT64_MAX), (const unsigned[]){2}, 1);
	expect(scan_alloc(9, 0, 0, NULL, 0), (const unsigned[]){1}, 1);
	expect(scan_tenant("acme", 0, 0, NULL, 0), (const unsigned[]){1, 2}, 2);
}

/* A directory written before call records: schema 2, no call tables. */
static void test_upgrade_from_schema_2(void **state)
{
	static const char *const names[] = {"calls", "callsbytenant", "callsbyalloc", "callsopen",
	                                    "callsdue"};
	struct store_call c, back;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint32_t ver = 2;
	MDB_val k = {1, "V"}, v = {sizeof(ver), &ver};

	store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
		assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	}
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	open_store();
	mk(&c, "acme", 1, 1000);
	assert_int_equal(get(c.call_sid, &back), ENOENT);
	assert_int_equal(put(&c), 0);
	reopen();
	assert_int_equal(get(c.call_sid, &back), 0);
	expect(open_calls(), (const unsigned[]){1}, 1);

	/* and the version now says 4, the current one */
	store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(ver));
	memcpy(&ver, v.mv_data, sizeof(ver));
	assert_int_equal(ver, 4);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	open_store(); /* for teardown */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_tenant_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_alloc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_until_completed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_order_and_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_from_schema_2, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
