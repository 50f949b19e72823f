/* stack: the SIP thread's life: its su_root and nua, the queue other threads
 * post onto (woken by an eventfd registered in the root), start and stop. */
#include "sip/sip_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

#include "core/base/log.h"

#define MOD "sip"

static _Thread_local struct sip *on_thread;

bool sip_on_thread(const struct sip *sip)
{
	return on_thread == sip;
}

struct sip *sip_current(void)
{
	return on_thread;
}

void sip_opts_free(struct sip_opts *o)
{
	for (size_t i = 0; i < o->nlisten; i++)
		free((char *)o->listen[i]);
	free((void *)o->listen);
	for (size_t i = 0; i < o->ntrunks; i++) {
		const struct sip_trunk_acl *t = &o->trunks[i];

		free((char *)t->name);
		free((void *)t->allow);
		free((char *)t->outbound);
		free((char *)t->username);
		if (t->password)
			explicit_bzero((char *)t->password, strlen(t->password));
		free((char *)t->password);
		free((char *)t->realm);
		free((char *)t->tls_subject);
	}
	free((void *)o->trunks);
	free((char *)o->advertise);
	free((char *)o->tls_certificate);
	free((char *)o->tls_key);
	free((char *)o->tls_ca);
	free((char *)o->tls_dir);
	memset(o, 0, sizeof(*o));
}

