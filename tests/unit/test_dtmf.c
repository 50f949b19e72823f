/* Unit tests for media/dtmf.c: the in-band detector on generated DTMF
 * test vectors (exact digit strings, "1122" included, at several levels,
 * twists, durations and with noise), and collection on a session over real
 * UDP sockets on 127.0.0.1: RFC 4733 events with redundant end packets,
 * duplicates and reordering give one digit per press; in-band tones in
 * G.711 packets give route INBAND; a gateway sending both is reported on
 * both routes; nothing is reported while not collecting. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "udp_peer.h"
#include <spandsp.h>

#include "media/g711.h"
#include "media/media.h"
#include "media/media_int.h"
#include "media/rtp.h"

#define WAIT_MS  2000
#define QUIET_MS 300
#define FRAME    160
#define TE_PT    101
#define PI       3.14159265358979323846

/* --- Signal generation (no libm in the tests) ----------------------------- */

static double tsin(double x)
{
	double x2, term, sum;

	x -= 2 * PI * (double)(long)(x / (2 * PI));
	if (x > PI)
		x -= 2 * PI;
	if (x < -PI)
		x += 2 * PI;
	x2 = x * x;
	term = sum = x;
	for (int k = 1; k < 10; k++) {
		term *= -x2 / ((2 * k) * (2 * k + 1));
		sum += term;
	}
	return sum;
}

static const char keys[] = "123A456B789C*0#D";
static const int rows[4] = {697, 770, 852, 941};
static const int cols[4] = {1209, 1336, 1477, 1633};

/* Peak amplitudes of one tone at a level: 0 dBm0 peaks at 22283. */
#define DBM0_M4  14060 /* -4 dBm0 */
#define DBM0_M10 7047
#define DBM0_M16 3530
#define DBM0_M22 1769

struct tone_spec {
	int low_amp, high_amp; /* twist: the two differ */
	int on_ms, off_ms;
};

struct signal {
	int16_t pcm[8000 * 8];
	size_t n;
	uint32_t noise; /* LCG state; 0: no noise */
	int noise_amp;
};

static int16_t noise_sample(struct signal *s)
{
	if (!s->noise)
		return 0;
	s->noise = s->noise * 1103515245u + 12345u;
	return (int16_t)((int)((s->noise >> 16) % (2u * (unsigned)s->noise_amp + 1)) -
	                 s->noise_amp);
}

static void sig_add(struct signal *s, char key, const struct tone_spec *t)
{
	const char *k = strchr(keys, key);
	int r = (int)(k - keys) / 4, c = (int)(k - keys) % 4;
	size_t on = (size_t)t->on_ms * 8, off = (size_t)t->off_ms * 8;

	assert_non_null(k);
	assert_true(s->n + on + off <= sizeof(s->pcm) / sizeof(s->pcm[0]));
	for (size_t i = 0; i < on; i++) {
		double v = t->low_amp * tsin(2 * PI * rows[r] * (double)i / 8000) +
		           t->high_amp * tsin(2 * PI * cols[c] * (double)i / 8000);

		s->pcm[s->n++] = (int16_t)(v + noise_sample(s));
	}
	for (size_t i = 0; i < off; i++)
		s->pcm[s->n++] = noise_sample(s);
}

static void sig_digits(struct signal *s, const char *digits, const struct tone_spec *t)
{
	for (; *digits; digits++)
		sig_add(s, *digits, t);
}

static void encode(const int16_t *pcm, size_t n, enum media_codec codec, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = codec == MEDIA_PCMA ? g711_alaw_encode(pcm[i]) : g711_ulaw_encode(pcm[i]);
}

/* The signal through the pure detector in frames of frame samples. */
static void detect(const struct signal *s, enum media_codec codec, size_t frame, char *out,
                   size_t cap)
{
	struct media_dtmf_rx *d;
	uint8_t g[240];
	size_t len = 0;

	assert_true(frame <= sizeof(g));
	assert_int_equal(media_dtmf_rx_new(&d), 0);
	for (size_t i = 0; i + frame <= s->n; i += frame) {
		encode(s->pcm + i, frame, codec, g);
		len += media_dtmf_rx_g711(d, codec, g, frame, out + len, cap - 1 - len);
	}
	out[len] = '\0';
	media_dtmf_rx_free(d);
}

/* --- The detector on test vectors ----------------------------------------- */

static const struct tone_spec plain = {DBM0_M10, DBM0_M10, 50, 50};

