/* Unit tests for media/rtp.c and media/rtcp.c: header validation, the
 * per-leg stream rewriter, RFC 4733 digit tracking, and RTCP parse/build. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "media/rtcp.h"
#include "media/rtp.h"

/* A packet: 12-byte header, then whatever the test appends. */
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

static void test_parse_plain(void **state)
{
	uint8_t b[200];
	struct rtp_header h;
	size_t n = make_rtp(b, 0, true, 0xBEEF, 0xDEADBEEF, 0x01020304);

	(void)state;
	memset(b + n, 0xAB, 160);
	assert_int_equal(rtp_parse(b, n + 160, &h), 0);
	assert_int_equal(h.pt, 0);
	assert_true(h.marker);
	assert_int_equal(h.seq, 0xBEEF);
	assert_int_equal(h.ts, 0xDEADBEEF);
	assert_int_equal(h.ssrc, 0x01020304);
	assert_int_equal(h.payload_off, 12);
	assert_int_equal(h.payload_len, 160);
	/* A header with no payload is valid (e.g. keep-alives). */
	assert_int_equal(rtp_parse(b, 12, &h), 0);
	assert_int_equal(h.payload_len, 0);
}

static void test_parse_csrc_ext_padding(void **state)
{
	uint8_t b[200];
	struct rtp_header h;
	size_t n = make_rtp(b, 8, false, 1, 2, 3);

	(void)state;
	b[0] = 0x80 | 0x20 | 0x10 | 2; /* P, X, CC=2 */
	memset(b + n, 0x11, 8);        /* two CSRCs */
	n += 8;
	b[n++] = 0xBE; /* extension profile 0xBEDE, one word */
	b[n++] = 0xDE;
	b[n++] = 0;
	b[n++] = 1;
	memset(b + n, 0x22, 4);
	n += 4;
	memset(b + n, 0x33, 20); /* payload */
	n += 20;
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = 3; /* three octets of padding */
	assert_int_equal(rtp_parse(b, n, &h), 0);
	assert_int_equal(h.csrc_count, 2);
	assert_true(h.extension);
	assert_int_equal(h.payload_off, 12 + 8 + 8);
	assert_int_equal(h.payload_len, 20);
	assert_int_equal(h.padding_len, 3);
	assert_int_equal(b[h.payload_off], 0x33);
}

static void expect_invalid(const uint8_t *b, size_t n, const char *why)
{
	struct rtp_header h;

	memset(&h, 0x5A, sizeof(h));
	if (rtp_parse(b, n, &h) != EINVAL)
		fail_msg("accepted: %s", why);
	for (size_t i = 0; i < sizeof(h); i++)
		if (((const uint8_t *)&h)[i] != 0x5A)
			fail_msg("touched the output on error: %s", why);
}

static void test_parse_rejects(void **state)
{
	uint8_t b[64];
	size_t n = make_rtp(b, 0, false, 1, 2, 3);

	(void)state;
	memset(b + n, 0, sizeof(b) - n);
	expect_invalid(NULL, 12, "NULL");
	for (size_t len = 0; len < 12; len++)
		expect_invalid(b, len, "shorter than the fixed header");
	for (uint8_t v = 0; v < 4; v++) {
		if (v == 2)
			continue;
		b[0] = (uint8_t)(v << 6);
		expect_invalid(b, 20, "version not 2");
	}
	b[0] = 0x80 | 15;
	expect_invalid(b, 12 + 56, "CSRC list past the end");
	b[0] = 0x80 | 1;
	expect_invalid(b, 15, "CSRC list cut short");
	b[0] = 0x90;
	expect_invalid(b, 15, "extension header cut short");
	b[12] = 0xBE, b[13] = 0xDE, b[14] = 0, b[15] = 2;
	expect_invalid(b, 16 + 7, "extension longer than the packet");
	b[0] = 0xA0;
	b[19] = 0;
	expect_invalid(b, 20, "padding count 0");
	b[19] = 9;
	expect_invalid(b, 20, "padding longer than the payload");
	b[0] = 0xB0; /* padding eating into the extension */
	b[15] = 0;
	b[19] = 5;
	expect_invalid(b, 20, "padding reaching into the extension");
	b[0] = 0x80;
	for (uint8_t pt = 72; pt <= 76; pt++) {
		b[1] = pt;
		expect_invalid(b, 20, "RTCP-range payload type");
		b[1] = 0x80 | pt;
		expect_invalid(b, 20, "RTCP-range payload type with marker");
	}
}

