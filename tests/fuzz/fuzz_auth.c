/* fuzz_auth: Authorization header values through the Basic parser and the
 * tenant lookup, which run before anything else on every API request. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[API_KEY_MAX], token[API_TOKEN_MAX], err[512];
	char *header;

	if (!cfg && config_load(NULL, NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_auth: the embedded config does not load: %s\n", err);
		abort();
	}
	/* MHD hands header values over NUL-terminated. */
	header = malloc(size + 1);
	if (!header)
		return 0;
	memcpy(header, data, size);
	header[size] = '\0';
	if (api_auth_parse_basic(header, key, token) == 0 &&
	    (strnlen(key, sizeof(key)) == sizeof(key) ||
	     strnlen(token, sizeof(token)) == sizeof(token)))
		abort();
	api_auth_tenant(cfg, header);
	api_auth_bearer_ok(header, "metrics-token");
	free(header);
	return 0;
}
