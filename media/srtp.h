/* srtp: SRTP/SRTCP (RFC 3711) for one call leg with libsrtp2, keyed by SDES
 * (RFC 4568): AES_CM_128_HMAC_SHA1_80 and _32, in place on the caller's
 * buffer.
 *
 * Memory: nothing here allocates per packet, and nothing is kept per packet.
 * libsrtp keeps one stream per SSRC, set up (allocated) on the first packet
 * that protects or authenticates under it; a forgery sets up nothing. But
 * Debian's libsrtp2 2.5 runs on NSS, which makes and frees its cipher and
 * HMAC contexts on every packet (14 allocations per call, counted by
 * test_srtp): DESIGN §1's "no allocation per packet" does not hold inside
 * it.
 *
 * Threads: a state is made and freed by its owner (the SIP thread) off the
 * hot path; in between, only the one worker that handles the leg's packets
 * calls protect/unprotect on it and reads its counters (plain integers: the
 * engine adds them to its atomic counters, as it does for its own). */
#ifndef PB_MEDIA_SRTP_H
#define PB_MEDIA_SRTP_H

#include <stddef.h>
#include <stdint.h>

#define MEDIA_SRTP_KEY_LEN 30 /* master key (16) then master salt (14) */
/* Most bytes a protect adds: 10-byte tag for RTP; E flag and SRTCP index
 * (4) plus 10-byte tag for RTCP, whatever the suite (RFC 4568 §6.2). */
#define MEDIA_SRTP_RTP_TRAILER_MAX  10
#define MEDIA_SRTP_RTCP_TRAILER_MAX 14

enum media_srtp_suite {
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 = 1, /* 80-bit RTP tag */
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,     /* 32-bit RTP tag, SRTCP still 80 */
};

/* One direction's keying: a suite and its master key and salt. A secret:
 * never logged; wipe copies with media_srtp_key_wipe() when done. */
struct media_srtp_key {
	enum media_srtp_suite suite;
	uint8_t key[MEDIA_SRTP_KEY_LEN];
};

/* Counters of one state; see the thread note above. */
struct media_srtp_stats {
	uint64_t rtp_protected, rtcp_protected;
	uint64_t rtp_unprotected, rtcp_unprotected; /* authenticated and decrypted */
	uint64_t auth_failed; /* EACCES: forged, corrupted, or under another key */
	uint64_t replayed;    /* EALREADY: seen already, or older than the window */
	uint64_t malformed;   /* EBADMSG: not RTP/RTCP, or too short for header + tag */
	uint64_t failed;      /* anything else: ENOSPC, EKEYEXPIRED, EIO */
};

struct media_srtp;

/* libsrtp2's one-time set-up; any thread, any number of times (the first
 * call does the work). media_srtp_new() calls it too; call it at start-up to
 * fail early. 0 or EIO. */
int media_srtp_init(void);

/* "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", or NULL. */
const char *media_srtp_suite_name(enum media_srtp_suite suite);

/* A fresh key and salt from the CSPRNG (core/base/rand.h). */
void media_srtp_key_generate(struct media_srtp_key *k, enum media_srtp_suite suite);
/* Zero k in a way the compiler keeps (explicit_bzero). */
void media_srtp_key_wipe(struct media_srtp_key *k);

/* A leg's state: in is the peer's key (we unprotect what it sends), out is
 * ours (we protect what we send it; it went into our a=crypto). The keys
 * are not kept: libsrtp derives its session keys from them. 0 with *sp
 * set, EINVAL (unknown suite, in and out the same key), ENOMEM, or EIO. */
int media_srtp_new(struct media_srtp **sp, const struct media_srtp_key *in,
                   const struct media_srtp_key *out);
/* Frees libsrtp's contexts; NULL is fine. */
void media_srtp_free(struct media_srtp *s);

/* Protect an RTP (RTCP) packet of *len bytes in buf, in place: *len grows by
 * the trailer (media_srtp_rtp_trailer(), or the RTCP one), which must fit
 * in cap. 0; EBADMSG: not an RTP (RTCP) packet, ENOSPC: cap too small,
 * EALREADY: a sequence number protected already, EKEYEXPIRED: the key's
 * packet limit is reached, EIO: any other libsrtp error. On an error buf
 * must not be sent. */
int media_srtp_protect_rtp(struct media_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int media_srtp_protect_rtcp(struct media_srtp *s, uint8_t *buf, size_t *len, size_t cap);

/* Check and decrypt an SRTP (SRTCP) packet in place; on 0 *len is the
 * plain packet's length. EBADMSG: not RTP (RTCP) or shorter than header
 * and trailer; EACCES: authentication failed; EALREADY: replayed or older
 * than the replay window; EKEYEXPIRED, EIO as above. On any error the
 * packet must be dropped (the buffer may be half decrypted); each error is
 * counted in the state. */
int media_srtp_unprotect_rtp(struct media_srtp *s, uint8_t *buf, size_t *len);
int media_srtp_unprotect_rtcp(struct media_srtp *s, uint8_t *buf, size_t *len);

/* Bytes protect adds to an RTP packet (10 or 4) and to an RTCP one (14). */
size_t media_srtp_rtp_trailer(const struct media_srtp *s);
size_t media_srtp_rtcp_trailer(const struct media_srtp *s);

void media_srtp_get_stats(const struct media_srtp *s, struct media_srtp_stats *st);

#endif
