"""Webhooks (DESIGN §4, issue 3): deallocation events on DELETE and expiry,
signed POSTs to a receiver run by the test, retries with backoff, dead
events and their replay, the events API and its tenant isolation.

One server for the module; each tenant has its own receiver path (so what
one test scripts never reaches another tenant), the receiver for "down,
then up" its own port. Tests that kill, restart or stall the server are in
test_webhooks_restart.py.
"""
import itertools
import threading
import time
import uuid

import pytest

from pbdata import UUID_RE, err, number, ok, txn
from pbhook import (PAYLOAD_KEYS, Act, Receiver, all_events, by_gid, by_id, check_signature,
                    creds, dealloc_payload, events_path, hook_config, hook_tenant, list_events,
                    retry_event, wait_event, webhooks_block)
from pbserver import Server

SECRETS = {t: "s3cret-%s-%s" % (t, uuid.uuid4().hex[:8]) for t in
           ("wh", "whpins", "whnone", "whretry", "whdown", "whdead", "whcodes", "whage", "whpurge")}
POOLS = {
    "wh": "+912000000000-+912000000099",
    "whpins": "+912000000100-+912000000199",
    "whnone": "+912000000200-+912000000299",
    "whretry": "+912000000300-+912000000399",
    "whdown": "+912000000400-+912000000499",
    "whdead": "+912000000500-+912000000599",
    "whcodes": "+912000000600-+912000000699",
    "whage": "+912000000700-+912000000799",
    "whpurge": "+912000000800-+912000000899",
}
PATHS = {
    "wh": "/hooks/wh",
    "whpins": "/hooks/whpins",
    "whretry": "/hooks/retry",
    "whdead": "/hooks/dead",
    "whcodes": "/hooks/codes",
    "whdown": "/hooks/down",
    "whage": "/hooks/age",
    "whpurge": "/hooks/purge",
}
NONE_CC_PATH = "/hooks/none-call-completed"
ALL = list(POOLS)

_vn_iters = {t: itertools.cycle(range(100)) for t in POOLS}
_vn_lock = threading.Lock()


def vn(tenant):
    lo = int(POOLS[tenant].split("-")[0][1:])
    with _vn_lock:
        return "+%d" % (lo + next(_vn_iters[tenant]))


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.rx = Receiver(name="main").start()
    e.other = Receiver(name="other").start()     # redirect target
    e.down = Receiver(name="down")               # not listening until a test starts it
    url = {t: e.rx.url(p) for t, p in PATHS.items()}
    url["wh"] = e.rx.url(PATHS["wh"] + "?src=pinbridge&x=1")
    url["whdown"] = e.down.url(PATHS["whdown"])
    blocks = []
    for t in ALL:
        if t == "whnone":
            hooks = webhooks_block(SECRETS[t], deallocation="", call_completed=e.rx.url(NONE_CC_PATH))
        elif t == "whage":
            hooks = webhooks_block(SECRETS[t], deallocation=url[t], backoff="100ms", max_age="2s")
        elif t == "whpurge":
            hooks = webhooks_block(SECRETS[t], deallocation=url[t], backoff="100ms", retention="1s")
        else:
            hooks = webhooks_block(SECRETS[t], deallocation=url[t], backoff="200ms")
        blocks.append(hook_tenant(t, POOLS[t], hooks, pin_a=True, pin_b=(t == "whpins")))
    e.server = Server(str(tmp_path_factory.mktemp("webhooks")), hook_config(blocks), name="hooks",
                      creds=creds(*ALL))
    e.server.start()
    yield e
    alive = e.server.alive()
    e.rx.close()
    e.other.close()
    e.down.close()
    rc = e.server.stop()
    assert alive, "server died during the run; log:\n" + e.server.log_tail()
    assert rc == 0, "exit code %s on SIGTERM; log:\n%s" % (rc, e.server.log_tail())


def make_alloc(s, tenant, **over):
    body = {"transaction_id": txn("wh"), "a": {"vns": [vn(tenant)], "numbers": [number()]},
            "b": {"numbers": [number()]}}
    body.update(over)
    return ok(s.create(body, tenant=tenant), "POST")


def delete(s, tenant, gid):
    d = ok(s.delete(gid, tenant=tenant), "DELETE")
    assert d["state"] == "vault"
    return d


