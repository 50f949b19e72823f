"""GET and HEAD /v1/tenants/{t}/calls/{call_sid}/recording (issue 8) on the
real binary, with real calls through pinbridge (the rig: callenv.py).

Tenant "calls" records its calls (record = true); an allocation with
"record": false is never recorded, so its calls answer 404 whatever lies
on disk: the endpoint goes by the call record, not by the file system.
check_recording_served() holds every check of a served recording (200,
206, 416, ignored ranges, HEAD, isolation, the file swept); it runs here
on a recorded call, and test_recording.py may call it on its own.

Every wait is bounded; each test stays well under 30 s.
"""
import datetime
import os
import time

import pytest

import callenv
from callenv import CALLS, CREDS, DEMO, Env, answered_call, finish, wait_records
from callenv import parties  # noqa: F401  (fixture; it uses this module's env)
from pbcall import CALLEE_IP, PB_IP, free_port_on, sip_options
from pbdata import number, ok, txn
from pbhook import Receiver
from pbserver import Server

UNKNOWN_SID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """callenv's rig with recording on for tenant "calls"."""
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("recapi"))
    e.rx = Receiver(name="recapi").start()
    e.callee_port = free_port_on(CALLEE_IP)
    conf = callenv.call_config(e.callee_port, e.rx)
    marker = '{ id = "%s";' % CALLS
    assert marker in conf, conf
    conf = conf.replace(marker, marker + " record = true;", 1)
    e.server = Server(e.tmp, conf, name="recapi", creds=CREDS)
    try:
        e.server.start()
        if sip_options(e.server.sip_port) != 200 and sip_options(e.server.sip_port) != 200:
            pytest.fail("pinbridge does not answer SIP on %s:%d; log:\n%s"
                        % (PB_IP, e.server.sip_port, e.server.log_tail(2000)))
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
        e.rx.close()
    assert alive, "server died during the run; log:\n" + e.server.log_tail()
    assert rc == 0, "exit code %s on SIGTERM; log:\n%s" % (rc, e.server.log_tail())


def rec_path(tenant, sid, rest="/recording"):
    return "/v1/tenants/%s/calls/%s%s" % (tenant, sid, rest)


def file_path(server, tenant, rec):
    """Where the record says its file lives: <data_dir>/recordings/<tenant>/
    <UTC day of answered_at>/<call_sid>.wav (recordings.dir not set)."""
    answered = datetime.datetime.fromisoformat(rec["answered_at"].replace("Z", "+00:00"))
    day = answered.astimezone(datetime.timezone.utc).strftime("%Y%m%d")
    return os.path.join(server.data_dir, "recordings", tenant, day, rec["call_sid"] + ".wav")


def wait_final(env, rec, timeout=10.0):
    """The record once its recording_status is no longer "in-progress"."""
    end = time.monotonic() + timeout
    while rec.get("recording_status") == "in-progress" and time.monotonic() < end:
        time.sleep(0.1)
        rec = ok(env.server.request("GET", rec_path(CALLS, rec["call_sid"], ""), tenant=CALLS))
    return rec


def a_call(env, parties, record=None):
    """One answered direct call (about a second of talk) on tenant calls;
    its completed record."""
    caller, callee = number(), number()
    vn = env.vn(CALLS)
    body = {"transaction_id": txn("recapi"), "a": {"numbers": [caller], "vns": [vn]},
            "b": {"numbers": [callee]}}
    if record is not None:
        body["record"] = record
    alloc = ok(env.server.create(body, tenant=CALLS))
    c = answered_call(parties, vn, caller, callee, caller_codecs="0", callee_codecs="0",
                      caller_hold_ms=1000)
    assert finish(c) == (0, 0), parties.describe()
    rec = wait_records(env, CALLS, alloc["greenpin_id"])[0]
    assert rec["answered_at"], rec
    return rec


def error(r, status, code, text=None):
    assert r.status == status, r
    assert r.headers.get("content-type") == "application/json", r.headers
    j = r.json
    assert isinstance(j, dict) and j["success"] is False and j["status"] == status, r
    assert j["code"] == code, r
    if text is not None:
        assert text in j["message"], (text, r)
    return j


