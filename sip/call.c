/* call: nua's events on the SIP thread: inbound INVITEs checked against the
 * trunks and handed to core as struct sip_invite, their responses (a late
 * offer's answer from the ACK), re-INVITEs and UPDATEs answered by core,
 * CANCEL and BYE, INFO (info.c), and the refusals (REFER 403) pinbridge
 * gives to everything else. */
#include "sip/sip_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tag.h>

#include "core/base/log.h"

#define MOD "sip"

struct sip_call *sip_call_find(struct sip *sip, sip_call_t id)
{
	return idmap_get(&sip->by_id, id);
}

struct sip_call *sip_call_new(struct sip *sip, nua_handle_t *nh)
{
	struct sip_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	do
		c->id = ++sip->next_id;
	while (c->id == 0 || sip_call_find(sip, c->id));
	if (idmap_put(&sip->by_id, c->id, c) != 0) {
		free(c);
		return NULL;
	}
	c->nh = nh;
	c->next = sip->calls;
	if (c->next)
		c->next->prev = c;
	sip->calls = c;
	nua_handle_bind(nh, c);
	atomic_fetch_add_explicit(&sip->stats.handles, 1, memory_order_relaxed);
	return c;
}

/* Unlinks and frees c and drops its handle (nua answers anything still
 * pending on it). */
void sip_call_free(struct sip *sip, struct sip_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		sip->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	idmap_del(&sip->by_id, c->id);
	if (c->silent)
		su_timer_destroy(c->silent);
	nua_handle_bind(c->nh, NULL);
	nua_handle_destroy(c->nh);
	if (c->cred) {
		/* The password should not outlive the leg in freed memory. */
		if (c->cred->password)
			explicit_bzero(c->cred->password, strlen(c->cred->password));
		free(c->cred);
	}
	free(c->log_id);
	free(c->tls_trunk);
	free(c);
	atomic_fetch_sub_explicit(&sip->stats.handles, 1, memory_order_relaxed);
}

void sip_call_free_all(struct sip *sip)
{
	while (sip->calls)
		sip_call_free(sip, sip->calls);
	idmap_free(&sip->by_id);
}

static void silent_expired(struct sip *sip, su_timer_t *t, struct sip_call *c)
{
	(void)t;
	log_debug(MOD, "dropping silently refused INVITE %u", c->id);
	sip_call_free(sip, c);
}

static const char *url_user(const url_t *u)
{
	if (!u)
		return NULL;
	if (u->url_user)
		return u->url_user;
	/* tel:+4930123 keeps the number in the host part. */
	return u->url_type == url_tel ? u->url_host : NULL;
}

static void source_ip(nua_t *nua, char *ip, size_t len, const struct sockaddr **sa)
{
	msg_t *req = nua_current_request(nua);
	su_addrinfo_t *ai = req ? msg_addrinfo(req) : NULL;

	*sa = ai ? ai->ai_addr : NULL;
	ip[0] = '\0';
	if (!*sa)
		return;
	if ((*sa)->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)*sa)->sin_addr, ip,
		          (socklen_t)len);
	else if ((*sa)->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)*sa)->sin6_addr, ip,
		          (socklen_t)len);
}

/* Whether the request came over TLS. nua shows no transport, but nta
 * (agent_check_request_via()) drops any request whose top Via names
 * another protocol than the transport it arrived on: the Via is the
 * transport's word. */
static bool via_tls(sip_t const *s)
{
	return s->sip_via && s->sip_via->v_protocol &&
	       strcasecmp(s->sip_via->v_protocol, "SIP/2.0/TLS") == 0;
}

