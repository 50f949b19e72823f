/* Unit tests for media/engine.c and media/session.c over real UDP sockets
 * on 127.0.0.1: two test peers exchange RTP through a session and see
 * pinbridge's stream (SSRC, sequence, marker), transcoding and
 * telephone-event mapping, strict latching, RTCP termination, learning,
 * quarantine of a freed session's ports, and set_leg (the callee's answer
 * changing codec and types, hunting to another callee). */
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
#include "media/rtcp.h"
#include "media/rtp.h"

#define WAIT_MS  2000 /* generous bound for anything that should arrive */
#define QUIET_MS 300  /* how long we listen for what must not arrive */

struct relay {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer a, b;
};

static struct in_addr loopback(void)
{
	struct in_addr ip = {.s_addr = htonl(INADDR_LOOPBACK)};

	return ip;
}

/* A peer on an even/odd pair, retried elsewhere when taken. */
static void cfg_init(struct media_leg_cfg *c, const struct peer *p, enum media_codec codec,
                     uint8_t pt, int te_pt)
{
	memset(c, 0, sizeof(*c));
	c->remote = addr_of(p->port);
	c->codec = codec;
	c->codec_pt = pt;
	c->te_pt = te_pt;
	c->latch = MEDIA_LATCH_STRICT;
}

/* Engine, pool of `pairs` pairs at a random base (retried when taken), and
 * a session between peers a and b. */
static void relay_open(struct relay *r, struct media_leg_cfg *ca, struct media_leg_cfg *cb,
                       unsigned pairs, unsigned quarantine_ms)
{
	int rc = ENOSPC;

	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&r->ports, base, (uint16_t)(base + 2 * pairs - 1),
		                                 quarantine_ms),
		                 0);
		assert_int_equal(media_engine_start(&r->eng, 1, loopback(), r->ports), 0);
		rc = media_session_new(r->eng, ca, cb, &r->sess);
		if (rc) {
			media_engine_stop(r->eng);
			media_ports_free(r->ports);
		}
	}
	assert_int_equal(rc, 0);
}

static void relay_close(struct relay *r)
{
	if (r->sess)
		media_session_free(r->sess);
	media_engine_stop(r->eng);
	media_ports_free(r->ports);
}

static size_t make_rtp(uint8_t *b, uint8_t pt, bool m, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	b[0] = 0x80;
	b[1] = (uint8_t)((m ? 0x80 : 0) | pt);
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	return 12;
}

static void send_to(int fd, const void *buf, size_t len, uint16_t port)
{
	struct sockaddr_in to = addr_of(port);

	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* Receive one datagram within timeout_ms, or -1. */
static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, buf, cap, 0);
}

/* Send n packets of 160 bytes (payload byte j of packet i = i * 7 + j)
 * from peer `from` to local port `to`, the peer's sequence numbers from
 * seq0 (timestamps in step). */
static void send_audio_at(const struct peer *from, uint16_t to, uint8_t pt, uint32_t ssrc,
                          uint16_t seq0, int n)
{
	uint8_t pkt[200];

	for (int i = 0; i < n; i++) {
		uint16_t seq = (uint16_t)(seq0 + i);
		size_t len = make_rtp(pkt, pt, false, seq, 1000u + 160u * seq, ssrc);

		for (int j = 0; j < 160; j++)
			pkt[len + j] = (uint8_t)(i * 7 + j);
		send_to(from->rtp, pkt, len + 160, to);
	}
}

static void send_audio(const struct peer *from, uint16_t to, uint8_t pt, uint32_t ssrc, int n)
{
	send_audio_at(from, to, pt, ssrc, 65533, n);
}

/* Pinbridge's stream as one peer has seen it so far. */
struct seen {
	bool have;
	uint32_t ssrc;
	uint16_t seq; /* the last one */
};

/* Receive n packets sent by send_audio; check they continue the stream in
 * *sn (same SSRC, next sequence numbers; the first marked or not as
 * `marked`) and pass each payload byte through conv (NULL: unchanged). */
