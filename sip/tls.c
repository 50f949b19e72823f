/* tls: SIP over TLS on Sofia's tport_tls: which requests are TLS and the
 * name their peer must prove, and the transport's failures, counted from
 * Sofia's tport log (the only place Sofia reports them).
 *
 * Per-trunk verification. Sofia-SIP 1.12 trusts per transport: one
 * cafile.pem, one policy, no hook of ours in the handshake. With
 * TPTLS_VERIFY_SUBJECTS_OUT its check (tls_post_connection_check() in
 * tport_tls.c) refuses an outbound connection unless the chain verifies
 * against cafile.pem, dates included, and the connection's canonical
 * name, the host of the URI it was opened for, is among the certificate's
 * subjects. A refused connection is closed before any SIP byte is written
 * on it (TPTAG_SDWN_ERROR, stack.c, then fails its request at once with
 * nta's 503), and tport_by_addrinfo() reuses a TLS connection for another
 * name only when its verified subjects hold that name too. So each TLS
 * leg (and a TLS trunk's REGISTER) gets a handle proxy, NUTAG_PROXY,
 * which nua uses for every request of the handle (INVITE, ACK, CANCEL,
 * BYE, UPDATE, re-INVITE): its host is the name the trunk must prove,
 * tls_subject or else the outbound host, and ;maddr= names the outbound
 * host when the two differ: "sips:sbc.example:5061;maddr=192.0.2.7". The
 * Request-URI and To stay as sip_dial() documents them; in-dialog
 * requests go to the trunk's outbound address, not the callee's Contact.
 * The name is thus bound before the INVITE, and any SDES key in its SDP,
 * leaves, and for every later request of the leg. A check of our own
 * after the fact (tport_delivered_from_subjects() on a response) would
 * come after the keys had gone.
 *
 * What counts as a subject is Sofia's: dNSName and URI subjectAltNames,
 * and the CN. tport_tls.c means to take iPAddress ones as well, but looks
 * for the name "IP" where OpenSSL (3.0 on Debian 12) says "IP Address": an
 * address that is only an iPAddress subjectAltName is never seen, and such
 * a certificate is refused (fail closed). Nor are wildcards matched. A
 * trunk reached by address needs that address as its CN or a DNS-type
 * subjectAltName, or a tls_subject naming a DNS name its certificate
 * carries. Inbound TLS asks for no client certificate: the trunks' allow
 * lists decide, as for UDP and TCP.
 *
 * Sofia 1.12.11's tls_free() never SSL_free()s a closed connection's SSL
 * object (about 25 KB each): nothing here can reach it; the README says
 * so, and the tests suppress it under LeakSanitizer. */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/url.h>

#include "core/base/clock.h"
#include "core/base/log.h"

#define MOD "sip"

#define TLS_LOG_PER_SEC 10

/* Sofia documents tport_log as the tport module's log object (level from
 * TPORT_DEBUG) but installs no header that declares it. */
extern su_log_t tport_log[];

static bool set(const char *s)
{
	return s && s[0];
}

bool sip_tls_listen_entry(const char *entry)
{
	return strncmp(entry, "tls:", 4) == 0;
}

bool sip_tls_wanted(const struct sip_opts *o)
{
	for (size_t i = 0; i < o->nlisten; i++)
		if (sip_tls_listen_entry(o->listen[i]))
			return true;
	for (size_t i = 0; i < o->ntrunks; i++)
		if (sip_uri_secure(o->trunks[i].outbound))
			return true;
	return false;
}

const struct sip_trunk_acl *sip_tls_trunk(const struct sip *sip, const char *uri)
{
	for (size_t i = 0; i < sip->acl.ntrunks; i++)
		if (sip->acl.trunks[i].outbound && strcmp(sip->acl.trunks[i].outbound, uri) == 0)
			return &sip->acl.trunks[i];
	return NULL;
}

int sip_tls_target(const struct sip_trunk_acl *tr, const char *uri, struct sip_tls_target *t)
{
	su_home_t *home = su_home_new(sizeof(*home));
	url_t *u = home ? url_make(home, uri) : NULL;
	const char *name;
	bool v6, other;
	int n, rc = EINVAL;

	*t = (struct sip_tls_target){.trunk = tr ? tr->name : "?"};
	if (!u || !u->url_host || !u->url_host[0])
		goto out;
	name = tr && set(tr->tls_subject) ? tr->tls_subject : u->url_host;
	snprintf(t->name, sizeof(t->name), "%s", name);
	v6 = name[0] != '[' && strchr(name, ':'); /* a bare IPv6 tls_subject */
	other = strcasecmp(name, u->url_host) != 0;
	n = snprintf(t->proxy, sizeof(t->proxy), "%s:%s%s%s%s%s%s%s%s",
	             u->url_type == url_sips ? "sips" : "sip", v6 ? "[" : "", name, v6 ? "]" : "",
	             u->url_port ? ":" : "", u->url_port ? u->url_port : "", other ? ";maddr=" : "",
	             other ? u->url_host : "", u->url_type == url_sips ? "" : ";transport=tls");
	if (n > 0 && (size_t)n < sizeof(t->proxy))
		rc = 0;
out:
	su_home_unref(home);
	return rc;
}

