"""The PIN IVR (issue 5, DESIGN §3 step 4, "DTMF", the brute-force guard,
R2; §4 verification events; §6) on the real binary: SIPp callers and
callees, the test's RTP peers, and digits the test keys itself by every
route (RFC 4733 events, in-band G.711 tones, SIP INFO, sip-tester's pcaps,
and a gateway sending tones and events at once).

pinbridge listens on 127.0.0.1; callers run on 127.0.0.2, callees on
127.0.0.3 (the trunk's outbound proxy is the callee SIPp's port there).
Tenants: "pin" (PINs on both sides, 3 attempts, 3 s to the first digit,
1 s between digits, a lockout after 4 failures for 2 s, timezone +05:30)
and "pinmix" (pin.a off, pin.b on: A numbers are direct routes, for the
lockout test's "a direct route is never blocked"). Both post
verification-success, verification-failure and call-completed to one
receiver, a path per tenant and event.

The test_standalone_* tests check the DTMF generators and the generated
SIPp callers without pinbridge. Every wait is bounded; each test stays well
under 30 s.
"""
import itertools
import math
import os
import random
import re
import socket
import threading
import time
import uuid

import pytest

from callenv import Parties, masking_leaks, metrics, payloads, wait_active
from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMA, PCMU, audio_frames, decode, find_frames,
                    free_port_on, hunt_scenario, metric_sum, scenario, sip_options, uri_user)
from pbdata import number, ok, txn
from pbdtmf import (PCAP_DIR, audio_level, events_digits, info_scenario, inband_digits,
                    packets_samples, pcap_events, pcap_scenario, send_gateway, send_inband,
                    send_rfc4733, send_rfc4733_rough)
from pbhook import Receiver, check_signature, webhooks_block
from pbserver import Server

PIN, MIX = "pin", "pinmix"
POOLS = {PIN: "+917400000000-+917400000099", MIX: "+917500000000-+917500000099"}
TIMEZONES = {PIN: "+05:30", MIX: "UTC"}
PIN_ON = {PIN: (True, True), MIX: (False, True)}
SECRETS = {t: "pin-%s-%s" % (t, uuid.uuid4().hex[:8]) for t in POOLS}
CREDS = {t: ("%s-key" % t, "%s-token" % t) for t in POOLS}
EVENTS = ("verification_success", "verification_failure", "call_completed")
MAX_ATTEMPTS = 3
FIRST_DIGIT = 3.0
INTER_DIGIT = 1.0
LOCKOUT_AFTER = 4
LOCKOUT_FOR = 2.0

# --- what pinbridge exports -------------------------------------------------------
M_ATTEMPTS = "pinbridge_pin_attempts_total"          # label result: success, failure
M_LOCKOUTS = "pinbridge_pin_lockouts_total"
M_LOCKED = "pinbridge_pin_locked_refusals_total"
M_FAILURES_VN = "pinbridge_pin_failures_total"       # label vn
M_TOTAL = "pinbridge_calls_total"                    # label outcome
M_PORT_PAIRS = "pinbridge_media_port_pairs"          # label state: free, quarantined, in_use

SUCCESS_KEYS = {"caller", "greenpin_id", "vn", "transaction_id", "pin", "call_sid"}
FAILURE_KEYS = {"start_time", "caller", "vn", "call_sid", "pin"}
SID_RE = re.compile(r"^[0-9a-f]{32}$")


def hook_path(tenant, event):
    return "/hooks/%s/%s" % (tenant, event)


def tenant_block(tid, rx):
    pin_a, pin_b = PIN_ON[tid]
    hooks = {e: rx.url(hook_path(tid, e)) for e in EVENTS}
    return """  { id = "%s"; api_key = "%s-key"; api_token = "%s-token";
    country = "91"; national_length = 10; countries = ["91"]; timezone = "%s"; trunk = "pintrunk";
    vns = ["%s"];
    pin = { a = %s; b = %s; max_attempts = %d; first_digit = "%dms"; inter_digit = "%dms";
            lockout_after = %d; lockout_window = "1h"; lockout_for = "%dms"; };
    ring_timeout = "4s"; max_hunt = "8s";
    %s
  }""" % (tid, tid, tid, TIMEZONES[tid], POOLS[tid], "true" if pin_a else "false",
          "true" if pin_b else "false", MAX_ATTEMPTS, FIRST_DIGIT * 1000, INTER_DIGIT * 1000,
          LOCKOUT_AFTER, LOCKOUT_FOR * 1000,
          webhooks_block(SECRETS[tid], backoff="200ms", **hooks))


def pin_config(callee_port, rx):
    trunk = ('trunks = ( { name = "pintrunk"; allow = ["%s/32", "%s/32"];\n'
             '             outbound = "sip:%s:%d"; dial_format = "e164"; latch = "learn"; } );\n'
             % (CALLER_IP, CALLEE_IP, CALLEE_IP, callee_port))
    return ('sweep_interval = "100ms";\nstore = { map_size = "256M"; };\n'
            'sip = { drain = "0s"; };\n%s'
            'tenants = (\n%s\n);\n' % (trunk, ",\n".join(tenant_block(t, rx) for t in POOLS)))


def callee_port_on(ip):
    """A port for the callees' SIPp (the trunk's outbound proxy, fixed for
    the module) below the ephemeral range: other test runs on this host
    bind ephemeral ports on the same loopback addresses (RTP peers, SIPp
    media), and one of them took a module-long ephemeral port between two
    tests once."""
    for _ in range(200):
        port = random.randrange(11000, 19000)
        socks = []
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    return free_port_on(ip)


class PinServer(Server):
    """The module's pinbridge with a wider RTP range of its own, 12000-19999:
    other runs on this host bind 127.0.0.1 all over 20000-59999 (other
    servers' random 100-port ranges; the SIP benchmarks' pinbridge cycles
    through port_min 20000 - port_max 59999 with thousands of pairs) and
    the ephemeral ports above 32767. A pair in use elsewhere is skipped and
    quarantined, so twice a run got 503 "no media session: No space left on
    device" while a benchmark ran. The open-side test alone holds 20 pairs
    and released pairs wait media.port_quarantine (8 s): 300 pairs."""

    def args(self):
        a = super().args()
        i = a.index("--rtp-ports")
        lo = random.randrange(12000, 20000 - 600, 2)
        a[i + 1] = "%d-%d" % (lo, lo + 599)
        return a


