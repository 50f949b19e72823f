/* rtp: RTP header validation and rewriting, and RFC 4733 event tracking.
 * Sequence and timestamp arithmetic is modulo 2^16 / 2^32 throughout;
 * "newer" means a positive signed difference (RFC 1982 style). */
#include <errno.h>
#include <string.h>

#include "core/base/rand.h"
#include "media/media_int.h"
#include "media/rtp.h"

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h)
{
	struct rtp_header r;
	size_t off, pad = 0;

	if (!buf || len < RTP_HEADER_LEN || buf[0] >> 6 != 2)
		return EINVAL;
	memset(&r, 0, sizeof(r));
	r.csrc_count = buf[0] & 0x0F;
	r.extension = (buf[0] & 0x10) != 0;
	r.marker = (buf[1] & 0x80) != 0;
	r.pt = buf[1] & 0x7F;
	if (r.pt >= 72 && r.pt <= 76)
		return EINVAL;
	r.seq = media_get16(buf + 2);
	r.ts = media_get32(buf + 4);
	r.ssrc = media_get32(buf + 8);

	off = RTP_HEADER_LEN + 4u * r.csrc_count;
	if (off > len)
		return EINVAL;
	if (r.extension) {
		/* RFC 3550 5.3.1: 16-bit profile, 16-bit length in words. */
		if (len - off < 4)
			return EINVAL;
		size_t ext = 4u * media_get16(buf + off + 2);
		off += 4;
		if (len - off < ext)
			return EINVAL;
		off += ext;
	}
	if (buf[0] & 0x20) {
		/* The last octet counts the padding, itself included. */
		pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return EINVAL;
	}
	r.payload_off = off;
	r.payload_len = len - off - pad;
	r.padding_len = pad;
	*h = r;
	return 0;
}

bool rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	return buf && len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

int rtp_header_write(uint8_t *buf, size_t cap, const struct rtp_header *h)
{
	if (!buf || cap < RTP_HEADER_LEN || h->pt > RTP_PT_MAX)
		return EINVAL;
	buf[0] = 2 << 6;
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	media_put16(buf + 2, h->seq);
	media_put32(buf + 4, h->ts);
	media_put32(buf + 8, h->ssrc);
	return 0;
}

void rtp_stream_init(struct rtp_stream *s, uint32_t clock_rate)
{
	memset(s, 0, sizeof(*s));
	rand_bytes(&s->ssrc, sizeof(s->ssrc));
	/* Random initial sequence and timestamp (RFC 3550 5.1); the first
	 * packet lands on them, since it is a switch from nothing. */
	rand_bytes(&s->max_seq, sizeof(s->max_seq));
	rand_bytes(&s->last_ts, sizeof(s->last_ts));
	s->clock_rate = clock_rate;
}

int rtp_stream_map_pt(struct rtp_stream *s, uint8_t in, uint8_t out)
{
	if (in > RTP_PT_MAX || out > RTP_PT_MAX)
		return EINVAL;
	for (unsigned i = 0; i < s->n_map; i++) {
		if (s->map[i].in == in) {
			s->map[i].out = out;
			return 0;
		}
	}
	if (s->n_map == RTP_PT_MAP_MAX)
		return ENOSPC;
	s->map[s->n_map].in = in;
	s->map[s->n_map].out = out;
	s->n_map++;
	return 0;
}

void rtp_stream_map_clear(struct rtp_stream *s)
{
	s->n_map = 0;
}

int rtp_stream_pt(const struct rtp_stream *s, uint8_t in)
{
	for (unsigned i = 0; i < s->n_map; i++)
		if (s->map[i].in == in)
			return s->map[i].out;
	return -1;
}

/* Samples in us microseconds at the stream's clock; 64-bit so that an hour
 * of elapsed time does not overflow before the modulo. */
static uint32_t elapsed_samples(const struct rtp_stream *s, uint64_t us)
{
	return (uint32_t)(us * s->clock_rate / 1000000u);
}