/* --- failures, from Sofia's tport log --------------------------------------- */

/* A refused chain comes as four lines from tls_verify_cb(); OpenSSL stops
 * at the first error, so one group per connection. Per thread: each SIP
 * thread runs its own transports. */
static _Thread_local struct {
	bool open;
	char subject[256], issuer[256];
} chain;

static void failed(struct sip *sip, bool refused, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failed(struct sip *sip, bool refused, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sip->tls_why, sizeof(sip->tls_why), fmt, ap);
	va_end(ap);
	sip->tls_seq++;
	atomic_fetch_add_explicit(refused ? &sip->stats.tls_peer_refused
	                                  : &sip->stats.tls_handshake_failed,
	                          1, memory_order_relaxed);
	/* Anyone can open connections that fail: at most TLS_LOG_PER_SEC
	 * lines a second, the rest only counted (and summed up after). */
	if ((uint64_t)clock_mono_us() / 1000000 != sip->tls_log_sec) {
		if (sip->tls_log_n > TLS_LOG_PER_SEC)
			log_warn(MOD, "TLS: %u more failures not logged",
			         sip->tls_log_n - TLS_LOG_PER_SEC);
		sip->tls_log_sec = (uint64_t)clock_mono_us() / 1000000;
		sip->tls_log_n = 0;
	}
	if (sip->tls_log_n++ < TLS_LOG_PER_SEC)
		log_warn(MOD, "TLS: %s", sip->tls_why);
}

/* The text after "key" in line, up to the end of the line. */
static void after(const char *line, const char *key, char *out, size_t len)
{
	const char *p = strstr(line, key);

	snprintf(out, len, "%s", p ? p + strlen(key) : "");
	out[strcspn(out, "\r\n")] = '\0';
}

/* The markers are tport_tls.c's (Sofia-SIP 1.12.11); the tests fail if
 * they ever change. */
static void tport_line(struct sip *sip, const char *line)
{
	char why[256];

	if (strstr(line, "-Error with certificate at depth:")) {
		chain.open = true;
		chain.subject[0] = chain.issuer[0] = '\0';
	} else if (chain.open && strstr(line, "  issuer   = ")) {
		after(line, "  issuer   = ", chain.issuer, sizeof(chain.issuer));
	} else if (chain.open && strstr(line, "  subject  = ")) {
		after(line, "  subject  = ", chain.subject, sizeof(chain.subject));
	} else if (chain.open && strstr(line, "  err ")) {
		chain.open = false;
		after(line, ":", why, sizeof(why));
		failed(sip, true, "refused the certificate of %s (issuer %s), not trusted: %s",
		       chain.subject, chain.issuer, why);
	} else if (strstr(line, "Peer Subject Mismatch (")) {
		after(line, "Peer Subject Mismatch (", why, sizeof(why));
		why[strcspn(why, ")")] = '\0';
		failed(sip, true, "refused a certificate that does not name %s", why);
	} else if (strstr(line, "TLS setup failed")) {
		failed(sip, false, "handshake failed (peer not speaking TLS, or refusing ours)");
	} else {
		log_debug(MOD, "sofia tport: %.*s", (int)strcspn(line, "\r\n"), line);
	}
}

static void tport_logger(void *stream, char const *fmt, va_list ap)
{
	struct sip *sip = sip_current();
	char line[1024];

	(void)stream;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (sip)
		tport_line(sip, line);
	else
		log_debug(MOD, "sofia tport: %.*s", (int)strcspn(line, "\r\n"), line);
}

static void log_hook(void)
{
	su_log_redirect(tport_log, tport_logger, NULL);
	/* The failures are logged at level 3. Unset, tport_log follows
	 * SOFIA_DEBUG (default 3 too); TPORT_DEBUG still wins. */
	if (!getenv("TPORT_DEBUG"))
		su_log_set_level(tport_log, 3);
}

void sip_tls_log_start(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, log_hook);
}
