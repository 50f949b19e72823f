"""SIGHUP and calls: a reload that widens a trunk's allow list lets a source
in that nobody allowed before, and one that narrows it shuts the source out;
a call already up is not touched by either (DESIGN §5: reloads never drop
calls)."""
import time

import pytest

from pbcall import CALLEE_IP, CALLER_IP, OUTSIDER_IP, PB_IP, Sipp, free_port_on, scenario
from pbdata import number, ok, txn
from pbserver import Server

POOL = "+917400000000-+917400000099"
CREDS = {"rl": ("rl-key", "rl-token")}


def conf(callee_port, allow):
    allow_list = ", ".join('"%s/32"' % ip for ip in allow)
    return ('trunks = ( { name = "rt"; allow = [%s]; outbound = "sip:%s:%d";\n'
            '             dial_format = "e164"; latch = "learn"; } );\n'
            'tenants = ( { id = "rl"; api_key = "rl-key"; api_token = "rl-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = false; b = false; };\n'
            '  ring_timeout = "3s"; max_hunt = "6s"; } );\n'
            % (allow_list, CALLEE_IP, callee_port, POOL))


@pytest.fixture
def server(tmp_path):
    callee_port = free_port_on(CALLEE_IP)
    s = Server(str(tmp_path), conf(callee_port, [CALLER_IP, CALLEE_IP]), name="reload",
               creds=CREDS)
    s.callee_port = callee_port
    s.start()
    yield s
    s.stop()


def allocate(s, caller, callee, vn):
    body = {"transaction_id": txn("rl"), "a": {"numbers": [caller], "vns": [vn]},
            "b": {"numbers": [callee]}}
    return ok(s.create(body, tenant="rl"))


def caller(s, tmp, vn, num, ip, hold_ms):
    keys = dict(caller=num, ua="ReloadCaller", rtp_ip=ip, rtp_port=free_port_on(ip, even=True),
                codecs="0", te_pt=101)
    return Sipp(str(tmp), scenario("call_uac", str(tmp), HOLD_MS=hold_ms), ip, "caller-" + ip,
                keys, service=vn, remote="%s:%d" % (PB_IP, s.sip_port), timeout=15).start()


def callee(s, tmp, num, hold_ms=15000):
    keys = dict(callee=num, ua="ReloadCallee", rtp_ip=CALLEE_IP,
                rtp_port=free_port_on(CALLEE_IP, even=True), codecs="0", te_pt=101)
    return Sipp(str(tmp), scenario("call_uas_answer", str(tmp), RING_MS=100, HOLD_MS=hold_ms),
                CALLEE_IP, "callee", keys, port=s.callee_port, timeout=20).start()


def test_reload_changes_who_may_call_but_not_live_calls(server, tmp_path):
    a, b, vn = number(), number(), "+917400000001"
    allocate(server, a, b, vn)

    for d in ("1", "2", "3"):
        (tmp_path / d).mkdir()
    # The outsider is refused while the trunk allows only the caller.
    uac = caller(server, tmp_path / "1", vn, a, OUTSIDER_IP, 500)
    uac.wait(15)
    assert uac.final_status() == 403, uac.describe()

    # Widened: the outsider's call is dialled and answered; it stays up
    # across a reload that narrows the list again.
    uas = callee(server, tmp_path / "2", b)
    server.reload(conf(server.callee_port, [CALLER_IP, CALLEE_IP, OUTSIDER_IP]))
    uac = caller(server, tmp_path / "2", vn, a, OUTSIDER_IP, 4000)
    uac.wait_received(status=200, timeout=8, pred=lambda m: m.cseq_method == "INVITE")
    server.reload(conf(server.callee_port, [CALLER_IP, CALLEE_IP]))
    assert uac.wait(15) == 0, uac.describe()
    bye = uas.wait_received("BYE", timeout=5)
    assert bye is not None, uas.describe()
    uas.kill()

    # Narrowed again: refused, while the allowed caller still gets through.
    uac = caller(server, tmp_path / "3", vn, a, OUTSIDER_IP, 500)
    uac.wait(15)
    assert uac.final_status() == 403, uac.describe()
    uas = callee(server, tmp_path / "3", b, hold_ms=3000)
    uac = caller(server, tmp_path / "3", vn, a, CALLER_IP, 500)
    assert uac.wait(15) == 0, uac.describe() + "\n" + server.log_tail(2000)
    uas.kill()
    time.sleep(0.1)
