"""Configuration: bad files at start (one line naming file, line, setting;
exit 2), --check-config, defaults for omitted settings, and SIGHUP reloads,
applied or refused whole."""
import os
import re
import subprocess

import pytest

from pbdata import TRUNK, config_text, err, number, ok, txn
from pbserver import BINARY, HOST, free_port

DEMO = ('  { id = "demo"; api_key = "demo-key"; api_token = "demo-token"; country = "91";\n'
        '    vns = ["+916292134400-+916292134499"]; pin = { a = true; b = %s; }; }')
ACME = ('  { id = "acme"; api_key = "acme-key"; api_token = "%s"; country = "91";\n'
        '    vns = ["%s"]; }')


def conf(pin_b="false", acme=None, acme_token="acme-token", demo_pool=None, extra_tenant=None):
    tenants = [DEMO % pin_b]
    if demo_pool:
        tenants[0] = tenants[0].replace("+916292134400-+916292134499", demo_pool)
    if acme:
        tenants.append(ACME % (acme_token, acme))
    if extra_tenant:
        tenants.append(extra_tenant)
    return 'sweep_interval = "100ms";\n' + TRUNK + "tenants = (\n" + ",\n".join(tenants) + "\n);\n"


def run(args, timeout=30, cwd=None):
    return subprocess.run([BINARY] + args, capture_output=True, timeout=timeout, text=True,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def start_args(tmp_path, path):
    return ["--config", path, "--data", str(tmp_path / "data"), "--http", "%s:%d" % (HOST, free_port()),
            "--sip", "%s:%d" % (HOST, free_port(udp_too=True))]


BAD = {
    # name: (config text, line of the fault, setting named or None)
    "syntax": ('sweep_interval = "100ms";\n'
               'store = { map_size = "64M"; };\n'
               'http = { threads = 4 ; listen = ; };\n', 3, None),
    "type": ('sweep_interval = "100ms";\n'
             '\n'
             'http = {\n'
             '  threads = "many";\n'
             '};\n', 4, "threads"),
    "size": ('store = {\n'
             '  map_size = "12Q";\n'
             '};\n', 2, "map_size"),
    "duration": ('sweep_interval = "soon";\n', 1, "sweep_interval"),
    "vn range": (TRUNK + 'tenants = (\n'
                 '  { id = "demo"; api_key = "k"; api_token = "t";\n'
                 '    vns = ["+91abc-+91abd"]; }\n'
                 ');\n', TRUNK.count("\n") + 3, "vns"),
    "pin flag": (TRUNK + 'tenants = (\n'
                 '  { id = "demo"; api_key = "k"; api_token = "t"; vns = ["+916292134400-+916292134409"];\n'
                 '    pin = { a = "maybe"; }; }\n'
                 ');\n', TRUNK.count("\n") + 3, "pin"),
    "unknown trunk": (TRUNK + 'tenants = (\n'
                      '  { id = "demo"; api_key = "k"; api_token = "t"; vns = ["+916292134400-+916292134409"];\n'
                      '    trunk = "nosuch"; }\n'
                      ');\n', TRUNK.count("\n") + 3, "trunk"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_config_at_start(tmp_path, name):
    text, line, setting = BAD[name]
    path = str(tmp_path / "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    p = run(start_args(tmp_path, path))
    assert p.returncode == 2, "exit %s, stderr %r" % (p.returncode, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, "one message, got %r" % lines
    m = re.match(r"^(.+?):(\d+): (.+)$", lines[0])
    assert m, "want 'file:line: setting: what', got %r" % lines[0]
    assert m.group(1) == path or m.group(1).endswith("bad.conf"), lines[0]
    assert int(m.group(2)) == line, "fault is on line %d: %r" % (line, lines[0])
    if setting:
        assert setting in m.group(3), "the setting %r should be named: %r" % (setting, lines[0])
    c = run(["--config", path, "--check-config"])
    assert c.returncode == 2 and c.stderr.strip().splitlines()[-1] == lines[0], (c.returncode, c.stderr)


@pytest.mark.parametrize("overlap", ["+916292134490-+916292134510", "+916292134400-+916292134400",
                                     "+916292134499-+916292134499"])
def test_overlapping_pools_refused_at_start(tmp_path, overlap):
    path = str(tmp_path / "overlap.conf")
    with open(path, "w") as f:
        f.write(conf(acme=overlap))
    p = run(start_args(tmp_path, path))
    assert p.returncode == 2, p
    assert path in p.stderr or "overlap.conf" in p.stderr, p.stderr
    assert run(["--config", path, "--check-config"]).returncode == 2


def test_duplicate_api_key_refused(tmp_path):
    path = str(tmp_path / "dup.conf")
    with open(path, "w") as f:
        f.write(conf(extra_tenant='  { id = "other"; api_key = "demo-key"; api_token = "x"; '
                                  'vns = ["+918000000000-+918000000009"]; }'))
    assert run(["--config", path, "--check-config"]).returncode == 2


def test_missing_config_file(tmp_path):
    p = run(start_args(tmp_path, str(tmp_path / "nope.conf")))
    assert p.returncode == 2 and "nope.conf" in p.stderr, p


def test_check_config_ok_does_not_serve(tmp_path):
    path = str(tmp_path / "good.conf")
    with open(path, "w") as f:
        f.write(config_text())
    p = run(["--config", path, "--check-config"], timeout=20)
    assert p.returncode == 0, p.stderr
    p = run(["--check-config"], timeout=20, cwd=str(tmp_path))  # the embedded default
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(tmp_path / "var"), "--check-config must not open the store"


def test_subset_config_takes_defaults(make_server):
    s = make_server('tenants = ( { id = "solo"; api_key = "solo-key"; api_token = "solo-token";\n'
                    '  vns = ["+916292134400-+916292134409"]; } );\n',
                    creds={"solo": ("solo-key", "solo-token")})
    d = ok(s.create({"transaction_id": txn(), "a": {"vns": ["6292134401"]}, "b": {"numbers": ["9812345678"]}},
                    tenant="solo"))
    assert d["b"]["numbers"] == ["+919812345678"], "default country 91"
    assert len(d["a"]["pin"]) == 4 and "pin" not in d["b"], "default pin.a on, pin.b off"
    assert d["usage"] == "twoway"
    assert s.stop() == 0


def creds():
    return {"demo": ("demo-key", "demo-token"), "acme": ("acme-key", "acme-token")}


def b_pin(server):
    d = ok(server.create({"transaction_id": txn(), "a": {"vns": ["+916292134410"]}, "b": {"numbers": [number()]}}))
    return "pin" in d["b"]


def test_reload_applies_tenant_changes(make_server):
    s = make_server(conf(), creds=creds())
    err(s.list(tenant="acme"), 401, 7)
    before = ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134411"]}, "b": {"numbers": [number()]}}))
    assert "pin" not in before["b"]

    s.reload(conf(pin_b="true", acme="+918000000000-+918000000009"))
    ok(s.list(tenant="acme"))
    assert b_pin(s), "pin.b = true applies to new allocations"
    g = ok(s.get(before["greenpin_id"]))
    assert "pin" not in g["b"], "existing allocations keep what they were created with"

    # a changed token: old one refused, new one works
    s.reload(conf(pin_b="true", acme="+918000000000-+918000000009", acme_token="rotated"))
    err(s.list(tenant="acme"), 401, 7)
    ok(s.list(tenant="acme", auth=("acme-key", "rotated")))

    # pin.a off: new allocations get no A PIN; the old ones keep theirs
    s.reload(conf(pin_b="true", acme="+918000000000-+918000000009", acme_token="rotated").replace(
        "a = true", "a = false"))
    d = ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134413"], "numbers": [number()]},
                     "b": {"numbers": [number()]}}))
    assert "pin" not in d["a"] and "pin" in d["b"], d
    assert "pin" in ok(s.get(before["greenpin_id"]))["a"]

    # tenant removed
    s.reload(conf(pin_b="true"))
    err(s.list(tenant="acme", auth=("acme-key", "rotated")), 401, 7)
    assert s.alive()
    assert s.stop() == 0


def test_reload_refused_whole(make_server):
    s = make_server(conf(acme="+918000000000-+918000000009"), creds=creds())
    in_use = ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134499"]}, "b": {"numbers": [number()]}}))

    # 1. invalid syntax
    s.reload(conf(pin_b="true") + "\nthis is = = not libconfig\n")
    assert s.alive()
    assert not b_pin(s)
    ok(s.list(tenant="acme"))

    # 2. a valid file whose pools overlap between two tenants
    s.reload(conf(pin_b="true", acme="+918000000000-+918000000009",
                  extra_tenant='  { id = "evil"; api_key = "evil-key"; api_token = "e"; '
                               'vns = ["+916292134450-+916292134460"]; }'))
    assert s.alive() and not b_pin(s), "an overlapping reload must be refused whole"
    err(s.list(tenant="evil", auth=("evil-key", "e")), 401, 7)

    # 3. removing a VN an active allocation uses
    shrunk = conf(pin_b="true", acme="+918000000000-+918000000009",
                  demo_pool="+916292134400-+916292134498")
    s.reload(shrunk)
    assert s.alive() and not b_pin(s), "removing a VN in use must be refused"
    assert ok(s.get(in_use["greenpin_id"]))["state"] == "active"

    # once the VN is free, the same file is accepted
    ok(s.delete(in_use["greenpin_id"]))
    s.reload(shrunk)
    assert b_pin(s)
    err(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134499"]}, "b": {"numbers": [number()]}}), 403, 8)
    log = s.log_text().lower()
    assert "reload" in log or "config" in log, "reloads are logged: %r" % log[-2000:]
    assert s.stop() == 0


def test_reload_bad_value_refused(make_server):
    s = make_server(conf(acme="+918000000000-+918000000009"), creds=creds())
    s.reload(conf(pin_b="true", acme="+918000000000-+918000000009").replace(
        'sweep_interval = "100ms";', 'sweep_interval = "100ms";\nhttp = { threads = "x"; };'))
    assert s.alive() and not b_pin(s)
    assert s.stop() == 0


def test_sigterm_exits_zero(make_server):
    s = make_server(conf(), creds=creds())
    ok(s.create({"transaction_id": txn(), "a": {"vns": ["+916292134412"]}, "b": {"numbers": [number()]}}))
    assert s.stop() == 0


def test_reload_under_load(make_server):
    import threading
    s = make_server(conf(acme="+918000000000-+918000000009"), creds=creds())
    stop = threading.Event()
    bad = []

    def load():
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            r = s.create({"transaction_id": txn(), "a": {"vns": ["+9162921344%02d" % (i % 100)]},
                          "b": {"numbers": [number()]}})
            if r.status != 200:
                bad.append(r)
                return
            g = s.get(r.json["data"]["greenpin_id"])
            if g.status != 200:
                bad.append(g)
                return

    ts = [threading.Thread(target=load) for _ in range(4)]
    for t in ts:
        t.start()
    try:
        for k in range(6):
            s.reload(conf(pin_b="true" if k % 2 == 0 else "false", acme="+918000000000-+918000000009"))
    finally:
        stop.set()
        for t in ts:
            t.join(60)
    assert not bad, bad[:3]
    assert s.alive()
    assert not b_pin(s), "the last reload (pin.b false) is in force"
    assert s.stop() == 0


def test_reload_refuses_dropping_a_tenant_or_moving_a_vn_in_use(make_server):
    s = make_server(conf(acme="+918000000000-+918000000009"), creds=creds())
    a = ok(s.create({"transaction_id": txn(), "a": {"vns": ["+918000000001"]}, "b": {"numbers": [number()]}},
                    tenant="acme"))
    s.reload(conf(pin_b="true"))  # acme gone, with an active allocation on its VN
    assert not b_pin(s)
    assert ok(s.get(a["greenpin_id"], tenant="acme"))["state"] == "active"
    # the VN moves to another tenant: it leaves acme's pool
    s.reload(conf(pin_b="true", acme="+918000000002-+918000000009",
                  extra_tenant='  { id = "x"; api_key = "x-key"; api_token = "x"; vns = ["+918000000001"]; }'))
    assert not b_pin(s)
    err(s.list(tenant="x", auth=("x-key", "x")), 401, 7)
    ok(s.get(a["greenpin_id"], tenant="acme"))
    assert s.stop() == 0