static void invite_in(struct sip *sip, nua_t *nua, nua_handle_t *nh, sip_t const *s)
{
	struct sip_call *c = sip_call_new(sip, nh);
	const struct sip_trunk_acl *trunk;
	const struct sockaddr *sa;
	char ip[INET6_ADDRSTRLEN];
	char *sdp;
	const char *call_id = s->sip_call_id ? s->sip_call_id->i_id : NULL;

	if (!c) {
		log_err(MOD, "no memory for an INVITE; 500");
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	atomic_fetch_add_explicit(&sip->stats.invites_in, 1, memory_order_relaxed);
	/* INFO and UPDATE on this call come to us unanswered (sip_info_in()
	 * answers INFO: 415 for what is not DTMF; an UPDATE's offer is core's
	 * to answer); nua would 200 either itself, without a body. */
	nua_set_hparams(nh, NUTAG_APPL_METHOD("INFO"), NUTAG_APPL_METHOD("UPDATE"), TAG_END());
	/* nua refreshes a session it is the refresher of by UPDATE whatever
	 * the peer allows: a caller without UPDATE would get one every second
	 * (405, which leaves the refresh due) or lose the call (501, which
	 * nua answers with BYE). Its refresh by re-INVITE would carry no
	 * offer (media is ours). So such a caller gets no session timer of
	 * ours: it still has its own if it asked to refresh (refresher=uac,
	 * or none given with Supported: timer); only refresher=uas, which
	 * nua cannot refuse, still makes us refresh. */
	if (!sip_allows_update(s))
		nua_set_hparams(nh, NUTAG_SESSION_TIMER(0), TAG_END());
	source_ip(nua, ip, sizeof(ip), &sa);
	trunk = sip_acl_match(sip, sa);
	if (!trunk) {
		atomic_fetch_add_explicit(&sip->stats.acl_refused, 1, memory_order_relaxed);
		if (sip_acl_all_silent(sip)) {
			log_msg(LVL_INFO, MOD, call_id, "INVITE from %s: no trunk; no answer",
			        ip[0] ? ip : "?");
			c->silent = su_timer_create(su_root_task(sip->root), SIP_SILENT_HOLD_MS);
			if (c->silent && su_timer_set(c->silent, silent_expired, c) == 0)
				return;
			sip_call_free(sip, c);
			return;
		}
		log_msg(LVL_INFO, MOD, call_id, "INVITE from %s: no trunk; 403", ip[0] ? ip : "?");
		c->final_sent = true;
		nua_respond(nh, SIP_403_FORBIDDEN, TAG_END());
		return;
	}
	sdp = sip_sdp_copy(s);
	c->late_offer = !sdp;
	struct sip_invite inv = {
	    .call = c->id,
	    .call_id = call_id,
	    .ruri_user = s->sip_request ? url_user(s->sip_request->rq_url) : NULL,
	    .from_user = s->sip_from ? url_user(s->sip_from->a_url) : NULL,
	    .pai_user =
	        sip_p_asserted_identity(s) ? url_user(sip_p_asserted_identity(s)->paid_url) : NULL,
	    .src_ip = ip,
	    .trunk = trunk->name,
	    .sdp = sdp,
	    .sdp_len = sdp ? strlen(sdp) : 0,
	    .secure = via_tls(s),
	};
	sip->cb.invite(sip->arg, &inv);
	free(sdp);
}

static void ended(struct sip *sip, struct sip_call *c)
{
	if (!c || c->ended)
		return;
	c->ended = true;
	if (!c->silent && !c->hungup)
		sip->cb.ended(sip->arg, c->id);
}

void sip_call_ack(struct sip *sip, struct sip_call *c, sip_t const *s)
{
	char *sdp;

	if (!c || !c->late_offer || !(c->outbound ? c->leg_state == SIP_LEG_UP : c->answered))
		return;
	c->late_offer = false; /* the next ACK answers nothing of ours */
	if (c->hungup || c->ended || !sip->cb.ack_answer)
		return;
	sdp = sip_sdp_copy(s);
	sip->cb.ack_answer(sip->arg, c->id, sdp, sdp ? strlen(sdp) : 0);
	free(sdp);
}

void sip_call_event(nua_event_t event, int status, char const *phrase, nua_t *nua, struct sip *sip,
                    nua_handle_t *nh, struct sip_call *call, sip_t const *s, tagi_t tags[])
{
	int state = -1;

	assert(sip_on_thread(sip));
	(void)phrase;
	if (call && call->outbound) {
		sip_leg_event(sip, event, status, call, s, tags);
		return;
	}
	switch (event) {
	case nua_i_invite:
		if (!call)
			invite_in(sip, nua, nh, s);
		else
			sip_call_reinvite(sip, call, status, s);
		return;
	case nua_i_ack:
		sip_call_ack(sip, call, s);
		return;
	case nua_i_cancel:
	case nua_i_bye:
		ended(sip, call);
		return;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
		if (call && state == nua_callstate_terminated) {
			/* An answered call ends here without a BYE from the
			 * caller when its ACK never came (nua BYEs it). */
			if (!call->final_sent || call->answered)
				ended(sip, call);
			sip_call_free(sip, call);
		}
		return;
	case nua_i_refer:
		/* nua has already sent a NOTIFY for an out-of-dialog REFER;
		 * destroying the handle under it crashes nua_shutdown(), so
		 * the handle goes when that NOTIFY ends (nua_r_notify). */
		nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case nua_r_notify:
		if (status < 200)
			return;
		break;
	case nua_i_info:
		if (call) {
			sip_info_in(sip, nua, status, call, s);
			return;
		}
		break;
	case nua_i_update:
		if (call) {
			sip_call_update(sip, call, status, s);
			return;
		}
		break;
	case nua_i_options:
	case nua_i_message:
	case nua_i_chat:
	case nua_i_method:
	case nua_i_publish:
	case nua_i_subscribe:
	case nua_i_notify:
		break;
	default:
		return;
	}
	/* Requests outside a call (OPTIONS 200 and MESSAGE 403 from nua itself,
	 * REFER 403 above) come on a handle of their own nobody else frees. */
	if (!call && nh)
		nua_handle_destroy(nh);
}

void sip_call_respond(struct sip *sip, sip_call_t id, int status, const char *reason)
{
	struct sip_call *c;

	assert(sip_on_thread(sip));
	c = sip_call_find(sip, id);
	if (!c || c->outbound || c->final_sent || c->ended || c->silent || c->hungup) {
		log_warn(MOD, "response %d to call %u ignored: call gone or answered", status, id);
		return;
	}
	if (status >= 200)
		c->final_sent = true;
	/* nua_respond() is a message to the stack that keeps the phrase
	 * pointer, not a copy: the copy lives in the handle's home. */
	if (reason)
		reason = su_strdup(nua_handle_home(c->nh), reason);
	nua_respond(c->nh, status, reason ? reason : sip_status_phrase(status), TAG_END());
}

struct respond_job {
	struct sip *sip;
	sip_call_t call;
	int status;
	char *reason;
};

static void respond_run(void *arg)
{
	struct respond_job *j = arg;

	sip_call_respond(j->sip, j->call, j->status, j->reason);
	free(j->reason);
	free(j);
}

int sip_respond(struct sip *sip, sip_call_t call, int status, const char *reason)
{
	struct respond_job *j;
	int rc;

	if (status < 100 || status > 699)
		return EINVAL;
	if (sip_on_thread(sip)) {
		sip_call_respond(sip, call, status, reason);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	*j = (struct respond_job){.sip = sip, .call = call, .status = status};
	if (reason && !(j->reason = strdup(reason))) {
		free(j);
		return ENOMEM;
	}
	rc = sip_post(sip, respond_run, j);
	if (rc) {
		free(j->reason);
		free(j);
	}
	return rc;
}

int sip_answer(struct sip *sip, sip_call_t call, int status, const char *sdp)
{
	struct sip_call *c;
	su_home_t *home;

	assert(sip_on_thread(sip));
	if (status < 101 || status > 299 || !sdp)
		return EINVAL;
	c = sip_call_find(sip, call);
	if (!c || c->outbound || c->final_sent || c->ended || c->silent || c->hungup) {
		log_warn(MOD, "answer %d to call %u ignored: call gone or answered", status, call);
		return ENOENT;
	}
	/* Like the phrase, the body must outlive this call: nua sends later. */
	home = nua_handle_home(c->nh);
	sdp = su_strdup(home, sdp);
	if (!sdp)
		return ENOMEM;
	if (status >= 200)
		c->final_sent = c->answered = true;
	c->local_sdp = sdp;
	nua_respond(c->nh, status, sip_status_phrase(status),
	            SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	return 0;
}

/* An inbound call core gives up on: reject it while it rings, BYE it once
 * answered. Its end is not reported back (hungup). */
void sip_call_hangup(struct sip *sip, struct sip_call *c, int status)
{
	if (c->hungup || c->ended)
		return;
	c->hungup = true;
	if (c->silent)
		return; /* the hold timer drops it */
	if (c->answered) {
		nua_bye(c->nh, TAG_END());
		return;
	}
	if (c->final_sent)
		return;
	if (status < 300 || status > 699)
		status = 480;
	c->final_sent = true;
	nua_respond(c->nh, status, sip_status_phrase(status), TAG_END());
	(void)sip;
}

bool sip_allows_update(sip_t const *s)
{
	return s && s->sip_allow && sip_is_allowed(s->sip_allow, sip_method_update, "UPDATE");
}

char *sip_sdp_copy(sip_t const *s)
{
	char *sdp;

	if (!s || !s->sip_payload || !s->sip_payload->pl_len)
		return NULL;
	if (s->sip_content_type && s->sip_content_type->c_type &&
	    strcasecmp(s->sip_content_type->c_type, "application/sdp") != 0)
		return NULL;
	sdp = malloc(s->sip_payload->pl_len + 1);
	if (sdp) {
		memcpy(sdp, s->sip_payload->pl_data, s->sip_payload->pl_len);
		sdp[s->sip_payload->pl_len] = '\0';
	}
	return sdp;
}

/* 200 with body as the current request's answer; body is kept in the
 * handle's home (nua sends later), as the SDP we last sent. Older answers
 * stay there too until the call ends: a few hundred bytes per refresh. */
static void answer_with(struct sip *sip, struct sip_call *c, const char *body)
{
	body = su_strdup(nua_handle_home(c->nh), body);
	if (!body) {
		nua_respond(c->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(sip->nua),
		            TAG_END());
		return;
	}
	c->local_sdp = body;
	nua_respond(c->nh, SIP_200_OK, NUTAG_WITH_THIS(sip->nua),
	            SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(body),
	            TAG_END());
}

/* An offer inside the dialog (hold, resume, a new address, a refresh with
 * SDP) is core's to answer; the media follows there. Without an offer, or
 * with nobody to ask (no cb->reoffer, a call being hung up), the SDP
 * pinbridge last sent goes back unchanged: the session goes on as it was
 * (a re-INVITE without SDP makes it our offer, answered in the ACK).
 * Without that SDP there is nothing to answer with: 488 leaves the
 * session as it was. */
static void offer_in(struct sip *sip, struct sip_call *c, sip_t const *s, const char *what)
{
	char *offer = sip_sdp_copy(s), *answer;

	if (!offer || !sip->cb.reoffer || c->hungup || c->ended) {
		free(offer);
		if (!c->local_sdp) {
			nua_respond(c->nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(sip->nua),
			            TAG_END());
			return;
		}
		log_msg(LVL_INFO, MOD, c->log_id, "call %u: %s answered with our last SDP", c->id,
		        what);
		answer_with(sip, c, c->local_sdp);
		return;
	}
	answer = sip->cb.reoffer(sip->arg, c->id, offer, strlen(offer));
	free(offer);
	if (!answer) {
		log_msg(LVL_INFO, MOD, c->log_id, "call %u: %s refused: 488", c->id, what);
		nua_respond(c->nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(sip->nua), TAG_END());
		return;
	}
	answer_with(sip, c, answer);
	free(answer);
}

static bool has_body(sip_t const *s)
{
	return s && s->sip_payload && s->sip_payload->pl_len;
}

/* nua refuses a re-INVITE itself (status >= 200) when it overlaps an
 * INVITE not yet ACKed (500 with Retry-After) or, glare, when a request of
 * ours carrying an offer is pending (491, RFC 3261 14.2). pinbridge sends
 * no offer inside a dialog (its session refresh is an UPDATE without SDP),
 * so a re-INVITE or UPDATE crossing our refresh is answered here like any
 * other (test_siptimer: glare_in_reinvite, glare_in_update). A 491 to our
 * refresh is nua's to retry: it leaves the refresh due, and sends it again
 * on its next one-second tick (not RFC 3261 14.1's random 2.1-4 s: with no
 * offer in it, a second crossing costs nothing). */
void sip_call_reinvite(struct sip *sip, struct sip_call *c, int status, sip_t const *s)
{
	if (status >= 200)
		return;
	/* Without SDP, the one our 200 carries is an offer: the ACK answers. */
	c->late_offer = !has_body(s) && c->local_sdp;
	offer_in(sip, c, s, "re-INVITE");
}

/* An UPDATE without SDP is a session refresh (RFC 4028): 200, and nua adds
 * the session timer's headers to it. */
void sip_call_update(struct sip *sip, struct sip_call *c, int status, sip_t const *s)
{
	if (status >= 200)
		return;
	if (!has_body(s)) {
		nua_respond(c->nh, SIP_200_OK, NUTAG_WITH_THIS(sip->nua), TAG_END());
		return;
	}
	offer_in(sip, c, s, "UPDATE");
}
