/* register: one REGISTER binding per trunk that asks for it, kept fresh by
 * nua itself (it re-REGISTERs before expiry and un-REGISTERs on shutdown);
 * here only the challenge is answered and the outcome counted. */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "core/base/log.h"

#define MOD "sip"

/* "sip:username@host" of the trunk's proxy (no port: an address of
 * record names a domain). */
static int reg_aor(const struct sip_trunk_acl *t, char *aor, size_t len)
{
	su_home_t *home = su_home_new(sizeof(*home));
	url_t *u = home ? url_make(home, t->outbound) : NULL;
	int n = -1;

	if (u && (u->url_type == url_sip || u->url_type == url_sips) && u->url_host)
		n = snprintf(aor, len, "<%s:%s@%s>", u->url_type == url_sips ? "sips" : "sip",
		             t->username, u->url_host);
	su_home_unref(home);
	return n < 0 || (size_t)n >= len ? EINVAL : 0;
}

static void reg_start(struct sip *sip, const struct sip_trunk_acl *t)
{
	char aor[512], expires[16];
	struct sip_reg *r;

	if (reg_aor(t, aor, sizeof(aor))) {
		log_err(MOD, "trunk %s: cannot REGISTER to \"%s\"", t->name, t->outbound);
		atomic_fetch_add_explicit(&sip->stats.register_failed, 1, memory_order_relaxed);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->nh = nua_handle(sip->nua, NULL, SIPTAG_TO_STR(aor), SIPTAG_FROM_STR(aor),
	                               TAG_END()))) {
		log_err(MOD, "trunk %s: no memory to REGISTER", t->name);
		free(r);
		return;
	}
	r->trunk = t;
	r->next = sip->regs;
	sip->regs = r;
	/* A TLS registrar proves the trunk's name, as its legs do (tls.c). */
	if (sip_uri_secure(t->outbound)) {
		struct sip_tls_target tls;

		if (sip_tls_target(t, t->outbound, &tls) == 0)
			nua_set_hparams(r->nh, NUTAG_PROXY(tls.proxy), TAG_END());
	}
	snprintf(expires, sizeof(expires), "%u", t->register_expires ? t->register_expires : 3600);
	/* No RFC 5626 outbound extras: a trunk's registrar wants a plain
	 * binding, not OPTIONS keep-alives or a validation request. */
	nua_register(r->nh, NUTAG_REGISTRAR(t->outbound), SIPTAG_EXPIRES_STR(expires),
	             NUTAG_OUTBOUND("no-options-keepalive, no-validate, no-natify"), TAG_END());
	log_info(MOD, "trunk %s: REGISTER %s for %ss", t->name, aor, expires);
}

void sip_register_start(struct sip *sip)
{
	for (size_t i = 0; i < sip->opts.ntrunks; i++) {
		const struct sip_trunk_acl *t = &sip->opts.trunks[i];

		if (t->do_register && t->outbound && t->outbound[0] && t->username &&
		    t->username[0])
			reg_start(sip, t);
		else if (t->do_register)
			log_warn(MOD, "trunk %s: register set without outbound and username",
			         t->name);
	}
}

static struct sip_reg *reg_find(struct sip *sip, nua_handle_t *nh)
{
	for (struct sip_reg *r = sip->regs; r; r = r->next)
		if (r->nh == nh)
			return r;
	return NULL;
}

void sip_register_event(struct sip *sip, nua_event_t event, int status, nua_handle_t *nh,
                        sip_t const *s)
{
	struct sip_reg *r = reg_find(sip, nh);
	const struct sip_trunk_acl *t;

	if (!r || status < 200)
		return;
	t = r->trunk;
	if (event == nua_r_unregister) {
		log_info(MOD, "trunk %s: unREGISTER %d", t->name, status);
		return;
	}
	if ((status == 401 || status == 407) && !r->challenged) {
		/* nua re-REGISTERs with the cached credentials by itself
		 * from here on; a challenge reaching us again means they
		 * were refused. */
		r->challenged = true;
		if (sip_auth_answer(sip, nh, status, s, t->username, t->password, t->realm,
		                    t->name) == 0)
			return;
	}
	if (status < 300) {
		r->challenged = false;
		atomic_fetch_add_explicit(&sip->stats.register_ok, 1, memory_order_relaxed);
		if (!r->ok)
			log_info(MOD, "trunk %s: registered", t->name);
		r->ok = true;
		return;
	}
	r->ok = false;
	atomic_fetch_add_explicit(&sip->stats.register_failed, 1, memory_order_relaxed);
	log_warn(MOD, "trunk %s: REGISTER failed: %d", t->name, status);
}

void sip_register_free_all(struct sip *sip)
{
	while (sip->regs) {
		struct sip_reg *next = sip->regs->next;

		nua_handle_destroy(sip->regs->nh);
		free(sip->regs);
		sip->regs = next;
	}
}
