/* test_callflow: the call flow's pure pieces: the callee number in each
 * trunk dial format, and a leg's media config from a peer's SDP (address,
 * codec, telephone-event, latch and the trunk's CIDRs for learning). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/callflow_int.h"

static void trunk_init(struct trunk *tr, const char *format, const char *latch)
{
	memset(tr, 0, sizeof(*tr));
	snprintf(tr->dial_format, sizeof(tr->dial_format), "%s", format);
	snprintf(tr->latch, sizeof(tr->latch), "%s", latch);
}

static void test_dial_formats(void **state)
{
	struct trunk tr;
	struct tenant t = {.country = "91"};
	char out[24];

	(void)state;
	trunk_init(&tr, "e164", "learn");
	cf_dial_format(&tr, &t, "+919876543210", out, sizeof(out));
	assert_string_equal(out, "+919876543210");
	trunk_init(&tr, "digits", "learn");
	cf_dial_format(&tr, &t, "+919876543210", out, sizeof(out));
	assert_string_equal(out, "919876543210");
	trunk_init(&tr, "national", "learn");
	cf_dial_format(&tr, &t, "+919876543210", out, sizeof(out));
	assert_string_equal(out, "09876543210");
	/* Another country's number cannot be written nationally. */
	cf_dial_format(&tr, &t, "+4915112345678", out, sizeof(out));
	assert_string_equal(out, "+4915112345678");
}

static const char callee_sdp[] = "v=0\r\n"
                                 "o=- 1 1 IN IP4 127.0.0.3\r\n"
                                 "s=-\r\n"
                                 "c=IN IP4 127.0.0.3\r\n"
                                 "t=0 0\r\n"
                                 "m=audio 40002 RTP/AVP 8 96\r\n"
                                 "a=rtpmap:8 PCMA/8000\r\n"
                                 "a=rtpmap:96 telephone-event/8000\r\n"
                                 "a=fmtp:96 0-15\r\n";

static void test_leg_cfg_from_answer(void **state)
{
	struct sdp_desc d;
	struct media_leg_cfg cfg;
	struct trunk tr;
	struct cidr allow[2] = {0};
	char err[128], ip[INET_ADDRSTRLEN];

	(void)state;
	trunk_init(&tr, "e164", "strict");
	/* 10.1.0.0/16 as ::ffff:10.1.0.0/112, and an IPv6 block to skip. */
	allow[0].addr[10] = allow[0].addr[11] = 0xff;
	allow[0].addr[12] = 10;
	allow[0].addr[13] = 1;
	allow[0].prefix = 112;
	allow[1].addr[0] = 0x20;
	allow[1].prefix = 32;
	tr.allow = allow;
	tr.nallow = 2;
	assert_int_equal(sdp_parse_desc(callee_sdp, strlen(callee_sdp), &d, err, sizeof(err)), 0);
	assert_int_equal(cf_leg_cfg(&tr, &d, sdp_desc_voice(&d), &cfg), 0);
	inet_ntop(AF_INET, &cfg.remote.sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "127.0.0.3");
	assert_int_equal(ntohs(cfg.remote.sin_port), 40002);
	assert_int_equal(cfg.codec, MEDIA_PCMA);
	assert_int_equal(cfg.codec_pt, 8);
	assert_int_equal(cfg.latch, MEDIA_LATCH_STRICT);
	assert_int_equal(cfg.n_cidrs, 1);
	assert_int_equal(cfg.cidrs[0].prefix, 16);
	inet_ntop(AF_INET, &cfg.cidrs[0].net, ip, sizeof(ip));
	assert_string_equal(ip, "10.1.0.0");
	/* No voice codec: refused. */
	assert_int_equal(cf_leg_cfg(&tr, &d, NULL, &cfg), EINVAL);
}

static void test_leg_cfg_refuses_ipv6(void **state)
{
	static const char v6[] = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\n"
	                         "m=audio 40000 RTP/AVP 0\r\n";
	struct sdp_desc d;
	struct media_leg_cfg cfg;
	char err[128];

	(void)state;
	assert_int_equal(sdp_parse_desc(v6, strlen(v6), &d, err, sizeof(err)), 0);
	assert_int_equal(cf_leg_cfg(NULL, &d, sdp_desc_voice(&d), &cfg), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dial_formats),
	    cmocka_unit_test(test_leg_cfg_from_answer),
	    cmocka_unit_test(test_leg_cfg_refuses_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
