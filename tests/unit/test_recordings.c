/* Unit tests for core/recordings.c: where a recording lives (the UTC day of
 * its answer, across midnight), its URL, and the retention sweep on a
 * temporary tree whose files' mtimes are set by the test: what expires
 * goes, what is fresh or not a recording stays, empty past days go, each
 * tenant keeps its own retention, a recording being written survives a
 * short retention, and a run with nothing due opens no directory. */
#include "core/recordings.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SID    "0123456789abcdef0123456789abcdef"
#define DAY_MS (86400LL * 1000)

/* Unix ms of a UTC date and time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = s};

	return (int64_t)timegm(&tm) * 1000;
}

static void tenant_init(struct tenant *t, const char *id, const char *dir, int64_t retention)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->recordings_dir, sizeof(t->recordings_dir), "%s", dir);
	t->recordings_retention_ms = retention;
}

/* ---- path and URL ---- */

static void test_path_day_is_utc_of_answer(void **state)
{
	struct tenant t;
	char out[256];
	int64_t midnight = utc_ms(2024, 3, 11, 0, 0, 0);

	(void)state;
	tenant_init(&t, "acme", "/var/rec", DAY_MS);
	assert_int_equal(recordings_path(&t, SID, midnight - 1, out, sizeof(out)), 0);
	assert_string_equal(out, "/var/rec/acme/20240310/" SID ".wav");
	assert_int_equal(recordings_path(&t, SID, midnight, out, sizeof(out)), 0);
	assert_string_equal(out, "/var/rec/acme/20240311/" SID ".wav");
	/* The end of a year, and a leap day. */
	assert_int_equal(
	    recordings_path(&t, SID, utc_ms(2023, 12, 31, 23, 59, 59) + 999, out, sizeof(out)), 0);
	assert_string_equal(out, "/var/rec/acme/20231231/" SID ".wav");
	assert_int_equal(recordings_path(&t, SID, utc_ms(2024, 2, 29, 12, 0, 0), out, sizeof(out)),
	                 0);
	assert_string_equal(out, "/var/rec/acme/20240229/" SID ".wav");
	/* Before 1970 the day still rounds down. */
	assert_int_equal(recordings_path(&t, SID, -1, out, sizeof(out)), 0);
	assert_string_equal(out, "/var/rec/acme/19691231/" SID ".wav");
}

static void test_path_too_long_or_unsafe(void **state)
{
	struct tenant t;
	char out[256];
	const char *want = "/r/acme/20240310/" SID ".wav";
	size_t len = strlen(want);
	int64_t ms = utc_ms(2024, 3, 10, 8, 0, 0);

	(void)state;
	tenant_init(&t, "acme", "/r", DAY_MS);
	assert_int_equal(recordings_path(&t, SID, ms, out, len + 1), 0);
	assert_string_equal(out, want);
	assert_int_equal(recordings_path(&t, SID, ms, out, len), ENAMETOOLONG);
	assert_string_equal(out, ""); /* never a truncated path */
	assert_int_equal(recordings_path(&t, "../../etc/passwd", ms, out, sizeof(out)), EINVAL);
	assert_int_equal(recordings_path(&t, "..", ms, out, sizeof(out)), EINVAL);
	assert_int_equal(recordings_path(&t, "", ms, out, sizeof(out)), EINVAL);
	tenant_init(&t, "..", "/r", DAY_MS);
	assert_int_equal(recordings_path(&t, SID, ms, out, sizeof(out)), EINVAL);
}

static void test_url(void **state)
{
	struct config *c = calloc(1, sizeof(*c));
	struct tenant t;
	char out[256];
	const char *tail = "/v1/tenants/acme/calls/" SID "/recording";

	(void)state;
	assert_non_null(c);
	tenant_init(&t, "acme", "/r", DAY_MS);
	/* http.public_url as config_load leaves it (its default and the
	 * trailing '/' are test_config_record's). */
	snprintf(c->http_public_url, sizeof(c->http_public_url), "http://127.0.0.1:8080");
	assert_int_equal(recordings_url(c, &t, SID, out, sizeof(out)), 0);
	assert_string_equal(out, "http://127.0.0.1:8080/v1/tenants/acme/calls/" SID "/recording");
	snprintf(c->http_public_url, sizeof(c->http_public_url), "https://pb.example.com/api");
	assert_int_equal(recordings_url(c, &t, SID, out, sizeof(out)), 0);
	assert_string_equal(out,
	                    "https://pb.example.com/api/v1/tenants/acme/calls/" SID "/recording");
	snprintf(c->http_public_url, sizeof(c->http_public_url), "https://pb.example.com");
	assert_int_equal(
	    recordings_url(c, &t, SID, out, strlen("https://pb.example.com") + strlen(tail)),
	    ENAMETOOLONG);
	assert_string_equal(out, "");
	free(c);
}

/* ---- the sweep ---- */

static char root[64];

