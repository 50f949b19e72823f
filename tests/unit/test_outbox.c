/* Tests the store's webhook outbox on a temporary LMDB: round trips with full
 * and empty bodies, seq that is never reused, index entries that follow an
 * event's new versions and go with it, due walks (reading, and writing from
 * the callback), per-tenant listing with paging, counters, rollback together
 * with an allocation, refusals, a full map, reopening, and the upgrade of a
 * schema-1 directory. Index tables are also checked raw, with LMDB itself. */
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

static void open_store(uint64_t map_size)
{
	tmpstore_open(&st, dir, map_size);
}

static int setup(void **state)
{
	tmpstore_mkdir(dir, "outbox");
	open_store(0);
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
	open_store(0);
}

/* A pending event of tenant, delivery id {id, ..., 0xdd}, due at due, with
 * a short JSON body. */
static void mk(struct store_event *ev, const char *tenant, uint8_t id, int64_t due)
{
	memset(ev, 0, sizeof(*ev));
	ev->delivery_id[0] = id;
	ev->delivery_id[15] = 0xdd;
	strcpy(ev->tenant, tenant);
	strcpy(ev->type, "deallocation");
	strcpy(ev->url, "http://127.0.0.1:9/hook");
	ev->state = STORE_EV_PENDING;
	ev->created_ms = ev->first_ms = 1000 + id;
	ev->due_ms = due;
	ev->body_len = (uint32_t)snprintf(ev->body, sizeof(ev->body), "{\"n\":%u}", id);
}

/* --- writes through the writer: one step doing one thing --- */

struct op {
	struct store_event *ev;
	const struct store_alloc *rec;
	uint64_t seq;
	int rc;
};

static int step_add(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_event_add(t, o->ev);
	return o->rc;
}

static int step_put(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_event_put(t, o->ev);
	return o->rc;
}

static int step_del(struct store_txn *t, void *arg, size_t i)
{
	struct op *o = arg;

	o->rc = store_event_del(t, o->seq);
	return o->rc;
}

static int add(struct store_event *ev)
{
	struct op o = {.ev = ev};

	assert_int_equal(store_write(st, step_add, &o, 1), 0);
	return o.rc;
}

static int put(struct store_event *ev)
{
	struct op o = {.ev = ev};

	assert_int_equal(store_write(st, step_put, &o, 1), 0);
	return o.rc;
}

