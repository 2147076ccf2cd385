"""Tiny suites on the real mirror for the benchmark harness tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from bench_tiny import tiny_suite_dict


@pytest.fixture
def tiny() -> Any:
    """The tiny-suite factory (``tiny(name=..., seeds=..., robustness=...)`` -> dict)."""
    return tiny_suite_dict


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private EOKIT_CACHE (data arrays, feature cache, split files)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("EOKIT_CACHE", str(path))
    return path


@pytest.fixture
def tiny_suite_file(tmp_path: Path, mirror: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_suite_dict()))
    return path
