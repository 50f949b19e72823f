/* fuzz_rtp: bytes from the network through the RTP parser, the stream
 * rewriter, the RFC 4733 parser and digit tracker, and the RTCP parser and
 * receive statistics: everything a media worker runs on a peer's packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PKT_MAX 1500

/* One packet as RTP: parse, track, rewrite, re-parse. */
static void one_rtp(struct rtp_stream *s, struct rtp_dtmf *t, struct rtcp_rx *rx, const uint8_t *p,
                    size_t n, uint32_t src, uint64_t now)
{
	uint8_t buf[PKT_MAX];
	struct rtp_header h, out;
	struct rtp_event ev;
	size_t len;
	char d;

	if (rtp_parse(p, n, &h))
		return;
	if (h.payload_off > n || h.payload_len > n - h.payload_off ||
	    h.payload_off + h.payload_len + h.padding_len != n)
		abort();
	rtcp_rx_packet(rx, &h, (uint32_t)(now / 125));
	if (rtp_event_parse(p + h.payload_off, h.payload_len, &ev) == 0 &&
	    rtp_dtmf_feed(t, &h, p + h.payload_off, &d) == 0 && d && !rtp_event_digit(ev.event))
		abort();
	memcpy(buf, p, n);
	if (rtp_stream_rewrite(s, buf, &h, src, now, &len) != 0)
		return;
	if (len != RTP_HEADER_LEN + h.payload_len || rtp_parse(buf, len, &out) != 0 ||
	    out.ssrc != s->ssrc || memcmp(buf + RTP_HEADER_LEN, p + h.payload_off, h.payload_len))
		abort();
}

/* The whole input as a compound RTCP packet; what parses must rebuild. */
static void one_rtcp(struct rtcp_rx *rx, const uint8_t *p, size_t n)
{
	struct rtcp_info info;
	struct rtcp_report rep = {.ssrc = 1, .cname = "pb-0123456789abcdef"};
	struct rtcp_report_block b;
	uint8_t out[PKT_MAX];
	size_t len;

	if (rtcp_parse(p, n, &info))
		return;
	if (info.n_reports > RTCP_REPORTS_MAX)
		abort();
	rtcp_rx_sender_report(rx, &info, 1000000);
	rep.sender = info.has_sr;
	rep.sr = info.sr;
	rep.n_blocks = info.n_reports;
	rep.blocks = info.reports;
	if (rtcp_build(out, sizeof(out), &rep, &len) || rtcp_parse(out, len, &info) ||
	    info.n_reports != rep.n_blocks)
		abort();
	rtcp_rx_block(rx, 2000000, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rtp_stream s;
	static bool init;
	struct rtp_dtmf t;
	struct rtcp_rx rx;
	uint64_t now = 0;
	uint32_t src = 0;

	if (!init) {
		rtp_stream_init(&s, 8000);
		for (uint8_t pt = 0; pt < RTP_PT_MAP_MAX; pt++)
			rtp_stream_map_pt(&s, pt == 7 ? 101 : pt, (uint8_t)(pt + 96));
		init = true;
	}
	rtp_dtmf_init(&t);
	rtcp_rx_init(&rx);
	one_rtcp(&rx, data, size);
	/* The input as a sequence of packets: [len][flags][bytes]..., so the
	 * tracker and rewriter see state across packets. */
	while (size >= 2) {
		size_t n = data[0];
		uint8_t flags = data[1];

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (flags & 1)
			src++;
		now += (uint64_t)(flags >> 1) * 1000;
		if (flags & 0x80)
			one_rtcp(&rx, data, n);
		else
			one_rtp(&s, &t, &rx, data, n, src, now);
		data += n;
		size -= n;
	}
	return 0;
}
