"""Dataset tests write split files into a temporary cache, never into ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.mktemp("eokit-cache")
    monkeypatch.setenv("EOKIT_CACHE", str(cache))
    return cache
