"""Shared fixtures: the real data mirror, and no network beyond loopback.

Tests that need the real data mirror (``$EOKIT_DATA``) skip without it on a
developer's machine; with ``EOKIT_REQUIRE_DATA=1`` (set by ``.ci/run``) they fail
instead, naming the missing path, so a broken mirror path cannot turn them into
silent skips.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from eokit.env import data_root

pytest_plugins = ("pytester",)  # tests/test_require_data.py runs an inner pytest session

torch_threads = int(os.environ.get("EOKIT_TEST_THREADS", "1"))


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(torch_threads)


def require_data() -> bool:
    """True when a missing data mirror must fail the tests that need it (``EOKIT_REQUIRE_DATA=1``)."""
    return os.environ.get("EOKIT_REQUIRE_DATA", "").strip().lower() in ("1", "true", "yes")


def no_mirror(why: str) -> NoReturn:
    """Skip a test that needs the data mirror, or fail it under ``EOKIT_REQUIRE_DATA=1``."""
    manifest = data_root() / "MANIFEST.md"
    message = f"{why}: real data mirror not found ({manifest} is missing; set EOKIT_DATA)"
    if require_data():
        pytest.fail(f"{message}; EOKIT_REQUIRE_DATA=1 requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def missing_mirror() -> Callable[[str], NoReturn]:
    """``missing_mirror(why)``: skip (or, under ``EOKIT_REQUIRE_DATA=1``, fail) for lack of the mirror."""
    return no_mirror


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real EO data mirror (``$EOKIT_DATA``, e.g. ../shared/data)."""
    root = data_root()
    if not (root / "MANIFEST.md").exists():
        no_mirror("this test reads the real data mirror")
    return root


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only talk to loopback."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            raise OSError(f"test tried to reach {host!r}: tests use loopback only")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say on its own line why the browser test did not run (not only in the ``-ra`` summary)."""
    for rep in terminalreporter.stats.get("skipped", []):
        if "browser" in getattr(rep, "keywords", {}):
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            reason = reason.removeprefix("Skipped: ")
            terminalreporter.write_line(
                f"BROWSER TEST SKIPPED ({rep.nodeid}): {reason}; install Debian's chromium and "
                "chromium-driver (`make test` does so when run as root)",
                yellow=True, bold=True,
            )
