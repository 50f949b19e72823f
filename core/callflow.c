/* callflow: an inbound INVITE through DESIGN §3 steps 1-5 to a hunt, and a
 * call's end: legs hung up, media freed, the record finished with its
 * call-completed event (callflow_rec.c). Runs on the SIP thread. */
#include "core/callflow_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/rand.h"
#include "core/calls.h"
#include "core/events.h"
#include "core/number.h"

/* --- the calls of the SIP thread ----------------------------------------- */

uint64_t cf_session_id(void)
{
	uint64_t id;

	rand_bytes(&id, sizeof(id));
	return (id >> 2) + 1; /* o= wants a positive number that fits 63 bits */
}

struct cf_call *cf_find_in(struct callflow *cf, sip_call_t in)
{
	return idmap_get(&cf->by_in, in);
}

struct cf_call *cf_find_leg(struct callflow *cf, sip_call_t leg)
{
	return idmap_get(&cf->by_out, leg);
}

struct cf_call *cf_find_serial(struct callflow *cf, uint64_t serial)
{
	return idmap_get(&cf->by_serial, serial);
}

/* The maps' room is reserved when a call starts (call_reserve), so these
 * puts cannot fail. */
void cf_set_out(struct cf_call *c, sip_call_t out)
{
	if (c->out)
		idmap_del(&c->cf->by_out, c->out);
	c->out = out;
	if (out)
		idmap_put(&c->cf->by_out, out, c);
}

/* Room in every map for one more call: its link cannot fail later. */
static int call_reserve(struct callflow *cf)
{
	size_t n = cf->ncalls + 1;
	int rc = idmap_reserve(&cf->by_in, n);

	if (!rc)
		rc = idmap_reserve(&cf->by_out, n);
	if (!rc)
		rc = idmap_reserve(&cf->by_serial, n);
	return rc;
}

static void call_unlink(struct cf_call *c)
{
	struct callflow *cf = c->cf;

	for (struct cf_call **p = &cf->calls; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->in)
		idmap_del(&cf->by_in, c->in);
	if (c->out)
		idmap_del(&cf->by_out, c->out);
	idmap_del(&cf->by_serial, c->serial);
	cf->ncalls--;
}

void cf_end(struct cf_call *c, enum store_call_type type, int in_status, enum cf_outcome out)
{
	struct callflow *cf = c->cf;

	sip_timer_cancel(c->ring_timer);
	sip_timer_cancel(c->hunt_timer);
	sip_timer_cancel(c->dur_timer);
	c->ring_timer = c->hunt_timer = c->dur_timer = NULL;
	cf_pin_free(c);
	if (c->out)
		sip_hangup(cf->sip, c->out, 0);
	if (c->in)
		sip_hangup(cf->sip, c->in, in_status);
	media_session_free(c->media);
	cf_srtp_free(c);
	c->rec.call_type = (uint8_t)type;
	c->rec.ended_ms = clock_now_ms();
	cf_recording_end(c); /* the record follows the recording's end */
	log_msg(
	    LVL_INFO, CF_MOD, c->rec.call_sid, "ended: %s, dial status %s", calls_type_name(type),
	    calls_dial_status_name(c->rec.dial_status) ? calls_dial_status_name(c->rec.dial_status)
	                                               : "null");
	cf_metrics_outcome(cf, out);
	atomic_fetch_sub(&cf->m.active, 1);
	call_unlink(c);
	config_unref(c->cfg);
	free(c);
}

/* --- inbound INVITE -------------------------------------------------------- */

/* The VN of a Request-URI user, by the rules of the tenant whose pool holds
 * it (each tenant's country may read a national number differently). */
static const struct tenant *vn_lookup(const struct config *cfg, const char *raw, char vn[17])
{
	if (!raw)
		return NULL;
	for (size_t i = 0; i < cfg->ntenants; i++) {
		const struct tenant *t = &cfg->tenants[i];

		if (number_normalize(raw, t->country, t->national_length, vn) == 0 &&
		    config_tenant_has_vn(t, vn))
			return t;
	}
	return NULL;
}

