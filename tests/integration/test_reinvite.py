"""Offer/answer per leg (issue 6, DESIGN §3): re-INVITEs answered locally on
the leg that sent them, with the media following, and the late offer.

- The caller holds (sendonly; or a re-INVITE without SDP answered inactive
  in the ACK): pinbridge answers recvonly (offers its SDP), sends the
  caller nothing while held, keeps the call up past rtp_timeout although
  the caller is silent; the resume (sendrecv) brings the callee's audio
  back.
- The callee moves its RTP port by re-INVITE: pinbridge answers with its
  own address and port unchanged and relays to the new port.
- The caller goes recvonly (it will send nothing): answered sendonly, the
  callee's audio still reaches it, and its silence does not end the call.
- The caller changes codec by re-INVITE (PCMU to PCMA only): answered with
  PCMA on its own leg, the relay transcodes, the callee is not re-INVITEd.
- The callee moves its early media by UPDATE after a reliable 183
  (RFC 3311): answered with pinbridge's SDP, media follows the new port.
- A caller whose INVITE has no SDP gets 180 without SDP, then a 200 with
  pinbridge's offer; its ACK answers, and audio crosses both ways. On the
  PIN path the 200 comes at once and the prompt follows the ACK's answer.

pinbridge on 127.0.0.1 (rtp_timeout 1 s, latch learn), callers on
127.0.0.2, the callee's trunk on 127.0.0.3. Every wait is bounded.
"""
import time

import pytest

from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMA, PCMU, RtpPeer, Sipp, audio_frames,
                    find_frames, free_port_on, scenario)
from pbdata import number, ok, txn
from pbserver import Server

POOL = "+917700000000-+917700000099"
PIN_POOL = "+917710000000-+917710000099"
CREDS = {"rv": ("rv-key", "rv-token"), "rvpin": ("rvpin-key", "rvpin-token")}
RTP_TIMEOUT = 1.0


def conf(callee_port):
    return ('trunks = ( { name = "rvt"; allow = ["%s/32", "%s/32"]; outbound = "sip:%s:%d";\n'
            '             latch = "learn"; } );\n'
            'tenants = ( { id = "rv"; api_key = "rv-key"; api_token = "rv-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = false; b = false };\n'
            '  rtp_timeout = "%dms"; },\n'
            '  { id = "rvpin"; api_key = "rvpin-key"; api_token = "rvpin-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = true; b = false }; } );\n'
            % (CALLER_IP, CALLEE_IP, CALLEE_IP, callee_port, POOL, RTP_TIMEOUT * 1000, PIN_POOL))


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("reinvite"))
    e.callee_port = free_port_on(CALLEE_IP)
    e.server = Server(e.tmp, conf(e.callee_port), name="reinvite", creds=CREDS)
    e.next_vn = iter(range(1, 100))
    try:
        e.server.start()
        yield e
    finally:
        alive = e.server.alive()
        e.server.stop()
    assert alive, "pinbridge died during the run; log:\n" + e.server.log_tail()


class Call:
    """The SIPp parties and RTP peers of one test; closed at its end."""

    def __init__(self, env, tmp, tenant="rv"):
        self.env, self.tmp = env, str(tmp)
        self.sipps, self.peers = [], []
        self.caller_num, self.callee_num = number(), number()
        pool = PIN_POOL if tenant == "rvpin" else POOL
        self.vn = "%s%02d" % (pool.split("-")[0][:-2], next(env.next_vn))
        ok(env.server.create({"transaction_id": txn("rv"),
                              "a": {"numbers": [self.caller_num], "vns": [self.vn]},
                              "b": {"numbers": [self.callee_num]}}, tenant=tenant))

    def peer(self, ip, name):
        p = RtpPeer(ip, name)
        self.peers.append(p)
        return p

    def callee(self, path, peer, **keys):
        k = dict(callee=self.callee_num, ua="RvCallee", rtp_ip=peer.ip, rtp_port=peer.port,
                 codecs="0", te_pt=101)
        k.update(keys)
        s = Sipp(self.tmp, path, CALLEE_IP, "callee", k, port=self.env.callee_port,
                 timeout=20).start()
        self.sipps.append(s)
        return s

    def caller(self, path, peer):
        s = Sipp(self.tmp, path, CALLER_IP, "caller",
                 dict(caller=self.caller_num, ua="RvCaller", rtp_ip=peer.ip, rtp_port=peer.port,
                      codecs="0", te_pt=101),
                 service=self.vn, remote="%s:%d" % (PB_IP, self.env.server.sip_port),
                 timeout=20).start()
        self.sipps.append(s)
        return s

    def close(self):
        for s in self.sipps:
            s.kill()
        for p in self.peers:
            p.close()

    def describe(self):
        return "\n".join([s.describe() for s in self.sipps] +
                         ["pinbridge log tail:\n" + self.env.server.log_tail(3000)])


