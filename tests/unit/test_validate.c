/* Body-stage validation of creates: normalisation through the request,
 * every body error code and their precedence, R2 open sides, code 50. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc_int.h"

static struct config *cfg;
static const struct tenant *demo;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (config_load(NULL, NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	demo = config_tenant(cfg, "demo");
	return demo ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	config_unref(cfg);
	return 0;
}

static void add(char list[][ALLOC_RAW_LEN], uint8_t *n, const char *num)
{
	snprintf(list[(*n)++], ALLOC_RAW_LEN, "%s", num);
}

/* The reference's create example, as api/ maps it. */
static void reference_req(struct alloc_req *r)
{
	memset(r, 0, sizeof(*r));
	r->parse_code = AC_OK;
	r->has_txn_id = true;
	strcpy(r->txn_id, "random_string");
	r->side[0].has_vns = r->side[0].has_numbers = true;
	add(r->side[0].vns, &r->side[0].nvns, "6292134471");
	add(r->side[0].vns, &r->side[0].nvns, "6292134464");
	add(r->side[0].numbers, &r->side[0].nnumbers, "7987686144");
	r->side[0].has_pin = true;
	strcpy(r->side[0].pin, "123");
	r->side[0].has_pin_length = true;
	r->side[0].pin_length = 2;
	r->side[1].has_vns = r->side[1].has_numbers = true;
	add(r->side[1].vns, &r->side[1].nvns, "6292134465");
	add(r->side[1].vns, &r->side[1].nvns, "6292134464");
	add(r->side[1].numbers, &r->side[1].nnumbers, "9956555625");
	r->side[1].has_pin = true;
	strcpy(r->side[1].pin, "234");
	r->side[1].has_pin_length = true;
	r->side[1].pin_length = 3;
	r->has_usage = true;
	strcpy(r->usage, "twoway");
	r->has_duration = true;
	strcpy(r->duration, "1200s");
}

static enum alloc_code check(const struct tenant *t, const struct alloc_req *r,
                             struct alloc_draft *d)
{
	struct alloc_err e = {.code = AC_OK};

	if (alloc_check_body(cfg, t, NULL, r, false, d, &e) != 0)
		return e.code;
	return AC_OK;
}

static void test_reference_example(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_string_equal(d.rec.side[0].vns[0], "+916292134471");
	assert_string_equal(d.rec.side[0].vns[1], "+916292134464");
	assert_string_equal(d.rec.side[0].numbers[0], "+917987686144");
	assert_string_equal(d.rec.side[1].numbers[0], "+919956555625");
	/* A given PIN wins over pin_length; B PINs are disabled for demo. */
	assert_string_equal(d.rec.side[0].pin, "123");
	assert_true(d.pin_check[0]);
	assert_string_equal(d.rec.side[1].pin, "");
	assert_int_equal(d.pin_gen[1], 0);
	assert_false(d.pin_check[1]);
	assert_true(d.set_duration);
	assert_int_equal(d.duration_ms, 1200000);
	assert_int_equal(d.rec.usage, STORE_TWOWAY);
	assert_false(d.rec.side[0].open);
	assert_false(d.auto_vn);
}

static void test_missing_and_following_vns(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	r.side[1].has_vns = false;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_true(d.rec.side[1].follows);
	assert_int_equal(d.rec.side[1].nvns, 2);
	assert_string_equal(d.rec.side[1].vns[0], "+916292134471");
	r.side[0].has_vns = false;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_true(d.auto_vn);
}

static void test_mandatory(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	r.has_txn_id = false;
	assert_int_equal(check(demo, &r, &d), AC_MISSING);
	reference_req(&r);
	r.side[0].has_numbers = false;
	r.side[1].nnumbers = 0;
	assert_int_equal(check(demo, &r, &d), AC_MISSING);
	/* One side's numbers suffice; the other is open. */
	reference_req(&r);
	r.side[0].has_numbers = false;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_true(d.rec.side[0].open);
	assert_int_equal(d.rec.side[0].nnumbers, 0);
}

/* A create sets the flag only when the body gives it. */
static void test_record_flag(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_TENANT);
	r.has_record = true;
	r.record = true;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_ON);
	r.record = false;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_OFF);
	/* It does not stand in for anything mandatory. */
	r.has_txn_id = false;
	assert_int_equal(check(demo, &r, &d), AC_MISSING);
}

