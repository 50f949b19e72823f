/* fuzz_body: JSON request bodies through the API's mapping and core's
 * create-time validation, as an HTTP client can send them. Also the bulk
 * and /numbers body shapes. Any crash, leak or sanitizer report is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;

static void load_config(void)
{
	char err[512];

	if (config_load(NULL, NULL, &cfg, err, sizeof(err)) != 0 || cfg->ntenants == 0) {
		fprintf(stderr, "fuzz_body: the embedded config does not load: %s\n", err);
		abort();
	}
}

/* What api_parse_alloc_req promises whatever the input. */
static void check_req(const struct alloc_req *req)
{
	if (req->parse_code != AC_OK && req->parse_code != AC_BAD_PARAM)
		abort();
	if (req->parse_code != AC_OK && !req->parse_msg[0])
		abort(); /* every refusal says why */
	if (strnlen(req->txn_id, sizeof(req->txn_id)) == sizeof(req->txn_id))
		abort();
	for (int s = 0; s < 2; s++) {
		const struct alloc_side_req *side = &req->side[s];

		if (side->nnumbers > STORE_MAX_NUMS || side->nvns > STORE_MAX_NUMS)
			abort();
		if (strnlen(side->pin, sizeof(side->pin)) == sizeof(side->pin))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct alloc_req req;
	struct api_bulk bulk;
	char msg[256], *number = NULL;

	if (!cfg)
		load_config();
	api_parse_alloc_req(body, size, &req);
	check_req(&req);
	alloc_validate_create(cfg, &cfg->tenants[0], &req, msg, sizeof(msg));

	api_parse_bulk(body, size, 100, &bulk);
	for (size_t i = 0; i < bulk.n; i++)
		check_req(&bulk.items[i]);
	api_bulk_free(&bulk);

	if (api_parse_number_body(body, size, &number, msg, sizeof(msg)) == AC_OK && !number)
		abort();
	free(number);
	return 0;
}