@pytest.fixture
def call(env, tmp_path):
    c = Call(env, tmp_path)
    yield c
    c.close()


def ok_to(uac, cseq):
    """The 200 the caller got to its INVITE of CSeq number cseq."""
    return uac.wait_received(status=200, timeout=10, pred=lambda m: m.cseq_method == "INVITE" and
                             (m.header("CSeq") or "").split()[0] == str(cseq))


def dir_of(sdp):
    dirs = [a for a in sdp.attrs if a in ("sendrecv", "sendonly", "recvonly", "inactive")]
    return dirs[-1] if dirs else "sendrecv"


def talk_both_ways(call, pa, pb, seed, where="the callee"):
    """75 PCMU frames each way at once, from the caller's peer pa and pb;
    each side must get at least 65 of the other's."""
    fa, fb = audio_frames(seed, 75, PCMU), audio_frames(seed + 1, 75, PCMU)
    ta, tb = pa.send_frames(PCMU, fa), pb.send_frames(PCMU, fb)
    ta.join(5)
    tb.join(5)
    time.sleep(0.3)
    got_b = [pk.payload for pk in pb.packets(PCMU)]
    assert find_frames(fa, PCMU, got_b, PCMU) >= 65, \
        "caller audio at %s: %d packets\n%s" % (where, len(got_b), call.describe())
    assert find_frames(fb, PCMU, [pk.payload for pk in pa.packets(PCMU)], PCMU) >= 65, \
        "audio from %s at the caller:\n%s" % (where, call.describe())


