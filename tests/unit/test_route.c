/* R1 through the service on a real store: a number that reaches an
 * allocation on a VN without a PIN may not be on another allocation's side
 * there, checked on create and update, both ways. Also code 18. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static const char conf[] =
    "tenants = ( { id = \"direct\"; api_key = \"k\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134400-+916292134409\"];\n"
    "  pin = { a = false; b = false; }; },\n"
    "  { id = \"pins\"; api_key = \"k2\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134410-+916292134419\"];\n"
    "  pin = { a = true; b = false; }; } );\n";

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

static int seq;

static enum alloc_code create(struct fixture *f, const char *tenant, const char *a_num,
                              const char *b_num, const char *vn, const char *usage,
                              struct alloc_result *res)
{
	struct alloc_req r;
	char txn[32];

	snprintf(txn, sizeof(txn), "r1-%d", seq++);
	fixture_req(&r, txn);
	r.side[0].has_numbers = r.side[1].has_numbers = r.side[0].has_vns = true;
	fixture_add(r.side[0].numbers, &r.side[0].nnumbers, a_num);
	fixture_add(r.side[1].numbers, &r.side[1].nnumbers, b_num);
	fixture_add(r.side[0].vns, &r.side[0].nvns, vn);
	if (usage) {
		r.has_usage = true;
		snprintf(r.usage, sizeof(r.usage), "%s", usage);
	}
	alloc_create(f->svc, f->cfg, config_tenant(f->cfg, tenant), &r, res);
	return res->code;
}

static void test_create_both_ways(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;

	assert_int_equal(create(f, "direct", "7000000001", "8000000001", "6292134401", NULL, &res),
	                 AC_OK);
	/* same a number, same VN */
	assert_int_equal(create(f, "direct", "7000000001", "8000000002", "6292134401", NULL, &res),
	                 AC_ROUTING);
	/* the a number of one on the b side of another, same VN */
	assert_int_equal(create(f, "direct", "7000000003", "7000000001", "6292134401", NULL, &res),
	                 AC_ROUTING);
	/* another VN is another route */
	assert_int_equal(create(f, "direct", "7000000001", "8000000002", "6292134402", NULL, &res),
	                 AC_OK);
}

static void test_oneway_b_not_direct(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;

	/* oneway: b cannot call, so b's number reaches nothing without a PIN... */
	assert_int_equal(
	    create(f, "direct", "7000000010", "8000000010", "6292134403", "oneway", &res), AC_OK);
	/* ...but a number that can call directly on the other still conflicts. */
	assert_int_equal(create(f, "direct", "8000000010", "8000000011", "6292134403", NULL, &res),
	                 AC_ROUTING);
	/* b of another oneway: neither can reach the other directly. */
	assert_int_equal(
	    create(f, "direct", "7000000011", "8000000010", "6292134403", "oneway", &res), AC_OK);
}

static void test_pin_side_may_share(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res;

	/* a needs a PIN; b (no PIN, twoway) is direct: sharing a's number is fine,
	 * sharing b's is not. */
	assert_int_equal(create(f, "pins", "7000000020", "8000000020", "6292134411", NULL, &res),
	                 AC_OK);
	assert_int_equal(create(f, "pins", "7000000020", "8000000021", "6292134411", NULL, &res),
	                 AC_OK);
	assert_int_equal(create(f, "pins", "7000000022", "8000000020", "6292134411", NULL, &res),
	                 AC_ROUTING);
}

static void test_update_checks_r1(void **state)
{
	struct fixture *f = *state;
	const struct tenant *t = config_tenant(f->cfg, "direct");
	struct alloc_result res, other;
	struct alloc_req r;

	assert_int_equal(create(f, "direct", "7000000030", "8000000030", "6292134404", NULL, &res),
	                 AC_OK);
	assert_int_equal(
	    create(f, "direct", "7000000030", "8000000031", "6292134405", NULL, &other), AC_OK);
	/* moving the second onto the first's VN breaks R1 */
	fixture_req(&r, NULL);
	r.side[0].has_vns = true;
	fixture_add(r.side[0].vns, &r.side[0].nvns, "6292134404");
	alloc_update(f->svc, f->cfg, t, other.rec.id, &r, &res);
	assert_int_equal(res.code, AC_ROUTING);
	/* an update that keeps its own entries does not conflict with itself */
	fixture_req(&r, NULL);
	r.has_duration = true;
	strcpy(r.duration, "1h");
	alloc_update(f->svc, f->cfg, t, other.rec.id, &r, &res);
	assert_int_equal(res.code, AC_OK);
}

static void test_txn_exists(void **state)
{
	struct fixture *f = *state;
	struct alloc_result res, again;
	struct alloc_req r;

	assert_int_equal(create(f, "direct", "7000000040", "8000000040", "6292134406", NULL, &res),
	                 AC_OK);
	seq--; /* same transaction_id again */
	assert_int_equal(
	    create(f, "direct", "7000000041", "8000000041", "6292134407", NULL, &again),
	    AC_TXN_EXISTS);
	assert_true(again.has_rec);
	assert_memory_equal(again.rec.id, res.rec.id, STORE_ID_LEN);
	/* after DELETE the transaction_id is free again */
	alloc_delete(f->svc, config_tenant(f->cfg, "direct"), res.rec.id, &again);
	assert_int_equal(again.code, AC_OK);
	alloc_delete(f->svc, config_tenant(f->cfg, "direct"), res.rec.id, &again);
	assert_int_equal(again.code, AC_GONE);
	fixture_req(&r, res.rec.txn_id);
	r.side[0].has_numbers = true;
	fixture_add(r.side[0].numbers, &r.side[0].nnumbers, "7000000042");
	alloc_create(f->svc, f->cfg, config_tenant(f->cfg, "direct"), &r, &again);
	assert_int_equal(again.code, AC_OK);
	/* another tenant cannot see it */
	alloc_get(f->svc, config_tenant(f->cfg, "pins"), again.rec.id, &res);
	assert_int_equal(res.code, AC_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_both_ways),   cmocka_unit_test(test_oneway_b_not_direct),
	    cmocka_unit_test(test_pin_side_may_share), cmocka_unit_test(test_update_checks_r1),
	    cmocka_unit_test(test_txn_exists),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
