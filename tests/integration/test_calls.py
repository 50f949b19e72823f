"""Calls (issue 4, DESIGN §3, §4, §6): direct routing, hunting, masking,
anchored media, call records and call-completed webhooks, on the real
binary with SIPp parties and the test's own RTP peers.

pinbridge listens on 127.0.0.1; callers run on 127.0.0.2, callees on
127.0.0.3 (the trunk's outbound proxy is the callee SIPp's port there), and
an outsider on 127.0.0.4. Tenants: "calls" (PINs off on both sides, short
ring timeout and hunt cap) and "calldemo" (the sample's pin a on, b off,
for the B-calls-A direct path); both post call-completed events to one
receiver.

The test_standalone_* tests run the SIPp scenarios and RTP peers against
each other without pinbridge: they check the harness itself.

Every wait is bounded; each test stays well under 30 s.
"""
import datetime
import json
import itertools
import re
import time
import uuid
from urllib.parse import quote

import pytest

from pbcall import (CALLEE_IP, CALLER_IP, OUTSIDER_IP, PB_IP, PCMA, PCMU, RtpPeer, Sipp,
                    audio_frames, find_frames, free_port_on, hunt_scenario, metric_sum,
                    parse_metrics, port_closed, rtcp_packets, scenario, sip_options, uri_user)
from pbdata import number, ok, txn
from pbhook import Receiver, check_signature, webhooks_block
from pbserver import Server

# --- what pinbridge exports (names in one place) ---------------------------------
M_ACTIVE = "pinbridge_calls_active"
M_TOTAL = "pinbridge_calls_total"                  # label outcome
M_SETUP_COUNT = "pinbridge_call_setup_seconds_count"
M_HUNT_ATTEMPTS = "pinbridge_call_hunt_attempts_total"   # callee INVITEs sent
M_RELAYED = "pinbridge_rtp_packets_relayed_total"
M_DROPPED = "pinbridge_rtp_packets_dropped_total"
M_PORT_PAIRS = "pinbridge_media_port_pairs"        # label state: free, quarantined, in_use

# --- the calls API and its records ------------------------------------------------
CALLS_LIST_KEY = "calls"   # data = {"calls": [...], "next_cursor": ...}
RECORD_KEYS = {"call_sid", "greenpin_id", "transaction_id", "vn", "from", "to", "call_type",
               "dial_call_status", "start_time", "started_at", "answered_at", "ended_at",
               "dial_call_duration", "on_call_duration", "direction", "state"}
EVENT_KEYS = (RECORD_KEYS - {"state"}) | {"current_time", "source", "recording_url"}
SID_RE = re.compile(r"^[0-9a-f]{32}$")

CALLS, DEMO = "calls", "calldemo"
POOLS = {CALLS: "+917100000000-+917100000099", DEMO: "+917200000000-+917200000099"}
UNKNOWN_VN = "+917300000042"    # in no tenant's pool
SECRETS = {t: "cc-%s-%s" % (t, uuid.uuid4().hex[:8]) for t in POOLS}
HOOK_PATHS = {CALLS: "/hooks/calls", DEMO: "/hooks/calldemo"}
TIMEZONES = {CALLS: "UTC", DEMO: "+05:30"}   # record and event times carry the tenant's offset
RING_TIMEOUT = 2.0
MAX_HUNT = 6.0
CREDS = {t: ("%s-key" % t, "%s-token" % t) for t in POOLS}


def tenant_block(tid, pin_a, pin_b, hook_url):
    return """  { id = "%s"; api_key = "%s-key"; api_token = "%s-token";
    country = "91"; national_length = 10; countries = ["91"]; timezone = "%s"; trunk = "calltrunk";
    vns = ["%s"];
    pin = { a = %s; b = %s; };
    ring_timeout = "%dms"; max_hunt = "%dms";
    %s
  }""" % (tid, tid, tid, TIMEZONES[tid], POOLS[tid], "true" if pin_a else "false", "true" if pin_b else "false",
          RING_TIMEOUT * 1000, MAX_HUNT * 1000,
          webhooks_block(SECRETS[tid], call_completed=hook_url, backoff="200ms"))


def call_config(callee_port, rx):
    trunk = ('trunks = ( { name = "calltrunk"; allow = ["%s/32", "%s/32"];\n'
             '             outbound = "sip:%s:%d"; dial_format = "e164"; latch = "learn"; } );\n'
             % (CALLER_IP, CALLEE_IP, CALLEE_IP, callee_port))
    blocks = [tenant_block(CALLS, False, False, rx.url(HOOK_PATHS[CALLS])),
              tenant_block(DEMO, True, False, rx.url(HOOK_PATHS[DEMO]))]
    # drain 0s: SIGTERM ends calls at once (test_calls_limits.py drains)
    return ('sweep_interval = "100ms";\nstore = { map_size = "256M"; };\n'
            'sip = { drain = "0s"; };\n%s'
            'tenants = (\n%s\n);\n' % (trunk, ",\n".join(blocks)))


class Env:
    def __init__(self):
        self.vns = {t: ("+%d" % n for n in itertools.count(int(POOLS[t].split("-")[0][1:])))
                    for t in POOLS}

    def vn(self, tenant):
        return next(self.vns[tenant])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The module's pinbridge and webhook receiver. Fails every test at once
    when pinbridge does not answer SIP at all (OPTIONS from a trunk)."""
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("calls"))
    e.rx = Receiver(name="calls").start()
    e.callee_port = free_port_on(CALLEE_IP)
    e.server = Server(e.tmp, call_config(e.callee_port, e.rx), name="calls", creds=CREDS)
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
    assert alive, "calls server died during the run; log:\n" + e.server.log_tail()
    assert rc == 0, "calls server exit code %s on SIGTERM; log:\n%s" % (rc, e.server.log_tail())


class Parties:
    """The SIPp processes and RTP peers of one test; closed at its end."""

    def __init__(self, tmp, env=None):
        self.tmp = tmp
        self.env = env
        self.sipps = []
        self.peers = []
        self.caller_ua = "CallerUA-%s" % uuid.uuid4().hex[:10]
        self.callee_ua = "CalleeUA-%s" % uuid.uuid4().hex[:10]

    def peer(self, ip, name):
        p = RtpPeer(ip, name)
        self.peers.append(p)
        return p

    def callee(self, path, peer, number_, codecs="0", te=101, max_calls=1, timeout=20, port=None,
               ip=CALLEE_IP, **extra):
        keys = dict(callee=number_, ua=self.callee_ua, rtp_ip=peer.ip, rtp_port=peer.port,
                    codecs=codecs, te_pt=te, **extra)
        s = Sipp(self.tmp, path, ip, "callee", keys, port=port or self.env.callee_port,
                 max_calls=max_calls, timeout=timeout)
        self.sipps.append(s)
        return s.start()

    def caller(self, path, vn, number_, peer, codecs="0 8", te=101, ip=CALLER_IP, timeout=20,
               remote=None, transport="u1", name="caller"):
        keys = dict(caller=number_, ua=self.caller_ua, rtp_ip=peer.ip, rtp_port=peer.port,
                    codecs=codecs, te_pt=te)
        s = Sipp(self.tmp, path, ip, name, keys, service=vn, timeout=timeout, transport=transport,
                 remote=remote or "%s:%d" % (PB_IP, self.env.server.sip_port))
        self.sipps.append(s)
        return s.start()

    def close(self):
        for s in self.sipps:
            s.kill()
        for p in self.peers:
            p.close()

    def describe(self):
        out = [s.describe() for s in self.sipps]
        if self.env:
            out.append("pinbridge log tail:\n" + self.env.server.log_tail(3000))
        return "\n".join(out)


@pytest.fixture
def parties(tmp_path, request):
    env = request.getfixturevalue("env") if "env" in request.fixturenames else None
    p = Parties(str(tmp_path), env)
    yield p
    p.close()
    if env is not None:  # no call may outlive its test
        wait_active(env, 0, timeout=8)


# --- helpers ---------------------------------------------------------------------

def metrics(env):
    r = env.server.request("GET", "/metrics", auth=False)
    assert r.status == 200, r
    return parse_metrics(r.raw.decode())


def active_calls(env):
    v = metric_sum(metrics(env), M_ACTIVE)
    assert v is not None, "%s not exported" % M_ACTIVE
    return v


def wait_active(env, n, timeout=5.0):
    end = time.monotonic() + timeout
    while True:
        v = active_calls(env)
        if v == n:
            return
        if time.monotonic() > end:
            raise AssertionError("%s stayed %s, want %s" % (M_ACTIVE, v, n))
        time.sleep(0.05)


def allocate(env, tenant, a_numbers, b_numbers, usage="twoway", vn=None):
    vn = vn or env.vn(tenant)
    body = {"transaction_id": txn("call"), "a": {"numbers": a_numbers, "vns": [vn]},
            "b": {"numbers": b_numbers}, "usage": usage}
    return ok(env.server.create(body, tenant=tenant)), vn


def calls_path(tenant, rest=""):
    return "/v1/tenants/%s/calls%s" % (tenant, rest)


def list_calls(env, tenant, gid):
    r = env.server.request("GET", calls_path(tenant, "?greenpin_id=" + gid), tenant=tenant)
    data = ok(r)
    items = data.get(CALLS_LIST_KEY) if isinstance(data, dict) else data
    assert isinstance(items, list), "calls list data without %r: %r" % (CALLS_LIST_KEY, r)
    return items


def wait_records(env, tenant, gid, n=1, timeout=10.0):
    """The allocation's call records once n of them are completed."""
    end = time.monotonic() + timeout
    while True:
        items = list_calls(env, tenant, gid)
        if len([c for c in items if c.get("state") == "completed"]) >= n:
            return items
        if time.monotonic() > end:
            raise AssertionError("%d completed call record(s) of %s not listed within %ss: %r"
                                 % (n, gid, timeout, items))
        time.sleep(0.1)


