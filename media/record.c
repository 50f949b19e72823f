/* record: the call recorder. Workers place each accepted audio packet of a
 * recording session on the recording's time line and copy it into one
 * bounded queue (never a wait, an allocation or a system call beyond a
 * rare wake-up); one writer thread drains it in batches into WAV files
 * (record_wav.c), so that a slow or failing disk never holds up a call. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "media/media_int.h"
#include "media/record.h"

/* The writer sleeps this long between batches unless a finish, a stop or a
 * quarter-full queue wakes it: one lock round and a few large writes per
 * period, whatever the packet rate. */
#define WRITER_POLL_MS 20
/* Slots the writer hands back at a time while it works through a batch,
 * so that a batch slowed by the disk frees room as it goes. */
#define WRITER_CHUNK 1024
/* A timestamp this far from what the arrival time says (300 ms) is placed
 * anew: a sender's clock jump, a hold without timestamp advance. */
#define REC_REANCHOR (300 * REC_RATE)
/* The queue's memory stays under about 3 GB. */
#define REC_QUEUE_MAX (1u << 24)

/* --- Writer thread -------------------------------------------------------- */

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* The end of a recording: its file completed (or removed), its result
 * counted, then handed over, then the rec freed. */
static void rec_done(struct media_recorder *r, struct media_rec *rec)
{
	struct media_rec_result res;

	rec_wav_finish(r, rec, &res);
	switch (res.status) {
	case MEDIA_REC_COMPLETED:
		stat_add(&r->completed, 1);
		break;
	case MEDIA_REC_PARTIAL:
		stat_add(&r->partial, 1);
		break;
	case MEDIA_REC_FAILED:
		stat_add(&r->failed, 1);
		break;
	}
	atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
	if (rec->fn)
		rec->fn(rec->arg, &res);
	free(rec);
}

static void deadline_in_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ms * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Frames first, finishes after: a finished rec's frames were all queued
 * before its finish (its session stopped recording it first), so the
 * snapshot that takes the finish holds every one of them. */
static void *writer_main(void *arg)
{
	struct media_recorder *r = arg;
	sigset_t xfsz;

	/* A file size limit (RLIMIT_FSIZE) must fail the recording, not kill
	 * the process: with SIGXFSZ blocked in this thread, the write that
	 * crosses it returns EFBIG (the signal stays pending, harmless). */
	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, NULL);
	for (;;) {
		struct media_rec *fin, *nx;
		struct timespec until;
		unsigned n, tail, done = 0;
		bool stop;

		pthread_mutex_lock(&r->lock);
		if (!r->stop && !r->fin_head && r->used < r->wake_at) {
			deadline_in_ms(&until, WRITER_POLL_MS);
			pthread_cond_timedwait(&r->wake, &r->lock, &until);
		}
		n = r->used;
		tail = (r->head + r->nslots - n) % r->nslots;
		fin = r->fin_head;
		r->fin_head = r->fin_tail = NULL;
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);

		while (done < n) {
			unsigned chunk = n - done < WRITER_CHUNK ? n - done : WRITER_CHUNK;

			for (unsigned i = 0; i < chunk; i++) {
				struct rec_slot *s = &r->slots[(tail + done + i) % r->nslots];

				rec_wav_frame(r, s->rec, s);
			}
			done += chunk;
			pthread_mutex_lock(&r->lock);
			r->used -= chunk;
			pthread_mutex_unlock(&r->lock);
		}
		if (stop && n == 0 && !fin)
			break;
		for (; fin; fin = nx) {
			nx = fin->next;
			rec_done(r, fin);
		}
	}
	return NULL;
}

int media_recorder_start(struct media_recorder **out, unsigned queue_slots)
{
	struct media_recorder *r;
	pthread_condattr_t ca;
	int rc;

	if (!out || queue_slots > REC_QUEUE_MAX)
		return EINVAL;
	if (queue_slots == 0)
		queue_slots = MEDIA_REC_QUEUE_DEF;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	/* Written now, so that no worker takes a page fault on its push. */
	r->slots = malloc((size_t)queue_slots * sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return ENOMEM;
	}
	memset(r->slots, 0, (size_t)queue_slots * sizeof(*r->slots));
	r->nslots = queue_slots;
	r->wake_at = queue_slots / 4 ? queue_slots / 4 : 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&r->thread, NULL, writer_main, r);
	if (rc) {
		log_err("media", "recorder thread: %s", strerror(rc));
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r->slots);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void media_recorder_stop(struct media_recorder *r)
{
	uint64_t left;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	left = atomic_load_explicit(&r->active, memory_order_relaxed);
	if (left)
		log_err("media", "recorder stopped with %llu recordings never finished",
		        (unsigned long long)left);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r);
}

void media_recorder_get_stats(struct media_recorder *r, struct media_recorder_stats *st)
{
	st->active = atomic_load_explicit(&r->active, memory_order_relaxed);
	st->completed = atomic_load_explicit(&r->completed, memory_order_relaxed);
	st->partial = atomic_load_explicit(&r->partial, memory_order_relaxed);
	st->failed = atomic_load_explicit(&r->failed, memory_order_relaxed);
	st->frames = atomic_load_explicit(&r->frames, memory_order_relaxed);
	st->dropped = atomic_load_explicit(&r->dropped, memory_order_relaxed);
	st->bytes = atomic_load_explicit(&r->bytes, memory_order_relaxed);
	st->queue_slots = r->nslots;
	st->queue_peak = atomic_load_explicit(&r->peak, memory_order_relaxed);
}

