/* config_tenant: the tenants list: credentials, number rules, pool, PIN and
 * timer settings of each tenant, with the defaults of DESIGN §5 for whatever a
 * tenant entry leaves out, and the checks across tenants (ids, keys, trunks). */
#include "core/config_int.h"

#include "core/base/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tenant_defaults(struct tenant *t)
{
	snprintf(t->country, sizeof(t->country), "91");
	t->national_length = 10;
	snprintf(t->timezone, sizeof(t->timezone), "UTC");
	t->pin.a = true;
	t->pin.b = false;
	t->pin.max_attempts = 3;
	t->pin.first_digit_ms = 10 * 1000;
	t->pin.inter_digit_ms = 5 * 1000;
	t->pin.lockout_after = 10;
	t->pin.lockout_window_ms = 3600 * 1000;
	t->pin.lockout_for_ms = 15 * 60 * 1000;
	t->pin.cooloff_ms = 0;
	t->dealloc.default_ms = 180LL * 86400 * 1000;
	t->dealloc.max_ms = 180LL * 86400 * 1000;
	t->dealloc.retention_ms = 30LL * 86400 * 1000;
	t->ring_timeout_ms = 30 * 1000;
	t->max_hunt_ms = 60 * 1000;
	t->max_duration_ms = 4 * 3600 * 1000;
	t->rtp_timeout_ms = 60 * 1000;
	t->calls_retention_ms = 90LL * 86400 * 1000;
	t->recordings_retention_ms = 90LL * 86400 * 1000;
	t->bulk_limit = 100;
	snprintf(t->webhooks.secret, sizeof(t->webhooks.secret), "change-me");
	t->webhooks.backoff_ms = 1000;
	t->webhooks.max_age_ms = 24 * 3600 * 1000;
	t->webhooks.retention_ms = 7LL * 86400 * 1000;
	t->webhooks.concurrency = 8;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A member of g, or g itself when the member is absent (for its line). */
static const config_setting_t *where(const config_setting_t *g, const char *name)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	return s ? s : g;
}

static int parse_identity(const struct cfg_ctx *x, const config_setting_t *g, const char *pre,
                          struct tenant *t)
{
	char hex[80] = "", path[160];
	int rc;

