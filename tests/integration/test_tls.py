"""SIP over TLS (issue 7, signalling): pinbridge's tls: listener, TLS legs to
trunks whose outbound is sips: or ;transport=tls, each bound to the name
its certificate must carry (tls_subject, else the outbound host; sip/tls.c
says how), and the failures counted in /metrics. On the real binary with
a PKI made by the openssl CLI and pbtls's TLS caller and callee; RTP is
pbcall.RtpPeer's.

One pinbridge for the module listens on udp/tcp 127.0.0.1:P and tls
127.0.0.1:Q. Its trunks, one tenant each: "callers" (the allow list of
the callers on 127.0.0.2), and one per outbound trunk on 127.0.0.3: a
callee with the right certificate (named by tls_subject), one from another
CA, one naming another host, one naming 127.0.0.3 only as an iPAddress
subjectAltName (Sofia does not see those: refused), one naming it as its
CN (accepted), a TCP peer that does not speak TLS, and a plain UDP SIPp
callee. Every wait is bounded.
"""
import glob
import itertools
import os
import socket
import stat
import threading
import time
import uuid

import pytest

from callenv import Parties, exchange, payloads
from pbcall import (CALLEE_IP, CALLER_IP, OUTSIDER_IP, PB_IP, PCMU, RtpPeer, Sdp, find_frames,
                    free_port_on, metric_sum, parse_metrics, scenario, uri_user)
from pbdata import ok, txn
from pbserver import ServerError
from pbsrtp import SrtpPeer, crypto_lines
from pbtls import Pki, TlsCallee, TlsCaller, TlsServer, sdp_body

M_TLS = "pinbridge_sip_tls_failures_total"   # label reason: handshake, peer_refused
M_HUNT = "pinbridge_call_hunt_attempts_total"
RING_TIMEOUT = 4.0
TRUNK_NAME = "trunk.test"
# SDES keys only over TLS (no srtp_plain_transport): the callers' trunk and
# the good TLS trunk do SRTP when the peer does; the UDP trunk never can.
SRTP_OPTIONAL = 'srtp = "optional"; '

# tenant -> (VN pool, trunk); every tenant dials through its own trunk
TENANTS = {
    "tgood": "+917400000000-+917400000099",
    "twrongca": "+917400000100-+917400000199",
    "twrongname": "+917400000200-+917400000299",
    "tiponly": "+917400000300-+917400000399",
    "tipcn": "+917400000400-+917400000499",
    "tnotls": "+917400000500-+917400000599",
    "tudp": "+917400000600-+917400000699",
}
CREDS = {t: ("%s-key" % t, "%s-token" % t) for t in TENANTS}


def make_pki(d):
    pki = Pki(d)
    p = {"ca": pki.ca("test-ca"), "other_ca": pki.ca("other-ca")}
    p["pinbridge"] = pki.leaf("pinbridge", p["ca"], PB_IP, ["IP:" + PB_IP])
    p["good"] = pki.leaf("trunk", p["ca"], TRUNK_NAME, ["DNS:" + TRUNK_NAME, "IP:" + CALLEE_IP])
    p["wrongca"] = pki.leaf("impostor", p["other_ca"], TRUNK_NAME, ["DNS:" + TRUNK_NAME])
    p["wrongname"] = pki.leaf("elsewhere", p["ca"], "other.test", ["DNS:other.test"])
    p["iponly"] = pki.leaf("iponly", p["ca"], "callee", ["IP:" + CALLEE_IP])
    p["ipcn"] = pki.leaf("ipcn", p["ca"], CALLEE_IP)
    return p


def tenant_block(tid, trunk):
    return """  { id = "%s"; api_key = "%s-key"; api_token = "%s-token"; trunk = "%s";
    country = "91"; national_length = 10; countries = ["91"]; vns = ["%s"];
    pin = { a = false; b = false; }; ring_timeout = "%dms"; max_hunt = "%dms"; }""" % (
        tid, tid, tid, trunk, TENANTS[tid], RING_TIMEOUT * 1000, RING_TIMEOUT * 3000)


