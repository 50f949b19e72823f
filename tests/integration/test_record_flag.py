"""The allocation's "record" flag (beyond the reference): set on create,
update and bulk items, shown only when the allocation sets it, a JSON
boolean or code 5, and kept across a restart."""
import pytest

from pbdata import config_text, err, number, ok, txn

WRONG = [1, 0, "true", "yes", None, {}, [True]]


def body(dealer, **over):
    b = {"transaction_id": txn("rec"), "a": {"vns": dealer.take("demo"), "numbers": [number()]},
         "b": {"numbers": [number()]}}
    b.update(over)
    return b


def without_record(rec):
    return {k: v for k, v in rec.items() if k != "record"}


def test_omitted_follows_the_tenant_and_is_not_shown(server, dealer):
    d = ok(server.create(body(dealer)), "POST")
    assert "record" not in d, d
    assert list(d) == ["transaction_id", "greenpin_id", "a", "b", "usage", "state",
                       "deallocation_time"], "the reference's keys, in its order"
    assert ok(server.get(d["greenpin_id"])) == d


@pytest.mark.parametrize("flag", [True, False])
def test_create_sets_it(server, dealer, flag):
    d = ok(server.create(body(dealer, record=flag)), "POST")
    assert d["record"] is flag
    assert list(d)[-1] == "record", "after the reference's keys"
    assert ok(server.get(d["greenpin_id"])) == d
    listed = ok(server.list("transaction_id=" + d["transaction_id"]))["greenpins"]
    assert listed == [d]


def test_update_toggles_it_and_other_updates_keep_it(server, dealer):
    d = ok(server.create(body(dealer)))
    u = ok(server.update(d["greenpin_id"], {"record": True}), "PUT")
    assert u["record"] is True
    assert without_record(u) == d, "record alone changes nothing else"
    u = ok(server.update(d["greenpin_id"], {"record": False}))
    assert u["record"] is False
    u = ok(server.update(d["greenpin_id"], {"usage": "oneway"}))
    assert u["record"] is False and u["usage"] == "oneway"
    n = number()
    u = ok(server.add_number(d["greenpin_id"], "b", n))
    assert u["record"] is False and n in u["b"]["numbers"]
    assert ok(server.get(d["greenpin_id"])) == u
    # DELETE answers the record as it now is: the flag stays with it in the vault.
    v = ok(server.delete(d["greenpin_id"]))
    assert v["state"] == "vault" and v["record"] is False
    err(server.update(d["greenpin_id"], {"record": True}), 410, 22)


def test_nothing_to_update_names_record(server, dealer):
    d = ok(server.create(body(dealer)))
    j = err(server.update(d["greenpin_id"], {}), 400, 3)
    assert "record" in j["message"], j


@pytest.mark.parametrize("value", WRONG)
def test_wrong_type_is_code_5(server, dealer, value):
    b = body(dealer, record=value)
    j = err(server.create(b), 400, 5)
    assert j["message"] == "record must be true or false", j
    assert ok(server.list("transaction_id=" + b["transaction_id"]))["greenpins"] == []

    d = ok(server.create(body(dealer, record=True)))
    j = err(server.update(d["greenpin_id"], {"record": value, "usage": "oneway"}), 400, 5)
    assert j["message"] == "record must be true or false", j
    assert ok(server.get(d["greenpin_id"])) == d, "a refused update changes nothing"


def test_bulk_items(server, dealer):
    x, y, z = (ok(server.create(body(dealer))) for _ in range(3))
    r = server.bulk({"greenpins": [
        {"greenpin_id": x["greenpin_id"], "record": True},
        {"greenpin_id": y["greenpin_id"], "record": "on"},
        {"greenpin_id": z["greenpin_id"], "record": False, "usage": "oneway"},
    ]})
    assert r.status == 200, r
    j = r.json
    assert j["metadata"] == {"failed": 1, "total": 3, "success": 2}, j
    e = j["response"]
    assert e[0]["status"] == 200 and e[0]["data"]["record"] is True
    assert (e[1]["status"], e[1]["code"]) == (400, 5), e[1]
    assert e[1]["message"] == "record must be true or false"
    assert e[2]["status"] == 200 and e[2]["data"]["record"] is False
    assert e[2]["data"]["usage"] == "oneway"
    assert ok(server.get(x["greenpin_id"]))["record"] is True
    assert ok(server.get(y["greenpin_id"])) == y


def test_flag_survives_a_restart(make_server):
    s = make_server(config_text(tenants=["demo"], hashed=False))
    vns = ["+916292134460", "+916292134461", "+916292134462"]
    on, off, tenant = (ok(s.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [number()]},
                                    "b": {"numbers": [number()]}, **extra}))
                       for v, extra in zip(vns, ({"record": True}, {"record": False}, {})))
    assert s.stop() == 0
    s.start()
    assert ok(s.get(on["greenpin_id"]))["record"] is True
    assert ok(s.get(off["greenpin_id"]))["record"] is False
    assert "record" not in ok(s.get(tenant["greenpin_id"]))
