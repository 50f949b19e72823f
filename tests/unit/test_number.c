/* Unit tests for core/number.c: every normalisation rule of DESIGN §2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/number.h"

static void expect_ok(const char *raw, const char *country, int nl, const char *want)
{
	char out[17];
	int rc = number_normalize(raw, country, nl, out);
	if (rc != 0)
		fail_msg("\"%s\": rc %d, want %s", raw, rc, want);
	assert_string_equal(out, want);
}

static void expect_bad(const char *raw, const char *country, int nl)
{
	char out[17];
	int rc = number_normalize(raw, country, nl, out);
	if (rc != EINVAL)
		fail_msg("\"%s\": rc %d, want EINVAL", raw ? raw : "(null)", rc);
}

static void test_plus_kept(void **state)
{
	(void)state;
	expect_ok("+916292134471", "91", 10, "+916292134471");
	expect_ok("+14155550123", "91", 10, "+14155550123");
	expect_ok("+91 (799) 868-6144", "91", 10, "+917998686144");
	expect_ok("(+91) 799.868.6144", "91", 10, "+917998686144");
}

static void test_double_zero_international(void **state)
{
	(void)state;
	expect_ok("00919956555625", "91", 10, "+919956555625");
	expect_ok("0014155550123", "91", 10, "+14155550123");
	expect_ok("00 44 20 7946 0958", "91", 10, "+442079460958");
}

static void test_trunk_zero_dropped(void **state)
{
	(void)state;
	expect_ok("07987686144", "91", 10, "+917987686144");
	expect_ok("020 7946 0958", "44", 10, "+442079460958");
}

static void test_national_digits(void **state)
{
	(void)state;
	/* the reference's example */
	expect_ok("6292134471", "91", 10, "+916292134471");
	/* exactly national_length: a national number even when it starts with 91 */
	expect_ok("9199565556", "91", 10, "+919199565556");
	/* longer than national and starting with the country code */
	expect_ok("919956555625", "91", 10, "+919956555625");
	/* longer but not starting with the country code: prefixed */
	expect_ok("62921344711", "91", 10, "+9162921344711");
	expect_ok("4155550123", "1", 10, "+14155550123");
	expect_ok("14155550123", "1", 10, "+14155550123");
	/* a tenant with shorter national numbers */
	expect_ok("98765432", "65", 8, "+6598765432");
	expect_ok("6598765432", "65", 8, "+6598765432");
	/* national_length <= 0 means the default 10 */
	expect_ok("919956555625", "91", 0, "+919956555625");
}

static void test_separators_anywhere(void **state)
{
	(void)state;
	expect_ok(" 629-213.4471 ", "91", 10, "+916292134471");
	expect_ok("(629) 213 4471", "91", 10, "+916292134471");
	expect_ok("+-91-6292134471", "91", 10, "+916292134471");
}

static void test_length_limits(void **state)
{
	(void)state;
	expect_ok("+12345678", "91", 10, "+12345678");               /* 8 digits */
	expect_ok("+123456789012345", "91", 10, "+123456789012345"); /* 15 */
	expect_bad("+1234567", "91", 10);                            /* 7 */
	expect_bad("+1234567890123456", "91", 10);                   /* 16 */
	expect_bad("12345", "91", 10);                               /* +9112345: 7 digits */
	expect_bad("0012345", "91", 10);                             /* +12345 */
	expect_bad("9162921344711234", "91", 10);                    /* 16 digits */
	expect_bad("123456789012345678901234567890", "91", 10);
}

static void test_invalid(void **state)
{
	(void)state;
	expect_bad("", "91", 10);
	expect_bad("   ", "91", 10);
	expect_bad("+", "91", 10);
	expect_bad(NULL, "91", 10);
	expect_bad("62921abc71", "91", 10);
	expect_bad("call me", "91", 10);
	expect_bad("91+6292134471", "91", 10);
	expect_bad("++916292134471", "91", 10);
	expect_bad("+91629213447#", "91", 10);
	expect_bad("6292134471\n", "91", 10);
	expect_bad("+0916292134471", "91", 10); /* no country code starts with 0 */
	expect_bad("6292134471", "9a", 10);     /* a broken tenant country */
}

static void test_country_allowed(void **state)
{
	(void)state;
	const char *const in[] = {"91", "44"};
	assert_true(number_country_allowed("+916292134471", in, 2));
	assert_true(number_country_allowed("+442079460958", in, 2));
	assert_false(number_country_allowed("+14155550123", in, 2));
	assert_true(number_country_allowed("+14155550123", NULL, 0));
	const char *const nanp[] = {"1"};
	assert_true(number_country_allowed("+14155550123", nanp, 1));
	assert_false(number_country_allowed("+916292134471", nanp, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plus_kept),
	    cmocka_unit_test(test_double_zero_international),
	    cmocka_unit_test(test_trunk_zero_dropped),
	    cmocka_unit_test(test_national_digits),
	    cmocka_unit_test(test_separators_anywhere),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_country_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
