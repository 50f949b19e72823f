/* sip/sdp.c: parsing a peer's SDP into plain structs, answering it with
 * only pinbridge's own address and identity, and our own offer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sdp.h"

/* What SIPp's uac scenario sends, with a user name, session name and
 * attributes that must never reach the other leg. */
static const char sipp_offer[] = "v=0\r\n"
                                 "o=alice 53655765 2353687637 IN IP4 127.0.0.2\r\n"
                                 "s=SippSecretSession\r\n"
                                 "i=caller info 555-0100\r\n"
                                 "c=IN IP4 127.0.0.2\r\n"
                                 "t=0 0\r\n"
                                 "m=audio 6000 RTP/AVP 0 8 101\r\n"
                                 "a=rtpmap:0 PCMU/8000\r\n"
                                 "a=rtpmap:8 PCMA/8000\r\n"
                                 "a=rtpmap:101 telephone-event/8000\r\n"
                                 "a=fmtp:101 0-15\r\n"
                                 "a=ssrc:1234 cname:alice@caller.example\r\n"
                                 "a=x-secret:leakme\r\n";

static const struct sdp_local local = {
    .addr = "192.0.2.10",
    .port = 20000,
    .session_id = 42,
    .session_version = 7,
    .dir = SDP_DIR_SENDRECV,
};

static void parse_ok(const char *text, struct sdp_desc *d)
{
	char err[256] = "";
	int rc = sdp_parse_desc(text, strlen(text), d, err, sizeof(err));

	if (rc)
		fail_msg("sdp_parse_desc: %d %s\n%s", rc, err, text);
}

static int parse_rc(const char *text, char *err, size_t errlen)
{
	struct sdp_desc d;

	return sdp_parse_desc(text, strlen(text), &d, err, errlen);
}

/* Answers, checks no peer text is in it, and that it parses back. */
static void answer_ok(const char *offer_text, const struct sdp_local *l, struct sdp_desc *chosen,
                      char *buf, size_t buflen)
{
	struct sdp_desc offer, back;

	parse_ok(offer_text, &offer);
	assert_int_equal(sdp_answer(&offer, l, chosen, buf, buflen), 0);
	parse_ok(buf, &back);
	assert_string_equal(back.addr, chosen->addr);
	assert_int_equal(back.port, chosen->port);
	assert_int_equal(back.dir, chosen->dir);
	assert_int_equal(back.ncodecs, chosen->ncodecs);
	assert_int_equal(back.nlines, offer.nlines);
}

static void test_parse_sipp(void **state)
{
	struct sdp_desc d;
	const struct sdp_codec *te;

	parse_ok(sipp_offer, &d);
	assert_string_equal(d.addr, "127.0.0.2");
	assert_false(d.ipv6);
	assert_int_equal(d.port, 6000);
	assert_int_equal(d.dir, SDP_DIR_SENDRECV);
	assert_int_equal(d.ptime, 0);
	assert_false(d.rtcp_mux);
	assert_false(d.srtp);
	assert_int_equal(d.ncodecs, 3);
	assert_int_equal(d.codecs[0].kind, SDP_CODEC_PCMU);
	assert_int_equal(d.codecs[0].pt, 0);
	assert_int_equal(d.codecs[1].kind, SDP_CODEC_PCMA);
	assert_int_equal(d.codecs[1].pt, 8);
	te = sdp_desc_codec(&d, SDP_CODEC_TELEPHONE_EVENT);
	assert_non_null(te);
	assert_int_equal(te->pt, 101);
	assert_int_equal(te->events, 0xffff);
	assert_int_equal(d.nlines, 1);
	assert_int_equal(d.audio, 0);
}

static void test_parse_pcma_only_ptime30(void **state)
{
	struct sdp_desc d;

	parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	         "m=audio 7000 RTP/AVP 8\r\na=ptime:30\r\n",
	         &d);
	assert_int_equal(d.ncodecs, 1);
	assert_int_equal(d.codecs[0].kind, SDP_CODEC_PCMA);
	assert_null(sdp_desc_codec(&d, SDP_CODEC_PCMU));
	assert_null(sdp_desc_codec(&d, SDP_CODEC_TELEPHONE_EVENT));
	assert_int_equal(d.ptime, 30);
}