def check_delivery(hit, tenant, rec, path=None):
    """The POST of rec's deallocation event: headers, signature, exact payload."""
    assert hit.method == "POST", hit
    if path:
        assert hit.path == path, hit
    assert hit.headers.get("content-type", "").split(";")[0].strip() == "application/json", hit.headers
    assert hit.count("X-Pinbridge-Event") == 1 and hit.event == "deallocation", hit.header_list
    assert hit.count("X-Pinbridge-Delivery") == 1, hit.header_list
    assert UUID_RE.match(hit.delivery or ""), "X-Pinbridge-Delivery %r is not a UUID" % hit.delivery
    check_signature(hit, SECRETS[tenant])
    assert isinstance(hit.json, dict), "body is not a JSON object: %r" % hit.raw[:300]
    assert set(hit.json) == PAYLOAD_KEYS, "payload keys %s" % sorted(hit.json)
    assert hit.json == dealloc_payload(rec), "payload %r\nwant %r" % (hit.json, dealloc_payload(rec))


def check_listed(ev, hit, status, attempts=None):
    """A listed event agrees with what arrived."""
    assert ev["id"] == hit.delivery, (ev, hit)
    assert ev["event"] == "deallocation", ev
    assert ev["status"] == status, ev
    assert ev["payload"] == hit.json, (ev["payload"], hit.json)
    if attempts is not None:
        assert ev["attempts"] == attempts, ev


# --- DELETE and expiry ---------------------------------------------------------

def test_delete_sends_one_signed_event(env):
    s, rx = env.server, env.rx
    rec = make_alloc(s, "wh")
    # an open side (no numbers), oneway, given PIN: the payload still exact
    rec2 = make_alloc(s, "wh", a={"vns": [vn("wh")], "pin": "4711"}, b={"numbers": [number(), number()]},
                      usage="oneway")
    d = delete(s, "wh", rec["greenpin_id"])
    d2 = delete(s, "wh", rec2["greenpin_id"])
    for r, dd in ((rec, d), (rec2, d2)):
        [hit] = rx.wait_hits(1, gid=r["greenpin_id"])
        check_delivery(hit, "wh", dd, path=PATHS["wh"] + "?src=pinbridge&x=1")
        # the DELETE answer and the event agree with the record as created
        assert hit.json == dealloc_payload(dict(r, state="vault"))
    assert rx.got(gid=rec2["greenpin_id"])[0].json["aparty_numbers"] == []
    assert rx.got(gid=rec2["greenpin_id"])[0].json["aparty_pins"] == ["4711"]
    assert rx.got(gid=rec2["greenpin_id"])[0].json["bparty_pins"] == []
    # delivered, listed as such, once
    for r in (rec, rec2):
        hit = rx.got(gid=r["greenpin_id"])[0]
        ev = wait_event(s, "wh", by_id(hit.delivery), "delivered")
        check_listed(ev, hit, "delivered", attempts=1)
    time.sleep(0.5)
    for r in (rec, rec2):
        assert len(rx.got(gid=r["greenpin_id"])) == 1, rx.got(gid=r["greenpin_id"])
    # a second DELETE (410) makes no second event
    err(s.delete(rec["greenpin_id"], tenant="wh"), 410, 22)
    time.sleep(0.3)
    assert len(rx.got(gid=rec["greenpin_id"])) == 1


def test_both_pins_in_payload(env):
    s, rx = env.server, env.rx
    rec = make_alloc(s, "whpins", a={"vns": [vn("whpins")], "numbers": [number()], "pin": "1234"},
                     b={"vns": [vn("whpins")], "numbers": [number()], "pin": "567"})
    d = delete(s, "whpins", rec["greenpin_id"])
    [hit] = rx.wait_hits(1, gid=rec["greenpin_id"])
    check_delivery(hit, "whpins", d, path=PATHS["whpins"])
    assert hit.json["aparty_pins"] == ["1234"] and hit.json["bparty_pins"] == ["567"]
    assert hit.json["aparty_vns"] != hit.json["bparty_vns"]


