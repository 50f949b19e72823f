/* session: one call's anchored media: two legs, each with its own port
 * pair, latching, outgoing stream and RTCP. Packets arriving on one leg are
 * rewritten (SSRC, sequence, timestamps, payload types, G.711 law) and sent
 * to the other, unless a prompt is playing there; RTCP is terminated per
 * leg; a collecting leg's packets are also offered to its DTMF detectors.
 * An SRTP leg's packets are unprotected on arrival and ours protected just
 * before they leave, in place in the same buffers. Runs on the owning
 * worker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "media/g711.h"
#include "media/media_int.h"

static bool addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static bool in_cidr(struct in_addr ip, const struct media_cidr *c)
{
	uint32_t mask = c->prefix == 0 ? 0 : htonl(~0u << (32 - c->prefix));

	return (ip.s_addr & mask) == (c->net.s_addr & mask);
}

/* May a learning leg latch onto src? Only from the SDP address's IP or
 * the trunk's CIDRs (DESIGN §3), so a stranger cannot hijack the call. */
static bool learnable(const struct media_leg *l, const struct sockaddr_in *src)
{
	if (l->cfg.remote.sin_addr.s_addr != 0 &&
	    src->sin_addr.s_addr == l->cfg.remote.sin_addr.s_addr)
		return true;
	for (unsigned i = 0; i < l->cfg.n_cidrs; i++)
		if (in_cidr(src->sin_addr, &l->cfg.cidrs[i]))
			return true;
	return false;
}

/* Would latching accept an RTP packet from src on leg l? Changes nothing,
 * so an SRTP leg can ask before the packet is authenticated. */
static bool source_allowed(const struct media_leg *l, const struct sockaddr_in *src, int64_t now_us)
{
	if (l->latched)
		return addr_eq(src, &l->peer);
	if (l->cfg.latch != MEDIA_LATCH_LEARN)
		return false; /* strict without an SDP address yet */
	if (now_us < l->learn_until_us)
		return learnable(l, src);
	/* The window is over without a packet to learn from: the SDP
	 * address is all there is. */
	return l->have_remote && addr_eq(src, &l->peer);
}

/* Latching: accept an RTP packet from src on leg l, latching onto src (in
 * the learning window) or onto the SDP address (after it)? */
static bool accept_rtp(struct media_leg *l, const struct sockaddr_in *src, int64_t now_us)
{
	if (!source_allowed(l, src, now_us))
		return false;
	if (!l->latched && now_us < l->learn_until_us) {
		l->peer = *src;
		l->have_remote = true;
	}
	l->latched = true;
	return true;
}

void media_leg_set_remote(struct media_leg *l, const struct sockaddr_in *remote, int64_t now_us)
{
	l->cfg.remote = *remote;
	l->peer = *remote;
	l->have_remote = remote->sin_port != 0 && remote->sin_addr.s_addr != 0;
	l->latched = l->have_remote && l->cfg.latch == MEDIA_LATCH_STRICT;
	l->learn_until_us = now_us + (int64_t)l->cfg.learn_ms * 1000;
}

/* Count a packet an SRTP leg's unprotect refused (rc from srtp.h):
 * forged, replayed, or anything else (too short, the key worn out) as
 * malformed. */
static void srtp_dropped(struct media_session *s, struct media_counters *wc, int rc)
{
	switch (rc) {
	case EACCES:
		media_ctr_add(&s->ctr, dropped_srtp_auth, 1);
		media_ctr_add(wc, dropped_srtp_auth, 1);
		break;
	case EALREADY:
		media_ctr_add(&s->ctr, dropped_srtp_replay, 1);
		media_ctr_add(wc, dropped_srtp_replay, 1);
		break;
	default:
		media_ctr_add(&s->ctr, dropped_malformed, 1);
		media_ctr_add(wc, dropped_malformed, 1);
		break;
	}
}

/* Count a packet for SRTP leg l that protect refused (rc from srtp.h): a
 * sequence number protected already (a duplicate relayed, like a gateway's
 * repeated RFC 4733 end packet: libsrtp never protects one index twice)
 * as a replay, anything else as a send failure. */
static void srtp_unsent(struct media_leg *l, struct media_counters *wc, int rc)
{
	if (rc == EALREADY) {
		media_ctr_add(&l->sess->ctr, dropped_srtp_replay, 1);
		media_ctr_add(wc, dropped_srtp_replay, 1);
	} else {
		media_ctr_add(&l->sess->ctr, dropped_send, 1);
		media_ctr_add(wc, dropped_send, 1);
	}
}

