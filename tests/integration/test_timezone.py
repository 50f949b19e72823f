"""Times in responses and list filters use the tenant's timezone, with the
offset in force at that instant (DST), for fixed offsets and IANA names."""
import datetime
import time
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from pbdata import TRUNK, number, ok, txn

ZONES = {
    # tenant id: (timezone setting, pool)
    "ist": ("Asia/Kolkata", "+916292134400-+916292134409"),
    "ny": ("America/New_York", "+916292134410-+916292134419"),
    "lon": ("Europe/London", "+916292134420-+916292134429"),
    "neg": ("-03:00", "+916292134430-+916292134439"),
}


def conf():
    blocks = []
    for tid, (tz, pool) in ZONES.items():
        blocks.append('  { id = "%s"; api_key = "%s-key"; api_token = "t"; country = "91"; timezone = "%s";\n'
                      '    vns = ["%s"]; }' % (tid, tid, tz, pool))
    return TRUNK + "tenants = (\n" + ",\n".join(blocks) + "\n);\n"


def local(unix_s, tz):
    if tz.startswith(("+", "-")):
        sign = 1 if tz[0] == "+" else -1
        off = datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])) * sign
        zone = datetime.timezone(off)
    else:
        zone = ZoneInfo(tz)
    return datetime.datetime.fromtimestamp(unix_s, zone)


@pytest.fixture(scope="module")
def tzserver(tmp_path_factory):
    from pbserver import Server
    s = Server(str(tmp_path_factory.mktemp("tz")), conf(), name="tz",
               creds={tid: (tid + "-key", "t") for tid in ZONES})
    s.start()
    yield s
    s.stop()


@pytest.mark.parametrize("tid", list(ZONES))
@pytest.mark.parametrize("duration,secs", [("1h", 3600), ("100d", 100 * 86400), ("180d", 180 * 86400)])
def test_deallocation_time_uses_offset_at_that_instant(tzserver, tid, duration, secs):
    tz, pool = ZONES[tid]
    vn = pool.split("-")[0]
    t0 = time.time()
    d = ok(tzserver.create({"transaction_id": txn(), "a": {"vns": [vn]}, "b": {"numbers": [number()]},
                            "deallocation_policy": {"duration": duration}}, tenant=tid))
    t1 = time.time()
    got = datetime.datetime.strptime(d["deallocation_time"], "%Y-%m-%d %H:%M:%S")
    lo = local(t0 + secs, tz).replace(tzinfo=None) - datetime.timedelta(seconds=5)
    hi = local(t1 + secs, tz).replace(tzinfo=None) + datetime.timedelta(seconds=5)
    assert lo <= got <= hi, "%s in %s: want %s..%s, got %s" % (duration, tz, lo, hi, got)


@pytest.mark.parametrize("tid", ["ny", "lon", "neg"])
def test_created_filter_in_tenant_zone(tzserver, tid):
    tz, pool = ZONES[tid]
    vn = pool.split("-")[0]
    d = ok(tzserver.create({"transaction_id": txn(), "a": {"vns": [vn]}, "b": {"numbers": [number()]}}, tenant=tid))
    now = time.time()

    def found(unix_s):
        ts = local(unix_s, tz).strftime("%Y-%m-%d %H:%M:%S")
        got = tzserver.list_all("vn=%s&created_from=%s" % (quote(vn, safe=""), quote(ts, safe="")), tenant=tid)
        return d["greenpin_id"] in [x["greenpin_id"] for x in got]

    assert found(now - 120)
    assert not found(now + 120)
