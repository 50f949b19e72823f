/* Unit tests for media/prompt.c and media/playout.c: the WAV parser takes
 * 8 kHz mono 16-bit PCM (skipping chunks it does not need) and refuses
 * everything else with a precise reason; a prompt played to a leg reaches
 * its peer over a real UDP socket as 20 ms frames in the leg's codec and
 * payload type, one continuous stream decoding back to the prompt, then
 * PROMPT_DONE with the cookie; a new prompt replaces the old, NULL stops,
 * a digit barges in; relayed audio and ringback wait while it plays. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "udp_peer.h"

#include "media/g711.h"
#include "media/media.h"
#include "media/rtp.h"

#define WAIT_MS  2000
#define QUIET_MS 300
#define FRAME    160
#define TE_PT    101

/* --- WAV files ------------------------------------------------------------ */

struct wav {
	uint8_t b[70000];
	size_t n;
	size_t riff_size_at;
};

static void put(struct wav *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put16(struct wav *w, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(w, b, 2);
}

static void put32(struct wav *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(w, b, 4);
}

static void chunk(struct wav *w, const char *id, const void *data, uint32_t size)
{
	put(w, id, 4);
	put32(w, size);
	put(w, data, size);
	if (size % 2)
		put(w, "", 1);
}

struct fmt {
	unsigned format, channels, rate, bits;
};

static const struct fmt good = {1, 1, 8000, 16};

static void fmt_chunk(struct wav *w, const struct fmt *f)
{
	unsigned align = f->channels * f->bits / 8;

	put(w, "fmt ", 4);
	put32(w, 16);
	put16(w, f->format);
	put16(w, f->channels);
	put32(w, f->rate);
	put32(w, f->rate * align);
	put16(w, align);
	put16(w, f->bits);
}

static void data_chunk(struct wav *w, const int16_t *pcm, size_t n)
{
	put(w, "data", 4);
	put32(w, (uint32_t)(2 * n));
	for (size_t i = 0; i < n; i++)
		put16(w, (uint16_t)pcm[i]);
}

static void riff_begin(struct wav *w)
{
	w->n = 0;
	put(w, "RIFF", 4);
	w->riff_size_at = w->n;
	put32(w, 0);
	put(w, "WAVE", 4);
}

static void riff_end(struct wav *w)
{
	uint32_t size = (uint32_t)(w->n - 8);

	for (int i = 0; i < 4; i++)
		w->b[w->riff_size_at + (size_t)i] = (uint8_t)(size >> (8 * i));
}

static int16_t ramp[4000];

static void make(struct wav *w, const struct fmt *f, size_t n)
{
	riff_begin(w);
	fmt_chunk(w, f);
	data_chunk(w, ramp, n);
	riff_end(w);
}

static void expect_bad(const struct wav *w, const char *reason)
{
	struct media_prompt *p = NULL;
	char err[128] = "";

	assert_int_equal(media_prompt_from_wav(w->b, w->n, &p, err, sizeof(err)), EINVAL);
	assert_null(p);
	if (!strstr(err, reason))
		fail_msg("reason \"%s\", expected \"%s\"", err, reason);
}

static void test_wav_good(void **state)
{
	static struct wav w;
	struct media_prompt *p = NULL;
	char err[128] = "";

	(void)state;
	for (int i = 0; i < 4000; i++)
		ramp[i] = (int16_t)(i * 16 - 32000);
	make(&w, &good, 4000);
	assert_int_equal(media_prompt_from_wav(w.b, w.n, &p, err, sizeof(err)), 0);
	assert_int_equal(media_prompt_ms(p), 500);
	media_prompt_free(p);
	/* Chunks it has no use for, before and between, one of odd size. */
	riff_begin(&w);
	chunk(&w, "LIST", "INFOISFT\x04\0\0\0pb\0\0", 16);
	fmt_chunk(&w, &good);
	chunk(&w, "fact", "\x40\x1f\0", 3);
	data_chunk(&w, ramp, 80);
	chunk(&w, "id3 ", "xx", 2);
	riff_end(&w);
	assert_int_equal(media_prompt_from_wav(w.b, w.n, &p, err, sizeof(err)), 0);
	assert_int_equal(media_prompt_ms(p), 10);
	media_prompt_free(p);
	/* A fmt chunk with the extension size field (18 bytes). */
	riff_begin(&w);
	put(&w, "fmt ", 4);
	put32(&w, 18);
	put16(&w, 1);
	put16(&w, 1);
	put32(&w, 8000);
	put32(&w, 16000);
	put16(&w, 2);
	put16(&w, 16);
	put16(&w, 0);
	data_chunk(&w, ramp, 8);
	riff_end(&w);
	assert_int_equal(media_prompt_from_wav(w.b, w.n, &p, NULL, 0), 0);
	media_prompt_free(p);
	media_prompt_free(NULL);
}

static void test_wav_bad(void **state)
{
	static struct wav w;
	static const struct fmt wide = {1, 1, 16000, 16}, stereo = {1, 2, 8000, 16},
	                        narrow = {1, 1, 8000, 8}, flt = {3, 1, 8000, 32};

	(void)state;
	make(&w, &wide, 100);
	expect_bad(&w, "sample rate 16000 Hz, need 8000");
	make(&w, &stereo, 100);
	expect_bad(&w, "2 channels, need 1 (mono)");
	make(&w, &narrow, 100);
	expect_bad(&w, "8-bit samples, need 16-bit");
	make(&w, &flt, 100);
	expect_bad(&w, "format 3, need 1 (PCM)");
	make(&w, &good, 100);
	w.n -= 10; /* truncated inside the data */
	expect_bad(&w, "truncated: RIFF claims");
	riff_end(&w);
	expect_bad(&w, "truncated: chunk 'data' claims 200 bytes, 190 left");
	w.n = 30; /* inside the fmt chunk */
	riff_end(&w);
	expect_bad(&w, "truncated: chunk 'fmt ' claims 16 bytes, 10 left");
	riff_begin(&w);
	fmt_chunk(&w, &good);
	chunk(&w, "LIST", "abcd", 4);
	riff_end(&w);
	expect_bad(&w, "no data chunk");
	riff_begin(&w);
	data_chunk(&w, ramp, 10);
	fmt_chunk(&w, &good);
	riff_end(&w);
	expect_bad(&w, "data chunk before any fmt chunk");
	riff_begin(&w);
	riff_end(&w);
	expect_bad(&w, "no fmt chunk");
	make(&w, &good, 0);
	expect_bad(&w, "data chunk holds no samples");
	riff_begin(&w);
	fmt_chunk(&w, &good);
	chunk(&w, "data", "abc", 3);
	riff_end(&w);
	expect_bad(&w, "data chunk of odd size 3");
	riff_begin(&w);
	put(&w, "fmt ", 4);
	put32(&w, 14);
	put(&w, ramp, 14);
	riff_end(&w);
	expect_bad(&w, "fmt chunk of 14 bytes, need at least 16");
	make(&w, &good, 10);
	memcpy(w.b + 8, "AVI ", 4);
	expect_bad(&w, "not a RIFF/WAVE file");
	expect_bad(&(struct wav){.n = 5}, "not a RIFF/WAVE file");
}

/* Longer than 5 minutes: refused without reading it all. */
static void test_wav_too_long(void **state)
{
	static struct wav w;
	uint8_t *big;
	size_t n = 8000u * 301u;
	struct media_prompt *p = NULL;
	char err[128];

	(void)state;
	riff_begin(&w);
	fmt_chunk(&w, &good);
	put(&w, "data", 4);
	put32(&w, (uint32_t)(2 * n));
	big = calloc(1, w.n + 2 * n);
	assert_non_null(big);
	memcpy(big, w.b, w.n);
	w.n += 2 * n;
	for (int i = 0; i < 4; i++)
		big[4 + i] = (uint8_t)((w.n - 8) >> (8 * i));
	assert_int_equal(media_prompt_from_wav(big, w.n, &p, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "301 s of audio, at most 300");
	free(big);
}

static void test_wav_file(void **state)
{
	static struct wav w;
	char path[] = "/tmp/pb-prompt-XXXXXX", err[256];
	struct media_prompt *p = NULL;
	int fd;

	(void)state;
	make(&w, &good, 800);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, w.b, w.n), (ssize_t)w.n);
	assert_int_equal(media_prompt_load_wav(path, &p, err, sizeof(err)), 0);
	assert_int_equal(media_prompt_ms(p), 100);
	media_prompt_free(p);
	/* A bad file names itself in the reason. */
	assert_int_equal(ftruncate(fd, 40), 0);
	assert_int_equal(media_prompt_load_wav(path, &p, err, sizeof(err)), EINVAL);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, "truncated"));
	close(fd);
	unlink(path);
	assert_int_equal(media_prompt_load_wav(path, &p, err, sizeof(err)), ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(media_prompt_load_wav("/tmp", &p, err, sizeof(err)), EINVAL);
}

