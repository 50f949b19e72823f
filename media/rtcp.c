/* rtcp: compound packet validation and extraction, our SR/RR + SDES, and
 * the receive statistics behind our report blocks. */
#include <errno.h>
#include <string.h>

#include "core/base/rand.h"
#include "media/media_int.h"
#include "media/rtcp.h"

#define REPORT_BLOCK_LEN 24
#define SENDER_INFO_LEN  20

static void parse_blocks(const uint8_t *q, unsigned count, struct rtcp_info *r)
{
	for (unsigned i = 0; i < count && r->n_reports < RTCP_REPORTS_MAX;
	     i++, q += REPORT_BLOCK_LEN) {
		struct rtcp_report_block *b = &r->reports[r->n_reports++];
		int32_t lost = (int32_t)((uint32_t)q[5] << 16 | (uint32_t)q[6] << 8 | q[7]);

		b->ssrc = media_get32(q);
		b->fraction_lost = q[4];
		b->cumulative_lost = lost & 0x800000 ? lost - 0x1000000 : lost;
		b->highest_seq = media_get32(q + 8);
		b->jitter = media_get32(q + 12);
		b->lsr = media_get32(q + 16);
		b->dlsr = media_get32(q + 20);
	}
}

/* count chunks, each an SSRC then items up to a null item, padded to a
 * 32-bit boundary, exactly filling the body (RFC 3550 6.5). */
static int check_sdes(const uint8_t *q, size_t n, unsigned count)
{
	size_t pos = 0;

	for (unsigned i = 0; i < count; i++) {
		if (n - pos < 4)
			return EINVAL;
		pos += 4;
		for (;;) {
			if (pos >= n)
				return EINVAL;
			if (q[pos] == 0)
				break;
			if (n - pos < 2 || n - pos - 2 < q[pos + 1])
				return EINVAL;
			pos += 2u + q[pos + 1];
		}
		pos = (pos + 4) & ~(size_t)3; /* the null item and its padding */
		if (pos > n)
			return EINVAL;
	}
	return pos == n ? 0 : EINVAL;
}

/* count SSRCs, then an optional length-prefixed reason (RFC 3550 6.6). */
static int check_bye(const uint8_t *q, size_t n, unsigned count)
{
	size_t pos = 4u * count;

	if (pos > n)
		return EINVAL;
	if (pos < n && (size_t)q[pos] + 1 > n - pos)
		return EINVAL;
	return 0;
}

int rtcp_parse(const uint8_t *buf, size_t len, struct rtcp_info *info)
{
	struct rtcp_info r;
	size_t off = 0;

	if (!buf || len < 4)
		return EINVAL;
	memset(&r, 0, sizeof(r));
	while (off < len) {
		const uint8_t *p = buf + off;
		const uint8_t *q = p + 4;
		unsigned count;
		size_t plen, n;
		uint8_t pt;

		if (len - off < 4 || p[0] >> 6 != 2)
			return EINVAL;
		count = p[0] & 0x1F;
		pt = p[1];
		plen = 4u * ((size_t)media_get16(p + 2) + 1);
		if (plen > len - off)
			return EINVAL;
		n = plen - 4;
		if (p[0] & 0x20) {
			/* Padding only on the last packet of the compound. */
			if (off + plen != len || p[plen - 1] == 0 || p[plen - 1] > n)
				return EINVAL;
			n -= p[plen - 1];
		}
		if (off == 0 && pt != RTCP_SR && pt != RTCP_RR)
			return EINVAL;
		switch (pt) {
		case RTCP_SR:
			if (n < 4 + SENDER_INFO_LEN + (size_t)REPORT_BLOCK_LEN * count)
				return EINVAL;
			if (off == 0) {
				r.ssrc = media_get32(q);
				r.has_sr = true;
				r.sr.ntp = (uint64_t)media_get32(q + 4) << 32 | media_get32(q + 8);
				r.sr.rtp_ts = media_get32(q + 12);
				r.sr.packets = media_get32(q + 16);
				r.sr.octets = media_get32(q + 20);
			}
			parse_blocks(q + 4 + SENDER_INFO_LEN, count, &r);
			break;
		case RTCP_RR:
			if (n < 4 + (size_t)REPORT_BLOCK_LEN * count)
				return EINVAL;
			if (off == 0)
				r.ssrc = media_get32(q);
			parse_blocks(q + 4, count, &r);
			break;
		case RTCP_SDES:
			if (check_sdes(q, n, count))
				return EINVAL;
			break;
		case RTCP_BYE:
			if (check_bye(q, n, count))
				return EINVAL;
			r.bye = true;
			break;
		default:
			/* APP, feedback, XR: length-checked above, not used. */
			break;
		}
		off += plen;
	}
	*info = r;
	return 0;
}