	if ((rc = cfg_str(x, g, pre, "id", t->id, sizeof(t->id))) ||
	    (rc = cfg_str(x, g, pre, "api_key", t->api_key, sizeof(t->api_key))) ||
	    (rc = cfg_str(x, g, pre, "api_token", t->api_token, sizeof(t->api_token))) ||
	    (rc = cfg_str(x, g, pre, "api_token_sha256", hex, sizeof(hex))))
		return rc;
#define FAIL(name, ...)                                                                            \
	(snprintf(path, sizeof(path), "%s%s", pre, name),                                          \
	 cfg_fail(x, where(g, name), path, __VA_ARGS__))
	if (!*t->id)
		return FAIL("id", "a tenant needs an id");
	for (const char *p = t->id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return FAIL("id", "\"%s\": use letters, digits, '_', '.', '-'", t->id);
	/* Ids name the directories of recordings (and URL path segments). */
	if (strcmp(t->id, ".") == 0 || strcmp(t->id, "..") == 0)
		return FAIL("id", "\"%s\" cannot be a tenant id: it names a directory", t->id);
	if (!*t->api_key)
		return FAIL("api_key", "tenant \"%s\" needs an api_key", t->id);
	for (const char *p = t->api_key; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ':' || *p == 0x7f)
			return FAIL("api_key", "must be printable, without spaces or ':'");
	if (*t->api_token && *hex)
		return FAIL("api_token_sha256", "give api_token or api_token_sha256, not both");
	if (*hex) {
		if (strlen(hex) != 64)
			return FAIL("api_token_sha256", "expected 64 hex digits");
		for (int i = 0; i < 32; i++) {
			int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return FAIL("api_token_sha256", "expected 64 hex digits");
			t->token_sha256[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	if (!*t->api_token)
		return FAIL("api_token", "tenant \"%s\" needs api_token or api_token_sha256",
		            t->id);
#undef FAIL
	unsigned len = 0;
	if (!EVP_Digest(t->api_token, strlen(t->api_token), t->token_sha256, &len, EVP_sha256(),
	                NULL) ||
	    len != 32)
		return ENOMEM; /* libcrypto out of memory: nothing in the file to blame */
	return 0;
}

static int parse_numbers(const struct cfg_ctx *x, const config_setting_t *g, const char *pre,
                         struct tenant *t)
{
	const config_setting_t *list;
	char path[160];
	int rc;

	if ((rc = cfg_str(x, g, pre, "country", t->country, sizeof(t->country))) ||
	    (rc = cfg_int(x, g, pre, "national_length", &t->national_length, 4, 14)) ||
	    (rc = cfg_strlist(x, g, pre, "countries", &list)))
		return rc;
	if (!all_digits(t->country, 1, 3) || t->country[0] == '0') {
		snprintf(path, sizeof(path), "%scountry", pre);
		return cfg_fail(x, where(g, "country"), path,
		                "\"%s\" is not a country calling code (1-3 digits)", t->country);
	}
	size_t n = list ? (size_t)config_setting_length(list) : 1;
	if (n > 0 && !(t->countries = calloc(n, sizeof(*t->countries))))
		return ENOMEM;
	if (!list) { /* default: the tenant's own country */
		memcpy(t->countries[0], t->country, sizeof(t->countries[0]));
		t->ncountries = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *v = config_setting_get_string(e);
		if (!all_digits(v, 1, 7)) {
			snprintf(path, sizeof(path), "%scountries[%zu]", pre, i);
			return cfg_fail(x, e, path, "\"%s\" is not a country code (digits)", v);
		}
		snprintf(t->countries[i], sizeof(t->countries[i]), "%s", v);
		t->ncountries = i + 1;
	}
	return 0;
}

static int parse_pool(const struct cfg_ctx *x, const config_setting_t *g, const char *pre,
                      struct tenant *t)
{
	const config_setting_t *list;
	char path[160];
	int rc;

	if ((rc = cfg_strlist(x, g, pre, "vns", &list)) || !list)
		return rc;
	size_t n = (size_t)config_setting_length(list);
	if (n > 0 && !(t->pool = calloc(n, sizeof(*t->pool))))
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *why;
		if (config_vn_range_parse(config_setting_get_string(e), t, &t->pool[i], &why)) {
			snprintf(path, sizeof(path), "%svns[%zu]", pre, i);
			return cfg_fail(x, e, path, "\"%s\": %s", config_setting_get_string(e),
			                why);
		}
		t->npool = i + 1;
	}
	return 0;
}

static int parse_pin(const struct cfg_ctx *x, const config_setting_t *tg, const char *tpre,
                     struct tenant *t)
{
	static const char *const known[] = {"a",
	                                    "b",
	                                    "max_attempts",
	                                    "first_digit",
	                                    "inter_digit",
	                                    "lockout_after",
	                                    "lockout_window",
	                                    "lockout_for",
	                                    "cooloff",
	                                    NULL};
	const config_setting_t *g;
	char pre[96];
	int rc;

	snprintf(pre, sizeof(pre), "%spin.", tpre);
	if ((rc = cfg_group(x, tg, tpre, "pin", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, pre, known);
	if ((rc = cfg_bool(x, g, pre, "a", &t->pin.a)) ||
	    (rc = cfg_bool(x, g, pre, "b", &t->pin.b)) ||
	    (rc = cfg_int(x, g, pre, "max_attempts", &t->pin.max_attempts, 1, 100)) ||
	    (rc = cfg_dur(x, g, pre, "first_digit", &t->pin.first_digit_ms, true)) ||
	    (rc = cfg_dur(x, g, pre, "inter_digit", &t->pin.inter_digit_ms, true)) ||
	    (rc = cfg_int(x, g, pre, "lockout_after", &t->pin.lockout_after, 1, 1000000)) ||
	    (rc = cfg_dur(x, g, pre, "lockout_window", &t->pin.lockout_window_ms, true)) ||
	    (rc = cfg_dur(x, g, pre, "lockout_for", &t->pin.lockout_for_ms, false)) ||
	    (rc = cfg_dur(x, g, pre, "cooloff", &t->pin.cooloff_ms, false)))
		return rc;
	return 0;
}

static int parse_timers(const struct cfg_ctx *x, const config_setting_t *tg, const char *tpre,
                        struct tenant *t)
{
	static const char *const dknown[] = {"default", "max", "retention", NULL};
	static const char *const cknown[] = {"retention", NULL};
	static const char *const rknown[] = {"dir", "retention", NULL};
	const config_setting_t *d, *calls, *rec;
	char dpre[96], cpre[96], rpre[96];
	int rc;

	snprintf(dpre, sizeof(dpre), "%sdeallocation.", tpre);
	snprintf(cpre, sizeof(cpre), "%scalls.", tpre);
	snprintf(rpre, sizeof(rpre), "%srecordings.", tpre);
	if ((rc = cfg_group(x, tg, tpre, "deallocation", &d)) ||
	    (rc = cfg_group(x, tg, tpre, "calls", &calls)) ||
	    (rc = cfg_group(x, tg, tpre, "recordings", &rec)))
		return rc;
	cfg_warn_unknown(x, d, dpre, dknown);
	cfg_warn_unknown(x, calls, cpre, cknown);
	cfg_warn_unknown(x, rec, rpre, rknown);
	if ((rc = cfg_dur(x, d, dpre, "default", &t->dealloc.default_ms, true)) ||
	    (rc = cfg_dur(x, d, dpre, "max", &t->dealloc.max_ms, true)) ||
	    (rc = cfg_dur(x, d, dpre, "retention", &t->dealloc.retention_ms, false)) ||
	    (rc = cfg_dur(x, tg, tpre, "ring_timeout", &t->ring_timeout_ms, true)) ||
	    (rc = cfg_dur(x, tg, tpre, "max_hunt", &t->max_hunt_ms, true)) ||
	    (rc = cfg_dur(x, tg, tpre, "max_duration", &t->max_duration_ms, true)) ||
	    (rc = cfg_dur(x, tg, tpre, "rtp_timeout", &t->rtp_timeout_ms, true)) ||
	    (rc = cfg_dur(x, calls, cpre, "retention", &t->calls_retention_ms, false)) ||
	    (rc = cfg_str(x, rec, rpre, "dir", t->recordings_dir, sizeof(t->recordings_dir))) ||
	    (rc = cfg_dur(x, rec, rpre, "retention", &t->recordings_retention_ms, false)) ||
	    (rc = cfg_int(x, tg, tpre, "bulk_limit", &t->bulk_limit, 1, 100000)))
		return rc;
	if (t->dealloc.default_ms > t->dealloc.max_ms) {
		const config_setting_t *s = config_setting_get_member(d, "default");
		char path[160];
		snprintf(path, sizeof(path), "%s%s", dpre, s ? "default" : "max");
		return cfg_fail(x, s ? s : where(d, "max"), path,
		                "the default duration is longer than the max");
	}
	return 0;
}

static int parse_webhooks(const struct cfg_ctx *x, const config_setting_t *tg, const char *tpre,
                          struct tenant *t)
{
	static const char *const known[] = {"secret",
	                                    "backoff",
	                                    "max_age",
	                                    "concurrency",
	                                    "retention",
	                                    "call_completed",
	                                    "deallocation",
	                                    "verification_success",
	                                    "verification_failure",
	                                    NULL};
	struct tenant_webhooks *w = &t->webhooks;
	const config_setting_t *g;
	char pre[96], path[160];
	int rc;

	snprintf(pre, sizeof(pre), "%swebhooks.", tpre);
	if ((rc = cfg_group(x, tg, tpre, "webhooks", &g)) || !g)
		return rc;
	cfg_warn_unknown(x, g, pre, known);
	struct {
		const char *name;
		char *url;
	} urls[] = {{"call_completed", w->call_completed},
	            {"deallocation", w->deallocation},
	            {"verification_success", w->verification_success},
	            {"verification_failure", w->verification_failure}};
	if ((rc = cfg_str(x, g, pre, "secret", w->secret, sizeof(w->secret))) ||
	    (rc = cfg_dur(x, g, pre, "backoff", &w->backoff_ms, true)) ||
	    (rc = cfg_dur(x, g, pre, "max_age", &w->max_age_ms, false)) ||
	    (rc = cfg_int(x, g, pre, "concurrency", &w->concurrency, 1, 1024)) ||
	    (rc = cfg_dur(x, g, pre, "retention", &w->retention_ms, false)))
		return rc;
	bool any = false;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if ((rc = cfg_str(x, g, pre, urls[i].name, urls[i].url, CONFIG_STR)))
			return rc;
		if (!cfg_url_ok(urls[i].url)) {
			snprintf(path, sizeof(path), "%s%s", pre, urls[i].name);
			return cfg_fail(x, where(g, urls[i].name), path,
			                "\"%s\" is not an http:// or https:// URL", urls[i].url);
		}
		any |= *urls[i].url != '\0';
	}
	if (any && strcmp(w->secret, "change-me") == 0)
		log_warn("config", "tenant %s: webhooks are signed with the default secret", t->id);
	return 0;
}

/* prompts = { enter_pin = "/path.wav"; ... }: each WAV is read now, so a
 * missing or unusable file fails the load (and refuses a SIGHUP reload)
 * instead of the first call that would play it. "" or absent: built-in. */
static int parse_prompts(const struct cfg_ctx *x, const config_setting_t *tg, const char *tpre,
                         struct tenant *t)
{
	const char *known[MEDIA_PROMPT_N + 1] = {NULL};
	const config_setting_t *g;
	char pre[96], path[160], file[CONFIG_STR], why[CONFIG_STR + 160];
	int rc;

	snprintf(pre, sizeof(pre), "%sprompts.", tpre);
	for (unsigned i = 0; i < MEDIA_PROMPT_N; i++)
		known[i] = media_prompt_name((enum media_prompt_id)i);
	if ((rc = cfg_group(x, tg, tpre, "prompts", &g)))
		return rc;
	cfg_warn_unknown(x, g, pre, known);
	for (unsigned i = 0; i < MEDIA_PROMPT_N; i++) {
		struct media_prompt *p = NULL;
		file[0] = why[0] = '\0';
		if ((rc = cfg_str(x, g, pre, known[i], file, sizeof(file))))
			return rc;
		if (!*file) {
			t->prompts[i] = media_builtin_prompt((enum media_prompt_id)i);
			if (!t->prompts[i])
				return ENOMEM;
			continue;
		}
		rc = media_prompt_load_wav(file, &p, why, sizeof(why));
		if (rc == ENOMEM)
			return rc;
		if (rc) {
			snprintf(path, sizeof(path), "%s%s", pre, known[i]);
			/* why names the file already: "<file>: <what is wrong>" */
			if (!*why)
				snprintf(why, sizeof(why), "%s: %s", file, strerror(rc));
			return cfg_fail(x, where(g, known[i]), path, "%s", why);
		}
		t->prompts[i] = p;
		t->prompt_owned[i] = true;
	}
	return 0;
}

static int parse_tenant(const struct cfg_ctx *x, const config_setting_t *g, const char *pre,
                        struct tenant *t)
{
	static const char *const known[] = {"id",
	                                    "api_key",
	                                    "api_token",
	                                    "api_token_sha256",
	                                    "country",
	                                    "national_length",
	                                    "countries",
	                                    "timezone",
	                                    "trunk",
	                                    "vns",
	                                    "pin",
	                                    "deallocation",
	                                    "ring_timeout",
	                                    "max_hunt",
	                                    "max_duration",
	                                    "rtp_timeout",
	                                    "calls",
	                                    "recordings",
	                                    "webhooks",
	                                    "bulk_limit",
	                                    "prompts",
	                                    "record",
	                                    NULL};
	char why[160], path[160];
	int rc;

	tenant_defaults(t);
	cfg_warn_unknown(x, g, pre, known);
	if ((rc = parse_identity(x, g, pre, t)) || (rc = parse_numbers(x, g, pre, t)) ||
	    (rc = cfg_str(x, g, pre, "timezone", t->timezone, sizeof(t->timezone))) ||
	    (rc = cfg_str(x, g, pre, "trunk", t->trunk, sizeof(t->trunk))) ||
	    (rc = cfg_bool(x, g, pre, "record", &t->record)))
		return rc;
	if (tz_rules_load(t->timezone, &t->tz, why, sizeof(why))) {
		snprintf(path, sizeof(path), "%stimezone", pre);
		return cfg_fail(x, where(g, "timezone"), path, "\"%s\": %s", t->timezone, why);
	}
	if ((rc = parse_pool(x, g, pre, t)) || (rc = parse_pin(x, g, pre, t)) ||
	    (rc = parse_timers(x, g, pre, t)) || (rc = parse_webhooks(x, g, pre, t)) ||
	    (rc = parse_prompts(x, g, pre, t)))
		return rc;
	return 0;
}

/* The trunk t calls out through: the named one, or the only one there is. */
static int resolve_trunk(const struct cfg_ctx *x, const config_setting_t *g, const char *pre,
                         struct config *c, struct tenant *t)
{
	char path[160];

	snprintf(path, sizeof(path), "%strunk", pre);
	if (x->default_tenants) {
		bool found = false;
		for (size_t i = 0; i < c->ntrunks && !found; i++)
			found = strcmp(c->trunks[i].name, t->trunk) == 0;
		if (!found)
			t->trunk[0] = '\0';
	}
	if (!*t->trunk) {
		if (c->ntrunks == 1) {
			t->trunk_ref = &c->trunks[0];
			snprintf(t->trunk, sizeof(t->trunk), "%s", c->trunks[0].name);
			return 0;
		}
		if (c->ntrunks == 0)
			return cfg_fail(x, g, path,
			                "tenant \"%s\" needs a trunk and none is defined", t->id);
		return cfg_fail(x, g, path,
		                "tenant \"%s\" must name its trunk: %zu trunks are defined", t->id,
		                c->ntrunks);
	}
	for (size_t i = 0; i < c->ntrunks; i++) {
		if (strcmp(c->trunks[i].name, t->trunk) == 0) {
			t->trunk_ref = &c->trunks[i];
			return 0;
		}
	}
	return cfg_fail(x, where(g, "trunk"), path, "no trunk is named \"%s\"", t->trunk);
}

int config_parse_tenants(const struct cfg_ctx *x, const config_setting_t *list, struct config *c)
{
	char pre[32], path[64];

	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return cfg_fail(x, list, "tenants", "expected a list ( { ... }, ... )");
	size_t n = (size_t)config_setting_length(list);
	if (n > 0 && !(c->tenants = calloc(n, sizeof(*c->tenants))))
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct tenant *t = &c->tenants[i];
		int rc;

		snprintf(pre, sizeof(pre), "tenants[%zu].", i);
		c->ntenants = i + 1; /* so a failure frees what was filled */
		if (!config_setting_is_group(g)) {
			snprintf(path, sizeof(path), "tenants[%zu]", i);
			return cfg_fail(x, g, path, "expected a group { ... }");
		}
		if ((rc = parse_tenant(x, g, pre, t)) || (rc = resolve_trunk(x, g, pre, c, t)))
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->tenants[j].id, t->id) == 0) {
				snprintf(path, sizeof(path), "%sid", pre);
				return cfg_fail(
				    x, where(g, "id"), path,
				    "tenant \"%s\" is defined twice (also tenants[%zu])", t->id, j);
			}
			if (strcmp(c->tenants[j].api_key, t->api_key) == 0) {
				snprintf(path, sizeof(path), "%sapi_key", pre);
				return cfg_fail(x, where(g, "api_key"), path,
				                "tenants \"%s\" and \"%s\" have the same api_key",
				                c->tenants[j].id, t->id);
			}
		}
	}
	return 0;
}
