/* fixture: a real store in a temporary directory, an allocation service on
 * it, and a config from libconfig text, for the unit tests that need them. */
#ifndef PB_TEST_FIXTURE_H
#define PB_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc_int.h"

struct fixture {
	char dir[64];
	struct store *st;
	struct alloc_service *svc;
	struct config *cfg;
};

static inline int fixture_open(struct fixture *f, const char *config_text)
{
	char path[96], err[256];
	struct store_opts so = {.map_size = 64 << 20, .max_readers = 512};
	FILE *fp;

	strcpy(f->dir, "/tmp/pb-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/test.conf", f->dir);
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	fputs(config_text, fp);
	fclose(fp);
	if (config_load(path, NULL, &f->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fixture config: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/data", f->dir);
	so.dir = path;
	if (store_open(&f->st, &so) != 0)
		return -1;
	return alloc_service_new(&f->svc, f->st);
}

static inline void fixture_close(struct fixture *f)
{
	char cmd[128];

	alloc_service_free(f->svc);
	store_close(f->st);
	config_unref(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}

static inline void fixture_req(struct alloc_req *r, const char *txn)
{
	memset(r, 0, sizeof(*r));
	r->parse_code = AC_OK;
	r->has_txn_id = txn != NULL;
	if (txn)
		snprintf(r->txn_id, sizeof(r->txn_id), "%s", txn);
}

static inline void fixture_add(char list[][ALLOC_RAW_LEN], uint8_t *n, const char *num)
{
	snprintf(list[(*n)++], ALLOC_RAW_LEN, "%s", num);
}

#endif
