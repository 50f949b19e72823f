/* sip: the SIP thread. Sofia-SIP's nua runs on a thread of its own; the rest
 * of pinbridge sees plain C structs and functions, never Sofia's types.
 *
 * Threads: every callback below runs on the SIP thread, and all call state
 * lives there. sip_post() and sip_respond() may be called from any thread;
 * from another thread they are queued and the SIP thread is woken. */
#ifndef PB_SIP_SIP_H
#define PB_SIP_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sip;

/* An address block; IPv4 as ::ffff:a.b.c.d with the prefix over 128 bits
 * (the same form as config's struct cidr). */
struct sip_cidr {
	uint8_t addr[16];
	int prefix;
};

/* Who may send INVITEs: a source inside any trunk's allow list is accepted. */
struct sip_trunk_acl {
	const char *name;
	const struct sip_cidr *allow;
	size_t nallow;
	bool silent_deny; /* refused sources get no final response */
	/* Outbound side (may all be NULL/false): the trunk's proxy URI
	 * ("sip:host:port[;transport=tcp]"), digest credentials answered only
	 * for challenges of realm (NULL or "": any realm), and REGISTER of
	 * username@proxy-host. nua refreshes the binding at about half the
	 * granted expiry, answering later challenges of the same realm from
	 * its own cache, and un-REGISTERs it in sip_stop(). */
	const char *outbound;
	const char *username, *password, *realm;
	bool do_register;
	unsigned register_expires; /* seconds; 0 = 3600 */
	/* Outbound TLS (outbound is sips: or ;transport=tls): the name the
	 * trunk's certificate must carry (DNS subjectAltName or CN; see
	 * sip/tls.c); NULL or "": the host of outbound. */
	const char *tls_subject;
};

struct sip_opts {
	/* "udp:ADDR:PORT", "tcp:ADDR:PORT" or "tls:ADDR:PORT"; IPv6 as
	 * "udp:[::1]:5060". nua binds two URLs: udp and tcp on one ADDR:PORT
	 * share one, so "udp:A:P", "tcp:A:P", "tls:A:Q" fit. */
	const char *const *listen;
	size_t nlisten;
	/* Host (and :port) pinbridge puts in From/Contact of outbound legs;
	 * NULL or "": the first listen address. */
	const char *advertise;
	const struct sip_trunk_acl *trunks;
	size_t ntrunks;
	/* RFC 4028 session timers (config sip.session_expires, sip.min_se), in
	 * ms; the wire carries whole seconds, so both are rounded up (1 s at
	 * least). session_expires_ms: the interval asked for in our INVITEs and
	 * the longest granted to a caller; 0: none of our own (a caller's
	 * request is still honoured). min_se_ms: shorter requests get 422;
	 * 0: 90 s. The refresher refreshes at half the interval by UPDATE
	 * without SDP; when the peer refreshes and does not, nua BYEs the
	 * session shortly before it expires (reported as the call's or leg's
	 * end). A peer whose Allow lacks UPDATE is not refreshed by UPDATE:
	 * a caller gets no timer of ours, a callee our INVITE again. */
	int64_t session_expires_ms, min_se_ms;
	/* SIP over TLS (sip/tls.c). PEM files: our certificate (chain) and its
	 * unencrypted key (both NULL or "": no certificate of ours; a tls:
	 * listen entry needs them), and the CA bundle trunks' certificates
	 * are verified against when tls_verify. sip_start() copies them into
	 * a private directory made under tls_dir (NULL or "": $TMPDIR, else
	 * /tmp), as Sofia wants, and sip_stop() removes it. A file that cannot
	 * be read (its errno) or parsed (EINVAL) fails sip_start(), logged
	 * with its name. */
	const char *tls_certificate, *tls_key, *tls_ca;
	bool tls_verify;
	const char *tls_dir;
};

/* A call handle: names one inbound INVITE on the SIP thread; never 0. */
typedef uint32_t sip_call_t;

/* An inbound INVITE from an allowed source. The strings live only for the
 * duration of the callback; NULL when the request has no such part. */
