/* repack: audio relayed between legs whose packet times differ (a 30 ms
 * caller, a 20 ms callee) is re-cut into the receiving leg's frames, and a
 * leg without telephone-event gets the other leg's events as tones
 * (dtmfgen.c). Runs on the worker, only for such legs: equal ptimes keep
 * the in-place relay of session.c.
 *
 * Why a source of its own (MEDIA_SRC_REPACK) rather than the relay's:
 * re-cutting changes the packet count, so the input's sequence numbers
 * cannot be kept; the input's timestamps can, so a frame's timestamp is
 * that of its first sample in the input. Telephone-event packets go out
 * through the same source unchanged (never re-cut), so an event keeps its
 * one timestamp and nothing in the stream marks a switch between audio and
 * events. A switch from or to ringback, prompts, tones or another input
 * SSRC is still the stream's marked switch. */
#include <string.h>

#include "media/g711.h"
#include "media/media_int.h"

static unsigned ptime_of(const struct media_leg_cfg *c)
{
	unsigned ms = c->ptime_ms ? c->ptime_ms : MEDIA_FRAME * 1000 / MEDIA_CLOCK_RATE;

	if (ms < MEDIA_PTIME_MIN)
		return MEDIA_PTIME_MIN;
	return ms > MEDIA_PTIME_MAX ? MEDIA_PTIME_MAX : ms;
}

void media_leg_repack_cfg(struct media_leg *l, const struct media_leg_cfg *from)
{
	struct media_repack *rp = &l->rp;

	/* Whatever was buffered belonged to the old description: dropped,
	 * less than a frame. The sequence goes on (same source). */
	rp->on = ptime_of(&l->cfg) != ptime_of(from);
	rp->frame = ptime_of(&l->cfg) * MEDIA_CLOCK_RATE / 1000;
	rp->have = false;
	rp->n = 0;
	media_leg_dtmfgen_cfg(l, from->te_pt >= 0 && l->cfg.te_pt < 0);
}

void media_leg_send_payload(struct media_leg *l, uint32_t src, const struct rtp_header *in,
                            const uint8_t *payload, size_t len, bool generated, int64_t now_us,
                            struct media_counters *wc)
{
	struct rtp_header out;
	uint8_t pkt[RTP_HEADER_LEN + MEDIA_REPACK_MAX + MEDIA_SRTP_RTP_TRAILER_MAX];

	if (!l->have_remote || l->held || (l->play.p && src != MEDIA_SRC_PROMPT) ||
	    len > MEDIA_REPACK_MAX)
		return; /* held: the generator's clock runs on, nothing goes out */
	if (rtp_stream_next(&l->out, in, src, (uint64_t)now_us, &out) != 0)
		return; /* a type l's map lacks: the caller checked it */
	rtp_header_write(pkt, sizeof(pkt), &out);
	memcpy(pkt + RTP_HEADER_LEN, payload, len);
	if (!media_leg_send_rtp(l, pkt, RTP_HEADER_LEN + len, sizeof(pkt), wc))
		return;
	if (generated) {
		media_ctr_add(&l->sess->ctr, generated, 1);
		media_ctr_add(wc, generated, 1);
	} else {
		media_ctr_add(&l->sess->ctr, relayed, 1);
		media_ctr_add(wc, relayed, 1);
	}
	l->sent_packets++;
	l->sent_octets += (uint32_t)len;
	l->sent_since_report = true;
}

/* Send what is in y's buffer (a whole frame, or the rest before a gap). */
static void emit(struct media_leg *y, int64_t now_us, struct media_counters *wc)
{
	struct media_repack *rp = &y->rp;
	const struct media_leg *x = &y->sess->leg[1 - y->idx];
	struct rtp_header in = {.pt = x->cfg.codec_pt,
	                        .marker = rp->marker,
	                        .seq = rp->seq++,
	                        .ts = rp->buf_ts,
	                        .ssrc = rp->ssrc,
	                        .payload_len = rp->n};

	media_leg_send_payload(y, MEDIA_SRC_REPACK, &in, rp->buf, rp->n, false, now_us, wc);
	rp->marker = false;
	rp->buf_ts += (uint32_t)rp->n;
	rp->n = 0;
}

void media_leg_repack_flush(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	if (l->rp.n)
		emit(l, now_us, wc);
}