static void test_rtcp_demux(void **state)
{
	uint8_t b[8] = {0x80, 200};

	(void)state;
	assert_true(rtp_is_rtcp(b, 8));
	b[1] = 223;
	assert_true(rtp_is_rtcp(b, 8));
	b[1] = 0x80 | 101;
	assert_false(rtp_is_rtcp(b, 8));
	assert_false(rtp_is_rtcp(b, 1));
}

/* Feed a packet through the stream; returns the output header. */
static struct rtp_header relay(struct rtp_stream *s, uint8_t pt, bool m, uint16_t seq, uint32_t ts,
                               uint32_t ssrc, uint32_t src, uint64_t now_us)
{
	uint8_t b[64];
	struct rtp_header in, out;
	size_t n = make_rtp(b, pt, m, seq, ts, ssrc), len;

	memset(b + n, 0x42, 20);
	assert_int_equal(rtp_parse(b, n + 20, &in), 0);
	assert_int_equal(rtp_stream_rewrite(s, b, &in, src, now_us, &len), 0);
	assert_int_equal(len, 32);
	assert_int_equal(rtp_parse(b, len, &out), 0);
	assert_int_equal(out.ssrc, s->ssrc);
	assert_int_equal(b[12], 0x42);
	return out;
}

static void test_stream_switch(void **state)
{
	struct rtp_stream s;
	struct rtp_header o, first, prev;
	uint64_t t = 1000000;

	(void)state;
	rtp_stream_init(&s, 8000);
	assert_int_equal(rtp_stream_map_pt(&s, 0, 0), 0);
	/* The prompt: source 1, its own numbering. */
	first = relay(&s, 0, false, 100, 5000, 0xAAAA, 1, t);
	assert_true(first.marker); /* start of the stream */
	prev = first;
	for (int i = 1; i < 10; i++) {
		o = relay(&s, 0, false, (uint16_t)(100 + i), 5000 + 160u * i, 0xAAAA, 1,
		          t + 20000u * i);
		assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
		assert_int_equal(o.ts, prev.ts + 160);
		assert_false(o.marker);
		prev = o;
	}
	/* Relay from the callee starts 60 ms after the last prompt packet:
	 * sequence continues, timestamp jumps by 480 samples, marker set. */
	t += 20000u * 9 + 60000;
	o = relay(&s, 0, false, 40000, 123456789, 0xBBBB, 2, t);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
	assert_int_equal(o.ts, prev.ts + 480);
	assert_true(o.marker);
	prev = o;
	/* Within the new source its spacing passes through, gaps included. */
	o = relay(&s, 0, false, 40001, 123456789 + 160, 0xBBBB, 2, t + 20000);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
	assert_int_equal(o.ts, prev.ts + 160);
	assert_false(o.marker);
	o = relay(&s, 0, false, 40003, 123456789 + 480, 0xBBBB, 2, t + 60000);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 3));
	prev = o;
	/* Callee B of the hunt, same source id but a new SSRC: a switch too. */
	o = relay(&s, 0, false, 7, 99, 0xCCCC, 2, t + 80000);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
	assert_int_equal(o.ts, prev.ts + 160);
	assert_true(o.marker);
	/* The source's marker bit passes through. */
	o = relay(&s, 0, true, 8, 99 + 160, 0xCCCC, 2, t + 100000);
	assert_true(o.marker);
}

