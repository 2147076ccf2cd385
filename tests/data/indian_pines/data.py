"""Test data for indian_pines: tiny .mat files in the published layout, from ../hsi_mat/data.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    path = Path(__file__).resolve().parents[1] / "hsi_mat" / "data.py"
    spec = importlib.util.spec_from_file_location("eokit_testdata_hsi_mat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_scene(tmp, "indian_pines")
