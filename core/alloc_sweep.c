/* alloc_sweep: time-driven changes. Deallocates allocations at their
 * deallocation_time exactly as DELETE does, releases cooling PINs and purges
 * vault records past retention. The store's expiry index holds when each is
 * due, so a restart simply catches up. */
#include "core/alloc_int.h"

#include <errno.h>
#include <string.h>

#include "core/base/log.h"
#include "core/events.h"

#define SWEEP_BATCH 256

struct due {
	uint8_t ids[SWEEP_BATCH][STORE_ID_LEN];
	size_t n;
};

static int collect(void *arg, const uint8_t id[STORE_ID_LEN], int64_t at_ms)
{
	struct due *d = arg;

	(void)at_ms;
	memcpy(d->ids[d->n++], id, STORE_ID_LEN);
	return d->n == SWEEP_BATCH;
}

struct sweep_job {
	const struct config *cfg;
	struct due due;
	int64_t now;
	int changed;
};

/* Retention for a tenant that left the config: DESIGN §1's defaults. */
static const struct tenant *tenant_or_default(const struct config *cfg, const char *id)
{
	static struct tenant fallback = {
	    .dealloc = {.retention_ms = 30LL * 24 * 3600 * 1000},
	};
	const struct tenant *t = config_tenant(cfg, id);

	return t ? t : &fallback;
}

static int sweep_step(struct store_txn *txn, void *arg, size_t i)
{
	struct sweep_job *j = arg;
	struct store_alloc rec;
	char ids[37];
	int rc = store_alloc_get(txn, j->due.ids[i], &rec);

	if (rc != 0)
		return rc == ENOENT ? 0 : rc;
	alloc_id_format(rec.id, ids);
	if (rec.state == STORE_ACTIVE) {
		if (rec.dealloc_ms > j->now)
			return 0;
		const struct tenant *t = tenant_or_default(j->cfg, rec.tenant);

		alloc_vault(&rec, t, j->now);
		rc = store_alloc_put(txn, &rec);
		if (rc == 0)
			rc = events_add_deallocation(txn, t, &rec, j->now);
		if (rc == 0)
			log_info("sweep", "allocation %s of %s expired: vault", ids, rec.tenant);
	} else if (rec.purge_ms <= j->now) {
		rc = store_alloc_del(txn, rec.id);
		if (rc == 0)
			log_debug("sweep", "allocation %s purged after retention", ids);
	} else if (rec.cooling_until_ms > 0 && rec.cooling_until_ms <= j->now) {
		rec.cooling_until_ms = 0;
		rc = store_alloc_put(txn, &rec);
	} else {
		return 0;
	}
	if (rc == 0)
		j->changed++;
	else
		log_err("sweep", "allocation %s: %s", ids, strerror(rc));
	return rc;
}

int alloc_sweep(struct alloc_service *s, const struct config *cfg, int64_t now_ms)
{
	struct sweep_job j = {.cfg = cfg, .now = now_ms};
	struct store_txn *txn;
	int rc, total = 0;

	do {
		j.due.n = 0;
		j.changed = 0;
		rc = store_read_begin(s->st, &txn);
		if (rc != 0)
			return total;
		store_due_each(txn, now_ms, collect, &j.due);
		store_read_end(txn);
		if (j.due.n == 0)
			break;
		rc = store_write(s->st, sweep_step, &j, j.due.n);
		if (rc != 0) {
			log_err("sweep", "could not commit: %s", strerror(rc));
			break;
		}
		total += j.changed;
		if (j.changed > 0)
			events_kick(s->events);
	} while (j.due.n == SWEEP_BATCH && j.changed > 0);
	return total;
}
