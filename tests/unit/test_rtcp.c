/* Unit tests for media/rtcp.c: compound parse and build, malformed reports
 * refused, and receive statistics. RTCP is terminated per leg. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "media/rtcp.h"
#include "media/rtp.h"

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
	struct rtp_header h;
	uint16_t seq = 65530;

	(void)state;
	rtcp_rx_init(&rx);
	assert_int_equal(rtcp_rx_block(&rx, 0, &b), ENOENT);
	/* 20 packets across the sequence wrap, perfectly paced, #5 and #6 lost. */
	for (int i = 0; i < 20; i++, seq++) {
		if (i == 5 || i == 6)
			continue;
		h = (struct rtp_header){.seq = seq, .ts = 160u * i, .ssrc = 0x77};
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
	h = (struct rtp_header){.seq = (uint16_t)(seq + 10), .ts = 160u * 30, .ssrc = 0x77};
	rtcp_rx_packet(&rx, &h, 4000 + 160u * 30 + 800); /* 100 ms late */
	assert_int_equal(rtcp_rx_block(&rx, 2000000, &b), 0);
	assert_int_equal(b.cumulative_lost, 12);
	assert_int_equal(b.fraction_lost, 10 * 256 / 11);
	assert_int_equal(b.jitter, 800 / 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtcp_round_trip),
	    cmocka_unit_test(test_rtcp_parse_peer),
	    cmocka_unit_test(test_rtcp_rejects),
	    cmocka_unit_test(test_rtcp_receive_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
