/* Prefix-free PIN generation and checks on a real store: PINs on one VN are
 * never a prefix of each other, a crowded space still yields a free PIN,
 * and a full space answers code 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static const char conf[] =
    "tenants = ( { id = \"t\"; api_key = \"k\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134400-+916292134409\"];\n"
    "  pin = { a = true; b = false; }; },\n"
    "  { id = \"t2\"; api_key = \"k2\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134410-+916292134419\"];\n"
    "  pin = { a = true; b = true; }; } );\n";

static int setup(void **state)
{
	static struct fixture f;

	*state = &f;
	return fixture_open(&f, conf);
}

static int teardown(void **state)
{
	fixture_close(*state);
	return 0;
}

static int n_created;

/* Creates on one VN; side a gets pin or a generated one of pin_len. */
static enum alloc_code create_in(struct fixture *f, const char *tenant, const char *vn,
                                 const char *pin, int pin_len, struct alloc_result *res)
{
	const struct tenant *t = config_tenant(f->cfg, tenant);
	struct alloc_req r;
	char txn[32], num[32];

	snprintf(txn, sizeof(txn), "pin-%d", n_created);
	snprintf(num, sizeof(num), "70000%05d", n_created++);
	fixture_req(&r, txn);
	r.side[1].has_numbers = true;
	fixture_add(r.side[1].numbers, &r.side[1].nnumbers, num);
	r.side[0].has_vns = true;
	fixture_add(r.side[0].vns, &r.side[0].nvns, vn);
	r.side[1].has_pin_length = true;
	r.side[1].pin_length = pin_len ? pin_len : 1;
	if (pin) {
		r.side[0].has_pin = true;
		snprintf(r.side[0].pin, sizeof(r.side[0].pin), "%s", pin);
	} else {
		r.side[0].has_pin_length = true;
		r.side[0].pin_length = pin_len;
	}
	alloc_create(f->svc, f->cfg, t, &r, res);
	return res->code;
}

static enum alloc_code create(struct fixture *f, const char *vn, const char *pin, int pin_len,
                              struct alloc_result *res)
{
	return create_in(f, "t", vn, pin, pin_len, res);
}

static void test_prefix_clash(void **state)
{
	(void)state;
	assert_true(alloc_pin_prefix_clash("12", "123"));
	assert_true(alloc_pin_prefix_clash("123", "12"));
	assert_true(alloc_pin_prefix_clash("12", "12"));
	assert_false(alloc_pin_prefix_clash("12", "13"));
	assert_false(alloc_pin_prefix_clash("012", "12"));
}

static void test_given_pin_not_free(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;

	assert_int_equal(create(f, "6292134401", "12", 0, &res), AC_OK);
	assert_int_equal(create(f, "6292134401", "12", 0, &res), AC_NO_PIN);
	assert_int_equal(create(f, "6292134401", "123", 0, &res), AC_NO_PIN);
	assert_int_equal(create(f, "6292134401", "1", 0, &res), AC_NO_PIN);
	assert_int_equal(create(f, "6292134401", "13", 0, &res), AC_OK);
	/* Another VN is another space. */
	assert_int_equal(create(f, "6292134402", "123", 0, &res), AC_OK);
}

static void test_exhaustion_one_digit(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;
	char seen[10] = {0};

	for (int i = 0; i < 10; i++) {
		assert_int_equal(create(f, "6292134403", NULL, 1, &res), AC_OK);
		assert_int_equal(strlen(res.rec.side[0].pin), 1);
		assert_false(seen[res.rec.side[0].pin[0] - '0']);
		seen[res.rec.side[0].pin[0] - '0'] = 1;
		assert_string_equal(res.rec.side[1].pin, ""); /* b's PINs are disabled */
	}
	assert_int_equal(create(f, "6292134403", NULL, 1, &res), AC_NO_PIN);
	assert_int_equal(create(f, "6292134403", NULL, 4, &res), AC_NO_PIN);
}

/* Nine of ten first digits taken by 1-digit PINs: every 3-digit PIN must
 * start with the tenth, found by exact counting after random draws miss. */
static void test_crowded_space(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;
	char pins[40][STORE_PIN_MAX + 1];

	for (int d = 0; d < 9; d++) {
		char pin[2] = {(char)('0' + d), 0};

		assert_int_equal(create(f, "6292134404", pin, 0, &res), AC_OK);
	}
	for (int i = 0; i < 40; i++) {
		assert_int_equal(create(f, "6292134404", NULL, 3, &res), AC_OK);
		strcpy(pins[i], res.rec.side[0].pin);
		assert_int_equal(pins[i][0], '9');
		for (int j = 0; j < i; j++)
			assert_false(alloc_pin_prefix_clash(pins[i], pins[j]));
	}
}

static void test_many_two_digit(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;
	static char pins[100][STORE_PIN_MAX + 1];

	for (int i = 0; i < 100; i++) {
		assert_int_equal(create(f, "6292134405", NULL, 2, &res), AC_OK);
		strcpy(pins[i], res.rec.side[0].pin);
		for (int j = 0; j < i; j++)
			assert_false(alloc_pin_prefix_clash(pins[i], pins[j]));
	}
	assert_int_equal(create(f, "6292134405", NULL, 2, &res), AC_NO_PIN);
}

/* A and B PINs of one allocation on a shared VN are prefix-free too: five
 * allocations with two 1-digit PINs each fill the space. */
static void test_a_and_b_on_shared_vn(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;
	char seen[10] = {0};
	uint8_t first[STORE_ID_LEN];

	for (int i = 0; i < 5; i++) {
		assert_int_equal(create_in(f, "t2", "6292134411", NULL, 1, &res), AC_OK);
		if (i == 0)
			memcpy(first, res.rec.id, STORE_ID_LEN);
		for (int s = 0; s < 2; s++) {
			assert_int_equal(strlen(res.rec.side[s].pin), 1);
			assert_false(seen[res.rec.side[s].pin[0] - '0']);
			seen[res.rec.side[s].pin[0] - '0'] = 1;
		}
	}
	assert_int_equal(create_in(f, "t2", "6292134411", NULL, 1, &res), AC_NO_PIN);
	/* Deleting one frees its two PINs (no cool-off configured). */
	alloc_delete(f->svc, config_tenant(f->cfg, "t2"), first, &res);
	assert_int_equal(res.code, AC_OK);
	assert_int_equal(res.rec.state, STORE_VAULT);
	assert_int_equal(create_in(f, "t2", "6292134411", NULL, 1, &res), AC_OK);
	assert_int_equal(create_in(f, "t2", "6292134411", NULL, 1, &res), AC_NO_PIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix_clash),
	    cmocka_unit_test(test_given_pin_not_free),
	    cmocka_unit_test(test_exhaustion_one_digit),
	    cmocka_unit_test(test_crowded_space),
	    cmocka_unit_test(test_many_two_digit),
	    cmocka_unit_test(test_a_and_b_on_shared_vn),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