def check_recording_served(server, tenant, rec, other_tenant):
    """Every check of a served recording, on a completed record whose file
    exists (deleted at the end). other_tenant: a tenant with credentials in
    server.creds that does not own the call."""
    sid = rec["call_sid"]
    path = file_path(server, tenant, rec)
    assert os.path.isfile(path), "recording of %s not at %s" % (sid, path)
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    assert size > 44, "a WAV header and some audio: %d bytes" % size

    def get(method="GET", headers=(), who=tenant, on=tenant):
        return server.request(method, rec_path(on, sid), tenant=who, headers=headers)

    # The whole file, and the URL the record gives leads to it.
    if rec.get("recording_url"):
        assert rec["recording_url"].endswith(rec_path(tenant, sid)), rec
    r = get()
    assert r.status == 200, r
    assert r.headers.get("content-type") == "audio/wav", r.headers
    assert r.headers.get("accept-ranges") == "bytes", r.headers
    assert r.headers.get("cache-control") == "no-store", r.headers
    assert r.headers.get("content-length") == str(size), r.headers
    assert len(r.headers.get("x-request-id", "")) == 16, r.headers
    assert "content-range" not in r.headers, r.headers
    assert r.raw == data, "body differs from the file (%d vs %d bytes)" % (len(r.raw), size)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:12]

    # One range: 206 and exactly those bytes.
    for rng, first, last in (("bytes=0-43", 0, 43), ("bytes=44-", 44, size - 1),
                             ("bytes=-10", size - 10, size - 1),
                             ("bytes=10-%d" % (size * 2), 10, size - 1)):
        r = get(headers=[("Range", rng)])
        assert r.status == 206, (rng, r)
        assert r.headers.get("content-range") == "bytes %d-%d/%d" % (first, last, size), (rng, r.headers)
        assert r.headers.get("content-length") == str(last - first + 1), (rng, r.headers)
        assert r.headers.get("content-type") == "audio/wav", r.headers
        assert r.raw == data[first:last + 1], rng

    # Unsatisfiable: 416 with the size, in the API's envelope.
    for rng in ("bytes=%d-" % size, "bytes=-0"):
        r = get(headers=[("Range", rng)])
        error(r, 416, 5)
        assert r.headers.get("content-range") == "bytes */%d" % size, (rng, r.headers)

    # Malformed or several ranges: ignored, the whole file.
    for rng in ("bytes=0-1,5-6", "bytes=9-3", "bytes=x-", "pages=1-2"):
        r = get(headers=[("Range", rng)])
        assert r.status == 200 and r.raw == data, (rng, r)
        assert "content-range" not in r.headers, (rng, r.headers)

    # HEAD: the headers of GET, no body; Range does not apply to HEAD.
    for h in ((), [("Range", "bytes=0-9")]):
        r = get("HEAD", headers=h)
        assert r.status == 200 and r.raw == b"", r
        assert r.headers.get("content-length") == str(size), r.headers
        assert r.headers.get("content-type") == "audio/wav", r.headers

    # Another tenant: its own path says the call does not exist; ours is 403.
    miss = get(who=other_tenant, on=other_tenant)
    unknown = server.request("GET", rec_path(other_tenant, UNKNOWN_SID), tenant=other_tenant)
    error(miss, 404, 1, "no call with call_sid %s" % sid)
    error(unknown, 404, 1, "no call with call_sid %s" % UNKNOWN_SID)
    error(get(who=other_tenant), 403, 8)

    # The file swept away (retention): 404 that says so.
    os.unlink(path)
    error(get(), 404, 1, "the recording of call %s was deleted: past retention" % sid)


def test_a_call_without_recording_is_404_whatever_is_on_disk(env, parties):
    """An allocation with "record": false: its call's recording is a 404
    code 1 naming the call, for GET and HEAD, even with a file planted at
    the path the record would use."""
    rec = wait_final(env, a_call(env, parties, record=False))
    sid = rec["call_sid"]
    assert rec.get("recording_status") is None, rec
    assert rec.get("recording_url") is None, rec
    path = file_path(env.server, CALLS, rec)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"RIFF" + b"\0" * 100)
    r = env.server.request("GET", rec_path(CALLS, sid), tenant=CALLS)
    error(r, 404, 1, "call %s has no recording" % sid)
    r = env.server.request("GET", rec_path(CALLS, sid), tenant=CALLS, headers=[("Range", "bytes=0-1")])
    error(r, 404, 1, "call %s has no recording" % sid)
    r = env.server.request("HEAD", rec_path(CALLS, sid), tenant=CALLS)
    assert r.status == 404 and r.raw == b"", r
    os.unlink(path)


def test_isolation_methods_and_auth(env, parties):
    """Another tenant's call is a missing call, word for word; another
    tenant's path is 403 code 8; no credentials 401 code 7; methods other
    than GET and HEAD 405 with Allow."""
    rec = a_call(env, parties, record=False)
    sid = rec["call_sid"]
    s = env.server
    miss = s.request("GET", rec_path(DEMO, sid), tenant=DEMO)
    unknown = s.request("GET", rec_path(DEMO, UNKNOWN_SID), tenant=DEMO)
    error(miss, 404, 1, "no call with call_sid %s" % sid)
    error(unknown, 404, 1, "no call with call_sid %s" % UNKNOWN_SID)
    assert miss.json["message"].replace(sid, "X") == unknown.json["message"].replace(UNKNOWN_SID, "X")
    error(s.request("GET", rec_path(CALLS, "not-a-call-sid"), tenant=CALLS), 404, 1)
    error(s.request("GET", rec_path(CALLS, sid), tenant=DEMO), 403, 8)
    r = s.request("GET", rec_path(CALLS, sid), tenant=CALLS, auth=False)
    error(r, 401, 7)
    assert r.headers.get("www-authenticate", "").startswith("Basic"), r.headers
    for method in ("POST", "PUT", "DELETE"):
        r = s.request(method, rec_path(CALLS, sid), tenant=CALLS)
        error(r, 405, 5)
        assert r.headers.get("allow") == "GET, HEAD", r.headers
    # Only ".../recording" is a route under a call.
    error(s.request("GET", rec_path(CALLS, sid, "/recordings"), tenant=CALLS), 404, 1)
    error(s.request("GET", rec_path(CALLS, sid, "/recording/x"), tenant=CALLS), 404, 1)
    r = s.request("GET", "/metrics", auth=False)
    assert r.status == 200, r
    text = r.raw.decode()
    label = 'pinbridge_http_requests_total{route="/v1/tenants/{t}/calls/{call_sid}/recording",'
    for method, status in (("GET", 404), ("GET", 403), ("GET", 401), ("DELETE", 405)):
        assert '%smethod="%s",status="%d"}' % (label, method, status) in text, (method, status)


def test_a_recorded_call_is_served(env, parties):
    """A call of a recording tenant: its file whole, by range, 416, HEAD,
    isolation, and 404 once swept."""
    rec = wait_final(env, a_call(env, parties))
    assert rec["recording_status"] == "completed", rec
    check_recording_served(env.server, CALLS, rec, DEMO)