class Env:
    def __init__(self):
        self.vns = {t: ("+%d" % n for n in itertools.count(int(POOLS[t].split("-")[0][1:])))
                    for t in POOLS}

    def vn(self, tenant=PIN):
        return next(self.vns[tenant])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("pin"))
    e.rx = Receiver(name="pin").start()
    e.callee_port = callee_port_on(CALLEE_IP)
    e.server = PinServer(e.tmp, pin_config(e.callee_port, e.rx), name="pin", creds=CREDS)
    try:
        e.server.start()
        status = None
        for _ in range(3):
            status = sip_options(e.server.sip_port)
            if status:
                break
        if status != 200:
            pytest.fail("pinbridge does not answer SIP on %s:%d (OPTIONS -> %s); log:\n%s"
                        % (PB_IP, e.server.sip_port, status, e.server.log_tail(2000)))
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
        e.rx.close()
    assert alive, "pin server died during the run; log:\n" + e.server.log_tail()
    assert rc == 0, "pin server exit code %s on SIGTERM; log:\n%s" % (rc, e.server.log_tail())


@pytest.fixture
def parties(tmp_path, request):
    env = request.getfixturevalue("env") if "env" in request.fixturenames else None
    p = Parties(str(tmp_path), env)
    yield p
    p.close()
    if env is not None:  # no call may outlive its test
        wait_active(env, 0, timeout=8)


# --- helpers ---------------------------------------------------------------------

def allocate(env, tenant, a_numbers, b_numbers, a_pin=None, b_pin=None, usage="twoway", vn=None):
    """An allocation on one VN (a's, b following); b_numbers [] or None:
    an open B side."""
    vn = vn or env.vn(tenant)
    body = {"transaction_id": txn("pin"), "a": {"numbers": a_numbers, "vns": [vn]}, "b": {},
            "usage": usage}
    if b_numbers is not None:
        body["b"]["numbers"] = b_numbers
    if a_pin:
        body["a"]["pin"] = a_pin
    if b_pin:
        body["b"]["pin"] = b_pin
    alloc = ok(env.server.create(body, tenant=tenant))
    for side, pin in (("a", a_pin), ("b", b_pin)):
        if pin:
            assert alloc[side].get("pin") == pin, alloc
    return alloc, vn


def delta(env, before, name, **labels):
    now = metric_sum(metrics(env), name, **labels)
    assert now is not None, "%s not exported" % name
    return now - (metric_sum(before, name, **labels) or 0)


class PinCall:
    """A caller whose call goes to the PIN prompt: its SIPp, its RTP peer
    (pointed at pinbridge's SDP once the 200 came)."""


def pin_call(p, vn, caller, hold_ms=8000, codecs="0", te=101, path=None, name="caller",
             wait_ok=True, timeout=20):
    c = PinCall()
    c.caller = caller
    c.te = te
    c.peer = p.peer(CALLER_IP, name)
    c.t0 = time.time()
    if path is None:
        # scenario() rewrites its copy each time: a SIPp still reading it
        # would see it truncated, so each test writes it once
        cache = p.__dict__.setdefault("pin_scenarios", {})
        if hold_ms not in cache:
            cache[hold_ms] = scenario("call_uac", p.tmp, HOLD_MS=hold_ms)
        path = cache[hold_ms]
    c.uac = p.caller(path, vn, caller, c.peer,
                     codecs=codecs, te=te, name=name, timeout=timeout)
    c.ok = None
    if wait_ok:
        answered(c, p)
    return c


def answered(c, p, timeout=6):
    c.ok = c.uac.wait_received(status=200, timeout=timeout, pred=lambda m: m.cseq_method == "INVITE")
    c.t_ok = time.monotonic()
    assert c.ok.sdp is not None, "200 to the PIN caller without SDP: %s" % c.ok.text
    c.peer.set_remote(c.ok.sdp)
    c.codec = c.ok.sdp.codec
    return c


def prompt_packets(c, since=None):
    """RTP pinbridge sent the caller from its SDP address."""
    src = (c.ok.sdp.ip, c.ok.sdp.port)
    return [pk for pk in c.peer.packets(since=since) if pk.src == src and pk.pt in (PCMU, PCMA)]


def wait_prompt(c, p, loud=10, timeout=3.0, since=None):
    """Waits until the caller heard `loud` non-silent frames from pinbridge
    (since a time, default the 200); returns the packets."""
    since = c.t_ok if since is None else since
    end = time.monotonic() + timeout
    while True:
        got = prompt_packets(c, since)
        if audio_level(got)[1] >= loud:
            return got
        if time.monotonic() > end:
            n, nloud, peak = audio_level(got)
            raise AssertionError("the caller heard no prompt within %ss of the 200: %d G.711 packets "
                                 "from pinbridge's %s:%s, %d loud, peak RMS %.0f; all RTP: %r\n%s"
                                 % (timeout, n, c.ok.sdp.ip, c.ok.sdp.port, nloud, peak,
                                    c.peer.packets()[:5], p.describe()))
        time.sleep(0.05)


def hooks(env, tenant, event, pred=None):
    return [h for h in env.rx.got(path=hook_path(tenant, event))
            if isinstance(h.json, dict) and (pred is None or pred(h.json))]


def wait_hook(env, tenant, event, pred, timeout=8.0, what=None):
    hits = env.rx.wait(lambda: hooks(env, tenant, event, pred), timeout,
                       what or "%s %s webhook" % (tenant, event))
    h = hits[0]
    assert h.method == "POST" and h.event == event.replace("_", "-") and h.delivery, h
    check_signature(h, SECRETS[tenant])
    return h


def check_success(env, tenant, alloc, vn, caller, pin, timeout=8.0):
    h = wait_hook(env, tenant, "verification_success", lambda b: b.get("caller") == caller,
                  timeout, "verification-success of %s" % caller)
    body = h.json
    assert SUCCESS_KEYS <= set(body), "verification-success lacks %s: %r" % (SUCCESS_KEYS - set(body), body)
    want = {"caller": caller, "greenpin_id": alloc["greenpin_id"], "vn": vn,
            "transaction_id": alloc["transaction_id"], "pin": pin}
    assert {k: body[k] for k in want} == want, body
    assert SID_RE.match(body["call_sid"] or ""), body
    return h


def iso_offset_ok(s, tenant):
    offset = "+00:00" if TIMEZONES[tenant] == "UTC" else TIMEZONES[tenant]
    return isinstance(s, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s) and \
        (s.endswith(offset) or (offset == "+00:00" and s.endswith("Z")))


def calls_path(tenant, rest=""):
    return "/v1/tenants/%s/calls%s" % (tenant, rest)


def wait_record(env, tenant, sid, timeout=10.0):
    """GET /calls/{sid} once the record is completed."""
    end = time.monotonic() + timeout
    while True:
        r = env.server.request("GET", calls_path(tenant, "/" + sid), tenant=tenant)
        data = r.json.get("data") if r.status == 200 and isinstance(r.json, dict) else None
        if isinstance(data, dict) and data.get("state") == "completed":
            return data
        if time.monotonic() > end:
            raise AssertionError("call record %s not completed within %ss: %r" % (sid, timeout, r))
        time.sleep(0.1)


