/* media_int: media/'s private header: network byte order access shared by
 * the RTP and RTCP code. Not for use outside media/. */
#ifndef PB_MEDIA_INT_H
#define PB_MEDIA_INT_H

#include <stdint.h>

static inline uint16_t media_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t media_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void media_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void media_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* --- Engine internals, shared by engine.c and session.c -------------------
 * Every field below the "worker-owned" marks is touched only by the worker
 * thread the session is attached to; the owner thread reaches it only
 * through a command (struct media_cmd), acknowledged under the worker's lock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "media/media.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/srtp.h"

#define MEDIA_BATCH      32   /* packets per recvmmsg/sendmmsg */
#define MEDIA_PKT_MAX    1500 /* larger datagrams are truncated: dropped */
#define MEDIA_TICK_MS    20
#define MEDIA_RTCP_US    5000000 /* our report interval per leg */
#define MEDIA_CLOCK_RATE 8000

/* A batch slot: a received packet plus room for the SRTP/SRTCP trailer a
 * relay to an SRTP leg adds in place. */
#define MEDIA_PKT_SLOT (MEDIA_PKT_MAX + MEDIA_SRTP_RTCP_TRAILER_MAX)

/* Counters are bumped by their worker only: relaxed is enough. */
#define media_ctr_add(c, field, n) atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed)

/* Written by one worker, read by anyone: relaxed atomics, no lock. */
struct media_counters {
	_Atomic uint64_t relayed;
	_Atomic uint64_t dropped_malformed;
	_Atomic uint64_t dropped_source;
	_Atomic uint64_t dropped_no_remote;
	_Atomic uint64_t dropped_send;
	_Atomic uint64_t dropped_srtp_auth;
	_Atomic uint64_t dropped_srtp_replay;
	_Atomic uint64_t rtcp_received;
	_Atomic uint64_t rtcp_sent;
	_Atomic uint64_t generated;
};

enum media_ep_kind { MEDIA_EP_CMD, MEDIA_EP_TIMER, MEDIA_EP_RTP, MEDIA_EP_RTCP };

/* rtp_stream source ids: a leg's packets are relayed as source idx (0 or
 * 1); generated audio has its own, so that each switch is marked. */
#define MEDIA_SRC_RINGBACK 2
#define MEDIA_SRC_PROMPT   3

#define MEDIA_FRAME 160 /* samples (and G.711 bytes) in one 20 ms frame */

/* A prompt (prompt.c): immutable 8 kHz mono samples, one allocation. */
struct media_prompt {
	size_t n;
	int16_t pcm[];
};

/* Prompt playout on one leg (playout.c). Like ringback, each play (and each
 * resumption after the leg had no address) is a burst with its own
 * synthetic SSRC, so the leg's stream marks the switch. */
struct media_playout {
	const struct media_prompt *p; /* NULL: nothing playing */
	size_t pos;                   /* next sample to send */
	bool barge;                   /* a collected digit on this leg cuts it */
	uint64_t cookie;
	bool sending; /* a frame went out on the previous tick */
	uint32_t burst;
	uint16_t seq; /* within the burst */
	uint32_t ts;
	int64_t next_us; /* when the next frame is due; 0: at the next tick */
};

/* In-band DTMF detector (dtmf.c) over G.711 payloads: spandsp's dtmf_rx.
 * Pure (no sockets, no session), so the fuzz harness drives it directly.
 * Allocates only in _new; feeding it allocates nothing. */
struct media_dtmf_rx;

#define MEDIA_DTMF_RX_MAX 16 /* digits one feed can report; more are lost */

/* spandsp's shared tables, built once before any worker runs. */
void media_dtmf_init(void);
int media_dtmf_rx_new(struct media_dtmf_rx **out);
void media_dtmf_rx_free(struct media_dtmf_rx *d);
/* Forget any tone half-heard (collection starts over). */
void media_dtmf_rx_reset(struct media_dtmf_rx *d);
/* Feed n G.711 bytes of codec; the digits whose tone began here are
 * written to digits (at most max, no terminator). Returns their number. */