def trunk_block(name, outbound, subject="", allow=CALLEE_IP, extra=""):
    return ('  { name = "%s"; allow = ["%s/32"]; outbound = "%s"; tls_subject = "%s"; %s}'
            % (name, allow, outbound, subject, extra))


def listen_block(sip_port, tls_port, pki, extra=""):
    listen = '"udp:%s:%d", "tcp:%s:%d"' % (PB_IP, sip_port, PB_IP, sip_port)
    if tls_port:
        listen += ', "tls:%s:%d"' % (PB_IP, tls_port)
    return ('sip = { drain = "0s"; listen = [%s];\n'
            '  tls = { certificate = "%s"; key = "%s"; ca = "%s"; %s };\n};\n'
            % (listen, pki["pinbridge"][0], pki["pinbridge"][1], pki["ca"][0], extra))


class NotTls:
    """A TCP peer on 127.0.0.3 that answers a TLS hello with plain text."""

    def __init__(self):
        self.port = free_port_on(CALLEE_IP)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((CALLEE_IP, self.port))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            try:
                c.settimeout(2)
                c.recv(4096)
                c.sendall(b"SIP/2.0 400 Not TLS\r\n\r\n")
            except OSError:
                pass
            c.close()

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


class Env:
    pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("tls"))
    e.pki = make_pki(os.path.join(e.tmp, "pki"))
    placeholder = sdp_body(CALLEE_IP, 9)
    e.callees = {k: TlsCallee(e.pki[k], placeholder) for k in
                 ("good", "wrongca", "wrongname", "iponly", "ipcn")}
    e.nottls = NotTls()
    e.udp_port = free_port_on(CALLEE_IP)
    c = e.callees
    trunks = [
        trunk_block("callers", "", allow=CALLER_IP, extra=SRTP_OPTIONAL),
        trunk_block("good", "sips:%s:%d" % (CALLEE_IP, c["good"].port), TRUNK_NAME,
                    extra=SRTP_OPTIONAL),
        trunk_block("wrongca", "sips:%s:%d" % (CALLEE_IP, c["wrongca"].port), TRUNK_NAME),
        trunk_block("wrongname", "sip:%s:%d;transport=tls" % (CALLEE_IP, c["wrongname"].port),
                    TRUNK_NAME),
        trunk_block("iponly", "sips:%s:%d" % (CALLEE_IP, c["iponly"].port)),
        trunk_block("ipcn", "sips:%s:%d" % (CALLEE_IP, c["ipcn"].port)),
        trunk_block("notls", "sips:%s:%d" % (CALLEE_IP, e.nottls.port), TRUNK_NAME),
        trunk_block("udp", "sip:%s:%d" % (CALLEE_IP, e.udp_port), extra=SRTP_OPTIONAL),
    ]
    tenants = [tenant_block(t, t[1:]) for t in TENANTS]  # tenant "tgood": trunk "good"

    def config(sip_port, tls_port):
        return ('sweep_interval = "100ms";\nstore = { map_size = "128M"; };\n%s'
                'trunks = (\n%s\n);\ntenants = (\n%s\n);\n'
                % (listen_block(sip_port, tls_port, e.pki), ",\n".join(trunks),
                   ",\n".join(tenants)))

    e.server = TlsServer(e.tmp, config, "tls", creds=CREDS)
    e.callee_port = e.udp_port  # for callenv.Parties
    try:
        e.server.start()
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
        for x in e.callees.values():
            x.close()
        e.nottls.close()
    assert alive, "TLS server died during the run; log:\n" + e.server.log_tail()
    assert rc == 0, "TLS server exit code %s; log:\n%s" % (rc, e.server.log_tail())


@pytest.fixture
def peers():
    made = []

    def make(ip, name):
        p = RtpPeer(ip, name)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def closing():
    """Closes what a test registers (callers), even when it fails."""
    things = []
    yield things.append
    for t in things:
        t.close()


def number():
    return "+9198%08d" % (uuid.uuid4().int % 10**8)