def iso(s):
    assert isinstance(s, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s), s
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def check_record(env, tenant, rec, alloc, vn, frm, to, call_type, dial_status, t0, t1,
                 answered, talk=None, dialled=True):
    """Asserts one completed record; talk: seconds the parties talked."""
    assert RECORD_KEYS <= set(rec), "record lacks %s: %r" % (RECORD_KEYS - set(rec), rec)
    assert SID_RE.match(rec["call_sid"]), rec
    assert rec["greenpin_id"] == alloc["greenpin_id"], rec
    assert rec["transaction_id"] == alloc["transaction_id"], rec
    assert rec["vn"] == vn and rec["from"] == frm and rec["to"] == to, rec
    assert rec["call_type"] == call_type, rec
    assert rec["dial_call_status"] == dial_status, rec
    assert rec["direction"] == "incoming" and rec["state"] == "completed", rec
    offset = "+00:00" if TIMEZONES[tenant] == "UTC" else TIMEZONES[tenant]
    for k in ("start_time", "started_at", "answered_at", "ended_at"):
        assert rec[k] is None or rec[k].endswith(offset), "%s not in the tenant's offset %s: %r" % (
            k, offset, rec[k])
    started, ended = iso(rec["started_at"]), iso(rec["ended_at"])
    assert t0 - 2 <= started <= ended <= t1 + 2, (t0, t1, rec)
    assert abs(iso(rec["start_time"]) - started) < 1.5, rec
    for k in ("dial_call_duration", "on_call_duration"):
        assert isinstance(rec[k], int) and rec[k] >= 0, rec
    # README: dial_call_duration is the second leg, from the call's start to
    # its end (0 when nobody was dialled); on_call_duration the
    # conversation, from the callee's answer to the end (0 when never
    # answered); whole seconds, truncated
    if dialled:
        assert abs(rec["dial_call_duration"] - (ended - started)) < 1.01, rec
    else:
        assert rec["dial_call_duration"] == 0, rec
    if answered:
        answered_at = iso(rec["answered_at"])
        assert started <= answered_at <= ended, rec
        assert abs(rec["on_call_duration"] - (ended - answered_at)) < 1.01, rec
        assert rec["dial_call_duration"] >= rec["on_call_duration"], rec
        if talk is not None:
            assert abs((ended - answered_at) - talk) <= 1.0, "talked ~%.1fs: %s" % (talk, json.dumps(rec))
    else:
        assert rec["answered_at"] is None, rec
        assert rec["on_call_duration"] == 0, "unanswered call with a talk time: %s" % json.dumps(rec)
    r = env.server.request("GET", calls_path(tenant, "/" + rec["call_sid"]), tenant=tenant)
    one = ok(r)
    assert one == rec, "GET /calls/{sid} differs from the list: %r vs %r" % (one, rec)
    return rec


def check_event(env, tenant, rec, timeout=10.0):
    """The call-completed webhook of rec arrived, signed, with rec's fields."""
    sid = rec["call_sid"]
    hits = env.rx.wait(lambda: [h for h in env.rx.got(path=HOOK_PATHS[tenant])
                                if isinstance(h.json, dict) and h.json.get("call_sid") == sid],
                       timeout, "call-completed event for %s" % sid)
    h = hits[0]
    assert h.method == "POST" and h.event == "call-completed" and h.delivery, h
    check_signature(h, SECRETS[tenant])
    body = h.json
    assert EVENT_KEYS <= set(body), "event lacks %s: %r" % (EVENT_KEYS - set(body), body)
    for k in RECORD_KEYS - {"state"}:
        assert body[k] == rec[k], "event %s=%r, record %r" % (k, body[k], rec[k])
    assert body["source"] == "pinbridge", body
    iso(body["current_time"])
    offset = "+00:00" if TIMEZONES[tenant] == "UTC" else TIMEZONES[tenant]
    assert body["current_time"].endswith(offset), body
    return body


class Answered:
    """An answered call: SIPp parties, RTP peers pointed at pinbridge."""


def answered_call(p, vn, caller_num, callee_num, caller_codecs="0 8", caller_te=101,
                  callee_codecs="0", callee_te=101, ring_ms=300, caller_hold_ms=3000,
                  callee_hold_ms=12000, callee_scenario="call_uas_answer", early_ms=None,
                  caller_headers=()):
    c = Answered()
    c.caller_num, c.callee_num = caller_num, callee_num
    c.caller_peer = p.peer(CALLER_IP, "caller")
    c.callee_peer = p.peer(CALLEE_IP, "callee")
    if callee_scenario == "call_uas_early":
        path = scenario("call_uas_early", p.tmp, EARLY_MS=early_ms or ring_ms, HOLD_MS=callee_hold_ms)
    else:
        path = scenario("call_uas_answer", p.tmp, RING_MS=ring_ms, HOLD_MS=callee_hold_ms)
    c.t0 = time.time()
    c.uas = p.callee(path, c.callee_peer, callee_num, callee_codecs, callee_te)
    extra = "".join("      %s\n" % h for h in caller_headers)
    replace = [("      User-Agent: [ua]\n", "      User-Agent: [ua]\n" + extra)] if extra else ()
    c.uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=caller_hold_ms, replace=replace), vn, caller_num,
                     c.caller_peer, caller_codecs, caller_te)
    c.invite = c.uas.wait_received("INVITE", timeout=8)
    assert c.invite.sdp is not None, "INVITE to the callee without SDP: %s" % c.invite.text
    c.callee_peer.set_remote(c.invite.sdp)
    c.ok = c.uac.wait_received(status=200, timeout=8 + ring_ms / 1000.0 + (early_ms or 0) / 1000.0,
                               pred=lambda m: m.cseq_method == "INVITE")
    c.t_answer = time.monotonic()
    assert c.ok.sdp is not None, "200 to the caller without SDP: %s" % c.ok.text
    c.caller_peer.set_remote(c.ok.sdp)
    c.caller_codec = c.ok.sdp.codec
    c.callee_codec = PCMU if callee_codecs.split()[0] == "0" else PCMA
    return c


def finish(c, timeout=20):
    rc_a, rc_b = c.uac.wait(timeout), c.uas.wait(timeout)
    c.t1 = time.time()
    return rc_a, rc_b


def exchange(c, n=50):
    """Both peers send n distinct frames at once; returns (caller frames,
    callee frames)."""
    fa = audio_frames(1000 + c.caller_peer.port, n, c.caller_codec)
    fb = audio_frames(2000 + c.callee_peer.port, n, c.callee_codec)
    c.caller_peer.send_rtcp()
    c.callee_peer.send_rtcp()
    ta = c.caller_peer.send_frames(c.caller_codec, fa)
    tb = c.callee_peer.send_frames(c.callee_codec, fb)
    ta.join(5)
    tb.join(5)
    c.caller_peer.send_rtcp()
    c.callee_peer.send_rtcp()
    time.sleep(0.3)
    return fa, fb


def payloads(packets):
    return [pk.payload for pk in packets]


def assert_stream_rewritten(peer, label):
    """What peer got is one stream of pinbridge's: not the sender's SSRC,
    one SSRC, sequence numbers consecutive."""
    got = peer.packets()
    assert got, "%s got no RTP" % label
    ssrcs = {pk.ssrc for pk in got}
    assert len(ssrcs) == 1, "%s got several SSRCs: %s" % (label, ["%08x" % s for s in ssrcs])
    seqs = [pk.seq for pk in got]
    gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if (b - a) & 0xFFFF != 1)
    assert gaps <= 2, "%s: sequence numbers not continuous (%d gaps): %s" % (label, gaps, seqs[:80])
    return ssrcs.pop()


# --- the harness alone (no pinbridge) --------------------------------------------

