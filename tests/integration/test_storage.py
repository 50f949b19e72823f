"""Code 0: a full LMDB map answers 500 "storage full" for writes while reads
go on; restarting keeps what was stored."""
import threading
import time

from pbdata import TRUNK, err, numbers, ok, txn

CONF = ('sweep_interval = "100ms";\nstore = { map_size = "1M"; };\n' + TRUNK +
        'tenants = ( { id = "demo"; api_key = "demo-key"; api_token = "demo-token"; country = "91";\n'
        '  vns = ["+916292134400-+916292134499"]; } );\n')


def test_storage_full(make_server):
    s = make_server(CONF)
    lock = threading.Lock()
    made, full = [], []
    stop = threading.Event()
    others = []

    def worker(k):
        for i in range(3000):
            if stop.is_set():
                return
            t = txn("full").ljust(128, "f")
            r = s.create({"transaction_id": t,
                          "a": {"vns": ["+9162921344%02d" % ((k * 31 + i) % 100)], "numbers": numbers(10)},
                          "b": {"numbers": numbers(10)}}, timeout=30)
            with lock:
                if r.status == 200:
                    made.append(r.json["data"])
                elif r.status == 500:
                    full.append((t, r))
                    stop.set()
                else:
                    others.append(r)
                    stop.set()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(150)
    assert not any(t.is_alive() for t in ts)
    assert not others, others[:3]
    assert full, "1 MiB map never filled after %d creates" % len(made)
    assert made, "nothing fitted in the map at all"
    t, r = full[0]
    j = err(r, 500, 0)
    assert "storage full" in j["message"].lower(), j

    # nothing of the refused create was stored
    assert s.list_all("transaction_id=" + t) == []
    # reads go on
    assert s.request("GET", "/healthz", auth=False).status == 200
    for d in made[:20]:
        assert ok(s.get(d["greenpin_id"])) == d
    # further writes keep failing cleanly with the same code, the server stays up
    r = s.create({"transaction_id": txn().ljust(128, "g"), "a": {"vns": ["+916292134400"], "numbers": numbers(10)},
                  "b": {"numbers": numbers(10)}})
    if r.status != 200:
        err(r, 500, 0)
    assert s.alive()
    # restart: what was acknowledged is there
    assert s.stop() == 0
    s.start()
    for d in made[-20:]:
        assert ok(s.get(d["greenpin_id"]))["state"] == "active"
    time.sleep(0.1)
    assert s.stop() == 0
    # the operator's fix: a bigger map_size and a restart
    s.write_config(CONF.replace('map_size = "1M"', 'map_size = "64M"'))
    s.start()
    for d in made[:5]:
        assert ok(s.get(d["greenpin_id"])) == d
    ok(s.create({"transaction_id": t, "a": {"vns": ["+916292134400"], "numbers": numbers(10)},
                 "b": {"numbers": numbers(10)}}))
    assert s.stop() == 0
