/* Unit tests for media/ringback.c over real UDP sockets on 127.0.0.1: the
 * caller's peer hears a 400 Hz ring-ring cadence paced at 20 ms in its own
 * codec and payload type; the callee's early media (after set_leg gives its
 * address and codec) replaces the tone, transcoded, with the marker bit on
 * each switch; the tone resumes 200 ms after the early media stops; off
 * means silence on the wire. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

#define WAIT_MS  2000 /* generous bound for anything that should arrive */
#define QUIET_MS 300  /* how long we listen for what must not arrive */
#define FRAME    160

/* 2 cos(2 pi f / 8000) for the Goertzel filter (no libm in the tests). */
#define COEF_400HZ  1.9021130326 /* 2 cos(18 deg) */
#define COEF_1000HZ 1.4142135624 /* 2 cos(45 deg) */

struct call {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer caller, callee;
};

struct pkt {
	struct rtp_header h;
	uint8_t payload[FRAME];
	int64_t at_ms; /* arrival, monotonic */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* p NULL: a leg whose address is not known yet (the callee before its
 * answer). */
static void cfg_init(struct media_leg_cfg *c, const struct peer *p, enum media_codec codec,
                     uint8_t pt, int te_pt)
{
	memset(c, 0, sizeof(*c));
	if (p)
		c->remote = addr_of(p->port);
	c->codec = codec;
	c->codec_pt = pt;
	c->te_pt = te_pt;
	c->latch = MEDIA_LATCH_STRICT;
}

/* The call flow's start: the caller's leg from its offer, the callee's
 * unknown (PCMU/0, telephone-event 101: what our offer lists). */
static void call_open(struct call *c, enum media_codec codec, uint8_t pt)
{
	struct media_leg_cfg c0, c1;
	int rc = ENOSPC;

	peer_open(&c->caller);
	peer_open(&c->callee);
	cfg_init(&c0, &c->caller, codec, pt, 101);
	cfg_init(&c1, NULL, MEDIA_PCMU, G711_PT_PCMU, 101);
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
}

static void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	peer_close(&c->caller);
	peer_close(&c->callee);
}

/* Receive one RTP packet with a 160-byte payload within timeout_ms. */
static bool recv_pkt(const struct peer *at, struct pkt *p, int timeout_ms)
{
	struct pollfd pfd = {.fd = at->rtp, .events = POLLIN};
	uint8_t buf[1500];
	ssize_t len;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	len = recv(at->rtp, buf, sizeof(buf), 0);
	p->at_ms = mono_ms();
	assert_true(len > 0);
	assert_int_equal(rtp_parse(buf, (size_t)len, &p->h), 0);
	assert_int_equal(p->h.payload_len, FRAME);
	memcpy(p->payload, buf + p->h.payload_off, FRAME);
	return true;
}

static void recv_drain(const struct peer *at)
{
	struct pkt p;

	while (recv_pkt(at, &p, 60))
		;
}

static void decode(const uint8_t *payload, enum media_codec codec, int16_t *pcm)
{
	for (int i = 0; i < FRAME; i++)
		pcm[i] = codec == MEDIA_PCMU ? g711_ulaw_decode(payload[i])
		                             : g711_alaw_decode(payload[i]);
}

/* The share of the frame's energy at the filter's frequency: near 1 for a
 * pure tone of a whole number of periods, near 0 for another frequency. */
static double tone_share(const int16_t *x, double coef)
{
	double s1 = 0, s2 = 0, energy = 0;

	for (int i = 0; i < FRAME; i++) {
		double s0 = x[i] + coef * s1 - s2;

		s2 = s1;
		s1 = s0;
		energy += (double)x[i] * x[i];
	}
	if (energy == 0)
		return 0;
	return 2 * (s1 * s1 + s2 * s2 - coef * s1 * s2) / (FRAME * energy);
}

enum frame_kind { FRAME_SILENCE, FRAME_TONE, FRAME_OTHER };

static enum frame_kind classify(const uint8_t *payload, enum media_codec codec)
{
	int16_t pcm[FRAME];
	int peak = 0;

	decode(payload, codec, pcm);
	for (int i = 0; i < FRAME; i++)
		if (abs(pcm[i]) > peak)
			peak = abs(pcm[i]);
	if (peak <= 8) /* A-law's smallest step: its silence decodes to 8 */
		return FRAME_SILENCE;
	/* About -16 dBm0: the tone's peak is well above 1000. */
	if (peak > 1000 && tone_share(pcm, COEF_400HZ) > 0.95 &&
	    tone_share(pcm, COEF_1000HZ) < 0.01)
		return FRAME_TONE;
	return FRAME_OTHER;
}