def test_largest_allocation_and_escaped_transaction_id(env):
    """10 numbers and 10 VNs a side, a 128-byte transaction_id full of
    characters JSON must escape: the payload is still exact."""
    s, rx = env.server, env.rx
    tid = 'q"uote\\back/slash\ttab-\u00fc\u20ac-<&>' + "\u00e9"
    tid += "x" * (128 - len(tid.encode("utf-8")))
    assert len(tid.encode("utf-8")) == 128
    a_vns = [vn("wh") for _ in range(10)]
    b_vns = [vn("wh") for _ in range(10)]
    rec = make_alloc(s, "wh", transaction_id=tid,
                     a={"vns": a_vns, "numbers": [number() for _ in range(10)]},
                     b={"vns": b_vns, "numbers": [number() for _ in range(10)]})
    assert rec["transaction_id"] == tid
    d = delete(s, "wh", rec["greenpin_id"])
    [hit] = rx.wait_hits(1, gid=rec["greenpin_id"])
    check_delivery(hit, "wh", d)
    assert hit.json["transaction_id"] == tid
    assert len(hit.json["aparty_numbers"]) == 10 and len(hit.json["bparty_vns"]) == 10
    ev = wait_event(s, "wh", by_id(hit.delivery), "delivered")
    assert ev["payload"] == hit.json


def test_expiry_sends_one_event(env):
    s, rx = env.server, env.rx
    rec = make_alloc(s, "wh", deallocation_policy={"duration": "1s"})
    [hit] = rx.wait_hits(1, timeout=20, gid=rec["greenpin_id"])
    g = ok(s.get(rec["greenpin_id"], tenant="wh"))
    assert g["state"] == "vault"
    check_delivery(hit, "wh", g)
    assert hit.json["state"] == "vault"
    ev = wait_event(s, "wh", by_id(hit.delivery), "delivered")
    check_listed(ev, hit, "delivered", attempts=1)
    time.sleep(0.5)
    assert len(rx.got(gid=rec["greenpin_id"])) == 1, rx.got(gid=rec["greenpin_id"])
    # deleting the expired allocation: 410 and no second event
    err(s.delete(rec["greenpin_id"], tenant="wh"), 410, 22)


def test_no_url_no_event(env):
    s, rx = env.server, env.rx
    before = len(rx.got())
    rec = make_alloc(s, "whnone")
    delete(s, "whnone", rec["greenpin_id"])
    exp = make_alloc(s, "whnone", deallocation_policy={"duration": "1s"})
    end = time.monotonic() + 15
    while ok(s.get(exp["greenpin_id"], tenant="whnone"))["state"] != "vault":
        assert time.monotonic() < end, "allocation did not expire"
        time.sleep(0.1)
    time.sleep(1.0)
    assert not [h for h in rx.got()[before:] if h.gid in (rec["greenpin_id"], exp["greenpin_id"])]
    assert not rx.got(path=NONE_CC_PATH)
    for st in ("pending", "delivered", "dead"):
        assert all_events(s, "whnone", st) == [], st


# --- retries -------------------------------------------------------------------

def test_500_three_times_then_delivered(env):
    s, rx = env.server, env.rx
    p = PATHS["whretry"]
    rx.script(p, [500, 500, 500], default=200)
    rec = make_alloc(s, "whretry")
    d = delete(s, "whretry", rec["greenpin_id"])
    hits = rx.wait(lambda: (lambda h: h if len(h) >= 4 and h[3].status == 200 else None)(
        rx.got(gid=rec["greenpin_id"])), 30, "4th attempt answered")
    assert [h.status for h in hits] == [500, 500, 500, 200], hits
    assert len({h.delivery for h in hits}) == 1, "delivery id changed across retries: %r" % hits
    for h in hits:
        check_delivery(h, "whretry", d, path=p)
    # exponential backoff from 200 ms, jitter in [0.5, 1.5): gap n >= 100 ms * 2^(n-1)
    gaps = [b.arrived - a.finished for a, b in zip(hits, hits[1:])]
    for n, g in enumerate(gaps, 1):
        assert g >= 0.9 * 0.1 * 2 ** (n - 1), "retry %d came after %.3fs: no backoff? gaps %r" % (n, g, gaps)
    ev = wait_event(s, "whretry", by_id(hits[0].delivery), "delivered")
    check_listed(ev, hits[-1], "delivered", attempts=4)
    time.sleep(0.5)
    assert len(rx.got(gid=rec["greenpin_id"])) == 4


