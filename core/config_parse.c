/* config_parse: libconfig settings to struct config, one typed getter per kind
 * of value, and the process-wide sections (trunks: config_trunk.c). Each failure names file,
 * line and setting path once; config.c owns the order and the cleanup. */
#include "core/config_int.h"

#include "core/base/log.h"
#include "core/duration.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cfg_fail(const struct cfg_ctx *x, const config_setting_t *s, const char *path, const char *fmt,
             ...)
{
	const char *file =
	    s && config_setting_source_file(s) ? config_setting_source_file(s) : x->file;
	unsigned line = s ? config_setting_source_line(s) : 0;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (x->err && x->errlen > 0)
		snprintf(x->err, x->errlen, "%s:%u: %s: %s", file, line, path, what);
	return EINVAL;
}

void cfg_warn_unknown(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
                      const char *const *known)
{
	/* Unknown names are warned about rather than refused, so a config written
	 * for a newer pinbridge still starts; the warning catches typos. */
	for (int i = 0; grp && i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		bool found = false;
		for (const char *const *k = known; *k && !found; k++)
			found = name && strcmp(name, *k) == 0;
		if (!found) {
			const char *file =
			    config_setting_source_file(s) ? config_setting_source_file(s) : x->file;
			log_warn("config", "%s:%u: %s%s: unknown setting, ignored", file,
			         config_setting_source_line(s), prefix, name ? name : "?");
		}
	}
}

static void cfg_path(char *buf, size_t len, const char *prefix, const char *name)
{
	snprintf(buf, len, "%s%s", prefix, name);
}

int cfg_group(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
              const char *name, const config_setting_t **out)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];

	*out = NULL;
	if (!s)
		return 0;
	if (!config_setting_is_group(s)) {
		cfg_path(path, sizeof(path), prefix, name);
		return cfg_fail(x, s, path, "expected a group { ... }");
	}
	*out = s;
	return 0;
}

int cfg_str(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, char *out, size_t outlen)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];

	if (!s)
		return 0;
	cfg_path(path, sizeof(path), prefix, name);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, path, "expected a string");
	const char *v = config_setting_get_string(s);
	if (strlen(v) >= outlen)
		return cfg_fail(x, s, path, "too long (at most %zu bytes)", outlen - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int cfg_int(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, int *out, int min, int max)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];
	long long v;

	if (!s)
		return 0;
	cfg_path(path, sizeof(path), prefix, name);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else
		return cfg_fail(x, s, path, "expected an integer");
	if (v < min || v > max)
		return cfg_fail(x, s, path, "%lld is out of range %d..%d", v, min, max);
	*out = (int)v;
	return 0;
}

int cfg_bool(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
             const char *name, bool *out)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_path(path, sizeof(path), prefix, name);
		return cfg_fail(x, s, path, "expected true or false");
	}
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

int cfg_dur(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, int64_t *out, bool positive)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];
	int64_t ms;

	if (!s)
		return 0;
	cfg_path(path, sizeof(path), prefix, name);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, path,
		                "expected a duration string such as \"30s\" or \"250ms\"");
	const char *v = config_setting_get_string(s);
	int rc = duration_parse(v, false, &ms);
	if (rc == ERANGE)
		return cfg_fail(x, s, path, "duration \"%s\" is too large", v);
	if (rc != 0)
		return cfg_fail(x, s, path,
		                "\"%s\" is not a duration (a number and ms, s, m, h or d)", v);
	if (positive && ms == 0)
		return cfg_fail(x, s, path, "must be greater than 0");
	*out = ms;
	return 0;
}

int cfg_strlist(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
                const char *name, const config_setting_t **list)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	char path[160];

	*list = NULL;
	if (!s)
		return 0;
	cfg_path(path, sizeof(path), prefix, name);
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return cfg_fail(x, s, path, "expected a list of strings [\"...\", ...]");
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			snprintf(path, sizeof(path), "%s%s[%d]", prefix, name, i);
			return cfg_fail(x, e, path, "expected a string");
		}
	}
	*list = s;
	return 0;
}

