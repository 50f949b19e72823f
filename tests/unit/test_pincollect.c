/* test_pincollect: digits into a PIN (DESIGN §3 step 4, "DTMF"): complete
 * on an exact PIN of the VN (prefix-free), on '#', or when full; '*' starts
 * over; the first route is locked, so a gateway sending both tones and
 * events counts each key once and "1122" stays four digits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/pin.h"

/* The VN's PINs: "123" and "4567" (prefix-free). */
static enum route_pin_state match(void *arg, const char *digits)
{
	static const char *const pins[] = {"123", "4567", "1122"};
	size_t n = strlen(digits);
	enum route_pin_state st = ROUTE_PIN_NONE;

	(void)arg;
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		if (strcmp(pins[i], digits) == 0)
			return ROUTE_PIN_COMPLETE;
		if (strncmp(pins[i], digits, n) == 0)
			st = ROUTE_PIN_PREFIX;
	}
	return st;
}

static enum pin_feed feed(struct pin_collect *pc, const char *keys, enum pin_route r)
{
	enum pin_feed last = PIN_FEED_IGNORED;

	for (; *keys; keys++)
		last = pin_collect_feed(pc, *keys, r, match, NULL);
	return last;
}

static void test_exact_pin_completes_without_hash(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	assert_int_equal(pin_collect_feed(&pc, '1', PIN_ROUTE_RFC4733, match, NULL), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '2', PIN_ROUTE_RFC4733, match, NULL), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '3', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_COMPLETE);
	assert_string_equal(pc.digits, "123");
	pin_collect_reset(&pc);
	assert_int_equal(feed(&pc, "4567", PIN_ROUTE_RFC4733), PIN_FEED_COMPLETE);
	assert_string_equal(pc.digits, "4567");
}

static void test_repeated_digits_stay_separate(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	assert_int_equal(feed(&pc, "1122", PIN_ROUTE_INBAND), PIN_FEED_COMPLETE);
	assert_string_equal(pc.digits, "1122");
}

static void test_wrong_digits_are_collected_until_hash(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	/* No PIN starts with 9, but the caller is not told early. */
	assert_int_equal(feed(&pc, "98", PIN_ROUTE_RFC4733), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '#', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_COMPLETE);
	assert_string_equal(pc.digits, "98");
}

static void test_full_entry_completes(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	assert_int_equal(feed(&pc, "99999999", PIN_ROUTE_RFC4733), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '9', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_COMPLETE);
	assert_int_equal(pc.n, STORE_PIN_MAX);
	assert_int_equal(pin_collect_feed(&pc, '9', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_COMPLETE);
	assert_int_equal(pc.n, STORE_PIN_MAX);
}

static void test_star_restarts(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	assert_int_equal(feed(&pc, "45*", PIN_ROUTE_INFO), PIN_FEED_RESTART);
	assert_int_equal(pc.n, 0);
	assert_int_equal(feed(&pc, "123", PIN_ROUTE_INFO), PIN_FEED_COMPLETE);
	assert_string_equal(pc.digits, "123");
}

static void test_first_route_is_locked(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	/* A gateway sends each key as event and as tone: counted once. */
	assert_int_equal(pin_collect_feed(&pc, '1', PIN_ROUTE_RFC4733, match, NULL), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '1', PIN_ROUTE_INBAND, match, NULL),
	                 PIN_FEED_IGNORED);
	assert_int_equal(pin_collect_feed(&pc, '2', PIN_ROUTE_RFC4733, match, NULL), PIN_FEED_MORE);
	assert_int_equal(pin_collect_feed(&pc, '2', PIN_ROUTE_INBAND, match, NULL),
	                 PIN_FEED_IGNORED);
	assert_int_equal(pin_collect_feed(&pc, '3', PIN_ROUTE_INFO, match, NULL), PIN_FEED_IGNORED);
	assert_int_equal(pin_collect_feed(&pc, '3', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_COMPLETE);
	/* The lock outlives a reset (a new attempt in the same call). */
	pin_collect_reset(&pc);
	assert_int_equal(pin_collect_feed(&pc, '1', PIN_ROUTE_INBAND, match, NULL),
	                 PIN_FEED_IGNORED);
}

static void test_other_keys_ignored(void **state)
{
	struct pin_collect pc = {0};

	(void)state;
	assert_int_equal(pin_collect_feed(&pc, 'A', PIN_ROUTE_RFC4733, match, NULL),
	                 PIN_FEED_IGNORED);
	assert_int_equal(pc.route, PIN_ROUTE_NONE); /* did not lock a route */
	assert_int_equal(pin_collect_feed(&pc, '5', PIN_ROUTE_NONE, match, NULL), PIN_FEED_IGNORED);
	assert_int_equal(pc.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_pin_completes_without_hash),
	    cmocka_unit_test(test_repeated_digits_stay_separate),
	    cmocka_unit_test(test_wrong_digits_are_collected_until_hash),
	    cmocka_unit_test(test_full_entry_completes),
	    cmocka_unit_test(test_star_restarts),
	    cmocka_unit_test(test_first_route_is_locked),
	    cmocka_unit_test(test_other_keys_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