/* --- Recordings (owner thread) -------------------------------------------- */

int media_rec_new(struct media_recorder *r, const char *path, struct media_rec **out)
{
	struct media_rec *rec;
	size_t len;

	if (!r || !path || !out)
		return EINVAL;
	len = strlen(path);
	if (len == 0 || len + sizeof(".part") > PATH_MAX)
		return EINVAL;
	rec = calloc(1, sizeof(*rec) + len + 1);
	if (!rec)
		return ENOMEM;
	rec->r = r;
	rec->fd = -1;
	atomic_init(&rec->failed, false);
	atomic_init(&rec->dropped, 0);
	memcpy(rec->path, path, len + 1);
	stat_add(&r->active, 1);
	*out = rec;
	return 0;
}

void media_rec_finish(struct media_rec *rec, uint64_t duration_ms, media_rec_done_fn fn, void *arg)
{
	struct media_recorder *r;

	if (!rec)
		return;
	r = rec->r;
	/* Frames queued after the finish would reach a freed rec: stop the
	 * session here rather than trust every caller. */
	if (rec->sess) {
		log_err("media", "recording %s finished while its session records it", rec->path);
		media_session_record(rec->sess, NULL);
	}
	rec->duration_ms = duration_ms;
	rec->fn = fn;
	rec->arg = arg;
	rec->next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->fin_tail)
		r->fin_tail->next = rec;
	else
		r->fin_head = rec;
	r->fin_tail = rec;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/* --- A session's side ----------------------------------------------------- */

int media_session_record(struct media_session *sess, struct media_rec *rec)
{
	struct media_cmd cmd = {.type = MEDIA_CMD_RECORD, .sess = sess, .rec = rec};

	if (!sess || (rec && (rec->taken || sess->rec_own)))
		return EINVAL;
	if (!rec && !sess->rec_own)
		return 0;
	cmd.t0_us = clock_mono_us(); /* the WAV's time zero: now, not when the worker gets to it */
	media_worker_call(sess->w, &cmd);
	if (rec) {
		rec->taken = true;
		rec->sess = sess;
		sess->rec_own = rec;
	} else {
		sess->rec_own->sess = NULL;
		sess->rec_own = NULL;
	}
	return 0;
}

void media_session_record_gone(struct media_session *s)
{
	if (s->rec_own)
		s->rec_own->sess = NULL;
	s->rec_own = NULL;
}

void media_session_record_set(struct media_session *s, struct media_rec *rec, int64_t t0_us)
{
	s->rec = rec;
	s->rec_t0_us = t0_us;
	s->leg[0].rec.have = s->leg[1].rec.have = false;
}

/* Copy len bytes at sample frame pos into the queue, all or nothing. */
static void rec_push(struct media_rec *rec, unsigned leg, enum media_codec codec, int64_t pos,
                     const uint8_t *data, size_t len)
{
	struct media_recorder *r = rec->r;
	unsigned k = (unsigned)((len + REC_SLOT_MAX - 1) / REC_SLOT_MAX), before;

	if (atomic_load_explicit(&rec->failed, memory_order_relaxed))
		return;
	pthread_mutex_lock(&r->lock);
	if (r->nslots - r->used < k) {
		pthread_mutex_unlock(&r->lock);
		atomic_fetch_add_explicit(&rec->dropped, 1, memory_order_relaxed);
		stat_add(&r->dropped, 1);
		return;
	}
	for (unsigned i = 0; i < k; i++, data += REC_SLOT_MAX, len -= REC_SLOT_MAX) {
		struct rec_slot *s = &r->slots[r->head];

		s->rec = rec;
		s->pos = pos + (int64_t)i * REC_SLOT_MAX;
		s->leg = (uint8_t)leg;
		s->codec = (uint8_t)codec;
		s->len = (uint16_t)(len < REC_SLOT_MAX ? len : REC_SLOT_MAX);
		memcpy(s->data, data, s->len);
		r->head = r->head + 1 == r->nslots ? 0 : r->head + 1;
	}
	before = r->used;
	r->used += k;
	if (r->used > atomic_load_explicit(&r->peak, memory_order_relaxed))
		atomic_store_explicit(&r->peak, r->used, memory_order_relaxed);
	pthread_mutex_unlock(&r->lock);
	/* Only the push that crosses the mark pays for a wake-up (a futex
	 * call at most); the writer's poll collects the rest. */
	if (before < r->wake_at && before + k >= r->wake_at)
		pthread_cond_signal(&r->wake);
	stat_add(&r->frames, 1);
}

void media_leg_record_input(struct media_leg *l, const uint8_t *buf, const struct rtp_header *h,
                            int64_t now_us)
{
	struct media_session *s = l->sess;
	struct media_rec_anchor *a = &l->rec;
	int64_t arrival = (now_us - s->rec_t0_us) * REC_RATE / 1000, pos;

	if (h->pt != l->cfg.codec_pt || h->payload_len == 0)
		return; /* telephone-event, comfort noise: not audio */
	pos = a->pos + (int32_t)(h->ts - a->ts);
	if (!a->have || h->ssrc != a->ssrc || pos - arrival > REC_REANCHOR ||
	    arrival - pos > REC_REANCHOR) {
		a->have = true;
		a->ssrc = h->ssrc;
		a->ts = h->ts;
		a->pos = pos = arrival;
	}
	if (pos + (int64_t)h->payload_len <= 0)
		return;
	rec_push(s->rec, l->idx, l->cfg.codec, pos, buf + h->payload_off, h->payload_len);
}