/* --- Playout over real sockets -------------------------------------------- */

struct call {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer caller, callee;
	enum media_codec codec;
};

#define PKT_MAX 480 /* 60 ms */

struct pkt {
	struct rtp_header h;
	uint8_t payload[PKT_MAX];
};

static struct {
	pthread_mutex_t lock;
	struct media_event ev[64];
	size_t n;
} got = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *engine_arg, void *session_arg, const struct media_event *ev)
{
	pthread_mutex_lock(&got.lock);
	if (got.n < 64)
		got.ev[got.n++] = *ev;
	pthread_mutex_unlock(&got.lock);
}

/* Take the events so far (waiting up to WAIT_MS for want of them). */
static size_t take_events(struct media_event *out, size_t want)
{
	size_t n;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		pthread_mutex_lock(&got.lock);
		n = got.n;
		pthread_mutex_unlock(&got.lock);
		if (n >= want)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&got.lock);
	n = got.n;
	memcpy(out, got.ev, n * sizeof(*out));
	got.n = 0;
	pthread_mutex_unlock(&got.lock);
	return n;
}

static void expect_done(const struct media_event *ev, uint64_t cookie, bool barged)
{
	assert_int_equal(ev->kind, MEDIA_EV_PROMPT_DONE);
	assert_int_equal(ev->leg, 0);
	assert_int_equal(ev->cookie, cookie);
	assert_int_equal(ev->barged, barged);
}

