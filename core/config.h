/* config: the libconfig file (or the embedded default) turned into an
 * immutable, reference-counted snapshot. SIGHUP builds a new snapshot and
 * swaps it in; whoever holds the old one keeps it until it unrefs. */
#ifndef PB_CORE_CONFIG_H
#define PB_CORE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

#define CONFIG_STR 256

struct tz_rules;

/* A contiguous run of VNs: E.164 numbers of equal length, lo <= hi. */
struct vn_range {
	uint64_t lo, hi; /* the digits after "+" */
	int ndigits;
};

struct cidr {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	int prefix;       /* over the 128-bit form */
};

/* What a trunk's legs do about SRTP (SDES, RFC 4568). */
enum trunk_srtp {
	TRUNK_SRTP_OFF = 0,   /* plain RTP; an RTP/SAVP offer gets 488 */
	TRUNK_SRTP_OPTIONAL,  /* offer RTP/AVP with a=crypto, accept either answer */
	TRUNK_SRTP_MANDATORY, /* offer RTP/SAVP; a plain offer or answer fails (488) */
};

struct trunk {
	char name[64];
	struct cidr *allow;
	size_t nallow;
	bool silent_deny;          /* no answer instead of 403 to other sources */
	char outbound[CONFIG_STR]; /* SIP URI of the trunk's proxy */
	char dial_format[16];      /* "e164", "national", "digits" */
	char latch[8];             /* "strict" or "learn" */
	char username[CONFIG_STR]; /* digest credentials for the trunk's challenges */
	char password[CONFIG_STR];
	char realm[CONFIG_STR];
	bool do_register;
	enum trunk_srtp srtp;
	/* SDES keys may cross a plain (udp, tcp) transport to or from this
	 * trunk; otherwise SRTP is offered and accepted on TLS legs only. */
	bool srtp_plain_transport;
	/* Outbound TLS: a name the trunk's certificate must carry (a DNS or
	 * IP subjectAltName, or the CN); "" = the host of outbound. */
	char tls_subject[CONFIG_STR];
};

struct tenant_webhooks {
	char secret[CONFIG_STR];
	int64_t backoff_ms, max_age_ms, retention_ms;
	int concurrency;
	char call_completed[CONFIG_STR];
	char deallocation[CONFIG_STR];
	char verification_success[CONFIG_STR];
	char verification_failure[CONFIG_STR];
};

struct tenant {
	char id[65];
	char api_key[CONFIG_STR];
	char api_token[CONFIG_STR]; /* plain, or "" when token_sha256 is set */
	uint8_t token_sha256[32];   /* always filled: SHA-256 of the token */
	char country[8];            /* digits, e.g. "91" */
	int national_length;
	char (*countries)[8]; /* allowed country codes of party numbers */
	size_t ncountries;
	char timezone[64];   /* "UTC", "+05:30", or an IANA name */
	struct tz_rules *tz; /* owned by the snapshot; see config_tz_offset() */
	char trunk[64];
	const struct trunk *trunk_ref; /* resolved in the same snapshot */
	struct vn_range *pool;
	size_t npool;
	struct {
		bool a, b;
		int max_attempts;
		int64_t first_digit_ms, inter_digit_ms;
		int lockout_after;
		int64_t lockout_window_ms, lockout_for_ms, cooloff_ms;
	} pin;
	struct {
		int64_t default_ms, max_ms, retention_ms;
	} dealloc;
	int64_t ring_timeout_ms, max_hunt_ms, max_duration_ms, rtp_timeout_ms;
	int64_t calls_retention_ms;
	bool record; /* bridged calls are recorded (an allocation's flag wins) */
	char recordings_dir[CONFIG_STR]; /* "" in the file: <data_dir>/recordings */
	int64_t recordings_retention_ms;
	int bulk_limit; /* items per bulk update (code 17 above it) */
	struct tenant_webhooks webhooks;
	/* The IVR's prompts: the tenant's own WAV (prompts.<name>) or the
	 * built-in one; see config_prompt(). */
	const struct media_prompt *prompts[MEDIA_PROMPT_N];
	bool prompt_owned[MEDIA_PROMPT_N]; /* a custom one, freed with the snapshot */
};