_vns = {t: itertools.count(int(pool.split("-")[0][1:])) for t, pool in TENANTS.items()}


def allocate(e, tenant, a, b):
    """An allocation on a fresh VN of tenant: a calls, b (a list: hunted
    in order) is dialled."""
    vn = "+%d" % next(_vns[tenant])
    body = {"transaction_id": txn("tls"), "a": {"numbers": [a], "vns": [vn]},
            "b": {"numbers": b if isinstance(b, list) else [b]}, "usage": "twoway"}
    return ok(e.server.create(body, tenant=tenant)), vn


def metrics(e):
    r = e.server.request("GET", "/metrics", auth=False)
    assert r.status == 200, r
    return parse_metrics(r.raw.decode())


def tls_failures(e, reason):
    v = metric_sum(metrics(e), M_TLS, reason=reason)
    assert v is not None, "%s not exported: %s" % (M_TLS, e.server.log_tail(1500))
    return v


def completed_record(e, tenant, gid, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        r = e.server.request("GET", "/v1/tenants/%s/calls?greenpin_id=%s" % (tenant, gid),
                             tenant=tenant)
        data = ok(r)
        items = data.get("calls") if isinstance(data, dict) else data
        done = [c for c in items if c.get("state") == "completed"]
        if done:
            return done[0]
        assert time.monotonic() < end, "no completed call record for %s: %r" % (gid, items)
        time.sleep(0.1)


def tls_call(e, tenant, caller_peer, scheme="sips", src=CALLER_IP, closing=None):
    a, b = number(), number()
    alloc, vn = allocate(e, tenant, a, b)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0], src_ip=src)
    if closing:
        closing(c)
    c.invite(vn, a, sdp_body(CALLER_IP, caller_peer.port), scheme=scheme)
    return c, alloc, a, b


def audio_crosses(caller_peer, callee_peer, ok200, invite):
    """Both peers pointed at pinbridge, 50 frames each way."""
    caller_peer.set_remote(Sdp(ok200.body))
    callee_peer.set_remote(Sdp(invite.body))

    class C:
        pass
    c = C()
    c.caller_peer, c.callee_peer = caller_peer, callee_peer
    c.caller_codec = c.callee_codec = PCMU
    fa, fb = exchange(c)
    got_b = find_frames(fa, PCMU, payloads(callee_peer.packets(PCMU)), PCMU)
    got_a = find_frames(fb, PCMU, payloads(caller_peer.packets(PCMU)), PCMU)
    assert got_b >= 45 and got_a >= 45, "audio: %d to the callee, %d to the caller" % (got_b, got_a)


# --- calls that work -------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["sips", "sip"])
def test_tls_caller_to_tls_callee(tls, peers, closing, scheme):
    """A caller on pinbridge's TLS listener (a sips: Request-URI, or sip:
    with ;transport=tls) reaches a TLS trunk whose certificate names
    tls_subject: answered, audio both ways, BYE, a completed record, no
    TLS failure counted."""
    e = tls
    callee = e.callees["good"]
    callee.clear()
    a_peer, b_peer = peers(CALLER_IP, "caller"), peers(CALLEE_IP, "callee")
    callee.sdp = sdp_body(CALLEE_IP, b_peer.port)
    before = (tls_failures(e, "handshake"), tls_failures(e, "peer_refused"))
    c, alloc, a, b = tls_call(e, "tgood", a_peer, scheme=scheme, closing=closing)
    assert c.peer_cert, "pinbridge's certificate was not verified"
    final = c.wait_final(timeout=10)
    assert final.status == 200, c.describe() + "\n" + e.server.log_tail(2000)
    assert [m.status for m in c.received() if m.is_response][-1] == 200
    inv = callee.wait_received("INVITE", timeout=5)
    assert uri_user(inv.start.split()[1]) == b, inv.start
    assert inv.start.split()[1].startswith("sips:"), "the trunk's scheme kept: %s" % inv.start
    assert "TLS" in inv.header("Via"), inv.header("Via")
    assert uri_user(inv.header("From")) == uri_user(c.ruri), "the VN is presented: %s" % inv.text
    assert a not in inv.text and CALLER_IP not in inv.text, "the caller leaks: %s" % inv.text
    callee.wait_received("ACK", timeout=5)
    assert callee.received_sdp() == [inv.body] and c.received_sdp()[-1] == final.body
    audio_crosses(a_peer, b_peer, final, inv)
    assert c.bye().status == 200
    callee.wait_received("BYE", timeout=5)
    rec = completed_record(e, "tgood", alloc["greenpin_id"])
    assert rec["call_type"] == "completed" and rec["dial_call_status"] == "completed", rec
    assert rec["from"] == a and rec["to"] == b, rec
    assert (tls_failures(e, "handshake"), tls_failures(e, "peer_refused")) == before


