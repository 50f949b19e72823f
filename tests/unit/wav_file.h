/* wav_file: read back a recording (media/record*.c) in a test: the
 * canonical 44-byte header of a PCM stereo 8 kHz 16-bit WAV checked field
 * by field against the file's size, then its samples. Header-only, like
 * udp_peer.h; needs cmocka.h first. */
#ifndef PB_TESTS_WAV_FILE_H
#define PB_TESTS_WAV_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct wav {
	int16_t *pcm; /* interleaved, host order */
	size_t frames;
};

static inline uint32_t wav_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t wav_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Read path: a canonical PCM stereo 8 kHz 16-bit WAV whose sizes agree
 * with the file's, of exactly frames sample frames. */
static inline void wav_load(const char *path, size_t frames, struct wav *w)
{
	struct stat sb;
	uint8_t *buf;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	assert_int_equal(sb.st_size, 44 + frames * 4);
	buf = malloc((size_t)sb.st_size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	assert_memory_equal(buf, "RIFF", 4);
	assert_int_equal(wav_le32(buf + 4), sb.st_size - 8);
	assert_memory_equal(buf + 8, "WAVEfmt ", 8);
	assert_int_equal(wav_le32(buf + 16), 16);
	assert_int_equal(wav_le16(buf + 20), 1); /* PCM */
	assert_int_equal(wav_le16(buf + 22), 2); /* channels */
	assert_int_equal(wav_le32(buf + 24), 8000);
	assert_int_equal(wav_le32(buf + 28), 32000);
	assert_int_equal(wav_le16(buf + 32), 4);
	assert_int_equal(wav_le16(buf + 34), 16);
	assert_memory_equal(buf + 36, "data", 4);
	assert_int_equal(wav_le32(buf + 40), frames * 4);
	w->frames = frames;
	w->pcm = malloc(frames * 4 + 4);
	assert_non_null(w->pcm);
	for (size_t i = 0; i < frames * 2; i++)
		w->pcm[i] = (int16_t)wav_le16(buf + 44 + 2 * i);
	free(buf);
}

/* The first sample frame at or after from where channel ch is not silent;
 * frames when there is none. */
static inline size_t wav_first(const struct wav *w, unsigned ch, size_t from)
{
	while (from < w->frames && w->pcm[from * 2 + ch] == 0)
		from++;
	return from;
}

static inline void wav_expect_silence(const struct wav *w, unsigned ch, size_t from, size_t to)
{
	for (size_t i = from; i < to && i < w->frames; i++)
		if (w->pcm[i * 2 + ch] != 0)
			fail_msg("channel %u: sample %zu not silent", ch, i);
}

#endif
