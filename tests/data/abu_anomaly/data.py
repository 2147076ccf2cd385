"""ABU anomaly scenes: the mirror's real AVIRIS/HYDICE .mat files (variables data and map)."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = mirror / "hyperspectral" / "abu_anomaly_aviris_hydice"
    return [{"root": root, "split": "all"}, {"root": root, "split": "all", "scenes": ["HYDICE_data.mat"],
                                             "patch_size": 32}]
