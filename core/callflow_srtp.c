/* callflow_srtp: SDES-SRTP per leg. Each leg follows its own trunk's policy
 * (the caller's: the trunk its INVITE came from; the callee's: the tenant's
 * trunk) on its own transport: keys go only over TLS unless the trunk allows
 * a plain one. Our keys are fresh from the CSPRNG for every offer or new
 * answer (so per call, leg and direction); the peer's come from its SDP.
 * The libsrtp state a media leg uses is made here, handed to the media
 * session in the leg's config, and freed only once the session has let go
 * of it. Keys are never logged. SIP thread. */
#include "core/callflow_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/rand.h"
#include "media/srtp.h"

enum want {
	WANT_NO,     /* plain RTP; an RTP/SAVP offer is refused */
	WANT_MAY,    /* SRTP when the peer does it */
	WANT_MUST,   /* SRTP or nothing */
	WANT_CANNOT, /* mandatory, but keys may not cross this transport */
};

static enum want want(const struct cf_call *c, unsigned leg)
{
	const struct trunk *tr = leg ? c->trunk : c->trunk_in;
	bool secure = leg ? c->secure_out : c->secure_in;

	if (!tr || tr->srtp == TRUNK_SRTP_OFF)
		return WANT_NO;
	if (!secure && !tr->srtp_plain_transport)
		return tr->srtp == TRUNK_SRTP_MANDATORY ? WANT_CANNOT : WANT_NO;
	return tr->srtp == TRUNK_SRTP_MANDATORY ? WANT_MUST : WANT_MAY;
}

static enum media_srtp_suite media_suite(enum sdp_crypto_suite s)
{
	return s == SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32 ? MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32
	                                               : MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
}

static void fresh(struct sdp_crypto *k, uint32_t tag, enum sdp_crypto_suite suite)
{
	k->tag = tag;
	k->suite = suite;
	rand_bytes(k->key, sizeof(k->key));
}

/* A libsrtp state for peer's key in and ours out; NULL on failure. */
static struct media_srtp *state_new(const struct cf_call *c, const struct sdp_crypto *peer,
                                    const struct sdp_crypto *ours)
{
	struct media_srtp_key in = {.suite = media_suite(peer->suite)};
	struct media_srtp_key out = {.suite = media_suite(ours->suite)};
	struct media_srtp *s = NULL;
	int rc;

	memcpy(in.key, peer->key, sizeof(in.key));
	memcpy(out.key, ours->key, sizeof(out.key));
	rc = media_srtp_new(&s, &in, &out);
	media_srtp_key_wipe(&in);
	media_srtp_key_wipe(&out);
	if (rc) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "no SRTP state: %s", strerror(rc));
		return NULL;
	}
	return s;
}

/* Decided for leg: next (NULL: plain) with the peer's key and our line. */
static void decide(struct cf_srtp_leg *s, struct media_srtp *next, const struct sdp_crypto *peer,
                   const struct sdp_crypto *ours)
{
	if (s->have_next && s->next != s->cur)
		media_srtp_free(s->next);
	s->next = next;
	s->have_next = true;
	if (next) {
		s->next_peer = *peer;
		s->next_ours = *ours;
	}
}

static bool same_keys(const struct cf_srtp_leg *s, const struct sdp_crypto *peer,
                      const struct sdp_crypto *ours)
{
	return s->cur && s->peer.suite == peer->suite && s->ours.suite == ours->suite &&
	       memcmp(s->peer.key, peer->key, sizeof(peer->key)) == 0 &&
	       memcmp(s->ours.key, ours->key, sizeof(ours->key)) == 0;
}

int cf_srtp_answer(struct cf_call *c, unsigned leg, const struct sdp_desc *offer,
                   struct sdp_local *l, char *err, size_t errlen)
{
	struct cf_srtp_leg *s = &c->srtp[leg];
	enum want w = want(c, leg);
	struct sdp_crypto peer, ours;
	struct media_srtp *next;
	char why[128];

