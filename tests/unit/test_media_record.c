/* Unit tests for call recording (media/record.c, record_wav.c, and the
 * session's side in session.c), what the WAV holds: real sessions on
 * 127.0.0.1 whose peers send known G.711 audio in real time; each leg's
 * decoded audio is read back in its channel, sample for sample,
 * contiguous, at the time it was sent, silence elsewhere, exactly the
 * duration asked; over SRTP, PCMA and 40 ms packets; across a pause and
 * a new SSRC; when not relayed. And the API's rules. Failures and the
 * queue: test_media_record_fail.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "record_call.h"

/* --- Tests ---------------------------------------------------------------- */
/* A second of both legs, recorded with silence around: each channel is
 * its leg, exact and in time; telephone-event and comfort noise are not
 * audio; the file is made with its directory and padded to the duration. */
static void test_record_two_legs(void **state)
{
	struct rec_run x;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct stream s[2];
	struct wav w;
	char part[136];
	uint8_t te[4] = {1, 0x0a, 0, 160}, cn[1] = {40};
	unsigned pkts;
	size_t end;

	(void)state;
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	run_begin(&x, "calls/one.wav", cfg, false);
	stream_init(&s[0], 0, MEDIA_PCMU, 20);
	stream_init(&s[1], 1, MEDIA_PCMU, 20);
	usleep(100000);
	pkts = send_for(&x.c, s, 2, 1000);
	send_pkt(&x.c, 0, TE_PT, s[0].seq++, s[0].ts, s[0].ssrc, te, sizeof(te));
	send_pkt(&x.c, 1, 13, s[1].seq++, s[1].ts, s[1].ssrc, cn, sizeof(cn));
	stream_send(&x.c, &s[0]); /* after them on their sockets: they were seen */
	stream_send(&x.c, &s[1]);
	wait_frames(x.r, pkts + 2);
	media_recorder_get_stats(x.r, &st);
	assert_int_equal(st.frames, pkts + 2);
	assert_int_equal(st.active, 1);
	assert_int_equal(media_session_record(x.c.sess, NULL), 0);

	res = finish_wait(x.rec, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.dropped, 0);
	assert_int_equal(res.late, 0);
	assert_int_equal(res.bytes, 44 + 12000 * 4);
	snprintf(part, sizeof(part), "%s.part", x.path);
	assert_false(exists(part));
	wav_load(x.path, 12000, &w);
	for (unsigned i = 0; i < 2; i++) {
		end = expect_segment(&w, i, 0, MEDIA_PCMU, 0, s[i].k, x.t0_lo, x.t0_hi,
		                     s[i].first_us);
		wav_expect_silence(&w, i, end, w.frames);
	}
	free(w.pcm);
	media_recorder_get_stats(x.r, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.bytes, 44 + 12000 * 4);
	assert_int_equal(st.dropped, 0);
	media_recorder_stop(x.r);
	call_close(&x.c);
	tmp_remove();
}

/* An SRTP leg sending 40 ms packets (two slots each) against a PCMA leg
 * at 20 ms: each decoded by its own law, in place. */
static void test_record_srtp_pcma_ptime(void **state)
{
	struct rec_run x;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct stream s[2];
	struct wav w;
	unsigned pkts;
	size_t end;

	(void)state;
	leg_cfg(&cfg[0], MEDIA_PCMU, 40);
	leg_cfg(&cfg[1], MEDIA_PCMA, 20);
	run_begin(&x, "two.wav", cfg, true);
	stream_init(&s[0], 0, MEDIA_PCMU, 40);
	stream_init(&s[1], 1, MEDIA_PCMA, 20);
	pkts = send_for(&x.c, s, 2, 1000);
	wait_frames(x.r, pkts);
	res = run_finish(&x, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(x.path, 12000, &w);
	for (unsigned i = 0; i < 2; i++) {
		end = expect_segment(&w, i, 0, s[i].codec, 0, s[i].k, x.t0_lo, x.t0_hi,
		                     s[i].first_us);
		wav_expect_silence(&w, i, end, w.frames);
	}
	free(w.pcm);
	run_end(&x);
}

/* Audio past the duration is cut: here after part of it was written. */
static void test_record_cut(void **state)
{
	struct rec_run x;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct stream s[2];
	struct wav w;
	size_t at;

	(void)state;
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	run_begin(&x, "cut.wav", cfg, false);
	stream_init(&s[0], 0, MEDIA_PCMU, 20);
	stream_init(&s[1], 1, MEDIA_PCMU, 20);
	wait_frames(x.r, send_for(&x.c, s, 2, 1400));
	res = run_finish(&x, 300);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44 + 2400 * 4);
	wav_load(x.path, 2400, &w);
	for (unsigned i = 0; i < 2; i++) {
		at = wav_first(&w, i, 0);
		expect_start(at, x.t0_lo, x.t0_hi, s[i].first_us);
		wav_expect_audio(&w, i, at, i, MEDIA_PCMU, 0, w.frames - at);
	}
	free(w.pcm);
	run_end(&x);
}

