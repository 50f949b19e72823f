/* recordings: the path and URL of a call's recording, and the sweep that
 * deletes recordings past their tenant's retention. The sweep runs on the
 * sweeper thread only; its memory (struct recordings_sweep) is that
 * thread's and has no lock. */
#include "core/recordings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/log.h"

#define DAY_MS (86400LL * 1000)
/* After an error (a directory that cannot be read, a file that cannot be
 * deleted) the directory is looked at again this much later, not at every
 * sweep, so that a lasting problem logs one line a minute, not five a
 * second. */
#define RETRY_MS (60LL * 1000)
/* A .part file is a recording being written (its writer appends every
 * second or so) or a crash's leftover. With a retention shorter than this
 * it still waits this long after its last write, so that a live recording
 * is never deleted under its writer. */
#define PART_IDLE_MS (5LL * 60 * 1000)

/* A tenant id or call_sid that would leave its directory: '/' or a dot
 * name. Config and the store refuse such values; this is the last line. */
static bool name_unsafe(const char *s)
{
	return !*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..");
}

int recordings_path(const struct tenant *t, const char *call_sid, int64_t answered_ms, char *out,
                    size_t n)
{
	/* The UTC day, rounding towards minus infinity (not that a call
	 * answered before 1970 is likely). */
	time_t s = (time_t)(answered_ms / 1000 - (answered_ms % 1000 < 0));
	struct tm tm;
	int len;

	if (name_unsafe(t->id) || name_unsafe(call_sid))
		return EINVAL;
	if (!gmtime_r(&s, &tm))
		return EINVAL;
	len = snprintf(out, n, "%s/%s/%04d%02d%02d/%s.wav", t->recordings_dir, t->id,
	               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, call_sid);
	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = '\0';
		return ENAMETOOLONG;
	}
	return 0;
}

int recordings_url(const struct config *cfg, const struct tenant *t, const char *call_sid,
                   char *out, size_t n)
{
	/* config_load gives http_public_url its default and drops a
	 * trailing '/'. */
	int len = snprintf(out, n, "%s/v1/tenants/%s/calls/%s/recording", cfg->http_public_url,
	                   t->id, call_sid);

	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = '\0';
		return ENAMETOOLONG;
	}
	return 0;
}

/* ---- the sweep ---- */

/* What the sweep knows of one <dir>/<tenant> directory. */
struct memo {
	char dir[CONFIG_STR];
	char tenant[sizeof(((struct tenant *)0)->id)];
	int64_t retention_ms; /* what due_ms was computed with */
	int64_t due_ms;       /* nothing there can expire before this */
	bool seen;            /* still in the config (this run) */
};

struct recordings_sweep {
	struct memo *memo;
	size_t n, cap;
	unsigned long dirs_read; /* directories opened, for tests */
};

int recordings_sweep_new(struct recordings_sweep **out)
{
	struct recordings_sweep *s = calloc(1, sizeof(*s));

	if (!s)
		return ENOMEM;
	*out = s;
	return 0;
}

void recordings_sweep_free(struct recordings_sweep *s)
{
	if (!s)
		return;
	free(s->memo);
	free(s);
}

unsigned long recordings_sweep_dirs_read(const struct recordings_sweep *s)
{
	return s->dirs_read;
}

static struct memo *memo_get(struct recordings_sweep *s, const struct tenant *t)
{
	struct memo *m;

	for (size_t i = 0; i < s->n; i++) {
		m = &s->memo[i];
		if (!strcmp(m->dir, t->recordings_dir) && !strcmp(m->tenant, t->id))
			return m;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct memo *nm = realloc(s->memo, cap * sizeof(*nm));

		if (!nm)
			return NULL;
		s->memo = nm;
		s->cap = cap;
	}
	m = &s->memo[s->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "%s", t->recordings_dir);
	snprintf(m->tenant, sizeof(m->tenant), "%s", t->id);
	m->retention_ms = t->recordings_retention_ms;
	m->due_ms = INT64_MIN; /* never looked: now */
	return m;
}

/* Start of the UTC day a "YYYYMMDD" name stands for, in ms; false for any
 * other name (or a date that does not exist, such as 20240230). */
static bool day_start(const char *name, int64_t *ms)
{
	struct tm tm;
	time_t s;
	int y, mo, d;

	for (int i = 0; i < 8; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	if (name[8] != '\0')
		return false;
	y = (name[0] - '0') * 1000 + (name[1] - '0') * 100 + (name[2] - '0') * 10 + (name[3] - '0');
	mo = (name[4] - '0') * 10 + (name[5] - '0');
	d = (name[6] - '0') * 10 + (name[7] - '0');
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	s = timegm(&tm);
	/* timegm normalises 20240230 to March 1st: refuse what moved. */
	if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d)
		return false;
	*ms = (int64_t)s * 1000;
	return true;
}