/* strdup() that keeps NULL; false only when out of memory. */
static bool dup_opt(const char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

static int trunk_copy(struct sip_trunk_acl *d, const struct sip_trunk_acl *s)
{
	struct sip_cidr *allow = calloc(s->nallow + 1, sizeof(*allow));
	bool ok;

	*d = *s;
	d->allow = allow;
	d->outbound = d->username = d->password = d->realm = d->tls_subject = NULL;
	d->name = strdup(s->name ? s->name : "");
	ok = dup_opt(&d->outbound, s->outbound) && dup_opt(&d->username, s->username) &&
	     dup_opt(&d->password, s->password) && dup_opt(&d->realm, s->realm) &&
	     dup_opt(&d->tls_subject, s->tls_subject);
	if (!allow || !d->name || !ok)
		return ENOMEM;
	if (s->nallow)
		memcpy(allow, s->allow, s->nallow * sizeof(*allow));
	return 0;
}

int sip_opts_copy(struct sip_opts *dst, const struct sip_opts *src)
{
	const char **listen = calloc(src->nlisten + 1, sizeof(*listen));
	struct sip_trunk_acl *trunks = calloc(src->ntrunks + 1, sizeof(*trunks));

	dst->listen = listen;
	dst->trunks = trunks;
	if (!listen || !trunks)
		return ENOMEM;
	for (; dst->nlisten < src->nlisten; dst->nlisten++) {
		listen[dst->nlisten] = strdup(src->listen[dst->nlisten]);
		if (!listen[dst->nlisten])
			return ENOMEM;
	}
	if (!dup_opt(&dst->advertise, src->advertise) ||
	    !dup_opt(&dst->tls_certificate, src->tls_certificate) ||
	    !dup_opt(&dst->tls_key, src->tls_key) || !dup_opt(&dst->tls_ca, src->tls_ca) ||
	    !dup_opt(&dst->tls_dir, src->tls_dir))
		return ENOMEM;
	dst->session_expires_ms = src->session_expires_ms;
	dst->min_se_ms = src->min_se_ms;
	dst->tls_verify = src->tls_verify;
	/* ntrunks counts a failed copy too, so opts_free() frees its parts. */
	while (dst->ntrunks < src->ntrunks) {
		size_t i = dst->ntrunks++;

		if (trunk_copy(&trunks[i], &src->trunks[i]))
			return ENOMEM;
	}
	return 0;
}

static void queue_run(struct sip *sip)
{
	struct sip_job *job;

	pthread_mutex_lock(&sip->lock);
	job = sip->qhead;
	sip->qhead = sip->qtail = NULL;
	pthread_mutex_unlock(&sip->lock);
	while (job) {
		struct sip_job *next = job->next;

		job->fn(job->arg);
		free(job);
		job = next;
	}
}

static int queue_wakeup(struct sip *sip, su_wait_t *w, void *unused)
{
	uint64_t n;

	(void)w;
	(void)unused;
	if (read(sip->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn(MOD, "eventfd read: %s", strerror(errno));
	queue_run(sip);
	return 0;
}

/* Appends a job; closed is checked by the caller. Called with lock held. */
static int queue_push(struct sip *sip, void (*fn)(void *arg), void *arg)
{
	struct sip_job *job = malloc(sizeof(*job));
	uint64_t one = 1;

	if (!job)
		return ENOMEM;
	*job = (struct sip_job){.fn = fn, .arg = arg};
	if (sip->qtail)
		sip->qtail->next = job;
	else
		sip->qhead = job;
	sip->qtail = job;
	if (write(sip->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err(MOD, "eventfd write: %s", strerror(errno));
	return 0;
}

int sip_post(struct sip *sip, void (*fn)(void *arg), void *arg)
{
	int rc;

	pthread_mutex_lock(&sip->lock);
	rc = sip->closed ? ESHUTDOWN : queue_push(sip, fn, arg);
	pthread_mutex_unlock(&sip->lock);
	return rc;
}

static void nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                      struct sip *sip, nua_handle_t *nh, struct sip_call *call, sip_t const *s,
                      tagi_t tags[])
{
	if (event == nua_r_shutdown) {
		if (status >= 200) {
			sip->shut_down = true;
			su_root_break(sip->root);
		}
		return;
	}
	if (event == nua_r_register || event == nua_r_unregister) {
		sip_register_event(sip, event, status, nh, s);
		return;
	}
	sip_call_event(event, status, phrase, nua, sip, nh, call, s, tags);
}

/* The host part of sip_opts.advertise ("host", "host:port", "[v6]:port"),
 * its port in *port ("" when none). */
static void advertise_split(const char *adv, char *host, size_t hlen, char *port, size_t plen)
{
	const char *end = adv[0] == '[' ? strchr(adv, ']') : NULL;
	const char *colon = end ? strchr(end, ':') : strchr(adv, ':');

	if (colon && !end && strchr(colon + 1, ':'))
		colon = NULL; /* a bare IPv6 address */
	snprintf(host, hlen, "%.*s", colon ? (int)(colon - adv) : (int)strlen(adv), adv);
	snprintf(port, plen, "%s", colon ? colon + 1 : "");
}

/* Behind NAT the listen URL names us by sip.advertise and binds its
 * ";maddr=": "sip:127.0.0.1:5060;transport=udp" with advertise
 * "pb.example" becomes "sip:pb.example:5060;maddr=127.0.0.1;transport=udp".
 * nta_agent_add_tport() then binds tport to maddr and keeps the URL's host
 * as the transport's canonical name, and agent_init_via() writes that name
 * into the Via of every request (and the Contact nua derives from it, in
 * requests and in responses to inbound INVITEs). The Via's port is always
 * the bound socket's (tport_get_address()): an advertised port that differs
 * from the listen port reaches only From, P-Asserted-Identity and the
 * Contact of outbound INVITEs (leg.c), so it is logged. */
static int advertise_url(const char *advertise, char *url, size_t len)
{
	char host[256], aport[16], bind[300], *semi, *hp, *colon;
	const char *params;
	bool bare6;
	int n;

	advertise_split(advertise, host, sizeof(host), aport, sizeof(aport));
	semi = strchr(url, ';');
	params = semi ? semi : "";
	snprintf(bind, sizeof(bind), "%.*s", semi ? (int)(semi - url) : (int)strlen(url), url);
	hp = strchr(bind, ':') + 1; /* after "sip:" or "sips:" */
	hp[-1] = '\0';
	colon = hp[0] == '[' ? strchr(hp, ']') : hp;
	colon = colon ? strrchr(colon, ':') : NULL;
	if (!colon)
		return EINVAL;
	*colon = '\0';
	if (aport[0] && strcmp(aport, colon + 1) != 0)
		log_warn(MOD,
		         "sip.advertise port %s differs from the listen port %s: Via and nua's "
		         "Contact carry %s (Sofia names a transport by the port it bound)",
		         aport, colon + 1, colon + 1);
	bare6 = host[0] != '[' && strchr(host, ':'); /* a bare IPv6 address: bracket it */
	n = snprintf(url, len, "%s:%s%s%s:%s;maddr=%s%s", bind, bare6 ? "[" : "", host,
	             bare6 ? "]" : "", colon + 1, hp, params);
	return n < 0 || (size_t)n >= len ? EINVAL : 0;
}

/* The listen entries on one ADDR:PORT of one scheme: one nua URL. */
struct listen_group {
	bool tls, udp, tcp;
	char hostport[280];
};

/* "udp:A:P" and "tcp:A:P" join one "sip:" group, "tls:A:P" a "sips:" one. */
static int listen_add(struct listen_group g[2], int *n, const char *entry)
{
	bool tls = sip_tls_listen_entry(entry), udp = strncmp(entry, "udp:", 4) == 0;
	const char *hp = entry + 4;
	int k;

	if (!tls && !udp && strncmp(entry, "tcp:", 4) != 0)
		return EINVAL;
	if (!hp[0] || strlen(hp) >= sizeof(g[0].hostport))
		return EINVAL;
	for (k = 0; k < *n; k++)
		if (g[k].tls == tls && strcmp(g[k].hostport, hp) == 0)
			break;
	if (k == *n) {
		if (*n == 2)
			return ENOTSUP;
		g[k] = (struct listen_group){.tls = tls};
		snprintf(g[k].hostport, sizeof(g[k].hostport), "%s", hp);
		(*n)++;
	}
	g[k].udp |= udp;
	g[k].tcp |= !udp && !tls;
	return 0;
}

/* Trunks dialled over TLS need a TLS transport even when nobody is to
 * reach pinbridge over TLS: one on an ephemeral port of the first listen
 * address (it also takes the trunk's in-dialog requests to our Contact). */
static int listen_tls_implicit(const struct sip_opts *o, struct listen_group g[2], int *n)
{
	char *colon;

	for (int k = 0; k < *n; k++)
		if (g[k].tls)
			return 0;
	if (!sip_tls_wanted(o) || *n == 0)
		return 0;
	if (*n == 2) {
		log_err(MOD, "a trunk is dialled over TLS, and nua binds two listen addresses: "
		             "make one of them a tls: entry");
		return ENOTSUP;
	}
	g[1] = (struct listen_group){.tls = true};
	snprintf(g[1].hostport, sizeof(g[1].hostport), "%s", g[0].hostport);
	colon = strrchr(g[1].hostport, ':');
	if (!colon || colon[1] == ']')
		return EINVAL;
	snprintf(colon, sizeof(g[1].hostport) - (size_t)(colon - g[1].hostport), ":0");
	log_info(MOD, "no tls: listen entry: TLS legs go from an ephemeral port of %.*s",
	         (int)(colon - g[1].hostport), g[1].hostport);
	*n = 2;
	return 0;
}

/* nua binds at most two URLs (NUTAG_URL and NUTAG_SIPS_URL; a repeated
 * NUTAG_URL replaces the earlier one). A "sip:" URL without ";transport="
 * binds both UDP and TCP, so udp and tcp entries on one ADDR:PORT share a
 * URL; tls entries make "sips:ADDR:PORT" (Sofia's tport_tls). */
static int listen_urls(const struct sip_opts *o, char urls[2][300])
{
	struct listen_group g[2];
	int n = 0, rc = 0;

	for (size_t i = 0; i < o->nlisten && !rc; i++) {
		rc = listen_add(g, &n, o->listen[i]);
		if (rc == EINVAL)
			log_err(MOD, "bad listen entry \"%s\"", o->listen[i]);
		else if (rc)
			log_err(MOD, "more than two listen addresses; nua binds two");
	}
	if (!rc)
		rc = listen_tls_implicit(o, g, &n);
	if (rc)
		return -rc;
	for (int k = 0; k < n; k++)
		snprintf(urls[k], sizeof(urls[0]), "%s:%s%s%s", g[k].tls ? "sips" : "sip",
		         g[k].hostport, g[k].udp != g[k].tcp ? ";transport=" : "",
		         g[k].udp != g[k].tcp ? (g[k].udp ? "udp" : "tcp") : "");
	for (int k = 0; o->advertise && o->advertise[0] && k < n; k++) {
		if (advertise_url(o->advertise, urls[k], sizeof(urls[0]))) {
			log_err(MOD, "sip.advertise \"%s\" does not fit a listen URL",
			        o->advertise);
			return -EINVAL;
		}
	}
	return n;
}

/* Whole seconds for RFC 4028's delta-seconds, rounded up; 0 stays 0. */
static unsigned timer_secs(int64_t ms)
{
	if (ms <= 0)
		return 0;
	return ms >= (int64_t)UINT32_MAX * 1000 ? UINT32_MAX : (unsigned)((ms + 999) / 1000);
}

/* Sofia parses P-Asserted-Identity and its other extension headers only
 * with the extended message class made the default, once per process. */
static void mclass_extend(void)
{
	if (sip_update_default_mclass(sip_extend_mclass(NULL)) < 0)
		log_err(MOD, "cannot enable Sofia's extension headers (P-Asserted-Identity)");
}

/* Sofia's TLS transport (sip/tls.c): its certificate directory, and the
 * outbound policy: the chain and its dates against cafile.pem, and the
 * peer's name against the connection's canonical name (the leg's handle
 * proxy). Inbound connections are not asked for a certificate. nua hands
 * these to every transport it binds; only tport_tls reads them, but for
 * TPTAG_SDWN_ERROR(1): a connection that closes, a refused handshake
 * included, then fails the requests still waiting for their first
 * response on it at once (503) rather than at Timer B, 32 s later (nta
 * sets 0; nua sets 1 for its registrations' connections). It holds for
 * TCP as well once TLS is on. */
#define TLS_TAGS(sip)                                                                              \
	TAG_IF((sip)->tls_dir, NUTAG_CERTIFICATE_DIR((sip)->tls_dir)),                             \
	    TAG_IF((sip)->tls_dir,                                                                 \
	           TPTAG_TLS_VERIFY_POLICY((sip)->opts.tls_verify ? TPTLS_VERIFY_SUBJECTS_OUT      \
	                                                          : TPTLS_VERIFY_NONE)),           \
	    TAG_IF((sip)->tls_dir, TPTAG_TLS_VERIFY_DATE(1)),                                      \
	    TAG_IF((sip)->tls_dir, TPTAG_TLS_VERIFY_DEPTH(4)),                                     \
	    TAG_IF((sip)->tls_dir, TPTAG_SDWN_ERROR(1))

static nua_t *nua_make(struct sip *sip, int *rc)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char urls[2][300];
	int n = listen_urls(&sip->opts, urls);
	nua_t *nua;

	pthread_once(&once, mclass_extend);

	if (n < 0) {
		*rc = -n;
		return NULL;
	}
	/* SIPTAG_ALLOW replaces nua's list (NUTAG_ALLOW would add to it).
	 * MESSAGE and REFER are in it only so that they reach the refusals
	 * (403) rather than nua's 405: nua rejects MESSAGE itself with
	 * NUTAG_ENABLEMESSAGE(0), and REFER is handed to us by APPL_METHOD.
	 * A session timer we refresh (RFC 4028) uses UPDATE without SDP: a
	 * re-INVITE from nua would carry no offer, as media is ours.
	 * NUTAG_SESSION_TIMER(0) is set, not left out: unset, nua still caps
	 * a caller's interval at its own default of 1800 s, and its min_se
	 * default is 120 s. nua's refresh timer ticks once a second, so the
	 * shortest useful interval is about 2 s (refresh at 1 s). Sofia's own
	 * 422 (session_timer_check_min_se()) writes Min-SE: 90 whenever our
	 * min_se is below RFC 4028's floor of 90 s: a caller retrying with
	 * that gets a longer session than it needed, nothing worse, and only a
	 * test configuration goes below 90 s. */
	nua = nua_create(
	    sip->root, nua_event, sip, TAG_IF(n > 0, NUTAG_URL(urls[0])),
	    TAG_IF(n > 1, NUTAG_SIPS_URL(urls[1])), TLS_TAGS(sip), NUTAG_MEDIA_ENABLE(0),
	    NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0), NUTAG_ENABLEMESSAGE(0),
	    NUTAG_UPDATE_REFRESH(1), NUTAG_SESSION_TIMER(timer_secs(sip->opts.session_expires_ms)),
	    NUTAG_MIN_SE(sip->opts.min_se_ms > 0 ? timer_secs(sip->opts.min_se_ms) : 90),
	    SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, PRACK, "
	                     "MESSAGE, REFER"),
	    NUTAG_APPL_METHOD("REFER"), SIPTAG_USER_AGENT_STR("pinbridge/0.1"), TAG_END());
	*rc = nua ? 0 : EIO;
	if (!nua)
		log_err(MOD, "cannot create the SIP stack (listen address in use?)");
	return nua;
}

static void start_done(struct sip *sip, int rc)
{
	pthread_mutex_lock(&sip->lock);
	sip->start_rc = rc;
	sip->started = true;
	pthread_cond_broadcast(&sip->cond);
	pthread_mutex_unlock(&sip->lock);
}

static void *sip_thread(void *p)
{
	struct sip *sip = p;
	int rc = EIO;

	on_thread = sip;
	su_init();
	sip->root = su_root_create(sip);
	if (!sip->root)
		goto out;
	/* nua runs its stack in a clone task of this root: a thread of its
	 * own unless threading is off, and then every event and every
	 * request of ours crosses threads. Off, it shares this thread's
	 * port: one thread for all of SIP, as DESIGN §7 says. */
	su_root_threading(sip->root, 0);
	if (su_wait_create(sip->wait, sip->efd, SU_WAIT_IN) < 0 ||
	    (sip->wait_index = su_root_register(sip->root, sip->wait, queue_wakeup, NULL, 0)) < 0) {
		log_err(MOD, "cannot register the queue's eventfd");
		goto out;
	}
	sip->nua = nua_make(sip, &rc);
	if (!sip->nua)
		goto out;
	start_done(sip, 0);
	sip_register_start(sip);
	su_root_run(sip->root);
	/* A job accepted before sip_stop() closed the queue still runs. */
	queue_run(sip);
	sip_call_free_all(sip);
	sip_register_free_all(sip);
	nua_destroy(sip->nua);
	sip->nua = NULL;
	rc = 0;
out:
	if (rc)
		start_done(sip, rc);
	if (sip->root && sip->wait_index > 0)
		su_root_deregister(sip->root, sip->wait_index);
	if (sip->root)
		su_root_destroy(sip->root);
	sip->root = NULL;
	su_deinit();
	return NULL;
}

static void stop_job(void *arg)
{
	struct sip *sip = arg;

	nua_shutdown(sip->nua);
}

static void sip_free(struct sip *sip)
{
	while (sip->qhead) {
		struct sip_job *next = sip->qhead->next;

		free(sip->qhead);
		sip->qhead = next;
	}
	sip_tls_dir_remove(sip);
	sip_opts_free(&sip->opts);
	sip_opts_free(&sip->acl);
	if (sip->efd >= 0)
		close(sip->efd);
	pthread_cond_destroy(&sip->cond);
	pthread_mutex_destroy(&sip->lock);
	free(sip);
}

int sip_start(struct sip **sipp, const struct sip_opts *o, const struct sip_callbacks *cb,
              void *arg)
{
	struct sip *sip = calloc(1, sizeof(*sip));
	int rc;

	if (!sip)
		return ENOMEM;
	sip->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&sip->lock, NULL);
	pthread_cond_init(&sip->cond, NULL);
	sip->cb = *cb;
	sip->arg = arg;
	rc = sip->efd < 0 ? errno : sip_opts_copy(&sip->opts, o);
	if (!rc)
		rc = sip_opts_copy(&sip->acl,
		                   &(struct sip_opts){.trunks = o->trunks, .ntrunks = o->ntrunks});
	if (!rc && sip_tls_wanted(o))
		rc = sip_tls_dir_make(sip);
	if (rc)
		goto out;
	sip_tls_log_start();
	rc = pthread_create(&sip->thread, NULL, sip_thread, sip);
	if (rc)
		goto out;
	pthread_mutex_lock(&sip->lock);
	while (!sip->started)
		pthread_cond_wait(&sip->cond, &sip->lock);
	rc = sip->start_rc;
	pthread_mutex_unlock(&sip->lock);
	if (rc) {
		pthread_join(sip->thread, NULL);
		goto out;
	}
	*sipp = sip;
	return 0;
out:
	sip_free(sip);
	return rc;
}