static void test_stream_wraps(void **state)
{
	struct rtp_stream s;
	struct rtp_header a, b;

	(void)state;
	rtp_stream_init(&s, 8000);
	rtp_stream_map_pt(&s, 8, 8);
	a = relay(&s, 8, false, 65535, 0xFFFFFF00u, 1, 1, 0);
	b = relay(&s, 8, false, 0, 0xFFFFFF00u + 160, 1, 1, 20000);
	assert_int_equal(b.seq, (uint16_t)(a.seq + 1));
	assert_int_equal(b.ts, a.ts + 160);
	/* A reordered (late) packet keeps its place and does not move the
	 * stream's notion of "last". */
	b = relay(&s, 8, false, 65535, 0xFFFFFF00u, 1, 1, 25000);
	assert_int_equal(b.seq, a.seq);
	b = relay(&s, 8, false, 1, 0xFFFFFF00u + 320, 2, 2, 40000);
	assert_int_equal(b.seq, (uint16_t)(a.seq + 2));
	assert_int_equal(b.ts, a.ts + 320);
}

/* An RFC 4733 event keeps one timestamp on the way out, and the next
 * switch counts elapsed time from the event's start. */
static void test_stream_event_timestamp(void **state)
{
	struct rtp_stream s;
	struct rtp_header audio, o, ev0;

	(void)state;
	rtp_stream_init(&s, 8000);
	rtp_stream_map_pt(&s, 0, 0);
	rtp_stream_map_pt(&s, 101, 96);
	audio = relay(&s, 0, false, 10, 1000, 5, 1, 0);
	/* The generator (source 3) plays an event 20 ms later. */
	ev0 = relay(&s, 101, true, 500, 77, 6, 3, 20000);
	assert_int_equal(ev0.pt, 96);
	assert_int_equal(ev0.ts, audio.ts + 160);
	for (int i = 1; i < 8; i++) {
		o = relay(&s, 101, false, (uint16_t)(500 + i), 77, 6, 3, 20000 + 20000u * i);
		assert_int_equal(o.ts, ev0.ts);
		assert_int_equal(o.seq, (uint16_t)(ev0.seq + i));
	}
	/* Audio resumes 200 ms after the event began. */
	o = relay(&s, 0, false, 11, 1160, 5, 1, 220000);
	assert_int_equal(o.ts, ev0.ts + 1600);
	assert_true(o.marker);
}

static void test_stream_pt_map(void **state)
{
	struct rtp_stream s, before;
	uint8_t b[32];
	struct rtp_header in;
	size_t len = 0;

	(void)state;
	rtp_stream_init(&s, 8000);
	assert_int_equal(rtp_stream_pt(&s, 0), -1);
	assert_int_equal(rtp_stream_map_pt(&s, 101, 96), 0);
	assert_int_equal(rtp_stream_map_pt(&s, 0, 8), 0);
	assert_int_equal(rtp_stream_pt(&s, 101), 96);
	assert_int_equal(rtp_stream_map_pt(&s, 101, 100), 0); /* replaces */
	assert_int_equal(rtp_stream_pt(&s, 101), 100);
	assert_int_equal(rtp_stream_map_pt(&s, 128, 0), EINVAL);
	assert_int_equal(rtp_stream_map_pt(&s, 0, 128), EINVAL);
	for (uint8_t pt = 1; s.n_map < RTP_PT_MAP_MAX; pt++)
		assert_int_equal(rtp_stream_map_pt(&s, pt, pt), 0);
	assert_int_equal(rtp_stream_map_pt(&s, 120, 120), ENOSPC);
	/* An unmapped payload type is refused and changes nothing. */
	make_rtp(b, 18, false, 1, 1, 1);
	assert_int_equal(rtp_parse(b, 12, &in), 0);
	memcpy(&before, &s, sizeof(s)); /* padding bytes included */
	assert_int_equal(rtp_stream_rewrite(&s, b, &in, 1, 0, &len), ENOENT);
	assert_memory_equal(&s, &before, sizeof(s));
	/* A mapped one is rewritten. */
	make_rtp(b, 0, false, 1, 1, 1);
	assert_int_equal(rtp_parse(b, 12, &in), 0);
	assert_int_equal(rtp_stream_rewrite(&s, b, &in, 1, 0, &len), 0);
	assert_int_equal(b[1] & 0x7F, 8);
}

