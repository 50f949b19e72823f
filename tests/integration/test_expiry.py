"""Expiry: the sweeper deallocates at deallocation_time exactly as DELETE
does, also across a restart."""
import time

from pbdata import config_text, err, number, ok, parse_time, txn


def wait_state(server, gid, state, deadline_s=10.0, tenant="demo"):
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        last = ok(server.get(gid, tenant=tenant))
        if last["state"] == state:
            return last
        time.sleep(0.1)
    raise AssertionError("allocation %s not %s within %ss: %r" % (gid, state, deadline_s, last))


def test_one_second_duration_expires(server, dealer):
    v = dealer.take("demo")[0]
    n = number()
    t = txn()
    t0 = time.monotonic()
    d = ok(server.create({"transaction_id": t, "a": {"vns": [v], "pin": "8080"}, "b": {"numbers": [n]},
                          "deallocation_policy": {"duration": "2s"}}))
    first = ok(server.get(d["greenpin_id"]))
    if time.monotonic() - t0 < 1.5:
        assert first["state"] == "active", "expired before its deallocation_time"
    g = wait_state(server, d["greenpin_id"], "vault")
    assert time.monotonic() - t0 >= 1.0, "expired too early"
    assert g["greenpin_id"] == d["greenpin_id"] and g["b"]["numbers"] == [n]
    # exactly as DELETE: PIN, numbers and transaction_id are free again
    d2 = ok(server.create({"transaction_id": t, "a": {"vns": [v], "pin": "8080"}, "b": {"numbers": [n]}}))
    assert d2["greenpin_id"] != d["greenpin_id"]
    err(server.update(d["greenpin_id"], {"usage": "oneway"}), 410, 22)
    err(server.delete(d["greenpin_id"]), 410, 22)
    assert d["greenpin_id"] in [r["greenpin_id"] for r in server.list_all("state=vault&transaction_id=" + t)]


def test_one_second_expiry_and_pin_reuse(server, dealer):
    v = dealer.take("demo")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "9"}, "b": {"numbers": [number()]},
                          "deallocation_policy": {"duration": "1s"}}))
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "91"},
                       "b": {"numbers": [number()]}}), 452, 4)
    wait_state(server, d["greenpin_id"], "vault")
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "91"}, "b": {"numbers": [number()]}}))


def test_update_extends_life(server, dealer):
    v = dealer.take("demo")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]},
                          "deallocation_policy": {"duration": "3s"}}))
    u = ok(server.update(d["greenpin_id"], {"deallocation_policy": {"duration": "1h"}}))
    assert parse_time(u["deallocation_time"]) > time.time() + 3000
    time.sleep(4.2)
    assert ok(server.get(d["greenpin_id"]))["state"] == "active", "the old deallocation_time still fired"


def test_expiry_across_restart(make_server, tmp_path):
    s = make_server(config_text(tenants=["demo"], hashed=False, sweep="100ms"))
    v = "+916292134450"
    n = number()
    d = ok(s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "246"}, "b": {"numbers": [n]},
                     "deallocation_policy": {"duration": "2s"}}))
    keep = ok(s.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}))
    assert s.stop() == 0
    exp = parse_time(d["deallocation_time"])
    while time.time() < exp + 1.5:
        time.sleep(0.2)
    s.start()
    wait_state(s, d["greenpin_id"], "vault")
    assert ok(s.get(keep["greenpin_id"]))["state"] == "active"
    ok(s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "246"}, "b": {"numbers": [n]}}))
    assert s.stop() == 0


def test_retention_purges_vault_records(make_server):
    from pbdata import TRUNK
    conf = ('sweep_interval = "100ms";\n' + TRUNK +
            'tenants = ( { id = "demo"; api_key = "demo-key"; api_token = "demo-token"; country = "91";\n'
            '  vns = ["+916292134400-+916292134499"];\n'
            '  deallocation = { default = "1s"; max = "1h"; retention = "1s"; }; } );\n')
    s = make_server(conf)
    d = ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134400"]}, "b": {"numbers": [number()]}}))
    assert parse_time(d["deallocation_time"]) <= time.time() + 5, "tenant default duration is 1s"
    err(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134400"]}, "b": {"numbers": [number()]},
                  "deallocation_policy": {"duration": "2h"}}), 400, 5)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        r = s.get(d["greenpin_id"])
        if r.status == 404:
            break
        assert ok(r)["state"] in ("active", "vault")
        time.sleep(0.1)
    err(s.get(d["greenpin_id"]), 404, 1)
    assert s.list_all() == []
    assert s.stop() == 0


def test_many_expire_together(server, dealer):
    v = dealer.take("demo")[0]
    made = [ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]},
                              "deallocation_policy": {"duration": "1s"}}))["greenpin_id"] for _ in range(40)]
    end = time.monotonic() + 15
    while time.monotonic() < end:
        states = {ok(server.get(g))["state"] for g in made}
        if states == {"vault"}:
            break
        time.sleep(0.2)
    assert states == {"vault"}
    assert [r for r in server.list_all("vn=%2B" + v[1:] + "&state=active")] == []


def test_extension_racing_the_sweeper_is_all_or_nothing(server, dealer):
    """A PUT that extends an allocation right at its deallocation_time either
    wins (200, stays active with the new time) or loses (410, vault)."""
    v = dealer.take("demo")[0]
    for k in range(4):
        d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]},
                              "deallocation_policy": {"duration": "1s"}}))
        time.sleep(0.85 + 0.07 * k)
        r = server.update(d["greenpin_id"], {"deallocation_policy": {"duration": "1h"}})
        time.sleep(1.3)
        g = ok(server.get(d["greenpin_id"]))
        if r.status == 200:
            assert g["state"] == "active", "acknowledged extension lost to the sweeper: %r" % g
            assert g["deallocation_time"] == r.json["data"]["deallocation_time"]
        else:
            err(r, 410, 22)
            assert g["state"] == "vault"
