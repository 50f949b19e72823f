"""POST /greenpin: defaults, normalisation, VN following and auto-pick,
transaction_id rules, durations and the tenant's timezone."""
import time

import pytest

from pbdata import (UUID_RE, err, national, number, numbers, nums, ok, parse_time, pool, txn,
                    vns)

DAY = 86400


def test_defaults(server, dealer):
    v = dealer.take("demo")[0]
    n = number()
    t0 = time.time()
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v]}, "b": {"numbers": [n]}}), "POST")
    assert UUID_RE.match(d["greenpin_id"])
    assert d["state"] == "active" and d["usage"] == "twoway"
    assert vns(d, "a") == [v] and vns(d, "b") == [v], "b.vns missing: takes a.vns"
    assert nums(d, "b") == [n] and nums(d, "a") == []
    assert len(d["a"]["pin"]) == 4 and d["a"]["pin"].isdigit(), "default pin_length is 4"
    assert "pin" not in d["b"]
    exp = parse_time(d["deallocation_time"])
    assert t0 + 180 * DAY - 10 <= exp <= time.time() + 180 * DAY + 10, "default duration is 180d"


def test_a_vns_taken_from_b(server, dealer):
    v1, v2 = dealer.take("demo", 2)
    d = ok(server.create({"transaction_id": txn(), "a": {"numbers": [number()]},
                          "b": {"vns": [v1, v2], "numbers": [number()]}}))
    assert vns(d, "a") == [v1, v2] and vns(d, "b") == [v1, v2]


def test_create_then_get_returns_same_record(server):
    d = ok(server.create({"transaction_id": txn(), "a": {"numbers": [number()], "vns": [pool("demo")[0]]},
                          "b": {"numbers": [number()]}, "usage": "oneway"}))
    assert d["usage"] == "oneway"
    assert ok(server.get(d["greenpin_id"]), "GET") == d


@pytest.mark.parametrize("form", ["national", "trunk0", "00", "cc", "plus", "spaced", "punct"])
def test_number_normalisation(server, form):
    n = number()
    nat = national(n)
    raw = {
        "national": nat,
        "trunk0": "0" + nat,
        "00": "0091" + nat,
        "cc": "91" + nat,
        "plus": n,
        "spaced": "+91 %s %s" % (nat[:5], nat[5:]),
        "punct": "(%s) %s-%s.%s" % (nat[:3], nat[3:6], nat[6:8], nat[8:]),
    }[form]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": ["0" + national(pool("demo")[1])]},
                          "b": {"numbers": [raw]}}))
    assert nums(d, "b") == [n], "%r should normalise to %s" % (raw, n)
    assert vns(d, "a") == [pool("demo")[1]]


@pytest.mark.parametrize("raw", ["6292134403", "06292134403", "00916292134403", "916292134403",
                                 "+91 62921-34403"])
def test_vn_normalisation(server, raw):
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [raw]}, "b": {"numbers": [number()]}}))
    assert vns(d, "a") == ["+916292134403"]


def test_given_pin_keeps_leading_zeros_and_pin_length_string(server, dealer):
    v = dealer.take("demo")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "0042"},
                          "b": {"numbers": [number()]}}))
    assert d["a"]["pin"] == "0042"
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin_length": "6"},
                          "b": {"numbers": [number()]}}))
    assert len(d["a"]["pin"]) == 6 and d["a"]["pin"].isdigit()
    assert not d["a"]["pin"].startswith("0042") and d["a"]["pin"][:4] != "0042"


@pytest.mark.parametrize("length", [1, 2, 3, 5, 7, 9])
def test_generated_pin_length(server, dealer, length):
    v = dealer.take("pins")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin_length": length},
                          "b": {"numbers": [number()], "pin_length": str(length)}}, tenant="pins"))
    for s in "ab":
        assert len(d[s]["pin"]) == length and d[s]["pin"].isdigit(), d
    assert not d["a"]["pin"].startswith(d["b"]["pin"]) and not d["b"]["pin"].startswith(d["a"]["pin"])


