/* Unit tests for media/repack.c and media/dtmfgen.c over real UDP sockets
 * on 127.0.0.1: 30 ms PCMA frames reach a 20 ms PCMU leg re-cut into 20 ms
 * frames (and back), one continuous stream with the audio intact; equal
 * ptimes are relayed as they came; an input gap flushes what was buffered,
 * as does an input that stops; telephone-events between legs of different
 * ptime keep their payload and their one timestamp; RFC 4733 events towards
 * a leg without telephone-event arrive as DTMF tones that the project's own
 * in-band detector reads back as exactly the digits pressed. */
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
#include "media/media_int.h"
#include "media/rtp.h"

#define WAIT_MS  2000 /* generous bound for anything that should arrive */
#define QUIET_MS 300  /* how long we listen for what must not arrive */
#define TE_PT    101

struct relay {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer a, b;
};

static void cfg_init(struct media_leg_cfg *c, const struct peer *p, enum media_codec codec,
                     uint8_t pt, int te_pt, unsigned ptime_ms)
{
	memset(c, 0, sizeof(*c));
	c->remote = addr_of(p->port);
	c->codec = codec;
	c->codec_pt = pt;
	c->te_pt = te_pt;
	c->ptime_ms = ptime_ms;
	c->latch = MEDIA_LATCH_STRICT;
}

/* Peers a (leg 0) and b (leg 1), an engine and a session between them. */
static void relay_open(struct relay *r, enum media_codec ca, uint8_t pa, int tea, unsigned pta,
                       enum media_codec cb, uint8_t pb, int teb, unsigned ptb)
{
	struct media_leg_cfg a, b;
	struct in_addr ip = {.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = ENOSPC;

	peer_open(&r->a);
	peer_open(&r->b);
	cfg_init(&a, &r->a, ca, pa, tea, pta);
	cfg_init(&b, &r->b, cb, pb, teb, ptb);
	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&r->ports, base, (uint16_t)(base + 3), 50), 0);
		assert_int_equal(media_engine_start(&r->eng, 1, ip, r->ports), 0);
		rc = media_session_new(r->eng, &a, &b, &r->sess);
		if (rc) {
			media_engine_stop(r->eng);
			media_ports_free(r->ports);
		}
	}
	assert_int_equal(rc, 0);
}

static void relay_close(struct relay *r)
{
	media_session_free(r->sess);
	media_engine_stop(r->eng);
	media_ports_free(r->ports);
	close(r->a.rtp);
	close(r->a.rtcp);
	close(r->b.rtp);
	close(r->b.rtcp);
}

static size_t make_rtp(uint8_t *b, uint8_t pt, bool m, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	struct rtp_header h = {.pt = pt, .marker = m, .seq = seq, .ts = ts, .ssrc = ssrc};

	assert_int_equal(rtp_header_write(b, RTP_HEADER_LEN, &h), 0);
	return RTP_HEADER_LEN;
}

/* Send an RTP packet from peer p to leg's local port. */
static void send_rtp(struct relay *r, const struct peer *p, unsigned leg, uint8_t pt, bool m,
                     uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *payload, size_t n)
{
	uint8_t pkt[1500];
	size_t len = make_rtp(pkt, pt, m, seq, ts, ssrc);
	struct sockaddr_in to = addr_of(media_session_local_port(r->sess, leg));

	memcpy(pkt + len, payload, n);
	assert_int_equal(sendto(p->rtp, pkt, len + n, 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)(len + n));
}

struct rx {
	struct rtp_header h;
	uint8_t payload[1500];
};

/* Receive one RTP packet within timeout_ms; false when none came. */
static bool recv_rtp(const struct peer *p, struct rx *out, int timeout_ms)
{
	struct pollfd pfd = {.fd = p->rtp, .events = POLLIN};
	uint8_t pkt[1500];
	ssize_t len;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	len = recv(p->rtp, pkt, sizeof(pkt), 0);
	assert_true(len > 0);
	assert_int_equal(rtp_parse(pkt, (size_t)len, &out->h), 0);
	memcpy(out->payload, pkt + out->h.payload_off, out->h.payload_len);
	return true;
}