/* The peer's CSRCs, extension and padding never leave. */
static void test_stream_strips(void **state)
{
	struct rtp_stream s;
	uint8_t b[64];
	struct rtp_header in, out;
	size_t n = make_rtp(b, 0, false, 1, 2, 3), len;

	(void)state;
	b[0] = 0x80 | 0x20 | 0x10 | 1;
	memcpy(b + n, "CSRC", 4);
	memcpy(b + n + 4,
	       "\xBE\xDE\x00\x01"
	       "EXT!",
	       8);
	memcpy(b + n + 12, "payload", 7);
	b[n + 19] = 0;
	b[n + 20] = 2;
	n += 21;
	assert_int_equal(rtp_parse(b, n, &in), 0);
	rtp_stream_init(&s, 8000);
	rtp_stream_map_pt(&s, 0, 0);
	assert_int_equal(rtp_stream_rewrite(&s, b, &in, 1, 0, &len), 0);
	assert_int_equal(len, 12 + 7);
	assert_int_equal(b[0], 0x80);
	assert_int_equal(rtp_parse(b, len, &out), 0);
	assert_memory_equal(b + 12, "payload", 7);
}

static void test_event_parse(void **state)
{
	const uint8_t p[4] = {11, 0x80 | 0x40 | 10, 0x08, 0xC0};
	struct rtp_event ev;

	(void)state;
	assert_int_equal(rtp_event_parse(p, 4, &ev), 0);
	assert_int_equal(ev.event, 11);
	assert_true(ev.end);
	assert_int_equal(ev.volume, 10);
	assert_int_equal(ev.duration, 2240);
	assert_int_equal(rtp_event_parse(p, 3, &ev), EINVAL);
	assert_int_equal(rtp_event_parse(p, 0, &ev), EINVAL);
	assert_int_equal(rtp_event_parse(NULL, 4, &ev), EINVAL);
	assert_int_equal(rtp_event_digit(0), '0');
	assert_int_equal(rtp_event_digit(10), '*');
	assert_int_equal(rtp_event_digit(11), '#');
	assert_int_equal(rtp_event_digit(15), 'D');
	assert_int_equal(rtp_event_digit(16), 0);
}

/* One telephone-event packet into the tracker; appends a digit to out. */
static void feed(struct rtp_dtmf *t, char *out, uint8_t event, bool end, uint16_t seq, uint32_t ts,
                 uint16_t duration, uint32_t ssrc)
{
	uint8_t b[16];
	struct rtp_header h;
	char d = 'x';

	make_rtp(b, 101, false, seq, ts, ssrc);
	b[12] = event;
	b[13] = (uint8_t)((end ? 0x80 : 0) | 10);
	b[14] = (uint8_t)(duration >> 8);
	b[15] = (uint8_t)duration;
	assert_int_equal(rtp_parse(b, 16, &h), 0);
	assert_int_equal(rtp_dtmf_feed(t, &h, b + h.payload_off, &d), 0);
	if (d) {
		size_t n = strlen(out);
		out[n] = d;
		out[n + 1] = '\0';
	}
}

/* sip-tester's dtmf_2833_N.pcap: seven updates 20 ms apart, then three
 * end packets with one sequence number, all on the event's timestamp. */
static void press(struct rtp_dtmf *t, char *out, uint8_t event, uint16_t seq, uint32_t ts)
{
	for (int i = 0; i < 7; i++)
		feed(t, out, event, false, (uint16_t)(seq + i), ts, (uint16_t)(320 * i),
		     0x0E05384E);
	for (int i = 0; i < 3; i++)
		feed(t, out, event, true, (uint16_t)(seq + 7), ts, 2240, 0x0E05384E);
}

