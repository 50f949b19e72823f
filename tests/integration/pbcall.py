"""Call-test helpers: SIPp callers and callees, RTP peers, G.711, SDP.

DESIGN §6: pinbridge on 127.0.0.1, callers on 127.0.0.2, callees on
127.0.0.3. SIPp (sip-tester) speaks SIP with the scenarios of tests/sipp/
call_*.xml and logs every message it sends or receives (-trace_msg); this
module starts it with bounded timeouts, and reads those logs back as
messages (start line, headers, SDP) so tests can assert on what crossed.
Media is not SIPp's: the scenarios' SDP points at RtpPeer sockets the test
owns, which send G.711 frames of known content (and RFC 4733 events, and
RTCP with a CNAME of their own) and record everything that arrives.

SIPp does not substitute -key values inside attributes (DESIGN §7), so the
times in scenarios (ring, hold, cancel) are literals marked by a comment
(<!-- HOLD_MS --> before the element) that scenario() rewrites into a copy.
The hunting callee (one SIPp for every number the trunk dials, each number
its own behaviour) is generated whole by hunt_scenario().
"""
import os
import random
import re
import select
import socket
import struct
import subprocess
import threading
import time

from pbserver import ROOT

SIPP = os.environ.get("PB_SIPP", "sipp")
SIPP_DIR = os.path.join(ROOT, "tests", "sipp")

PB_IP = "127.0.0.1"
CALLER_IP = "127.0.0.2"
CALLEE_IP = "127.0.0.3"
OUTSIDER_IP = "127.0.0.4"

PCMU, PCMA = 0, 8


# --- ports -------------------------------------------------------------------

# Ports this process handed out: a port is free when picked but taken only
# when its user (often a SIPp started later) binds it, so the kernel may
# offer it again meanwhile; two users of one port fail in odd ways (a SIPp
# that cannot bind logs nothing). Never handed out twice.
_handed_out = set()