def test_standalone_answer_and_audio(parties):
    """call_uac.xml against call_uas_answer.xml directly, RTP peer to peer:
    the scenarios, the trace parser, the peers and find_frames work."""
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=200, HOLD_MS=8000), b, "+919800000002",
                   codecs="8", te=96, port=free_port_on(CALLEE_IP))
    uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=2000), "+917100000001", "+919800000001", a,
                   codecs="0 8", te=101, remote="%s:%d" % (CALLEE_IP, uas.port))
    inv = uas.wait_received("INVITE")
    assert uri_user(inv.header("From")) == "+919800000001"
    assert inv.header("User-Agent") == p.caller_ua
    assert inv.sdp.ip == CALLER_IP and inv.sdp.port == a.port and inv.sdp.pts == [0, 8, 101]
    assert inv.sdp.pt_of("telephone-event") == 101
    b.set_remote(inv.sdp)
    ok200 = uac.wait_received(status=200)
    assert ok200.sdp.port == b.port and ok200.sdp.codec == PCMA and ok200.sdp.pt_of("telephone-event") == 96
    a.set_remote(ok200.sdp)
    fa, fb = audio_frames(1, 25, PCMA), audio_frames(2, 25, PCMA)
    a.send_frames(PCMA, fa).join(3)
    b.send_frames(PCMA, fb).join(3)
    a.send_event(96, 5)
    a.send_rtcp()
    time.sleep(0.2)
    assert find_frames(fa, PCMA, payloads(b.packets(PCMA)), PCMA) == 25
    assert find_frames(fb, PCMA, payloads(a.packets(PCMA)), PCMA) == 25
    assert find_frames(fb, PCMA, payloads(b.packets(PCMA)), PCMA) == 0
    assert find_frames(fa, PCMA, [pcmu_of(x) for x in payloads(b.packets(PCMA))], PCMU) == 25
    ev = b.packets(96)
    assert [pk.event()[0] for pk in ev] == [5] * 8 and ev[-1].event()[1]
    assert a.cname in b.rtcp_cnames()
    assert uac.wait() == 0, uac.describe()
    assert uas.wait() == 0, uas.describe()
    assert [m.method for m in uas.received()] == ["INVITE", "ACK", "BYE"]
    assert [m.status for m in uac.received()] == [180, 200, 200]


def pcmu_of(payload):
    from pbcall import transcode
    return transcode(payload, PCMA, PCMU)


def test_standalone_masking_check_sees_leaks(parties):
    """Without pinbridge in between, masking_leaks finds each party's number,
    address, User-Agent, Call-ID and CNAME at the other: the check can fail."""
    p = parties
    c = Answered()
    c.caller_num, c.callee_num = "+919800000001", "+919800000002"
    c.caller_peer, c.callee_peer = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    c.uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=8000), c.callee_peer,
                     c.callee_num, port=free_port_on(CALLEE_IP))
    c.uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=800), "+917100000001", c.caller_num,
                     c.caller_peer, remote="%s:%d" % (CALLEE_IP, c.uas.port))
    c.callee_peer.set_remote(c.uas.wait_received("INVITE").sdp)
    c.caller_peer.set_remote(c.uac.wait_received(status=200).sdp)
    c.caller_peer.send_rtcp()
    c.callee_peer.send_rtcp()
    assert c.uac.wait(10) == 0 and c.uas.wait(10) == 0, p.describe()
    leaks = "\n".join(masking_leaks(c, p))
    for token in (c.caller_num, CALLER_IP, p.caller_ua, c.caller_peer.cname,
                  c.callee_num, CALLEE_IP, p.callee_ua, c.callee_peer.cname,
                  c.uac.sent("INVITE")[0].header("Call-ID")):
        assert token in leaks, "masking_leaks missed %r:\n%s" % (token, leaks)


def test_standalone_callee_hangs_up(parties):
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_early", p.tmp, EARLY_MS=300, HOLD_MS=500), b, "+919800000002",
                   port=free_port_on(CALLEE_IP))
    uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=8000), "+917100000001", "+919800000001", a,
                   remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, uac.describe()
    assert uas.wait(15) == 0, uas.describe()
    assert [m.status for m in uac.received() if m.is_response] == [183, 200]
    assert uac.received()[0].sdp.port == b.port, "183 carries the callee's SDP"
    assert [m.method for m in uac.received() if not m.is_response] == ["BYE"]


@pytest.mark.parametrize("kind,status,want", [("busy", None, 486), ("reject", None, 603),
                                              ("reject", (404, "Not Found"), 404)])
