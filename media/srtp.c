/* srtp: a call leg's SRTP/SRTCP state over libsrtp2: one inbound context
 * (the peer's key) and one outbound context (ours), in-place protect and
 * unprotect with explicit capacity, and libsrtp's errors sorted into the
 * few outcomes the engine counts. */
#include "media/srtp.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nss.h>
#include <srtp2/srtp.h>

#include "core/base/log.h"
#include "core/base/rand.h"

#define RTP_FIXED_LEN   12
#define RTCP_FIXED_LEN  8
#define SRTCP_INDEX_LEN 4
#define TAG_80          10
#define TAG_32          4
/* RFC 3711 §3.3.2 asks for at least 64; reordering on a long path can
 * reach further, and the window costs 16 bytes per 128 packets. */
#define REPLAY_WINDOW 1024

struct media_srtp {
	srtp_t in, out;
	size_t rtp_tag; /* of the outbound suite */
	size_t in_rtp_tag;
	struct media_srtp_stats st;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

/* libsrtp only logs keys at debug level with a debug module switched on,
 * which nothing here does; debug and info are dropped all the same, so no
 * future libsrtp message can put one on our stderr. */
static void srtp_log(srtp_log_level_t level, const char *msg, void *data)
{
	(void)data;
	if (level == srtp_log_level_error)
		log_err("srtp", "libsrtp: %s", msg);
	else if (level == srtp_log_level_warning)
		log_warn("srtp", "libsrtp: %s", msg);
}

static void init_lib(void)
{
	srtp_err_status_t st;

	srtp_install_log_handler(srtp_log, NULL);
	/* Debian's libsrtp2 runs on NSS and would initialise it with
	 * NSS_INIT_OPTIMIZESPACE, under which every per-packet cipher context
	 * costs time in proportion to the keys alive: 5 us a packet with 100
	 * SRTP states, 40 us with 1,000 (tests/bench, concurrency.sh). NSS
	 * keeps the settings of its first initialisation, so ours comes first:
	 * no databases, no space optimisation. Kept for the process's life. */
	if (!NSS_InitContext("", "", "", "", NULL,
	                     NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
	                         NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT))
		log_warn("srtp", "NSS_InitContext failed: libsrtp initialises NSS itself");
	st = srtp_init();
	if (st != srtp_err_status_ok) {
		log_err("srtp", "srtp_init failed: libsrtp status %d", (int)st);
		init_rc = EIO;
	}
}

int media_srtp_init(void)
{
	pthread_once(&init_once, init_lib);
	return init_rc;
}

const char *media_srtp_suite_name(enum media_srtp_suite suite)
{
	switch (suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80";
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		return "AES_CM_128_HMAC_SHA1_32";
	}
	return NULL;
}

void media_srtp_key_generate(struct media_srtp_key *k, enum media_srtp_suite suite)
{
	k->suite = suite;
	rand_bytes(k->key, sizeof(k->key));
}

void media_srtp_key_wipe(struct media_srtp_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

/* RFC 4568 §6.2: SRTCP keeps the 80-bit tag under both suites. */
static int make_ctx(srtp_t *ctx, const struct media_srtp_key *k, srtp_ssrc_type_t dir, size_t *tag)
{
	uint8_t key[MEDIA_SRTP_KEY_LEN];
	srtp_policy_t p;
	srtp_err_status_t st;

	memset(&p, 0, sizeof(p));
	switch (k->suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
		*tag = TAG_80;
		break;
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
		*tag = TAG_32;
		break;
	default:
		return EINVAL;
	}
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
	p.ssrc.type = dir;
	memcpy(key, k->key, sizeof(key)); /* libsrtp wants it non-const */
	p.key = key;
	p.window_size = REPLAY_WINDOW;
	p.allow_repeat_tx = 0; /* a repeated index would reuse keystream */
	st = srtp_create(ctx, &p);
	explicit_bzero(key, sizeof(key));
	if (st == srtp_err_status_ok)
		return 0;
	log_err("srtp", "srtp_create failed: libsrtp status %d", (int)st);
	return st == srtp_err_status_alloc_fail ? ENOMEM : EIO;
}

int media_srtp_new(struct media_srtp **sp, const struct media_srtp_key *in,
                   const struct media_srtp_key *out)
{
	struct media_srtp *s;
	int rc = media_srtp_init();

	if (rc)
		return rc;
	if (!media_srtp_suite_name(in->suite) || !media_srtp_suite_name(out->suite))
		return EINVAL;
	/* A peer echoing our key would make both directions share keystream. */
	if (memcmp(in->key, out->key, MEDIA_SRTP_KEY_LEN) == 0)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	rc = make_ctx(&s->in, in, ssrc_any_inbound, &s->in_rtp_tag);
	if (!rc) {
		rc = make_ctx(&s->out, out, ssrc_any_outbound, &s->rtp_tag);
		if (rc)
			srtp_dealloc(s->in);
	}
	if (rc) {
		free(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void media_srtp_free(struct media_srtp *s)
{
	if (!s)
		return;
	srtp_dealloc(s->in);
	srtp_dealloc(s->out);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

size_t media_srtp_rtp_trailer(const struct media_srtp *s)
{
	return s->rtp_tag;
}

size_t media_srtp_rtcp_trailer(const struct media_srtp *s)
{
	(void)s;
	return SRTCP_INDEX_LEN + TAG_80;
}

/* Length of an RTP header with its CSRCs and extension, or 0 when the
 * first len bytes do not hold one. */
static size_t rtp_header_len(const uint8_t *b, size_t len)
{
	size_t n;

	if (len < RTP_FIXED_LEN || (b[0] >> 6) != 2)
		return 0;
	n = RTP_FIXED_LEN + 4u * (b[0] & 0x0f);
	if (b[0] & 0x10) {
		if (len < n + 4)
			return 0;
		n += 4 + 4u * ((size_t)b[n + 2] << 8 | b[n + 3]);
	}
	return n <= len ? n : 0;
}

static bool rtcp_header_ok(const uint8_t *b, size_t len)
{
	return len >= RTCP_FIXED_LEN && (b[0] >> 6) == 2;
}

/* Sort libsrtp's answer into our errno values and count it. */
static int outcome(struct media_srtp *s, srtp_err_status_t st, uint64_t *ok)
{
	switch (st) {
	case srtp_err_status_ok:
		(*ok)++;
		return 0;
	case srtp_err_status_auth_fail:
		s->st.auth_failed++;
		return EACCES;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		s->st.replayed++;
		return EALREADY;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
		s->st.malformed++;
		return EBADMSG;
	case srtp_err_status_key_expired:
		s->st.failed++;
		return EKEYEXPIRED;
	default:
		s->st.failed++;
		return EIO;
	}
}

static int malformed(struct media_srtp *s)
{
	s->st.malformed++;
	return EBADMSG;
}

static int no_room(struct media_srtp *s)
{
	s->st.failed++;
	return ENOSPC;
}

/* libsrtp takes an int length; MEDIA_PKT_MAX-sized packets are far below. */
#define LEN_MAX 65535

int media_srtp_protect_rtp(struct media_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	int n = (int)*len;
	int rc;

	if (*len > LEN_MAX || rtp_header_len(buf, *len) == 0)
		return malformed(s);
	if (cap < *len + s->rtp_tag)
		return no_room(s);
	rc = outcome(s, srtp_protect(s->out, buf, &n), &s->st.rtp_protected);
	if (!rc)
		*len = (size_t)n;
	return rc;
}

int media_srtp_protect_rtcp(struct media_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	int n = (int)*len;
	int rc;

	if (*len > LEN_MAX || !rtcp_header_ok(buf, *len))
		return malformed(s);
	if (cap < *len + SRTCP_INDEX_LEN + TAG_80)
		return no_room(s);
	rc = outcome(s, srtp_protect_rtcp(s->out, buf, &n), &s->st.rtcp_protected);
	if (!rc)
		*len = (size_t)n;
	return rc;
}

int media_srtp_unprotect_rtp(struct media_srtp *s, uint8_t *buf, size_t *len)
{
	size_t hdr = *len > LEN_MAX ? 0 : rtp_header_len(buf, *len);
	int n = (int)*len;
	int rc;

	/* The header must leave room for the tag: libsrtp would otherwise
	 * read a tag out of the header, or call it an auth failure. */
	if (hdr == 0 || *len < hdr + s->in_rtp_tag)
		return malformed(s);
	rc = outcome(s, srtp_unprotect(s->in, buf, &n), &s->st.rtp_unprotected);
	if (!rc)
		*len = (size_t)n;
	return rc;
}

int media_srtp_unprotect_rtcp(struct media_srtp *s, uint8_t *buf, size_t *len)
{
	int n = (int)*len;
	int rc;

	if (*len > LEN_MAX || !rtcp_header_ok(buf, *len) ||
	    *len < RTCP_FIXED_LEN + SRTCP_INDEX_LEN + TAG_80)
		return malformed(s);
	rc = outcome(s, srtp_unprotect_rtcp(s->in, buf, &n), &s->st.rtcp_unprotected);
	if (!rc)
		*len = (size_t)n;
	return rc;
}

void media_srtp_get_stats(const struct media_srtp *s, struct media_srtp_stats *st)
{
	*st = s->st;
}