def test_disabled_side_pin_is_ignored_and_indexed_nowhere(server, dealer):
    v = dealer.take("demo")[0]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "5555"},
                          "b": {"numbers": [number()], "pin": "7777", "pin_length": 7}}))
    assert "pin" not in d["b"] and "pin_length" not in d["b"]
    # b's given pin was not indexed: the same PIN is free for side a on that VN
    d2 = ok(server.create({"transaction_id": txn(), "a": {"vns": [v], "pin": "7777"},
                           "b": {"numbers": [number()]}}))
    assert d2["a"]["pin"] == "7777"


def test_unknown_fields_ignored(server):
    d = ok(server.create({"transaction_id": txn(), "colour": "green", "a": {"extra": [1, 2]},
                          "b": {"numbers": [number()], "note": {"x": 1}}, "vns": 7}))
    assert d["state"] == "active"


def test_ten_numbers_and_vns_per_side(server):
    p = pool("demo")[10:20]
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": p, "numbers": numbers(10)},
                          "b": {"numbers": numbers(10)}}))
    assert len(vns(d, "a")) == 10 and len(nums(d, "a")) == 10 and len(nums(d, "b")) == 10
    assert vns(d, "b") == p


def test_transaction_id_length(server):
    t = txn()
    d = ok(server.create({"transaction_id": t.ljust(128, "x"), "b": {"numbers": [number()]},
                          "a": {"vns": [pool("demo")[2]]}}))
    assert d["transaction_id"] == t.ljust(128, "x")
    r = server.create({"transaction_id": t.ljust(129, "y"), "b": {"numbers": [number()]},
                       "a": {"vns": [pool("demo")[2]]}})
    err(r, 400, 5)


def test_transaction_id_missing_is_code_3(server):
    err(server.create({"b": {"numbers": [number()]}, "a": {"vns": [pool("demo")[2]]}}), 400, 3)


def test_duplicate_transaction_id_409_18_with_existing_record(server):
    t = txn()
    d = ok(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[3]]}, "b": {"numbers": [number()]}}))
    # a different body with the same transaction_id: still 18, and the record is the first one
    r = server.create({"transaction_id": t, "a": {"vns": [pool("demo")[4]]}, "b": {"numbers": [number()]}})
    j = err(r, 409, 18)
    assert j["data"] == d, "409 code 18 must carry the existing record"
    listed = server.list_all("transaction_id=" + t)
    assert [x["greenpin_id"] for x in listed] == [d["greenpin_id"]]


def test_transaction_id_reusable_after_delete(server):
    t = txn()
    d = ok(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[3]]}, "b": {"numbers": [number()]}}))
    ok(server.delete(d["greenpin_id"]))
    d2 = ok(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[3]]}, "b": {"numbers": [number()]}}))
    assert d2["greenpin_id"] != d["greenpin_id"] and d2["transaction_id"] == t


def test_transaction_ids_are_per_tenant(server):
    t = txn()
    ok(server.create({"transaction_id": t, "a": {"vns": [pool("demo")[3]]}, "b": {"numbers": [number()]}}))
    ok(server.create({"transaction_id": t, "a": {"vns": [pool("acme")[3]]}, "b": {"numbers": [number()]}},
                     tenant="acme"))


@pytest.mark.parametrize("dur,secs", [("90s", 90), ("2m", 120), ("3h", 3 * 3600), ("1d", DAY),
                                      ("180d", 180 * DAY)])
def test_duration_units(server, dur, secs):
    t0 = time.time()
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[5]]},
                          "b": {"numbers": [number()]}, "deallocation_policy": {"duration": dur}}))
    exp = parse_time(d["deallocation_time"])
    assert t0 + secs - 5 <= exp <= time.time() + secs + 5, (dur, d["deallocation_time"])


