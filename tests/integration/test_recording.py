"""Call recording end to end (issue 8): real calls through pinbridge with
SIPp signalling and RTP peers sending known audio, then the recording
fetched over the API as a client would, from the record's recording_url.

Tenants: "rec" records (tenant setting), "norec" does not, "other" records
too (isolation), "full" records into a tiny tmpfs mounted full by the test
(CI runs as root), "short" keeps recordings 3 s.
"""
import datetime
import io
import os
import struct
import subprocess
import time
import wave
from urllib.parse import urlsplit

import pytest

from callenv import Parties, answered_call, exchange, finish, metrics, wait_active, wait_records
from pbcall import CALLEE_IP, CALLER_IP, PCMA, PCMU, decode, find_frames, free_port_on, metric_sum
from pbcall import sip_options
from pbdata import ok, txn
from pbhook import Receiver, webhooks_block
from pbserver import Server

REC, NOREC, OTHER, FULL, SHORT = "rec", "norec", "other", "full", "short"
POOLS = {REC: "+917810000000-+917810000099", NOREC: "+917820000000-+917820000099",
         OTHER: "+917830000000-+917830000099", FULL: "+917840000000-+917840000099",
         SHORT: "+917850000000-+917850000099"}
CREDS = {t: ("%s-key" % t, "%s-token" % t) for t in POOLS}
HOOK = "/hooks/rec"
M_RECORDINGS = "pinbridge_recordings_total"


def tenant(tid, record, hook_url, recordings=""):
    return """  { id = "%s"; api_key = "%s-key"; api_token = "%s-token"; trunk = "rectrunk";
    vns = ["%s"]; pin = { a = false; b = false; }; ring_timeout = "5s"; rtp_timeout = "10s";
    record = %s;
    %s
    %s
  }""" % (tid, tid, tid, POOLS[tid], "true" if record else "false", recordings,
          webhooks_block("rec-secret", call_completed=hook_url, backoff="200ms"))


def config(callee_port, rx, full_dir):
    trunk = ('trunks = ( { name = "rectrunk"; allow = ["%s/32", "%s/32"];\n'
             '             outbound = "sip:%s:%d"; latch = "learn"; } );\n'
             % (CALLER_IP, CALLEE_IP, CALLEE_IP, callee_port))
    blocks = [tenant(REC, True, rx.url(HOOK)), tenant(NOREC, False, rx.url(HOOK)),
              tenant(OTHER, True, rx.url(HOOK)),
              tenant(FULL, True, rx.url(HOOK), 'recordings = { dir = "%s"; };' % full_dir),
              tenant(SHORT, True, rx.url(HOOK), 'recordings = { retention = "3s"; };')]
    return ('sweep_interval = "100ms";\nstore = { map_size = "64M"; };\nsip = { drain = "0s"; };\n'
            '%stenants = (\n%s\n);\n' % (trunk, ",\n".join(blocks)))


