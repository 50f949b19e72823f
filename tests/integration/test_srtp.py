"""SDES-SRTP per leg (issue 7), against an independent SRTP peer (Debian's
python3-pylibsrtp, pbsrtp.SrtpPeer), with SIPp for the signalling over UDP
(the trunks allow SDES over a plain transport; TLS: test_tls.py).

Inbound trunks are told apart by the caller's source address: 127.0.0.2
(srtp optional), 127.0.0.5 (mandatory), 127.0.0.6 (off). The callee leg
follows its tenant's trunk: off, optional or mandatory. Each test checks
what crossed: the SDP each side got (profile, a=crypto, our own key, never
the other leg's), and the audio, sample for sample, both ways.
"""
import itertools
import time

import pytest

from callenv import M_DROPPED, Parties, allocate, metrics, wait_active, wait_records
from pbcall import (CALLEE_IP, CALLER_IP, audio_frames, find_frames, free_port_on, metric_sum,
                    scenario, sip_options)
from pbserver import Server
from pbsrtp import SrtpPeer, crypto_lines

IN_MAND_IP, IN_OFF_IP = "127.0.0.5", "127.0.0.6"
PLAIN_OUT, SRTP_OUT, MAND_OUT = "plainout", "srtpout", "mandout"
POOLS = {PLAIN_OUT: "+917400000000-+917400000099", SRTP_OUT: "+917500000000-+917500000099",
         MAND_OUT: "+917600000000-+917600000099"}
CREDS = {t: ("%s-key" % t, "%s-token" % t) for t in POOLS}
S80, S32 = "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"


def config(callee_port):
    out = 'outbound = "sip:%s:%d"; srtp_plain_transport = true;' % (CALLEE_IP, callee_port)
    trunks = [
        '{ name = "in_opt"; allow = ["%s/32"]; srtp = "optional"; srtp_plain_transport = true; }' % CALLER_IP,
        '{ name = "in_mand"; allow = ["%s/32"]; srtp = "mandatory"; srtp_plain_transport = true; }'
        % IN_MAND_IP,
        '{ name = "in_off"; allow = ["%s/32"]; }' % IN_OFF_IP,
        '{ name = "out_plain"; %s }' % out,
        '{ name = "out_srtp"; srtp = "optional"; %s }' % out,
        '{ name = "out_mand"; srtp = "mandatory"; %s }' % out,
    ]
    tenants = []
    for t, tr in ((PLAIN_OUT, "out_plain"), (SRTP_OUT, "out_srtp"), (MAND_OUT, "out_mand")):
        tenants.append('{ id = "%s"; api_key = "%s"; api_token = "%s"; trunk = "%s"; vns = ["%s"];\n'
                       '  pin = { a = false; b = false; }; ring_timeout = "5s"; rtp_timeout = "5s"; }'
                       % (t, CREDS[t][0], CREDS[t][1], tr, POOLS[t]))
    return ('sweep_interval = "100ms";\nstore = { map_size = "64M"; };\nsip = { drain = "0s"; };\n'
            'trunks = (\n  %s\n);\ntenants = (\n  %s\n);\n' % (",\n  ".join(trunks), ",\n  ".join(tenants)))


class Env:
    def __init__(self):
        self.vns = {t: ("+%d" % n for n in itertools.count(int(POOLS[t].split("-")[0][1:]) + 1))
                    for t in POOLS}

    def vn(self, tenant):
        return next(self.vns[tenant])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("srtp"))
    e.callee_port = free_port_on(CALLEE_IP)
    e.server = Server(e.tmp, config(e.callee_port), name="srtp", creds=CREDS)
    try:
        e.server.start()
        if sip_options(e.server.sip_port) != 200:
            pytest.fail("pinbridge does not answer SIP; log:\n" + e.server.log_tail(2000))
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
    assert alive and rc == 0, "srtp server died or exit %s; log:\n%s" % (rc, e.server.log_tail())


@pytest.fixture
def parties(tmp_path, env):
    p = Parties(str(tmp_path), env)
    yield p
    p.close()
    wait_active(env, 0, timeout=8)


def number(_c=itertools.count(1)):
    return "+9198%08d" % (int(time.time() * 1000) % 10**6 * 100 + next(_c) % 100)