@pytest.mark.parametrize("code", [408, 429, 502, 503])
def test_retried_statuses(env, code):
    s, rx = env.server, env.rx
    p = PATHS["whcodes"]
    rx.script(p, [code], default=200)
    rec = make_alloc(s, "whcodes")
    delete(s, "whcodes", rec["greenpin_id"])
    hits = rx.wait(lambda: (lambda h: h if len(h) >= 2 and h[1].status == 200 else None)(
        rx.got(gid=rec["greenpin_id"])), 30, "retry after %d" % code)
    assert [h.status for h in hits] == [code, 200]
    assert hits[0].delivery == hits[1].delivery
    ev = wait_event(s, "whcodes", by_id(hits[0].delivery), "delivered")
    assert ev["attempts"] == 2, ev


def test_receiver_down_then_up(env):
    s, down = env.server, env.down
    assert not down.running()
    rec = make_alloc(s, "whdown")
    d = delete(s, "whdown", rec["greenpin_id"])
    # pending and retrying while nothing listens
    end = time.monotonic() + 30
    while True:
        got = [e for e in all_events(s, "whdown", "pending") if by_gid(rec["greenpin_id"])(e)]
        if got and got[0]["attempts"] >= 2:
            break
        assert time.monotonic() < end, "event not retried while the receiver is down: %r" % got
        time.sleep(0.1)
    ev = got[0]
    assert ev["status"] == "pending"
    assert ev["payload"] == dealloc_payload(d)
    assert ev.get("last_error"), "a refused connection leaves no last_error: %r" % ev
    down.start()
    [hit] = down.wait_hits(1, timeout=30, gid=rec["greenpin_id"])
    check_delivery(hit, "whdown", d, path=PATHS["whdown"])
    assert hit.delivery == ev["id"]
    ev2 = wait_event(s, "whdown", by_id(ev["id"]), "delivered")
    assert ev2["attempts"] >= 3, ev2
    time.sleep(0.5)
    assert len(down.got(gid=rec["greenpin_id"])) == 1


# --- dead events and replay ------------------------------------------------------

def test_400_dead_then_replayed(env):
    s, rx = env.server, env.rx
    p = PATHS["whdead"]
    rx.script(p, [400], default=200)
    rec = make_alloc(s, "whdead")
    d = delete(s, "whdead", rec["greenpin_id"])
    [first] = rx.wait_hits(1, gid=rec["greenpin_id"])
    check_delivery(first, "whdead", d, path=p)
    ev = wait_event(s, "whdead", by_id(first.delivery), "dead")
    check_listed(ev, first, "dead", attempts=1)
    assert ev.get("last_status") == 400, ev
    assert not [e for e in all_events(s, "whdead", "pending") if e["id"] == first.delivery]
    time.sleep(1.0)  # well past several backoffs: a dead event is not retried
    assert len(rx.got(gid=rec["greenpin_id"])) == 1
    # replay
    r = retry_event(s, "whdead", first.delivery)
    data = ok(r, "POST")
    ev_r = data  # the event as it now is
    assert isinstance(ev_r, dict) and ev_r["id"] == first.delivery, r
    assert ev_r["event"] == "deallocation" and ev_r["payload"] == first.json, r
    assert ev_r["status"] in ("pending", "delivered"), r
    hits = rx.wait_hits(2, gid=rec["greenpin_id"])
    assert hits[1].delivery == first.delivery, "replay under a new delivery id"
    assert hits[1].status == 200
    check_delivery(hits[1], "whdead", d, path=p)
    ev2 = wait_event(s, "whdead", by_id(first.delivery), "delivered")
    assert ev2["payload"] == first.json
    assert not [e for e in all_events(s, "whdead", "dead") if e["id"] == first.delivery]
    # a delivered event cannot be replayed; unknown ids are not found
    err(retry_event(s, "whdead", first.delivery), 400, 5)
    err(retry_event(s, "whdead", str(uuid.uuid4())), 404, 1)