static void test_bad_values(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	strcpy(r.side[0].pin, "12a");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	reference_req(&r);
	strcpy(r.side[0].pin, "1234567890");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	reference_req(&r);
	r.side[0].has_pin = false;
	r.side[0].pin_length = 0;
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	r.side[0].pin_length = 10;
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	r.side[0].pin_length = 9;
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_int_equal(d.pin_gen[0], 9);
	/* Ignored on a side whose PINs are disabled. */
	reference_req(&r);
	strcpy(r.side[1].pin, "nonsense");
	assert_int_equal(check(demo, &r, &d), AC_OK);
	reference_req(&r);
	strcpy(r.usage, "threeway");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	reference_req(&r);
	strcpy(r.duration, "10x");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	strcpy(r.duration, "181d");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	strcpy(r.duration, "180d");
	assert_int_equal(check(demo, &r, &d), AC_OK);
	reference_req(&r);
	r.side[0].nvns = 0;
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	reference_req(&r);
	r.parse_code = AC_BAD_PARAM;
	strcpy(r.parse_msg, "body is not valid JSON");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
}

static void test_numbers(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r);
	strcpy(r.side[0].numbers[0], "12ab");
	assert_int_equal(check(demo, &r, &d), AC_BAD_NUMBER);
	reference_req(&r); /* a VN is not a party's number */
	strcpy(r.side[1].numbers[0], "+916292134499");
	assert_int_equal(check(demo, &r, &d), AC_BAD_NUMBER);
	reference_req(&r);
	add(r.side[0].numbers, &r.side[0].nnumbers, "+91 79876 86144");
	assert_int_equal(check(demo, &r, &d), AC_DUP_NUMBER);
	reference_req(&r);
	add(r.side[0].vns, &r.side[0].nvns, "06292134471");
	assert_int_equal(check(demo, &r, &d), AC_DUP_NUMBER);
	reference_req(&r);
	add(r.side[0].numbers, &r.side[0].nnumbers, "09956555625");
	assert_int_equal(check(demo, &r, &d), AC_SHARED_NUMBER);
	reference_req(&r);
	add(r.side[0].numbers, &r.side[0].nnumbers, "+14155550100");
	assert_int_equal(check(demo, &r, &d), AC_COUNTRY);
	reference_req(&r);
	strcpy(r.side[1].vns[0], "6292134500");
	assert_int_equal(check(demo, &r, &d), AC_FORBIDDEN);
}

static void test_precedence(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	reference_req(&r); /* 5 before 3 */
	r.has_txn_id = false;
	strcpy(r.usage, "sideways");
	assert_int_equal(check(demo, &r, &d), AC_BAD_PARAM);
	reference_req(&r); /* 3 before 16 */
	r.has_txn_id = false;
	strcpy(r.side[0].numbers[0], "bad");
	assert_int_equal(check(demo, &r, &d), AC_MISSING);
	reference_req(&r); /* 16 before 13 */
	add(r.side[0].numbers, &r.side[0].nnumbers, "7987686144");
	strcpy(r.side[1].numbers[0], "bad");
	assert_int_equal(check(demo, &r, &d), AC_BAD_NUMBER);
	reference_req(&r); /* 13 before 14 */
	add(r.side[1].numbers, &r.side[1].nnumbers, "7987686144");
	add(r.side[1].numbers, &r.side[1].nnumbers, "7987686144");
	assert_int_equal(check(demo, &r, &d), AC_DUP_NUMBER);
	reference_req(&r); /* 14 before 15 before 8 */
	add(r.side[1].numbers, &r.side[1].nnumbers, "7987686144");
	add(r.side[0].numbers, &r.side[0].nnumbers, "+14155550100");
	strcpy(r.side[1].vns[0], "6292134500");
	assert_int_equal(check(demo, &r, &d), AC_SHARED_NUMBER);
	reference_req(&r);
	add(r.side[0].numbers, &r.side[0].nnumbers, "+14155550100");
	strcpy(r.side[1].vns[0], "6292134500");
	assert_int_equal(check(demo, &r, &d), AC_COUNTRY);
}

static void test_open_sides_and_flow(void **state)
{
	struct tenant nopin = *demo;
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	nopin.pin.a = false;
	/* oneway, only b has numbers: a must be joinable by PIN. */
	reference_req(&r);
	r.side[0].has_numbers = false;
	strcpy(r.usage, "oneway");
	assert_int_equal(check(demo, &r, &d), AC_OK);
	assert_int_equal(check(&nopin, &r, &d), AC_BAD_FLOW);
	/* twoway: b may call a... but a has nobody yet and no PIN: b still may
	 * call (it has numbers), the call finds nobody (480) until numbers come. */
	strcpy(r.usage, "twoway");
	assert_int_equal(check(&nopin, &r, &d), AC_OK);
	assert_string_equal(d.rec.side[0].pin, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_example),
	    cmocka_unit_test(test_missing_and_following_vns),
	    cmocka_unit_test(test_mandatory),
	    cmocka_unit_test(test_record_flag),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_open_sides_and_flow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
