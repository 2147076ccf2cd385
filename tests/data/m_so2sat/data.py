"""Test data for GEO-Bench task m-so2sat: a tiny task folder from ../geobench/data.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _fixture():
    path = Path(__file__).resolve().parents[1] / "geobench" / "data.py"
    spec = importlib.util.spec_from_file_location("eokit_testdata_geobench_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(tmp: Path, mirror: Path | None) -> dict:
    return _fixture().make_task(tmp, "m-so2sat")