void cf_refuse(struct callflow *cf, sip_call_t in, int status, const char *reason,
               enum cf_outcome out, const char *id)
{
	log_msg(LVL_INFO, CF_MOD, id, "refused: %d %s", status, reason ? reason : "");
	sip_respond(cf->sip, in, status, reason);
	cf_metrics_outcome(cf, out);
}

static int route(struct callflow *cf, const struct config *cfg, const char *caller, const char *vn,
                 struct route_decision *rd)
{
	struct store_txn *txn;
	int rc = store_read_begin(cf->st, &txn);

	if (rc)
		return rc;
	rc = route_decide(txn, cfg, caller, vn, rd);
	store_read_end(txn);
	return rc;
}

static const struct trunk *tenant_trunk(const struct config *cfg, const struct tenant *t)
{
	if (t->trunk_ref)
		return t->trunk_ref;
	return cfg->ntrunks ? &cfg->trunks[0] : NULL;
}

/* The caller's offer answered on our leg-0 port: media session, answer SDP. */
static int media_begin(struct cf_call *c, const char *sdp, size_t len, int *status)
{
	struct callflow *cf = c->cf;
	struct sdp_desc *offer = malloc(sizeof(*offer));
	struct sdp_desc chosen;
	struct media_leg_cfg callee = {.codec = MEDIA_PCMU, .codec_pt = 0, .te_pt = 101};
	char err[128];
	int rc;

	*status = 488;
	if (!offer)
		return ENOMEM;
	rc = sdp_parse_desc(sdp, len, offer, err, sizeof(err));
	if (rc) {
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller's SDP refused: %s", err);
		goto out;
	}
	if (offer->ipv6) {
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller's SDP refused: IPv6 media");
		rc = ENOTSUP;
		goto out;
	}
	/* Answer first on a placeholder port to learn the codec, then again
	 * with the real port once the session is bound. */
	c->local_in =
	    (struct sdp_local){.addr = cf->media_addr, .port = 2, .dir = SDP_DIR_SENDRECV};
	c->local_in.session_id = cf_session_id();
	rc = cf_srtp_answer(c, 0, offer, &c->local_in, err, sizeof(err));
	if (rc) {
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "caller's SDP refused: %s", err);
		goto out;
	}
	rc = sdp_answer(offer, &c->local_in, &chosen, c->answer_in, sizeof(c->answer_in));
	if (!rc)
		rc = cf_leg_cfg(c->trunk, offer, sdp_desc_voice(&chosen), &c->leg_in);
	if (rc)
		goto out;
	{
		const struct sdp_codec *te = sdp_desc_codec(&chosen, SDP_CODEC_TELEPHONE_EVENT);

		c->leg_in.te_pt = te ? te->pt : -1;
	}
	callee.latch = c->leg_in.latch;
	callee.n_cidrs = c->leg_in.n_cidrs;
	memcpy(callee.cidrs, c->leg_in.cidrs, sizeof(callee.cidrs));
	callee.codec = c->leg_in.codec;
	callee.codec_pt = c->leg_in.codec == MEDIA_PCMU ? 0 : 8;
	c->leg_in.srtp = cf_srtp_next(c, 0);
	rc = media_session_new(cf->media, &c->leg_in, &callee, &c->media);
	cf_srtp_settle(c, 0, rc == 0);
	if (rc) {
		*status = rc == ENOSPC ? 503 : 500;
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "no media session: %s", strerror(rc));
		goto out;
	}
	c->local_in.port = media_session_local_port(c->media, 0);
	rc = sdp_answer(offer, &c->local_in, &chosen, c->answer_in, sizeof(c->answer_in));
out:
	free(offer);
	return rc;
}

