/* sip/sdp_answer.c and sdp_crypto.c with SDES: answering RTP/SAVP and best
 * effort (RTP/AVP + a=crypto) offers with our own key, offering crypto
 * lines under either profile, and matching an answer's line to ours. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sdp.h"

#define KEY_A "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
#define KEY_B "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"

static const char head[] =
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";

static const struct sdp_local local = {
    .addr = "192.0.2.10",
    .port = 20000,
    .session_id = 42,
    .session_version = 7,
    .dir = SDP_DIR_SENDRECV,
};

static void parse(const char *mline_and_attrs, struct sdp_desc *d)
{
	char text[1024], err[128];

	snprintf(text, sizeof(text), "%s%s", head, mline_and_attrs);
	if (sdp_parse_desc(text, strlen(text), d, err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
}

/* Our key: bytes 0x11..; the peer's chosen line gives tag and suite. */
static struct sdp_crypto ours(uint32_t tag, enum sdp_crypto_suite suite)
{
	struct sdp_crypto c = {.tag = tag, .suite = suite};

	for (size_t i = 0; i < sizeof(c.key); i++)
		c.key[i] = (uint8_t)(0x11 + i);
	return c;
}

static void savp_offer_answered_with_our_key(void **state)
{
	struct sdp_desc offer, chosen, back;
	struct sdp_crypto peer, mine;
	struct sdp_local l = local;
	char buf[SDP_TEXT_MAX], err[128];

	(void)state;
	parse("m=audio 7000 RTP/SAVP 8 0\r\n"
	      "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A "\r\n"
	      "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B "\r\n",
	      &offer);
	assert_true(offer.srtp);
	assert_int_equal(sdp_crypto_choose(&offer, &peer, err, sizeof(err)), 0);
	assert_int_equal(peer.tag, 7); /* the offerer's first choice */
	assert_int_equal(peer.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	/* Without our key: 488. */
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), ENOTSUP);
	mine = ours(peer.tag, peer.suite);
	l.crypto = &mine;
	l.ncrypto = 1;
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), 0);
	assert_true(chosen.srtp);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/SAVP 8\r\n"));
	assert_non_null(strstr(buf, "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:"));
	assert_null(strstr(buf, KEY_A)); /* the peer's key never goes back */
	assert_null(strstr(buf, "a=crypto:9"));
	/* What we wrote parses back to our key. */
	assert_int_equal(sdp_parse_desc(buf, strlen(buf), &back, err, sizeof(err)), 0);
	assert_int_equal(back.ncrypto, 1);
	assert_int_equal(sdp_crypto_parse(back.crypto[0], &peer, err, sizeof(err)), 0);
	assert_memory_equal(peer.key, mine.key, sizeof(mine.key));
}

static void best_effort_offer_answered_either_way(void **state)
{
	struct sdp_desc offer, chosen;
	struct sdp_crypto mine = ours(1, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	struct sdp_local l = local;
	char buf[SDP_TEXT_MAX];

	(void)state;
	parse("m=audio 7000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n",
	      &offer);
	assert_false(offer.srtp);
	/* Plain: the crypto line is ignored. */
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0\r\n"));
	assert_null(strstr(buf, "a=crypto"));
	/* Encrypted, still under RTP/AVP. */
	l.crypto = &mine;
	l.ncrypto = 1;
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), 0);
	assert_false(chosen.srtp);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0\r\n"));
	assert_non_null(strstr(buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	/* An answer carries one line only. */
	struct sdp_crypto two[2] = {mine, mine};
	l.crypto = two;
	l.ncrypto = 2;
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), EINVAL);
}

static void offers_and_matching_answers(void **state)
{
	struct sdp_crypto offered[2] = {ours(1, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80),
	                                ours(2, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32)};
	struct sdp_local l = local;
	struct sdp_desc d;
	struct sdp_crypto peer;
	char buf[SDP_TEXT_MAX], err[128];
	size_t which = 99;

	(void)state;
	l.crypto = offered;
	l.ncrypto = 2;
	assert_int_equal(sdp_offer(&l, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0 8 101\r\n"));
	assert_non_null(strstr(buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	assert_non_null(strstr(buf, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
	l.savp = true;
	assert_int_equal(sdp_offer(&l, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/SAVP 0 8 101\r\n"));
	l.ncrypto = 0; /* RTP/SAVP without a key is no offer */
	assert_int_equal(sdp_offer(&l, buf, sizeof(buf)), EINVAL);

	parse("m=audio 7000 RTP/SAVP 0\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B "\r\n",
	      &d);
	assert_int_equal(sdp_crypto_match(&d, offered, 2, &peer, &which, err, sizeof(err)), 0);
	assert_int_equal(which, 1);
	assert_int_equal(peer.suite, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	/* A plain answer, an unknown tag, a suite that is not the tag's. */
	parse("m=audio 7000 RTP/AVP 0\r\n", &d);
	assert_int_equal(sdp_crypto_match(&d, offered, 2, &peer, &which, err, sizeof(err)), ENOENT);
	parse("m=audio 7000 RTP/SAVP 0\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B "\r\n",
	      &d);
	assert_int_equal(sdp_crypto_match(&d, offered, 2, &peer, &which, err, sizeof(err)),
	                 ENOTSUP);
	parse("m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B "\r\n",
	      &d);
	assert_int_equal(sdp_crypto_match(&d, offered, 2, &peer, &which, err, sizeof(err)),
	                 ENOTSUP);
	assert_non_null(strstr(err, "another suite"));
	assert_null(strstr(err, KEY_B));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(savp_offer_answered_with_our_key),
	    cmocka_unit_test(best_effort_offer_answered_either_way),
	    cmocka_unit_test(offers_and_matching_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