bool cfg_url_ok(const char *s)
{
	const char *host;

	if (!*s)
		return true;
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	if (*host == '\0' || *host == '/' || *host == ':' || *host == '?')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

const char *config_hostport_check(const char *s)
{
	char host[CONFIG_STR];
	const char *colon, *port;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return "expected [IPv6]:PORT";
		size_t n = (size_t)(end - s - 1);
		if (n >= sizeof(host))
			return "address too long";
		memcpy(host, s + 1, n);
		host[n] = '\0';
		unsigned char a6[16];
		if (inet_pton(AF_INET6, host, a6) != 1)
			return "not an IPv6 address inside [ ]";
		port = end + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "expected ADDR:PORT";
		size_t n = (size_t)(colon - s);
		if (n == 0 || n >= sizeof(host))
			return "expected ADDR:PORT";
		memcpy(host, s, n);
		host[n] = '\0';
		if (strchr(host, ':'))
			return "write an IPv6 address as [ADDR]:PORT";
		for (const char *p = host; *p; p++) {
			bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			          (*p >= '0' && *p <= '9') || *p == '.' || *p == '-';
			if (!ok)
				return "not an address or host name";
		}
		port = colon + 1;
	}
	char *end;
	errno = 0;
	long v = *port >= '0' && *port <= '9' ? strtol(port, &end, 10) : -1;
	if (v < 1 || v > 65535 || errno || *end)
		return "port must be 1..65535";
	return NULL;
}

/* "8G", "512M", "64K", "1T" (binary units) or a plain byte count. */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return ERANGE;
	int shift = 0;
	switch (*p) {
	case '\0':
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	default:
		return EINVAL;
	}
	if (*p && p[1])
		return EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return ERANGE;
	*out = v << shift;
	return 0;
}

