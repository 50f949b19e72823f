"""Calls (issue 4, DESIGN §3, §6), ending and hunting: BYE from either
side freeing the media ports, CANCEL from the caller, and hunting through
B's numbers: moving on past busy and failing callees, ring_timeout,
max_hunt, the caller's final status and the call record each hunt leaves;
on the real binary with SIPp parties (the rig: callenv.py).

Every wait is bounded; each test stays well under 30 s.
"""
import datetime
import time

import pytest

from callenv import (CALLS, M_HUNT_ATTEMPTS, M_PORT_PAIRS, MAX_HUNT, RING_TIMEOUT, allocate,
                     answered_call, check_event, check_record, dialled, finish, masking_leaks,
                     metrics, wait_active, wait_records)
from callenv import env, parties  # noqa: F401  (fixtures)
from pbcall import CALLEE_IP, CALLER_IP, hunt_scenario, metric_sum, port_closed, scenario, uri_user
from pbdata import number


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