static void recv_stream(const struct peer *at, uint8_t pt, uint32_t peer_ssrc, int n,
                        uint8_t (*conv)(uint8_t), struct seen *sn, bool marked)
{
	uint8_t pkt[1500];
	struct rtp_header h;

	for (int i = 0; i < n; i++) {
		ssize_t len = recv_wait(at->rtp, pkt, sizeof(pkt), WAIT_MS);

		assert_true(len > 0);
		assert_int_equal(rtp_parse(pkt, (size_t)len, &h), 0);
		assert_int_equal(h.pt, pt);
		assert_int_equal(h.payload_len, 160);
		assert_int_not_equal(h.ssrc, peer_ssrc);
		if (!sn->have) {
			sn->have = true;
			sn->ssrc = h.ssrc;
			sn->seq = (uint16_t)(h.seq - 1);
		}
		assert_int_equal(h.ssrc, sn->ssrc);
		assert_int_equal(h.seq, (uint16_t)(sn->seq + 1));
		sn->seq = h.seq;
		assert_int_equal(h.marker, i == 0 && marked);
		for (int j = 0; j < 160; j++) {
			uint8_t sent = (uint8_t)(i * 7 + j);

			assert_int_equal(pkt[h.payload_off + j], conv ? conv(sent) : sent);
		}
	}
}

/* A new stream: the first packet is marked. */
static void recv_audio(const struct peer *at, uint8_t pt, uint32_t peer_ssrc, int n,
                       uint8_t (*conv)(uint8_t))
{
	struct seen sn = {0};

	recv_stream(at, pt, peer_ssrc, n, conv, &sn, true);
}

static void wait_stat(struct media_session *s, size_t off, uint64_t want)
{
	struct media_stats st;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_session_get_stats(s, &st);
		if (*(uint64_t *)((char *)&st + off) >= want)
			return;
		usleep(10000);
	}
	fail_msg("counter at offset %zu never reached %llu", off, (unsigned long long)want);
}

static void test_relay_pcmu(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct media_stats st;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, 101);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, 101);
	relay_open(&r, &ca, &cb, 2, 50);
	assert_int_not_equal(media_session_local_port(r.sess, 0),
	                     media_session_local_port(r.sess, 1));
	send_audio(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 5);
	recv_audio(&r.b, 0, 0xAAAA0001, 5, NULL);
	send_audio(&r.b, media_session_local_port(r.sess, 1), 0, 0xBBBB0002, 5);
	recv_audio(&r.a, 0, 0xBBBB0002, 5, NULL);
	/* Counters are bumped after the send: wait for them, then be exact. */
	wait_stat(r.sess, offsetof(struct media_stats, relayed), 10);
	media_session_get_stats(r.sess, &st);
	assert_int_equal(st.relayed, 10);
	for (int i = 0; i < WAIT_MS / 10; i++) {
		media_engine_get_stats(r.eng, &st);
		if (st.relayed >= 10)
			break;
		usleep(10000);
	}
	assert_int_equal(st.relayed, 10);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

static void test_transcode_and_events(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	uint8_t pkt[64], ev[4] = {5, 0x8A, 0x01, 0x40};
	struct rtp_header h;
	size_t len;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, 101);
	cfg_init(&cb, &r.b, MEDIA_PCMA, 8, 96);
	relay_open(&r, &ca, &cb, 2, 50);
	send_audio(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 3);
	recv_audio(&r.b, 8, 0xAAAA0001, 3, g711_ulaw_to_alaw);
	send_audio(&r.b, media_session_local_port(r.sess, 1), 8, 0xBBBB0002, 3);
	recv_audio(&r.a, 0, 0xBBBB0002, 3, g711_alaw_to_ulaw);
	/* A telephone-event crosses with the other leg's payload type,
	 * payload untouched (never transcoded). */
	len = make_rtp(pkt, 101, true, 7, 5000, 0xAAAA0001);
	memcpy(pkt + len, ev, sizeof(ev));
	send_to(r.a.rtp, pkt, len + sizeof(ev), media_session_local_port(r.sess, 0));
	assert_int_equal(recv_wait(r.b.rtp, pkt, sizeof(pkt), WAIT_MS), 16);
	assert_int_equal(rtp_parse(pkt, 16, &h), 0);
	assert_int_equal(h.pt, 96);
	assert_memory_equal(pkt + h.payload_off, ev, sizeof(ev));
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

