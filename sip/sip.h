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
};

struct sip_opts {
	/* "udp:ADDR:PORT" or "tcp:ADDR:PORT"; IPv6 as "udp:[::1]:5060". */
	const char *const *listen;
	size_t nlisten;
	const struct sip_trunk_acl *trunks;
	size_t ntrunks;
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
};

struct sip_callbacks {
	/* Answer later with sip_respond(); until then the caller hears 100. */
	void (*invite)(void *arg, const struct sip_invite *inv);
	/* The caller ended the call (CANCEL or BYE); the handle is gone after. */
	void (*ended)(void *arg, sip_call_t call);
};

/* Binds every listen entry and starts the SIP thread. Returns 0 or an errno
 * value (EADDRINUSE-like failures to bind come back as EIO). */
int sip_start(struct sip **sipp, const struct sip_opts *o, const struct sip_callbacks *cb,
              void *arg);

/* Shuts nua down (pending transactions are answered), joins the thread and
 * frees everything. NULL is allowed. Not from the SIP thread. */
void sip_stop(struct sip *sip);

/* Runs fn(arg) on the SIP thread. Returns 0 (fn will run exactly once),
 * ESHUTDOWN once sip_stop() has begun, or ENOMEM. */
int sip_post(struct sip *sip, void (*fn)(void *arg), void *arg);

/* Sends a final (or provisional, status < 200) response to an INVITE.
 * reason NULL: the standard phrase. Unknown or finished calls are ignored
 * with a log line. From another thread the response is queued; the return
 * value then says only whether it was queued. */
int sip_respond(struct sip *sip, sip_call_t call, int status, const char *reason);

#endif
