"""Calls II (issue 6, DESIGN §3 "Media"), on the real binary with SIPp
parties and the test's own RTP peers (the rig: callenv.py):

- ptime repacketisation between legs: a SIPp caller plays sip-tester's
  g711a.pcap (PCMA, 30 ms frames) with a=ptime:30; the callee answers
  a=ptime:20, in PCMA (repacketised only) or PCMU (transcoded too). What the
  callee gets must be 20 ms packets (160 bytes), timestamps advancing by
  160, sequence numbers contiguous, and their audio, converted back, a
  contiguous stretch of the pcap's. The other way round (callee at 20 ms
  to a caller at 30 ms) with Python peers on both legs.
- the port pool: a range of exactly PORT_PAIRS pairs filled by calls in
  progress; the next caller gets 503 and pinbridge_media_ports_exhausted_total
  grows; a released pair is quarantined for media.port_quarantine (a new call
  still gets 503 meanwhile), then handed out again. Refused calls leave no
  call record and no call-completed event (DESIGN §3: records are written at
  dialling for a direct call, and these are never dialled).

G.711: A-law <-> mu-law conversion is ITU-T G.711's pair of fixed tables
(Tables 3 and 4, as in the Sun/CCITT reference g711.c with the 1994
corrections): implemented here, not taken from pinbridge, and checked
against the two laws by test_standalone_g711_conversion_tables.

The test_standalone_* tests run without pinbridge and check the harness:
the conversion tables, the pcap reader, and that the stream check rejects
the pcap's own 30 ms packets as a 20 ms stream (it can fail).

Every wait is bounded; no assertion depends on exact timing.
"""
import os
import random
import socket
import struct
import time

import pytest

from callenv import (CALLS, CALLS_LIST_KEY, HOOK_PATHS, M_HUNT_ATTEMPTS, M_PORT_PAIRS, M_TOTAL, Env,
                     Parties, allocate, call_config, calls_path, list_calls, metrics, wait_active,
                     wait_records)
from callenv import env, parties  # noqa: F401  (fixtures)
from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMA, PCMU, alaw_decode, audio_frames,
                    free_port_on, metric_sum, scenario, sip_options, ulaw_decode)
from pbdata import number
from pbdata import ok as ok_data
from pbhook import Receiver
from pbserver import Server

M_EXHAUSTED = "pinbridge_media_ports_exhausted_total"
PCAP_DIR = "/usr/share/sip-tester"        # Debian's sip-tester (the brief's /usr/share/sipp/pcap does not exist)
G711A_PCAP = os.path.join(PCAP_DIR, "g711a.pcap")


# --- G.711 A-law <-> mu-law, ITU-T G.711 Tables 3 and 4 ----------------------------
# Indexed by the code's magnitude bits (sign removed, A-law's even bits
# un-inverted, mu-law's bits un-inverted): A2U gives the mu-law magnitude
# (0..127), U2A the A-law magnitude plus one (1..128).

A2U = [1, 3, 5, 7, 9, 11, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23,
       24, 25, 26, 27, 28, 29, 30, 31, 32, 32, 33, 33, 34, 34, 35, 35,
       36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 48, 49, 49,
       50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 64,
       65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80,
       80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
       96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
       112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127]
U2A = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
       9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
       25, 27, 29, 31, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
       46, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
       64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
       80, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96,
       97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112,
       113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128]


def a2u(a):
    return (0xFF ^ A2U[a ^ 0xD5]) if a & 0x80 else (0x7F ^ A2U[a ^ 0x55])


def u2a(u):
    return (0xD5 ^ (U2A[0xFF ^ u] - 1)) if u & 0x80 else (0x55 ^ (U2A[0x7F ^ u] - 1))


A2U_TAB = bytes(a2u(i) for i in range(256))
U2A_TAB = bytes(u2a(i) for i in range(256))
LIN = {PCMU: [ulaw_decode(i) for i in range(256)], PCMA: [alaw_decode(i) for i in range(256)]}


def back_convert(payload, recv_pt, sent_pt):
    """What the receiver got, in the sender's law again (reference tables)."""
    if recv_pt == sent_pt:
        return bytes(payload)
    return bytes(payload).translate(U2A_TAB if recv_pt == PCMU else A2U_TAB)