def with_crypto(name, p, profile, **times):
    """Scenario name with profile on its m= line and an a=crypto:[crypto]
    line (the -key "crypto": our SrtpPeer's crypto_line())."""
    return scenario(name, p.tmp, replace=[("RTP/AVP [codecs]", "%s [codecs]" % profile),
                                          ("      a=sendrecv\n",
                                           "      a=sendrecv\n      a=crypto:[crypto]\n")], **times)


def savp_caller(p, hold_ms=4000):
    """call_uac offering RTP/SAVP with the caller's key."""
    return with_crypto("call_uac", p, "RTP/SAVP", HOLD_MS=hold_ms)


def crypto_callee(p, profile="RTP/AVP", hold_ms=8000):
    """call_uas_answer answering with the callee's key."""
    return with_crypto("call_uas_answer", p, profile, RING_MS=200, HOLD_MS=hold_ms)


class Call:
    pass


def place(env, p, tenant, caller_peer, callee_peer, caller_path, callee_path, caller_ip=CALLER_IP,
          caller_keys=None, callee_keys=None):
    c = Call()
    c.caller_num, c.callee_num = number(), number()
    c.alloc, c.vn = allocate(env, tenant, [c.caller_num], [c.callee_num])
    c.caller_peer, c.callee_peer = caller_peer, callee_peer
    c.uas = p.callee(callee_path, callee_peer, c.callee_num, "0", 101, **(callee_keys or {}))
    c.uac = p.caller(caller_path, c.vn, c.caller_num, caller_peer, "0", 101, ip=caller_ip,
                     **(caller_keys or {}))
    c.invite = c.uas.wait_received("INVITE", timeout=8)
    callee_peer.set_remote(c.invite.sdp)
    c.ok = c.uac.wait_received(status=200, timeout=10, pred=lambda m: m.cseq_method == "INVITE")
    caller_peer.set_remote(c.ok.sdp)
    return c


def finish(c):
    """Both SIPps end cleanly: the caller's BYE after its hold time."""
    assert c.uac.wait(20) == 0, c.uac.describe()
    assert c.uas.wait(20) == 0, c.uas.describe()


def body(msg):
    return msg.text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg.text else msg.text.split("\n\n", 1)[1]


def talk(c, n=40):
    """Both peers send n frames; each side's frames reach the other intact."""
    fa = audio_frames(1000 + c.caller_peer.port, n, 0)
    fb = audio_frames(2000 + c.callee_peer.port, n, 0)
    ta = c.caller_peer.send_frames(0, fa)
    tb = c.callee_peer.send_frames(0, fb)
    ta.join(5)
    tb.join(5)
    got_b = c.callee_peer.wait_packets(n - 2, pt=0, timeout=3)
    got_a = c.caller_peer.wait_packets(n - 2, pt=0, timeout=3)
    assert find_frames(fa, 0, [pk.payload for pk in got_b], 0) >= n - 2, \
        "caller's audio did not reach the callee intact"
    assert find_frames(fb, 0, [pk.payload for pk in got_a], 0) >= n - 2, \
        "callee's audio did not reach the caller intact"


def drops(env, reason):
    return metric_sum(metrics(env), M_DROPPED, reason=reason) or 0


# --- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", [S80, S32])
def test_srtp_caller_to_plain_callee(env, parties, suite):
    p = parties
    a = SrtpPeer(CALLER_IP, "caller", suite)
    p.peers.append(a)
    b = p.peer(CALLEE_IP, "callee")
    c = place(env, p, PLAIN_OUT, a, b, savp_caller(p, hold_ms=8000),
              scenario("call_uas_answer", p.tmp, RING_MS=200, HOLD_MS=12000),
              caller_keys={"crypto": a.crypto_line(7)})
    ok_sdp = body(c.ok)
    assert "m=audio %d RTP/SAVP 0" % c.ok.sdp.port in ok_sdp, ok_sdp
    tag, got_suite = a.set_peer_key(ok_sdp)
    assert (tag, got_suite) == (7, suite)
    assert a.peer_key != a.key, "pinbridge echoed the caller's key"
    inv_sdp = body(c.invite)
    assert "RTP/AVP" in inv_sdp and "a=crypto" not in inv_sdp, inv_sdp
    talk(c)
    assert not b.bad, "the plain callee got something that is not RTP"
    # pinbridge's RTCP to the SRTP caller is SRTCP (one report per 5 s)
    end = time.monotonic() + 7
    while not a.srtcp_ok and time.monotonic() < end:
        time.sleep(0.1)
    assert a.srtcp_ok, "no SRTCP report unprotected (failed: %d)" % len(a.unprotect_failed)
    assert not a.unprotect_failed, "packets to the SRTP caller that did not unprotect"
    finish(c)