struct sip_invite {
	sip_call_t call;
	const char *call_id;   /* the caller's Call-ID, for logs only */
	const char *ruri_user; /* Request-URI user: the dialled number */
	const char *from_user;
	const char *pai_user; /* P-Asserted-Identity user, if present */
	const char *src_ip;   /* the packet's source address */
	const char *trunk;    /* name of the trunk whose allow list matched */
	const char *sdp;      /* the offer, NUL-terminated; NULL for a late offer */
	size_t sdp_len;
	/* It arrived over TLS: the top Via says TLS, and nta drops a request
	 * whose Via names another transport than the one it came on. Says
	 * nothing of the caller's certificate (inbound TLS asks for none; the
	 * trunk's allow list decides, as on UDP and TCP). */
	bool secure;
};

/* What happened on an outbound leg (sip_dial). */
enum sip_leg_kind {
	SIP_LEG_PROGRESS = 0, /* 18x; sdp set when it carried an answer (early media) */
	SIP_LEG_ANSWERED,     /* 2xx, ACKed by the stack; sdp = the callee's answer */
	SIP_LEG_FAILED,       /* final >= 300 (status); no response: 408, unreachable: 503 */
	SIP_LEG_ENDED,        /* the callee sent BYE after answering */
};

struct sip_leg_event {
	sip_call_t leg;
	enum sip_leg_kind kind;
	int status;
	const char *sdp; /* NUL-terminated, or NULL */
	size_t sdp_len;
};

struct sip_callbacks {
	/* Answer later with sip_respond()/sip_answer(); until then the caller
	 * hears 100. */
	void (*invite)(void *arg, const struct sip_invite *inv);
	/* The caller ended the call (CANCEL or BYE); the handle is gone after.
	 * A call pinbridge hung up itself (sip_hangup) is not reported. */
	void (*ended)(void *arg, sip_call_t call);
	/* An outbound leg's progress. After FAILED and ENDED the handle is gone.
	 * A leg ended by sip_hangup() reports nothing more. May be NULL. */
	void (*leg)(void *arg, const struct sip_leg_event *ev);
	/* A DTMF digit by SIP INFO on an inbound call (application/dtmf-relay
	 * "Signal=5", or application/dtmf "5"), already answered 200; other
	 * INFO bodies get 415 and are not reported. May be NULL. */
	void (*info_digit)(void *arg, sip_call_t call, char digit);
	/* A re-INVITE or UPDATE carrying SDP on an answered inbound call or
	 * outbound leg (hold, resume, a new address, a refresh with SDP).
	 * Returns the answer to send (malloc'd SDP text, freed by sip/), or NULL
	 * for 488. May be NULL: sip/ answers with the SDP it last sent. */
	char *(*reoffer)(void *arg, sip_call_t call, const char *sdp, size_t len);
	/* Late offer: the caller's answer, carried by its ACK, to the offer
	 * pinbridge sent in its 200 (sip_answer on an INVITE without SDP).
	 * sdp NULL: the ACK carried none (the call cannot have media). Also
	 * the answer to a re-INVITE without SDP on a call or leg, which sip/
	 * answers with the SDP it last sent, as its offer. May be NULL. */
	void (*ack_answer)(void *arg, sip_call_t call, const char *sdp, size_t len);
};

/* Binds every listen entry and starts the SIP thread. Returns 0 or an errno
 * value (EADDRINUSE-like failures to bind come back as EIO). */
int sip_start(struct sip **sipp, const struct sip_opts *o, const struct sip_callbacks *cb,
              void *arg);

/* Shuts nua down (pending transactions are answered, bindings
 * un-REGISTERed: a registrar that does not answer holds this up to ~32 s),
 * joins the thread and frees everything. NULL is allowed. Not from the SIP
 * thread. */
void sip_stop(struct sip *sip);

/* Runs fn(arg) on the SIP thread. Returns 0 (fn will run exactly once),
 * ESHUTDOWN once sip_stop() has begun, or ENOMEM. */
int sip_post(struct sip *sip, void (*fn)(void *arg), void *arg);

