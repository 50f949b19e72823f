/* dtmf: DTMF collection on a leg: RFC 4733 events through the leg's
 * rtp_dtmf tracker, and in-band tones through spandsp's dtmf_rx on the
 * leg's decoded G.711 audio (only while collecting: it costs CPU). Each
 * route reports each key press once; choosing a route is the owner's job.
 * The in-band detector is a pure object (no sockets), for the fuzzer. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <spandsp.h>

#include "media/g711.h"
#include "media/media_int.h"

/* Acceptance, in dB and dBm0, as measured on spandsp 0.0.6: its "twist"
 * bounds how far the low group may be above the high one, its "reverse
 * twist" the other way round. Q.24's usual receiver accepts 8 dB and 4 dB
 * (lines lose the high group; phones pre-emphasise it). Weaker than -30
 * dBm0 is not a key press we want from a phone, and speech is less likely
 * to fake one at that level. */
#define DTMF_TWIST         8
#define DTMF_REVERSE_TWIST 4
#define DTMF_THRESHOLD     -30

struct media_dtmf_rx {
	dtmf_rx_state_t *rx;
	size_t n_out;
	char out[MEDIA_DTMF_RX_MAX];
};

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* dtmf_rx_init builds static Goertzel tables on its first call behind an
 * unguarded flag: make that first call once, before any worker runs. */
static void tables_build(void)
{
	dtmf_rx_state_t *s = dtmf_rx_init(NULL, NULL, NULL);

	if (s)
		dtmf_rx_free(s);
}

void media_dtmf_init(void)
{
	pthread_once(&tables_once, tables_build);
}

/* spandsp reports what it confirmed during one dtmf_rx call. */
static void on_digits(void *user, const char *digits, int len)
{
	struct media_dtmf_rx *d = user;

	for (int i = 0; i < len && d->n_out < MEDIA_DTMF_RX_MAX; i++)
		d->out[d->n_out++] = digits[i];
}

static void rx_setup(struct media_dtmf_rx *d)
{
	dtmf_rx_parms(d->rx, 0, DTMF_TWIST, DTMF_REVERSE_TWIST, DTMF_THRESHOLD);
	d->n_out = 0;
}

int media_dtmf_rx_new(struct media_dtmf_rx **out)
{
	struct media_dtmf_rx *d;

	media_dtmf_init();
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->rx = dtmf_rx_init(NULL, on_digits, d);
	if (!d->rx) {
		free(d);
		return ENOMEM;
	}
	rx_setup(d);
	*out = d;
	return 0;
}

void media_dtmf_rx_free(struct media_dtmf_rx *d)
{
	if (!d)
		return;
	dtmf_rx_free(d->rx);
	free(d);
}

void media_dtmf_rx_reset(struct media_dtmf_rx *d)
{
	/* On existing memory spandsp only reinitialises: no allocation. */
	dtmf_rx_init(d->rx, on_digits, d);
	rx_setup(d);
}

size_t media_dtmf_rx_g711(struct media_dtmf_rx *d, enum media_codec codec, const uint8_t *payload,
                          size_t n, char *digits, size_t max)
{
	int16_t pcm[MEDIA_FRAME];
	size_t k;

	d->n_out = 0;
	while (n) {
		size_t m = n < MEDIA_FRAME ? n : MEDIA_FRAME;

		for (size_t i = 0; i < m; i++)
			pcm[i] = codec == MEDIA_PCMA ? g711_alaw_decode(payload[i])
			                             : g711_ulaw_decode(payload[i]);
		dtmf_rx(d->rx, pcm, (int)m);
		payload += m;
		n -= m;
	}
	k = d->n_out < max ? d->n_out : max;
	for (size_t i = 0; i < k; i++)
		digits[i] = d->out[i];
	return k;
}

/* A digit on l by route: the DIGIT event, then, when it cuts a prompt,
 * that prompt's PROMPT_DONE (barged). */
static void leg_digit(struct media_leg *l, char digit, enum media_dtmf_route route)
{
	struct media_event ev = {
	    .kind = MEDIA_EV_DIGIT, .leg = l->idx, .digit = digit, .route = route};

	media_session_emit(l->sess, &ev);
	if (l->play.p && l->play.barge)
		media_leg_play_stop(l, true);
}

static void inband_input(struct media_leg *l, const uint8_t *payload, size_t n)
{
	char digits[MEDIA_DTMF_RX_MAX];
	size_t k =
	    media_dtmf_rx_g711(l->col.inband, l->cfg.codec, payload, n, digits, sizeof(digits));

	for (size_t i = 0; i < k; i++)
		leg_digit(l, digits[i], MEDIA_DTMF_INBAND);
}

void media_leg_dtmf_input(struct media_leg *l, const uint8_t *buf, const struct rtp_header *h)
{
	char digit;

	if (l->cfg.te_pt >= 0 && h->pt == (uint8_t)l->cfg.te_pt) {
		/* The tracker sees every event, collecting or not: a key
		 * pressed before collection began is not a digit later. */
		if (rtp_dtmf_feed(&l->col.rfc, h, buf + h->payload_off, &digit) == 0 && digit &&
		    l->col.on)
			leg_digit(l, digit, MEDIA_DTMF_RFC4733);
		return;
	}
	if (l->col.on && l->col.inband && h->pt == l->cfg.codec_pt)
		inband_input(l, buf + h->payload_off, h->payload_len);
}

void media_leg_collect_set(struct media_leg *l, bool on)
{
	/* A fresh start: no tone heard before counts after. */
	if (on && !l->col.on && l->col.inband)
		media_dtmf_rx_reset(l->col.inband);
	l->col.on = on;
}

int media_session_collect(struct media_session *sess, unsigned leg, bool on)
{
	struct media_cmd col = {.type = MEDIA_CMD_COLLECT, .sess = sess, .leg = leg, .on = on};
	struct media_leg *l;
	int rc;

	if (leg > 1)
		return EINVAL;
	l = &sess->leg[leg];
	/* Allocated here, on the owner thread, once per leg: never on the
	 * worker's packet path. */
	if (on && !l->col.inband) {
		rc = media_dtmf_rx_new(&l->col.inband);
		if (rc)
			return rc;
	}
	media_worker_call(sess->w, &col);
	return 0;
}
