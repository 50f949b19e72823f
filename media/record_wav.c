/* record_wav: one recording on the writer thread: G.711 decoded into a
 * sliding window where late and reordered frames still find their place,
 * the window's oldest part appended to "<path>.part" as newer audio comes,
 * and at the end the header patched, the data synced, the file renamed
 * and its directory synced.
 * The first failing system call ends the recording (file removed). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/log.h"
#include "media/g711.h"
#include "media/record.h"

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

/* RIFF/WAVE, PCM, 2 channels, 8000 Hz, 16-bit, with data_bytes of data. */
static void wav_header(uint8_t h[REC_HDR], uint32_t data_bytes)
{
	memcpy(h, "RIFF", 4);
	put_le32(h + 4, 36 + data_bytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le32(h + 16, 16);
	put_le16(h + 20, 1); /* PCM */
	put_le16(h + 22, 2);
	put_le32(h + 24, REC_RATE * 1000);
	put_le32(h + 28, REC_RATE * 1000 * 4);
	put_le16(h + 32, 4);
	put_le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put_le32(h + 40, data_bytes);
}

static void part_name(const struct media_rec *rec, char *buf, size_t n)
{
	snprintf(buf, n, "%s.part", rec->path);
}

/* The first error of a recording: logged once, the file closed and
 * removed, and the workers told to stop queuing its frames. */
static void rec_fail(struct media_rec *rec, int err, const char *what)
{
	char part[PATH_MAX];

	log_err("media", "recording %s: %s: %s", rec->path, what, strerror(err));
	rec->err = err;
	atomic_store_explicit(&rec->failed, true, memory_order_relaxed);
	if (rec->fd >= 0)
		close(rec->fd);
	rec->fd = -1;
	if (rec->made) {
		part_name(rec, part, sizeof(part));
		if (unlink(part) != 0 && errno != ENOENT)
			log_err("media", "recording %s: removing the part file: %s", rec->path,
			        strerror(errno));
	}
	rec->made = false;
}

static bool rec_failed(const struct media_rec *rec)
{
	return atomic_load_explicit(&rec->failed, memory_order_relaxed);
}

/* mkdir -p of the directories above path. */
static int make_parents(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	return 0;
}

/* Whether path's directory is the one the writer made last. */
static bool dir_made(const struct media_recorder *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	return n && r->last_dir_len == n && !memcmp(r->last_dir, path, n);
}

static void remember_dir(struct media_recorder *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	r->last_dir_len = n < sizeof(r->last_dir) ? n : 0;
	memcpy(r->last_dir, path, r->last_dir_len);
}

static int write_all(struct media_recorder *r, struct media_rec *rec, const uint8_t *buf,
                     size_t len)
{
	while (len) {
		ssize_t n = write(rec->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		buf += n;
		len -= (size_t)n;
		rec->bytes += (uint64_t)n;
		atomic_fetch_add_explicit(&r->bytes, (uint64_t)n, memory_order_relaxed);
	}
	return 0;
}

/* frames of silence past the window (a side on hold, the wait for the
 * first audio, the tail after the last): a hole in the file rather than
 * written zeros, which reads the same and costs the disk nothing. The
 * file ends at the offset until more comes; rec_close sizes it. */
static int skip_silence(struct media_rec *rec, int64_t frames)
{
	off_t to = (off_t)(rec->bytes + (uint64_t)frames * 4);

	if (ftruncate(rec->fd, to) != 0 || lseek(rec->fd, to, SEEK_SET) != to)
		return errno ? errno : EIO;
	rec->bytes = (uint64_t)to;
	return 0;
}

/* Opened on the first audio to write (or at finish): a recording whose
 * call sends nothing costs no file until then. */
static int rec_open(struct media_recorder *r, struct media_rec *rec)
{
	char part[PATH_MAX];
	uint8_t h[REC_HDR];
	int rc;

	part_name(rec, part, sizeof(part));
	/* Calls of a day share a directory: made once (the writer remembers
	 * the last one), again when it went away meanwhile. */
	rc = dir_made(r, rec->path) ? 0 : ENOENT;
	if (!rc)
		rec->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (rc || (rec->fd < 0 && errno == ENOENT)) {
		if ((rc = make_parents(rec->path)) != 0) {
			rec_fail(rec, rc, "making its directory");
			return rc;
		}
		remember_dir(r, rec->path);
		rec->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	}
	if (rec->fd < 0) {
		rc = errno;
		rec_fail(rec, rc, "creating its part file");
		return rc;
	}
	rec->made = true;
	wav_header(h, 0); /* sizes patched at the end */
	if ((rc = write_all(r, rec, h, sizeof(h))) != 0)
		rec_fail(rec, rc, "writing");
	return rc;
}

/* Append sample frames [rec->flushed, upto) to the file: the window's,
 * then silence for any part past it; the window slides to upto. */
static int flush_to(struct media_recorder *r, struct media_rec *rec, int64_t upto)
{
	int64_t n = upto - rec->flushed, from_win = n < REC_WIN ? n : REC_WIN, left = 0;
	int rc = 0;

	if (n <= 0)
		return 0;
	if (rec->fd < 0 && (rc = rec_open(r, rec)) != 0)
		return rc;
	/* The window fits one write (REC_WIN * 4 <= REC_OUT). */
	for (int64_t i = 0; i < from_win * 2; i++)
		put_le16(r->out + 2 * i, (uint16_t)rec->win[i]);
	rc = write_all(r, rec, r->out, (size_t)from_win * 4);
	if (!rc && (left = n - from_win) > 0)
		rc = skip_silence(rec, left);
	if (rc) {
		rec_fail(rec, rc, "writing");
		return rc;
	}
	if (from_win < REC_WIN)
		memmove(rec->win, rec->win + from_win * 2,
		        (size_t)(REC_WIN - from_win) * 2 * sizeof(rec->win[0]));
	memset(rec->win + (REC_WIN - from_win) * 2, 0, (size_t)from_win * 2 * sizeof(rec->win[0]));
	rec->flushed = upto;
	return 0;
}

void rec_wav_frame(struct media_recorder *r, struct media_rec *rec, const struct rec_slot *s)
{
	int64_t start = s->pos, end = s->pos + s->len;
	const int16_t *law;
	int16_t *dst;

	if (rec_failed(rec) || end <= 0)
		return;
	if (start < 0) /* before time zero: cut, as the worker does */
		start = 0;
	if (start < rec->flushed) { /* its place is written already */
		rec->late++;
		start = rec->flushed;
		if (start >= end)
			return;
	}
	/* Beyond the window: write out its oldest part, keeping REC_LAG
	 * behind this frame's end for the other leg and for jitter. */
	if (end > rec->flushed + REC_WIN && flush_to(r, rec, end - REC_LAG) != 0)
		return;
	dst = rec->win + (start - rec->flushed) * 2 + s->leg;
	law = g711_decode_table(s->codec == MEDIA_PCMA);
	for (int64_t i = start - s->pos; i < s->len; i++, dst += 2)
		*dst = law[s->data[i]];
}

static int sync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fsync(fd) != 0)
		rc = errno;
	close(fd);
	return rc;
}