static void test_dtmf_sipp_pattern(void **state)
{
	struct rtp_dtmf t;
	char out[32] = "";

	(void)state;
	rtp_dtmf_init(&t);
	press(&t, out, 1, 7984, 13280);
	assert_string_equal(out, "1");
	press(&t, out, 2, 8042, 23200);
	press(&t, out, 3, 8100, 33120);
	assert_string_equal(out, "123");
	/* Duplicates of every packet of "2", and a late end packet of "1". */
	press(&t, out, 2, 8042, 23200);
	feed(&t, out, 1, true, 7991, 13280, 2240, 0x0E05384E);
	assert_string_equal(out, "123");
}

static void test_dtmf_repeats_and_reordering(void **state)
{
	struct rtp_dtmf t;
	char out[32] = "";

	(void)state;
	rtp_dtmf_init(&t);
	/* "1122": the same key twice is two events (two timestamps). */
	press(&t, out, 1, 100, 8000);
	press(&t, out, 1, 110, 16000);
	press(&t, out, 2, 120, 24000);
	press(&t, out, 2, 130, 32000);
	assert_string_equal(out, "1122");

	/* Reordered: the end of "5" overtakes its start; "6" starts before
	 * the last redundant end of "5" arrives. */
	out[0] = '\0';
	feed(&t, out, 5, true, 207, 40000, 1120, 0x0E05384E);
	feed(&t, out, 5, false, 200, 40000, 0, 0x0E05384E);
	feed(&t, out, 5, false, 201, 40000, 160, 0x0E05384E);
	feed(&t, out, 6, false, 210, 48000, 0, 0x0E05384E);
	feed(&t, out, 5, true, 207, 40000, 1120, 0x0E05384E);
	feed(&t, out, 6, true, 214, 48000, 800, 0x0E05384E);
	assert_string_equal(out, "56");

	/* Only end packets survive: still one digit. */
	out[0] = '\0';
	for (int i = 0; i < 3; i++)
		feed(&t, out, 9, true, 300, 56000, 1120, 0x0E05384E);
	assert_string_equal(out, "9");

	/* Non-DTMF events (16: flash) are not digits. */
	out[0] = '\0';
	feed(&t, out, 16, false, 301, 64000, 0, 0x0E05384E);
	assert_string_equal(out, "");

	/* A new SSRC is a new stream: its timestamps are its own. */
	feed(&t, out, 9, true, 300, 56000, 1120, 0x12345678);
	assert_string_equal(out, "9");
}

static void test_dtmf_malformed(void **state)
{
	struct rtp_dtmf t;
	uint8_t b[20];
	struct rtp_header h;
	char d = 'x';

	(void)state;
	rtp_dtmf_init(&t);
	make_rtp(b, 101, false, 1, 1, 1);
	memset(b + 12, 1, 8);
	assert_int_equal(rtp_parse(b, 15, &h), 0);
	assert_int_equal(rtp_dtmf_feed(&t, &h, b + 12, &d), EINVAL);
	assert_int_equal(d, 0);
	assert_int_equal(rtp_parse(b, 20, &h), 0);
	assert_int_equal(rtp_dtmf_feed(&t, &h, b + 12, &d), EINVAL);
}

/* --- RTCP ----------------------------------------------------------------- */