static void test_inband_vector_1122(void **state)
{
	static struct signal s;
	char out[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	sig_digits(&s, "1122", &plain);
	detect(&s, MEDIA_PCMU, FRAME, out, sizeof(out));
	assert_string_equal(out, "1122");
	detect(&s, MEDIA_PCMA, FRAME, out, sizeof(out));
	assert_string_equal(out, "1122");
}

/* A recording-like vector: every key, repeated keys, levels from -4 to
 * -22 dBm0, the high group 3 dB above the low and the low 6 dB above the
 * high, tones of 40-120 ms, gaps of
 * 40-200 ms, light noise throughout, 30 ms packets on A-law. */
static void test_inband_vector_mixed(void **state)
{
	static struct signal s;
	static const struct tone_spec specs[] = {
	    {DBM0_M10, DBM0_M10, 50, 50},           {DBM0_M4, DBM0_M4, 120, 200},
	    {DBM0_M16, DBM0_M16 * 14 / 10, 60, 60}, {DBM0_M10, DBM0_M16, 80, 40},
	    {DBM0_M22, DBM0_M22, 70, 100},          {DBM0_M16, DBM0_M16, 40, 60},
	};
	const char *digits = "1122334455667788990*#ABCD0123456789*#";
	char out[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.noise = 12345;
	s.noise_amp = 60;
	for (size_t i = 0; digits[i]; i++)
		sig_add(&s, digits[i], &specs[i % (sizeof(specs) / sizeof(specs[0]))]);
	detect(&s, MEDIA_PCMA, 240, out, sizeof(out));
	assert_string_equal(out, digits);
	detect(&s, MEDIA_PCMU, FRAME, out, sizeof(out));
	assert_string_equal(out, digits);
}

/* spandsp's own generator as a second, independent source of vectors. */
static void test_inband_vector_spandsp_tx(void **state)
{
	static struct signal s;
	dtmf_tx_state_t *tx;
	char out[64];
	int got;

	(void)state;
	memset(&s, 0, sizeof(s));
	tx = dtmf_tx_init(NULL);
	assert_non_null(tx);
	dtmf_tx_set_level(tx, -12, 2);
	dtmf_tx_set_timing(tx, 60, 60);
	dtmf_tx_put(tx, "11220123456789*#", -1);
	while ((got = dtmf_tx(tx, s.pcm + s.n, FRAME)) > 0)
		s.n += (size_t)got;
	dtmf_tx_free(tx);
	detect(&s, MEDIA_PCMU, FRAME, out, sizeof(out));
	assert_string_equal(out, "11220123456789*#");
}

/* Not DTMF: silence, ringback's 400 Hz, one tone of a pair, a pair below
 * the threshold, and a pair too short to be a key press. */
static void test_inband_rejects(void **state)
{
	static struct signal s;
	static const struct tone_spec quiet = {100, 100, 80, 80}; /* about -47 dBm0 */
	static const struct tone_spec single = {DBM0_M10, 0, 80, 80};
	static const struct tone_spec blip = {DBM0_M10, DBM0_M10, 10, 80};
	char out[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < 8000; i++)
		s.pcm[s.n++] =
		    i < 4000 ? 0 : (int16_t)(3530 * tsin(2 * PI * 400 * (double)i / 8000));
	sig_digits(&s, "55", &quiet);
	sig_digits(&s, "66", &single);
	sig_digits(&s, "77", &blip);
	detect(&s, MEDIA_PCMU, FRAME, out, sizeof(out));
	assert_string_equal(out, "");
}

/* --- Collection on a session ---------------------------------------------- */

struct call {
	struct media_ports *ports;
	struct media_engine *eng;
	struct media_session *sess;
	struct peer caller;
	uint16_t seq;
	uint32_t ts;
};

/* Events as the worker hands them over. */
static struct {
	pthread_mutex_t lock;
	struct media_event ev[128];
	void *arg[128];
	size_t n;
	bool wrong_engine_arg; /* checked on the test's thread */
} got = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *engine_arg, void *session_arg, const struct media_event *ev)
{
	pthread_mutex_lock(&got.lock);
	if (engine_arg != &got)
		got.wrong_engine_arg = true;
	if (got.n < 128) {
		got.arg[got.n] = session_arg;
		got.ev[got.n++] = *ev;
	}
	pthread_mutex_unlock(&got.lock);
}

static size_t got_n(void)
{
	size_t n;

	pthread_mutex_lock(&got.lock);
	n = got.n;
	pthread_mutex_unlock(&got.lock);
	return n;
}

/* Wait for want events, then listen QUIET_MS for any more. The digits
 * (route must match) in out. */
static void wait_digits(struct call *c, size_t want, enum media_dtmf_route route, char *out)
{
	for (int i = 0; i < WAIT_MS / 10 && got_n() < want; i++)
		usleep(10000);
	usleep(QUIET_MS * 1000);
	pthread_mutex_lock(&got.lock);
	assert_false(got.wrong_engine_arg);
	for (size_t i = 0; i < got.n; i++) {
		assert_int_equal(got.ev[i].kind, MEDIA_EV_DIGIT);
		assert_int_equal(got.ev[i].leg, 0);
		assert_int_equal(got.ev[i].route, route);
		assert_ptr_equal(got.arg[i], c);
		out[i] = got.ev[i].digit;
	}
	out[got.n] = '\0';
	got.n = 0;
	pthread_mutex_unlock(&got.lock);
}

/* The caller's leg (codec, te_pt) from its offer; the callee unknown. */
static void call_open(struct call *c, enum media_codec codec, uint8_t pt, int te_pt)
{
	struct media_leg_cfg c0 = {.codec = codec, .codec_pt = pt, .te_pt = te_pt};
	struct media_leg_cfg c1 = {.codec = MEDIA_PCMU, .codec_pt = G711_PT_PCMU, .te_pt = TE_PT};
	int rc = ENOSPC;

	peer_open(&c->caller);
	c0.remote = addr_of(c->caller.port);
	for (int tries = 0; tries < 50 && rc; tries++) {
		uint16_t base = random_even_port();

		assert_int_equal(media_ports_new(&c->ports, base, (uint16_t)(base + 3), 50), 0);
		assert_int_equal(media_engine_start(&c->eng, 1, addr_of(0).sin_addr, c->ports), 0);
		rc = media_session_new(c->eng, &c0, &c1, &c->sess);
		if (rc) {
			media_engine_stop(c->eng);
			media_ports_free(c->ports);
		}
	}
	assert_int_equal(rc, 0);
	media_engine_set_events(c->eng, on_event, &got);
	media_session_set_arg(c->sess, c);
	c->seq = 1000;
	c->ts = 80000;
	got.n = 0;
}

static void call_close(struct call *c)
{
	media_session_free(c->sess);
	media_engine_stop(c->eng);
	media_ports_free(c->ports);
	close(c->caller.rtp);
	close(c->caller.rtcp);
}

static void send_rtp(struct call *c, uint8_t pt, uint16_t seq, uint32_t ts, const uint8_t *payload,
                     size_t len)
{
	uint8_t pkt[12 + 240];
	struct sockaddr_in to = addr_of(media_session_local_port(c->sess, 0));

	assert_true(len <= 240);
	memset(pkt, 0, 12);
	pkt[0] = 0x80;
	pkt[1] = pt;
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	pkt[4] = (uint8_t)(ts >> 24);
	pkt[5] = (uint8_t)(ts >> 16);
	pkt[6] = (uint8_t)(ts >> 8);
	pkt[7] = (uint8_t)ts;
	pkt[8] = 0x5E;
	pkt[11] = 0x42;
	memcpy(pkt + 12, payload, len);
	assert_int_equal(
	    sendto(c->caller.rtp, pkt, 12 + len, 0, (struct sockaddr *)&to, sizeof(to)),
	    (ssize_t)(12 + len));
	usleep(1000); /* gentle on the socket buffer; no reordering on loopback */
}

static void send_event(struct call *c, uint8_t event, bool end, uint16_t seq, uint32_t ts,
                       uint16_t duration)
{
	uint8_t p[4] = {event, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(duration >> 8),
	                (uint8_t)duration};

	send_rtp(c, TE_PT, seq, ts, p, sizeof(p));
}

/* One key press as a gateway sends it: start, updates, three end packets. */
static void press(struct call *c, uint8_t event)
{
	uint32_t ts = c->ts;

	for (int i = 0; i < 5; i++)
		send_event(c, event, false, c->seq++, ts, (uint16_t)(160 * i));
	for (int i = 0; i < 3; i++)
		send_event(c, event, true, c->seq, ts, 800);
	c->seq++;
	c->ts += 1600;
}

/* The signal as G.711 packets of 20 ms on the caller's leg. */
static void send_audio(struct call *c, const struct signal *s, enum media_codec codec, uint8_t pt)
{
	uint8_t g[FRAME];

	for (size_t i = 0; i + FRAME <= s->n; i += FRAME) {
		encode(s->pcm + i, FRAME, codec, g);
		send_rtp(c, pt, c->seq++, c->ts, g, FRAME);
		c->ts += FRAME;
	}
}

static void test_rfc4733_1122(void **state)
{
	struct call c = {0};
	char out[64];

	(void)state;
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU, TE_PT);
	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	press(&c, 1);
	press(&c, 1);
	/* A duplicate of the whole second press: still one "1". */
	c.seq = (uint16_t)(c.seq - 6);
	c.ts -= 1600;
	press(&c, 1);
	press(&c, 2);
	/* "2" again, its start reordered behind its update, and a late
	 * redundant end of the first "2" in between. */
	send_event(&c, 2, false, (uint16_t)(c.seq + 1), c.ts, 160);
	send_event(&c, 2, true, (uint16_t)(c.seq - 1), c.ts - 1600, 800);
	send_event(&c, 2, false, c.seq, c.ts, 0);
	c.seq = (uint16_t)(c.seq + 2);
	send_event(&c, 2, true, c.seq, c.ts, 800);
	send_event(&c, 2, true, c.seq, c.ts, 800);
	wait_digits(&c, 4, MEDIA_DTMF_RFC4733, out);
	assert_string_equal(out, "1122");
	call_close(&c);
}