def test_standalone_failures(parties, kind, status, want):
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_" + kind, p.tmp, status=status), b, "+919800000002", timeout=10,
                   port=free_port_on(CALLEE_IP))
    uac = p.caller(scenario("call_uac", p.tmp), "+917100000001", "+919800000001", a, timeout=10,
                   remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, uac.describe()
    assert uac.final_status() == want
    assert uas.wait(15) == 0, uas.describe()
    assert [m.method for m in uas.received()] == ["INVITE", "ACK"]


def test_standalone_cancel(parties):
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_noanswer", p.tmp), b, "+919800000002", port=free_port_on(CALLEE_IP))
    uac = p.caller(scenario("call_uac_cancel", p.tmp, CANCEL_MS=300), "+917100000001", "+919800000001",
                   a, remote="%s:%d" % (CALLEE_IP, uas.port))
    assert uac.wait(15) == 0, uac.describe()
    assert uas.wait(15) == 0, uas.describe()
    assert uac.final_status() == 487
    assert [m.method for m in uas.received()] == ["INVITE", "CANCEL", "ACK"]


def test_standalone_hunt_scenario(parties):
    """The generated hunting callee gives each number its own behaviour."""
    p = parties
    nums = ["+919800000011", "+919800000012", "+919800000013"]
    b = p.peer(CALLEE_IP, "callee")
    path = hunt_scenario(p.tmp, [(nums[0], ("busy",)), (nums[1], ("noanswer",)),
                                 (nums[2], ("answer", 100, 5000))])
    uas = p.callee(path, b, "callee", max_calls=4, port=free_port_on(CALLEE_IP), timeout=15)
    got = []
    for n in nums + ["+919800000019"]:
        a = p.peer(CALLER_IP, "caller")
        path = (scenario("call_uac_cancel", p.tmp, CANCEL_MS=200) if n == nums[1]
                else scenario("call_uac", p.tmp, HOLD_MS=300))
        uac = p.caller(path, n, "+919800000001", a, remote="%s:%d" % (CALLEE_IP, uas.port),
                       name="caller" + n[-2:], timeout=10)
        assert uac.wait(12) == 0, uac.describe()
        got.append(uac.final_status())
    assert got == [486, 487, 200, 404]
    assert uas.wait(10) == 0, uas.describe()


# --- pinbridge: audio, transcoding, DTMF, RTCP, masking ------------------------------

def test_direct_call_audio_both_ways(env, parties):
    """A calls the VN, B answers: audio each side sends arrives at the other
    byte for byte (PCMU both legs), as pinbridge's own stream; RFC 4733
    events cross; the caller hangs up and everything ends."""
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    m0 = metrics(env)
    c = answered_call(parties, vn, caller, callee, caller_codecs="0", callee_codecs="0",
                      caller_hold_ms=3500)
    wait_active(env, 1)
    live = list_calls(env, CALLS, alloc["greenpin_id"])
    assert len(live) == 1 and live[0]["state"] == "in-progress" and live[0]["call_type"] is None, live
    assert live[0]["ended_at"] is None and live[0]["from"] == caller and live[0]["vn"] == vn, live
    fa, fb = exchange(c)
    c.caller_peer.send_event(101, 5)
    c.callee_peer.send_event(101, 9)
    time.sleep(0.3)
    at_callee = c.callee_peer.packets(PCMU)
    at_caller = c.caller_peer.packets(PCMU, since=c.t_answer)
    assert find_frames(fa, PCMU, payloads(at_callee), PCMU) >= 45, \
        "caller audio at the callee: %d packets %r" % (len(at_callee), at_callee[:5])
    assert find_frames(fb, PCMU, payloads(at_caller), PCMU) >= 45, \
        "callee audio at the caller: %d packets %r" % (len(at_caller), at_caller[:5])
    ev_b = c.callee_peer.packets(101)
    assert ev_b and {pk.event()[0] for pk in ev_b} == {5} and any(pk.event()[1] for pk in ev_b), ev_b
    assert len({pk.ts for pk in ev_b}) == 1, "one event, one timestamp: %r" % ev_b
    ev_a = c.caller_peer.packets(101)
    assert ev_a and {pk.event()[0] for pk in ev_a} == {9}, ev_a
    assert assert_stream_rewritten(c.callee_peer, "callee") != c.caller_peer.ssrc
    assert assert_stream_rewritten(c.caller_peer, "caller") != c.callee_peer.ssrc
    for pk in c.callee_peer.packets():
        assert pk.src == (c.invite.sdp.ip, c.invite.sdp.port), "RTP to the callee from %s" % (pk.src,)
    rc = finish(c)
    assert rc == (0, 0), parties.describe()
    assert [m.method for m in c.uas.received() if not m.is_response][-1] == "BYE", parties.describe()
    wait_active(env, 0)
    m1 = metrics(env)
    rel = (metric_sum(m1, M_RELAYED) or 0) - (metric_sum(m0, M_RELAYED) or 0)
    assert metric_sum(m1, M_RELAYED) is not None, "%s not exported" % M_RELAYED
    assert rel >= 90, "%s grew by %s for ~100 relayed packets" % (M_RELAYED, rel)
    assert metric_sum(m1, M_DROPPED) is not None, "%s not exported" % M_DROPPED
    assert metric_sum(m1, M_TOTAL) - (metric_sum(m0, M_TOTAL) or 0) == 1
    assert (metric_sum(m1, M_TOTAL, outcome="completed") -
            (metric_sum(m0, M_TOTAL, outcome="completed") or 0)) == 1
    assert metric_sum(m1, M_SETUP_COUNT) - (metric_sum(m0, M_SETUP_COUNT) or 0) == 1
    rec = check_record(env, CALLS, wait_records(env, CALLS, alloc["greenpin_id"])[0], alloc, vn,
                       caller, callee, "completed", "completed", c.t0, c.t1, True, talk=3.5)
    check_event(env, CALLS, rec)


@pytest.mark.parametrize("caller_codecs,caller_te,callee_codecs,callee_te", [
    ("0", 96, "8", 101),    # PCMU caller, PCMA callee; te 96 <-> 101
    ("8", 101, "0", 96),    # PCMA caller, PCMU callee; callee answers te 96 to an offer of 101
])
def test_transcoding_and_event_payload_types(env, parties, caller_codecs, caller_te, callee_codecs,
                                             callee_te):
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    c = answered_call(parties, vn, caller, callee, caller_codecs=caller_codecs, caller_te=caller_te,
                      callee_codecs=callee_codecs, callee_te=callee_te, caller_hold_ms=3500)
    caller_pt = int(caller_codecs)
    assert c.caller_codec == caller_pt, "answer to the caller: %s" % c.ok.sdp.text
    assert c.ok.sdp.pt_of("telephone-event") == caller_te, c.ok.sdp.text
    offer = c.invite.sdp
    assert {PCMU, PCMA} <= set(offer.pts) and offer.pt_of("telephone-event") is not None, offer.text
    fa, fb = exchange(c)
    c.caller_peer.send_event(caller_te, 3)
    c.callee_peer.send_event(callee_te, 8)
    time.sleep(0.3)
    at_callee = c.callee_peer.packets(c.callee_codec)
    at_caller = c.caller_peer.packets(c.caller_codec, since=c.t_answer)
    assert find_frames(fa, c.caller_codec, payloads(at_callee), c.callee_codec) >= 45, \
        "caller audio (pt %d) at the callee (pt %d): %d packets, pts seen %s" % (
            c.caller_codec, c.callee_codec, len(at_callee), sorted({pk.pt for pk in c.callee_peer.packets()}))
    assert find_frames(fb, c.callee_codec, payloads(at_caller), c.caller_codec) >= 45, \
        "callee audio at the caller: %d packets, pts seen %s" % (
            len(at_caller), sorted({pk.pt for pk in c.caller_peer.packets()}))
    assert not c.callee_peer.packets(c.caller_codec) or c.caller_codec == c.callee_codec, \
        "the callee got the caller's codec untranscoded"
    ev_b = c.callee_peer.packets(callee_te)
    assert ev_b and {pk.event()[0] for pk in ev_b} == {3}, \
        "event at the callee with its pt %d: %r (all pts %s)" % (
            callee_te, ev_b, sorted({pk.pt for pk in c.callee_peer.packets()}))
    assert not c.callee_peer.packets(caller_te), "caller's te pt %d reached the callee" % caller_te
    ev_a = c.caller_peer.packets(caller_te, since=c.t_answer)
    assert ev_a and {pk.event()[0] for pk in ev_a} == {8}, ev_a
    assert not c.caller_peer.packets(callee_te), "callee's te pt %d reached the caller" % callee_te
    assert finish(c) == (0, 0), parties.describe()


def _forbidden(text, tokens):
    """Tokens (str or compiled regex) found in text."""
    hits = []
    for t in tokens:
        if isinstance(t, str):
            if t.lower() in text.lower():
                hits.append(t)
        elif t.search(text):
            hits.append(t.pattern)
    return hits


def _num_re(n):
    return re.compile(r"(?<![0-9])%d(?![0-9])" % n)


def masking_leaks(c, parties):
    """What each party got that names the other: SIP messages (headers and
    SDP) carrying the other's number, address, SIP or RTP ports, Call-ID,
    tags, User-Agent or SDP origin, and RTCP CNAMEs that are the other's.
    A list of descriptions; empty when the parties are masked."""
    out = []
    sent_invite = c.uac.sent("INVITE")[0]
    caller_callid = sent_invite.header("Call-ID")
    caller_tag = re.search(r"tag=([^;>\s]+)", sent_invite.header("From")).group(1)
    caller_tokens = [c.caller_num, c.caller_num[3:], c.caller_num[1:], CALLER_IP, caller_callid,
                     caller_callid.split("@")[0], caller_tag, parties.caller_ua, "53655765", "2353687637",
                     c.caller_peer.cname, _num_re(c.uac.port), _num_re(c.caller_peer.port),
                     _num_re(c.caller_peer.port + 1)]
    for m in c.uas.received():
        leak = _forbidden(m.text, caller_tokens)
        if leak:
            out.append("callee got %s carrying the caller's %s:\n%s" % (m.start, leak, m.text))
    for cname in c.callee_peer.rtcp_cnames():
        if _forbidden(cname, caller_tokens):
            out.append("RTCP CNAME %r of the caller at the callee" % cname)

    sent_200 = c.uas.sent(status=200)[0]
    callee_tag = re.search(r"tag=([^;>\s]+)", sent_200.header("To")).group(1)
    callee_tokens = [c.callee_num, c.callee_num[3:], c.callee_num[1:], CALLEE_IP, parties.callee_ua,
                     callee_tag, c.callee_peer.cname, _num_re(c.uas.port), _num_re(c.callee_peer.port),
                     _num_re(c.callee_peer.port + 1)]
    callee_tokens += sorted({m.header("Call-ID") for m in c.uas.received()})  # no leg links the other
    for m in c.uac.received():
        leak = _forbidden(m.text, callee_tokens)
        if leak:
            out.append("caller got %s carrying the callee's %s:\n%s" % (m.start, leak, m.text))
    for cname in c.caller_peer.rtcp_cnames():
        if _forbidden(cname, callee_tokens):
            out.append("RTCP CNAME %r of the callee at the caller" % cname)
    return out


def test_masking_both_ways(env, parties):
    """The callee sees the VN in From and P-Asserted-Identity and nothing of
    the caller (number, address, ports, Call-ID, tags, User-Agent, SDP
    origin) in any header, SDP or RTCP; the caller sees nothing of the
    callee either."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    # headers a trunk might add, none of which may cross
    secret = "leak-%s" % uuid.uuid4().hex[:12]
    headers = ["Subject: %s" % secret, "X-Secret-Header: %s" % secret, "Organization: %s" % secret,
               "Record-Route: <sip:[local_ip]:[local_port];lr;%s>" % secret, "Diversion: <sip:%s@%s>;reason=%s"
               % (caller, CALLER_IP, secret), "Remote-Party-ID: <sip:%s@%s>;%s" % (caller, CALLER_IP, secret)]
    # pinbridge's first report on a leg comes 5 s after it starts
    c = answered_call(parties, vn, caller, callee, caller_hold_ms=7500, caller_headers=headers)
    exchange(c, n=20)
    assert c.callee_peer.wait_rtcp(7), "no RTCP from pinbridge to the callee"
    assert c.caller_peer.wait_rtcp(7), "no RTCP from pinbridge to the caller"
    assert finish(c) == (0, 0), parties.describe()

    inv = c.invite
    assert uri_user(inv.header("From")) == vn, inv.header("From")
    assert inv.header("P-Asserted-Identity") and uri_user(inv.header("P-Asserted-Identity")) == vn, inv.text
    assert uri_user(inv.ruri) == callee, inv.ruri
    vias = inv.all("Via")
    assert len(vias) == 1 and PB_IP in vias[0], "the callee's INVITE has Via %r" % vias
    sdp = inv.sdp
    assert sdp.ip == PB_IP and sdp.port != c.caller_peer.port, sdp.text
    assert {PCMU, PCMA} <= set(sdp.pts) and sdp.pt_of("telephone-event") == 101, sdp.text
    assert c.ok.sdp.ip == PB_IP, c.ok.sdp.text

    assert secret in c.uac.sent("INVITE")[0].text
    leaks = masking_leaks(c, parties)
    leaks += ["callee got %s with the caller's extra headers:\n%s" % (m.start, m.text)
              for m in c.uas.received() if secret in m.text]
    assert not leaks, "\n\n".join(leaks)
    # RTCP is pinbridge's own per leg: an SR/RR from its RTCP port about
    # the stream it sends that leg
    for peer, sdp, other in ((c.callee_peer, c.invite.sdp, c.caller_peer),
                             (c.caller_peer, c.ok.sdp, c.callee_peer)):
        ssrc = assert_stream_rewritten(peer, peer.name)
        assert ssrc != other.ssrc
        for data, src, _ in peer.rtcp_received:
            pkts = rtcp_packets(data)
            assert pkts[0][0] in (200, 201), "RTCP to the %s starts with pt %d" % (peer.name, pkts[0][0])
            assert pkts[0][1] == ssrc, "RTCP to the %s from SSRC %08x, its RTP from %08x" % (
                peer.name, pkts[0][1], ssrc)
            assert src == (PB_IP, sdp.port + 1), "RTCP to the %s from %s" % (peer.name, src)


def test_ringback_then_answer(env, parties):
    """180 at once with pinbridge's SDP; generated ringback until the callee
    answers, then the callee's audio on the same stream: same SSRC, next
    sequence number, marker bit set and the timestamp moved on by the time
    that passed."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    c = answered_call(parties, vn, caller, callee, caller_codecs="0", callee_codecs="0", ring_ms=1500,
                      caller_hold_ms=2000)
    ringing = [m for m in c.uac.received() if m.status == 180]
    assert ringing, "no 180 before the answer: %r" % c.uac.received()
    assert ringing[0].sdp is not None and ringing[0].sdp.ip == PB_IP, ringing[0].text
    assert (ringing[0].sdp.ip, ringing[0].sdp.port) == (c.ok.sdp.ip, c.ok.sdp.port)
    before = [pk for pk in c.caller_peer.packets() if pk.t < c.t_answer - 0.1]
    assert len(before) >= 30, "ringback: %d packets in ~1.5s of ringing" % len(before)
    assert {pk.pt for pk in before} == {PCMU}, {pk.pt for pk in before}
    assert {len(pk.payload) for pk in before} == {160}, "ringback frames of 20 ms"
    assert len({bytes(pk.payload) for pk in before}) > 1 or len(set(before[0].payload)) > 1, \
        "ringback is constant silence"
    fb = audio_frames(31, 25, PCMU)
    c.callee_peer.send_frames(PCMU, fb, marker=False).join(3)
    time.sleep(0.2)
    got = c.caller_peer.packets()
    assert find_frames(fb, PCMU, payloads(got), PCMU) >= 22
    assert_stream_rewritten(c.caller_peer, "caller (ringback then relay)")
    frames = set(fb)
    i = next(k for k, pk in enumerate(got) if bytes(pk.payload) in frames)
    assert i > 0, "no ringback before the relayed audio"
    prev, first = got[i - 1], got[i]
    assert first.marker, "no marker bit where relay takes over from ringback: %r" % got[i - 2:i + 2]
    assert not any(pk.marker for pk in got[i + 1:i + 20]), "marker bits inside the relayed stream"
    jump = ((first.ts - prev.ts) & 0xFFFFFFFF) / 8000.0
    assert jump >= 0.02 and abs(jump - (first.t - prev.t)) <= 0.1, \
        "timestamp moved %.3fs over %.3fs at the switch" % (jump, first.t - prev.t)
    assert finish(c) == (0, 0), parties.describe()


