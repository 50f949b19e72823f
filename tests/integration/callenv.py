"""The calls tests' shared rig: one pinbridge per test module (the
module-scoped env fixture) with its webhook receiver, the SIPp parties and
RTP peers of each test (the parties fixture), and the checks those tests
share (metrics, allocations, call records, call-completed events, answered
calls, audio exchange, masking).

pinbridge listens on 127.0.0.1; callers run on 127.0.0.2, callees on
127.0.0.3 (the trunk's outbound proxy is the callee SIPp's port there), and
an outsider on 127.0.0.4. Tenants: "calls" (PINs off on both sides, short
ring timeout and hunt cap) and "calldemo" (the sample's pin a on, b off,
for the B-calls-A direct path); both post call-completed events to one
receiver.

Not a test module: a test module imports the fixtures it uses by name
(`from callenv import env, parties  # noqa: F401`), which is how pytest
finds them there. test_pin.py reuses Parties and the checks.
"""
import datetime
import itertools
import json
import re
import time
import uuid

import pytest

from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMA, PCMU, RtpPeer, Sipp, audio_frames,
                    free_port_on, metric_sum, parse_metrics, scenario, sip_options, uri_user)
from pbdata import ok, txn
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
               "dial_call_duration", "on_call_duration", "direction", "state", "recording_status"}
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
               remote=None, transport="u1", name="caller", **extra):
        keys = dict(caller=number_, ua=self.caller_ua, rtp_ip=peer.ip, rtp_port=peer.port,
                    codecs=codecs, te_pt=te, **extra)
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
                 answered, talk=None, dialled=True, recording_status=None):
    """Asserts one completed record; talk: seconds the parties talked;
    recording_status: None for a call not recorded (these tenants' default)."""
    assert RECORD_KEYS <= set(rec), "record lacks %s: %r" % (RECORD_KEYS - set(rec), rec)
    assert SID_RE.match(rec["call_sid"]), rec
    assert rec["greenpin_id"] == alloc["greenpin_id"], rec
    assert rec["transaction_id"] == alloc["transaction_id"], rec
    assert rec["vn"] == vn and rec["from"] == frm and rec["to"] == to, rec
    assert rec["call_type"] == call_type, rec
    assert rec["dial_call_status"] == dial_status, rec
    assert rec["direction"] == "incoming" and rec["state"] == "completed", rec
    assert rec["recording_status"] == recording_status, rec
    if recording_status is None:
        assert rec["recording_url"] is None, rec
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


def dialled(uas):
    return [uri_user(m.ruri) for m in uas.received("INVITE")]


# --- masking -------------------------------------------------------------------

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
