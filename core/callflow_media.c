/* callflow_media: offer/answer on a leg after its first (DESIGN §3 "Offer/
 * answer per leg"): a re-INVITE or UPDATE from the caller or the callee is
 * answered here on that leg's own SDP, and the media follows (hold, resume,
 * a new address re-latches); the other leg hears nothing of it. And the
 * late offers: our offer in the caller's 200, or sip/'s in its answer to a
 * re-INVITE without SDP, answered in the ACK. SIP thread. */
#include "core/callflow_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"

static const char *const party[] = {"caller", "callee"};

/* A parsed offer and the answer we made to it, in one allocation. */
struct offer_answer {
	struct sdp_desc offer, chosen;
};

static struct media_leg_cfg *leg_cfg(struct cf_call *c, unsigned leg)
{
	return leg ? &c->leg_out : &c->leg_in;
}

static enum sdp_codec_kind codec_kind(enum media_codec codec)
{
	return codec == MEDIA_PCMU ? SDP_CODEC_PCMU : SDP_CODEC_PCMA;
}

/* The call and leg (0 caller, 1 callee) a SIP handle names, when that leg
 * has had its first offer/answer: the caller's is done unless its late
 * answer is still awaited; the callee's once its SDP came, in a 200 or in
 * an early 18x (an UPDATE in the early dialog, RFC 3311). NULL else. */
static struct cf_call *call_of(struct callflow *cf, sip_call_t h, unsigned *leg)
{
	struct cf_call *c = cf_find_in(cf, h);

	*leg = 0;
	if (c)
		return c->media && !c->late_offer && c->local_in.port ? c : NULL;
	c = cf_find_leg(cf, h);
	*leg = 1;
	return c && c->media && (c->state == CF_BRIDGED || c->early_out) ? c : NULL;
}

/* What the peer that sent d does, in MEDIA_PEER_* bits: a peer that
 * receives nothing (sendonly, inactive, or the RFC 2543 c=0.0.0.0) holds
 * the call; one that sends nothing (recvonly) is silent by choice. */
static unsigned peer_dir(const struct sdp_desc *d)
{
	unsigned dir = 0;

	if (d->dir & SDP_DIR_SENDONLY)
		dir |= MEDIA_PEER_SENDS;
	if ((d->dir & SDP_DIR_RECVONLY) && strcmp(d->addr, "0.0.0.0") != 0)
		dir |= MEDIA_PEER_RECEIVES;
	return dir;
}

static void leg_direction(struct cf_call *c, unsigned leg, unsigned dir)
{
	unsigned off = MEDIA_PEER_SENDRECV & ~dir;

	if (c->off[leg] == off)
		return;
	c->off[leg] = (unsigned char)off;
	if (media_session_direction(c->media, leg, dir) != 0)
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "direction of the %s not applied",
		        party[leg]);
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s %s", party[leg],
	        !off                        ? "resumed the call"
	        : off & MEDIA_PEER_RECEIVES ? "put the call on hold"
	                                    : "sends no media (recvonly)");
}

static bool same_media(const struct media_leg_cfg *a, const struct media_leg_cfg *b)
{
	return a->srtp == b->srtp && a->remote.sin_addr.s_addr == b->remote.sin_addr.s_addr &&
	       a->remote.sin_port == b->remote.sin_port && a->codec == b->codec &&
	       a->codec_pt == b->codec_pt && a->te_pt == b->te_pt && a->ptime_ms == b->ptime_ms;
}

static struct sdp_local *leg_local(struct cf_call *c, unsigned leg)
{
	return leg ? &c->local_out : &c->local_in;
}

/* Our answer on leg's own SDP: same session, address and port, the next
 * version, and the codec the leg has if the offer keeps it, else the other
 * G.711: the relay transcodes between the legs, so the other leg never
 * needs a re-INVITE. An offer with neither is refused (ENOTSUP: 488).
 * Nothing is kept until answer_sent(). */
static int answer_offer(struct cf_call *c, unsigned leg, struct offer_answer *oa, char *buf,
                        char *err, size_t errlen)
{
	enum sdp_codec_kind codec = codec_kind(leg_cfg(c, leg)->codec);
	enum sdp_codec_kind other = codec == SDP_CODEC_PCMU ? SDP_CODEC_PCMA : SDP_CODEC_PCMU;
	struct sdp_local l = *leg_local(c, leg);
	int rc;

	if (!sdp_desc_codec(&oa->offer, codec) && !sdp_desc_codec(&oa->offer, other))
		return ENOTSUP;
	rc = cf_srtp_answer(c, leg, &oa->offer, &l, err, errlen);
	if (rc)
		return rc;
	memset(l.prefer, 0, sizeof(l.prefer));
	l.prefer[0] = codec;
	l.prefer[1] = other;
	l.session_version++;
	return sdp_answer(&oa->offer, &l, &oa->chosen, buf, SDP_TEXT_MAX);
}

