/* callflow_rec: a call's record on its way to the store, and the call's
 * recording. Records are written through store_write_async so the SIP
 * thread never waits on a disk. A recorded call's final record waits for
 * its recording instead: the media recorder's writer thread closes the
 * file, then hands the record, now saying how the recording went and
 * where it is, to the store writer. The call itself never waits for
 * either. */
#include "core/callflow_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/calls.h"
#include "core/events.h"
#include "core/recordings.h"

struct rec_job {
	struct store_call rec;
	struct config *cfg; /* keeps t alive until the write is done */
	const struct tenant *t;
	struct store *st;
	struct events *ev;
	bool finish;
	int64_t now_ms;
	int rc;
};

static int rec_step(struct store_txn *txn, void *arg, size_t step)
{
	struct rec_job *j = arg;

	(void)step;
	j->rc =
	    j->finish ? calls_finish(txn, j->t, &j->rec, j->now_ms) : store_call_put(txn, &j->rec);
	return j->rc;
}

static void rec_done(void *arg, int rc)
{
	struct rec_job *j = arg;

	if (rc || j->rc)
		log_msg(LVL_ERR, CF_MOD, j->rec.call_sid, "call record not stored: %s",
		        strerror(rc ? rc : j->rc));
	else if (j->finish)
		events_kick(j->ev);
	config_unref(j->cfg);
	free(j);
}

static struct rec_job *rec_job_new(struct cf_call *c, bool finish)
{
	struct rec_job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "no memory for the call record");
		return NULL;
	}
	j->rec = c->rec;
	j->cfg = config_ref(c->cfg);
	j->t = c->t;
	j->st = c->cf->st;
	j->ev = c->cf->ev;
	j->finish = finish;
	return j;
}

/* Any thread: the store's queue is. */
static void rec_job_submit(struct rec_job *j)
{
	int rc;

	j->now_ms = clock_now_ms();
	rc = store_write_async(j->st, rec_step, j, 1, rec_done);
	if (rc) {
		log_msg(LVL_ERR, CF_MOD, j->rec.call_sid, "call record not queued: %s",
		        strerror(rc));
		config_unref(j->cfg);
		free(j);
	}
}

void cf_rec_write(struct cf_call *c, bool finish)
{
	struct rec_job *j = rec_job_new(c, finish);

	if (j)
		rec_job_submit(j);
}

/* --- recording ------------------------------------------------------------ */

/* The allocation's flag wins over the tenant's setting. */
static bool wants_recording(const struct cf_call *c)
{
	if (c->rd.has_alloc && c->rd.alloc.record != STORE_RECORD_TENANT)
		return c->rd.alloc.record == STORE_RECORD_ON;
	return c->t->record;
}

/* A recording nobody waits for (its record could not be made). */
static void recording_lost(void *arg, const struct media_rec_result *res)
{
	(void)arg;
	(void)res;
}

void cf_recording_begin(struct cf_call *c)
{
	char path[CONFIG_STR + 128];
	struct media_rec *r = NULL;
	int rc;

	if (!c->cf->recorder || !c->media || c->recording || !wants_recording(c))
		return;
	rc = recordings_path(c->t, c->rec.call_sid, c->rec.answered_ms, path, sizeof(path));
	if (!rc)
		rc = media_rec_new(c->cf->recorder, path, &r);
	if (!rc && (rc = media_session_record(c->media, r)) != 0)
		media_rec_finish(r, 0, recording_lost, NULL);
	if (rc) {
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "not recorded: %s", strerror(rc));
		c->rec.rec_status = STORE_RECST_FAILED;
		return;
	}
	c->recording = r;
	c->rec.rec_status = STORE_RECST_RECORDING;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "recording to %s", path);
}

static enum store_rec_status rec_status_of(enum media_rec_status s)
{
	switch (s) {
	case MEDIA_REC_COMPLETED:
		return STORE_RECST_COMPLETED;
	case MEDIA_REC_PARTIAL:
		return STORE_RECST_PARTIAL;
	default:
		return STORE_RECST_FAILED;
	}
}

/* On the recorder's writer thread: the file is closed. */
static void recording_done(void *arg, const struct media_rec_result *res)
{
	struct rec_job *j = arg;
	struct store_call *r = &j->rec;

	r->rec_status = (uint8_t)rec_status_of(res->status);
	r->rec_dropped = res->dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)res->dropped;
	if (res->status == MEDIA_REC_FAILED) {
		r->recording_url[0] = '\0';
		log_msg(LVL_WARN, CF_MOD, r->call_sid, "recording failed: %s", strerror(res->err));
	} else {
		if (recordings_url(j->cfg, j->t, r->call_sid, r->recording_url,
		                   sizeof(r->recording_url)) != 0)
			r->recording_url[0] = '\0';
		if (res->status == MEDIA_REC_PARTIAL)
			log_msg(LVL_WARN, CF_MOD, r->call_sid,
			        "recording partial: %llu frames lost to a full queue",
			        (unsigned long long)res->dropped);
	}
	rec_job_submit(j);
}

void cf_recording_end(struct cf_call *c)
{
	struct media_rec *r = c->recording;
	struct rec_job *j;
	int64_t ms = c->rec.ended_ms - c->rec.answered_ms;

	if (!r) {
		cf_rec_write(c, true);
		return;
	}
	c->recording = NULL;
	j = rec_job_new(c, true);
	media_rec_finish(r, ms > 0 ? (uint64_t)ms : 0, j ? recording_done : recording_lost, j);
}
