"""Generic vector-label reader on the mirror's real SpaceNet chip and its building footprints."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    root = mirror / "segmentation" / "spacenet_solaris_samples" / "buildings"
    return {"root": root, "split": "all", "pairs": [("sample_geotiff.tif", "geotiff_labels.geojson")]}
