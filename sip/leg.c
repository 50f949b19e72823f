/* leg: outbound legs (an INVITE through a trunk, every header pinbridge's
 * own), their responses turned into struct sip_leg_event, and sip_hangup(). */
#include "sip/sip_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "core/base/log.h"

#define MOD "sip"

#define URI_MAX 512

struct leg_uris {
	char ruri[URI_MAX], to[URI_MAX], from[URI_MAX], pai[URI_MAX + 32], contact[URI_MAX];
};

/* Dial strings go into URIs unescaped, so only characters that need no
 * escaping in a SIP URI user part are accepted. */
static bool user_ok(const char *u)
{
	if (!u || !*u || strlen(u) > 64)
		return false;
	return strspn(u, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-_.*") ==
	       strlen(u);
}

/* The host (and :port) pinbridge names itself by: sip_opts.advertise, else
 * the first listen entry without its "udp:" prefix. */
static void local_host(const struct sip *sip, char *out, size_t len)
{
	const char *colon;

	if (sip->opts.advertise && sip->opts.advertise[0]) {
		snprintf(out, len, "%s", sip->opts.advertise);
		return;
	}
	colon = sip->opts.nlisten ? strchr(sip->opts.listen[0], ':') : NULL;
	snprintf(out, len, "%s", colon ? colon + 1 : "invalid");
}

/* "sip:host:port;transport=tcp" -> scheme "sip", "host:port" and ";transport=tcp"
 * (empty when absent). Sofia's parser, so IPv6 references and parameters
 * come out as Sofia itself will read them. */
static int proxy_parts(const char *proxy, char *scheme, char *hostport, size_t hplen,
                       char *transport, size_t tlen)
{
	su_home_t *home = su_home_new(sizeof(*home));
	url_t *u = home ? url_make(home, proxy) : NULL;
	char t[16];
	int rc = EINVAL;

	if (!u || (u->url_type != url_sip && u->url_type != url_sips) || !u->url_host ||
	    !u->url_host[0])
		goto out;
	strcpy(scheme, u->url_type == url_sips ? "sips" : "sip");
	snprintf(hostport, hplen, "%s%s%s", u->url_host, u->url_port ? ":" : "",
	         u->url_port ? u->url_port : "");
	transport[0] = '\0';
	if (u->url_params && url_param(u->url_params, "transport", t, sizeof(t)) > 0)
		snprintf(transport, tlen, ";transport=%s", t);
	rc = 0;
out:
	su_home_unref(home);
	return rc;
}

/* A TLS leg gets no Contact of ours: nua's names the TLS transport (with
 * sip.advertise as its host), and ours would name the first listen port. */
static int leg_uris(const struct sip *sip, const struct sip_dial *d, bool secure,
                    struct leg_uris *u)
{
	char scheme[8], hostport[300], transport[32], self[300];
	int n;

	if (proxy_parts(d->proxy, scheme, hostport, sizeof(hostport), transport, sizeof(transport)))
		return EINVAL;
	local_host(sip, self, sizeof(self));
	n = snprintf(u->ruri, sizeof(u->ruri), "%s:%s@%s%s", scheme, d->to_user, hostport,
	             transport);
	if (n < 0 || (size_t)n >= sizeof(u->ruri))
		return EINVAL;
	snprintf(u->to, sizeof(u->to), "<%s:%s@%s>", scheme, d->to_user, hostport);
	snprintf(u->from, sizeof(u->from), "<sip:%s@%s>", d->from_user, self);
	snprintf(u->pai, sizeof(u->pai), "P-Asserted-Identity: <sip:%s@%s>", d->from_user, self);
	u->contact[0] = '\0';
	if (sip->opts.advertise && sip->opts.advertise[0] && !secure)
		snprintf(u->contact, sizeof(u->contact), "<sip:%s@%s>", d->from_user, self);
	return 0;
}

/* Credentials in one block: struct, then username, password, realm. */
static int cred_new(const struct sip_dial *d, struct sip_cred **out)
{
	size_t lu, lp, lr;
	struct sip_cred *c;

	*out = NULL;
	if (!d->username || !d->username[0] || !d->password)
		return 0;
	lu = strlen(d->username) + 1;
	lp = strlen(d->password) + 1;
	lr = d->realm && d->realm[0] ? strlen(d->realm) + 1 : 0;
	c = calloc(1, sizeof(*c) + lu + lp + lr);
	if (!c)
		return ENOMEM;
	c->username = memcpy((char *)(c + 1), d->username, lu);
	c->password = memcpy(c->username + lu, d->password, lp);
	c->realm = lr ? memcpy(c->password + lp, d->realm, lr) : NULL;
	*out = c;
	return 0;
}

/* tls: a TLS leg's target (tls.c): every request of the handle goes to
 * its proxy, on a connection whose certificate names the trunk. */
static int leg_new(struct sip *sip, const struct sip_dial *d, const struct leg_uris *u,
                   const struct sip_tls_target *tls, struct sip_call **out)
{
	nua_handle_t *nh =
	    nua_handle(sip->nua, NULL, SIPTAG_TO_STR(u->to), SIPTAG_FROM_STR(u->from), TAG_END());
	struct sip_call *c = nh ? sip_call_new(sip, nh) : NULL;

	if (!c) {
		if (nh)
			nua_handle_destroy(nh);
		return ENOMEM;
	}
	c->outbound = true;
	c->leg_state = SIP_LEG_CALLING;
	/* The callee's UPDATEs come to us unanswered: an offer is core's.
	 * NUTAG_PROXY is an nta tag, which nua_handle() would drop. */
	nua_set_hparams(nh, NUTAG_APPL_METHOD("UPDATE"),
	                TAG_IF(tls, NUTAG_PROXY(tls ? tls->proxy : NULL)), TAG_END());
	c->local_sdp = su_strdup(nua_handle_home(nh), d->sdp);
	if (tls)
		c->tls_seq = sip->tls_seq;
	if (!c->local_sdp || cred_new(d, &c->cred) ||
	    (d->log_id && !(c->log_id = strdup(d->log_id))) ||
	    (tls && !(c->tls_trunk = strdup(tls->trunk)))) {
		sip_call_free(sip, c);
		return ENOMEM;
	}
	*out = c;
	return 0;
}

int sip_dial(struct sip *sip, const struct sip_dial *d, sip_call_t *leg)
{
	struct sip_tls_target tls;
	struct leg_uris *u;
	struct sip_call *c;
	bool secure;
	int rc;

	assert(sip_on_thread(sip));
	if (!d || !d->proxy || !d->sdp || !d->sdp[0] || !user_ok(d->to_user) ||
	    !user_ok(d->from_user))
		return EINVAL;
	secure = sip_uri_secure(d->proxy);
	u = malloc(sizeof(*u));
	if (!u)
		return ENOMEM;
	rc = leg_uris(sip, d, secure, u);
	if (rc == 0 && secure)
		rc = sip_tls_target(sip_tls_trunk(sip, d->proxy), d->proxy, &tls);
	if (rc == 0)
		rc = leg_new(sip, d, u, secure ? &tls : NULL, &c);
	if (rc) {
		if (rc == EINVAL)
			log_msg(LVL_WARN, MOD, d->log_id, "cannot dial: bad proxy \"%s\"",
			        d->proxy);
		free(u);
		return rc;
	}
	/* nua copies the tag values into its message before nua_invite()
	 * returns, so the strings may go right after. */
	nua_invite(c->nh, NUTAG_URL(u->ruri), SIPTAG_HEADER_STR(u->pai),
	           TAG_IF(u->contact[0], SIPTAG_CONTACT_STR(u->contact)),
	           SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(d->sdp),
	           TAG_END());
	atomic_fetch_add_explicit(&sip->stats.legs_out, 1, memory_order_relaxed);
	if (secure)
		log_msg(LVL_INFO, MOD, c->log_id, "leg %u: INVITE %s over TLS via %s (trunk %s)",
		        c->id, u->ruri, tls.proxy, tls.trunk);
	else
		log_msg(LVL_INFO, MOD, c->log_id, "leg %u: INVITE %s", c->id, u->ruri);
	free(u);
	*leg = c->id;
	return 0;
}

static void leg_report(struct sip *sip, struct sip_call *c, enum sip_leg_kind kind, int status,
                       sip_t const *s)
{
	char *sdp = kind == SIP_LEG_PROGRESS || kind == SIP_LEG_ANSWERED ? sip_sdp_copy(s) : NULL;
	struct sip_leg_event ev = {
	    .leg = c->id,
	    .kind = kind,
	    .status = status,
	    .sdp = sdp,
	    .sdp_len = sdp ? strlen(sdp) : 0,
	};

	if (kind == SIP_LEG_FAILED || kind == SIP_LEG_ENDED) {
		c->leg_state = SIP_LEG_DONE;
		c->ended = true;
	}
	if (sip->cb.leg)
		sip->cb.leg(sip->arg, &ev);
	free(sdp);
}

static void leg_final_error(struct sip *sip, struct sip_call *c, int status, sip_t const *s)
{
	if ((status == 401 || status == 407) && c->cred && !c->cred->tried && !c->hungup) {
		c->cred->tried = true;
		if (sip_auth_answer(sip, c->nh, status, s, c->cred->username, c->cred->password,
		                    c->cred->realm, c->log_id) == 0)
			return;
	}
	if (c->tls_trunk && !c->heard)
		/* Most likely nta's own 503: the TLS connection failed, or
		 * was refused (tls.c logged why, and counted it). */
		log_msg(LVL_WARN, MOD, c->log_id,
		        "leg %u: %d before any provisional response over TLS from trunk %s%s%s",
		        c->id, status, c->tls_trunk,
		        sip->tls_seq != c->tls_seq ? "; last TLS failure: " : "",
		        sip->tls_seq != c->tls_seq ? sip->tls_why : "");
	else
		log_msg(LVL_INFO, MOD, c->log_id, "leg %u: %d", c->id, status);
	if (!c->hungup)
		leg_report(sip, c, SIP_LEG_FAILED, status, s);
	/* A challenge left unanswered keeps nua's request waiting for
	 * credentials; dropping the handle ends it. */
	sip_call_free(sip, c);
}

static void leg_response(struct sip *sip, struct sip_call *c, int status, sip_t const *s)
{
	if (status < 200)
		c->heard = true;
	if (status == 100 || c->leg_state == SIP_LEG_DONE)
		return;
	if (status < 200) {
		if (!c->hungup && c->leg_state == SIP_LEG_CALLING)
			leg_report(sip, c, SIP_LEG_PROGRESS, status, s);
		return;
	}
	if (c->leg_state == SIP_LEG_UP)
		return; /* a forked 2xx (nua ACKs it), or a refresh's answer */
	if (status >= 300) {
		leg_final_error(sip, c, status, s);
		return;
	}
	c->leg_state = SIP_LEG_UP;
	if (c->hungup) {
		/* The 200 crossed our CANCEL: nua ACKed it (auto-ACK) but
		 * leaves the call up, so it is ended here. */
		log_msg(LVL_INFO, MOD, c->log_id, "leg %u: 200 after CANCEL; BYE", c->id);
		nua_bye(c->nh, TAG_END());
		return;
	}
	/* A callee that does not allow UPDATE is refreshed (when we are the
	 * refresher: it did not take up our timer, or made us refresh) by
	 * nua re-sending our INVITE, offer and all, instead: nua's UPDATE
	 * would draw 405 every second, or 501 and a BYE from nua. That offer
	 * is the SDP as dialled (not a later answer of ours to the callee's
	 * re-INVITE), and the answer in its 200 is not read (leg_response()):
	 * a callee that moves its media there is not followed. */
	if (!sip_allows_update(s))
		nua_set_hparams(c->nh, NUTAG_UPDATE_REFRESH(0), TAG_END());
	log_msg(LVL_INFO, MOD, c->log_id, "leg %u: answered", c->id);
	leg_report(sip, c, SIP_LEG_ANSWERED, status, s);
}

void sip_leg_event(struct sip *sip, nua_event_t event, int status, struct sip_call *c,
                   sip_t const *s, tagi_t tags[])
{
	int state = -1;

	switch (event) {
	case nua_r_invite:
		leg_response(sip, c, status, s);
		return;
	case nua_i_invite:
		sip_call_reinvite(sip, c, status, s);
		return;
	case nua_i_update:
		sip_call_update(sip, c, status, s);
		return;
	case nua_i_ack:
		sip_call_ack(sip, c, s);
		return;
	case nua_i_bye:
		if (!c->hungup && c->leg_state == SIP_LEG_UP) {
			log_msg(LVL_INFO, MOD, c->log_id, "leg %u: callee BYE", c->id);
			leg_report(sip, c, SIP_LEG_ENDED, 0, NULL);
		}
		c->leg_state = SIP_LEG_DONE;
		return;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
		if (state != nua_callstate_terminated)
			return;
		if (!c->hungup && c->leg_state != SIP_LEG_DONE)
			leg_report(sip, c,
			           c->leg_state == SIP_LEG_UP ? SIP_LEG_ENDED : SIP_LEG_FAILED,
			           c->leg_state == SIP_LEG_UP ? 0 : 500, NULL);
		sip_call_free(sip, c);
		return;
	default:
		return;
	}
}

void sip_hangup(struct sip *sip, sip_call_t call, int status)
{
	struct sip_call *c;

	assert(sip_on_thread(sip));
	c = sip_call_find(sip, call);
	if (!c)
		return;
	if (!c->outbound) {
		sip_call_hangup(sip, c, status);
		return;
	}
	if (c->hungup || c->leg_state == SIP_LEG_DONE)
		return;
	c->hungup = true;
	log_msg(LVL_INFO, MOD, c->log_id, "leg %u: hangup (%s)", c->id,
	        c->leg_state == SIP_LEG_UP ? "BYE" : "CANCEL");
	if (c->leg_state == SIP_LEG_UP)
		nua_bye(c->nh, TAG_END());
	else
		nua_cancel(c->nh, TAG_END());
}

bool sip_uri_secure(const char *uri)
{
	url_t u[1];
	char buf[300], tp[8];
	bool tls;

	if (!uri || snprintf(buf, sizeof(buf), "%s", uri) >= (int)sizeof(buf) || url_d(u, buf) < 0)
		return false;
	tls = u->url_type == url_sips;
	if (!tls && u->url_params && url_param(u->url_params, "transport", tp, sizeof(tp)) > 0)
		tls = strcasecmp(tp, "tls") == 0;
	return tls;
}