static void test_rtcp_round_trip(void **state)
{
	struct rtcp_report_block blk = {.ssrc = 0xFEEDF00D,
	                                .fraction_lost = 25,
	                                .cumulative_lost = -3,
	                                .highest_seq = 0x0001FFFF,
	                                .jitter = 17,
	                                .lsr = 0x12345678,
	                                .dlsr = 65536};
	struct rtcp_report r = {.ssrc = 0xCAFEBABE,
	                        .sender = true,
	                        .sr = {.ntp = 0xE1234567890ABCDEull,
	                               .rtp_ts = 160000,
	                               .packets = 1000,
	                               .octets = 172000},
	                        .n_blocks = 1,
	                        .blocks = &blk};
	char cname[RTCP_CNAME_SIZE], other[RTCP_CNAME_SIZE];
	uint8_t buf[256];
	struct rtcp_info info;
	size_t len;

	(void)state;
	rtcp_cname_make(cname);
	rtcp_cname_make(other);
	assert_int_equal(strlen(cname), 19);
	assert_memory_equal(cname, "pb-", 3);
	assert_int_equal(strspn(cname + 3, "0123456789abcdef"), 16);
	assert_string_not_equal(cname, other);
	r.cname = cname;
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), 0);
	assert_int_equal(len % 4, 0);
	assert_int_equal(rtcp_parse(buf, len, &info), 0);
	assert_int_equal(info.ssrc, 0xCAFEBABE);
	assert_true(info.has_sr);
	assert_true(info.sr.ntp == r.sr.ntp);
	assert_int_equal(info.sr.rtp_ts, 160000);
	assert_int_equal(info.sr.packets, 1000);
	assert_int_equal(info.sr.octets, 172000);
	assert_int_equal(info.n_reports, 1);
	assert_int_equal(info.reports[0].ssrc, blk.ssrc);
	assert_int_equal(info.reports[0].fraction_lost, blk.fraction_lost);
	assert_int_equal(info.reports[0].cumulative_lost, blk.cumulative_lost);
	assert_int_equal(info.reports[0].highest_seq, blk.highest_seq);
	assert_int_equal(info.reports[0].jitter, blk.jitter);
	assert_int_equal(info.reports[0].lsr, blk.lsr);
	assert_int_equal(info.reports[0].dlsr, blk.dlsr);
	assert_false(info.bye);
	assert_non_null(memmem(buf, len, cname, strlen(cname)));

	/* RR with no blocks; every shorter buffer is refused. */
	r.sender = false;
	r.n_blocks = 0;
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), 0);
	assert_int_equal(len, 8 + 32); /* RR, SDES with a 19-byte CNAME */
	assert_int_equal(buf[1], RTCP_RR);
	assert_int_equal(rtcp_parse(buf, len, &info), 0);
	assert_false(info.has_sr);
	assert_int_equal(info.n_reports, 0);
	for (size_t cap = 0; cap < len; cap++)
		assert_int_equal(rtcp_build(buf, cap, &r, &len), ENOSPC);

	/* 1970-01-01 00:00:00.5 UTC in NTP time. */
	assert_true(rtcp_ntp_from_unix_us(500000) == (2208988800ull << 32 | 0x80000000u));

	r.cname = "";
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), EINVAL);
	r.cname = NULL;
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), EINVAL);
	r.cname = cname;
	r.n_blocks = 32;
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), EINVAL);
}

/* A peer's compound RR + SDES(CNAME, NOTE) + BYE with a reason. */
/* clang-format off */
static const uint8_t peer[] = {
	0x81, 201, 0, 7,		/* RR, one block */
	0x11, 0x22, 0x33, 0x44,		/* sender */
	0xCA, 0xFE, 0xBA, 0xBE,		/* block about our SSRC */
	0x10, 0xFF, 0xFF, 0xFE,		/* 1/16 lost, cumulative -2 */
	0, 1, 0, 5, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
	0x81, 202, 0, 7,		/* offset 32: SDES, one chunk */
	0x11, 0x22, 0x33, 0x44,
	1, 14, 'a', 'l', 'i', 'c', 'e', '@', '1', '0', '.', '0', '.', '0', '.', '1',
	7, 4, 'n', 'o', 't', 'e',
	0, 0,				/* null item, padding */
	0x81, 203, 0, 2,		/* offset 64: BYE, one SSRC, a reason */
	0x11, 0x22, 0x33, 0x44,
	3, 'b', 'y', 'e',
};
/* clang-format on */

