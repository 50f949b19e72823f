"""Webhooks across restarts and under a stalled receiver (DESIGN §4, issue 3):
events pending at SIGKILL or SIGTERM are delivered after the restart under
the same delivery ids; a receiver that hangs holds at most `concurrency`
requests of its tenant and delays neither the API nor another tenant's
deliveries, even on the same host:port."""
import threading
import time

from pbdata import number, ok, txn
from pbhook import (Act, Receiver, all_events, by_gid, check_signature, creds, dealloc_payload,
                    hook_config, hook_tenant, wait_event, webhooks_block)

SECRET = "restart-secret"
POOL = "+912100000000-+912100000099"


def vns_of(pool):
    lo, hi = (int(x[1:]) for x in pool.split("-"))
    return ["+%d" % n for n in range(lo, hi + 1)]


def create_delete(s, tenant, vn, timed=None):
    t0 = time.monotonic()
    rec = ok(s.create({"transaction_id": txn("whr"), "a": {"vns": [vn], "numbers": [number()]},
                       "b": {"numbers": [number()]}}, tenant=tenant))
    t1 = time.monotonic()
    d = ok(s.delete(rec["greenpin_id"], tenant=tenant))
    t2 = time.monotonic()
    if timed is not None:
        timed += [t1 - t0, t2 - t1]
    assert d["state"] == "vault"
    return d


def create_delete_many(s, tenant, pool, n, threads=8):
    vns = vns_of(pool)
    out, errors, lock = {}, [], threading.Lock()

    def work(k):
        try:
            for i in range(k, n, threads):
                d = create_delete(s, tenant, vns[i % len(vns)])
                with lock:
                    out[d["greenpin_id"]] = d
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    assert len(out) == n
    return out


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("%s not reached within %ss" % (what, timeout))
        time.sleep(0.1)


def conf_one(tid, url, **hooks):
    return hook_config([hook_tenant(tid, POOL, webhooks_block(SECRET, deallocation=url, **hooks))])


def check_redelivered(s, rx, path, tid, recs, ids, since):
    """After the restart: every event arrives with a 200 under its old id."""
    def done():
        new = rx.got()[since:]
        return set(recs) <= {h.gid for h in new if h.status == 200 and h.path == path}
    rx.wait(done, 60, "all %d events delivered after the restart" % len(recs))
    for h in rx.got()[since:]:
        if h.gid in recs:
            assert h.delivery == ids[h.gid], "delivery id of %s changed across the restart: %s -> %s" % (
                h.gid, ids[h.gid], h.delivery)
            assert h.json == dealloc_payload(recs[h.gid])
            check_signature(h, SECRET)
    wait_until(lambda: not all_events(s, tid, "pending"), 30, "no pending events")
    delivered = {e["id"] for e in all_events(s, tid, "delivered")}
    assert set(ids.values()) <= delivered
    assert not all_events(s, tid, "dead")


def test_sigkill_with_50_pending_then_restart(make_server):
    rx = Receiver(name="kill").start()
    path = "/hooks/kill"
    try:
        rx.script(path, [], default=500)
        s = make_server(conf_one("kill", rx.url(path), backoff="100ms"), creds=creds("kill"))
        recs = create_delete_many(s, "kill", POOL, 50)
        # every event tried (and refused) at least once, all 50 listed pending
        rx.wait(lambda: set(recs) <= {h.gid for h in rx.got(path=path)}, 30, "a first attempt of each event")
        # (an attempt counts once its outcome is recorded, a moment after the receiver saw it)
        pend = wait_until(lambda: (lambda p: p if len(p) == 50 and all(e["attempts"] >= 1 for e in p) else None)(
            all_events(s, "kill", "pending")), 30, "50 pending events, each tried")
        ids = {e["payload"]["greenpin_id"]: e["id"] for e in pend}
        assert set(ids) == set(recs)
        assert len(set(ids.values())) == 50
        for h in rx.got(path=path):
            assert h.delivery == ids[h.gid], "delivery id changed between attempts"
        m = s.request("GET", "/metrics", auth=False)
        assert m.status == 200 and 'pinbridge_webhook_queue_depth{tenant="kill"} 50\n' in m.raw.decode(), m
        s.kill()
        rx.script(path, [], default=200)
        since = len(rx.got())
        s.start()
        check_redelivered(s, rx, path, "kill", recs, ids, since)
        m = s.request("GET", "/metrics", auth=False)
        assert 'pinbridge_webhook_queue_depth{tenant="kill"} 0\n' in m.raw.decode(), m
        assert s.stop() == 0
    finally:
        rx.close()


