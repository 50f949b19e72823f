"""Authorization parsing, 401/403, and tenant isolation: another tenant can
neither see nor change an allocation, nor learn that it exists."""
import base64
import uuid

import pytest

from pbdata import err, number, ok, pool, txn


def b64(s):
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize("header", [
    "Basic " + b64("demo-key:demo-token"),
    "basic " + b64("demo-key:demo-token"),
    "BASIC " + b64("demo-key:demo-token"),
    "Basic" + b64("demo-key:demo-token"),
    "Basic   " + b64("demo-key:demo-token"),
])
def test_accepted_authorization_forms(server, header):
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[20]]},
                          "b": {"numbers": [number()]}}, auth=header))
    ok(server.get(d["greenpin_id"], auth=header))


@pytest.mark.parametrize("header", [
    None,  # no header at all
    "Basic " + b64("demo-key:wrong-token"),
    "Basic " + b64("nobody:demo-token"),
    "Basic " + b64("demo-key:"),
    "Basic " + b64(":demo-token"),
    "Basic " + b64("demo-key"),
    "Basic " + b64("demo-key:demo-token") + "garbage!",
    "Basic !!!not-base64!!!",
    "Basic ",
    "Bearer " + b64("demo-key:demo-token"),
    "Digest username=demo-key",
    b64("demo-key:demo-token"),
    "Basic " + b64("acme-key:demo-token"),  # a real key with another tenant's token
    "Basic " + b64("demo-key:demo-token "),
])
def test_rejected_authorization_is_401_code_7(server, header):
    t = txn()
    body = {"transaction_id": t, "a": {"vns": [pool("demo")[20]]}, "b": {"numbers": [number()]}}
    r = server.create(body, auth=False if header is None else header)
    err(r, 401, 7)
    assert "www-authenticate" in r.headers and r.headers["www-authenticate"].lower().startswith("basic"), r.headers
    assert server.list_all("transaction_id=" + t) == []
    err(server.list(auth=False if header is None else header), 401, 7)


def test_unknown_and_wrong_token_answer_alike(server):
    a = server.get(str(uuid.uuid4()), auth=("demo-key", "nope"))
    b = server.get(str(uuid.uuid4()), auth=("no-such-key", "nope"))
    assert (a.status, a.json["code"], a.json["message"]) == (b.status, b.json["code"], b.json["message"])


def test_hashed_token(server):
    ok(server.list(tenant="hashed"))
    err(server.list(tenant="hashed", auth=("hashed-key", "wrong")), 401, 7)


def test_valid_creds_on_other_tenants_path_is_403_code_8(server):
    for path in ["/v1/tenants/acme/greenpin", "/v1/tenants/acme/greenpin/" + str(uuid.uuid4()),
                 "/v1/tenants/no-such-tenant/greenpin"]:
        err(server.request("GET", path, tenant="demo"), 403, 8)
    t = txn()
    err(server.request("POST", "/v1/tenants/acme/greenpin",
                       {"transaction_id": t, "a": {"vns": [pool("acme")[20]]}, "b": {"numbers": [number()]}},
                       tenant="demo"), 403, 8)
    assert server.list_all("transaction_id=" + t, tenant="acme") == []


def same_answer(a, b, gid_a, gid_b):
    """Two 404s that must not be told apart (ids in messages masked)."""
    assert a.status == b.status == 404
    ja, jb = dict(a.json), dict(b.json)
    for j in (ja, jb):
        j.pop("request_id", None)
    ja["message"] = ja["message"].replace(gid_a, "<id>")
    jb["message"] = jb["message"].replace(gid_b, "<id>")
    assert ja == jb, (a, b)


def test_isolation(server):
    n = number()
    t = txn()
    d = ok(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[21]], "numbers": [number()]},
                          "b": {"numbers": [n]}}))
    gid = d["greenpin_id"]
    ghost = str(uuid.uuid4())

    same_answer(server.get(gid, tenant="acme"), server.get(ghost, tenant="acme"), gid, ghost)
    same_answer(server.request("GET", "/v1/tenants/acme/greenvn/" + gid, tenant="acme"),
                server.request("GET", "/v1/tenants/acme/greenvn/" + ghost, tenant="acme"), gid, ghost)
    same_answer(server.update(gid, {"usage": "oneway"}, tenant="acme"),
                server.update(ghost, {"usage": "oneway"}, tenant="acme"), gid, ghost)
    same_answer(server.update(gid, b"{", tenant="acme"), server.update(ghost, b"{", tenant="acme"), gid, ghost)
    same_answer(server.delete(gid, tenant="acme"), server.delete(ghost, tenant="acme"), gid, ghost)
    same_answer(server.add_number(gid, "a", number(), tenant="acme"),
                server.add_number(ghost, "a", number(), tenant="acme"), gid, ghost)
    same_answer(server.remove_number(gid, "b", n, tenant="acme"),
                server.remove_number(ghost, "b", n, tenant="acme"), gid, ghost)

    r = server.bulk({"greenpins": [{"greenpin_id": gid, "usage": "oneway"}]}, tenant="acme")
    assert r.status == 200 and (r.json["response"][0]["status"], r.json["response"][0]["code"]) == (404, 1), r
    assert r.json["metadata"]["failed"] == 1

    assert server.list_all("transaction_id=" + t, tenant="acme") == []
    assert server.list_all("number=" + n.replace("+", "%2B"), tenant="acme") == []
    assert all(x["greenpin_id"] != gid for x in server.list_all(tenant="acme"))

    # the same transaction_id is free in acme: no 409 18 leaking demo's record
    d2 = ok(server.create({"transaction_id": t, "a": {"vns": [pool("acme")[21]]}, "b": {"numbers": [n]}},
                          tenant="acme"))
    assert d2["greenpin_id"] != gid
    # and demo's allocation is untouched
    assert ok(server.get(gid)) == d


def test_metrics_and_healthz_need_no_tenant_auth(server):
    r = server.request("GET", "/healthz", auth=False)
    assert r.status == 200 and r.json == {"status": "ok"}, r
    r = server.request("GET", "/metrics", auth=False)
    assert r.status == 200 and b"pinbridge_http_requests_total" in r.raw, r

