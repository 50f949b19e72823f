"""kill -9 in the middle of concurrent creates and deletes: every
acknowledged change survives, nothing unacknowledged is half-applied, and
the indexes agree with the records."""
import threading
import time

from pbdata import config_text, err, number, ok, txn

VNS = ["+9162921344%02d" % i for i in range(20)]


def prefix_clash(a, b):
    return a.startswith(b) or b.startswith(a)


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}       # txn -> body (creates sent, answered or not)
        self.acked = {}           # txn -> record of a 200 create
        self.del_attempted = set()
        self.del_acked = set()    # greenpin_ids whose DELETE got 200
        self.problems = []


def traffic_then_kill(s, led, creates, deletes, nthreads=6):
    """Concurrent creates and deletes until this round saw enough
    acknowledgements, then SIGKILL while the clients are still sending."""
    stop = threading.Event()
    base_c, base_d = len(led.acked), len(led.del_acked)

    def worker(k):
        i = 0
        while not stop.is_set() and i < 5000:
            i += 1
            t = txn("dur%d" % k)
            body = {"transaction_id": t, "a": {"vns": [VNS[(k * 7 + i) % len(VNS)]], "numbers": [number()]},
                    "b": {"numbers": [number()]}}
            with led.lock:
                led.attempted[t] = body
            try:
                r = s.create(body, timeout=10)
            except OSError:
                continue
            if r.status == 200:
                with led.lock:
                    led.acked[t] = r.json["data"]
            else:
                with led.lock:
                    led.problems.append(r)
                continue
            if i % 3 == 0:
                with led.lock:
                    victims = [d for d in led.acked.values() if d["greenpin_id"] not in led.del_attempted]
                    victim = victims[(k + i) % len(victims)] if victims else None
                    if victim:
                        led.del_attempted.add(victim["greenpin_id"])
                if victim:
                    try:
                        r = s.delete(victim["greenpin_id"], timeout=10)
                    except OSError:
                        continue
                    if r.status == 200:
                        with led.lock:
                            led.del_acked.add(victim["greenpin_id"])

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(nthreads)]
    for t in threads:
        t.start()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        with led.lock:
            if len(led.acked) - base_c >= creates and len(led.del_acked) - base_d >= deletes:
                break
        time.sleep(0.02)
    s.kill()  # SIGKILL while the workers are still sending
    stop.set()
    for t in threads:
        t.join(30)
    assert not led.problems, led.problems[:5]
    assert len(led.acked) - base_c >= creates and len(led.del_acked) - base_d >= deletes, \
        "too little traffic before the kill: %d/%d" % (len(led.acked) - base_c, len(led.del_acked) - base_d)


def verify(s, led):
    # every acknowledged create is there, active unless a delete was attempted
    for t, d in led.acked.items():
        g = ok(s.get(d["greenpin_id"]))
        for k in ("greenpin_id", "transaction_id", "usage"):
            assert g[k] == d[k], (k, g, d)
        for k in ("a", "b"):
            assert g[k]["numbers"] == d[k]["numbers"] and g[k]["vns"] == d[k]["vns"], (g, d)
            assert g[k].get("pin") == d[k].get("pin"), (g, d)
        if d["greenpin_id"] in led.del_acked:
            assert g["state"] == "vault", "acknowledged DELETE lost: %r" % g
        elif d["greenpin_id"] not in led.del_attempted:
            assert g["state"] == "active", "acknowledged create lost its state: %r" % g

    # everything stored was at least attempted, and is complete and consistent
    listed = s.list_all()
    assert len({x["greenpin_id"] for x in listed}) == len(listed), "list repeats an allocation"
    assert {x["greenpin_id"] for x in listed} >= {d["greenpin_id"] for d in led.acked.values()}
    active = []
    for x in listed:
        t = x["transaction_id"]
        assert t in led.attempted, "an allocation nobody asked for: %r" % x
        sent = led.attempted[t]
        assert x["a"]["numbers"] == sent["a"]["numbers"] and x["b"]["numbers"] == sent["b"]["numbers"], x
        assert x["a"]["vns"] == sent["a"]["vns"] and x["b"]["vns"] == sent["a"]["vns"], x
        assert x["a"]["pin"].isdigit() and len(x["a"]["pin"]) == 4, x
        assert ok(s.get(x["greenpin_id"])) == x
        if x["state"] == "active":
            active.append(x)
            assert x["greenpin_id"] not in led.del_acked, "acknowledged delete undone: %r" % x
        else:
            assert x["state"] == "vault"
            assert x["greenpin_id"] in led.del_attempted, "vault without a DELETE: %r" % x
    by_txn = {}
    for x in active:
        assert x["transaction_id"] not in by_txn, "two active allocations with one transaction_id"
        by_txn[x["transaction_id"]] = x
    pins = {}
    for x in active:
        for other in pins.get(x["a"]["vns"][0], []):
            assert not prefix_clash(other, x["a"]["pin"]), "PINs %s and %s clash on %s" % (
                other, x["a"]["pin"], x["a"]["vns"][0])
        pins.setdefault(x["a"]["vns"][0], []).append(x["a"]["pin"])
    return listed, active


