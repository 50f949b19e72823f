"""Bad input (each answered with a clear error and nothing changed) and
DESIGN §2's error precedence: auth → version → target → body → conflicts."""
import uuid

import pytest

from pbdata import err, national, number, numbers, ok, pool, txn

HASHED_VN = "+913000000000"  # the "hashed" tenant is used only here: its list stays ours


def valid_body(**over):
    body = {"transaction_id": txn(), "a": {"vns": [HASHED_VN], "numbers": [number()]},
            "b": {"numbers": [number()]}}
    body.update(over)
    return body


def hashed_count(server):
    return len(server.list_all(tenant="hashed"))


def body_with(path, value):
    b = valid_body()
    cur = b
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return b


MALFORMED = {
    "truncated": b'{"transaction_id": "x", "a": {',
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "string": b'"hello"',
    "trailing garbage": b'{"transaction_id": "x", "b": {"numbers": ["9800000000"]}} junk',
    "single quotes": b"{'transaction_id': 'x'}",
    "invalid utf-8 in value": b'{"transaction_id": "\xff\xfe", "a": {"vns": ["+913000000000"]},'
                              b' "b": {"numbers": ["9811111111"]}}',
    "invalid utf-8 in unknown field": b'{"note": "\xc3\x28", "transaction_id": "u8", "a": {"vns": '
                                      b'["+913000000000"]}, "b": {"numbers": ["9811111112"]}}',
    "overlong utf-8": b'{"transaction_id": "\xc0\xaf", "a": {"vns": ["+913000000000"]},'
                      b' "b": {"numbers": ["9811111113"]}}',
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_json_is_code_5(server, name):
    before = hashed_count(server)
    err(server.create(MALFORMED[name], tenant="hashed"), 400, 5)
    assert hashed_count(server) == before


WRONG = [
    (("transaction_id",), 5),
    (("transaction_id",), ["x"]),
    (("a",), [1]),
    (("a",), "x"),
    (("b", "numbers"), "9800000000"),
    (("b", "numbers"), [9800000000]),
    (("a", "vns"), "+913000000000"),
    (("a", "pin"), 1234),
    (("a", "pin"), "12a4"),
    (("a", "pin"), ""),
    (("a", "pin"), "1234567890"),
    (("a", "pin_length"), 0),
    (("a", "pin_length"), 10),
    (("a", "pin_length"), "abc"),
    (("a", "pin_length"), 2.5),
    (("a", "pin_length"), -1),
    (("a", "pin_length"), True),
    (("usage",), "sideways"),
    (("usage",), 1),
    (("deallocation_policy",), "1d"),
    (("b", "numbers"), None),
]


@pytest.mark.parametrize("path,value", WRONG, ids=["%s=%r" % (".".join(p), v) for p, v in WRONG])
def test_wrong_type_or_value_is_code_5(server, path, value):
    before = hashed_count(server)
    b = body_with(path, value)
    r = server.create(b, tenant="hashed")
    if path == ("b", "numbers") and value is None:
        # null may read as "not given" (then a's numbers make it valid) but never as a number
        assert r.status in (200, 400), r
        if r.status == 400:
            assert r.json["code"] == 5, r
        return
    err(r, 400, 5)
    assert hashed_count(server) == before


def test_eleven_numbers_or_vns_is_code_5(server):
    before = hashed_count(server)
    err(server.create(body_with(("b", "numbers"), numbers(11)), tenant="hashed"), 400, 5)
    vns11 = ["+91300000000%d" % i for i in range(10)] + ["+913000000000"]
    err(server.create(body_with(("a", "vns"), vns11), tenant="hashed"), 400, 5)
    assert hashed_count(server) == before


def test_body_over_1mib_is_413_code_5(server):
    before = hashed_count(server)
    b = valid_body()
    b["pad"] = ""
    base = len(__import__("json").dumps(b).encode())
    b["pad"] = "x" * (1024 * 1024 + 1 - base)
    raw = __import__("json").dumps(b).encode()
    assert len(raw) == 1024 * 1024 + 1
    err(server.create(raw, tenant="hashed", timeout=60), 413, 5)
    assert hashed_count(server) == before
    # 8 MiB: refused without the server buffering it all or dying
    big = b'{"transaction_id": "' + b"y" * (8 * 1024 * 1024) + b'"}'
    err(server.create(big, tenant="hashed", timeout=60), 413, 5)
    assert hashed_count(server) == before
    assert server.request("GET", "/healthz", auth=False).status == 200


def test_body_of_exactly_1mib_is_accepted(server):
    import json
    b = valid_body()
    b["pad"] = ""
    base = len(json.dumps(b).encode())
    b["pad"] = "x" * (1024 * 1024 - base)
    raw = json.dumps(b).encode()
    assert len(raw) == 1024 * 1024
    ok(server.create(raw, tenant="hashed", timeout=60))


def test_mandatory_missing_is_code_3(server):
    v = pool("demo")[7]
    err(server.create({"a": {"vns": [v]}, "b": {"numbers": [number()]}}), 400, 3)
    err(server.create({"transaction_id": txn(), "a": {"vns": [v]}}), 400, 3)
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "numbers": []}, "b": {"numbers": []}}), 400, 3)
    err(server.create({"transaction_id": txn()}), 400, 3)


