/* Update semantics of DESIGN §2's table, applied to a stored record. */
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
static struct store_alloc base; /* a: 1 number, vns 71,64, pin 123; b follows a */

static void add(char list[][ALLOC_RAW_LEN], uint8_t *n, const char *num)
{
	snprintf(list[(*n)++], ALLOC_RAW_LEN, "%s", num);
}

static void empty_req(struct alloc_req *r)
{
	memset(r, 0, sizeof(*r));
	r->parse_code = AC_OK;
}

static int setup(void **state)
{
	char err[256];
	struct alloc_req r;
	struct alloc_draft d;
	struct alloc_err e;

	(void)state;
	if (config_load(NULL, NULL, &cfg, err, sizeof(err)) != 0)
		return -1;
	demo = config_tenant(cfg, "demo");
	empty_req(&r);
	r.has_txn_id = true;
	strcpy(r.txn_id, "t1");
	r.side[0].has_numbers = r.side[0].has_vns = r.side[1].has_numbers = true;
	add(r.side[0].numbers, &r.side[0].nnumbers, "7987686144");
	add(r.side[0].vns, &r.side[0].nvns, "6292134471");
	add(r.side[0].vns, &r.side[0].nvns, "6292134464");
	add(r.side[1].numbers, &r.side[1].nnumbers, "9956555625");
	r.side[0].has_pin = true;
	strcpy(r.side[0].pin, "123");
	if (alloc_check_body(cfg, demo, NULL, &r, false, &d, &e) != 0)
		return -1;
	base = d.rec;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_unref(cfg);
	return 0;
}

static enum alloc_code upd(const struct alloc_req *r, bool keep_open, struct alloc_draft *d)
{
	struct alloc_err e = {.code = AC_OK};

	return alloc_check_body(cfg, demo, &base, r, keep_open, d, &e) ? e.code : AC_OK;
}

static void test_base(void **state)
{
	(void)state;
	assert_true(base.side[1].follows);
	assert_int_equal(base.side[1].nvns, 2);
	assert_string_equal(base.side[0].pin, "123");
}

static void test_numbers_replace_and_open(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	empty_req(&r);
	r.side[0].has_numbers = true;
	add(r.side[0].numbers, &r.side[0].nnumbers, "7000000001");
	add(r.side[0].numbers, &r.side[0].nnumbers, "7000000002");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.side[0].nnumbers, 2);
	assert_string_equal(d.rec.side[0].numbers[1], "+917000000002");
	assert_false(d.rec.side[0].open);
	assert_string_equal(d.rec.side[1].numbers[0], "+919956555625"); /* untouched */
	r.side[0].nnumbers = 0;                                         /* [] opens */
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_true(d.rec.side[0].open);
	assert_int_equal(d.rec.side[0].nnumbers, 0);
	/* Emptying both sides leaves nobody: code 3. */
	r.side[1].has_numbers = true;
	assert_int_equal(upd(&r, false, &d), AC_MISSING);
}

static void test_vns_replace_and_follow(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	empty_req(&r);
	r.side[0].has_vns = true;
	add(r.side[0].vns, &r.side[0].nvns, "6292134401");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.side[0].nvns, 1);
	assert_string_equal(d.rec.side[1].vns[0], "+916292134401"); /* b follows */
	assert_true(d.rec.side[1].follows);
	assert_true(d.pin_check[0]); /* the PIN must be free on the new VN */
	/* b given its own: it stops following. */
	empty_req(&r);
	r.side[1].has_vns = true;
	add(r.side[1].vns, &r.side[1].nvns, "6292134402");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_false(d.rec.side[1].follows);
	assert_string_equal(d.rec.side[1].vns[0], "+916292134402");
	assert_string_equal(d.rec.side[0].vns[0], "+916292134471");
	/* outside the pool */
	strcpy(r.side[1].vns[0], "6292134500");
	assert_int_equal(upd(&r, false, &d), AC_FORBIDDEN);
}

static void test_pins(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	empty_req(&r);
	r.side[0].has_pin = true;
	strcpy(r.side[0].pin, "98");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_string_equal(d.rec.side[0].pin, "98");
	assert_true(d.pin_check[0]);
	empty_req(&r);
	r.side[0].has_pin_length = true;
	r.side[0].pin_length = 6;
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.pin_gen[0], 6);
	/* b's PINs are disabled: b.pin alone is nothing to update. */
	empty_req(&r);
	r.side[1].has_pin = true;
	strcpy(r.side[1].pin, "55");
	assert_int_equal(upd(&r, false, &d), AC_MISSING);
}

static void test_usage_duration_nothing(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	empty_req(&r);
	assert_int_equal(upd(&r, false, &d), AC_MISSING);
	r.has_usage = true;
	strcpy(r.usage, "oneway");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.usage, STORE_ONEWAY);
	assert_false(d.set_duration);
	empty_req(&r);
	r.has_duration = true;
	strcpy(r.duration, "2h");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_true(d.set_duration);
	assert_int_equal(d.duration_ms, 7200000);
	assert_memory_equal(d.rec.id, base.id, STORE_ID_LEN);
	assert_string_equal(d.rec.txn_id, base.txn_id);
}

/* "record" alone is an update; left out, the allocation keeps its flag. */
static void test_record_flag(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;
	struct alloc_err e = {.code = AC_OK};

	(void)state;
	assert_int_equal(base.record, STORE_RECORD_TENANT);
	empty_req(&r);
	assert_int_equal(alloc_check_body(cfg, demo, &base, &r, false, &d, &e), -1);
	assert_int_equal(e.code, AC_MISSING);
	assert_non_null(strstr(e.msg, "or record"));
	r.has_record = true;
	r.record = true;
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_ON);
	assert_memory_equal(d.rec.side, base.side, sizeof(base.side));
	base.record = STORE_RECORD_ON;
	r.record = false;
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_OFF);
	empty_req(&r);
	r.has_usage = true;
	strcpy(r.usage, "oneway");
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_int_equal(d.rec.record, STORE_RECORD_ON);
	base.record = STORE_RECORD_TENANT;
}

static void test_result_checks(void **state)
{
	struct alloc_req r;
	struct alloc_draft d;

	(void)state;
	/* The result may not share a number between sides. */
	empty_req(&r);
	r.side[0].has_numbers = true;
	add(r.side[0].numbers, &r.side[0].nnumbers, "9956555625");
	assert_int_equal(upd(&r, false, &d), AC_SHARED_NUMBER);
	/* keep_open: adding through /numbers does not close an open side. */
	base.side[0].open = true;
	empty_req(&r);
	r.side[0].has_numbers = true;
	add(r.side[0].numbers, &r.side[0].nnumbers, "7987686144");
	add(r.side[0].numbers, &r.side[0].nnumbers, "7000000003");
	assert_int_equal(upd(&r, true, &d), AC_OK);
	assert_true(d.rec.side[0].open);
	assert_int_equal(upd(&r, false, &d), AC_OK);
	assert_false(d.rec.side[0].open);
	base.side[0].open = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base),
	    cmocka_unit_test(test_numbers_replace_and_open),
	    cmocka_unit_test(test_vns_replace_and_follow),
	    cmocka_unit_test(test_pins),
	    cmocka_unit_test(test_usage_duration_nothing),
	    cmocka_unit_test(test_record_flag),
	    cmocka_unit_test(test_result_checks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