def test_early_media_reaches_caller(env, parties):
    """A callee's 183 with SDP: the caller hears the callee's early media
    (not ringback), then the call is answered."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    p = parties
    callee_peer = p.peer(CALLEE_IP, "callee")
    caller_peer = p.peer(CALLER_IP, "caller")
    # answered 1.6 s after the 183, within the tenant's 2 s ring timeout
    uas = p.callee(scenario("call_uas_early", p.tmp, EARLY_MS=1600, HOLD_MS=12000), callee_peer, callee)
    uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=1500), vn, caller, caller_peer, codecs="0")
    inv = uas.wait_received("INVITE", timeout=8)
    callee_peer.set_remote(inv.sdp)
    frames = audio_frames(77, 30, PCMU)
    callee_peer.send_frames(PCMU, frames).join(4)
    time.sleep(0.1)
    assert not uac.received(status=200), "answered before the callee's 200"
    assert any(m.status == 183 or m.status == 180 for m in uac.received()), uac.received()
    early = caller_peer.packets(PCMU)
    assert find_frames(frames, PCMU, payloads(early), PCMU) >= 25, \
        "early media: %d packets at the caller" % len(early)
    uac.wait_received(status=200, timeout=5)
    assert uac.wait(15) == 0, p.describe()
    assert uas.wait(15) == 0, p.describe()


def test_learn_latches_to_the_callees_real_source(env, parties):
    """latch = "learn": a callee whose RTP comes from another port than its
    SDP names (NAT) is answered at that source, and the SDP port gets
    nothing once pinbridge has learnt it."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    c = answered_call(parties, vn, caller, callee, caller_codecs="0", callee_codecs="0",
                      caller_hold_ms=3000)
    nat = parties.peer(CALLEE_IP, "callee-nat")
    nat.set_remote(c.invite.sdp)
    first = nat.send_frames(PCMU, audio_frames(5, 10, PCMU))
    first.join(2)
    t_latch = time.monotonic()
    fa = audio_frames(6, 50, PCMU)
    fb = audio_frames(7, 50, PCMU)
    ta, tb = c.caller_peer.send_frames(PCMU, fa), nat.send_frames(PCMU, fb)
    ta.join(5)
    tb.join(5)
    time.sleep(0.3)
    assert find_frames(fa, PCMU, payloads(nat.packets(PCMU)), PCMU) >= 45, \
        "caller audio at the callee's real source: %d packets" % len(nat.packets())
    assert find_frames(fb, PCMU, payloads(c.caller_peer.packets(PCMU, since=t_latch)), PCMU) >= 45
    assert not c.callee_peer.packets(since=t_latch), \
        "the callee's SDP port still gets RTP after pinbridge learnt its source: %r" % (
            c.callee_peer.packets(since=t_latch)[:3],)
    assert finish(c) == (0, 0), parties.describe()


