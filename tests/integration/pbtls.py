"""SIP over TLS for the tests: a throw-away PKI made with the openssl CLI,
a TLS caller (a UAC on 127.0.0.2 that calls pinbridge's tls: listener), a
TLS callee (a UAS on 127.0.0.3 that pinbridge's TLS legs reach), both on
Python's ssl module since Debian's SIPp has no TLS (DESIGN §7), and
TlsServer, a pinbridge whose config gives its own sip.listen.

Both keep every message they send or receive as a pbcall.SipMessage
(transport "TLS", direction "sent"/"received"), take the SDP they send as a
parameter and show the SDP they got, so a test can add a=crypto lines and
read pinbridge's; RTP is not theirs: point the SDP at a pbcall.RtpPeer
(sdp_body() writes a plain G.711 one). Every wait is bounded.
"""
import os
import random
import select
import socket
import ssl
import subprocess
import threading
import time

from pbcall import CALLEE_IP, CALLER_IP, PB_IP, SipMessage, free_port_on
from pbserver import Server

# --- PKI -----------------------------------------------------------------------


class Pki:
    """Certificates under dirpath, made by the openssl CLI: ca() a CA,
    leaf() a certificate it signs. ECDSA P-256, valid from now for two
    days. Paths are (cert, key)."""

    def __init__(self, dirpath):
        self.dir = dirpath
        os.makedirs(dirpath, exist_ok=True)

    def _run(self, *args):
        r = subprocess.run(["openssl"] + list(args), cwd=self.dir, capture_output=True, text=True,
                           timeout=30)
        if r.returncode:
            raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr))

    def _key(self, name):
        key = os.path.join(self.dir, name + ".key")
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        return key

    def ca(self, name):
        key = self._key(name)
        cert = os.path.join(self.dir, name + ".pem")
        self._run("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj",
                  "/CN=%s" % name, "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def leaf(self, name, ca, cn, sans=()):
        """sans: subjectAltName entries as openssl writes them
        ("DNS:trunk.test", "IP:127.0.0.3"); none: no subjectAltName."""
        key = self._key(name)
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n")
            if sans:
                f.write("subjectAltName=%s\n" % ",".join(sans))
        self._run("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=%s" % cn)
        self._run("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-out", cert,
                  "-days", "2", "-set_serial", str(random.getrandbits(63)), "-extfile", ext)
        return cert, key


# --- SIP over a TLS stream -------------------------------------------------------

def sdp_body(ip, port, codecs=(0,), te=101, extra=()):
    """A plain audio offer or answer for an RTP peer at ip:port; extra:
    further lines for the m= section (e.g. "a=crypto:...")."""
    names = {0: "PCMU", 8: "PCMA"}
    lines = ["v=0", "o=- %d 1 IN IP4 %s" % (random.getrandbits(31), ip), "s=-", "c=IN IP4 %s" % ip,
             "t=0 0", "m=audio %d RTP/AVP %s" % (port, " ".join(str(c) for c in list(codecs) + [te]))]
    lines += ["a=rtpmap:%d %s/8000" % (c, names[c]) for c in codecs]
    lines += ["a=rtpmap:%d telephone-event/8000" % te, "a=fmtp:%d 0-15" % te, "a=ptime:20",
              "a=sendrecv"] + list(extra)
    return "\r\n".join(lines) + "\r\n"


def _tag():
    return "%08x" % random.getrandbits(32)


def _branch():
    return "z9hG4bK-tls%012x" % random.getrandbits(48)


def _msg(start, headers, body=""):
    head = [start] + ["%s: %s" % h for h in headers]
    if body:
        head.append("Content-Type: application/sdp")
    head.append("Content-Length: %d" % len(body.encode()))
    return "\r\n".join(head) + "\r\n\r\n" + body


def _with_tag(value, tag):
    return value if ";tag=" in value else "%s;tag=%s" % (value, tag)


class _Link:
    """One TLS connection: a reader thread splits the stream into SIP
    messages, records them, and hands requests to on_request; send()
    records what it sends. An SSL object must not be read and written
    from two threads at once (Python's ssl releases the GIL inside
    OpenSSL), so both sides take io: the reader only once select() says
    there is something to read, and then for at most 50 ms."""

    def __init__(self, sock, log, cond, on_request, name):
        self.sock = sock
        self.log = log
        self.cond = cond
        self.on_request = on_request
        self.closed = False
        self.io = threading.Lock()
        self._stop = threading.Event()
        sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)
        self.thread.start()

    def send(self, text):
        with self.io:
            self.sock.settimeout(5)
            try:
                self.sock.sendall(text.encode())
            finally:
                self.sock.settimeout(0.05)
        with self.cond:
            self.log.append(SipMessage("sent", "TLS", time.strftime("%H:%M:%S"), text))
            self.cond.notify_all()

    def _recv(self):
        """Some bytes; b"" at the end of the stream; None for nothing yet."""
        if not self.sock.pending() and not select.select([self.sock], [], [], 0.05)[0]:
            return None
        with self.io:
            try:
                return self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return None

    def _run(self):
        buf = b""
        try:
            while not self._stop.is_set():
                msg, buf = self._next(buf)
                if msg is None:
                    return
                m = SipMessage("received", "TLS", time.strftime("%H:%M:%S"), msg)
                with self.cond:
                    self.log.append(m)
                    self.cond.notify_all()
                if not m.is_response:
                    self.on_request(self, m)
        except (OSError, ValueError):
            return
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _next(self, buf):
        while not self._stop.is_set():
            buf = buf.lstrip(b"\r\n")  # keep-alive CRLFs
            if b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                n = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() in (b"content-length", b"l"):
                        n = int(v.strip())
                if len(rest) >= n:
                    return (head + b"\r\n\r\n" + rest[:n]).decode("utf-8", "replace"), rest[n:]
            chunk = self._recv()
            if chunk == b"":
                return None, buf
            if chunk:
                buf += chunk
        return None, buf

    def close(self):
        self._stop.set()
        self.thread.join(2)
        try:
            self.sock.close()
        except OSError:
            pass


