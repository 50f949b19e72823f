/* rtcp: RFC 3550 RTCP, terminated per leg: parse the peer's compound
 * packets (SR, RR, SDES, BYE; others skipped) for its report blocks, keep
 * receive statistics, and build pinbridge's own SR/RR + SDES. Nothing of a
 * peer's RTCP is ever relayed: its CNAME would leak the peer's identity.
 * Pure and allocation-free, on state the owning media worker holds. */
#ifndef PB_MEDIA_RTCP_H
#define PB_MEDIA_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/rtp.h"

#define RTCP_SR   200
#define RTCP_RR   201
#define RTCP_SDES 202
#define RTCP_BYE  203
#define RTCP_APP  204

#define RTCP_REPORTS_MAX 8  /* report blocks kept per compound packet */
#define RTCP_CNAME_SIZE  20 /* "pb-" + 16 hex digits + NUL */

struct rtcp_report_block {
	uint32_t ssrc; /* the source reported on */
	uint8_t fraction_lost;
	int32_t cumulative_lost; /* 24-bit signed on the wire */
	uint32_t highest_seq;    /* extended */
	uint32_t jitter;         /* timestamp units */
	uint32_t lsr;
	uint32_t dlsr; /* 1/65536 s */
};

struct rtcp_sender_info {
	uint64_t ntp; /* 32.32 fixed point */
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
};

/* What a peer's compound packet said. */
struct rtcp_info {
	uint32_t ssrc; /* sender of the leading SR/RR */
	bool has_sr;
	struct rtcp_sender_info sr;
	unsigned n_reports; /* kept, at most RTCP_REPORTS_MAX */
	struct rtcp_report_block reports[RTCP_REPORTS_MAX];
	bool bye;
};

/* Validate a compound packet (RFC 3550 A.2: every packet version 2, the
 * first an SR or RR, padding only on the last, lengths adding up exactly to
 * len; SR/RR report counts, SDES chunks and items, and BYE contents within
 * their packet) and extract it into *info. 0, or EINVAL with *info
 * untouched. Never reads outside buf[0, len). */
int rtcp_parse(const uint8_t *buf, size_t len, struct rtcp_info *info);

/* A fresh CNAME for one leg: "pb-" and 16 random hex digits (CSPRNG), so
 * nothing in it links the leg to the other leg, the peer or the host. */
void rtcp_cname_make(char cname[RTCP_CNAME_SIZE]);

/* NTP timestamp (32.32, RFC 3550 4) for a Unix time in microseconds. */
uint64_t rtcp_ntp_from_unix_us(uint64_t unix_us);

/* Our report: SR when we sent RTP since the last report, else RR. */
struct rtcp_report {
	uint32_t ssrc; /* our stream's (rtp_stream.ssrc) */
	bool sender;
	struct rtcp_sender_info sr; /* used when sender */
	unsigned n_blocks;          /* <= 31 */
	const struct rtcp_report_block *blocks;
	const char *cname; /* ours, 1-255 bytes: never the peer's */
};

/* Build SR or RR followed by SDES (CNAME) into buf. 0 with *len set,
 * ENOSPC when cap is too small, EINVAL for bad arguments. */
int rtcp_build(uint8_t *buf, size_t cap, const struct rtcp_report *r, size_t *len);

/* --- Receive statistics for our report blocks (RFC 3550 A.1, A.3, A.8) ---- */

struct rtcp_rx {
	bool started;
	uint32_t ssrc;
	uint32_t base_seq; /* extended */
	uint32_t max_ext;  /* extended highest sequence */
	uint32_t received;
	uint32_t expected_prior;
	uint32_t received_prior;
	uint32_t transit;
	uint32_t jitter;    /* scaled by 16 (A.8) */
	uint32_t lsr;       /* middle 32 bits of the peer's last SR NTP time */
	uint64_t lsr_at_us; /* when it arrived */
};

void rtcp_rx_init(struct rtcp_rx *rx);

/* Account one received RTP packet; arrival is the arrival time in the
 * stream's timestamp units (e.g. now_us * 8000 / 1000000). A new SSRC
 * restarts the statistics. Simpler than RFC 3550 A.1: no probation and no
 * resynchronisation on a huge sequence jump (a peer restarting with the
 * same SSRC shows as loss until the next SSRC). */
void rtcp_rx_packet(struct rtcp_rx *rx, const struct rtp_header *h, uint32_t arrival);

/* Remember the peer's SR (for LSR/DLSR) from a parsed compound packet. */
void rtcp_rx_sender_report(struct rtcp_rx *rx, const struct rtcp_info *info, uint64_t now_us);

/* Fill a report block about the peer's stream and start a new interval.
 * ENOENT when nothing was received yet. */
int rtcp_rx_block(struct rtcp_rx *rx, uint64_t now_us, struct rtcp_report_block *b);

#endif