static int sweep_setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/pb-rec-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int sweep_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void mkdirs(const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* A file at root/rel (its directory made) with that mtime. */
static void file_at(const char *rel, int64_t mtime_ms)
{
	char path[512], dir[512], *slash;
	struct timespec ts[2];
	int fd;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "RIFF", 4), 4);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(mtime_ms / 1000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(mtime_ms % 1000) * 1000000;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

#define assert_exists(rel)                                                                         \
	do {                                                                                       \
		if (!exists(rel))                                                                  \
			fail_msg("%s was deleted", rel);                                           \
	} while (0)
#define assert_gone(rel)                                                                           \
	do {                                                                                       \
		if (exists(rel))                                                                   \
			fail_msg("%s is still there", rel);                                        \
	} while (0)

/* Two tenants in one recordings dir: acme keeps 10 days, other 30. */
struct two {
	struct config cfg;
	struct tenant t[2];
};

static void two_init(struct two *w)
{
	memset(w, 0, sizeof(*w));
	tenant_init(&w->t[0], "acme", root, 10 * DAY_MS);
	tenant_init(&w->t[1], "other", root, 30 * DAY_MS);
	w->cfg.tenants = w->t;
	w->cfg.ntenants = 2;
}

static void test_sweep_deletes_expired_only(void **state)
{
	int64_t now = utc_ms(2024, 6, 15, 12, 0, 0);
	struct recordings_sweep *s;
	struct two w;

	(void)state;
	two_init(&w);
	/* A past day: both recordings expired (a crash's .part too), the
	 * day then empty and over for 10 days: all three go. */
	file_at("acme/20240601/" SID ".wav", utc_ms(2024, 6, 1, 10, 0, 0));
	file_at("acme/20240601/aaaa.wav.part", utc_ms(2024, 6, 1, 11, 0, 0));
	/* A day with one expired and one recording that ended later (a
	 * call over midnight... or a long one): the fresh one and the day
	 * stay. */
	file_at("acme/20240604/expired.wav", utc_ms(2024, 6, 4, 13, 0, 0));
	file_at("acme/20240604/fresh.wav", utc_ms(2024, 6, 10, 9, 0, 0));
	/* Exactly at its retention: due. */
	file_at("acme/20240604/edge.wav", now - 10 * DAY_MS);
	/* Not recordings: never touched, and their day stays. */
	file_at("acme/20240602/notes.txt", utc_ms(2024, 6, 2, 1, 0, 0));
	file_at("acme/20240602/x.wav.bak", utc_ms(2024, 6, 2, 1, 0, 0));
	file_at("acme/notaday/old.wav", utc_ms(2024, 1, 1, 0, 0, 0));
	file_at("acme/2024061/old.wav", utc_ms(2024, 1, 1, 0, 0, 0));
	file_at("acme/20240230/old.wav", utc_ms(2024, 1, 1, 0, 0, 0));
	/* An empty day whose day + retention is not over yet (06-16). */
	mkdirs("acme/20240605");
	/* A young day: not even opened. */
	file_at("acme/20240614/recent.wav", utc_ms(2024, 6, 14, 8, 0, 0));
	/* The other tenant keeps 30 days. */
	file_at("other/20240601/" SID ".wav", utc_ms(2024, 6, 1, 10, 0, 0));
	file_at("other/20240501/" SID ".wav", utc_ms(2024, 5, 1, 10, 0, 0));

	assert_int_equal(recordings_sweep_new(&s), 0);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now), 5);
	assert_gone("acme/20240601");
	assert_gone("acme/20240604/expired.wav");
	assert_gone("acme/20240604/edge.wav");
	assert_exists("acme/20240604/fresh.wav");
	assert_exists("acme/20240602/notes.txt");
	assert_exists("acme/20240602/x.wav.bak");
	assert_exists("acme/notaday/old.wav");
	assert_exists("acme/2024061/old.wav");
	assert_exists("acme/20240230/old.wav");
	assert_exists("acme/20240605");
	assert_exists("acme/20240614/recent.wav");
	assert_exists("other/20240601/" SID ".wav");
	assert_gone("other/20240501");
	assert_exists("other");
	/* Opened: acme, its 20240601, 20240602, 20240604, 20240605; other
	 * and its 20240501. Neither young day. */
	assert_int_equal(recordings_sweep_dirs_read(s), 7);

	/* Nothing due for a while: no directory is read, even with an
	 * expired file slipped in behind the sweep's back. */
	file_at("acme/20240602/late.wav", utc_ms(2024, 6, 2, 1, 0, 0));
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 1000), 0);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, utc_ms(2024, 6, 15, 23, 59, 59)), 0);
	assert_int_equal(recordings_sweep_dirs_read(s), 7);
	assert_exists("acme/20240602/late.wav");

	/* 06-16 00:00: the empty 20240605 is over its day and retention. */
	assert_int_equal(recordings_sweep_run(s, &w.cfg, utc_ms(2024, 6, 16, 0, 0, 0)), 1);
	assert_gone("acme/20240605");
	assert_gone("acme/20240602/late.wav");
	assert_exists("acme/20240604/fresh.wav");
	assert_exists("other/20240601/" SID ".wav"); /* other was not due */
	/* acme: itself, 20240602, 20240604, 20240605. */
	assert_int_equal(recordings_sweep_dirs_read(s), 11);

	/* fresh.wav at 06-20 09:00, then its day goes with it. */
	assert_int_equal(recordings_sweep_run(s, &w.cfg, utc_ms(2024, 6, 20, 8, 59, 59)), 0);
	assert_int_equal(recordings_sweep_dirs_read(s), 11);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, utc_ms(2024, 6, 20, 9, 0, 0)), 1);
	assert_gone("acme/20240604");
	assert_exists("acme/20240614/recent.wav");
	recordings_sweep_free(s);
}