/* An RTCP packet of l's peer, on the RTCP port or muxed onto the RTP one
 * (SRTCP either way on an SRTP leg), decrypted in place. */
static void rtcp_input_one(struct media_leg *l, uint8_t *buf, size_t len,
                           const struct sockaddr_in *src, int64_t now_us, struct media_counters *wc)
{
	struct rtcp_info info;
	int rc;

	if (!l->have_remote || src->sin_addr.s_addr != l->peer.sin_addr.s_addr) {
		media_ctr_add(&l->sess->ctr, dropped_source, 1);
		media_ctr_add(wc, dropped_source, 1);
		return;
	}
	if (l->cfg.srtp && (rc = media_srtp_unprotect_rtcp(l->cfg.srtp, buf, &len)) != 0) {
		srtp_dropped(l->sess, wc, rc);
		return;
	}
	if (rtcp_parse(buf, len, &info) != 0) {
		media_ctr_add(&l->sess->ctr, dropped_malformed, 1);
		media_ctr_add(wc, dropped_malformed, 1);
		return;
	}
	rtcp_rx_sender_report(&l->rx, &info, (uint64_t)now_us);
	media_ctr_add(&l->sess->ctr, rtcp_received, 1);
	media_ctr_add(wc, rtcp_received, 1);
}

static int recv_batch(struct media_batch *b, int fd)
{
	for (unsigned i = 0; i < MEDIA_BATCH; i++)
		b->rx[i].msg_hdr.msg_namelen = sizeof(b->src[i]);
	return recvmmsg(fd, b->rx, MEDIA_BATCH, MSG_DONTWAIT, NULL);
}

void media_leg_rtcp_input(struct media_worker *w, struct media_leg *l)
{
	struct media_batch *b = &w->batch;
	int64_t now_us = clock_mono_us();
	int n = recv_batch(b, l->pair.rtcp_fd);

	for (int i = 0; i < n; i++)
		rtcp_input_one(l, b->buf[i], b->rx[i].msg_len, &b->src[i], now_us, &w->ctr);
}

/* Rewrite an accepted RTP packet of leg x in place (a batch slot, room for
 * the SRTP tag) for leg y, and protect it when y is an SRTP leg. 0, ENOENT
 * when y has no payload type for it, or protect's error (counted here). */
static int relay_one(struct media_leg *x, struct media_leg *y, uint8_t *buf,
                     const struct rtp_header *h, int64_t now_us, size_t *out_len,
                     struct media_counters *wc)
{
	int rc = rtp_stream_rewrite(&y->out, buf, h, x->idx, (uint64_t)now_us, out_len);

	if (rc)
		return rc;
	if (h->pt == x->cfg.codec_pt && x->cfg.codec != y->cfg.codec) {
		if (x->cfg.codec == MEDIA_PCMU)
			g711_ulaw_to_alaw_buf(buf + RTP_HEADER_LEN, h->payload_len);
		else
			g711_alaw_to_ulaw_buf(buf + RTP_HEADER_LEN, h->payload_len);
	}
	/* A duplicate from x keeps its sequence number through the rewrite:
	 * libsrtp refuses to protect it twice (EALREADY), which drops it. */
	if (y->cfg.srtp &&
	    (rc = media_srtp_protect_rtp(y->cfg.srtp, buf, out_len, MEDIA_PKT_SLOT)) != 0) {
		srtp_unsent(y, wc, rc);
		return rc;
	}
	y->sent_packets++;
	y->sent_octets += (uint32_t)h->payload_len;
	y->sent_since_report = true;
	return 0;
}

