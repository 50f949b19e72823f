/* record_call: a recorded call for the recorder's tests (test_media_record*):
 * a session on 127.0.0.1 whose peers send known G.711 audio paced in real
 * time, the recorder's results waited for, and the WAV's audio checked
 * against what was sent, sample by sample and in time. Header-only, like
 * udp_peer.h; needs cmocka.h first. */
#ifndef PB_TESTS_RECORD_CALL_H
#define PB_TESTS_RECORD_CALL_H

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "udp_peer.h"
#include "wav_file.h"

#include "core/base/clock.h"
#include "media/g711.h"
#include "media/media.h"
#include "media/rtp.h"
#include "media/srtp.h"

#define WAIT_MS 10000 /* bound for what must happen; generous for valgrind */
#define BUF     1600
#define TE_PT   101
/* How late after its send a packet may be placed (the worker's and the
 * scheduler's delay), in samples: 50 ms. */
#define SLACK 400

/* --- The call ------------------------------------------------------------- */
struct call {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer peer[2];
	struct media_srtp *leg_srtp, *peer_srtp; /* leg 0's, when it is SRTP */
};

static inline void call_open(struct call *c, struct media_leg_cfg cfg[2], bool srtp0)
{
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = ENOSPC;

	memset(c, 0, sizeof(*c));
	if (srtp0) {
		struct media_srtp_key k_in, k_out;

		media_srtp_key_generate(&k_in, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
		media_srtp_key_generate(&k_out, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
		assert_int_equal(media_srtp_new(&c->leg_srtp, &k_in, &k_out), 0);
		assert_int_equal(media_srtp_new(&c->peer_srtp, &k_out, &k_in), 0);
		cfg[0].srtp = c->leg_srtp;
	}
	for (unsigned i = 0; i < 2; i++) {
		peer_open(&c->peer[i]);
		if (cfg[i].remote.sin_family) /* the test wants the leg without address */
			continue;
		cfg[i].remote = addr_of(c->peer[i].port);
	}
	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&c->ports, base, (uint16_t)(base + 3), 50), 0);
		assert_int_equal(media_engine_start(&c->eng, 1, lo, c->ports), 0);
		rc = media_session_new(c->eng, &cfg[0], &cfg[1], &c->sess);
		if (rc) {
			media_engine_stop(c->eng);
			media_ports_free(c->ports);
		}
	}
	assert_int_equal(rc, 0);
}

static inline void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	peer_close(&c->peer[0]);
	peer_close(&c->peer[1]);
	media_srtp_free(c->leg_srtp);
	media_srtp_free(c->peer_srtp);
}

static inline void leg_cfg(struct media_leg_cfg *cfg, enum media_codec codec, unsigned ptime_ms)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->codec = codec;
	cfg->codec_pt = codec == MEDIA_PCMA ? G711_PT_PCMA : G711_PT_PCMU;
	cfg->te_pt = TE_PT;
	cfg->latch = MEDIA_LATCH_STRICT;
	cfg->ptime_ms = ptime_ms;
}

/* --- What the peers send -------------------------------------------------- */

/* Leg i's k-th G.711 code: no period a misplacement could hide in, and
 * never a code that decodes to 0 (mu-law 0x7F, 0xFF), so that silence and
 * audio are told apart. */
static inline uint8_t code_of(unsigned leg, uint32_t k)
{
	uint8_t x = (uint8_t)((k * 2654435761u + leg * 0x9E3779B9u) >> 13);

	return (x & 0x7F) == 0x7F ? (uint8_t)(x ^ 1) : x;
}

static inline int16_t decode(enum media_codec codec, uint8_t code)
{
	return codec == MEDIA_PCMA ? g711_alaw_decode(code) : g711_ulaw_decode(code);
}

struct stream {
	unsigned leg;
	enum media_codec codec;
	uint8_t pt;
	unsigned ptime; /* ms per packet */
	uint32_t ssrc, ts;
	uint16_t seq;
	uint32_t k;       /* codes sent so far */
	int64_t first_us; /* just before the first packet went out */
};

