/* fuzz_sdp: a peer's SDP through the parser and, when it parses, through
 * the answer, which must itself parse back to the same agreement: the
 * answer is rendered from structs, so whatever the offer holds, it is
 * well formed and carries only pinbridge's address. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const char *text)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_sdp: %s\n%s\n", what, text);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_desc offer, chosen, back;
	char err[256], buf[SDP_TEXT_MAX];
	struct sdp_local local = {
	    .addr = "192.0.2.10",
	    .port = 20000,
	    .session_id = 1,
	    .session_version = 1,
	    .dir = SDP_DIR_SENDRECV,
	};
	int rc;

	/* The last byte, when present, varies our side of the answer. */
	if (size > 0) {
		uint8_t knob = data[size - 1];

		local.rtcp_mux = knob & 1;
		local.dir = (enum sdp_dir)((knob >> 1) & 3);
		local.prefer[0] = knob & 8 ? SDP_CODEC_PCMA : SDP_CODEC_NONE;
		if (knob & 16)
			local.addr = "2001:db8::10";
	}
	rc = sdp_parse_desc((const char *)data, size, &offer, err, sizeof(err));
	check(rc == 0 || rc == EINVAL || rc == ENOTSUP, "unexpected parse error", err);
	if (rc)
		return 0;
	check(offer.port != 0 && offer.nlines > 0 && offer.audio < offer.nlines,
	      "parsed offer without audio", "");
	rc = sdp_answer(&offer, &local, &chosen, buf, sizeof(buf));
	if (rc == ENOTSUP && offer.srtp)
		return 0;
	check(rc == 0, "no answer to a parsed offer", "");
	rc = sdp_parse_desc(buf, strlen(buf), &back, err, sizeof(err));
	check(rc == 0, "the answer does not parse", buf);
	check(strcmp(back.addr, chosen.addr) == 0 && back.port == local.port &&
	          back.nlines == offer.nlines && back.audio == offer.audio &&
	          back.ncodecs == chosen.ncodecs && back.dir == chosen.dir &&
	          back.rtcp_mux == chosen.rtcp_mux && back.ptime == chosen.ptime &&
	          back.codecs[0].pt == chosen.codecs[0].pt,
	      "the answer parses to something else", buf);
	for (size_t i = 0; i < back.nlines; i++)
		check(i == back.audio || back.lines[i].port == 0, "a second m-line accepted", buf);
	return 0;
}
