/* Unit tests for core/duration.c: the API's strict form and config timers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/duration.h"

static void expect_ms(const char *s, bool strict, int64_t want)
{
	int64_t ms = -1;
	int rc = duration_parse(s, strict, &ms);
	if (rc != 0)
		fail_msg("\"%s\" (strict %d): rc %d", s, strict, rc);
	assert_int_equal(ms, want);
}

static void expect_rc(const char *s, bool strict, int want)
{
	int64_t ms = 12345;
	int rc = duration_parse(s, strict, &ms);
	if (rc != want)
		fail_msg("\"%s\" (strict %d): rc %d, want %d", s ? s : "(null)", strict, rc, want);
	assert_int_equal(ms, 12345); /* untouched on error */
}

static void test_strict_accepts(void **state)
{
	(void)state;
	expect_ms("1200s", true, 1200000);
	expect_ms("20m", true, 1200000);
	expect_ms("1h", true, 3600000);
	expect_ms("180d", true, 180LL * 86400000);
	expect_ms("007s", true, 7000);
}

static void test_strict_rejects(void **state)
{
	(void)state;
	expect_rc("", true, EINVAL);
	expect_rc(NULL, true, EINVAL);
	expect_rc("10", true, EINVAL);
	expect_rc("1.5s", true, EINVAL);
	expect_rc("-1s", true, EINVAL);
	expect_rc("+1s", true, EINVAL);
	expect_rc("10x", true, EINVAL);
	expect_rc("10 s", true, EINVAL);
	expect_rc(" 10s", true, EINVAL);
	expect_rc("10s ", true, EINVAL);
	expect_rc("0s", true, EINVAL);
	expect_rc("250ms", true, EINVAL);
	expect_rc("s", true, EINVAL);
	expect_rc("10S", true, EINVAL);
	expect_rc("10sm", true, EINVAL);
	expect_rc("99999999999999999999s", true, ERANGE);
	expect_rc("9223372036854775807s", true, ERANGE);
	expect_rc("106751991167301d", true, ERANGE);
	expect_rc("99999999999999999999x", true, EINVAL);
}

static void test_config_accepts(void **state)
{
	(void)state;
	expect_ms("0.5s", false, 500);
	expect_ms("250ms", false, 250);
	expect_ms("0s", false, 0);
	expect_ms("0ms", false, 0);
	expect_ms("180d", false, 180LL * 86400000);
	expect_ms("1.25m", false, 75000);
	expect_ms("0.001s", false, 1);
	expect_ms("1.50000000000000s", false, 1500);
	expect_ms("8s", false, 8000);
	expect_ms("9223372036854775807ms", false, INT64_MAX);
}

static void test_config_rejects(void **state)
{
	(void)state;
	expect_rc("", false, EINVAL);
	expect_rc("10", false, EINVAL);
	expect_rc("-1s", false, EINVAL);
	expect_rc(".5s", false, EINVAL);
	expect_rc("5.s", false, EINVAL);
	expect_rc("1.5ms", false, EINVAL); /* finer than a millisecond */
	expect_rc("0.0001s", false, EINVAL);
	expect_rc("1 s", false, EINVAL);
	expect_rc("1sec", false, EINVAL);
	expect_rc("1e3ms", false, EINVAL);
	expect_rc("9223372036854775808ms", false, ERANGE);
	expect_rc("106751991167301d", false, ERANGE);
}

static void expect_fmt(int64_t ms, const char *want)
{
	char buf[32];
	duration_format(ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
	int64_t back = -1;
	assert_int_equal(duration_parse(buf, false, &back), 0);
	assert_int_equal(back, ms);
}

static void test_format(void **state)
{
	(void)state;
	expect_fmt(1500, "1500ms");
	expect_fmt(90000, "90s");
	expect_fmt(15 * 60000, "15m");
	expect_fmt(2 * 3600000, "2h");
	expect_fmt(7LL * 86400000, "7d");
	expect_fmt(180LL * 86400000, "180d");
	expect_fmt(36 * 3600000, "36h");
	expect_fmt(0, "0s");
	expect_fmt(1, "1ms");
	char small[4];
	duration_format(180LL * 86400000, small, sizeof(small));
	assert_string_equal(small, "180"); /* truncated, still terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strict_accepts), cmocka_unit_test(test_strict_rejects),
	    cmocka_unit_test(test_config_accepts), cmocka_unit_test(test_config_rejects),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
