/* api_auth: HTTP Basic credentials against the tenants of a config snapshot,
 * and the bearer token of /metrics. Tokens are compared as SHA-256 digests
 * with CRYPTO_memcmp, and an unknown key costs the same work as a known one,
 * so neither timing nor error tells which keys exist. */
#include "api/api_int.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long api_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
	uint32_t acc = 0;
	size_t i, n = 0, pad = 0;
	int bits = 0;

	/* Padding is optional, but when present it must make whole quads. */
	while (inlen > 0 && in[inlen - 1] == '=' && pad < 2) {
		inlen--;
		pad++;
	}
	if (pad && (inlen + pad) % 4 != 0)
		return -1;
	if (inlen % 4 == 1)
		return -1;
	for (i = 0; i < inlen; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outcap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits of the last quad must be zero (canonical form). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)n;
}

int api_auth_parse_basic(const char *header, char key[API_KEY_MAX], char token[API_TOKEN_MAX])
{
	uint8_t buf[API_KEY_MAX + API_TOKEN_MAX];
	const uint8_t *colon;
	size_t len;
	long n;

	if (!header)
		return EINVAL;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, "basic", 5) != 0)
		return EINVAL;
	header += 5;
	/* The reference's Node example sends "Basic<base64>": space optional. */
	while (*header == ' ' || *header == '\t')
		header++;
	len = strlen(header);
	while (len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\t'))
		len--;
	if (len == 0 || len > (sizeof(buf) / 3 + 1) * 4)
		return EINVAL;
	n = api_base64_decode(header, len, buf, sizeof(buf));
	if (n <= 0 || memchr(buf, '\0', (size_t)n))
		goto bad;
	colon = memchr(buf, ':', (size_t)n);
	if (!colon || (size_t)(colon - buf) >= API_KEY_MAX ||
	    (size_t)(n - (colon - buf) - 1) >= API_TOKEN_MAX)
		goto bad;
	memcpy(key, buf, (size_t)(colon - buf));
	key[colon - buf] = '\0';
	memcpy(token, colon + 1, (size_t)(n - (colon - buf) - 1));
	token[n - (colon - buf) - 1] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
bad:
	OPENSSL_cleanse(buf, sizeof(buf));
	return EINVAL;
}

const struct tenant *api_auth_tenant(const struct config *cfg, const char *authorization)
{
	/* No token hashes to this, so an unknown key never matches. */
	static const uint8_t dummy[SHA256_DIGEST_LENGTH] = {0};
	char key[API_KEY_MAX], token[API_TOKEN_MAX];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	const struct tenant *found = NULL;
	size_t i;
	int diff;

	if (!cfg || api_auth_parse_basic(authorization, key, token) != 0)
		return NULL;
	/* Keys are identifiers, not secrets, but walk every tenant anyway. */
	for (i = 0; i < cfg->ntenants; i++)
		if (!found && cfg->tenants[i].api_key[0] &&
		    strcmp(cfg->tenants[i].api_key, key) == 0)
			found = &cfg->tenants[i];
	SHA256((const unsigned char *)token, strlen(token), digest);
	OPENSSL_cleanse(token, sizeof(token));
	diff = CRYPTO_memcmp(digest, found ? found->token_sha256 : dummy, sizeof(digest));
	return found && diff == 0 ? found : NULL;
}

bool api_auth_bearer_ok(const char *authorization, const char *token)
{
	uint8_t want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	const char *p = authorization;
	size_t len;

	if (!p)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return false;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	SHA256((const unsigned char *)p, len, got);
	SHA256((const unsigned char *)token, strlen(token), want);
	return CRYPTO_memcmp(got, want, sizeof(got)) == 0;
}
