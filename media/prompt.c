/* prompt: IVR prompts as 8 kHz mono 16-bit samples, from WAV files (a
 * tenant's own) or WAV bytes built into the binary. The parser accepts only
 * what plays without resampling and says exactly why it refuses the rest,
 * so a bad tenant file is a clear config error at start or reload. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/media_int.h"

#define WAV_RATE        8000
#define WAV_MAX_SECONDS 300 /* a prompt, not an album */
#define WAV_MAX_SAMPLES ((size_t)WAV_RATE * WAV_MAX_SECONDS)
#define WAV_FMT_MIN     16
/* The largest file worth reading: the samples plus room for chunks a
 * writer may add (LIST metadata, fact, ...). */
#define WAV_FILE_MAX (WAV_MAX_SAMPLES * 2 + 65536)

struct wav_fmt {
	unsigned format, channels, rate, block_align, bits;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned get_le16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static int fmt_check(const uint8_t *p, uint32_t size, struct wav_fmt *f, char *err, size_t errlen)
{
	if (size < WAV_FMT_MIN)
		return fail(err, errlen, "fmt chunk of %u bytes, need at least %d", (unsigned)size,
		            WAV_FMT_MIN);
	f->format = get_le16(p);
	f->channels = get_le16(p + 2);
	f->rate = get_le32(p + 4);
	f->block_align = get_le16(p + 12);
	f->bits = get_le16(p + 14);
	if (f->format != 1)
		return fail(err, errlen, "format %u, need 1 (PCM)", f->format);
	if (f->rate != WAV_RATE)
		return fail(err, errlen, "sample rate %u Hz, need %d", f->rate, WAV_RATE);
	if (f->channels != 1)
		return fail(err, errlen, "%u channels, need 1 (mono)", f->channels);
	if (f->bits != 16)
		return fail(err, errlen, "%u-bit samples, need 16-bit", f->bits);
	if (f->block_align != 2)
		return fail(err, errlen, "block align %u, need 2", f->block_align);
	return 0;
}

static int prompt_make(const uint8_t *p, uint32_t size, struct media_prompt **out, char *err,
                       size_t errlen)
{
	size_t n = size / 2;
	struct media_prompt *pr;

	if (size % 2)
		return fail(err, errlen, "data chunk of odd size %u", (unsigned)size);
	if (n == 0)
		return fail(err, errlen, "data chunk holds no samples");
	if (n > WAV_MAX_SAMPLES)
		return fail(err, errlen, "%zu s of audio, at most %d", n / WAV_RATE,
		            WAV_MAX_SECONDS);
	pr = malloc(sizeof(*pr) + n * sizeof(pr->pcm[0]));
	if (!pr)
		return ENOMEM;
	pr->n = n;
	for (size_t i = 0; i < n; i++)
		pr->pcm[i] = (int16_t)get_le16(p + 2 * i);
	*out = pr;
	return 0;
}

/* Walk the chunks after "RIFF" size "WAVE": fmt must come before data;
 * others are skipped; nothing after data matters. */
static int chunks_parse(const uint8_t *p, size_t len, struct media_prompt **out, char *err,
                        size_t errlen)
{
	struct wav_fmt f;
	bool have_fmt = false;
	int rc;

	while (len >= 8) {
		uint32_t size = get_le32(p + 4);
		bool is_fmt = memcmp(p, "fmt ", 4) == 0, is_data = memcmp(p, "data", 4) == 0;

		p += 8;
		len -= 8;
		if (size > len)
			return fail(err, errlen,
			            "truncated: chunk '%.4s' claims %u bytes, %zu left",
			            (const char *)p - 8, (unsigned)size, len);
		if (is_data && !have_fmt)
			return fail(err, errlen, "data chunk before any fmt chunk");
		if (is_data)
			return prompt_make(p, size, out, err, errlen);
		if (is_fmt && !have_fmt) {
			rc = fmt_check(p, size, &f, err, errlen);
			if (rc)
				return rc;
			have_fmt = true;
		}
		/* Chunks are padded to an even size; the pad may be missing
		 * after the last one. */
		if (size % 2 && size < len)
			size++;
		p += size;
		len -= size;
	}
	return fail(err, errlen, have_fmt ? "no data chunk" : "no fmt chunk");
}

int media_prompt_from_wav(const uint8_t *data, size_t len, struct media_prompt **out, char *err,
                          size_t errlen)
{
	uint32_t riff;

	if (!data || len < 12 || memcmp(data, "RIFF", 4) || memcmp(data + 8, "WAVE", 4))
		return fail(err, errlen, "not a RIFF/WAVE file");
	riff = get_le32(data + 4);
	if (riff < 4 || riff > len - 8)
		return fail(err, errlen, "truncated: RIFF claims %u bytes, %zu present",
		            (unsigned)riff, len - 8);
	return chunks_parse(data + 12, riff - 4, out, err, errlen);
}

static int file_read(FILE *f, const char *path, uint8_t **bufp, size_t *lenp, char *err,
                     size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t len;

	if (fstat(fileno(f), &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "%s: not a regular file", path);
	if ((uintmax_t)st.st_size > WAV_FILE_MAX)
		return fail(err, errlen, "%s: %jd bytes, more than %d s of audio", path,
		            (intmax_t)st.st_size, WAV_MAX_SECONDS);
	len = (size_t)st.st_size;
	buf = malloc(len ? len : 1);
	if (!buf)
		return ENOMEM;
	if (fread(buf, 1, len, f) != len) {
		free(buf);
		return EIO;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

int media_prompt_load_wav(const char *path, struct media_prompt **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0;
	char reason[256];
	int rc;

	if (!f) {
		rc = errno;
		fail(err, errlen, "%s: %s", path, strerror(rc));
		return rc;
	}
	rc = file_read(f, path, &buf, &len, err, errlen);
	fclose(f);
	if (rc) {
		if (rc != EINVAL) /* EINVAL has its reason already */
			fail(err, errlen, "%s: %s", path, strerror(rc));
		return rc;
	}
	rc = media_prompt_from_wav(buf, len, out, reason, sizeof(reason));
	free(buf);
	if (rc == EINVAL)
		fail(err, errlen, "%s: %s", path, reason);
	return rc;
}

void media_prompt_free(struct media_prompt *p)
{
	free(p);
}

unsigned media_prompt_ms(const struct media_prompt *p)
{
	return p ? (unsigned)(p->n * 1000 / WAV_RATE) : 0;
}
