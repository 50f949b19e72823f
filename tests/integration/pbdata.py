"""Test configuration, unique test data and envelope checks.

Tenants of the shared test server (each with its own VN pool so tests that
care about PIN space or routing never meet):
  demo   DESIGN §5 sample (pin.a on, pin.b off), the general-purpose tenant
  acme   pin.a and pin.b on, timezone +05:30, bulk_limit 3, isolation peer
  nopin  pin.a and pin.b off: every side with numbers is a direct route (R1)
  pins   pin.a and pin.b on: PIN space tests on dedicated VNs
  lister pin.a on: list/search tests
  auto, auto2  two-VN pools for the VN auto-pick tests
  hashed token given as api_token_sha256
"""
import datetime
import hashlib
import itertools
import re
import threading
import uuid

TRUNK = """trunks = ( { name = "demo"; allow = ["127.0.0.0/8"]; outbound = "sip:127.0.0.1:5080";
             dial_format = "e164"; latch = "learn"; } );
"""


def tenant_block(tid, key, token, pool, pin_a=True, pin_b=False, timezone="UTC", extra=""):
    return """  { id = "%s"; api_key = "%s"; api_token = "%s";
    country = "91"; national_length = 10; countries = ["91"]; timezone = "%s"; trunk = "demo";
    vns = ["%s"];
    pin = { a = %s; b = %s; };
    %s
  }""" % (tid, key, token, timezone, pool, "true" if pin_a else "false",
          "true" if pin_b else "false", extra)


HASHED_TOKEN = "hashed-secret-token"

TENANTS = {
    # id: (key, token, pool, pin_a, pin_b, timezone, extra)
    # demo's pool is the sample's plus 200 more VNs: 0..99 for tests naming a VN, the rest dealt
    "demo": ("demo-key", "demo-token", "+916292134400-+916292134699", True, False, "UTC", ""),
    "acme": ("acme-key", "acme-token", "+918000000000-+918000000099", True, True, "+05:30", "bulk_limit = 3;"),
    "nopin": ("nopin-key", "nopin-token", "+917000000000-+917000000099", False, False, "UTC", ""),
    "pins": ("pins-key", "pins-token", "+915000000000-+915000000099", True, True, "UTC", ""),
    "lister": ("lister-key", "lister-token", "+916000000000-+916000000099", True, False, "UTC", ""),
    "auto": ("auto-key", "auto-token", "+914000000000-+914000000001", True, False, "UTC", ""),
    "auto2": ("auto2-key", "auto2-token", "+914000000010-+914000000011", True, False, "UTC", ""),
}

CREDS = {tid: (t[0], t[1]) for tid, t in TENANTS.items()}
CREDS["hashed"] = ("hashed-key", HASHED_TOKEN)


def config_text(tenants=None, sweep="100ms", map_size="256M", extra_top="", hashed=True):
    tenants = tenants if tenants is not None else list(TENANTS)
    blocks = [tenant_block(tid, *TENANTS[tid][:3], pin_a=TENANTS[tid][3], pin_b=TENANTS[tid][4],
                           timezone=TENANTS[tid][5], extra=TENANTS[tid][6]) for tid in tenants]
    if hashed:
        digest = hashlib.sha256(HASHED_TOKEN.encode()).hexdigest()
        blocks.append("""  { id = "hashed"; api_key = "hashed-key"; api_token_sha256 = "%s";
    country = "91"; countries = ["91"]; vns = ["+913000000000-+913000000009"]; }""" % digest)
    return ('sweep_interval = "%s";\nstore = { map_size = "%s"; };\n%s%s\ntenants = (\n%s\n);\n'
            % (sweep, map_size, TRUNK, extra_top, ",\n".join(blocks)))


def pool(tid):
    lo, hi = TENANTS[tid][2].split("-")
    return ["+%d" % n for n in range(int(lo[1:]), int(hi[1:]) + 1)]


# Pool indices tests name directly (pool("demo")[7] ...): never dealt.
RESERVED = {"demo": set(range(100)), "acme": set(range(30)), "pins": {99}, "nopin": {50, 98}}


class VnDealer:
    """Hands out VNs of a tenant's pool so tests that need a VN to themselves
    (given PINs, PIN space) get one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.free = {}

    def take(self, tid, n=1):
        with self.lock:
            if tid not in self.free:
                self.free[tid] = [v for i, v in enumerate(pool(tid)) if i not in RESERVED.get(tid, ())]
            free = self.free[tid]
            if n > len(free):
                raise RuntimeError("VN pool of %s exhausted by tests" % tid)
            out, self.free[tid] = free[:n], free[n:]
            return out


_num = itertools.count(10000000)
_num_lock = threading.Lock()


def number():
    """A fresh party number (E.164, country 91, in no tenant's pool)."""
    with _num_lock:
        return "+9198%08d" % next(_num)


def numbers(n):
    return [number() for _ in range(n)]


def txn(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def national(e164):
    """+91XXXXXXXXXX -> XXXXXXXXXX (the form the reference's examples use)."""
    assert e164.startswith("+91")
    return e164[3:]


UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

ENVELOPE_KEYS = {"request_id", "method", "success", "status", "code", "message", "data"}


def parse_time(s, offset_s=0):
    """'YYYY-MM-DD HH:MM:SS' in a zone offset_s east of UTC -> unix seconds."""
    assert TIME_RE.match(s), s
    dt = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp() - offset_s


def fmt_time(unix_s, offset_s=0):
    return datetime.datetime.fromtimestamp(unix_s + offset_s, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def ok(r, method=None):
    """Asserts a success envelope and returns its data."""
    assert r.status == 200, r
    j = r.json
    assert isinstance(j, dict), r
    assert ENVELOPE_KEYS <= set(j), r
    assert j["success"] is True and j["status"] == 200, r
    assert j["code"] is None and j["message"] is None, r
    assert isinstance(j["request_id"], str) and j["request_id"], r
    if method:
        assert j["method"] == method, r
    return j["data"]


def err(r, status, code):
    """Asserts an error envelope with this HTTP status and GreenPin code; returns it."""
    assert r.status == status and isinstance(r.json, dict), "want %s/%s, got %r" % (status, code, r)
    j = r.json
    assert ENVELOPE_KEYS <= set(j), r
    assert j["success"] is False, r
    assert j["status"] == status, r
    assert j["code"] == code, "want code %s, got %r" % (code, r)
    assert isinstance(j["message"], str) and j["message"].strip(), "error without a message: %r" % r
    return j


def side(data, s):
    return data.get(s) or {}


def nums(data, s):
    return side(data, s).get("numbers") or []


def vns(data, s):
    return side(data, s).get("vns") or []


def strip_volatile(rec):
    """A record without fields that legitimately change between reads."""
    return {k: v for k, v in rec.items() if k not in ("request_id",)}