void media_leg_rtp_input(struct media_worker *w, struct media_leg *x)
{
	struct media_session *s = x->sess;
	struct media_leg *y = &s->leg[1 - x->idx];
	struct media_batch *b = &w->batch;
	int64_t now_us = clock_mono_us();
	uint64_t malformed = 0, source = 0, no_remote = 0;
	unsigned k = 0;
	int n = recv_batch(b, x->pair.rtp_fd), sent = 0, rc;

	for (int i = 0; i < n; i++) {
		uint8_t *buf = b->buf[i];
		size_t len = b->rx[i].msg_len, out_len;
		struct rtp_header h;

		if (b->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
			malformed++;
			continue;
		}
		if (rtp_is_rtcp(buf, len)) { /* rtcp-mux: terminated, never relayed */
			rtcp_input_one(x, buf, len, &b->src[i], now_us, &w->ctr);
			continue;
		}
		/* SRTP: only a source latching would take reaches the SRTP
		 * state (a stranger cannot spend the replay window or our
		 * CPU), and the packet is authenticated before anything
		 * reads it: a forgery neither latches nor becomes a digit. */
		if (x->cfg.srtp && !source_allowed(x, &b->src[i], now_us)) {
			source++;
			continue;
		}
		if (x->cfg.srtp && (rc = media_srtp_unprotect_rtp(x->cfg.srtp, buf, &len)) != 0) {
			srtp_dropped(s, &w->ctr, rc);
			continue;
		}
		if (rtp_parse(buf, len, &h) != 0) {
			malformed++;
			continue;
		}
		if (!accept_rtp(x, &b->src[i], now_us)) {
			source++;
			continue;
		}
		x->last_rx_us = now_us;
		rtcp_rx_packet(&x->rx, &h,
		               (uint32_t)((uint64_t)now_us * MEDIA_CLOCK_RATE / 1000000u));
		media_leg_dtmf_input(x, buf, &h); /* before the rewrite moves it */
		if (s->rec)                       /* heard, whether relayed or not */
			media_leg_record_input(x, buf, &h, now_us);
		if (!y->have_remote) {
			no_remote++;
			continue;
		}
		if (y->held) /* on hold: dropped, not counted */
			continue;
		if (y->play.p) {                   /* y hears its prompt, not the other side */
			y->last_relay_us = now_us; /* nor ringback, after it */
			continue;
		}
		/* Different ptimes (declared, or packets not of y's size), or
		 * DTMF to regenerate: repack.c */
		if ((y->rp.on || y->gen.on || h.payload_len != y->rp.frame) &&
		    media_leg_repack_input(x, y, buf, &h, now_us, &w->ctr)) {
			y->last_relay_us = now_us;
			continue;
		}
		if ((rc = relay_one(x, y, buf, &h, now_us, &out_len, &w->ctr)) != 0) {
			malformed += rc == ENOENT; /* else SRTP refused, counted */
			continue;
		}
		y->last_relay_us = now_us; /* pauses y's ringback */
		b->tx_iov[k].iov_base = buf;
		b->tx_iov[k].iov_len = out_len;
		b->tx[k].msg_hdr.msg_name = &y->peer;
		b->tx[k].msg_hdr.msg_namelen = sizeof(y->peer);
		k++;
	}
	if (k) {
		/* A full socket buffer loses the rest of the batch, as the
		 * network would; it is not worth blocking the worker for. */
		sent = sendmmsg(y->pair.rtp_fd, b->tx, k, MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;
	}
	media_ctr_add(&s->ctr, relayed, (uint64_t)sent);
	media_ctr_add(&w->ctr, relayed, (uint64_t)sent);
	if ((unsigned)sent < k) {
		media_ctr_add(&s->ctr, dropped_send, k - (unsigned)sent);
		media_ctr_add(&w->ctr, dropped_send, k - (unsigned)sent);
	}
	if (malformed || source || no_remote) {
		media_ctr_add(&s->ctr, dropped_malformed, malformed);
		media_ctr_add(&w->ctr, dropped_malformed, malformed);
		media_ctr_add(&s->ctr, dropped_source, source);
		media_ctr_add(&w->ctr, dropped_source, source);
		media_ctr_add(&s->ctr, dropped_no_remote, no_remote);
		media_ctr_add(&w->ctr, dropped_no_remote, no_remote);
	}
}

bool media_leg_send_rtp(struct media_leg *l, uint8_t *pkt, size_t len, size_t cap,
                        struct media_counters *wc)
{
	int rc;

	if (l->cfg.srtp && (rc = media_srtp_protect_rtp(l->cfg.srtp, pkt, &len, cap)) != 0) {
		srtp_unsent(l, wc, rc);
		return false;
	}
	if (sendto(l->pair.rtp_fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&l->peer,
	           sizeof(l->peer)) < 0) {
		/* Lost like a full network buffer would lose it: the
		 * stream's numbering has moved on regardless. */
		media_ctr_add(&l->sess->ctr, dropped_send, 1);
		media_ctr_add(wc, dropped_send, 1);
		return false;
	}
	return true;
}

void media_leg_send_generated(struct media_leg *l, uint32_t src, const struct rtp_header *in,
                              const uint8_t *payload, int64_t now_us, struct media_counters *wc)
{
	struct rtp_header out;
	uint8_t pkt[RTP_HEADER_LEN + MEDIA_FRAME + MEDIA_SRTP_RTP_TRAILER_MAX];

	if (l->held) /* the generator's clock runs on; nothing goes out */
		return;
	if (rtp_stream_next(&l->out, in, src, (uint64_t)now_us, &out) != 0)
		return; /* unreachable: generators use a type the map holds */
	rtp_header_write(pkt, sizeof(pkt), &out);
	memcpy(pkt + RTP_HEADER_LEN, payload, MEDIA_FRAME);
	if (!media_leg_send_rtp(l, pkt, RTP_HEADER_LEN + MEDIA_FRAME, sizeof(pkt), wc))
		return;
	media_ctr_add(&l->sess->ctr, generated, 1);
	media_ctr_add(wc, generated, 1);
	l->sent_packets++;
	l->sent_octets += MEDIA_FRAME;
	l->sent_since_report = true;
}

/* Our own SR/RR + SDES for leg l's peer, every MEDIA_RTCP_US. */
static void leg_report(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	struct rtcp_report_block blk;
	struct rtcp_report r = {.ssrc = l->out.ssrc, .cname = l->cname};
	struct sockaddr_in to = l->peer;
	uint8_t buf[256 + MEDIA_SRTP_RTCP_TRAILER_MAX];
	size_t len;
	int rc;

	if (rtcp_rx_block(&l->rx, (uint64_t)now_us, &blk) == 0) {
		r.n_blocks = 1;
		r.blocks = &blk;
	}
	if (l->sent_since_report) {
		uint64_t since = (uint64_t)now_us - l->out.last_ts_us;

		r.sender = true;
		r.sr.ntp = rtcp_ntp_from_unix_us((uint64_t)clock_now_ms() * 1000u);
		r.sr.rtp_ts = l->out.last_ts + (uint32_t)(since * MEDIA_CLOCK_RATE / 1000000u);
		r.sr.packets = l->sent_packets;
		r.sr.octets = l->sent_octets;
	}
	l->sent_since_report = false;
	if (rtcp_build(buf, sizeof(buf) - MEDIA_SRTP_RTCP_TRAILER_MAX, &r, &len) != 0)
		return;
	if (l->cfg.srtp &&
	    (rc = media_srtp_protect_rtcp(l->cfg.srtp, buf, &len, sizeof(buf))) != 0) {
		srtp_unsent(l, wc, rc);
		return;
	}
	/* To port + 1 even when the peer muxes RTCP onto RTP: the leg's
	 * description does not say whether it does. */
	to.sin_port = htons((uint16_t)(ntohs(l->peer.sin_port) + 1));
	if (sendto(l->pair.rtcp_fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) >=
	    0) {
		media_ctr_add(&l->sess->ctr, rtcp_sent, 1);
		media_ctr_add(wc, rtcp_sent, 1);
	}
}

void media_session_timeout_set(struct media_session *s, unsigned ms, int64_t now_us)
{
	s->rtp_timeout_us = (int64_t)ms * 1000;
	s->timed_out = false;
	s->leg[0].last_rx_us = s->leg[1].last_rx_us = now_us;
}

int media_session_rtp_timeout(struct media_session *sess, unsigned ms)
{
	struct media_cmd cmd = {.type = MEDIA_CMD_TIMEOUT, .sess = sess, .ms = ms};

	media_worker_call(sess->w, &cmd);
	return cmd.result;
}

void media_leg_direction_set(struct media_leg *l, unsigned dir, int64_t now_us)
{
	bool held = !(dir & MEDIA_PEER_RECEIVES), quiet = !(dir & MEDIA_PEER_SENDS);

	if ((l->held && !held) || (l->quiet && !quiet))
		l->last_rx_us = now_us; /* a resumed peer gets the full timeout */
	l->held = held;
	l->quiet = quiet;
}

int media_session_direction(struct media_session *sess, unsigned leg, unsigned dir)
{
	struct media_cmd cmd = {.type = MEDIA_CMD_DIRECTION, .sess = sess, .leg = leg, .dir = dir};

	if (leg > 1 || dir > MEDIA_PEER_SENDRECV)
		return EINVAL;
	media_worker_call(sess->w, &cmd);
	return 0;
}

static void check_inactivity(struct media_session *s, int64_t now_us)
{
	for (unsigned i = 0; i < 2 && !s->timed_out; i++) {
		if (s->leg[i].held || s->leg[i].quiet ||
		    now_us - s->leg[i].last_rx_us < s->rtp_timeout_us)
			continue;
		s->timed_out = true;
		media_session_emit(s,
		                   &(struct media_event){.kind = MEDIA_EV_RTP_TIMEOUT, .leg = i});
	}
}

void media_session_tick(struct media_session *s, int64_t now_us, unsigned ticks)
{
	if (s->rtp_timeout_us && !s->timed_out)
		check_inactivity(s, now_us);
	for (unsigned i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];

		if (l->play.p) {
			media_leg_play_tick(l, now_us, ticks, &s->w->ctr);
			l->rb.sending = false; /* its next frame is a new burst */
		} else {
			media_leg_ringback_tick(l, now_us, ticks, &s->w->ctr);
		}
		media_leg_repack_tick(l, now_us, &s->w->ctr);
		if (!l->have_remote || now_us < l->next_rtcp_us)
			continue;
		leg_report(l, now_us, &s->w->ctr);
		l->next_rtcp_us = now_us + MEDIA_RTCP_US;
	}
}