size_t media_dtmf_rx_g711(struct media_dtmf_rx *d, enum media_codec codec, const uint8_t *payload,
                          size_t n, char *digits, size_t max);

/* DTMF collection on one leg (dtmf.c). */
struct media_collect {
	bool on;             /* worker-owned */
	struct rtp_dtmf rfc; /* worker-owned; fed even while off, so that an
	                      * event begun before collection is not a digit */
	/* Set by the owner thread before its first collect-on command (the
	 * command's lock publishes it); used by the worker only while on;
	 * freed by the owner with the session. */
	struct media_dtmf_rx *inband;
};

/* Ringback generator of one leg (ringback.c). Every resumption after a
 * pause is a new "burst" with its own synthetic SSRC, so the outgoing
 * stream sees a switch: marker bit, timestamp jump by the elapsed time. */
#define MEDIA_RINGBACK_HOLD_US 200000 /* relayed audio pauses the tone this long */

struct media_ringback {
	bool on;
	bool sending;   /* a frame went out on the previous tick */
	uint32_t burst; /* synthetic SSRC of the current burst */
	uint16_t seq;   /* within the burst */
	uint32_t ts;
	unsigned pos; /* frame in the cadence; runs on while paused */
};

/* Repacketisation towards one leg (repack.c): when the legs' ptimes differ,
 * the other leg's audio is re-cut into this leg's frames, as its own source
 * in this leg's stream (MEDIA_SRC_REPACK: our own sequence numbers, the
 * input's timestamps), so that SSRC, sequence and switch marking stay the
 * stream's. Equal ptimes with packets of the receiving leg's frame size
 * never come here: the in-place relay is untouched. */
#define MEDIA_SRC_REPACK     4
#define MEDIA_SRC_DTMFGEN    5
#define MEDIA_PTIME_MIN      10 /* ms; a=ptime outside [MIN, MAX] is clamped */
#define MEDIA_PTIME_MAX      60
#define MEDIA_REPACK_MAX     (MEDIA_PTIME_MAX * MEDIA_CLOCK_RATE / 1000)
#define MEDIA_REPACK_IDLE_US 100000 /* input silent this long: flush the rest */

struct media_repack {
	bool on;          /* the ptimes differ, or the other leg's packets did */
	unsigned frame;   /* this leg's frame in samples (G.711: bytes) */
	bool have;        /* ssrc and next_ts describe the input */
	bool marker;      /* the next frame starts a talk spurt */
	uint32_t ssrc;    /* the input's */
	uint32_t next_ts; /* input timestamp that would continue buf */
	uint32_t buf_ts;  /* timestamp of buf[0] */
	uint16_t seq;     /* per packet sent, in source MEDIA_SRC_REPACK */
	size_t n;         /* bytes in buf, already in this leg's law */
	int64_t last_us;  /* last input */
	uint8_t buf[MEDIA_REPACK_MAX];
};

/* In-band DTMF towards a leg without telephone-event (dtmfgen.c): the other
 * leg's RFC 4733 events become dual tones in this leg's codec and ptime,
 * as source MEDIA_SRC_DTMFGEN, replacing the relayed audio meanwhile. */
enum media_dtmfgen_phase { MEDIA_GEN_IDLE = 0, MEDIA_GEN_TONE, MEDIA_GEN_GAP };

#define MEDIA_DTMFGEN_WAIT 4

struct media_dtmfgen_ev {
	bool have;
	uint8_t event;
	bool ended;
	uint32_t ts, ssrc; /* the event's identity */
	uint32_t tone_len; /* samples to play once ended */
};

