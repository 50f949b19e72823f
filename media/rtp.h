/* rtp: RFC 3550 RTP header parsing, the per-leg outgoing stream rewriter
 * (pinbridge's own SSRC, sequence and timestamps, one continuous stream per
 * leg whatever feeds it) and RFC 4733 telephone-event digit tracking.
 * Pure and allocation-free: everything here runs per packet on a media
 * worker, on state the worker owns (no locks). */
#ifndef PB_MEDIA_RTP_H
#define PB_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_LEN 12 /* fixed header, no CSRC, no extension */
#define RTP_PT_MAX     127

/* A parsed RTP packet: the payload is buf[payload_off, payload_off + payload_len),
 * padding excluded. */
struct rtp_header {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t csrc_count;
	bool extension;
	size_t payload_off;
	size_t payload_len;
	size_t padding_len;
};

/* Validate and parse an RTP packet: version 2, CSRC list, header extension
 * and padding all within len, padding count non-zero, payload type not one
 * RTCP's SR/RR could be mistaken for (72-76, RFC 3550 A.1). 0, or EINVAL
 * with *h untouched. Never reads outside buf[0, len). */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h);

/* RFC 5761 demultiplexing for rtcp-mux: true when the packet on an RTP port
 * is RTCP (second octet 192-223). */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Write the 12-byte fixed header (no CSRC, no extension, no padding) for
 * h's pt, marker, seq, ts and ssrc. cap >= RTP_HEADER_LEN, else EINVAL. */
int rtp_header_write(uint8_t *buf, size_t cap, const struct rtp_header *h);

/* --- Outgoing stream, one per leg ------------------------------------------
 * What a leg receives is one stream: our SSRC, our sequence, our timestamps,
 * whether the audio comes from a prompt, ringback, the caller, or the first
 * then second callee of a hunt. Each feeder is a "source" (an id the caller
 * chooses). Within a source, sequence and timestamp keep the source's own
 * spacing (gaps, reordering and RFC 4733 events' constant timestamps pass
 * through); on a switch of source (or of the source's SSRC) the sequence
 * continues at last + 1, the timestamp jumps by the wall-clock time elapsed
 * since the last timestamp advance, and the marker bit is set. The caller
 * (the media worker) feeds only the current source: a late packet of a
 * previous source would count as a switch back. */

#define RTP_PT_MAP_MAX 8

struct rtp_pt_map {
	uint8_t in;
	uint8_t out;
};

struct rtp_stream {
	uint32_t ssrc;       /* ours, from the CSPRNG */
	uint32_t clock_rate; /* Hz; 8000 for G.711 and its telephone-event */
	bool started;        /* anything sent yet */
	uint16_t max_seq;    /* highest sequence sent */
	uint32_t last_ts;    /* latest (highest) timestamp sent ... */
	uint64_t last_ts_us; /* ... and when it was first sent */
	uint32_t last_len;   /* payload bytes of the last packet (G.711: its samples) */
	/* The current source and its offsets to our numbering. */
	uint32_t src_id;
	uint32_t src_ssrc;
	uint16_t seq_off;
	uint32_t ts_off;
	unsigned n_map;
	struct rtp_pt_map map[RTP_PT_MAP_MAX];
};

/* A new stream: random SSRC, initial sequence and timestamp (RFC 3550 5.1),
 * empty payload type map. */
void rtp_stream_init(struct rtp_stream *s, uint32_t clock_rate);

/* Map input payload type in to out on this leg (replacing an earlier mapping
 * of in). EINVAL for a type > 127, ENOSPC when the table is full. */
int rtp_stream_map_pt(struct rtp_stream *s, uint8_t in, uint8_t out);

/* Forget every mapping (a leg's codecs changed); sequence, timestamp and
 * SSRC are kept, so the leg still sees one continuous stream. */
void rtp_stream_map_clear(struct rtp_stream *s);

/* The output payload type for in, or -1 when this leg has none (drop). */
int rtp_stream_pt(const struct rtp_stream *s, uint8_t in);

/* Compute the outgoing header for a packet with header in from source
 * src_id, sent at now_us (a monotonic clock, microseconds). ENOENT (state
 * untouched) when the payload type is not mapped on this leg. */
int rtp_stream_next(struct rtp_stream *s, const struct rtp_header *in, uint32_t src_id,
                    uint64_t now_us, struct rtp_header *out);

/* Relay in place: rewrite the parsed packet in buf (len bytes, parsed into
 * *in) into our fixed header followed by the payload, dropping the peer's
 * CSRC list, header extension and padding (they may identify the peer).
 * *out_len is the new length. ENOENT as rtp_stream_next. */
int rtp_stream_rewrite(struct rtp_stream *s, uint8_t *buf, const struct rtp_header *in,
                       uint32_t src_id, uint64_t now_us, size_t *out_len);

/* --- RFC 4733 telephone-event ---------------------------------------------- */

#define RTP_EVENT_LEN 4

struct rtp_event {
	uint8_t event; /* 0-9, 10 '*', 11 '#', 12-15 'A'-'D', others non-DTMF */
	bool end;
	uint8_t volume; /* 0-63, -dBm0 */
	uint16_t duration;
};

/* Parse a telephone-event payload (exactly 4 bytes). 0 or EINVAL. */
int rtp_event_parse(const uint8_t *payload, size_t len, struct rtp_event *ev);

/* '0'-'9', '*', '#', 'A'-'D' for a DTMF event, else 0. */
char rtp_event_digit(uint8_t event);

/* Reports each DTMF event of one inbound stream exactly once, on the first
 * packet of it that arrives (start, update or end: a lost start still
 * counts). An event is its RTP timestamp and code (RFC 4733 2.5: every
 * packet of one event carries the event's start timestamp), so redundant
 * end packets, duplicates and packets reordered behind a later event are
 * recognised; two presses of the same key are two timestamps ("1122" is four
 * digits). A new SSRC resets it. A sender that replays identical packets
 * (same timestamps) is indistinguishable from duplication. An event longer
 * than a segment (RFC 4733 2.5.2.3: 8 s at 8 kHz) would count again per
 * segment; no key is held that long. */
#define RTP_DTMF_SEEN 16

struct rtp_dtmf {
	bool have_ssrc;
	uint32_t ssrc;
	unsigned n_seen;
	unsigned next;
	struct {
		uint32_t ts;
		uint8_t event;
	} seen[RTP_DTMF_SEEN];
};

void rtp_dtmf_init(struct rtp_dtmf *t);

/* Feed one telephone-event packet (h parsed by rtp_parse, payload its
 * payload). *digit is the digit character when this packet starts a new
 * DTMF event, else 0. EINVAL for a malformed payload (*digit 0). */
int rtp_dtmf_feed(struct rtp_dtmf *t, const struct rtp_header *h, const uint8_t *payload,
                  char *digit);

#endif