class _Party:
    """What caller and callee share: the message log and bounded waits."""

    def __init__(self):
        self.log = []
        self.cond = threading.Condition()

    def clear(self):
        """Forgets the messages so far (a module-wide callee, per test)."""
        with self.cond:
            del self.log[:]

    def received(self, method=None, status=None):
        with self.cond:
            return [m for m in self.log if m.direction == "received" and
                    (method is None or m.method == method) and (status is None or m.status == status)]

    def received_sdp(self):
        """The SDP bodies received so far, oldest first (the callee: each
        INVITE's offer; the caller: pinbridge's answers in 18x/2xx)."""
        return [m.body for m in self.received() if m.sdp is not None]

    def sent(self, method=None, status=None):
        with self.cond:
            return [m for m in self.log if m.direction == "sent" and
                    (method is None or m.method == method) and (status is None or m.status == status)]

    def wait_received(self, method=None, status=None, timeout=10.0, pred=None, what=None):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.log:
                    if m.direction != "received":
                        continue
                    if method is not None and m.method != method:
                        continue
                    if status is not None and m.status != status:
                        continue
                    if pred is None or pred(m):
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: no %s within %ss; got %s" % (
                        self.name, what or method or status, timeout,
                        [m.start for m in self.log if m.direction == "received"]))
                self.cond.wait(left)

    def describe(self):
        with self.cond:
            return "%s:\n%s" % (self.name, "\n".join("%s %s" % (m.direction, m.text) for m in self.log))