@pytest.mark.parametrize("code", [301, 302, 307, 308, 404, 410])
def test_dead_at_once_and_redirect_not_followed(env, code):
    s, rx, other = env.server, env.rx, env.other
    p = PATHS["whcodes"]
    target = "/elsewhere-%d" % code
    rx.script(p, [Act(code, location=other.url(target))], default=200)
    rec = make_alloc(s, "whcodes")
    delete(s, "whcodes", rec["greenpin_id"])
    [hit] = rx.wait_hits(1, gid=rec["greenpin_id"])
    ev = wait_event(s, "whcodes", by_id(hit.delivery), "dead")
    assert ev["attempts"] == 1 and ev.get("last_status") == code, ev
    time.sleep(0.7)
    assert len(rx.got(gid=rec["greenpin_id"])) == 1, "a %d was retried" % code
    assert other.got(path=target) == [], "the %d redirect was followed" % code


def test_pending_event_cannot_be_replayed(env):
    s, down = env.server, env.down
    down.stop()
    try:
        rec = make_alloc(s, "whdown")
        delete(s, "whdown", rec["greenpin_id"])
        ev = wait_event(s, "whdown", by_gid(rec["greenpin_id"]), "pending")
        err(retry_event(s, "whdown", ev["id"]), 400, 5)
    finally:
        down.start()
    wait_event(s, "whdown", by_gid(rec["greenpin_id"]), "delivered")


def test_max_age_makes_dead(env):
    s, rx = env.server, env.rx
    p = PATHS["whage"]
    rx.script(p, [], default=500)
    rec = make_alloc(s, "whage")
    delete(s, "whage", rec["greenpin_id"])
    ev = wait_event(s, "whage", by_gid(rec["greenpin_id"]), "dead", timeout=30)
    hits = rx.got(gid=rec["greenpin_id"])
    assert ev["attempts"] >= 2 and ev["attempts"] == len(hits), (ev, hits)
    assert ev.get("last_status") == 500, ev
    assert len({h.delivery for h in hits}) == 1
    time.sleep(1.0)
    assert len(rx.got(gid=rec["greenpin_id"])) == len(hits), "retried after max_age"
    rx.script(p, [], default=200)
    # a replay counts max_age from now
    ok(retry_event(s, "whage", ev["id"]), "POST")
    wait_event(s, "whage", by_id(ev["id"]), "delivered")


def test_retention_purges_delivered_and_dead(env):
    s, rx = env.server, env.rx
    p = PATHS["whpurge"]
    rx.script(p, [410], default=200)
    dead = make_alloc(s, "whpurge")
    delete(s, "whpurge", dead["greenpin_id"])
    ev_dead = wait_event(s, "whpurge", by_gid(dead["greenpin_id"]), "dead")
    good = make_alloc(s, "whpurge")
    delete(s, "whpurge", good["greenpin_id"])
    ev_good = wait_event(s, "whpurge", by_gid(good["greenpin_id"]), "delivered")
    end = time.monotonic() + 20
    while True:
        left = [e["id"] for st in ("pending", "delivered", "dead") for e in all_events(s, "whpurge", st)]
        if ev_dead["id"] not in left and ev_good["id"] not in left:
            break
        assert time.monotonic() < end, "events kept past retention 1s: %r" % left
        time.sleep(0.2)
    err(retry_event(s, "whpurge", ev_dead["id"]), 404, 1)
    assert len(rx.got(gid=dead["greenpin_id"])) == 1 and len(rx.got(gid=good["greenpin_id"])) == 1