def roundtrip_tolerance(pt):
    """Per code of law pt: how far (linear) code -> other law -> back moves
    it with G.711's tables. Zero for most codes; one step of pt's law for the
    few the other law cannot carry."""
    there, back = (A2U_TAB, U2A_TAB) if pt == PCMA else (U2A_TAB, A2U_TAB)
    lin = LIN[pt]
    return [abs(lin[back[there[c]]] - lin[c]) for c in range(256)]


TOL = {PCMA: roundtrip_tolerance(PCMA), PCMU: roundtrip_tolerance(PCMU)}
ROUNDTRIP = {PCMA: bytes(U2A_TAB[A2U_TAB[c]] for c in range(256)),
             PCMU: bytes(A2U_TAB[U2A_TAB[c]] for c in range(256))}


# --- pcap ---------------------------------------------------------------------------

class PcapRtp:
    def __init__(self, t, seq, ts, ssrc, pt, marker, payload):
        self.t, self.seq, self.ts, self.ssrc, self.pt, self.marker = t, seq, ts, ssrc, pt, marker
        self.payload = payload


def read_pcap_rtp(path):
    """The RTP packets of a classic pcap (Ethernet or raw IPv4, UDP)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap" % path)
    link = struct.unpack(e + "I", data[20:24])[0]
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[14:] if link == 1 else pkt
        if not ip or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        rtp = ip[(ip[0] & 15) * 4 + 8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", rtp[:12])
        start = 12 + 4 * (b0 & 15)
        out.append(PcapRtp(sec + usec / 1e6, seq, ts, ssrc, b1 & 0x7F, bool(b1 & 0x80), rtp[start:]))
    return out


def need_pcap():
    if os.geteuid() != 0:
        pytest.skip("SIPp plays pcaps from a raw socket: needs root")
    if not os.path.exists(G711A_PCAP):
        pytest.skip("sip-tester's g711a.pcap not installed")


def pcap_caller_scenario(outdir, lead_ms=300, hold_ms=8000):
    return scenario("call_uac_pcap30", outdir, LEAD_MS=lead_ms, HOLD_MS=hold_ms,
                    replace=[("/usr/share/sip-tester/g711a.pcap", G711A_PCAP)])


# --- the stream check --------------------------------------------------------------

def _mismatches(sent, got, k, sent_pt, exact):
    """Indices i where got[i] is not sent[k + i] (exact), or further from
    it (linear) than G.711's round trip moves sent[k + i]."""
    lin, tol = LIN[sent_pt], TOL[sent_pt]
    return [i for i, (s, g) in enumerate(zip(sent[k:], got))
            if s != g and (exact or abs(lin[s] - lin[g]) > tol[s])]