void rtcp_cname_make(char cname[RTCP_CNAME_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[8];

	rand_bytes(raw, sizeof(raw));
	memcpy(cname, "pb-", 3);
	for (size_t i = 0; i < sizeof(raw); i++) {
		cname[3 + 2 * i] = hex[raw[i] >> 4];
		cname[4 + 2 * i] = hex[raw[i] & 0xF];
	}
	cname[RTCP_CNAME_SIZE - 1] = '\0';
}

uint64_t rtcp_ntp_from_unix_us(uint64_t unix_us)
{
	/* Seconds from 1900 to 1970; the fraction is in 1/2^32 s. */
	uint64_t sec = unix_us / 1000000u + 2208988800u;
	uint64_t frac = ((unix_us % 1000000u) << 32) / 1000000u;

	return sec << 32 | frac;
}

static void put_block(uint8_t *q, const struct rtcp_report_block *b)
{
	int32_t lost = b->cumulative_lost;

	/* Clamp to the field's 24-bit signed range (RFC 3550 6.4.1). */
	if (lost > 0x7FFFFF)
		lost = 0x7FFFFF;
	if (lost < -0x800000)
		lost = -0x800000;
	media_put32(q, b->ssrc);
	media_put32(q + 4, (uint32_t)b->fraction_lost << 24 | ((uint32_t)lost & 0xFFFFFF));
	media_put32(q + 8, b->highest_seq);
	media_put32(q + 12, b->jitter);
	media_put32(q + 16, b->lsr);
	media_put32(q + 20, b->dlsr);
}

int rtcp_build(uint8_t *buf, size_t cap, const struct rtcp_report *r, size_t *len)
{
	size_t cname_len, rlen, slen;
	uint8_t *p;

	if (!buf || !r->cname || r->n_blocks > 31 || (r->n_blocks && !r->blocks))
		return EINVAL;
	cname_len = strnlen(r->cname, 256);
	if (cname_len == 0 || cname_len > 255)
		return EINVAL;
	rlen = 8 + (r->sender ? SENDER_INFO_LEN : 0) + REPORT_BLOCK_LEN * (size_t)r->n_blocks;
	/* header, SSRC, CNAME item, then a null item padded to 32 bits */
	slen = (8 + 2 + cname_len + 4) & ~(size_t)3;
	if (cap < rlen + slen)
		return ENOSPC;

	p = buf;
	p[0] = (uint8_t)(2 << 6 | r->n_blocks);
	p[1] = r->sender ? RTCP_SR : RTCP_RR;
	media_put16(p + 2, (uint16_t)(rlen / 4 - 1));
	media_put32(p + 4, r->ssrc);
	p += 8;
	if (r->sender) {
		media_put32(p, (uint32_t)(r->sr.ntp >> 32));
		media_put32(p + 4, (uint32_t)r->sr.ntp);
		media_put32(p + 8, r->sr.rtp_ts);
		media_put32(p + 12, r->sr.packets);
		media_put32(p + 16, r->sr.octets);
		p += SENDER_INFO_LEN;
	}
	for (unsigned i = 0; i < r->n_blocks; i++, p += REPORT_BLOCK_LEN)
		put_block(p, &r->blocks[i]);

	memset(p, 0, slen);
	p[0] = 2 << 6 | 1;
	p[1] = RTCP_SDES;
	media_put16(p + 2, (uint16_t)(slen / 4 - 1));
	media_put32(p + 4, r->ssrc);
	p[8] = 1; /* CNAME */
	p[9] = (uint8_t)cname_len;
	memcpy(p + 10, r->cname, cname_len);
	*len = rlen + slen;
	return 0;
}

void rtcp_rx_init(struct rtcp_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

void rtcp_rx_packet(struct rtcp_rx *rx, const struct rtp_header *h, uint32_t arrival)
{
	uint32_t transit = arrival - h->ts;

	if (!rx->started || rx->ssrc != h->ssrc) {
		rtcp_rx_init(rx);
		rx->started = true;
		rx->ssrc = h->ssrc;
		rx->base_seq = h->seq;
		rx->max_ext = h->seq;
	} else {
		uint16_t max = (uint16_t)rx->max_ext;
		uint32_t cycles = rx->max_ext & 0xFFFF0000u;
		int64_t d;

		if ((int16_t)(h->seq - max) > 0) {
			if (h->seq < max)
				cycles += 0x10000u;
			rx->max_ext = cycles | h->seq;
		}
		/* Interarrival jitter, RFC 3550 A.8, in 1/16 units. */
		d = (int32_t)(transit - rx->transit);
		if (d < 0)
			d = -d;
		rx->jitter = (uint32_t)((int64_t)rx->jitter + d - (((int64_t)rx->jitter + 8) >> 4));
	}
	rx->transit = transit;
	rx->received++;
}

void rtcp_rx_sender_report(struct rtcp_rx *rx, const struct rtcp_info *info, uint64_t now_us)
{
	if (!info->has_sr)
		return;
	rx->lsr = (uint32_t)(info->sr.ntp >> 16);
	rx->lsr_at_us = now_us;
}

int rtcp_rx_block(struct rtcp_rx *rx, uint64_t now_us, struct rtcp_report_block *b)
{
	uint32_t expected, exp_int, rec_int;
	int64_t lost, lost_int;

	if (!rx->started)
		return ENOENT;
	expected = rx->max_ext - rx->base_seq + 1;
	lost = (int64_t)expected - rx->received;
	exp_int = expected - rx->expected_prior;
	rec_int = rx->received - rx->received_prior;
	rx->expected_prior = expected;
	rx->received_prior = rx->received;
	lost_int = (int64_t)exp_int - rec_int;

	memset(b, 0, sizeof(*b));
	b->ssrc = rx->ssrc;
	/* All lost makes 256/256: the field tops out at 255. */
	if (exp_int != 0 && lost_int > 0)
		b->fraction_lost = lost_int >= exp_int ? 255 : (uint8_t)((lost_int << 8) / exp_int);
	b->cumulative_lost = lost > 0x7FFFFF    ? 0x7FFFFF
	                     : lost < -0x800000 ? -0x800000
	                                        : (int32_t)lost;
	b->highest_seq = rx->max_ext;
	b->jitter = rx->jitter >> 4;
	if (rx->lsr) {
		b->lsr = rx->lsr;
		b->dlsr = (uint32_t)((now_us - rx->lsr_at_us) * 65536 / 1000000);
	}
	return 0;
}
