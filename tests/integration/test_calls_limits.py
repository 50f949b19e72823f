"""Call timers (DESIGN §3, §5): a bridged call is ended with BYE to both
sides when the tenant's max_duration is reached, or when a leg sends no RTP
for rtp_timeout — and not while RTP flows."""
import signal
import time

from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMU, RtpPeer, Sipp, audio_frames,
                    free_port_on, scenario, sip_handles_drop_to_zero)
from pbdata import number, ok, txn
from pbserver import Server

POOL = "+917600000000-+917600000099"
CREDS = {"lim": ("lim-key", "lim-token")}


def conf(callee_port, timers='max_duration = "1500ms";'):
    return ('trunks = ( { name = "lt"; allow = ["%s/32"]; outbound = "sip:%s:%d"; } );\n'
            'tenants = ( { id = "lim"; api_key = "lim-key"; api_token = "lim-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = false; b = false };\n'
            '  %s } );\n' % (CALLER_IP, CALLEE_IP, callee_port, POOL, timers))


def test_max_duration_ends_a_bridged_call(tmp_path):
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port), name="limits", creds=CREDS)
    sipps = []
    try:
        s.start()
        a, b, vn = number(), number(), "+917600000003"
        alloc = ok(s.create({"transaction_id": txn("lim"), "a": {"numbers": [a], "vns": [vn]},
                             "b": {"numbers": [b]}}, tenant="lim"))
        uas = Sipp(str(tmp_path), scenario("call_uas_answer", str(tmp_path), RING_MS=100,
                                           HOLD_MS=15000),
                   CALLEE_IP, "callee",
                   dict(callee=b, ua="LimCallee", rtp_ip=CALLEE_IP,
                        rtp_port=free_port_on(CALLEE_IP, even=True), codecs="0", te_pt=101),
                   port=callee_port, timeout=20).start()
        sipps.append(uas)
        t0 = time.monotonic()
        uac = Sipp(str(tmp_path), scenario("call_uac", str(tmp_path), HOLD_MS=15000), CALLER_IP,
                   "caller",
                   dict(caller=a, ua="LimCaller", rtp_ip=CALLER_IP,
                        rtp_port=free_port_on(CALLER_IP, even=True), codecs="0", te_pt=101),
                   service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=20).start()
        sipps.append(uac)
        uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
        uac.wait_received("BYE", timeout=6)
        uas.wait_received("BYE", timeout=2)
        took = time.monotonic() - t0
        assert 1.4 <= took <= 5, "BYE after %.2fs, max_duration 1.5s" % took
        recs = []
        for _ in range(50):
            recs = ok(s.request("GET", "/v1/tenants/lim/calls?greenpin_id=" +
                                alloc["greenpin_id"], tenant="lim"))["calls"]
            if recs and recs[0]["state"] == "completed":
                break
            time.sleep(0.1)
        assert recs and recs[0]["call_type"] == "completed", recs
        assert recs[0]["on_call_duration"] == 1, recs
        assert "max_duration reached" in s.log_text(), s.log_tail()
        sip_handles_drop_to_zero(s)
    finally:
        for p in sipps:
            p.kill()
        s.stop()


def test_rtp_timeout_ends_a_silent_call_only(tmp_path):
    """RTP flows both ways for 2.5 s (longer than rtp_timeout): the call
    stays up; then the caller falls silent: BYE to both about 1 s later."""
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port, 'rtp_timeout = "1s";'), name="rtpto",
               creds=CREDS)
    sipps, peers = [], []
    try:
        s.start()
        a, b, vn = number(), number(), "+917600000004"
        ok(s.create({"transaction_id": txn("lim"), "a": {"numbers": [a], "vns": [vn]},
                     "b": {"numbers": [b]}}, tenant="lim"))
        pa, pb = RtpPeer(CALLER_IP, "caller"), RtpPeer(CALLEE_IP, "callee")
        peers += [pa, pb]
        uas = Sipp(str(tmp_path), scenario("call_uas_answer", str(tmp_path), RING_MS=100,
                                           HOLD_MS=15000),
                   CALLEE_IP, "callee", dict(callee=b, ua="ToCallee", rtp_ip=CALLEE_IP,
                                             rtp_port=pb.port, codecs="0", te_pt=101),
                   port=callee_port, timeout=20).start()
        sipps.append(uas)
        uac = Sipp(str(tmp_path), scenario("call_uac", str(tmp_path), HOLD_MS=15000), CALLER_IP,
                   "caller", dict(caller=a, ua="ToCaller", rtp_ip=CALLER_IP, rtp_port=pa.port,
                                  codecs="0", te_pt=101),
                   service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=20).start()
        sipps.append(uac)
        inv = uas.wait_received("INVITE", timeout=8)
        pb.set_remote(inv.sdp)
        okm = uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
        pa.set_remote(okm.sdp)
        ta = pa.send_frames(PCMU, audio_frames(1, 125, PCMU))
        tb = pb.send_frames(PCMU, audio_frames(2, 125, PCMU))
        ta.join(10)
        tb.join(10)
        assert not uac.received("BYE") and not uas.received("BYE"), \
            "BYE while RTP flowed:\n" + s.log_tail()
        silent = time.monotonic()
        uac.wait_received("BYE", timeout=5)
        uas.wait_received("BYE", timeout=2)
        took = time.monotonic() - silent
        assert 0.5 <= took <= 3.5, "BYE %.2fs after the RTP stopped, rtp_timeout 1s" % took
        assert "no RTP from the" in s.log_text(), s.log_tail()
        sip_handles_drop_to_zero(s)
    finally:
        for p in sipps:
            p.kill()
        for p in peers:
            p.close()
        s.stop()


