/* sdp: SDP offer/answer for one call leg, with Sofia's parser kept inside
 * sip/sdp.c. Everything pinbridge sends is rendered from these plain structs,
 * never copied from the peer's text, so no identity can cross a leg. */
#ifndef PB_SIP_SDP_H
#define PB_SIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_ADDR_MAX   46  /* INET6_ADDRSTRLEN */
#define SDP_CODECS_MAX 32  /* formats kept per audio m-line; more are ignored */
#define SDP_FMTS_MAX   16  /* formats kept per rejected m-line */
#define SDP_MLINES_MAX 16  /* more m-lines than this: ENOTSUP (488) */
#define SDP_CRYPTO_MAX 8   /* a=crypto lines kept for the SRTP issue */
#define SDP_CRYPTO_LEN 256 /* longer a=crypto values are dropped, not cut */
#define SDP_PREFER_MAX 4
#define SDP_TEXT_MAX   4096 /* always enough for sdp_answer()/sdp_offer() */
#define SDP_INPUT_MAX  65536
#define SDP_PTIME_MIN  5 /* a=ptime outside these bounds is ignored */
#define SDP_PTIME_MAX  200

/* Bits as in RFC 3264: "send" and "recv" from the describing side's view. */
enum sdp_dir {
	SDP_DIR_INACTIVE = 0,
	SDP_DIR_SENDONLY = 1,
	SDP_DIR_RECVONLY = 2,
	SDP_DIR_SENDRECV = 3,
};

enum sdp_codec_kind {
	SDP_CODEC_NONE = 0, /* terminates sdp_local.prefer */
	SDP_CODEC_PCMU,
	SDP_CODEC_PCMA,
	SDP_CODEC_TELEPHONE_EVENT, /* at 8000 Hz only */
	SDP_CODEC_OTHER,           /* recorded, never chosen, never sent */
};

/* Telephone-event numbers 0..16 (DTMF and flash) that pinbridge handles. */
#define SDP_TE_EVENTS_SUPPORTED 0x1ffffu

struct sdp_codec {
	uint8_t pt;
	enum sdp_codec_kind kind;
	uint32_t rate;
	/* Telephone-event only: bit n set = event n offered (0..31), from the
	 * fmtp or RFC 4733's default 0-15. */
	uint32_t events;
	char name[16]; /* the peer's encoding name, truncated; for logs only */
};

enum sdp_media_kind {
	SDP_MEDIA_OTHER = 0, /* rejected as "application" */
	SDP_MEDIA_AUDIO,
	SDP_MEDIA_VIDEO,
	SDP_MEDIA_IMAGE,
	SDP_MEDIA_APPLICATION,
	SDP_MEDIA_TEXT,
	SDP_MEDIA_MESSAGE,
};

enum sdp_proto_kind {
	SDP_PROTO_OTHER = 0, /* rejected as "RTP/AVP" */
	SDP_PROTO_RTP_AVP,
	SDP_PROTO_RTP_SAVP,
	SDP_PROTO_RTP_AVPF,
	SDP_PROTO_RTP_SAVPF,
	SDP_PROTO_UDP_TLS_RTP_SAVP,
	SDP_PROTO_UDP_TLS_RTP_SAVPF,
	SDP_PROTO_UDPTL,
	SDP_PROTO_UDP,
	SDP_PROTO_TCP,
	SDP_PROTO_TCP_MSRP,
	SDP_PROTO_TCP_TLS_MSRP,
};

/* One format of an m-line: a number (RTP payload type, or any numeric
 * token), or one of a few well-known tokens ("t38", "*"); unknown tokens
 * are not kept. */
struct sdp_fmt {
	uint16_t num;
	uint8_t token; /* 0: numeric; 1: "t38"; 2: "*" */
};

/* An m-line other than the chosen audio one: answered with port 0. */
struct sdp_mline {
	enum sdp_media_kind media;
	enum sdp_proto_kind proto;
	uint16_t port; /* as offered; always 0 in pinbridge's own SDP */
	size_t nfmts;
	struct sdp_fmt fmts[SDP_FMTS_MAX];
};

