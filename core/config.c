/* config: loading a snapshot (file or embedded default, then command-line
 * overrides), its reference count, the snapshot in force, and tenant lookup.
 * Reading the settings themselves is config_parse.c and config_tenant.c. */
#include "core/config_int.h"

#include "core/base/log.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMDLINE "<command line>"

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *current; /* guarded by current_lock */

static int config_defaults(struct config *c)
{
	snprintf(c->data_dir, sizeof(c->data_dir), "./var");
	c->map_size = 8ULL << 30;
	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1:8080");
	c->http_threads = 16;
	snprintf(c->log_level, sizeof(c->log_level), "info");
	if (!(c->sip_listen = calloc(2, sizeof(*c->sip_listen))))
		return ENOMEM;
	snprintf(c->sip_listen[0], sizeof(c->sip_listen[0]), "udp:127.0.0.1:5060");
	snprintf(c->sip_listen[1], sizeof(c->sip_listen[1]), "tcp:127.0.0.1:5060");
	c->nsip_listen = 2;
	snprintf(c->media_ip, sizeof(c->media_ip), "127.0.0.1");
	c->port_min = 16384;
	c->port_max = 32767;
	c->port_quarantine_ms = 8000;
	c->sip_drain_ms = 30000;
	c->sip_session_expires_ms = 1800000;
	c->sip_min_se_ms = 90000;
	snprintf(c->tls_ca, sizeof(c->tls_ca), "/etc/ssl/certs/ca-certificates.crt");
	c->tls_verify = true;
	c->sweep_interval_ms = 200;
	return 0;
}

static void config_free(struct config *c)
{
	struct config_priv *p = config_priv_of(c);

	for (size_t i = 0; i < c->ntrunks; i++)
		free(c->trunks[i].allow);
	for (size_t i = 0; i < c->ntenants; i++) {
		free(c->tenants[i].countries);
		free(c->tenants[i].pool);
		tz_rules_free(c->tenants[i].tz);
		for (unsigned k = 0; k < MEDIA_PROMPT_N; k++)
			if (c->tenants[i].prompt_owned[k])
				media_prompt_free((struct media_prompt *)c->tenants[i].prompts[k]);
	}
	free(c->trunks);
	free(c->tenants);
	free(c->sip_listen);
	free(p->vnidx);
	free(p->byid);
	free(p);
}

static int cmdline_fail(const struct cfg_ctx *x, const char *opt, const char *val, const char *why)
{
	if (x->err && x->errlen)
		snprintf(x->err, x->errlen, CMDLINE ": %s: \"%s\": %s", opt, val, why);
	return EINVAL;
}

static int apply_overrides(const struct cfg_ctx *x, const struct config_overrides *ov,
                           struct config *c)
{
	const char *why;

	if (!ov)
		return 0;
	if (ov->data_dir) {
		if (!*ov->data_dir || strlen(ov->data_dir) >= sizeof(c->data_dir))
			return cmdline_fail(x, "--data", ov->data_dir, "empty or too long");
		snprintf(c->data_dir, sizeof(c->data_dir), "%s", ov->data_dir);
	}
	if (ov->http_listen) {
		if (strlen(ov->http_listen) >= sizeof(c->http_listen))
			return cmdline_fail(x, "--http", ov->http_listen, "too long");
		if ((why = config_hostport_check(ov->http_listen)))
			return cmdline_fail(x, "--http", ov->http_listen, why);
		snprintf(c->http_listen, sizeof(c->http_listen), "%s", ov->http_listen);
	}
	if (ov->sip_listen) {
		if (strlen(ov->sip_listen) + 4 >= CONFIG_STR)
			return cmdline_fail(x, "--sip", ov->sip_listen, "too long");
		if ((why = config_hostport_check(ov->sip_listen)))
			return cmdline_fail(x, "--sip", ov->sip_listen, why);
		char(*l)[CONFIG_STR] = calloc(2, sizeof(*l));
		if (!l)
			return ENOMEM;
		snprintf(l[0], sizeof(l[0]), "udp:%s", ov->sip_listen);
		snprintf(l[1], sizeof(l[1]), "tcp:%s", ov->sip_listen);
		free(c->sip_listen);
		c->sip_listen = l;
		c->nsip_listen = 2;
	}
	if (ov->port_min || ov->port_max) {
		char range[32];
		int lo = ov->port_min ? ov->port_min : c->port_min;
		int hi = ov->port_max ? ov->port_max : c->port_max;
		snprintf(range, sizeof(range), "%d-%d", lo, hi);
		if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
			return cmdline_fail(x, "--rtp-ports", range, "ports must be 1..65535");
		if (lo >= hi)
			return cmdline_fail(x, "--rtp-ports", range,
			                    "the first port must be below the last");
		c->port_min = lo;
		c->port_max = hi;
	}
	return 0;
}

