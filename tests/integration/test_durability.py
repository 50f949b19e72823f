"""kill -9 in the middle of concurrent creates and deletes: every
acknowledged change survives, nothing unacknowledged is half-applied, and
the indexes agree with the records."""
import threading
import time

from pbdata import config_text, err, number, ok, txn

VNS = ["+9162921344%02d" % i for i in range(20)]


def prefix_clash(a, b):
    return a.startswith(b) or b.startswith(a)


def test_sigkill_during_writes(make_server):
    s = make_server(config_text(tenants=["demo"], hashed=False))
    lock = threading.Lock()
    attempted = {}      # txn -> body (creates sent, answered or not)
    acked = {}          # txn -> record of a 200 create
    del_attempted = set()
    del_acked = set()   # greenpin_ids whose DELETE got 200
    stop = threading.Event()
    problems = []

    def worker(k):
        i = 0
        while not stop.is_set() and i < 5000:
            i += 1
            t = txn("dur%d" % k)
            body = {"transaction_id": t, "a": {"vns": [VNS[(k * 7 + i) % len(VNS)]], "numbers": [number()]},
                    "b": {"numbers": [number()]}}
            with lock:
                attempted[t] = body
            try:
                r = s.create(body, timeout=10)
            except OSError:
                continue
            if r.status == 200:
                with lock:
                    acked[t] = r.json["data"]
            elif r.status != 452:  # a VN's 4-digit space will not run out, but be lenient
                with lock:
                    problems.append(r)
                continue
            if i % 3 == 0:
                with lock:
                    victims = [d for tt, d in acked.items() if d["greenpin_id"] not in del_attempted]
                    victim = victims[(k + i) % len(victims)] if victims else None
                    if victim:
                        del_attempted.add(victim["greenpin_id"])
                if victim:
                    try:
                        r = s.delete(victim["greenpin_id"], timeout=10)
                    except OSError:
                        continue
                    if r.status == 200:
                        with lock:
                            del_acked.add(victim["greenpin_id"])

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(6)]
    for t in threads:
        t.start()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        with lock:
            if len(acked) >= 150 and len(del_acked) >= 30:
                break
        time.sleep(0.05)
    s.kill()  # SIGKILL while the workers are still sending
    stop.set()
    for t in threads:
        t.join(30)
    assert not problems, problems[:5]
    assert len(acked) >= 150 and len(del_acked) >= 30, "too little traffic before the kill: %d/%d" % (
        len(acked), len(del_acked))

    s.start()
    by_id = {d["greenpin_id"]: d for d in acked.values()}

    # every acknowledged create is there, active unless a delete was attempted
    for t, d in acked.items():
        g = ok(s.get(d["greenpin_id"]))
        for k in ("greenpin_id", "transaction_id", "a", "b", "usage"):
            if k == "a" or k == "b":
                assert g[k]["numbers"] == d[k]["numbers"] and g[k]["vns"] == d[k]["vns"], (g, d)
                assert g[k].get("pin") == d[k].get("pin"), (g, d)
            else:
                assert g[k] == d[k], (k, g, d)
        if d["greenpin_id"] in del_acked:
            assert g["state"] == "vault", "acknowledged DELETE lost: %r" % g
        elif d["greenpin_id"] not in del_attempted:
            assert g["state"] == "active", "acknowledged create lost its state: %r" % g

    # everything stored was at least attempted, and is complete and consistent
    listed = s.list_all()
    assert {x["greenpin_id"] for x in listed} >= set(by_id)
    active = []
    for x in listed:
        t = x["transaction_id"]
        assert t in attempted, "an allocation nobody asked for: %r" % x
        sent = attempted[t]
        assert x["a"]["numbers"] == sent["a"]["numbers"] and x["b"]["numbers"] == sent["b"]["numbers"], x
        assert x["a"]["vns"] == sent["a"]["vns"] and x["b"]["vns"] == sent["a"]["vns"], x
        assert x["a"]["pin"].isdigit() and len(x["a"]["pin"]) == 4, x
        assert ok(s.get(x["greenpin_id"])) == x
        if x["state"] == "active":
            active.append(x)
            if x["greenpin_id"] in del_acked:
                raise AssertionError("acknowledged delete undone: %r" % x)
        else:
            assert x["state"] == "vault"
            assert x["greenpin_id"] in del_attempted, "vault without a DELETE: %r" % x

    # indexes: transaction_id, PIN and number entries of every active allocation
    for x in active:
        j = err(s.create({"transaction_id": x["transaction_id"], "a": {"vns": x["a"]["vns"]},
                          "b": {"numbers": [number()]}}), 409, 18)
        assert j["data"]["greenpin_id"] == x["greenpin_id"], j
    for x in active[:40]:
        err(s.create({"transaction_id": txn(), "a": {"vns": x["a"]["vns"], "pin": x["a"]["pin"]},
                      "b": {"numbers": [number()]}}), 452, 4)
        err(s.create({"transaction_id": txn(), "a": {"vns": x["a"]["vns"]},
                      "b": {"numbers": x["b"]["numbers"]}}), 409, 19)
    # vault ones freed their PIN and numbers (unless an active one clashes on that VN)
    vault = [x for x in listed if x["state"] == "vault"]
    for x in vault[:20]:
        v = x["a"]["vns"][0]
        if any(y["a"]["vns"][0] == v and prefix_clash(y["a"]["pin"], x["a"]["pin"]) for y in active):
            continue
        d = ok(s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": x["a"]["pin"]},
                         "b": {"numbers": x["b"]["numbers"]}}))
        active.append(d)
    assert s.stop() == 0


def test_clean_restart_keeps_everything(make_server):
    s = make_server(config_text(tenants=["demo"], hashed=False))
    v1, v2, v3 = "+916292134401", "+916292134402", "+916292134403"
    follow = ok(s.create({"transaction_id": txn(), "a": {"vns": [v1], "pin": "777"}, "b": {"numbers": [number()]}}))
    n = number()
    direct = ok(s.create({"transaction_id": txn(), "a": {"vns": [v2]}, "b": {"numbers": [n]}}))
    gone = ok(s.create({"transaction_id": txn(), "a": {"vns": [v2]}, "b": {"numbers": [number()]}}))
    ok(s.delete(gone["greenpin_id"]))
    assert s.stop() == 0
    s.start()
    assert ok(s.get(follow["greenpin_id"])) == follow
    assert ok(s.get(direct["greenpin_id"])) == direct
    assert ok(s.get(gone["greenpin_id"]))["state"] == "vault"
    # the follow flag survived: b moves with a
    u = ok(s.update(follow["greenpin_id"], {"a": {"vns": [v3]}}))
    assert u["b"]["vns"] == [v3]
    # indexes survived
    err(s.create({"transaction_id": txn(), "a": {"vns": [v3], "pin": "77"}, "b": {"numbers": [number()]}}), 452, 4)
    err(s.create({"transaction_id": txn(), "a": {"vns": [v2]}, "b": {"numbers": [n]}}), 409, 19)
    j = err(s.create({"transaction_id": direct["transaction_id"], "a": {"vns": [v2]},
                      "b": {"numbers": [number()]}}), 409, 18)
    assert j["data"]["greenpin_id"] == direct["greenpin_id"]
    assert s.stop() == 0
