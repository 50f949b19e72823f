/* Unit tests for call recording (media/record.c, record_wav.c) when things
 * go wrong or are trivial: a full queue (frames dropped, counted, PARTIAL,
 * the file still valid), disks that refuse (a directory that cannot be
 * made, a file size limit mid-call: FAILED with the errno, nothing left
 * behind, the call untouched), a recording without a frame, and a stop
 * that drains every finished recording. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "record_call.h"

/* --- A full queue, failing disks ------------------------------------------ */

/* A done function that holds the writer until the test lets it go: the
 * queue then fills for certain. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

static void on_done_blocking(void *arg, const struct media_rec_result *res)
{
	(void)arg;
	(void)res;
	pthread_mutex_lock(&gate.lock);
	gate.entered = true;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

static void test_record_queue_full(void **state)
{
	struct media_recorder *r;
	struct media_rec *blocker, *rec;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct call c;
	struct stream s;
	struct wav w;
	char path[128], path0[128];
	int64_t t0_lo, t0_hi;
	unsigned pkts;

	(void)state;
	tmp_make();
	snprintf(path0, sizeof(path0), "%s/blocker.wav", tmpdir);
	snprintf(path, sizeof(path), "%s/partial.wav", tmpdir);
	assert_int_equal(media_recorder_start(&r, 4), 0);
	assert_int_equal(media_rec_new(r, path0, &blocker), 0);
	media_rec_finish(blocker, 20, on_done_blocking, NULL);
	pthread_mutex_lock(&gate.lock);
	while (!gate.entered)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);

	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&c, &s, 1, 400);
	wait_frames(r, pkts);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.frames, 4);
	assert_int_equal(st.dropped, pkts - 4);
	assert_int_equal(st.queue_slots, 4);
	assert_int_equal(st.queue_peak, 4);
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);

	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 1000);
	assert_int_equal(res.status, MEDIA_REC_PARTIAL);
	assert_int_equal(res.dropped, pkts - 4);
	assert_int_equal(res.bytes, 44 + 8000 * 4);
	wav_load(path, 8000, &w); /* the first four frames, then silence */
	expect_segment(&w, 0, 0, MEDIA_PCMU, 0, 4 * 160, t0_lo, t0_hi, s.first_us);
	free(w.pcm);
	wav_load(path0, 160, &w);
	wav_expect_silence(&w, 0, 0, 160);
	free(w.pcm);
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.partial, 1);
	assert_int_equal(st.completed, 1);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* A directory that cannot be made (its parent is a file): FAILED with the
 * errno, nothing left behind. */
static void test_record_bad_dir(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_recorder_stats st;
	struct media_rec_result res;
	char file[128], path[160], part[168];
	int fd;

	(void)state;
	tmp_make();
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), i ? "%s/sub/rec.wav" : "%s/rec.wav", file);
		snprintf(part, sizeof(part), "%s.part", path);
		assert_int_equal(media_rec_new(r, path, &rec), 0);
		res = finish_wait(rec, 1000);
		assert_int_equal(res.status, MEDIA_REC_FAILED);
		assert_int_equal(res.err, ENOTDIR);
		assert_int_equal(res.bytes, 0);
		assert_false(exists(path));
		assert_false(exists(part));
	}
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.active, 0);
	media_recorder_stop(r);
	tmp_remove();
}

/* The disk refuses more (EFBIG, from a file size limit) while the call goes
 * on: FAILED, the part file removed, the workers stop queuing, the call
 * is not affected. SIGXFSZ keeps its default action (terminate): the
 * recorder, not the program, must keep it from killing the process. */
static void test_record_file_too_big(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_leg_cfg cfg[2];
	struct media_recorder_stats st;
	struct media_rec_result res;
	struct rlimit old, small;
	struct call c;
	struct stream s;
	char path[128], part[136];
	int64_t t0_lo, t0_hi;
	unsigned pkts;

	(void)state;
	tmp_make();
	snprintf(path, sizeof(path), "%s/big.wav", tmpdir);
	snprintf(part, sizeof(part), "%s.part", path);
	leg_cfg(&cfg[0], MEDIA_PCMU, 20);
	leg_cfg(&cfg[1], MEDIA_PCMU, 20);
	call_open(&c, cfg, false);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 20000; /* the first flush (~16 kB) fits, the second not */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	record_on(&c, rec, &t0_lo, &t0_hi);
	stream_init(&s, 0, MEDIA_PCMU, 20);
	pkts = send_for(&c, &s, 1, 2500);
	session_wait(&c, offsetof(struct media_stats, relayed), pkts);
	assert_int_equal(media_session_record(c.sess, NULL), 0);
	res = finish_wait(rec, 3000);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(res.status, MEDIA_REC_FAILED);
	assert_int_equal(res.err, EFBIG);
	assert_false(exists(path));
	assert_false(exists(part));
	media_recorder_get_stats(r, &st);
	assert_int_equal(st.bytes, 20000);
	assert_true(st.frames < pkts - 25); /* none after the failure at ~1.5 s */
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.failed, 1);
	media_recorder_stop(r);
	call_close(&c);
	tmp_remove();
}

/* --- Edges ---------------------------------------------------------------- */

/* No frame at all: a WAV of silence of the right length, its directories
 * made 0750 and the file 0640; a zero duration is a header alone. */
static void test_record_empty(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec;
	struct media_rec_result res;
	struct stat sb;
	struct wav w;
	char dir[128], path[160];
	mode_t old = umask(022);

	(void)state;
	tmp_make();
	snprintf(dir, sizeof(dir), "%s/t1/20261128", tmpdir);
	snprintf(path, sizeof(path), "%s/empty.wav", dir);
	assert_int_equal(media_recorder_start(&r, 0), 0);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	res = finish_wait(rec, 500);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44 + 4000 * 4);
	wav_load(path, 4000, &w);
	wav_expect_silence(&w, 0, 0, w.frames);
	wav_expect_silence(&w, 1, 0, w.frames);
	free(w.pcm);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);

	snprintf(path, sizeof(path), "%s/zero.wav", dir);
	assert_int_equal(media_rec_new(r, path, &rec), 0);
	res = finish_wait(rec, 0);
	assert_int_equal(res.status, MEDIA_REC_COMPLETED);
	assert_int_equal(res.bytes, 44);
	wav_load(path, 0, &w);
	free(w.pcm);
	media_recorder_stop(r);
	umask(old);
	tmp_remove();
}

static atomic_uint n_done;

static void on_count(void *arg, const struct media_rec_result *res)
{
	(void)arg;
	if (res->status == MEDIA_REC_COMPLETED)
		atomic_fetch_add(&n_done, 1);
}

/* Stop right after finishing: every recording is written and reported. */
static void test_record_stop_drains(void **state)
{
	struct media_recorder *r;
	struct media_rec *rec[8];
	char path[8][128];
	struct wav w;

	(void)state;
	tmp_make();
	atomic_store(&n_done, 0);
	assert_int_equal(media_recorder_start(&r, 16), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/d%d/rec.wav", tmpdir, i);
		assert_int_equal(media_rec_new(r, path[i], &rec[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		media_rec_finish(rec[i], 2000, on_count, NULL);
	media_recorder_stop(r);
	assert_int_equal(atomic_load(&n_done), 8);
	for (int i = 0; i < 8; i++) {
		wav_load(path[i], 16000, &w);
		free(w.pcm);
	}
	tmp_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_queue_full),   cmocka_unit_test(test_record_bad_dir),
	    cmocka_unit_test(test_record_file_too_big), cmocka_unit_test(test_record_empty),
	    cmocka_unit_test(test_record_stop_drains),
	};

	srand((unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
