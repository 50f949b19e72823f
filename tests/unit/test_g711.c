/* Unit tests for media/g711.c: the ITU tables' known values, encode/decode
 * round trips over every code, and PCMU<->PCMA transcoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "media/g711.h"

static void test_known_values(void **state)
{
	(void)state;
	/* Silence and the extremes (G.711 tables 2a/2b, 1a/1b). */
	assert_int_equal(g711_ulaw_decode(0xFF), 0);
	assert_int_equal(g711_ulaw_decode(0x7F), 0);
	assert_int_equal(g711_ulaw_decode(0x00), -32124);
	assert_int_equal(g711_ulaw_decode(0x80), 32124);
	assert_int_equal(g711_ulaw_decode(0xFE), 8);
	assert_int_equal(g711_alaw_decode(0xD5), 8);
	assert_int_equal(g711_alaw_decode(0x55), -8);
	assert_int_equal(g711_alaw_decode(0xAA), 32256);
	assert_int_equal(g711_alaw_decode(0x2A), -32256);
	assert_int_equal(g711_ulaw_encode(0), 0xFF);
	assert_int_equal(g711_alaw_encode(0), 0xD5);
	assert_int_equal(g711_alaw_encode(8), 0xD5);
	assert_int_equal(g711_alaw_encode(-1), 0x55);
	assert_int_equal(g711_ulaw_encode(32767), 0x80);
	assert_int_equal(g711_ulaw_encode(-32768), 0x00);
	assert_int_equal(g711_alaw_encode(32767), 0xAA);
	assert_int_equal(g711_alaw_encode(-32768), 0x2A);
	/* Conversion tables 3 and 4: silence maps to silence. */
	assert_int_equal(g711_ulaw_to_alaw(0xFF), 0xD5);
	assert_int_equal(g711_alaw_to_ulaw(0xD5), 0xFE); /* +8 is mu-law's 0xFE */
	assert_int_equal(g711_ulaw_to_alaw(0x80), 0xAA);
	assert_int_equal(g711_alaw_to_ulaw(0xAA), 0x80);
}

static void test_round_trip_all_codes(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		uint8_t u = g711_ulaw_encode(g711_ulaw_decode((uint8_t)c));
		uint8_t a = g711_alaw_encode(g711_alaw_decode((uint8_t)c));

		/* mu-law's negative zero decodes to 0, which encodes as +0. */
		if (u != (c == 0x7F ? 0xFF : c))
			fail_msg("mu-law code 0x%02x -> %d -> 0x%02x", c,
			         g711_ulaw_decode((uint8_t)c), u);
		if (a != c)
			fail_msg("A-law code 0x%02x -> %d -> 0x%02x", c,
			         g711_alaw_decode((uint8_t)c), a);
	}
}

/* Decoding is monotonic in the magnitude bits: a corrupted table would show. */
static void test_decode_monotonic(void **state)
{
	(void)state;
	for (int c = 0x80; c < 0xFF; c++)
		assert_true(g711_ulaw_decode((uint8_t)c) > g711_ulaw_decode((uint8_t)(c + 1)));
	for (int m = 0; m < 127; m++) {
		/* A-law's even bits are inverted: sort by the de-inverted code. */
		assert_true(g711_alaw_decode((uint8_t)((m | 0x80) ^ 0x55)) <
		            g711_alaw_decode((uint8_t)(((m + 1) | 0x80) ^ 0x55)));
	}
}

/* Every 16-bit sample encodes to the code whose decoded value is nearest
 * (within the quantisation step), for both laws. */
static void test_encode_error_bounded(void **state)
{
	(void)state;
	for (int v = -32768; v <= 32767; v++) {
		int du = g711_ulaw_decode(g711_ulaw_encode((int16_t)v)) - v;
		int da = g711_alaw_decode(g711_alaw_encode((int16_t)v)) - v;

		/* Largest step is 1024 (mu) / 1024 (A) at the top segment, plus clipping. */
		if (abs(du) > 1024 && abs(v) < 32124)
			fail_msg("mu-law %d -> %d", v, v + du);
		if (abs(da) > 1024 && abs(v) < 32256)
			fail_msg("A-law %d -> %d", v, v + da);
	}
}

static void test_transcode_stable(void **state)
{
	uint8_t buf[256], once[256];

	(void)state;
	for (int c = 0; c < 256; c++)
		buf[c] = (uint8_t)c;
	g711_ulaw_to_alaw_buf(buf, sizeof(buf));
	g711_alaw_to_ulaw_buf(buf, sizeof(buf));
	for (int c = 0; c < 256; c++) {
		/* The trip keeps the sign and stays within one A-law step. */
		int d = g711_ulaw_decode(buf[c]) - g711_ulaw_decode((uint8_t)c);
		if (abs(d) > 1024)
			fail_msg("mu 0x%02x -> A -> mu 0x%02x", c, buf[c]);
		once[c] = buf[c];
	}
	/* A second trip changes nothing: relaying through a PCMA leg twice
	 * does not keep degrading the audio. */
	g711_ulaw_to_alaw_buf(buf, sizeof(buf));
	g711_alaw_to_ulaw_buf(buf, sizeof(buf));
	assert_memory_equal(buf, once, sizeof(buf));
	/* PCMA -> PCMU -> PCMA is transparent for all but 16 codes, where
	 * the two laws' steps do not line up; those move by less than a
	 * step (under 1/16 of the value). */
	int moved = 0;
	for (int c = 0; c < 256; c++) {
		uint8_t a = g711_ulaw_to_alaw(g711_alaw_to_ulaw((uint8_t)c));
		int v = g711_alaw_decode((uint8_t)c);
		int d = g711_alaw_decode(a) - v;
		if (a != c)
			moved++;
		if (abs(d) > abs(v) / 16 || (d != 0 && (v < 0) != (g711_alaw_decode(a) < 0)))
			fail_msg("A 0x%02x -> mu -> A 0x%02x", c, a);
	}
	assert_int_equal(moved, 16);
	assert_int_equal(g711_ulaw_to_alaw(g711_alaw_to_ulaw(0xAA)), 0xAA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_values),     cmocka_unit_test(test_round_trip_all_codes),
	    cmocka_unit_test(test_decode_monotonic), cmocka_unit_test(test_encode_error_bounded),
	    cmocka_unit_test(test_transcode_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