def completed_event(env, tenant, caller, timeout=10.0):
    """The call-completed event of caller's call (each test's callers are
    fresh numbers)."""
    return wait_hook(env, tenant, "call_completed", lambda b: b.get("from") == caller, timeout,
                     "call-completed of %s" % caller).json


def check_attempt(env, tenant, sid, vn, caller):
    """The record of a call that ended before anyone was dialled."""
    rec = wait_record(env, tenant, sid)
    assert rec["call_type"] == "call-attempt", rec
    assert rec["dial_call_status"] is None, rec
    assert rec["vn"] == vn and rec["from"] == caller and rec["to"] is None, rec
    assert rec["dial_call_duration"] == 0, rec
    return rec


def key_all(calls, pins, gap=0.08):
    """Each call keys its PIN by RFC 4733, all at once (a thread each)."""
    threads = [threading.Thread(target=send_rfc4733, args=(cc.peer, cc.te, pin), kwargs={"gap": gap},
                                daemon=True) for cc, pin in zip(calls, pins)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)


def invite_responses(sipp):
    return [m.status for m in sipp.received() if m.is_response and m.cseq_method == "INVITE"]


def dialled(uas):
    return [uri_user(m.ruri) for m in uas.received("INVITE")]


def callee_answers(p, number_, ring_ms=200, hold_ms=12000):
    peer = p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=ring_ms, HOLD_MS=hold_ms), peer, number_)
    return uas, peer


def callee_busy(p, plan, max_calls=1, timeout=20):
    """One callee SIPp for every number in plan [(number, behaviour)]."""
    peer = p.peer(CALLEE_IP, "callee")
    return p.callee(hunt_scenario(p.tmp, plan), peer, "callee", max_calls=max_calls, timeout=timeout)


def check_dialled_masked(invite, callee_num, vn):
    assert uri_user(invite.ruri) == callee_num, invite.text
    assert uri_user(invite.header("From")) == vn, "From of the dialled leg: %s" % invite.header("From")
    for pai in invite.all("P-Asserted-Identity"):
        assert uri_user(pai) == vn, "P-Asserted-Identity of the dialled leg: %s" % pai


def bridged_audio(c, uas, callee_peer, p, n=40):
    """Once the callee answered: audio each side sends reaches the other."""
    inv = uas.wait_received("INVITE", timeout=1)
    callee_peer.set_remote(inv.sdp)
    uas.wait_received("ACK", timeout=6)
    callee_codec = PCMU
    fa = audio_frames(3000 + c.peer.port, n, c.codec)
    fb = audio_frames(4000 + callee_peer.port, n, callee_codec)
    t = time.monotonic()
    ta = c.peer.send_frames(c.codec, fa)
    tb = callee_peer.send_frames(callee_codec, fb)
    ta.join(5)
    tb.join(5)
    time.sleep(0.3)
    at_callee = callee_peer.packets(callee_codec)
    at_caller = c.peer.packets(c.codec, since=t)
    assert find_frames(fa, c.codec, payloads(at_callee), callee_codec) >= n - 5, \
        "caller audio at the callee: %d packets\n%s" % (len(at_callee), p.describe())
    assert find_frames(fb, callee_codec, payloads(at_caller), c.codec) >= n - 5, \
        "callee audio at the caller: %d packets\n%s" % (len(at_caller), p.describe())


def _wait_metric(env, before, name, want, timeout=4.0, **labels):
    """Waits until metric name grew by want since before; returns when."""
    end = time.monotonic() + timeout
    while True:
        d = delta(env, before, name, **labels)
        if d >= want:
            return time.monotonic()
        if time.monotonic() > end:
            raise AssertionError("%s grew by %s, want %s" % (name, d, want))
        time.sleep(0.05)


# --- the harness alone (no pinbridge) --------------------------------------------

@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_standalone_dtmf_generators(parties, codec):
    """What the PIN tests key decodes to exactly the digits meant, by each
    route, repeated digits included; a gateway's tones and events each give
    the digits once."""
    p = parties
    a, b = p.peer(CALLER_IP, "keyer"), p.peer(CALLEE_IP, "listener")
    a.set_remote((b.ip, b.port))
    send_rfc4733(a, 101, "1122")
    send_rfc4733(a, 101, "0123456789*#")
    time.sleep(0.1)
    ev = b.packets(101)
    assert events_digits(ev, 101) == "11220123456789*#"
    first = [pk for pk in ev if pk.marker]
    assert len(first) == 16 and all(pk.event()[3] == 160 for pk in first)
    ends = [pk for pk in ev if pk.event()[1]]
    assert len(ends) == 16 * 3
    by_ts = {}
    for pk in ev:
        by_ts.setdefault(pk.ts, set()).add(pk.event()[0])
    assert len(by_ts) == 16 and all(len(v) == 1 for v in by_ts.values()), "one event, one timestamp"

    a4, b4 = p.peer(CALLER_IP, "rough"), p.peer(CALLEE_IP, "listener4")
    a4.set_remote((b4.ip, b4.port))
    send_rfc4733_rough(a4, 101, "112233")
    time.sleep(0.1)
    rough = b4.packets(101)
    assert events_digits(rough, 101) == "112233"
    arrival = [pk.seq for pk in rough]
    assert len(arrival) != len(set(arrival)), "no duplicates sent"
    assert arrival != sorted(arrival, key=lambda q: (q - arrival[0]) & 0xFFFF), "nothing reordered"
    assert len({pk.ts for pk in rough if pk.marker}) == 4, "two events' marker packets lost"

    a2, b2 = p.peer(CALLER_IP, "keyer2"), p.peer(CALLEE_IP, "listener2")
    a2.set_remote((b2.ip, b2.port))
    send_inband(a2, codec, "1122", lead_ms=40)
    send_inband(a2, codec, "0123456789*#")
    time.sleep(0.1)
    assert inband_digits(packets_samples(b2.packets(codec), codec)) == "11220123456789*#"
    assert audio_level(b2.packets(codec))[1] > 10

    a3, b3 = p.peer(CALLER_IP, "gateway"), p.peer(CALLEE_IP, "listener3")
    a3.set_remote((b3.ip, b3.port))
    send_gateway(a3, codec, 101, "1122")
    time.sleep(0.1)
    got = b3.packets()
    assert events_digits(got, 101) == "1122"
    assert inband_digits(packets_samples(got, codec)) == "1122"
    assert len({pk.ssrc for pk in got}) == 1
    seqs = [pk.seq for pk in sorted(got, key=lambda x: x.t)]
    assert all((y - x) & 0xFFFF == 1 for x, y in zip(seqs, seqs[1:])), "one sequence for tones and events"
    # speech-like noise and a lone tone are no digits: the decoder can say no
    noise = []
    for fr in audio_frames(7, 50, codec):
        noise += decode(codec, fr)
    assert inband_digits(noise) == ""
    lone = [int(9000 * math.sin(2 * math.pi * 770 * i / 8000)) for i in range(1600)]
    assert inband_digits(lone) == ""


