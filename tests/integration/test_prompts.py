"""A tenant's own IVR prompts (prompts = { <name> = "file.wav"; }): every WAV
is read at start and on SIGHUP, so a missing or unusable one is a config
error naming file, line and setting (exit 2 at start) and a refused reload
(the running config stays, the server keeps serving)."""
import re
import subprocess
import wave

import pytest

from pbdata import TRUNK, ok
from pbserver import BINARY, HOST, free_port

CREDS = {"demo": ("demo-key", "demo-token")}


def conf(prompts=""):
    """One tenant; its prompts group (when given) is on line PROMPTS_LINE."""
    return (TRUNK +
            'tenants = (\n'
            '  { id = "demo"; api_key = "demo-key"; api_token = "demo-token";\n'
            '    vns = ["+916292134400-+916292134499"];\n'
            '    prompts = { %s };\n'
            '  } );\n' % prompts)


PROMPTS_LINE = TRUNK.count("\n") + 4


def write_wav(path, rate=8000, channels=1, seconds=0.5):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00" * int(rate * seconds) * channels)
    return str(path)


def start(tmp_path, text):
    path = str(tmp_path / "pb.conf")
    with open(path, "w") as f:
        f.write(text)
    args = [BINARY, "--config", path, "--data", str(tmp_path / "data"),
            "--http", "%s:%d" % (HOST, free_port()), "--sip", "%s:%d" % (HOST, free_port(udp_too=True))]
    return path, subprocess.run(args, capture_output=True, timeout=30, text=True,
                                stdin=subprocess.DEVNULL)


def bad_cases(tmp_path):
    return {
        "missing": ("enter_pin", str(tmp_path / "nope.wav"), "No such file"),
        "16 kHz": ("wrong_pin", write_wav(tmp_path / "wide.wav", rate=16000),
                   "sample rate 16000 Hz, need 8000"),
        "stereo": ("goodbye", write_wav(tmp_path / "stereo.wav", channels=2), "channels"),
    }


@pytest.mark.parametrize("case", ["missing", "16 kHz", "stereo"])
def test_bad_prompt_at_start_exits_2(tmp_path, case):
    name, wav, why = bad_cases(tmp_path)[case]
    path, p = start(tmp_path, conf('%s = "%s";' % (name, wav)))
    assert p.returncode == 2, "exit %s, stderr %r" % (p.returncode, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, "one message, got %r" % lines
    want = "%s:%d: tenants[0].prompts.%s: %s: " % (path, PROMPTS_LINE, name, wav)
    assert want in lines[0], "want %r..., got %r" % (want, lines[0])
    assert why in lines[0], lines[0]
    c = subprocess.run([BINARY, "--config", path, "--check-config"], capture_output=True,
                       timeout=30, text=True, stdin=subprocess.DEVNULL)
    assert c.returncode == 2 and c.stderr.strip().splitlines()[-1] == lines[0], c


def test_good_prompt_and_unknown_name_start(tmp_path):
    wav = write_wav(tmp_path / "mine.wav")
    path = str(tmp_path / "good.conf")
    with open(path, "w") as f:
        f.write(conf('enter_pin = "%s"; wrong_pin = ""; enter_ping = "x.wav";' % wav))
    c = subprocess.run([BINARY, "--config", path, "--check-config"], capture_output=True,
                       timeout=30, text=True, stdin=subprocess.DEVNULL)
    assert c.returncode == 0, c.stderr
    assert re.search(r"prompts\.enter_ping: unknown setting", c.stderr), c.stderr


def test_reload_with_bad_prompt_is_refused(make_server, tmp_path):
    good = write_wav(tmp_path / "good.wav")
    s = make_server(conf('please_wait = "%s";' % good), creds=CREDS)
    ok(s.list())

    wide = write_wav(tmp_path / "wide.wav", rate=16000)
    out = s.reload(conf('please_wait = "%s";' % wide))
    assert "reload refused" in out and "sample rate 16000 hz" in out, out
    assert "tenants[0].prompts.please_wait" in out, out
    assert s.alive()
    ok(s.list())

    out = s.reload(conf('nobody = "%s";' % str(tmp_path / "gone.wav")))
    assert "reload refused" in out and "gone.wav" in out, out
    assert s.alive()

    # the old config kept serving; a good one is still applied
    out = s.reload(conf('nobody = "%s";' % good))
    assert "reloaded" in out and "refused" not in out, out
    ok(s.list())
    assert s.stop() == 0
