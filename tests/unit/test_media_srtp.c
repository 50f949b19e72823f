/* Unit tests for SRTP in the media engine (media/session.c, repack.c over
 * media/srtp.c) with real UDP sockets on 127.0.0.1: an SRTP leg's peer
 * holds its own media_srtp with the keys swapped, so it checks what
 * pinbridge sends it and protects what it sends. Relay between SRTP and
 * plain legs and between two SRTP legs under different keys; forged,
 * truncated and replayed packets refused, counted, never relayed, never
 * latched onto, never a digit, no reprieve from the inactivity timeout;
 * ringback, prompts and re-cut audio protected; SRTCP both ways. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

#include "media/media.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/srtp.h"

#define WAIT_MS  2000 /* generous bound for anything that should arrive */
#define QUIET_MS 300  /* how long we listen for what must not arrive */
/* Our first RTCP report leaves 5 s (MEDIA_RTCP_US) after the session
 * starts; the bound leaves room for a loaded machine. */
#define RTCP_WAIT_MS 15000
#define FRAME        160
#define TE_PT        101
#define BUF          1600

/* One call: leg 0 (a) and leg 1 (b). leg_srtp[i] is pinbridge's state for
 * leg i (NULL: plain), peer_srtp[i] its peer's (keys swapped). */
struct call {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer peer[2];
	struct media_srtp *leg_srtp[2], *peer_srtp[2];
	uint32_t ssrc[2]; /* each peer's own stream */
};

/* --- Events (worker thread) ----------------------------------------------- */
static struct {
	pthread_mutex_t lock;
	size_t n;
	struct media_event ev[64];
} got = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *engine_arg, void *session_arg, const struct media_event *ev)
{
	(void)engine_arg;
	(void)session_arg;
	pthread_mutex_lock(&got.lock);
	if (got.n < 64)
		got.ev[got.n++] = *ev;
	pthread_mutex_unlock(&got.lock);
}

/* Wait for the first event of kind; false when none came within WAIT_MS. */
static bool wait_event(enum media_event_kind kind, struct media_event *out)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		bool found = false;

		pthread_mutex_lock(&got.lock);
		for (size_t k = 0; k < got.n && !found; k++)
			if (got.ev[k].kind == kind) {
				*out = got.ev[k];
				found = true;
			}
		pthread_mutex_unlock(&got.lock);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

/* --- The call ------------------------------------------------------------- */
static struct in_addr loopback(void)
{
	struct in_addr ip = {.s_addr = htonl(INADDR_LOOPBACK)};

	return ip;
}

/* Keys for leg i: pinbridge's state unprotects with k_in (the peer's key)
 * and protects with k_out (ours); the peer's state the other way round. */
static void keys_make(struct call *c, unsigned i)
{
	struct media_srtp_key k_in, k_out;

	media_srtp_key_generate(&k_in, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	media_srtp_key_generate(&k_out, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(media_srtp_new(&c->leg_srtp[i], &k_in, &k_out), 0);
	assert_int_equal(media_srtp_new(&c->peer_srtp[i], &k_out, &k_in), 0);
	media_srtp_key_wipe(&k_in);
	media_srtp_key_wipe(&k_out);
}

/* Peers, keys for the legs in srtp_legs (bit i: leg i) and both legs'
 * descriptions (PCMU, telephone-event, strict latching) for the test to
 * adjust before call_start. */
static void call_prepare(struct call *c, unsigned srtp_legs, struct media_leg_cfg cfg[2])
{
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < 2; i++) {
		peer_open(&c->peer[i]);
		if (srtp_legs & (1u << i))
			keys_make(c, i);
		c->ssrc[i] = 0xA0000000u + i;
		memset(&cfg[i], 0, sizeof(cfg[i]));
		cfg[i].remote = addr_of(c->peer[i].port);
		cfg[i].codec = MEDIA_PCMU;
		cfg[i].codec_pt = 0;
		cfg[i].te_pt = TE_PT;
		cfg[i].latch = MEDIA_LATCH_STRICT;
		cfg[i].srtp = c->leg_srtp[i];
	}
}

/* Engine and session on a pool at a random base (retried when taken). */
static void call_start(struct call *c, const struct media_leg_cfg cfg[2])
{
	int rc = ENOSPC;

	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&c->ports, base, (uint16_t)(base + 3), 50), 0);
		assert_int_equal(media_engine_start(&c->eng, 1, loopback(), c->ports), 0);
		rc = media_session_new(c->eng, &cfg[0], &cfg[1], &c->sess);
		if (rc) {
			media_engine_stop(c->eng);
			media_ports_free(c->ports);
		}
	}
	assert_int_equal(rc, 0);
	pthread_mutex_lock(&got.lock);
	got.n = 0;
	pthread_mutex_unlock(&got.lock);
	media_engine_set_events(c->eng, on_event, NULL);
}

