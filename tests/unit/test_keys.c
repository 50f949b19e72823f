/* Tests store/store_keys.c: distinct field values never encode to the same
 * key, times sort as numbers, and the PIN prefix keys the clash scan relies
 * on are real prefixes. */
#include "store/store_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct key {
	uint8_t b[KEY_MAX];
	size_t n;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->b, b->b, n);

	if (c)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

/* Every distinct input produced one key: after sorting no two are equal. */
static void assert_all_distinct(struct key *keys, size_t n)
{
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		assert_int_not_equal(key_cmp(&keys[i - 1], &keys[i]), 0);
}

/* All strings over {a, b} of length 0..4 (31 of them), index i. */
static void word(char *out, unsigned i)
{
	unsigned len = 0, base = 1;

	while (i >= base) {
		i -= base;
		base *= 2;
		len++;
	}
	for (unsigned k = 0; k < len; k++)
		out[k] = (i >> (len - 1 - k)) & 1 ? 'b' : 'a';
	out[len] = '\0';
}

#define NWORDS 31

static void test_txn_no_collision(void **state)
{
	struct key *keys = calloc(NWORDS * NWORDS, sizeof(*keys));
	size_t n = 0;
	char t[8], x[8];

	for (unsigned i = 0; i < NWORDS; i++) {
		for (unsigned j = 0; j < NWORDS; j++) {
			word(t, i);
			word(x, j);
			keys[n].n = key_txn(keys[n].b, t, x);
			assert_true(keys[n].n > 0);
			n++;
		}
	}
	assert_all_distinct(keys, n);
	free(keys);
}

static void test_txn_shifted_boundary(void **state)
{
	struct key a, b;

	a.n = key_txn(a.b, "ab", "c");
	b.n = key_txn(b.b, "a", "bc");
	assert_int_not_equal(key_cmp(&a, &b), 0);
	a.n = key_txn(a.b, "abc", "");
	b.n = key_txn(b.b, "", "abc");
	assert_int_not_equal(key_cmp(&a, &b), 0);
}

static void test_vnpin_no_collision(void **state)
{
	static const char *vns[] = {"+1", "+12", "+123", "+9112", "+911", "+123456789012345"};
	static const char *pins[] = {"1", "12", "123", "2", "23", "3", "0", "00", "123456789"};
	struct key keys[6 * 9];
	size_t n = 0;

	for (size_t i = 0; i < 6; i++) {
		for (size_t j = 0; j < 9; j++) {
			keys[n].n = key_vnpin(keys[n].b, vns[i], pins[j]);
			assert_true(keys[n].n > 0);
			n++;
		}
	}
	assert_all_distinct(keys, n);
	/* "+9112"‖"3" against "+911"‖"23": the VN is fixed-width. */
	assert_int_not_equal(key_cmp(&keys[3 * 9 + 5], &keys[4 * 9 + 4]), 0);
}

static void test_vnnum_and_byvn_no_collision(void **state)
{
	static const char *nums[] = {"+1", "+12", "+123", "+1234", "+2", "+23", "+234"};
	struct key keys[7 * 7];
	uint8_t id[STORE_ID_LEN] = {0};
	size_t n = 0;

	for (size_t i = 0; i < 7; i++) {
		for (size_t j = 0; j < 7; j++) {
			keys[n].n = key_vnnum(keys[n].b, nums[i], nums[j]);
			assert_int_equal(keys[n].n, 2 * KEY_NUM_LEN);
			n++;
		}
	}
	assert_all_distinct(keys, n);
	n = 0;
	for (size_t i = 0; i < 7; i++) {
		for (uint8_t j = 0; j < 7; j++) {
			id[0] = j;
			keys[n].n = key_byvn(keys[n].b, nums[i], id);
			n++;
		}
	}
	assert_all_distinct(keys, n);
}

static void test_bytenant_no_collision(void **state)
{
	static const int64_t times[] = {0, 1, 255, 256, -1, INT64_MAX};
	struct key *keys = calloc(NWORDS * 6 * 2, sizeof(*keys));
	uint8_t id[STORE_ID_LEN] = {0};
	size_t n = 0;
	char t[8];

	for (unsigned i = 0; i < NWORDS; i++) {
		for (size_t j = 0; j < 6; j++) {
			for (uint8_t k = 0; k < 2; k++) {
				word(t, i);
				id[15] = k;
				keys[n].n = key_bytenant(keys[n].b, t, times[j], id);
				assert_true(keys[n].n > 0);
				n++;
			}
		}
	}
	assert_all_distinct(keys, n);
	free(keys);
}

