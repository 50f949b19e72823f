"""POST/DELETE /greenpin/{id}/{a,b}/numbers[/{number}]: one number at a time."""
import uuid

from pbdata import err, national, number, numbers, nums, ok, txn


def make(server, dealer, tenant="demo", a=None, b=None):
    v = dealer.take(tenant)[0]
    return ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": a if a is not None else [number()]},
                             "b": {"numbers": b if b is not None else [number()]}}, tenant=tenant))


def test_add_and_remove(server, dealer):
    d = make(server, dealer)
    gid = d["greenpin_id"]
    n = number()
    u = ok(server.add_number(gid, "a", national(n)), "POST")
    assert nums(u, "a") == nums(d, "a") + [n], "added and normalised"
    assert nums(u, "b") == nums(d, "b") and u["a"]["pin"] == d["a"]["pin"]
    assert ok(server.get(gid)) == u
    m = number()
    u = ok(server.add_number(gid, "b", m))
    assert nums(u, "b") == nums(d, "b") + [m]
    u = ok(server.remove_number(gid, "a", n), "DELETE")
    assert nums(u, "a") == nums(d, "a")
    # removing by another spelling of the same number
    u = ok(server.remove_number(gid, "b", "0" + national(m)))
    assert nums(u, "b") == nums(d, "b")
    assert ok(server.get(gid)) == u


def test_remove_number_not_held_is_404_code_20(server, dealer):
    d = make(server, dealer)
    gid = d["greenpin_id"]
    err(server.remove_number(gid, "a", number()), 404, 20)
    err(server.remove_number(gid, "a", nums(d, "b")[0]), 404, 20)  # held, but by the other side
    assert ok(server.get(gid)) == d


def test_add_checks(server, dealer):
    d = make(server, dealer)
    gid = d["greenpin_id"]
    err(server.add_number(gid, "a", nums(d, "a")[0]), 409, 13)
    err(server.add_number(gid, "a", nums(d, "b")[0]), 409, 14)
    err(server.add_number(gid, "a", "bogus"), 400, 16)
    err(server.add_number(gid, "a", "+14155550123"), 403, 15)
    err(server.add_number(gid, "a", "+916292134400"), 400, 16)  # a VN
    r = server.request("POST", server.url("demo", "/%s/a/numbers" % gid), {"number": 9800000000})
    err(r, 400, 5)
    err(server.request("POST", server.url("demo", "/%s/a/numbers" % gid), b"{"), 400, 5)
    r = server.request("POST", server.url("demo", "/%s/a/numbers" % gid), {})
    assert r.status == 400 and r.json["code"] in (3, 5), r  # "number" missing
    assert ok(server.get(gid)) == d


def test_add_eleventh_is_code_5(server, dealer):
    d = make(server, dealer, a=numbers(10))
    err(server.add_number(d["greenpin_id"], "a", number()), 400, 5)
    assert len(nums(ok(server.get(d["greenpin_id"])), "a")) == 10


def test_add_breaking_r1_is_19(server, dealer):
    v = dealer.take("nopin")[0]
    x = number()
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [x]}, "b": {"numbers": [number()]}},
                     tenant="nopin"))
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [number()]},
                          "b": {"numbers": [number()]}}, tenant="nopin"))
    err(server.add_number(d["greenpin_id"], "b", x, tenant="nopin"), 409, 19)


def test_add_closes_open_side_and_remove_last_opens_it(server, dealer):
    d = make(server, dealer, a=[])
    gid = d["greenpin_id"]
    n = number()
    assert nums(ok(server.add_number(gid, "a", n)), "a") == [n]
    assert nums(ok(server.remove_number(gid, "a", n)), "a") == []
    # b's last number: a is open too, numbers on neither side
    err(server.remove_number(gid, "b", nums(d, "b")[0]), 400, 3)


def test_unknown_id(server):
    err(server.add_number(str(uuid.uuid4()), "a", number()), 404, 1)
    err(server.remove_number(str(uuid.uuid4()), "b", number()), 404, 1)