int rtp_stream_next(struct rtp_stream *s, const struct rtp_header *in, uint32_t src_id,
                    uint64_t now_us, struct rtp_header *out)
{
	int pt = rtp_stream_pt(s, in->pt);
	bool sw;
	uint16_t seq;
	uint32_t ts;

	if (pt < 0)
		return ENOENT;
	sw = !s->started || src_id != s->src_id || in->ssrc != s->src_ssrc;
	if (sw) {
		uint16_t first_seq = s->started ? (uint16_t)(s->max_seq + 1) : s->max_seq;
		uint32_t first_ts = s->last_ts;
		uint32_t jump = 0;

		/* By the time elapsed, and at least past the last packet's
		 * audio, so two sources' frames never overlap. */
		if (s->started && now_us > s->last_ts_us)
			jump = elapsed_samples(s, now_us - s->last_ts_us);
		if (s->started && jump < s->last_len)
			jump = s->last_len;
		first_ts += jump;
		s->seq_off = (uint16_t)(first_seq - in->seq);
		s->ts_off = first_ts - in->ts;
		s->src_id = src_id;
		s->src_ssrc = in->ssrc;
	}
	seq = (uint16_t)(in->seq + s->seq_off);
	ts = in->ts + s->ts_off;
	if (!s->started || (int16_t)(seq - s->max_seq) > 0)
		s->max_seq = seq;
	/* Anchor elapsed time to the first sending of each new timestamp, so
	 * that an RFC 4733 event (many packets, one timestamp) counts from
	 * its start. */
	if (!s->started || (int32_t)(ts - s->last_ts) > 0) {
		s->last_ts = ts;
		s->last_ts_us = now_us;
	}
	s->started = true;
	s->last_len = (uint32_t)in->payload_len;

	memset(out, 0, sizeof(*out));
	out->pt = (uint8_t)pt;
	out->marker = in->marker || sw;
	out->seq = seq;
	out->ts = ts;
	out->ssrc = s->ssrc;
	out->payload_off = RTP_HEADER_LEN;
	out->payload_len = in->payload_len;
	return 0;
}

int rtp_stream_rewrite(struct rtp_stream *s, uint8_t *buf, const struct rtp_header *in,
                       uint32_t src_id, uint64_t now_us, size_t *out_len)
{
	struct rtp_header out;
	int rc;

	if (in->payload_off < RTP_HEADER_LEN)
		return EINVAL;
	rc = rtp_stream_next(s, in, src_id, now_us, &out);
	if (rc)
		return rc;
	if (in->payload_off != RTP_HEADER_LEN)
		memmove(buf + RTP_HEADER_LEN, buf + in->payload_off, in->payload_len);
	rtp_header_write(buf, RTP_HEADER_LEN, &out);
	*out_len = RTP_HEADER_LEN + in->payload_len;
	return 0;
}

int rtp_event_parse(const uint8_t *payload, size_t len, struct rtp_event *ev)
{
	if (!payload || len != RTP_EVENT_LEN)
		return EINVAL;
	ev->event = payload[0];
	ev->end = (payload[1] & 0x80) != 0;
	/* payload[1] & 0x40 is reserved: ignored on receipt (RFC 4733 2.3). */
	ev->volume = payload[1] & 0x3F;
	ev->duration = media_get16(payload + 2);
	return 0;
}

char rtp_event_digit(uint8_t event)
{
	static const char digits[16] = "0123456789*#ABCD";

	return event < 16 ? digits[event] : 0;
}

void rtp_dtmf_init(struct rtp_dtmf *t)
{
	memset(t, 0, sizeof(*t));
}

int rtp_dtmf_feed(struct rtp_dtmf *t, const struct rtp_header *h, const uint8_t *payload,
                  char *digit)
{
	struct rtp_event ev;
	char d;

	*digit = 0;
	if (rtp_event_parse(payload, h->payload_len, &ev))
		return EINVAL;
	d = rtp_event_digit(ev.event);
	if (!d)
		return 0;
	if (!t->have_ssrc || t->ssrc != h->ssrc) {
		rtp_dtmf_init(t);
		t->have_ssrc = true;
		t->ssrc = h->ssrc;
	}
	for (unsigned i = 0; i < t->n_seen; i++)
		if (t->seen[i].ts == h->ts && t->seen[i].event == ev.event)
			return 0;
	t->seen[t->next].ts = h->ts;
	t->seen[t->next].event = ev.event;
	t->next = (t->next + 1) % RTP_DTMF_SEEN;
	if (t->n_seen < RTP_DTMF_SEEN)
		t->n_seen++;
	*digit = d;
	return 0;
}