static inline void stream_init(struct stream *s, unsigned leg, enum media_codec codec,
                               unsigned ptime)
{
	memset(s, 0, sizeof(*s));
	s->leg = leg;
	s->codec = codec;
	s->pt = codec == MEDIA_PCMA ? G711_PT_PCMA : G711_PT_PCMU;
	s->ptime = ptime;
	s->ssrc = 0x5EC00000u + leg;
	s->ts = 12345u * (leg + 1);
	s->seq = (uint16_t)(100 * (leg + 1));
}

static inline void send_pkt(struct call *c, unsigned leg, uint8_t pt, uint16_t seq, uint32_t ts,
                            uint32_t ssrc, const uint8_t *payload, size_t n)
{
	struct rtp_header h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = ssrc};
	struct sockaddr_in to = addr_of(media_session_local_port(c->sess, leg));
	uint8_t pkt[BUF];
	size_t len = RTP_HEADER_LEN + n;

	assert_int_equal(rtp_header_write(pkt, BUF, &h), 0);
	memcpy(pkt + RTP_HEADER_LEN, payload, n);
	if (leg == 0 && c->peer_srtp)
		assert_int_equal(media_srtp_protect_rtp(c->peer_srtp, pkt, &len, BUF), 0);
	assert_int_equal(sendto(c->peer[leg].rtp, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)len);
}

static inline void stream_send(struct call *c, struct stream *s)
{
	uint8_t payload[BUF];
	size_t n = s->ptime * 8;

	for (size_t j = 0; j < n; j++)
		payload[j] = code_of(s->leg, s->k + (uint32_t)j);
	if (s->k == 0)
		s->first_us = clock_mono_us();
	send_pkt(c, s->leg, s->pt, s->seq++, s->ts, s->ssrc, payload, n);
	s->ts += (uint32_t)n;
	s->k += (uint32_t)n;
}

