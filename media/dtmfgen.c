/* dtmfgen: a leg whose SDP has no telephone-event hears the other leg's
 * RFC 4733 events as DTMF tones (DESIGN §3), made on the worker in the
 * leg's codec and ptime as their own source in its stream. While a tone
 * sounds (and for a short gap after it, so that "11" stays two presses at
 * the far detector) the other leg's audio towards it is dropped: tones
 * replace speech, they are never mixed with it.
 *
 * Timing: the tone starts on the tick after the first packet of an event
 * and is paced by the wall clock (frames due every ptime); it
 * lasts the event's final duration (at least 40 ms, at most 2 s), or stops
 * when the sender goes quiet without an end packet. An event that begins
 * while another still sounds waits for it and its gap. */
#include <pthread.h>
#include <string.h>

#include "media/g711.h"
#include "media/media_int.h"

#define GEN_MIN      320    /* samples: 40 ms, the shortest tone we make */
#define GEN_MAX      16000  /* 2 s: a stuck key is not held for ever */
#define GEN_GAP      320    /* 40 ms of silence after each tone (Q.24 pause) */
#define GEN_STALE_US 250000 /* no packet of a sounding event this long: ended */
#define GEN_CATCH_UP 3      /* frames one late run may send */
#define SINE_BITS    10
#define SINE_N       (1u << SINE_BITS)
#define TONE_AMP     7047 /* peak of a -10 dBm0 sine (0 dBm0 peaks at 22283) */

static int16_t sine[SINE_N];
static pthread_once_t sine_once = PTHREAD_ONCE_INIT;

/* One turn by rotation (no libm): cos and sin of 2 pi / 1024. The error
 * after 1024 steps in double is far below one LSB. */
static void sine_build(void)
{
	const double c = 0.9999811752826011, s = 0.006135884649154475;
	double x = 1, y = 0;

	for (unsigned i = 0; i < SINE_N; i++) {
		double nx = x * c - y * s;

		sine[i] = (int16_t)(y * TONE_AMP + (y < 0 ? -0.5 : 0.5));
		y = x * s + y * c;
		x = nx;
	}
}

void media_dtmfgen_init(void)
{
	pthread_once(&sine_once, sine_build);
}

/* Row and column of each RFC 4733 DTMF event code ("0123456789*#ABCD"). */
static const uint8_t keypad[16][2] = {{3, 1}, {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1},
                                      {1, 2}, {2, 0}, {2, 1}, {2, 2}, {3, 0}, {3, 2},
                                      {0, 3}, {1, 3}, {2, 3}, {3, 3}};
static const uint32_t row_hz[4] = {697, 770, 852, 941};
static const uint32_t col_hz[4] = {1209, 1336, 1477, 1633};

static uint32_t phase_inc(uint32_t hz)
{
	return (uint32_t)(((uint64_t)hz << 32) / MEDIA_CLOCK_RATE);
}

void media_leg_dtmfgen_cfg(struct media_leg *l, bool on)
{
	struct media_dtmfgen *g = &l->gen;

	if (on == g->on)
		return;
	g->on = on;
	g->phase = MEDIA_GEN_IDLE;
	g->n_wait = 0;
	rtp_dtmf_init(&g->seen);
}

bool media_leg_dtmfgen_busy(const struct media_leg *l)
{
	return l->gen.phase != MEDIA_GEN_IDLE;
}

static void tone_start(struct media_dtmfgen *g, const struct media_dtmfgen_ev *ev, int64_t now_us)
{
	g->cur = *ev;
	g->phase = MEDIA_GEN_TONE;
	g->done = 0;
	g->ph_lo = g->ph_hi = 0;
	g->inc_lo = phase_inc(row_hz[keypad[ev->event][0]]);
	g->inc_hi = phase_inc(col_hz[keypad[ev->event][1]]);
	g->last_ev_us = now_us;
}

/* After a tone's gap: the oldest waiting event, or back to relaying. */
static void tone_next(struct media_dtmfgen *g, int64_t now_us)
{
	struct media_dtmfgen_ev next;

	if (!g->n_wait) {
		g->phase = MEDIA_GEN_IDLE;
		return;
	}
	next = g->wait[0];
	g->n_wait--;
	memmove(g->wait, g->wait + 1, g->n_wait * sizeof(g->wait[0]));
	tone_start(g, &next, now_us);
}

static uint8_t encode(enum media_codec codec, int16_t v)
{
	return codec == MEDIA_PCMA ? g711_alaw_encode(v) : g711_ulaw_encode(v);
}

/* Fill out[0, n) with tone; the phases run on. */
static void tone_fill(struct media_dtmfgen *g, enum media_codec codec, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = encode(codec, (int16_t)(sine[g->ph_lo >> (32 - SINE_BITS)] +
		                                 sine[g->ph_hi >> (32 - SINE_BITS)]));
		g->ph_lo += g->inc_lo;
		g->ph_hi += g->inc_hi;
	}
}

/* How many of the next n samples are tone, and the phase change after. */
static size_t frame_tone(struct media_dtmfgen *g, size_t n)
{
	uint32_t limit = g->cur.ended ? g->cur.tone_len : GEN_MAX;
	size_t tone = 0;

	if (g->phase != MEDIA_GEN_TONE)
		return 0;
	if (limit > g->done)
		tone = limit - g->done < n ? limit - g->done : n;
	g->done += (uint32_t)tone;
	if (g->done >= limit) {
		g->phase = MEDIA_GEN_GAP;
		g->done = GEN_GAP; /* counts down, from the frame's own silence */
	}
	return tone;
}