/* Both legs known: the caller (codec, pt, telephone-event 101) and a
 * PCMA callee. */
/* a=ptime of leg 0 in the next call_open(); 0 = none (20 ms). */
static unsigned leg0_ptime;

static void call_open(struct call *c, enum media_codec codec, uint8_t pt)
{
	struct media_leg_cfg c0 = {
	    .codec = codec, .codec_pt = pt, .te_pt = TE_PT, .ptime_ms = leg0_ptime};
	struct media_leg_cfg c1 = {.codec = MEDIA_PCMA, .codec_pt = G711_PT_PCMA, .te_pt = 96};
	int rc = ENOSPC;

	peer_open(&c->caller);
	peer_open(&c->callee);
	c0.remote = addr_of(c->caller.port);
	c1.remote = addr_of(c->callee.port);
	c->codec = codec;
	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&c->ports, base, (uint16_t)(base + 3), 50), 0);
		assert_int_equal(media_engine_start(&c->eng, 1, addr_of(0).sin_addr, c->ports), 0);
		rc = media_session_new(c->eng, &c0, &c1, &c->sess);
		if (rc) {
			media_engine_stop(c->eng);
			media_ports_free(c->ports);
		}
	}
	assert_int_equal(rc, 0);
	media_engine_set_events(c->eng, on_event, NULL);
	got.n = 0;
}

static void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	close(c->caller.rtp);
	close(c->caller.rtcp);
	close(c->callee.rtp);
	close(c->callee.rtcp);
}

static bool recv_pkt(const struct peer *at, struct pkt *p, int timeout_ms)
{
	struct pollfd pfd = {.fd = at->rtp, .events = POLLIN};
	uint8_t buf[1500];
	ssize_t len;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	len = recv(at->rtp, buf, sizeof(buf), 0);
	assert_true(len > 0);
	assert_int_equal(rtp_parse(buf, (size_t)len, &p->h), 0);
	assert_true(p->h.payload_len > 0 && p->h.payload_len <= PKT_MAX);
	memcpy(p->payload, buf + p->h.payload_off, p->h.payload_len);
	return true;
}

static void recv_drain(const struct peer *at)
{
	struct pkt p;

	while (recv_pkt(at, &p, 60))
		;
}