/* 1 for "*.wav", 2 for "*.wav.part", else 0. */
static int recording_kind(const char *name)
{
	size_t len = strlen(name);

	if (len > 4 && !strcmp(name + len - 4, ".wav"))
		return 1;
	if (len > 9 && !strcmp(name + len - 9, ".wav.part"))
		return 2;
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* One run over <dir>/<tenant>/<day>: deletes the expired recordings,
 * removes the directory when it is left empty after its day and
 * retention, and lowers *due to when what is left can come due. Returns
 * files deleted. */
static long sweep_day(struct recordings_sweep *s, int tfd, const char *tpath, const char *day,
                      int64_t start_ms, int64_t retention, int64_t now, int64_t *due)
{
	int dfd = openat(tfd, day, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int first_err = 0;
	long deleted = 0, failed = 0, left = 0;
	const char *first_name = "";
	char first_buf[64];
	struct dirent *de;
	DIR *d;

	if (dfd < 0) {
		if (errno != ENOENT) { /* gone since the listing: fine */
			log_warn("recordings", "cannot open %s/%s: %s", tpath, day,
			         strerror(errno));
			*due = min64(*due, now + RETRY_MS);
		}
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		log_warn("recordings", "cannot read %s/%s: %s", tpath, day, strerror(errno));
		close(dfd);
		*due = min64(*due, now + RETRY_MS);
		return 0;
	}
	s->dirs_read++;
	while ((de = readdir(d))) {
		struct stat st;
		int64_t mtime, expires;
		int kind;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		left++;
		/* Only recordings, only regular files, and no symlink followed:
		 * anything else in the tree is the operator's. */
		kind = recording_kind(de->d_name);
		if (!kind || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		expires = add_sat(mtime,
		                  kind == 2 && retention < PART_IDLE_MS ? PART_IDLE_MS : retention);
		if (expires > now) {
			*due = min64(*due, expires);
			continue;
		}
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT) {
			deleted++;
			left--;
			continue;
		}
		if (!failed++) {
			first_err = errno;
			snprintf(first_buf, sizeof(first_buf), "%s", de->d_name);
			first_name = first_buf;
		}
	}
	closedir(d);
	if (failed) {
		log_warn("recordings", "cannot delete %ld expired recording(s) in %s/%s (%s: %s)",
		         failed, tpath, day, first_name, strerror(first_err));
		*due = min64(*due, now + RETRY_MS);
	}
	if (left == 0) {
		/* Only once the whole day and its retention are over: until then
		 * a recording of that day may still be started into it. */
		int64_t gone = add_sat(start_ms + DAY_MS, retention);

		if (gone > now)
			*due = min64(*due, gone);
		else if (unlinkat(tfd, day, AT_REMOVEDIR) != 0 && errno != ENOENT &&
		         errno != ENOTEMPTY && errno != EEXIST)
			log_warn("recordings", "cannot remove %s/%s: %s", tpath, day,
			         strerror(errno));
	}
	return deleted;
}

/* The run over one tenant's directory; sets m->due_ms. Returns files
 * deleted. */
static long sweep_tenant(struct recordings_sweep *s, struct memo *m, int64_t now)
{
	int64_t retention = m->retention_ms > 0 ? m->retention_ms : 0;
	/* Whatever is written from now on has an mtime of now or later. */
	int64_t due = add_sat(now, retention);
	char tpath[CONFIG_STR + 80];
	long deleted = 0;
	struct dirent *de;
	int tfd;
	DIR *d;

	snprintf(tpath, sizeof(tpath), "%s/%s", m->dir, m->tenant);
	tfd = open(tpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		if (errno != ENOENT) { /* no recording yet is normal */
			log_warn("recordings", "cannot open %s: %s", tpath, strerror(errno));
			due = now + RETRY_MS;
		}
		m->due_ms = due;
		return 0;
	}
	d = fdopendir(tfd);
	if (!d) {
		log_warn("recordings", "cannot read %s: %s", tpath, strerror(errno));
		close(tfd);
		m->due_ms = now + RETRY_MS;
		return 0;
	}
	s->dirs_read++;
	while ((de = readdir(d))) {
		int64_t start;

		if (!day_start(de->d_name, &start))
			continue;
		/* A recording's mtime is its end, after its answer, which is in
		 * its day: a day younger than the retention holds nothing due. */
		if (add_sat(start, retention) > now) {
			due = min64(due, add_sat(start, retention));
			continue;
		}
		deleted += sweep_day(s, tfd, tpath, de->d_name, start, retention, now, &due);
	}
	closedir(d);
	m->due_ms = due;
	if (deleted)
		log_info("recordings", "deleted %ld recording(s) of tenant %s past retention",
		         deleted, m->tenant);
	return deleted;
}

long recordings_sweep_run(struct recordings_sweep *s, const struct config *cfg, int64_t now_ms)
{
	long deleted = 0;
	size_t i, j;

	for (i = 0; i < s->n; i++)
		s->memo[i].seen = false;
	for (i = 0; i < cfg->ntenants; i++) {
		const struct tenant *t = &cfg->tenants[i];
		struct memo *m;

		if (name_unsafe(t->id) || !t->recordings_dir[0])
			continue;
		m = memo_get(s, t);
		if (!m)
			return -ENOMEM;
		m->seen = true;
		/* A reload that changed the retention: what was due later may
		 * be due now (a shorter one), so look again. */
		if (m->retention_ms != t->recordings_retention_ms) {
			m->retention_ms = t->recordings_retention_ms;
			m->due_ms = INT64_MIN;
		}
		if (m->due_ms > now_ms)
			continue;
		deleted += sweep_tenant(s, m, now_ms);
	}
	/* Forget directories no tenant uses any more. */
	for (i = j = 0; i < s->n; i++)
		if (s->memo[i].seen)
			s->memo[j++] = s->memo[i];
	s->n = j;
	return deleted;
}
