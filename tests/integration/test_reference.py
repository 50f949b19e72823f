"""The reference's own examples (greenpin-api.txt) against the embedded
default: create verbatim, GET/DELETE via /greenvn, the update example and the
bulk update example with their X-masked digits filled in."""
import time

from pbdata import TIME_RE, UUID_RE, err, ok, parse_time
from pbserver import basic

CREATE_VERBATIM = """{
"transaction_id": "random_string",
    "a": {
        "vns": [
            "6292134471",
            "6292134464"
        ],
        "numbers": [
            "7987686144"
        ],
        "pin": "123",
        "pin_length": 2
    },
    "b": {
        "vns": [
            "6292134465",
            "6292134464"
        ],
        "numbers": [
            "9956555625"
        ],
        "pin": "234",
        "pin_length": "3"
    },
    "usage": "twoway",
    "deallocation_policy": {
        "duration": "1200s"
    }
}
"""

# The update example (curl) with 629XXXXX71 -> 6292134471 and so on.
UPDATE_FILLED = """{
"a": {
    "vns": [
        "6292134471",
        "6292134464"
    ],
    "numbers": [
        "7987686144"
    ],
    "pin": "123",
    "pin_length": 3
},
"b": {
    "vns": [
        "6292134465",
        "6292134464"
    ],
    "numbers": [
        "9956555625"
    ],
    "pin": "234",
    "pin_length": "3"
},
"usage": "twoway",
"deallocation_policy": {
    "duration": "1200s"
}
}"""

BULK_FILLED = """{
"greenpins": [{
        "greenpin_id": "GREENPIN_ID1",
        "a": {
            "vns": [
                "6292134471",
                "6292134464"
            ],
            "numbers": [
                "7987686144"
            ],
            "pin": "123",
            "pin_length": 3
        },
        "b": {
            "vns": [
                "6292134465",
                "6292134464"
            ],
            "numbers": [
                "9956555625"
            ],
            "pin": "234",
            "pin_length": "3"
        },
        "usage": "twoway",
        "deallocation_policy": {
            "duration": "1200s"
        }
    },
    {
        "greenpin_id": "GREENPIN_ID2",
        "a": {
            "vns": [
                "6292134471",
                "6292134464"
            ],
            "numbers": [
                "7987686144"
            ],
            "pin": "123",
            "pin_length": 3
        },
        "b": {
            "vns": [
                "6292134465",
                "6292134464"
            ],
            "numbers": [
                "9956555625"
            ],
            "pin": "234",
            "pin_length": "3"
        },
        "usage": "twoway",
        "deallocation_policy": {
            "duration": "1200s"
        }
    }
]
}
"""

REF_HEADERS = [("Content-Type", "application/json"), ("cache-control", "no-cache")]


def assert_reference_record(d, txn="random_string"):
    assert d["transaction_id"] == txn
    assert UUID_RE.match(d["greenpin_id"]), d
    assert d["a"]["vns"] == ["+916292134471", "+916292134464"]
    assert d["a"]["numbers"] == ["+917987686144"]
    assert d["a"]["pin"] == "123"  # given pin wins over pin_length 2
    assert d["b"]["vns"] == ["+916292134465", "+916292134464"]
    assert d["b"]["numbers"] == ["+919956555625"]
    assert "pin" not in d["b"], "demo has B PINs disabled: no b.pin in responses: %r" % d
    assert d["usage"] == "twoway"
    assert TIME_RE.match(d["deallocation_time"]), d