static void send_rtp(struct call *c, const struct peer *from, unsigned leg, uint8_t pt,
                     uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len)
{
	uint8_t pkt[12 + FRAME] = {0x80,
	                           pt,
	                           (uint8_t)(seq >> 8),
	                           (uint8_t)seq,
	                           (uint8_t)(ts >> 24),
	                           (uint8_t)(ts >> 16),
	                           (uint8_t)(ts >> 8),
	                           (uint8_t)ts,
	                           0x77,
	                           0,
	                           0,
	                           (uint8_t)leg};
	struct sockaddr_in to = addr_of(media_session_local_port(c->sess, leg));

	memcpy(pkt + 12, payload, len);
	assert_int_equal(sendto(from->rtp, pkt, 12 + len, 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)(12 + len));
}

/* A prompt of n samples: a 1000 Hz tone (8 samples a period) whose
 * amplitude encodes its identity, so frames can be told apart. */
static struct media_prompt *tone_prompt(size_t n, int amp)
{
	static const int shape[8] = {0, 7071, 10000, 7071, 0, -7071, -10000, -7071};
	size_t len = 44 + 2 * n;
	uint8_t *b = malloc(len);
	struct media_prompt *p = NULL;
	static struct wav w;

	assert_non_null(b);
	riff_begin(&w);
	fmt_chunk(&w, &good);
	put(&w, "data", 4);
	put32(&w, (uint32_t)(2 * n));
	assert_int_equal(w.n, 44);
	memcpy(b, w.b, 44);
	for (size_t i = 0; i < n; i++) {
		int16_t v = (int16_t)(shape[i % 8] * amp / 10000);

		b[44 + 2 * i] = (uint8_t)v;
		b[45 + 2 * i] = (uint8_t)((uint16_t)v >> 8);
	}
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)((len - 8) >> (8 * i));
	assert_int_equal(media_prompt_from_wav(b, len, &p, NULL, 0), 0);
	free(b);
	return p;
}

static int16_t decode(const struct call *c, uint8_t code)
{
	return c->codec == MEDIA_PCMU ? g711_ulaw_decode(code) : g711_alaw_decode(code);
}

/* The frame decodes to the tone of amp within G.711's error (silence past
 * the prompt's end, at sample offset off). */
static bool frame_is(const struct call *c, const struct pkt *p, int amp, size_t off, size_t n)
{
	static const int shape[8] = {0, 7071, 10000, 7071, 0, -7071, -10000, -7071};

	for (size_t i = 0; i < p->h.payload_len; i++) {
		int want = off + i < n ? shape[(off + i) % 8] * amp / 10000 : 0;
		int have = decode(c, p->payload[i]);

		if (abs(have - want) > abs(want) / 16 + 16)
			return false;
	}
	return true;
}

/* 1 s of tone: about 50 frames, one stream, the leg's payload type, the
 * prompt's samples; then PROMPT_DONE with the cookie and silence. */
static void check_playout(enum media_codec codec, uint8_t pt, unsigned ptime)
{
	struct call c = {0};
	struct media_prompt *p = tone_prompt(8000, 8000);
	struct media_event ev[8];
	struct pkt first, prev, cur;
	unsigned n = 1, exact = 0, frame = ptime ? ptime * 8 : FRAME;
	unsigned frames = (8000 + frame - 1) / frame;

	leg0_ptime = ptime;
	call_open(&c, codec, pt);
	leg0_ptime = 0;
	assert_int_equal(media_prompt_ms(p), 1000);
	assert_int_equal(media_session_play(c.sess, 0, p, false, 42), 0);
	assert_true(recv_pkt(&c.caller, &first, WAIT_MS));
	assert_int_equal(first.h.pt, pt);
	assert_true(first.h.marker);
	assert_int_equal(first.h.payload_len, frame);
	assert_true(frame_is(&c, &first, 8000, 0, 8000));
	prev = first;
	while (recv_pkt(&c.caller, &cur, 200)) {
		uint32_t dts = cur.h.ts - prev.h.ts;

		assert_int_equal(cur.h.pt, pt);
		assert_false(cur.h.marker);
		assert_int_equal(cur.h.ssrc, first.h.ssrc);
		assert_int_equal(cur.h.seq, (uint16_t)(prev.h.seq + 1));
		assert_int_equal(cur.h.payload_len, frame);
		assert_true(dts > 0 && dts % frame == 0);
		exact += dts == frame;
		assert_true(frame_is(&c, &cur, 8000, cur.h.ts - first.h.ts, 8000));
		prev = cur;
		n++;
	}
	assert_true(n + 5 >= frames && n <= frames);
	assert_true(exact + 5 >= n - 1);
	assert_int_equal(prev.h.ts - first.h.ts, (frames - 1) * frame); /* the last one was sent */
	assert_int_equal(take_events(ev, 1), 1);
	expect_done(&ev[0], 42, false);
	call_close(&c);
	media_prompt_free(p);
}