def test_sigkill_during_writes(make_server):
    s = make_server(config_text(tenants=["demo"], hashed=False))
    led = Ledger()
    traffic_then_kill(s, led, creates=300, deletes=80)
    s.start()
    verify(s, led)
    # a second crash on top of the recovered store
    traffic_then_kill(s, led, creates=300, deletes=80)
    s.start()
    listed, active = verify(s, led)

    # indexes: transaction_id, PIN and number entries of every active allocation
    for x in active:
        j = err(s.create({"transaction_id": x["transaction_id"], "a": {"vns": x["a"]["vns"]},
                          "b": {"numbers": [number()]}}), 409, 18)
        assert j["data"]["greenpin_id"] == x["greenpin_id"], j
    for x in active[:60]:
        err(s.create({"transaction_id": txn(), "a": {"vns": x["a"]["vns"], "pin": x["a"]["pin"]},
                      "b": {"numbers": [number()]}}), 452, 4)
        err(s.create({"transaction_id": txn(), "a": {"vns": x["a"]["vns"]},
                      "b": {"numbers": x["b"]["numbers"]}}), 409, 19)
    # vault ones freed their PIN and numbers (unless an active one clashes on that VN)
    vault = [x for x in listed if x["state"] == "vault"]
    for x in vault[:30]:
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


def test_sigterm_under_load(make_server):
    """SIGTERM while clients write: exit 0 promptly, and every acknowledged create is there."""
    s = make_server(config_text(tenants=["demo"], hashed=False))
    led = Ledger()
    stop = threading.Event()

    def worker(k):
        for i in range(3000):
            if stop.is_set():
                return
            t = txn("term%d" % k)
            body = {"transaction_id": t, "a": {"vns": [VNS[(k + i) % len(VNS)]]}, "b": {"numbers": [number()]}}
            with led.lock:
                led.attempted[t] = body
            try:
                r = s.create(body, timeout=10)
            except OSError:
                continue
            if r.status == 200:
                with led.lock:
                    led.acked[t] = r.json["data"]
            elif r.status != 503:  # refusing new work while shutting down is fine
                with led.lock:
                    led.problems.append(r)

    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(4)]
    for t in ts:
        t.start()
    end = time.monotonic() + 30
    while len(led.acked) < 100 and time.monotonic() < end:
        time.sleep(0.02)
    rc = s.stop(timeout=20)
    stop.set()
    for t in ts:
        t.join(30)
    assert rc == 0, "exit code %s on SIGTERM under load" % rc
    assert not led.problems, led.problems[:3]
    s.start()
    for d in led.acked.values():
        assert ok(s.get(d["greenpin_id"]))["state"] == "active"
    assert s.stop() == 0


def test_cooling_pin_survives_restart(make_server):
    from pbdata import TRUNK
    conf = (TRUNK + 'sweep_interval = "100ms";\n'
            'tenants = ( { id = "demo"; api_key = "demo-key"; api_token = "demo-token"; country = "91";\n'
            '  vns = ["+916292134400-+916292134499"]; pin = { cooloff = "6s"; }; } );\n')
    s = make_server(conf)
    v = "+916292134400"
    d = ok(s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "606"}, "b": {"numbers": [number()]}}))
    ok(s.delete(d["greenpin_id"]))
    t0 = time.monotonic()
    assert s.stop() == 0
    s.start()
    r = s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "606"}, "b": {"numbers": [number()]}})
    if time.monotonic() - t0 < 5:
        err(r, 452, 4)
    end = time.monotonic() + 20
    while r.status != 200 and time.monotonic() < end:
        time.sleep(0.2)
        r = s.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "606"}, "b": {"numbers": [number()]}})
    assert r.status == 200, "cooling PIN never released after restart: %r" % r
    assert s.stop() == 0