def _align(sent, got, sent_pt, exact, probe=160, max_cands=50):
    """Where got (in sent's law) starts in sent: the offset whose stretch
    matches best, anchored on the first probe-long window of got that is
    not near silence (the pcap opens with 0.6 s of one code); None when the
    window is nowhere in sent."""
    j = next((i for i in range(0, max(1, len(got) - probe + 1), probe // 2)
              if len(set(got[i:i + probe])) >= 16), 0)
    win = got[j:j + probe]
    hay = sent if exact else sent.translate(ROUNDTRIP[sent_pt])
    cands = []
    at = hay.find(win)
    while at >= 0 and len(cands) < max_cands:
        cands.append(at)
        at = hay.find(win, at + 1)
    if not cands and not exact:  # a conversion other than G.711's tables, within tolerance
        lin, tol = LIN[sent_pt], TOL[sent_pt]
        cands = [c for c in range(len(sent) - len(win) + 1)
                 if all(abs(lin[sent[c + i]] - lin[win[i]]) <= tol[sent[c + i]] for i in range(len(win)))
                 ][:max_cands]
    best = None
    for c in cands:
        k = c - j
        if k < 0:
            continue
        n = len(_mismatches(sent, got, k, sent_pt, exact))
        if best is None or n < best[1]:
            best = (k, n)
        if n == 0:
            break
    return None if best is None else best[0]


def stream_problems(pkts, frame, recv_pt, sent, sent_pt, min_fraction=0.9, max_flushes=2):
    """What is wrong with pkts (what one leg received, in order) as a
    repacketised copy of the audio `sent` (concatenated payloads in law
    sent_pt): a list of descriptions, empty when
    - every packet is recv_pt and one SSRC, with frame bytes, but for at
      most max_flushes shorter ones: pinbridge sends what it has buffered
      when the input stops for 100 ms (at the end, or a sender stalled on a
      loaded machine) rather than glue audio across a gap; the stretches
      either side stay contiguous (the next two checks);
    - sequence numbers go up by one, timestamps by each packet's length;
    - the payloads, concatenated and converted back to sent_pt with G.711's
      tables, are sent[k:k+n] for some k: byte for byte in one law, and
      where the laws differ within what the A->mu->A (mu->A->mu) round trip
      moves a code (TOL), n >= min_fraction of len(sent)."""
    out = []
    if not pkts:
        return ["no RTP received"]
    pts = sorted({pk.pt for pk in pkts})
    if pts != [recv_pt]:
        out.append("payload types %s, want only %d" % (pts, recv_pt))
    ssrcs = {pk.ssrc for pk in pkts}
    if len(ssrcs) != 1:
        out.append("%d SSRCs" % len(ssrcs))
    sizes = [len(pk.payload) for pk in pkts]
    short = [i for i, n in enumerate(sizes) if n != frame]
    if [i for i in short if sizes[i] > frame] or len(short) > max_flushes:
        out.append("packet sizes other than %d: %s (of %d packets; sizes seen %s)" % (
            frame, [(i, sizes[i]) for i in short][:12], len(pkts), sorted(set(sizes))))
    seq_gaps = [(i, a.seq, b.seq) for i, (a, b) in enumerate(zip(pkts, pkts[1:]))
                if (b.seq - a.seq) & 0xFFFF != 1]
    if seq_gaps:
        out.append("sequence numbers not contiguous at %s" % seq_gaps[:8])
    ts_steps = [(i, (b.ts - a.ts) & 0xFFFFFFFF, len(a.payload)) for i, (a, b) in enumerate(zip(pkts, pkts[1:]))
                if (b.ts - a.ts) & 0xFFFFFFFF != len(a.payload)]
    if ts_steps:
        out.append("timestamp steps other than the packet's length (index, step, length): %s"
                   % ts_steps[:8])
    got = back_convert(b"".join(pk.payload for pk in pkts), recv_pt, sent_pt)
    if len(got) < min_fraction * len(sent):
        out.append("%d of %d samples arrived (%.0f%%), want >= %.0f%%" % (
            len(got), len(sent), 100.0 * len(got) / len(sent), 100 * min_fraction))
    exact = recv_pt == sent_pt
    k = _align(sent, got, sent_pt, exact)
    if k is None:
        out.append("the audio received is nowhere in what was sent")
        return out
    if k + len(got) > len(sent):
        out.append("%d samples received from offset %d: more than was sent after it (%d)" % (
            len(got), k, len(sent) - k))
    bad = _mismatches(sent, got, k, sent_pt, exact)
    if bad:
        i = bad[0]
        out.append("%d of %d samples differ from the sent audio from offset %d on; first at "
                   "received sample %d (packet %d): sent %r, got %r" % (
                       len(bad), len(got), k, i, i // frame if frame else 0,
                       sent[k + i:k + i + 8].hex(), got[i:i + 8].hex()))
    return out


# --- the harness alone (no pinbridge) --------------------------------------------

def test_standalone_g711_conversion_tables():
    """The reference tables against the two laws' own definitions: signs
    kept, order kept, each code lands on one of the two levels of the other
    law around its value; A->mu->A moves exactly 16 A-law codes, each by
    one A-law step, mu->A->mu never moves a code by more than one mu step."""
    ulev = sorted(set(LIN[PCMU]))
    alev = sorted(set(LIN[PCMA]))

    def around(levels, v):
        lo = max([x for x in levels if x <= v] or [levels[0]])
        hi = min([x for x in levels if x >= v] or [levels[-1]])
        return lo, hi

    for pt, tab, other, olev in ((PCMA, A2U_TAB, PCMU, ulev), (PCMU, U2A_TAB, PCMA, alev)):
        codes = sorted(range(256), key=lambda c: LIN[pt][c])
        conv = [LIN[other][tab[c]] for c in codes]
        assert conv == sorted(conv), "conversion from law %d does not keep the order" % pt
        for c in range(256):
            v, w = LIN[pt][c], LIN[other][tab[c]]
            assert (v > 0) == (w > 0) or abs(v) <= 8, (pt, hex(c), v, w)
            if pt == PCMA:  # A-law values lie inside mu-law's range: bracketed
                assert w in around(olev, v), (hex(c), v, w, around(olev, v))
    moved = [c for c in range(256) if TOL[PCMA][c]]
    assert len(moved) == 16, [hex(c) for c in moved]
    for c in moved:
        lo, hi = around(alev, LIN[PCMA][c] - 1), around(alev, LIN[PCMA][c] + 1)
        assert LIN[PCMA][U2A_TAB[A2U_TAB[c]]] in (lo[0], hi[1]), hex(c)
    assert max(TOL[PCMU]) <= 2 * max(b - a for a, b in zip(ulev, ulev[1:]))


def test_standalone_g711a_pcap_is_30ms_pcma():
    need_pcap()
    pk = read_pcap_rtp(G711A_PCAP)
    assert len(pk) > 200
    assert {p.pt for p in pk} == {PCMA} and len({p.ssrc for p in pk}) == 1
    assert {len(p.payload) for p in pk} == {240}, "not 30 ms frames"
    assert all((b.seq - a.seq) & 0xFFFF == 1 and (b.ts - a.ts) & 0xFFFFFFFF == 240
               for a, b in zip(pk, pk[1:]))
    audible = [x for x in pk if len(set(x.payload)) > 1]
    assert len(audible) >= 0.8 * len(pk), "the pcap is mostly silence: %d of %d packets" % (
        len(audible), len(pk))


def test_standalone_pcap_caller_and_stream_check(parties):
    """The pcap caller straight to a SIPp callee whose SDP names a Python
    peer: the peer gets the pcap's packets as they are (30 ms), which pass
    the stream check as a 240-byte stream and fail it as a 160-byte one,
    and fail it against other audio."""
    need_pcap()
    p = parties
    b = p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=8000), b, "+919800000002",
                   codecs="8", port=free_port_on(CALLEE_IP))
    uac = p.caller(pcap_caller_scenario(p.tmp, lead_ms=100, hold_ms=1500), "+917100000001",
                   "+919800000001", p.peer(CALLER_IP, "unused"), codecs="8",
                   remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, p.describe()
    inv = uas.received("INVITE")[0]
    assert "ptime:30" in inv.sdp.attrs and inv.sdp.port == uac.media_port, inv.text
    got = b.packets()
    sent = read_pcap_rtp(G711A_PCAP)
    whole = b"".join(x.payload for x in sent)
    part = b"".join(x.payload for x in sent[:len(got)])
    assert len(got) >= 30, "pcap packets at the callee: %d" % len(got)
    assert [(x.seq, x.ts, x.payload) for x in got] == [(x.seq, x.ts, x.payload) for x in sent[:len(got)]]
    assert stream_problems(got, 240, PCMA, part, PCMA) == []
    probs = stream_problems(got, 160, PCMA, part, PCMA)
    assert len(probs) == 1 and "packet sizes other than 160" in probs[0], probs
    # timestamps that do not follow the payloads, a lost packet, a stray SSRC
    shifted = [Fake(x, x.pt, x.payload) for x in got]
    shifted[5].ts += 80
    assert any("timestamp steps" in x for x in stream_problems(shifted, 240, PCMA, part, PCMA))
    assert any("sequence" in x for x in stream_problems(got[:9] + got[10:], 240, PCMA, part, PCMA))
    stray = [Fake(x, x.pt, x.payload) for x in got]
    stray[7].ssrc ^= 1
    assert any("SSRCs" in x for x in stream_problems(stray, 240, PCMA, part, PCMA))
    assert any("samples arrived" in x for x in stream_problems(got, 240, PCMA, whole, PCMA))
    other = b"".join(audio_frames(5, 20, PCMA, size=240))
    assert any("nowhere" in x for x in stream_problems(got, 240, PCMA, other, PCMA))
    # transcoded: what a mu-law leg would get, by the reference table, passes;
    # one sample off by more than the round trip allows does not
    mu = [Fake(x, PCMU, bytes(x.payload).translate(A2U_TAB)) for x in got]
    assert stream_problems(mu, 240, PCMU, part, PCMA) == []
    pay = bytearray(mu[3].payload)
    pay[17] = A2U_TAB[pay[17] ^ 0x08]  # another A-law code's mu-law
    mu[3] = Fake(mu[3], PCMU, bytes(pay))
    assert any("differ" in x for x in stream_problems(mu, 240, PCMU, part, PCMA))
    assert uas.wait(10) == 0, p.describe()


class Fake:
    def __init__(self, pk, pt, payload):
        self.t, self.seq, self.ts, self.ssrc, self.marker = pk.t, pk.seq, pk.ts, pk.ssrc, pk.marker
        self.pt, self.payload = pt, payload


# --- pinbridge: ptime repacketisation --------------------------------------------

def set_up(p, uas, uac, timeout=10):
    """(INVITE the callee got, 200 the caller got); a failure says what
    every party saw and pinbridge's log."""
    try:
        inv = uas.wait_received("INVITE", timeout=timeout) if uas else None
        ok = uac.wait_received(status=200, timeout=timeout, pred=lambda m: m.cseq_method == "INVITE")
    except AssertionError as e:
        raise AssertionError("%s\n--- the parties ---\n%s" % (e, p.describe())) from None
    return inv, ok


@pytest.mark.parametrize("callee_pt", [PCMA, PCMU], ids=["pcma-repacketised", "pcmu-transcoded"])
def test_30ms_pcap_caller_to_20ms_callee(env, parties, callee_pt):
    """A SIPp caller plays g711a.pcap (PCMA, 30 ms frames, a=ptime:30) into a
    direct call whose callee answers a=ptime:20 (PCMA, or PCMU: transcoded
    as well): the callee gets 160-byte packets with timestamps +160 and
    contiguous sequence numbers, carrying >= 90 % of the pcap's audio as one
    contiguous stretch (byte for byte, or within G.711's round trip)."""
    need_pcap()
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    b = p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=20000), b, callee,
                   codecs=str(callee_pt), timeout=30)
    uac = p.caller(pcap_caller_scenario(p.tmp, lead_ms=300, hold_ms=7800), vn, caller,
                   p.peer(CALLER_IP, "unused"), codecs="8", timeout=30)
    inv, ok = set_up(p, uas, uac)
    b.set_remote(inv.sdp)
    assert ok.sdp is not None and ok.sdp.codec == PCMA, ok.text
    sent = read_pcap_rtp(G711A_PCAP)
    whole = b"".join(x.payload for x in sent)
    want = len(whole) // 160
    b.wait_packets(want, timeout=12)
    time.sleep(0.3)  # a flush of the rest comes 100 ms after the input stops
    assert uac.wait(20) == 0, p.describe()
    assert uas.wait(10) == 0, p.describe()
    got = b.packets()
    probs = stream_problems(got, 160, callee_pt, whole, PCMA)
    assert not probs, "the callee's stream (%d packets; sizes %s; answer to the caller: %r):\n%s" % (
        len(got), sorted({len(x.payload) for x in got}), [a for a in ok.sdp.attrs if "ptime" in a],
        "\n".join(probs))
    assert {pk.src for pk in got} == {(inv.sdp.ip, inv.sdp.port)}
    assert [pk.ssrc for pk in got][0] != sent[0].ssrc, "the pcap's SSRC reached the callee"
    wait_active(env, 0)
    recs = wait_records(env, CALLS, alloc["greenpin_id"])
    assert [r["call_type"] for r in recs] == ["completed"], recs