def test_learn_ignores_a_stranger(env, parties):
    """latch = "learn" learns only from the SDP address or the trunk's
    CIDRs: RTP from 127.0.0.4 to the callee's leg is dropped, never reaches
    the caller, and does not take the callee's audio."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    m0 = metrics(env)
    c = answered_call(parties, vn, caller, callee, caller_codecs="0", callee_codecs="0",
                      caller_hold_ms=3000)
    stranger = parties.peer(OUTSIDER_IP, "stranger")
    stranger.set_remote(c.invite.sdp)
    fs = audio_frames(8, 20, PCMU)
    stranger.send_frames(PCMU, fs).join(2)
    fa, fb = exchange(c)
    assert find_frames(fs, PCMU, payloads(c.caller_peer.packets()), PCMU) == 0, \
        "the stranger's audio reached the caller"
    assert find_frames(fb, PCMU, payloads(c.caller_peer.packets(since=c.t_answer)), PCMU) >= 45
    assert find_frames(fa, PCMU, payloads(c.callee_peer.packets(PCMU)), PCMU) >= 45
    assert find_frames(fa, PCMU, payloads(stranger.packets()), PCMU) == 0, "the stranger got the caller's audio"
    dropped = (metric_sum(metrics(env), M_DROPPED, reason="source") or 0) - \
        (metric_sum(m0, M_DROPPED, reason="source") or 0)
    assert dropped >= 18, "%s{reason=source} grew by %s for 20 stranger packets" % (M_DROPPED, dropped)
    assert finish(c) == (0, 0), parties.describe()


def test_two_calls_at_once_keep_their_media_apart(env, parties):
    """Two calls up together on two VNs: each callee hears only its own
    caller and the other way round; two calls active, then none."""
    p = parties
    callers, callees = [number(), number()], [number(), number()]
    vns = [allocate(env, CALLS, [callers[i]], [callees[i]])[1] for i in range(2)]
    cpeers = [p.peer(CALLER_IP, "caller%d" % i) for i in range(2)]
    bpeers = [p.peer(CALLEE_IP, "callee%d" % i) for i in range(2)]
    plan = [(callees[i], ("answer", 200, 12000, {"rtp_port": bpeers[i].port})) for i in range(2)]
    uas = p.callee(hunt_scenario(p.tmp, plan), bpeers[0], "callee", max_calls=2)
    uacs = [p.caller(scenario("call_uac", p.tmp, HOLD_MS=3500), vns[i], callers[i], cpeers[i],
                     codecs="0", name="caller%d" % i) for i in range(2)]
    for i in range(2):
        inv = uas.wait_received("INVITE", pred=lambda m, n=callees[i]: uri_user(m.ruri) == n)
        bpeers[i].set_remote(inv.sdp)
        cpeers[i].set_remote(uacs[i].wait_received(status=200).sdp)
    wait_active(env, 2)
    fa = [audio_frames(100 + i, 50, PCMU) for i in range(2)]
    fb = [audio_frames(200 + i, 50, PCMU) for i in range(2)]
    t = time.monotonic()
    threads = [cpeers[i].send_frames(PCMU, fa[i]) for i in range(2)] + \
        [bpeers[i].send_frames(PCMU, fb[i]) for i in range(2)]
    for th in threads:
        th.join(5)
    time.sleep(0.3)
    for i in range(2):
        j = 1 - i
        at_b = payloads(bpeers[i].packets(PCMU))
        at_a = payloads(cpeers[i].packets(PCMU, since=t))
        assert find_frames(fa[i], PCMU, at_b, PCMU) >= 45, "call %d: caller audio at its callee" % i
        assert find_frames(fb[i], PCMU, at_a, PCMU) >= 45, "call %d: callee audio at its caller" % i
        assert find_frames(fa[j], PCMU, at_b, PCMU) == 0, "callee %d hears caller %d" % (i, j)
        assert find_frames(fb[j], PCMU, at_a, PCMU) == 0, "caller %d hears callee %d" % (i, j)
    for u in uacs:
        assert u.wait(15) == 0, p.describe()
    assert uas.wait(10) == 0, p.describe()
    wait_active(env, 0)


def test_extra_media_lines_are_refused_with_port_0(env, parties):
    """An offer with video besides audio: the answer keeps the m-lines in
    order, the video one with port 0, and the call's audio works; the callee
    is offered audio only."""
    p = parties
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    video = "      a=sendrecv\n      m=video %d RTP/AVP 96\n      a=rtpmap:96 H264/90000\n" % (a.port + 10)
    uac_path = scenario("call_uac", p.tmp, HOLD_MS=1500, replace=[("      a=sendrecv\n", video)])
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=12000), b, callee)
    uac = p.caller(uac_path, vn, caller, a, codecs="0")
    ok200 = uac.wait_received(status=200, timeout=8)
    assert "m=video" in uac.sent("INVITE")[0].body
    media = ok200.sdp.media
    assert len(media) == 2 and media[0].startswith("audio ") and media[1].split()[:2] == ["video", "0"], \
        ok200.sdp.text
    assert ok200.sdp.port and ok200.sdp.port != 0
    inv = uas.received("INVITE")[0]
    assert [m.split()[0] for m in inv.sdp.media] == ["audio"], inv.sdp.text
    b.set_remote(inv.sdp)
    a.set_remote(ok200.sdp)
    frames = audio_frames(44, 20, PCMU)
    a.send_frames(PCMU, frames).join(2)
    time.sleep(0.2)
    assert find_frames(frames, PCMU, payloads(b.packets(PCMU)), PCMU) >= 18
    assert uac.wait(15) == 0 and uas.wait(10) == 0, p.describe()


# --- pinbridge: ending calls ---------------------------------------------------------

def test_callee_hangs_up(env, parties):
    """BYE from the callee ends the caller's side too and frees the ports."""
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    c = answered_call(parties, vn, caller, callee, caller_hold_ms=15000, callee_hold_ms=2000)
    ports = [(c.ok.sdp.ip, c.ok.sdp.port), (c.invite.sdp.ip, c.invite.sdp.port)]
    wait_active(env, 1)
    assert finish(c) == (0, 0), parties.describe()
    assert [m.method for m in c.uac.received() if not m.is_response] == ["BYE"], parties.describe()
    assert c.uas.sent("BYE"), "the callee did not hang up itself"
    leaks = masking_leaks(c, parties)  # the BYE pinbridge sends the caller too
    assert not leaks, "\n\n".join(leaks)
    wait_active(env, 0)
    for ip, port in ports:
        assert port_closed(ip, port), "pinbridge's RTP port %s:%d still open after the call" % (ip, port)
    rec = check_record(env, CALLS, wait_records(env, CALLS, alloc["greenpin_id"])[0], alloc, vn,
                       caller, callee, "completed", "completed", c.t0, c.t1, True, talk=2)
    check_event(env, CALLS, rec)


def test_caller_hangs_up_frees_ports(env, parties):
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    c = answered_call(parties, vn, caller, callee, caller_hold_ms=1500)
    ports = [(c.ok.sdp.ip, c.ok.sdp.port), (c.invite.sdp.ip, c.invite.sdp.port)]
    in_use = metric_sum(metrics(env), M_PORT_PAIRS, state="in_use")
    assert in_use == 2, "%s{state=in_use} is %s with one call up" % (M_PORT_PAIRS, in_use)
    assert finish(c) == (0, 0), parties.describe()
    assert c.uas.received("BYE"), "BYE did not reach the callee"
    wait_active(env, 0)
    for ip, port in ports:
        assert port_closed(ip, port), "pinbridge's RTP port %s:%d still open after the call" % (ip, port)
    assert metric_sum(metrics(env), M_PORT_PAIRS, state="in_use") == 0
    n_a, n_b = len(c.caller_peer.packets()), len(c.callee_peer.packets())
    time.sleep(0.3)
    assert (len(c.caller_peer.packets()), len(c.callee_peer.packets())) == (n_a, n_b), \
        "RTP still sent after the call ended"


def test_caller_cancel_reaches_callee(env, parties):
    """The caller gives up while it rings: the callee gets CANCEL, the
    caller 487; the record is a client-hangup."""
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    t0 = time.time()
    uas = p.callee(scenario("call_uas_noanswer", p.tmp), b, callee)
    uac = p.caller(scenario("call_uac_cancel", p.tmp, CANCEL_MS=800), vn, caller, a)
    assert uac.wait(15) == 0, p.describe()
    assert uas.wait(10) == 0, p.describe()
    t1 = time.time()
    assert uac.final_status() == 487
    assert [m.method for m in uas.received()] == ["INVITE", "CANCEL", "ACK"], p.describe()
    wait_active(env, 0)
    rec = check_record(env, CALLS, wait_records(env, CALLS, alloc["greenpin_id"])[0], alloc, vn,
                       caller, callee, "client-hangup", "canceled", t0, t1, False)
    check_event(env, CALLS, rec)


# --- pinbridge: hunting ------------------------------------------------------------------

def _hunt(env, p, plan, caller_hold_ms=1500, timeout=25, caller_scenario=None):
    caller = number()
    alloc, vn = allocate(env, CALLS, [caller], [n for n, _ in plan])
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    t0 = time.time()
    uas = p.callee(hunt_scenario(p.tmp, plan), b, "callee", max_calls=len(plan), timeout=timeout)
    uac = p.caller(caller_scenario or scenario("call_uac", p.tmp, HOLD_MS=caller_hold_ms), vn, caller, a,
                   timeout=timeout)
    uac.wait(timeout + 3)
    uas.wait(5)
    return alloc, vn, caller, uac, uas, t0, time.time()


def dialled(uas):
    return [uri_user(m.ruri) for m in uas.received("INVITE")]


@pytest.mark.parametrize("first", [("busy",), ("reject", 600, "Busy Everywhere"),
                                   ("reject", 404, "Not Found"), ("reject", 503, "Service Unavailable")],
                         ids=["486", "600", "404", "503"])
def test_hunt_moves_on(env, parties, first):
    """486 and 600 (busy), other 4xx and 5xx: the next number is dialled
    and answers."""
    n1, n2 = number(), number()
    m0 = metrics(env)
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, first), (n2, ("answer", 200, 12000))])
    attempts = metric_sum(metrics(env), M_HUNT_ATTEMPTS) - (metric_sum(m0, M_HUNT_ATTEMPTS) or 0)
    assert attempts == 2, "%s grew by %s for two callee INVITEs" % (M_HUNT_ATTEMPTS, attempts)
    assert dialled(uas) == [n1, n2], parties.describe()
    assert uac.final_status() == 200 and uac.rc == 0, parties.describe()
    rec = check_record(env, CALLS, wait_records(env, CALLS, alloc["greenpin_id"])[0], alloc, vn,
                       caller, n2, "completed", "completed", t0, t1, True)
    check_event(env, CALLS, rec)


def test_hunt_after_no_answer(env, parties):
    """The first number rings past ring_timeout: CANCEL to it, the second
    answers."""
    n1, n2 = number(), number()
    t = time.monotonic()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("noanswer",)), (n2, ("answer", 200, 12000))])
    assert dialled(uas) == [n1, n2], parties.describe()
    cancels = uas.received("CANCEL")
    assert len(cancels) == 1 and uri_user(cancels[0].ruri) == n1, parties.describe()
    invs = uas.received("INVITE")
    gap = _stamp(invs[1]) - _stamp(invs[0])
    assert RING_TIMEOUT - 0.3 <= gap <= RING_TIMEOUT + 1.0, "second INVITE %.2fs after the first" % gap
    assert uac.final_status() == 200 and uac.rc == 0, parties.describe()
    assert time.monotonic() - t < 25


def test_max_hunt_caps_the_hunt(env, parties):
    """Every number rings out: numbers are tried ring_timeout apart until
    max_hunt, then the caller gets 480 and the last leg a CANCEL."""
    nums = [number() for _ in range(5)]
    t = time.monotonic()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n, ("noanswer",)) for n in nums])
    took = time.monotonic() - t
    got = dialled(uas)
    want = int(MAX_HUNT / RING_TIMEOUT)
    assert got == nums[:want], "dialled %r, want the first %d" % (got, want)
    assert [uri_user(m.ruri) for m in uas.received("CANCEL")] == got, parties.describe()
    assert uac.final_status() == 480, parties.describe()
    answered_at = [m for m in uac.received() if m.status == 480][0]
    end = _stamp(answered_at) - _stamp(uac.sent("INVITE")[0])
    assert MAX_HUNT - 0.5 <= end <= MAX_HUNT + 1.5, "480 after %.2fs (max_hunt %.1fs)" % (end, MAX_HUNT)
    assert took < 25
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, got[-1], "incomplete", "no-answer", t0, t1, False)


