"""PUT /greenpin: bulk update, partial success, items in order, each isolated."""
from pbdata import err, number, nums, ok, pool, txn, vns


def make(server, v, tenant="demo", pin=None):
    a = {"vns": [v], "numbers": [number()]}
    if pin:
        a["pin"] = pin
    return ok(server.create({"transaction_id": txn(), "a": a, "b": {"numbers": [number()]}}, tenant=tenant))


def bulk_ok(r, total, success):
    assert r.status == 200, r
    j = r.json
    assert {"request_id", "method", "http_code", "metadata", "response"} <= set(j), j
    assert j["http_code"] == 207 and j["method"] == "PUT"
    assert j["metadata"] == {"failed": total - success, "total": total, "success": success}, j
    assert len(j["response"]) == total
    for e in j["response"]:
        assert {"success", "status", "code", "message", "data"} <= set(e), e
        assert e["success"] is (e["status"] == 200)
    return j["response"]


def test_bulk_partial_success_in_order(server, dealer):
    v = dealer.take("demo")[0]
    x, y, z = make(server, v), make(server, v), make(server, v)
    n1, n2 = number(), number()
    r = server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "a": {"numbers": [n1]}},
        {"greenpin_id": y["greenpin_id"], "a": {"pin_length": 12}},
        {"greenpin_id": "6b0e3f0e-1d7e-4c7e-9d43-4f5a3a9c0a11", "usage": "oneway"},
        {"greenpin_id": z["greenpin_id"], "usage": "oneway", "b": {"numbers": [n2]}},
    ]})
    e = bulk_ok(r, 4, 2)
    assert e[0]["status"] == 200 and nums(e[0]["data"], "a") == [n1]
    assert e[0]["data"]["greenpin_id"] == x["greenpin_id"]
    assert (e[1]["status"], e[1]["code"]) == (400, 5), e[1]
    assert (e[2]["status"], e[2]["code"]) == (404, 1), e[2]
    assert e[3]["status"] == 200 and e[3]["data"]["usage"] == "oneway" and nums(e[3]["data"], "b") == [n2]
    assert ok(server.get(y["greenpin_id"])) == y
    assert nums(ok(server.get(x["greenpin_id"])), "a") == [n1]


def test_later_item_sees_earlier_items(server, dealer):
    v = dealer.take("demo")[0]
    x = make(server, v, pin="555")
    y = make(server, v, pin="666")
    # item 1 frees 555, item 2 takes it: only possible if item 2 sees item 1
    e = bulk_ok(server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "a": {"pin": "777"}},
        {"greenpin_id": y["greenpin_id"], "a": {"pin": "555"}},
    ]}), 2, 2)
    assert e[0]["data"]["a"]["pin"] == "777" and e[1]["data"]["a"]["pin"] == "555"
    # item 1 takes 888, item 2 wants 888 too (and its prefix 88): conflicts with item 1
    e = bulk_ok(server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "a": {"pin": "888"}},
        {"greenpin_id": y["greenpin_id"], "a": {"pin": "88"}},
    ]}), 2, 1)
    assert (e[1]["status"], e[1]["code"]) == (452, 4), e[1]
    assert ok(server.get(y["greenpin_id"]))["a"]["pin"] == "555"
    assert ok(server.get(x["greenpin_id"]))["a"]["pin"] == "888"


def test_items_conflicting_on_routing_rule(server, dealer):
    v = dealer.take("demo")[0]
    x, y = make(server, v), make(server, v)
    n = number()
    e = bulk_ok(server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "b": {"numbers": [n]}},
        {"greenpin_id": y["greenpin_id"], "b": {"numbers": [n]}},
    ]}), 2, 1)
    assert (e[1]["status"], e[1]["code"]) == (409, 19), e[1]
    assert nums(ok(server.get(y["greenpin_id"])), "b") == nums(y, "b")


def test_same_allocation_twice_applies_both(server, dealer):
    v = dealer.take("demo")[0]
    x = make(server, v)
    n1 = number()
    e = bulk_ok(server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "a": {"numbers": [n1]}},
        {"greenpin_id": x["greenpin_id"], "usage": "oneway"},
    ]}), 2, 2)
    assert nums(e[1]["data"], "a") == [n1] and e[1]["data"]["usage"] == "oneway"
    g = ok(server.get(x["greenpin_id"]))
    assert nums(g, "a") == [n1] and g["usage"] == "oneway"


def test_item_errors_each_alone(server, dealer):
    v = dealer.take("demo")[0]
    x = make(server, v)
    dead = make(server, v)
    ok(server.delete(dead["greenpin_id"]))
    e = bulk_ok(server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"]},                                   # nothing to update
        {"greenpin_id": dead["greenpin_id"], "usage": "oneway"},             # vault
        {"greenpin_id": x["greenpin_id"], "a": {"vns": [pool("acme")[0]]}},  # VN outside pool
        {"greenpin_id": x["greenpin_id"], "a": {"numbers": ["bogus!"]}},     # invalid number
        {"usage": "oneway"},                                                 # no greenpin_id
        {"greenpin_id": x["greenpin_id"], "deallocation_policy": {"duration": "1h"}},
    ]}), 6, 1)
    assert (e[0]["status"], e[0]["code"]) == (400, 3), e[0]
    assert (e[1]["status"], e[1]["code"]) == (410, 22), e[1]
    assert (e[2]["status"], e[2]["code"]) == (403, 8), e[2]
    assert (e[3]["status"], e[3]["code"]) == (400, 16), e[3]
    assert e[4]["status"] == 400 and e[4]["code"] in (3, 5), e[4]
    assert e[5]["status"] == 200


def test_bulk_over_limit_is_413_code_17(server, dealer):
    v = dealer.take("demo")[0]
    x = make(server, v)
    items = [{"greenpin_id": x["greenpin_id"], "usage": "oneway"} for _ in range(101)]
    err(server.bulk({"greenpins": items}), 413, 17)
    assert ok(server.get(x["greenpin_id"]))["usage"] == "twoway", "a refused bulk changes nothing"
    bulk_ok(server.bulk({"greenpins": items[:100]}), 100, 100)


def test_tenant_bulk_limit(server, dealer):
    v = dealer.take("acme")[0]
    x = make(server, v, tenant="acme")
    items = [{"greenpin_id": x["greenpin_id"], "usage": "oneway"} for _ in range(4)]
    err(server.bulk({"greenpins": items}, tenant="acme"), 413, 17)
    assert ok(server.get(x["greenpin_id"], tenant="acme"))["usage"] == "twoway"
    bulk_ok(server.bulk({"greenpins": items[:3]}, tenant="acme"), 3, 3)


def test_bulk_malformed_is_code_5(server):
    for body in ['{"greenpins": ', '{"greenpins": {}}', '{"greenpins": "x"}', '[]', '{"greenpins": [1, "a"]}']:
        r = server.bulk(body)
        if r.status == 200:  # an item that is not an object may fail alone
            assert all(e["code"] == 5 for e in r.json["response"]), (body, r)
        else:
            err(r, 400, 5)


def test_bulk_vns_follow(server, dealer):
    v1, v2 = dealer.take("demo", 2)
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v1]}, "b": {"numbers": [number()]}}))
    e = bulk_ok(server.bulk({"greenpins": [{"greenpin_id": d["greenpin_id"], "a": {"vns": [v2]}}]}), 1, 1)
    assert vns(e[0]["data"], "b") == [v2]
