"""Test data for GEO-Bench task m-chesapeake-landcover: a tiny task folder from ../geobench/data.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _fixture():
    path = Path(__file__).resolve().parents[1] / "geobench" / "data.py"
    spec = importlib.util.spec_from_file_location("eokit_testdata_geobench_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    """The real GEO-Bench chips of the mirror when present, plus the tiny fixture."""
    cases = [_fixture().make_task(tmp, "m-chesapeake-landcover")]
    if mirror is not None:
        cases.insert(0, {"root": mirror / "segmentation" / "geobench_cvpr_chesapeake_landcover", "split": "test"})
    return cases