static void test_parse_levels(void **state)
{
	struct sdp_desc d;

	/* Session-level c= and direction apply to the media... */
	parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	         "a=sendonly\r\nm=audio 7000 RTP/AVP 0\r\n",
	         &d);
	assert_string_equal(d.addr, "10.0.0.1");
	assert_int_equal(d.dir, SDP_DIR_SENDONLY);
	/* ...and media-level ones override them. */
	parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	         "a=sendonly\r\nm=audio 7000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\na=inactive\r\n",
	         &d);
	assert_string_equal(d.addr, "10.0.0.2");
	assert_int_equal(d.dir, SDP_DIR_INACTIVE);
	/* Media-level c= alone is enough. */
	parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
	         "m=audio 7000 RTP/AVP 0\r\nc=IN IP4 10.0.0.3\r\na=recvonly\r\n",
	         &d);
	assert_string_equal(d.addr, "10.0.0.3");
	assert_int_equal(d.dir, SDP_DIR_RECVONLY);
	/* RFC 2543 hold keeps its address for the caller to see */
	parse_ok("v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
	         "m=audio 7000 RTP/AVP 0\r\n",
	         &d);
	assert_string_equal(d.addr, "0.0.0.0");
}

static void test_parse_ipv6_rtcp_mux(void **state)
{
	struct sdp_desc d;

	parse_ok("v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\n"
	         "c=IN IP6 2001:DB8:0:0::7\r\nt=0 0\r\n"
	         "m=audio 7002 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
	         "a=fmtp:96 0-16\r\na=rtcp-mux\r\na=rtcp:7002\r\n"
	         "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd\r\n",
	         &d);
	assert_true(d.ipv6);
	assert_string_equal(d.addr, "2001:db8::7");
	assert_true(d.rtcp_mux);
	assert_int_equal(d.rtcp_port, 7002);
	assert_int_equal(sdp_desc_codec(&d, SDP_CODEC_TELEPHONE_EVENT)->pt, 96);
	assert_int_equal(sdp_desc_codec(&d, SDP_CODEC_TELEPHONE_EVENT)->events, 0x1ffff);
	assert_int_equal(d.ncrypto, 1);
	assert_string_equal(d.crypto[0], "1 AES_CM_128_HMAC_SHA1_80 inline:abcd");
}

static const char multi_offer[] =
    "v=0\r\no=bob 9 9 IN IP4 198.51.100.7\r\ns=Bob's phone\r\n"
    "c=IN IP4 198.51.100.7\r\nt=0 0\r\n"
    "m=video 9000 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n"
    "m=audio 8000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
    "a=ptime:30\r\na=sendonly\r\n"
    "m=image 9002 udptl t38\r\n"
    "m=audio 8002 RTP/AVP 0\r\n";

static void test_parse_multi(void **state)
{
	struct sdp_desc d;

	parse_ok(multi_offer, &d);
	assert_int_equal(d.nlines, 4);
	assert_int_equal(d.audio, 1);
	assert_int_equal(d.port, 8000);
	assert_int_equal(d.lines[0].media, SDP_MEDIA_VIDEO);
	assert_int_equal(d.lines[0].nfmts, 2);
	assert_int_equal(d.lines[2].media, SDP_MEDIA_IMAGE);
	assert_int_equal(d.lines[2].proto, SDP_PROTO_UDPTL);
	assert_int_equal(d.lines[2].fmts[0].token, 1);
	assert_int_equal(d.lines[3].media, SDP_MEDIA_AUDIO);
	assert_int_equal(d.codecs[0].kind, SDP_CODEC_OTHER); /* G729 recorded */
	assert_string_equal(d.codecs[0].name, "G729");
	assert_int_equal(d.codecs[1].kind, SDP_CODEC_PCMA);
	assert_ptr_equal(sdp_desc_voice(&d), &d.codecs[1]);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    /* missing v= */
	    "o=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 7000 "
	    "RTP/AVP 0\r\n",
	    /* bad m= line */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio port RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP PCMU\r\n",
	    /* port out of range */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 70000 RTP/AVP 0\r\n",
	    /* truncated inside the m= line, the c= line, an rtpmap */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 7000 "
	    "RTP/A",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-ev",
	    /* no c= anywhere, no o=, junk */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n",
	    "v=0\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n",
	    "hello world",
	    /* hangs Sofia 1.12.11 unless refused first */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0\r\n  m=image 9 udptl t38 (x)\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0\r\nm=image 9 udptl\t\t\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0\r\nm=image 90/00/1 a//b t38\r\n",
	    "",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		if (parse_rc(bad[i], err, sizeof(err)) != EINVAL)
			fail_msg("case %zu not EINVAL: %s", i, bad[i]);
		assert_true(strlen(err) > 0);
	}
	/* A NUL inside is malformed too, not a shorter SDP. */
	{
		struct sdp_desc d;
		char nul[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
		             "t=0 0\r\nm=audio 7000 RTP/AVP 0\r\n\0a=x\r\n";

		assert_int_equal(sdp_parse_desc(nul, sizeof(nul) - 1, &d, err, sizeof(err)),
		                 EINVAL);
	}
}

