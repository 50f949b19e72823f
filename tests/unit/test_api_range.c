/* Unit tests for api/api_range.c: the Range header of recordings (RFC 9110
 * §14.2): one range honoured, clamped to the file; unsatisfiable ones
 * told apart from malformed or multiple ones, which are ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api_int.h"

static void expect_ok(const char *h, uint64_t size, uint64_t first, uint64_t last)
{
	uint64_t a = 12345, b = 12345;
	enum api_range_kind k = api_range_parse(h, size, &a, &b);

	if (k != API_RANGE_OK || a != first || b != last)
		fail_msg("\"%s\" of %llu: kind %d %llu-%llu, want %llu-%llu", h,
		         (unsigned long long)size, (int)k, (unsigned long long)a,
		         (unsigned long long)b, (unsigned long long)first,
		         (unsigned long long)last);
}

static void expect_kind(const char *h, uint64_t size, enum api_range_kind want)
{
	uint64_t a, b;
	enum api_range_kind k = api_range_parse(h, size, &a, &b);

	if (k != want)
		fail_msg("\"%s\" of %llu: kind %d, want %d", h ? h : "(null)",
		         (unsigned long long)size, (int)k, (int)want);
}

static void test_single_ranges(void **state)
{
	(void)state;
	expect_ok("bytes=0-499", 1000, 0, 499);
	expect_ok("bytes=500-", 1000, 500, 999);
	expect_ok("bytes=999-999", 1000, 999, 999);
	expect_ok("bytes=0-0", 1000, 0, 0);
	expect_ok("bytes=-200", 1000, 800, 999);
	expect_ok("bytes=-1", 1000, 999, 999);
	/* Past the end: clamped, the whole file at most. */
	expect_ok("bytes=0-99999", 1000, 0, 999);
	expect_ok("bytes=10-18446744073709551616", 1000, 10, 999);
	expect_ok("bytes=-5000", 1000, 0, 999);
	expect_ok("bytes=-99999999999999999999999", 1000, 0, 999);
	/* The unit is case-insensitive; OWS around the element and empty
	 * list elements are allowed. */
	expect_ok("BYTES=1-2", 1000, 1, 2);
	expect_ok("Bytes=1-2", 1000, 1, 2);
	expect_ok("bytes= 1-2 ", 1000, 1, 2);
	expect_ok("bytes=1-2,", 1000, 1, 2);
	expect_ok("bytes=, ,1-2", 1000, 1, 2);
	expect_ok(" bytes=1-2", 1000, 1, 2);
}

static void test_unsatisfiable(void **state)
{
	(void)state;
	expect_kind("bytes=1000-", 1000, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=1000-2000", 1000, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=99999999999999999999999-", 1000, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=-0", 1000, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=-000", 1000, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=0-", 0, API_RANGE_UNSATISFIABLE);
	expect_kind("bytes=0-0", 0, API_RANGE_UNSATISFIABLE);
}

static void test_ignored(void **state)
{
	(void)state;
	expect_kind(NULL, 1000, API_RANGE_NONE);
	expect_kind("", 1000, API_RANGE_NONE);
	/* Several ranges: allowed to ignore, and we do. */
	expect_kind("bytes=0-1,5-6", 1000, API_RANGE_NONE);
	expect_kind("bytes=0-1, -5", 1000, API_RANGE_NONE);
	expect_kind("bytes=2000-,5000-", 1000, API_RANGE_NONE);
	/* Malformed. */
	expect_kind("bytes=5-3", 1000, API_RANGE_NONE);
	expect_kind("bytes=", 1000, API_RANGE_NONE);
	expect_kind("bytes=,", 1000, API_RANGE_NONE);
	expect_kind("bytes=-", 1000, API_RANGE_NONE);
	expect_kind("bytes=abc", 1000, API_RANGE_NONE);
	expect_kind("bytes=1-2-3", 1000, API_RANGE_NONE);
	expect_kind("bytes=-1-2", 1000, API_RANGE_NONE);
	expect_kind("bytes=+1-2", 1000, API_RANGE_NONE);
	expect_kind("bytes=1 -2", 1000, API_RANGE_NONE);
	expect_kind("bytes=1- 2", 1000, API_RANGE_NONE);
	expect_kind("bytes=0x10-", 1000, API_RANGE_NONE);
	expect_kind("bytes=1", 1000, API_RANGE_NONE);
	expect_kind("bytes 0-1", 1000, API_RANGE_NONE);
	expect_kind("bytes:0-1", 1000, API_RANGE_NONE);
	expect_kind("items=0-1", 1000, API_RANGE_NONE);
	expect_kind("bytesx=0-1", 1000, API_RANGE_NONE);
	/* An empty file's suffix range: nothing to put in Content-Range. */
	expect_kind("bytes=-5", 0, API_RANGE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_ranges),
	    cmocka_unit_test(test_unsatisfiable),
	    cmocka_unit_test(test_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