struct media_dtmfgen {
	bool on; /* the other leg has te_pt, this one has none */
	enum media_dtmfgen_phase phase;
	struct media_dtmfgen_ev cur;
	/* Events begun while a tone still sounded, oldest first: a quick
	 * sender is played late rather than losing digits. */
	struct media_dtmfgen_ev wait[MEDIA_DTMFGEN_WAIT];
	unsigned n_wait;
	struct rtp_dtmf seen;                  /* which events were started already */
	uint32_t done;                         /* tone samples made (TONE), silence left (GAP) */
	uint32_t ph_lo, ph_hi, inc_lo, inc_hi; /* phase accumulators, 2^32 a turn */
	int64_t last_ev_us;                    /* the current event's latest packet */
	int64_t next_us;                       /* when the next frame is due */
	uint32_t burst;                        /* synthetic SSRC, new per run of tones */
	uint16_t seq;
	uint32_t ts;
};

/* Where a leg's received audio goes in its session's recording (record.c):
 * packets of ssrc are placed at pos plus their timestamp's distance from
 * ts. Worker-owned. */
struct media_rec_anchor {
	bool have;
	uint32_t ssrc;
	uint32_t ts;
	int64_t pos; /* sample frames since the recording's time zero */
};

/* What an epoll event's data.ptr points to. */
struct media_ep {
	enum media_ep_kind kind;
	struct media_leg *leg;
};

struct media_leg {
	struct media_session *sess;
	unsigned idx; /* 0 or 1; also the rtp_stream source id of its packets */
	struct media_port_pair pair;
	struct media_ep ep_rtp, ep_rtcp;
	/* worker-owned */
	struct media_leg_cfg cfg;
	bool have_remote;        /* peer is where to send */
	bool latched;            /* accept only from peer */
	struct sockaddr_in peer; /* SDP address, or the learned source */
	int64_t learn_until_us;  /* learn mode: window end */
	struct rtp_stream out;   /* our stream towards this leg's peer */
	struct rtcp_rx rx;       /* what this leg's peer sends us */
	char cname[RTCP_CNAME_SIZE];
	uint32_t sent_packets, sent_octets;
	bool sent_since_report;
	int64_t next_rtcp_us;
	int64_t last_relay_us; /* the other leg's last packet sent here; 0: none */
	int64_t last_rx_us;    /* the last RTP packet this leg accepted (inactivity) */
	bool held;             /* on hold: sent nothing, no inactivity check */
	bool quiet;            /* its peer sends nothing: no inactivity check */
	struct media_ringback rb;
	struct media_playout play;
	struct media_collect col;
	struct media_repack rp;   /* audio from the other leg, re-cut for this one */
	struct media_dtmfgen gen; /* tones for the other leg's RFC 4733 events */
	struct media_rec_anchor rec;
};

struct media_session {
	struct media_engine *eng;
	struct media_worker *w;
	struct media_leg leg[2];
	struct media_counters ctr;
	void *arg;                 /* worker-owned: the owner's pointer for events */
	int64_t rtp_timeout_us;    /* worker-owned: 0 = no inactivity check */
	bool timed_out;            /* worker-owned: reported once */
	struct media_rec *rec;     /* worker-owned: recording into it; NULL: not */
	int64_t rec_t0_us;         /* worker-owned: its time zero */
	struct media_rec *rec_own; /* owner thread: what media_session_record set */
	/* worker-owned: the worker's session list */
	struct media_session *prev, *next;
};

enum media_cmd_type {
	MEDIA_CMD_ADD,
	MEDIA_CMD_REMOVE,
	MEDIA_CMD_UPDATE,
	MEDIA_CMD_SET_LEG,
	MEDIA_CMD_RINGBACK,
	MEDIA_CMD_SET_ARG,
	MEDIA_CMD_COLLECT,
	MEDIA_CMD_PLAY,
	MEDIA_CMD_TIMEOUT,
	MEDIA_CMD_DIRECTION,
	MEDIA_CMD_RECORD,
	MEDIA_CMD_STOP
};