/* One side's audio, as parsed from the peer or as pinbridge sends it. */
struct sdp_desc {
	/* Canonical IP literal from the media- or session-level c=; 0.0.0.0 or
	 * :: (RFC 2543 hold) means: send nothing. */
	char addr[SDP_ADDR_MAX];
	bool ipv6;
	uint16_t port;      /* RTP port of the audio m-line, never 0 */
	uint16_t rtcp_port; /* a=rtcp: port, 0 when absent (RTP port + 1 then) */
	bool rtcp_mux;
	enum sdp_dir dir; /* session-level, overridden at media level */
	unsigned ptime;   /* ms; 0 when not signalled (G.711 default is 20) */
	bool srtp;        /* the audio m-line is RTP/SAVP */

	/* Formats of the audio m-line in offer order. */
	size_t ncodecs;
	struct sdp_codec codecs[SDP_CODECS_MAX];

	/* a=crypto values of the audio m-line, raw (never sent back, never
	 * logged: they hold the peer's key). */
	size_t ncrypto;
	char crypto[SDP_CRYPTO_MAX][SDP_CRYPTO_LEN];

	/* Every m-line in order; lines[audio] is the audio one, whose fields
	 * above are authoritative (its entry here only holds media/proto). */
	size_t nlines;
	size_t audio;
	struct sdp_mline lines[SDP_MLINES_MAX];
};

/* pinbridge's own side of a leg. */
struct sdp_local {
	const char *addr; /* media address (media.advertise): IPv4 or IPv6 literal */
	uint16_t port;    /* RTP port, 1..65534; RTCP on port + 1 unless muxed */
	uint64_t session_id;
	uint64_t session_version; /* bump on every new offer/answer in a dialog */
	bool rtcp_mux;            /* offer a=rtcp-mux; accept it when offered */
	enum sdp_dir dir;         /* normally SENDRECV; SENDONLY/INACTIVE to hold */
	unsigned ptime;           /* for our offer; 0 means 20 */
	/* Codec preference, SDP_CODEC_NONE-terminated; empty = the offer's order
	 * when answering, PCMU then PCMA when offering. */
	enum sdp_codec_kind prefer[SDP_PREFER_MAX];
	/* SDES: our a=crypto lines (each with our own key), none for plain
	 * RTP. An offer carries them all, under RTP/SAVP when savp, else
	 * under RTP/AVP (best effort: a plain answer is fine). An answer
	 * carries exactly one, the offer's tag and suite, under the offer's
	 * profile; an RTP/SAVP offer answered without one is ENOTSUP. */
	const struct sdp_crypto *crypto;
	size_t ncrypto; /* 0..SDP_LOCAL_CRYPTO_MAX */
	bool savp;
};

#define SDP_LOCAL_CRYPTO_MAX 2

/* Parses the peer's SDP (len bytes, no NUL needed). Returns 0, EINVAL for
 * malformed SDP, or ENOTSUP when it is well formed but has nothing pinbridge
 * can take (no audio, neither PCMU nor PCMA, a hostname or multicast
 * address, too many m-lines): the caller answers 488. err gets the reason. */
int sdp_parse_desc(const char *text, size_t len, struct sdp_desc *out, char *err, size_t errlen);

/* Answers an offer per RFC 3264: one m-line per offered one, the audio with
 * the first supported codec (local->prefer, else the offer's order) in the
 * offer's payload type, telephone-event echoed with the offer's payload type,
 * ptime and rtcp-mux echoed, direction mirrored and limited by local->dir;
 * every other m-line with port 0. Fills chosen with what the answer says.
 * Returns 0, EINVAL (bad local or offer), ENOTSUP (nothing to agree on:
 * 488) or ENOSPC (buflen too small; SDP_TEXT_MAX always suffices). */
int sdp_answer(const struct sdp_desc *offer, const struct sdp_local *local, struct sdp_desc *chosen,
               char *buf, size_t buflen);

/* pinbridge's own offer (outbound leg, late offer): PCMU 0, PCMA 8,
 * telephone-event 101 0-16, ptime, local->dir, a=rtcp-mux or a=rtcp. */
int sdp_offer(const struct sdp_local *local, char *buf, size_t buflen);

/* The first PCMU or PCMA codec in d's order (the codec of an answer to
 * our offer), or NULL. */
const struct sdp_codec *sdp_desc_voice(const struct sdp_desc *d);