def mount_full_tmpfs(path):
    """A 64 kB tmpfs at path, filled to the last byte."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("cannot mount the tmpfs the full-disk test needs (run as root, as CI "
                    "does): %s" % r.stderr.strip())
    fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    st = os.statvfs(path)
    assert st.f_bavail == 0, "tmpfs not full: %d blocks free" % st.f_bavail


class Env:
    def __init__(self):
        self.next = {t: int(POOLS[t].split("-")[0][1:]) for t in POOLS}

    def vn(self, t):
        self.next[t] += 1
        return "+%d" % self.next[t]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("recording"))
    e.full_dir = os.path.join(e.tmp, "full")
    e.rx = Receiver(name="rec").start()
    e.callee_port = free_port_on(CALLEE_IP)
    e.server = Server(e.tmp, config(e.callee_port, e.rx, e.full_dir), name="rec", creds=CREDS)
    try:
        mount_full_tmpfs(e.full_dir)
        e.server.start()
        if sip_options(e.server.sip_port) != 200:
            pytest.fail("pinbridge does not answer SIP; log:\n" + e.server.log_tail(2000))
        yield e
    finally:
        alive = e.server.alive()
        rc = e.server.stop()
        e.rx.close()
        subprocess.run(["umount", "-l", e.full_dir], capture_output=True)
    assert alive and rc == 0, "server died or exit %s; log:\n%s" % (rc, e.server.log_tail())


@pytest.fixture
def parties(tmp_path, env):
    p = Parties(str(tmp_path), env)
    yield p
    p.close()
    wait_active(env, 0, timeout=8)


_seq = [0]


def number():
    _seq[0] += 1
    return "+9197%08d" % ((os.getpid() % 1000) * 100000 + _seq[0])


def allocate(env, t, record=None):
    a, b = number(), number()
    vn = env.vn(t)
    body = {"transaction_id": txn("rec"), "a": {"numbers": [a], "vns": [vn]},
            "b": {"numbers": [b]}, "usage": "twoway"}
    if record is not None:
        body["record"] = record
    return ok(env.server.create(body, tenant=t)), vn, a, b


class Talk:
    pass


def talk(env, p, t, record=None, caller_codec="0", callee_codec="8", n=50):
    """An answered call on t where each side sends n known frames at
    once; returns it with its completed record."""
    k = Talk()
    k.alloc, vn, a, b = allocate(env, t, record)
    k.call = answered_call(p, vn, a, b, caller_codecs=caller_codec, callee_codecs=callee_codec,
                           caller_hold_ms=2500)
    k.t_send = time.monotonic()
    k.fa, k.fb = exchange(k.call, n)
    rc_a, rc_b = finish(k.call)
    assert rc_a == 0 and rc_b == 0, "call failed:\n" + p.describe()
    k.caller_got = find_frames(k.fb, k.call.callee_codec, [pk.payload for pk in k.call.caller_peer.packets()],
                               k.call.caller_codec)
    k.callee_got = find_frames(k.fa, k.call.caller_codec, [pk.payload for pk in k.call.callee_peer.packets()],
                               k.call.callee_codec)
    k.rec = wait_records(env, t, k.alloc["greenpin_id"])[0]
    return k


def rec_path(t, sid):
    return "/v1/tenants/%s/calls/%s/recording" % (t, sid)


def fetch(env, t, sid, method="GET", headers=(), as_tenant=None):
    return env.server.request(method, rec_path(t, sid), tenant=as_tenant or t, headers=headers)


def channels(raw):
    w = wave.open(io.BytesIO(raw))
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype()) == (2, 2, 8000, "NONE")
    n = w.getnframes()
    pcm = struct.unpack("<%dh" % (2 * n), w.readframes(n))
    assert len(pcm) == 2 * n, "WAV shorter than its header says"
    return list(pcm[0::2]), list(pcm[1::2])


def locate(channel, samples):
    """Where samples occur, contiguous and exact, in channel; -1 if not."""
    head = samples[:16]
    for i in range(len(channel) - len(samples) + 1):
        if channel[i:i + 16] == head and channel[i:i + len(samples)] == samples:
            return i
    return -1


def iso_s(s):
    return datetime.datetime.fromisoformat(s).timestamp()


def test_recording_holds_each_side_on_its_channel(env, parties):
    k = talk(env, parties, REC)
    assert k.caller_got >= 48 and k.callee_got >= 48, "audio not relayed both ways"
    rec = k.rec
    sid = rec["call_sid"]
    assert rec["recording_status"] == "completed", rec
    url = urlsplit(rec["recording_url"])
    assert (url.scheme, url.hostname, url.port) == ("http", "127.0.0.1", env.server.http_port), rec
    assert url.path == rec_path(REC, sid), rec

    r = fetch(env, REC, sid)
    assert r.status == 200, r
    assert r.headers.get("content-type") == "audio/wav", r.headers
    assert int(r.headers["content-length"]) == len(r.raw), r.headers
    assert r.headers.get("accept-ranges") == "bytes", r.headers
    left, right = channels(r.raw)

    # length: answered_at .. ended_at, within 100 ms
    want = (iso_s(rec["ended_at"]) - iso_s(rec["answered_at"])) * 8000
    assert abs(len(left) - want) <= 800, "WAV %d frames, record says %.0f" % (len(left), want)

    # the caller (PCMU) on the left, the callee (PCMA) on the right, sample
    # for sample after the G.711 round trip
    sent_a = decode(PCMU, b"".join(k.fa))
    sent_b = decode(PCMA, b"".join(k.fb))
    ia, ib = locate(left, sent_a), locate(right, sent_b)
    assert ia >= 0, "the caller's audio is not on the left channel"
    assert ib >= 0, "the callee's audio is not on the right channel"
    assert locate(right, sent_a) < 0 and locate(left, sent_b) < 0
    # nothing else was said: silence around each side's audio
    assert not any(left[:ia]) and not any(left[ia + len(sent_a):]), "left channel not silent elsewhere"
    assert not any(right[:ib]) and not any(right[ib + len(sent_b):]), "right channel not silent elsewhere"
    # time-aligned: both sides spoke at once, when the test sent them (the
    # bounds leave room for a loaded machine starting the two sender
    # threads apart; the recorder's own placing is held to 50 ms in
    # test_media_record against measured send times)
    assert abs(ia - ib) <= 1600, "sides %d ms apart" % (abs(ia - ib) / 8)
    since_answer = (k.t_send - k.call.t_answer) * 8000
    assert abs(ia - since_answer) <= 4000, "caller's audio at %d ms, sent at %d ms" % (
        ia / 8, since_answer / 8)

    # the webhook carries the same URL and status
    hits = env.rx.wait(lambda: [h for h in env.rx.got(path=HOOK)
                                if isinstance(h.json, dict) and h.json.get("call_sid") == sid],
                       10, "call-completed event")
    assert hits[0].json["recording_url"] == rec["recording_url"], hits[0].json
    assert hits[0].json["recording_status"] == "completed", hits[0].json

    # Range requests
    size = len(r.raw)
    for rng, lo, hi in (("bytes=0-43", 0, 43), ("bytes=1000-", 1000, size - 1),
                        ("bytes=-100", size - 100, size - 1), ("bytes=4000-4999", 4000, 4999)):
        p = fetch(env, REC, sid, headers=[("Range", rng)])
        assert p.status == 206, (rng, p)
        assert p.raw == r.raw[lo:hi + 1], rng
        assert p.headers.get("content-range") == "bytes %d-%d/%d" % (lo, hi, size), p.headers
        assert int(p.headers["content-length"]) == hi - lo + 1, p.headers
    p = fetch(env, REC, sid, headers=[("Range", "bytes=%d-" % size)])
    assert p.status == 416 and p.headers.get("content-range") == "bytes */%d" % size, p
    h = fetch(env, REC, sid, method="HEAD")
    assert h.status == 200 and h.raw == b"" and int(h.headers["content-length"]) == size, h

    # tenant isolation: another tenant cannot see it, under either path
    assert fetch(env, OTHER, sid).status == 404
    assert fetch(env, REC, sid, as_tenant=OTHER).status in (401, 403, 404)
    assert fetch(env, REC, "0" * 32).status == 404


def test_allocation_flag_wins_over_the_tenant(env, parties):
    k = talk(env, parties, REC, record=False, caller_codec="8", callee_codec="0", n=10)
    assert k.rec["recording_status"] is None and k.rec["recording_url"] is None, k.rec
    assert fetch(env, REC, k.rec["call_sid"]).status == 404

    k = talk(env, parties, NOREC, n=10)
    assert k.rec["recording_status"] is None and k.rec["recording_url"] is None, k.rec

    k = talk(env, parties, NOREC, record=True, caller_codec="8", callee_codec="8", n=25)
    assert k.rec["recording_status"] == "completed", k.rec
    r = fetch(env, NOREC, k.rec["call_sid"])
    assert r.status == 200, r
    left, right = channels(r.raw)
    assert locate(left, decode(PCMA, b"".join(k.fa))) >= 0
    assert locate(right, decode(PCMA, b"".join(k.fb))) >= 0


def test_full_disk_leaves_the_call_intact(env, parties):
    before = metric_sum(metrics(env), M_RECORDINGS, status="failed") or 0
    k = talk(env, parties, FULL)
    assert k.caller_got >= 48 and k.callee_got >= 48, "audio not relayed both ways on a full disk"
    assert k.rec["call_type"] == "completed", k.rec
    assert k.rec["recording_status"] == "failed", k.rec
    assert k.rec["recording_url"] is None, k.rec
    assert fetch(env, FULL, k.rec["call_sid"]).status == 404
    assert metric_sum(metrics(env), M_RECORDINGS, status="failed") == before + 1
    leftovers = [f for _, _, fs in os.walk(env.full_dir) for f in fs if f != "filler"]
    assert leftovers == [], "a failed recording left files: %s" % leftovers


def test_retention_deletes_the_file_and_the_url_answers_404(env, parties):
    k = talk(env, parties, SHORT, n=10)
    sid = k.rec["call_sid"]
    assert k.rec["recording_status"] == "completed", k.rec
    assert fetch(env, SHORT, sid).status == 200
    end = time.monotonic() + 10
    while fetch(env, SHORT, sid).status != 404:
        assert time.monotonic() < end, "recording still served 10 s after a 3 s retention"
        time.sleep(0.2)
    tdir = os.path.join(env.server.data_dir, "recordings", SHORT)
    files = [f for _, _, fs in os.walk(tdir) for f in fs]
    assert not [f for f in files if sid in f], files
    # the record itself stays, still naming where the recording was
    again = ok(env.server.request("GET", "/v1/tenants/%s/calls/%s" % (SHORT, sid), tenant=SHORT))
    assert again["recording_url"] == k.rec["recording_url"], again