struct cf_call *cf_call_new(struct callflow *cf, struct config *cfg, const struct tenant *t,
                            const struct sip_invite *inv, const char *caller, const char *vn)
{
	struct cf_call *c = calloc(1, sizeof(*c));

	if (!c) {
		cf_refuse(cf, inv->call, 500, NULL, CF_OUT_REJECTED, inv->call_id);
		return NULL;
	}
	c->cf = cf;
	c->cfg = config_ref(cfg);
	c->t = t;
	c->trunk = tenant_trunk(cfg, t);
	for (size_t i = 0; inv->trunk && i < cfg->ntrunks; i++)
		if (strcmp(cfg->trunks[i].name, inv->trunk) == 0)
			c->trunk_in = &cfg->trunks[i];
	c->secure_in = inv->secure;
	c->secure_out = c->trunk && sip_uri_secure(c->trunk->outbound);
	c->in = inv->call;
	c->serial = ++cf->next_serial;
	c->t0_us = clock_mono_us();
	calls_new_sid(c->rec.call_sid);
	snprintf(c->rec.tenant, sizeof(c->rec.tenant), "%s", t->id);
	snprintf(c->rec.vn, sizeof(c->rec.vn), "%s", vn);
	snprintf(c->rec.from, sizeof(c->rec.from), "%s", caller);
	c->rec.direction = STORE_CALL_INCOMING;
	c->rec.state = STORE_CALL_IN_PROGRESS;
	c->rec.started_ms = clock_now_ms();
	return c;
}

int cf_call_media(struct cf_call *c, const struct sip_invite *inv)
{
	int status = 500;

	if (call_reserve(c->cf) != 0) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "out of memory for the call maps");
	} else if (!c->trunk || !c->trunk->outbound[0]) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "tenant %s has no trunk to dial out on",
		        c->t->id);
	} else if (!inv->sdp) { /* a late offer: ours goes in the 200 */
		if (cf_media_begin_late(c, &status) == 0)
			return 0;
	} else if (media_begin(c, inv->sdp, inv->sdp_len, &status) == 0) {
		return 0;
	}
	cf_refuse(c->cf, inv->call, status, NULL, CF_OUT_REJECTED, c->rec.call_sid);
	media_session_free(c->media);
	cf_srtp_free(c);
	config_unref(c->cfg);
	free(c);
	return -1;
}

void cf_call_link(struct cf_call *c)
{
	struct callflow *cf = c->cf;

	media_session_set_arg(c->media, (void *)(uintptr_t)c->serial);
	c->next = cf->calls;
	cf->calls = c;
	cf->ncalls++;
	idmap_put(&cf->by_in, c->in, c); /* room reserved by cf_call_media */
	idmap_put(&cf->by_serial, c->serial, c);
	atomic_fetch_add(&c->cf->m.active, 1);
	cf_rec_write(c, false);
}

static void direct_call(struct callflow *cf, struct config *cfg, const struct sip_invite *inv,
                        const struct route_decision *rd, const char *caller, const char *vn)
{
	struct cf_call *c = cf_call_new(cf, cfg, rd->tenant, inv, caller, vn);

	if (!c)
		return;
	c->rd = *rd;
	memcpy(c->rec.greenpin_id, rd->alloc.id, STORE_ID_LEN);
	c->rec.has_alloc = true;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid,
	        "INVITE %s -> %s (Call-ID %s): direct, %u to dial", caller, vn,
	        inv->call_id ? inv->call_id : "?", rd->ndial);
	if (cf_call_media(c, inv) != 0)
		return;
	c->state = CF_HUNTING;
	cf_call_link(c);
	cf_ring_caller(c);
	media_session_ringback(c->media, 0, true);
	if (cf_hunt_begin(c) != 0)
		cf_end(c, STORE_CT_INCOMPLETE, 480, CF_OUT_INCOMPLETE);
}