/* http.public_url "" is "http://" + http.listen as finally resolved (the
 * --http override included): an address clients may well be unable to
 * reach, but the right one for a server on its own host. */
static int public_url_default(const struct cfg_ctx *x, const config_setting_t *root,
                              const struct config_overrides *ov, struct config *c)
{
	const config_setting_t *http = config_setting_get_member(root, "http");
	size_t n = strlen(c->http_listen);

	if (*c->http_public_url)
		return 0;
	if (n > CONFIG_PUBLIC_URL_MAX - strlen("http://")) {
		if (ov && ov->http_listen)
			return cmdline_fail(
			    x, "--http", ov->http_listen,
			    "too long to prefix recording URLs; set http.public_url");
		return cfg_fail(x, http ? config_setting_get_member(http, "listen") : NULL,
		                "http.listen",
		                "\"%s\" is too long to prefix recording URLs (at most %zu bytes); "
		                "set http.public_url",
		                c->http_listen, CONFIG_PUBLIC_URL_MAX - strlen("http://"));
	}
	snprintf(c->http_public_url, sizeof(c->http_public_url), "http://%s", c->http_listen);
	if (strncmp(c->http_listen, "0.0.0.0:", 8) == 0 || strncmp(c->http_listen, "[::]:", 5) == 0)
		log_warn("config",
		         "recording URLs will name %s, which clients cannot reach; set "
		         "http.public_url",
		         c->http_public_url);
	return 0;
}

static int byid_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct tenant *const *)a)->id,
	              (*(const struct tenant *const *)b)->id);
}

/* What depends on the final data_dir, and the id index. */
static int config_finish(const struct cfg_ctx *x, struct config_priv *p)
{
	struct config *c = &p->pub;

	for (size_t i = 0; i < c->ntenants; i++) {
		struct tenant *t = &c->tenants[i];
		if (*t->recordings_dir)
			continue;
		if ((size_t)snprintf(t->recordings_dir, sizeof(t->recordings_dir), "%s/recordings",
		                     c->data_dir) >= sizeof(t->recordings_dir)) {
			if (x->err && x->errlen)
				snprintf(
				    x->err, x->errlen,
				    "%s:0: tenants[%zu].recordings.dir: data_dir is too long to "
				    "hold recordings; set dir",
				    x->file, i);
			return EINVAL;
		}
	}
	if (c->ntenants == 0)
		return 0;
	if (!(p->byid = calloc(c->ntenants, sizeof(*p->byid))))
		return ENOMEM;
	for (size_t i = 0; i < c->ntenants; i++)
		p->byid[i] = &c->tenants[i];
	qsort(p->byid, c->ntenants, sizeof(*p->byid), byid_cmp);
	return 0;
}

/* The whole file as a string; 0 or an errno value. */
static int config_slurp(const char *path, char **out)
{
	enum { MAX = 16 << 20 }; /* a config file, not a database */
	struct stat st;
	FILE *f = fopen(path, "r");
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int rc = 0;

	if (!f)
		return errno;
	if (fstat(fileno(f), &st) != 0)
		rc = errno;
	else if (S_ISDIR(st.st_mode))
		rc = EISDIR;
	for (bool eof = false; !rc && !eof;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *grown = cap < MAX ? realloc(buf, ncap + 1) : NULL;
			if (!grown) {
				rc = cap < MAX ? ENOMEM : EFBIG;
				break;
			}
			buf = grown;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0 && ferror(f))
			rc = EIO;
		eof = got == 0;
	}
	if (!rc && memchr(buf, '\0', n))
		rc = EINVAL; /* binary, not a config file */
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* Reads path (or the embedded text) into lc; one message on failure. */
static int config_read_tree(config_t *lc, const char *path, const struct cfg_ctx *x)
{
	int ok;

	if (path) {
		/* Read it ourselves: libconfig's scanner exit()s on a read error. */
		char *text = NULL;
		int rc = config_slurp(path, &text);
		if (rc) {
			if (x->err && x->errlen)
				snprintf(x->err, x->errlen, "%s:0: cannot read: %s", path,
				         strerror(rc));
			return rc;
		}
		char *copy = strdup(path);
		if (copy) /* @include "x.conf" is relative to the including file */
			config_set_include_dir(lc, dirname(copy));
		free(copy);
		ok = config_read_string(lc, text);
		free(text);
	} else {
		ok = config_read_string(lc, config_default_text);
	}
	if (ok)
		return 0;
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
		if (x->err && x->errlen)
			snprintf(x->err, x->errlen, "%s:0: cannot read: %s", x->file,
			         config_error_text(lc));
		return EIO;
	}
	if (x->err && x->errlen)
		snprintf(x->err, x->errlen, "%s:%d: syntax: %s",
		         config_error_file(lc) ? config_error_file(lc) : x->file,
		         config_error_line(lc), config_error_text(lc));
	return EINVAL;
}

