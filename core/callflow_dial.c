/* callflow_dial: the sequential hunt of DESIGN §3 "Dialling" and "Response
 * mapping": each number of the side to dial in turn through the tenant's
 * trunk, a ring timeout per number, the whole hunt capped; the first answer
 * is bridged, an exhausted hunt gives the caller 486 or 480. SIP thread. */
#include "core/callflow_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"

void cf_dial_format(const struct trunk *tr, const struct tenant *t, const char *e164, char *out,
                    size_t n)
{
	size_t clen = strlen(t->country);

	if (strcmp(tr->dial_format, "digits") == 0)
		snprintf(out, n, "%s", e164 + (e164[0] == '+'));
	else if (strcmp(tr->dial_format, "national") == 0 && e164[0] == '+' &&
	         strncmp(e164 + 1, t->country, clen) == 0)
		snprintf(out, n, "0%s", e164 + 1 + clen);
	else
		snprintf(out, n, "%s", e164);
}

int cf_leg_cfg(const struct trunk *tr, const struct sdp_desc *d, const struct sdp_codec *voice,
               struct media_leg_cfg *out)
{
	*out = (struct media_leg_cfg){.te_pt = -1};
	if (!voice || d->ipv6 || (voice->kind != SDP_CODEC_PCMU && voice->kind != SDP_CODEC_PCMA))
		return EINVAL;
	out->remote.sin_family = AF_INET;
	if (inet_pton(AF_INET, d->addr, &out->remote.sin_addr) != 1)
		return EINVAL;
	out->remote.sin_port = htons(d->port);
	out->codec = voice->kind == SDP_CODEC_PCMU ? MEDIA_PCMU : MEDIA_PCMA;
	out->codec_pt = voice->pt;
	out->ptime_ms = d->ptime;
	out->latch =
	    tr && strcmp(tr->latch, "strict") == 0 ? MEDIA_LATCH_STRICT : MEDIA_LATCH_LEARN;
	for (size_t i = 0; tr && i < tr->nallow && out->n_cidrs < MEDIA_CIDR_MAX; i++) {
		const struct cidr *c = &tr->allow[i];
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(c->addr, v4mapped, 12) != 0 || c->prefix < 96)
			continue;
		memcpy(&out->cidrs[out->n_cidrs].net, c->addr + 12, 4);
		out->cidrs[out->n_cidrs++].prefix = (uint8_t)(c->prefix - 96);
	}
	return 0;
}

/* The callee's SDP (183 or 200) fixes leg 1 of the media session. */
static int apply_answer(struct cf_call *c, const char *sdp, size_t len)
{
	struct sdp_desc *d = malloc(sizeof(*d));
	struct media_leg_cfg cfg;
	char err[128];
	int rc;

	if (!d)
		return ENOMEM;
	rc = sdp_parse_desc(sdp, len, d, err, sizeof(err));
	if (!rc)
		rc = cf_srtp_answered(c, 1, d, err, sizeof(err));
	if (rc)
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "callee's SDP refused: %s", err);
	if (!rc)
		rc = cf_leg_cfg(c->trunk, d, sdp_desc_voice(d), &cfg);
	if (!rc) {
		const struct sdp_codec *te = sdp_desc_codec(d, SDP_CODEC_TELEPHONE_EVENT);

		cfg.te_pt = te ? te->pt : -1;
		cfg.srtp = cf_srtp_next(c, 1);
		rc = media_session_set_leg(c->media, 1, &cfg);
	}
	cf_srtp_settle(c, 1, rc == 0);
	if (!rc) {
		c->leg_out = cfg; /* re-offers keep to it (callflow_media.c) */
		c->early_out = true;
	}
	free(d);
	return rc;
}

static void ring_expired(void *arg);

