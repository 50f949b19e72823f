/* sdp_crypto: SDES keys in SDP (RFC 4568): a strict a=crypto parser (MKI,
 * unknown suites and session parameters refused), the answer's choice of
 * the offer's lines, our own line, and the strict base64 they are written
 * in. Errors never carry key material. */
#include "sip/sdp.h"
#include "sip/sdp_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sdp_base64_encode(const uint8_t *in, size_t n, char *out, size_t outcap)
{
	size_t o = 0;

	if (outcap < (n + 2) / 3 * 4 + 1)
		return ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

int sdp_base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t o = 0;

	if (n % 4)
		return EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		size_t pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
		int v[4];
		uint32_t w = 0;

		if (pad == 1 && in[i + 2] == '=') /* "x=y=" style */
			return EINVAL;
		for (size_t j = 0; j < 4; j++) {
			v[j] = j >= 4 - pad ? 0 : b64_value(in[i + j]);
			if (v[j] < 0)
				return EINVAL;
			w = w << 6 | (uint32_t)v[j];
		}
		/* Canonical only: the bits padding drops must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return EINVAL;
		if (o + 3 - pad > outcap)
			return ENOSPC;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*outlen = o;
	return 0;
}

const char *sdp_crypto_suite_name(enum sdp_crypto_suite suite)
{
	switch (suite) {
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80";
	case SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32:
		return "AES_CM_128_HMAC_SHA1_32";
	case SDP_CRYPTO_NONE:
		break;
	}
	return NULL;
}

#define CRYPTO_TAG_MAX 999999999u /* RFC 4568: 1*9DIGIT */
#define CRYPTO_WS      " \t"

/* The lifetime of an inline key: "2^n" or a decimal count, at most 2^48
 * (RFC 4568 §6.1). Recorded by nobody: a call never gets near it. */
static bool lifetime_ok(const char *s, size_t n)
{
	if (n > 2 && s[0] == '2' && s[1] == '^') {
		long e = sdp_parse_num(s + 2, n - 2, 48);

		return e >= 0;
	}
	return n > 0 && n <= 15 && strspn(s, "0123456789") >= n &&
	       strtoull(s, NULL, 10) <= (1ull << 48);
}

/* "inline:<key>[|lifetime][|MKI:len]", n bytes at p. */
static int parse_key_params(const char *p, size_t n, uint8_t *key, char *err, size_t errlen)
{
	const char *end = p + n, *bar;
	uint8_t raw[SDP_CRYPTO_KEY_LEN + 3];
	size_t rawlen;
	int rc;

	if (memchr(p, ';', n))
		return sdp_fail(ENOTSUP, err, errlen, "a=crypto with more than one key");
	if (n < 7 || strncasecmp(p, "inline:", 7) != 0)
		return sdp_fail(ENOTSUP, err, errlen, "a=crypto key method is not inline");
	p += 7;
	bar = memchr(p, '|', (size_t)(end - p));
	rc = sdp_base64_decode(p, (size_t)((bar ? bar : end) - p), raw, sizeof(raw), &rawlen);
	if (rc == 0 && rawlen == SDP_CRYPTO_KEY_LEN)
		memcpy(key, raw, SDP_CRYPTO_KEY_LEN);
	explicit_bzero(raw, sizeof(raw));
	if (rc == EINVAL)
		return sdp_fail(EINVAL, err, errlen, "a=crypto key is not valid base64");
	if (rc || rawlen != SDP_CRYPTO_KEY_LEN)
		return sdp_fail(EINVAL, err, errlen, "a=crypto key and salt are not %d bytes",
		                SDP_CRYPTO_KEY_LEN);
	for (int field = 0; bar; field++) {
		const char *f = bar + 1;

		bar = memchr(f, '|', (size_t)(end - f));
		n = (size_t)((bar ? bar : end) - f);
		if (memchr(f, ':', n))
			return sdp_fail(ENOTSUP, err, errlen,
			                "a=crypto with an MKI is not supported");
		if (field > 0 || !lifetime_ok(f, n))
			return sdp_fail(EINVAL, err, errlen, "a=crypto key has a bad lifetime");
	}
	return 0;
}

/* Session parameters after the key: only the window size hint, which our
 * replay window (1024) always covers, is harmless to accept. */
static int parse_session_params(const char *p, char *err, size_t errlen)
{
	while (*(p += strspn(p, CRYPTO_WS))) {
		size_t n = strcspn(p, CRYPTO_WS);

		if (n <= 4 || strncmp(p, "WSH=", 4) != 0 || sdp_parse_num(p + 4, n - 4, 1024) < 64)
			return sdp_fail(ENOTSUP, err, errlen,
			                "a=crypto session parameter '%.*s' is not supported",
			                (int)(n > 32 ? 32 : n), p);
		p += n;
	}
	return 0;
}

int sdp_crypto_parse(const char *value, struct sdp_crypto *out, char *err, size_t errlen)
{
	enum sdp_crypto_suite suite = SDP_CRYPTO_NONE;
	const char *p = value;
	size_t n;
	long tag;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	n = strcspn(p, CRYPTO_WS);
	if (n == 0 || n > 9 || strspn(p, "0123456789") < n)
		return sdp_fail(EINVAL, err, errlen, "a=crypto tag is not 1 to 9 digits");
	tag = strtol(p, NULL, 10);
	p += n;
	p += strspn(p, CRYPTO_WS);
	n = strcspn(p, CRYPTO_WS);
	for (int s = SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80; s <= SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32;
	     s++) {
		const char *name = sdp_crypto_suite_name((enum sdp_crypto_suite)s);

		if (n == strlen(name) && strncmp(p, name, n) == 0)
			suite = (enum sdp_crypto_suite)s;
	}
	if (n == 0)
		return sdp_fail(EINVAL, err, errlen, "a=crypto has no crypto-suite");
	if (suite == SDP_CRYPTO_NONE)
		return sdp_fail(ENOTSUP, err, errlen, "a=crypto suite '%.*s' is not supported",
		                (int)(n > 32 ? 32 : n), p);
	p += n;
	p += strspn(p, CRYPTO_WS);
	n = strcspn(p, CRYPTO_WS);
	if (n == 0)
		return sdp_fail(EINVAL, err, errlen, "a=crypto has no key parameters");
	rc = parse_key_params(p, n, out->key, err, errlen);
	if (!rc)
		rc = parse_session_params(p + n, err, errlen);
	if (rc) {
		explicit_bzero(out, sizeof(*out));
		return rc;
	}
	out->tag = (uint32_t)tag;
	out->suite = suite;
	return 0;
}

int sdp_crypto_choose(const struct sdp_desc *offer, struct sdp_crypto *peer, char *err,
                      size_t errlen)
{
	char first[128] = "";

	for (size_t i = 0; i < offer->ncrypto; i++) {
		char why[128];

		if (sdp_crypto_parse(offer->crypto[i], peer, why, sizeof(why)) == 0) {
			if (err && errlen)
				err[0] = '\0';
			return 0;
		}
		if (i == 0)
			snprintf(first, sizeof(first), "%s", why);
	}
	if (offer->ncrypto == 0)
		return sdp_fail(ENOTSUP, err, errlen, "no a=crypto line in the offer");
	return sdp_fail(ENOTSUP, err, errlen, "no usable a=crypto line (first: %s)", first);
}

int sdp_crypto_match(const struct sdp_desc *answer, const struct sdp_crypto *offered, size_t n,
                     struct sdp_crypto *peer, size_t *which, char *err, size_t errlen)
{
	char why[128] = "no a=crypto line answers our tags";

	if (answer->ncrypto == 0)
		return sdp_fail(ENOENT, err, errlen, "no a=crypto line in the answer");
	for (size_t i = 0; i < answer->ncrypto; i++) {
		if (sdp_crypto_parse(answer->crypto[i], peer, why, sizeof(why)) != 0)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (offered[k].tag != peer->tag)
				continue;
			if (offered[k].suite != peer->suite) {
				snprintf(why, sizeof(why), "tag %u answered with another suite",
				         (unsigned)peer->tag);
				break;
			}
			*which = k;
			if (err && errlen)
				err[0] = '\0';
			return 0;
		}
	}
	explicit_bzero(peer, sizeof(*peer));
	return sdp_fail(ENOTSUP, err, errlen, "%s", why);
}

int sdp_crypto_format(const struct sdp_crypto *c, char *buf, size_t buflen)
{
	const char *suite = sdp_crypto_suite_name(c->suite);
	char b64[(SDP_CRYPTO_KEY_LEN + 2) / 3 * 4 + 1];
	int n;

	if (!suite || c->tag > CRYPTO_TAG_MAX)
		return EINVAL;
	sdp_base64_encode(c->key, sizeof(c->key), b64, sizeof(b64));
	n = snprintf(buf, buflen, "a=crypto:%u %s inline:%s", (unsigned)c->tag, suite, b64);
	explicit_bzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= buflen) {
		if (buflen)
			explicit_bzero(buf, buflen); /* no half a key left behind */
		return ENOSPC;
	}
	return 0;
}
