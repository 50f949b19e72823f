/* sip_int: sip/'s private view of the SIP thread: the struct behind
 * struct sip, the calls it holds, and Sofia's magic types bound to them. */
#ifndef PB_SIP_SIP_INT_H
#define PB_SIP_SIP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/base/idmap.h"
#include "sip/sip.h"

struct sip_call;

/* Sofia's callbacks carry these typed pointers instead of void *. */
#define SU_ROOT_MAGIC_T struct sip
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T  struct sip_call
#define NUA_MAGIC_T     struct sip
#define NUA_HMAGIC_T    struct sip_call

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

/* Silently refused INVITEs are held this long (the caller's Timer B, 64*T1)
 * before their handle is dropped. */
#define SIP_SILENT_HOLD_MS 32000

/* An outbound leg's life, as far as core can see it. */
enum sip_leg_state {
	SIP_LEG_CALLING = 0, /* INVITE sent, no final response yet */
	SIP_LEG_UP,          /* 2xx received (and ACKed by nua) */
	SIP_LEG_DONE,        /* FAILED or ENDED reported: nothing more to say */
};

/* Digest credentials of an outbound leg, in one allocation. */
struct sip_cred {
	char *username, *password, *realm; /* realm NULL: any */
	bool tried;                        /* answered once already */
};

/* One inbound INVITE or outbound leg (same id space). Owned by the SIP
 * thread; freed on nua_i_state terminated, when a silent hold expires, or
 * at once when a leg fails. */
struct sip_call {
	sip_call_t id;
	nua_handle_t *nh;
	su_timer_t *silent; /* set while a refused INVITE is held unanswered */
	bool final_sent;
	bool ended;    /* cb->ended (or a leg's FAILED/ENDED) already reported */
	bool answered; /* inbound: a 2xx went out, so hanging up is a BYE */
	bool hungup;   /* sip_hangup() ran: report nothing more */
	bool outbound;
	enum sip_leg_state leg_state;
	struct sip_cred *cred; /* outbound only; may be NULL */
	char *log_id;          /* outbound only: core's call_sid, for logs */
	/* Outbound over TLS: the trunk's name, for logs, and sip->tls_seq
	 * when the INVITE went, to tell a TLS failure since from an older. */
	char *tls_trunk;
	uint64_t tls_seq;
	bool heard; /* outbound: a provisional response came */
	/* The SDP pinbridge last sent on this call (answer or offer), in the
	 * handle's home: an offer core has no answer for (no cb->reoffer, a
	 * re-INVITE without SDP) is answered with it. */
	const char *local_sdp;
	/* An INVITE without SDP (the first, or a re-INVITE on a call or leg):
	 * our 2xx carries the offer, and its ACK the answer, reported through
	 * cb->ack_answer (cleared then). */
	bool late_offer;
	struct sip_call *next, *prev;
};

/* A REGISTER binding kept by nua for one trunk. */
struct sip_reg {
	const struct sip_trunk_acl *trunk;
	nua_handle_t *nh;
	bool challenged; /* the last response was a challenge we answered */
	bool ok;         /* the registrar accepted the last REGISTER */
	struct sip_reg *next;
};

/* Relaxed counters; read by sip_get_stats() from any thread. */
struct sip_counters {
	atomic_uint_fast64_t handles; /* struct sip_call alive: calls and legs */
	atomic_uint_fast64_t invites_in, acl_refused, legs_out, auth_answered, register_ok,
	    register_failed, tls_handshake_failed, tls_peer_refused;
};

struct sip_job {
	void (*fn)(void *arg);
	void *arg;
	struct sip_job *next;
};

struct sip {
	/* Immutable after sip_start(). */
	struct sip_opts opts; /* deep copy; strings and arrays in one block */
	struct sip_callbacks cb;
	void *arg;
	pthread_t thread;
	int efd;

	/* Guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sip_job *qhead, *qtail;
	bool closed;  /* sip_stop() began: sip_post() refuses */
	bool started; /* thread finished start-up; start_rc valid */
	int start_rc;

	/* SIP thread only: the trunks INVITEs are checked against; a copy of
	 * opts' at start, replaced by sip_set_trunks() (registrations keep
	 * opts'). */
	struct sip_opts acl;
	/* SIP thread only. */
	su_root_t *root;
	nua_t *nua;
	su_wait_t wait[1];
	int wait_index;         /* from su_root_register(); > 0 once registered */
	struct sip_call *calls; /* every call and leg, for the shutdown */
	struct idmap by_id;     /* sip_call_t -> struct sip_call */
	struct sip_reg *regs;
	sip_call_t next_id;
	bool shut_down;
	/* SIP thread only: TLS failures seen in Sofia's log (tls.c), the
	 * last one's description. */
	uint64_t tls_seq;
	char tls_why[400];
	uint64_t tls_log_sec; /* rate limit of their log lines */
	unsigned tls_log_n;

	/* Set in sip_start(), removed in sip_free(): the certificate
	 * directory Sofia's TLS transport reads; NULL without TLS. */
	char *tls_dir;

	/* Any thread. */
	struct sip_counters stats;
};