def test_reference_create_get_update_delete(make_server):
    s = make_server(None)  # embedded default
    t0 = time.time()
    r = s.request("POST", "/v1/tenants/demo/greenpin", CREATE_VERBATIM,
                  auth=basic("demo-key", "demo-token"), headers=REF_HEADERS)
    d = ok(r, "POST")
    assert_reference_record(d)
    assert d["state"] == "active"
    exp = parse_time(d["deallocation_time"])
    assert t0 + 1200 - 5 <= exp <= time.time() + 1200 + 5, d
    gid = d["greenpin_id"]

    g = ok(s.request("GET", "/v1/tenants/demo/greenvn/" + gid), "GET")
    assert g == d

    g2 = ok(s.get(gid), "GET")
    assert g2 == d

    # a retried POST learns its greenpin_id
    r = s.request("POST", "/v1/tenants/demo/greenpin", CREATE_VERBATIM, headers=REF_HEADERS)
    j = err(r, 409, 18)
    assert j["data"]["greenpin_id"] == gid and j["data"]["transaction_id"] == "random_string", j

    # the update example, no space after "Basic" as its Node code sends it
    time.sleep(1.1)
    t1 = time.time()
    u = ok(s.request("PUT", "/v1/tenants/demo/greenpin/" + gid, UPDATE_FILLED,
                     auth=basic("demo-key", "demo-token", space=False), headers=REF_HEADERS), "PUT")
    assert_reference_record(u)
    assert u["greenpin_id"] == gid and u["state"] == "active"
    assert t1 + 1200 - 5 <= parse_time(u["deallocation_time"]) <= time.time() + 1200 + 5, u

    dl = ok(s.request("DELETE", "/v1/tenants/demo/greenvn/" + gid), "DELETE")
    assert dl["greenpin_id"] == gid and dl["state"] == "vault", dl
    assert dl["a"]["numbers"] == ["+917987686144"]

    g3 = ok(s.request("GET", "/v1/tenants/demo/greenvn/" + gid))
    assert g3["state"] == "vault" and g3["greenpin_id"] == gid

    err(s.update(gid, UPDATE_FILLED), 410, 22)
    err(s.request("DELETE", "/v1/tenants/demo/greenvn/" + gid), 410, 22)

    # everything freed: the same create works again, as a new allocation
    d2 = ok(s.request("POST", "/v1/tenants/demo/greenpin", CREATE_VERBATIM, headers=REF_HEADERS))
    assert d2["greenpin_id"] != gid and d2["a"]["pin"] == "123"
    assert s.stop() == 0


def test_reference_bulk_update_second_item_conflicts(make_server):
    s = make_server(None)
    first = ok(s.create({"transaction_id": "bulk-1", "a": {"vns": ["6292134401"]},
                         "b": {"numbers": ["9000000001"]}}))
    second = ok(s.create({"transaction_id": "bulk-2", "a": {"vns": ["6292134402"]},
                          "b": {"numbers": ["9000000002"]}}))
    body = BULK_FILLED.replace("GREENPIN_ID1", first["greenpin_id"]).replace(
        "GREENPIN_ID2", second["greenpin_id"])
    r = s.request("PUT", "/v1/tenants/demo/greenpin", body,
                  auth=basic("demo-key", "demo-token", space=False), headers=REF_HEADERS)
    assert r.status == 200, r
    j = r.json
    assert set(j) >= {"request_id", "method", "http_code", "metadata", "response"}, j
    assert j["method"] == "PUT" and j["http_code"] == 207
    assert j["metadata"] == {"failed": 1, "total": 2, "success": 1}, j
    assert len(j["response"]) == 2
    r0, r1 = j["response"]
    assert r0["success"] is True and r0["status"] == 200 and r0["code"] is None, r0
    assert_reference_record(r0["data"], txn="bulk-1")
    assert r0["data"]["greenpin_id"] == first["greenpin_id"]
    assert r1["success"] is False and r1["status"] == 409 and r1["code"] == 19, r1
    assert isinstance(r1["message"], str) and r1["message"]

    # the failed item changed nothing
    g = ok(s.get(second["greenpin_id"]))
    assert g == second
    g1 = ok(s.get(first["greenpin_id"]))
    assert g1["a"]["pin"] == "123" and g1["b"]["numbers"] == ["+919956555625"]
