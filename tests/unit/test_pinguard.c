/* test_pinguard: the brute-force guard (DESIGN §3): failures per (VN,
 * caller) and per caller in a sliding window lock the caller out for
 * lock_ms; old failures fall out of the window; a lockout ends; per-VN
 * failure counts are exported; stale entries are forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pin.h"

#define VN1 "+916292134401"
#define VN2 "+916292134402"
#define C1  "+919800000001"
#define C2  "+919800000002"

static const struct pin_guard_cfg cfg = {.after = 3, .window_ms = 60000, .lock_ms = 10000};

static void test_locks_after_n_on_one_vn(void **state)
{
	struct pin_guard *g;

	(void)state;
	assert_int_equal(pin_guard_new(&g), 0);
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 1000));
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 2000));
	assert_false(pin_guard_locked(g, VN1, C1, 2500));
	assert_true(pin_guard_fail(g, &cfg, VN1, C1, 3000));
	assert_true(pin_guard_locked(g, VN1, C1, 3001));
	assert_true(pin_guard_locked(g, VN2, C1, 3001));  /* per caller, across VNs */
	assert_false(pin_guard_locked(g, VN1, C2, 3001)); /* nobody else */
	assert_true(pin_guard_locked(g, VN1, C1, 12999));
	assert_false(pin_guard_locked(g, VN1, C1, 13000)); /* lock_ms later: over */
	pin_guard_free(g);
}

static void test_per_caller_across_vns(void **state)
{
	struct pin_guard *g;

	(void)state;
	assert_int_equal(pin_guard_new(&g), 0);
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 1000));
	assert_false(pin_guard_fail(g, &cfg, VN2, C1, 1100));
	assert_true(pin_guard_fail(g, &cfg, "+916292134403", C1, 1200));
	assert_true(pin_guard_locked(g, VN1, C1, 1300));
	pin_guard_free(g);
}

static void test_window_slides(void **state)
{
	struct pin_guard *g;

	(void)state;
	assert_int_equal(pin_guard_new(&g), 0);
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 0));
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 30000));
	/* The first failure left the window: two in it, no lockout. */
	assert_false(pin_guard_fail(g, &cfg, VN1, C1, 60001));
	assert_false(pin_guard_locked(g, VN1, C1, 60002));
	assert_true(pin_guard_fail(g, &cfg, VN1, C1, 60003));
	pin_guard_free(g);
}

static void test_metrics_and_expiry(void **state)
{
	struct pin_guard *g;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(pin_guard_new(&g), 0);
	pin_guard_fail(g, &cfg, VN1, C1, 1000);
	pin_guard_fail(g, &cfg, VN1, C2, 1000);
	pin_guard_fail(g, &cfg, VN2, C2, 1000);
	assert_int_equal(pin_guard_metrics(g, &buf, &len), 0);
	assert_non_null(strstr(buf, "pinbridge_pin_failures_total{vn=\"" VN1 "\"} 2\n"));
	assert_non_null(strstr(buf, "pinbridge_pin_failures_total{vn=\"" VN2 "\"} 1\n"));
	free(buf);
	/* Long after the window: forgotten, so counting starts afresh. */
	pin_guard_expire(g, &cfg, 1000 + cfg.window_ms + 1);
	assert_false(pin_guard_fail(g, &cfg, VN1, C2, 200000));
	assert_false(pin_guard_fail(g, &cfg, VN1, C2, 200001));
	assert_true(pin_guard_fail(g, &cfg, VN1, C2, 200002));
	pin_guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_locks_after_n_on_one_vn),
	    cmocka_unit_test(test_per_caller_across_vns),
	    cmocka_unit_test(test_window_slides),
	    cmocka_unit_test(test_metrics_and_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
