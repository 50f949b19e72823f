/* Tests store/store_record.c: records survive encode/decode unchanged, and
 * truncated, padded or damaged bytes are refused without reading past the
 * buffer (run under ASan: every decode gets an exactly sized heap copy). */
#include "store/store_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void fill(char *dst, size_t n, char c)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

static void full_record(struct store_alloc *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < STORE_ID_LEN; i++)
		r->id[i] = (uint8_t)(0xf0 + i);
	fill(r->tenant, STORE_TENANT_MAX, 't');
	fill(r->txn_id, STORE_TXNID_MAX, 'x');
	for (int s = 0; s < 2; s++) {
		struct store_side *sd = &r->side[s];

		sd->nnumbers = sd->nvns = STORE_MAX_NUMS;
		for (int i = 0; i < STORE_MAX_NUMS; i++) {
			snprintf(sd->numbers[i], STORE_NUM_LEN, "+%c%014u", s ? '2' : '1', i % 10u);
			snprintf(sd->vns[i], STORE_NUM_LEN, "+9%014u", (10u * s + i) % 100u);
		}
		fill(sd->pin, STORE_PIN_MAX, (char)('1' + s));
		sd->open = s == 0;
		sd->follows = s == 1;
	}
	r->usage = STORE_ONEWAY;
	r->state = STORE_VAULT;
	r->created_ms = 1700000000123;
	r->dealloc_ms = 1715552000456;
	r->purge_ms = 1718144000789;
	r->cooling_until_ms = -5; /* any value, negative included, round-trips */
}

static void minimal_record(struct store_alloc *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->tenant, "t");
	strcpy(r->side[STORE_A].numbers[0], "+919900000001");
	r->side[STORE_A].nnumbers = 1;
}

/* Decodes an exactly sized heap copy, so an overread is an ASan error. */
static int decode_copy(const uint8_t *b, size_t n, struct store_alloc *out)
{
	uint8_t *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, b, n);
	rc = store_record_decode(p, n, out);
	free(p);
	return rc;
}

static void roundtrip(const struct store_alloc *r, size_t *len_out, uint8_t *buf)
{
	struct store_alloc back;
	size_t len;

	assert_int_equal(store_record_encode(r, buf, STORE_RECORD_MAX, &len), 0);
	assert_true(len <= STORE_RECORD_MAX);
	assert_int_equal(decode_copy(buf, len, &back), 0);
	assert_memory_equal(&back, r, sizeof(back));
	*len_out = len;
}

static void test_full_roundtrip(void **state)
{
	struct store_alloc r;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	full_record(&r);
	roundtrip(&r, &len, buf);
	assert_int_equal(buf[0], STORE_RECORD_VERSION);
}

static void test_minimal_roundtrip(void **state)
{
	struct store_alloc r;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	minimal_record(&r);
	roundtrip(&r, &len, buf);
	/* Compact: a small record stays small. */
	assert_true(len < 100);
	memset(&r, 0, sizeof(r));
	roundtrip(&r, &len, buf);
}

static void test_truncated_rejected(void **state)
{
	struct store_alloc r, back;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	full_record(&r);
	roundtrip(&r, &len, buf);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(decode_copy(buf, n, &back), EINVAL);
	minimal_record(&r);
	roundtrip(&r, &len, buf);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(decode_copy(buf, n, &back), EINVAL);
}

static void test_trailing_and_version_rejected(void **state)
{
	struct store_alloc r, back;
	uint8_t buf[STORE_RECORD_MAX + 1];
	size_t len;

	minimal_record(&r);
	roundtrip(&r, &len, buf);
	buf[len] = 0;
	assert_int_equal(decode_copy(buf, len + 1, &back), EINVAL);
	buf[0] = STORE_RECORD_VERSION + 1;
	assert_int_equal(decode_copy(buf, len, &back), EINVAL);
}

/* Offsets in the minimal record: version, id, lp(tenant="t"), lp(txn=""). */
#define OFF_TENANT_LEN (1 + STORE_ID_LEN)
#define OFF_TXN_LEN    (OFF_TENANT_LEN + 2)
#define OFF_USAGE      (OFF_TXN_LEN + 1)
#define OFF_SIDE_A     (OFF_USAGE + 2 + 32)