def test_plain_caller_to_srtp_callee(env, parties):
    p = parties
    a = p.peer(CALLER_IP, "caller")
    b = SrtpPeer(CALLEE_IP, "callee", S32)
    p.peers.append(b)
    c = place(env, p, SRTP_OUT, a, b, scenario("call_uac", p.tmp, HOLD_MS=4000), crypto_callee(p),
              caller_ip=IN_OFF_IP, callee_keys={"crypto": b.crypto_line(2)})
    inv_sdp = body(c.invite)
    offered = crypto_lines(inv_sdp)
    assert "RTP/AVP" in inv_sdp and [(t, s) for t, s, _ in offered] == [(1, S80), (2, S32)], inv_sdp
    assert offered[0][2] != offered[1][2], "one key for two lines"
    b.set_peer_key(inv_sdp, tag=2)
    ok_sdp = body(c.ok)
    assert "RTP/AVP" in ok_sdp and "a=crypto" not in ok_sdp, ok_sdp
    talk(c)
    assert not b.unprotect_failed, "packets to the SRTP callee that did not unprotect"
    finish(c)


def test_both_legs_srtp_keys_differ(env, parties):
    p = parties
    a = SrtpPeer(CALLER_IP, "caller", S80)
    b = SrtpPeer(CALLEE_IP, "callee", S80)
    p.peers += [a, b]
    c = place(env, p, SRTP_OUT, a, b, savp_caller(p), crypto_callee(p, "RTP/SAVP"),
              caller_keys={"crypto": a.crypto_line(1)}, callee_keys={"crypto": b.crypto_line(1)})
    a.set_peer_key(body(c.ok))
    b.set_peer_key(body(c.invite), tag=1)
    keys = {a.key, b.key, a.peer_key, b.peer_key}
    assert len(keys) == 4, "a key was reused across legs or directions"
    inv = body(c.invite)
    assert a.crypto_line(1).split("inline:")[1] not in inv, "the caller's key reached the callee"
    talk(c)
    finish(c)


def test_bad_packets_dropped_and_counted(env, parties):
    """Tampered, truncated and replayed SRTP from the caller never reach
    the callee, are counted, and the call goes on."""
    p = parties
    a = SrtpPeer(CALLER_IP, "caller", S80)
    p.peers.append(a)
    b = p.peer(CALLEE_IP, "callee")
    c = place(env, p, PLAIN_OUT, a, b, savp_caller(p),
              scenario("call_uas_answer", p.tmp, RING_MS=200, HOLD_MS=12000),
              caller_keys={"crypto": a.crypto_line(1)})
    a.set_peer_key(body(c.ok))
    talk(c, 10)
    auth0, replay0, bad0 = drops(env, "srtp_auth"), drops(env, "srtp_replay"), drops(env, "malformed")
    before = len(b.packets())

    def protected(fill):
        return bytearray(a.protected(0, bytes([fill]) * 160))

    good, tampered, truncated, short = protected(0x55), protected(0x5a), protected(0x5b), protected(0x5c)
    tampered[20] ^= 0x01                      # a payload bit flipped
    a.send_wire(bytes(good))
    a.send_wire(bytes(tampered))
    a.send_wire(bytes(truncated[:-5]))        # cut into the tag
    a.send_wire(bytes(good))                  # replayed
    a.send_wire(a.sent_wire[0])               # replayed, from the call's start
    a.send_wire(bytes(short[:14]))            # shorter than header + tag
    time.sleep(0.5)
    assert drops(env, "srtp_auth") >= auth0 + 2
    assert drops(env, "srtp_replay") >= replay0 + 2
    assert drops(env, "malformed") >= bad0 + 1
    got = [pk.payload for pk in b.packets()[before:]]
    for fill in (0x5a, 0x5b, 0x5c):
        assert bytes([fill]) * 160 not in got, "a bad packet (%#x) reached the callee" % fill
    assert got.count(bytes([0x55]) * 160) == 1, "the replayed frame crossed %d times" % \
        got.count(bytes([0x55]) * 160)
    talk(c, 20)  # the call goes on
    finish(c)


