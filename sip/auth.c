/* auth: answering a trunk's digest challenge (401/407) once, and only when
 * its realm is the configured one, so credentials go to no one else. */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/su_tag.h>

#include "core/base/log.h"

#define MOD "sip"

/* The challenge's realm without its quotes; false when it has none. */
static bool challenge_realm(const msg_auth_t *au, char *out, size_t len)
{
	const char *r;
	size_t n;

	if (!au || !au->au_scheme || strcasecmp(au->au_scheme, "Digest") != 0)
		return false;
	r = msg_params_find(au->au_params, "realm=");
	if (!r)
		return false;
	n = strlen(r);
	if (n >= 2 && r[0] == '"' && r[n - 1] == '"')
		r++, n -= 2;
	if (n >= len || memchr(r, '"', n) || memchr(r, '\\', n))
		return false;
	memcpy(out, r, n);
	out[n] = '\0';
	return true;
}

int sip_auth_answer(struct sip *sip, nua_handle_t *nh, int status, sip_t const *s,
                    const char *username, const char *password, const char *realm,
                    const char *log_id)
{
	const msg_auth_t *au = NULL;
	char got[256], auth[1024];
	int n;

	if (s)
		au = status == 401 ? s->sip_www_authenticate : s->sip_proxy_authenticate;
	if (!username || !password || !challenge_realm(au, got, sizeof(got))) {
		log_msg(LVL_INFO, MOD, log_id, "%d challenge not answered: no credentials or realm",
		        status);
		return EACCES;
	}
	if (realm && realm[0] && strcmp(realm, got) != 0) {
		log_msg(LVL_WARN, MOD, log_id, "%d challenge for realm \"%s\", not \"%s\": refused",
		        status, got, realm);
		return EACCES;
	}
	/* Sofia splits "scheme:"realm":user:password" at the colons after the
	 * quoted realm, so a user with a colon cannot be sent. */
	if (strchr(username, ':'))
		return EACCES;
	n = snprintf(auth, sizeof(auth), "Digest:\"%s\":%s:%s", got, username, password);
	if (n < 0 || (size_t)n >= sizeof(auth))
		return EACCES;
	/* nua copies the string into its own message before this returns. */
	nua_authenticate(nh, NUTAG_AUTH(auth), TAG_END());
	explicit_bzero(auth, sizeof(auth));
	atomic_fetch_add_explicit(&sip->stats.auth_answered, 1, memory_order_relaxed);
	log_msg(LVL_INFO, MOD, log_id, "%d challenge of realm \"%s\" answered as %s", status, got,
	        username);
	return 0;
}
