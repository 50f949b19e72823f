"""kill -9 during a call (DESIGN §3 "Call records"): the record the crash
left in progress is finished as "failed" at the next start, with its
call-completed event, and the allocation's calls list shows it."""
import time

from pbcall import CALLEE_IP, CALLER_IP, PB_IP, Sipp, free_port_on, scenario
from pbdata import number, ok, txn
from pbhook import Receiver, check_signature, webhooks_block
from pbserver import Server

POOL = "+917500000000-+917500000099"
SECRET = "crash-secret"
CREDS = {"cr": ("cr-key", "cr-token")}


def conf(callee_port, hook_url):
    return ('trunks = ( { name = "ct"; allow = ["%s/32"]; outbound = "sip:%s:%d"; } );\n'
            'tenants = ( { id = "cr"; api_key = "cr-key"; api_token = "cr-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = false; b = false; };\n'
            '  %s } );\n'
            % (CALLER_IP, CALLEE_IP, callee_port, POOL,
               webhooks_block(SECRET, call_completed=hook_url, backoff="200ms")))


def test_call_left_by_a_crash_is_finished_as_failed(tmp_path):
    rx = Receiver(name="crash").start()
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port, rx.url("/cc")), name="crash", creds=CREDS)
    sipps = []
    try:
        s.start()
        a, b, vn = number(), number(), "+917500000007"
        alloc = ok(s.create({"transaction_id": txn("cr"), "a": {"numbers": [a], "vns": [vn]},
                             "b": {"numbers": [b]}}, tenant="cr"))
        gid = alloc["greenpin_id"]
        uas = Sipp(str(tmp_path), scenario("call_uas_answer", str(tmp_path), RING_MS=100,
                                           HOLD_MS=20000),
                   CALLEE_IP, "callee",
                   dict(callee=b, ua="CrashCallee", rtp_ip=CALLEE_IP,
                        rtp_port=free_port_on(CALLEE_IP, even=True), codecs="0", te_pt=101),
                   port=callee_port, timeout=25).start()
        sipps.append(uas)
        uac = Sipp(str(tmp_path), scenario("call_uac", str(tmp_path), HOLD_MS=20000), CALLER_IP,
                   "caller",
                   dict(caller=a, ua="CrashCaller", rtp_ip=CALLER_IP,
                        rtp_port=free_port_on(CALLER_IP, even=True), codecs="0", te_pt=101),
                   service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=25).start()
        sipps.append(uac)
        uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")

        # The answer is recorded by the store writer, not before the 200
        # goes out (the SIP thread never waits on a disk): crash once it is.
        live = []
        for _ in range(100):
            r = s.request("GET", "/v1/tenants/cr/calls?greenpin_id=" + gid, tenant="cr")
            live = ok(r)["calls"]
            if live and live[0]["answered_at"]:
                break
            time.sleep(0.05)
        assert len(live) == 1 and live[0]["state"] == "in-progress", live
        assert live[0]["answered_at"], live
        sid = live[0]["call_sid"]
        assert not rx.got(path="/cc"), "an event for a call still up"

        s.kill()
        s.start()
        hits = rx.wait(lambda: [h for h in rx.got(path="/cc")
                                if isinstance(h.json, dict) and h.json.get("call_sid") == sid],
                       15, "call-completed event of the crashed call")
        check_signature(hits[0], SECRET)
        body = hits[0].json
        assert body["call_type"] == "failed", body
        assert body["dial_call_status"] == "completed", body
        assert body["greenpin_id"] == gid and body["from"] == a and body["to"] == b, body
        rec = ok(s.request("GET", "/v1/tenants/cr/calls/" + sid, tenant="cr"))
        assert rec["state"] == "completed" and rec["call_type"] == "failed", rec
        assert rec["ended_at"] is not None, rec
        assert "left in progress by a crash" in s.log_text(), s.log_tail()
    finally:
        for p in sipps:
            p.kill()
        s.stop()
        rx.close()
