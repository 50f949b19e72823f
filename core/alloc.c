/* alloc: create, read, update, delete and bulk update of allocations. Reads
 * run on the caller's thread; every change runs as a step on the store's
 * writer, where the target and conflict checks (codes 1, 22, 18, 19, 4) see
 * the same snapshot the change commits to. */
#include "core/alloc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/rand.h"
#include "core/number.h"

int alloc_service_new(struct alloc_service **sp, struct store *st)
{
	struct alloc_service *s = calloc(1, sizeof(*s));

	if (!s)
		return ENOMEM;
	s->st = st;
	*sp = s;
	return 0;
}

void alloc_service_free(struct alloc_service *s)
{
	free(s);
}

static void result_err(struct alloc_result *res, const struct alloc_err *e)
{
	res->code = e->code;
	snprintf(res->message, sizeof(res->message), "%s", e->msg);
}

static void result_store_err(struct alloc_result *res, int rc)
{
	res->code = AC_INTERNAL;
	res->has_rec = false;
	if (rc == ENOSPC)
		snprintf(res->message, sizeof(res->message),
		         "storage full: the change was not made; raise store.map_size");
	else
		snprintf(res->message, sizeof(res->message), "storage error: %s", strerror(rc));
}

static void result_ok(struct alloc_result *res, const struct store_alloc *rec)
{
	res->code = AC_OK;
	res->message[0] = '\0';
	res->rec = *rec;
	res->has_rec = true;
}

/* A step's outcome: -1 with e filled, a store errno, or 0. Returns what the
 * step must return (non-zero rolls its changes back). */
static int step_end(struct alloc_result *res, struct alloc_err *e, int rc,
                    const struct store_alloc *rec)
{
	if (rc == -1)
		result_err(res, e);
	else if (rc != 0)
		result_store_err(res, rc);
	else
		result_ok(res, rec);
	return rc;
}

/* The checks of the conflict stage in precedence order (19, then 4), then
 * the PINs themselves. */
static int settle(struct store_txn *txn, struct alloc_draft *d, struct alloc_err *e)
{
	struct store_alloc *rec = &d->rec;
	bool pinned[2] = {rec->side[0].pin[0] || d->pin_gen[0],
	                  rec->side[1].pin[0] || d->pin_gen[1]};
	int rc = alloc_check_r1(txn, rec, pinned, e);

	/* a first; it must respect b's PIN when b keeps one, and b respects a's. */
	bool b_kept = d->pin_gen[STORE_B] == 0 && rec->side[STORE_B].pin[0];

	for (int s = 0; rc == 0 && s < 2; s++)
		if (d->pin_gen[s] > 0 || d->pin_check[s])
			rc = alloc_pin_settle(
			    txn, rec, s, d->pin_gen[s],
			    s == STORE_A ? b_kept : rec->side[STORE_A].pin[0] != 0, e);
	return rc;
}

/* Neither side named VNs: the first VN of the pool, from a random start,
 * where R1 holds and the PINs are free. */
static int settle_auto_vn(struct store_txn *txn, const struct tenant *t, struct alloc_draft *d,
                          struct alloc_err *e)
{
	uint64_t n = config_pool_size(t), start, tries;
	struct store_alloc base = d->rec;
	int rc = -1;

	if (n == 0) {
		alloc_fail(e, AC_FORBIDDEN, "this tenant has no virtual numbers");
		return -1;
	}
	start = rand_below(n);
	tries = n < 4096 ? n : 4096;
	for (uint64_t k = 0; k < tries; k++) {
		d->rec = base;
		config_pool_vn(t, (start + k) % n, d->rec.side[STORE_A].vns[0]);
		d->rec.side[STORE_A].nvns = 1;
		memcpy(d->rec.side[STORE_B].vns[0], d->rec.side[STORE_A].vns[0], STORE_NUM_LEN);
		d->rec.side[STORE_B].nvns = 1;
		rc = settle(txn, d, e);
		if (rc != -1)
			return rc;
	}
	return rc;
}

struct create_job {
	const struct tenant *t;
	struct alloc_draft d;
	struct alloc_result *res;
};

static int create_step(struct store_txn *txn, void *arg, size_t step)
{
	struct create_job *j = arg;
	struct store_alloc *rec = &j->d.rec;
	struct alloc_err e;
	uint8_t id[STORE_ID_LEN];
	int rc = store_txnid_get(txn, rec->tenant, rec->txn_id, id);

	(void)step;
	if (rc == 0) {
		char ids[37];

		rc = store_alloc_get(txn, id, &j->res->rec);
		if (rc != 0)
			return step_end(j->res, &e, rc, NULL);
		alloc_id_format(id, ids);
		j->res->code = AC_TXN_EXISTS;
		j->res->has_rec = true;
		snprintf(j->res->message, sizeof(j->res->message),
		         "an active allocation (greenpin_id %s) has this transaction_id", ids);
		return 1;
	}
	if (rc != ENOENT)
		return step_end(j->res, &e, rc, NULL);
	rc = j->d.auto_vn ? settle_auto_vn(txn, j->t, &j->d, &e) : settle(txn, &j->d, &e);
	if (rc == 0)
		rc = store_alloc_put(txn, rec);
	return step_end(j->res, &e, rc, rec);
}