static void test_rtcp_parse_peer(void **state)
{
	struct rtcp_info info;
	uint8_t buf[256];
	struct rtcp_report r = {.ssrc = 0xCAFEBABE, .sender = false};
	char cname[RTCP_CNAME_SIZE];
	size_t len;

	(void)state;
	assert_int_equal(rtcp_parse(peer, sizeof(peer), &info), 0);
	assert_int_equal(info.ssrc, 0x11223344);
	assert_int_equal(info.n_reports, 1);
	assert_int_equal(info.reports[0].ssrc, 0xCAFEBABE);
	assert_int_equal(info.reports[0].fraction_lost, 16);
	assert_int_equal(info.reports[0].cumulative_lost, -2);
	assert_int_equal(info.reports[0].highest_seq, 0x00010005);
	assert_int_equal(info.reports[0].jitter, 9);
	assert_true(info.bye);
	/* What we send afterwards on that leg carries our CNAME only. */
	rtcp_cname_make(cname);
	r.cname = cname;
	assert_int_equal(rtcp_build(buf, sizeof(buf), &r, &len), 0);
	assert_null(memmem(buf, len, "alice", 5));
	assert_null(memmem(buf, len, "\x11\x22\x33\x44", 4));
}

static void expect_rtcp_invalid(const uint8_t *b, size_t n, const char *why)
{
	struct rtcp_info info;

	memset(&info, 0x5A, sizeof(info));
	if (rtcp_parse(b, n, &info) != EINVAL)
		fail_msg("accepted: %s", why);
	for (size_t i = 0; i < sizeof(info); i++)
		if (((const uint8_t *)&info)[i] != 0x5A)
			fail_msg("touched the output on error: %s", why);
}

static void test_rtcp_rejects(void **state)
{
	uint8_t b[sizeof(peer) + 8];
	struct rtcp_info info;

	(void)state;
	expect_rtcp_invalid(NULL, 8, "NULL");
	expect_rtcp_invalid(peer, 0, "empty");
	/* Every cut that is not on a packet boundary. */
	for (size_t n = 1; n < sizeof(peer); n++)
		if (n != 32 && n != 64)
			expect_rtcp_invalid(peer, n, "truncated");
		else
			assert_int_equal(rtcp_parse(peer, n, &info), 0);
#define MUTATE(off, val, why)                                                                      \
	do {                                                                                       \
		memcpy(b, peer, sizeof(peer));                                                     \
		b[off] = (val);                                                                    \
		expect_rtcp_invalid(b, sizeof(peer), why);                                         \
	} while (0)
	MUTATE(0, 0x41, "version 1");
	MUTATE(32, 0xC1, "version 3 in the second packet");
	MUTATE(3, 6, "RR length short of its block");
	MUTATE(0, 0x82, "RR count past its length");
	MUTATE(3, 200, "length past the buffer");
	MUTATE(0, 0xA1, "padding on the first packet");
	MUTATE(41, 40, "SDES item past the chunk");
	MUTATE(32, 0x82, "SDES count past its chunks");
	MUTATE(62, 'x', "SDES chunk without a null item");
	MUTATE(32, 0x80, "SDES bytes past its chunks");
	MUTATE(35, 6, "SDES length cutting an item");
	MUTATE(64, 0x83, "BYE count past its length");
	MUTATE(72, 9, "BYE reason past its length");
#undef MUTATE
	/* Padding is allowed on the last packet only (RFC 3550 A.2). */
	static const uint8_t pad_last[] = {0x80, 201, 0, 1, 1, 2, 3, 4, 0xA1, 203,
	                                   0,    2,   1, 2, 3, 4, 0, 0, 0,    4};
	static const uint8_t pad_first[] = {0xA0, 201, 0,    2,   1, 2, 3, 4, 0, 0,
	                                    0,    4,   0x81, 203, 0, 1, 1, 2, 3, 4};
	assert_int_equal(rtcp_parse(pad_last, sizeof(pad_last), &info), 0);
	expect_rtcp_invalid(pad_first, sizeof(pad_first), "padding before the last packet");
	/* The first packet must be SR or RR. */
	expect_rtcp_invalid(peer + 32, sizeof(peer) - 32, "SDES first");
	/* Trailing bytes that are not a packet. */
	memcpy(b, peer, sizeof(peer));
	memset(b + sizeof(peer), 0, 3);
	b[sizeof(peer)] = 0x80;
	expect_rtcp_invalid(b, sizeof(peer) + 3, "trailing garbage");
	/* Padding on the last packet: valid when sane... */
	memcpy(b, peer, sizeof(peer));
	memcpy(b + sizeof(peer), "\0\0\0\4", 4);
	b[64] = 0xA1;
	b[67] = 3;
	assert_int_equal(rtcp_parse(b, sizeof(peer) + 4, &info), 0);
	b[sizeof(peer) + 3] = 0;
	expect_rtcp_invalid(b, sizeof(peer) + 4, "padding count 0");
	b[sizeof(peer) + 3] = 17;
	expect_rtcp_invalid(b, sizeof(peer) + 4, "padding past the packet body");
	b[sizeof(peer) + 3] = 6; /* eats the reason's text: its length overruns */
	expect_rtcp_invalid(b, sizeof(peer) + 4, "padding cutting into the BYE reason");
}