/* A pause whose timestamps do not show it (more than 300 ms off) and a new
 * SSRC whose timestamps would be within 300 ms: both placed by arrival,
 * silence between. Leg 1 sends nothing: a silent right channel. */
static void test_record_gap_and_new_ssrc(void **state)
{
	struct rec_run x;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct stream s;
	struct wav w;
	int64_t sent[3];
	unsigned pkts = 0;
	size_t end = 0;

	(void)state;
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	run_begin(&x, "gap.wav", cfg, false);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	sent[0] = clock_mono_us();
	pkts += send_for(&x.c, &s, 1, 200);
	usleep(500000); /* timestamps carry on as if there were no pause */
	sent[1] = clock_mono_us();
	pkts += send_for(&x.c, &s, 1, 200);
	usleep(200000);
	s.ssrc++; /* as if 200 ms early on the old SSRC's clock */
	sent[2] = clock_mono_us();
	pkts += send_for(&x.c, &s, 1, 200);
	wait_frames(x.r, pkts);
	res = run_finish(&x, 1500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(x.path, 12000, &w);
	for (unsigned seg = 0; seg < 3; seg++)
		end = expect_segment(&w, 0, end, MEDIA_PCMU, seg * 1600, 1600, x.t0_lo, x.t0_hi,
		                     sent[seg]);
	wav_expect_silence(&w, 0, end, w.frames);
	wav_expect_silence(&w, 1, 0, w.frames);
	free(w.pcm);
	run_end(&x);
}

/* Audio the other leg cannot be sent (it has no address) is recorded. */
static void test_record_unrelayed(void **state)
{
	struct rec_run x;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct stream s;
	struct wav w;
	unsigned pkts;

	(void)state;
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMA, 20);
	cfg[1].remote.sin_family = AF_INET; /* port 0: no address yet */
	run_begin(&x, "unrelayed.wav", cfg, false);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&x.c, &s, 1, 200);
	wait_frames(x.r, pkts);
	session_wait(&x.c, offsetof(struct media_stats, dropped_no_remote), pkts);
	res = run_finish(&x, 500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	wav_load(x.path, 4000, &w);
	expect_segment(&w, 0, 0, MEDIA_PCMU, 0, s.k, x.t0_lo, x.t0_hi, s.first_us);
	free(w.pcm);
	run_end(&x);
}

/* A rec takes one session, once; a session one rec at a time; a rec
 * finished while still recorded is stopped first rather than written to
 * after it is gone; bad paths are refused. */
static void test_record_rules(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec[3], *bad;
	struct media_leg_cfg cfg[2];
	struct media_rec_result res;
	struct call c;
	char path[128], longp[5000];

	(void)state;
	tmp_make();
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, "", &bad), EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(media_rec_new(r, longp, &bad), EINVAL);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/r%d.wav", tmpdir, i);
		assert_int_equal(media_rec_new(r, path, &rec[i]), 0);
	}
	assert_int_equal(media_session_record(c.sess, NULL), 0); /* nothing to stop */
	assert_int_equal(media_session_record(c.sess, rec[0]), 0);
	assert_int_equal(media_session_record(c.sess, rec[1]), EINVAL);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	assert_int_equal(media_session_record(c.sess, rec[0]), EINVAL); /* used once */
	assert_int_equal(media_session_record(c.sess, rec[1]), 0);
	res = finish_wait(rec[1], 100); /* still recorded: stopped by the finish */
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(media_session_record(c.sess, rec[2]), 0);
	media_session_free(c.sess); /* stops recording rec[2] */
	c.sess = NULL;
	res = finish_wait(rec[2], 100);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	res = finish_wait(rec[0], 100);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_two_legs),  cmocka_unit_test(test_record_srtp_pcma_ptime),
	    cmocka_unit_test(test_record_cut),       cmocka_unit_test(test_record_gap_and_new_ssrc),
	    cmocka_unit_test(test_record_unrelayed), cmocka_unit_test(test_record_rules),
	};

	srand((unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
