#!/usr/bin/env python3
"""Helpers for the call benchmarks (standard library only).

  bench.py alloc HTTP_PORT TENANT KEY TOKEN VN_FIRST VN_COUNT N CSV [RTP_BASE [RTP_STEP]] [pin=PIN]
      creates N direct allocations (A +9190xxxxxxxx, VN round-robin over the
      pool, B +9180xxxxxxxx) from 16 threads and writes SIPp's caller
      injection file: "caller;vn;rtp_port" (rtp_port = RTP_BASE + RTP_STEP*i,
      RTP_STEP 2 by default, 0 for one port for every call; a fixed 4000
      without RTP_BASE). With pin=PIN (anywhere after CSV), side A gets that
      PIN (for a tenant with pin.a on: A's calls go through the IVR) and a
      fourth field, the callee B, ends each line. Prints "BENCH created=N
      seconds=S".
  bench.py dtmfpcap DIGITS OUT [LEAD_MS [GAP_MS]]
      writes a pcap (Ethernet/IPv4/UDP, for SIPp's play_pcap_audio) of the
      digits as RFC 4733 events, payload type 101, the way pbdtmf.py's
      send_rfc4733 keys them: per digit 5 packets 20 ms apart (marker on the
      first), 3 end packets 20 ms after the fifth, GAP_MS (100) of nothing;
      LEAD_MS (0) before the first. Prints "first_ms=... last_start_ms=...
      last_end_ms=... length_ms=...": offsets from the first packet in the
      file (SIPp plays from it) of the last digit's first packet and of its
      first end packet.
  bench.py join CALLER_LOG CALLEE_LOG [MAP] [offset=NAME:MS]...
      SIPp -trace_logs lines "MARK caller sec usec" (the caller's wall clock
      at a point of its scenario) and "INVITE user sec usec" (the callee's,
      at each INVITE, with the Request-URI user): joins each mark with the
      first INVITE for the caller's callee (MAP: an injection file with the
      callee in field 3; without it the mark names the callee) and prints
      "marks=N invites=N joined=N" and per offset "NAME_p50_ms=...
      NAME_p99_ms=... NAME_min_ms=... NAME_max_ms=...": INVITE time - (mark
      + MS).
  bench.py wire PCAP CALLER_LOG DIGIT [offset=NAME:MS]...
      cross-checks join from the wire: PCAP (tcpdump on lo: pinbridge's
      answers to the callers, the callers' RFC 4733 packets, pinbridge's
      INVITEs to the callees) gives, per call, the kernel's time of the last
      digit's (DIGIT's) first packet and first end packet towards the port
      pinbridge's 200 named, and of the callee's INVITE (caller +9190N <->
      callee +9180N, bench.py alloc's numbering); prints the latencies from
      both and how late SIPp sent the end packet against its MARK + the
      offset "end" (the scheduled time join assumes).
  bench.py recs HTTP_PORT TENANT KEY TOKEN DIR SINCE
      checks the recordings of the tenant's calls started at or after SINCE
      (Unix time) against their call records (GET /calls, every page): a
      recorded call's WAV, found by its call_sid under DIR (the tenant's
      directory of recordings), must hold 44 + 32 bytes per millisecond from
      answered_at to ended_at (stereo 16-bit 8 kHz). Records still
      "in-progress" are waited for (10 s). Prints "calls= recorded=
      completed= partial= failed= pending= files= missing= exact= worst_off=
      stray= parts= bytes= call_ms=": pending, the records still in
      progress; files, the .wav of those calls; exact, those of the expected
      size; worst_off, the largest difference in bytes; stray, the .wav under
      DIR of no such call; parts, the .wav.part left; bytes and call_ms, the
      sums of the files' sizes and of the recorded calls' lengths.
"""
import base64
import concurrent.futures
import csv
import json
import os
import struct
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta


def alloc(args):
    opts = dict(a.split("=", 1) for a in args[8:] if "=" in a)
    args = [a for a in args if "=" not in a]
    pin = opts.get("pin")
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
        side_a = {"numbers": [a], "vns": [vn]}
        if pin:
            side_a["pin"] = pin
        body = json.dumps({"transaction_id": "bench-%d-%d" % (time.time_ns(), i),
                           "a": side_a, "b": {"numbers": [b]},
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
        for i, (a, vn, b) in enumerate(rows):
            f.write("%s;%s;%d;%s\n" % (a, vn, 4000 if rtp_base is None else rtp_base + rtp_step * i,
                                       b + ";" if pin else ""))
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


def dtmfpcap(args):
    """RFC 4733 digits as a pcap SIPp plays from its media port (it keeps
    the RTP as is and rewrites the addresses and ports)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "integration"))
    from pbdtmf import event_code  # noqa: E402 - the tests' own key codes

    digits, out = args[0], args[1]
    lead = int(args[2]) if len(args) > 2 else 0
    gap = int(args[3]) if len(args) > 3 else 100
    pt, ssrc, volume = 101, 0x5EED4733, 10
    pkts = []  # (ms, rtp bytes)
    t, seq, ts = lead, 1, 16000
    last_start = last_end = 0
    for d in digits:
        code = event_code(d)
        dur = 0
        last_start = t
        for k in range(5):
            dur += 160
            hdr = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | pt, seq, ts, ssrc)
            pkts.append((t + 20 * k, hdr + struct.pack("!BBH", code, volume, dur)))
            seq += 1
        last_end = t + 100
        for _ in range(3):
            hdr = struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc)
            pkts.append((last_end, hdr + struct.pack("!BBH", code, 0x80 | volume, dur)))
            seq += 1
        ts += dur + gap * 8
        t = last_end + gap
    src, dst = bytes([127, 0, 0, 2]), bytes([127, 0, 0, 1])
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ms, rtp in pkts:
            udp = struct.pack("!HHHH", 6000, 20000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
            csum = sum(struct.unpack("!10H", ip))
            csum = (csum & 0xFFFF) + (csum >> 16)
            csum = (csum & 0xFFFF) + (csum >> 16)
            ip = ip[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip[12:]
            frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
            sec = 1700000000 + ms // 1000
            f.write(struct.pack("<IIII", sec, (ms % 1000) * 1000, len(frame), len(frame)) + frame)
    first = pkts[0][0]
    print("first_ms=%d last_start_ms=%d last_end_ms=%d length_ms=%d"
          % (first, last_start - first, last_end - first, pkts[-1][0] - first))
    return 0


def _marks(fn, word):
    out = {}
    with open(fn, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) >= 4 and p[0] == word:
                try:
                    out.setdefault(p[1], []).append(float(p[2]) + float(p[3]) / 1e6)
                except ValueError:
                    pass
    return out


def join(args):
    """Caller marks ("MARK caller sec usec") against callee INVITEs
    ("INVITE user sec usec"): latency = INVITE time - mark - offset, one
    figure per offset (ms after the mark: e.g. the last digit's start and
    end in the pcap). A caller with no INVITE for its callee is missing."""
    caller_log, callee_log = args[0], args[1]
    mapfile = None
    offsets = []
    for a in args[2:]:
        if a.startswith("offset="):
            name, ms = a[7:].split(":")
            offsets.append((name, float(ms)))
        else:
            mapfile = a
    if not offsets:
        offsets = [("lat", 0.0)]
    callee_of = {}
    if mapfile:
        with open(mapfile) as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) >= 4 and row[0] != "SEQUENTIAL":
                    callee_of[row[0]] = row[3]
    marks = _marks(caller_log, "MARK")
    invites = _marks(callee_log, "INVITE")
    for v in invites.values():
        v.sort()
    lat = []  # ms from the mark
    nmarks = 0
    for caller, ts in marks.items():
        callee = callee_of.get(caller, caller)
        inv = invites.get(callee, [])
        for t in sorted(ts):
            nmarks += 1
            # the first INVITE for this callee after the call started
            # (the mark is at most a few seconds before it)
            later = [x for x in inv if x > t - 1.0]
            if later:
                lat.append(1000.0 * (later[0] - t))
                inv.remove(later[0])
    lat.sort()
    out = ["marks=%d invites=%d joined=%d" % (nmarks, sum(len(v) for v in _marks(callee_log, "INVITE").values()), len(lat))]
    for name, off in offsets:
        v = [x - off for x in lat]
        out.append("%s_p50_ms=%.1f %s_p99_ms=%.1f %s_min_ms=%.1f %s_max_ms=%.1f"
                   % (name, pct(v, 50), name, pct(v, 99), name, v[0] if v else float("nan"),
                      name, v[-1] if v else float("nan")))
    print(" ".join(out))
    return 0


def _pcap_udp(fn):
    """(time, src, sport, dst, dport, payload) of the IPv4/UDP packets of
    a pcap (Ethernet or Linux cooked capture, as tcpdump -i lo writes)."""
    with open(fn, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    link = struct.unpack("<I", data[20:24])[0]
    hdr = {1: 14, 113: 16, 276: 20}.get(link)
    if hdr is None:
        raise ValueError("link type %d" % link)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[hdr:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        yield (sec + frac / (1e9 if nano else 1e6), ip[12:16], sport, ip[16:20], dport, ip[ihl + 8:])


def wire(args):
    fn, caller_log, digit = args[0], args[1], args[2]
    offsets = dict((a[7:].split(":")[0], float(a[7:].split(":")[1])) for a in args[3:]
                   if a.startswith("offset="))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "integration"))
    from pbdtmf import event_code  # noqa: E402
    code = event_code(digit)
    callee, caller_port = {}, {}  # caller -> INVITE time; port -> [(time, caller)]
    rtp = {}  # pinbridge port -> [(time, event, end)]
    for t, src, sp, dst, dp, pl in _pcap_udp(fn):
        if pl[:8] == b"INVITE s":
            m = pl.split(b" ", 2)[1].decode(errors="replace")
            user = m[4:].split("@")[0]
            if user.startswith("+9180"):
                callee.setdefault("+9190" + user[5:], t)
        elif pl[:12] == b"SIP/2.0 200 " and b"CSeq: 1 INVITE" in pl and b"m=audio " in pl:
            txt = pl.decode(errors="replace")
            frm = txt.split("\nFrom:", 1)[1].split("sip:", 1)[1].split("@")[0]
            port = int(txt.split("m=audio ", 1)[1].split()[0])
            caller_port.setdefault(port, []).append((t, frm))
        elif len(pl) >= 16 and pl[0] >> 6 == 2 and pl[1] & 0x7F == 101:
            ev, fl = pl[12], pl[13]
            rtp.setdefault(dp, []).append((t, ev, bool(fl & 0x80)))
    marks = _marks(caller_log, "MARK")
    first, endt = {}, {}
    for port, answers in caller_port.items():
        answers.sort()
        pk = sorted(rtp.get(port, []))
        for i, (t0, who) in enumerate(answers):
            t1 = answers[i + 1][0] if i + 1 < len(answers) else float("inf")
            mine = [p for p in pk if t0 <= p[0] < t1 and p[1] == code]
            if mine:
                first[who] = mine[0][0]
                ends = [p[0] for p in mine if p[2]]
                if ends:
                    endt[who] = ends[0]
    lat_end, lat_start, lag = [], [], []
    for who, t in endt.items():
        if who in callee:
            lat_end.append(1000 * (callee[who] - t))
            lat_start.append(1000 * (callee[who] - first[who]))
        if who in marks and "end" in offsets:
            lag.append(1000 * (t - marks[who][0]) - offsets["end"])
    for v in (lat_end, lat_start, lag):
        v.sort()
    print("calls=%d wire_end_p50_ms=%.1f wire_end_p99_ms=%.1f wire_start_p50_ms=%.1f "
          "wire_start_p99_ms=%.1f sipp_lag_p50_ms=%.1f sipp_lag_p99_ms=%.1f sipp_lag_max_ms=%.1f"
          % (len(lat_end), pct(lat_end, 50), pct(lat_end, 99), pct(lat_start, 50),
             pct(lat_start, 99), pct(lag, 50), pct(lag, 99), lag[-1] if lag else float("nan")))
    return 0


def _calls(port, tenant, auth):
    base = "http://127.0.0.1:%s/v1/tenants/%s/calls?limit=500" % (port, tenant)
    calls, cursor = [], None
    while True:
        url = base + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        req = urllib.request.Request(url, headers={"Authorization": auth})
        with urllib.request.urlopen(req, timeout=30) as r:
            data = json.load(r)["data"]
        calls += data["calls"]
        cursor = data.get("next_cursor")
        if not cursor:
            return calls


def recs(args):
    port, tenant, key, token, root, since = args
    auth = "Basic " + base64.b64encode(("%s:%s" % (key, token)).encode()).decode()
    since = float(since)
    for _ in range(50):  # the record is written after the file is closed
        run = [c for c in _calls(port, tenant, auth)
               if datetime.fromisoformat(c["started_at"]).timestamp() >= since]
        if not any(c.get("recording_status") == "in-progress" for c in run):
            break
        time.sleep(0.2)
    wavs, parts = {}, 0
    for d, _, names in os.walk(root):
        for nm in names:
            if nm.endswith(".wav"):
                wavs[nm[:-4]] = os.path.getsize(os.path.join(d, nm))
            elif nm.endswith(".wav.part"):
                parts += 1
    st = {"completed": 0, "partial": 0, "failed": 0, "in-progress": 0}
    recorded = files = exact = worst = size = call_ms = 0
    mine = set()
    for c in run:
        rs = c.get("recording_status")
        if rs is None:
            continue
        recorded += 1
        st[rs] = st.get(rs, 0) + 1
        mine.add(c["call_sid"])
        if c["call_sid"] not in wavs:
            continue
        ms = (datetime.fromisoformat(c["ended_at"]) -
              datetime.fromisoformat(c["answered_at"])) // timedelta(milliseconds=1)
        got = wavs[c["call_sid"]]
        files += 1
        exact += got == 44 + 32 * ms
        worst = max(worst, abs(got - 44 - 32 * ms))
        size += got
        call_ms += ms
    print("calls=%d recorded=%d completed=%d partial=%d failed=%d pending=%d files=%d missing=%d "
          "exact=%d worst_off=%d stray=%d parts=%d bytes=%d call_ms=%d"
          % (len(run), recorded, st["completed"], st["partial"], st["failed"], st["in-progress"], files,
             st["completed"] + st["partial"] - files, exact, worst,
             len(set(wavs) - mine), parts, size, call_ms))
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "alloc":
        sys.exit(alloc(sys.argv[2:]))
    if cmd == "rtt":
        sys.exit(rtt(sys.argv[2:]))
    if cmd == "stat":
        sys.exit(stat(sys.argv[2]))
    if cmd == "dtmfpcap":
        sys.exit(dtmfpcap(sys.argv[2:]))
    if cmd == "join":
        sys.exit(join(sys.argv[2:]))
    if cmd == "wire":
        sys.exit(wire(sys.argv[2:]))
    if cmd == "recs":
        sys.exit(recs(sys.argv[2:]))
    sys.exit("unknown command " + cmd)