def _outside_ephemeral():
    """Ports the kernel never picks for an unbound socket (outside
    ip_local_port_range), below pinbridge's default media range: a port
    handed out here and bound much later (the module-wide callee port)
    cannot meanwhile become some socket's automatic port (CI once saw a
    callee SIPp fail with EADDRINUSE that way)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    ranges = [r for r in (range(10000, min(lo, 16384)), range(max(hi + 1, 61000), 65535)) if len(r) > 100]
    return [p for r in ranges for p in r]


_CANDIDATES = _outside_ephemeral()


def free_port_on(ip, even=False, pair=False, udp_only=False, also=()):
    """A port free for UDP (and TCP unless udp_only) on ip and not handed
    out before by this process, outside the kernel's ephemeral range;
    even/pair: an even port whose next one is free too (RTP + RTCP); also:
    offsets of further ports taken with it (SIPp's video port is +2)."""
    offsets = [0] + ([1] if pair else []) + list(also)
    for attempt in range(1000):
        if attempt < 900 and _CANDIDATES:
            port = random.choice(_CANDIDATES)
        else:  # the quiet ranges are used up: the kernel's choice
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind((ip, 0))
                port = u.getsockname()[1]
            finally:
                u.close()
        if even and port % 2:
            continue
        ports = [port + o for o in offsets]
        if max(ports) > 65535 or any(p in _handed_out for p in ports):
            continue
        socks = []
        try:
            for p in ports:
                for kind in ((socket.SOCK_DGRAM,) if udp_only else (socket.SOCK_DGRAM, socket.SOCK_STREAM)):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind((ip, p))
            _handed_out.update(ports)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port on %s" % ip)


def udp_bound(ip, port):
    """True when something has bound UDP ip:port (our bind fails)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# --- scenarios ---------------------------------------------------------------

_MARKED = re.compile(r'(<!--\s*(\w+)\s*-->\s*<\w+[^>]*?\b(?:milliseconds|timeout)=")(\d+)(")')


def scenario(name, outdir, status=None, replace=(), **times):
    """Path of tests/sipp/<name>.xml, or of a copy in outdir with the marked
    literals replaced: scenario("call_uac", d, HOLD_MS=4000). status=(code,
    reason) replaces call_uas_reject.xml's 603 Decline; replace: (old, new)
    text replacements, each of which must apply (e.g. an extra SDP line)."""
    src = os.path.join(SIPP_DIR, name + ".xml")
    if not times and not status and not replace:
        return src
    with open(src) as f:
        text = f.read()
    for old, new in replace:
        if old not in text:
            raise ValueError("%s.xml has no %r to replace" % (name, old))
        text = text.replace(old, new)
    if status:
        if "SIP/2.0 603 Decline" not in text:
            raise ValueError("%s.xml has no 603 Decline to replace" % name)
        text = text.replace("SIP/2.0 603 Decline", "SIP/2.0 %d %s" % (int(status[0]), status[1]))
        times["STATUS"] = status[0]  # names the copy
    seen = set()

    def sub(m):
        key = m.group(2)
        if key not in times:
            return m.group(0)
        seen.add(key)
        return m.group(1) + str(int(times[key])) + m.group(4)

    text = _MARKED.sub(sub, text)
    missing = set(times) - seen - {"STATUS"}
    if missing:
        raise ValueError("%s.xml has no marked %s" % (name, ", ".join(sorted(missing))))
    tag = "-".join("%s%d" % (k.lower(), int(v)) for k, v in sorted(times.items()))
    if replace:
        tag += "-r%08x" % (hash(tuple(replace)) & 0xFFFFFFFF)
    path = os.path.join(outdir, "%s-%s.xml" % (name, tag))
    with open(path, "w") as f:
        f.write(text)
    return path


_HDR = """      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[callee]@[local_ip]:[local_port];transport=[transport]>
      User-Agent: [ua]
"""

_SDP = """      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=[callee] 1 1 IN IP4 [rtp_ip]
      s=[ua]
      c=IN IP4 [rtp_ip]
      t=0 0
      m=audio [rtp_port] RTP/AVP [codecs] [te_pt]
      a=rtpmap:[te_pt] telephone-event/8000
      a=fmtp:[te_pt] 0-15
      a=ptime:20
      a=sendrecv
"""


def _send(start, body, retrans=False):
    return ('  <send%s>\n    <![CDATA[\n      %s\n%s\n    ]]>\n  </send>\n'
            % (' retrans="500"' if retrans else "", start, body))


def _final(status, reason):
    return _send("SIP/2.0 %d %s" % (status, reason), _HDR + "      Content-Length: 0\n") + \
        '  <recv request="ACK" crlf="true"/>\n'


def _hold(hold_ms, n):
    bye_200 = """      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      User-Agent: [ua]
      Content-Length: 0
"""
    bye = """      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: [$to];tag=[pid]SIPpTag01[call_number]
      To: [$from]
      Call-ID: [$callid]
      CSeq: 101 BYE
      Contact: <sip:[callee]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: [ua]
      Content-Length: 0
"""
    return ('  <recv request="BYE" timeout="%d" ontimeout="hangup%d"/>\n' % (hold_ms, n) +
            _send("SIP/2.0 200 OK", bye_200) + '  <nop next="done"/>\n' +
            '  <label id="hangup%d"/>\n' % n + _send("BYE [next_url] SIP/2.0", bye, True) +
            '  <recv response="200"/>\n')


def _behaviour(kind, n):
    """Scenario text of one callee behaviour (after the INVITE arrived).
    kind: ("answer", ring_ms, hold_ms[, sdp]) | ("early", early_ms, hold_ms[, sdp]) |
    ("busy",) | ("reject", status, reason) | ("noanswer",) (180, then waits
    for CANCEL) | ("trying",) (only 100, then waits for CANCEL). sdp: literal
    values for this number's SDP instead of the -key ones, e.g.
    {"rtp_port": 40002} so callees sharing one SIPp have RTP of their own."""
    k = kind[0]
    if k == "busy":
        return _final(486, "Busy Here")
    if k == "reject":
        return _final(int(kind[1]), kind[2])
    if k in ("noanswer", "trying"):
        ok = """      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      User-Agent: [ua]
      Content-Length: 0
"""
        t487 = _HDR.replace("      [last_CSeq:]\n", "      CSeq: [$cseq] INVITE\n")
        first = "SIP/2.0 180 Ringing" if k == "noanswer" else "SIP/2.0 100 Trying"
        hdr = _HDR if k == "noanswer" else _HDR.replace(";tag=[pid]SIPpTag01[call_number]", "")
        return (_send(first, hdr + "      Content-Length: 0\n") +
                '  <recv request="CANCEL"/>\n' + _send("SIP/2.0 200 OK", ok) +
                _send("SIP/2.0 487 Request Terminated", t487 + "      Content-Length: 0\n") +
                '  <recv request="ACK" crlf="true"/>\n')
    if k in ("answer", "early"):
        sdp = _SDP
        for key, val in (kind[3] if len(kind) > 3 else {}).items():
            sdp = sdp.replace("[%s]" % key, str(val))
        if k == "answer":
            first = _send("SIP/2.0 180 Ringing", _HDR + "      Content-Length: 0\n")
        else:
            first = _send("SIP/2.0 183 Session Progress", _HDR + sdp)
        return (first + '  <pause milliseconds="%d"/>\n' % int(kind[1]) +
                _send("SIP/2.0 200 OK", _HDR + sdp, True) +
                '  <recv request="ACK" crlf="true"/>\n' + _hold(int(kind[2]), n))
    raise ValueError("unknown callee behaviour %r" % (kind,))


def hunt_scenario(outdir, plan, default=("reject", 404, "Not Found"), name="call_uas_hunt"):
    """A callee scenario for every number a hunt dials through the one trunk
    proxy: plan = [(number, behaviour), ...] (see _behaviour); an INVITE
    whose Request-URI user is none of them gets default. Run it with
    max_calls = how many INVITEs are expected. Returns the path."""
    out = ['<?xml version="1.0" encoding="ISO-8859-1" ?>',
           '<!DOCTYPE scenario SYSTEM "sipp.dtd">',
           '<!-- generated by tests/integration/pbcall.py:hunt_scenario -->',
           '<scenario name="%s">' % name,
           '  <recv request="INVITE" crlf="true" rrs="true">', '    <action>']
    kinds = {k[0] for _, k in plan} | {default[0]}
    if kinds & {"answer", "early"}:  # SIPp refuses variables set and never used
        out += ['      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="from"/>',
                '      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="to"/>',
                '      <ereg regexp=".*" search_in="hdr" header="Call-ID:" check_it="true" assign_to="callid"/>']
    if kinds & {"noanswer", "trying"}:
        out.append('      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseq"/>')
    for i, (num, _) in enumerate(plan):
        digits = re.sub(r"\D", "", num)
        out.append('      <ereg regexp="^INVITE sips?:(%%2[bB]|\\+)?%s@" search_in="msg" check_it="false" '
                   'assign_to="n%d"/>' % (digits, i))
    out += ['    </action>', '  </recv>']
    for i in range(len(plan)):
        out.append('  <nop test="n%d" next="b%d"/>' % (i, i))
    body = [_behaviour(default, len(plan)), '  <nop next="done"/>']
    for i, (_, kind) in enumerate(plan):
        body += ['  <label id="b%d"/>' % i, _behaviour(kind, i), '  <nop next="done"/>']
    out += body + ['  <label id="done"/>', '</scenario>', '']
    path = os.path.join(outdir, "%s-%d.xml" % (name, random.randrange(1 << 30)))
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


# --- SIP messages from SIPp's -trace_msg log ---------------------------------

_SEP = re.compile(r"^-{20,} (\S+ \S+)\s*$", re.M)
_DIR = re.compile(r"^(UDP|TCP|TLS|SCTP) message (sent|received)")


class SipMessage:
    """One message SIPp sent (direction "sent") or received ("received")."""

    def __init__(self, direction, transport, stamp, text):
        self.direction = direction
        self.transport = transport
        self.stamp = stamp
        self.text = text
        head, _, body = text.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        self.start = lines[0].strip()
        self.headers = []  # [(name, value)] in order, compact names expanded
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # folded
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
            elif ":" in line:
                n, v = line.split(":", 1)
                self.headers.append((_COMPACT.get(n.strip().lower(), n.strip()), v.strip()))
        self.body = body.strip("\n")
        parts = self.start.split(" ", 2)
        self.is_response = parts[0].startswith("SIP/")
        self.status = int(parts[1]) if self.is_response else None
        self.method = None if self.is_response else parts[0]
        self.ruri = None if self.is_response else parts[1]
        cseq = self.header("CSeq") or ""
        self.cseq_method = cseq.split()[-1] if cseq.split() else None

    def header(self, name, default=None):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def sdp(self):
        ct = (self.header("Content-Type") or "").lower()
        return Sdp(self.body) if self.body and "sdp" in ct else None

    def __repr__(self):
        return "<%s %s %s>" % (self.direction, self.transport, self.start)


_COMPACT = {"f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "v": "Via", "l": "Content-Length",
            "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding"}


def parse_trace(text):
    """SIPp -trace_msg text -> [SipMessage]."""
    out = []
    marks = list(_SEP.finditer(text))
    for i, m in enumerate(marks):
        chunk = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        chunk = chunk.lstrip("\n")
        first, _, rest = chunk.partition("\n")
        d = _DIR.match(first)
        if not d:
            continue
        msg = rest.lstrip("\r\n")
        if not msg.strip():
            continue
        out.append(SipMessage(d.group(2), d.group(1), m.group(1), msg))
    return out


def uri_user(value):
    """User part of the first SIP URI in a From/To/PAI/Contact value or R-URI."""
    m = re.search(r"sips?:([^@;>\s]+)@", value or "")
    return m.group(1) if m else None


# --- SDP -----------------------------------------------------------------------

class Sdp:
    def __init__(self, text):
        self.text = text
        self.ip = None       # session or first media c= address
        self.port = None     # first audio m= port
        self.pts = []        # its payload types
        self.rtpmap = {}     # pt -> "PCMU/8000"
        self.attrs = []      # every a= line (value)
        self.media = []      # every m= line
        for line in text.replace("\r\n", "\n").split("\n"):
            line = line.strip()
            if line.startswith("c=") and self.ip is None:
                self.ip = line.split()[-1]
            elif line.startswith("m="):
                self.media.append(line[2:])
                f = line[2:].split()
                if f[0] == "audio" and self.port is None:
                    self.port = int(f[1])
                    self.pts = [int(x) for x in f[3:] if x.isdigit()]
            elif line.startswith("a="):
                self.attrs.append(line[2:])
                if line.startswith("a=rtpmap:"):
                    pt, enc = line[len("a=rtpmap:"):].split(None, 1)
                    self.rtpmap[int(pt)] = enc.strip()

    def pt_of(self, encoding):
        """Payload type whose rtpmap is encoding (e.g. "telephone-event"),
        static PCMU/PCMA included; None."""
        for pt, enc in self.rtpmap.items():
            if enc.lower().split("/")[0] == encoding.lower() and pt in self.pts:
                return pt
        static = {"pcmu": PCMU, "pcma": PCMA}.get(encoding.lower())
        return static if static in self.pts else None

    @property
    def codec(self):
        """The first audio codec (PCMU or PCMA pt) of the m= line; None."""
        for pt in self.pts:
            enc = self.rtpmap.get(pt, {PCMU: "PCMU/8000", PCMA: "PCMA/8000"}.get(pt, ""))
            if enc.upper().startswith(("PCMU", "PCMA")):
                return PCMU if enc.upper().startswith("PCMU") else PCMA
        return None

    def __repr__(self):
        return "<Sdp %s:%s %s>" % (self.ip, self.port, self.pts)


# --- SIPp processes ----------------------------------------------------------

class Sipp:
    """One SIPp process running one scenario. Caller (UAC): remote given.
    Callee (UAS): remote None; it listens on ip:port. keys: the scenario's
    -key values. Every run is bounded: -timeout (SIPp exits with an error
    when it is reached) and wait(timeout) kills it after that."""

    def __init__(self, workdir, scenario_path, ip, name, keys=None, remote=None, service=None,
                 port=None, max_calls=1, timeout=25.0, transport="u1"):
        self.workdir = workdir
        self.scenario_path = scenario_path
        self.ip = ip
        self.name = name
        self.keys = dict(keys or {})
        self.remote = remote
        self.service = service
        self.port = port or free_port_on(ip)
        self.media_port = free_port_on(ip, udp_only=True, also=(2,))  # SIPp binds +2 for video
        self.max_calls = max_calls
        self.timeout = timeout
        self.transport = transport
        base = os.path.join(workdir, "sipp-%s-%d" % (name, self.port))
        self.msg_path = base + ".messages.log"
        self.err_path = base + ".errors.log"
        self.out_path = base + ".out"
        self.proc = None
        self.rc = None

    def args(self):
        a = [SIPP]
        if self.remote:
            a.append(self.remote)
        a += ["-sf", self.scenario_path, "-i", self.ip, "-p", str(self.port),
              "-mi", self.ip, "-mp", str(self.media_port), "-t", self.transport,
              "-m", str(self.max_calls), "-nostdin", "-timeout", "%ds" % int(self.timeout),
              "-timeout_error", "-max_recv_loops", "100",
              "-trace_msg", "-message_file", self.msg_path,
              "-trace_err", "-error_file", self.err_path]
        if self.service:
            a += ["-s", self.service]
        for k, v in self.keys.items():
            a += ["-key", k, str(v)]
        return a

    def start(self, ready_timeout=5.0):
        out = open(self.out_path, "wb")
        try:
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            out.close()
        if not self.remote:  # a callee: wait until it listens
            end = time.monotonic() + ready_timeout
            while not udp_bound(self.ip, self.port):
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise AssertionError("SIPp %s did not start listening on %s:%d: %s"
                                         % (self.name, self.ip, self.port, self.output()))
                time.sleep(0.02)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=None):
        """Waits for SIPp to end (killing it after timeout, default its own
        -timeout plus 5 s); returns its exit code (0: every call succeeded;
        -9: killed)."""
        if self.proc is None:
            return None
        try:
            self.rc = self.proc.wait(self.timeout + 5 if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self.rc = self.proc.returncode
        return self.rc

    def output(self):
        parts = []
        for p in (self.out_path, self.err_path):
            try:
                with open(p, "rb") as f:
                    parts.append(f.read().decode("latin-1")[-3000:])
            except OSError:
                pass
        return "\n".join(parts)

    def messages(self):
        try:
            with open(self.msg_path, "rb") as f:
                return parse_trace(f.read().decode("latin-1"))
        except OSError:
            return []

    def received(self, method=None, status=None):
        return [m for m in self.messages() if m.direction == "received" and
                (method is None or m.method == method) and (status is None or m.status == status)]

    def sent(self, method=None, status=None):
        return [m for m in self.messages() if m.direction == "sent" and
                (method is None or m.method == method) and (status is None or m.status == status)]

    def wait_for(self, pred, timeout=10.0, what="message"):
        """Polls the message log until pred(messages) is truthy; returns it."""
        end = time.monotonic() + timeout
        while True:
            v = pred(self.messages())
            if v:
                return v
            if time.monotonic() > end:
                raise AssertionError("SIPp %s: %s not seen within %ss; messages: %r\n%s"
                                     % (self.name, what, timeout, self.messages(), self.output()))
            time.sleep(0.02)

    def wait_received(self, method=None, status=None, timeout=10.0, pred=None):
        """The first received message matching; waits for it."""
        def find(msgs):
            for m in msgs:
                if m.direction == "received" and (method is None or m.method == method) and \
                        (status is None or m.status == status) and (pred is None or pred(m)):
                    return m
            return None
        return self.wait_for(find, timeout, "received %s" % (method or status))

    def final_status(self):
        """Status of the final response the caller got to its INVITE (None)."""
        for m in self.received():
            if m.is_response and m.cseq_method == "INVITE" and m.status >= 200:
                return m.status
        return None

    def describe(self):
        return "SIPp %s rc=%s\n%s\n%s" % (self.name, self.rc, "\n".join(
            "  %s %s" % (m.direction, m.start) for m in self.messages()), self.output())


# --- G.711 -------------------------------------------------------------------
# The reference (Sun) encoders and their exact decoders; cross-codec
# comparisons decode both sides to linear and allow a quantisation step.

def ulaw_decode(b):
    b = ~b & 0xFF
    t = ((b & 0x0F) << 3) + 0x84
    t <<= (b & 0x70) >> 4
    return (0x84 - t) if (b & 0x80) else (t - 0x84)


def alaw_decode(b):
    b ^= 0x55
    t = (b & 0x0F) << 4
    seg = (b & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if (b & 0x80) else -t


_SEG_END = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF]


def _seg(v):
    for i, end in enumerate(_SEG_END):
        if v <= end:
            return i
    return 8


def ulaw_encode(pcm):
    pcm = max(-32768, min(32767, pcm))
    if pcm < 0:
        pcm, mask = 0x84 - pcm, 0x7F
    else:
        pcm, mask = pcm + 0x84, 0xFF
    seg = _seg(pcm)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 3)) & 0x0F)) ^ mask


def alaw_encode(pcm):
    pcm = max(-32768, min(32767, pcm))
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 8
        if pcm < 0:
            pcm = 0
    seg = _seg(pcm)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= ((pcm >> 4) if seg < 2 else (pcm >> (seg + 3))) & 0x0F
    return aval ^ mask


ULAW_LIN = [ulaw_decode(i) for i in range(256)]
ALAW_LIN = [alaw_decode(i) for i in range(256)]


def decode(pt, payload):
    table = ULAW_LIN if pt == PCMU else ALAW_LIN
    return [table[b] for b in payload]


def encode(pt, samples):
    enc = ulaw_encode if pt == PCMU else alaw_encode
    return bytes(enc(s) for s in samples)


def transcode(payload, src_pt, dst_pt):
    if src_pt == dst_pt:
        return bytes(payload)
    return encode(dst_pt, decode(src_pt, payload))


def _close(a, b):
    return abs(a - b) <= max(96, abs(a) // 8)


def find_frames(sent_frames, sent_pt, recv_payloads, recv_pt):
    """How many of sent_frames (payloads in codec sent_pt) occur, in order of
    samples, anywhere in the concatenation of recv_payloads (codec recv_pt).
    Same codec: byte-exact; across codecs: sample-wise within a step."""
    stream = b"".join(recv_payloads)
    if sent_pt == recv_pt:
        return sum(1 for fr in sent_frames if stream.find(fr) >= 0)
    lin = decode(recv_pt, stream)
    index = {}
    for i, v in enumerate(lin):
        index.setdefault(v >> 8, []).append(i)
    found = 0
    for fr in sent_frames:
        s = decode(sent_pt, fr)
        n = len(s)
        cands = []
        for k in ((s[0] >> 8) - 1, s[0] >> 8, (s[0] >> 8) + 1):
            cands += index.get(k, ())
        for i in cands:
            if i + n <= len(lin) and all(_close(s[j], lin[i + j]) for j in range(n)):
                found += 1
                break
    return found


def audio_frames(seed, n, pt, size=160):
    """n distinct 20 ms frames of loud pseudo-random audio in codec pt:
    frames from different seeds never match one another."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        samples = [rnd.choice((-1, 1)) * rnd.randrange(1500, 14000) for _ in range(size)]
        out.append(encode(pt, samples))
    return out


# --- RTP / RTCP ----------------------------------------------------------------

class RtpPacket:
    def __init__(self, data, src, t):
        self.raw = data
        self.src = src
        self.t = t
        b0, b1, self.seq, self.ts, self.ssrc = struct.unpack("!BBHII", data[:12])
        self.version = b0 >> 6
        self.marker = bool(b1 & 0x80)
        self.pt = b1 & 0x7F
        off = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10 and len(data) >= off + 4:
            off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
        end = len(data)
        if b0 & 0x20 and end > off:
            end -= data[-1]
        self.payload = data[off:end]

    def event(self):
        """(event, end, volume, duration) of an RFC 4733 payload."""
        e, f, d = struct.unpack("!BBH", self.payload[:4])
        return e, bool(f & 0x80), f & 0x3F, d

    def __repr__(self):
        return "<RTP pt=%d seq=%d ts=%d ssrc=%08x m=%d len=%d from %s>" % (
            self.pt, self.seq, self.ts, self.ssrc, self.marker, len(self.payload), self.src)


def rtcp_packets(data):
    """A compound RTCP packet -> [(pt, ssrc, body)]; ValueError if malformed."""
    out = []
    off = 0
    while off + 4 <= len(data):
        b0, pt, length = struct.unpack("!BBH", data[off:off + 4])
        if b0 >> 6 != 2:
            raise ValueError("RTCP version %d" % (b0 >> 6))
        end = off + 4 * (length + 1)
        if end > len(data):
            raise ValueError("RTCP length past the datagram")
        body = data[off:end]
        out.append((pt, struct.unpack("!I", body[4:8])[0] if len(body) >= 8 else None, body))
        off = end
    return out


def rtcp_cnames(data):
    """Every SDES CNAME in a compound RTCP packet."""
    names = []
    for pt, _, body in rtcp_packets(data):
        if pt != 202:
            continue
        count = body[0] & 0x1F
        off = 4
        for _ in range(count):
            off += 4  # SSRC/CSRC
            while off < len(body):
                it = body[off]
                if it == 0:
                    off = (off + 4) & ~3
                    break
                ln = body[off + 1]
                if it == 1:
                    names.append(body[off + 2:off + 2 + ln].decode("latin-1"))
                off += 2 + ln
    return names


def rtcp_sr_sdes(ssrc, cname, packets=0, octets=0, rtp_ts=0):
    """A compound SR (no report blocks) + SDES CNAME."""
    now = time.time() + 2208988800
    sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, int(now), int((now % 1) * (1 << 32)),
                     rtp_ts & 0xFFFFFFFF, packets, octets)
    item = bytes([1, len(cname)]) + cname.encode()
    chunk = struct.pack("!I", ssrc) + item + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk
    return sr + sdes