static void test_strict_wrong_source(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct peer stranger = {0};
	struct media_stats st;
	uint8_t pkt[1500];

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	peer_open(&stranger);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, -1);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, -1);
	relay_open(&r, &ca, &cb, 2, 50);
	send_audio(&stranger, media_session_local_port(r.sess, 0), 0, 0xCCCC0003, 1);
	wait_stat(r.sess, offsetof(struct media_stats, dropped_source), 1);
	assert_int_equal(recv_wait(r.b.rtp, pkt, sizeof(pkt), QUIET_MS), -1);
	/* The real peer still gets through, and nothing was relayed before. */
	send_audio(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 2);
	recv_audio(&r.b, 0, 0xAAAA0001, 2, NULL);
	wait_stat(r.sess, offsetof(struct media_stats, relayed), 2);
	media_session_get_stats(r.sess, &st);
	assert_int_equal(st.relayed, 2);
	assert_int_equal(st.dropped_source, 1);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
	peer_close(&stranger);
}

static void test_rtcp_terminated(void **state)
{
	static const char secret[] = "peer-a-secret-cname";
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct rtcp_report rep = {.ssrc = 0xAAAA0001, .cname = secret};
	uint8_t pkt[1500];
	size_t len;
	ssize_t got;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, -1);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, -1);
	relay_open(&r, &ca, &cb, 2, 50);
	assert_int_equal(rtcp_build(pkt, sizeof(pkt), &rep, &len), 0);
	/* To the RTCP port, and muxed onto the RTP port. */
	send_to(r.a.rtcp, pkt, len, (uint16_t)(media_session_local_port(r.sess, 0) + 1));
	send_to(r.a.rtp, pkt, len, media_session_local_port(r.sess, 0));
	wait_stat(r.sess, offsetof(struct media_stats, rtcp_received), 2);
	/* Our own reports may reach b, the peer's never. */
	while ((got = recv_wait(r.b.rtp, pkt, sizeof(pkt), QUIET_MS)) > 0)
		assert_null(memmem(pkt, (size_t)got, secret, sizeof(secret) - 1));
	while ((got = recv_wait(r.b.rtcp, pkt, sizeof(pkt), QUIET_MS)) > 0)
		assert_null(memmem(pkt, (size_t)got, secret, sizeof(secret) - 1));
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

static void test_learn_latches_source(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, -1);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, -1);
	/* a's SDP names a port it does not send from (a NATed phone). */
	ca.remote.sin_port = htons((uint16_t)(r.a.port ^ 0x100));
	ca.latch = MEDIA_LATCH_LEARN;
	relay_open(&r, &ca, &cb, 2, 50);
	send_audio(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 2);
	recv_audio(&r.b, 0, 0xAAAA0001, 2, NULL);
	/* b's audio goes where a's packets came from, not to the SDP port. */
	send_audio(&r.b, media_session_local_port(r.sess, 1), 0, 0xBBBB0002, 2);
	recv_audio(&r.a, 0, 0xBBBB0002, 2, NULL);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

/* Learning refuses sources outside the SDP address's IP and the CIDRs, and
 * accepts any source inside the CIDRs. */
static void test_learn_only_allowed_sources(void **state)
{
	struct sockaddr_in other = {.sin_family = AF_INET};
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	uint8_t pkt[1500];
	int stranger = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	other.sin_addr.s_addr = htonl(0x7F000002); /* 127.0.0.2, still loopback */
	assert_int_equal(bind(stranger, (struct sockaddr *)&other, sizeof(other)), 0);
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, -1);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, -1);
	/* SDP says 127.0.0.9; the trunk's CIDR 127.0.0.0/31 covers only
	 * 127.0.0.0-1, where peer a really sends from. */
	ca.remote.sin_addr.s_addr = htonl(0x7F000009);
	ca.latch = MEDIA_LATCH_LEARN;
	ca.n_cidrs = 1;
	ca.cidrs[0].net.s_addr = htonl(0x7F000000);
	ca.cidrs[0].prefix = 31;
	relay_open(&r, &ca, &cb, 2, 50);
	make_rtp(pkt, 0, false, 1, 1, 0xCCCC0003);
	memset(pkt + 12, 0x55, 160);
	send_to(stranger, pkt, 172, media_session_local_port(r.sess, 0));
	wait_stat(r.sess, offsetof(struct media_stats, dropped_source), 1);
	assert_int_equal(recv_wait(r.b.rtp, pkt, sizeof(pkt), QUIET_MS), -1);
	send_audio(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 2);
	recv_audio(&r.b, 0, 0xAAAA0001, 2, NULL);
	send_audio(&r.b, media_session_local_port(r.sess, 1), 0, 0xBBBB0002, 2);
	recv_audio(&r.a, 0, 0xBBBB0002, 2, NULL);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
	close(stranger);
}