/* Names as pinbridge writes them (for logs too): "audio", "RTP/AVP",
 * "t38" (NULL for an unknown token), "sendonly", "PCMU" (NULL for OTHER). */
const char *sdp_media_name(enum sdp_media_kind kind);
const char *sdp_proto_name(enum sdp_proto_kind kind);
const char *sdp_fmt_token_name(uint8_t token);
const char *sdp_dir_name(enum sdp_dir dir);
const char *sdp_codec_name(enum sdp_codec_kind kind);

/* The first codec of the given kind in d (telephone-event: one with an
 * event pinbridge handles), or NULL. */
const struct sdp_codec *sdp_desc_codec(const struct sdp_desc *d, enum sdp_codec_kind kind);

/* --- SDES (RFC 4568): a=crypto values --------------------------------------
 * Only what pinbridge can key libsrtp2 with: AES_CM_128_HMAC_SHA1_80 and _32,
 * one inline key (no MKI), an optional lifetime, no session parameters but
 * WSH. The key is a secret: never logged, never echoed in an error string;
 * wipe struct sdp_crypto with explicit_bzero when done with it. */
#define SDP_CRYPTO_KEY_LEN  30 /* master key (16) then master salt (14) */
#define SDP_CRYPTO_LINE_MAX 96 /* "a=crypto:<9-digit tag> <suite> inline:<40>" fits */

enum sdp_crypto_suite {
	SDP_CRYPTO_NONE = 0,
	SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80,
	SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32,
};

struct sdp_crypto {
	uint32_t tag; /* 0..999999999, echoed in the answer */
	enum sdp_crypto_suite suite;
	uint8_t key[SDP_CRYPTO_KEY_LEN];
};

/* "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", or NULL. */
const char *sdp_crypto_suite_name(enum sdp_crypto_suite suite);

/* Parse one a=crypto value (what follows "a=crypto:", as kept in
 * sdp_desc.crypto). 0; EINVAL when it breaks RFC 4568's grammar (bad tag,
 * bad base64, a key that is not 30 bytes); ENOTSUP when it is well formed
 * but not something we can do (unknown suite, MKI, several keys, a session
 * parameter other than WSH). err gets the reason, without key material. */
int sdp_crypto_parse(const char *value, struct sdp_crypto *out, char *err, size_t errlen);

/* The crypto attribute to answer an RTP/SAVP offer with: the first of the
 * offer's a=crypto lines that parses (RFC 4568 §7.1.1: the offerer's
 * preference order). *peer gets its tag, suite and the peer's key; the
 * answer carries the same tag and suite with a fresh key of ours. 0, or
 * ENOTSUP (answer 488) with err naming why the first line was refused. */
int sdp_crypto_choose(const struct sdp_desc *offer, struct sdp_crypto *peer, char *err,
                      size_t errlen);

/* The peer's key in an answer to our offer of n crypto lines: the answer's
 * first a=crypto whose tag is one we offered, with that line's suite.
 * 0 with *peer and *which (index in offered) set; ENOENT when the answer
 * has no a=crypto line at all (a plain answer); ENOTSUP when it has some
 * but none answers ours (unknown tag, another suite, unparsable), err
 * naming why, without key material. */
int sdp_crypto_match(const struct sdp_desc *answer, const struct sdp_crypto *offered, size_t n,
                     struct sdp_crypto *peer, size_t *which, char *err, size_t errlen);

/* Render "a=crypto:<tag> <suite> inline:<base64 key>" (no CRLF) into buf.
 * 0, EINVAL (unknown suite or tag above 999999999), ENOSPC (buflen below
 * SDP_CRYPTO_LINE_MAX may be too small). */
int sdp_crypto_format(const struct sdp_crypto *c, char *buf, size_t buflen);

/* Base64 (RFC 4648, standard alphabet, '=' padding). Encode writes a NUL
 * terminated string: 0 or ENOSPC (need 4 * ceil(n / 3) + 1). Decode is
 * strict: only the alphabet, length a multiple of 4, padding only at the
 * end, unused bits zero; no blanks. 0 with *outlen set, EINVAL, or ENOSPC
 * when the data exceeds outcap. */
int sdp_base64_encode(const uint8_t *in, size_t n, char *out, size_t outcap);
int sdp_base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen);

#endif
