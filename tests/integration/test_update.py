"""PUT /greenpin/{id}: DESIGN §2's update semantics table."""
import time

import pytest

from pbdata import err, number, numbers, nums, ok, parse_time, pool, txn, vns


def make(server, dealer, tenant="demo", nv=1, **sides):
    v = dealer.take(tenant, nv)
    body = {"transaction_id": txn(), "a": {"vns": v, "numbers": [number()]}, "b": {"numbers": [number()]}}
    for s, extra in sides.items():
        body[s].update(extra)
    return ok(server.create(body, tenant=tenant))


def unchanged(before, after, *except_):
    skip = set(except_) | {"deallocation_time"}
    for k in before:
        if k not in skip and k not in ("a", "b"):
            assert after[k] == before[k], (k, before, after)


def test_numbers_replace(server, dealer):
    d = make(server, dealer)
    new = numbers(2)
    u = ok(server.update(d["greenpin_id"], {"a": {"numbers": new}}), "PUT")
    assert nums(u, "a") == new
    assert nums(u, "b") == nums(d, "b") and u["a"]["pin"] == d["a"]["pin"]
    assert vns(u, "a") == vns(d, "a") and vns(u, "b") == vns(d, "b")
    unchanged(d, u)
    assert ok(server.get(d["greenpin_id"])) == u


def test_empty_numbers_opens_side_and_list_closes_it(server, dealer):
    d = make(server, dealer)
    u = ok(server.update(d["greenpin_id"], {"a": {"numbers": []}}))
    assert nums(u, "a") == [] and nums(u, "b") == nums(d, "b") and u["a"]["pin"] == d["a"]["pin"]
    n = number()
    u = ok(server.update(d["greenpin_id"], {"a": {"numbers": [n]}}))
    assert nums(u, "a") == [n]


def test_emptying_both_sides_is_code_3(server, dealer):
    d = make(server, dealer)
    ok(server.update(d["greenpin_id"], {"a": {"numbers": []}}))
    err(server.update(d["greenpin_id"], {"b": {"numbers": []}}), 400, 3)
    err(server.update(d["greenpin_id"], {"a": {"numbers": []}, "b": {"numbers": []}}), 400, 3)
    assert nums(ok(server.get(d["greenpin_id"])), "b") == nums(d, "b")


def test_vns_replace_and_follower_follows(server, dealer):
    v1, v2, v3, v4 = dealer.take("demo", 4)
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v1]}, "b": {"numbers": [number()]}}))
    assert vns(d, "b") == [v1]
    u = ok(server.update(d["greenpin_id"], {"a": {"vns": [v2]}}))
    assert vns(u, "a") == [v2] and vns(u, "b") == [v2], "b took a's VNs, so it follows a"
    # giving b its own VNs stops the following
    u = ok(server.update(d["greenpin_id"], {"b": {"vns": [v3]}}))
    assert vns(u, "a") == [v2] and vns(u, "b") == [v3]
    u = ok(server.update(d["greenpin_id"], {"a": {"vns": [v4]}}))
    assert vns(u, "a") == [v4] and vns(u, "b") == [v3]


def test_vns_following_survives_restart_of_reads(server, dealer):
    """The follow flag is persisted: a later update (after unrelated updates) still follows."""
    v1, v2 = dealer.take("demo", 2)
    d = ok(server.create({"transaction_id": txn(), "b": {"vns": [v1], "numbers": [number()]}}))
    ok(server.update(d["greenpin_id"], {"usage": "oneway"}))
    ok(server.update(d["greenpin_id"], {"b": {"numbers": [number()]}}))
    u = ok(server.update(d["greenpin_id"], {"b": {"vns": [v2]}}))
    assert vns(u, "a") == [v2] and vns(u, "b") == [v2]


def test_vns_outside_pool_is_403_code_8(server, dealer):
    d = make(server, dealer)
    err(server.update(d["greenpin_id"], {"a": {"vns": [pool("acme")[0]]}}), 403, 8)
    err(server.update(d["greenpin_id"], {"b": {"vns": ["+919999999999"]}}), 403, 8)
    assert ok(server.get(d["greenpin_id"])) == d


def test_new_vns_recheck_pin(server, dealer):
    v1, v2 = dealer.take("demo", 2)
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v2], "pin": "314"}, "b": {"numbers": [number()]}}))
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v1], "pin": "3141"}, "b": {"numbers": [number()]}}))
    err(server.update(d["greenpin_id"], {"a": {"vns": [v1, v2]}}), 452, 4)
    assert ok(server.get(d["greenpin_id"])) == d