def _info_uas(outdir, n):
    """A callee that answers and takes n INFOs (200 each), then waits for BYE."""
    info = '  <recv request="INFO"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n' \
           '      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n' \
           '      [last_CSeq:]\n      Content-Length: 0\n\n    ]]>\n  </send>\n'
    text = open(scenario("call_uas_answer", outdir, RING_MS=100, HOLD_MS=8000)).read()
    marker = '  <recv request="ACK" crlf="true"/>\n'
    assert marker in text
    text = text.replace(marker, marker + info * n, 1)
    path = os.path.join(outdir, "pin_uas_info-%d.xml" % n)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_standalone_info_caller(parties):
    """The generated INFO caller sends one INFO per digit, dtmf-relay and
    dtmf bodies as asked, then hangs up."""
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(_info_uas(p.tmp, 5), b, "+919800000002", port=free_port_on(CALLEE_IP))
    path = info_scenario(p.tmp, "12*#1", lead_ms=100, gap_ms=50, hold_ms=300, ctypes=("dtmf-relay", "dtmf"))
    uac = p.caller(path, "+917400000001", "+919800000001", a, remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, p.describe()
    assert uas.wait(15) == 0, p.describe()
    infos = uas.received("INFO")
    got = []
    for m in infos:
        ct = m.header("Content-Type")
        if ct == "application/dtmf-relay":
            sig = re.search(r"^Signal=(.)$", m.body, re.M)
            assert sig and re.search(r"^Duration=160$", m.body, re.M), m.text
            got.append(sig.group(1))
        else:
            assert ct == "application/dtmf", m.text
            got.append(m.body.strip())
    assert "".join(got) == "12*#1"
    assert [m.header("Content-Type") for m in infos][:2] == ["application/dtmf-relay", "application/dtmf"]
    assert [int(m.header("CSeq").split()[0]) for m in infos] == [2, 3, 4, 5, 6]
    assert [m.method for m in uas.received() if not m.is_response][-1] == "BYE"


def _need_root_pcaps():
    if os.geteuid() != 0:
        pytest.skip("SIPp plays pcaps from a raw socket: needs root")
    if not os.path.exists(os.path.join(PCAP_DIR, "dtmf_2833_1.pcap")):
        pytest.skip("sip-tester's pcaps not installed")


def test_standalone_pcap_caller(parties):
    """The generated pcap caller plays sip-tester's RFC 4733 pcaps to the
    answer's media address: strictly ascending digits come out as a stream
    of ascending sequence numbers, one SSRC."""
    _need_root_pcaps()
    with pytest.raises(ValueError):
        pcap_scenario(parties.tmp, "1123")
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=8000), b, "+919800000002",
                   port=free_port_on(CALLEE_IP))
    uac = p.caller(pcap_scenario(p.tmp, "1357", lead_ms=100, gap_ms=250, hold_ms=600), "+917400000001",
                   "+919800000001", a, remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, p.describe()
    inv = uas.received("INVITE")[0]
    assert inv.sdp.ip == CALLER_IP and inv.sdp.port == uac.media_port, inv.text
    assert inv.sdp.pt_of("telephone-event") == 101, inv.text
    b.wait_packets(40, pt=101, timeout=2)
    got = b.packets(101)
    assert events_digits(got, 101) == "1357", got
    assert {pk.src for pk in got} == {(CALLER_IP, uac.media_port)}, {pk.src for pk in got}
    want = [(s, t, ss) for s, t, ss, _, _ in pcap_events("1357")]
    assert [(pk.seq, pk.ts, pk.ssrc) for pk in got] == want, "SIPp rewrote the pcaps' RTP headers"


# --- pinbridge: prompts and the PIN by each route --------------------------------

def test_prompt_heard_before_any_digit(env, parties):
    """A PIN caller is answered 200 at once (nothing ringing first) with
    pinbridge's SDP, and hears the enter-PIN prompt from it before keying
    anything. Hanging up there leaves a call-attempt record."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="2580", b_pin="1397")
    m0 = metrics(env)
    c = pin_call(p, vn, a_num, hold_ms=2500)
    assert invite_responses(c.uac) == [200] or invite_responses(c.uac) == [100, 200], \
        "a PIN caller is answered at once: %s" % p.describe()
    assert c.ok.sdp.ip == PB_IP and c.ok.sdp.port != c.peer.port, c.ok.text
    assert c.ok.sdp.codec == PCMU and c.ok.sdp.pt_of("telephone-event") == 101, c.ok.text
    got = wait_prompt(c, p, loud=15, timeout=2.5)
    n, loud, peak = audio_level(got)
    assert peak > 1000, "the prompt is barely audible: peak RMS %.0f" % peak
    assert all(pk.pt == PCMU for pk in got), "prompt in the caller's codec: %r" % got[:3]
    assert c.uac.wait(10) == 0, p.describe()
    rec = check_attempt(env, PIN, completed_event(env, PIN, a_num)["call_sid"], vn, a_num)
    assert rec["greenpin_id"] in (None, ""), "nothing keyed, no allocation picked: %r" % rec
    assert delta(env, m0, M_TOTAL, outcome="call-attempt") == 1
    assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == a_num)
    assert not hooks(env, PIN, "verification_failure", lambda b: b.get("caller") == a_num)


def test_digit_barges_in(env, parties):
    """A digit stops the prompt that is playing (the enter-PIN prompt runs
    for seconds): the caller hears it up to the digit and nothing loud
    after, until the inter-digit timeout could start another prompt."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="8642", b_pin="9753")
    c = pin_call(p, vn, a_num, hold_ms=1500)  # leaves before the entry times out
    wait_prompt(c, p, loud=15)
    t = send_rfc4733(c.peer, 101, "8")
    before = [pk for pk in prompt_packets(c, since=t - 0.4) if pk.t < t - 0.1]
    assert audio_level(before)[1] >= 10, "the prompt was not playing when the digit came"
    time.sleep(INTER_DIGIT * 0.9)
    after = [pk for pk in prompt_packets(c, since=t + 0.25) if pk.t < t + INTER_DIGIT * 0.9]
    n, loud, peak = audio_level(after)
    assert loud == 0, "the prompt went on after the digit: %d of %d frames loud (peak RMS %.0f)" % (
        loud, n, peak)
    assert c.uac.wait(8) == 0, p.describe()


def test_right_pin_rfc4733_bridges(env, parties):
    """A keys its PIN with repeated digits by RFC 4733: verification-success,
    B is dialled at once as a direct call would be (From/PAI = VN) while
    "please wait" plays,
    answers, and audio crosses both ways; the caller gets no second 200."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1122", b_pin="3344")
    m0 = metrics(env)
    uas, callee_peer = callee_answers(p, b_num, ring_ms=1500)
    c = pin_call(p, vn, a_num, hold_ms=9000)
    wait_prompt(c, p, loud=5)
    t_keyed = send_rfc4733(c.peer, 101, "1122")
    inv = uas.wait_received("INVITE", timeout=8)
    t_inv = time.monotonic()
    # Dialled at once, "please wait" (3 s) playing meanwhile until the
    # callee answers (1.5 s after its INVITE).
    assert t_inv - t_keyed < 1.5, "B dialled %.2f s after the PIN" % (t_inv - t_keyed)
    wait_prompt(c, p, loud=5, since=t_keyed)  # "please wait", until B answers
    h = check_success(env, PIN, alloc, vn, a_num, "1122")
    sid = h.json["call_sid"]
    check_dialled_masked(inv, b_num, vn)
    bridged_audio(c, uas, callee_peer, p)
    assert c.uac.wait(15) == 0 and uas.wait(10) == 0, p.describe()
    assert invite_responses(c.uac).count(200) == 1, "a second 200 to the caller: %s" % p.describe()
    c.caller_num, c.callee_num, c.caller_peer, c.callee_peer, c.uas = a_num, b_num, c.peer, callee_peer, uas
    leaks = masking_leaks(c, p)
    assert not leaks, "\n".join(leaks)
    rec = wait_record(env, PIN, sid)
    assert rec["call_type"] == "completed" and rec["dial_call_status"] == "completed", rec
    assert rec["greenpin_id"] == alloc["greenpin_id"] and rec["from"] == a_num and rec["to"] == b_num, rec
    assert rec["vn"] == vn, rec
    assert delta(env, m0, M_ATTEMPTS, result="success") == 1
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 0


def test_rfc4733_duplicates_reordering_loss(env, parties):
    """RFC 4733 as a lossy network delivers it: every packet twice,
    neighbours swapped, the marker packet lost; each event is still one
    digit, so "1122" is four digits and right."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1122", b_pin="4747")
    m0 = metrics(env)
    uas = callee_busy(p, [(b_num, ("busy",))])
    c = pin_call(p, vn, a_num, hold_ms=12000)
    wait_prompt(c, p, loud=5)
    send_rfc4733_rough(c.peer, 101, "1122")
    check_success(env, PIN, alloc, vn, a_num, "1122")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    c.uac.wait_received("BYE", timeout=10)  # busy: a short prompt and BYE
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 0