def test_sigterm_with_pending_then_restart(make_server):
    rx = Receiver(name="term")  # down: connections refused
    path = "/hooks/term"
    try:
        s = make_server(conf_one("term", rx.url(path), backoff="100ms"), creds=creds("term"))
        recs = create_delete_many(s, "term", POOL, 10)
        pend = wait_until(lambda: (lambda p: p if len(p) == 10 and all(e["attempts"] >= 1 for e in p) else None)(
            all_events(s, "term", "pending")), 30, "10 pending events, each tried")
        ids = {e["payload"]["greenpin_id"]: e["id"] for e in pend}
        assert set(ids) == set(recs)
        assert s.stop() == 0
        rx.start()
        time.sleep(0.3)
        assert rx.got() == [], "delivered while the server was stopped?"
        s.start()
        check_redelivered(s, rx, path, "term", recs, ids, 0)
        assert s.stop() == 0
    finally:
        rx.close()


def test_stalled_receiver_delays_neither_api_nor_other_tenant(make_server):
    rx = Receiver(name="stall").start()
    slow, fast = "/hooks/slow", "/hooks/fast"
    pool_a, pool_b = "+912200000000-+912200000099", "+912200000100-+912200000199"
    try:
        rx.script(slow, [], default=Act(200, sleep=20))  # until released
        rx.script(fast, [], default=200)
        # both tenants on the same host:port: the limit is per (tenant, host:port)
        conf = hook_config([
            hook_tenant("slowa", pool_a, webhooks_block(SECRET, deallocation=rx.url(slow), concurrency=3)),
            hook_tenant("fastb", pool_b, webhooks_block(SECRET, deallocation=rx.url(fast))),
        ])
        s = make_server(conf, creds=creds("slowa", "fastb"))
        va, vb = vns_of(pool_a), vns_of(pool_b)
        lat = []
        a_recs = {}
        for i in range(6):
            d = create_delete(s, "slowa", va[i], lat)
            a_recs[d["greenpin_id"]] = d
        rx.wait(lambda: rx.inflight.get(slow, 0) >= 3, 15, "3 requests of tenant A hanging")
        # the API answers while A's deliveries hang
        for i in range(5):
            d = create_delete(s, "slowa", va[10 + i], lat)
            a_recs[d["greenpin_id"]] = d
            create_delete(s, "fastb", vb[i], lat)
        assert max(lat) < 10, "an API call took %.1fs while a receiver hung" % max(lat)
        # B's event arrives while A's receiver is still asleep
        b = create_delete(s, "fastb", vb[50])
        t_del = time.monotonic()
        [hit] = rx.wait_hits(1, timeout=10, gid=b["greenpin_id"])
        assert hit.json == dealloc_payload(b)
        a_hits = rx.got(path=slow)
        assert a_hits and all(h.finished is None for h in a_hits), \
            "B delivered only after A's receiver answered: %r" % a_hits
        assert hit.arrived - t_del < 10
        # A: at most its concurrency in flight, nothing more started
        time.sleep(1.0)
        assert rx.max_inflight.get(slow, 0) <= 3, "tenant A had %d in flight, concurrency 3" % rx.max_inflight[slow]
        assert len(rx.got(path=slow)) == 3, rx.got(path=slow)
        rx.release.set()
        rx.wait(lambda: set(a_recs) <= {h.gid for h in rx.got(path=slow, status=200)}, 60,
                "all of A's events delivered after the receiver woke")
        assert rx.max_inflight.get(slow, 0) <= 3, "tenant A had %d in flight, concurrency 3" % rx.max_inflight[slow]
        wait_until(lambda: not all_events(s, "slowa", "pending"), 30, "A's queue drained")
        assert s.stop() == 0
    finally:
        rx.close()


