/* events_scan: finding work for the events worker. Walks the due events
 * in a read transaction, holds each one it takes on (so it is never sent
 * twice at once), queues it in its (tenant, host:port) group, and starts
 * what the group's webhooks.concurrency allows; collects delivered and dead
 * events past retention for a purge. Runs on the worker thread only. */
#include "core/events_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"

#define PURGE_BATCH 256

struct purge_job {
	struct events_job job;
	int64_t now;
	size_t n, purged;
	uint64_t seqs[PURGE_BATCH];
};

/* --- the held set --- */

static size_t seq_home(const struct seqset *s, uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (s->cap - 1);
}

static size_t seq_find(const struct seqset *s, uint64_t key)
{
	size_t i = seq_home(s, key);

	while (s->slot[i] != 0 && s->slot[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool seqset_has(const struct seqset *s, uint64_t seq)
{
	return s->slot[seq_find(s, seq + 1)] != 0;
}

static int seqset_add(struct seqset *s, uint64_t seq)
{
	if (2 * (s->n + 1) > s->cap) {
		struct seqset g = {.cap = s->cap * 2};

		g.slot = calloc(g.cap, sizeof(*g.slot));
		if (!g.slot)
			return ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				g.slot[seq_find(&g, s->slot[i])] = s->slot[i];
		g.n = s->n;
		free(s->slot);
		*s = g;
	}
	size_t i = seq_find(s, seq + 1);

	if (s->slot[i] == 0) {
		s->slot[i] = seq + 1;
		s->n++;
	}
	return 0;
}

static void seqset_del(struct seqset *s, uint64_t seq)
{
	size_t mask = s->cap - 1, i = seq_find(s, seq + 1), j = i;

	if (s->slot[i] == 0)
		return;
	/* Backward shift: later entries of the run move up so lookups that
	 * stop at the first empty slot still find them. */
	for (;;) {
		j = (j + 1) & mask;
		if (s->slot[j] == 0)
			break;
		size_t k = seq_home(s, s->slot[j]);

		if (((j > i) && (k <= i || k > j)) || ((j < i) && (k <= i && k > j))) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	s->slot[i] = 0;
	s->n--;
}

void events_release(struct events *e, struct delivery *d)
{
	seqset_del(&e->w->held, d->seq);
	delivery_free(d);
}

static int purge_step(struct store_txn *txn, void *arg, size_t i)
{
	struct purge_job *p = arg;
	struct store_event ev;
	int rc = store_event_get(txn, p->seqs[i], &ev);

	if (rc != 0)
		return rc == ENOENT ? 0 : rc;
	if (ev.state == STORE_EV_PENDING || ev.due_ms > p->now)
		return 0; /* replayed since the scan */
	rc = store_event_del(txn, ev.seq);
	if (rc == 0)
		p->purged++;
	return rc;
}

/* --- groups and sending --- */

static int url_hostport(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = 0;

	if (!u)
		return ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		rc = EINVAL;
	else
		snprintf(out, outlen, "%s:%s", host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* The group of (tenant, url's host:port): 0, EINVAL for an unusable URL,
 * ENOMEM. */
static int group_for(struct events_worker *w, const char *tenant, const char *url,
                     struct events_group **gp)
{
	struct events_group *g;
	char hp[300];
	int rc;

	for (g = w->groups; g; g = g->next)
		if (strcmp(g->tenant, tenant) == 0 && strcmp(g->url, url) == 0)
			goto found;
	rc = url_hostport(url, hp, sizeof(hp));
	if (rc != 0)
		return rc;
	for (g = w->groups; g; g = g->next)
		if (strcmp(g->tenant, tenant) == 0 && strcmp(g->hostport, hp) == 0)
			break;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return ENOMEM;
		snprintf(g->tenant, sizeof(g->tenant), "%s", tenant);
		snprintf(g->hostport, sizeof(g->hostport), "%s", hp);
		g->next = w->groups;
		w->groups = g;
	}
	snprintf(g->url, sizeof(g->url), "%s", url);
found:
	*gp = g;
	return 0;
}

static int concurrency(const struct tenant *t)
{
	return t->webhooks.concurrency > 0 ? t->webhooks.concurrency : 1;
}

/* Queued beyond what is sending: enough that a freed slot is refilled at
 * once, without a scan. */
static size_t backlog_cap(const struct tenant *t)
{
	size_t c = 4 * (size_t)concurrency(t);

	return c < 16 ? 16 : c > 256 ? 256 : c;
}

void events_pump(struct events *e, struct events_group *g, const struct config *cfg, int64_t now)
{
	struct events_worker *w = e->w;
	const struct tenant *t = config_tenant(cfg, g->tenant);

	if (atomic_load(&w->stopping) || clock_mono_ms() < w->hold_until)
		return;
	while (g->head && (!t || g->sending < concurrency(t))) {
		struct delivery *d = g->head;
		int rc;

		g->head = d->next;
		if (!g->head)
			g->tail = NULL;
		g->nqueued--;
		d->next = NULL;
		if (!t) {
			delivery_condemn(d, "tenant removed", now);
			events_settle(e, d);
			continue;
		}
		rc = delivery_send(w->multi, d, t, now);
		if (rc != 0) {
			log_err("events", "could not start a delivery to %s: %s", g->hostport,
			        strerror(rc));
			events_release(e, d); /* still pending: the next scan finds it */
			continue;
		}
		d->g = g;
		g->sending++;
		d->sprev = NULL;
		d->snext = w->sending;
		if (w->sending)
			w->sending->sprev = d;
		w->sending = d;
		w->nsending++;
	}
	if (!g->head && g->more)
		w->want_scan = true;
}

void events_sending_remove(struct events_worker *w, struct delivery *d)
{
	if (d->sprev)
		d->sprev->snext = d->snext;
	else
		w->sending = d->snext;
	if (d->snext)
		d->snext->sprev = d->sprev;
	d->sprev = d->snext = NULL;
	d->g->sending--;
	w->nsending--;
}

/* --- finding due events --- */

struct scan {
	struct events *e;
	const struct config *cfg;
	int64_t now;
	struct purge_job *purge; /* NULL while one is out */
	struct delivery *condemned;
};

static int hold(struct events_worker *w, struct delivery *d)
{
	if (seqset_add(&w->held, d->seq) != 0) {
		delivery_free(d);
		return ENOMEM;
	}
	return 0;
}

static int scan_one(void *arg, const struct store_event *ev)
{
	struct scan *s = arg;
	struct events_worker *w = s->e->w;
	const struct tenant *t;
	struct events_group *g = NULL;
	struct delivery *d;
	int rc;

	if (seqset_has(&w->held, ev->seq))
		return 0;
	if (ev->state != STORE_EV_PENDING) {
		if (s->purge && s->purge->n < PURGE_BATCH)
			s->purge->seqs[s->purge->n++] = ev->seq;
		return 0;
	}
	t = config_tenant(s->cfg, ev->tenant);
	rc = t ? group_for(w, ev->tenant, ev->url, &g) : 0;
	if (rc == ENOMEM)
		return rc;
	if (g && g->sending + g->nqueued >= (size_t)concurrency(t) + backlog_cap(t)) {
		g->more = true;
		return 0;
	}
	d = delivery_new(ev);
	if (!d || hold(w, d) != 0)
		return ENOMEM;
	if (t)
		d->retention_ms = t->webhooks.retention_ms;
	if (!g) {
		delivery_condemn(d, t ? "unusable URL" : "tenant removed", s->now);
		d->next = s->condemned;
		s->condemned = d;
		return 0;
	}
	if (g->tail)
		g->tail->next = d;
	else
		g->head = d;
	g->tail = d;
	g->nqueued++;
	return 0;
}

void events_scan(struct events *e, const struct config *cfg)
{
	struct events_worker *w = e->w;
	struct scan s = {.e = e, .cfg = cfg, .now = clock_now_ms()};
	struct store_txn *txn;
	struct delivery *d, *next;
	int rc;

	if (!w->purging)
		s.purge = calloc(1, sizeof(*s.purge));
	for (struct events_group *g = w->groups; g; g = g->next)
		g->more = false;
	rc = store_read_begin(e->st, &txn);
	if (rc == 0) {
		rc = store_event_due_each(txn, s.now, scan_one, &s);
		store_read_end(txn);
	}
	if (rc != 0)
		log_err("events", "reading the outbox: %s", strerror(rc));
	for (d = s.condemned; d; d = next) {
		next = d->next;
		d->next = NULL;
		events_settle(e, d);
	}
	if (s.purge && s.purge->n > 0) {
		s.purge->job.e = e;
		s.purge->job.kind = EVENTS_JOB_PURGE;
		s.purge->now = s.now;
		rc = store_write_async(e->st, purge_step, s.purge, s.purge->n, events_job_done);
		if (rc == 0) {
			w->purging = true;
			w->jobs_out++;
			s.purge = NULL;
		}
	}
	free(s.purge);
	for (struct events_group *g = w->groups; g; g = g->next)
		events_pump(e, g, cfg, s.now);
}

/* Groups are cheap to make again. */
void events_groups_reap(struct events_worker *w)
{
	struct events_group **pp = &w->groups, *g;

	while ((g = *pp)) {
		if (g->sending == 0 && g->head == NULL) {
			*pp = g->next;
			free(g);
		} else {
			pp = &g->next;
		}
	}
}

void events_purge_done(struct events *e, struct events_job *j)
{
	struct purge_job *p = (struct purge_job *)j;

	if (j->rc != 0)
		log_err("events", "purge of %zu events failed: %s", p->n, strerror(j->rc));
	else if (p->purged > 0)
		log_debug("events", "purged %zu events past retention", p->purged);
	e->w->purging = false;
	free(p);
}

/* Stopping: queued deliveries are let go (still pending in the store). */
void events_groups_clear(struct events *e)
{
	struct events_worker *w = e->w;
	struct events_group *g;
	struct delivery *d, *next;

	while ((g = w->groups)) {
		for (d = g->head; d; d = next) {
			next = d->next;
			events_release(e, d);
		}
		w->groups = g->next;
		free(g);
	}
}