def test_wrong_pin_max_attempts(env, parties):
    """max_attempts wrong PINs: wrong-PIN prompt between them, then the
    verification-failure webhook, a goodbye prompt and BYE from pinbridge;
    nobody is dialled; the record is a call-attempt."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="4321", b_pin="8765")
    m0 = metrics(env)
    uas = callee_busy(p, [(b_num, ("busy",))], timeout=20)
    c = pin_call(p, vn, a_num, hold_ms=20000)
    wait_prompt(c, p, loud=5)
    wrong = ["9999", "8888", "7777"]
    t_last = None
    for i, pin in enumerate(wrong):
        t_last = send_rfc4733(c.peer, 101, pin + "#")
        if i < len(wrong) - 1:
            wait_prompt(c, p, loud=5, since=t_last)  # the wrong-PIN prompt
    bye = c.uac.wait_received("BYE", timeout=10)
    assert c.uac.wait(5) == 0, p.describe()
    t_bye = time.monotonic()
    goodbye = [pk for pk in prompt_packets(c, since=t_last) if pk.t < t_bye]
    assert audio_level(goodbye)[1] >= 5, "no goodbye prompt before the BYE"
    assert bye is not None
    h = wait_hook(env, PIN, "verification_failure", lambda b: b.get("caller") == a_num)
    body = h.json
    assert FAILURE_KEYS <= set(body), "verification-failure lacks %s: %r" % (FAILURE_KEYS - set(body), body)
    assert body["vn"] == vn and body["pin"] == "7777" and SID_RE.match(body["call_sid"] or ""), body
    assert iso_offset_ok(body["start_time"], PIN), body
    assert len(hooks(env, PIN, "verification_failure", lambda b: b.get("caller") == a_num)) == 1
    check_attempt(env, PIN, body["call_sid"], vn, a_num)
    time.sleep(0.2)
    uas.kill()
    assert dialled(uas) == [], "a failed PIN caller was dialled through: %s" % p.describe()
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 3
    assert delta(env, m0, M_FAILURES_VN, vn=vn) == 3
    assert delta(env, m0, M_TOTAL, outcome="call-attempt") == 1
    assert delta(env, m0, M_LOCKOUTS) == 0


def test_silence_is_a_wrong_pin_after_first_digit(env, parties):
    """A caller who keys nothing: pin.first_digit after the enter-PIN
    prompt ends, the (empty) entry counts as a wrong PIN and the wrong-PIN
    prompt follows."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="3690", b_pin="1478")
    m0 = metrics(env)
    c = pin_call(p, vn, a_num, hold_ms=8500)  # leaves during the wrong-PIN prompt
    wait_prompt(c, p, loud=5)
    quiet_since = None
    end = time.monotonic() + 8
    while time.monotonic() < end:  # the prompt's end: 0.5 s without a loud frame
        recent = prompt_packets(c, since=time.monotonic() - 0.5)
        if audio_level(recent)[1] == 0:  # silence frames, or no RTP at all
            quiet_since = time.monotonic() - 0.5
            break
        time.sleep(0.05)
    assert quiet_since, "the enter-PIN prompt did not end within 8 s"
    t = _wait_metric(env, m0, M_ATTEMPTS, 1, timeout=FIRST_DIGIT + 2, result="failure")
    waited = t - quiet_since
    assert FIRST_DIGIT - 0.6 <= waited <= FIRST_DIGIT + 0.8, \
        "the empty entry was judged %.2fs after the prompt, first_digit is %.1fs" % (waited, FIRST_DIGIT)
    wait_prompt(c, p, loud=5, since=t)
    assert c.uac.wait(8) == 0, p.describe()
    assert not c.uac.received("BYE"), "hung up after one silent attempt: %s" % p.describe()
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 1