class TlsCaller(_Party):
    """A caller that dials pinbridge over TLS from src_ip, verifying its
    certificate against ca for server_name. invite() sends the INVITE;
    responses are collected, a final one is ACKed (a 2xx with a new
    transaction to its Contact); pinbridge's in-dialog requests get 200
    (a re-INVITE with the caller's SDP)."""

    name = "tls-caller"

    def __init__(self, pb_port, ca, src_ip=CALLER_IP, pb_ip=PB_IP, server_name=PB_IP, timeout=5.0):
        super().__init__()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(timeout)
        raw.bind((src_ip, 0))
        raw.connect((pb_ip, pb_port))
        sock = ctx.wrap_socket(raw, server_hostname=server_name)
        sock.settimeout(None)
        self.local = sock.getsockname()
        self.pb = (pb_ip, pb_port)
        self.peer_cert = sock.getpeercert()
        self.link = _Link(sock, self.log, self.cond, self._request, "tls-caller")
        self.call_id = "tls-%s@%s" % (_tag(), src_ip)
        self.from_tag = _tag()
        self.cseq = 0
        self.sdp = None
        self.invite_msg = None
        self.to = None      # To with pinbridge's tag once a response had one
        self.target = None  # pinbridge's Contact URI from the 2xx

    def _via(self, branch):
        return "SIP/2.0/TLS %s:%d;branch=%s;rport" % (self.local[0], self.local[1], branch)

    def _contact(self, user):
        return "<sip:%s@%s:%d;transport=tls>" % (user, self.local[0], self.local[1])

    def invite(self, vn, caller, sdp, scheme="sips", headers=()):
        """INVITE <scheme>:vn@pinbridge with sdp (None: a late offer)."""
        self.sdp = sdp
        self.caller = caller
        self.cseq += 1
        self.branch = _branch()
        if scheme == "sips":
            ruri = "sips:%s@%s:%d" % (vn, self.pb[0], self.pb[1])
        else:
            ruri = "sip:%s@%s:%d;transport=tls" % (vn, self.pb[0], self.pb[1])
        self.ruri = ruri
        self.from_ = "<%s:%s@%s>;tag=%s" % (scheme, caller, self.local[0], self.from_tag)
        self.to = "<%s>" % ruri.split(";")[0]
        hdrs = [("Via", self._via(self.branch)), ("Max-Forwards", "70"), ("From", self.from_),
                ("To", self.to), ("Call-ID", self.call_id), ("CSeq", "%d INVITE" % self.cseq),
                ("Contact", self._contact(caller)),
                ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"),
                ("User-Agent", "pbtls-caller")] + list(headers)
        text = _msg("INVITE %s SIP/2.0" % ruri, hdrs, sdp or "")
        self.link.send(text)
        self.invite_msg = SipMessage("sent", "TLS", "", text)

    def _is_ours(self, m):
        return m.is_response and m.header("Call-ID") == self.call_id

    def wait_final(self, timeout=10.0):
        """The INVITE's final response, ACKed."""
        m = self.wait_received(timeout=timeout, what="final response to INVITE",
                               pred=lambda m: self._is_ours(m) and m.cseq_method == "INVITE" and
                               m.status >= 200)
        self.to = m.header("To")
        if m.status < 300:
            contact = m.header("Contact") or ""
            self.target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
            self._ack(self.target, _branch())
        else:
            self._ack(self.ruri, self.branch)
        return m

    def _ack(self, ruri, branch):
        hdrs = [("Via", self._via(branch)), ("Max-Forwards", "70"), ("From", self.from_),
                ("To", self.to), ("Call-ID", self.call_id), ("CSeq", "%d ACK" % self.cseq)]
        self.link.send(_msg("ACK %s SIP/2.0" % ruri, hdrs))

    def bye(self, timeout=5.0):
        """BYE to pinbridge; its 200."""
        self.cseq += 1
        hdrs = [("Via", self._via(_branch())), ("Max-Forwards", "70"), ("From", self.from_),
                ("To", self.to), ("Call-ID", self.call_id), ("CSeq", "%d BYE" % self.cseq)]
        self.link.send(_msg("BYE %s SIP/2.0" % (self.target or self.ruri), hdrs))
        return self.wait_received(timeout=timeout, what="200 to BYE",
                                  pred=lambda m: self._is_ours(m) and m.cseq_method == "BYE" and
                                  m.status >= 200)

    def _request(self, link, m):
        if m.method == "ACK":
            return
        hdrs = [("Via", v) for v in m.all("Via")] + [
            ("From", m.header("From")), ("To", m.header("To")), ("Call-ID", m.header("Call-ID")),
            ("CSeq", m.header("CSeq"))]
        body = self.sdp if m.method == "INVITE" and self.sdp else ""
        if body:
            hdrs.append(("Contact", self._contact(self.caller)))
        link.send(_msg("SIP/2.0 200 OK", hdrs, body))

    def close(self):
        self.link.close()