static void recv_must(const struct peer *p, struct rx *out)
{
	assert_true(recv_rtp(p, out, WAIT_MS));
}

/* --- Test signal: speech-like PCM without libm ----------------------------- */

/* A sum of two triangle waves of unrelated periods, up to about +-12000. */
static int16_t signal_at(size_t k)
{
	int a = (int)(k % 37), b = (int)(k % 101);
	int ta = (a < 19 ? a : 37 - a) * 500 - 4500;
	int tb = (b < 51 ? b : 101 - b) * 140 - 3500;

	return (int16_t)(ta + tb);
}

static uint8_t encode(enum media_codec c, int16_t v)
{
	return c == MEDIA_PCMA ? g711_alaw_encode(v) : g711_ulaw_encode(v);
}

static int16_t decode(enum media_codec c, uint8_t code)
{
	return c == MEDIA_PCMA ? g711_alaw_decode(code) : g711_ulaw_decode(code);
}

static uint8_t transcode(enum media_codec from, enum media_codec to, uint8_t code)
{
	if (from == to)
		return code;
	return from == MEDIA_PCMU ? g711_ulaw_to_alaw(code) : g711_alaw_to_ulaw(code);
}

/* Send n frames of fin samples of the signal from leg `leg`'s peer in codec
 * cin (payload type pt), then receive the same samples as frames of fout in
 * cout (payload type pout) at the other peer: one stream (same SSRC,
 * sequence + 1, timestamp + fout, marker only on the first), the codes
 * transcoded by G.711's tables and the decoded audio the input's. */
static void relay_frames(struct relay *r, unsigned leg, enum media_codec cin, uint8_t pt,
                         size_t fin, enum media_codec cout, uint8_t pout, size_t fout, int n)
{
	const struct peer *from = leg ? &r->b : &r->a, *to = leg ? &r->a : &r->b;
	uint8_t in[8 * 240];
	struct rx got;
	size_t total = (size_t)n * fin;

	assert_true(total <= sizeof(in) && total % fout == 0);
	for (size_t k = 0; k < total; k++)
		in[k] = encode(cin, signal_at(k));
	for (int i = 0; i < n; i++)
		send_rtp(r, from, leg, pt, i == 0, (uint16_t)(100 + i), 5000 + (uint32_t)(i * fin),
		         0x5150AA00 + leg, in + i * fin, fin);
	for (size_t k = 0, i = 0; k < total; k += fout, i++) {
		static struct rtp_header first;

		recv_must(to, &got);
		assert_int_equal(got.h.pt, pout);
		assert_int_equal(got.h.payload_len, fout);
		assert_int_equal(got.h.marker, i == 0);
		if (i == 0)
			first = got.h;
		assert_int_equal(got.h.ssrc, first.ssrc);
		assert_int_equal(got.h.seq, (uint16_t)(first.seq + i));
		assert_int_equal(got.h.ts, (uint32_t)(first.ts + k));
		for (size_t j = 0; j < fout; j++) {
			int16_t want = decode(cin, in[k + j]), v = decode(cout, got.payload[j]);
			int tol = (want < 0 ? -want : want) / 8 + 32;

			assert_int_equal(got.payload[j], transcode(cin, cout, in[k + j]));
			assert_true(v - want <= tol && want - v <= tol);
		}
	}
	assert_false(recv_rtp(to, &got, QUIET_MS)); /* nothing left over, nothing extra */
}

static void test_repack_30_to_20(void **state)
{
	struct relay r = {0};

	(void)state;
	relay_open(&r, MEDIA_PCMA, 8, -1, 30, MEDIA_PCMU, 0, -1, 20);
	relay_frames(&r, 0, MEDIA_PCMA, 8, 240, MEDIA_PCMU, 0, 160, 8);
	relay_close(&r);
}

