/* config_trunk: the trunks list, each trunk's SIP peer, ACL, latching,
 * credentials and media security (SRTP policy, TLS peer name). */
#include "core/config_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "10.0.0.0/8", "2001:db8::/32", or a single address. */
static const char *parse_cidr(const char *s, struct cidr *out)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int max, base;

	if (n == 0 || n >= sizeof(addr))
		return "expected ADDR/PREFIX";
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr + 12) == 1) {
		out->addr[10] = out->addr[11] = 0xff;
		max = 32;
		base = 96;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		max = 128;
		base = 0;
	} else {
		return "not an IPv4 or IPv6 address";
	}
	int prefix = max;
	if (slash) {
		char *end;
		const char *p = slash + 1;
		long v = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
		if (v < 0 || v > max || *end)
			return max == 32 ? "prefix must be 0..32" : "prefix must be 0..128";
		prefix = (int)v;
	}
	out->prefix = base + prefix;
	for (int bit = out->prefix; bit < 128; bit++) /* host bits do not matter */
		out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return NULL;
}

static int parse_trunk(const struct cfg_ctx *x, const config_setting_t *g, const char *prefix,
                       struct trunk *t)
{
	static const char *const known[] = {"name",        "allow",       "silent_deny",
	                                    "outbound",    "dial_format", "latch",
	                                    "username",    "password",    "realm",
	                                    "register",    "srtp",        "srtp_plain_transport",
	                                    "tls_subject", NULL};
	const config_setting_t *allow;
	char path[160], srtp[16] = "off";
	int rc;

	snprintf(t->dial_format, sizeof(t->dial_format), "e164");
	snprintf(t->latch, sizeof(t->latch), "learn");
	cfg_warn_unknown(x, g, prefix, known);
	if ((rc = cfg_str(x, g, prefix, "name", t->name, sizeof(t->name))) ||
	    (rc = cfg_bool(x, g, prefix, "silent_deny", &t->silent_deny)) ||
	    (rc = cfg_str(x, g, prefix, "outbound", t->outbound, sizeof(t->outbound))) ||
	    (rc = cfg_str(x, g, prefix, "dial_format", t->dial_format, sizeof(t->dial_format))) ||
	    (rc = cfg_str(x, g, prefix, "latch", t->latch, sizeof(t->latch))) ||
	    (rc = cfg_str(x, g, prefix, "username", t->username, sizeof(t->username))) ||
	    (rc = cfg_str(x, g, prefix, "password", t->password, sizeof(t->password))) ||
	    (rc = cfg_str(x, g, prefix, "realm", t->realm, sizeof(t->realm))) ||
	    (rc = cfg_bool(x, g, prefix, "register", &t->do_register)) ||
	    (rc = cfg_str(x, g, prefix, "srtp", srtp, sizeof(srtp))) ||
	    (rc = cfg_bool(x, g, prefix, "srtp_plain_transport", &t->srtp_plain_transport)) ||
	    (rc = cfg_str(x, g, prefix, "tls_subject", t->tls_subject, sizeof(t->tls_subject))) ||
	    (rc = cfg_strlist(x, g, prefix, "allow", &allow)))
		return rc;

#define TRUNK_FAIL(name, ...)                                                                      \
	(snprintf(path, sizeof(path), "%s%s", prefix, name),                                       \
	 cfg_fail(x, config_setting_get_member(g, name) ? config_setting_get_member(g, name) : g,  \
	          path, __VA_ARGS__))
	if (!*t->name)
		return TRUNK_FAIL("name", "a trunk needs a name");
	for (const char *p = t->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return TRUNK_FAIL("name", "\"%s\": use letters, digits, '_', '.', '-'",
			                  t->name);
	if (*t->outbound && strncmp(t->outbound, "sip:", 4) && strncmp(t->outbound, "sips:", 5))
		return TRUNK_FAIL("outbound", "\"%s\" is not a sip: or sips: URI", t->outbound);
	if (strcmp(t->dial_format, "e164") && strcmp(t->dial_format, "national") &&
	    strcmp(t->dial_format, "digits"))
		return TRUNK_FAIL("dial_format", "\"%s\" is not one of e164, national, digits",
		                  t->dial_format);
	if (strcmp(t->latch, "strict") && strcmp(t->latch, "learn"))
		return TRUNK_FAIL("latch", "\"%s\" is not one of strict, learn", t->latch);
	if (t->do_register && (!*t->outbound || !*t->username))
		return TRUNK_FAIL("register", "registering needs outbound and username");
	if (strcmp(srtp, "off") == 0)
		t->srtp = TRUNK_SRTP_OFF;
	else if (strcmp(srtp, "optional") == 0)
		t->srtp = TRUNK_SRTP_OPTIONAL;
	else if (strcmp(srtp, "mandatory") == 0)
		t->srtp = TRUNK_SRTP_MANDATORY;
	else
		return TRUNK_FAIL("srtp", "\"%s\" is not one of off, optional, mandatory", srtp);
#undef TRUNK_FAIL

	size_t n = allow ? (size_t)config_setting_length(allow) : 0;
	if (n > 0 && !(t->allow = calloc(n, sizeof(*t->allow))))
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(allow, (unsigned)i);
		const char *why = parse_cidr(config_setting_get_string(e), &t->allow[i]);
		if (why) {
			snprintf(path, sizeof(path), "%sallow[%zu]", prefix, i);
			return cfg_fail(x, e, path, "\"%s\": %s", config_setting_get_string(e),
			                why);
		}
		t->nallow = i + 1;
	}
	return 0;
}

int config_parse_trunks(const struct cfg_ctx *x, const config_setting_t *list, struct config *c)
{
	char prefix[32];

	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return cfg_fail(x, list, "trunks", "expected a list ( { ... }, ... )");
	size_t n = (size_t)config_setting_length(list);
	if (n > 0 && !(c->trunks = calloc(n, sizeof(*c->trunks))))
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		snprintf(prefix, sizeof(prefix), "trunks[%zu].", i);
		c->ntrunks = i + 1; /* so a failure frees what was filled */
		if (!config_setting_is_group(g)) {
			prefix[strlen(prefix) - 1] = '\0';
			return cfg_fail(x, g, prefix, "expected a group { ... }");
		}
		int rc = parse_trunk(x, g, prefix, &c->trunks[i]);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->trunks[j].name, c->trunks[i].name) == 0)
				return cfg_fail(x, config_setting_get_member(g, "name"),
				                strcat(prefix, "name"),
				                "trunk \"%s\" is defined twice (also trunks[%zu])",
				                c->trunks[i].name, j);
	}
	return 0;
}