int media_session_attach(struct media_session *s, int epfd)
{
	for (unsigned i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->ep_rtp};
		int rc;

		rc = epoll_ctl(epfd, EPOLL_CTL_ADD, l->pair.rtp_fd, &ev);
		ev.data.ptr = &l->ep_rtcp;
		if (!rc)
			rc = epoll_ctl(epfd, EPOLL_CTL_ADD, l->pair.rtcp_fd, &ev);
		if (rc) {
			rc = errno;
			log_err("media", "epoll add of session sockets: %s", strerror(rc));
			media_session_detach(s, epfd);
			return rc;
		}
	}
	return 0;
}

void media_session_detach(struct media_session *s, int epfd)
{
	/* ENOENT for sockets never added is expected and harmless. */
	for (unsigned i = 0; i < 2; i++) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->leg[i].pair.rtp_fd, NULL);
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->leg[i].pair.rtcp_fd, NULL);
	}
}

static bool leg_cfg_valid(const struct media_leg_cfg *c)
{
	return c->codec_pt <= RTP_PT_MAX && c->te_pt <= RTP_PT_MAX && c->te_pt != c->codec_pt &&
	       (c->codec == MEDIA_PCMU || c->codec == MEDIA_PCMA) && c->n_cidrs <= MEDIA_CIDR_MAX;
}

