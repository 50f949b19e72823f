/* Tests store/ on a temporary LMDB: records and every index lookup after
 * puts, updates, vault transitions and deletes; PIN prefix clashes; scans and
 * their order; counters; and that all of it is still there after reopening. */
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

#define VN1 "+916292134400"
#define VN2 "+916292134401"
#define VN3 "+916292134402"
#define NA  "+919800000001"
#define NB  "+919800000002"
#define NC  "+919800000003"

static char dir[64];
static struct store *st;

static int setup(void **state)
{
	tmpstore_mkdir(dir, "store");
	tmpstore_open(&st, dir, 0);
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
	tmpstore_open(&st, dir, 0);
}

/* An active allocation: a has NA and PIN pin on VN1, b has NB and no PIN. */
static void mk(struct store_alloc *r, uint8_t id, const char *txn, const char *pin)
{
	memset(r, 0, sizeof(*r));
	r->id[0] = id;
	r->id[15] = 0xee;
	strcpy(r->tenant, "acme");
	strcpy(r->txn_id, txn);
	r->side[0].nnumbers = r->side[0].nvns = 1;
	strcpy(r->side[0].numbers[0], NA);
	strcpy(r->side[0].vns[0], VN1);
	strcpy(r->side[0].pin, pin);
	r->side[1].nnumbers = r->side[1].nvns = 1;
	strcpy(r->side[1].numbers[0], NB);
	strcpy(r->side[1].vns[0], VN1);
	r->side[1].follows = true;
	r->created_ms = 1000 + id;
	r->dealloc_ms = 100000 + id;
}

/* --- writes through the writer: one step doing one thing --- */

struct op {
	const struct store_alloc *rec;
	const uint8_t *id;
	int rc;
};

static int step_put(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_alloc_put(t, o->rec);
	return o->rc;
}

static int step_del(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_alloc_del(t, o->id);
	return o->rc;
}

static int put(const struct store_alloc *r)
{
	struct op o = {.rec = r};

	assert_int_equal(store_write(st, step_put, &o, 1), 0);
	return o.rc;
}

static int del(const uint8_t *id)
{
	struct op o = {.id = id};

	assert_int_equal(store_write(st, step_del, &o, 1), 0);
	return o.rc;
}

/* --- reads --- */

static struct store_txn *rd(void)
{
	struct store_txn *t;

	assert_int_equal(store_read_begin(st, &t), 0);
	return t;
}

static int count_hit(void *arg, const struct store_num_hit *hit)
{
	(*(int *)arg)++;
	return 0;
}

static int nums(const char *vn, const char *num)
{
	struct store_txn *t = rd();
	int n = 0;

	assert_int_equal(store_num_each(t, vn, num, count_hit, &n), 0);
	store_read_end(t);
	return n;
}

static int pin_lookup(const char *vn, const char *pin, struct store_pin_hit *hit)
{
	struct store_txn *t = rd();
	int rc = store_pin_get(t, vn, pin, hit);

	store_read_end(t);
	return rc;
}

static int clash(const char *vn, const char *pin, char *found)
{
	struct store_txn *t = rd();
	struct store_pin_hit hit;
	int rc = store_pin_clash(t, vn, pin, &hit);

	if (rc == 0)
		strcpy(found, hit.pin);
	store_read_end(t);
	return rc;
}

static int vn_used(const char *vn)
{
	struct store_txn *t = rd();
	int r = store_vn_in_use(t, vn);

	store_read_end(t);
	return r;
}

static uint64_t active(const char *tenant)
{
	struct store_txn *t = rd();
	uint64_t n = store_active_count(t, tenant);

	store_read_end(t);
	return n;
}

static int txnid(const char *tenant, const char *txn, uint8_t *id)
{
	struct store_txn *t = rd();
	int rc = store_txnid_get(t, tenant, txn, id);

	store_read_end(t);
	return rc;
}

static int get(const uint8_t *id, struct store_alloc *out)
{
	struct store_txn *t = rd();
	int rc = store_alloc_get(t, id, out);

	store_read_end(t);
	return rc;
}

