/* events_worker: the thread that drains the outbox. It finds due events in a
 * read transaction, queues them per (tenant, host:port) so no receiver gets
 * more than the tenant's webhooks.concurrency at once, sends them with
 * libcurl's multi interface, and hands each verdict to the store writer
 * without waiting for it: the completion comes back on a list, and until it
 * does the event is held (never sent twice at once). It never blocks on the
 * store nor on a receiver. */
#include "core/events_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#define TICK_MS       200  /* look at the outbox at least this often */
#define MIN_GAP_MS    10   /* and at most this often (kicks coalesce) */
#define STOP_GRACE_MS 2000 /* transfers in flight may finish when stopping */
#define HOLD_MS       1000 /* pause after the store could not record a verdict */
#define PURGE_BATCH   256

/* The seqs of events the worker holds (queued, sending, or settling):
 * linear probing over seq + 1, 0 = empty. */
struct seqset {
	uint64_t *slot;
	size_t cap, n; /* cap a power of 2 */
};

/* Deliveries to one receiver of one tenant. */
struct events_group {
	struct events_group *next;
	char tenant[STORE_TENANT_MAX + 1];
	char hostport[300];
	char url[STORE_EVENT_URL_MAX]; /* the last URL seen here: matched before parsing */
	int sending;
	struct delivery *head, *tail; /* queued, due order */
	size_t nqueued;
	bool more; /* the last scan saw due events that did not fit */
};

struct events_worker {
	pthread_t thread;
	CURLM *multi;
	atomic_bool stopping, kicked;

	pthread_mutex_t mu; /* guards wake_ok and settled */
	pthread_cond_t cv;  /* settled gained a job */
	bool wake_ok;       /* multi may be woken */
	struct events_job *settled;

	/* the worker thread's alone */
	struct seqset held;
	struct events_group *groups;
	struct delivery *sending; /* transfers in flight */
	size_t nsending;
	unsigned jobs_out; /* store jobs not yet handed back */
	bool purging;      /* a purge job is out */
	bool want_scan;
	int64_t hold_until; /* mono ms */
};

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

/* --- store jobs and their completions --- */

/* Runs on the store writer after the sync: hand over, never block. */
static void job_done(void *arg, int rc)
{
	struct events_job *j = arg;
	struct events_worker *w = j->e->w;

	j->rc = rc;
	pthread_mutex_lock(&w->mu);
	j->next = w->settled;
	w->settled = j;
	pthread_cond_signal(&w->cv);
	if (w->wake_ok)
		curl_multi_wakeup(w->multi);
	pthread_mutex_unlock(&w->mu);
}

static void release(struct events *e, struct delivery *d)
{
	seqset_del(&e->w->held, d->seq);
	delivery_free(d);
}

/* Records d's verdict through the writer; d stays held until that is done. */
static void settle(struct events *e, struct delivery *d)
{
	int rc;

	d->job.e = e;
	d->g = NULL;
	rc = store_write_async(e->st, delivery_outcome_step, d, 1, job_done);
	if (rc != 0) {
		char id[37];

		alloc_id_format(d->id, id);
		log_err("events", "event %s: verdict not recorded (%s); it will be sent again", id,
		        strerror(rc));
		release(e, d);
		return;
	}
	e->w->jobs_out++;
}

static void log_outcome(const struct delivery *d)
{
	char id[37];

	alloc_id_format(d->id, id);
	if (d->new_state == STORE_EV_DELIVERED)
		log_debug("events", "%s event %s of %s delivered (HTTP %d)", d->type, id, d->tenant,
		          d->status);
	else if (d->new_state == STORE_EV_DEAD)
		log_warn("events", "%s event %s of %s is dead: %s", d->type, id, d->tenant,
		         d->error);
	else
		log_info("events", "%s event %s of %s failed (%s); attempt %u, will retry", d->type,
		         id, d->tenant, d->error, d->attempts + 1);
}

