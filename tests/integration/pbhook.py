"""A scriptable webhook receiver for the integration tests, and helpers for
the events API (DESIGN §4).

Receiver: a stdlib ThreadingHTTPServer on 127.0.0.1:<port> in a thread. Each
request is recorded (method, path, headers, raw body, arrival and finish
times, the status answered). What it answers is scripted per path: a queue
of actions consumed one per request, then the path's default action. An
action is an HTTP status (int) or an Act: a status, an optional sleep (cut
short by Receiver.release) and an optional Location header.

It can be stopped and started again on the same port (receiver down, then
up). Nothing here asserts: tests do.
"""
import hashlib
import hmac
import http.server
import json
import re
import socket
import threading
import time
from urllib.parse import quote

from pbserver import HOST, free_port

SIG_RE = re.compile(r"^t=(\d+),v1=([0-9a-f]{64})$")


class Act:
    """What the receiver answers: status, after sleeping up to `sleep`
    seconds (Receiver.release ends the sleep early), with Location when
    given. body: bytes sent back."""

    def __init__(self, status=200, sleep=0.0, location=None, body=b"ok"):
        self.status = status
        self.sleep = sleep
        self.location = location
        self.body = body

    def __repr__(self):
        return "Act(%s, sleep=%s, location=%s)" % (self.status, self.sleep, self.location)


def _act(a):
    return a if isinstance(a, Act) else Act(int(a))


class Hit:
    """One request the receiver got."""

    def __init__(self, method, path, headers, header_list, raw, arrived, wall):
        self.method = method
        self.path = path
        self.headers = headers          # lower-case name -> value (last wins)
        self.header_list = header_list  # [(name, value)] as sent
        self.raw = raw
        self.arrived = arrived          # time.monotonic() when the body was read
        self.wall = wall                # time.time() then
        self.finished = None            # monotonic, when the answer was sent
        self.status = None              # status answered
        try:
            self.json = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.json = None

    @property
    def delivery(self):
        return self.headers.get("x-pinbridge-delivery")

    @property
    def event(self):
        return self.headers.get("x-pinbridge-event")

    @property
    def gid(self):
        return self.json.get("greenpin_id") if isinstance(self.json, dict) else None

    def count(self, name):
        return sum(1 for k, _ in self.header_list if k.lower() == name.lower())

    def __repr__(self):
        return "<Hit %s %s %s delivery=%s answered=%s body=%r>" % (
            self.method, self.path, self.event, self.delivery, self.status, self.raw[:300])


