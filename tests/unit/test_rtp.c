/* Unit tests for media/rtp.c: header validation, the per-leg stream
 * rewriter and RFC 4733 digit tracking (RTCP: test_rtcp.c). */
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

/* A switch right after a frame: the new source's first timestamp lies past
 * the last frame's audio, never inside it. */
static void test_stream_switch_no_overlap(void **state)
{
	struct rtp_stream s;
	struct rtp_header in, a, b;
	uint8_t buf[RTP_HEADER_LEN + 160];

	(void)state;
	rtp_stream_init(&s, 8000);
	rtp_stream_map_pt(&s, 0, 0);
	memset(buf, 0xff, sizeof(buf));
	make_rtp(buf, 0, false, 1, 1000, 0xAAAA);
	assert_int_equal(rtp_parse(buf, sizeof(buf), &in), 0);
	assert_int_equal(rtp_stream_next(&s, &in, 2, 1000000, &a), 0);
	make_rtp(buf, 0, false, 50, 777, 0xBBBB);
	assert_int_equal(rtp_parse(buf, sizeof(buf), &in), 0);
	assert_int_equal(rtp_stream_next(&s, &in, 1, 1000000 + 5000, &b), 0);
	assert_true(b.marker);
	assert_int_equal(b.ts, a.ts + 160);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_plain),
	    cmocka_unit_test(test_parse_csrc_ext_padding),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_rtcp_demux),
	    cmocka_unit_test(test_stream_switch),
	    cmocka_unit_test(test_stream_switch_no_overlap),
	    cmocka_unit_test(test_stream_wraps),
	    cmocka_unit_test(test_stream_event_timestamp),
	    cmocka_unit_test(test_stream_pt_map),
	    cmocka_unit_test(test_stream_strips),
	    cmocka_unit_test(test_event_parse),
	    cmocka_unit_test(test_dtmf_sipp_pattern),
	    cmocka_unit_test(test_dtmf_repeats_and_reordering),
	    cmocka_unit_test(test_dtmf_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