void alloc_create(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const struct alloc_req *req, struct alloc_result *res)
{
	struct create_job j = {.t = t, .res = res};
	struct alloc_err e;
	int64_t now = clock_now_ms();
	int rc;

	memset(res, 0, sizeof(*res));
	if (alloc_check_body(cfg, t, NULL, req, false, &j.d, &e) != 0) {
		result_err(res, &e);
		return;
	}
	rand_bytes(j.d.rec.id, STORE_ID_LEN);
	j.d.rec.id[6] = (uint8_t)((j.d.rec.id[6] & 0x0f) | 0x40); /* UUID version 4 */
	j.d.rec.id[8] = (uint8_t)((j.d.rec.id[8] & 0x3f) | 0x80);
	j.d.rec.created_ms = now;
	j.d.rec.dealloc_ms = now + (j.d.set_duration ? j.d.duration_ms : t->dealloc.default_ms);
	rc = store_write(s->st, create_step, &j, 1);
	if (rc != 0)
		result_store_err(res, rc);
}

/* Target stage: the tenant's record, active. 0, or -1 with e filled. */
static int load_target(struct store_txn *txn, const struct tenant *t,
                       const uint8_t id[STORE_ID_LEN], struct store_alloc *rec, struct alloc_err *e,
                       bool want_active)
{
	char ids[37];
	int rc = store_alloc_get(txn, id, rec);

	alloc_id_format(id, ids);
	if (rc == ENOENT || (rc == 0 && strcmp(rec->tenant, t->id) != 0)) {
		alloc_fail(e, AC_NOT_FOUND, "no allocation with greenpin_id %s", ids);
		return -1;
	}
	if (rc != 0)
		return rc;
	if (want_active && rec->state != STORE_ACTIVE) {
		alloc_fail(e, AC_GONE, "allocation %s is already deallocated", ids);
		return -1;
	}
	return 0;
}

void alloc_get(struct alloc_service *s, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
               struct alloc_result *res)
{
	struct store_txn *txn;
	struct store_alloc rec;
	struct alloc_err e;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = store_read_begin(s->st, &txn);
	if (rc != 0) {
		result_store_err(res, rc);
		return;
	}
	rc = load_target(txn, t, id, &rec, &e, false);
	store_read_end(txn);
	step_end(res, &e, rc, &rec);
}

/* An update, or the list change of a /numbers request (number != NULL). */
struct update_job {
	const struct config *cfg;
	const struct tenant *t;
	const struct alloc_req *items;
	struct alloc_result *res;
	int64_t now;
	int num_side;       /* /numbers: the side */
	const char *number; /* /numbers: the number as given */
	bool num_add;
};

/* Turns a /numbers request into the update of that side's list. */
static int number_req(const struct update_job *j, const struct store_alloc *old,
                      struct alloc_req *req, struct alloc_err *e)
{
	const struct store_side *side = &old->side[j->num_side];
	struct alloc_side_req *sr = &req->side[j->num_side];
	char num[STORE_NUM_LEN];
	int at = -1;

	memset(req, 0, sizeof(*req));
	req->parse_code = AC_OK;
	sr->has_numbers = true;
	if (number_normalize(j->number, j->t->country, j->t->national_length, num) == 0)
		for (uint8_t i = 0; i < side->nnumbers; i++)
			if (strcmp(side->numbers[i], num) == 0)
				at = i;
	if (!j->num_add && at < 0) {
		alloc_fail(e, AC_NO_MAPPING, "side %s does not hold the number %s",
		           j->num_side ? "b" : "a", j->number);
		return -1;
	}
	for (uint8_t i = 0; i < side->nnumbers; i++)
		if ((int)i != at || j->num_add)
			snprintf(sr->numbers[sr->nnumbers++], ALLOC_RAW_LEN, "%s",
			         side->numbers[i]);
	if (j->num_add) {
		if (side->nnumbers >= STORE_MAX_NUMS) {
			alloc_fail(e, AC_BAD_PARAM, "side %s already holds %d numbers",
			           j->num_side ? "b" : "a", STORE_MAX_NUMS);
			return -1;
		}
		snprintf(sr->numbers[sr->nnumbers++], ALLOC_RAW_LEN, "%s", j->number);
	}
	return 0;
}