class TlsCallee(_Party):
    """A callee trunk listening for TLS on ip:port with cert (a (cert, key)
    pair). Each INVITE gets 100, 180 and, ring_ms later, 200 with sdp
    (status other than 200: that final response instead); ACK, BYE
    (200) and CANCEL (200, then 487) are handled. sdp, ring_ms and status
    may be changed between calls. connections counts accepted TCP
    connections, handshakes the TLS handshakes completed, errors the
    failed ones."""

    name = "tls-callee"

    def __init__(self, cert, sdp, ip=CALLEE_IP, port=None, ring_ms=200, status=200):
        super().__init__()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert[0], cert[1])
        self.sdp = sdp
        self.ip = ip
        self.port = port or free_port_on(ip)
        self.ring_ms = ring_ms
        self.status = status
        self.links = []
        self.connections = 0
        self.handshakes = 0
        self.errors = []
        self.tag = _tag()
        self.dialogs = {}  # Call-ID -> (link, the INVITE, its To with our tag)
        self._stop = threading.Event()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((ip, self.port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True, name="tls-callee")
        self.thread.start()

    @property
    def uri(self):
        return "sips:%s:%d" % (self.ip, self.port)

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.lsock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn):
        conn.settimeout(5)
        try:
            s = self.ctx.wrap_socket(conn, server_side=True)
            s.settimeout(None)
        except (OSError, ssl.SSLError) as e:
            with self.cond:
                self.errors.append(repr(e))
                self.cond.notify_all()
            conn.close()
            return
        with self.cond:
            self.handshakes += 1
            self.cond.notify_all()
        self.links.append(_Link(s, self.log, self.cond, self._request, "tls-callee-conn"))

    def _reply(self, link, m, status, reason, body="", to=None):
        hdrs = [("Via", v) for v in m.all("Via")] + [
            ("From", m.header("From")), ("To", to or m.header("To")),
            ("Call-ID", m.header("Call-ID")), ("CSeq", m.header("CSeq"))]
        if m.method == "INVITE" and status < 300 and status > 100:
            hdrs.append(("Contact", "<sip:callee@%s:%d;transport=tls>" % (self.ip, self.port)))
        link.send(_msg("SIP/2.0 %d %s" % (status, reason), hdrs, body))

    def _request(self, link, m):
        cid = m.header("Call-ID")
        if m.method == "INVITE" and cid in self.dialogs:  # a re-INVITE
            self._reply(link, m, 200, "OK", self.sdp, to=m.header("To"))
        elif m.method == "INVITE":
            to = _with_tag(m.header("To"), self.tag)
            self.dialogs[cid] = (link, m, to)
            self._reply(link, m, 100, "Trying")
            self._reply(link, m, 180, "Ringing", to=to)
            threading.Thread(target=self._answer, args=(link, m, to), daemon=True).start()
        elif m.method == "CANCEL":
            self._reply(link, m, 200, "OK", to=_with_tag(m.header("To"), self.tag))
            d = self.dialogs.get(cid)
            if d and not self._final_sent(cid):
                self._reply(d[0], d[1], 487, "Request Terminated", to=d[2])
        elif m.method != "ACK":
            self._reply(link, m, 200, "OK")

    def _final_sent(self, cid):
        return any(x.is_response and x.header("Call-ID") == cid and x.cseq_method == "INVITE" and
                   x.status >= 200 for x in self.sent())

    def _answer(self, link, m, to):
        time.sleep(self.ring_ms / 1000.0)
        cid = m.header("Call-ID")
        if self._final_sent(cid):
            return
        try:
            if self.status == 200:
                self._reply(link, m, 200, "OK", self.sdp, to=to)
            else:
                self._reply(link, m, self.status, "Failed", to=to)
        except OSError:
            pass

    def bye(self, call_id=None, timeout=5.0):
        """The callee hangs up (BYE on the connection the INVITE came on)."""
        cid = call_id or next(iter(self.dialogs))
        link, inv, to = self.dialogs[cid]
        contact = inv.header("Contact") or inv.start.split()[1]
        target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
        hdrs = [("Via", "SIP/2.0/TLS %s:%d;branch=%s" % (self.ip, self.port, _branch())),
                ("Max-Forwards", "70"), ("From", to), ("To", inv.header("From")),
                ("Call-ID", cid), ("CSeq", "1 BYE")]
        link.send(_msg("BYE %s SIP/2.0" % target, hdrs))
        return self.wait_received(status=200, timeout=timeout, what="200 to BYE",
                                  pred=lambda x: x.cseq_method == "BYE")

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.lsock.close()
        for link in self.links:
            link.close()


# --- pinbridge with a tls: listener ------------------------------------------------

# Sofia-SIP 1.12.11's tport_tls.c leaks: tls_free() never SSL_free()s a
# connection's SSL object (some 90 KB per connection), and the handshake check
# (inlined in tls_connect()) never frees the subjectAltNames it decodes.
# LeakSanitizer reports both at exit; the suppressions name Sofia's functions,
# which it matches only with the slow unwinder (libssl has no frame pointers).
SOFIA_TLS_LEAK = "leak:tls_init_secondary\nleak:tls_connect\n"


class TlsServer(Server):
    """A pinbridge whose sip.listen its config gives (a tls: entry, which
    the --sip option would replace): config(sip_port, tls_port) returns the
    text for the ports picked at each start (tls_port None when with_tls
    is false). Under ASan, Sofia's leak above is suppressed for it."""

    def __init__(self, workdir, config, name, with_tls=True, **kw):
        self.config_fn = config
        self.with_tls = with_tls
        self.tls_port = None
        super().__init__(workdir, config(0, 0), name=name, **kw)

    def args(self):
        self.tls_port = free_port_on(PB_IP) if self.with_tls else None
        self.write_config(self.config_fn(self.sip_port, self.tls_port))
        a = super().args()
        i = a.index("--sip")
        return a[:i] + a[i + 2:]

    def start(self, *args, **kw):
        supp = os.path.join(self.workdir, "lsan-sofia-tls.supp")
        with open(supp, "w") as f:
            f.write(SOFIA_TLS_LEAK)
        saved = {k: os.environ.get(k) for k in ("ASAN_OPTIONS", "LSAN_OPTIONS")}
        add = {"ASAN_OPTIONS": "fast_unwind_on_malloc=0", "LSAN_OPTIONS": "print_suppressions=0:suppressions=" + supp}
        for k, v in add.items():
            os.environ[k] = "%s:%s" % (saved[k], v) if saved[k] else v
        try:
            return super().start(*args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