static void answer_sent(struct cf_call *c, unsigned leg, const char *buf)
{
	leg_local(c, leg)->session_version++;
	if (leg == 0) /* a 200 still to come must not carry an older version */
		snprintf(c->answer_in, sizeof(c->answer_in), "%s", buf);
}

/* A new address, port, codec or payload type re-latches the leg; an SDP that
 * changes none (a refresh, a hold) leaves latching alone. */
static int follow_address(struct cf_call *c, unsigned leg, const struct offer_answer *oa)
{
	const struct sdp_codec *te = sdp_desc_codec(&oa->chosen, SDP_CODEC_TELEPHONE_EVENT);
	struct media_leg_cfg cfg;
	int rc;

	if (strcmp(oa->offer.addr, "0.0.0.0") == 0) {
		cfg = *leg_cfg(c, leg); /* the address it had stays, for the resume */
	} else {
		rc = cf_leg_cfg(c->trunk, &oa->offer, sdp_desc_voice(&oa->chosen), &cfg);
		if (rc)
			return rc;
		cfg.te_pt = te ? te->pt : -1;
	}
	cfg.srtp = cf_srtp_next(c, leg); /* new keys are a new config too */
	if (same_media(&cfg, leg_cfg(c, leg)))
		return 0;
	rc = media_session_set_leg(c->media, leg, &cfg);
	if (rc)
		return rc;
	*leg_cfg(c, leg) = cfg;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s's media now %s:%u %s", party[leg],
	        oa->offer.addr, (unsigned)oa->offer.port, sdp_codec_name(codec_kind(cfg.codec)));
	return 0;
}

/* The media follows the peer's SDP: its address, then hold or resume (a
 * resumed leg is sent to its new address from the first packet). */
static int follow(struct cf_call *c, unsigned leg, const struct offer_answer *oa)
{
	int rc = follow_address(c, leg, oa);

	if (!rc)
		leg_direction(c, leg, peer_dir(&oa->offer));
	return rc;
}

char *cf_reoffer(void *arg, sip_call_t call, const char *sdp, size_t len)
{
	struct callflow *cf = arg;
	struct offer_answer *oa;
	char buf[SDP_TEXT_MAX], err[128] = "";
	unsigned leg;
	struct cf_call *c = call_of(cf, call, &leg);
	int rc;

	if (!c)
		return NULL; /* no first answer on that leg yet: 488 */
	oa = malloc(sizeof(*oa));
	if (!oa)
		return NULL;
	rc = sdp_parse_desc(sdp, len, &oa->offer, err, sizeof(err));
	if (!rc && oa->offer.ipv6) {
		snprintf(err, sizeof(err), "IPv6 media");
		rc = ENOTSUP;
	}
	if (!rc && (rc = answer_offer(c, leg, oa, buf, err, sizeof(err))) == ENOTSUP && !err[0])
		snprintf(err, sizeof(err), "neither PCMU nor PCMA is offered");
	if (!rc)
		rc = follow(c, leg, oa);
	cf_srtp_settle(c, leg, rc == 0);
	free(oa);
	if (rc) {
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s's new offer refused: %s", party[leg],
		        err[0] ? err : strerror(rc));
		return NULL;
	}
	answer_sent(c, leg, buf);
	return strdup(buf);
}

/* --- the late offer ---------------------------------------------------------- */

/* A leg whose address is not known yet (port 0: nothing is sent to it),
 * PCMU until its answer says otherwise, latching as its trunk wants. */
static int unknown_leg(struct cf_call *c, struct media_leg_cfg *cfg)
{
	struct sdp_desc *d = calloc(1, sizeof(*d));
	const struct sdp_codec pcmu = {.pt = 0, .kind = SDP_CODEC_PCMU, .rate = 8000};
	int rc;

	if (!d)
		return ENOMEM;
	snprintf(d->addr, sizeof(d->addr), "0.0.0.0");
	rc = cf_leg_cfg(c->trunk, d, &pcmu, cfg);
	cfg->te_pt = 101;
	free(d);
	return rc;
}

int cf_media_begin_late(struct cf_call *c, int *status)
{
	struct callflow *cf = c->cf;
	int rc = unknown_leg(c, &c->leg_in);

	*status = 500;
	if (!rc)
		rc = media_session_new(cf->media, &c->leg_in, &c->leg_in, &c->media);
	if (rc) {
		*status = rc == ENOSPC ? 503 : 500;
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "no media session: %s", strerror(rc));
		return rc;
	}
	c->late_offer = true;
	c->local_in = (struct sdp_local){.addr = cf->media_addr,
	                                 .port = media_session_local_port(c->media, 0),
	                                 .session_id = cf_session_id(),
	                                 .dir = SDP_DIR_SENDRECV};
	return 0;
}