@pytest.mark.parametrize("raw", ["12ab", "+123", "+1234567", "+1234567890123456", "abc", "",
                                 "++919800000000", "+91 98x0000000"])
def test_invalid_number_is_code_16(server, raw):
    t = txn()
    err(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[7]]}, "b": {"numbers": [raw]}}), 400, 16)
    assert server.list_all("transaction_id=" + t) == []


@pytest.mark.parametrize("vn", [pool("demo")[99], pool("acme")[1], pool("nopin")[50]])
def test_party_number_that_is_a_vn_is_code_16(server, vn):
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]]},
                       "b": {"numbers": [vn]}}), 400, 16)
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]], "numbers": [vn]},
                       "b": {"numbers": [number()]}}), 400, 16)


@pytest.mark.parametrize("raw", ["+14155550123", "001 415 555 0123", "+447911123456"])
def test_country_not_allowed_is_403_code_15(server, raw):
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]]}, "b": {"numbers": [raw]}}), 403, 15)


def test_duplicate_number_in_list_is_409_code_13(server):
    n = number()
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]]},
                       "b": {"numbers": [n, "0" + national(n)]}}), 409, 13)


def test_number_on_both_sides_is_409_code_14(server):
    n = number()
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]], "numbers": [national(n)]},
                       "b": {"numbers": [n]}}), 409, 14)


@pytest.mark.parametrize("vn", [pool("acme")[2], "+919999999999", "+916292139999"])
def test_vn_outside_pool_is_403_code_8(server, vn):
    err(server.create({"transaction_id": txn(), "a": {"vns": [vn]}, "b": {"numbers": [number()]}}), 403, 8)
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]]},
                       "b": {"vns": [vn], "numbers": [number()]}}), 403, 8)


@pytest.mark.parametrize("version", ["1", "v1"])
def test_api_version_accepted(server, version):
    ok(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[7]]}, "b": {"numbers": [number()]}},
                     headers=[("X-Api-Version", version)]))


@pytest.mark.parametrize("version", ["2", "v2", "1.1", "latest"])
def test_api_version_other_is_code_9(server, version):
    t = txn()
    err(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[7]]}, "b": {"numbers": [number()]}},
                      headers=[("X-Api-Version", version)]), 400, 9)
    assert server.list_all("transaction_id=" + t) == []
    err(server.get(str(uuid.uuid4()), headers=[("X-Api-Version", version)]), 400, 9)


# --- precedence ---

def existing(server, dealer=None):
    v = dealer.take("demo")[0] if dealer else pool("demo")[8]
    return ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [number()]}}))


def test_auth_before_everything(server):
    d = existing(server)
    bad = ("demo-key", "wrong")
    err(server.create(b"{garbage", auth=bad), 401, 7)
    err(server.create(b"{garbage", auth=bad, headers=[("X-Api-Version", "9")]), 401, 7)
    err(server.update(str(uuid.uuid4()), b"{", auth=bad), 401, 7)
    err(server.get(d["greenpin_id"], auth=False, headers=[("X-Api-Version", "9")]), 401, 7)
    big = b'{"transaction_id": "' + b"z" * (2 * 1024 * 1024) + b'"}'
    err(server.create(big, auth=bad, timeout=60), 401, 7)


def test_other_tenant_path_before_version_target_body(server):
    d = existing(server)
    r = server.request("PUT", "/v1/tenants/acme/greenpin/" + d["greenpin_id"], b"{",
                       tenant="demo", headers=[("X-Api-Version", "7")])
    err(r, 403, 8)
    err(server.request("POST", "/v1/tenants/acme/greenpin", b"{", tenant="demo"), 403, 8)


