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

#define MEDIA_BATCH      32   /* packets per recvmmsg/sendmmsg */
#define MEDIA_PKT_MAX    1500 /* larger datagrams are truncated: dropped */
#define MEDIA_TICK_MS    20
#define MEDIA_RTCP_US    5000000 /* our report interval per leg */
#define MEDIA_CLOCK_RATE 8000

/* Counters are bumped by their worker only: relaxed is enough. */
#define media_ctr_add(c, field, n) atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed)

/* Written by one worker, read by anyone: relaxed atomics, no lock. */
struct media_counters {
	_Atomic uint64_t relayed;
	_Atomic uint64_t dropped_malformed;
	_Atomic uint64_t dropped_source;
	_Atomic uint64_t dropped_no_remote;
	_Atomic uint64_t dropped_send;
	_Atomic uint64_t rtcp_received;
	_Atomic uint64_t rtcp_sent;
	_Atomic uint64_t generated;
};

enum media_ep_kind { MEDIA_EP_CMD, MEDIA_EP_TIMER, MEDIA_EP_RTP, MEDIA_EP_RTCP };

/* rtp_stream source ids: a leg's packets are relayed as source idx (0 or
 * 1); generated audio has its own, so that each switch is marked. */
#define MEDIA_SRC_RINGBACK 2

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
	struct media_ringback rb;
};

struct media_session {
	struct media_engine *eng;
	struct media_worker *w;
	struct media_leg leg[2];
	struct media_counters ctr;
	/* worker-owned: the worker's session list */
	struct media_session *prev, *next;
};

enum media_cmd_type {
	MEDIA_CMD_ADD,
	MEDIA_CMD_REMOVE,
	MEDIA_CMD_UPDATE,
	MEDIA_CMD_SET_LEG,
	MEDIA_CMD_RINGBACK,
	MEDIA_CMD_STOP
};

struct media_cmd {
	enum media_cmd_type type;
	struct media_session *sess;
	unsigned leg;
	struct sockaddr_in remote; /* UPDATE */
	struct media_leg_cfg cfg;  /* SET_LEG, validated by the caller */
	bool on;                   /* RINGBACK */
	int result;                /* 0 or an errno value, set by the worker */
	bool done;                 /* guarded by the worker's lock */
	struct media_cmd *next;
};

/* Preallocated per worker: packets are received into buf and relayed from
 * the same memory, so the hot path neither allocates nor copies. */
struct media_batch {
	uint8_t buf[MEDIA_BATCH][MEDIA_PKT_MAX];
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

#endif