static int dial_one(struct cf_call *c, const char *number)
{
	struct callflow *cf = c->cf;
	const struct trunk *tr = c->trunk;
	char to[24], offer[SDP_TEXT_MAX];
	struct sip_dial d;
	sip_call_t leg;
	int rc;

	c->early_out = false; /* a new leg: its own SDP to come */
	c->local_out = (struct sdp_local){
	    .addr = cf->media_addr,
	    .port = media_session_local_port(c->media, 1),
	    .session_id = cf_session_id(),
	    .dir = SDP_DIR_SENDRECV,
	};
	/* The caller's codec first: no transcoding when the callee has it. */
	c->local_out.prefer[0] = c->leg_in.codec == MEDIA_PCMU ? SDP_CODEC_PCMU : SDP_CODEC_PCMA;
	c->local_out.prefer[1] = c->leg_in.codec == MEDIA_PCMU ? SDP_CODEC_PCMA : SDP_CODEC_PCMU;
	rc = cf_srtp_offer(c, 1, &c->local_out, offer, sizeof(offer));
	if (rc) {
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "cannot dial: %s", offer);
		return rc;
	}
	rc = sdp_offer(&c->local_out, offer, sizeof(offer));
	if (rc)
		return rc;
	cf_dial_format(tr, c->t, number, to, sizeof(to));
	d = (struct sip_dial){
	    .proxy = tr->outbound,
	    .to_user = to,
	    .from_user = c->rd.present,
	    .sdp = offer,
	    .username = tr->username[0] ? tr->username : NULL,
	    .password = tr->password[0] ? tr->password : NULL,
	    .realm = tr->realm[0] ? tr->realm : NULL,
	    .log_id = c->rec.call_sid,
	};
	rc = sip_dial(cf->sip, &d, &leg);
	if (rc) {
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "cannot dial %s: %s", to, strerror(rc));
		return rc;
	}
	cf_set_out(c, leg);
	snprintf(c->rec.to, sizeof(c->rec.to), "%s", number);
	atomic_fetch_add(&cf->m.hunt_attempts, 1);
	if (!c->setup_counted) {
		c->setup_counted = true;
		cf_metrics_setup(cf, clock_mono_us() - c->t0_us);
	}
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "dialling %s as %s via %s", to, c->rd.present,
	        tr->name);
	if (c->t->ring_timeout_ms > 0)
		c->ring_timer =
		    sip_timer_start(cf->sip, (unsigned)c->t->ring_timeout_ms, ring_expired, c);
	return 0;
}

/* Next number of the hunt; 0 when one is ringing, ENOENT when none is left. */
static int dial_next(struct cf_call *c)
{
	while (c->next_dial < c->rd.ndial) {
		if (dial_one(c, c->rd.dial[c->next_dial++]) == 0)
			return 0;
		c->rec.dial_status = STORE_DIAL_FAILED;
	}
	return ENOENT;
}

static void exhausted(struct cf_call *c)
{
	int status = c->any_busy ? 486 : 480;

	if (c->answered_in) { /* after a PIN: a short prompt and BYE */
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "hunt over: nobody answered");
		sip_timer_cancel(c->hunt_timer);
		c->hunt_timer = NULL;
		media_session_ringback(c->media, 0, false);
		cf_say_goodbye(c, MEDIA_PROMPT_NOBODY, STORE_CT_INCOMPLETE, CF_OUT_INCOMPLETE);
		return;
	}
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "hunt over: %d to the caller", status);
	cf_end(c, STORE_CT_INCOMPLETE, status, CF_OUT_INCOMPLETE);
}

static void hunt_on(struct cf_call *c)
{
	if (dial_next(c) != 0)
		exhausted(c);
}

static void ring_expired(void *arg)
{
	struct cf_call *c = arg;

	c->ring_timer = NULL;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "no answer from %s", c->rec.to);
	sip_hangup(c->cf->sip, c->out, 0);
	cf_set_out(c, 0);
	c->rec.dial_status = STORE_DIAL_NO_ANSWER;
	hunt_on(c);
}

static void hunt_expired(void *arg)
{
	struct cf_call *c = arg;

	c->hunt_timer = NULL;
	if (c->state != CF_HUNTING)
		return;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "whole hunt took too long");
	if (c->out)
		c->rec.dial_status = STORE_DIAL_NO_ANSWER;
	exhausted(c);
}

int cf_hunt_begin(struct cf_call *c)
{
	if (c->t->max_hunt_ms > 0)
		c->hunt_timer =
		    sip_timer_start(c->cf->sip, (unsigned)c->t->max_hunt_ms, hunt_expired, c);
	return dial_next(c);
}

static void duration_expired(void *arg)
{
	struct cf_call *c = arg;

	c->dur_timer = NULL;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "max_duration reached: hanging up");
	cf_end(c, STORE_CT_COMPLETED, 0, CF_OUT_COMPLETED);
}

