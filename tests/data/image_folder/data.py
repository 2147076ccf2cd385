"""The generic class-folder reader on the mirror's ImageFolder copies of EuroSAT (real files)."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    cls = mirror / "classification"
    return [
        {"root": cls / "eurosat_ms_subset", "split": "test", "sensor": "sentinel2_l1c"},
        {"root": cls / "eurosat_rgb", "split": "val", "sensor": "rgb", "split_file": tmp / "rgb-split.json"},
    ]