int config_load(const char *path, const struct config_overrides *ov, struct config **out, char *err,
                size_t errlen)
{
	struct cfg_ctx x = {path ? path : "<embedded>", err, errlen, false};
	struct cfg_ctx xd = {"<embedded>", err, errlen, false};
	config_t lc, def;
	struct config_priv *p = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	config_init(&lc);
	config_init(&def);
	if ((rc = config_read_tree(&lc, path, &x)))
		goto out;
	if (!(p = calloc(1, sizeof(*p)))) {
		rc = ENOMEM;
		goto out;
	}
	struct config *c = &p->pub;
	atomic_init(&c->refs, 1);
	snprintf(c->source, sizeof(c->source), "%s", x.file);
	const config_setting_t *root = config_root_setting(&lc);
	if ((rc = config_defaults(c)) || (rc = config_parse_globals(&x, root, c)))
		goto out;

	/* An absent trunks or tenants list is the embedded default's. */
	const config_setting_t *trunks = config_setting_get_member(root, "trunks");
	const config_setting_t *tenants = config_setting_get_member(root, "tenants");
	const struct cfg_ctx *xt = &x, *xn = &x;
	if (!trunks || !tenants) {
		if ((rc = config_read_tree(&def, NULL, &xd)))
			goto out;
		if (!trunks) {
			trunks = config_lookup(&def, "trunks");
			xt = &xd;
		}
		if (!tenants) {
			tenants = config_lookup(&def, "tenants");
			xn = &xd;
			xd.default_tenants = trunks != config_lookup(&def, "trunks");
		}
	}
	if ((rc = config_parse_trunks(xt, trunks, c)) ||
	    (rc = config_parse_tenants(xn, tenants, c)) ||
	    (rc = config_vn_index_build(xn, tenants, p)) || (rc = apply_overrides(&x, ov, c)) ||
	    (rc = public_url_default(&x, root, ov, c)) || (rc = config_finish(&x, p)))
		goto out;
	*out = c;
	p = NULL;
out:
	if (p)
		config_free(&p->pub);
	if (rc == ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: out of memory", x.file);
	config_destroy(&lc);
	config_destroy(&def);
	return rc;
}

struct config *config_ref(struct config *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void config_unref(struct config *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		config_free(c);
}

struct config *config_current(void)
{
	pthread_mutex_lock(&current_lock);
	struct config *c = config_ref(current);
	pthread_mutex_unlock(&current_lock);
	return c;
}

void config_install(struct config *c)
{
	pthread_mutex_lock(&current_lock);
	struct config *old = current;
	current = c;
	pthread_mutex_unlock(&current_lock);
	config_unref(old);
}

const struct tenant *config_tenant(const struct config *c, const char *id)
{
	const struct config_priv *p;
	size_t lo = 0, hi;

	if (!c || !id)
		return NULL;
	p = config_priv_of(c);
	hi = c->ntenants;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(id, p->byid[mid]->id);
		if (cmp == 0)
			return p->byid[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct media_prompt *config_prompt(const struct tenant *t, enum media_prompt_id id)
{
	if ((unsigned)id >= MEDIA_PROMPT_N)
		return NULL;
	if (t && t->prompts[id])
		return t->prompts[id];
	return media_builtin_prompt(id);
}
