/* callflow_int: core/callflow's private view: the flow service and one
 * call's state. Every struct cf_call is owned by the SIP thread. */
#ifndef PB_CORE_CALLFLOW_INT_H
#define PB_CORE_CALLFLOW_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/callflow.h"
#include "core/pin.h"
#include "core/route.h"
#include "core/base/idmap.h"
#include "media/media.h"
#include "sip/sdp.h"
#include "sip/sip.h"

#define CF_MOD "call"

/* Outcomes counted in /metrics, one label each. */
enum cf_outcome {
	CF_OUT_COMPLETED = 0, /* bridged and ended */
	CF_OUT_CLIENT_HANGUP, /* caller left before an answer */
	CF_OUT_INCOMPLETE,    /* hunt exhausted: busy, no answer, failed */
	CF_OUT_NOT_FOUND,     /* 404: VN in no pool */
	CF_OUT_FORBIDDEN,     /* 403: nothing matches, oneway, ACL */
	CF_OUT_UNAVAILABLE,   /* 480: nobody to dial, or PIN path not served yet */
	CF_OUT_REJECTED,      /* 488 bad SDP, 503 no ports or shutting down, 500 */
	CF_OUT_CALL_ATTEMPT,  /* the IVR ended it before dialling: PIN failed, refused, left */
	CF_OUT_N
};

#define CF_SETUP_BUCKETS 10