def test_version_before_target(server):
    err(server.update(str(uuid.uuid4()), b"{", headers=[("X-Api-Version", "2")]), 400, 9)


def test_target_before_body(server, dealer):
    err(server.update(str(uuid.uuid4()), b"{not json"), 404, 1)
    err(server.update(str(uuid.uuid4()), {"a": {"pin": 12}}), 404, 1)
    d = existing(server, dealer)
    ok(server.delete(d["greenpin_id"]))
    err(server.update(d["greenpin_id"], b"{not json"), 410, 22)
    err(server.update(d["greenpin_id"], {}), 410, 22)
    err(server.add_number(str(uuid.uuid4()), "a", "bogus"), 404, 1)
    d2 = existing(server, dealer)
    err(server.remove_number(d2["greenpin_id"], "a", "bogus"), 404, 20)


def test_body_order(server):
    v = pool("demo")[8]
    other_vn = pool("acme")[3]
    n = number()
    # 5 before 3
    err(server.create({"a": {"vns": [v], "pin": 12}, "b": {"numbers": [number()]}}), 400, 5)
    # 3 before 16
    err(server.create({"a": {"vns": [v]}, "b": {"numbers": ["bogus"]}}), 400, 3)
    # 16 before 13, 14, 15 and 8
    err(server.create({"transaction_id": txn(), "a": {"vns": [other_vn], "numbers": [n, n]},
                       "b": {"numbers": ["bogus", n, "+14155550123"]}}), 400, 16)
    # 13 before 14 and 8
    err(server.create({"transaction_id": txn(), "a": {"vns": [other_vn], "numbers": [n, n]},
                       "b": {"numbers": [n]}}), 409, 13)
    # 14 before 15 and 8
    err(server.create({"transaction_id": txn(), "a": {"vns": [other_vn], "numbers": [n, "+14155550123"]},
                       "b": {"numbers": [n]}}), 409, 14)
    # 15 before 8
    err(server.create({"transaction_id": txn(), "a": {"vns": [other_vn]},
                       "b": {"numbers": ["+14155550123"]}}), 403, 15)


def test_vn_pool_before_call_flow(server):
    # nopin tenant, oneway, a open with pin.a off: code 50; with a foreign VN: 8 first
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[9]]},
                       "b": {"numbers": [number()]}, "usage": "oneway"}, tenant="nopin"), 403, 8)
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("nopin")[98]]},
                       "b": {"numbers": [number()]}, "usage": "oneway"}, tenant="nopin"), 422, 50)


def test_body_before_conflict(server, dealer):
    v = dealer.take("demo")[0]
    n = number()
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "42"}, "b": {"numbers": [n]}}))
    t = d["transaction_id"]
    # active transaction_id, but the body is invalid: the body's error wins
    err(server.create({"transaction_id": t, "a": {"vns": [v]}, "b": {"numbers": ["bogus"]}}), 400, 16)
    err(server.create({"transaction_id": t, "a": {"vns": [pool("acme")[4]]}, "b": {"numbers": [n]}}), 403, 8)
    # 18 before 19 and 4
    j = err(server.create({"transaction_id": t, "a": {"vns": [v], "pin": "42"}, "b": {"numbers": [n]}}), 409, 18)
    assert j["data"]["greenpin_id"] == d["greenpin_id"]
    # 19 before 4
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "42"}, "b": {"numbers": [n]}}), 409, 19)
    err(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "42"},
                       "b": {"numbers": [number()]}}), 452, 4)


def test_list_filter_precedence(server):
    err(server.list("foo=bar&created_from=2030-01-01%2000:00:00&created_to=2020-01-01%2000:00:00"), 400, 2)
    err(server.list("limit=501&foo=bar"), 400, 5)


@pytest.mark.parametrize("method,path,body", [
    ("PUT", "/v1/tenants/demo/greenpin", {"greenpins": []}),
    ("GET", "/v1/tenants/demo/greenpin", None),
    ("DELETE", "/v1/tenants/demo/greenvn/" + str(uuid.uuid4()), None),
    ("POST", "/v1/tenants/demo/greenpin/%s/a/numbers" % uuid.uuid4(), {"number": "9800000000"}),
])
def test_api_version_checked_on_every_route(server, method, path, body):
    err(server.request(method, path, body, headers=[("X-Api-Version", "3")]), 400, 9)


def test_list_invalid_number_or_vn_is_16(server):
    err(server.list("number=bogus"), 400, 16)
    err(server.list("vn=12"), 400, 16)