struct media_cmd {
	enum media_cmd_type type;
	struct media_session *sess;
	unsigned leg;
	struct sockaddr_in remote;         /* UPDATE */
	struct media_leg_cfg cfg;          /* SET_LEG, validated by the caller */
	bool on;                           /* RINGBACK, COLLECT */
	unsigned dir;                      /* DIRECTION: MEDIA_PEER_* bits */
	void *arg;                         /* SET_ARG */
	const struct media_prompt *prompt; /* PLAY; NULL stops */
	bool barge;                        /* PLAY */
	uint64_t cookie;                   /* PLAY */
	unsigned ms;                       /* TIMEOUT */
	struct media_rec *rec;             /* RECORD; NULL stops */
	int64_t t0_us;                     /* RECORD: time zero, the owner's clock_mono_us */
	int result;                        /* 0 or an errno value, set by the worker */
	bool done;                         /* guarded by the worker's lock */
	struct media_cmd *next;
};

/* Preallocated per worker: packets are received into buf and relayed from
 * the same memory, so the hot path neither allocates nor copies. */
struct media_batch {
	uint8_t buf[MEDIA_BATCH][MEDIA_PKT_SLOT]; /* at most MEDIA_PKT_MAX received */
	struct sockaddr_in src[MEDIA_BATCH];
	struct iovec rx_iov[MEDIA_BATCH], tx_iov[MEDIA_BATCH];
	struct mmsghdr rx[MEDIA_BATCH], tx[MEDIA_BATCH];
};

struct media_worker {
	struct media_engine *eng;
	pthread_t thread;
	int epfd, evfd, tfd;
	struct media_ep ep_cmd, ep_timer;
	pthread_mutex_t lock; /* guards head, tail and every queued cmd's done */
	pthread_cond_t acked;
	struct media_cmd *head, *tail;
	/* worker-owned */
	struct media_session *sessions;
	struct media_counters ctr; /* global totals are the sum over workers */
	struct media_batch batch;
};

struct media_engine {
	struct in_addr ip;
	struct media_ports *ports;
	unsigned nworkers;
	atomic_uint next_worker;
	struct media_worker *workers;
	/* Set once by the owner before any session collects or plays; the
	 * command that starts either publishes them to the worker. */
	media_event_fn ev_fn;
	void *ev_arg;
};

/* engine.c: queue cmd on w and wait until the worker has carried it out. */
void media_worker_call(struct media_worker *w, struct media_cmd *cmd);
/* session.c, on the worker thread. */
int media_session_attach(struct media_session *s, int epfd);
void media_session_detach(struct media_session *s, int epfd);
void media_leg_set_remote(struct media_leg *l, const struct sockaddr_in *remote, int64_t now_us);
void media_leg_set_cfg(struct media_leg *l, const struct media_leg_cfg *cfg, int64_t now_us);
void media_leg_rtp_input(struct media_worker *w, struct media_leg *l);
void media_leg_rtcp_input(struct media_worker *w, struct media_leg *l);
/* ticks: timer expirations since the last call (more than 1 when late). */
void media_session_tick(struct media_session *s, int64_t now_us, unsigned ticks);
/* ringback.c: the tone tables, built once (engine start); then, on the
 * worker thread, the generator's per-tick step for one leg. */
void ringback_init(void);
void media_leg_ringback_set(struct media_leg *l, bool on);
void media_leg_ringback_tick(struct media_leg *l, int64_t now_us, unsigned ticks,
                             struct media_counters *wc);
/* session.c: send one generated frame (payload: MEDIA_FRAME bytes in l's
 * law) from source src through l's stream; in is the generator's synthetic
 * header (ssrc = its burst, its own seq and ts). Counts it as generated. */
void media_leg_send_generated(struct media_leg *l, uint32_t src, const struct rtp_header *in,
                              const uint8_t *payload, int64_t now_us, struct media_counters *wc);
/* session.c: send pkt (len bytes of RTP with our header; cap: its buffer,
 * room for the SRTP tag) to l's peer, protected first when l is an SRTP
 * leg. true when it went out; a packet lost is counted (dropped_send, or
 * dropped_srtp_replay for a sequence number protected already). */