void cf_ring_caller(struct cf_call *c)
{
	/* SDP in a late offer's 180 would be our offer, its answer due in a
	 * PRACK: the caller rings without media until the 200. */
	if (c->late_offer)
		sip_respond(c->cf->sip, c->in, 180, NULL);
	else
		sip_answer(c->cf->sip, c->in, 180, c->answer_in);
}

int cf_answer_caller(struct cf_call *c)
{
	struct sdp_local *l = &c->local_in;
	int rc;

	if (c->late_offer) {
		/* The callee's codec first: no transcoding if the caller has it. */
		memset(l->prefer, 0, sizeof(l->prefer));
		if (c->leg_out.remote.sin_family == AF_INET) {
			l->prefer[0] = codec_kind(c->leg_out.codec);
			l->prefer[1] =
			    c->leg_out.codec == MEDIA_PCMU ? SDP_CODEC_PCMA : SDP_CODEC_PCMU;
		}
		rc = cf_srtp_offer(c, 0, l, c->answer_in, sizeof(c->answer_in));
		if (!rc)
			rc = sdp_offer(l, c->answer_in, sizeof(c->answer_in));
		if (rc) {
			log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "no offer for the caller: %s",
			        strerror(rc));
			return rc;
		}
	}
	return sip_answer(c->cf->sip, c->in, 200, c->answer_in);
}

/* The caller's answer fixes leg 0: address, codec, telephone-event. */
static int late_answer(struct cf_call *c, const char *sdp, size_t len, char *err, size_t errlen)
{
	struct sdp_desc *d;
	struct media_leg_cfg cfg;
	const struct sdp_codec *te;
	int rc;

	if (!sdp) {
		snprintf(err, errlen, "the ACK has no SDP");
		return EINVAL;
	}
	d = malloc(sizeof(*d));
	if (!d)
		return ENOMEM;
	rc = sdp_parse_desc(sdp, len, d, err, errlen);
	if (!rc && d->ipv6) {
		snprintf(err, errlen, "IPv6 media");
		rc = ENOTSUP;
	}
	if (!rc)
		rc = cf_srtp_answered(c, 0, d, err, errlen);
	if (!rc && (rc = cf_leg_cfg(c->trunk, d, sdp_desc_voice(d), &cfg)) != 0)
		snprintf(err, errlen, "no PCMU or PCMA on IPv4");
	if (!rc) {
		te = sdp_desc_codec(d, SDP_CODEC_TELEPHONE_EVENT);
		cfg.te_pt = te ? te->pt : -1;
		cfg.srtp = cf_srtp_next(c, 0);
		rc = media_session_set_leg(c->media, 0, &cfg);
	}
	cf_srtp_settle(c, 0, rc == 0);
	if (!rc) {
		c->leg_in = cfg;
		leg_direction(c, 0, peer_dir(d));
	}
	free(d);
	return rc;
}

/* The answer in the ACK of a re-INVITE without SDP, to the SDP we last
 * sent on that leg: the media follows it as it would an offer. Without
 * one, or with one we cannot use, the session goes on as it was. */
static void ack_reanswer(struct callflow *cf, sip_call_t call, const char *sdp, size_t len)
{
	struct offer_answer *oa;
	char err[128] = "";
	unsigned leg;
	struct cf_call *c = call_of(cf, call, &leg);
	int rc;

	if (!c || !sdp || !(oa = malloc(sizeof(*oa))))
		return;
	rc = sdp_parse_desc(sdp, len, &oa->offer, err, sizeof(err));
	if (!rc && ((oa->offer.srtp && !cf_srtp_on(c, leg)) || oa->offer.ipv6))
		rc = ENOTSUP;
	if (!rc) {
		oa->chosen = oa->offer;
		rc = follow(c, leg, oa);
	}
	free(oa);
	if (rc)
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s's answer in its ACK ignored: %s",
		        party[leg], err[0] ? err : strerror(rc));
}

void cf_ack_answer(void *arg, sip_call_t call, const char *sdp, size_t len)
{
	struct cf_call *c = cf_find_in(arg, call);
	char err[128] = "";
	bool bridged;

	if (!c || !c->late_offer) {
		ack_reanswer(arg, call, sdp, len);
		return;
	}
	c->late_offer = false;
	if (late_answer(c, sdp, len, err, sizeof(err)) == 0) {
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller's answer came with its ACK");
		if (c->state == CF_PIN)
			cf_pin_greet(c); /* now that the prompt has somewhere to go */
		return;
	}
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller's answer refused (%s): hanging up",
	        err[0] ? err : "unusable");
	bridged = c->state == CF_BRIDGED;
	cf_end(c, bridged ? STORE_CT_COMPLETED : STORE_CT_CALL_ATTEMPT, 0,
	       bridged ? CF_OUT_COMPLETED : CF_OUT_CALL_ATTEMPT);
}