/* Frames 0-19 and 30-49 of each 150-frame (3 s) cadence are tone. */
static bool cadence_on(unsigned pos)
{
	pos %= 150;
	return pos < 20 || (pos >= 30 && pos < 50);
}

static bool near_edge(unsigned pos)
{
	pos %= 150;
	return pos == 149 || pos == 0 || pos == 19 || pos == 20 || pos == 29 || pos == 30 ||
	       pos == 49 || pos == 50;
}

static uint64_t generated(struct media_session *s)
{
	struct media_stats st;

	media_session_get_stats(s, &st);
	return st.generated;
}

/* The counter is bumped after the send: wait for it. */
static void wait_generated(struct media_session *s, uint64_t want)
{
	for (int i = 0; i < WAIT_MS / 10 && generated(s) < want; i++)
		usleep(10000);
	assert_true(generated(s) >= want);
}

/* 60 frames (1.2 s: on, off, on, and the start of the long off) at 20 ms
 * pacing, one stream, the leg's payload type, the tone where the cadence
 * says so. Edges of the cadence are not judged: a late tick may shift them
 * by a frame. */
static void check_tone(enum media_codec codec, uint8_t pt)
{
	struct call c = {0};
	struct pkt p[60];
	unsigned exact = 0, tone = 0, silence = 0;
	int64_t span_ms, ts_ms;

	call_open(&c, codec, pt);
	assert_int_equal(media_session_ringback(c.sess, 0, true), 0);
	for (int i = 0; i < 60; i++) {
		assert_true(recv_pkt(&c.caller, &p[i], WAIT_MS));
		assert_int_equal(p[i].h.pt, pt);
		assert_int_equal(p[i].h.marker, i == 0);
		if (i == 0)
			continue;
		uint32_t dts = p[i].h.ts - p[i - 1].h.ts;

		assert_int_equal(p[i].h.ssrc, p[0].h.ssrc);
		assert_int_equal(p[i].h.seq, (uint16_t)(p[i - 1].h.seq + 1));
		assert_true(dts > 0 && dts % FRAME == 0 && dts <= 10 * FRAME);
		exact += dts == FRAME;
	}
	assert_true(exact >= 53); /* 90%: the odd late tick skips a frame */
	for (int i = 0; i < 60; i++) {
		unsigned pos = (p[i].h.ts - p[0].h.ts) / FRAME;
		enum frame_kind k = classify(p[i].payload, codec);

		assert_int_not_equal(k, FRAME_OTHER);
		if (near_edge(pos))
			continue;
		assert_int_equal(k, cadence_on(pos) ? FRAME_TONE : FRAME_SILENCE);
		tone += k == FRAME_TONE;
		silence += k == FRAME_SILENCE;
	}
	assert_true(tone >= 30 && silence >= 10);
	/* Paced by the clock, and the timestamps say the same time. */
	span_ms = p[59].at_ms - p[0].at_ms;
	ts_ms = (int64_t)(p[59].h.ts - p[0].h.ts) / 8;
	assert_true(span_ms >= 59 * 20 * 8 / 10 && span_ms <= 59 * 20 * 2);
	assert_true(llabs(span_ms - ts_ms) < 100);
	wait_generated(c.sess, 60);
	call_close(&c);
}

static void test_tone_pcmu(void **state)
{
	(void)state;
	check_tone(MEDIA_PCMU, G711_PT_PCMU);
}

static void test_tone_pcma_dynamic_pt(void **state)
{
	(void)state;
	check_tone(MEDIA_PCMA, 98); /* any type the caller's SDP names */
}

/* From the callee: n PCMA frames 20 ms apart, payload byte j of frame i
 * = i * 7 + j. */
static void callee_send(struct call *c, int n)
{
	uint8_t pkt[12 + FRAME];
	struct sockaddr_in to = addr_of(media_session_local_port(c->sess, 1));

	for (int i = 0; i < n; i++) {
		uint16_t seq = (uint16_t)(100 + i);
		uint32_t ts = 5000u + FRAME * (uint32_t)i;

		memset(pkt, 0, 12);
		pkt[0] = 0x80;
		pkt[1] = G711_PT_PCMA;
		pkt[2] = (uint8_t)(seq >> 8);
		pkt[3] = (uint8_t)seq;
		pkt[4] = (uint8_t)(ts >> 24);
		pkt[5] = (uint8_t)(ts >> 16);
		pkt[6] = (uint8_t)(ts >> 8);
		pkt[7] = (uint8_t)ts;
		pkt[8] = 0xCA;
		pkt[11] = 0x11;
		for (int j = 0; j < FRAME; j++)
			pkt[12 + j] = (uint8_t)(i * 7 + j);
		assert_int_equal(
		    sendto(c->callee.rtp, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)),
		    (ssize_t)sizeof(pkt));
		usleep(20000);
	}
}