struct cf_metrics {
	atomic_int active;
	_Atomic uint64_t outcomes[CF_OUT_N];
	_Atomic uint64_t setup_bucket[CF_SETUP_BUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t setup_count;
	_Atomic uint64_t setup_sum_us;
	_Atomic uint64_t hunt_attempts;
	_Atomic uint64_t pin_success, pin_failure, pin_lockouts, pin_locked_refused;
	_Atomic uint64_t join_refused_r1; /* open-side joins skipped for R1 */
};

struct cf_call;

struct callflow {
	struct config *cfg; /* start-up snapshot: listeners, media range */
	struct store *st;
	struct events *ev;
	struct sip *sip;
	struct media_ports *ports;
	struct media_engine *media;
	struct media_recorder *recorder; /* recordings' writer thread */
	struct in_addr media_ip;
	char media_addr[64]; /* what our SDP says: media.advertise or media.ip */
	struct cf_metrics m;
	struct pin_guard *guard; /* entries: SIP thread; per-VN counts: any */
	/* SIP thread only. */
	struct cf_call *calls;
	size_t ncalls;              /* linked */
	struct idmap by_in, by_out; /* sip_call_t of the caller, of the callee leg */
	struct idmap by_serial;     /* cf_call.serial */
	uint64_t next_serial;
	bool stopping;
};

/* SRTP on one leg (callflow_srtp.c). cur is the state the media leg uses
 * (NULL: plain); next, once have_next, the one an offer/answer in progress
 * decided, applied by the media session's set_leg and then settled. */
struct cf_srtp_leg {
	struct media_srtp *cur, *next;
	bool have_next;
	struct sdp_crypto peer, ours;                    /* cur's keys */
	struct sdp_crypto next_peer, next_ours;          /* next's */
	struct sdp_crypto offered[SDP_LOCAL_CRYPTO_MAX]; /* our last offer's lines */
	size_t noffered;
};

enum cf_state {
	CF_PIN,       /* answered; prompting and collecting a PIN */
	CF_VERIFYING, /* PIN complete; a prompt plays before what comes next */
	CF_HUNTING,   /* the caller has 180 (or 200 after a PIN); a callee may ring */
	CF_BRIDGED,   /* both answered, media flows */
	CF_DONE,      /* ended; freed once its legs are hung up */
};

struct cf_call {
	struct callflow *cf;
	struct config *cfg; /* the snapshot the call started with */
	const struct tenant *t;
	const struct trunk *trunk;    /* the tenant's: the callee leg's */
	const struct trunk *trunk_in; /* the caller's INVITE came from it; may be NULL */
	bool secure_in, secure_out;   /* the leg's signalling is TLS */
	struct cf_srtp_leg srtp[2];   /* caller, callee */
	enum cf_state state;
	sip_call_t in;  /* the caller */
	sip_call_t out; /* the callee leg ringing or bridged; 0 = none */
	struct media_session *media;
	struct media_rec *recording; /* bridged and recorded; finished at the end */
	struct route_decision rd;
	unsigned next_dial; /* index in rd.dial of the next number to try */
	bool any_busy;      /* a callee answered 486/600 during the hunt */
	struct sip_timer *ring_timer, *hunt_timer;
	struct sip_timer *dur_timer; /* max_duration once bridged */
	int64_t t0_us;               /* INVITE arrival, monotonic */
	bool setup_counted;
	struct sdp_local local_in, local_out;
	char answer_in[SDP_TEXT_MAX]; /* our SDP towards the caller */
	struct media_leg_cfg leg_in;
	struct media_leg_cfg leg_out; /* the callee's, from its SDP; zero before */
	bool early_out;               /* leg_out is the ringing leg's early SDP */
	bool late_offer;              /* the caller's answer is due in its ACK */
	unsigned char off[2];         /* MEDIA_PEER_* bits a leg's peer turned off */
	struct store_call rec;
	/* The PIN IVR (callflow_pin.c). */
	uint64_t serial;  /* names the call in media events (posted, may outlive it) */
	bool answered_in; /* the caller got our 200 (PIN path) */
	struct pin_collect pc;
	int attempts;
	struct sip_timer *digit_timer;
	uint64_t prompt_cookie; /* of the prompt playing; 0 = none */
	int after_prompt;       /* enum cf_after: what the prompt's end starts */
	enum store_call_type end_type;
	enum cf_outcome end_outcome;
	struct cf_call *next;
};

/* callflow_rec.c (SIP thread). Queues c's record as it is now (finish:
 * completed, with its event) on the store writer; never waits. */
void cf_rec_write(struct cf_call *c, bool finish);
/* Bridged, answered_ms just set: records the call when its allocation (or
 * else its tenant) says so; rec_status says whether it could. */
void cf_recording_begin(struct cf_call *c);
/* Ended, media session freed, ended_ms set: finishes the record, after
 * the recording's file is closed when there is one. */
void cf_recording_end(struct cf_call *c);

/* callflow.c */
uint64_t cf_session_id(void);
struct cf_call *cf_find_leg(struct callflow *cf, sip_call_t leg);
struct cf_call *cf_find_serial(struct callflow *cf, uint64_t serial);
/* c's callee leg is now out (0: none), and cf_find_leg finds it by that. */
void cf_set_out(struct cf_call *c, sip_call_t out);
/* Ends c: hangs up whatever leg is still up (in_status for an unanswered
 * caller), finishes the record with type/dial status, frees c. */
void cf_end(struct cf_call *c, enum store_call_type type, int in_status, enum cf_outcome out);

/* callflow_dial.c: the hunt (SIP thread). */
int cf_hunt_begin(struct cf_call *c);
void cf_leg_event(struct callflow *cf, const struct sip_leg_event *ev);
void cf_caller_gone(struct cf_call *c);
/* A bridged leg sent no RTP for the tenant's rtp_timeout: both are ended. */
void cf_rtp_timeout(struct cf_call *c, unsigned leg);
/* The callee's E.164 number as the trunk's dial_format wants it in the
 * Request-URI: "e164" as is, "digits" without the "+", "national" with the
 * tenant's country code replaced by a trunk 0 (numbers of other countries
 * stay E.164). */
void cf_dial_format(const struct trunk *tr, const struct tenant *t, const char *e164, char *out,
                    size_t n);
/* media leg config from a peer's SDP: remote address, the codec chosen,
 * telephone-event, latch from the trunk. 0 or EINVAL (no IPv4 audio). */
int cf_leg_cfg(const struct trunk *tr, const struct sdp_desc *d, const struct sdp_codec *voice,
               struct media_leg_cfg *out);

/* callflow_pin.c: step 4 (SIP thread). */
void cf_pin_begin(struct callflow *cf, struct config *cfg, const struct sip_invite *inv,
                  const struct route_decision *rd, const char *caller, const char *vn);
void cf_pin_digit(struct cf_call *c, char digit, enum pin_route route);
void cf_media_event(void *engine_arg, void *session_arg, const struct media_event *ev);
/* Plays prompt id to the answered caller, then ends the call as type. */
void cf_say_goodbye(struct cf_call *c, enum media_prompt_id id, enum store_call_type type,
                    enum cf_outcome out);
void cf_pin_free(struct cf_call *c); /* its timers */
/* The PIN is right: hunt (ringback now, or once "please wait" is over). */
void cf_pin_start_hunt(struct cf_call *c, bool ringback);
/* A prompt still playing to the caller stops (the callee answered). */
void cf_pin_prompt_stop(struct cf_call *c);
struct cf_call *cf_find_in(struct callflow *cf, sip_call_t in);
/* callflow.c: the pieces both paths share. */
void cf_refuse(struct callflow *cf, sip_call_t in, int status, const char *reason,
               enum cf_outcome out, const char *id);
/* A call for inv (record started, not linked); NULL after refusing 500. */
struct cf_call *cf_call_new(struct callflow *cf, struct config *cfg, const struct tenant *t,
                            const struct sip_invite *inv, const char *caller, const char *vn);
/* The caller's offer answered on a new media session; on failure the
 * caller is refused and c freed (-1). */
int cf_call_media(struct cf_call *c, const struct sip_invite *inv);
/* Into the calls list, counted active, its record queued. */
void cf_call_link(struct cf_call *c);

/* callflow_media.c: offer/answer after a leg's first (SIP thread). As
 * sip_callbacks' reoffer and ack_answer (arg: the struct callflow). */
char *cf_reoffer(void *arg, sip_call_t call, const char *sdp, size_t len);
void cf_ack_answer(void *arg, sip_call_t call, const char *sdp, size_t len);
/* An INVITE without SDP: a media session whose leg 0 is unknown until the
 * ACK's answer. 0, or an errno value with *status the SIP refusal. */
int cf_media_begin_late(struct cf_call *c, int *status);
/* The caller's 180 (with our answer; bare for a late offer) and 200 (our
 * answer, or for a late offer our offer, the callee's codec first). */
void cf_ring_caller(struct cf_call *c);
int cf_answer_caller(struct cf_call *c);
/* callflow_pin.c: the first prompt, once the caller's address is known. */
void cf_pin_greet(struct cf_call *c);

/* callflow_srtp.c (SIP thread). An offer from leg's peer: decides SRTP
 * for the answer and points l's crypto at our line (none: plain). 0, or
 * ENOTSUP (488; err says why) / ENOMEM, nothing decided. */
int cf_srtp_answer(struct cf_call *c, unsigned leg, const struct sdp_desc *offer,
                   struct sdp_local *l, char *err, size_t errlen);
/* Our offer on leg (a new callee, a late offer to the caller): fresh lines
 * into l per the trunk's policy. 0 or ENOTSUP (the leg cannot be offered). */
int cf_srtp_offer(struct cf_call *c, unsigned leg, struct sdp_local *l, char *err, size_t errlen);
/* The peer's answer to our offer: decides SRTP. 0, ENOTSUP, ENOMEM. */
int cf_srtp_answered(struct cf_call *c, unsigned leg, const struct sdp_desc *answer, char *err,
                     size_t errlen);
/* The state leg's media config must carry now (decided or current). */
struct media_srtp *cf_srtp_next(const struct cf_call *c, unsigned leg);
/* After the media session took the leg config carrying cf_srtp_next()
 * (applied), or after the offer/answer failed: frees what nobody uses. */
void cf_srtp_settle(struct cf_call *c, unsigned leg, bool applied);
bool cf_srtp_on(const struct cf_call *c, unsigned leg);
/* Every state and key of c; after media_session_free(). */
void cf_srtp_free(struct cf_call *c);

/* callflow_metrics.c */
void cf_metrics_outcome(struct callflow *cf, enum cf_outcome o);
void cf_metrics_setup(struct callflow *cf, int64_t us);

#endif