static void test_put_get_and_lookups(void **state)
{
	struct store_alloc r, back;
	struct store_pin_hit hit;
	uint8_t id[STORE_ID_LEN];

	mk(&r, 1, "order-1", "1234");
	assert_int_equal(put(&r), 0);
	assert_int_equal(get(r.id, &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(txnid("acme", "order-1", id), 0);
	assert_memory_equal(id, r.id, STORE_ID_LEN);
	assert_int_equal(txnid("other", "order-1", id), ENOENT);
	assert_int_equal(pin_lookup(VN1, "1234", &hit), 0);
	assert_memory_equal(hit.id, r.id, STORE_ID_LEN);
	assert_int_equal(hit.side, STORE_A);
	assert_true(hit.cooling_until_ms == 0);
	assert_string_equal(hit.pin, "1234");
	assert_int_equal(pin_lookup(VN2, "1234", &hit), ENOENT);
	assert_int_equal(nums(VN1, NA), 1);
	assert_int_equal(nums(VN1, NB), 1);
	assert_int_equal(nums(VN2, NA), 0);
	assert_int_equal(vn_used(VN1), 1);
	assert_int_equal(vn_used(VN2), 0);
	assert_int_equal(active("acme"), 1);
	r.id[0] = 99;
	assert_int_equal(get(r.id, &back), ENOENT);
}

static void test_update_moves_index_entries(void **state)
{
	struct store_alloc r;
	struct store_pin_hit hit;
	uint8_t id[STORE_ID_LEN];

	mk(&r, 1, "order-1", "1234");
	assert_int_equal(put(&r), 0);
	strcpy(r.txn_id, "order-2");
	strcpy(r.side[0].numbers[0], NC);
	strcpy(r.side[0].vns[0], VN2);
	strcpy(r.side[1].vns[0], VN2);
	strcpy(r.side[0].pin, "5678");
	assert_int_equal(put(&r), 0);

	assert_int_equal(txnid("acme", "order-1", id), ENOENT);
	assert_int_equal(txnid("acme", "order-2", id), 0);
	assert_int_equal(pin_lookup(VN1, "1234", &hit), ENOENT);
	assert_int_equal(pin_lookup(VN2, "5678", &hit), 0);
	assert_int_equal(nums(VN1, NA), 0);
	assert_int_equal(nums(VN1, NB), 0);
	assert_int_equal(nums(VN2, NC), 1);
	assert_int_equal(nums(VN2, NB), 1);
	assert_int_equal(nums(VN2, NA), 0);
	assert_int_equal(vn_used(VN1), 0);
	assert_int_equal(vn_used(VN2), 1);
	assert_int_equal(active("acme"), 1);
}

struct due {
	int n;
	uint8_t ids[16];
	int64_t at[16];
};

static int due_fn(void *arg, const uint8_t id[STORE_ID_LEN], int64_t at)
{
	struct due *d = arg;

	d->ids[d->n] = id[0];
	d->at[d->n++] = at;
	return 0;
}

static struct due due_until(int64_t until)
{
	struct store_txn *t = rd();
	struct due d = {0};

	assert_int_equal(store_due_each(t, until, due_fn, &d), 0);
	store_read_end(t);
	return d;
}

static void test_vault_keeps_only_cooling_pins(void **state)
{
	struct store_alloc r, back;
	struct store_pin_hit hit;
	uint8_t id[STORE_ID_LEN];
	struct due d;

	mk(&r, 1, "order-1", "1234");
	assert_int_equal(put(&r), 0);
	r.state = STORE_VAULT;
	r.dealloc_ms = 5000;
	r.cooling_until_ms = 6000;
	r.purge_ms = 9000;
	assert_int_equal(put(&r), 0);

	assert_int_equal(get(r.id, &back), 0);
	assert_int_equal(back.state, STORE_VAULT);
	assert_int_equal(pin_lookup(VN1, "1234", &hit), 0);
	assert_true(hit.cooling_until_ms == 6000);
	assert_int_equal(txnid("acme", "order-1", id), ENOENT);
	assert_int_equal(nums(VN1, NA), 0);
	assert_int_equal(vn_used(VN1), 0);
	assert_int_equal(active("acme"), 0);
	d = due_until(INT64_MAX);
	assert_int_equal(d.n, 1);
	assert_true(d.at[0] == 6000); /* cooling ends before the purge */

	r.cooling_until_ms = 0; /* the sweeper releases the PIN */
	assert_int_equal(put(&r), 0);
	assert_int_equal(pin_lookup(VN1, "1234", &hit), ENOENT);
	d = due_until(INT64_MAX);
	assert_int_equal(d.n, 1);
	assert_true(d.at[0] == 9000);
}

static void test_del_removes_everything(void **state)
{
	struct store_alloc r, back;
	struct store_pin_hit hit;
	uint8_t id[STORE_ID_LEN];

	mk(&r, 1, "order-1", "1234");
	assert_int_equal(put(&r), 0);
	assert_int_equal(del(r.id), 0);
	assert_int_equal(get(r.id, &back), ENOENT);
	assert_int_equal(txnid("acme", "order-1", id), ENOENT);
	assert_int_equal(pin_lookup(VN1, "1234", &hit), ENOENT);
	assert_int_equal(nums(VN1, NA), 0);
	assert_int_equal(vn_used(VN1), 0);
	assert_int_equal(active("acme"), 0);
	assert_int_equal(due_until(INT64_MAX).n, 0);
	assert_int_equal(del(r.id), ENOENT);
}

static void test_pin_clash_prefixes(void **state)
{
	struct store_alloc r;
	char f[STORE_PIN_MAX + 1];

	mk(&r, 1, "o1", "12");
	assert_int_equal(put(&r), 0);
	assert_int_equal(clash(VN1, "123", f), 0); /* "12" is a prefix of it */
	assert_string_equal(f, "12");
	assert_int_equal(clash(VN1, "12", f), 0); /* equal */
	assert_int_equal(clash(VN1, "1", f), 0);  /* a prefix of "12" */
	assert_int_equal(clash(VN1, "123456789", f), 0);
	assert_int_equal(clash(VN1, "13", f), ENOENT);
	assert_int_equal(clash(VN1, "2", f), ENOENT);
	assert_int_equal(clash(VN1, "21", f), ENOENT);
	assert_int_equal(clash(VN2, "12", f), ENOENT); /* another VN */

	mk(&r, 2, "o2", "123");
	strcpy(r.side[0].vns[0], VN2);
	strcpy(r.side[1].vns[0], VN2);
	assert_int_equal(put(&r), 0);
	assert_int_equal(clash(VN2, "12", f), 0); /* a prefix of "123" */
	assert_string_equal(f, "123");
	assert_int_equal(clash(VN2, "1", f), 0);
	assert_int_equal(clash(VN2, "1234", f), 0);
	assert_int_equal(clash(VN2, "124", f), ENOENT);
	assert_int_equal(clash(VN2, "13", f), ENOENT);
	assert_int_equal(clash(VN3, "123", f), ENOENT);
	assert_int_equal(clash(VN2, "", f), EINVAL);
}

static void test_put_conflicts(void **state)
{
	struct store_alloc a, b, vault;
	struct store_pin_hit hit;

	mk(&a, 1, "o1", "1234");
	assert_int_equal(put(&a), 0);
	mk(&b, 2, "o2", "1234"); /* same PIN on the same VN */
	assert_int_equal(put(&b), EEXIST);
	mk(&b, 2, "o1", "5555"); /* same transaction_id */
	assert_int_equal(put(&b), EEXIST);
	strcpy(b.tenant, "other"); /* another tenant's may repeat it */
	assert_int_equal(put(&b), 0);
	mk(&b, 3, "o3", "77");
	strcpy(b.side[1].pin, "77"); /* a and b on one VN with one PIN */
	assert_int_equal(put(&b), EEXIST);
	assert_int_equal(active("acme"), 1);
	assert_int_equal(active("other"), 1);

	/* A cooling PIN is taken over by an active allocation, and the
	 * cooling record's later versions leave it alone. */
	mk(&vault, 4, "o4", "4444");
	assert_int_equal(put(&vault), 0);
	vault.state = STORE_VAULT;
	vault.cooling_until_ms = 7000;
	vault.purge_ms = 8000;
	assert_int_equal(put(&vault), 0);
	mk(&b, 5, "o5", "4444");
	assert_int_equal(put(&b), 0);
	assert_int_equal(pin_lookup(VN1, "4444", &hit), 0);
	assert_int_equal(hit.id[0], 5);
	vault.purge_ms = 8500;
	assert_int_equal(put(&vault), 0);
	vault.cooling_until_ms = 0;
	assert_int_equal(put(&vault), 0);
	assert_int_equal(del(vault.id), 0);
	assert_int_equal(pin_lookup(VN1, "4444", &hit), 0);
	assert_int_equal(hit.id[0], 5);
	assert_true(hit.cooling_until_ms == 0);
}

struct ids {
	int n, stop_at;
	uint8_t id[32];
};

static int collect_num(void *arg, const struct store_num_hit *hit)
{
	struct ids *x = arg;

	x->id[x->n++] = hit->id[0];
	return x->n == x->stop_at ? 42 : 0;
}

static void test_num_each_many(void **state)
{
	struct store_alloc r;
	struct store_txn *t;
	struct ids x = {0};

	for (uint8_t i = 1; i <= 5; i++) {
		char pin[8];

		snprintf(pin, sizeof(pin), "%u", 10u + i);
		mk(&r, i, pin, pin);
		assert_int_equal(put(&r), 0);
	}
	t = rd();
	assert_int_equal(store_num_each(t, VN1, NA, collect_num, &x), 0);
	assert_int_equal(x.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(x.id[i], i + 1);
	x.n = 0;
	x.stop_at = 2;
	assert_int_equal(store_num_each(t, VN1, NA, collect_num, &x), 42);
	assert_int_equal(x.n, 2);
	store_read_end(t);
	assert_int_equal(active("acme"), 5);
}

static void test_due_order(void **state)
{
	static const int64_t at[] = {300, 100, 200, 100};
	struct store_alloc r;
	struct due d;

	for (uint8_t i = 0; i < 4; i++) {
		char txn[8];

		snprintf(txn, sizeof(txn), "t%u", i);
		mk(&r, (uint8_t)(i + 1), txn, "");
		r.dealloc_ms = at[i];
		assert_int_equal(put(&r), 0);
	}
	d = due_until(INT64_MAX);
	assert_int_equal(d.n, 4);
	assert_true(d.at[0] == 100 && d.at[1] == 100 && d.at[2] == 200 && d.at[3] == 300);
	assert_int_equal(d.ids[0], 2);
	assert_int_equal(d.ids[1], 4);
	d = due_until(200);
	assert_int_equal(d.n, 3);
	d = due_until(99);
	assert_int_equal(d.n, 0);
}

/* The sweeper's shape: walk what is due and delete it in the same step. */
static int sweep_one(void *arg, const uint8_t id[STORE_ID_LEN], int64_t at)
{
	struct store_txn *t = arg;

	return store_alloc_del(t, id);
}

static int step_sweep(struct store_txn *t, void *arg, size_t i)
{
	*(int *)arg = store_due_each(t, 250, sweep_one, t);
	return *(int *)arg;
}

static void test_due_walk_deleting(void **state)
{
	struct store_alloc r;
	int rc = -1;
	struct due d;

	for (uint8_t i = 1; i <= 6; i++) {
		char txn[8];

		snprintf(txn, sizeof(txn), "t%u", i);
		mk(&r, i, txn, "");
		r.dealloc_ms = 50 * i;
		assert_int_equal(put(&r), 0);
	}
	assert_int_equal(store_write(st, step_sweep, &rc, 1), 0);
	assert_int_equal(rc, 0);
	d = due_until(INT64_MAX);
	assert_int_equal(d.n, 1); /* 300 */
	assert_true(d.at[0] == 300);
	assert_int_equal(active("acme"), 1);
}

static int collect_alloc(void *arg, const struct store_alloc *rec)
{
	struct ids *x = arg;

	x->id[x->n++] = rec->id[0];
	return x->n == x->stop_at ? 7 : 0;
}

static void test_alloc_scan_paging(void **state)
{
	struct store_alloc r, last;
	struct store_txn *t;
	struct store_pos pos;
	struct ids x = {0}, page;
	int rc;

	/* acme: ids 1..10 created at 1000, 1000, 1010, 1010, ...; other
	 * tenants' records interleave in time. */
	for (uint8_t i = 1; i <= 10; i++) {
		char txn[8];

		snprintf(txn, sizeof(txn), "t%u", i);
		mk(&r, i, txn, "");
		r.created_ms = 1000 + 10 * ((i - 1) / 2);
		assert_int_equal(put(&r), 0);
		mk(&r, (uint8_t)(100 + i), txn, "");
		strcpy(r.tenant, i & 1 ? "acm" : "acmee");
		assert_int_equal(put(&r), 0);
	}
	t = rd();
	/* Pages of 3, each starting after the last record of the previous. */
	for (int p = 0; p < 10; p++) {
		page = (struct ids){.stop_at = 3};
		rc = store_alloc_scan(t, "acme", 0, 0, p ? &pos : NULL, collect_alloc, &page);
		for (int i = 0; i < page.n; i++)
			x.id[x.n++] = page.id[i];
		if (page.n == 0)
			break;
		assert_int_equal(
		    store_alloc_get(t, (uint8_t[STORE_ID_LEN]){page.id[page.n - 1], [15] = 0xee},
		                    &last),
		    0);
		pos.created_ms = last.created_ms;
		memcpy(pos.id, last.id, STORE_ID_LEN);
		if (rc == 0)
			break;
	}
	assert_int_equal(x.n, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(x.id[i], i + 1);

	/* Bounds: created 1010..1030 inclusive are ids 3..8. */
	x = (struct ids){0};
	assert_int_equal(store_alloc_scan(t, "acme", 1010, 1030, NULL, collect_alloc, &x), 0);
	assert_int_equal(x.n, 6);
	assert_int_equal(x.id[0], 3);
	assert_int_equal(x.id[5], 8);
	x = (struct ids){0};
	assert_int_equal(store_alloc_scan(t, "nobody", 0, 0, NULL, collect_alloc, &x), 0);
	assert_int_equal(x.n, 0);
	store_read_end(t);
}

struct nest {
	struct store_txn *t;
	int pins, clashes;
};

/* A query inside a scan's callback, on the same table and transaction. */
static int nested_pin(void *arg, const struct store_pin_hit *hit)
{
	struct nest *n = arg;
	struct store_pin_hit h2;

	n->pins++;
	if (store_pin_clash(n->t, VN1, hit->pin, &h2) == 0 && strcmp(h2.pin, hit->pin) == 0)
		n->clashes++;
	return 0;
}

static void test_pin_each_and_nested_reads(void **state)
{
	struct store_alloc r;
	struct nest n = {0};

	mk(&r, 1, "o1", "11");
	assert_int_equal(put(&r), 0);
	mk(&r, 2, "o2", "22");
	strcpy(r.side[1].pin, "33");
	assert_int_equal(put(&r), 0);
	r.state = STORE_VAULT;
	r.cooling_until_ms = 500;
	assert_int_equal(put(&r), 0);
	/* Many short reads reuse pooled transactions and cursors. */
	for (int i = 0; i < 1000; i++) {
		n.t = rd();
		n.pins = n.clashes = 0;
		assert_int_equal(store_pin_each(n.t, VN1, nested_pin, &n), 0);
		store_read_end(n.t);
	}
	assert_int_equal(n.pins, 3);
	assert_int_equal(n.clashes, 3);
}

static void test_reopen_finds_everything(void **state)
{
	struct store_alloc r, back;
	struct store_pin_hit hit;
	uint8_t id[STORE_ID_LEN];

	mk(&r, 1, "order-1", "1234");
	assert_int_equal(put(&r), 0);
	mk(&r, 2, "order-2", "5678");
	assert_int_equal(put(&r), 0);
	reopen();
	assert_int_equal(get(r.id, &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(txnid("acme", "order-1", id), 0);
	assert_int_equal(id[0], 1);
	assert_int_equal(pin_lookup(VN1, "5678", &hit), 0);
	assert_int_equal(hit.id[0], 2);
	assert_int_equal(nums(VN1, NA), 2);
	assert_int_equal(active("acme"), 2);
	assert_int_equal(due_until(INT64_MAX).n, 2);
	assert_int_equal(store_reader_check(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get_and_lookups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_moves_index_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vault_keeps_only_cooling_pins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_removes_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_clash_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_conflicts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_num_each_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_walk_deleting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alloc_scan_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_each_and_nested_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_finds_everything, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