/* call.c: nua events and the calls (SIP thread). */
void sip_call_event(nua_event_t event, int status, char const *phrase, nua_t *nua, struct sip *sip,
                    nua_handle_t *nh, struct sip_call *call, sip_t const *s, tagi_t tags[]);
void sip_call_respond(struct sip *sip, sip_call_t id, int status, const char *reason);
void sip_call_free_all(struct sip *sip);
struct sip_call *sip_call_find(struct sip *sip, sip_call_t id);
struct sip_call *sip_call_new(struct sip *sip, nua_handle_t *nh);
void sip_call_free(struct sip *sip, struct sip_call *c);
void sip_call_hangup(struct sip *sip, struct sip_call *c, int status);
/* An offer inside an established dialog (re-INVITE, UPDATE) on inbound
 * call or outbound leg c, answered through cb->reoffer. status: nua's, as
 * in the event (>= 200: nua answered it already). */
void sip_call_reinvite(struct sip *sip, struct sip_call *c, int status, sip_t const *s);
void sip_call_update(struct sip *sip, struct sip_call *c, int status, sip_t const *s);
/* The ACK of our 2xx on call or leg c: the answer when it carried our
 * offer (late_offer). */
void sip_call_ack(struct sip *sip, struct sip_call *c, sip_t const *s);
/* The message's SDP body as a NUL-terminated malloc'd copy; NULL when it
 * has none (or another content type, or no memory). */
char *sip_sdp_copy(sip_t const *s);
/* Whether the message's Allow lists UPDATE (no Allow: false), i.e.
 * whether nua may refresh a session with its sender by UPDATE. */
bool sip_allows_update(sip_t const *s);

/* leg.c: outbound legs' nua events (SIP thread). */
void sip_leg_event(struct sip *sip, nua_event_t event, int status, struct sip_call *c,
                   sip_t const *s, tagi_t tags[]);

/* auth.c: answering a digest challenge with a leg's or trunk's
 * credentials. 0 when nua_authenticate() went out; EACCES when the
 * challenge is not ours to answer (other realm, no credentials, tried). */
int sip_auth_answer(struct sip *sip, nua_handle_t *nh, int status, sip_t const *s,
                    const char *username, const char *password, const char *realm,
                    const char *log_id);

/* register.c: REGISTER bindings for the trunks that ask for one. */
void sip_register_start(struct sip *sip);
void sip_register_event(struct sip *sip, nua_event_t event, int status, nua_handle_t *nh,
                        sip_t const *s);
/* Un-REGISTER needs no call: nua_shutdown() sends it for every binding. */
void sip_register_free_all(struct sip *sip);

/* info.c: DTMF by SIP INFO. The body of an INFO of content type ctype
 * (NULL: none) as one digit ('0'-'9', '*', '#', 'A'-'D'): 0 and *digit;
 * ENOTSUP for a type other than application/dtmf-relay or application/dtmf
 * (415); EINVAL for a body without a digit (400); ENODATA for an INFO with
 * neither type nor body (a keep-alive: 200, nothing reported). */
int sip_info_parse(const char *ctype, const char *body, size_t len, char *digit);
/* Answers an INFO on inbound call c (unless nua did, status >= 200) and
 * reports its digit through cb->info_digit. */
void sip_info_in(struct sip *sip, nua_t *nua, int status, struct sip_call *c, sip_t const *s);

/* acl.c: which trunk, if any, allows this source. */
const struct sip_trunk_acl *sip_acl_match(const struct sip *sip, const struct sockaddr *sa);
bool sip_acl_all_silent(const struct sip *sip);

/* tls.c: SIP over TLS. */
bool sip_tls_listen_entry(const char *entry); /* "tls:ADDR:PORT" */
/* A tls: listen entry, or a trunk whose outbound is TLS. */
bool sip_tls_wanted(const struct sip_opts *o);
/* The trunk (in sip->acl) whose outbound is uri, the first; NULL. SIP
 * thread. */
const struct sip_trunk_acl *sip_tls_trunk(const struct sip *sip, const char *uri);
/* Where the requests of a TLS handle to uri go (nua's handle proxy,
 * binding them to the name the peer's certificate must carry: trunk tr's
 * tls_subject, else uri's host), and tr's name for logs. 0 or EINVAL. */
struct sip_tls_target {
	char proxy[600], name[256];
	const char *trunk; /* tr's name, or "?" */
};
int sip_tls_target(const struct sip_trunk_acl *tr, const char *uri, struct sip_tls_target *t);
/* Counts and logs Sofia's TLS failures (from its tport log); once per
 * process, before the first nua. */
void sip_tls_log_start(void);
/* tls_files.c: sip->tls_dir from opts' PEM files, checked; and its removal. */
int sip_tls_dir_make(struct sip *sip);
void sip_tls_dir_remove(struct sip *sip);

/* stack.c: deep copies of options (trunks only when listen is NULL). */
int sip_opts_copy(struct sip_opts *dst, const struct sip_opts *src);
void sip_opts_free(struct sip_opts *o);
/* stack.c: true on the SIP thread of sip. */
bool sip_on_thread(const struct sip *sip);
/* stack.c: the sip whose SIP thread this is, or NULL. */
struct sip *sip_current(void);

#endif
