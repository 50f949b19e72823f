"""GET and DELETE of one allocation, through /greenpin and /greenvn."""
import uuid

import pytest

from pbdata import err, number, ok, pool, txn


def make(server, dealer=None, **kw):
    v = dealer.take("demo")[0] if dealer else pool("demo")[6]
    body = {"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}
    body["a"].update(kw)
    return ok(server.create(body))


@pytest.mark.parametrize("prefix", ["greenpin", "greenvn"])
def test_get_and_delete(server, prefix):
    d = make(server)
    base = "/v1/tenants/demo/%s/%s" % (prefix, d["greenpin_id"])
    assert ok(server.request("GET", base), "GET") == d
    dl = ok(server.request("DELETE", base), "DELETE")
    assert dl["state"] == "vault"
    assert {k: v for k, v in dl.items() if k not in ("state", "deallocation_time")} == \
        {k: v for k, v in d.items() if k not in ("state", "deallocation_time")}, \
        "DELETE answers with the record as it now is"
    g = ok(server.request("GET", base))
    assert g["state"] == "vault" and g["greenpin_id"] == d["greenpin_id"]
    assert g["b"]["numbers"] == d["b"]["numbers"]
    err(server.request("DELETE", base), 410, 22)


@pytest.mark.parametrize("gid", [str(uuid.uuid4()), "not-a-uuid", "0" * 36, "00000000-0000-0000-0000-000000000000"])
def test_unknown_ids_are_404_code_1(server, gid):
    err(server.get(gid), 404, 1)
    err(server.delete(gid), 404, 1)
    err(server.request("GET", "/v1/tenants/demo/greenvn/" + gid), 404, 1)
    err(server.update(gid, {"usage": "oneway"}), 404, 1)


def test_delete_frees_pin_numbers_and_transaction_id(server, dealer):
    v = dealer.take("demo")[0]
    n = number()
    t = txn()
    d = ok(server.create({"transaction_id": t, "a": {"vns": [v], "pin": "4711"}, "b": {"numbers": [n]}}))
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "4711"},
                       "b": {"numbers": [number()]}}), 452, 4)
    err(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [n]}}), 409, 19)
    ok(server.delete(d["greenpin_id"]))
    d2 = ok(server.create({"transaction_id": t, "a": {"vns": [v], "pin": "4711"}, "b": {"numbers": [n]}}))
    assert d2["greenpin_id"] != d["greenpin_id"] and d2["a"]["pin"] == "4711"
    # the vault record is unchanged by the new one
    g = ok(server.get(d["greenpin_id"]))
    assert g["state"] == "vault" and g["a"]["pin"] == "4711"


def test_number_and_pin_endpoints_refuse_vault(server):
    d = make(server)
    ok(server.delete(d["greenpin_id"]))
    err(server.add_number(d["greenpin_id"], "a", number()), 410, 22)
    err(server.remove_number(d["greenpin_id"], "b", d["b"]["numbers"][0]), 410, 22)
    r = server.bulk({"greenpins": [{"greenpin_id": d["greenpin_id"], "usage": "oneway"}]})
    assert r.status == 200 and r.json["response"][0]["code"] == 22 and r.json["response"][0]["status"] == 410, r