static void test_rtcp_receive_stats(void **state)
{
	struct rtcp_rx rx;
	struct rtcp_report_block b;
	struct rtcp_info sr = {.has_sr = true, .sr = {.ntp = 0x0000AAAABBBB0000ull}};
	uint8_t pkt[12];
	struct rtp_header h;
	uint16_t seq = 65530;

	(void)state;
	rtcp_rx_init(&rx);
	assert_int_equal(rtcp_rx_block(&rx, 0, &b), ENOENT);
	/* 20 packets across the sequence wrap, perfectly paced, #5 and #6 lost. */
	for (int i = 0; i < 20; i++, seq++) {
		if (i == 5 || i == 6)
			continue;
		make_rtp(pkt, 0, false, seq, 160u * i, 0x77);
		assert_int_equal(rtp_parse(pkt, 12, &h), 0);
		rtcp_rx_packet(&rx, &h, 4000 + 160u * i);
	}
	rtcp_rx_sender_report(&rx, &sr, 1000000);
	assert_int_equal(rtcp_rx_block(&rx, 1500000, &b), 0);
	assert_int_equal(b.ssrc, 0x77);
	assert_int_equal(b.highest_seq, 0x10000u + (uint16_t)(65530 + 19));
	assert_int_equal(b.cumulative_lost, 2);
	assert_int_equal(b.fraction_lost, 2 * 256 / 20);
	assert_int_equal(b.jitter, 0);
	assert_int_equal(b.lsr, 0xAAAABBBB);
	assert_int_equal(b.dlsr, 32768);
	/* A new interval with nothing received: all lost. */
	make_rtp(pkt, 0, false, (uint16_t)(seq + 10), 160u * 30, 0x77);
	assert_int_equal(rtp_parse(pkt, 12, &h), 0);
	rtcp_rx_packet(&rx, &h, 4000 + 160u * 30 + 800); /* 100 ms late */
	assert_int_equal(rtcp_rx_block(&rx, 2000000, &b), 0);
	assert_int_equal(b.cumulative_lost, 12);
	assert_int_equal(b.fraction_lost, 10 * 256 / 11);
	assert_int_equal(b.jitter, 800 / 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_plain),
	    cmocka_unit_test(test_parse_csrc_ext_padding),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_rtcp_demux),
	    cmocka_unit_test(test_stream_switch),
	    cmocka_unit_test(test_stream_wraps),
	    cmocka_unit_test(test_stream_event_timestamp),
	    cmocka_unit_test(test_stream_pt_map),
	    cmocka_unit_test(test_stream_strips),
	    cmocka_unit_test(test_event_parse),
	    cmocka_unit_test(test_dtmf_sipp_pattern),
	    cmocka_unit_test(test_dtmf_repeats_and_reordering),
	    cmocka_unit_test(test_dtmf_malformed),
	    cmocka_unit_test(test_rtcp_round_trip),
	    cmocka_unit_test(test_rtcp_parse_peer),
	    cmocka_unit_test(test_rtcp_rejects),
	    cmocka_unit_test(test_rtcp_receive_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