def _stamp(m):
    return datetime.datetime.strptime(m.stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def test_hunt_all_busy_gives_486(env, parties):
    n1, n2 = number(), number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("busy",)), (n2, ("busy",))])
    assert dialled(uas) == [n1, n2], parties.describe()
    assert uac.final_status() == 486, parties.describe()
    rec = check_record(env, CALLS, wait_records(env, CALLS, alloc["greenpin_id"])[0], alloc, vn,
                       caller, n2, "incomplete", "busy", t0, t1, False)
    check_event(env, CALLS, rec)


def test_hunt_no_answer_and_reject_gives_480(env, parties):
    """Nobody busy: one rings out, one refuses with 404 -> 480."""
    n1, n2 = number(), number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("noanswer",)),
                                                               (n2, ("reject", 404, "Not Found"))])
    assert dialled(uas) == [n1, n2], parties.describe()
    assert uac.final_status() == 480, parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    # which leg the record names is not pinned down: the last dialled, or
    # the one that rang out; either way it is incomplete and not busy
    assert rec["to"] in (n1, n2) and rec["dial_call_status"] in ("no-answer", "failed"), rec
    check_record(env, CALLS, rec, alloc, vn, caller, rec["to"], "incomplete", rec["dial_call_status"],
                 t0, t1, False)
    check_event(env, CALLS, rec)


def test_caller_cancel_during_the_hunt(env, parties):
    """The caller gives up while the second number rings: that leg gets the
    CANCEL, the caller 487, and the record names the second number."""
    n1, n2 = number(), number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(
        env, parties, [(n1, ("busy",)), (n2, ("noanswer",))],
        caller_scenario=scenario("call_uac_cancel", parties.tmp, CANCEL_MS=1000))
    assert dialled(uas) == [n1, n2], parties.describe()
    assert [uri_user(m.ruri) for m in uas.received("CANCEL")] == [n2], parties.describe()
    assert uac.final_status() == 487 and uac.rc == 0, parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, n2, "client-hangup", "canceled", t0, t1, False)
    check_event(env, CALLS, rec)


def test_caller_hears_ringing_before_the_callee_rings(env, parties):
    """180 reaches the caller at once even while the callee has only said
    100; a callee that never rings is CANCELed at ring_timeout and the
    caller gets 480."""
    n1 = number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("trying",))])
    assert dialled(uas) == [n1], parties.describe()
    r180 = [m for m in uac.received() if m.status == 180]
    assert r180, parties.describe()
    delay = _stamp(r180[0]) - _stamp(uac.sent("INVITE")[0])
    assert delay < 0.5, "180 only %.2fs after the INVITE" % delay
    assert [uri_user(m.ruri) for m in uas.received("CANCEL")] == [n1], parties.describe()
    assert uac.final_status() == 480, parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, n1, "incomplete", "no-answer", t0, t1, False)


def test_callee_503_is_not_relayed(env, parties):
    """A 503 from the only callee reaches the caller as 480, never as 503
    (which a trunk would take for pinbridge being down)."""
    n1 = number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("reject", 503, "Service Unavailable"))])
    assert dialled(uas) == [n1], parties.describe()
    assert uac.final_status() == 480, parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, n1, "incomplete", "failed", t0, t1, False)


def test_hunt_stops_on_decline(env, parties):
    """603 (a 6xx other than 600) stops the hunt: the second number is never
    dialled."""
    n1, n2 = number(), number()
    alloc, vn, caller, uac, uas, t0, t1 = _hunt(env, parties, [(n1, ("reject", 603, "Decline")),
                                                               (n2, ("answer", 200, 12000))])
    assert dialled(uas) == [n1], parties.describe()
    assert uac.final_status() == 480, "a hunt that ends with nobody busy gives 480: %s" % parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, n1, "incomplete", "failed", t0, t1, False)


def test_call_records_are_tenant_isolated(env, parties):
    """Another tenant sees neither the list nor the record of a call."""
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    uas = p.callee(scenario("call_uas_busy", p.tmp), p.peer(CALLEE_IP, "callee"), callee)
    uac = p.caller(scenario("call_uac", p.tmp), vn, caller, p.peer(CALLER_IP, "caller"))
    assert uac.wait(15) == 0 and uac.final_status() == 486, p.describe()
    uas.wait(5)
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    assert list_calls(env, DEMO, alloc["greenpin_id"]) == []
    r = env.server.request("GET", calls_path(DEMO, "/" + rec["call_sid"]), tenant=DEMO)
    assert r.status == 404 and r.json and r.json.get("code") == 1, r
    r = env.server.request("GET", calls_path(CALLS, "/" + rec["call_sid"]), tenant=DEMO)
    assert r.status == 403 and r.json and r.json.get("code") == 8, r


@pytest.mark.parametrize("form", ["e164", "cc", "trunk0", "national", "00"])
def test_caller_number_is_normalised(env, parties, form):
    """The caller's From user in any form the tenant's country allows finds
    the allocation; the record names the caller in E.164."""
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    as_sent = {"e164": caller, "cc": caller[1:], "trunk0": "0" + caller[3:], "national": caller[3:],
               "00": "00" + caller[1:]}[form]
    t0 = time.time()
    uas = p.callee(scenario("call_uas_busy", p.tmp), p.peer(CALLEE_IP, "callee"), callee)
    uac = p.caller(scenario("call_uac", p.tmp), vn, as_sent, p.peer(CALLER_IP, "caller"))
    assert uac.wait(15) == 0, p.describe()
    uas.wait(5)
    assert uac.final_status() == 486, p.describe()
    assert dialled(uas) == [callee], p.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, callee, "incomplete", "busy", t0, time.time(), False)


