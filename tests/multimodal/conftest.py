"""A private EOKIT_CACHE for the multi-modal bench tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private EOKIT_CACHE (bench data arrays, split files)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("EOKIT_CACHE", str(path))
    return path