static int del(uint64_t seq)
{
	struct op o = {.seq = seq};

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

static int get(uint64_t seq, struct store_event *out)
{
	struct store_txn *t = rd();
	int rc = store_event_get(t, seq, out);

	store_read_end(t);
	return rc;
}

static int by_id(const uint8_t *id, struct store_event *out)
{
	struct store_txn *t = rd();
	int rc = store_event_by_delivery(t, id, out);

	store_read_end(t);
	return rc;
}

static uint64_t pending(const char *tenant)
{
	struct store_txn *t = rd();
	uint64_t n = store_event_pending_count(t, tenant);

	store_read_end(t);
	return n;
}

struct seen {
	int n, stop_at;
	uint64_t seq[64];
	int64_t due[64];
	uint8_t id[64];
};

static int collect(void *arg, const struct store_event *ev)
{
	struct seen *s = arg;

	if (s->n < 64) { /* counts every one, keeps the first 64 */
		s->seq[s->n] = ev->seq;
		s->due[s->n] = ev->due_ms;
		s->id[s->n] = ev->delivery_id[0];
	}
	s->n++;
	return s->n == s->stop_at ? 9 : 0;
}

static struct seen due_until(int64_t until)
{
	struct store_txn *t = rd();
	struct seen s = {0};

	assert_int_equal(store_event_due_each(t, until, collect, &s), 0);
	store_read_end(t);
	return s;
}

static struct seen scan(const char *tenant, int state, uint64_t after)
{
	struct store_txn *t = rd();
	struct seen s = {0};

	assert_int_equal(store_event_scan(t, tenant, state, after, collect, &s), 0);
	store_read_end(t);
	return s;
}

/* Entries in each outbox table, read with LMDB itself (the store is closed
 * meanwhile: one environment per file and process): a stale index entry
 * is skipped by the store's walks, so only this sees one. */
struct raw {
	size_t outbox, evbytenant, evid, evdue, meta;
};

static struct raw raw_counts(void)
{
	static const char *const names[] = {"outbox", "evbytenant", "evid", "evdue", "meta"};
	size_t *out[5];
	struct raw r = {0};
	MDB_env *env;
	MDB_txn *txn;

	out[0] = &r.outbox, out[1] = &r.evbytenant, out[2] = &r.evid, out[3] = &r.evdue;
	out[4] = &r.meta;
	store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	for (int i = 0; i < 5; i++) {
		MDB_dbi dbi;
		MDB_stat s;

		assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
		assert_int_equal(mdb_stat(txn, dbi, &s), 0);
		*out[i] = s.ms_entries;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	open_store(0);
	return r;
}

/* --- tests --- */

static void test_round_trip_full_and_empty_body(void **state)
{
	struct store_event *ev = calloc(4, sizeof(*ev)), *back = ev + 1, *e2 = ev + 2;

	assert_non_null(ev);
	mk(ev, "acme", 1, 5000);
	for (unsigned i = 0; i < STORE_EVENT_BODY_MAX; i++)
		ev->body[i] = (char)('a' + i % 26);
	ev->body[100] = '\0'; /* a body is bytes, not a string */
	ev->body_len = STORE_EVENT_BODY_MAX;
	strcpy(ev->url, "https://hooks.example.com/");
	memset(ev->url + strlen(ev->url), 'u', STORE_EVENT_URL_MAX - 1 - strlen(ev->url));
	memset(ev->last_error, 'e', STORE_EVENT_ERR_MAX - 1);
	memset(ev->tenant, 't', STORE_TENANT_MAX);
	strcpy(ev->type, "verification-failure");
	ev->attempts = 7;
	ev->last_status = 503;
	ev->done_ms = -1; /* any value survives */
	assert_int_equal(add(ev), 0);
	assert_true(ev->seq == 1);
	assert_int_equal(get(ev->seq, back), 0);
	assert_memory_equal(back, ev, sizeof(*ev));
	assert_int_equal(by_id(ev->delivery_id, back), 0);
	assert_memory_equal(back, ev, sizeof(*ev));

	mk(e2, "acme", 2, 5000);
	e2->body_len = 0;
	memset(e2->body, 0, sizeof(e2->body));
	memset(e2->url, 0, sizeof(e2->url));
	e2->last_status = -1;
	assert_int_equal(add(e2), 0);
	assert_true(e2->seq == 2);
	memset(back, 0x5a, sizeof(*back)); /* the body past body_len comes back zeroed */
	assert_int_equal(get(2, back), 0);
	assert_memory_equal(back, e2, sizeof(*e2));
	assert_int_equal(by_id(e2->delivery_id, back), 0);
	assert_true(back->seq == 2);

	assert_int_equal(get(3, back), ENOENT);
	assert_int_equal(get(0, back), ENOENT);
	e2->delivery_id[0] = 99;
	assert_int_equal(by_id(e2->delivery_id, back), ENOENT);
	assert_true(pending("acme") == 1);
	assert_true(pending(ev->tenant) == 1);
	assert_true(pending(NULL) == 2);
	assert_true(pending("nobody") == 0);
	assert_true(pending("") == 0);
	free(ev);
}

static void test_seq_never_reused(void **state)
{
	struct store_event ev;

	for (uint8_t i = 1; i <= 3; i++) {
		mk(&ev, "acme", i, 100);
		assert_int_equal(add(&ev), 0);
		assert_true(ev.seq == i);
	}
	assert_int_equal(del(3), 0);
	assert_int_equal(del(3), ENOENT);
	mk(&ev, "acme", 4, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 4);
	assert_int_equal(del(4), 0);
	reopen();
	mk(&ev, "acme", 5, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 5);
	/* The delivery id of a deleted event is free again. */
	mk(&ev, "acme", 3, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 6);
}

static void test_put_moves_indexes_and_counter(void **state)
{
	struct store_event ev, other, back;
	struct seen s;
	struct raw r;

	mk(&ev, "acme", 1, 100);
	assert_int_equal(add(&ev), 0);
	mk(&other, "acme", 2, 150);
	assert_int_equal(add(&other), 0);
	assert_true(pending("acme") == 2);
	assert_int_equal(scan("acme", STORE_EV_PENDING, 0).n, 2);

	/* A failed attempt: still pending, due later; only evdue moves. */
	ev.attempts = 1;
	ev.last_status = 500;
	strcpy(ev.last_error, "HTTP 500");
	ev.due_ms = 200;
	assert_int_equal(put(&ev), 0);
	s = due_until(INT64_MAX);
	assert_int_equal(s.n, 2);
	assert_true(s.seq[0] == 2 && s.seq[1] == 1 && s.due[1] == 200);
	assert_true(pending("acme") == 2);

	/* Delivered: out of pending, due becomes the purge time. */
	ev.state = STORE_EV_DELIVERED;
	ev.attempts = 2;
	ev.last_status = 204;
	memset(ev.last_error, 0, sizeof(ev.last_error));
	ev.done_ms = 300;
	ev.due_ms = 300 + 7 * 86400000LL;
	assert_int_equal(put(&ev), 0);
	assert_int_equal(get(ev.seq, &back), 0);
	assert_memory_equal(&back, &ev, sizeof(ev));
	assert_true(pending("acme") == 1);
	assert_true(pending(NULL) == 1);
	s = scan("acme", STORE_EV_PENDING, 0);
	assert_int_equal(s.n, 1);
	assert_true(s.seq[0] == 2);
	s = scan("acme", STORE_EV_DELIVERED, 0);
	assert_int_equal(s.n, 1);
	assert_true(s.seq[0] == 1);
	assert_int_equal(due_until(1000).n, 1); /* only other */
	s = due_until(INT64_MAX);
	assert_int_equal(s.n, 2);
	assert_true(s.seq[1] == 1 && s.due[1] == ev.due_ms);

	/* Dead, then replayed: pending again under a new delivery id. */
	other.state = STORE_EV_DEAD;
	assert_int_equal(put(&other), 0);
	assert_true(pending("acme") == 0);
	assert_true(pending(NULL) == 0);
	assert_int_equal(scan("acme", STORE_EV_DEAD, 0).n, 1);
	other.state = STORE_EV_PENDING;
	other.delivery_id[0] = 42;
	assert_int_equal(put(&other), 0);
	assert_true(pending("acme") == 1);
	assert_int_equal(scan("acme", STORE_EV_DEAD, 0).n, 0);
	assert_int_equal(by_id(other.delivery_id, &back), 0);
	assert_true(back.seq == other.seq);
	assert_int_equal(by_id((uint8_t[STORE_ID_LEN]){2, [15] = 0xdd}, &back), ENOENT);

	/* Another event's delivery id is refused, nothing changed. */
	memcpy(other.delivery_id, ev.delivery_id, STORE_ID_LEN);
	assert_int_equal(put(&other), EEXIST);
	other.delivery_id[0] = 42;
	assert_int_equal(by_id(other.delivery_id, &back), 0);
	assert_int_equal(by_id(ev.delivery_id, &back), 0);
	assert_true(back.seq == ev.seq);

	/* A put of an unknown seq. */
	back = ev;
	back.seq = 77;
	assert_int_equal(put(&back), ENOENT);

	r = raw_counts();
	assert_int_equal(r.outbox, 2);
	assert_int_equal(r.evbytenant, 2);
	assert_int_equal(r.evid, 2);
	assert_int_equal(r.evdue, 2);
}

static void test_due_order_and_bound(void **state)
{
	static const int64_t due[] = {300, 100, 200, 100, -5, 0};
	struct store_event ev;
	struct store_txn *t;
	struct seen s;

	for (uint8_t i = 0; i < 6; i++) {
		mk(&ev, i & 1 ? "beta" : "acme", (uint8_t)(i + 1), due[i]);
		if (i == 2)
			ev.state = STORE_EV_DEAD; /* purge time: walked the same */
		assert_int_equal(add(&ev), 0);
	}
	s = due_until(INT64_MAX);
	assert_int_equal(s.n, 6);
	/* By due, then seq. */
	assert_true(s.due[0] == -5 && s.due[1] == 0 && s.due[2] == 100 && s.due[3] == 100 &&
	            s.due[4] == 200 && s.due[5] == 300);
	assert_true(s.seq[2] == 2 && s.seq[3] == 4);
	assert_int_equal(due_until(200).n, 5);
	assert_int_equal(due_until(199).n, 4);
	assert_int_equal(due_until(-6).n, 0);
	assert_int_equal(due_until(INT64_MIN).n, 0);
	t = rd();
	s = (struct seen){.stop_at = 3};
	assert_int_equal(store_event_due_each(t, INT64_MAX, collect, &s), 9);
	assert_int_equal(s.n, 3);
	store_read_end(t);
}

/* The worker's and purger's shape: walk what is due and, in the same step,
 * reschedule pending events past the bound and delete finished ones. */
static int work_one(void *arg, const struct store_event *ev)
{
	struct store_txn *t = *(struct store_txn **)arg;
	struct store_event next = *ev;

	if (ev->state != STORE_EV_PENDING)
		return store_event_del(t, ev->seq);
	next.attempts++;
	next.due_ms = 1000 + ev->due_ms;
	return store_event_put(t, &next);
}

struct work {
	struct store_txn *t;
	int rc;
};

static int step_work(struct store_txn *t, void *arg, size_t i)
{
	struct work *w = arg;

	w->t = t;
	w->rc = store_event_due_each(t, 250, work_one, &w->t);
	return w->rc;
}

static void test_due_walk_writing(void **state)
{
	struct store_event ev;
	struct work w = {0};
	struct seen s;

	for (uint8_t i = 1; i <= 8; i++) {
		mk(&ev, "acme", i, 40 * i); /* 40 .. 320 */
		if (i % 3 == 0)
			ev.state = STORE_EV_DELIVERED;
		assert_int_equal(add(&ev), 0);
	}
	assert_true(pending("acme") == 6);
	assert_int_equal(store_write(st, step_work, &w, 1), 0);
	assert_int_equal(w.rc, 0);
	/* Due <= 250 were 1..6: 3 and 6 purged, 1, 2, 4, 5 moved by 1000. */
	s = due_until(INT64_MAX);
	assert_int_equal(s.n, 6);
	assert_true(s.seq[0] == 7 && s.seq[1] == 8);
	assert_true(s.seq[2] == 1 && s.due[2] == 1040);
	assert_true(s.seq[5] == 5 && s.due[5] == 1200);
	assert_int_equal(get(3, &ev), ENOENT);
	assert_int_equal(get(4, &ev), 0);
	assert_true(ev.attempts == 1);
	assert_true(pending("acme") == 6); /* purging took none of them */
	assert_int_equal(scan("acme", STORE_EV_DELIVERED, 0).n, 0);
}

static void test_scan_paging_and_isolation(void **state)
{
	static const char *const tenants[] = {"acme", "acm", "acme", "acmee"};
	struct store_event ev;
	struct store_txn *t;
	struct seen all = {0}, page;
	uint64_t after = 0;
	int rc;

	/* Prefix-related tenants interleave; acme gets every other event, and
	 * some of its events are dead. */
	for (uint8_t i = 1; i <= 24; i++) {
		mk(&ev, tenants[i % 4], i, i);
		if (i % 5 == 0)
			ev.state = STORE_EV_DEAD;
		assert_int_equal(add(&ev), 0);
	}
	t = rd();
	for (int p = 0; p < 20; p++) {
		page = (struct seen){.stop_at = 4};
		rc = store_event_scan(t, "acme", STORE_EV_PENDING, after, collect, &page);
		for (int i = 0; i < page.n; i++)
			all.seq[all.n++] = page.seq[i];
		if (rc == 0)
			break;
		assert_int_equal(rc, 9);
		after = page.seq[page.n - 1];
	}
	store_read_end(t);
	/* acme: even i; minus 10 and 20 (dead). */
	assert_int_equal(all.n, 10);
	for (int i = 1; i < all.n; i++)
		assert_true(all.seq[i] > all.seq[i - 1]);
	for (int i = 0; i < all.n; i++)
		assert_true(all.seq[i] % 2 == 0 && all.seq[i] % 5 != 0);

	page = scan("acme", STORE_EV_DEAD, 0);
	assert_int_equal(page.n, 2);
	assert_true(page.seq[0] == 10 && page.seq[1] == 20);
	assert_int_equal(scan("acme", STORE_EV_DEAD, 10).n, 1);
	assert_int_equal(scan("acme", STORE_EV_DEAD, 20).n, 0);
	assert_int_equal(scan("acme", STORE_EV_DEAD, UINT64_MAX).n, 0);
	assert_int_equal(scan("acme", STORE_EV_DELIVERED, 0).n, 0);
	page = scan("acm", STORE_EV_PENDING, 0); /* 1, 9, 13, 17, 21 */
	assert_int_equal(page.n, 5);
	for (int i = 0; i < page.n; i++)
		assert_true(page.seq[i] % 4 == 1);
	assert_int_equal(scan("acmee", STORE_EV_PENDING, 0).n + scan("acmee", STORE_EV_DEAD, 0).n,
	                 6);
	assert_int_equal(scan("nobody", STORE_EV_PENDING, 0).n, 0);
	assert_true(pending("acme") == 10);
	assert_true(pending("acm") == 5);
	assert_true(pending(NULL) == 20);

	t = rd();
	assert_int_equal(store_event_scan(t, "", STORE_EV_PENDING, 0, collect, &page), EINVAL);
	assert_int_equal(store_event_scan(t, "acme", 3, 0, collect, &page), EINVAL);
	assert_int_equal(store_event_scan(t, "acme", -1, 0, collect, &page), EINVAL);
	store_read_end(t);
}

static void test_del_removes_everything(void **state)
{
	struct store_event ev, back;
	struct raw r;

	mk(&ev, "acme", 1, 100);
	assert_int_equal(add(&ev), 0);
	mk(&back, "acme", 2, 100);
	back.state = STORE_EV_DELIVERED;
	assert_int_equal(add(&back), 0);
	r = raw_counts();
	assert_int_equal(r.outbox, 2);
	assert_int_equal(r.evbytenant, 2);
	assert_int_equal(r.evid, 2);
	assert_int_equal(r.evdue, 2);

	assert_int_equal(del(1), 0);
	assert_int_equal(del(2), 0);
	assert_int_equal(get(1, &back), ENOENT);
	assert_int_equal(by_id(ev.delivery_id, &back), ENOENT);
	assert_int_equal(scan("acme", STORE_EV_PENDING, 0).n, 0);
	assert_int_equal(due_until(INT64_MAX).n, 0);
	assert_true(pending("acme") == 0);
	assert_true(pending(NULL) == 0);
	r = raw_counts();
	assert_int_equal(r.outbox, 0);
	assert_int_equal(r.evbytenant, 0);
	assert_int_equal(r.evid, 0);
	assert_int_equal(r.evdue, 0);
	assert_int_equal(r.meta, 2); /* the version and the last seq; no zero counters */
}

static void test_reopen_finds_everything(void **state)
{
	struct store_event ev, back;

	mk(&ev, "acme", 1, 100);
	assert_int_equal(add(&ev), 0);
	mk(&ev, "beta", 2, 50);
	ev.body_len = 3000;
	memset(ev.body, '{', ev.body_len);
	assert_int_equal(add(&ev), 0);
	reopen();
	assert_int_equal(get(2, &back), 0);
	assert_memory_equal(&back, &ev, sizeof(ev));
	assert_int_equal(by_id(ev.delivery_id, &back), 0);
	assert_true(back.seq == 2);
	assert_int_equal(due_until(INT64_MAX).n, 2);
	assert_true(due_until(INT64_MAX).seq[0] == 2);
	assert_int_equal(scan("acme", STORE_EV_PENDING, 0).n, 1);
	assert_true(pending(NULL) == 2);
	assert_true(pending("beta") == 1);
}

/* A DELETE's shape: the allocation's new version and its event in one step. */
struct both {
	struct store_alloc rec;
	struct store_event ev;
	bool fail;
	int rc;
};

static int step_both(struct store_txn *t, void *arg, size_t i)
{
	struct both *b = arg;

	b->rc = store_alloc_put(t, &b->rec);
	if (b->rc == 0)
		b->rc = store_event_add(t, &b->ev);
	return b->rc ? b->rc : b->fail;
}

static void test_rolled_back_with_its_cause(void **state)
{
	struct both b = {.fail = true};
	struct store_alloc back;
	struct store_txn *t;

	b.rec.id[0] = 1;
	strcpy(b.rec.tenant, "acme");
	strcpy(b.rec.txn_id, "order-1");
	b.rec.created_ms = 1000;
	b.rec.dealloc_ms = 90000;
	mk(&b.ev, "acme", 1, 100);
	assert_int_equal(store_write(st, step_both, &b, 1), 0);
	assert_int_equal(b.rc, 0);
	t = rd();
	assert_int_equal(store_alloc_get(t, b.rec.id, &back), ENOENT);
	assert_int_equal(store_event_get(t, 1, &b.ev), ENOENT);
	assert_int_equal(store_event_by_delivery(t, b.ev.delivery_id, &b.ev), ENOENT);
	assert_true(store_event_pending_count(t, NULL) == 0);
	store_read_end(t);
	assert_int_equal(due_until(INT64_MAX).n, 0);

	b.fail = false;
	mk(&b.ev, "acme", 1, 100);
	assert_int_equal(store_write(st, step_both, &b, 1), 0);
	assert_int_equal(b.rc, 0);
	assert_true(b.ev.seq == 1); /* the rolled-back seq was never seen */
	t = rd();
	assert_int_equal(store_alloc_get(t, b.rec.id, &back), 0);
	assert_int_equal(store_event_get(t, 1, &b.ev), 0);
	assert_true(store_active_count(t, "acme") == 1);
	assert_true(store_event_pending_count(t, "acme") == 1);
	store_read_end(t);
}

static int step_read_only(struct store_txn *t, void *arg, size_t i)
{
	return 0;
}

static void test_refusals(void **state)
{
	struct store_event ev, back;
	struct store_txn *t;

	mk(&ev, "acme", 1, 100);
	ev.body_len = STORE_EVENT_BODY_MAX + 1;
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "", 1, 100);
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "acme", 1, 100);
	ev.type[0] = '\0';
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "acme", 1, 100);
	ev.state = 3;
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "acme", 1, 100);
	memset(ev.url, 'x', sizeof(ev.url)); /* unterminated */
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "acme", 1, 100);
	memset(ev.tenant, 't', sizeof(ev.tenant));
	assert_int_equal(add(&ev), EINVAL);
	mk(&ev, "acme", 1, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 1);
	/* The same delivery id twice. */
	mk(&back, "beta", 1, 100);
	assert_int_equal(add(&back), EEXIST);
	assert_true(back.seq == 0);
	ev.body_len = STORE_EVENT_BODY_MAX + 1;
	assert_int_equal(put(&ev), EINVAL);
	assert_int_equal(get(1, &back), 0);
	assert_true(back.body_len == 7);
	assert_int_equal(del(0), ENOENT);

	/* Not in a write step. */
	t = rd();
	mk(&back, "acme", 2, 100);
	assert_int_equal(store_event_add(t, &back), EINVAL);
	assert_int_equal(store_event_put(t, &ev), EINVAL);
	assert_int_equal(store_event_del(t, 1), EINVAL);
	store_read_end(t);
	assert_int_equal(store_write(st, step_read_only, NULL, 1), 0);
	assert_true(pending(NULL) == 1);
	mk(&ev, "acme", 2, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 2); /* refused adds took no seq */
}