def test_three_digit_pin_completes_without_hash(env, parties):
    """PINs on a VN are prefix-free: a 3-digit PIN beside 4-digit ones is
    complete at its third digit, well before the inter-digit timeout."""
    p = parties
    vn = env.vn(PIN)
    a_num, b_num = number(), number()
    alloc, _ = allocate(env, PIN, [a_num], [b_num], a_pin="583", b_pin="7070", vn=vn)
    allocate(env, PIN, [number()], [number()], a_pin="1234", b_pin="6060", vn=vn)
    allocate(env, PIN, [number()], [number()], a_pin="9021", b_pin="4040", vn=vn)
    uas = callee_busy(p, [(b_num, ("busy",))])
    c = pin_call(p, vn, a_num, hold_ms=12000)
    wait_prompt(c, p, loud=5)
    t_keyed = send_rfc4733(c.peer, 101, "583")
    h = check_success(env, PIN, alloc, vn, a_num, "583", timeout=4)
    took = h.arrived - t_keyed
    assert took < INTER_DIGIT * 0.8, "the PIN was taken %.2fs after its last digit: the inter-digit " \
        "timeout (%.1fs), not the PIN, completed it" % (took, INTER_DIGIT)
    inv = uas.wait_received("INVITE", timeout=8)
    check_dialled_masked(inv, b_num, vn)
    c.uac.wait_received("BYE", timeout=10)  # busy: a short prompt and BYE


@pytest.mark.parametrize("codec", [PCMA, PCMU])
def test_inband_pin(env, parties, codec):
    """The PIN keyed as in-band tones in the caller's codec, repeated digits
    included."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="7700", b_pin="1357")
    uas, callee_peer = callee_answers(p, b_num)
    c = pin_call(p, vn, a_num, hold_ms=9000, codecs=str(codec))
    assert c.codec == codec, c.ok.text
    wait_prompt(c, p, loud=5)
    send_inband(c.peer, codec, "7700", lead_ms=60)
    check_success(env, PIN, alloc, vn, a_num, "7700")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    bridged_audio(c, uas, callee_peer, p, n=25)
    assert c.uac.wait(15) == 0, p.describe()


def test_info_pin(env, parties):
    """The PIN keyed by SIP INFO (dtmf-relay and dtmf bodies mixed), each
    INFO answered 200; then B is dialled and answers."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="2468", b_pin="1359")
    uas, callee_peer = callee_answers(p, b_num)
    path = info_scenario(p.tmp, "2468", lead_ms=700, gap_ms=150, hold_ms=9000,
                         ctypes=("dtmf-relay", "dtmf"))
    c = pin_call(p, vn, a_num, path=path)
    check_success(env, PIN, alloc, vn, a_num, "2468")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    assert [m.status for m in c.uac.received() if m.cseq_method == "INFO"] == [200] * 4, p.describe()
    bridged_audio(c, uas, callee_peer, p, n=25)
    assert c.uac.wait(15) == 0, p.describe()


def test_pcap_pin_smoke(env, parties):
    """sip-tester's own RFC 4733 pcaps (played by SIPp from its media port)
    key a PIN of strictly ascending digits."""
    _need_root_pcaps()
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1357", b_pin="2468")
    uas = callee_busy(p, [(b_num, ("busy",))])
    path = pcap_scenario(p.tmp, "1357", lead_ms=800, gap_ms=300, hold_ms=12000)
    c = pin_call(p, vn, a_num, path=path)
    check_success(env, PIN, alloc, vn, a_num, "1357")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    c.uac.wait_received("BYE", timeout=10)  # busy: a short prompt and BYE


def test_gateway_tones_and_events_count_once(env, parties):
    """A gateway sending every key both as tones and as RFC 4733 events:
    the first route locks, so "1122" stays four digits."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1122", b_pin="5566")
    m0 = metrics(env)
    uas = callee_busy(p, [(b_num, ("busy",))])
    c = pin_call(p, vn, a_num, hold_ms=12000)
    wait_prompt(c, p, loud=5)
    send_gateway(c.peer, PCMU, 101, "1122")
    check_success(env, PIN, alloc, vn, a_num, "1122")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    c.uac.wait_received("BYE", timeout=10)  # busy: a short prompt and BYE
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 0


def test_route_locked_to_the_first(env, parties):
    """The first route to deliver a digit is locked for the call: after two
    digits by RFC 4733, the rest keyed as tones is ignored, so the entry
    times out as a wrong PIN; keyed again by RFC 4733 it gets through."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1122", b_pin="3434")
    m0 = metrics(env)
    uas = callee_busy(p, [(b_num, ("busy",))])
    c = pin_call(p, vn, a_num, hold_ms=15000)
    wait_prompt(c, p, loud=5)
    send_rfc4733(c.peer, 101, "11")
    send_inband(c.peer, PCMU, "22", lead_ms=40)
    t = _wait_metric(env, m0, M_ATTEMPTS, 1, timeout=INTER_DIGIT + 3, result="failure")
    assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == a_num), \
        "tones counted after RFC 4733 digits in one call"
    wait_prompt(c, p, loud=3, since=t)  # the wrong-PIN prompt
    send_rfc4733(c.peer, 101, "1122")
    check_success(env, PIN, alloc, vn, a_num, "1122")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    c.uac.wait_received("BYE", timeout=10)  # busy: a short prompt and BYE
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 1


def test_star_restarts_entry(env, parties):
    """'*' throws away what was keyed so far; the PIN keyed after it is
    checked alone, and nothing counts as a failure. The caller's
    telephone-event payload type is 96, not 101: pinbridge takes the
    caller's."""
    p = parties
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [b_num], a_pin="2020", b_pin="3131")
    m0 = metrics(env)
    uas = callee_busy(p, [(b_num, ("busy",))])
    c = pin_call(p, vn, a_num, hold_ms=15000, te=96)
    assert c.ok.sdp.pt_of("telephone-event") == 96, c.ok.text
    wait_prompt(c, p, loud=5)
    send_rfc4733(c.peer, 96, "20*2020")
    check_success(env, PIN, alloc, vn, a_num, "2020")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), b_num, vn)
    c.uac.wait_received("BYE", timeout=10)
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 0


# --- pinbridge: which allocation, who may join, who may not -------------------------

