/* ringback: the ring-ring tone a caller hears while the callee rings, made
 * by the media worker one 20 ms G.711 frame per tick into the leg's stream.
 *
 * Tone: 400 Hz at about -16 dBm0, cadence 0.4 s on, 0.2 s off, 0.4 s on,
 * 2.0 s off (the UK/ITU-T E.180 ring-ring). During "off" silence frames are
 * still sent, as PBXes do: the stream stays continuous (no marker bit per
 * burst, the peer's jitter buffer and NAT binding stay warm). 400 Hz is 20
 * samples a period, so every "on" frame is the same 160 samples starting at
 * phase 0: two frames per law, built once, no allocation or lock per frame. */
#include <pthread.h>

#include "media/g711.h"
#include "media/media_int.h"

#define FRAME          MEDIA_FRAME
#define TONE_PERIOD    20  /* samples per period of 400 Hz at 8 kHz */
#define CADENCE_FRAMES 150 /* 3 s */

/* Frames [0, 20) and [30, 50) of the cadence carry the tone. */
static bool cadence_on(unsigned pos)
{
	return pos < 20 || (pos >= 30 && pos < 50);
}

/* [law][0] tone, [law][1] silence; law is enum media_codec. */
static uint8_t frames[2][2][FRAME];
static pthread_once_t frames_once = PTHREAD_ONCE_INIT;

/* One quarter period of the sine, peak 3530: a 0 dBm0 sine peaks at 22283
 * on G.711's 16-bit scale, -16 dB of that is 3530. Symmetry gives the rest
 * (no libm). */
static int16_t tone_sample(unsigned k)
{
	static const int16_t quarter[6] = {0, 1091, 2075, 2856, 3357, 3530};
	unsigned q = k % (TONE_PERIOD / 2);
	int16_t v = quarter[q <= 5 ? q : TONE_PERIOD / 2 - q];

	return k % TONE_PERIOD < TONE_PERIOD / 2 ? v : (int16_t)-v;
}

static void frames_build(void)
{
	for (unsigned i = 0; i < FRAME; i++) {
		int16_t v = tone_sample(i);

		frames[MEDIA_PCMU][0][i] = g711_ulaw_encode(v);
		frames[MEDIA_PCMA][0][i] = g711_alaw_encode(v);
		frames[MEDIA_PCMU][1][i] = g711_ulaw_encode(0);
		frames[MEDIA_PCMA][1][i] = g711_alaw_encode(0);
	}
}

void ringback_init(void)
{
	pthread_once(&frames_once, frames_build);
}

void media_leg_ringback_set(struct media_leg *l, bool on)
{
	/* Turning it on starts the cadence over; the first frame is a new
	 * burst, so it carries the marker bit. */
	if (on && !l->rb.on)
		l->rb.pos = 0;
	l->rb.on = on;
	l->rb.sending = false;
}

/* Send the frame at the cadence's current position through l's stream.
 * The synthetic header's payload type is the other leg's codec type: the
 * one input type l's map always turns into l's own codec_pt. */
static void send_frame(struct media_leg *l, int64_t now_us, struct media_counters *wc)
{
	const struct media_leg *o = &l->sess->leg[1 - l->idx];
	struct media_ringback *rb = &l->rb;
	struct rtp_header in = {.pt = o->cfg.codec_pt,
	                        .seq = rb->seq,
	                        .ts = rb->ts,
	                        .ssrc = rb->burst,
	                        .payload_len = FRAME};

	media_leg_send_generated(l, MEDIA_SRC_RINGBACK, &in,
	                         frames[l->cfg.codec][!cadence_on(rb->pos)], now_us, wc);
}

static bool relayed_recently(const struct media_leg *l, int64_t now_us)
{
	return l->last_relay_us != 0 && now_us - l->last_relay_us < MEDIA_RINGBACK_HOLD_US;
}

/* One tick: the cadence and the burst's timestamp follow elapsed time
 * (ticks > 1 when the worker was late: those frames are skipped, not sent
 * late), so the peer's playout stays in step with the wall clock. */
void media_leg_ringback_tick(struct media_leg *l, int64_t now_us, unsigned ticks,
                             struct media_counters *wc)
{
	struct media_ringback *rb = &l->rb;
	unsigned missed = ticks ? ticks - 1 : 0;

	if (!rb->on)
		return;
	rb->pos = (rb->pos + missed) % CADENCE_FRAMES;
	if (!l->have_remote || relayed_recently(l, now_us)) {
		rb->sending = false;
	} else {
		if (rb->sending) {
			rb->ts += missed * FRAME;
		} else {
			rb->burst++; /* a switch for the stream */
			rb->sending = true;
		}
		send_frame(l, now_us, wc);
		rb->seq++;
		rb->ts += FRAME;
	}
	rb->pos = (rb->pos + 1) % CADENCE_FRAMES;
}