def test_mandatory_refuses_plain_offer(env, parties):
    p = parties
    a = p.peer(CALLER_IP, "caller")
    caller_num, callee_num = number(), number()
    alloc, vn = allocate(env, PLAIN_OUT, [caller_num], [callee_num])
    uac = p.caller(scenario("call_uac", p.tmp), vn, caller_num, a, "0", 101, ip=IN_MAND_IP)
    uac.wait(15)
    assert uac.final_status() == 488, uac.describe()


def test_savp_offer_on_a_trunk_without_srtp_refused(env, parties):
    p = parties
    a = SrtpPeer(CALLER_IP, "caller")
    p.peers.append(a)
    caller_num, callee_num = number(), number()
    alloc, vn = allocate(env, PLAIN_OUT, [caller_num], [callee_num])
    uac = p.caller(savp_caller(p), vn, caller_num, a, "0", 101, ip=IN_OFF_IP,
                   crypto=a.crypto_line(1))
    uac.wait(15)
    assert uac.final_status() == 488, uac.describe()


def test_mandatory_callee_answering_plain_fails_the_leg(env, parties):
    p = parties
    a = p.peer(CALLER_IP, "caller")
    b = p.peer(CALLEE_IP, "callee")
    caller_num, callee_num = number(), number()
    alloc, vn = allocate(env, MAND_OUT, [caller_num], [callee_num])
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=200, HOLD_MS=5000), b, callee_num)
    uac = p.caller(scenario("call_uac", p.tmp), vn, caller_num, a, "0", 101, ip=IN_OFF_IP)
    inv = uas.wait_received("INVITE", timeout=8)
    assert "m=audio %d RTP/SAVP" % inv.sdp.port in body(inv), body(inv)
    uac.wait(15)
    assert uac.final_status() in (480, 486, 503), uac.describe()
    uas.wait_received("BYE", timeout=8)  # the answered leg is hung up cleanly
    rec = wait_records(env, MAND_OUT, alloc["greenpin_id"])[0]
    assert rec["dial_call_status"] == "failed", rec


def test_hold_and_resume_keep_the_keys(env, parties):
    """An SRTP caller's re-INVITEs with its key unchanged (hold, resume) are
    answered with our key unchanged, and audio crosses after the resume;
    packets keep unprotecting throughout (no new state, no reset index)."""
    p = parties
    a = SrtpPeer(CALLER_IP, "caller", S80)
    p.peers.append(a)
    b = p.peer(CALLEE_IP, "callee")
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=15000), b, number())
    caller_num = number()
    alloc, vn = allocate(env, PLAIN_OUT, [caller_num], [uas.keys["callee"]])
    mline = "m=audio [rtp_port] RTP/AVP [codecs] [te_pt]\n"
    uac = p.caller(scenario("reinvite_uac_hold", p.tmp, BEFORE_MS=800, HELD_MS=800, AFTER_MS=3000,
                            replace=[(mline, mline.replace("RTP/AVP", "RTP/SAVP")
                                      + "      a=crypto:[crypto]\n")]),
                   vn, caller_num, a, "0", 101, crypto=a.crypto_line(3))
    inv = uas.wait_received("INVITE", timeout=8)
    b.set_remote(inv.sdp)
    oks = []
    end = time.monotonic() + 10
    while len(oks) < 3 and time.monotonic() < end:
        oks = [m for m in uac.received(status=200) if m.cseq_method == "INVITE"]
        time.sleep(0.05)
    assert len(oks) == 3, uac.describe()
    a.set_peer_key(body(oks[0]))
    a.set_remote(oks[0].sdp)
    keys = [crypto_lines(body(m)) for m in oks]
    assert all(k == keys[0] for k in keys), "our key changed on a re-INVITE with the same key"
    c = Call()
    c.caller_peer, c.callee_peer, c.uac, c.uas = a, b, uac, uas
    talk(c, 30)
    assert not a.unprotect_failed
    assert uac.wait(20) == 0, uac.describe()
