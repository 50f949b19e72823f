"""Calls (issue 4, DESIGN §3, §4, §6), records and routing: call records
kept per tenant, callers' numbers normalised (also from
P-Asserted-Identity), GET /calls paging and filters, the refusals of
routing (unknown VN, a source no trunk allows, no G.711, no allocation,
oneway, nobody to dial, a PIN side) and the outcome metrics they count,
B calling A directly, calls over TCP, and SIGTERM finishing the records of
calls still up; on the real binary with SIPp parties (the rig: callenv.py).

Every wait is bounded; each test stays well under 30 s.
"""
import datetime
import time
from urllib.parse import quote

import pytest

from callenv import (CALLS, CALLS_LIST_KEY, CREDS, DEMO, HOOK_PATHS, M_TOTAL, UNKNOWN_VN, allocate,
                     answered_call, call_config, calls_path, check_event, check_record, dialled,
                     exchange, finish, list_calls, metrics, payloads, wait_records)
from callenv import env, parties  # noqa: F401  (fixtures)
from pbcall import (CALLEE_IP, CALLER_IP, OUTSIDER_IP, PB_IP, find_frames, free_port_on,
                    metric_sum, scenario, sip_options, uri_user)
from pbdata import number, ok, txn
from pbhook import Receiver
from pbserver import Server


# --- pinbridge: call records and the calls API ---------------------------------------

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