def test_tls_caller_to_udp_callee(tls, peers, closing):
    """TLS in, plain UDP out (SIPp): the legs' transports are independent."""
    e = tls
    a_peer, b_peer = peers(CALLER_IP, "caller"), peers(CALLEE_IP, "callee")
    p = Parties(e.tmp, e)
    closing(p)
    a, b = number(), number()
    alloc, vn = allocate(e, "tudp", a, b)
    uas = p.callee(scenario("call_uas_answer", e.tmp, RING_MS=200, HOLD_MS=15000), b_peer, b,
                   port=e.udp_port)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0])
    closing(c)
    c.invite(vn, a, sdp_body(CALLER_IP, a_peer.port))
    final = c.wait_final(timeout=10)
    assert final.status == 200, c.describe() + "\n" + p.describe()
    inv = uas.wait_received("INVITE", timeout=5)
    assert inv.transport == "UDP" and uri_user(inv.ruri) == b, inv
    audio_crosses(a_peer, b_peer, final, inv)
    assert c.bye().status == 200
    assert uas.wait(10) == 0, uas.describe()
    rec = completed_record(e, "tudp", alloc["greenpin_id"])
    assert rec["call_type"] == "completed", rec


def test_tls_caller_from_outside_the_allow_lists_gets_403(tls, closing):
    """The trunks' allow lists apply over TLS too."""
    e = tls
    a, b = number(), number()
    _, vn = allocate(e, "tgood", a, b)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0], src_ip=OUTSIDER_IP)
    closing(c)
    c.invite(vn, a, sdp_body(OUTSIDER_IP, 4000))
    assert c.wait_final(timeout=5).status == 403


def test_ip_in_cn_is_accepted(tls, peers, closing):
    """outbound sips:127.0.0.3:port, no tls_subject: a certificate whose CN
    is 127.0.0.3 proves the name. The callee hangs up: its BYE, on the
    connection pinbridge opened, ends the caller's side too (over TLS)."""
    e = tls
    callee = e.callees["ipcn"]
    callee.clear()
    a_peer, b_peer = peers(CALLER_IP, "caller"), peers(CALLEE_IP, "callee")
    callee.sdp = sdp_body(CALLEE_IP, b_peer.port)
    c, alloc, _, _ = tls_call(e, "tipcn", a_peer, closing=closing)
    assert c.wait_final(timeout=10).status == 200, e.server.log_tail(2000)
    inv = callee.wait_received("INVITE", timeout=5)
    contact = inv.header("Contact")
    assert "sips:" in contact or "transport=tls" in contact.lower(), "a TLS Contact: %s" % contact
    callee.wait_received("ACK", timeout=5)
    assert callee.bye().status == 200
    c.wait_received("BYE", timeout=5)
    assert completed_record(e, "tipcn", alloc["greenpin_id"])["call_type"] == "completed"


# --- certificates refused ----------------------------------------------------------