def test_kill_during_deletes_every_vault_has_its_event(make_server):
    """A DELETE and its event commit together: after SIGKILL in the middle of
    concurrent DELETEs, every allocation in vault (every acknowledged DELETE
    among them) gets exactly one event (one delivery id), and no allocation
    still active gets any."""
    rx = Receiver(name="atomic").start()
    path = "/hooks/atomic"
    try:
        s = make_server(conf_one("atomic", rx.url(path), backoff="100ms"), creds=creds("atomic"))
        vns = vns_of(POOL)
        gids, lock = [], threading.Lock()

        def creator(k):
            for i in range(k, 300, 8):
                rec = ok(s.create({"transaction_id": txn("atom"), "a": {"vns": [vns[i % 100]], "numbers": [number()]},
                                   "b": {"numbers": [number()]}}, tenant="atomic"))
                with lock:
                    gids.append(rec["greenpin_id"])
        ts = [threading.Thread(target=creator, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert len(gids) == 300
        acked, stop = set(), threading.Event()

        def deleter(k):
            for g in gids[k::6]:
                if stop.is_set():
                    return
                try:
                    r = s.delete(g, tenant="atomic", timeout=10)
                except (OSError, TimeoutError, ConnectionError):
                    continue
                if r.status == 200:
                    with lock:
                        acked.add(g)
        ts = [threading.Thread(target=deleter, args=(k,)) for k in range(6)]
        for t in ts:
            t.start()
        wait_until(lambda: len(acked) >= 60 or not any(t.is_alive() for t in ts), 60, "60 DELETEs answered")
        s.kill()
        stop.set()
        for t in ts:
            t.join(30)
        s.start()
        vault = {g for g in gids if ok(s.get(g, tenant="atomic"))["state"] == "vault"}
        assert acked <= vault, "acknowledged DELETEs lost: %r" % (acked - vault)
        rx.wait(lambda: vault <= {h.gid for h in rx.got(path=path, status=200)}, 60,
                "an event for each of the %d vault allocations" % len(vault))
        wait_until(lambda: not all_events(s, "atomic", "pending"), 30, "no pending events")
        time.sleep(0.5)
        hits = rx.got(path=path)
        stray = {h.gid for h in hits} - vault
        assert not stray, "events for allocations still active: %r" % stray
        for g in vault:
            assert len({h.delivery for h in hits if h.gid == g}) == 1, [h for h in hits if h.gid == g]
        listed = [e["payload"]["greenpin_id"] for e in all_events(s, "atomic", "delivered")]
        assert sorted(listed) == sorted(vault), "listed events do not match the vault allocations one to one"
        assert s.stop() == 0
    finally:
        rx.close()


def test_hanging_receiver_times_out_and_is_retried(make_server):
    """Total timeout 15 s: a receiver that never answers in time is given up
    on and the event retried under the same delivery id."""
    rx = Receiver(name="hang").start()
    path = "/hooks/hang"
    try:
        rx.script(path, [Act(200, sleep=25)], default=200)
        s = make_server(conf_one("hang", rx.url(path), backoff="100ms"), creds=creds("hang"))
        d = create_delete(s, "hang", vns_of(POOL)[0])
        hits = rx.wait_hits(2, timeout=45, gid=d["greenpin_id"])
        gap = hits[1].arrived - hits[0].arrived
        assert 13.5 <= gap <= 30, "second attempt %.1fs after the first (total timeout 15 s)" % gap
        assert hits[0].delivery == hits[1].delivery
        assert hits[0].finished is None, "the first request was answered before the retry"
        ev = wait_event(s, "hang", by_gid(d["greenpin_id"]), "delivered")
        assert ev["attempts"] == 2, ev
        rx.release.set()
        assert s.stop() == 0
    finally:
        rx.close()


def test_reload_changes_url_and_secret_and_survives_removed_tenant(make_server):
    """SIGHUP: new events go to the new URL signed with the new secret; a
    tenant removed with events still pending does not stop the worker."""
    rx = Receiver(name="reload").start()
    gone_rx = Receiver(name="gone")  # down: the removed tenant's events stay pending
    pool_g = "+912400000000-+912400000099"
    try:
        def conf(path, secret, with_gone):
            blocks = [hook_tenant("stay", POOL, webhooks_block(secret, deallocation=rx.url(path),
                                                               backoff="100ms"))]
            if with_gone:
                blocks.append(hook_tenant("gone", pool_g, webhooks_block(SECRET, deallocation=gone_rx.url("/g"),
                                                                         backoff="100ms")))
            return hook_config(blocks)

        s = make_server(conf("/one", SECRET, True), creds=creds("stay", "gone"))
        d1 = create_delete(s, "stay", vns_of(POOL)[0])
        [h1] = rx.wait_hits(1, gid=d1["greenpin_id"])
        assert h1.path == "/one"
        check_signature(h1, SECRET)
        dg = create_delete(s, "gone", vns_of(pool_g)[0])
        wait_event(s, "gone", by_gid(dg["greenpin_id"]), "pending")
        s.reload(conf("/two", "new-secret", False))
        assert s.alive()
        d2 = create_delete(s, "stay", vns_of(POOL)[1])
        [h2] = rx.wait_hits(1, gid=d2["greenpin_id"])
        assert h2.path == "/two", "the event went to the old URL after SIGHUP: %r" % h2
        check_signature(h2, "new-secret")
        gone_rx.start()
        time.sleep(1.0)
        assert s.alive(), "server died with a removed tenant's events pending; log:\n" + s.log_tail()
        d3 = create_delete(s, "stay", vns_of(POOL)[2])
        rx.wait_hits(1, gid=d3["greenpin_id"])
        assert s.stop() == 0
    finally:
        rx.close()
        gone_rx.close()
