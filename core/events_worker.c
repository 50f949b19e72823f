/* events_worker: the thread that drains the outbox. It scans for due
 * events (events_scan.c), sends them with libcurl's multi interface, and
 * hands each verdict to the store writer without waiting for it: the
 * completion comes back on a list, and until it does the event stays held,
 * so it is never sent twice at once. It never blocks on the store nor on a
 * receiver; kicks and completions wake it through curl_multi_wakeup. */
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

/* --- retry times: sub-second backoffs are not left to the tick --- */

static void due_remember(struct events_worker *w, int64_t at)
{
	size_t last = 0;

	if (w->ndues < EVENTS_DUES_MAX) {
		w->dues[w->ndues++] = at;
		return;
	}
	for (size_t i = 1; i < w->ndues; i++)
		if (w->dues[i] > w->dues[last])
			last = i;
	if (at < w->dues[last])
		w->dues[last] = at;
}

static int64_t due_first(const struct events_worker *w)
{
	int64_t first = w->dues[0];

	for (size_t i = 1; i < w->ndues; i++)
		first = w->dues[i] < first ? w->dues[i] : first;
	return first;
}

/* A scan up to now sees everything due by then. */
static void due_forget(struct events_worker *w, int64_t now)
{
	for (size_t i = 0; i < w->ndues;)
		if (w->dues[i] <= now)
			w->dues[i] = w->dues[--w->ndues];
		else
			i++;
}

/* --- store jobs and their completions --- */

/* Runs on the store writer after the sync: hand over, never block. */
void events_job_done(void *arg, int rc)
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

/* Records d's verdict through the writer; d stays held until that is done. */
void events_settle(struct events *e, struct delivery *d)
{
	int rc;

	d->job.e = e;
	d->g = NULL;
	rc = store_write_async(e->st, delivery_outcome_step, d, 1, events_job_done);
	if (rc != 0) {
		char id[37];

		alloc_id_format(d->id, id);
		log_err("events", "event %s: verdict not recorded (%s); it will be sent again", id,
		        strerror(rc));
		events_release(e, d);
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
		events_purge_done(e, j);
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
		if (d->new_state == STORE_EV_PENDING)
			due_remember(w, d->next_due_ms);
	}
	events_release(e, d);
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

/* --- the thread --- */

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
		events_sending_remove(w, d);
		delivery_judge(w->multi, d, res, clock_now_ms());
		events_settle(e, d);
		if (cfg)
			events_pump(e, g, cfg, clock_now_ms());
	}
}

/* Stopping: what is still sending is cut off and stays pending (sent again
 * after a restart, same delivery id); the verdicts already out are waited
 * for so no store completion outlives the worker. */
static void wind_down(struct events *e)
{
	struct events_worker *w = e->w;
	struct delivery *d, *next;

	if (w->nsending > 0)
		log_warn("events", "stopping with %zu deliveries in flight: they stay pending",
		         w->nsending);
	for (d = w->sending; d; d = next) {
		next = d->snext;
		events_sending_remove(w, d);
		curl_multi_remove_handle(w->multi, d->easy);
		events_release(e, d);
	}
	events_groups_clear(e);
	while (w->jobs_out > 0) {
		pthread_mutex_lock(&w->mu);
		while (!w->settled)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		drain(e);
	}
}

struct pace {
	int64_t last_scan, gap; /* mono ms */
};

/* Scans when asked (kick, tick, a retry falling due, a group running dry)
 * but not more often than the pace allows. */
static void maybe_scan(struct events *e, const struct config *cfg, struct pace *p)
{
	struct events_worker *w = e->w;
	int64_t mono = clock_mono_ms(), now = clock_now_ms();

	if (atomic_exchange(&w->kicked, false) || mono - p->last_scan >= TICK_MS ||
	    (w->ndues > 0 && now >= due_first(w)))
		w->want_scan = true;
	/* Without a config no tenant can be looked up: wait for one. */
	if (!cfg || !w->want_scan || mono - p->last_scan < p->gap || mono < w->hold_until)
		return;
	w->want_scan = false;
	p->last_scan = mono;
	due_forget(w, now);
	events_scan(e, cfg);
	/* A scan may not eat more than a fifth of the time. */
	p->gap = 5 * (clock_mono_ms() - mono);
	p->gap = p->gap < MIN_GAP_MS ? MIN_GAP_MS : p->gap > TICK_MS ? TICK_MS : p->gap;
}

static int poll_timeout(const struct events_worker *w, const struct pace *p)
{
	int64_t mono = clock_mono_ms();
	int64_t until = p->last_scan + (w->want_scan ? p->gap : TICK_MS);

	if (!w->want_scan && w->ndues > 0) {
		int64_t due = mono + (due_first(w) - clock_now_ms());

		due = due < p->last_scan + p->gap ? p->last_scan + p->gap : due;
		until = due < until ? due : until;
	}
	if (until < w->hold_until)
		until = w->hold_until;
	until -= mono;
	return until < 0 ? 0 : until > TICK_MS ? TICK_MS : (int)until;
}

static void *worker_main(void *arg)
{
	struct events *e = arg;
	struct events_worker *w = e->w;
	struct pace pace = {.last_scan = clock_mono_ms() - TICK_MS, .gap = MIN_GAP_MS};
	int64_t stop_at = 0;

	w->want_scan = true;
	for (;;) {
		struct config *cfg = config_current();
		int running = 0, timeout;

		curl_multi_perform(w->multi, &running);
		harvest(e, cfg);
		drain(e);
		if (!atomic_load(&w->stopping)) {
			maybe_scan(e, cfg, &pace);
			events_groups_reap(w);
			timeout = poll_timeout(w, &pace);
		} else {
			if (stop_at == 0)
				stop_at = clock_mono_ms() + STOP_GRACE_MS;
			timeout = 50;
		}
		config_unref(cfg);
		if (stop_at && (w->nsending == 0 || clock_mono_ms() >= stop_at))
			break;
		curl_multi_poll(w->multi, NULL, 0, timeout, NULL);
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