static void test_repack_20_to_30(void **state)
{
	struct relay r = {0};

	(void)state;
	relay_open(&r, MEDIA_PCMA, 8, -1, 30, MEDIA_PCMU, 0, -1, 20);
	relay_frames(&r, 1, MEDIA_PCMU, 0, 160, MEDIA_PCMA, 8, 240, 6);
	relay_close(&r);
}

/* SIPp's g711a.pcap: 30 ms frames from a caller whose SDP has no a=ptime
 * still reach a 20 ms callee in 20 ms frames. */
static void test_repack_undeclared_30ms(void **state)
{
	struct relay r = {0};

	(void)state;
	relay_open(&r, MEDIA_PCMA, 8, TE_PT, 0, MEDIA_PCMA, 8, TE_PT, 0);
	relay_frames(&r, 0, MEDIA_PCMA, 8, 240, MEDIA_PCMA, 8, 160, 8);
	relay_close(&r);
}

/* Equal ptimes (0 means 20) stay on the in-place relay: frames as they came. */
static void test_repack_equal_ptime_unchanged(void **state)
{
	struct relay r = {0};

	(void)state;
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 0, MEDIA_PCMU, 0, TE_PT, 20);
	relay_frames(&r, 0, MEDIA_PCMU, 0, 160, MEDIA_PCMU, 0, 160, 5);
	relay_close(&r);
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 30, MEDIA_PCMA, 8, TE_PT, 30);
	relay_frames(&r, 0, MEDIA_PCMU, 0, 240, MEDIA_PCMA, 8, 240, 4);
	relay_close(&r);
}

static void expect_frame(const struct peer *p, size_t len, uint32_t ts, const uint8_t *want)
{
	struct rx got;

	recv_must(p, &got);
	assert_int_equal(got.h.payload_len, len);
	assert_int_equal(got.h.ts, ts);
	assert_memory_equal(got.payload, want, len);
}

/* 30 -> 20 ms: a timestamp jump in the input flushes the half frame
 * buffered before it (audio is not glued across the gap), the new audio
 * keeps the input's spacing; an input that stops is flushed too. */
static void test_repack_gap_flushes(void **state)
{
	struct relay r = {0};
	uint8_t f1[240], f2[240];
	struct rx first;
	uint32_t t0;

	(void)state;
	for (int i = 0; i < 240; i++) {
		f1[i] = (uint8_t)(i + 1);
		f2[i] = (uint8_t)(255 - i);
	}
	relay_open(&r, MEDIA_PCMU, 0, -1, 30, MEDIA_PCMU, 0, -1, 20);
	send_rtp(&r, &r.a, 0, 0, false, 1, 8000, 0x77, f1, 240);
	recv_must(&r.b, &first);
	assert_int_equal(first.h.payload_len, 160);
	assert_memory_equal(first.payload, f1, 160);
	t0 = first.h.ts;
	/* 100 ms of audio missing: the 80 samples left go out alone first. */
	send_rtp(&r, &r.a, 0, 0, false, 3, 8000 + 240 + 800, 0x77, f2, 240);
	expect_frame(&r.b, 80, t0 + 160, f1 + 160);
	expect_frame(&r.b, 160, t0 + 240 + 800, f2);
	/* The input stops: its last 80 samples still leave, within ~100 ms. */
	expect_frame(&r.b, 80, t0 + 240 + 800 + 160, f2 + 160);
	/* A late packet (older than what was sent) is not sent again. */
	send_rtp(&r, &r.a, 0, 0, false, 2, 8000 + 240, 0x77, f1, 240);
	assert_false(recv_rtp(&r.b, &first, QUIET_MS));
	relay_close(&r);
}

/* Events between legs of different ptime are relayed as they are: payload
 * untouched, one timestamp for the event, in the same numbering. */