static void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	for (unsigned i = 0; i < 2; i++) {
		peer_close(&c->peer[i]);
		media_srtp_free(c->leg_srtp[i]); /* the session is gone: ours again */
		media_srtp_free(c->peer_srtp[i]);
	}
}

static uint16_t local_port(const struct call *c, unsigned leg)
{
	return media_session_local_port(c->sess, leg);
}

/* --- Packets -------------------------------------------------------------- */
static uint8_t pattern(uint16_t seq, size_t j)
{
	return (uint8_t)(seq * 7 + j);
}

static size_t rtp_make(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                       uint32_t ssrc, const uint8_t *payload, size_t n)
{
	struct rtp_header h = {.pt = pt, .marker = marker, .seq = seq, .ts = ts, .ssrc = ssrc};

	assert_int_equal(rtp_header_write(b, BUF, &h), 0);
	memcpy(b + RTP_HEADER_LEN, payload, n);
	return RTP_HEADER_LEN + n;
}

/* Peer i's audio packet seq (n bytes, pattern(seq, j)), protected when leg
 * i is an SRTP leg. Its length. */
static size_t audio_make(struct call *c, unsigned i, uint16_t seq, size_t n, uint8_t *pkt)
{
	uint8_t payload[BUF];
	size_t len;

	for (size_t j = 0; j < n; j++)
		payload[j] = pattern(seq, j);
	len = rtp_make(pkt, 0, false, seq, 1000u + (uint32_t)n * seq, c->ssrc[i], payload, n);
	if (c->peer_srtp[i])
		assert_int_equal(media_srtp_protect_rtp(c->peer_srtp[i], pkt, &len, BUF), 0);
	return len;
}

static void send_raw(int fd, const uint8_t *pkt, size_t len, uint16_t port)
{
	struct sockaddr_in to = addr_of(port);

	assert_int_equal(sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* Peer i sends audio packet seq to its leg. */
static void send_audio(struct call *c, unsigned i, uint16_t seq, size_t n)
{
	uint8_t pkt[BUF];
	size_t len = audio_make(c, i, seq, n, pkt);

	send_raw(c->peer[i].rtp, pkt, len, local_port(c, i));
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, buf, cap, 0);
}

/* The next RTP packet peer i gets from pinbridge, checked for the leg's
 * tag length and unprotected under the peer's state when the leg is SRTP
 * (which must succeed), then parsed. */
static void recv_rtp(struct call *c, unsigned i, uint8_t *pkt, struct rtp_header *h)
{
	ssize_t got_len = recv_wait(c->peer[i].rtp, pkt, BUF, WAIT_MS);
	size_t len;

	assert_true(got_len > 0);
	len = (size_t)got_len;
	if (c->peer_srtp[i]) {
		assert_int_equal(media_srtp_unprotect_rtp(c->peer_srtp[i], pkt, &len), 0);
		assert_int_equal(len + 10, (size_t)got_len); /* the 80-bit tag was there */
	}
	assert_int_equal(rtp_parse(pkt, len, h), 0);
	assert_int_not_equal(h->ssrc, c->ssrc[1 - i]); /* pinbridge's stream */
}

/* Peer i gets the other peer's audio packet seq (n bytes), in the clear
 * after its own unprotect. */
static void expect_audio(struct call *c, unsigned i, uint16_t seq, size_t n)
{
	uint8_t pkt[BUF];
	struct rtp_header h;

	recv_rtp(c, i, pkt, &h);
	assert_int_equal(h.pt, 0);
	assert_int_equal(h.payload_len, n);
	for (size_t j = 0; j < n; j++)
		assert_int_equal(pkt[h.payload_off + j], pattern(seq, j));
}

static void expect_nothing(struct call *c, unsigned i)
{
	uint8_t pkt[BUF];

	assert_int_equal(recv_wait(c->peer[i].rtp, pkt, sizeof(pkt), QUIET_MS), -1);
}

/* Throw away what peer i has been sent so far (until QUIET_MS of quiet). */
static void drain(struct call *c, unsigned i)
{
	uint8_t pkt[BUF];

	while (recv_wait(c->peer[i].rtp, pkt, sizeof(pkt), QUIET_MS) > 0)
		;
}

static uint64_t stat_of(const struct media_stats *st, size_t off)
{
	return *(const uint64_t *)((const char *)st + off);
}

/* Counters are bumped after the packet is handled: wait for one, then the
 * test can be exact about all of them. */
static void wait_stat(struct call *c, size_t off, uint64_t want)
{
	struct media_stats st;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_session_get_stats(c->sess, &st);
		if (stat_of(&st, off) >= want)
			return;
		usleep(10000);
	}
	fail_msg("counter at offset %zu never reached %llu", off, (unsigned long long)want);
}