static void send_frame(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	struct media_dtmfgen *g = &l->gen;
	const struct media_leg *o = &l->sess->leg[1 - l->idx];
	size_t n = l->rp.frame, tone = frame_tone(g, n);
	struct rtp_header in = {.pt = o->cfg.codec_pt,
	                        .seq = g->seq++,
	                        .ts = g->ts,
	                        .ssrc = g->burst,
	                        .payload_len = n};
	uint8_t out[MEDIA_REPACK_MAX];

	tone_fill(g, l->cfg.codec, out, tone);
	for (size_t i = tone; i < n; i++)
		out[i] = encode(l->cfg.codec, 0);
	media_leg_send_payload(l, MEDIA_SRC_DTMFGEN, &in, out, n, true, now_us, wc);
	l->last_relay_us = now_us; /* ringback stays paused, as for relayed audio */
	g->ts += (uint32_t)n;
	if (g->phase == MEDIA_GEN_GAP) {
		g->done = g->done > n - tone ? g->done - (uint32_t)(n - tone) : 0;
		if (!g->done)
			tone_next(g, now_us);
	}
}

/* Send the frames due by now. A worker later than GEN_CATCH_UP frames
 * delays the tone rather than bursting it: its length is in samples. */
static void run(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	struct media_dtmfgen *g = &l->gen;
	int64_t frame_us = (int64_t)l->rp.frame * 1000000 / MEDIA_CLOCK_RATE;

	for (unsigned k = 0; k < GEN_CATCH_UP && g->phase != MEDIA_GEN_IDLE; k++) {
		if (now_us < g->next_us)
			return;
		send_frame(l, now_us, wc);
		g->next_us += frame_us;
	}
	if (now_us >= g->next_us)
		g->next_us = now_us + frame_us;
}

static bool same_event(const struct media_dtmfgen_ev *e, const struct rtp_header *h, uint8_t event)
{
	return e->have && e->ts == h->ts && e->ssrc == h->ssrc && e->event == event;
}

static struct media_dtmfgen_ev *waiting(struct media_dtmfgen *g, const struct rtp_header *h,
                                        uint8_t event)
{
	for (unsigned i = 0; i < g->n_wait; i++)
		if (same_event(&g->wait[i], h, event))
			return &g->wait[i];
	return NULL;
}

static void event_update(struct media_dtmfgen_ev *e, const struct rtp_event *ev)
{
	if (!ev->end || e->ended)
		return;
	e->ended = true;
	e->tone_len = ev->duration < GEN_MIN   ? GEN_MIN
	              : ev->duration > GEN_MAX ? GEN_MAX
	                                       : ev->duration;
}

/* A new event: sounds at once when nothing does (a new burst: the stream
 * marks the switch), else waits for the current tone and its gap. */
static void event_begin(struct media_leg *l, const struct media_dtmfgen_ev *e, int64_t now_us,
                        struct media_counters *wc)
{
	struct media_dtmfgen *g = &l->gen;

	if (g->phase != MEDIA_GEN_IDLE) {
		if (g->n_wait < MEDIA_DTMFGEN_WAIT)
			g->wait[g->n_wait++] = *e;
		return; /* else a sender far ahead of us: that digit is lost */
	}
	media_leg_repack_flush(l, now_us, wc); /* the audio before the tone */
	tone_start(g, e, now_us);
	g->burst++;
	g->next_us = now_us;
}

void media_leg_dtmfgen_event(struct media_leg *l, const struct rtp_header *h,
                             const uint8_t *payload, int64_t now_us, struct media_counters *wc)
{
	struct media_dtmfgen *g = &l->gen;
	struct media_dtmfgen_ev e = {.have = true, .ts = h->ts, .ssrc = h->ssrc}, *w;
	struct rtp_event ev;
	char digit;

	if (rtp_event_parse(payload, h->payload_len, &ev) != 0 || !rtp_event_digit(ev.event))
		return;
	if (g->phase != MEDIA_GEN_IDLE && same_event(&g->cur, h, ev.event)) {
		event_update(&g->cur, &ev);
		g->last_ev_us = now_us;
	} else if ((w = waiting(g, h, ev.event)) != NULL) {
		event_update(w, &ev);
	} else if (rtp_dtmf_feed(&g->seen, h, payload, &digit) == 0 && digit) {
		e.event = ev.event;
		event_update(&e, &ev);
		event_begin(l, &e, now_us, wc);
	}
	/* Frames leave on the tick only: sent from here they could overtake
	 * relayed packets still waiting in the worker's sendmmsg batch. */
}

void media_leg_dtmfgen_tick(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	struct media_dtmfgen *g = &l->gen;

	if (g->phase == MEDIA_GEN_IDLE)
		return;
	/* All end packets lost: the tone stops where it is. */
	if (g->phase == MEDIA_GEN_TONE && !g->cur.ended && now_us - g->last_ev_us > GEN_STALE_US) {
		g->cur.ended = true;
		g->cur.tone_len = g->done < GEN_MIN ? GEN_MIN : g->done;
	}
	run(l, now_us, wc);
}