static void test_parse_unsupported(void **state)
{
	static const char *const unusable[] = {
	    /* no PCMU or PCMA */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 18 96\r\na=rtpmap:96 opus/48000/2\r\n",
	    /* PCMU at the wrong rate */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 96\r\na=rtpmap:96 PCMU/16000\r\n",
	    /* no audio at all; audio rejected by the offerer */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=video 7000 RTP/AVP 96\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 0 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n",
	    /* a host name, a multicast group */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 media.example.com\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 0\r\n",
	    /* PCMU only past the formats kept (found by fuzz_sdp: it parsed, then
	     * could not be answered) */
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=audio 7000 RTP/AVP 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 "
	    "9 9 0\r\n",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(unusable) / sizeof(*unusable); i++)
		if (parse_rc(unusable[i], err, sizeof(err)) != ENOTSUP)
			fail_msg("case %zu not ENOTSUP: %s", i, unusable[i]);
}

static void test_answer_masks_peer(void **state)
{
	struct sdp_desc chosen;
	char buf[SDP_TEXT_MAX];
	static const char *const peer[] = {"127.0.0.2", "alice",    "53655765", "2353687637",
	                                   "Sipp",      "555-0100", "cname",    "x-secret",
	                                   "leakme",    "6000",     "ssrc",     "caller"};

	answer_ok(sipp_offer, &local, &chosen, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(peer) / sizeof(*peer); i++)
		if (strstr(buf, peer[i]))
			fail_msg("peer text \"%s\" in answer:\n%s", peer[i], buf);
	assert_non_null(strstr(buf, "o=pinbridge 42 7 IN IP4 192.0.2.10\r\n"));
	assert_non_null(strstr(buf, "c=IN IP4 192.0.2.10\r\n"));
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0 101\r\n"));
	assert_non_null(strstr(buf, "a=fmtp:101 0-15\r\n"));
	assert_non_null(strstr(buf, "a=sendrecv\r\n"));
	assert_null(strstr(buf, "PCMA"));
	assert_string_equal(chosen.addr, "192.0.2.10");
	assert_int_equal(chosen.port, 20000);
	assert_int_equal(chosen.codecs[0].kind, SDP_CODEC_PCMU);
	assert_int_equal(chosen.codecs[1].pt, 101);
}

static void test_answer_codec_choice(void **state)
{
	struct sdp_desc chosen;
	char buf[SDP_TEXT_MAX];
	struct sdp_local prefer_a = local;

	/* PCMA-only stays PCMA */
	answer_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	          "m=audio 7000 RTP/AVP 8\r\na=ptime:30\r\n",
	          &local, &chosen, buf, sizeof(buf));
	assert_int_equal(chosen.ncodecs, 1);
	assert_int_equal(chosen.codecs[0].kind, SDP_CODEC_PCMA);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 8\r\n"));
	assert_non_null(strstr(buf, "a=ptime:30\r\n"));
	assert_null(strstr(buf, "telephone-event"));

	/* the offer's order, unless we prefer otherwise */
	prefer_a.prefer[0] = SDP_CODEC_PCMA;
	answer_ok(sipp_offer, &prefer_a, &chosen, buf, sizeof(buf));
	assert_int_equal(chosen.codecs[0].kind, SDP_CODEC_PCMA);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 8 101\r\n"));

	/* PCMU on a dynamic payload type keeps it */
	answer_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	          "m=audio 7000 RTP/AVP 97 96\r\na=rtpmap:97 pcmu/8000\r\n"
	          "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16,32\r\n",
	          &local, &chosen, buf, sizeof(buf));
	assert_int_equal(chosen.codecs[0].pt, 97);
	assert_int_equal(chosen.codecs[1].pt, 96);
	assert_non_null(strstr(buf, "a=rtpmap:97 PCMU/8000\r\n"));
	assert_non_null(strstr(buf, "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n"));
}

