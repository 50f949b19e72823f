/* Unit tests for call recording (media/record.c, record_wav.c, and the
 * session's side in session.c): real sessions on 127.0.0.1 whose peers
 * send known G.711 audio, paced in real time; the WAV is then read back
 * and checked sample by sample: each leg's decoded audio in its channel,
 * contiguous, at the time it was sent, silence elsewhere, exactly the
 * duration asked. Also a full queue (PARTIAL), failing disks (FAILED, no
 * file left), an empty recording and a stop that drains. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

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

static void call_open(struct call *c, struct media_leg_cfg cfg[2], bool srtp0)
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

static void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	peer_close(&c->peer[0]);
	peer_close(&c->peer[1]);
	media_srtp_free(c->leg_srtp);
	media_srtp_free(c->peer_srtp);
}

static void leg_cfg(struct media_leg_cfg *cfg, enum media_codec codec, unsigned ptime_ms)
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
static uint8_t code_of(unsigned leg, uint32_t k)
{
	uint8_t x = (uint8_t)((k * 2654435761u + leg * 0x9E3779B9u) >> 13);

	return (x & 0x7F) == 0x7F ? (uint8_t)(x ^ 1) : x;
}

static int16_t decode(enum media_codec codec, uint8_t code)
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

static void stream_init(struct stream *s, unsigned leg, enum media_codec codec, unsigned ptime)
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

static void send_pkt(struct call *c, unsigned leg, uint8_t pt, uint16_t seq, uint32_t ts,
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

static void stream_send(struct call *c, struct stream *s)
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

static void sleep_until_us(int64_t t_us)
{
	struct timespec ts = {.tv_sec = t_us / 1000000, .tv_nsec = (t_us % 1000000) * 1000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Each stream sends ms of audio in real time, paced on absolute 20 ms
 * ticks (no drift for the recorder to re-anchor on). Returns the packets. */
static unsigned send_for(struct call *c, struct stream *s, unsigned ns, unsigned ms)
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