static void test_free_quarantines_ports(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct media_ports_stats st;
	struct media_session *again;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, -1);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, -1);
	relay_open(&r, &ca, &cb, 2, 400);
	media_session_free(r.sess);
	r.sess = NULL;
	media_ports_get_stats(r.ports, &st);
	assert_int_equal(st.quarantined, 2);
	assert_int_equal(st.free, 0);
	assert_int_equal(media_session_new(r.eng, &ca, &cb, &again), ENOSPC);
	usleep(600000);
	media_ports_get_stats(r.ports, &st);
	assert_int_equal(st.free, 2);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

/* Send one telephone-event packet from peer `from` to local port `to` and
 * check that peer `at` gets it with payload type want_pt, payload intact. */
static void event_crosses(const struct peer *from, uint16_t to, uint8_t pt, const struct peer *at,
                          uint8_t want_pt)
{
	uint8_t pkt[64], ev[4] = {5, 0x8A, 0x01, 0x40};
	struct rtp_header h;
	size_t len = make_rtp(pkt, pt, true, 7, 5000, 0xEEEE0005);

	memcpy(pkt + len, ev, sizeof(ev));
	send_to(from->rtp, pkt, len + sizeof(ev), to);
	assert_int_equal(recv_wait(at->rtp, pkt, sizeof(pkt), WAIT_MS), 16);
	assert_int_equal(rtp_parse(pkt, 16, &h), 0);
	assert_int_equal(h.pt, want_pt);
	assert_memory_equal(pkt + h.payload_off, ev, sizeof(ev));
}

/* The callee's answer switches its leg from PCMU to PCMA with other
 * telephone-event types: both directions transcode and map the new types,
 * the old ones are gone, and each peer's stream simply goes on. */
static void test_set_leg_codec_change(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct seen sa = {0}, sb = {0};
	uint8_t pkt[1500];
	uint16_t p0, p1;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, 101);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, 101);
	relay_open(&r, &ca, &cb, 2, 50);
	p0 = media_session_local_port(r.sess, 0);
	p1 = media_session_local_port(r.sess, 1);
	send_audio_at(&r.a, p0, 0, 0xAAAA0001, 1, 3);
	recv_stream(&r.b, 0, 0xAAAA0001, 3, NULL, &sb, true);
	send_audio_at(&r.b, p1, 0, 0xBBBB0002, 1, 3);
	recv_stream(&r.a, 0, 0xBBBB0002, 3, NULL, &sa, true);

	cfg_init(&cb, &r.b, MEDIA_PCMA, 8, 96);
	assert_int_equal(media_session_set_leg(r.sess, 1, &cb), 0);
	/* Same SSRC, next sequence numbers, no marker: one stream. */
	send_audio_at(&r.a, p0, 0, 0xAAAA0001, 4, 3);
	recv_stream(&r.b, 8, 0xAAAA0001, 3, g711_ulaw_to_alaw, &sb, false);
	send_audio_at(&r.b, p1, 8, 0xBBBB0002, 4, 3);
	recv_stream(&r.a, 0, 0xBBBB0002, 3, g711_alaw_to_ulaw, &sa, false);
	event_crosses(&r.a, p0, 101, &r.b, 96);
	event_crosses(&r.b, p1, 96, &r.a, 101);
	/* b's old PCMU type is no longer one of its types. */
	send_audio_at(&r.b, p1, 0, 0xBBBB0002, 7, 1);
	wait_stat(r.sess, offsetof(struct media_stats, dropped_malformed), 1);
	assert_int_equal(recv_wait(r.a.rtp, pkt, sizeof(pkt), QUIET_MS), -1);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