@pytest.mark.parametrize("tenant,callee,why", [
    ("twrongca", "wrongca", "not trusted"),
    ("twrongname", "wrongname", "does not name " + TRUNK_NAME),
    ("tiponly", "iponly", "does not name " + CALLEE_IP),
])
def test_refused_certificate_fails_the_leg(tls, peers, closing, tenant, callee, why):
    """A trunk certificate from another CA, naming another host, or naming
    the trunk's address only as an iPAddress subjectAltName (which Sofia
    cannot see: refused, fail closed): the TLS connection is dropped before
    any SIP crosses, the leg fails at once (nta's 503), the hunt goes on
    to the next number and ends, the caller gets a normal final response,
    each refusal is counted and logged with the trunk's name, and
    pinbridge keeps running."""
    e = tls
    tc = e.callees[callee]
    tc.clear()
    a_peer = peers(CALLER_IP, "caller")
    refused0, hs0 = tls_failures(e, "peer_refused"), tls_failures(e, "handshake")
    hunt0 = metric_sum(metrics(e), M_HUNT) or 0
    conn0 = tc.connections
    log0 = e.server.log_size()
    a = number()
    alloc, vn = allocate(e, tenant, a, [number(), number()])
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0])
    closing(c)
    t0 = time.monotonic()
    c.invite(vn, a, sdp_body(CALLER_IP, a_peer.port))
    final = c.wait_final(timeout=RING_TIMEOUT * 3)
    took = time.monotonic() - t0
    assert final.status == 480, final.text
    assert took < RING_TIMEOUT, "the legs waited for a timeout (%.1fs), not failed at once" % took
    assert tc.received() == [], "SIP crossed a refused connection: %s" % tc.describe()
    assert tc.connections - conn0 == 2, "pinbridge did not try both numbers over TLS"
    m = metrics(e)
    assert metric_sum(m, M_TLS, reason="peer_refused") - refused0 == 2
    assert metric_sum(m, M_TLS, reason="handshake") == hs0
    assert metric_sum(m, M_HUNT) - hunt0 == 2
    with open(e.server.log_path, "rb") as f:
        f.seek(log0)
        log = f.read().decode("utf-8", "replace")
    assert why in log, log
    assert "trunk %s" % tenant[1:] in log, log
    rec = completed_record(e, tenant, alloc["greenpin_id"])
    assert rec["call_type"] == "incomplete" and rec["dial_call_status"] == "failed", rec
    assert e.server.alive()


def test_handshake_failure_is_counted(tls, peers, closing):
    """A trunk that does not speak TLS: the handshake fails, counted as
    such; the leg fails at once. An inbound connection that does not speak
    TLS is counted too."""
    e = tls
    a_peer = peers(CALLER_IP, "caller")
    hs0, refused0 = tls_failures(e, "handshake"), tls_failures(e, "peer_refused")
    a, b = number(), number()
    _, vn = allocate(e, "tnotls", a, b)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0])
    closing(c)
    t0 = time.monotonic()
    c.invite(vn, a, sdp_body(CALLER_IP, a_peer.port))
    assert c.wait_final(timeout=RING_TIMEOUT * 2).status == 480
    assert time.monotonic() - t0 < RING_TIMEOUT
    assert e.nottls.accepted >= 1
    assert tls_failures(e, "handshake") - hs0 == 1
    s = socket.create_connection((PB_IP, e.server.tls_port), timeout=3,
                                 source_address=(CALLER_IP, 0))
    s.sendall(b"OPTIONS sip:x SIP/2.0\r\n\r\n" * 40)
    s.settimeout(3)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
    end = time.monotonic() + 5
    while tls_failures(e, "handshake") - hs0 < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert tls_failures(e, "handshake") - hs0 == 2, e.server.log_tail(2000)
    assert tls_failures(e, "peer_refused") == refused0


# --- start-up ---------------------------------------------------------------------

def test_certificate_directory_is_private_and_removed(tls):
    """Sofia's certificate directory lives in the data dir, 0700 with 0600
    files, while pinbridge runs; the module's server stops at the end, so
    a server of its own checks the removal."""
    dirs = glob.glob(os.path.join(tls.server.data_dir, "sip-tls-*"))
    assert len(dirs) == 1, dirs
    assert stat.S_IMODE(os.stat(dirs[0]).st_mode) == 0o700
    names = sorted(os.listdir(dirs[0]))
    assert names == ["agent.pem", "cafile.pem"], names
    for n in names:
        assert stat.S_IMODE(os.stat(os.path.join(dirs[0], n)).st_mode) == 0o600