static void test_play_pcmu(void **state)
{
	(void)state;
	check_playout(MEDIA_PCMU, G711_PT_PCMU, 0);
}

/* A 30 ms leg hears the prompt in 30 ms frames (240 samples each). */
static void test_play_30ms(void **state)
{
	(void)state;
	check_playout(MEDIA_PCMA, G711_PT_PCMA, 30);
}

static void test_play_pcma_dynamic_pt(void **state)
{
	(void)state;
	check_playout(MEDIA_PCMA, 97, 0);
}

/* A new prompt replaces the old (whose PROMPT_DONE comes first) as a marked
 * switch in the same stream; NULL stops with PROMPT_DONE; NULL again with
 * nothing playing reports nothing. */
static void test_replace_and_stop(void **state)
{
	struct call c = {0};
	struct media_prompt *a = tone_prompt(8000 * 5, 4000), *b = tone_prompt(8000 * 5, 12000);
	struct media_event ev[8];
	struct pkt p, first, last;

	(void)state;
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU);
	assert_int_equal(media_session_play(c.sess, 0, a, true, 1), 0);
	assert_true(recv_pkt(&c.caller, &first, WAIT_MS));
	for (int i = 0; i < 4; i++)
		assert_true(recv_pkt(&c.caller, &last, WAIT_MS));
	assert_true(frame_is(&c, &last, 4000, last.h.ts - first.h.ts, 8000 * 5));
	assert_int_equal(media_session_play(c.sess, 0, b, false, 2), 0);
	/* Acknowledged: the old prompt's PROMPT_DONE is already handed over. */
	assert_int_equal(take_events(ev, 0), 1);
	expect_done(&ev[0], 1, false);
	for (;;) {
		assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
		assert_int_equal(p.h.seq, (uint16_t)(last.h.seq + 1));
		assert_int_equal(p.h.ssrc, last.h.ssrc);
		if (!frame_is(&c, &p, 4000, p.h.ts - first.h.ts, 8000 * 5))
			break;
		last = p;
	}
	assert_true(p.h.marker);
	assert_true(frame_is(&c, &p, 12000, 0, 8000 * 5));
	for (int i = 0; i < 3; i++) {
		assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
		assert_false(p.h.marker);
	}
	assert_int_equal(media_session_play(c.sess, 0, NULL, false, 0), 0);
	assert_int_equal(take_events(ev, 0), 1);
	expect_done(&ev[0], 2, false);
	recv_drain(&c.caller);
	assert_false(recv_pkt(&c.caller, &p, QUIET_MS));
	assert_int_equal(media_session_play(c.sess, 0, NULL, false, 0), 0);
	assert_int_equal(take_events(ev, 0), 0);
	assert_int_equal(media_session_play(c.sess, 2, a, false, 3), EINVAL);
	call_close(&c);
	media_prompt_free(a);
	media_prompt_free(b);
}

static void send_event(struct call *c, uint8_t event, bool end, uint16_t seq, uint16_t dur)
{
	uint8_t p[4] = {event, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(dur >> 8), (uint8_t)dur};

	send_rtp(c, &c->caller, 0, TE_PT, seq, 64000, p, sizeof(p));
}

/* A digit while collecting: with barge, DIGIT then PROMPT_DONE (barged)
 * and not one prompt frame more; without barge the prompt plays on. */