def test_calls_list_pages_and_filters(env, parties):
    """GET /calls: oldest first, cursor paging, from_date/to_date on the
    start, and the errors the README lists."""
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    gid = alloc["greenpin_id"]
    t0 = time.time()
    for i in range(3):
        uas = p.callee(scenario("call_uas_busy", p.tmp), p.peer(CALLEE_IP, "callee"), callee)
        uac = p.caller(scenario("call_uac", p.tmp), vn, caller, p.peer(CALLER_IP, "caller"),
                       name="caller%d" % i)
        assert uac.wait(15) == 0 and uac.final_status() == 486, p.describe()
        uas.wait(5)
    t1 = time.time()
    recs = wait_records(env, CALLS, gid, n=3)
    assert len(recs) == 3 and [r["started_at"] for r in recs] == sorted(r["started_at"] for r in recs), recs

    def get(q):
        return env.server.request("GET", calls_path(CALLS, "?" + q), tenant=CALLS)

    page = ok(get("greenpin_id=%s&limit=2" % gid))
    assert [r["call_sid"] for r in page[CALLS_LIST_KEY]] == [r["call_sid"] for r in recs[:2]], page
    assert page["next_cursor"], page
    page2 = ok(get("greenpin_id=%s&limit=2&cursor=%s" % (gid, quote(page["next_cursor"], safe=""))))
    assert [r["call_sid"] for r in page2[CALLS_LIST_KEY]] == [recs[2]["call_sid"]], page2
    assert not page2["next_cursor"], page2

    def fmt(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    within = ok(get("greenpin_id=%s&from_date=%s&to_date=%s" % (gid, fmt(t0 - 2), fmt(t1 + 2))))
    assert len(within[CALLS_LIST_KEY]) == 3, within
    after = ok(get("greenpin_id=%s&from_date=%s" % (gid, fmt(t1 + 60))))
    assert after[CALLS_LIST_KEY] == [], after
    before = ok(get("greenpin_id=%s&to_date=%s" % (gid, fmt(t0 - 60))))
    assert before[CALLS_LIST_KEY] == [], before
    for q, code in (("limit=0", 5), ("greenpin_id=%s&colour=red" % gid, 2),
                    ("from_date=%s&to_date=%s" % (fmt(t1 + 60), fmt(t0)), 23), ("from_date=yesterday", 23)):
        r = get(q)
        assert r.status == 400 and r.json and r.json.get("code") == code, (q, r)


def test_caller_from_p_asserted_identity(env, parties):
    """An anonymous From with the caller in P-Asserted-Identity (from an
    allowed trunk) routes by the PAI; the record names that caller."""
    p = parties
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    pai = "      P-Asserted-Identity: <sip:%s@[local_ip]>\n" % caller
    path = scenario("call_uac", p.tmp, replace=[("      User-Agent: [ua]\n      Allow:",
                                                 "      User-Agent: [ua]\n" + pai + "      Allow:")])
    t0 = time.time()
    uas = p.callee(scenario("call_uas_busy", p.tmp), p.peer(CALLEE_IP, "callee"), callee)
    uac = p.caller(path, vn, "anonymous", p.peer(CALLER_IP, "caller"))
    assert uac.wait(15) == 0, p.describe()
    uas.wait(5)
    assert uac.sent("INVITE")[0].header("P-Asserted-Identity"), p.describe()
    assert uac.final_status() == 486 and dialled(uas) == [callee], p.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    check_record(env, CALLS, rec, alloc, vn, caller, callee, "incomplete", "busy", t0, time.time(), False)


# --- pinbridge: routing refusals --------------------------------------------------------

def _refused(env, p, vn, caller, ip=CALLER_IP):
    a, b = p.peer(ip, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_reject", p.tmp, status=(404, "Not Found")), b, "nobody",
                   timeout=10)
    uac = p.caller(scenario("call_uac", p.tmp), vn, caller, a, ip=ip, timeout=10)
    uac.wait(12)
    time.sleep(0.3)
    uas.kill()
    assert not uas.received("INVITE"), "a refused call was dialled: %s" % p.describe()
    return uac.final_status()


def _outcome_delta(env, before, outcome):
    return (metric_sum(metrics(env), M_TOTAL, outcome=outcome) or 0) - \
        (metric_sum(before, M_TOTAL, outcome=outcome) or 0)


def test_unknown_vn_404(env, parties):
    m0 = metrics(env)
    assert _refused(env, parties, UNKNOWN_VN, number()) == 404, parties.describe()
    assert _outcome_delta(env, m0, "not-found") == 1


def test_outside_trunk_cidr_403(env, parties):
    caller, callee = number(), number()
    alloc, vn = allocate(env, CALLS, [caller], [callee])
    assert _refused(env, parties, vn, caller, ip=OUTSIDER_IP) == 403, parties.describe()
    assert list_calls(env, CALLS, alloc["greenpin_id"]) == [], "a refused source left a call record"


def test_refused_source_is_counted(env, parties):
    """DESIGN §3 step 1: a source no trunk allows gets no call record,
    "metrics only". An unknown VN (the same step) is counted under calls by
    outcome; so must this be."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    m0 = metrics(env)
    assert _refused(env, parties, vn, caller, ip=OUTSIDER_IP) == 403, parties.describe()
    grew = (metric_sum(metrics(env), M_TOTAL) or 0) - (metric_sum(m0, M_TOTAL) or 0)
    assert grew == 1, "a source no trunk allows is not counted in %s (grew by %s)" % (M_TOTAL, grew)


def test_offer_without_g711_is_refused(env, parties):
    """An offer with neither PCMU nor PCMA (G.729 only): 488 before anything
    is dialled."""
    p = parties
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_busy", p.tmp), b, callee, timeout=10)
    uac = p.caller(scenario("call_uac", p.tmp), vn, caller, a, codecs="18", timeout=10)
    uac.wait(12)
    time.sleep(0.3)
    uas.kill()
    assert not uas.received("INVITE"), "an offer pinbridge cannot answer was dialled: %s" % p.describe()
    assert uac.final_status() == 488, p.describe()


def test_no_matching_allocation_403(env, parties):
    _, vn = allocate(env, CALLS, [number()], [number()])
    assert _refused(env, parties, vn, number()) == 403, parties.describe()


def test_oneway_refuses_b(env, parties):
    """oneway: B calling gets 403 and nobody is dialled; A still gets
    through to B."""
    p = parties
    a_num, b_num = number(), number()
    _, vn = allocate(env, CALLS, [a_num], [b_num], usage="oneway")
    assert _refused(env, p, vn, b_num) == 403, p.describe()
    uas = p.callee(scenario("call_uas_busy", p.tmp), p.peer(CALLEE_IP, "callee"), b_num)
    uac = p.caller(scenario("call_uac", p.tmp), vn, a_num, p.peer(CALLER_IP, "caller"), name="a-caller")
    assert uac.wait(15) == 0 and uac.final_status() == 486, p.describe()
    uas.wait(5)
    assert dialled(uas) == [b_num], p.describe()


def test_nobody_to_dial_480(env, parties):
    """The side to dial is open and nobody joined it: 480, nobody dialled."""
    caller = number()
    vn = env.vn(CALLS)
    ok(env.server.create({"transaction_id": txn("call"), "a": {"numbers": [caller], "vns": [vn]}}, tenant=CALLS))
    assert _refused(env, parties, vn, caller) == 480, parties.describe()
    final = [m for m in parties.sipps[-1].received() if m.status == 480][0]
    assert len(final.start.split(" ", 2)) == 3, "480 without a reason phrase: %r" % final.start


def test_pin_side_caller_is_not_dialled_through(env, parties):
    """calldemo: A's side has a PIN, so A calling goes to the PIN prompt
    (DESIGN §3 step 4), never straight to B: answered by the IVR (200), or
    480 where the IVR is not built in; nobody is dialled either way."""
    a_num, b_num = number(), number()
    _, vn = allocate(env, DEMO, [a_num], [b_num])
    assert _refused(env, parties, vn, a_num) in (200, 480), parties.describe()


def test_b_calls_a_direct_on_demo_tenant(env, parties):
    """calldemo (pin a on, b off): B is dialled through to A at once, A sees
    the VN; audio flows."""
    a_num, b_num = number(), number()
    alloc, vn = allocate(env, DEMO, [a_num], [b_num])
    c = answered_call(parties, vn, b_num, a_num, caller_hold_ms=2500)
    assert uri_user(c.invite.ruri) == a_num
    assert uri_user(c.invite.header("From")) == vn
    fa, fb = exchange(c, n=25)
    assert find_frames(fa, c.caller_codec, payloads(c.callee_peer.packets(c.callee_codec)), c.callee_codec) >= 22
    assert find_frames(fb, c.callee_codec, payloads(c.caller_peer.packets(since=c.t_answer)),
                       c.caller_codec) >= 22
    assert finish(c) == (0, 0), parties.describe()
    rec = check_record(env, DEMO, wait_records(env, DEMO, alloc["greenpin_id"])[0], alloc, vn,
                       b_num, a_num, "completed", "completed", c.t0, c.t1, True)
    check_event(env, DEMO, rec)


def test_caller_over_tcp(env, parties):
    """The TCP listener takes calls too."""
    caller, callee = number(), number()
    _, vn = allocate(env, CALLS, [caller], [callee])
    p = parties
    a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=200, HOLD_MS=12000), b, callee)
    uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=1000), vn, caller, a, transport="t1")
    assert uac.wait(15) == 0, p.describe()
    assert uas.wait(10) == 0, p.describe()
    assert uac.final_status() == 200
    assert uas.received("BYE")


# --- pinbridge: shutting down with a call up ------------------------------------------

def test_sigterm_ends_calls_and_finishes_their_records(tmp_path, parties):
    """SIGTERM with a call up: both parties get BYE, the server exits 0, and
    the record is finished as completed (not left for recovery as failed)
    with its call-completed event."""
    rx = Receiver(name="calls-term").start()
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), call_config(callee_port, rx), name="term", creds=CREDS)
    try:
        s.start()
        assert sip_options(s.sip_port) == 200, s.log_tail()
        caller, callee = number(), number()
        vn = "+917100000099"
        alloc = ok(s.create({"transaction_id": txn("term"), "a": {"numbers": [caller], "vns": [vn]},
                             "b": {"numbers": [callee]}}, tenant=CALLS))
        p = parties
        a, b = p.peer(CALLER_IP, "caller"), p.peer(CALLEE_IP, "callee")
        uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=15000), b, callee,
                       port=callee_port)
        uac = p.caller(scenario("call_uac", p.tmp, HOLD_MS=15000), vn, caller, a,
                       remote="%s:%d" % (PB_IP, s.sip_port))
        uac.wait_received(status=200, timeout=8)
        time.sleep(0.5)
        t_stop = time.monotonic()
        assert s.stop() == 0, s.log_tail()
        assert uac.wait(8) == 0 and uas.wait(8) == 0, p.describe() + s.log_tail()
        assert time.monotonic() - t_stop < 8
        assert uac.received("BYE") and uas.received("BYE"), p.describe()
        s.start()
        recs = ok(s.request("GET", calls_path(CALLS, "?greenpin_id=" + alloc["greenpin_id"]),
                            tenant=CALLS))[CALLS_LIST_KEY]
        assert len(recs) == 1 and recs[0]["state"] == "completed", recs
        assert recs[0]["call_type"] == "completed" and recs[0]["dial_call_status"] == "completed", recs
        hits = rx.wait(lambda: [h for h in rx.got(path=HOOK_PATHS[CALLS])
                                if isinstance(h.json, dict) and h.json.get("call_sid") == recs[0]["call_sid"]],
                       10, "call-completed event")
        assert hits[0].json["call_type"] == "completed", hits[0].json
    finally:
        if s.proc:
            s.kill()
        rx.close()