/* Copy n samples of x's law into y's buffer in y's law. */
static void take(struct media_leg *y, enum media_codec from, const uint8_t *p, size_t n)
{
	uint8_t *dst = y->rp.buf + y->rp.n;

	if (from == y->cfg.codec)
		memcpy(dst, p, n);
	else if (from == MEDIA_PCMU)
		for (size_t i = 0; i < n; i++)
			dst[i] = g711_ulaw_to_alaw(p[i]);
	else
		for (size_t i = 0; i < n; i++)
			dst[i] = g711_alaw_to_ulaw(p[i]);
	y->rp.n += n;
}

/* Where does h's audio go: false for a late or duplicate packet (its time
 * has been sent already). A new SSRC or a jump forward (loss, silence
 * suppression) flushes, so audio is never glued across a gap; a jump back
 * of more than a second is a sender that restarted its clock. */
static bool sync_input(struct media_leg *y, const struct rtp_header *h, int64_t now_us,
                       struct media_counters *wc)
{
	struct media_repack *rp = &y->rp;
	int32_t d = (int32_t)(h->ts - rp->next_ts);

	if (rp->have && h->ssrc == rp->ssrc && d == 0 && !h->marker)
		return true;
	if (rp->have && h->ssrc == rp->ssrc && d < 0 && d > -MEDIA_CLOCK_RATE)
		return false;
	media_leg_repack_flush(y, now_us, wc);
	rp->have = true;
	rp->ssrc = h->ssrc;
	rp->buf_ts = h->ts;
	rp->marker = rp->marker || h->marker;
	return true;
}

static void repack_audio(struct media_leg *x, struct media_leg *y, const uint8_t *p,
                         const struct rtp_header *h, int64_t now_us, struct media_counters *wc)
{
	struct media_repack *rp = &y->rp;
	size_t left = h->payload_len;

	if (!sync_input(y, h, now_us, wc))
		return;
	rp->next_ts = h->ts + (uint32_t)h->payload_len;
	rp->last_us = now_us;
	while (left) {
		size_t m = rp->frame - rp->n;

		if (m > left)
			m = left;
		take(y, x->cfg.codec, p, m);
		p += m;
		left -= m;
		if (rp->n == rp->frame)
			emit(y, now_us, wc);
	}
}

/* Telephone-event (or another type y maps) while re-cutting: as it is,
 * through the same source, so its timestamp stays the event's. */
static bool relay_as_is(struct media_leg *y, const uint8_t *buf, const struct rtp_header *h,
                        int64_t now_us, struct media_counters *wc)
{
	struct rtp_header in = *h;

	if (rtp_stream_pt(&y->out, h->pt) < 0)
		return false; /* the in-place relay drops and counts it */
	in.seq = y->rp.seq++;
	media_leg_send_payload(y, MEDIA_SRC_REPACK, &in, buf + h->payload_off, h->payload_len,
	                       false, now_us, wc);
	return true;
}

bool media_leg_repack_input(struct media_leg *x, struct media_leg *y, const uint8_t *buf,
                            const struct rtp_header *h, int64_t now_us, struct media_counters *wc)
{
	if (y->gen.on && h->pt == (uint8_t)x->cfg.te_pt) {
		media_leg_dtmfgen_event(y, h, buf + h->payload_off, now_us, wc);
		return true;
	}
	if (h->pt != x->cfg.codec_pt)
		return y->rp.on && relay_as_is(y, buf, h, now_us, wc);
	if (media_leg_dtmfgen_busy(y))
		return true; /* y hears the tone instead */
	if (!y->rp.on && (h->payload_len == y->rp.frame || !h->payload_len))
		return false;
	/* Packets not of y's frame size from a leg that declared none (SIPp's
	 * g711a.pcap: 30 ms, no a=ptime): re-cut from now on, until either
	 * leg's description changes. */
	y->rp.on = true;
	repack_audio(x, y, buf + h->payload_off, h, now_us, wc);
	return true;
}

void media_leg_repack_tick(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	if (l->rp.n && now_us - l->rp.last_us >= MEDIA_REPACK_IDLE_US)
		media_leg_repack_flush(l, now_us, wc);
	if (l->gen.on)
		media_leg_dtmfgen_tick(l, now_us, wc);
}
