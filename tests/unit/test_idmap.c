/* test_idmap: the id → pointer map the call flow finds calls with: basic
 * puts, gets, replaces and deletes; ids that collide; and a long random
 * run checked against a plain array after every operation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/base/idmap.h"

static int vals[4096];

static void empty_map_finds_nothing(void **state)
{
	struct idmap m;

	(void)state;
	idmap_init(&m);
	assert_null(idmap_get(&m, 1));
	assert_null(idmap_del(&m, 1));
	assert_int_equal(idmap_put(&m, 0, &vals[0]), EINVAL);
	assert_int_equal(idmap_put(&m, 1, NULL), EINVAL);
	assert_int_equal(m.n, 0);
	idmap_free(&m);
}

static void put_get_replace_delete(void **state)
{
	struct idmap m = {0};

	(void)state;
	assert_int_equal(idmap_put(&m, 7, &vals[7]), 0);
	assert_int_equal(idmap_put(&m, 8, &vals[8]), 0);
	assert_ptr_equal(idmap_get(&m, 7), &vals[7]);
	assert_int_equal(idmap_put(&m, 7, &vals[70]), 0);
	assert_ptr_equal(idmap_get(&m, 7), &vals[70]);
	assert_int_equal(m.n, 2);
	assert_ptr_equal(idmap_del(&m, 7), &vals[70]);
	assert_null(idmap_get(&m, 7));
	assert_ptr_equal(idmap_get(&m, 8), &vals[8]);
	assert_int_equal(m.n, 1);
	idmap_free(&m);
	assert_null(idmap_get(&m, 8));
}

/* Keys a multiple of the table size apart land in one run: deleting from
 * its middle must keep every later key findable. */
static void deletes_inside_a_run_keep_the_rest(void **state)
{
	struct idmap m = {0};
	uint64_t keys[8];

	(void)state;
	assert_int_equal(idmap_put(&m, 1, &vals[0]), 0); /* sizes the table */
	for (int i = 0; i < 8; i++) {
		keys[i] = ((uint64_t)i << 40) + 12345;
		assert_int_equal(idmap_put(&m, keys[i], &vals[i + 1]), 0);
	}
	assert_ptr_equal(idmap_del(&m, keys[2]), &vals[3]);
	assert_ptr_equal(idmap_del(&m, keys[5]), &vals[6]);
	for (int i = 0; i < 8; i++)
		if (i != 2 && i != 5)
			assert_ptr_equal(idmap_get(&m, keys[i]), &vals[i + 1]);
	assert_null(idmap_get(&m, keys[2]));
	idmap_free(&m);
}

/* Random puts and deletes over a small key space (so deletes hit), the
 * map compared with an array of what it should hold after each step; the
 * table grows through several sizes on the way. */
static void random_run_matches_an_array(void **state)
{
	enum { KEYS = 3000, STEPS = 200000 };
	static void *want[KEYS + 1];
	struct idmap m = {0};
	size_t n = 0;

	(void)state;
	srand(42);
	for (int s = 0; s < STEPS; s++) {
		uint64_t k = 1 + (uint64_t)(rand() % KEYS);
		void *v = &vals[rand() % 4096];

		if (rand() % 3) {
			n += want[k] == NULL;
			want[k] = v;
			assert_int_equal(idmap_put(&m, k, v), 0);
		} else {
			assert_ptr_equal(idmap_del(&m, k), want[k]);
			n -= want[k] != NULL;
			want[k] = NULL;
		}
		assert_int_equal(m.n, n);
		if (s % 997 == 0)
			for (uint64_t j = 1; j <= KEYS; j++)
				assert_ptr_equal(idmap_get(&m, j), want[j]);
	}
	assert_true(m.cap >= 2 * m.n);
	idmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_map_finds_nothing),
	    cmocka_unit_test(put_get_replace_delete),
	    cmocka_unit_test(deletes_inside_a_run_keep_the_rest),
	    cmocka_unit_test(random_run_matches_an_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