def _one_server(tmp, pki, name, extra="", with_tls=True, trunks=None):
    def config(sip_port, tls_port):
        return ('store = { map_size = "64M"; };\n%s%s' % (
            listen_block(sip_port, tls_port, pki, extra), trunks or ""))
    return TlsServer(tmp, config, name, with_tls=with_tls, creds=CREDS)


def test_stop_removes_the_certificate_directory(tmp_path):
    pki = make_pki(str(tmp_path / "pki"))
    s = _one_server(str(tmp_path), pki, "rm")
    s.start()
    try:
        assert len(glob.glob(os.path.join(s.data_dir, "sip-tls-*"))) == 1
    finally:
        assert s.stop() == 0, s.log_tail()
    assert glob.glob(os.path.join(s.data_dir, "sip-tls-*")) == [], os.listdir(s.data_dir)


@pytest.mark.parametrize("case", ["missing", "not_pem", "wrong_key", "ca_missing"])
def test_bad_tls_files_stop_the_start(tmp_path, case):
    """An unreadable or unparsable certificate, a key that is not the
    certificate's, a missing CA bundle: pinbridge does not start, and says
    which file."""
    pki = make_pki(str(tmp_path / "pki"))
    junk = str(tmp_path / "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    cert, key, ca = pki["pinbridge"][0], pki["pinbridge"][1], pki["ca"][0]
    bad = {"missing": (str(tmp_path / "nope.pem"), key, ca),
           "not_pem": (junk, key, ca),
           "wrong_key": (cert, pki["good"][1], ca),
           "ca_missing": (cert, key, str(tmp_path / "no-ca.pem"))}[case]
    named = {"missing": bad[0], "not_pem": bad[0], "wrong_key": bad[1], "ca_missing": bad[2]}[case]
    pki2 = dict(pki, pinbridge=(bad[0], bad[1]), ca=(bad[2], None))
    s = _one_server(str(tmp_path), pki2, "bad-" + case)
    with pytest.raises(ServerError):
        s.start(timeout=10)
    assert s.proc.returncode not in (0, None)
    assert named in s.log_text(), s.log_tail()
    assert glob.glob(os.path.join(s.data_dir, "sip-tls-*")) == [], "left behind"


# --- no tls: listener -------------------------------------------------------------

def test_tls_trunk_without_a_tls_listener(tmp_path, peers):
    """No tls: listen entry, a sips: trunk: pinbridge still dials it over TLS
    (from an ephemeral port) and verifies it; a UDP caller (SIPp) reaches
    the TLS callee."""
    pki = make_pki(str(tmp_path / "pki"))
    b_peer, a_peer = peers(CALLEE_IP, "callee"), peers(CALLER_IP, "caller")
    callee = TlsCallee(pki["good"], sdp_body(CALLEE_IP, b_peer.port))
    trunks = ('trunks = ( { name = "t"; allow = ["%s/32"]; outbound = "sips:%s:%d"; '
              'tls_subject = "%s"; } );\ntenants = (\n%s\n);\n'
              % (CALLER_IP, CALLEE_IP, callee.port, TRUNK_NAME,
                 tenant_block("tgood", "t")))
    s = _one_server(str(tmp_path), pki, "implicit", with_tls=False, trunks=trunks)
    e = Env()
    e.server, e.tmp, e.callee_port = s, str(tmp_path), None
    p = Parties(e.tmp, e)
    try:
        s.start()
        a, b = number(), number()
        alloc, vn = allocate(e, "tgood", a, b)
        uac = p.caller(scenario("call_uac", e.tmp, HOLD_MS=2000), vn, a, a_peer)
        ok200 = uac.wait_received(status=200, timeout=10, pred=lambda m: m.cseq_method == "INVITE")
        inv = callee.wait_received("INVITE", timeout=5)
        assert "TLS" in inv.header("Via"), inv.text
        audio_crosses(a_peer, b_peer, ok200, inv)
        assert uac.wait(15) == 0, p.describe()
        callee.wait_received("BYE", timeout=5)
        assert completed_record(e, "tgood", alloc["greenpin_id"])["call_type"] == "completed"
    finally:
        p.close()
        callee.close()
        rc = s.stop()
    assert rc == 0, s.log_tail()


# --- SRTP over TLS (SDES keys only where the signalling is encrypted) ------------

def test_srtp_over_tls_both_legs(tls, closing):
    """A TLS caller offering RTP/SAVP reaches the TLS trunk: both legs are
    SRTP under their own keys (pylibsrtp peers), none of them crosses to
    the other leg, and audio crosses both ways."""
    e = tls
    callee = e.callees["good"]
    callee.clear()
    a_peer, b_peer = SrtpPeer(CALLER_IP, "caller"), SrtpPeer(CALLEE_IP, "callee")
    closing(a_peer)
    closing(b_peer)
    callee.sdp = sdp_body(CALLEE_IP, b_peer.port, extra=("a=crypto:" + b_peer.crypto_line(1),))
    a, b = number(), number()
    alloc, vn = allocate(e, "tgood", a, b)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0])
    closing(c)
    offer = sdp_body(CALLER_IP, a_peer.port, extra=("a=crypto:" + a_peer.crypto_line(5),))
    c.invite(vn, a, offer.replace("RTP/AVP", "RTP/SAVP"))
    final = c.wait_final(timeout=10)
    assert final.status == 200, c.describe() + "\n" + e.server.log_tail(2000)
    assert "RTP/SAVP" in final.body and a_peer.set_peer_key(final.body)[0] == 5
    inv = callee.wait_received("INVITE", timeout=5)
    assert [(t, s) for t, s, _ in crypto_lines(inv.body)] == [
        (1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32")], inv.body
    b_peer.set_peer_key(inv.body, tag=1)
    assert len({a_peer.key, a_peer.peer_key, b_peer.key, b_peer.peer_key}) == 4
    callee.wait_received("ACK", timeout=5)
    audio_crosses(a_peer, b_peer, final, inv)
    assert not a_peer.unprotect_failed and not b_peer.unprotect_failed
    assert c.bye().status == 200
    completed_record(e, "tgood", alloc["greenpin_id"])


def test_sdes_over_udp_refused_and_not_offered(tls, closing, tmp_path):
    """The same trunks over UDP: a SIPp caller's RTP/SAVP offer gets 488 (its
    key crossed in clear signalling), and the UDP trunk is offered plain
    RTP even though its policy is optional."""
    e = tls
    p = Parties(str(tmp_path), e)
    closing(p)
    a_peer = SrtpPeer(CALLER_IP, "caller")
    closing(a_peer)
    a, b = number(), number()
    alloc, vn = allocate(e, "tgood", a, b)
    mline = "m=audio [rtp_port] RTP/AVP [codecs] [te_pt]\n"
    uac = p.caller(scenario("call_uac", p.tmp, replace=[
        (mline, mline.replace("RTP/AVP", "RTP/SAVP") + "      a=crypto:[crypto]\n")]),
        vn, a, a_peer, "0", 101, crypto=a_peer.crypto_line(1))
    uac.wait(15)
    assert uac.final_status() == 488, uac.describe()
    b_peer = RtpPeer(CALLEE_IP, "callee")
    closing(b_peer)
    a2, b2 = number(), number()
    alloc2, vn2 = allocate(e, "tudp", a2, b2)
    uas = p.callee(scenario("call_uas_answer", p.tmp, RING_MS=100, HOLD_MS=3000), b_peer, b2)
    c = TlsCaller(e.server.tls_port, e.pki["ca"][0])
    closing(c)
    c.invite(vn2, a2, sdp_body(CALLER_IP, a_peer.port))
    inv = uas.wait_received("INVITE", timeout=8)
    assert "a=crypto" not in inv.text and "RTP/SAVP" not in inv.text, inv.text
    assert c.wait_final(timeout=10).status == 200
    assert c.bye().status == 200