/* --- Tests ---------------------------------------------------------------- */

/* A's SRTP arrives at B in the clear, B's audio at A protected. */
static void test_srtp_to_plain_and_back(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	struct media_stats st;
	uint8_t raw[BUF], plain[FRAME];
	size_t len;
	ssize_t n;

	(void)state;
	call_prepare(&c, 1u << 0, cfg);
	call_start(&c, cfg);
	for (uint16_t seq = 1; seq <= 3; seq++) {
		send_audio(&c, 0, seq, FRAME);
		expect_audio(&c, 1, seq, FRAME);
	}
	for (uint16_t seq = 1; seq <= 3; seq++)
		send_audio(&c, 1, seq, FRAME);
	/* The first one by hand: encrypted on the wire, readable with the
	 * peer's keys. */
	n = recv_wait(c.peer[0].rtp, raw, sizeof(raw), WAIT_MS);
	assert_int_equal(n, RTP_HEADER_LEN + FRAME + 10);
	for (size_t j = 0; j < FRAME; j++)
		plain[j] = pattern(1, j);
	assert_memory_not_equal(raw + RTP_HEADER_LEN, plain, FRAME);
	len = (size_t)n;
	assert_int_equal(media_srtp_unprotect_rtp(c.peer_srtp[0], raw, &len), 0);
	assert_int_equal(len, RTP_HEADER_LEN + FRAME);
	assert_memory_equal(raw + RTP_HEADER_LEN, plain, FRAME);
	expect_audio(&c, 0, 2, FRAME);
	expect_audio(&c, 0, 3, FRAME);
	wait_stat(&c, offsetof(struct media_stats, relayed), 6);
	media_session_get_stats(c.sess, &st);
	assert_int_equal(st.relayed, 6);
	assert_int_equal(st.dropped_srtp_auth + st.dropped_srtp_replay + st.dropped_malformed, 0);
	/* A duplicate from B would reuse its sequence number towards A:
	 * SRTP never protects one twice, so it is dropped as a replay. */
	send_audio(&c, 1, 3, FRAME);
	wait_stat(&c, offsetof(struct media_stats, dropped_srtp_replay), 1);
	expect_nothing(&c, 0);
	media_session_get_stats(c.sess, &st);
	assert_int_equal(st.relayed, 6);
	assert_int_equal(st.dropped_send, 0);

	/* The largest datagram pinbridge takes (1500 bytes; relayed in
	 * place, being no audio to re-cut) still has room for the tag. */
	memset(plain, 0x5A, sizeof(plain));
	len = rtp_make(raw, TE_PT, false, 9, 9000, c.ssrc[1], plain, sizeof(plain));
	memset(raw + len, 0x5A, 1500 - len);
	send_raw(c.peer[1].rtp, raw, 1500, local_port(&c, 1));
	n = recv_wait(c.peer[0].rtp, raw, sizeof(raw), WAIT_MS);
	assert_int_equal(n, 1500 + 10);
	len = (size_t)n;
	assert_int_equal(media_srtp_unprotect_rtp(c.peer_srtp[0], raw, &len), 0);
	assert_int_equal(len, 1500);
	assert_int_equal(raw[1] & 0x7F, TE_PT);
	assert_int_equal(raw[1499], 0x5A);
	call_close(&c);
}

/* Tampered, truncated and replayed packets from A's own peer: dropped,
 * counted, never at B; good packets after them still flow. */