struct config {
	atomic_int refs;
	char source[CONFIG_STR]; /* file path, or "<embedded>" */
	char data_dir[CONFIG_STR];
	uint64_t map_size;
	char http_listen[CONFIG_STR]; /* "ADDR:PORT" */
	/* The API's address as clients reach it, no trailing '/': the
	 * prefix of recording_url. http.public_url, default
	 * "http://" + http_listen. */
	char http_public_url[CONFIG_STR];
	int http_threads;
	char metrics_token[CONFIG_STR]; /* "" = /metrics open */
	char log_level[16];
	char (*sip_listen)[CONFIG_STR]; /* "udp:ADDR:PORT" ... */
	size_t nsip_listen;
	char sip_advertise[CONFIG_STR];
	int64_t sip_drain_ms; /* SIGTERM: how long calls in progress may go on */
	/* RFC 4028: the session interval we ask for (0: none of our own) and
	 * the shortest we accept; whole seconds on the wire, rounded up. */
	int64_t sip_session_expires_ms, sip_min_se_ms;
	/* SIP over TLS (tls: listen entries, sips: trunks): our certificate
	 * chain and its key (PEM files), the CA bundle trunks' certificates
	 * are verified against, and whether they are (outbound). */
	char tls_certificate[CONFIG_STR];
	char tls_key[CONFIG_STR];
	char tls_ca[CONFIG_STR];
	bool tls_verify;
	char media_ip[64];
	char media_advertise[64];
	int port_min, port_max;
	int64_t port_quarantine_ms;
	int64_t sweep_interval_ms; /* how often the sweeper looks (default 200ms) */
	struct trunk *trunks;
	size_t ntrunks;
	struct tenant *tenants;
	size_t ntenants;
};

/* Command-line overrides applied on top of the file (NULL/0 = keep). */
struct config_overrides {
	const char *data_dir;
	const char *http_listen;
	const char *sip_listen; /* "ADDR:PORT": replaces the listen list with udp and tcp on it */
	int port_min, port_max;
};

/* Loads path (NULL: the embedded default), applies ov (may be NULL) and
 * validates everything, pools overlapping between tenants included. On error
 * returns EINVAL (or an errno of reading the file) and writes one line naming
 * file, line and setting into err. */
int config_load(const char *path, const struct config_overrides *ov, struct config **out, char *err,
                size_t errlen);

struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/* The snapshot in force; the caller owns a reference. */
struct config *config_current(void);
/* Makes c the snapshot in force (takes the caller's reference). */
void config_install(struct config *c);

/* Seconds east of UTC in t's timezone at unix_s (DST-aware for IANA names). */
int config_tz_offset(const struct tenant *t, int64_t unix_s);

const struct tenant *config_tenant(const struct config *c, const char *id);
/* The tenant whose pool holds the E.164 number vn, or NULL. */
const struct tenant *config_vn_owner(const struct config *c, const char *vn);
bool config_tenant_has_vn(const struct tenant *t, const char *vn);
/* t's prompt id: its own WAV, else the built-in one (NULL only when out of
 * memory). */
const struct media_prompt *config_prompt(const struct tenant *t, enum media_prompt_id id);
/* Number of VNs in t's pool, and the i-th (0-based) as E.164 into out. */
uint64_t config_pool_size(const struct tenant *t);
void config_pool_vn(const struct tenant *t, uint64_t i, char out[17]);

/* VNs of old that are not in new under the same tenant: fn(arg, vn) for each,
 * stops and returns fn's non-zero value. Used to refuse a reload that drops a
 * VN live allocations use. */
int config_removed_vns(const struct config *old, const struct config *new,
                       int (*fn)(void *arg, const char *vn), void *arg);

/* The embedded default as libconfig text (what `make run` serves). */
extern const char config_default_text[];

#endif