def _call(s, tmp, callee_port, a, b, vn, caller_hold_ms, name=""):
    uas = Sipp(str(tmp), scenario("call_uas_answer", str(tmp), RING_MS=100, HOLD_MS=15000),
               CALLEE_IP, "callee" + name,
               dict(callee=b, ua="DrainCallee", rtp_ip=CALLEE_IP,
                    rtp_port=free_port_on(CALLEE_IP, even=True), codecs="0", te_pt=101),
               port=callee_port, timeout=20).start()
    uac = Sipp(str(tmp), scenario("call_uac", str(tmp), HOLD_MS=caller_hold_ms), CALLER_IP,
               "caller" + name,
               dict(caller=a, ua="DrainCaller", rtp_ip=CALLER_IP,
                    rtp_port=free_port_on(CALLER_IP, even=True), codecs="0", te_pt=101),
               service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=20).start()
    return uac, uas


def test_sigterm_drains_calls_in_progress(tmp_path):
    """sip.drain: after SIGTERM a new call gets 503, the call up goes on and
    ends by its own BYE, and pinbridge exits as soon as it has."""
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port, "") + 'sip = { drain = "20s"; };\n',
               name="drain", creds=CREDS)
    sipps = []
    try:
        s.start()
        a, b, vn = number(), number(), "+917600000005"
        ok(s.create({"transaction_id": txn("lim"), "a": {"numbers": [a], "vns": [vn]},
                     "b": {"numbers": [b]}}, tenant="lim"))
        uac, uas = _call(s, tmp_path, callee_port, a, b, vn, 3000)
        sipps += [uac, uas]
        uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
        t_term = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        late = Sipp(str(tmp_path), scenario("call_uac", str(tmp_path), HOLD_MS=500), CALLER_IP,
                    "late", dict(caller=a, ua="Late", rtp_ip=CALLER_IP,
                                 rtp_port=free_port_on(CALLER_IP, even=True), codecs="0",
                                 te_pt=101),
                    service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=10).start()
        sipps.append(late)
        late.wait(10)
        assert late.final_status() == 503, late.describe()
        assert s.alive(), "pinbridge exited with a call up and drain time left"
        assert uac.wait(10) == 0, uac.describe()  # the caller's own BYE, ~3 s after answer
        s.proc.wait(8)
        took = time.monotonic() - t_term
        assert took < 8, "exit %.1fs after SIGTERM; the last call ended long before" % took
        assert s.proc.returncode == 0, s.log_tail()
        assert "draining 1 call(s)" in s.log_text(), s.log_tail()
    finally:
        for p in sipps:
            p.kill()
        s.stop()


def test_sigterm_drain_ends_with_bye(tmp_path):
    """A call longer than sip.drain is ended with BYE to both when it runs
    out, and its record is finished as completed."""
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port, "") + 'sip = { drain = "1s"; };\n',
               name="drain2", creds=CREDS)
    sipps = []
    try:
        s.start()
        a, b, vn = number(), number(), "+917600000006"
        ok(s.create({"transaction_id": txn("lim"), "a": {"numbers": [a], "vns": [vn]},
                     "b": {"numbers": [b]}}, tenant="lim"))
        uac, uas = _call(s, tmp_path, callee_port, a, b, vn, 15000)
        sipps += [uac, uas]
        uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
        t_term = time.monotonic()
        assert s.stop() == 0, s.log_tail()
        took = time.monotonic() - t_term
        assert 0.9 <= took < 6, "stopped %.1fs after SIGTERM with drain 1s" % took
        uac.wait_received("BYE", timeout=3)
        uas.wait_received("BYE", timeout=3)
    finally:
        for p in sipps:
            p.kill()
        s.stop()
