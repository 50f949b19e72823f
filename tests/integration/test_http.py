"""HTTP-level robustness: keep-alive, chunked bodies, declared and real body
sizes, pathological JSON, NUL bytes and non-ASCII, unknown paths."""
import http.client
import json
import socket
import threading
import time

import pytest

from pbdata import err, number, ok, pool, txn
from pbserver import HOST, Response, _recv_response, basic

AUTH = basic("demo-key", "demo-token")


def body(**over):
    b = {"transaction_id": txn(), "a": {"vns": [pool("demo")[31]]}, "b": {"numbers": [number()]}}
    b.update(over)
    return b


def test_keep_alive_connection(server):
    conn = http.client.HTTPConnection(HOST, server.http_port, timeout=30)
    try:
        h = {"Authorization": AUTH, "Content-Type": "application/json"}
        conn.request("POST", "/v1/tenants/demo/greenpin", json.dumps(body()), h)
        r = conn.getresponse()
        d = json.loads(r.read())["data"]
        assert r.status == 200
        conn.request("GET", "/v1/tenants/demo/greenpin/" + d["greenpin_id"], headers=h)
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["data"] == d
        conn.request("POST", "/v1/tenants/demo/greenpin", "{bad", h)
        r = conn.getresponse()
        assert r.status == 400 and json.loads(r.read())["code"] == 5
        conn.request("GET", "/v1/tenants/demo/greenpin/" + d["greenpin_id"], headers={"Authorization": "Basic x"})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        conn.request("DELETE", "/v1/tenants/demo/greenpin/" + d["greenpin_id"], headers=h)
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["data"]["state"] == "vault"
    finally:
        conn.close()


def raw_exchange(server, head, chunks, timeout=30):
    """Sends head then chunks from a thread while reading the response."""
    sock = socket.create_connection((HOST, server.http_port), timeout=timeout)

    def send():
        try:
            sock.sendall(head)
            for c in chunks:
                sock.sendall(c)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        st, hd, raw = _recv_response(sock, time.monotonic() + timeout)
        return Response(st, hd, raw)
    finally:
        sock.close()


def chunked(data, size=4096):
    for i in range(0, len(data), size):
        part = data[i:i + size]
        yield b"%x\r\n" % len(part) + part + b"\r\n"
    yield b"0\r\n\r\n"


def head(method, path, extra):
    return ("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\n%s\r\n"
            % (method, path, AUTH, extra)).encode()


def test_chunked_body_accepted(server):
    b = body()
    r = raw_exchange(server, head("POST", "/v1/tenants/demo/greenpin",
                                  "Transfer-Encoding: chunked\r\nConnection: close\r\n"),
                     chunked(json.dumps(b).encode(), 7))
    assert ok(r)["transaction_id"] == b["transaction_id"]


def test_chunked_body_over_1mib_is_413(server):
    b = body()
    b["pad"] = "p" * (2 * 1024 * 1024)
    r = raw_exchange(server, head("POST", "/v1/tenants/demo/greenpin",
                                  "Transfer-Encoding: chunked\r\nConnection: close\r\n"),
                     chunked(json.dumps(b).encode(), 65536))
    err(r, 413, 5)
    assert server.list_all("transaction_id=" + b["transaction_id"]) == []


def test_body_far_over_limit_is_413(server):
    """1 GiB declared and sent: still a 413 code 5 (at once, or after the upload), never a dropped connection."""
    total = 1 << 30
    sock = socket.create_connection((HOST, server.http_port), timeout=60)
    stop = threading.Event()

    def send():
        try:
            sock.sendall(head("POST", "/v1/tenants/demo/greenpin",
                              "Content-Length: %d\r\nConnection: close\r\n" % total))
            chunk = b"x" * (1 << 20)
            for _ in range(total >> 20):
                if stop.is_set():
                    return
                sock.sendall(chunk)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        st, hd, raw = _recv_response(sock, time.monotonic() + 90)
    finally:
        stop.set()
        sock.close()
    err(Response(st, hd, raw), 413, 5)
    assert server.request("GET", "/healthz", auth=False).status == 200


def test_expect_100_continue_large_body(server):
    n = 2 * 1024 * 1024
    sock = socket.create_connection((HOST, server.http_port), timeout=30)
    try:
        sock.sendall(head("POST", "/v1/tenants/demo/greenpin",
                          "Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n" % n))
        sock.settimeout(10)
        first = sock.recv(65536)
        assert first, "connection closed without an answer"
        if first.startswith(b"HTTP/1.1 100"):
            # the server wants the body; it must still refuse it
            rest = first.split(b"\r\n\r\n", 1)[1]
            threading.Thread(target=lambda: _swallow(sock.sendall, b"x" * n), daemon=True).start()
            st, hd, raw = _recv_tail(sock, rest)
        else:
            st, hd, raw = _recv_tail(sock, first)
        err(Response(st, hd, raw), 413, 5)
    finally:
        sock.close()