/* A refused description changes nothing. */
static void test_set_leg_bad_cfg(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb, bad;
	struct seen sb = {0};

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, 101);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, 101);
	relay_open(&r, &ca, &cb, 2, 50);
	send_audio_at(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 1, 2);
	recv_stream(&r.b, 0, 0xAAAA0001, 2, NULL, &sb, true);
	cfg_init(&bad, &r.b, MEDIA_PCMA, 128, 96);
	assert_int_equal(media_session_set_leg(r.sess, 1, &bad), EINVAL);
	cfg_init(&bad, &r.b, MEDIA_PCMA, 8, 8);
	assert_int_equal(media_session_set_leg(r.sess, 1, &bad), EINVAL);
	cfg_init(&bad, &r.b, MEDIA_PCMA, 8, 128);
	assert_int_equal(media_session_set_leg(r.sess, 1, &bad), EINVAL);
	cfg_init(&bad, &r.b, (enum media_codec)2, 8, 96);
	assert_int_equal(media_session_set_leg(r.sess, 1, &bad), EINVAL);
	cfg_init(&bad, &r.b, MEDIA_PCMA, 8, 96);
	bad.n_cidrs = MEDIA_CIDR_MAX + 1;
	assert_int_equal(media_session_set_leg(r.sess, 1, &bad), EINVAL);
	cfg_init(&bad, &r.b, MEDIA_PCMA, 8, 96);
	assert_int_equal(media_session_set_leg(r.sess, 2, &bad), EINVAL);
	/* Still PCMU 0 towards b, same stream. */
	send_audio_at(&r.a, media_session_local_port(r.sess, 0), 0, 0xAAAA0001, 3, 2);
	recv_stream(&r.b, 0, 0xAAAA0001, 2, NULL, &sb, false);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
}

/* Hunting: the callee's leg starts unknown, gets a first callee, then a
 * second one with another codec and no telephone-event. The caller's
 * stream goes on across callees, marked at each switch; the first callee
 * is refused once replaced. */
static void test_set_leg_hunt(void **state)
{
	struct relay r = {0};
	struct media_leg_cfg ca, cb;
	struct peer c;
	struct seen sa = {0}, sc = {0};
	uint8_t pkt[1500];
	uint16_t p0, p1;

	(void)state;
	peer_open(&r.a);
	peer_open(&r.b);
	peer_open(&c);
	cfg_init(&ca, &r.a, MEDIA_PCMU, 0, 101);
	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, 101);
	memset(&cb.remote, 0, sizeof(cb.remote));
	relay_open(&r, &ca, &cb, 2, 50);
	p0 = media_session_local_port(r.sess, 0);
	p1 = media_session_local_port(r.sess, 1);
	send_audio_at(&r.a, p0, 0, 0xAAAA0001, 1, 1);
	wait_stat(r.sess, offsetof(struct media_stats, dropped_no_remote), 1);

	cfg_init(&cb, &r.b, MEDIA_PCMU, 0, 101);
	assert_int_equal(media_session_set_leg(r.sess, 1, &cb), 0);
	send_audio_at(&r.b, p1, 0, 0xBBBB0002, 1, 2);
	recv_stream(&r.a, 0, 0xBBBB0002, 2, NULL, &sa, true);

	cfg_init(&cb, &c, MEDIA_PCMA, 8, -1);
	assert_int_equal(media_session_set_leg(r.sess, 1, &cb), 0);
	send_audio_at(&c, p1, 8, 0xCCCC0003, 1, 2);
	recv_stream(&r.a, 0, 0xCCCC0003, 2, g711_alaw_to_ulaw, &sa, true);
	send_audio_at(&r.a, p0, 0, 0xAAAA0001, 2, 2);
	recv_stream(&c, 8, 0xAAAA0001, 2, g711_ulaw_to_alaw, &sc, true);
	/* The first callee is not this leg's peer any more. */
	send_audio_at(&r.b, p1, 0, 0xBBBB0002, 3, 1);
	wait_stat(r.sess, offsetof(struct media_stats, dropped_source), 1);
	assert_int_equal(recv_wait(r.a.rtp, pkt, sizeof(pkt), QUIET_MS), -1);
	assert_int_equal(recv_wait(r.b.rtp, pkt, sizeof(pkt), 0), -1);
	relay_close(&r);
	peer_close(&r.a);
	peer_close(&r.b);
	peer_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_relay_pcmu),
	    cmocka_unit_test(test_transcode_and_events),
	    cmocka_unit_test(test_strict_wrong_source),
	    cmocka_unit_test(test_rtcp_terminated),
	    cmocka_unit_test(test_learn_latches_source),
	    cmocka_unit_test(test_learn_only_allowed_sources),
	    cmocka_unit_test(test_free_quarantines_ports),
	    cmocka_unit_test(test_set_leg_codec_change),
	    cmocka_unit_test(test_set_leg_bad_cfg),
	    cmocka_unit_test(test_set_leg_hunt),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