static int parse_store(const struct cfg_ctx *x, const config_setting_t *root, struct config *c)
{
	static const char *const known[] = {"map_size", NULL};
	const config_setting_t *g, *s;
	int rc;

	if ((rc = cfg_group(x, root, "", "store", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, "store.", known);
	if (!(s = config_setting_get_member(g, "map_size")))
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if (config_setting_type(s) == CONFIG_TYPE_INT)
			v = config_setting_get_int(s);
		if (v <= 0)
			return cfg_fail(x, s, "store.map_size", "must be greater than 0");
		c->map_size = (uint64_t)v;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, "store.map_size",
		                "expected a size such as \"8G\" or \"512M\"");
	const char *v = config_setting_get_string(s);
	uint64_t size = 0;
	rc = parse_size(v, &size);
	if (rc == ERANGE)
		return cfg_fail(x, s, "store.map_size", "\"%s\" is too large", v);
	if (rc || size == 0)
		return cfg_fail(x, s, "store.map_size",
		                "\"%s\" is not a size (bytes, or a number and K, M, G or T)", v);
	c->map_size = size;
	return 0;
}

int config_public_url_fix(char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	/* A query or fragment would swallow the path appended to it. */
	if (!cfg_url_ok(url) || strpbrk(url, "?#"))
		return EINVAL;
	return n > CONFIG_PUBLIC_URL_MAX ? ENAMETOOLONG : 0;
}

static int parse_http(const struct cfg_ctx *x, const config_setting_t *root, struct config *c)
{
	static const char *const known[] = {"listen", "threads", "metrics_token", "public_url",
	                                    NULL};
	const config_setting_t *g;
	const char *why;
	int rc;

	if ((rc = cfg_group(x, root, "", "http", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, "http.", known);
	if ((rc = cfg_str(x, g, "http.", "listen", c->http_listen, sizeof(c->http_listen))) ||
	    (rc = cfg_int(x, g, "http.", "threads", &c->http_threads, 1, 1024)) ||
	    (rc = cfg_str(x, g, "http.", "metrics_token", c->metrics_token,
	                  sizeof(c->metrics_token))) ||
	    (rc = cfg_str(x, g, "http.", "public_url", c->http_public_url,
	                  sizeof(c->http_public_url))))
		return rc;
	if ((why = config_hostport_check(c->http_listen)))
		return cfg_fail(x, config_setting_get_member(g, "listen"), "http.listen",
		                "\"%s\": %s", c->http_listen, why);
	rc = config_public_url_fix(c->http_public_url);
	if (rc == EINVAL)
		return cfg_fail(x, config_setting_get_member(g, "public_url"), "http.public_url",
		                "\"%s\": expected http:// or https:// and a host, then an "
		                "optional path (no ? or #)",
		                c->http_public_url);
	if (rc)
		return cfg_fail(x, config_setting_get_member(g, "public_url"), "http.public_url",
		                "%zu bytes is too long: recording URLs add up to %zu more and "
		                "must fit %d, so at most %zu",
		                strlen(c->http_public_url), (size_t)CONFIG_RECORDING_PATH_MAX,
		                STORE_CALL_URL_MAX - 1, (size_t)CONFIG_PUBLIC_URL_MAX);
	return 0;
}

/* sip.tls: the files are read when the SIP stack starts (it names them on
 * failure); here only that a tls: listener has what it needs. */
static int parse_tls(const struct cfg_ctx *x, const config_setting_t *sipg, struct config *c)
{
	static const char *const known[] = {"certificate", "key", "ca", "verify", NULL};
	const config_setting_t *g;
	int rc;

	if ((rc = cfg_group(x, sipg, "sip.", "tls", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, "sip.tls.", known);
	if ((rc = cfg_str(x, g, "sip.tls.", "certificate", c->tls_certificate,
	                  sizeof(c->tls_certificate))) ||
	    (rc = cfg_str(x, g, "sip.tls.", "key", c->tls_key, sizeof(c->tls_key))) ||
	    (rc = cfg_str(x, g, "sip.tls.", "ca", c->tls_ca, sizeof(c->tls_ca))) ||
	    (rc = cfg_bool(x, g, "sip.tls.", "verify", &c->tls_verify)))
		return rc;
	if (!*c->tls_certificate != !*c->tls_key)
		return cfg_fail(x, g, *c->tls_key ? "sip.tls.certificate" : "sip.tls.key",
		                "sip.tls.certificate and sip.tls.key go together");
	if (c->tls_verify && !*c->tls_ca)
		return cfg_fail(x, config_setting_get_member(g, "ca"), "sip.tls.ca",
		                "verify = true needs a CA bundle");
	return 0;
}

static int parse_sip(const struct cfg_ctx *x, const config_setting_t *root, struct config *c)
{
	static const char *const known[] = {"listen", "advertise", "drain", "session_expires",
	                                    "min_se", "tls",       NULL};
	const config_setting_t *g, *list;
	char path[64];
	int rc;

	if ((rc = cfg_group(x, root, "", "sip", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, "sip.", known);
	if ((rc = cfg_str(x, g, "sip.", "advertise", c->sip_advertise, sizeof(c->sip_advertise))) ||
	    (rc = cfg_dur(x, g, "sip.", "drain", &c->sip_drain_ms, false)) ||
	    (rc = cfg_dur(x, g, "sip.", "session_expires", &c->sip_session_expires_ms, false)) ||
	    (rc = cfg_dur(x, g, "sip.", "min_se", &c->sip_min_se_ms, true)) ||
	    (rc = cfg_strlist(x, g, "sip.", "listen", &list)) || (rc = parse_tls(x, g, c)))
		return rc;
	/* Sofia would silently raise the interval it asks for to min_se. */
	if (c->sip_session_expires_ms && c->sip_session_expires_ms < c->sip_min_se_ms) {
		const config_setting_t *se = config_setting_get_member(g, "session_expires");

		return cfg_fail(x, se ? se : config_setting_get_member(g, "min_se"),
		                se ? "sip.session_expires" : "sip.min_se",
		                "sip.session_expires must be 0 (no session timer of our own) or "
		                "at least sip.min_se");
	}
	if (!list)
		return 0;
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return cfg_fail(x, list, "sip.listen",
		                "needs at least one \"udp:ADDR:PORT\" entry");
	char(*l)[CONFIG_STR] = calloc(n, sizeof(*l));
	if (!l)
		return ENOMEM;
	free(c->sip_listen);
	c->sip_listen = l;
	c->nsip_listen = n;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *v = config_setting_get_string(e);
		const char *why = NULL;
		snprintf(path, sizeof(path), "sip.listen[%zu]", i);
		if (strlen(v) >= CONFIG_STR)
			return cfg_fail(x, e, path, "too long");
		if (strncmp(v, "udp:", 4) && strncmp(v, "tcp:", 4) && strncmp(v, "tls:", 4))
			why = "expected udp:ADDR:PORT, tcp:ADDR:PORT or tls:ADDR:PORT";
		else
			why = config_hostport_check(v + 4);
		if (why)
			return cfg_fail(x, e, path, "\"%s\": %s", v, why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(l[j], v) == 0)
				return cfg_fail(x, e, path, "\"%s\" is listed twice", v);
		if (strncmp(v, "tls:", 4) == 0 && !*c->tls_certificate)
			return cfg_fail(x, e, path,
			                "\"%s\" needs sip.tls.certificate and sip.tls.key", v);
		strcpy(l[i], v);
	}
	return 0;
}

static bool ip_literal(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int parse_media(const struct cfg_ctx *x, const config_setting_t *root, struct config *c)
{
	static const char *const known[] = {"ip",       "advertise",       "port_min",
	                                    "port_max", "port_quarantine", NULL};
	const config_setting_t *g;
	int rc;

	if ((rc = cfg_group(x, root, "", "media", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, "media.", known);
	if ((rc = cfg_str(x, g, "media.", "ip", c->media_ip, sizeof(c->media_ip))) ||
	    (rc = cfg_str(x, g, "media.", "advertise", c->media_advertise,
	                  sizeof(c->media_advertise))) ||
	    (rc = cfg_int(x, g, "media.", "port_min", &c->port_min, 1, 65535)) ||
	    (rc = cfg_int(x, g, "media.", "port_max", &c->port_max, 1, 65535)) ||
	    (rc = cfg_dur(x, g, "media.", "port_quarantine", &c->port_quarantine_ms, false)))
		return rc;
	if (!ip_literal(c->media_ip))
		return cfg_fail(x, config_setting_get_member(g, "ip"), "media.ip",
		                "\"%s\" is not an IPv4 or IPv6 address", c->media_ip);
	if (*c->media_advertise && !ip_literal(c->media_advertise))
		return cfg_fail(x, config_setting_get_member(g, "advertise"), "media.advertise",
		                "\"%s\" is not an IPv4 or IPv6 address", c->media_advertise);
	if (c->port_min >= c->port_max) {
		const config_setting_t *s = config_setting_get_member(g, "port_max");
		return cfg_fail(x, s ? s : config_setting_get_member(g, "port_min"),
		                s ? "media.port_max" : "media.port_min",
		                "port_min (%d) must be below port_max (%d)", c->port_min,
		                c->port_max);
	}
	return 0;
}

int config_parse_globals(const struct cfg_ctx *x, const config_setting_t *root, struct config *c)
{
	static const char *const known[] = {"data_dir",  "store",  "http",    "sip",
	                                    "media",     "trunks", "tenants", "sweep_interval",
	                                    "log_level", NULL};
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
	int rc;

	cfg_warn_unknown(x, root, "", known);
	if ((rc = cfg_str(x, root, "", "data_dir", c->data_dir, sizeof(c->data_dir))) ||
	    (rc = cfg_str(x, root, "", "log_level", c->log_level, sizeof(c->log_level))) ||
	    (rc = cfg_dur(x, root, "", "sweep_interval", &c->sweep_interval_ms, true)))
		return rc;
	if (!*c->data_dir)
		return cfg_fail(x, config_setting_get_member(root, "data_dir"), "data_dir",
		                "must not be empty");
	bool level_ok = false;
	for (const char *const *l = levels; *l; l++)
		level_ok |= strcmp(c->log_level, *l) == 0;
	if (!level_ok)
		return cfg_fail(x, config_setting_get_member(root, "log_level"), "log_level",
		                "\"%s\" is not one of debug, info, warn, error", c->log_level);
	if ((rc = parse_store(x, root, c)) || (rc = parse_http(x, root, c)) ||
	    (rc = parse_sip(x, root, c)) || (rc = parse_media(x, root, c)))
		return rc;
	return 0;
}