def test_pin_replace_frees_old(server, dealer):
    d = make(server, dealer, a={"pin": "2718"})
    v = vns(d, "a")[0]
    u = ok(server.update(d["greenpin_id"], {"a": {"pin": "1618"}}))
    assert u["a"]["pin"] == "1618"
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "2718"}, "b": {"numbers": [number()]}}))
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "1618"},
                       "b": {"numbers": [number()]}}), 452, 4)


def test_pin_replace_with_taken_pin_is_452(server, dealer):
    d = make(server, dealer, a={"pin": "11"})
    v = vns(d, "a")[0]
    other = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "22"},
                              "b": {"numbers": [number()]}}))
    err(server.update(other["greenpin_id"], {"a": {"pin": "11"}}), 452, 4)
    err(server.update(other["greenpin_id"], {"a": {"pin": "112"}}), 452, 4)
    err(server.update(other["greenpin_id"], {"a": {"pin": "1"}}), 452, 4)
    assert ok(server.get(other["greenpin_id"]))["a"]["pin"] == "22"
    # its own PIN is no obstacle to itself
    assert ok(server.update(other["greenpin_id"], {"a": {"pin": "22"}}))["a"]["pin"] == "22"
    assert ok(server.update(other["greenpin_id"], {"a": {"pin": "223"}}))["a"]["pin"] == "223"


def test_pin_length_alone_regenerates(server, dealer):
    d = make(server, dealer)
    u = ok(server.update(d["greenpin_id"], {"a": {"pin_length": 7}}))
    assert len(u["a"]["pin"]) == 7 and u["a"]["pin"].isdigit()
    u2 = ok(server.update(d["greenpin_id"], {"a": {"pin_length": "2"}}))
    assert len(u2["a"]["pin"]) == 2
    # a given pin wins over pin_length
    u3 = ok(server.update(d["greenpin_id"], {"a": {"pin": "98765", "pin_length": 3}}))
    assert u3["a"]["pin"] == "98765"


def test_usage_switch(server, dealer):
    d = make(server, dealer)
    assert ok(server.update(d["greenpin_id"], {"usage": "oneway"}))["usage"] == "oneway"
    assert ok(server.get(d["greenpin_id"]))["usage"] == "oneway"
    assert ok(server.update(d["greenpin_id"], {"usage": "twoway"}))["usage"] == "twoway"
    err(server.update(d["greenpin_id"], {"usage": "threeway"}), 400, 5)


def test_duration_resets_deallocation_time(server, dealer):
    d = make(server, dealer)
    t0 = time.time()
    u = ok(server.update(d["greenpin_id"], {"deallocation_policy": {"duration": "2d"}}))
    exp = parse_time(u["deallocation_time"])
    assert t0 + 2 * 86400 - 5 <= exp <= time.time() + 2 * 86400 + 5
    time.sleep(1.2)
    t1 = time.time()
    u = ok(server.update(d["greenpin_id"], {"deallocation_policy": {"duration": "10m"}}))
    exp2 = parse_time(u["deallocation_time"])
    assert t1 + 600 - 5 <= exp2 <= time.time() + 600 + 5
    err(server.update(d["greenpin_id"], {"deallocation_policy": {"duration": "181d"}}), 400, 5)


@pytest.mark.parametrize("body", [{}, {"colour": "red"}, {"a": {}}, {"a": {}, "b": {}},
                                  {"deallocation_policy": {}}])
def test_nothing_updatable_is_code_3(server, dealer, body):
    d = make(server, dealer)
    err(server.update(d["greenpin_id"], body), 400, 3)
    assert ok(server.get(d["greenpin_id"])) == d


def test_update_runs_create_checks(server, dealer):
    d = make(server, dealer)
    gid = d["greenpin_id"]
    a_num = nums(d, "a")[0]
    err(server.update(gid, {"b": {"numbers": [a_num]}}), 409, 14)
    err(server.update(gid, {"a": {"numbers": [a_num, a_num]}}), 409, 13)
    err(server.update(gid, {"a": {"numbers": ["12ab"]}}), 400, 16)
    err(server.update(gid, {"a": {"numbers": ["+14155550123"]}}), 403, 15)
    err(server.update(gid, {"a": {"numbers": numbers(11)}}), 400, 5)
    err(server.update(gid, {"a": {"pin": 1234}}), 400, 5)
    err(server.update(gid, {"a": {"pin_length": 10}}), 400, 5)
    assert ok(server.get(gid)) == d


