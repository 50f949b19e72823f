/* record: the recorder's insides, shared by record.c (the queue, the
 * writer thread, the session's side) and record_wav.c (a recording's
 * window and file). Not for use outside media/. */
#ifndef PB_MEDIA_RECORD_H
#define PB_MEDIA_RECORD_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/media.h"

#define REC_RATE     8          /* samples per millisecond */
#define REC_SLOT_MAX 160        /* G.711 bytes in a slot: 20 ms */
#define REC_WIN      8000       /* the window: 1 s of sample frames ... */
#define REC_LAG      4000       /* ... of which 0.5 s stays after a flush */
#define REC_HDR      44         /* the canonical WAV header */
#define REC_OUT      (1u << 16) /* bytes the writer hands write() at most */

/* One queued piece of audio: up to 20 ms of one leg. Longer packets take
 * consecutive slots. */
struct rec_slot {
	struct media_rec *rec;
	int64_t pos; /* sample frame of data[0] since the rec's time zero */
	uint8_t leg; /* 0: left, 1: right */
	uint8_t codec;
	uint16_t len; /* 1 to REC_SLOT_MAX */
	uint8_t data[REC_SLOT_MAX];
};

struct media_rec {
	struct media_recorder *r;
	/* Any thread. failed: set by the writer once the file is lost, so
	 * that workers stop queuing; dropped: bumped by workers. */
	atomic_bool failed;
	_Atomic uint64_t dropped;
	/* Owner thread: the session recording into it (NULL: none), and
	 * whether one ever did (a rec takes one session, once). */
	struct media_session *sess;
	bool taken;
	/* Set by media_rec_finish before the queue's lock hands the rec to
	 * the writer. */
	uint64_t duration_ms;
	media_rec_done_fn fn;
	void *arg;
	struct media_rec *next; /* guarded by the recorder's lock: finish list */
	/* Writer-owned. win: sample frames [flushed, flushed + REC_WIN),
	 * interleaved left/right, host order; zero is silence. */
	int fd;    /* the .part file, -1 until opened */
	bool made; /* the .part file exists (to remove on failure) */
	int err;
	int64_t flushed; /* sample frames written to the file */
	uint64_t late;
	uint64_t bytes; /* file size so far, header included */
	int16_t win[REC_WIN * 2];
	char path[]; /* then ".part" room after its NUL */
};

struct media_recorder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer sleeps on it */
	/* Guarded by lock. The ring's filled slots are the used ones before
	 * head; the writer reads them without the lock, since no producer
	 * touches a slot until the writer gives it back (used decreases). */
	unsigned head, used;
	struct media_rec *fin_head, *fin_tail; /* finished recs, in order */
	bool stop;
	/* Fixed from start. */
	unsigned nslots;
	unsigned wake_at; /* a push that fills this many slots wakes the writer */
	struct rec_slot *slots;
	/* Statistics, relaxed atomics. */
	_Atomic uint64_t active, completed, partial, failed, frames, dropped, bytes;
	atomic_uint peak;
	/* Writer-owned scratch for the file's little-endian samples. */
	uint8_t out[REC_OUT];
	/* Writer-owned: the directory it made (or found) last. */
	char last_dir[PATH_MAX];
	size_t last_dir_len;
};

/* record_wav.c, on the writer thread. _frame: place a slot's samples in
 * its rec's window, writing out (and opening the file) as the window
 * moves on. _finish: end the file at rec->duration_ms, rename it into
 * place and fill in the result; frees nothing. */
void rec_wav_frame(struct media_recorder *r, struct media_rec *rec, const struct rec_slot *s);
void rec_wav_finish(struct media_recorder *r, struct media_rec *rec, struct media_rec_result *res);

#endif