def test_20ms_callee_to_30ms_caller(env, parties):
    """Both ways with Python peers: the caller (PCMA, a=ptime:30) sends 30 ms
    frames, the callee (PCMU, a=ptime:20) 20 ms frames; each gets its own
    ptime in its own law: 240-byte PCMA packets at the caller, 160-byte
    PCMU packets at the callee, contiguous, audio matching."""
    p = parties
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=20000), b, callee, codecs="0")
    path = scenario("call_uac", p.tmp, HOLD_MS=3500, replace=[("a=ptime:20", "a=ptime:30")])
    uac = p.caller(path, vn, caller, a, codecs="8")
    inv, ok = set_up(p, uas, uac)
    b.set_remote(inv.sdp)
    a.set_remote(ok.sdp)
    assert "ptime:30" in uac.sent("INVITE")[0].text
    fa = audio_frames(7001, 40, PCMA, size=240)   # 1.2 s at 30 ms
    fb = audio_frames(7002, 60, PCMU)             # 1.2 s at 20 ms
    time.sleep(0.2)
    t = time.monotonic()
    ta = a.send_frames(PCMA, fa, ptime=0.03)
    tb = b.send_frames(PCMU, fb, ptime=0.02)
    ta.join(5)
    tb.join(5)
    time.sleep(0.4)
    at_caller = a.packets(since=t)
    at_callee = b.packets(since=t)
    probs = stream_problems(at_caller, 240, PCMA, b"".join(fb), PCMU)
    assert not probs, "the caller's stream (%d packets; sizes %s):\n%s" % (
        len(at_caller), [len(x.payload) for x in at_caller][:40], "\n".join(probs))
    probs = stream_problems(at_callee, 160, PCMU, b"".join(fa), PCMA)
    assert not probs, "the callee's stream (%d packets; sizes %s):\n%s" % (
        len(at_callee), [len(x.payload) for x in at_callee][:40], "\n".join(probs))
    assert uac.wait(15) == 0, p.describe()
    assert uas.wait(10) == 0, p.describe()