def _swallow(fn, *a):
    try:
        fn(*a)
    except OSError:
        pass


def _recv_tail(sock, already):
    class Pre:
        def __init__(self, s, data):
            self.s, self.data = s, data

        def settimeout(self, t):
            self.s.settimeout(t)

        def recv(self, n):
            if self.data:
                d, self.data = self.data, b""
                return d
            return self.s.recv(n)

    return _recv_response(Pre(sock, already), time.monotonic() + 30)


def test_deeply_nested_json(server):
    for depth in (2000, 200000):
        raw = b'{"transaction_id": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"
        r = server.create(raw)
        assert r.status in (200, 400), r  # ignored unknown field, or refused; never a crash
        if r.status == 400:
            assert r.json["code"] == 5
    assert server.request("GET", "/healthz", auth=False).status == 200


def test_nul_in_transaction_id(server):
    """A NUL inside a JSON string is refused or kept, never a place to cut the string."""
    t = txn()
    r = server.create(body(transaction_id=t + "\u0000a"))
    if r.status == 200:
        assert r.json["data"]["transaction_id"] == t + "\u0000a", "transaction_id cut at the NUL: %r" % r
        r2 = server.create(body(transaction_id=t + "\u0000b"))
        assert r2.status == 200 and r2.json["data"]["greenpin_id"] != r.json["data"]["greenpin_id"], \
            "a different transaction_id collided: %r" % r2
        r3 = server.create(body(transaction_id=t))
        assert r3.status == 200, "a different transaction_id collided: %r" % r3
    else:
        err(r, 400, 5)


NUL_FIELDS = {
    "number": lambda: body(b={"numbers": [number() + "\u0000999"]}),
    "vn": lambda: body(a={"vns": [pool("demo")[31] + "\u0000x"]}),
    "pin": lambda: body(a={"vns": [pool("demo")[31]], "pin": "12\u00003"}),
    "pin_length": lambda: body(a={"vns": [pool("demo")[31]], "pin_length": "4\u00009"}),
    "usage": lambda: body(usage="oneway\u0000x"),
    "duration": lambda: body(deallocation_policy={"duration": "1h\u0000junk"}),
}


@pytest.mark.parametrize("field", list(NUL_FIELDS))
def test_nul_inside_a_value_is_refused(server, field):
    b = NUL_FIELDS[field]()
    r = server.create(b)
    assert r.status == 400 and r.json["code"] in (5, 16), "a value with a NUL inside was accepted: %r" % r
    assert server.list_all("transaction_id=" + b["transaction_id"]) == []


def test_non_ascii_transaction_id(server):
    t = "заказ-订单-" + txn()
    d = ok(server.create(body(transaction_id=t)))
    assert d["transaction_id"] == t
    from urllib.parse import quote
    assert [x["greenpin_id"] for x in server.list_all("transaction_id=" + quote(t, safe=""))] == [d["greenpin_id"]]
    ok(server.create(body(transaction_id="é" * 64)))         # 128 bytes
    err(server.create(body(transaction_id="é" * 64 + "x")), 400, 5)  # 129 bytes


def test_special_characters_in_transaction_id_filter(server):
    from urllib.parse import quote
    t = "a&b=c d+e%f/" + txn()
    d = ok(server.create(body(transaction_id=t)))
    got = server.list_all("transaction_id=" + quote(t, safe=""))
    assert [x["greenpin_id"] for x in got] == [d["greenpin_id"]]


def test_unknown_paths_and_methods(server):
    for method, path in [("GET", "/"), ("GET", "/v1"), ("GET", "/v1/tenants/demo"), ("GET", "/v1/tenants/demo/foo"),
                         ("GET", "/v1/tenants/demo/greenpin/x/c/numbers"), ("POST", "/healthz")]:
        r = server.request(method, path)
        assert r.status in (404, 405), (method, path, r)
    r = server.request("PATCH", "/v1/tenants/demo/greenpin/" + txn())
    assert r.status in (404, 405), r
    assert server.request("GET", "/healthz", auth=False).status == 200


def test_response_headers(server):
    r = server.create(body())
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    r = server.get("no-such")
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