static void test_srtp_refused(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	struct media_stats st;
	uint8_t first[BUF], pkt[BUF];
	size_t first_len, len;

	(void)state;
	call_prepare(&c, 1u << 0, cfg);
	call_start(&c, cfg);
	first_len = audio_make(&c, 0, 1, FRAME, first);
	send_raw(c.peer[0].rtp, first, first_len, local_port(&c, 0));
	expect_audio(&c, 1, 1, FRAME);

	len = audio_make(&c, 0, 2, FRAME, pkt); /* one payload byte flipped */
	pkt[RTP_HEADER_LEN + 40] ^= 0x01;
	send_raw(c.peer[0].rtp, pkt, len, local_port(&c, 0));
	len = audio_make(&c, 0, 3, FRAME, pkt); /* cut into the tag */
	send_raw(c.peer[0].rtp, pkt, len - 3, local_port(&c, 0));
	len = audio_make(&c, 0, 4, FRAME, pkt); /* too short for a tag at all */
	send_raw(c.peer[0].rtp, pkt, RTP_HEADER_LEN + 5, local_port(&c, 0));
	send_raw(c.peer[0].rtp, first, first_len, local_port(&c, 0)); /* replayed */
	/* An RTP packet in the clear is no SRTP packet either. */
	len = rtp_make(pkt, 0, false, 6, 7000, c.ssrc[0], first, FRAME);
	send_raw(c.peer[0].rtp, pkt, len, local_port(&c, 0));

	send_audio(&c, 0, 7, FRAME);
	send_audio(&c, 0, 8, FRAME);
	expect_audio(&c, 1, 7, FRAME);
	expect_audio(&c, 1, 8, FRAME);
	expect_nothing(&c, 1);
	wait_stat(&c, offsetof(struct media_stats, relayed), 3);
	media_session_get_stats(c.sess, &st);
	assert_int_equal(st.relayed, 3);
	assert_int_equal(st.dropped_srtp_auth, 3); /* flipped, cut, clear */
	assert_int_equal(st.dropped_srtp_replay, 1);
	assert_int_equal(st.dropped_malformed, 1);
	assert_int_equal(st.dropped_source, 0);
	media_engine_get_stats(c.eng, &st);
	assert_int_equal(st.dropped_srtp_auth, 3);
	assert_int_equal(st.dropped_srtp_replay, 1);
	assert_int_equal(st.dropped_malformed, 1);
	call_close(&c);
}

/* Both legs SRTP under different keys: each peer reads the other's audio
 * under its own keys only. */
static void test_srtp_both_legs(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];

	(void)state;
	call_prepare(&c, 3u, cfg);
	call_start(&c, cfg);
	for (uint16_t seq = 10; seq < 13; seq++) {
		send_audio(&c, 0, seq, FRAME);
		expect_audio(&c, 1, seq, FRAME);
		send_audio(&c, 1, seq, FRAME);
		expect_audio(&c, 0, seq, FRAME);
	}
	call_close(&c);
}

/* Learning: a forgery from a learnable address latches nothing, the real
 * peer latches; once latched, a stranger's packet is refused by its
 * source before the SRTP state sees it. */