@pytest.mark.parametrize("dur", ["181d", "10x", "", "s", "-5s", "1.5h", 20, ["1s"]])
def test_bad_duration_is_code_5(server, dur):
    t = txn()
    r = server.create({"transaction_id": t, "a": {"vns": [pool("demo")[5]]},
                       "b": {"numbers": [number()]}, "deallocation_policy": {"duration": dur}})
    err(r, 400, 5)
    assert server.list_all("transaction_id=" + t) == []


def test_deallocation_time_in_tenant_timezone(server):
    t0 = time.time()
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [pool("acme")[5]]},
                          "b": {"numbers": [number()]}, "deallocation_policy": {"duration": "1h"}},
                         tenant="acme"))
    exp = parse_time(d["deallocation_time"], offset_s=5 * 3600 + 1800)
    assert t0 + 3600 - 5 <= exp <= time.time() + 3600 + 5, "acme's timezone is +05:30: %s" % d


def test_auto_pick_vn_where_pin_is_free(server):
    v0, v1 = pool("auto")
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v0], "pin": "55"},
                      "b": {"numbers": [number()]}}, tenant="auto"))
    d = ok(server.create({"transaction_id": txn(), "a": {"pin": "55"}, "b": {"numbers": [number()]}},
                         tenant="auto"))
    assert vns(d, "a") == [v1] and vns(d, "b") == [v1], "the only VN where 55 is free is %s: %r" % (v1, d)
    err(server.create({"transaction_id": txn(), "a": {"pin": "55"}, "b": {"numbers": [number()]}},
                      tenant="auto"), 452, 4)
    # a PIN that is free somewhere still gets a VN
    d = ok(server.create({"transaction_id": txn(), "b": {"numbers": [number()]}}, tenant="auto"))
    assert vns(d, "a")[0] in (v0, v1) and len(vns(d, "a")) == 1


def test_auto_pick_vn_where_r1_holds(server):
    v0, v1 = pool("auto2")
    n = number()
    ok(server.create({"transaction_id": txn(), "a": {"vns": [v0]}, "b": {"numbers": [n]}}, tenant="auto2"))
    d = ok(server.create({"transaction_id": txn(), "b": {"numbers": [n]}}, tenant="auto2"))
    assert vns(d, "a") == [v1] and vns(d, "b") == [v1], "b=%s is a direct route on %s already" % (n, v0)
    # R1 holds on no VN of the pool now: a routing conflict (19) or no VN (4), never a create
    r = server.create({"transaction_id": txn(), "b": {"numbers": [n]}}, tenant="auto2")
    assert (r.status, r.json and r.json.get("code")) in ((409, 19), (452, 4)), r


NORMALISE = [
    # raw -> E.164 (tenant demo: country 91, national_length 10)
    ("9170000001", "+919170000001"),       # 10 digits starting with 91: national, not the country code
    ("919170000002", "+919170000002"),     # 12 digits starting with 91: country code present
    ("97000000031", "+9197000000031"),     # 11 digits, no 91 prefix: national gets +91
    ("+9170000004", "+9170000004"),        # + kept (10 digits, valid E.164)
    ("+919700000005123", "+919700000005123"),  # 15 digits: the longest valid
    ("0097 0000 0006", "+9700000006"),     # 00 -> + (country 970: not allowed -> 15, see below)
    ("0 97000 00007", "+919700000007"),    # trunk 0 dropped
    ("(97) 000.000-08", "+919700000008"),
]


@pytest.mark.parametrize("raw,want", [c for c in NORMALISE if not c[1].startswith("+970")])
def test_normalisation_rules(server, raw, want):
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[40]]}, "b": {"numbers": [raw]}}))
    assert nums(d, "b") == [want], raw


def test_double_zero_to_other_country_is_15(server):
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[40]]},
                       "b": {"numbers": ["0097 0000 0006"]}}), 403, 15)


@pytest.mark.parametrize("raw", ["12345", "+", "0", "00", "+9197000000091234", "9800/000000", "98000#00000"])
def test_normalisation_invalid(server, raw):
    err(server.create({"transaction_id": txn(), "a": {"vns": [pool("demo")[40]]}, "b": {"numbers": [raw]}}), 400, 16)