static void check_inband(enum media_codec codec, uint8_t pt, int te_pt, const char *digits)
{
	static struct signal s;
	struct call c = {0};
	char out[64];

	memset(&s, 0, sizeof(s));
	sig_digits(&s, digits, &plain);
	call_open(&c, codec, pt, te_pt);
	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	send_audio(&c, &s, codec, pt);
	wait_digits(&c, strlen(digits), MEDIA_DTMF_INBAND, out);
	assert_string_equal(out, digits);
	call_close(&c);
}

static void test_inband_1122(void **state)
{
	(void)state;
	check_inband(MEDIA_PCMU, G711_PT_PCMU, TE_PT, "1122");
}

static void test_inband_all_keys_pcma_no_te(void **state)
{
	(void)state;
	check_inband(MEDIA_PCMA, 98, -1, "0123456789*#");
}

/* A gateway sending tones and events for each press: each route reports
 * each press once (the owner locks one). */
static void test_both_routes(void **state)
{
	static struct signal s;
	struct call c = {0};
	char rfc[8] = "", inband[8] = "";
	size_t nr = 0, ni = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	sig_digits(&s, "7", &plain);
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU, TE_PT);
	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	for (int k = 0; k < 2; k++) {
		press(&c, 7);
		send_audio(&c, &s, MEDIA_PCMU, G711_PT_PCMU);
	}
	for (int i = 0; i < WAIT_MS / 10 && got_n() < 4; i++)
		usleep(10000);
	usleep(QUIET_MS * 1000);
	pthread_mutex_lock(&got.lock);
	for (size_t i = 0; i < got.n && nr < 7 && ni < 7; i++) {
		if (got.ev[i].route == MEDIA_DTMF_RFC4733)
			rfc[nr++] = got.ev[i].digit;
		else
			inband[ni++] = got.ev[i].digit;
	}
	pthread_mutex_unlock(&got.lock);
	assert_string_equal(rfc, "77");
	assert_string_equal(inband, "77");
	call_close(&c);
}

