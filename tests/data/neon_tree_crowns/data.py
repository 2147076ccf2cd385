"""DeepForest/NEON tree crowns: the mirror's real NEON plots with their CSV and Pascal-VOC boxes."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = mirror / "detection" / "deepforest_neon"
    return [{"root": root, "split": "all"}, {"root": root, "split": "all", "annotations": "voc"}]