bool media_leg_send_rtp(struct media_leg *l, uint8_t *pkt, size_t len, size_t cap,
                        struct media_counters *wc);
/* engine.c: hand ev to the engine's event function (worker thread). */
void media_session_emit(struct media_session *s, const struct media_event *ev);
/* session.c: MEDIA_CMD_TIMEOUT on the worker. */
void media_session_timeout_set(struct media_session *s, unsigned ms, int64_t now_us);
/* session.c: MEDIA_CMD_DIRECTION on the worker; a resume restarts the
 * leg's inactivity count. */
void media_leg_direction_set(struct media_leg *l, unsigned dir, int64_t now_us);
/* dtmf.c, on the worker thread: an accepted RTP packet of l (before it is
 * rewritten for relaying); and the COLLECT command. */
void media_leg_dtmf_input(struct media_leg *l, const uint8_t *buf, const struct rtp_header *h);
void media_leg_collect_set(struct media_leg *l, bool on);
/* playout.c, on the worker thread: the PLAY command (p NULL stops), the
 * end of a prompt (PROMPT_DONE if one was playing) and the per-tick step. */
void media_leg_play_set(struct media_leg *l, const struct media_prompt *p, bool barge,
                        uint64_t cookie);
void media_leg_play_stop(struct media_leg *l, bool barged);
void media_leg_play_tick(struct media_leg *l, int64_t now_us, unsigned ticks,
                         struct media_counters *wc);

/* repack.c, on the worker thread. _cfg: leg l's or from's description
 * changed (from: the leg whose packets l is sent). _input: a packet x
 * accepted, for y, when y->rp.on or y->gen.on; true when it took the packet
 * (sent, buffered or dropped), false for the in-place relay. _tick: flush
 * audio left over by an input that stopped, and run l's tone generator. */
void media_leg_repack_cfg(struct media_leg *l, const struct media_leg_cfg *from);
bool media_leg_repack_input(struct media_leg *x, struct media_leg *y, const uint8_t *buf,
                            const struct rtp_header *h, int64_t now_us, struct media_counters *wc);
void media_leg_repack_tick(struct media_leg *l, int64_t now_us, struct media_counters *wc);
void media_leg_repack_flush(struct media_leg *l, int64_t now_us, struct media_counters *wc);
/* Send len payload bytes (at most MEDIA_REPACK_MAX) with the synthetic
 * header in from source src through l's stream; counted as generated when
 * generated, else as relayed. Nothing is sent while l has no address, is
 * held or hears a prompt (the prompt's own frames excepted). */
void media_leg_send_payload(struct media_leg *l, uint32_t src, const struct rtp_header *in,
                            const uint8_t *payload, size_t len, bool generated, int64_t now_us,
                            struct media_counters *wc);
/* dtmfgen.c: the sine table, built once (engine start); then, on the
 * worker thread, l's generator: configuration, an event packet from the
 * other leg, whether it is sounding (relayed audio is dropped), its tick. */
void media_dtmfgen_init(void);
void media_leg_dtmfgen_cfg(struct media_leg *l, bool on);
void media_leg_dtmfgen_event(struct media_leg *l, const struct rtp_header *h,
                             const uint8_t *payload, int64_t now_us, struct media_counters *wc);
bool media_leg_dtmfgen_busy(const struct media_leg *l);
void media_leg_dtmfgen_tick(struct media_leg *l, int64_t now_us, struct media_counters *wc);
/* record.c, on the worker thread: the RECORD command (rec NULL stops), and
 * an accepted RTP packet of l while its session records (before the
 * rewrite, relayed or not); only the leg's codec_pt is audio. */
void media_session_record_set(struct media_session *s, struct media_rec *rec, int64_t t0_us);
void media_leg_record_input(struct media_leg *l, const uint8_t *buf, const struct rtp_header *h,
                            int64_t now_us);
/* record.c, owner thread: the session was taken off its worker (freed):
 * its rec is free to finish. */
void media_session_record_gone(struct media_session *s);

#endif