static void test_answer_direction(void **state)
{
	static const struct {
		const char *attr;
		enum sdp_dir local_dir, want;
		const char *line;
	} cases[] = {
	    {"a=sendonly\r\n", SDP_DIR_SENDRECV, SDP_DIR_RECVONLY, "a=recvonly\r\n"},
	    {"a=recvonly\r\n", SDP_DIR_SENDRECV, SDP_DIR_SENDONLY, "a=sendonly\r\n"},
	    {"a=inactive\r\n", SDP_DIR_SENDRECV, SDP_DIR_INACTIVE, "a=inactive\r\n"},
	    {"", SDP_DIR_SENDRECV, SDP_DIR_SENDRECV, "a=sendrecv\r\n"},
	    {"", SDP_DIR_SENDONLY, SDP_DIR_SENDONLY, "a=sendonly\r\n"},
	    {"a=sendonly\r\n", SDP_DIR_SENDONLY, SDP_DIR_INACTIVE, "a=inactive\r\n"},
	};
	char offer[512], buf[SDP_TEXT_MAX];
	struct sdp_desc chosen;
	struct sdp_local l = local;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(offer, sizeof(offer),
		         "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
		         "t=0 0\r\nm=audio 7000 RTP/AVP 0\r\n%s",
		         cases[i].attr);
		l.dir = cases[i].local_dir;
		answer_ok(offer, &l, &chosen, buf, sizeof(buf));
		assert_int_equal(chosen.dir, cases[i].want);
		assert_non_null(strstr(buf, cases[i].line));
	}
}

static void test_answer_extra_lines(void **state)
{
	struct sdp_desc chosen, back;
	char buf[SDP_TEXT_MAX];
	const char *video, *audio, *image, *audio2;

	answer_ok(multi_offer, &local, &chosen, buf, sizeof(buf));
	video = strstr(buf, "m=video 0 RTP/AVP 96 97\r\n");
	audio = strstr(buf, "m=audio 20000 RTP/AVP 8 96\r\n");
	image = strstr(buf, "m=image 0 udptl t38\r\n");
	audio2 = strstr(buf, "m=audio 0 RTP/AVP 0\r\n");
	if (!video || !audio || !image || !audio2)
		fail_msg("m= lines wrong:\n%s", buf);
	assert_true(video < audio && audio < image && image < audio2);
	assert_non_null(strstr(buf, "a=recvonly\r\n"));
	assert_non_null(strstr(buf, "a=ptime:30\r\n"));
	assert_null(strstr(buf, "198.51.100.7"));
	assert_null(strstr(buf, "bob"));
	assert_null(strstr(buf, "Bob"));
	assert_null(strstr(buf, "H264"));
	parse_ok(buf, &back);
	assert_int_equal(back.nlines, 4);
	assert_int_equal(back.audio, 1);
	assert_int_equal(back.lines[0].port, 0);
	assert_int_equal(back.lines[2].port, 0);
	assert_int_equal(back.lines[3].port, 0);
}

static void test_answer_unknown_lines(void **state)
{
	struct sdp_desc chosen;
	char buf[SDP_TEXT_MAX];

	/* Unknown media types, protocols and format tokens are the peer's
	 * words: the rejected line is written with ours. */
	answer_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	          "m=audio 7000 RTP/AVP 0 0\r\na=rtpmap:0 telephone-event/8000\r\n"
	          "m=hushmedia 5000 X-HUSH/PROTO secretfmt 5\r\n"
	          "m=video 5002 RTP/SAVPF 100\r\n",
	          &local, &chosen, buf, sizeof(buf));
	assert_non_null(strstr(buf, "m=application 0 UDP 5\r\n"));
	assert_non_null(strstr(buf, "m=video 0 RTP/SAVPF 100\r\n"));
	assert_null(strstr(buf, "hush"));
	assert_null(strstr(buf, "HUSH"));
	assert_null(strstr(buf, "secret"));
	/* pt 0 named twice: no telephone-event on the voice codec's pt */
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0\r\n"));
	assert_int_equal(chosen.ncodecs, 1);
}

