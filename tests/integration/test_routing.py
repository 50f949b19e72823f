"""Routing rules the API enforces: R1 (no ambiguous direct route, code 19)
on create and update, both ways, and R2 open sides (code 50, code 3)."""
from pbdata import err, number, nums, ok, txn

T = "nopin"  # pin.a and pin.b off: every side with numbers that may call is a direct route


def mk(server, tenant=T, usage="twoway", a_nums=None, b_nums=None, a_vns=None, b_vns=None):
    body = {"transaction_id": txn(), "usage": usage, "a": {}, "b": {}}
    if a_nums is not None:
        body["a"]["numbers"] = a_nums
    if b_nums is not None:
        body["b"]["numbers"] = b_nums
    if a_vns is not None:
        body["a"]["vns"] = a_vns
    if b_vns is not None:
        body["b"]["vns"] = b_vns
    return server.create(body, tenant=tenant)


def test_r1_same_number_same_vn_conflicts(server, dealer):
    v1, v2 = dealer.take(T, 2)
    x = number()
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v1]))
    err(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v1]), 409, 19)
    # x on the other side of another allocation on v1: still ambiguous for x
    err(mk(server, a_nums=[number()], b_nums=[x], a_vns=[v1]), 409, 19)
    # on a VN list that contains v1
    err(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v2, v1]), 409, 19)
    # a different VN is fine
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v2]))


def test_r1_pin_enabled_side_is_no_direct_route(server, dealer):
    """demo: pin.a on, pin.b off."""
    v = dealer.take("demo")[0]
    x, y = number(), number()
    ok(mk(server, tenant="demo", a_nums=[x], b_nums=[y], a_vns=[v]))
    # x is on side a (PIN enabled) in both: a caller x needs a PIN, no ambiguity
    ok(mk(server, tenant="demo", a_nums=[x], b_nums=[number()], a_vns=[v]))
    # y is on side b (PIN off) of the first: direct route, so no other allocation may hold y on v
    err(mk(server, tenant="demo", a_nums=[number()], b_nums=[y], a_vns=[v]), 409, 19)
    err(mk(server, tenant="demo", a_nums=[y], b_nums=[number()], a_vns=[v]), 409, 19)


def test_r1_checked_both_ways(server, dealer):
    """The new allocation's direct routes must not collide with existing holders of the number."""
    v = dealer.take(T)[0]
    y = number()
    # existing: oneway, y on b (b may not call): y has no direct route here
    ok(mk(server, usage="oneway", a_nums=[number()], b_nums=[y], a_vns=[v]))
    # new: twoway with y on b: y would reach the new one directly while the old holds y on v
    err(mk(server, usage="twoway", a_nums=[number()], b_nums=[y], a_vns=[v]), 409, 19)
    # new: oneway with y on b: y can call neither: allowed
    ok(mk(server, usage="oneway", a_nums=[number()], b_nums=[y], a_vns=[v]))


def test_r1_separate_side_vns(server, dealer):
    va, vb = dealer.take(T, 2)
    x = number()
    # x on a, a's VN va; b's VN is vb
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[va], b_vns=[vb]))
    # x on side b with b's VN vb: x's direct route in the new one is on vb; the old one holds x on va only
    ok(mk(server, a_nums=[number()], b_nums=[x], a_vns=[va], b_vns=[vb]))


def test_r1_on_update(server, dealer):
    v1, v2 = dealer.take(T, 2)
    x = number()
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v1]))
    other = ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v2]))
    gid = other["greenpin_id"]
    err(server.update(gid, {"a": {"vns": [v1]}}, tenant=T), 409, 19)        # moving onto x's VN
    third = ok(mk(server, a_nums=[number()], b_nums=[number()], a_vns=[v1]))
    err(server.update(third["greenpin_id"], {"a": {"numbers": [x]}}, tenant=T), 409, 19)   # adding x
    err(server.update(third["greenpin_id"], {"b": {"numbers": [x]}}, tenant=T), 409, 19)
    assert ok(server.get(gid, tenant=T)) == other
    # usage switch making a side able to call: the other way round
    y = number()
    ow = ok(mk(server, usage="oneway", a_nums=[number()], b_nums=[y], a_vns=[v2]))
    ok(mk(server, usage="oneway", a_nums=[number()], b_nums=[y], a_vns=[v2]))
    err(server.update(ow["greenpin_id"], {"usage": "twoway"}, tenant=T), 409, 19)
    assert ok(server.get(ow["greenpin_id"], tenant=T))["usage"] == "oneway"


def test_r1_freed_by_delete(server, dealer):
    v = dealer.take(T)[0]
    x = number()
    first = ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v]))
    err(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v]), 409, 19)
    ok(server.delete(first["greenpin_id"], tenant=T))
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v]))


def test_r1_freed_by_number_replace(server, dealer):
    v = dealer.take(T)[0]
    x = number()
    first = ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v]))
    ok(server.update(first["greenpin_id"], {"a": {"numbers": [number()]}}, tenant=T))
    ok(mk(server, a_nums=[x], b_nums=[number()], a_vns=[v]))


def test_r2_open_side_with_pin_enabled(server, dealer):
    v = dealer.take("demo")[0]
    # demo: pin.a on. a open (no numbers), b has numbers: callers join a by PIN
    d = ok(mk(server, tenant="demo", b_nums=[number()], a_vns=[v]))
    assert nums(d, "a") == [] and d["a"]["pin"].isdigit()
    d = ok(mk(server, tenant="demo", a_nums=[], b_nums=[number()], a_vns=[v], usage="oneway"))
    assert nums(d, "a") == [] and d["usage"] == "oneway"


def test_r2_no_possible_call_flow_is_422_code_50(server, dealer):
    v = dealer.take(T)[0]
    # oneway: only a may call; a is open and pin.a is off: nobody can ever call
    err(mk(server, usage="oneway", b_nums=[number()], a_vns=[v]), 422, 50)
    err(mk(server, usage="oneway", a_nums=[], b_nums=[number()], a_vns=[v]), 422, 50)
    # demo has pin.a on: the same shape is fine there
    ok(mk(server, tenant="demo", usage="oneway", b_nums=[number()], a_vns=[dealer.take("demo")[0]]))


def test_r2_numbers_on_neither_side_is_code_3(server, dealer):
    v = dealer.take("pins")[0]
    err(mk(server, tenant="pins", a_vns=[v]), 400, 3)
    err(mk(server, tenant="pins", a_nums=[], b_nums=[], a_vns=[v]), 400, 3)


def test_r1_direct_route_after_a_pin_side_holder(server, dealer):
    """demo: z is first on a PIN side of one allocation; then a direct route for z on the same VN conflicts."""
    v = dealer.take("demo")[0]
    z = number()
    ok(mk(server, tenant="demo", a_nums=[z], b_nums=[number()], a_vns=[v]))
    err(mk(server, tenant="demo", a_nums=[number()], b_nums=[z], a_vns=[v]), 409, 19)
    # not on another VN, and not when b cannot call (oneway)
    ok(mk(server, tenant="demo", a_nums=[number()], b_nums=[z], a_vns=[dealer.take("demo")[0]]))
    ok(mk(server, tenant="demo", usage="oneway", a_nums=[number()], b_nums=[z], a_vns=[v]))