static int update_step(struct store_txn *txn, void *arg, size_t i)
{
	struct update_job *j = arg;
	const struct alloc_req *req = &j->items[i];
	struct alloc_result *res = &j->res[i];
	struct store_alloc old;
	struct alloc_draft d;
	struct alloc_req numreq;
	struct alloc_err e;
	int rc;

	if (!req->has_id && !j->number) {
		alloc_fail(&e, AC_MISSING, "greenpin_id is required for each item");
		return step_end(res, &e, -1, NULL);
	}
	rc = load_target(txn, j->t, req->id, &old, &e, true);
	if (rc == 0 && j->number) {
		rc = number_req(j, &old, &numreq, &e);
		req = &numreq;
	}
	if (rc == 0 && alloc_check_body(j->cfg, j->t, &old, req, j->number != NULL, &d, &e) != 0)
		rc = -1;
	if (rc != 0)
		return step_end(res, &e, rc, NULL);
	if (d.set_duration)
		d.rec.dealloc_ms = j->now + d.duration_ms;
	/* Its own index entries must not count as conflicts: drop the old version
	 * first; the nested transaction makes the pair atomic. */
	rc = store_alloc_del(txn, old.id);
	if (rc == 0)
		rc = settle(txn, &d, &e);
	if (rc == 0)
		rc = store_alloc_put(txn, &d.rec);
	return step_end(res, &e, rc, &d.rec);
}

static void run_updates(struct alloc_service *s, struct update_job *j, size_t n)
{
	int rc;

	j->now = clock_now_ms();
	memset(j->res, 0, n * sizeof(*j->res));
	rc = store_write(s->st, update_step, j, n);
	for (size_t i = 0; rc != 0 && i < n; i++)
		result_store_err(&j->res[i], rc);
}

void alloc_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const uint8_t id[STORE_ID_LEN], const struct alloc_req *req,
                  struct alloc_result *res)
{
	struct alloc_req item = *req;
	struct update_job j = {.cfg = cfg, .t = t, .items = &item, .res = res};

	item.has_id = true;
	memcpy(item.id, id, STORE_ID_LEN);
	run_updates(s, &j, 1);
}

void alloc_bulk_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                       const struct alloc_req *items, size_t n, struct alloc_result *res)
{
	struct update_job j = {.cfg = cfg, .t = t, .items = items, .res = res};

	if (n > 0)
		run_updates(s, &j, n);
}

static void number_change(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                          const uint8_t id[STORE_ID_LEN], int side, const char *raw, bool add,
                          struct alloc_result *res)
{
	struct alloc_req item = {.has_id = true};
	struct update_job j = {.cfg = cfg,
	                       .t = t,
	                       .items = &item,
	                       .res = res,
	                       .num_side = side,
	                       .number = raw,
	                       .num_add = add};

	memcpy(item.id, id, STORE_ID_LEN);
	run_updates(s, &j, 1);
}

void alloc_number_add(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                      const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                      struct alloc_result *res)
{
	number_change(s, cfg, t, id, side, raw, true, res);
}

void alloc_number_remove(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                         const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                         struct alloc_result *res)
{
	number_change(s, cfg, t, id, side, raw, false, res);
}

void alloc_vault(struct store_alloc *rec, const struct tenant *t, int64_t now_ms)
{
	bool pins = rec->side[0].pin[0] || rec->side[1].pin[0];

	rec->state = STORE_VAULT;
	rec->dealloc_ms = now_ms;
	rec->purge_ms = now_ms + t->dealloc.retention_ms;
	rec->cooling_until_ms = pins && t->pin.cooloff_ms > 0 ? now_ms + t->pin.cooloff_ms : 0;
}

struct delete_job {
	const struct tenant *t;
	const uint8_t *id;
	struct alloc_result *res;
	int64_t now;
};

static int delete_step(struct store_txn *txn, void *arg, size_t step)
{
	struct delete_job *j = arg;
	struct store_alloc rec;
	struct alloc_err e;
	int rc = load_target(txn, j->t, j->id, &rec, &e, true);

	(void)step;
	if (rc == 0) {
		alloc_vault(&rec, j->t, j->now);
		rc = store_alloc_put(txn, &rec);
	}
	return step_end(j->res, &e, rc, &rec);
}

void alloc_delete(struct alloc_service *s, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
                  struct alloc_result *res)
{
	struct delete_job j = {.t = t, .id = id, .res = res, .now = clock_now_ms()};
	int rc;

	memset(res, 0, sizeof(*res));
	rc = store_write(s->st, delete_step, &j, 1);
	if (rc != 0)
		result_store_err(res, rc);
}
