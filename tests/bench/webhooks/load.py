#!/usr/bin/env python3
"""Webhook benchmark load and figures (stdlib only).

N deallocations against a running pinbridge: THREADS workers, each on its own
keep-alive connection, create an allocation and DELETE it at once; the wall
time at which each DELETE's 200 arrived (the commit of the deallocation and
its event) is noted. Then it waits until the receiver (receiver_mhd) has seen
every event, fetches its arrival times, and prints one line of figures.

MODE live: the receiver answers at once while the load runs:
  delivered_per_s = events / (last arrival - first DELETE answered);
  latency = arrival - DELETE answered, per greenpin_id (first arrival).
MODE backlog: the receiver holds every POST unanswered while the load runs
  (so pinbridge's queue backs up behind its `concurrency` requests in
  flight), then answers them all at once (release):
  delivered_per_s = events / (last arrival - release): the drain rate.

  BENCH mode=.. n=.. committed=.. delivered=.. missing=.. duplicates=.. failures=..
        api_seconds=.. deletes_per_s=.. window_seconds=.. delivered_per_s=..
        p50_ms=.. p99_ms=.. max_ms=..

Usage: load.py MODE API_PORT RECEIVER_PORT TENANT KEY TOKEN VN_FIRST VN_COUNT N THREADS TIMEOUT_S
"""
import base64
import http.client
import json
import sys
import threading
import time


def rx_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        return c.getresponse().read().decode()
    finally:
        c.close()


def main():
    (mode, api_port, rx_port, tenant, key, token, vn_first, vn_count, n, threads,
     timeout_s) = sys.argv[1:12]
    assert mode in ("live", "backlog"), mode
    api_port, rx_port, vn_first, vn_count = int(api_port), int(rx_port), int(vn_first), int(vn_count)
    n, threads, timeout_s = int(n), int(threads), float(timeout_s)
    auth = "Basic " + base64.b64encode(("%s:%s" % (key, token)).encode()).decode()
    base = "/v1/tenants/%s/greenpin" % tenant
    committed = {}  # greenpin_id -> unix seconds of the DELETE's 200
    failures = []
    lock = threading.Lock()

    def call(conn, method, path, body=None):
        hdrs = {"Authorization": auth}
        if body is not None:
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                conn.request(method, path, body=body, headers=hdrs)
                r = conn.getresponse()
                raw = r.read()
                return r.status, raw
            except (OSError, http.client.HTTPException):
                conn.close()
                if attempt == 2:
                    raise
        raise RuntimeError("unreachable")

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=60)
        try:
            for i in range(k, n, threads):
                body = {"transaction_id": "whbench-%s-%d" % (mode, i),
                        "a": {"vns": ["+%d" % (vn_first + i % vn_count)], "numbers": ["+9181%08d" % i]},
                        "b": {"numbers": ["+9171%08d" % i]},
                        "deallocation_policy": {"duration": "1h"}}
                st, raw = call(conn, "POST", base, body)
                if st != 200:
                    with lock:
                        failures.append(("create", st, raw[:200]))
                    continue
                gid = json.loads(raw)["data"]["greenpin_id"]
                st, raw = call(conn, "DELETE", base + "/" + gid)
                t = time.time()
                with lock:
                    if st == 200:
                        committed[gid] = t
                    else:
                        failures.append(("delete", st, raw[:200]))
        finally:
            conn.close()

    rx_get(rx_port, "/reset")
    if mode == "backlog":
        rx_get(rx_port, "/hold")
    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t1 = time.time()
    released = None
    if mode == "backlog":
        released = int(rx_get(rx_port, "/release").strip()) / 1e6
    for f in failures[:5]:
        print("load: %s answered %s: %r" % f, file=sys.stderr)

    want = len(committed)
    end = time.time() + timeout_s
    while time.time() < end:
        if int(rx_get(rx_port, "/count").strip() or 0) >= want:
            break
        time.sleep(0.05)
    arrivals = {}
    dups = 0
    for line in rx_get(rx_port, "/dump").splitlines():
        us, gid, _delivery = line.split(" ", 2)
        t = int(us) / 1e6
        if gid in arrivals:
            dups += 1
            arrivals[gid] = min(arrivals[gid], t)
        else:
            arrivals[gid] = t
    lat = sorted(arrivals[g] - committed[g] for g in committed if g in arrivals)
    got = len(lat)

    def pct(p):
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))] * 1000

    last_arrival = max(arrivals.values()) if arrivals else t1
    if mode == "live":
        start = min(committed.values()) if committed else t0
    else:
        start = released
    window = max(last_arrival - start, 1e-9)
    print("BENCH mode=%s n=%d committed=%d delivered=%d missing=%d duplicates=%d failures=%d "
          "api_seconds=%.2f deletes_per_s=%.0f window_seconds=%.2f delivered_per_s=%.0f "
          "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f"
          % (mode, n, want, got, want - got, dups, len(failures), t1 - t0, want / max(t1 - t0, 1e-9),
             window, got / window, pct(50), pct(99), (lat[-1] * 1000 if lat else float("nan"))))
    return 0 if got == want else 1


if __name__ == "__main__":
    sys.exit(main())