static void test_corrupt_fields_rejected(void **state)
{
	struct store_alloc r, back;
	uint8_t buf[STORE_RECORD_MAX], bad[STORE_RECORD_MAX];
	size_t len;

	minimal_record(&r);
	roundtrip(&r, &len, buf);
	assert_int_equal(buf[OFF_TENANT_LEN], 1);

	memcpy(bad, buf, len);
	bad[OFF_TENANT_LEN] = STORE_TENANT_MAX + 1; /* longer than a tenant may be */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_TENANT_LEN + 1] = '\0'; /* a NUL inside a string */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_USAGE] = 2;
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_USAGE + 1] = 7; /* state */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_SIDE_A] = 0x80; /* unknown side flag */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_SIDE_A + 2] = STORE_MAX_NUMS + 1; /* side a: flags, lp(pin=""), count */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
	memcpy(bad, buf, len);
	bad[OFF_SIDE_A + 3] = 0xff; /* the first number's length, far past the end */
	assert_int_equal(decode_copy(bad, len, &back), EINVAL);
}

/* Random damage: decode answers 0 or EINVAL, never crashes or overreads. */
static void test_random_damage(void **state)
{
	struct store_alloc r, back;
	uint8_t buf[STORE_RECORD_MAX], bad[STORE_RECORD_MAX];
	size_t len;
	unsigned seed = 12345;

	full_record(&r);
	roundtrip(&r, &len, buf);
	for (int i = 0; i < 20000; i++) {
		size_t n = len;
		int rc;

		memcpy(bad, buf, len);
		seed = seed * 1103515245u + 12345u;
		bad[(seed >> 8) % len] ^= (uint8_t)(1u << ((seed >> 4) & 7));
		if (i & 1)
			n = (seed >> 16) % (len + 1);
		rc = decode_copy(bad, n, &back);
		assert_true(rc == 0 || rc == EINVAL);
	}
}

static void test_encode_rejects_out_of_range(void **state)
{
	struct store_alloc r;
	uint8_t buf[STORE_RECORD_MAX];
	size_t len;

	minimal_record(&r);
	r.side[STORE_B].nvns = STORE_MAX_NUMS + 1;
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), EINVAL);
	minimal_record(&r);
	memset(r.tenant, 't', sizeof(r.tenant)); /* unterminated */
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), EINVAL);
	minimal_record(&r);
	r.side[STORE_A].nnumbers = 2; /* the second number is empty */
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), EINVAL);
	minimal_record(&r);
	r.usage = 9;
	assert_int_equal(store_record_encode(&r, buf, sizeof(buf), &len), EINVAL);
	minimal_record(&r);
	assert_int_equal(store_record_encode(&r, buf, 10, &len), EINVAL);
}

static void test_due_time(void **state)
{
	struct store_alloc r;

	minimal_record(&r);
	r.dealloc_ms = 500;
	r.purge_ms = 100;
	assert_true(store_record_due(&r) == 500); /* active: deallocation */
	r.state = STORE_VAULT;
	assert_true(store_record_due(&r) == 100); /* vault: purge */
	r.cooling_until_ms = 50;
	assert_true(store_record_due(&r) == 50); /* cooling ends first */
	r.cooling_until_ms = 200;
	assert_true(store_record_due(&r) == 100);
	r.purge_ms = 0;
	assert_true(store_record_due(&r) == 200);
	r.cooling_until_ms = 0;
	assert_true(store_record_due(&r) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_roundtrip),
	    cmocka_unit_test(test_minimal_roundtrip),
	    cmocka_unit_test(test_truncated_rejected),
	    cmocka_unit_test(test_trailing_and_version_rejected),
	    cmocka_unit_test(test_corrupt_fields_rejected),
	    cmocka_unit_test(test_random_damage),
	    cmocka_unit_test(test_encode_rejects_out_of_range),
	    cmocka_unit_test(test_due_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