	l->crypto = NULL;
	l->ncrypto = 0;
	l->savp = false;
	if (w == WANT_CANNOT) {
		snprintf(err, errlen,
		         "trunk wants SRTP, but SDES keys may not cross a plain "
		         "transport (srtp_plain_transport)");
		return ENOTSUP;
	}
	if (w == WANT_NO || sdp_crypto_choose(offer, &peer, why, sizeof(why)) != 0) {
		if (offer->srtp || w == WANT_MUST) {
			snprintf(err, errlen, "%s",
			         w == WANT_NO ? "RTP/SAVP offered, but SRTP is off for this trunk"
			         : offer->ncrypto
			             ? why
			             : "plain RTP offered, but the trunk requires SRTP");
			return ENOTSUP;
		}
		decide(s, NULL, NULL, NULL);
		return 0;
	}
	/* The same key again (a refresh, a hold): the streams go on under the
	 * state they have. A new one: a new key of ours too, as a new state
	 * starts its packet index over. */
	ours = s->ours;
	ours.tag = peer.tag;
	if (same_keys(s, &peer, &ours)) {
		next = s->cur;
	} else {
		fresh(&ours, peer.tag, peer.suite);
		next = state_new(c, &peer, &ours);
		if (!next) {
			snprintf(err, errlen, "no SRTP state");
			explicit_bzero(&peer, sizeof(peer));
			return ENOMEM;
		}
	}
	decide(s, next, &peer, &ours);
	explicit_bzero(&peer, sizeof(peer));
	l->crypto = &s->next_ours;
	l->ncrypto = 1;
	return 0;
}

int cf_srtp_offer(struct cf_call *c, unsigned leg, struct sdp_local *l, char *err, size_t errlen)
{
	struct cf_srtp_leg *s = &c->srtp[leg];
	enum want w = want(c, leg);

	l->crypto = NULL;
	l->ncrypto = 0;
	l->savp = false;
	s->noffered = 0;
	if (w == WANT_CANNOT) {
		snprintf(err, errlen,
		         "trunk requires SRTP, but SDES keys may not cross a plain "
		         "transport (srtp_plain_transport)");
		return ENOTSUP;
	}
	if (w == WANT_NO)
		return 0;
	fresh(&s->offered[0], 1, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80);
	fresh(&s->offered[1], 2, SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32);
	s->noffered = 2;
	l->crypto = s->offered;
	l->ncrypto = s->noffered;
	l->savp = w == WANT_MUST;
	return 0;
}

int cf_srtp_answered(struct cf_call *c, unsigned leg, const struct sdp_desc *answer, char *err,
                     size_t errlen)
{
	struct cf_srtp_leg *s = &c->srtp[leg];
	struct sdp_crypto peer;
	struct media_srtp *next;
	size_t which = 0;
	int rc;

	if (!s->noffered) {
		if (answer->srtp) {
			snprintf(err, errlen, "RTP/SAVP answer to a plain offer");
			return ENOTSUP;
		}
		decide(s, NULL, NULL, NULL);
		return 0;
	}
	rc = sdp_crypto_match(answer, s->offered, s->noffered, &peer, &which, err, errlen);
	if (rc == ENOENT && !answer->srtp && want(c, leg) != WANT_MUST) {
		decide(s, NULL, NULL, NULL); /* best effort met a plain peer */
		return 0;
	}
	if (rc)
		return ENOTSUP;
	next = same_keys(s, &peer, &s->offered[which]) ? s->cur
	                                               : state_new(c, &peer, &s->offered[which]);
	if (!next) {
		explicit_bzero(&peer, sizeof(peer));
		snprintf(err, errlen, "no SRTP state");
		return ENOMEM;
	}
	decide(s, next, &peer, &s->offered[which]);
	explicit_bzero(&peer, sizeof(peer));
	return 0;
}

struct media_srtp *cf_srtp_next(const struct cf_call *c, unsigned leg)
{
	const struct cf_srtp_leg *s = &c->srtp[leg];

	return s->have_next ? s->next : s->cur;
}

void cf_srtp_settle(struct cf_call *c, unsigned leg, bool applied)
{
	struct cf_srtp_leg *s = &c->srtp[leg];

	if (!s->have_next)
		return;
	s->have_next = false;
	if (!applied) {
		if (s->next != s->cur)
			media_srtp_free(s->next);
		s->next = NULL;
		return;
	}
	if (s->next != s->cur) {
		media_srtp_free(s->cur); /* the media leg let go of it */
		if (s->next)
			log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s's media is SRTP (%s)",
			        leg ? "callee" : "caller",
			        sdp_crypto_suite_name(s->next_peer.suite));
		else if (s->cur)
			log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s's media is plain RTP now",
			        leg ? "callee" : "caller");
	}
	s->cur = s->next;
	s->next = NULL;
	s->peer = s->next_peer;
	s->ours = s->next_ours;
	explicit_bzero(&s->next_peer, sizeof(s->next_peer));
}

bool cf_srtp_on(const struct cf_call *c, unsigned leg)
{
	return c->srtp[leg].cur != NULL;
}

void cf_srtp_free(struct cf_call *c)
{
	for (unsigned leg = 0; leg < 2; leg++) {
		struct cf_srtp_leg *s = &c->srtp[leg];

		if (s->have_next && s->next != s->cur)
			media_srtp_free(s->next);
		media_srtp_free(s->cur);
		explicit_bzero(s, sizeof(*s));
	}
}