static void on_done(void *arg, const struct media_rec_result *res)
{
	struct done_box *b = arg;

	pthread_mutex_lock(&b->lock);
	b->n++;
	b->res = *res;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Finish rec and wait for its result. */
static struct media_rec_result finish_wait(struct media_rec *rec, uint64_t duration_ms)
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
static void wait_frames(struct media_recorder *r, uint64_t n)
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

static void tmp_make(void)
{
	strcpy(tmpdir, "/tmp/pb-rec-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void tmp_remove(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* Channel ch from at holds n samples of leg's codes k0... decoded. */
static void wav_expect_audio(const struct wav *w, unsigned ch, size_t at, unsigned leg,
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
static void expect_start(size_t at, int64_t t0_lo, int64_t t0_hi, int64_t send_us)
{
	int64_t lo = (send_us - t0_hi) * 8 / 1000, hi = (send_us - t0_lo) * 8 / 1000 + SLACK;

	if ((int64_t)at < lo || (int64_t)at > hi)
		fail_msg("audio starts at sample %zu, sent in [%lld, %lld]", at, (long long)lo,
		         (long long)hi);
}

/* Record the call from now: time zero lies in [*t0_lo, *t0_hi]. */
static void record_on(struct call *c, struct media_rec *rec, int64_t *t0_lo, int64_t *t0_hi)
{
	*t0_lo = clock_mono_us();
	assert_int_equal(media_session_record(c->sess, rec), 0);
	*t0_hi = clock_mono_us();
}

/* --- Tests ---------------------------------------------------------------- */
/* Leg i's audio in channel i: found at its send time, sample for sample
 * what was sent (k codes from k0), silence between from and it. */
static size_t expect_segment(const struct wav *w, unsigned ch, size_t from, enum media_codec codec,
                             uint32_t k0, uint32_t k, int64_t t0_lo, int64_t t0_hi, int64_t send_us)
{
	size_t at = wav_first(w, ch, from);

	expect_start(at, t0_lo, t0_hi, send_us);
	wav_expect_silence(w, ch, from, at);
	wav_expect_audio(w, ch, at, ch, codec, k0, k);
	return at + k;
}

static void session_wait(struct call *c, size_t off, uint64_t want)
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

/* A second of both legs, recorded with silence around: each channel is
 * its leg, exact and in time; telephone-event and comfort noise are not
 * audio; the file is made with its directory and padded to the duration. */
static void test_record_two_legs(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct call c;
	struct stream s[2];
	struct wav w;
	char path[128], part[136];
	int64_t t0_lo, t0_hi;
	uint8_t te[4] = {1, 0x0a, 0, 160}, cn[1] = {40};
	unsigned pkts;
	size_t end;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/calls/one.wav", tmpdir);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s[0], 0, MEDIA_PCMU, 20);
	stream_init(&s[1], 1, MEDIA_PCMU, 20);
	usleep(100000);
	pkts = send_for(&c, s, 2, 1000);
	send_pkt(&c, 0, TE_PT, s[0].seq++, s[0].ts, s[0].ssrc, te, sizeof(te));
	send_pkt(&c, 1, 13, s[1].seq++, s[1].ts, s[1].ssrc, cn, sizeof(cn));
	stream_send(&c, &s[0]); /* after them on their sockets: they were seen */
	stream_send(&c, &s[1]);
	wait_frames(r, pkts + 2);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.frames, pkts + 2);
	assert_int_equal(st.active, 1);
	assert_int_equal(media_session_record(c.sess, NULL), 0);

	res = finish_wait(rec, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.dropped, 0);
	assert_int_equal(res.late, 0);
	assert_int_equal(res.bytes, 44 + 12000 * 4);
	snprintf(part, sizeof(part), "%s.part", path);
	assert_false(exists(part));
	wav_load(path, 12000, &w);
	for (unsigned i = 0; i < 2; i++) {
		end = expect_segment(&w, i, 0, MEDIA_PCMU, 0, s[i].k, t0_lo, t0_hi, s[i].first_us);
		wav_expect_silence(&w, i, end, w.frames);
	}
	free(w.pcm);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.bytes, 44 + 12000 * 4);
	assert_int_equal(st.dropped, 0);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* An SRTP leg sending 40 ms packets (two slots each) against a PCMA leg
 * at 20 ms: each decoded by its own law, in place. */
static void test_record_srtp_pcma_ptime(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	struct stream s[2];
	struct wav w;
	char path[128];
	int64_t t0_lo, t0_hi;
	unsigned pkts;
	size_t end;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/two.wav", tmpdir);
	leg_cfg(&cfg[0], MEDIA_PCMU, 40);
	leg_cfg(&cfg[1], MEDIA_PCMA, 20);
	call_open(&c, cfg, true);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s[0], 0, MEDIA_PCMU, 40);
	stream_init(&s[1], 1, MEDIA_PCMA, 20);
	pkts = send_for(&c, s, 2, 1000);
	wait_frames(r, pkts);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(path, 12000, &w);
	for (unsigned i = 0; i < 2; i++) {
		end = expect_segment(&w, i, 0, s[i].codec, 0, s[i].k, t0_lo, t0_hi, s[i].first_us);
		wav_expect_silence(&w, i, end, w.frames);
	}
	free(w.pcm);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* Audio past the duration is cut: here after part of it was written. */
static void test_record_cut(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	struct stream s[2];
	struct wav w;
	char path[128];
	int64_t t0_lo, t0_hi;
	size_t at;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/cut.wav", tmpdir);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s[0], 0, MEDIA_PCMU, 20);
	stream_init(&s[1], 1, MEDIA_PCMU, 20);
	wait_frames(r, send_for(&c, s, 2, 1400));
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 300);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44 + 2400 * 4);
	wav_load(path, 2400, &w);
	for (unsigned i = 0; i < 2; i++) {
		at = wav_first(&w, i, 0);
		expect_start(at, t0_lo, t0_hi, s[i].first_us);
		wav_expect_audio(&w, i, at, i, MEDIA_PCMU, 0, w.frames - at);
	}
	free(w.pcm);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* A pause whose timestamps do not show it (more than 300 ms off) and a new
 * SSRC whose timestamps would be within 300 ms: both placed by arrival,
 * silence between. Leg 1 sends nothing: a silent right channel. */
static void test_record_gap_and_new_ssrc(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	struct stream s;
	struct wav w;
	char path[128];
	int64_t t0_lo, t0_hi, sent[3];
	unsigned pkts = 0;
	size_t end = 0;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/gap.wav", tmpdir);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	sent[0] = clock_mono_us();
	pkts += send_for(&c, &s, 1, 200);
	usleep(500000); /* timestamps carry on as if there were no pause */
	sent[1] = clock_mono_us();
	pkts += send_for(&c, &s, 1, 200);
	usleep(200000);
	s.ssrc++; /* as if 200 ms early on the old SSRC's clock */
	sent[2] = clock_mono_us();
	pkts += send_for(&c, &s, 1, 200);
	wait_frames(r, pkts);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(path, 12000, &w);
	for (unsigned seg = 0; seg < 3; seg++)
		end = expect_segment(&w, 0, end, MEDIA_PCMU, seg * 1600, 1600, t0_lo, t0_hi,
		                     sent[seg]);
	wav_expect_silence(&w, 0, end, w.frames);
	wav_expect_silence(&w, 1, 0, w.frames);
	free(w.pcm);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* Audio the other leg cannot be sent (it has no address) is recorded. */
static void test_record_unrelayed(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	struct stream s;
	struct wav w;
	char path[128];
	int64_t t0_lo, t0_hi;
	unsigned pkts;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/unrelayed.wav", tmpdir);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMA, 20);
	cfg[1].remote.sin_family = AF_INET; /* port 0: no address yet */
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&c, &s, 1, 200);
	wait_frames(r, pkts);
	session_wait(&c, offsetof(struct media_stats, dropped_no_remote), pkts);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(path, 4000, &w);
	expect_segment(&w, 0, 0, MEDIA_PCMU, 0, s.k, t0_lo, t0_hi, s.first_us);
	free(w.pcm);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* --- A full queue, failing disks ------------------------------------------ */

/* A done function that holds the writer until the test lets it go: the
 * queue then fills for certain. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

static void on_done_blocking(void *arg, const struct media_rec_result *res)
{
	(void)arg;
	(void)res;
	pthread_mutex_lock(&gate.lock);
	gate.entered = true;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

static void test_record_queue_full(void **state)
{
	struct media_recorder *r;
	struct media_rec *blocker, *rec;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct call c;
	struct stream s;
	struct wav w;
	char path[128], path0[128];
	int64_t t0_lo, t0_hi;
	unsigned pkts;

	(void)state;
	tmp_make();
	snprintf(path0, sizeof(path0), "%s/blocker.wav", tmpdir);
	snprintf(path, sizeof(path), "%s/partial.wav", tmpdir);
	assert_int_equal(media_recorder_start(&r, 4), 0);
	assert_int_equal(media_rec_new(r, path0, &blocker), 0);
	media_rec_finish(blocker, 20, on_done_blocking, NULL);
	pthread_mutex_lock(&gate.lock);
	while (!gate.entered)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);

	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&c, &s, 1, 400);
	wait_frames(r, pkts);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.frames, 4);
	assert_int_equal(st.dropped, pkts - 4);
	assert_int_equal(st.queue_slots, 4);
	assert_int_equal(st.queue_peak, 4);
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);

	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 1000);
	assert_int_equal(res.status, MEDIA_REC_PARTIAL);
	assert_int_equal(res.dropped, pkts - 4);
	assert_int_equal(res.bytes, 44 + 8000 * 4);
	wav_load(path, 8000, &w); /* the first four frames, then silence */
	expect_segment(&w, 0, 0, MEDIA_PCMU, 0, 4 * 160, t0_lo, t0_hi, s.first_us);
	free(w.pcm);
	wav_load(path0, 160, &w);
	wav_expect_silence(&w, 0, 0, 160);
	free(w.pcm);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.partial, 1);
	assert_int_equal(st.completed, 1);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* A directory that cannot be made (its parent is a file): FAILED with the
 * errno, nothing left behind. */
static void test_record_bad_dir(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_recorder_stats st;
	struct media_rec_result res;
	char file[128], path[160], part[168];
	int fd;

	(void)state;
	tmp_make();
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), i ? "%s/sub/rec.wav" : "%s/rec.wav", file);
		snprintf(part, sizeof(part), "%s.part", path);
		assert_int_equal(media_rec_new(r, path, &rec), 0);
		res = finish_wait(rec, 1000);
		assert_int_equal(res.status, MEDIA_REC_FAILED);
		assert_int_equal(res.err, ENOTDIR);
		assert_int_equal(res.bytes, 0);
		assert_false(exists(path));
		assert_false(exists(part));
	}
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.active, 0);
	media_recorder_stop(r);
	tmp_remove();
}