static void test_sweep_follows_reloads(void **state)
{
	int64_t now = utc_ms(2024, 6, 15, 12, 0, 0);
	struct recordings_sweep *s;
	struct two w;
	unsigned long reads;
	char other_root[128];

	(void)state;
	two_init(&w);
	file_at("acme/20240610/a.wav", utc_ms(2024, 6, 10, 10, 0, 0));
	assert_int_equal(recordings_sweep_new(&s), 0);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now), 0);
	reads = recordings_sweep_dirs_read(s);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 1000), 0);
	assert_int_equal(recordings_sweep_dirs_read(s), reads);

	/* A reload shortens acme's retention to 2 days: looked at at once. */
	w.t[0].recordings_retention_ms = 2 * DAY_MS;
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 2000), 1);
	assert_gone("acme/20240610/a.wav");

	/* A reload moves acme to another directory: read at once there. */
	snprintf(other_root, sizeof(other_root), "%s/moved", root);
	mkdirs("moved/acme/20240601");
	file_at("moved/acme/20240601/b.wav", utc_ms(2024, 6, 1, 10, 0, 0));
	snprintf(w.t[0].recordings_dir, sizeof(w.t[0].recordings_dir), "%s", other_root);
	reads = recordings_sweep_dirs_read(s);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 3000), 1);
	assert_gone("moved/acme/20240601");
	assert_true(recordings_sweep_dirs_read(s) > reads);
	recordings_sweep_free(s);
}

static void test_sweep_missing_dirs_are_normal(void **state)
{
	int64_t now = utc_ms(2024, 6, 15, 12, 0, 0);
	struct recordings_sweep *s;
	struct two w;
	char nowhere[128];

	(void)state;
	two_init(&w);
	snprintf(nowhere, sizeof(nowhere), "%s/not/there", root);
	snprintf(w.t[0].recordings_dir, sizeof(w.t[0].recordings_dir), "%s", nowhere);
	assert_int_equal(recordings_sweep_new(&s), 0);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now), 0);
	assert_int_equal(recordings_sweep_dirs_read(s), 0);
	/* Recordings appear later: they are younger than the run, so the
	 * run at their expiry finds them. */
	file_at("other/20240615/" SID ".wav", now + 5000);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 5000 + 30 * DAY_MS - 1), 0);
	assert_exists("other/20240615/" SID ".wav");
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now + 5000 + 30 * DAY_MS), 1);
	assert_gone("other/20240615/" SID ".wav");
	recordings_sweep_free(s);
}

static void test_sweep_spares_a_part_being_written(void **state)
{
	int64_t now = utc_ms(2024, 6, 15, 12, 0, 0);
	struct recordings_sweep *s;
	struct two w;

	(void)state;
	two_init(&w);
	w.t[0].recordings_retention_ms = 2000; /* retention shorter than a call */
	file_at("acme/20240615/ended.wav", now - 3000);
	file_at("acme/20240615/live.wav.part", now - 3000); /* written 3 s ago */
	file_at("acme/20240615/crashed.wav.part", now - 5 * 60 * 1000);
	assert_int_equal(recordings_sweep_new(&s), 0);
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now), 2);
	assert_gone("acme/20240615/ended.wav");
	assert_gone("acme/20240615/crashed.wav.part");
	assert_exists("acme/20240615/live.wav.part");
	/* Still not written to five minutes after its last write: a leftover. */
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now - 3000 + 5 * 60 * 1000 - 1), 0);
	assert_exists("acme/20240615/live.wav.part");
	assert_int_equal(recordings_sweep_run(s, &w.cfg, now - 3000 + 5 * 60 * 1000), 1);
	assert_gone("acme/20240615/live.wav.part");
	recordings_sweep_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_day_is_utc_of_answer),
	    cmocka_unit_test(test_path_too_long_or_unsafe),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test_setup_teardown(test_sweep_deletes_expired_only, sweep_setup,
	                                    sweep_teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_follows_reloads, sweep_setup,
	                                    sweep_teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_missing_dirs_are_normal, sweep_setup,
	                                    sweep_teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_spares_a_part_being_written, sweep_setup,
	                                    sweep_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
