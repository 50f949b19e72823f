"""GET /greenpin?…: list and search with filters and cursor paging."""
import time
from urllib.parse import quote

import pytest

from pbdata import err, fmt_time, national, number, ok, txn

T = "lister"


def q(v):
    return quote(v, safe="")


def make(server, v, **over):
    body = {"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}
    body.update(over)
    return ok(server.create(body, tenant=T))


def ids(recs):
    return [r["greenpin_id"] for r in recs]


def test_cursor_paging(server, dealer):
    v = dealer.take(T)[0]
    made = [make(server, v)["greenpin_id"] for _ in range(25)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "vn=%s&limit=10" % q(v) + ("&cursor=" + q(cursor) if cursor else "")
        data = ok(server.list(query, tenant=T), "GET")
        assert set(data) >= {"greenpins", "next_cursor"}
        assert len(data["greenpins"]) <= 10
        seen += ids(data["greenpins"])
        pages += 1
        cursor = data["next_cursor"]
        if not cursor:
            break
        assert pages < 10, "paging does not end"
    assert pages == 3, "25 items at 10 a page"
    assert len(seen) == 25 and set(seen) == set(made)


def test_paging_is_stable_while_items_are_added(server, dealer):
    v = dealer.take(T)[0]
    made = [make(server, v)["greenpin_id"] for _ in range(6)]
    first = ok(server.list("vn=%s&limit=3" % q(v), tenant=T))
    more = [make(server, v)["greenpin_id"] for _ in range(2)]
    rest = server.list_all("vn=%s&cursor=%s" % (q(v), q(first["next_cursor"])), tenant=T, limit=3)
    got = ids(first["greenpins"]) + ids(rest)
    assert len(got) == len(set(got)), "an item was listed twice"
    assert set(made) <= set(got) and set(got) <= set(made + more)


def test_filters(server, dealer):
    v1, v2 = dealer.take(T, 2)
    x = number()
    a = make(server, v1, a={"vns": [v1], "numbers": [x]})
    b = make(server, v2, b={"numbers": [x]})
    c = make(server, v1)
    ok(server.delete(c["greenpin_id"], tenant=T))

    assert set(ids(server.list_all("number=" + q(x), tenant=T))) == {a["greenpin_id"], b["greenpin_id"]}
    assert set(ids(server.list_all("number=" + q(national(x)), tenant=T))) == \
        {a["greenpin_id"], b["greenpin_id"]}, "the filter's number is normalised like any number"
    assert set(ids(server.list_all("vn=" + q(v1), tenant=T))) == {a["greenpin_id"], c["greenpin_id"]}
    assert set(ids(server.list_all("vn=%s&state=active" % q(v1), tenant=T))) == {a["greenpin_id"]}
    vault = server.list_all("vn=%s&state=vault" % q(v1), tenant=T)
    assert ids(vault) == [c["greenpin_id"]] and vault[0]["state"] == "vault"
    assert ids(server.list_all("transaction_id=" + q(b["transaction_id"]), tenant=T)) == [b["greenpin_id"]]
    assert server.list_all("vn=%s&number=%s" % (q(v2), q(x)), tenant=T)[0]["greenpin_id"] == b["greenpin_id"]
    assert server.list_all("transaction_id=" + q(txn()), tenant=T) == []
    # records in a list are full records
    assert [r for r in server.list_all("transaction_id=" + q(a["transaction_id"]), tenant=T)] == [a]


def test_state_filter_over_tenant(server, dealer):
    v = dealer.take(T)[0]
    d = make(server, v)
    ok(server.delete(d["greenpin_id"], tenant=T))
    assert all(r["state"] == "active" for r in server.list_all("state=active", tenant=T))
    vault = server.list_all("state=vault", tenant=T)
    assert all(r["state"] == "vault" for r in vault) and d["greenpin_id"] in ids(vault)
    err(server.list("state=deleted", tenant=T), 400, 5)


def test_created_range(server, dealer):
    v = dealer.take(T)[0]
    now = time.time()
    d = make(server, v)
    base = "vn=" + q(v)
    inside = "%s&created_from=%s&created_to=%s" % (base, q(fmt_time(now - 3600)), q(fmt_time(now + 3600)))
    assert ids(server.list_all(inside, tenant=T)) == [d["greenpin_id"]]
    assert server.list_all("%s&created_from=%s" % (base, q(fmt_time(now + 3600))), tenant=T) == []
    assert server.list_all("%s&created_to=%s" % (base, q(fmt_time(now - 3600))), tenant=T) == []
    bad = "created_from=%s&created_to=%s" % (q(fmt_time(now + 3600)), q(fmt_time(now - 3600)))
    err(server.list(bad, tenant=T), 400, 23)


def test_malformed_date(server):
    r = server.list("created_from=yesterday", tenant=T)
    assert r.status == 400 and r.json["code"] in (5, 23), r


@pytest.mark.parametrize("limit", ["501", "0", "-1", "ten", "1e3", "100000000000000000000"])
def test_bad_limit_is_code_5(server, limit):
    err(server.list("limit=" + limit, tenant=T), 400, 5)


def test_limit_bounds(server, dealer):
    v = dealer.take(T)[0]
    for _ in range(3):
        make(server, v)
    assert len(ok(server.list("vn=%s&limit=1" % q(v), tenant=T))["greenpins"]) == 1
    assert len(ok(server.list("vn=%s&limit=500" % q(v), tenant=T))["greenpins"]) == 3


@pytest.mark.parametrize("query", ["foo=bar", "greenpin_id=x", "State=active", "number=%2B919800000000&page=2"])
def test_unknown_filter_is_code_2(server, query):
    err(server.list(query, tenant=T), 400, 2)


def test_list_only_own_tenant(server, dealer):
    v = dealer.take(T)[0]
    d = make(server, v)
    assert d["greenpin_id"] not in ids(server.list_all(tenant="demo"))
    r = server.list("vn=" + q(v), tenant="demo")  # another tenant's VN: empty, or refused
    if r.status == 200:
        assert d["greenpin_id"] not in ids(r.json["data"]["greenpins"])
    else:
        assert r.status in (400, 403), r


def test_dates_are_in_the_tenants_timezone(server, dealer):
    v = dealer.take("acme")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}, tenant="acme"))
    now = time.time()
    ist = 5 * 3600 + 1800

    def found(ts):
        return d["greenpin_id"] in ids(server.list_all("vn=%s&created_from=%s" % (q(v), q(ts)), tenant="acme"))

    assert not found(fmt_time(now + 3600, ist)), "acme's dates are +05:30"
    assert found(fmt_time(now - 3600, ist))
    assert found(fmt_time(now + 3600))  # read as +05:30 this is 4.5 h ago