static int rec_close(struct media_recorder *r, struct media_rec *rec, int64_t frames)
{
	char part[PATH_MAX];
	uint8_t h[REC_HDR];
	int rc;

	if (rec->flushed > frames) { /* audio past the end: cut */
		if (ftruncate(rec->fd, REC_HDR + frames * 4) != 0) {
			rc = errno;
			rec_fail(rec, rc, "cutting");
			return rc;
		}
		rec->bytes = (uint64_t)(REC_HDR + frames * 4);
	} else if ((rc = flush_to(r, rec, frames)) != 0) {
		return rc;
	}
	wav_header(h, (uint32_t)(frames * 4));
	errno = EIO; /* a short write sets none */
	if (pwrite(rec->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		rc = errno;
		rec_fail(rec, rc, "writing its header");
		return rc;
	}
	/* Durable before it is visible under its name: a crash leaves a
	 * .part file (swept), never a truncated .wav. */
	if (fdatasync(rec->fd) != 0) {
		rc = errno;
		rec_fail(rec, rc, "syncing");
		return rc;
	}
	rc = close(rec->fd);
	rec->fd = -1;
	if (rc != 0) {
		rc = errno;
		rec_fail(rec, rc, "closing");
		return rc;
	}
	part_name(rec, part, sizeof(part));
	if (rename(part, rec->path) != 0) {
		rc = errno;
		rec_fail(rec, rc, "renaming its part file");
		return rc;
	}
	rec->made = false;
	/* The rename itself must survive a power cut: a COMPLETED recording
	 * whose name was lost would be swept as a leftover .part. */
	if ((rc = sync_parent(rec->path)) != 0) {
		rec_fail(rec, rc, "syncing its directory");
		unlink(rec->path);
	}
	return rc;
}

void rec_wav_finish(struct media_recorder *r, struct media_rec *rec, struct media_rec_result *res)
{
	/* A WAV's sizes are 32-bit: about 37 hours of stereo. */
	if (!rec_failed(rec) && rec->duration_ms > (UINT32_MAX - 36) / (REC_RATE * 4))
		rec_fail(rec, EFBIG, "its length");
	if (!rec_failed(rec) && rec->fd < 0)
		rec_open(r, rec);
	if (!rec_failed(rec))
		rec_close(r, rec, (int64_t)rec->duration_ms * REC_RATE);
	memset(res, 0, sizeof(*res));
	res->dropped = atomic_load_explicit(&rec->dropped, memory_order_relaxed);
	res->late = rec->late;
	if (rec_failed(rec)) {
		res->status = MEDIA_REC_FAILED;
		res->err = rec->err;
		return;
	}
	res->status = res->dropped ? MEDIA_REC_PARTIAL : MEDIA_REC_COMPLETED;
	res->bytes = rec->bytes;
}