static void test_barge_in(void **state)
{
	struct call c = {0};
	struct media_prompt *p = tone_prompt(8000 * 5, 8000);
	struct media_event ev[8];
	struct pkt pk;

	(void)state;
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU);
	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	assert_int_equal(media_session_play(c.sess, 0, p, false, 6), 0);
	assert_true(recv_pkt(&c.caller, &pk, WAIT_MS));
	send_event(&c, 4, false, 10, 0);
	assert_int_equal(take_events(ev, 1), 1);
	assert_int_equal(ev[0].kind, MEDIA_EV_DIGIT);
	assert_int_equal(ev[0].digit, '4');
	usleep(QUIET_MS * 1000);
	assert_int_equal(take_events(ev, 0), 0);
	assert_true(recv_pkt(&c.caller, &pk, WAIT_MS)); /* still playing */

	assert_int_equal(media_session_play(c.sess, 0, p, true, 7), 0);
	assert_int_equal(take_events(ev, 1), 1);
	expect_done(&ev[0], 6, false);
	for (int i = 0; i < 5; i++)
		assert_true(recv_pkt(&c.caller, &pk, WAIT_MS));
	for (int i = 0; i < 3; i++)
		send_event(&c, 5, false, (uint16_t)(20 + i), (uint16_t)(160 * i));
	for (int i = 0; i < 3; i++)
		send_event(&c, 5, true, 23, 480);
	assert_int_equal(take_events(ev, 2), 2);
	assert_int_equal(ev[0].kind, MEDIA_EV_DIGIT);
	assert_int_equal(ev[0].digit, '5');
	assert_int_equal(ev[0].route, MEDIA_DTMF_RFC4733);
	expect_done(&ev[1], 7, true);
	recv_drain(&c.caller);
	assert_false(recv_pkt(&c.caller, &pk, QUIET_MS));
	assert_int_equal(take_events(ev, 0), 0);
	call_close(&c);
	media_prompt_free(p);
}

static bool is_callee(const struct pkt *p)
{
	return p->payload[0] == g711_alaw_to_ulaw(0x2A) && p->payload[1] == g711_alaw_to_ulaw(0x2A);
}

/* While a prompt plays, the other leg's audio is not sent to its leg and
 * ringback waits: ringback, then only the prompt, then the callee's audio
 * (marked; no ringback in between, since the callee was talking
 * throughout); ringback resumes (marked) once the callee stops. */
static void test_prompt_holds_relay_and_ringback(void **state)
{
	struct call c = {0};
	struct media_prompt *p = tone_prompt(8000 / 2, 8000);
	struct media_event ev[8];
	uint8_t callee_audio[FRAME];
	struct pkt pk, first;
	unsigned prompt_frames = 0;
	enum { RING, PROMPT, CALLEE } phase = RING;

	(void)state;
	memset(callee_audio, 0x2A, sizeof(callee_audio));
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU);
	assert_int_equal(media_session_ringback(c.sess, 0, true), 0);
	for (int i = 0; i < 3; i++)
		assert_true(recv_pkt(&c.caller, &pk, WAIT_MS));
	assert_int_equal(media_session_play(c.sess, 0, p, false, 9), 0);
	for (int i = 0; i < 100 && phase != CALLEE; i++) {
		send_rtp(&c, &c.callee, 1, G711_PT_PCMA, (uint16_t)i, 160u * (unsigned)i,
		         callee_audio, FRAME);
		while (phase != CALLEE && recv_pkt(&c.caller, &pk, 0)) {
			if (phase == RING && pk.h.marker && frame_is(&c, &pk, 8000, 0, 4000)) {
				phase = PROMPT;
				first = pk;
				prompt_frames = 1;
			} else if (phase == RING) {
				assert_false(is_callee(&pk));
			} else if (is_callee(&pk)) {
				assert_true(pk.h.marker);
				phase = CALLEE;
			} else {
				assert_true(frame_is(&c, &pk, 8000, pk.h.ts - first.h.ts, 4000));
				prompt_frames++;
			}
		}
		usleep(20000);
	}
	assert_int_equal(phase, CALLEE);
	assert_true(prompt_frames >= 22 && prompt_frames <= 25);
	assert_int_equal(take_events(ev, 1), 1);
	expect_done(&ev[0], 9, false);
	/* The callee stops: ringback comes back. */
	do
		assert_true(recv_pkt(&c.caller, &pk, WAIT_MS));
	while (is_callee(&pk));
	assert_true(pk.h.marker);
	call_close(&c);
	media_prompt_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wav_good),
	    cmocka_unit_test(test_wav_bad),
	    cmocka_unit_test(test_wav_too_long),
	    cmocka_unit_test(test_wav_file),
	    cmocka_unit_test(test_play_pcmu),
	    cmocka_unit_test(test_play_pcma_dynamic_pt),
	    cmocka_unit_test(test_play_30ms),
	    cmocka_unit_test(test_replace_and_stop),
	    cmocka_unit_test(test_barge_in),
	    cmocka_unit_test(test_prompt_holds_relay_and_ringback),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