# --- pinbridge: the port pool -------------------------------------------------------

PORT_PAIRS = 4              # two calls, two legs each
QUARANTINE_S = 5.0          # long enough for a SIPp caller to start and be refused within it


class PortsServer(Server):
    """A pinbridge whose RTP range is exactly PORT_PAIRS pairs, in
    10000-11999: below the ephemeral ports, and apart from the other test
    servers' ranges (20000-60099, test_pin.py's 12000-19999), so no foreign
    socket takes a pair (a pair in use elsewhere is skipped and quarantined,
    which would change the counts)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.rtp_lo = None

    def args(self):
        a = super().args()
        i = a.index("--rtp-ports")
        for _ in range(200):
            lo = random.randrange(10000, 12000 - 2 * PORT_PAIRS, 2)
            if all(_udp_free(PB_IP, port) for port in range(lo, lo + 2 * PORT_PAIRS)):
                break
        self.rtp_lo = lo
        a[i + 1] = "%d-%d" % (lo, lo + 2 * PORT_PAIRS - 1)
        return a


def _udp_free(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture(scope="module")
def penv(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("ports"))
    e.rx = Receiver(name="ports").start()
    e.callee_port = free_port_on(CALLEE_IP)
    conf = call_config(e.callee_port, e.rx) + 'media = { port_quarantine = "%dms"; };\n' % (
        QUARANTINE_S * 1000)
    e.server = PortsServer(e.tmp, conf, name="ports", creds={CALLS: ("%s-key" % CALLS, "%s-token" % CALLS)})
    try:
        e.server.start()
        if sip_options(e.server.sip_port) != 200 and sip_options(e.server.sip_port) != 200:
            pytest.fail("pinbridge does not answer SIP; log:\n" + e.server.log_tail(2000))
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
        e.rx.close()
    assert alive and rc == 0, "ports server: alive %s, rc %s; log:\n%s" % (alive, rc, e.server.log_tail())


def pairs(penv):
    m = metrics(penv)
    return {s: metric_sum(m, M_PORT_PAIRS, state=s) for s in ("free", "quarantined", "in_use")}, m


def wait_pairs(penv, pred, timeout, what):
    end = time.monotonic() + timeout
    while True:
        st, m = pairs(penv)
        if pred(st):
            return st, m, time.monotonic()
        if time.monotonic() > end:
            raise AssertionError("port pairs %s: %s not reached within %ss" % (st, what, timeout))
        time.sleep(0.05)


def test_ports_exhausted_503_and_quarantine(penv, tmp_path):
    """PORT_PAIRS pairs, two calls up: a third caller gets 503 (nothing
    dialled, exhausted_total +1). The first call ends: its two pairs are
    quarantined, and a fourth caller still gets 503; only after
    media.port_quarantine do they count as free, and a fifth call gets
    exactly those ports. The refused calls leave no record and no event;
    the three calls that ran leave three of each."""
    p = Parties(str(tmp_path), penv)
    try:
        _ports_test(penv, p)
    finally:
        p.close()
    wait_active(penv, 0, timeout=8)


def _ports_test(penv, p):
    lo = penv.server.rtp_lo
    our_ports = set(range(lo, lo + 2 * PORT_PAIRS, 2))
    callers = [number() for _ in range(5)]
    callee = number()
    alloc, vn = allocate(penv, CALLS, callers, [callee])
    st0, m0 = pairs(penv)
    assert st0 == {"free": PORT_PAIRS, "quarantined": 0, "in_use": 0}, st0
    ex0 = metric_sum(m0, M_EXHAUSTED)
    assert ex0 is not None, "%s not exported" % M_EXHAUSTED

    b = p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=40000), b, callee,
                   max_calls=3, timeout=60)

    def call(i, hold_ms):
        return p.caller(scenario("call_uac", p.tmp, HOLD_MS=hold_ms), vn, callers[i],
                        p.peer(CALLER_IP, "caller%d" % i), codecs="0", name="caller%d" % i, timeout=40)

    def answered(uac):
        return set_up(p, None, uac)[1]

    def refused(uac, what, since=None):
        assert uac.wait(15) == 0, p.describe()
        got = [m.status for m in uac.received() if m.is_response and m.cseq_method == "INVITE"]
        late = "" if since is None else " (%.1fs after the release; quarantine %.1fs)" % (
            time.monotonic() - since, QUARANTINE_S)
        assert got and got[-1] == 503 and not [s for s in got if 100 < s < 200], \
            "%s%s: responses %s, want 503 and nothing ringing\n%s" % (what, late, got, p.describe())

    # two calls fill the range
    c1 = call(0, 6000)          # time enough for the third caller to start and be refused
    ok1 = answered(c1)
    c2 = call(1, 16000)         # still up when the fifth call is answered
    ok2 = answered(c2)
    invs = uas.wait_for(lambda ms: [m for m in ms if m.direction == "received" and m.method == "INVITE"]
                        if len([m for m in ms if m.direction == "received" and m.method == "INVITE"]) == 2
                        else None, timeout=5, what="two INVITEs")
    c1_ports = {ok1.sdp.port, invs[0].sdp.port}
    assert c1_ports | {ok2.sdp.port, invs[1].sdp.port} == our_ports, \
        "the calls' ports %s are not the range's pairs %s" % (
            sorted(c1_ports | {ok2.sdp.port, invs[1].sdp.port}), sorted(our_ports))
    st, m1 = pairs(penv)
    assert st == {"free": 0, "quarantined": 0, "in_use": PORT_PAIRS}, st
    hunts0 = metric_sum(m1, M_HUNT_ATTEMPTS)

    # a third caller: 503, counted
    c3 = call(2, 1000)
    refused(c3, "third caller, every pair in use")
    st, m2 = pairs(penv)
    assert st["in_use"] == PORT_PAIRS, "a call ended before the third caller was refused " \
        "(the machine is too slow for this test's holds): %s" % st
    assert metric_sum(m2, M_EXHAUSTED) - ex0 == 1, "%s grew by %s for one refused call" % (
        M_EXHAUSTED, metric_sum(m2, M_EXHAUSTED) - ex0)
    assert metric_sum(m2, M_TOTAL, outcome="rejected") - metric_sum(m1, M_TOTAL, outcome="rejected") == 1
    assert metric_sum(m2, M_HUNT_ATTEMPTS) == hunts0, "the refused call was dialled"

    # the first call ends: its pairs are quarantined, not free
    assert c1.wait(15) == 0, p.describe()
    st, m3, t_rel = wait_pairs(penv, lambda s: s["quarantined"] == 2, 3, "quarantined == 2")
    assert st == {"free": 0, "quarantined": 2, "in_use": 2}, st
    c4 = call(3, 1000)
    refused(c4, "fourth caller, the freed pairs in quarantine", since=t_rel)
    t_503 = time.monotonic()
    st, m4 = pairs(penv)
    assert metric_sum(m4, M_EXHAUSTED) - ex0 == 2, metric_sum(m4, M_EXHAUSTED) - ex0
    assert t_503 - t_rel < QUARANTINE_S, \
        "the fourth caller's 503 came %.1fs after the release, past the quarantine: inconclusive" % (
            t_503 - t_rel)

    # the quarantine passes: free again, and handed out again
    st, _, t_free = wait_pairs(penv, lambda s: s["free"] == 2, QUARANTINE_S + 3, "free == 2")
    assert st == {"free": 2, "quarantined": 0, "in_use": 2}, st
    # t_rel is when the release was seen, a little after it happened
    assert t_free - t_rel >= QUARANTINE_S - 1.0, \
        "released pairs free again %.2fs after the call ended: quarantine is %.1fs" % (
            t_free - t_rel, QUARANTINE_S)
    c5 = call(4, 1000)
    ok5 = answered(c5)
    inv5 = uas.wait_for(lambda ms: ([m for m in ms if m.direction == "received" and m.method == "INVITE"]
                                    + [None])[2], timeout=5, what="third INVITE")
    assert {ok5.sdp.port, inv5.sdp.port} == c1_ports, \
        "the fifth call got ports %s, the released ones were %s" % (
            sorted({ok5.sdp.port, inv5.sdp.port}), sorted(c1_ports))
    assert c5.wait(15) == 0 and c2.wait(25) == 0, p.describe()
    assert uas.wait(15) == 0, p.describe()
    wait_active(penv, 0)
    st, m5 = pairs(penv)
    assert st["in_use"] == 0 and st["free"] + st["quarantined"] == PORT_PAIRS, st
    assert metric_sum(m5, M_EXHAUSTED) - ex0 == 2
    assert metric_sum(m5, M_HUNT_ATTEMPTS) - hunts0 == 1
    assert metric_sum(m5, M_TOTAL, outcome="rejected") - metric_sum(m1, M_TOTAL, outcome="rejected") == 2
    assert metric_sum(m5, M_TOTAL, outcome="completed") - metric_sum(m0, M_TOTAL, outcome="completed") == 3
    assert len(uas.received("INVITE")) == 3

    # records and events: the three calls that ran, nothing for the refused
    recs = wait_records(penv, CALLS, alloc["greenpin_id"], n=3)
    time.sleep(0.5)
    recs = list_calls(penv, CALLS, alloc["greenpin_id"])
    assert sorted(r["from"] for r in recs) == sorted([callers[0], callers[1], callers[4]]), recs
    assert {r["call_type"] for r in recs} == {"completed"}, recs
    sids = {r["call_sid"] for r in recs}
    # nor under no allocation: this server's only records are those three
    r = penv.server.request("GET", calls_path(CALLS, "?limit=100"), tenant=CALLS)
    every = ok_data(r)[CALLS_LIST_KEY]
    assert {x["call_sid"] for x in every} == sids, every
    penv.rx.wait(lambda: len({h.json.get("call_sid") for h in penv.rx.got(path=HOOK_PATHS[CALLS])
                             if h.gid == alloc["greenpin_id"]}) >= 3, 10, "three call-completed events")
    time.sleep(0.5)
    hooks = [h for h in penv.rx.got(path=HOOK_PATHS[CALLS]) if h.gid == alloc["greenpin_id"]]
    assert {h.json.get("call_sid") for h in hooks} == sids, [h.json for h in hooks]
    assert {h.json.get("from") for h in hooks} == {callers[0], callers[1], callers[4]}
