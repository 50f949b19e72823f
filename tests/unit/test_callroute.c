/* Tests core/route.c, the routing decision of DESIGN §3, on a real store
 * with allocations made through the allocation service (so every index is
 * the one the API writes): step 1 to 5 outcomes, the numbers to dial and the
 * presented caller ID, PIN verification with joining and its refusals, and
 * how collected digits stand against the PINs on a VN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/route.h"
#include "fixture.h"

static const char conf[] =
    "tenants = ( { id = \"demo\"; api_key = \"k1\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134400-+916292134409\"];\n"
    "  pin = { a = true; b = false; }; },\n"
    "  { id = \"apinoff\"; api_key = \"k2\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134410-+916292134419\"];\n"
    "  pin = { a = false; b = true; }; },\n"
    "  { id = \"nopin\"; api_key = \"k3\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134420-+916292134429\"];\n"
    "  pin = { a = false; b = false; }; },\n"
    "  { id = \"cool\"; api_key = \"k4\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134430-+916292134439\"];\n"
    "  pin = { a = true; b = false; cooloff = \"1h\"; }; } );\n";

#define V(n) "+9162921344" #n

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

/* An allocation to create: NULL-terminated lists; a NULL bvns follows a's. */
struct spec {
	const char *tenant;
	const char *a[STORE_MAX_NUMS + 1], *b[STORE_MAX_NUMS + 1];
	const char *avns[4], *bvns[4];
	const char *usage, *apin;
};

static void mk(struct fixture *f, const struct spec *sp, struct store_alloc *out)
{
	static int seq;
	struct alloc_result res;
	struct alloc_req r;
	char txn[32];

	snprintf(txn, sizeof(txn), "cr-%d", seq++);
	fixture_req(&r, txn);
	for (int s = 0; s < 2; s++) {
		const char *const *nums = s ? sp->b : sp->a, *const *vns = s ? sp->bvns : sp->avns;

		r.side[s].has_numbers = true;
		for (int i = 0; nums[i]; i++)
			fixture_add(r.side[s].numbers, &r.side[s].nnumbers, nums[i]);
		r.side[s].has_vns = vns[0] != NULL;
		for (int i = 0; vns[i]; i++)
			fixture_add(r.side[s].vns, &r.side[s].nvns, vns[i]);
	}
	if (sp->usage) {
		r.has_usage = true;
		snprintf(r.usage, sizeof(r.usage), "%s", sp->usage);
	}
	if (sp->apin) {
		r.side[0].has_pin = true;
		snprintf(r.side[0].pin, sizeof(r.side[0].pin), "%s", sp->apin);
	}
	alloc_create(f->svc, f->cfg, config_tenant(f->cfg, sp->tenant), &r, &res);
	if (res.code != AC_OK)
		fail_msg("create: %d %s", res.code, res.message);
	*out = res.rec;
}

static struct route_decision decide(struct fixture *f, const char *caller, const char *vn)
{
	struct route_decision d;
	struct store_txn *t;

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(route_decide(t, f->cfg, caller, vn, &d), 0);
	store_read_end(t);
	return d;
}

static struct route_decision by_pin(struct fixture *f, const char *caller, const char *vn,
                                    const char *pin)
{
	struct route_decision d;
	struct store_txn *t;

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(route_by_pin(t, f->cfg, caller, vn, pin, &d), 0);
	store_read_end(t);
	return d;
}

static enum route_pin_state match(struct fixture *f, const char *vn, const char *digits)
{
	enum route_pin_state ps;
	struct store_txn *t;

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(route_pin_match(t, vn, digits, &ps), 0);
	store_read_end(t);
	return ps;
}