static void test_repack_events_as_is(void **state)
{
	struct relay r = {0};
	uint8_t audio[240], ev[4] = {5, 0x0A, 0x00, 0xA0};
	struct rx got, evs[3];

	(void)state;
	memset(audio, 0x55, sizeof(audio));
	relay_open(&r, MEDIA_PCMA, 8, TE_PT, 30, MEDIA_PCMA, 8, 96, 20);
	send_rtp(&r, &r.a, 0, 8, true, 10, 1000, 0x99, audio, 240);
	recv_must(&r.b, &got);
	for (int i = 0; i < 3; i++) {
		ev[3] = (uint8_t)(0xA0 + i);
		send_rtp(&r, &r.a, 0, TE_PT, i == 0, (uint16_t)(11 + i), 1240, 0x99, ev, 4);
		recv_must(&r.b, &evs[i]);
		assert_int_equal(evs[i].h.pt, 96);
		assert_int_equal(evs[i].h.payload_len, 4);
		assert_memory_equal(evs[i].payload, ev, 4);
		assert_int_equal(evs[i].h.ssrc, got.h.ssrc);
		assert_int_equal(evs[i].h.seq, (uint16_t)(got.h.seq + 1 + i));
		assert_int_equal(evs[i].h.ts, got.h.ts + 240);
		assert_int_equal(evs[i].h.marker, i == 0);
	}
	relay_close(&r);
}

/* --- DTMF regeneration ------------------------------------------------------ */

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until(int64_t us)
{
	int64_t now = mono_us();

	if (us > now)
		usleep((useconds_t)(us - now));
}

static int digit_event(char d)
{
	const char *keys = "0123456789*#ABCD", *k = strchr(keys, d);

	assert_non_null(k);
	return (int)(k - keys);
}

/* A gateway pressing digits: 20 ms audio frames throughout (a low 400 Hz
 * triangle, so dropped audio would show), and for each digit an event of
 * on_ms in 20 ms updates with n_end end packets (the last update), then off_ms of audio. */
static void press(struct relay *r, const char *digits, int on_ms, int off_ms, int n_end)
{
	uint8_t audio[160], ev[4];
	uint32_t ts = 16000;
	uint16_t seq = 1, eseq = 0;
	int64_t t = mono_us();
	int steps = 5 + (int)strlen(digits) * (on_ms + off_ms) / 20 + 10;

	for (int j = 0; j < 160; j++) {
		int k = j % 20;

		audio[j] = g711_ulaw_encode((int16_t)((k < 10 ? k : 20 - k) * 400 - 2000));
	}
	for (int i = 0; i < steps; i++, ts += 160, t += 20000) {
		int rel = i - 5, per = (on_ms + off_ms) / 20, di = rel >= 0 ? rel / per : -1;
		int in_ev = rel >= 0 ? rel % per : 0, ev_steps = on_ms / 20;

		sleep_until(t);
		send_rtp(r, &r->a, 0, 0, false, seq++, ts, 0x4733, audio, 160);
		if (di < 0 || di >= (int)strlen(digits) || in_ev >= ev_steps)
			continue;
		ev[0] = (uint8_t)digit_event(digits[di]);
		ev[1] = 10;
		ev[2] = (uint8_t)(((in_ev + 1) * 160) >> 8);
		ev[3] = (uint8_t)((in_ev + 1) * 160);
		for (int e = 0; e < (in_ev == ev_steps - 1 ? n_end : 1); e++) {
			ev[1] = (uint8_t)(in_ev == ev_steps - 1 ? 0x80 | 10 : 10);
			send_rtp(r, &r->a, 0, TE_PT, in_ev == 0, (uint16_t)(5000 + eseq++),
			         ts - (uint32_t)(in_ev * 160), 0x4733, ev, 4);
		}
	}
}

/* Everything leg 1's peer received: one stream in its codec and ptime, no
 * telephone-event; decoded in order through media/dtmf.c's detector. */