static void test_map_full(void **state)
{
	struct store_event *ev = calloc(2, sizeof(*ev)), *back = ev + 1;
	uint64_t n = 0;
	int rc = 0;

	assert_non_null(ev);
	store_close(st);
	open_store(1 << 20);
	for (uint32_t i = 0; i < 1000; i++) {
		mk(ev, "acme", 0, 100);
		memcpy(ev->delivery_id, &i, sizeof(i));
		ev->body_len = STORE_EVENT_BODY_MAX;
		memset(ev->body, 'b', ev->body_len);
		rc = add(ev);
		if (rc)
			break;
		n++;
	}
	assert_int_equal(rc, ENOSPC);
	assert_true(n > 10);
	assert_true(pending("acme") == n);
	assert_int_equal(get(n, back), 0);
	assert_int_equal(get(n + 1, back), ENOENT);
	assert_int_equal(scan("acme", STORE_EV_PENDING, 0).n, (int)n);
	/* Freeing some makes room again. */
	for (uint64_t s = 1; s <= 8; s++)
		assert_int_equal(del(s), 0);
	ev->delivery_id[15] = 0xee;
	assert_int_equal(add(ev), 0);
	assert_true(ev->seq == n + 1);
	free(ev);
}

/* A directory written before the outbox: schema 1, no outbox tables. */
static int step_alloc(struct store_txn *t, void *arg, size_t i)
{
	return store_alloc_put(t, arg);
}