@pytest.mark.parametrize("caller_scenario,held_dir", [
    ("reinvite_uac_hold", "recvonly"),      # re-INVITE sendonly: answered recvonly
    ("reinvite_uac_offerless", "sendrecv"),  # re-INVITE without SDP: our offer, ACK inactive
])
def test_caller_hold_and_resume(call, caller_scenario, held_dir):
    """Held: nothing sent to the caller, the call outlives rtp_timeout with
    the caller silent; resumed: the callee's audio again."""
    pa, pb = call.peer(CALLER_IP, "caller"), call.peer(CALLEE_IP, "callee")
    uas = call.callee(scenario("call_uas_answer", call.tmp, RING_MS=100, HOLD_MS=15000), pb)
    uac = call.caller(scenario(caller_scenario, call.tmp, BEFORE_MS=1000, HELD_MS=2500,
                               AFTER_MS=1500), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    pb.set_remote(inv.sdp)
    first = ok_to(uac, 1)
    pa.set_remote(first.sdp)
    fb = audio_frames(7, 300, PCMU)  # the callee talks throughout (6 s)
    pb.send_frames(PCMU, fb)
    pa.send_frames(PCMU, audio_frames(8, 50, PCMU))  # the caller until it holds
    held = ok_to(uac, 2)
    t_hold = time.monotonic()
    assert dir_of(held.sdp) == held_dir, held.text
    assert (held.sdp.ip, held.sdp.port) == (first.sdp.ip, first.sdp.port), held.text
    resumed = ok_to(uac, 3)
    t_resume = time.monotonic()
    pa.send_frames(PCMU, audio_frames(9, 50, PCMU))
    assert dir_of(resumed.sdp) == "sendrecv", resumed.text
    assert (resumed.sdp.ip, resumed.sdp.port) == (first.sdp.ip, first.sdp.port), resumed.text
    assert t_resume - t_hold >= 2 * RTP_TIMEOUT, "held %.1fs only" % (t_resume - t_hold)
    assert not uac.received("BYE") and not uas.received("BYE"), \
        "the call ended while held:\n" + call.describe()
    during = [pk for pk in pa.packets(since=t_hold + 0.2) if pk.t < t_resume - 0.05]
    assert not during, "%d RTP packets to the held caller, e.g. %r" % (len(during), during[:3])
    after = pa.wait_packets(25, since=t_resume, timeout=3)
    assert find_frames(fb, PCMU, [pk.payload for pk in after], PCMU) >= 20, \
        "callee audio after the resume: %d packets" % len(after)
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()
    assert not [m for m in uas.received() if m.method == "INVITE"][1:], \
        "the callee was re-INVITEd:\n" + call.describe()


def test_callee_moves_its_port(call):
    """The callee re-INVITEs with a new port: 200 with pinbridge's own
    address and port unchanged, and the caller's audio goes to the new port."""
    pa = call.peer(CALLER_IP, "caller")
    old, new = call.peer(CALLEE_IP, "callee-old"), call.peer(CALLEE_IP, "callee-new")
    uas = call.callee(scenario("reinvite_uas_move", call.tmp, RING_MS=100, MOVE_MS=300,
                               HOLD_MS=15000), old, rtp_port2=new.port)
    uac = call.caller(scenario("call_uac", call.tmp, HOLD_MS=4000), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    old.set_remote(inv.sdp)
    pa.set_remote(ok_to(uac, 1).sdp)
    reok = uas.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
    assert reok.sdp is not None, reok.text
    assert (reok.sdp.ip, reok.sdp.port) == (inv.sdp.ip, inv.sdp.port), \
        "pinbridge's address changed: %s vs the INVITE's %s" % (reok.sdp, inv.sdp)
    t_moved = time.monotonic()
    new.set_remote(reok.sdp)
    talk_both_ways(call, pa, new, 11, "the callee's new port")
    assert not old.packets(since=t_moved + 0.2), "RTP still sent to the callee's old port"
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()


def test_caller_recvonly_keeps_hearing_and_outlives_rtp_timeout(call):
    """A recvonly caller sends nothing by choice: pinbridge answers
    sendonly, keeps relaying the callee's audio to it, and does not end the
    call when the caller's silence outlasts rtp_timeout."""
    pa, pb = call.peer(CALLER_IP, "caller"), call.peer(CALLEE_IP, "callee")
    uas = call.callee(scenario("call_uas_answer", call.tmp, RING_MS=100, HOLD_MS=15000), pb)
    uac = call.caller(scenario("reinvite_uac_hold", call.tmp, BEFORE_MS=1000, HELD_MS=2500,
                               AFTER_MS=500,
                               replace=[("      a=sendonly\n", "      a=recvonly\n"),
                                        ('regexp="a=recvonly"', 'regexp="a=sendonly"')]), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    pb.set_remote(inv.sdp)
    first = ok_to(uac, 1)
    pa.set_remote(first.sdp)
    fb = audio_frames(13, 250, PCMU)  # the callee talks throughout (5 s)
    pb.send_frames(PCMU, fb)
    pa.send_frames(PCMU, audio_frames(14, 50, PCMU))  # the caller until recvonly
    quiet = ok_to(uac, 2)
    t_quiet = time.monotonic()
    assert dir_of(quiet.sdp) == "sendonly", quiet.text
    ok_to(uac, 3)
    t_back = time.monotonic()
    pa.send_frames(PCMU, audio_frames(19, 40, PCMU))  # talking again
    assert t_back - t_quiet >= 2 * RTP_TIMEOUT, "recvonly %.1fs only" % (t_back - t_quiet)
    during = [pk.payload for pk in pa.packets(PCMU, since=t_quiet + 0.2) if pk.t < t_back]
    assert find_frames(fb, PCMU, during, PCMU) >= 50, \
        "callee audio at the recvonly caller: %d packets\n%s" % (len(during), call.describe())
    assert not uac.received("BYE") and not uas.received("BYE"), \
        "the call ended while the caller was recvonly:\n" + call.describe()
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()


def test_caller_codec_change_is_answered_locally(call):
    """The caller re-INVITEs offering PCMA only (it started on PCMU): 200
    with PCMA on the caller's leg; the callee stays on PCMU, is not
    re-INVITEd, and audio crosses transcoded both ways."""
    pa, pb = call.peer(CALLER_IP, "caller"), call.peer(CALLEE_IP, "callee")
    uas = call.callee(scenario("call_uas_answer", call.tmp, RING_MS=100, HOLD_MS=15000), pb)
    reoffer = "o=[caller] 53655765 2353687639 IN IP4 [rtp_ip]\n      s=[ua]\n      " \
              "c=IN IP4 [rtp_ip]\n      t=0 0\n      m=audio [rtp_port] RTP/AVP "
    uac = call.caller(scenario("reinvite_uac_hold", call.tmp, BEFORE_MS=500, HELD_MS=2500,
                               AFTER_MS=300,
                               replace=[(reoffer + "[codecs]", reoffer + "8"),
                                        ("      a=sendonly\n", "      a=sendrecv\n"),
                                        ('regexp="a=recvonly"', 'regexp="RTP/AVP 8 "')]), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    pb.set_remote(inv.sdp)
    first = ok_to(uac, 1)
    pa.set_remote(first.sdp)
    pa.send_frames(PCMU, audio_frames(14, 25, PCMU))  # until the change
    changed = ok_to(uac, 2)
    t_changed = time.monotonic()
    assert changed.sdp.pts[0] == PCMA, changed.text
    assert (changed.sdp.ip, changed.sdp.port) == (first.sdp.ip, first.sdp.port), changed.text
    fa, fb = audio_frames(15, 160, PCMA), audio_frames(16, 160, PCMU)
    pa.send_frames(PCMA, fa)
    pb.send_frames(PCMU, fb)
    ok_to(uac, 3)  # back to PCMU: the window to look at ends here
    t_back = time.monotonic() - 0.1
    at_callee = [pk.payload for pk in pb.packets(PCMU, since=t_changed) if pk.t < t_back]
    at_caller = [pk for pk in pa.packets(since=t_changed + 0.1) if pk.t < t_back]
    assert find_frames(fa, PCMA, at_callee, PCMU) >= 90, \
        "PCMA caller audio at the PCMU callee: %d packets\n%s" % (len(at_callee), call.describe())
    assert find_frames(fb, PCMU, [pk.payload for pk in at_caller if pk.pt == PCMA], PCMA) >= 90, \
        "PCMU callee audio at the PCMA caller: %d packets\n%s" % (len(at_caller), call.describe())
    assert not [pk for pk in at_caller if pk.pt == PCMU], "PCMU still sent to the caller"
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()
    assert not [m for m in uas.received() if m.method == "INVITE"][1:], \
        "the callee was re-INVITEd:\n" + call.describe()


def test_callee_moves_its_early_media_by_update(call):
    """After a reliable 183 the callee UPDATEs its SDP to a new port: 200
    with pinbridge's own address and port, and once it answers the
    caller's audio goes to the new port only."""
    pa = call.peer(CALLER_IP, "caller")
    old, new = call.peer(CALLEE_IP, "callee-old"), call.peer(CALLEE_IP, "callee-new")
    uas = call.callee(scenario("reinvite_uas_early_update", call.tmp, MOVE_MS=300, EARLY_MS=700,
                               HOLD_MS=15000), old, rtp_port2=new.port)
    uac = call.caller(scenario("call_uac", call.tmp, HOLD_MS=4000), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    upd = uas.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "UPDATE")
    assert upd.sdp is not None, upd.text
    assert (upd.sdp.ip, upd.sdp.port) == (inv.sdp.ip, inv.sdp.port), \
        "pinbridge's address changed: %s vs the INVITE's %s" % (upd.sdp, inv.sdp)
    t_moved = time.monotonic()
    new.set_remote(upd.sdp)
    pa.set_remote(ok_to(uac, 1).sdp)
    talk_both_ways(call, pa, new, 17, "the callee's new port")
    assert not old.packets(since=t_moved + 0.2), "RTP still sent to the callee's old port"
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()


def test_late_offer_caller(call):
    """INVITE without SDP: 180 without SDP, 200 with pinbridge's offer, the
    ACK's answer completes the caller's leg and audio crosses both ways."""
    pa, pb = call.peer(CALLER_IP, "caller"), call.peer(CALLEE_IP, "callee")
    uas = call.callee(scenario("call_uas_answer", call.tmp, RING_MS=300, HOLD_MS=15000), pb)
    uac = call.caller(scenario("reinvite_uac_late", call.tmp, HOLD_MS=4000), pa)
    inv = uas.wait_received("INVITE", timeout=8)
    assert inv.sdp is not None, "the callee got no offer: %s" % inv.text
    pb.set_remote(inv.sdp)
    first = ok_to(uac, 1)
    offer = first.sdp
    assert offer is not None and offer.ip == PB_IP, first.text
    assert offer.pts[:2] == [0, 8] and offer.pt_of("telephone-event") == 101, offer.text
    assert (offer.ip, offer.port) != (inv.sdp.ip, inv.sdp.port), "one port for both legs"
    for m in uac.received(status=180):
        assert m.sdp is None, "SDP in the late offer's 180: %s" % m.text
    pa.set_remote(offer)
    time.sleep(0.2)  # the ACK with the answer
    talk_both_ways(call, pa, pb, 21)
    assert uac.wait(15) == 0, call.describe()
    assert uas.wait(10) == 0, call.describe()


def test_late_offer_pin_caller(env, tmp_path):
    """PIN path, INVITE without SDP: the 200 with pinbridge's offer comes at
    once (nobody is dialled yet), and "enter PIN" reaches the caller once
    its ACK gave the address."""
    call = Call(env, tmp_path, tenant="rvpin")
    try:
        pa = call.peer(CALLER_IP, "caller")
        uac = call.caller(scenario("reinvite_uac_late", call.tmp, HOLD_MS=2500), pa)
        first = ok_to(uac, 1)
        assert first.sdp is not None and first.sdp.pts[:2] == [0, 8], first.text
        pa.set_remote(first.sdp)
        prompt = pa.wait_packets(50, pt=PCMU, timeout=4)
        assert len(prompt) >= 50, "prompt at the late-offer caller: %d packets\n%s" % (
            len(prompt), call.describe())
        assert len({pk.ssrc for pk in prompt}) == 1, "prompt split into several streams"
        assert any(any(b not in (0xFF, 0x7F) for b in pk.payload) for pk in prompt), \
            "the prompt is silence"
        assert uac.wait(15) == 0, call.describe()
    finally:
        call.close()