def test_open_side_join_and_full(env, parties):
    """R2: unregistered callers keying the open B side's PIN join it (the
    verification-success webhook, GET lists them) and are put through to A;
    the first talks to A. At 10 numbers the side is full: an 11th unknown
    caller with the right PIN hears not-allowed and is hung up on
    (call-attempt)."""
    p = parties
    a_num = number()
    alloc, vn = allocate(env, PIN, [a_num], [], a_pin="6161", b_pin="2727")
    gid = alloc["greenpin_id"]
    joiners = [number() for _ in range(10)]
    # the first joiner talks to A
    uas, callee_peer = callee_answers(p, a_num, hold_ms=10000)
    c = pin_call(p, vn, joiners[0], hold_ms=5500, name="joiner0")
    wait_prompt(c, p, loud=5)
    send_rfc4733(c.peer, 101, "2727")
    check_success(env, PIN, alloc, vn, joiners[0], "2727")
    check_dialled_masked(uas.wait_received("INVITE", timeout=8), a_num, vn)
    got = ok(env.server.get(gid, tenant=PIN))
    assert got["b"].get("numbers") == [joiners[0]], got
    bridged_audio(c, uas, callee_peer, p, n=20)
    assert c.uac.wait(12) == 0 and uas.wait(10) == 0, p.describe()
    # nine more at once fill the side; A is busy for them
    uas = callee_busy(p, [(a_num, ("busy",))], max_calls=9, timeout=25)
    calls = [pin_call(p, vn, j, hold_ms=15000, name="joiner%d" % i, wait_ok=False)
             for i, j in enumerate(joiners[1:], 1)]
    for cc in calls:
        answered(cc, p, timeout=8)
    for cc in calls:
        wait_prompt(cc, p, loud=3)
    key_all(calls, ["2727"] * len(calls))
    for j in joiners[1:]:
        check_success(env, PIN, alloc, vn, j, "2727", timeout=10)
    got = ok(env.server.get(gid, tenant=PIN))
    assert sorted(got["b"]["numbers"]) == sorted(joiners), got
    for cc in calls:
        cc.uac.wait_received("BYE", timeout=15)  # A busy: prompt and BYE
    uas.wait(10)
    # the eleventh
    m0 = metrics(env)
    late = number()
    c = pin_call(p, vn, late, hold_ms=15000, name="eleventh")
    wait_prompt(c, p, loud=5)
    t_keyed = send_rfc4733(c.peer, 101, "2727")
    c.uac.wait_received("BYE", timeout=10)
    assert audio_level(prompt_packets(c, since=t_keyed))[1] >= 5, "no not-allowed prompt before BYE"
    assert c.uac.wait(5) == 0, p.describe()
    assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == late)
    check_attempt(env, PIN, completed_event(env, PIN, late)["call_sid"], vn, late)
    got = ok(env.server.get(gid, tenant=PIN))
    assert late not in got["b"]["numbers"] and len(got["b"]["numbers"]) == 10, got
    assert delta(env, m0, M_TOTAL, outcome="call-attempt") == 1
    # twenty-odd legs came and went: every port pair is given back
    wait_active(env, 0, timeout=5)
    end = time.monotonic() + 3
    while metric_sum(metrics(env), M_PORT_PAIRS, state="in_use") != 0:
        assert time.monotonic() < end, "port pairs still in use after every call ended: %s" % [
            (lab, v) for n, lab, v in metrics(env) if n == M_PORT_PAIRS]
        time.sleep(0.1)


def test_pin_admits_only_its_side(env, parties):
    """R2's limits: A keying its own allocation's open B PIN does not join B
    (a caller on the other side may not), and a stranger keying a closed
    side's PIN is not admitted: nobody dialled, nobody added, no success
    event, whatever prompt they hear."""
    p = parties
    a_num, stranger = number(), number()
    alloc, vn = allocate(env, PIN, [a_num], [], a_pin="5151", b_pin="6262")
    gid = alloc["greenpin_id"]
    uas = callee_busy(p, [(a_num, ("busy",))], max_calls=2, timeout=15)
    fails0 = metric_sum(metrics(env), M_ATTEMPTS, result="failure") or 0
    own = pin_call(p, vn, a_num, hold_ms=2500, name="a-keys-b", wait_ok=False)
    other = pin_call(p, vn, stranger, hold_ms=2500, name="stranger-keys-a", wait_ok=False)
    for cc in (own, other):
        answered(cc, p)
        wait_prompt(cc, p, loud=3)
    key_all([own, other], ["6262", "5151"])
    for cc in (own, other):
        assert cc.uac.wait(10) == 0, p.describe()
    time.sleep(0.3)
    uas.kill()
    assert dialled(uas) == [], "a caller the PIN does not admit was put through: %s" % p.describe()
    for who in (a_num, stranger):
        assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == who), who
    got = ok(env.server.get(gid, tenant=PIN))
    assert not got["b"].get("numbers"), "B joined by a caller not admitted: %r" % got
    assert got["a"]["numbers"] == [a_num], got
    # Someone else's PIN must look like a wrong one (DESIGN §3 step 4:
    # failure, counted by the guard), or callers could find which exist.
    fails = metric_sum(metrics(env), M_ATTEMPTS, result="failure") or 0
    assert fails - fails0 == 2, "foreign PINs counted as %s failures, want 2" % (fails - fails0)


def test_agent_pin_picks_the_allocation(env, parties):
    """A delivery agent who is the A number of 5 allocations on one VN
    reaches each allocation's customer by keying that allocation's A PIN:
    the PIN, not the caller, picks the allocation."""
    p = parties
    vn = env.vn(PIN)
    agent = number()
    pins = ["1201", "3402", "5603", "7804", "9005"]
    allocs = []
    for i, pin in enumerate(pins):
        customer = number()
        alloc, _ = allocate(env, PIN, [agent], [customer], a_pin=pin, b_pin=str(i + 2) * 4, vn=vn)
        allocs.append((alloc, customer))
    uas = callee_busy(p, [(cust, ("busy",)) for _, cust in allocs], max_calls=5, timeout=25)
    calls = [pin_call(p, vn, agent, hold_ms=15000, name="agent%d" % i, wait_ok=False) for i in range(5)]
    for cc in calls:
        answered(cc, p, timeout=8)
    for cc in calls:
        wait_prompt(cc, p, loud=3)
    key_all(calls, pins)
    hits = env.rx.wait(lambda: (lambda h: h if len(h) >= 5 else None)(
        hooks(env, PIN, "verification_success", lambda b: b.get("caller") == agent)), 10,
        "5 verification-success webhooks of the agent")
    by_pin = {h.json["pin"]: h.json for h in hits}
    assert set(by_pin) == set(pins), [h.json for h in hits]
    for (alloc, _), pin in zip(allocs, pins):
        assert by_pin[pin]["greenpin_id"] == alloc["greenpin_id"], (pin, by_pin[pin], alloc)
        assert by_pin[pin]["transaction_id"] == alloc["transaction_id"], by_pin[pin]
    for cc in calls:
        cc.uac.wait_received("BYE", timeout=15)
    uas.wait(10)
    assert sorted(dialled(uas)) == sorted(cust for _, cust in allocs), p.describe()
    for alloc, cust in allocs:
        sid = by_pin[alloc["a"]["pin"]]["call_sid"]
        rec = wait_record(env, PIN, sid)
        assert rec["greenpin_id"] == alloc["greenpin_id"] and rec["to"] == cust, rec
        assert rec["dial_call_status"] == "busy" and rec["call_type"] == "incomplete", rec


