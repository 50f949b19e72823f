"""/healthz and /metrics: counters that follow the requests made, store
gauges that follow the allocations, and the optional bearer token."""
import re

from pbdata import TRUNK, err, number, ok, txn

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not Prometheus text: %r" % line
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def total(samples, name, **labels):
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items()))


def names(samples):
    return {n for n, _, _ in samples}


def conf(token=None):
    http = 'http = { metrics_token = "%s"; };\n' % token if token else ""
    return ('store = { map_size = "64M"; };\n' + http + TRUNK +
            'tenants = ( { id = "demo"; api_key = "demo-key"; api_token = "demo-token"; country = "91";\n'
            '  vns = ["+916292134400-+916292134499"]; } );\n')


def metrics(s, **kw):
    r = s.request("GET", "/metrics", auth=False, **kw)
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    return parse(r.raw.decode())


def test_healthz(server):
    r = server.request("GET", "/healthz", auth=False)
    assert r.status == 200 and r.json == {"status": "ok"}, r


def test_metrics_follow_requests(make_server):
    s = make_server(conf())
    coll, item = "/v1/tenants/{t}/greenpin", "/v1/tenants/{t}/greenpin/{id}"
    m0 = metrics(s)
    made = [ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134401"]}, "b": {"numbers": [number()]}}))
            for _ in range(3)]
    err(s.get("6b0e3f0e-1d7e-4c7e-9d43-4f5a3a9c0a11"), 404, 1)
    err(s.create({"transaction_id": txn()}, auth=("demo-key", "bad")), 401, 7)
    ok(s.delete(made[0]["greenpin_id"]))
    m = metrics(s)

    assert {"pinbridge_http_requests_total", "pinbridge_allocations_active",
            "pinbridge_store_map_size_bytes", "pinbridge_store_map_used_bytes"} <= names(m), names(m)
    assert any(n.startswith("pinbridge_http_request_duration_seconds") for n in names(m))
    assert any(n.startswith("pinbridge_store_batch_jobs") for n in names(m))

    def delta(**lab):
        return total(m, "pinbridge_http_requests_total", **lab) - total(m0, "pinbridge_http_requests_total", **lab)

    assert delta(route=coll, method="POST", status="200") == 3
    assert delta(route=coll, method="POST", status="401") == 1
    assert delta(route=item, method="GET", status="404") == 1
    assert delta(route=item, method="DELETE", status="200") == 1
    assert total(m, "pinbridge_allocations_active", tenant="demo") == 2
    size = total(m, "pinbridge_store_map_size_bytes")
    assert size == 64 * 1024 * 1024
    assert 0 < total(m, "pinbridge_store_map_used_bytes") <= size
    # 4 write jobs (3 creates, 1 delete) at least went through group commit
    assert total(m, "pinbridge_store_batch_jobs_sum") >= 4
    assert 1 <= total(m, "pinbridge_store_batch_jobs_count") <= total(m, "pinbridge_store_batch_jobs_sum")
    hist = total(m, "pinbridge_http_request_duration_seconds_count", route=coll)
    assert hist >= 4
    assert total(m, "pinbridge_http_request_duration_seconds_bucket", route=coll, le="+Inf") == hist
    assert s.stop() == 0


def test_metrics_token(make_server):
    s = make_server(conf(token="m-secret"))
    r = s.request("GET", "/metrics", auth=False)
    assert r.status == 401 and "www-authenticate" in r.headers, r
    r = s.request("GET", "/metrics", auth="Bearer wrong")
    assert r.status == 401, r
    r = s.request("GET", "/metrics", auth="Basic " + "ZGVtby1rZXk6ZGVtby10b2tlbg==")
    assert r.status == 401, r
    assert metrics(s, headers=[("Authorization", "Bearer m-secret")])
    assert s.request("GET", "/healthz", auth=False).status == 200
    assert s.stop() == 0


def test_active_gauge_follows_expiry(make_server):
    s = make_server('sweep_interval = "100ms";\n' + conf())
    import time
    # 3 s, not 1 s: the exact count below must not race the sweeper on a busy machine
    for _ in range(3):
        ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134402"]}, "b": {"numbers": [number()]},
                     "deallocation_policy": {"duration": "3s"}}))
    ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134402"]}, "b": {"numbers": [number()]}}))
    assert total(metrics(s), "pinbridge_allocations_active", tenant="demo") == 4
    end = time.monotonic() + 15
    while time.monotonic() < end and total(metrics(s), "pinbridge_allocations_active", tenant="demo") != 1:
        time.sleep(0.1)
    assert total(metrics(s), "pinbridge_allocations_active", tenant="demo") == 1
    # the gauge is rebuilt correctly after a restart
    assert s.stop() == 0
    s.start()
    assert total(metrics(s), "pinbridge_allocations_active", tenant="demo") == 1
    assert s.stop() == 0
