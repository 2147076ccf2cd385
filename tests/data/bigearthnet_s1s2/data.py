"""BigEarthNet S1 + S2: the mirror's real example patch pairs (v1 layout) and their v2-layout copy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("ben_s2_data_s1s2", Path(__file__).parents[1] / "bigearthnet_s2" / "data.py")
assert _spec is not None and _spec.loader is not None
s2 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(s2)


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    return [s2.v1_kwargs(mirror), {"root": s2.build_v2(tmp, mirror), "split": "test"}]
