"""Races the writer thread must settle: uniqueness checks (18, 19, 4) run
inside the write transaction, so of concurrent contenders exactly one wins."""
import threading

from pbdata import err, number, ok, txn


def race(n, fn):
    """Runs fn(i) in n threads released together; returns their results in order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait(30)
        try:
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported by the caller's asserts
            out[i] = e

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "requests hung"
    for r in out:
        assert not isinstance(r, Exception), r
    return out


def test_same_transaction_id_concurrently(server, dealer):
    v = dealer.take("demo")[0]
    for _ in range(3):
        t = txn()
        rs = race(12, lambda i: server.create({"transaction_id": t, "a": {"vns": [v]},
                                               "b": {"numbers": [number()]}}))
        wins = [r for r in rs if r.status == 200]
        assert len(wins) == 1, [r.status for r in rs]
        gid = wins[0].json["data"]["greenpin_id"]
        for r in rs:
            if r.status != 200:
                j = err(r, 409, 18)
                assert j["data"]["greenpin_id"] == gid
        assert [x["greenpin_id"] for x in server.list_all("transaction_id=" + t)] == [gid]


def test_same_given_pin_concurrently(server, dealer):
    v = dealer.take("demo")[0]
    rs = race(12, lambda i: server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "4321"[:2 + i % 3]},
                                           "b": {"numbers": [number()]}}))
    wins = [r for r in rs if r.status == 200]
    assert len(wins) == 1, [r.status for r in rs]  # 43, 432, 4321 are prefixes of each other
    for r in rs:
        if r.status != 200:
            err(r, 452, 4)


def test_same_direct_number_concurrently(server, dealer):
    v = dealer.take("nopin")[0]
    n = number()
    rs = race(12, lambda i: server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": [number()]},
                                           "b": {"numbers": [n]}}, tenant="nopin"))
    assert sum(r.status == 200 for r in rs) == 1, [r.status for r in rs]
    for r in rs:
        if r.status != 200:
            err(r, 409, 19)


def test_updates_racing_for_one_pin(server, dealer):
    v = dealer.take("demo")[0]
    # Given PINs, not generated ones: a random 6-digit PIN starting with "77"
    # would rightly block "77" for everybody else.
    ids = [ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "10000%d" % i},
                             "b": {"numbers": [number()]}}))["greenpin_id"] for i in range(10)]
    rs = race(10, lambda i: server.update(ids[i], {"a": {"pin": "77"}}))
    assert sum(r.status == 200 for r in rs) == 1, [r.status for r in rs]
    holders = [g for g in ids if ok(server.get(g))["a"]["pin"] == "77"]
    assert len(holders) == 1


def test_updates_of_one_allocation_serialise(server, dealer):
    """Concurrent number adds to one side: each acknowledged add is in the result."""
    v = dealer.take("demo")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": []}, "b": {"numbers": [number()]}}))
    new = [number() for _ in range(8)]
    rs = race(8, lambda i: server.add_number(d["greenpin_id"], "a", new[i]))
    assert all(r.status == 200 for r in rs), rs
    assert sorted(ok(server.get(d["greenpin_id"]))["a"]["numbers"]) == sorted(new)


def test_delete_and_update_race(server, dealer):
    v = dealer.take("demo")[0]
    for _ in range(5):
        d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}))
        rs = race(2, lambda i: server.delete(d["greenpin_id"]) if i == 0
                  else server.update(d["greenpin_id"], {"usage": "oneway"}))
        assert rs[0].status == 200
        assert rs[1].status in (200, 410), rs[1]
        g = ok(server.get(d["greenpin_id"]))
        assert g["state"] == "vault"


def test_many_connections_at_once(server):
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": ["+916292134430"]}, "b": {"numbers": [number()]}}))
    rs = race(64, lambda i: server.get(d["greenpin_id"]))
    assert all(r.status == 200 and r.json["data"] == d for r in rs)