static bool is_early_media(const struct pkt *p, int i)
{
	for (int j = 0; j < FRAME; j++)
		if (p->payload[j] != g711_alaw_to_ulaw((uint8_t)(i * 7 + j)))
			return false;
	return true;
}

/* Tone, then the callee's early media (which pauses it), then the tone
 * again: one stream, sequence always +1, marker on each switch. */
static void test_early_media_pauses_tone(void **state)
{
	struct call c = {0};
	struct media_leg_cfg c1;
	struct media_stats st;
	struct pkt p, last;
	int n = 0;

	(void)state;
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU);
	assert_int_equal(media_session_ringback(c.sess, 0, true), 0);
	for (int i = 0; i < 5; i++)
		assert_true(recv_pkt(&c.caller, &last, WAIT_MS));
	/* Before its answer the callee's leg has no address: refused. */
	callee_send(&c, 1);
	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_session_get_stats(c.sess, &st);
		if (st.dropped_source)
			break;
		usleep(10000);
	}
	assert_int_equal(st.dropped_source, 1);
	assert_int_equal(st.relayed, 0);

	cfg_init(&c1, &c.callee, MEDIA_PCMA, G711_PT_PCMA, 96);
	assert_int_equal(media_session_set_leg(c.sess, 1, &c1), 0);
	callee_send(&c, 15);
	/* Tone frames sent before the first early media arrived, then the
	 * 15 frames with nothing in between. */
	for (;;) {
		assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
		assert_int_equal(p.h.ssrc, last.h.ssrc);
		assert_int_equal(p.h.seq, (uint16_t)(last.h.seq + 1));
		assert_true((int32_t)(p.h.ts - last.h.ts) >= 0);
		if (is_early_media(&p, 0))
			break;
		assert_false(p.h.marker);
		last = p;
	}
	assert_true(p.h.marker);
	assert_int_equal(p.h.pt, G711_PT_PCMU);
	for (n = 1; n < 15; n++) {
		last = p;
		assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
		assert_true(is_early_media(&p, n));
		assert_false(p.h.marker);
		assert_int_equal(p.h.seq, (uint16_t)(last.h.seq + 1));
		assert_int_equal(p.h.ts - last.h.ts, FRAME);
	}
	/* 200 ms after the early media stops, the tone is back. */
	last = p;
	assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
	assert_true(p.at_ms - last.at_ms >= 150);
	assert_true(p.h.marker);
	assert_int_not_equal(classify(p.payload, MEDIA_PCMU), FRAME_OTHER);
	assert_int_equal(p.h.seq, (uint16_t)(last.h.seq + 1));
	assert_true((int32_t)(p.h.ts - last.h.ts) >= 1600); /* >= 200 ms */
	assert_int_equal(p.h.ssrc, last.h.ssrc);
	call_close(&c);
}

/* Off stops the generator at once (acknowledged); the answer's audio then
 * flows as a marked switch. Never on: nothing at all. */
static void test_off_means_nothing(void **state)
{
	struct call c = {0};
	struct media_leg_cfg c1;
	struct pkt p;
	uint64_t gen;

	(void)state;
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU);
	assert_false(recv_pkt(&c.caller, &p, QUIET_MS));
	assert_int_equal(generated(c.sess), 0);
	assert_int_equal(media_session_ringback(c.sess, 2, true), EINVAL);
	assert_int_equal(media_session_ringback(c.sess, 0, true), 0);
	assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
	assert_int_equal(media_session_ringback(c.sess, 0, false), 0);
	recv_drain(&c.caller);
	gen = generated(c.sess);
	assert_false(recv_pkt(&c.caller, &p, QUIET_MS));
	assert_int_equal(generated(c.sess), gen);
	/* The answer's audio still crosses. */
	cfg_init(&c1, &c.callee, MEDIA_PCMA, G711_PT_PCMA, 96);
	assert_int_equal(media_session_set_leg(c.sess, 1, &c1), 0);
	callee_send(&c, 2);
	assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
	assert_true(is_early_media(&p, 0));
	assert_true(p.h.marker);
	assert_true(recv_pkt(&c.caller, &p, WAIT_MS));
	assert_true(is_early_media(&p, 1));
	assert_false(recv_pkt(&c.caller, &p, QUIET_MS));
	call_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tone_pcmu),
	    cmocka_unit_test(test_tone_pcma_dynamic_pt),
	    cmocka_unit_test(test_early_media_pauses_tone),
	    cmocka_unit_test(test_off_means_nothing),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