static void test_upgrade_from_schema_1(void **state)
{
	static const char *const names[] = {"outbox", "evbytenant", "evid", "evdue"};
	struct store_alloc rec = {0}, back;
	struct store_event ev;
	struct store_txn *t;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint32_t ver = 1;
	MDB_val k = {1, "V"}, v = {sizeof(ver), &ver};

	rec.id[0] = 7;
	strcpy(rec.tenant, "acme");
	strcpy(rec.txn_id, "order-7");
	rec.dealloc_ms = 5000;
	assert_int_equal(store_write(st, step_alloc, &rec, 1), 0);
	store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
		assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	}
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	open_store(0);
	t = rd();
	assert_int_equal(store_alloc_get(t, rec.id, &back), 0);
	assert_string_equal(back.txn_id, "order-7");
	assert_true(store_active_count(t, "acme") == 1);
	assert_true(store_event_pending_count(t, NULL) == 0);
	assert_int_equal(store_event_get(t, 1, &ev), ENOENT);
	store_read_end(t);
	mk(&ev, "acme", 1, 100);
	assert_int_equal(add(&ev), 0);
	assert_true(ev.seq == 1);
	reopen();
	assert_int_equal(get(1, &ev), 0);
	assert_true(pending(NULL) == 1);

	/* A newer schema than this build knows is refused. */
	store_close(st);
	ver = 1000; /* newer than any schema this build knows */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	{
		struct store_opts o = {.dir = dir};

		assert_int_not_equal(store_open(&st, &o), 0);
	}
	ver = 2;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	open_store(0); /* for teardown */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip_full_and_empty_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seq_never_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_moves_indexes_and_counter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_order_and_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_due_walk_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_paging_and_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del_removes_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_finds_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rolled_back_with_its_cause, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_from_schema_1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
