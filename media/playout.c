/* playout: a prompt played to one leg in frames of the leg's ptime, paced
 * by the wall clock on the worker's tick, in the leg's codec, as its own
 * source in the leg's one outgoing stream
 * (marker bit on each switch). While it plays, the leg hears nothing else:
 * relayed audio towards it is dropped and ringback pauses (session.c). */
#include <errno.h>

#include "media/g711.h"
#include "media/media_int.h"

/* Frames a late worker may send in one tick to catch up; beyond that the
 * oldest are skipped, so the prompt keeps to the wall clock. */
#define PLAY_CATCH_UP 3

static void play_done(struct media_leg *l, bool barged)
{
	struct media_event ev = {.kind = MEDIA_EV_PROMPT_DONE,
	                         .leg = l->idx,
	                         .cookie = l->play.cookie,
	                         .barged = barged};

	l->play.p = NULL;
	media_session_emit(l->sess, &ev);
}

void media_leg_play_stop(struct media_leg *l, bool barged)
{
	if (l->play.p)
		play_done(l, barged);
}

void media_leg_play_set(struct media_leg *l, const struct media_prompt *p, bool barge,
                        uint64_t cookie)
{
	struct media_playout *po = &l->play;

	media_leg_play_stop(l, false); /* the old one's PROMPT_DONE first */
	if (!p)
		return;
	po->p = p;
	po->pos = 0;
	po->barge = barge;
	po->cookie = cookie;
	po->sending = false; /* the first frame is a new burst */
	po->next_us = 0;
}

/* The frame of n samples at the prompt's position in l's law, silence
 * past its end. */
static void frame_encode(const struct media_leg *l, uint8_t *out, size_t n)
{
	const struct media_playout *po = &l->play;

	for (size_t i = 0; i < n; i++) {
		size_t k = po->pos + i;
		int16_t v = k < po->p->n ? po->p->pcm[k] : 0;

		out[i] = l->cfg.codec == MEDIA_PCMA ? g711_alaw_encode(v) : g711_ulaw_encode(v);
	}
}

/* The synthetic header's payload type is the other leg's codec type: the
 * one input type l's map always turns into l's own codec_pt. */
static void send_frame(struct media_leg *l, size_t n, int64_t now_us, struct media_counters *wc)
{
	struct media_playout *po = &l->play;
	const struct media_leg *o = &l->sess->leg[1 - l->idx];
	struct rtp_header in = {.pt = o->cfg.codec_pt,
	                        .seq = po->seq,
	                        .ts = po->ts,
	                        .ssrc = po->burst,
	                        .payload_len = n};
	uint8_t payload[MEDIA_REPACK_MAX];

	frame_encode(l, payload, n);
	media_leg_send_payload(l, MEDIA_SRC_PROMPT, &in, payload, n, true, now_us, wc);
	po->seq++;
	po->ts += (uint32_t)n;
}

/* One frame's step: sent when the leg has an address, else only time
 * passes (the prompt keeps to the clock; the next frame sent is a new
 * burst). */
static void step(struct media_leg *l, size_t n, int64_t now_us, struct media_counters *wc)
{
	struct media_playout *po = &l->play;

	if (!l->have_remote) {
		po->sending = false;
	} else {
		if (!po->sending) {
			po->burst++;
			po->sending = true;
		}
		send_frame(l, n, now_us, wc);
	}
	po->pos += n;
}

/* PROMPT_DONE comes on the tick after the last frame went out (the peer's
 * jitter buffer still holds it). Frames are the leg's ptime (l->rp.frame
 * samples), due by the wall clock: a 30 ms leg gets three frames every
 * three ticks. */
void media_leg_play_tick(struct media_leg *l, int64_t now_us, unsigned ticks,
                         struct media_counters *wc)
{
	struct media_playout *po = &l->play;
	size_t n = l->rp.frame ? l->rp.frame : MEDIA_FRAME;
	int64_t frame_us = (int64_t)n * 1000000 / MEDIA_CLOCK_RATE;

	(void)ticks;
	if (!po->p)
		return;
	if (po->pos >= po->p->n) {
		play_done(l, false);
		return;
	}
	if (!po->next_us)
		po->next_us = now_us;
	for (unsigned k = 0; k < PLAY_CATCH_UP && po->pos < po->p->n; k++) {
		if (now_us < po->next_us)
			return;
		step(l, n, now_us, wc);
		po->next_us += frame_us;
	}
	/* Still behind: skip what is overdue, keeping to the clock. */
	while (now_us >= po->next_us && po->pos < po->p->n) {
		po->pos += n;
		po->ts += (uint32_t)n;
		po->next_us += frame_us;
	}
}

int media_session_play(struct media_session *sess, unsigned leg, const struct media_prompt *p,
                       bool barge, uint64_t cookie)
{
	struct media_cmd play = {.type = MEDIA_CMD_PLAY,
	                         .sess = sess,
	                         .leg = leg,
	                         .prompt = p,
	                         .barge = barge,
	                         .cookie = cookie};

	if (leg > 1)
		return EINVAL;
	media_worker_call(sess->w, &play);
	return 0;
}
