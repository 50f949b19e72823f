"""Fixtures: one shared server (most tests, each on its own data) and a
factory for fresh servers (tests that restart, kill, reload, fill the store
or need the embedded default)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from pbdata import CREDS, VnDealer, config_text  # noqa: E402
from pbserver import Server  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server: every tenant of pbdata, sweep every 100 ms."""
    s = Server(str(tmp_path_factory.mktemp("shared")), config_text(), name="shared", creds=CREDS)
    s.start()
    yield s
    alive = s.alive()
    rc = s.stop()
    assert alive, "shared server died during the run; log:\n" + s.log_tail()
    assert rc == 0, "shared server exit code %s on SIGTERM; log:\n%s" % (rc, s.log_tail())


@pytest.fixture(scope="session")
def dealer():
    return VnDealer()


@pytest.fixture
def make_server(tmp_path):
    """make_server(config_text or None for the embedded default, start=True)."""
    made = []

    def make(config=None, start=True, name=None, creds=None, data_dir=None):
        s = Server(str(tmp_path), config, name=name or "pb%d" % len(made),
                   creds=creds or CREDS, data_dir=data_dir)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in made:
        if s.alive():
            s.kill()
