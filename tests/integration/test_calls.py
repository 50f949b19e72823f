"""Calls (issue 4, DESIGN §3, §4, §6), media: audio both ways,
transcoding and RFC 4733 payload types, masking of each party from the
other (SIP, SDP and RTCP), ringback, early media, latching, two calls at
once and extra m-lines; on the real binary with SIPp parties and the test's
own RTP peers (the rig: callenv.py).

The test_standalone_* tests run the SIPp scenarios and RTP peers against
each other without pinbridge: they check the harness itself.

Hunting, CANCEL and BYE: test_calls_hunt.py; records, the /calls API,
routing refusals and SIGTERM: test_calls_records.py.

Every wait is bounded; each test stays well under 30 s.
"""
import time
import uuid

import pytest

from callenv import (CALLS, M_DROPPED, M_RELAYED, M_SETUP_COUNT, M_TOTAL, Answered, allocate,
                     answered_call, assert_stream_rewritten, check_event, check_record, exchange,
                     finish, list_calls, masking_leaks, metrics, payloads, wait_active,
                     wait_records)
from callenv import env, parties  # noqa: F401  (fixtures)
from pbcall import (CALLEE_IP, CALLER_IP, OUTSIDER_IP, PB_IP, PCMA, PCMU, audio_frames,
                    find_frames, free_port_on, hunt_scenario, metric_sum, rtcp_packets, scenario,
                    uri_user)
from pbdata import number


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