void sip_stop(struct sip *sip)
{
	if (!sip)
		return;
	assert(!sip_on_thread(sip)); /* it would wait for itself */
	pthread_mutex_lock(&sip->lock);
	sip->closed = true;
	if (queue_push(sip, stop_job, sip) != 0)
		log_err(MOD, "cannot queue the shutdown; the thread may not stop");
	pthread_mutex_unlock(&sip->lock);
	pthread_join(sip->thread, NULL);
	sip_free(sip);
}

void sip_get_stats(struct sip *sip, struct sip_stats *st)
{
	const struct sip_counters *c = &sip->stats;

	*st = (struct sip_stats){
	    .handles = atomic_load_explicit(&c->handles, memory_order_relaxed),
	    .invites_in = atomic_load_explicit(&c->invites_in, memory_order_relaxed),
	    .acl_refused = atomic_load_explicit(&c->acl_refused, memory_order_relaxed),
	    .legs_out = atomic_load_explicit(&c->legs_out, memory_order_relaxed),
	    .auth_answered = atomic_load_explicit(&c->auth_answered, memory_order_relaxed),
	    .register_ok = atomic_load_explicit(&c->register_ok, memory_order_relaxed),
	    .register_failed = atomic_load_explicit(&c->register_failed, memory_order_relaxed),
	    .tls_handshake_failed =
	        atomic_load_explicit(&c->tls_handshake_failed, memory_order_relaxed),
	    .tls_peer_refused = atomic_load_explicit(&c->tls_peer_refused, memory_order_relaxed),
	};
}