def test_config_rejects_non_http_url(tmp_path):
    import subprocess
    from pbserver import BINARY
    for bad in ("ftp://127.0.0.1/x", "file:///etc/passwd", "127.0.0.1:9/x"):
        conf = hook_config([hook_tenant("cfg", "+912300000000-+912300000009",
                                        webhooks_block("k", deallocation=bad))])
        path = tmp_path / "bad.conf"
        path.write_text(conf)
        r = subprocess.run([BINARY, "--config", str(path), "--check-config"], capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        assert "webhooks.deallocation" in r.stderr, r.stderr


# --- the events API ------------------------------------------------------------

def test_events_list_paging(env):
    s, rx = env.server, env.rx
    gids = []
    for _ in range(5):
        rec = make_alloc(s, "wh")
        delete(s, "wh", rec["greenpin_id"])
        gids.append(rec["greenpin_id"])
    ids = {}
    for g in gids:
        ids[g] = rx.wait_hits(1, gid=g)[0].delivery
    for g in gids:
        wait_event(s, "wh", by_id(ids[g]), "delivered")
    seen, cursor, pages = [], None, 0
    while True:
        r = list_events(s, "wh", "delivered", 2, cursor)
        data = ok(r, "GET")
        assert len(data["events"]) <= 2, r
        seen += [e["id"] for e in data["events"]]
        pages += 1
        cursor = data.get("next_cursor")
        if not cursor:
            break
        assert pages < 100
    assert len(seen) == len(set(seen)), "an event listed twice across pages"
    assert set(ids.values()) <= set(seen)
    assert pages >= 3
    for e in all_events(s, "wh", "delivered"):
        assert e["status"] == "delivered" and e["event"] == "deallocation"
        for k in ("id", "attempts", "created_at", "payload"):
            assert k in e, e


def test_events_list_bad_params(env):
    s = env.server
    r = list_events(s, "wh", "bogus")
    assert r.status == 400 and r.json["code"] in (2, 5), r
    r = list_events(s, "wh", "delivered", limit=0)
    assert r.status == 400 and r.json["code"] == 5, r
    r = list_events(s, "wh", "delivered", limit=501)
    assert r.status == 400 and r.json["code"] == 5, r
    r = list_events(s, "wh", "delivered", limit="abc")
    assert r.status == 400 and r.json["code"] == 5, r
    r = list_events(s, "wh", "delivered", cursor="not-a-cursor")
    assert r.status == 400 and r.json["code"] == 5, r
    # methods: the list is GET only, replay POST only
    r = s.request("DELETE", events_path("wh"), tenant="wh")
    assert r.status == 405 and "GET" in r.headers.get("allow", ""), r
    r = s.request("GET", events_path("wh", "/%s/retry" % uuid.uuid4()), tenant="wh")
    assert r.status == 405 and r.headers.get("allow") == "POST", r
    err(retry_event(s, "wh", "not-a-uuid"), 404, 1)


def test_events_api_tenant_isolation(env):
    s, rx = env.server, env.rx
    rec = make_alloc(s, "wh")
    delete(s, "wh", rec["greenpin_id"])
    eid = rx.wait_hits(1, gid=rec["greenpin_id"])[0].delivery
    wait_event(s, "wh", by_id(eid), "delivered")
    # valid credentials on another tenant's path
    err(s.request("GET", events_path("whnone", "?status=delivered"), tenant="wh",
                  auth=creds("wh")["wh"]), 403, 8)
    err(s.request("POST", events_path("whnone", "/%s/retry" % eid), auth=creds("wh")["wh"]), 403, 8)
    # no or bad credentials
    err(s.request("GET", events_path("wh", "?status=delivered"), auth=False), 401, 7)
    err(s.request("GET", events_path("wh", "?status=delivered"), auth=("wh-key", "nope")), 401, 7)
    err(s.request("POST", events_path("wh", "/%s/retry" % eid), auth=False), 401, 7)
    # another tenant's event is not found, and not listed
    err(retry_event(s, "whdead", eid), 404, 1)
    for t in ("whdead", "whnone", "whretry"):
        for st in ("pending", "delivered", "dead"):
            assert eid not in [e["id"] for e in all_events(s, t, st)]


def test_metrics(env):
    s = env.server
    r = s.request("GET", "/metrics", auth=False)
    assert r.status == 200, r
    text = r.raw.decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, val = line.rpartition(" ")
            samples[name] = float(val)
    for t in ALL:
        assert 'pinbridge_webhook_queue_depth{tenant="%s"}' % t in samples, (t, text)
    assert samples['pinbridge_webhook_queue_depth{tenant="whnone"}'] == 0
    delivered = sum(v for k, v in samples.items()
                    if k.startswith("pinbridge_webhook_deliveries_total") and 'outcome="delivered"' in k)
    assert delivered >= 5, "deliveries_total{outcome=delivered} = %s" % delivered
    assert sum(v for k, v in samples.items()
               if k.startswith("pinbridge_webhook_deliveries_total") and 'outcome="delivered"' not in k) > 0, \
        "no failed/dead outcomes counted after dead and retried deliveries"
    assert samples.get("pinbridge_webhook_delivery_seconds_count", 0) >= delivered, text
    assert samples.get('pinbridge_webhook_delivery_seconds_bucket{le="+Inf"}', -1) == \
        samples["pinbridge_webhook_delivery_seconds_count"], text