static void answered(struct cf_call *c, const struct sip_leg_event *ev)
{
	sip_timer_cancel(c->ring_timer);
	c->ring_timer = NULL;
	if (!ev->sdp || apply_answer(c, ev->sdp, ev->sdp_len) != 0) {
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "%s answered with no usable SDP",
		        c->rec.to);
		sip_hangup(c->cf->sip, c->out, 0);
		cf_set_out(c, 0);
		c->rec.dial_status = STORE_DIAL_FAILED;
		hunt_on(c);
		return;
	}
	sip_timer_cancel(c->hunt_timer);
	c->hunt_timer = NULL;
	cf_pin_prompt_stop(c); /* "please wait" is cut short by the answer */
	media_session_ringback(c->media, 0, false);
	if (!c->answered_in)
		cf_answer_caller(c); /* a late offer's answer comes with the ACK */
	c->state = CF_BRIDGED;
	if (c->t->rtp_timeout_ms > 0)
		media_session_rtp_timeout(c->media, (unsigned)c->t->rtp_timeout_ms);
	if (c->t->max_duration_ms > 0)
		c->dur_timer = sip_timer_start(c->cf->sip, (unsigned)c->t->max_duration_ms,
		                               duration_expired, c);
	c->rec.answered_ms = clock_now_ms();
	c->rec.dial_status = STORE_DIAL_COMPLETED;
	cf_recording_begin(c);
	/* A crash from here on leaves a record that says who answered. */
	cf_rec_write(c, false);
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s answered: bridged", c->rec.to);
}

/* DESIGN §3 response mapping; true when the hunt must stop. */
static bool failed(struct cf_call *c, int status)
{
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "%s: %d", c->rec.to, status);
	if (status == 486 || status == 600) {
		c->any_busy = true;
		c->rec.dial_status = STORE_DIAL_BUSY;
	} else if (status == 408 || status == 480) {
		c->rec.dial_status = STORE_DIAL_NO_ANSWER;
	} else {
		c->rec.dial_status = STORE_DIAL_FAILED;
	}
	return status >= 600 && status != 600;
}

void cf_leg_event(struct callflow *cf, const struct sip_leg_event *ev)
{
	struct cf_call *c = cf_find_leg(cf, ev->leg);

	if (!c)
		return;
	switch (ev->kind) {
	case SIP_LEG_PROGRESS:
		if (ev->sdp && apply_answer(c, ev->sdp, ev->sdp_len) != 0)
			log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "early media ignored");
		break;
	case SIP_LEG_ANSWERED:
		answered(c, ev);
		break;
	case SIP_LEG_FAILED:
		cf_set_out(c, 0);
		sip_timer_cancel(c->ring_timer);
		c->ring_timer = NULL;
		if (failed(c, ev->status))
			exhausted(c);
		else
			hunt_on(c);
		break;
	case SIP_LEG_ENDED:
		cf_set_out(c, 0);
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "callee hung up");
		cf_end(c, STORE_CT_COMPLETED, 0, CF_OUT_COMPLETED);
		break;
	}
}

void cf_rtp_timeout(struct cf_call *c, unsigned leg)
{
	if (c->state != CF_BRIDGED)
		return;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "no RTP from the %s for %lld ms: hanging up",
	        leg == 0 ? "caller" : "callee", (long long)c->t->rtp_timeout_ms);
	cf_end(c, STORE_CT_COMPLETED, 0, CF_OUT_COMPLETED);
}

void cf_caller_gone(struct cf_call *c)
{
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller hung up");
	if (c->state == CF_BRIDGED) {
		cf_end(c, STORE_CT_COMPLETED, 0, CF_OUT_COMPLETED);
		return;
	}
	if (c->state == CF_PIN || c->state == CF_VERIFYING) { /* left the IVR */
		if (c->rec.dial_status == STORE_DIAL_NONE) {
			cf_end(c, STORE_CT_CALL_ATTEMPT, 0, CF_OUT_CALL_ATTEMPT);
			return;
		}
	}
	if (c->out)
		c->rec.dial_status = STORE_DIAL_CANCELED;
	cf_end(c, STORE_CT_CLIENT_HANGUP, 0, CF_OUT_CLIENT_HANGUP);
}