/* The disk refuses more (EFBIG, from a file size limit) while the call goes
 * on: FAILED, the part file removed, the workers stop queuing, the call
 * is not affected. */
static void test_record_file_too_big(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct rlimit old, small;
	struct call c;
	struct stream s;
	char path[128], part[136];
	int64_t t0_lo, t0_hi;
	unsigned pkts;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/big.wav", tmpdir);
	snprintf(part, sizeof(part), "%s.part", path);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 20000; /* the first flush (~16 kB) fits, the second not */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&c, &s, 1, 2500);
	session_wait(&c, offsetof(struct media_stats, relayed), pkts);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 3000);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(res.status, MEDIA_REC_FAILED);
	assert_int_equal(res.err, EFBIG);
	assert_false(exists(path));
	assert_false(exists(part));
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.bytes, 20000);
	assert_true(st.frames < pkts - 25); /* none after the failure at ~1.5 s */
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.failed, 1);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* --- Edges ---------------------------------------------------------------- */

/* No frame at all: a WAV of silence of the right length, its directories
 * made 0750 and the file 0640; a zero duration is a header alone. */
static void test_record_empty(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_rec_result res;
	struct stat sb;
	struct wav w;
	char dir[128], path[160];
	mode_t old = umask(022);

	(void)state;
	tmp_make();
	snprintf(dir, sizeof(dir), "%s/t1/20261128", tmpdir);
	snprintf(path, sizeof(path), "%s/empty.wav", dir);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	res = finish_wait(rec, 500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44 + 4000 * 4);
	wav_load(path, 4000, &w);
	wav_expect_silence(&w, 0, 0, w.frames);
	wav_expect_silence(&w, 1, 0, w.frames);
	free(w.pcm);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);

	snprintf(path, sizeof(path), "%s/zero.wav", dir);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	res = finish_wait(rec, 0);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44);
	wav_load(path, 0, &w);
	free(w.pcm);
	media_recorder_stop(r);
	umask(old);
	tmp_remove();
}