static void test_srtp_forgery_does_not_latch(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	struct media_stats st;
	struct media_srtp_key k1, k2;
	struct media_srtp *wrong;
	struct peer stranger = {0};
	uint8_t pkt[BUF], payload[FRAME] = {0};
	size_t len;

	(void)state;
	call_prepare(&c, 1u << 0, cfg);
	cfg[0].latch = MEDIA_LATCH_LEARN;
	cfg[0].remote.sin_port = 0; /* the IP only: learn the port */
	peer_open(&stranger);
	media_srtp_key_generate(&k1, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	media_srtp_key_generate(&k2, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(media_srtp_new(&wrong, &k1, &k2), 0);
	call_start(&c, cfg);

	len = rtp_make(pkt, 0, false, 1, 1000, 0x5757, payload, FRAME);
	assert_int_equal(media_srtp_protect_rtp(wrong, pkt, &len, BUF), 0);
	send_raw(stranger.rtp, pkt, len, local_port(&c, 0));
	wait_stat(&c, offsetof(struct media_stats, dropped_srtp_auth), 1);
	send_audio(&c, 0, 1, FRAME);
	expect_audio(&c, 1, 1, FRAME);
	send_audio(&c, 1, 1, FRAME);
	expect_audio(&c, 0, 1, FRAME); /* at the real peer, not the stranger */
	assert_int_equal(recv_wait(stranger.rtp, pkt, sizeof(pkt), 0), -1);

	len = rtp_make(pkt, 0, false, 2, 1160, 0x5757, payload, FRAME);
	assert_int_equal(media_srtp_protect_rtp(wrong, pkt, &len, BUF), 0);
	send_raw(stranger.rtp, pkt, len, local_port(&c, 0));
	wait_stat(&c, offsetof(struct media_stats, dropped_source), 1);
	media_session_get_stats(c.sess, &st);
	assert_int_equal(st.dropped_srtp_auth, 1);
	assert_int_equal(st.dropped_source, 1);
	expect_nothing(&c, 1);
	call_close(&c);
	media_srtp_free(wrong);
	peer_close(&stranger);
}

/* Peer 0's RFC 4733 key press (start, updates, three end packets). A
 * forger has no key: its packets are in the clear with a made-up tag,
 * disguised as RTP padding so that they would parse as events if anything
 * read them unauthenticated. */
static void press(struct call *c, uint8_t event, uint16_t *seq, uint32_t ts, bool forged)
{
	for (int i = 0; i < 8; i++) {
		bool end = i >= 5;
		uint16_t d = end ? 800 : (uint16_t)(160 * i);
		uint8_t ev[4] = {event, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(d >> 8),
		                 (uint8_t)d};
		uint8_t pkt[BUF];
		size_t len = rtp_make(pkt, TE_PT, i == 0, (*seq)++, ts, c->ssrc[0], ev, 4);

		if (forged) {
			pkt[0] |= 0x20; /* P: the last byte counts the padding */
			memset(pkt + len, 0xAA, 9);
			pkt[len + 9] = 10;
			len += 10;
		} else {
			assert_int_equal(media_srtp_protect_rtp(c->peer_srtp[0], pkt, &len, BUF),
			                 0);
		}
		send_raw(c->peer[0].rtp, pkt, len, local_port(c, 0));
	}
}

/* A forged key press is no digit and forged packets do not keep the leg
 * alive: the inactivity timeout fires for it. */
static void test_srtp_forgery_not_heard(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	struct media_event ev;
	uint16_t seq = 100;
	int timed_out_leg = -1;

	(void)state;
	call_prepare(&c, 1u << 0, cfg);
	call_start(&c, cfg);
	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	press(&c, 5, &seq, 16000, true);
	press(&c, 7, &seq, 17600, false);
	assert_true(wait_event(MEDIA_EV_DIGIT, &ev));
	assert_int_equal(ev.digit, '7'); /* the first digit heard, not '5' */
	assert_int_equal(ev.route, MEDIA_DTMF_RFC4733);
	wait_stat(&c, offsetof(struct media_stats, dropped_srtp_auth), 8);

	/* Leg 0's peer sends only forgeries, leg 1's nothing: both legs
	 * expire together, and leg 0 is reported (legs are checked in
	 * order) unless a forgery counted as received. */
	assert_int_equal(media_session_rtp_timeout(c.sess, 200), 0);
	for (int i = 0; i < WAIT_MS / 20 && timed_out_leg < 0; i++) {
		uint8_t pkt[BUF];
		size_t len = audio_make(&c, 0, (uint16_t)(200 + i), FRAME, pkt);

		pkt[RTP_HEADER_LEN] ^= 0xFF;
		send_raw(c.peer[0].rtp, pkt, len, local_port(&c, 0));
		usleep(20000);
		pthread_mutex_lock(&got.lock); /* no assert while holding it */
		for (size_t k = 0; k < got.n; k++)
			if (got.ev[k].kind == MEDIA_EV_RTP_TIMEOUT)
				timed_out_leg = (int)got.ev[k].leg;
		pthread_mutex_unlock(&got.lock);
	}
	assert_int_equal(timed_out_leg, 0);
	call_close(&c);
}

/* Ringback, a prompt and audio re-cut to the SRTP leg's ptime are all
 * protected for it. */
static void test_srtp_generated(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	const struct media_prompt *p = media_builtin_prompt(MEDIA_PROMPT_ENTER_PIN);
	uint8_t pkt[BUF];
	struct rtp_header h;
	size_t k = 0;

	(void)state;
	assert_non_null(p);
	call_prepare(&c, 1u << 0, cfg);
	cfg[1].ptime_ms = 30;
	call_start(&c, cfg);

	assert_int_equal(media_session_ringback(c.sess, 0, true), 0);
	for (int i = 0; i < 3; i++) {
		recv_rtp(&c, 0, pkt, &h);
		assert_int_equal(h.payload_len, FRAME);
	}
	assert_int_equal(media_session_ringback(c.sess, 0, false), 0);
	drain(&c, 0);
	assert_int_equal(media_session_play(c.sess, 0, p, false, 1), 0);
	for (int i = 0; i < 3; i++) {
		recv_rtp(&c, 0, pkt, &h);
		assert_int_equal(h.payload_len, FRAME);
	}
	assert_int_equal(media_session_play(c.sess, 0, NULL, false, 0), 0);
	drain(&c, 0);

	/* Two 30 ms packets from B are three 20 ms frames for A. */
	send_audio(&c, 1, 1, 240);
	send_audio(&c, 1, 2, 240);
	for (int i = 0; i < 3; i++) {
		recv_rtp(&c, 0, pkt, &h);
		assert_int_equal(h.payload_len, FRAME);
		for (size_t j = 0; j < FRAME; j++, k++)
			assert_int_equal(pkt[h.payload_off + j],
			                 pattern((uint16_t)(1 + k / 240), k % 240));
	}
	call_close(&c);
}

static size_t rtcp_make(uint8_t *pkt, uint32_t ssrc)
{
	struct rtcp_report r = {.ssrc = ssrc, .cname = "peer-cname"};
	size_t len;

	assert_int_equal(rtcp_build(pkt, BUF, &r, &len), 0);
	return len;
}

/* SRTCP from A's peer (RTCP port and muxed) is read, a forged one
 * refused; our reports reach A's peer as SRTCP, B's in the clear. */
static void test_srtcp(void **state)
{
	struct call c;
	struct media_leg_cfg cfg[2];
	struct media_stats st;
	struct rtcp_info info;
	uint8_t pkt[BUF];
	size_t len;
	ssize_t n;

	(void)state;
	call_prepare(&c, 1u << 0, cfg);
	call_start(&c, cfg);
	len = rtcp_make(pkt, c.ssrc[0]);
	assert_int_equal(media_srtp_protect_rtcp(c.peer_srtp[0], pkt, &len, BUF), 0);
	send_raw(c.peer[0].rtcp, pkt, len, (uint16_t)(local_port(&c, 0) + 1));
	len = rtcp_make(pkt, c.ssrc[0]);
	assert_int_equal(media_srtp_protect_rtcp(c.peer_srtp[0], pkt, &len, BUF), 0);
	send_raw(c.peer[0].rtp, pkt, len, local_port(&c, 0));
	wait_stat(&c, offsetof(struct media_stats, rtcp_received), 2);
	len = rtcp_make(pkt, c.ssrc[0]);
	assert_int_equal(media_srtp_protect_rtcp(c.peer_srtp[0], pkt, &len, BUF), 0);
	pkt[9] ^= 0x01;
	send_raw(c.peer[0].rtcp, pkt, len, (uint16_t)(local_port(&c, 0) + 1));
	wait_stat(&c, offsetof(struct media_stats, dropped_srtp_auth), 1);
	media_session_get_stats(c.sess, &st);
	assert_int_equal(st.rtcp_received, 2);

	/* Our reports go to the peers' RTCP ports (RTP port + 1). */
	n = recv_wait(c.peer[0].rtcp, pkt, sizeof(pkt), RTCP_WAIT_MS);
	assert_true(n > 0);
	len = (size_t)n;
	assert_int_equal(media_srtp_unprotect_rtcp(c.peer_srtp[0], pkt, &len), 0);
	assert_int_equal(len + 14, (size_t)n);
	assert_int_equal(rtcp_parse(pkt, len, &info), 0);
	n = recv_wait(c.peer[1].rtcp, pkt, sizeof(pkt), RTCP_WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(rtcp_parse(pkt, (size_t)n, &info), 0);
	call_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_srtp_to_plain_and_back),
	    cmocka_unit_test(test_srtp_refused),
	    cmocka_unit_test(test_srtp_both_legs),
	    cmocka_unit_test(test_srtp_forgery_does_not_latch),
	    cmocka_unit_test(test_srtp_forgery_not_heard),
	    cmocka_unit_test(test_srtp_generated),
	    cmocka_unit_test(test_srtcp),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	assert_int_equal(media_srtp_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