/* Never on, then on and off again: nothing is reported while off, and an
 * event begun before collection is not a digit afterwards. */
static void test_collect_off(void **state)
{
	static struct signal s;
	struct call c = {0};
	char out[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	sig_digits(&s, "12", &plain);
	call_open(&c, MEDIA_PCMU, G711_PT_PCMU, TE_PT);
	press(&c, 3);
	send_audio(&c, &s, MEDIA_PCMU, G711_PT_PCMU);
	send_event(&c, 4, false, c.seq++, c.ts, 0); /* "4" starts while off ... */
	wait_digits(&c, 1, MEDIA_DTMF_RFC4733, out);
	assert_string_equal(out, "");

	assert_int_equal(media_session_collect(c.sess, 0, true), 0);
	send_event(&c, 4, true, c.seq++, c.ts, 800); /* ... and ends while on */
	c.ts += 1600;
	press(&c, 5);
	wait_digits(&c, 1, MEDIA_DTMF_RFC4733, out);
	assert_string_equal(out, "5");

	assert_int_equal(media_session_collect(c.sess, 0, false), 0);
	press(&c, 6);
	send_audio(&c, &s, MEDIA_PCMU, G711_PT_PCMU);
	wait_digits(&c, 1, MEDIA_DTMF_RFC4733, out);
	assert_string_equal(out, "");
	assert_int_equal(media_session_collect(c.sess, 2, true), EINVAL);
	call_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inband_vector_1122),
	    cmocka_unit_test(test_inband_vector_mixed),
	    cmocka_unit_test(test_inband_vector_spandsp_tx),
	    cmocka_unit_test(test_inband_rejects),
	    cmocka_unit_test(test_rfc4733_1122),
	    cmocka_unit_test(test_inband_1122),
	    cmocka_unit_test(test_inband_all_keys_pcma_no_te),
	    cmocka_unit_test(test_both_routes),
	    cmocka_unit_test(test_collect_off),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
