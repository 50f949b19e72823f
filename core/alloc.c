/* alloc: create, read, update, delete and bulk update of allocations. Reads
 * run on the caller's thread; every change runs as a step on the store's
 * writer, where the target and conflict checks (codes 1, 22, 18, 19, 4) see
 * the same snapshot the change commits to. */
#include "core/alloc_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/rand.h"
#include "core/events.h"
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

struct store *alloc_service_store(struct alloc_service *s)
{
	return s->st;
}

void alloc_service_set_events(struct alloc_service *s, struct events *e)
{
	s->events = e;
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

/* Every change is a job on the store writer. Its head is first in each job
 * struct, so the store's completion can finish any of them. */
struct job_head {
	struct alloc_result *res;
	size_t nres;
	alloc_done_fn done;
	void *arg;
	struct events *kick; /* set when the job may have written an event */
};

static void job_finish(void *arg, int rc)
{
	struct job_head *h = arg;
	alloc_done_fn done = h->done;
	void *done_arg = h->arg;

	if (rc == 0 && h->kick)
		events_kick(h->kick);
	for (size_t i = 0; rc != 0 && i < h->nres; i++)
		result_store_err(&h->res[i], rc);
	free(h);
	done(done_arg);
}

static void job_submit(struct alloc_service *s, struct job_head *h, store_step_fn fn, size_t n)
{
	int rc = store_write_async(s->st, fn, h, n, job_finish);

	if (rc != 0)
		job_finish(h, rc);
}

struct create_job {
	struct job_head h;
	const struct tenant *t;
	struct alloc_draft d;
};

static int create_step(struct store_txn *txn, void *arg, size_t step)
{
	struct create_job *j = arg;
	struct alloc_result *res = j->h.res;
	struct store_alloc *rec = &j->d.rec;
	struct alloc_err e;
	uint8_t id[STORE_ID_LEN];
	int rc = store_txnid_get(txn, rec->tenant, rec->txn_id, id);

	(void)step;
	if (rc == 0) {
		char ids[37];

		rc = store_alloc_get(txn, id, &res->rec);
		if (rc != 0)
			return step_end(res, &e, rc, NULL);
		alloc_id_format(id, ids);
		res->code = AC_TXN_EXISTS;
		res->has_rec = true;
		snprintf(res->message, sizeof(res->message),
		         "an active allocation (greenpin_id %s) has this transaction_id", ids);
		return 1;
	}
	if (rc != ENOENT)
		return step_end(res, &e, rc, NULL);
	rc = j->d.auto_vn ? settle_auto_vn(txn, j->t, &j->d, &e) : settle(txn, &j->d, &e);
	if (rc == 0)
		rc = store_alloc_put(txn, rec);
	return step_end(res, &e, rc, rec);
}

/* The body stage runs here, on the caller's thread; only a valid create
 * reaches the writer. */
static void submit_create(struct alloc_service *s, const struct alloc_op *op, struct job_head *h)
{
	struct create_job *j = (struct create_job *)h;
	const struct tenant *t = op->t;
	struct alloc_err e;
	int64_t now = clock_now_ms();

	j->t = t;
	if (alloc_check_body(op->cfg, t, NULL, op->req, false, &j->d, &e) != 0) {
		result_err(h->res, &e);
		job_finish(h, 0);
		return;
	}
	rand_bytes(j->d.rec.id, STORE_ID_LEN);
	j->d.rec.id[6] = (uint8_t)((j->d.rec.id[6] & 0x0f) | 0x40); /* UUID version 4 */
	j->d.rec.id[8] = (uint8_t)((j->d.rec.id[8] & 0x3f) | 0x80);
	j->d.rec.created_ms = now;
	j->d.rec.dealloc_ms = now + (j->d.set_duration ? j->d.duration_ms : t->dealloc.default_ms);
	job_submit(s, h, create_step, 1);
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

/* Updates (one, or a bulk's items in order), or the list change of a
 * /numbers request (number set). Owns copies of what it was given. */
struct update_job {
	struct job_head h;
	const struct config *cfg;
	const struct tenant *t;
	int64_t now;
	int num_side;               /* /numbers: the side */
	bool num_add;               /* /numbers: add, else remove */
	char number[ALLOC_RAW_LEN]; /* /numbers: the number as given; "" otherwise */
	struct alloc_req items[];   /* h.nres */
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
	struct alloc_result *res = &j->h.res[i];
	bool numbers = j->number[0] != '\0';
	struct store_alloc old;
	struct alloc_draft d;
	struct alloc_req numreq;
	struct alloc_err e;
	int rc;

	if (!req->has_id) {
		alloc_fail(&e, AC_MISSING, "greenpin_id is required for each item");
		return step_end(res, &e, -1, NULL);
	}
	rc = load_target(txn, j->t, req->id, &old, &e, true);
	if (rc == 0 && numbers) {
		rc = number_req(j, &old, &numreq, &e);
		req = &numreq;
	}
	if (rc == 0 && alloc_check_body(j->cfg, j->t, &old, req, numbers, &d, &e) != 0)
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

static struct update_job *update_job_new(const struct alloc_op *op, size_t n)
{
	struct update_job *j = calloc(1, sizeof(*j) + n * sizeof(j->items[0]));

	if (!j)
		return NULL;
	j->cfg = op->cfg;
	j->t = op->t;
	j->now = clock_now_ms();
	return j;
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
	struct job_head h;
	const struct tenant *t;
	uint8_t id[STORE_ID_LEN];
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
	/* The event commits with the change or not at all. */
	if (rc == 0)
		rc = events_add_deallocation(txn, j->t, &rec, j->now);
	return step_end(j->h.res, &e, rc, &rec);
}

static struct job_head *job_new(const struct alloc_op *op)
{
	size_t n = op->kind == ALLOC_BULK ? op->n : 1;
	struct job_head *h;

	switch (op->kind) {
	case ALLOC_CREATE:
		h = calloc(1, sizeof(struct create_job));
		break;
	case ALLOC_DELETE:
		h = calloc(1, sizeof(struct delete_job));
		break;
	default:
		h = (struct job_head *)update_job_new(op, n);
		break;
	}
	if (h) {
		h->res = op->res;
		h->nres = n;
	}
	return h;
}

void alloc_submit(struct alloc_service *s, const struct alloc_op *op, alloc_done_fn done, void *arg)
{
	struct job_head *h;
	struct update_job *u;
	struct delete_job *dj;

	if (op->kind == ALLOC_BULK && op->n == 0) {
		done(arg);
		return;
	}
	memset(op->res, 0, (op->kind == ALLOC_BULK ? op->n : 1) * sizeof(*op->res));
	h = job_new(op);
	if (!h) {
		for (size_t i = 0; i < (op->kind == ALLOC_BULK ? op->n : 1); i++)
			result_store_err(&op->res[i], ENOMEM);
		done(arg);
		return;
	}
	h->done = done;
	h->arg = arg;
	switch (op->kind) {
	case ALLOC_CREATE:
		submit_create(s, op, h);
		return;
	case ALLOC_DELETE:
		dj = (struct delete_job *)h;
		dj->t = op->t;
		memcpy(dj->id, op->id, STORE_ID_LEN);
		dj->now = clock_now_ms();
		h->kick = s->events;
		job_submit(s, h, delete_step, 1);
		return;
	case ALLOC_BULK:
		u = (struct update_job *)h;
		memcpy(u->items, op->req, op->n * sizeof(*op->req));
		job_submit(s, h, update_step, op->n);
		return;
	case ALLOC_UPDATE:
	case ALLOC_NUMBER_ADD:
	case ALLOC_NUMBER_REMOVE:
		u = (struct update_job *)h;
		if (op->kind == ALLOC_UPDATE) {
			u->items[0] = *op->req;
		} else {
			u->items[0].parse_code = AC_OK;
			u->num_side = op->side;
			u->num_add = op->kind == ALLOC_NUMBER_ADD;
			/* "" would read as "not a /numbers request": any non-empty
			 * stand-in fails normalisation the same way. */
			snprintf(u->number, sizeof(u->number), "%s",
			         op->number && op->number[0] ? op->number : "?");
		}
		u->items[0].has_id = true;
		memcpy(u->items[0].id, op->id, STORE_ID_LEN);
		job_submit(s, h, update_step, 1);
		return;
	}
}

/* The blocking calls: submit, then sleep until done. */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void waiter_wake(void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void submit_wait(struct alloc_service *s, const struct alloc_op *op)
{
	struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

	alloc_submit(s, op, waiter_wake, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
}

void alloc_create(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const struct alloc_req *req, struct alloc_result *res)
{
	struct alloc_op op = {.kind = ALLOC_CREATE, .cfg = cfg, .t = t, .req = req, .res = res};

	submit_wait(s, &op);
}

void alloc_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const uint8_t id[STORE_ID_LEN], const struct alloc_req *req,
                  struct alloc_result *res)
{
	struct alloc_op op = {.kind = ALLOC_UPDATE, .cfg = cfg, .t = t, .req = req, .res = res};

	memcpy(op.id, id, STORE_ID_LEN);
	submit_wait(s, &op);
}

void alloc_bulk_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                       const struct alloc_req *items, size_t n, struct alloc_result *res)
{
	struct alloc_op op = {
	    .kind = ALLOC_BULK, .cfg = cfg, .t = t, .req = items, .n = n, .res = res};

	submit_wait(s, &op);
}

void alloc_number_add(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                      const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                      struct alloc_result *res)
{
	struct alloc_op op = {
	    .kind = ALLOC_NUMBER_ADD, .cfg = cfg, .t = t, .side = side, .number = raw, .res = res};

	memcpy(op.id, id, STORE_ID_LEN);
	submit_wait(s, &op);
}

void alloc_number_remove(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                         const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                         struct alloc_result *res)
{
	struct alloc_op op = {.kind = ALLOC_NUMBER_REMOVE,
	                      .cfg = cfg,
	                      .t = t,
	                      .side = side,
	                      .number = raw,
	                      .res = res};

	memcpy(op.id, id, STORE_ID_LEN);
	submit_wait(s, &op);
}

void alloc_delete(struct alloc_service *s, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
                  struct alloc_result *res)
{
	struct alloc_op op = {.kind = ALLOC_DELETE, .t = t, .res = res};

	memcpy(op.id, id, STORE_ID_LEN);
	submit_wait(s, &op);
}
