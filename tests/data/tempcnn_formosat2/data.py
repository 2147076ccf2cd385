"""TempCNN Formosat-2: the mirror's real CSVs, read in place (official train/test split)."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = mirror / "timeseries" / "tempcnn_formosat2"
    return [{"root": root, "split": "train"}, {"root": root, "split": "test"}]
