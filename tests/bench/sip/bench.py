#!/usr/bin/env python3
"""Helpers for the call benchmarks (standard library only).

  bench.py alloc HTTP_PORT TENANT KEY TOKEN VN_FIRST VN_COUNT N CSV [RTP_BASE [RTP_STEP]]
      creates N direct allocations (A +9190xxxxxxxx, VN round-robin over the
      pool, B +9180xxxxxxxx) from 16 threads and writes SIPp's caller
      injection file: "caller;vn;rtp_port" (rtp_port = RTP_BASE + RTP_STEP*i,
      RTP_STEP 2 by default, 0 for one port for every call; a fixed 4000
      without RTP_BASE). Prints "BENCH created=N seconds=S".
  bench.py rtt FILE...
      SIPp -trace_rtt files: prints "n=... p50_ms=... p99_ms=... max_ms=...".
  bench.py stat FILE
      the last line of a SIPp -trace_stat file: prints "created=...
      succeeded=... failed=... retrans=... recv_timeouts=... unexpected=...
      elapsed=SECONDS".
"""
import base64
import concurrent.futures
import csv
import json
import sys
import time
import urllib.request


def alloc(args):
    port, tenant, key, token, vn_first, vn_count, n, out = args[:8]
    rtp_base = int(args[8]) if len(args) > 8 else None
    rtp_step = int(args[9]) if len(args) > 9 else 2
    vn_first, vn_count, n = int(vn_first), int(vn_count), int(n)
    auth = "Basic " + base64.b64encode(("%s:%s" % (key, token)).encode()).decode()
    url = "http://127.0.0.1:%s/v1/tenants/%s/greenpin" % (port, tenant)
    rows = []
    for i in range(n):
        rows.append(("+9190%08d" % i, "+%d" % (vn_first + i % vn_count), "+9180%08d" % i))

    def create(i):
        a, vn, b = rows[i]
        body = json.dumps({"transaction_id": "bench-%d-%d" % (time.time_ns(), i),
                           "a": {"numbers": [a], "vns": [vn]}, "b": {"numbers": [b]},
                           "usage": "twoway"}).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Authorization": auth, "Content-Type": "application/json"})
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    r.read()
                    return True
            except Exception as e:  # noqa: BLE001 - report after retries
                err = e
                time.sleep(0.2)
        detail = err.read().decode(errors="replace") if hasattr(err, "read") else str(err)
        sys.stderr.write("create %d failed: %s\n" % (i, detail))
        return False

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        ok = sum(ex.map(create, range(n)))
    secs = time.monotonic() - t0
    with open(out, "w") as f:
        f.write("SEQUENTIAL\n")
        for i, (a, vn, _) in enumerate(rows):
            f.write("%s;%s;%d;\n" % (a, vn, 4000 if rtp_base is None else rtp_base + rtp_step * i))
    print("BENCH created=%d seconds=%.2f" % (ok, secs))
    return 0 if ok == n else 1


def pct(v, p):
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def rtt(files):
    vals = []
    for fn in files:
        with open(fn) as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) < 2:
                    continue
                try:
                    vals.append(float(row[1]))
                except ValueError:
                    pass  # the header
    vals.sort()
    print("n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f"
          % (len(vals), pct(vals, 50), pct(vals, 99), vals[-1] if vals else float("nan")))
    return 0


def stat(fn):
    with open(fn) as f:
        rows = [r for r in csv.reader(f, delimiter=";") if r]
    head, last = rows[0], rows[-1]
    col = {h: i for i, h in enumerate(head)}

    def get(name):
        return last[col[name]] if name in col and col[name] < len(last) else "0"
    def secs(v):  # SIPp durations: HH:MM:SS or HH:MM:SS:micros
        p = v.split(":")
        try:
            s = int(p[0]) * 3600 + int(p[1]) * 60 + int(p[2])
            return s + (int(p[3]) / 1e6 if len(p) > 3 else 0)
        except (IndexError, ValueError):
            return 0
    print("created=%s succeeded=%s failed=%s retrans=%s recv_timeouts=%s unexpected=%s elapsed=%.0f"
          % (get("TotalCallCreated"), get("SuccessfulCall(C)"), get("FailedCall(C)"),
             get("Retransmissions(C)"), get("FailedTimeoutOnRecv(C)"),
             get("FailedUnexpectedMessage(C)"), secs(get("ElapsedTime(C)"))))
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "alloc":
        sys.exit(alloc(sys.argv[2:]))
    if cmd == "rtt":
        sys.exit(rtt(sys.argv[2:]))
    if cmd == "stat":
        sys.exit(stat(sys.argv[2]))
    sys.exit("unknown command " + cmd)