/* Leg l's outgoing stream carries what leg from receives, under l's types.
 * Two entries at most: the table cannot be full. */
static void leg_map(struct media_leg *l, const struct media_leg_cfg *from)
{
	rtp_stream_map_clear(&l->out);
	rtp_stream_map_pt(&l->out, from->codec_pt, l->cfg.codec_pt);
	if (from->te_pt >= 0 && l->cfg.te_pt >= 0)
		rtp_stream_map_pt(&l->out, (uint8_t)from->te_pt, (uint8_t)l->cfg.te_pt);
	media_leg_repack_cfg(l, from); /* ptimes and te_pt decide it too */
}

static void leg_set_cfg(struct media_leg *l, const struct media_leg_cfg *cfg)
{
	l->cfg = *cfg;
	if (!l->cfg.learn_ms)
		l->cfg.learn_ms = MEDIA_LEARN_MS_DEF;
}

/* A new description for a live leg: both streams' maps follow (the relay
 * transcodes by comparing the legs' codecs, so that follows by itself);
 * the streams themselves go on, SSRC, sequence and timestamps included. */
void media_leg_set_cfg(struct media_leg *l, const struct media_leg_cfg *cfg, int64_t now_us)
{
	struct media_leg *o = &l->sess->leg[1 - l->idx];

	leg_set_cfg(l, cfg);
	leg_map(l, &o->cfg);
	leg_map(o, &l->cfg);
	media_leg_set_remote(l, &cfg->remote, now_us);
}