static atomic_uint n_done;

static void on_count(void *arg, const struct media_rec_result *res)
{
	(void)arg;
	if (res->status == MEDIA_REC_COMPLETED)
		atomic_fetch_add(&n_done, 1);
}

/* Stop right after finishing: every recording is written and reported. */
static void test_record_stop_drains(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec[8];
	char path[8][128];
	struct wav w;

	(void)state;
	tmp_make();
	atomic_store(&n_done, 0);
	assert_int_equal(media_recorder_start(&r, 16), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/d%d/rec.wav", tmpdir, i);
		assert_int_equal(media_rec_new(r, path[i], &rec[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		media_rec_finish(rec[i], 2000, on_count, NULL);
	media_recorder_stop(r);
	assert_int_equal(atomic_load(&n_done), 8);
	for (int i = 0; i < 8; i++) {
		wav_load(path[i], 16000, &w);
		free(w.pcm);
	}
	tmp_remove();
}

/* A rec takes one session, once; a session one rec at a time; a rec
 * finished while still recorded is stopped first rather than written to
 * after it is gone; bad paths are refused. */
static void test_record_rules(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec[3], *bad;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	char path[128], longp[5000];

	(void)state;
	tmp_make();
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, "", &bad), EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(media_rec_new(r, longp, &bad), EINVAL);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/r%d.wav", tmpdir, i);
		assert_int_equal(media_rec_new(r, path, &rec[i]), 0);
	}
	assert_int_equal(media_session_record(c.sess, NULL), 0); /* nothing to stop */
	assert_int_equal(media_session_record(c.sess, rec[0]), 0);
	assert_int_equal(media_session_record(c.sess, rec[1]), EINVAL);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	assert_int_equal(media_session_record(c.sess, rec[0]), EINVAL); /* used once */
	assert_int_equal(media_session_record(c.sess, rec[1]), 0);
	res = finish_wait(rec[1], 100); /* still recorded: stopped by the finish */
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(media_session_record(c.sess, rec[2]), 0);
	media_session_free(c.sess); /* stops recording rec[2] */
	c.sess = NULL;
	res = finish_wait(rec[2], 100);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	res = finish_wait(rec[0], 100);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_two_legs),  cmocka_unit_test(test_record_srtp_pcma_ptime),
	    cmocka_unit_test(test_record_cut),       cmocka_unit_test(test_record_gap_and_new_ssrc),
	    cmocka_unit_test(test_record_unrelayed), cmocka_unit_test(test_record_queue_full),
	    cmocka_unit_test(test_record_bad_dir),   cmocka_unit_test(test_record_file_too_big),
	    cmocka_unit_test(test_record_empty),     cmocka_unit_test(test_record_stop_drains),
	    cmocka_unit_test(test_record_rules),
	};

	srand((unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