class RtpPeer:
    """A party's media endpoint: RTP on an even port of ip, RTCP on the next.
    Everything received is kept (packets, RTCP datagrams with their
    source); streams sent are paced at 20 ms from a thread of their own and
    kept (sent_frames) for comparison."""

    def __init__(self, ip, name, cname=None):
        self.ip = ip
        self.name = name
        self.cname = cname or "%s-secret-cname@%s" % (name, ip)
        for _ in range(50):
            port = free_port_on(ip, even=True, pair=True, udp_only=True)
            try:
                self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.rtp.bind((ip, port))
                self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.rtcp.bind((ip, port + 1))
                break
            except OSError:
                self.rtp.close()
                continue
        else:
            raise RuntimeError("no RTP port pair on %s" % ip)
        self.port = port
        self.remote = None           # (ip, port) RTP goes to
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.lock = threading.Lock()
        self.received = []           # [RtpPacket]
        self.rtcp_received = []      # [(data, src, t)]
        self.bad = []                # datagrams that are not RTP
        self.sent = []               # [(pt, seq, ts, payload, marker)]
        self.send_errors = 0
        self._stop = threading.Event()
        self._streams = []
        self._rx = threading.Thread(target=self._recv_loop, daemon=True, name="rtp-" + name)
        self._rx.start()

    # receiving
    def _recv_loop(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.rtp, self.rtcp], [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in r:
                try:
                    data, src = s.recvfrom(4096)
                except OSError:
                    continue
                rtcp = s is self.rtcp or (len(data) >= 2 and 192 <= data[1] <= 223)
                self._take(data, src, time.monotonic(), rtcp)

    def _take(self, data, src, now, rtcp):
        """Keeps one datagram (rtcp: from the RTCP port, or muxed RTCP)."""
        with self.lock:
            if rtcp:
                self.rtcp_received.append((data, src, now))
            elif len(data) >= 12 and data[0] >> 6 == 2:
                self.received.append(RtpPacket(data, src, now))
            else:
                self.bad.append((data, src, now))

    def packets(self, pt=None, since=None):
        with self.lock:
            return [p for p in self.received if (pt is None or p.pt == pt) and (since is None or p.t >= since)]

    def rtcp_cnames(self):
        with self.lock:
            items = list(self.rtcp_received)
        out = []
        for data, _, _ in items:
            try:
                out += rtcp_cnames(data)
            except (ValueError, IndexError):
                out.append("<malformed RTCP %r>" % data[:40])
        return out

    def wait_packets(self, n, pt=None, since=None, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.packets(pt, since)
            if len(got) >= n:
                return got
            time.sleep(0.02)
        return self.packets(pt, since)

    def wait_rtcp(self, timeout=7.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if self.rtcp_received:
                    return list(self.rtcp_received)
            time.sleep(0.05)
        with self.lock:
            return list(self.rtcp_received)

    # sending
    def set_remote(self, sdp_or_addr):
        if isinstance(sdp_or_addr, Sdp):
            self.remote = (sdp_or_addr.ip, sdp_or_addr.port)
        else:
            self.remote = tuple(sdp_or_addr)
        return self.remote

    def next_header(self, pt, marker=False, ts=None):
        """The next packet's RTP header (takes a sequence number); returns
        (header, seq, ts)."""
        with self.lock:
            seq = self.seq
            self.seq = (self.seq + 1) & 0xFFFF
            pts = self.ts if ts is None else ts
        hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, pts & 0xFFFFFFFF, self.ssrc)
        return hdr, seq, pts

    def _wire_rtp(self, packet):
        """What goes on the wire for an RTP packet (SrtpPeer protects it)."""
        return packet

    def _wire_rtcp(self, packet):
        return packet

    def send_wire(self, data):
        """Sends data as is to the remote's RTP port."""
        try:
            self.rtp.sendto(data, self.remote)
        except OSError:
            self.send_errors += 1

    def _send_one(self, pt, payload, marker=False, ts=None):
        hdr, seq, pts = self.next_header(pt, marker, ts)
        self.send_wire(self._wire_rtp(hdr + bytes(payload)))
        with self.lock:
            self.sent.append((pt, seq, pts, bytes(payload), marker))

    def send_frames(self, pt, frames, ptime=0.02, marker=True):
        """Sends frames (payloads) paced at ptime from a thread, the marker
        bit on the first unless marker is False; returns the thread (join
        it, or use wait_sent)."""
        def run():
            nxt = time.monotonic()
            first = marker
            for fr in frames:
                if self._stop.is_set():
                    return
                self._send_one(pt, fr, marker=first)
                first = False
                with self.lock:
                    self.ts = (self.ts + len(fr)) & 0xFFFFFFFF
                nxt += ptime
                d = nxt - time.monotonic()
                if d > 0:
                    time.sleep(d)
        t = threading.Thread(target=run, daemon=True, name="rtp-send-" + self.name)
        self._streams.append(t)
        t.start()
        return t

    def send_event(self, pt, event, packets=5, ends=3, volume=10, step=160):
        """One RFC 4733 event now (blocking, paced at 20 ms): packets with
        growing duration (marker on the first), then `ends` end packets,
        all with the event's start timestamp."""
        with self.lock:
            start = self.ts
        dur = 0
        for i in range(packets):
            dur += step
            self._send_one(pt, struct.pack("!BBH", event, volume, dur), marker=(i == 0), ts=start)
            time.sleep(0.02)
        for _ in range(ends):
            self._send_one(pt, struct.pack("!BBH", event, 0x80 | volume, dur), ts=start)
        with self.lock:
            self.ts = (start + dur) & 0xFFFFFFFF

    def send_rtcp(self, dest=None):
        """An SR + SDES with this peer's CNAME to the remote's RTCP port."""
        if dest is None:
            dest = (self.remote[0], self.remote[1] + 1)
        with self.lock:
            n = len(self.sent)
            octets = sum(len(s[3]) for s in self.sent)
        try:
            self.rtcp.sendto(self._wire_rtcp(rtcp_sr_sdes(self.ssrc, self.cname, n, octets, self.ts)), dest)
        except OSError:
            self.send_errors += 1

    def wait_sent(self, timeout=10.0):
        for t in self._streams:
            t.join(timeout)

    def close(self):
        self._stop.set()
        self._rx.join(2)
        for t in self._streams:
            t.join(2)
        self.rtp.close()
        self.rtcp.close()


def port_closed(ip, port, timeout=1.0):
    """True when a UDP datagram to ip:port draws ICMP port unreachable."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((CALLER_IP, 0))
        s.connect((ip, port))
        s.settimeout(timeout)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                s.send(b"\x80\x00\x00\x01" + b"\x00" * 168)
                s.recv(2048)
            except ConnectionRefusedError:
                return True
            except socket.timeout:
                return False
            except OSError:
                return False
            time.sleep(0.05)
        return False
    finally:
        s.close()


# --- SIP probe -----------------------------------------------------------------

def sip_options(target_port, target_ip=PB_IP, src_ip=CALLER_IP, timeout=2.0):
    """Sends one OPTIONS over UDP from src_ip; returns the response's status
    code, or None when nothing answered within timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((src_ip, 0))
        lport = s.getsockname()[1]
        tag = "%08x" % random.getrandbits(32)
        msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-probe%s;rport\r\n"
               "From: <sip:probe@%s:%d>;tag=%s\r\n"
               "To: <sip:%s:%d>\r\n"
               "Call-ID: probe-%s@%s\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (target_ip, target_port, src_ip, lport, tag, src_ip, lport, tag,
                  target_ip, target_port, tag, src_ip))
        end = time.monotonic() + timeout
        s.sendto(msg.encode(), (target_ip, target_port))
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65536)
            except (socket.timeout, ConnectionRefusedError):
                return None
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            if line.startswith("SIP/2.0 ") and int(line.split()[1]) >= 200:
                return int(line.split()[1])
    finally:
        s.close()


# --- /metrics ------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric_sum(samples, name, **labels):
    """Sum of the samples of name whose labels include labels; None when
    name is not exported at all."""
    vals = [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]
    if not vals and not any(n == name for n, _, _ in samples):
        return None
    return sum(vals)


def sip_handles_drop_to_zero(s, timeout=8.0):
    """Every SIP call and leg pinbridge held for the test's calls is gone
    (pinbridge_sip_handles back to 0): nothing leaks per call."""
    end, v = time.monotonic() + timeout, None
    while time.monotonic() < end:
        r = s.request("GET", "/metrics", auth=False)
        m = re.search(r"^pinbridge_sip_handles (\d+)$", r.raw.decode(), re.M)
        v = int(m.group(1)) if m else None
        if v == 0:
            return
        time.sleep(0.1)
    raise AssertionError("pinbridge_sip_handles stayed %s" % v)