static void drain_one(struct events *e, struct events_job *j)
{
	struct events_worker *w = e->w;

	w->jobs_out--;
	if (j->kind == EVENTS_JOB_PURGE) {
		struct purge_job *p = (struct purge_job *)j;

		if (j->rc != 0)
			log_err("events", "purge of %zu events failed: %s", p->n, strerror(j->rc));
		else if (p->purged > 0)
			log_debug("events", "purged %zu events past retention", p->purged);
		w->purging = false;
		free(p);
		return;
	}
	struct delivery *d = (struct delivery *)j;

	if (j->rc != 0) {
		char id[37];

		alloc_id_format(d->id, id);
		log_err("events", "event %s: verdict not recorded (%s); it will be sent again", id,
		        strerror(j->rc));
		w->hold_until = clock_mono_ms() + HOLD_MS;
	} else if (d->applied) {
		events_stats_count(&e->stats, d->new_state, d->done_ms - d->created_ms);
		log_outcome(d);
	}
	release(e, d);
}

static void drain(struct events *e)
{
	struct events_worker *w = e->w;
	struct events_job *j, *next;

	pthread_mutex_lock(&w->mu);
	j = w->settled;
	w->settled = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; j; j = next) {
		next = j->next;
		drain_one(e, j);
	}
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

/* Starts the group's queued deliveries while it has free slots. */
static void pump(struct events *e, struct events_group *g, const struct config *cfg, int64_t now)
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
			settle(e, d);
			continue;
		}
		rc = delivery_send(w->multi, d, t, now);
		if (rc != 0) {
			log_err("events", "could not start a delivery to %s: %s", g->hostport,
			        strerror(rc));
			release(e, d); /* still pending: the next scan finds it */
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

static void unlink_sending(struct events_worker *w, struct delivery *d)
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

/* Transfers that ended: judge, record, refill their group's slot. */
static void harvest(struct events *e, const struct config *cfg)
{
	struct events_worker *w = e->w;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->multi, &left))) {
		struct delivery *d;
		struct events_group *g;
		CURLcode res = msg->data.result;
		void *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		d = priv;
		g = d->g;
		unlink_sending(w, d);
		delivery_judge(w->multi, d, res, clock_now_ms());
		settle(e, d);
		if (cfg)
			pump(e, g, cfg, clock_now_ms());
	}
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

static void scan(struct events *e, const struct config *cfg)
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
		settle(e, d);
	}
	if (s.purge && s.purge->n > 0) {
		s.purge->job.e = e;
		s.purge->job.kind = EVENTS_JOB_PURGE;
		s.purge->now = s.now;
		rc = store_write_async(e->st, purge_step, s.purge, s.purge->n, job_done);
		if (rc == 0) {
			w->purging = true;
			w->jobs_out++;
			s.purge = NULL;
		}
	}
	free(s.purge);
	for (struct events_group *g = w->groups; g; g = g->next)
		pump(e, g, cfg, s.now);
}

/* Groups with nothing queued or sending go; they are cheap to make again. */
static void groups_reap(struct events_worker *w)
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

/* --- the thread --- */

/* Stopping: what is still sending is cut off and stays pending (sent again
 * after a restart, same delivery id); the verdicts already out are waited
 * for so no store completion outlives the worker. */
static void wind_down(struct events *e)
{
	struct events_worker *w = e->w;
	struct delivery *d, *next;
	struct events_group *g;

	if (w->nsending > 0)
		log_warn("events", "stopping with %zu deliveries in flight: they stay pending",
		         w->nsending);
	for (d = w->sending; d; d = next) {
		next = d->snext;
		unlink_sending(w, d);
		curl_multi_remove_handle(w->multi, d->easy);
		release(e, d);
	}
	for (g = w->groups; g; g = g->next)
		for (d = g->head; d; d = next) {
			next = d->next;
			release(e, d);
		}
	while ((g = w->groups)) {
		w->groups = g->next;
		free(g);
	}
	while (w->jobs_out > 0) {
		pthread_mutex_lock(&w->mu);
		while (!w->settled)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		drain(e);
	}
}