def test_update_to_no_call_flow_is_50(server, dealer):
    """nopin tenant: oneway with a open and pin.a disabled: no call can ever be made."""
    v = dealer.take("nopin")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [number()]},
                          "b": {"numbers": [number()]}, "usage": "oneway"}, tenant="nopin"))
    err(server.update(d["greenpin_id"], {"a": {"numbers": []}}, tenant="nopin"), 422, 50)
    assert ok(server.get(d["greenpin_id"], tenant="nopin")) == d


def test_update_keeps_transaction_id_and_id(server, dealer):
    d = make(server, dealer)
    u = ok(server.update(d["greenpin_id"], {"usage": "oneway", "transaction_id": "ignored-" + txn()}))
    assert u["greenpin_id"] == d["greenpin_id"]
    assert u["state"] == "active"


def test_moving_a_side_onto_the_other_sides_vn_rechecks_ab_pins(server, dealer):
    va, vb = dealer.take("pins", 2)
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [va], "pin": "12"},
                          "b": {"vns": [vb], "numbers": [number()], "pin": "123"}}, tenant="pins"))
    err(server.update(d["greenpin_id"], {"b": {"vns": [va]}}, tenant="pins"), 452, 4)
    err(server.update(d["greenpin_id"], {"a": {"vns": [vb]}}, tenant="pins"), 452, 4)
    err(server.update(d["greenpin_id"], {"a": {"vns": [va, vb]}}, tenant="pins"), 452, 4)
    assert ok(server.get(d["greenpin_id"], tenant="pins")) == d


def test_pin_clashing_with_own_other_side_on_shared_vn(server, dealer):
    v = dealer.take("pins")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "55"},
                          "b": {"numbers": [number()], "pin": "66"}}, tenant="pins"))
    for p in ("66", "6", "661"):
        err(server.update(d["greenpin_id"], {"a": {"pin": p}}, tenant="pins"), 452, 4)
    # swapping both at once is consistent with itself
    u = ok(server.update(d["greenpin_id"], {"a": {"pin": "66"}, "b": {"pin": "55"}}, tenant="pins"))
    assert (u["a"]["pin"], u["b"]["pin"]) == ("66", "55")


def test_disabled_side_pin_fields_are_not_updatable(server, dealer):
    d = make(server, dealer)
    err(server.update(d["greenpin_id"], {"b": {"pin_length": 5}}), 400, 3)
    err(server.update(d["greenpin_id"], {"b": {"pin": "5"}}), 400, 3)
    assert "pin" not in ok(server.get(d["greenpin_id"]))["b"]


def test_usage_switch_to_no_call_flow_is_50(server, dealer):
    v = dealer.take("nopin")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}, tenant="nopin"))
    err(server.update(d["greenpin_id"], {"usage": "oneway"}, tenant="nopin"), 422, 50)
    n = number()
    d2 = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [n]}, "b": {"numbers": [number()]},
                           "usage": "oneway"}, tenant="nopin"))
    err(server.remove_number(d2["greenpin_id"], "a", n, tenant="nopin"), 422, 50)
    assert ok(server.get(d["greenpin_id"], tenant="nopin"))["usage"] == "twoway"
    assert ok(server.get(d2["greenpin_id"], tenant="nopin"))["a"]["numbers"] == [n]


def test_explicit_equal_vns_do_not_follow(server, dealer):
    v1, v2 = dealer.take("demo", 2)
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v1]}, "b": {"vns": [v1], "numbers": [number()]}}))
    u = ok(server.update(d["greenpin_id"], {"a": {"vns": [v2]}}))
    assert vns(u, "a") == [v2] and vns(u, "b") == [v1], "b's VNs were given, not taken from a"


def test_following_side_is_r1_checked_on_its_new_vns(server, dealer):
    v1, v2 = dealer.take("nopin", 2)
    y = number()
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v1], "numbers": [number()]}, "b": {"numbers": [y]}},
                     tenant="nopin"))
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v2], "numbers": [number()]}, "b": {"numbers": [y]}},
                         tenant="nopin"))
    err(server.update(d["greenpin_id"], {"a": {"vns": [v1]}}, tenant="nopin"), 409, 19)
    assert vns(ok(server.get(d["greenpin_id"], tenant="nopin")), "b") == [v2]


def test_update_without_duration_keeps_deallocation_time(server, dealer):
    d = make(server, dealer)
    time.sleep(1.1)
    u = ok(server.update(d["greenpin_id"], {"usage": "oneway", "a": {"numbers": [number()]}}))
    assert u["deallocation_time"] == d["deallocation_time"]