static void test_be64_order(void **state)
{
	static const int64_t v[] = {
	    INT64_MIN, -4096,         -256,          -1,       0, 1, 255, 256,
	    65535,     1700000000000, 1700000000001, INT64_MAX};
	size_t nv = sizeof(v) / sizeof(v[0]);
	uint8_t a[8], b[8];

	for (size_t i = 0; i < nv; i++) {
		key_be64(a, v[i]);
		assert_true(key_get_be64(a) == v[i]);
		for (size_t j = i + 1; j < nv; j++) {
			key_be64(b, v[j]);
			assert_true(memcmp(a, b, 8) < 0);
		}
	}
}

static void test_expiry_order(void **state)
{
	uint8_t lo[STORE_ID_LEN], hi[STORE_ID_LEN];
	struct key a, b;

	memset(lo, 0xff, sizeof(lo)); /* a larger id must not beat an earlier time */
	memset(hi, 0x00, sizeof(hi));
	a.n = key_expiry(a.b, 1000, lo);
	b.n = key_expiry(b.b, 1001, hi);
	assert_true(key_cmp(&a, &b) < 0);
	a.n = key_expiry(a.b, 1000, hi);
	b.n = key_expiry(b.b, 1000, lo);
	assert_true(key_cmp(&a, &b) < 0);
}

static void test_bytenant_order_within_tenant(void **state)
{
	uint8_t id[STORE_ID_LEN] = {0};
	struct key a, b, p;

	a.n = key_bytenant(a.b, "t", 5000, id);
	b.n = key_bytenant(b.b, "t", 70000, id);
	assert_true(key_cmp(&a, &b) < 0);
	p.n = key_bytenant_prefix(p.b, "t");
	assert_memory_equal(p.b, a.b, p.n);
	/* Tenant "t" is not a prefix range of tenant "tt". */
	b.n = key_bytenant(b.b, "tt", 0, id);
	assert_memory_not_equal(p.b, b.b, p.n);
}

static void test_pin_prefix_keys(void **state)
{
	struct key full, pre;
	char pin[STORE_PIN_MAX + 1];

	/* The clash scan looks for PINs of length 3 that start with "12". */
	pre.n = key_vnpin_prefix(pre.b, "+4470", "12", 3);
	full.n = key_vnpin(full.b, "+4470", "123");
	assert_true(pre.n < full.n);
	assert_memory_equal(pre.b, full.b, pre.n);
	full.n = key_vnpin(full.b, "+4470", "12");
	assert_memory_not_equal(pre.b, full.b, pre.n);
	full.n = key_vnpin(full.b, "+4470", "133");
	assert_memory_not_equal(pre.b, full.b, pre.n);
	full.n = key_vnpin(full.b, "+44701", "123");
	assert_memory_not_equal(pre.b, full.b, pre.n);
	/* An exact prefix key of length 2 is the key of PIN "12". */
	pre.n = key_vnpin_prefix(pre.b, "+4470", "123", 2);
	full.n = key_vnpin(full.b, "+4470", "12");
	assert_int_equal(key_cmp(&pre, &full), 0);
	assert_int_equal(key_vnpin_pin(full.b, full.n, pin), 0);
	assert_string_equal(pin, "12");
}

static void test_out_of_range(void **state)
{
	uint8_t k[KEY_MAX], n16[KEY_NUM_LEN];
	char big[STORE_TXNID_MAX + 2];

	assert_int_equal(key_num16(n16, "+123456789012345"), 0);
	assert_int_equal(key_num16(n16, "+1234567890123456"), EINVAL);
	assert_int_equal(key_num16(n16, ""), EINVAL);
	assert_int_equal(key_vnpin(k, "+4470", ""), 0);
	assert_int_equal(key_vnpin(k, "+4470", "1234567890"), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(key_txn(k, "t", big), 0);
	big[STORE_TXNID_MAX] = '\0';
	assert_int_equal(key_txn(k, "t", big), 2 + 1 + STORE_TXNID_MAX);
	big[STORE_TENANT_MAX + 1] = '\0';
	assert_int_equal(key_meta_active(k, big), 0);
	assert_int_equal(key_vnpin_pin(k, KEY_NUM_LEN + 1, (char[STORE_PIN_MAX + 1]){0}), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txn_no_collision),
	    cmocka_unit_test(test_txn_shifted_boundary),
	    cmocka_unit_test(test_vnpin_no_collision),
	    cmocka_unit_test(test_vnnum_and_byvn_no_collision),
	    cmocka_unit_test(test_bytenant_no_collision),
	    cmocka_unit_test(test_be64_order),
	    cmocka_unit_test(test_expiry_order),
	    cmocka_unit_test(test_bytenant_order_within_tenant),
	    cmocka_unit_test(test_pin_prefix_keys),
	    cmocka_unit_test(test_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
