/* tmpstore: a store in a fresh temporary directory, for the store's own
 * unit tests, and its removal, which also checks that the store left
 * nothing but LMDB's two files behind. */
#ifndef PB_TEST_TMPSTORE_H
#define PB_TEST_TMPSTORE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

/* dir: 64 bytes; name tells the tests' directories apart in /tmp. */
static inline void tmpstore_mkdir(char *dir, const char *name)
{
	snprintf(dir, 64, "/tmp/pb-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
}

/* map_size 0: the store's default. */
static inline void tmpstore_open(struct store **st, const char *dir, uint64_t map_size)
{
	struct store_opts o = {.dir = dir, .map_size = map_size};

	assert_int_equal(store_open(st, &o), 0);
}

static inline void tmpstore_remove(struct store *st, const char *dir)
{
	char p[128];

	store_close(st);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

#endif