static void leg_init(struct media_session *s, unsigned idx, const struct media_leg_cfg *cfg,
                     const struct media_leg_cfg *from, int64_t now_us)
{
	struct media_leg *l = &s->leg[idx];

	l->sess = s;
	l->idx = idx;
	leg_set_cfg(l, cfg);
	l->ep_rtp = (struct media_ep){.kind = MEDIA_EP_RTP, .leg = l};
	l->ep_rtcp = (struct media_ep){.kind = MEDIA_EP_RTCP, .leg = l};
	rtp_stream_init(&l->out, MEDIA_CLOCK_RATE);
	rtp_dtmf_init(&l->col.rfc);
	leg_map(l, from);
	rtcp_rx_init(&l->rx);
	rtcp_cname_make(l->cname);
	media_leg_set_remote(l, &cfg->remote, now_us);
	l->next_rtcp_us = now_us + MEDIA_RTCP_US;
}

int media_session_new(struct media_engine *eng, const struct media_leg_cfg *a,
                      const struct media_leg_cfg *b, struct media_session **sessp)
{
	struct media_cmd add = {.type = MEDIA_CMD_ADD};
	struct media_session *s;
	int64_t now_us = clock_mono_us();
	int rc;

	if (!leg_cfg_valid(a) || !leg_cfg_valid(b))
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->eng = eng;
	s->leg[0].pair.rtp_fd = s->leg[0].pair.rtcp_fd = -1;
	s->leg[1].pair.rtp_fd = s->leg[1].pair.rtcp_fd = -1;
	rc = media_ports_bind(eng->ports, eng->ip, &s->leg[0].pair);
	if (!rc) {
		rc = media_ports_bind(eng->ports, eng->ip, &s->leg[1].pair);
		if (rc)
			media_ports_unbind(eng->ports, &s->leg[0].pair);
	}
	if (rc) {
		free(s);
		return rc;
	}
	leg_init(s, 0, a, b, now_us);
	leg_init(s, 1, b, a, now_us);
	s->w = &eng->workers[atomic_fetch_add(&eng->next_worker, 1) % eng->nworkers];
	add.sess = s;
	media_worker_call(s->w, &add);
	if (add.result) {
		media_ports_unbind(eng->ports, &s->leg[0].pair);
		media_ports_unbind(eng->ports, &s->leg[1].pair);
		free(s);
		return add.result;
	}
	*sessp = s;
	return 0;
}

uint16_t media_session_local_port(const struct media_session *sess, unsigned leg)
{
	return leg < 2 ? sess->leg[leg].pair.rtp_port : 0;
}

int media_session_update_remote(struct media_session *sess, unsigned leg,
                                const struct sockaddr_in *remote)
{
	struct media_cmd upd = {.type = MEDIA_CMD_UPDATE, .sess = sess, .leg = leg};

	if (leg > 1)
		return EINVAL;
	upd.remote = *remote;
	media_worker_call(sess->w, &upd);
	return 0;
}

int media_session_set_leg(struct media_session *sess, unsigned leg, const struct media_leg_cfg *cfg)
{
	struct media_cmd set = {.type = MEDIA_CMD_SET_LEG, .sess = sess, .leg = leg};

	if (leg > 1 || !leg_cfg_valid(cfg))
		return EINVAL;
	set.cfg = *cfg;
	media_worker_call(sess->w, &set);
	return 0;
}

void media_session_set_arg(struct media_session *sess, void *arg)
{
	struct media_cmd set = {.type = MEDIA_CMD_SET_ARG, .sess = sess, .arg = arg};

	media_worker_call(sess->w, &set);
}

int media_session_ringback(struct media_session *sess, unsigned leg, bool on)
{
	struct media_cmd rb = {.type = MEDIA_CMD_RINGBACK, .sess = sess, .leg = leg, .on = on};

	if (leg > 1)
		return EINVAL;
	media_worker_call(sess->w, &rb);
	return 0;
}

void media_session_free(struct media_session *sess)
{
	struct media_cmd rm = {.type = MEDIA_CMD_REMOVE, .sess = sess};

	if (!sess)
		return;
	media_worker_call(sess->w, &rm); /* no frame is recorded after it */
	media_session_record_gone(sess);
	media_ports_unbind(sess->eng->ports, &sess->leg[0].pair);
	media_ports_unbind(sess->eng->ports, &sess->leg[1].pair);
	media_dtmf_rx_free(sess->leg[0].col.inband);
	media_dtmf_rx_free(sess->leg[1].col.inband);
	free(sess);
}