static int poll_timeout(struct events_worker *w, int64_t mono, int64_t last_scan, int64_t gap)
{
	int64_t until = w->want_scan ? last_scan + gap : last_scan + TICK_MS;

	if (until < w->hold_until)
		until = w->hold_until;
	until -= mono;
	return until < 0 ? 0 : until > TICK_MS ? TICK_MS : (int)until;
}

static void *worker_main(void *arg)
{
	struct events *e = arg;
	struct events_worker *w = e->w;
	int64_t last_scan = clock_mono_ms() - TICK_MS, gap = MIN_GAP_MS, stop_at = 0;

	w->want_scan = true;
	for (;;) {
		struct config *cfg = config_current();
		int64_t mono = clock_mono_ms();
		int running = 0;

		curl_multi_perform(w->multi, &running);
		harvest(e, cfg);
		drain(e);
		if (atomic_load(&w->stopping)) {
			if (stop_at == 0)
				stop_at = mono + STOP_GRACE_MS;
			if (w->nsending == 0 || mono >= stop_at) {
				if (cfg)
					config_unref(cfg);
				break;
			}
		} else {
			if (atomic_exchange(&w->kicked, false) || mono - last_scan >= TICK_MS)
				w->want_scan = true;
			/* No config yet: nothing can be judged (tenant removed?) */
			if (cfg && w->want_scan && mono - last_scan >= gap &&
			    mono >= w->hold_until) {
				int64_t t0 = clock_mono_ms();

				w->want_scan = false;
				last_scan = mono;
				scan(e, cfg);
				/* A scan may not eat more than a fifth of the time. */
				gap = 5 * (clock_mono_ms() - t0);
				gap = gap < MIN_GAP_MS ? MIN_GAP_MS : gap > TICK_MS ? TICK_MS : gap;
			}
			groups_reap(w);
		}
		if (cfg)
			config_unref(cfg);
		curl_multi_poll(w->multi, NULL, 0,
		                stop_at ? 50 : poll_timeout(w, clock_mono_ms(), last_scan, gap),
		                NULL);
	}
	wind_down(e);
	return NULL;
}

static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int events_start(struct events **ep, struct store *st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct events *e;
	struct events_worker *w;
	int rc;

	pthread_once(&once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		log_err("events", "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return EIO;
	}
	e = calloc(1, sizeof(*e));
	w = calloc(1, sizeof(*w));
	if (!e || !w) {
		rc = ENOMEM;
		goto fail;
	}
	e->st = st;
	e->w = w;
	w->held.cap = 64;
	w->held.slot = calloc(w->held.cap, sizeof(*w->held.slot));
	w->multi = curl_multi_init();
	if (!w->held.slot || !w->multi) {
		rc = ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->wake_ok = true;
	rc = pthread_create(&w->thread, NULL, worker_main, e);
	if (rc != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	*ep = e;
	return 0;
fail:
	if (w) {
		if (w->multi)
			curl_multi_cleanup(w->multi);
		free(w->held.slot);
	}
	free(w);
	free(e);
	log_err("events", "could not start the events worker: %s", strerror(rc));
	return rc;
}

void events_kick(struct events *e)
{
	struct events_worker *w;

	if (!e)
		return;
	w = e->w;
	atomic_store(&w->kicked, true);
	pthread_mutex_lock(&w->mu);
	if (w->wake_ok)
		curl_multi_wakeup(w->multi);
	pthread_mutex_unlock(&w->mu);
}

void events_stop(struct events *e)
{
	struct events_worker *w;

	if (!e)
		return;
	w = e->w;
	atomic_store(&w->stopping, true);
	events_kick(e);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->mu);
	w->wake_ok = false;
	pthread_mutex_unlock(&w->mu);
	curl_multi_cleanup(w->multi);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->held.slot);
	free(w);
	free(e);
}
