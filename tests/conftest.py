"""Shared fixtures: the real data mirror, and no network beyond loopback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from eokit.env import data_root

torch_threads = int(os.environ.get("EOKIT_TEST_THREADS", "1"))


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(torch_threads)


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real EO data mirror (``$EOKIT_DATA``, e.g. ../shared/data)."""
    root = data_root()
    if not (root / "MANIFEST.md").exists():
        pytest.skip(f"real data mirror not found at {root} (set EOKIT_DATA)")
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