static void detect_received(struct relay *r, enum media_codec codec, uint8_t pt, size_t frame,
                            char *out, size_t cap)
{
	struct media_dtmf_rx *d;
	struct rx got;
	size_t len = 0, n = 0;
	uint16_t seq = 0;

	assert_int_equal(media_dtmf_rx_new(&d), 0);
	while (recv_rtp(&r->b, &got, QUIET_MS)) {
		assert_int_equal(got.h.pt, pt); /* never TE_PT, nor anything else */
		/* Whole frames, but for the rest flushed before a gap. */
		assert_true(got.h.payload_len > 0 && got.h.payload_len <= frame);
		if (n++)
			assert_int_equal(got.h.seq, (uint16_t)(seq + 1));
		seq = got.h.seq;
		len += media_dtmf_rx_g711(d, codec, got.payload, got.h.payload_len, out + len,
		                          cap - 1 - len);
	}
	out[len] = '\0';
	assert_true(n > 20);
	media_dtmf_rx_free(d);
}

static void test_dtmf_regenerated_1122(void **state)
{
	struct relay r = {0};
	struct media_stats st;
	char digits[32];

	(void)state;
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 20, MEDIA_PCMU, 0, -1, 20);
	press(&r, "1122", 100, 100, 3);
	detect_received(&r, MEDIA_PCMU, 0, 160, digits, sizeof(digits));
	assert_string_equal(digits, "1122");
	media_session_get_stats(r.sess, &st);
	assert_true(st.generated > 0);
	relay_close(&r);
}

/* The tones in the other leg's codec and ptime: 30 ms PCMA frames, short
 * presses (60 ms events, 60 ms apart) still four digits. */
static void test_dtmf_regenerated_pcma_30ms(void **state)
{
	struct relay r = {0};
	char digits[32];

	(void)state;
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 20, MEDIA_PCMA, 8, -1, 30);
	press(&r, "1122#", 60, 60, 3);
	detect_received(&r, MEDIA_PCMA, 8, 240, digits, sizeof(digits));
	assert_string_equal(digits, "1122#");
	relay_close(&r);
}

/* A quick sender (40 ms events, 40 ms apart): every key still a tone of
 * at least 40 ms with a pause after it, none lost, none merged. */
static void test_dtmf_regenerated_fast(void **state)
{
	struct relay r = {0};
	char digits[32];

	(void)state;
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 20, MEDIA_PCMU, 0, -1, 20);
	press(&r, "123456789*0#1122", 40, 40, 3);
	detect_received(&r, MEDIA_PCMU, 0, 160, digits, sizeof(digits));
	assert_string_equal(digits, "123456789*0#1122");
	relay_close(&r);
}

/* Every end packet lost: the tone stops once the updates stop, and the
 * next press is a digit of its own. */
static void test_dtmf_regenerated_lost_end(void **state)
{
	struct relay r = {0};
	struct media_stats st;
	char digits[32];

	(void)state;
	relay_open(&r, MEDIA_PCMU, 0, TE_PT, 20, MEDIA_PCMU, 0, -1, 20);
	press(&r, "11", 100, 400, 0);
	detect_received(&r, MEDIA_PCMU, 0, 160, digits, sizeof(digits));
	assert_string_equal(digits, "11");
	/* Each tone about 80 + 250 ms and its pause, not the 2 s cap. */
	media_session_get_stats(r.sess, &st);
	assert_in_range(st.generated, 2 * 16, 2 * 22);
	relay_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_repack_30_to_20),
	    cmocka_unit_test(test_repack_20_to_30),
	    cmocka_unit_test(test_repack_undeclared_30ms),
	    cmocka_unit_test(test_repack_equal_ptime_unchanged),
	    cmocka_unit_test(test_repack_gap_flushes),
	    cmocka_unit_test(test_repack_events_as_is),
	    cmocka_unit_test(test_dtmf_regenerated_1122),
	    cmocka_unit_test(test_dtmf_regenerated_pcma_30ms),
	    cmocka_unit_test(test_dtmf_regenerated_fast),
	    cmocka_unit_test(test_dtmf_regenerated_lost_end),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