static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct callflow *cf = arg;
	struct config *cfg = config_current();
	const struct tenant *t;
	struct route_decision *rd = NULL;
	char vn[17], caller[17];
	const char *raw_caller = inv->pai_user ? inv->pai_user : inv->from_user;
	int rc;

	if (cf->stopping) {
		cf_refuse(cf, inv->call, 503, "shutting down", CF_OUT_REJECTED, inv->call_id);
		goto out;
	}
	t = vn_lookup(cfg, inv->ruri_user, vn);
	if (!t) {
		cf_refuse(cf, inv->call, 404, NULL, CF_OUT_NOT_FOUND, inv->call_id);
		goto out;
	}
	if (!raw_caller ||
	    number_normalize(raw_caller, t->country, t->national_length, caller) != 0)
		snprintf(caller, sizeof(caller), "%.16s", raw_caller ? raw_caller : "");
	rd = malloc(sizeof(*rd));
	rc = rd ? route(cf, cfg, caller, vn, rd) : ENOMEM;
	if (rc) {
		log_msg(LVL_ERR, CF_MOD, inv->call_id, "routing failed: %s", strerror(rc));
		cf_refuse(cf, inv->call, 500, NULL, CF_OUT_REJECTED, inv->call_id);
		goto out;
	}
	switch (rd->kind) {
	case ROUTE_DIRECT:
		direct_call(cf, cfg, inv, rd, caller, vn);
		break;
	case ROUTE_PIN:
		cf_pin_begin(cf, cfg, inv, rd, caller, vn);
		break;
	case ROUTE_NOBODY:
		cf_refuse(cf, inv->call, 480, rd->reason, CF_OUT_UNAVAILABLE, inv->call_id);
		break;
	case ROUTE_NOT_OURS:
		cf_refuse(cf, inv->call, 404, NULL, CF_OUT_NOT_FOUND, inv->call_id);
		break;
	default:
		cf_refuse(cf, inv->call, rd->sip_status ? rd->sip_status : 403, rd->reason,
		          CF_OUT_FORBIDDEN, inv->call_id);
		break;
	}
out:
	free(rd);
	config_unref(cfg);
}

static void on_ended(void *arg, sip_call_t in)
{
	struct callflow *cf = arg;
	struct cf_call *c = cf_find_in(cf, in);

	if (!c)
		return;
	idmap_del(&cf->by_in, in);
	c->in = 0; /* gone: nothing to hang up */
	cf_caller_gone(c);
}

static void on_leg(void *arg, const struct sip_leg_event *ev)
{
	cf_leg_event(arg, ev);
}

static void on_info_digit(void *arg, sip_call_t in, char digit)
{
	struct cf_call *c = cf_find_in(arg, in);

	if (c)
		cf_pin_digit(c, digit, PIN_ROUTE_INFO);
}

/* --- start and stop -------------------------------------------------------- */

/* sip_start() copies what it is given: the arrays below live only until
 * it returns (cf_sip_opts_free). */
static void cf_sip_opts_free(struct sip_opts *o)
{
	for (size_t i = 0; o->trunks && i < o->ntrunks; i++)
		free((void *)o->trunks[i].allow);
	free((void *)o->trunks);
	free((void *)o->listen);
}

