"""The real pinbridge binary under test, and a small HTTP/1.1 client.

A Server owns one process: its config file, data dir, free ports and stderr
log. The client speaks raw HTTP over a socket so tests control every header
byte (Authorization variants) and can send bodies the server refuses midway
(413) without hanging.
"""
import base64
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("PINBRIDGE_BIN", os.path.join(ROOT, "build", "pinbridge"))
HOST = "127.0.0.1"


class Response:
    """status, headers (lower-case names), json (None if the body is not JSON), raw."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    def __repr__(self):
        return "<HTTP %s %s>" % (self.status, self.raw[:600])


def basic(key, token, scheme="Basic", space=True):
    cred = base64.b64encode(("%s:%s" % (key, token)).encode()).decode()
    return scheme + (" " if space else "") + cred


def _recv_response(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock, deadline)
        if not chunk:
            raise ConnectionError("connection closed before response headers: %r" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " if k in headers else "") + v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:n]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = _recv(sock, deadline)
                if not chunk:
                    return status, headers, body
                rest += chunk
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = _recv(sock, deadline)
                if not chunk:
                    return status, headers, body + rest
                rest += chunk
            if size == 0:
                return status, headers, body
            body += rest[:size]
            rest = rest[size + 2:]
    while True:  # until close
        chunk = _recv(sock, deadline)
        if not chunk:
            return status, headers, rest
        rest += chunk


def _recv(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("HTTP response not complete in time")
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def http_request(port, method, path, body=None, headers=(), timeout=30.0, host=HOST):
    """One request on a fresh connection. body: None, bytes, str, or a JSON value."""
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (method, path, host, port)
        names = set()
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
            names.add(k.lower())
        if body is not None:
            if "content-type" not in names:
                head += "Content-Type: application/json\r\n"
            head += "Content-Length: %d\r\n" % len(body)
        elif method in ("POST", "PUT"):
            head += "Content-Length: 0\r\n"
        data = head.encode("latin-1") + b"\r\n" + (body or b"")

        def send():
            try:
                sock.sendall(data)
            except OSError:
                pass  # the server may answer (413) and close before reading it all

        if len(data) > 256 * 1024:
            t = threading.Thread(target=send, daemon=True)
            t.start()
        else:
            send()
        status, hdrs, raw = _recv_response(sock, deadline)
        return Response(status, hdrs, raw)
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def free_port(udp_too=False):
    """A port free for TCP (and UDP when asked) on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()
        if not udp_too:
            return port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((HOST, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free port")


class ServerError(AssertionError):
    pass


class Server:
    """One pinbridge process. config_text None = the embedded default."""

    def __init__(self, workdir, config_text=None, name="pb", data_dir=None, creds=None):
        self.workdir = workdir
        self.name = name
        os.makedirs(workdir, exist_ok=True)
        self.data_dir = data_dir or os.path.join(workdir, name + "-data")
        self.config_path = os.path.join(workdir, name + ".conf") if config_text is not None else None
        if config_text is not None:
            self.write_config(config_text)
        self.creds = dict(creds or {"demo": ("demo-key", "demo-token")})
        self.proc = None
        self.http_port = None
        self.sip_port = None
        self.log_path = os.path.join(workdir, name + ".stderr")
        self._log = None
        self.starts = 0

    # --- process ---
    def write_config(self, text):
        if self.config_path is None:
            self.config_path = os.path.join(self.workdir, self.name + ".conf")
        with open(self.config_path + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.config_path + ".tmp", self.config_path)

    def args(self):
        a = [BINARY]
        if self.config_path:
            a += ["--config", self.config_path]
        rtp = random.randrange(20000, 60000, 100)
        a += ["--data", self.data_dir, "--http", "%s:%d" % (HOST, self.http_port),
              "--sip", "%s:%d" % (HOST, self.sip_port), "--rtp-ports", "%d-%d" % (rtp, rtp + 99)]
        return a

    def start(self, timeout=30.0):
        """Starts and waits for GET /healthz; retries with new ports if the
        process dies at once (a port taken between choosing and binding)."""
        if not os.path.exists(BINARY):
            raise ServerError("pinbridge binary missing: %s (build it: ninja -C build)" % BINARY)
        last = ""
        for attempt in range(3):
            self.http_port = free_port()
            self.sip_port = free_port(udp_too=True)
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.args(), stdout=self._log, stderr=self._log,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
            self.starts += 1
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    r = http_request(self.http_port, "GET", "/healthz", timeout=2)
                    if r.status == 200:
                        return self
                except (OSError, TimeoutError):
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise ServerError("pinbridge not ready within %ss; log:\n%s" % (timeout, self.log_tail()))
            last = self.log_tail()
            if "in use" not in last.lower():
                break
        raise ServerError("pinbridge exited with %s at start; log:\n%s" % (self.proc.returncode, last))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError("pinbridge ignored SIGTERM for %ss" % timeout)
        return self._reap()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(20)
        return self._reap()

    def _reap(self):
        rc = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=4000):
        return self.log_text()[-n:]

    def reload(self, text, timeout=15.0):
        """Writes a new config, SIGHUPs, and waits until the server logged the
        outcome (a new log line about the reload or the config)."""
        self.write_config(text)
        before = self.log_size()
        self.sighup()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_size() > before:
                with open(self.log_path, "rb") as f:
                    f.seek(before)
                    new = f.read().decode("utf-8", "replace").lower()
                if "reload" in new or "config" in new:
                    time.sleep(0.1)  # let the swap that follows the line finish
                    return new
            time.sleep(0.05)
        raise ServerError("no reload outcome logged within %ss after SIGHUP; log:\n%s"
                          % (timeout, self.log_tail()))

    # --- HTTP ---
    def request(self, method, path, body=None, tenant="demo", auth=None, headers=(), timeout=30.0):
        """auth: None = the tenant's credentials, False = no header, a string =
        the raw Authorization value, a (key, token) tuple = Basic."""
        h = list(headers)
        if auth is None:
            key, token = self.creds[tenant]
            h.append(("Authorization", basic(key, token)))
        elif isinstance(auth, tuple):
            h.append(("Authorization", basic(*auth)))
        elif isinstance(auth, str):
            h.append(("Authorization", auth))
        return http_request(self.http_port, method, path, body, h, timeout)

    def url(self, tenant, rest=""):
        return "/v1/tenants/%s/greenpin%s" % (tenant, rest)

    def create(self, body, tenant="demo", **kw):
        return self.request("POST", self.url(tenant), body, tenant=tenant, **kw)

    def get(self, gid, tenant="demo", **kw):
        return self.request("GET", self.url(tenant, "/" + gid), tenant=tenant, **kw)

    def update(self, gid, body, tenant="demo", **kw):
        return self.request("PUT", self.url(tenant, "/" + gid), body, tenant=tenant, **kw)

    def delete(self, gid, tenant="demo", **kw):
        return self.request("DELETE", self.url(tenant, "/" + gid), tenant=tenant, **kw)

    def bulk(self, body, tenant="demo", **kw):
        return self.request("PUT", self.url(tenant), body, tenant=tenant, **kw)

    def list(self, query="", tenant="demo", **kw):
        return self.request("GET", self.url(tenant, ("?" + query) if query else ""), tenant=tenant, **kw)

    def list_all(self, query="", tenant="demo", limit=500, max_pages=200):
        """Every record matching query, following next_cursor."""
        from urllib.parse import quote
        out, cursor = [], None
        for _ in range(max_pages):
            q = [p for p in [query, "limit=%d" % limit] if p]
            if cursor:
                q.append("cursor=" + quote(cursor, safe=""))
            r = self.list("&".join(q), tenant=tenant)
            assert r.status == 200, r
            out += r.json["data"]["greenpins"]
            cursor = r.json["data"].get("next_cursor")
            if not cursor:
                return out
        raise AssertionError("list did not end within %d pages" % max_pages)

    def add_number(self, gid, side, number, tenant="demo", **kw):
        return self.request("POST", self.url(tenant, "/%s/%s/numbers" % (gid, side)),
                            {"number": number}, tenant=tenant, **kw)

    def remove_number(self, gid, side, number, tenant="demo", **kw):
        from urllib.parse import quote
        return self.request("DELETE", self.url(tenant, "/%s/%s/numbers/%s" % (gid, side, quote(number, safe=""))),
                            tenant=tenant, **kw)