/* Sends a final (or provisional, status < 200) response to an INVITE.
 * reason NULL: the standard phrase. Unknown or finished calls are ignored
 * with a log line. From another thread the response is queued; the return
 * value then says only whether it was queued. */
int sip_respond(struct sip *sip, sip_call_t call, int status, const char *reason);

/* Sends a response carrying pinbridge's SDP (183 early media, 200 answer)
 * to an inbound INVITE; after a 2xx, sip_hangup() sends BYE. SIP thread
 * only. 0, EINVAL (status not 101..299, no sdp), ENOENT for a gone or
 * already answered call. */
int sip_answer(struct sip *sip, sip_call_t call, int status, const char *sdp);

/* An outbound INVITE through a trunk. Every header is pinbridge's own:
 *   Request-URI  sip:<to_user>@<host:port of proxy>[;transport=...]
 *   From         <sip:<from_user>@<advertise>>;tag=...
 *   P-Asserted-Identity  <sip:<from_user>@<advertise>>
 *   To           <sip:<to_user>@<host:port of proxy>>
 * with a fresh Call-ID, pinbridge's Contact (<sip:from_user@advertise>
 * when sip_opts.advertise is set), Via and User-Agent, and sdp as the
 * offer; to_user and from_user may hold only [A-Za-z0-9+*._-]. A 401/407
 * is answered once with username/password when the challenge's realm is
 * realm (NULL or "": any); otherwise it is the leg's final failure. SIP
 * thread only. 0 and *leg, EINVAL, ENOMEM. */
struct sip_dial {
	const char *proxy;                       /* the trunk's outbound URI, "sip:host:port..." */
	const char *to_user;                     /* the callee in the trunk's dial format */
	const char *from_user;                   /* the presented VN */
	const char *sdp;                         /* pinbridge's offer */
	const char *username, *password, *realm; /* may be NULL */
	const char *log_id;                      /* the call_sid, for log lines */
};
int sip_dial(struct sip *sip, const struct sip_dial *d, sip_call_t *leg);
/* Whether legs to uri go over TLS: a sips: URI, or ;transport=tls. Any
 * thread. */
bool sip_uri_secure(const char *uri);

/* Ends a call or leg in whatever state it is: CANCEL a pending outbound
 * leg (a 200 that crosses it is ACKed and BYEd by sip/), BYE an answered
 * one, reject an unanswered inbound INVITE with status (480 if 0), BYE an
 * answered inbound one. Nothing more is reported for it. SIP thread only.
 * Unknown handles are ignored. */
void sip_hangup(struct sip *sip, sip_call_t call, int status);

/* Replaces the trunks INVITEs are checked against (SIGHUP): a deep copy is
 * swapped in on the SIP thread; calls in progress are not touched, and
 * REGISTER bindings keep the trunks of sip_start() until a restart. Any
 * thread. 0, ENOMEM or ESHUTDOWN. */
int sip_set_trunks(struct sip *sip, const struct sip_trunk_acl *trunks, size_t n);

/* A one-shot timer on the SIP thread: fn(arg) runs once after ms unless
 * cancelled first; the timer is gone after it fired or was cancelled.
 * SIP thread only. NULL on ENOMEM. */
struct sip_timer;
struct sip_timer *sip_timer_start(struct sip *sip, unsigned ms, void (*fn)(void *arg), void *arg);
/* Before it fired only. NULL is allowed. */
void sip_timer_cancel(struct sip_timer *t);

/* Counters for /metrics (any thread). */
struct sip_stats {
	uint64_t handles; /* inbound calls and outbound legs sip/ holds now */
	uint64_t invites_in, acl_refused, legs_out, auth_answered, register_ok, register_failed;
	/* TLS connections, either way, whose handshake failed; outbound ones
	 * whose certificate we refused (chain, dates, or not the trunk's
	 * name). Each connection counts once, in one of them. */
	uint64_t tls_handshake_failed, tls_peer_refused;
};
void sip_get_stats(struct sip *sip, struct sip_stats *st);

#endif