static void test_answer_rtcp_mux_ipv6(void **state)
{
	struct sdp_desc chosen;
	char buf[SDP_TEXT_MAX];
	struct sdp_local l = local;
	static const char offer[] = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\n"
	                            "c=IN IP6 2001:db8::1\r\nt=0 0\r\n"
	                            "m=audio 7002 RTP/AVP 0\r\na=rtcp-mux\r\n";

	l.addr = "2001:db8::a";
	l.rtcp_mux = true;
	answer_ok(offer, &l, &chosen, buf, sizeof(buf));
	assert_true(chosen.rtcp_mux);
	assert_non_null(strstr(buf, "c=IN IP6 2001:db8::a\r\n"));
	assert_non_null(strstr(buf, "a=rtcp-mux\r\n"));
	assert_null(strstr(buf, "2001:db8::1"));
	/* not accepted when we do not mux */
	l.rtcp_mux = false;
	answer_ok(offer, &l, &chosen, buf, sizeof(buf));
	assert_false(chosen.rtcp_mux);
	assert_null(strstr(buf, "a=rtcp-mux"));
	assert_non_null(strstr(buf, "a=rtcp:20001\r\n"));
}

static void test_answer_errors(void **state)
{
	struct sdp_desc offer, chosen;
	char buf[SDP_TEXT_MAX];
	struct sdp_local l = local;

	parse_ok(sipp_offer, &offer);
	assert_int_equal(sdp_answer(&offer, &local, &chosen, buf, 64), ENOSPC);
	l.addr = "not-an-address";
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), EINVAL);
	l = local;
	l.port = 0;
	assert_int_equal(sdp_answer(&offer, &l, &chosen, buf, sizeof(buf)), EINVAL);
	/* SRTP-only audio is parsed (crypto kept), not answered without our key */
	parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	         "m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xyz\r\n",
	         &offer);
	assert_true(offer.srtp);
	assert_int_equal(offer.ncrypto, 1);
	assert_int_equal(sdp_answer(&offer, &local, &chosen, buf, sizeof(buf)), ENOTSUP);
}

static void test_offer(void **state)
{
	char buf[SDP_TEXT_MAX];
	struct sdp_desc d;
	struct sdp_local l = local;
	const struct sdp_codec *te;

	assert_int_equal(sdp_offer(&l, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "m=audio 20000 RTP/AVP 0 8 101\r\n"));
	assert_non_null(strstr(buf, "a=fmtp:101 0-16\r\n"));
	assert_non_null(strstr(buf, "a=ptime:20\r\n"));
	assert_non_null(strstr(buf, "a=rtcp:20001\r\n"));
	parse_ok(buf, &d);
	assert_string_equal(d.addr, "192.0.2.10");
	assert_int_equal(d.port, 20000);
	assert_int_equal(d.dir, SDP_DIR_SENDRECV);
	assert_int_equal(d.ptime, 20);
	assert_int_equal(d.rtcp_port, 20001);
	assert_int_equal(d.codecs[0].kind, SDP_CODEC_PCMU);
	assert_int_equal(d.codecs[1].kind, SDP_CODEC_PCMA);
	te = sdp_desc_codec(&d, SDP_CODEC_TELEPHONE_EVENT);
	assert_non_null(te);
	assert_int_equal(te->pt, 101);
	assert_int_equal(te->events, SDP_TE_EVENTS_SUPPORTED);

	l.rtcp_mux = true;
	l.prefer[0] = SDP_CODEC_PCMA;
	l.addr = "::1";
	assert_int_equal(sdp_offer(&l, buf, sizeof(buf)), 0);
	parse_ok(buf, &d);
	assert_true(d.ipv6);
	assert_true(d.rtcp_mux);
	assert_int_equal(d.codecs[0].kind, SDP_CODEC_PCMA);
	assert_null(strstr(buf, "a=rtcp:"));
	assert_int_equal(sdp_offer(&l, buf, 32), ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_sipp),
	    cmocka_unit_test(test_parse_pcma_only_ptime30),
	    cmocka_unit_test(test_parse_levels),
	    cmocka_unit_test(test_parse_ipv6_rtcp_mux),
	    cmocka_unit_test(test_parse_multi),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_unsupported),
	    cmocka_unit_test(test_answer_masks_peer),
	    cmocka_unit_test(test_answer_codec_choice),
	    cmocka_unit_test(test_answer_direction),
	    cmocka_unit_test(test_answer_extra_lines),
	    cmocka_unit_test(test_answer_rtcp_mux_ipv6),
	    cmocka_unit_test(test_answer_unknown_lines),
	    cmocka_unit_test(test_answer_errors),
	    cmocka_unit_test(test_offer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