static void assert_dials(const struct route_decision *d, const struct store_alloc *rec,
                         const char *present, const char *const *nums)
{
	int n = 0;

	assert_true(d->has_alloc);
	assert_memory_equal(d->alloc.id, rec->id, STORE_ID_LEN);
	while (nums[n])
		n++;
	assert_int_equal(d->ndial, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(d->dial[i], nums[i]);
	assert_string_equal(d->present, present);
	assert_int_equal(d->sip_status, 0);
}

static void test_not_ours_and_nothing(void **state)
{
	struct fixture *f = *state;
	struct route_decision d = decide(f, "+917000000001", "+916292139999");

	assert_int_equal(d.kind, ROUTE_NOT_OURS);
	assert_int_equal(d.sip_status, 404);
	assert_null(d.tenant);
	d = by_pin(f, "+917000000001", "+916292139999", "1234");
	assert_int_equal(d.kind, ROUTE_NOT_OURS);
	/* ours, but no allocation on it */
	d = decide(f, "+917000000001", V(21));
	assert_int_equal(d.kind, ROUTE_FORBIDDEN);
	assert_int_equal(d.sip_status, 403);
	assert_string_equal(d.tenant->id, "nopin");
	assert_string_equal(route_kind_name(d.kind), "forbidden");
}

static void test_direct_a_to_b(void **state)
{
	struct fixture *f = *state;
	struct spec same = {.tenant = "apinoff",
	                    .a = {"+917000000001"},
	                    .b = {"+918000000001", "+918000000002"},
	                    .avns = {V(11)}},
	            other = {.tenant = "apinoff",
	                     .a = {"+917000000002"},
	                     .b = {"+918000000003"},
	                     .avns = {V(12)},
	                     .bvns = {V(13), V(14)}};
	struct store_alloc r1, r2;
	struct route_decision d;

	mk(f, &same, &r1);
	mk(f, &other, &r2);
	d = decide(f, "+917000000001", V(11));
	assert_int_equal(d.kind, ROUTE_DIRECT);
	assert_int_equal(d.side, STORE_A);
	assert_int_equal(d.nmatch, 1);
	assert_false(d.join);
	/* b follows a's VNs, so the VN dialled is presented */
	assert_dials(&d, &r1, V(11), (const char *[]){"+918000000001", "+918000000002", NULL});
	/* the VN dialled is not b's: b's first VN is presented */
	d = decide(f, "+917000000002", V(12));
	assert_int_equal(d.kind, ROUTE_DIRECT);
	assert_dials(&d, &r2, V(13), (const char *[]){"+918000000003", NULL});
	/* the second of shared VNs is presented as dialled, not b's first */
	{
		struct spec two = {.tenant = "apinoff",
		                   .a = {"+917000000003"},
		                   .b = {"+918000000004"},
		                   .avns = {V(16), V(17)}};
		struct store_alloc r3;

		mk(f, &two, &r3);
		d = decide(f, "+917000000003", V(17));
		assert_int_equal(d.kind, ROUTE_DIRECT);
		assert_dials(&d, &r3, V(17), (const char *[]){"+918000000004", NULL});
	}
	/* b has a PIN: calling back goes through the PIN prompt */
	assert_true(r1.side[STORE_B].pin[0] != '\0');
	d = decide(f, "+918000000001", V(11));
	assert_int_equal(d.kind, ROUTE_PIN);
	assert_int_equal(d.nmatch, 1);
	/* b's number on a's VN of the other allocation: a's VN is not b's */
	d = decide(f, "+918000000003", V(12));
	assert_int_equal(d.kind, ROUTE_FORBIDDEN);
	/* ...but b's own VN routes by b's PIN */
	d = decide(f, "+918000000003", V(13));
	assert_int_equal(d.kind, ROUTE_PIN);
}

static void test_demo_b_calls_a(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {.tenant = "demo",
	                  .a = {"+917000000001", "+917000000009"},
	                  .b = {"+918000000001"},
	                  .avns = {V(01)}};
	struct store_alloc rec;
	struct route_decision d;

	mk(f, &sp, &rec);
	d = decide(f, "+918000000001", V(01));
	assert_int_equal(d.kind, ROUTE_DIRECT);
	assert_int_equal(d.side, STORE_B);
	assert_dials(&d, &rec, V(01), (const char *[]){"+917000000001", "+917000000009", NULL});
	/* a has a PIN, even when registered */
	d = decide(f, "+917000000001", V(01));
	assert_int_equal(d.kind, ROUTE_PIN);
	/* an unknown caller, and an anonymous one, on a VN with PINs */
	d = decide(f, "+919999999999", V(01));
	assert_int_equal(d.kind, ROUTE_PIN);
	assert_int_equal(d.nmatch, 0);
	assert_int_equal(d.sip_status, 0);
	assert_int_equal(decide(f, "anonymous", V(01)).kind, ROUTE_PIN);
	assert_int_equal(decide(f, "", V(01)).kind, ROUTE_PIN);
}

static void test_oneway(void **state)
{
	struct fixture *f = *state;
	struct spec np = {.tenant = "nopin",
	                  .a = {"+917000000001"},
	                  .b = {"+918000000001"},
	                  .avns = {V(22)},
	                  .usage = "oneway"},
	            dm = {.tenant = "demo",
	                  .a = {"+917000000002"},
	                  .b = {"+918000000002"},
	                  .avns = {V(02)},
	                  .usage = "oneway"};
	struct store_alloc r1, r2;
	struct route_decision d;

	mk(f, &np, &r1);
	mk(f, &dm, &r2);
	d = decide(f, "+918000000001", V(22));
	assert_int_equal(d.kind, ROUTE_FORBIDDEN);
	assert_int_equal(d.sip_status, 403);
	assert_int_equal(d.nmatch, 0);
	d = decide(f, "+917000000001", V(22));
	assert_int_equal(d.kind, ROUTE_DIRECT);
	assert_dials(&d, &r1, V(22), (const char *[]){"+918000000001", NULL});
	/* b may not call directly, but a's PIN could route someone: the prompt */
	d = decide(f, "+918000000002", V(02));
	assert_int_equal(d.kind, ROUTE_PIN);
	/* and keying a's PIN from b's number is refused */
	d = by_pin(f, "+918000000002", V(02), r2.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
}

static void test_nobody_on_open_side(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {.tenant = "nopin", .a = {"+917000000001"}, .avns = {V(23)}};
	struct store_alloc rec;
	struct route_decision d;

	mk(f, &sp, &rec);
	assert_true(rec.side[STORE_B].open);
	d = decide(f, "+917000000001", V(23));
	assert_int_equal(d.kind, ROUTE_NOBODY);
	assert_int_equal(d.sip_status, 480);
	assert_string_equal(d.reason, "nobody has joined this allocation yet");
	assert_true(d.has_alloc);
	assert_int_equal(d.ndial, 0);
}

static void test_pin_registered_wrong_refused(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {
	    .tenant = "demo", .a = {"+917000000001"}, .b = {"+918000000001"}, .avns = {V(03)}};
	struct store_alloc rec;
	struct route_decision d;
	char wrong[STORE_PIN_MAX + 1];
	const char *pin;

	mk(f, &sp, &rec);
	pin = rec.side[STORE_A].pin;
	d = by_pin(f, "+917000000001", V(03), pin);
	assert_int_equal(d.kind, ROUTE_PIN_ACCEPTED);
	assert_int_equal(d.side, STORE_A);
	assert_false(d.join);
	assert_dials(&d, &rec, V(03), (const char *[]){"+918000000001", NULL});
	strcpy(wrong, pin);
	wrong[0] = wrong[0] == '9' ? '0' : (char)(wrong[0] + 1);
	assert_int_equal(by_pin(f, "+917000000001", V(03), wrong).kind, ROUTE_PIN_WRONG);
	assert_int_equal(by_pin(f, "+917000000001", V(03), "").kind, ROUTE_PIN_WRONG);
	assert_int_equal(by_pin(f, "+917000000001", V(03), "1234567890").kind, ROUTE_PIN_WRONG);
	/* the right PIN on another VN is wrong there */
	assert_int_equal(by_pin(f, "+917000000001", V(04), pin).kind, ROUTE_PIN_WRONG);
	/* b keying a's PIN; a stranger keying a closed side's PIN */
	d = by_pin(f, "+918000000001", V(03), pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
	assert_string_equal(d.reason, "the caller is on the side it would reach");
	assert_true(d.foreign);
	d = by_pin(f, "+919999999999", V(03), pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
	assert_true(d.foreign);
	assert_false(d.join);
}

static void test_open_side_join_until_full(void **state)
{
	struct fixture *f = *state;
	const struct tenant *t = config_tenant(f->cfg, "demo");
	struct spec sp = {.tenant = "demo", .b = {"+918000000001"}, .avns = {V(05)}};
	struct alloc_result res;
	struct store_alloc rec;
	struct route_decision d;
	char num[20];

	mk(f, &sp, &rec);
	assert_true(rec.side[STORE_A].open);
	assert_int_equal(decide(f, "+917000000001", V(05)).kind, ROUTE_PIN);
	d = by_pin(f, "+917000000001", V(05), rec.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_ACCEPTED);
	assert_true(d.join);
	assert_int_equal(d.side, STORE_A);
	assert_dials(&d, &rec, V(05), (const char *[]){"+918000000001", NULL});
	/* b may not join a */
	d = by_pin(f, "+918000000001", V(05), rec.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
	/* nor a caller with no number */
	assert_int_equal(by_pin(f, "anonymous", V(05), rec.side[STORE_A].pin).kind,
	                 ROUTE_PIN_REFUSED);
	/* nine joined: one place left */
	for (int i = 1; i <= 9; i++) {
		snprintf(num, sizeof(num), "+91700000010%d", i);
		alloc_number_add(f->svc, f->cfg, t, rec.id, STORE_A, num, &res);
		assert_int_equal(res.code, AC_OK);
	}
	assert_true(res.rec.side[STORE_A].open);
	d = by_pin(f, "+917000000001", V(05), rec.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_ACCEPTED);
	assert_true(d.join);
	alloc_number_add(f->svc, f->cfg, t, rec.id, STORE_A, "+917000000110", &res);
	assert_int_equal(res.code, AC_OK);
	d = by_pin(f, "+917000000001", V(05), rec.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
	assert_string_equal(d.reason, "this open side is full");
	/* a number already on the side still gets through */
	d = by_pin(f, "+917000000105", V(05), rec.side[STORE_A].pin);
	assert_int_equal(d.kind, ROUTE_PIN_ACCEPTED);
	assert_false(d.join);
}

static void test_oneway_b_pin_refused(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {.tenant = "apinoff",
	                  .a = {"+917000000001"},
	                  .b = {"+918000000001"},
	                  .avns = {V(15)},
	                  .usage = "oneway"};
	struct store_alloc rec;
	struct route_decision d;

	mk(f, &sp, &rec);
	assert_true(rec.side[STORE_B].pin[0] != '\0');
	d = by_pin(f, "+918000000001", V(15), rec.side[STORE_B].pin);
	assert_int_equal(d.kind, ROUTE_PIN_REFUSED);
	assert_string_equal(d.reason, "this side of a oneway allocation may not call");
	/* b's PIN routes nobody on a oneway allocation, so no prompt either */
	assert_int_equal(decide(f, "+918000000001", V(15)).kind, ROUTE_FORBIDDEN);
	assert_int_equal(decide(f, "+917000000001", V(15)).kind, ROUTE_DIRECT);
}

/* One delivery agent, five customers, one VN: the agent's PIN picks. */
static void test_agent_picks_by_pin(void **state)
{
	struct fixture *f = *state;
	struct store_alloc rec[5];
	struct route_decision d;
	char cust[5][20];

	for (int i = 0; i < 5; i++) {
		struct spec sp = {
		    .tenant = "demo", .a = {"+917000000001"}, .b = {cust[i]}, .avns = {V(06)}};

		snprintf(cust[i], sizeof(cust[i]), "+91800000010%d", i);
		mk(f, &sp, &rec[i]);
	}
	d = decide(f, "+917000000001", V(06));
	assert_int_equal(d.kind, ROUTE_PIN);
	assert_int_equal(d.nmatch, 5);
	for (int i = 0; i < 5; i++) {
		d = by_pin(f, "+917000000001", V(06), rec[i].side[STORE_A].pin);
		assert_int_equal(d.kind, ROUTE_PIN_ACCEPTED);
		assert_false(d.join);
		assert_dials(&d, &rec[i], V(06), (const char *[]){cust[i], NULL});
	}
	/* each customer reaches the agent directly */
	d = decide(f, cust[3], V(06));
	assert_int_equal(d.kind, ROUTE_DIRECT);
	assert_dials(&d, &rec[3], V(06), (const char *[]){"+917000000001", NULL});
}

static void test_pin_match(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {.tenant = "demo",
	                  .a = {"+917000000001"},
	                  .b = {"+918000000001"},
	                  .avns = {V(07)},
	                  .apin = "1234"};
	struct store_alloc rec;

	mk(f, &sp, &rec);
	assert_string_equal(rec.side[STORE_A].pin, "1234");
	assert_int_equal(match(f, V(07), ""), ROUTE_PIN_PREFIX);
	assert_int_equal(match(f, V(07), "1"), ROUTE_PIN_PREFIX);
	assert_int_equal(match(f, V(07), "123"), ROUTE_PIN_PREFIX);
	assert_int_equal(match(f, V(07), "1234"), ROUTE_PIN_COMPLETE);
	assert_int_equal(match(f, V(07), "19"), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(07), "2"), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(07), "12345"), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(07), "12#"), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(07), "1234567890"), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(08), ""), ROUTE_PIN_NONE);
	assert_int_equal(match(f, V(08), "1234"), ROUTE_PIN_NONE);
}

static void test_cooling_pin(void **state)
{
	struct fixture *f = *state;
	struct spec sp = {.tenant = "cool",
	                  .a = {"+917000000001"},
	                  .b = {"+918000000001"},
	                  .avns = {V(31)},
	                  .apin = "55"};
	struct alloc_result res;
	struct store_alloc rec;
	struct route_decision d;

	mk(f, &sp, &rec);
	assert_int_equal(by_pin(f, "+917000000001", V(31), "55").kind, ROUTE_PIN_ACCEPTED);
	alloc_delete(f->svc, config_tenant(f->cfg, "cool"), rec.id, &res);
	assert_int_equal(res.code, AC_OK);
	d = by_pin(f, "+917000000001", V(31), "55");
	assert_int_equal(d.kind, ROUTE_PIN_COOLING);
	/* the IVR still knows the PIN is complete, to say it is not allowed */
	assert_int_equal(match(f, V(31), "55"), ROUTE_PIN_COMPLETE);
	/* but a cooling PIN alone routes nobody: no prompt */
	assert_int_equal(decide(f, "+917000000001", V(31)).kind, ROUTE_FORBIDDEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_not_ours_and_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_a_to_b, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_demo_b_calls_a, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oneway, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nobody_on_open_side, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_registered_wrong_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_side_join_until_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oneway_b_pin_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_picks_by_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_match, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cooling_pin, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