static int cf_sip_opts(const struct config *cfg, struct sip_opts *o)
{
	struct sip_trunk_acl *acl = calloc(cfg->ntrunks + 1, sizeof(*acl));
	const char **listen = calloc(cfg->nsip_listen + 1, sizeof(*listen));

	*o = (struct sip_opts){.listen = listen, .trunks = acl, .ntrunks = cfg->ntrunks};
	if (!acl || !listen)
		return ENOMEM;
	for (size_t i = 0; i < cfg->nsip_listen; i++)
		listen[i] = cfg->sip_listen[i];
	for (size_t i = 0; i < cfg->ntrunks; i++) {
		const struct trunk *tr = &cfg->trunks[i];
		struct sip_cidr *allow = calloc(tr->nallow + 1, sizeof(*allow));

		if (!allow)
			return ENOMEM;
		for (size_t k = 0; k < tr->nallow; k++) {
			memcpy(allow[k].addr, tr->allow[k].addr, sizeof(allow[k].addr));
			allow[k].prefix = tr->allow[k].prefix;
		}
		acl[i] = (struct sip_trunk_acl){
		    .name = tr->name,
		    .allow = allow,
		    .nallow = tr->nallow,
		    .silent_deny = tr->silent_deny,
		    .outbound = tr->outbound,
		    .username = tr->username[0] ? tr->username : NULL,
		    .password = tr->password[0] ? tr->password : NULL,
		    .realm = tr->realm[0] ? tr->realm : NULL,
		    .do_register = tr->do_register,
		    .tls_subject = tr->tls_subject[0] ? tr->tls_subject : NULL,
		};
	}
	o->nlisten = cfg->nsip_listen;
	o->advertise = cfg->sip_advertise[0] ? cfg->sip_advertise : NULL;
	o->session_expires_ms = cfg->sip_session_expires_ms;
	o->min_se_ms = cfg->sip_min_se_ms;
	o->tls_certificate = cfg->tls_certificate;
	o->tls_key = cfg->tls_key;
	o->tls_ca = cfg->tls_ca;
	o->tls_verify = cfg->tls_verify;
	o->tls_dir = cfg->data_dir; /* the certificate directory sip/ makes */
	return 0;
}

/* DESIGN §1: one media worker per core by default. */
static unsigned cf_media_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static int media_begin_engine(struct callflow *cf)
{
	const struct config *cfg = cf->cfg;
	int rc;

	if (inet_pton(AF_INET, cfg->media_ip, &cf->media_ip) != 1) {
		log_err(CF_MOD, "media.ip \"%s\" is not an IPv4 address", cfg->media_ip);
		return EINVAL;
	}
	snprintf(cf->media_addr, sizeof(cf->media_addr), "%s",
	         cfg->media_advertise[0] ? cfg->media_advertise : cfg->media_ip);
	rc = media_ports_new(&cf->ports, (uint16_t)cfg->port_min, (uint16_t)cfg->port_max,
	                     (unsigned)cfg->port_quarantine_ms);
	if (!rc)
		rc = media_engine_start(&cf->media, cf_media_workers(), cf->media_ip, cf->ports);
	if (!rc)
		media_engine_set_events(cf->media, cf_media_event, cf);
	if (!rc)
		rc = media_recorder_start(&cf->recorder, 0);
	return rc;
}

int callflow_start(struct callflow **cfp, struct config *cfg, struct store *st, struct events *ev)
{
	struct callflow *cf = calloc(1, sizeof(*cf));
	struct sip_callbacks cb = {.invite = on_invite,
	                           .ended = on_ended,
	                           .leg = on_leg,
	                           .info_digit = on_info_digit,
	                           .reoffer = cf_reoffer,
	                           .ack_answer = cf_ack_answer};
	struct sip_opts o;
	unsigned recovered = 0;
	int rc;

	if (!cf)
		return ENOMEM;
	cf->cfg = config_ref(cfg);
	cf->st = st;
	cf->ev = ev;
	rc = calls_recover(st, cfg, clock_now_ms(), &recovered);
	if (rc)
		log_err(CF_MOD, "could not finish the calls a crash left: %s", strerror(rc));
	else if (recovered)
		events_kick(ev);
	rc = pin_guard_new(&cf->guard);
	if (!rc)
		rc = media_begin_engine(cf);
	if (!rc) {
		rc = cf_sip_opts(cf->cfg, &o);
		if (!rc)
			rc = sip_start(&cf->sip, &o, &cb, cf);
		cf_sip_opts_free(&o);
	}
	if (rc) {
		callflow_stop(cf);
		return rc;
	}
	*cfp = cf;
	return 0;
}