class Receiver:
    def __init__(self, port=None, name="rx"):
        self.name = name
        self.port = port or free_port()
        self.cond = threading.Condition()
        self.hits = []
        self.scripts = {}     # path (without query) -> [actions]
        self.defaults = {}    # path -> default action
        self.default = Act(200)
        self.inflight = {}    # path -> requests being answered now
        self.max_inflight = {}
        self.release = threading.Event()
        self.httpd = None
        self.thread = None
        self.conns = set()    # open client connections, closed by stop()

    # --- life ---
    def url(self, path):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def start(self):
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with rx.cond:
                    rx.conns.add(self.connection)

            def finish(self):
                with rx.cond:
                    rx.conns.discard(self.connection)
                super().finish()

            def _body(self):
                te = (self.headers.get("Transfer-Encoding") or "").lower()
                if "chunked" in te:
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                raw = self._body()
                path = self.path
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                hit = Hit(self.command, path, hdrs, list(self.headers.items()), raw,
                          time.monotonic(), time.time())
                key = path.split("?", 1)[0]
                with rx.cond:
                    q = rx.scripts.get(key)
                    act = _act(q.pop(0)) if q else _act(rx.defaults.get(key, rx.default))
                    rx.hits.append(hit)
                    rx.inflight[key] = rx.inflight.get(key, 0) + 1
                    rx.max_inflight[key] = max(rx.max_inflight.get(key, 0), rx.inflight[key])
                    rx.cond.notify_all()
                if act.sleep:
                    rx.release.wait(act.sleep)
                # leave the in-flight count before the client can see the
                # answer, so its next request never overlaps this one here
                with rx.cond:
                    rx.inflight[key] -= 1
                    hit.status = act.status
                    hit.finished = time.monotonic()
                    rx.cond.notify_all()
                try:
                    self.send_response(act.status)
                    if act.location:
                        self.send_header("Location", act.location)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(act.body)))
                    self.end_headers()
                    self.wfile.write(act.body)
                except OSError:
                    pass  # the client gave up (timeout): recorded all the same

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle
            do_DELETE = _handle

        class Srv(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

        self.httpd = Srv((HOST, self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True, name="receiver-%s" % self.name)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening (connections refused from now on) and closes the
        kept-alive connections, which would otherwise go on being served
        (close() also releases handlers still sleeping)."""
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
            self.thread.join(10)
            with self.cond:
                conns, self.conns = list(self.conns), set()
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.release.set()
        self.stop()

    def running(self):
        return self.httpd is not None

    # --- scripting ---
    def script(self, path, actions=(), default=None):
        """The next requests on path get actions, in order; then default
        (None: keep the path's current default)."""
        with self.cond:
            self.scripts[path] = list(actions)
            if default is not None:
                self.defaults[path] = default

    # --- what arrived ---
    def got(self, path=None, gid=None, delivery=None, status=None):
        """Hits so far, filtered (path without query; gid = the body's
        greenpin_id; status = what was answered)."""
        with self.cond:
            out = list(self.hits)
        if path is not None:
            out = [h for h in out if h.path.split("?", 1)[0] == path]
        if gid is not None:
            out = [h for h in out if h.gid == gid]
        if delivery is not None:
            out = [h for h in out if h.delivery == delivery]
        if status is not None:
            out = [h for h in out if h.status == status]
        return out

    def wait(self, pred, timeout=30.0, what="condition"):
        """Waits until pred() is truthy (evaluated whenever a request arrives
        or ends, and every 100 ms); returns its value or raises."""
        end = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("receiver %s: %s not reached within %ss; hits: %r"
                                     % (self.name, what, timeout, self.got()[-20:]))
            with self.cond:
                self.cond.wait(min(left, 0.1))

    def wait_hits(self, n, timeout=30.0, **filt):
        """Waits until at least n hits match filt (see got) and returns them."""
        return self.wait(lambda: (lambda h: h if len(h) >= n else None)(self.got(**filt)),
                         timeout, "%d hits %r" % (n, filt))


# --- signatures --------------------------------------------------------------

def sign(secret, t, raw):
    return hmac.new(secret.encode(), ("%d." % t).encode() + raw, hashlib.sha256).hexdigest()


def check_signature(hit, secret, skew=300):
    """Asserts X-Pinbridge-Signature is t=<unix>,v1=<hex HMAC-SHA256(secret,
    "<t>.<raw body>")> with t near the arrival time; returns t."""
    assert hit.count("X-Pinbridge-Signature") == 1, hit.header_list
    sig = hit.headers.get("x-pinbridge-signature", "")
    m = SIG_RE.match(sig)
    assert m, "malformed X-Pinbridge-Signature %r" % sig
    t = int(m.group(1))
    assert abs(t - hit.wall) <= skew, "signature time %d far from arrival %d" % (t, hit.wall)
    want = sign(secret, t, hit.raw)
    assert hmac.compare_digest(m.group(2), want), \
        "signature does not verify: got %s, HMAC(secret, t.body) = %s" % (m.group(2), want)
    assert m.group(2) != sign(secret + "x", t, hit.raw)
    return t


# --- payloads ------------------------------------------------------------------

PAYLOAD_KEYS = {"transaction_id", "greenpin_id", "usage", "aparty_numbers", "bparty_numbers",
                "aparty_vns", "bparty_vns", "aparty_pins", "bparty_pins", "state"}


def dealloc_payload(rec):
    """The deallocation event body the reference defines for allocation rec
    (an API record), state vault."""
    a, b = rec.get("a") or {}, rec.get("b") or {}
    return {
        "transaction_id": rec["transaction_id"],
        "greenpin_id": rec["greenpin_id"],
        "usage": rec["usage"],
        "aparty_numbers": a.get("numbers") or [],
        "bparty_numbers": b.get("numbers") or [],
        "aparty_vns": a.get("vns") or [],
        "bparty_vns": b.get("vns") or [],
        "aparty_pins": [a["pin"]] if a.get("pin") else [],
        "bparty_pins": [b["pin"]] if b.get("pin") else [],
        "state": "vault",
    }


# --- config --------------------------------------------------------------------

def webhooks_block(secret="", deallocation="", backoff="200ms", max_age="24h", concurrency=8,
                   retention="7d", call_completed="", verification_success="",
                   verification_failure=""):
    return ('webhooks = { secret = "%s"; backoff = "%s"; max_age = "%s"; concurrency = %d;\n'
            '      retention = "%s"; call_completed = "%s"; deallocation = "%s";\n'
            '      verification_success = "%s"; verification_failure = "%s"; };'
            % (secret, backoff, max_age, concurrency, retention, call_completed, deallocation,
               verification_success, verification_failure))


def hook_tenant(tid, pool, hooks, pin_a=True, pin_b=False, timezone="UTC"):
    """A tenant block: credentials <tid>-key/<tid>-token, country 91."""
    return """  { id = "%s"; api_key = "%s-key"; api_token = "%s-token";
    country = "91"; national_length = 10; countries = ["91"]; timezone = "%s"; trunk = "demo";
    vns = ["%s"];
    pin = { a = %s; b = %s; };
    %s
  }""" % (tid, tid, tid, timezone, pool, "true" if pin_a else "false", "true" if pin_b else "false", hooks)


def hook_config(blocks, sweep="100ms", map_size="256M"):
    from pbdata import TRUNK
    return ('sweep_interval = "%s";\nstore = { map_size = "%s"; };\n%s\ntenants = (\n%s\n);\n'
            % (sweep, map_size, TRUNK, ",\n".join(blocks)))


def creds(*tids):
    return {t: ("%s-key" % t, "%s-token" % t) for t in tids}


# --- the events API ------------------------------------------------------------

def events_path(tenant, rest=""):
    return "/v1/tenants/%s/events%s" % (tenant, rest)


def list_events(server, tenant, status=None, limit=None, cursor=None, **kw):
    q = []
    if status is not None:
        q.append("status=" + status)
    if limit is not None:
        q.append("limit=%s" % limit)
    if cursor:
        q.append("cursor=" + quote(cursor, safe=""))
    return server.request("GET", events_path(tenant, ("?" + "&".join(q)) if q else ""), tenant=tenant, **kw)


def all_events(server, tenant, status, limit=500, max_pages=100):
    """Every event of tenant in status, following next_cursor."""
    out, cursor = [], None
    for _ in range(max_pages):
        r = list_events(server, tenant, status, limit, cursor)
        assert r.status == 200 and r.json and r.json.get("success") is True, r
        data = r.json["data"]
        assert isinstance(data.get("events"), list), r
        out += data["events"]
        cursor = data.get("next_cursor")
        if not cursor:
            return out
    raise AssertionError("events list did not end within %d pages" % max_pages)


def retry_event(server, tenant, eid, **kw):
    return server.request("POST", events_path(tenant, "/%s/retry" % eid), tenant=tenant, **kw)


def find_event(server, tenant, pred, statuses=("pending", "delivered", "dead")):
    """(status, event) of the first event of tenant matching pred, or None."""
    for st in statuses:
        for ev in all_events(server, tenant, st):
            if pred(ev):
                return st, ev
    return None


def wait_event(server, tenant, pred, status, timeout=30.0):
    """Waits until an event matching pred is listed under status; returns it."""
    end = time.monotonic() + timeout
    last = None
    while True:
        for ev in all_events(server, tenant, status):
            if pred(ev):
                return ev
        last = find_event(server, tenant, pred)
        if time.monotonic() > end:
            raise AssertionError("no %s event of %s matching within %ss; last seen: %r"
                                 % (status, tenant, timeout, last))
        time.sleep(0.1)


def by_gid(gid):
    return lambda ev: isinstance(ev.get("payload"), dict) and ev["payload"].get("greenpin_id") == gid


def by_id(eid):
    return lambda ev: ev.get("id") == eid
