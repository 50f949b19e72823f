/* g711: ITU-T G.711 mu-law (PCMU) and A-law (PCMA) sample coding, and
 * PCMU<->PCMA transcoding of a payload in place, for relaying between legs
 * whose codecs differ. Pure, table-driven, no allocation: safe per packet. */
#ifndef PB_MEDIA_G711_H
#define PB_MEDIA_G711_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The static RTP payload types (RFC 3551). */
#define G711_PT_PCMU 0
#define G711_PT_PCMA 8

int16_t g711_ulaw_decode(uint8_t code);
int16_t g711_alaw_decode(uint8_t code);
/* The 256-entry decode table of a law, for loops over many samples. */
const int16_t *g711_decode_table(bool alaw);
/* Linear 16-bit PCM to a code, rounding as ITU-T G.191's reference
 * encoder; magnitudes past the top segment clip to the largest code. */
uint8_t g711_ulaw_encode(int16_t pcm);
uint8_t g711_alaw_encode(int16_t pcm);

/* Code to code, by the ITU's conversion tables (not via linear, so that
 * A -> mu -> A is as transparent as the two laws allow). */
uint8_t g711_ulaw_to_alaw(uint8_t code);
uint8_t g711_alaw_to_ulaw(uint8_t code);

/* Transcode a payload of n samples in place. */
void g711_ulaw_to_alaw_buf(uint8_t *buf, size_t n);
void g711_alaw_to_ulaw_buf(uint8_t *buf, size_t n);

#endif