static bool listen_changed(const struct config *a, const struct config *b)
{
	if (a->nsip_listen != b->nsip_listen || a->port_min != b->port_min ||
	    a->port_max != b->port_max || strcmp(a->media_ip, b->media_ip) != 0 ||
	    strcmp(a->sip_advertise, b->sip_advertise) != 0 ||
	    a->sip_session_expires_ms != b->sip_session_expires_ms ||
	    a->sip_min_se_ms != b->sip_min_se_ms || a->tls_verify != b->tls_verify ||
	    strcmp(a->tls_certificate, b->tls_certificate) != 0 ||
	    strcmp(a->tls_key, b->tls_key) != 0 || strcmp(a->tls_ca, b->tls_ca) != 0)
		return true;
	for (size_t i = 0; i < a->nsip_listen; i++)
		if (strcmp(a->sip_listen[i], b->sip_listen[i]) != 0)
			return true;
	return false;
}

void callflow_reload(struct callflow *cf, const struct config *cfg)
{
	struct sip_opts o;
	int rc;

	if (!cf)
		return;
	if (listen_changed(cf->cfg, cfg))
		log_warn(CF_MOD,
		         "sip.listen, sip.advertise, the session timers, sip.tls, media.ip and "
		         "the RTP port range change only on restart");
	rc = cf_sip_opts(cfg, &o);
	if (!rc)
		rc = sip_set_trunks(cf->sip, o.trunks, o.ntrunks);
	cf_sip_opts_free(&o);
	if (rc)
		log_err(CF_MOD, "trunk allow lists not reloaded: %s", strerror(rc));
}

static void refuse_new(void *arg)
{
	struct callflow *cf = arg;

	cf->stopping = true;
}

void callflow_refuse_new(struct callflow *cf)
{
	if (cf && cf->sip && sip_post(cf->sip, refuse_new, cf) != 0)
		log_warn(CF_MOD, "new calls could not be stopped");
}

int callflow_active(struct callflow *cf)
{
	return cf ? atomic_load(&cf->m.active) : 0;
}

static void stop_calls(void *arg)
{
	struct callflow *cf = arg;

	cf->stopping = true;
	while (cf->calls) {
		struct cf_call *c = cf->calls;

		if (c->state == CF_BRIDGED)
			cf_end(c, STORE_CT_COMPLETED, 503, CF_OUT_COMPLETED);
		else if (c->state == CF_HUNTING)
			cf_end(c, STORE_CT_INCOMPLETE, 503, CF_OUT_REJECTED);
		else
			cf_end(c, STORE_CT_CALL_ATTEMPT, 503, CF_OUT_CALL_ATTEMPT);
	}
}

struct barrier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static int barrier_step(struct store_txn *txn, void *arg, size_t step)
{
	(void)txn;
	(void)arg;
	(void)step;
	return 0;
}

static void barrier_done(void *arg, int rc)
{
	struct barrier *b = arg;

	(void)rc;
	pthread_mutex_lock(&b->mu);
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* The writer runs jobs in order and calls async jobs' done callbacks in
 * order, after any earlier batch's: once this job's done has run, every
 * record and verdict the calls queued is stored and its callback (which
 * kicks the events worker) has returned, so the events worker may stop. */
static void writer_barrier(struct store *st)
{
	struct barrier b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

	if (store_write_async(st, barrier_step, &b, 1, barrier_done) != 0) {
		log_warn(CF_MOD, "the last call records may not be stored");
		return;
	}
	pthread_mutex_lock(&b.mu);
	while (!b.done)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
}

void callflow_stop(struct callflow *cf)
{
	if (!cf)
		return;
	if (cf->sip) {
		if (sip_post(cf->sip, stop_calls, cf) != 0)
			log_warn(CF_MOD, "calls in progress could not be ended cleanly");
		sip_stop(cf->sip);
	}
	/* The ended calls' recordings close and queue their records... */
	if (cf->recorder)
		media_recorder_stop(cf->recorder);
	/* ...which the barrier then waits for with the rest. */
	if (cf->sip)
		writer_barrier(cf->st);
	if (cf->media)
		media_engine_stop(cf->media);
	media_ports_free(cf->ports);
	pin_guard_free(cf->guard);
	idmap_free(&cf->by_in);
	idmap_free(&cf->by_out);
	idmap_free(&cf->by_serial);
	config_unref(cf->cfg);
	free(cf);
}
