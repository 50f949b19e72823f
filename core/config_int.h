/* config_int: what config.c, config_parse.c, config_tenant.c, config_pool.c and
 * config_tz.c share. Nothing outside these files includes it. */
#ifndef PB_CORE_CONFIG_INT_H
#define PB_CORE_CONFIG_INT_H

#include "core/config.h"
#include "store/store.h"

#include <libconfig.h>

/* What recordings_url() appends to http.public_url, at its longest, and so
 * the longest public_url that leaves room for it in a call record. */
#define CONFIG_RECORDING_PATH_MAX                                                                  \
	(sizeof("/v1/tenants/") - 1 + STORE_TENANT_MAX + sizeof("/calls/") - 1 + STORE_SID_LEN +   \
	 sizeof("/recording") - 1)
#define CONFIG_PUBLIC_URL_MAX (STORE_CALL_URL_MAX - 1 - CONFIG_RECORDING_PATH_MAX)
_Static_assert(sizeof(((struct tenant *)0)->id) == STORE_TENANT_MAX + 1,
               "a tenant id fits a record's tenant");

/* One VN range of one tenant in the snapshot-wide index, sorted by
 * (ndigits, lo); ranges never overlap once a snapshot is valid. */
struct vn_index_entry {
	uint64_t lo, hi;
	int ndigits;
	const struct tenant *t;
};

/* The snapshot as allocated: the public part first, the lookup indexes
 * behind it so config.h stays plain data. */
struct config_priv {
	struct config pub;
	struct vn_index_entry *vnidx;
	size_t nvnidx;
	const struct tenant **byid; /* sorted by id */
};

static inline struct config_priv *config_priv_of(const struct config *c)
{
	return (struct config_priv *)c; /* pub is the first member */
}

/* Where errors go while a file is read. */
struct cfg_ctx {
	const char *file; /* path or "<embedded>", for settings libconfig has no file for */
	char *err;
	size_t errlen;
	/* The embedded tenants list under a file's own trunks: a tenant's trunk
	 * name that no trunk has falls back to the only trunk there is. */
	bool default_tenants;
};

/* Writes "<file>:<line>: <path>: <what>" for setting s into x->err and
 * returns EINVAL. */
int cfg_fail(const struct cfg_ctx *x, const config_setting_t *s, const char *path, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));
/* Logs a warning for each member of group grp not named in known (NULL-ended). */
void cfg_warn_unknown(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
                      const char *const *known);

/* Typed getters: an absent setting keeps *out (the default) and returns 0; a
 * present one of the wrong type or out of range fails with a message. prefix
 * is the path of grp with a trailing "." (or ""). */
int cfg_group(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
              const char *name, const config_setting_t **out);
int cfg_str(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, char *out, size_t outlen);
int cfg_int(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, int *out, int min, int max);
int cfg_bool(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
             const char *name, bool *out);
/* A config duration ("0.5s", "250ms"); positive: 0 is refused too. */
int cfg_dur(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
            const char *name, int64_t *out, bool positive);
/* A list or array of strings: *list is the setting (NULL when absent). */
int cfg_strlist(const struct cfg_ctx *x, const config_setting_t *grp, const char *prefix,
                const char *name, const config_setting_t **list);
/* "http://…" or "https://…" with a host, or "". */
bool cfg_url_ok(const char *s);

int config_parse_globals(const struct cfg_ctx *x, const config_setting_t *root, struct config *c);
int config_parse_trunks(const struct cfg_ctx *x, const config_setting_t *list, struct config *c);
int config_parse_tenants(const struct cfg_ctx *x, const config_setting_t *list, struct config *c);
/* Removes url's trailing '/'s, then checks it is "" or an http(s) URL with
 * a host and no query or fragment (EINVAL), at most CONFIG_PUBLIC_URL_MAX
 * bytes (ENAMETOOLONG). */
int config_public_url_fix(char *url);
/* "ADDR:PORT" with an IPv4 address, "[IPv6]" or a host name: NULL if fine,
 * else why not. */
const char *config_hostport_check(const char *s);

/* One "vns" entry, a number or "lo-hi", normalised by t's country rules. */
int config_vn_range_parse(const char *s, const struct tenant *t, struct vn_range *out,
                          const char **why);
/* Builds the sorted VN index of p and refuses ranges that overlap (within a
 * tenant or across two); tenants is the list the pools were read from. */
int config_vn_index_build(const struct cfg_ctx *x, const config_setting_t *tenants,
                          struct config_priv *p);

/* struct tz_rules: a fixed offset or the transitions of a TZif file. */
int tz_rules_load(const char *spec, struct tz_rules **out, char *why, size_t whylen);
void tz_rules_free(struct tz_rules *tz);
int tz_rules_offset(const struct tz_rules *tz, int64_t unix_s);

#endif