static inline void sleep_until_us(int64_t t_us)
{
	struct timespec ts = {.tv_sec = t_us / 1000000, .tv_nsec = (t_us % 1000000) * 1000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Each stream sends ms of audio in real time, paced on absolute 20 ms
 * ticks (no drift for the recorder to re-anchor on). Returns the packets. */
static inline unsigned send_for(struct call *c, struct stream *s, unsigned ns, unsigned ms)
{
	int64_t start = clock_mono_us();
	unsigned pkts = 0;

	for (unsigned t = 0; t < ms; t += 20) {
		sleep_until_us(start + (int64_t)t * 1000);
		for (unsigned i = 0; i < ns; i++)
			if (t % s[i].ptime == 0) {
				stream_send(c, &s[i]);
				pkts++;
			}
	}
	return pkts;
}

/* --- The recorder --------------------------------------------------------- */
struct done_box {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned n;
	struct media_rec_result res;
};

static struct done_box box = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};

static inline void on_done(void *arg, const struct media_rec_result *res)
{
	struct done_box *b = arg;

	pthread_mutex_lock(&b->lock);
	b->n++;
	b->res = *res;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Finish rec and wait for its result. */
static inline struct media_rec_result finish_wait(struct media_rec *rec, uint64_t duration_ms)
{
	struct media_rec_result res;
	int64_t until = clock_mono_ms() + WAIT_MS;
	unsigned n0;

	pthread_mutex_lock(&box.lock);
	n0 = box.n;
	pthread_mutex_unlock(&box.lock);
	media_rec_finish(rec, duration_ms, on_done, &box);
	pthread_mutex_lock(&box.lock);
	while (box.n == n0 && clock_mono_ms() < until) {
		pthread_mutex_unlock(&box.lock);
		usleep(5000);
		pthread_mutex_lock(&box.lock);
	}
	assert_int_equal(box.n, n0 + 1);
	res = box.res;
	pthread_mutex_unlock(&box.lock);
	return res;
}

/* Workers count a frame as they queue (or drop) it: wait for n. */
static inline void wait_frames(struct media_recorder *r, uint64_t n)
{
	struct media_recorder_stats st;

	for (int i = 0; i < WAIT_MS / 5; i++) {
		media_recorder_get_stats(r, &st);
		if (st.frames + st.dropped >= n)
			return;
		usleep(5000);
	}
	fail_msg("only %llu of %llu frames queued", (unsigned long long)(st.frames + st.dropped),
	         (unsigned long long)n);
}

static char tmpdir[64];

static inline void tmp_make(void)
{
	strcpy(tmpdir, "/tmp/pb-rec-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void tmp_remove(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* Channel ch from at holds n samples of leg's codes k0... decoded. */
static inline void wav_expect_audio(const struct wav *w, unsigned ch, size_t at, unsigned leg,
                                    enum media_codec codec, uint32_t k0, size_t n)
{
	assert_true(at + n <= w->frames);
	for (size_t i = 0; i < n; i++)
		if (w->pcm[(at + i) * 2 + ch] != decode(codec, code_of(leg, k0 + (uint32_t)i)))
			fail_msg("channel %u: sample %zu (code %zu) is %d, not %d", ch, at + i,
			         (size_t)k0 + i, w->pcm[(at + i) * 2 + ch],
			         decode(codec, code_of(leg, k0 + (uint32_t)i)));
}

/* Where audio sent at send_us should start, given time zero's bounds. */
static inline void expect_start(size_t at, int64_t t0_lo, int64_t t0_hi, int64_t send_us)
{
	int64_t lo = (send_us - t0_hi) * 8 / 1000, hi = (send_us - t0_lo) * 8 / 1000 + SLACK;

	if ((int64_t)at < lo || (int64_t)at > hi)
		fail_msg("audio starts at sample %zu, sent in [%lld, %lld]", at, (long long)lo,
		         (long long)hi);
}

/* Record the call from now: time zero lies in [*t0_lo, *t0_hi]. */
static inline void record_on(struct call *c, struct media_rec *rec, int64_t *t0_lo, int64_t *t0_hi)
{
	*t0_lo = clock_mono_us();
	assert_int_equal(media_session_record(c->sess, rec), 0);
	*t0_hi = clock_mono_us();
}

/* What most tests run: a call on cfg, a recorder with the default queue,
 * and a rec to <tmpdir>/<name> that the call records from now. */
struct rec_run {
	struct call c;
	struct media_recorder *r;
	struct media_rec *rec;
	char path[128];
	int64_t t0_lo, t0_hi; /* time zero lies between */
};

static inline void run_begin(struct rec_run *x, const char *name, struct media_leg_cfg cfg[2],
                             bool srtp0)
{
	tmp_make();
	snprintf(x->path, sizeof(x->path), "%s/%s", tmpdir, name);
	call_open(&x->c, cfg, srtp0);
	assert_int_equal(media_recorder_start(&x->r, 0), 0);
	assert_int_equal(media_rec_new(x->r, x->path, &x->rec), 0);
	record_on(&x->c, x->rec, &x->t0_lo, &x->t0_hi);
}

/* The call stops recording and the rec ends at duration_ms: its result. */
static inline struct media_rec_result run_finish(struct rec_run *x, uint64_t duration_ms)
{
	assert_int_equal(media_session_record(x->c.sess, NULL), 0);
	return finish_wait(x->rec, duration_ms);
}

static inline void run_end(struct rec_run *x)
{
	media_recorder_stop(x->r);
	call_close(&x->c);
	tmp_remove();
}

/* Leg i's audio in channel i: found at its send time, sample for sample
 * what was sent (k codes from k0), silence between from and it. */
static inline size_t expect_segment(const struct wav *w, unsigned ch, size_t from,
                                    enum media_codec codec, uint32_t k0, uint32_t k, int64_t t0_lo,
                                    int64_t t0_hi, int64_t send_us)
{
	size_t at = wav_first(w, ch, from);

	expect_start(at, t0_lo, t0_hi, send_us);
	wav_expect_silence(w, ch, from, at);
	wav_expect_audio(w, ch, at, ch, codec, k0, k);
	return at + k;
}

static inline void session_wait(struct call *c, size_t off, uint64_t want)
{
	struct media_stats st;

	for (int i = 0; i < WAIT_MS / 5; i++) {
		media_session_get_stats(c->sess, &st);
		if (*(const uint64_t *)((const char *)&st + off) >= want)
			return;
		usleep(5000);
	}
	fail_msg("session counter at offset %zu never reached %llu", off, (unsigned long long)want);
}

#endif