def test_oneway_b_pin_admits_nobody(env, parties):
    """oneway: B keying B's PIN hears not-allowed and is hung up on; A is
    not dialled; the record is a call-attempt."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1470", b_pin="2581", usage="oneway")
    uas = callee_busy(p, [(a_num, ("busy",))])
    c = pin_call(p, vn, b_num, hold_ms=15000)
    wait_prompt(c, p, loud=5)
    t_keyed = send_rfc4733(c.peer, 101, "2581")
    c.uac.wait_received("BYE", timeout=10)
    assert audio_level(prompt_packets(c, since=t_keyed))[1] >= 5, "no not-allowed prompt before BYE"
    assert c.uac.wait(5) == 0, p.describe()
    time.sleep(0.3)
    uas.kill()
    assert dialled(uas) == [], "oneway B was put through: %s" % p.describe()
    assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == b_num)
    check_attempt(env, PIN, completed_event(env, PIN, b_num)["call_sid"], vn, b_num)


# --- pinbridge: the brute-force guard ------------------------------------------------

def test_lockout_refuses_then_releases_direct_route_unaffected(env, parties):
    """lockout_after failures (over two calls) lock the caller out of PIN
    entry: the right PIN in the same call is refused (not-allowed, BYE), and
    new calls only a PIN could route get 403 before answering, on this VN
    and on another; meanwhile the same number's direct route (pinmix, A
    without PIN) is dialled. After lockout_for the caller is answered again
    and the right PIN gets through."""
    p = parties
    x = number()
    y1, y2 = number(), number()
    alloc1, v1 = allocate(env, PIN, [x], [y1], a_pin="2580", b_pin="1397")
    _, v3 = allocate(env, PIN, [number()], [number()], a_pin="4826", b_pin="7319")
    _, v2 = allocate(env, MIX, [x], [y2], b_pin="6482")
    m0 = metrics(env)
    uas = callee_busy(p, [(y2, ("busy",)), (y1, ("busy",))], max_calls=2, timeout=28)
    # call 1: max_attempts failures
    c1 = pin_call(p, v1, x, hold_ms=20000, name="try1")
    wait_prompt(c1, p, loud=5)
    for i in range(MAX_ATTEMPTS):
        t = send_rfc4733(c1.peer, 101, "000%d#" % i)
        if i < MAX_ATTEMPTS - 1:
            wait_prompt(c1, p, loud=3, since=t)
    _wait_metric(env, m0, M_ATTEMPTS, MAX_ATTEMPTS, result="failure")
    assert delta(env, m0, M_LOCKOUTS) == 0, "locked out after %d failures" % MAX_ATTEMPTS
    # call 2: the failure that locks; then the right PIN is refused
    c2 = pin_call(p, v1, x, hold_ms=20000, name="try2")
    wait_prompt(c2, p, loud=5)
    send_rfc4733(c2.peer, 101, "0009#")
    t_lock = _wait_metric(env, m0, M_LOCKOUTS, 1)
    # new calls while locked: PIN-only routes 403, the direct route dialled
    blocked1 = pin_call(p, v1, x, name="locked-v1", wait_ok=False, timeout=10)
    blocked3 = pin_call(p, v3, x, name="locked-v3", wait_ok=False, timeout=10)
    direct = pin_call(p, v2, x, name="direct", wait_ok=False, timeout=10)
    send_rfc4733(c2.peer, 101, "2580")
    assert blocked1.uac.wait(8) == 0 and blocked3.uac.wait(8) == 0, p.describe()
    t_refused = time.monotonic()
    assert t_refused - t_lock < LOCKOUT_FOR, "too slow to see the lockout (%.2fs)" % (t_refused - t_lock)
    for b in (blocked1, blocked3):
        assert invite_responses(b.uac) in ([403], [100, 403]), \
            "a locked-out caller on a PIN-only route: %s\n%s" % (invite_responses(b.uac), p.describe())
        assert b.peer.packets() == [], "RTP to a refused caller"
    assert direct.uac.wait(8) == 0 and direct.uac.final_status() == 486, p.describe()
    for cc in (c1, c2):  # goodbye; not-allowed
        cc.uac.wait_received("BYE", timeout=10)
        assert cc.uac.wait(5) == 0, p.describe()
    assert not hooks(env, PIN, "verification_success", lambda b: b.get("caller") == x), \
        "the right PIN got through during the lockout"
    assert delta(env, m0, M_LOCKED) == 3, "refusals: the right PIN in call 2, and the two 403s"
    assert delta(env, m0, M_ATTEMPTS, result="failure") == LOCKOUT_AFTER
    # released
    left = t_lock + LOCKOUT_FOR + 0.3 - time.monotonic()
    if left > 0:
        time.sleep(left)
    c5 = pin_call(p, v1, x, hold_ms=15000, name="released")
    wait_prompt(c5, p, loud=5)
    send_rfc4733(c5.peer, 101, "2580")
    check_success(env, PIN, alloc1, v1, x, "2580")
    c5.uac.wait_received("BYE", timeout=10)  # y1 busy
    uas.wait(10)
    assert dialled(uas) == [y2, y1], p.describe()
    assert delta(env, m0, M_LOCKOUTS) == 1


def test_caller_hangs_up_mid_pin(env, parties):
    """The caller leaves after two digits: a call-attempt record with its
    call-completed event; no verification event; nobody dialled."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, PIN, [a_num], [b_num], a_pin="1357", b_pin="2468")
    m0 = metrics(env)
    c = pin_call(p, vn, a_num, hold_ms=1100)  # BYE well before the inter-digit timeout
    time.sleep(0.1)
    send_rfc4733(c.peer, 101, "13", gap=0.1)
    assert c.uac.wait(8) == 0, p.describe()
    assert not c.uac.received("BYE"), "pinbridge hung up first: %s" % p.describe()
    ev = completed_event(env, PIN, a_num)
    rec = check_attempt(env, PIN, ev["call_sid"], vn, a_num)
    for k in ("call_type", "dial_call_status", "from", "to", "vn"):
        assert ev[k] == rec[k], (ev, rec)
    assert delta(env, m0, M_TOTAL, outcome="call-attempt") == 1
    assert delta(env, m0, M_ATTEMPTS, result="failure") == 0
    assert not hooks(env, PIN, "verification_failure", lambda b: b.get("caller") == a_num)
