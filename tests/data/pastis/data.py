"""PASTIS fixture in the published layout.

``metadata.geojson`` (EPSG:2154 patch footprints with ``ID_PATCH``, ``Fold`` 1-5, ``TILE`` and
``dates-S2`` {"0": YYYYMMDD, ...}), ``DATA_S2/S2_<id>.npy`` (T, 10, H, W) int16 and
``ANNOTATIONS/TARGET_<id>.npy`` (3, H, W) uint8 with channel 0 the class (0-18, 19 void).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

PATCHES = {10000: 1, 10001: 2, 10002: 3, 10003: 4, 10004: 5}


def write(root: Path, size: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "DATA_S2").mkdir(parents=True, exist_ok=True)
    (root / "ANNOTATIONS").mkdir(parents=True, exist_ok=True)
    feats = []
    for i, (pid, fold) in enumerate(PATCHES.items()):
        t = 3 + i
        np.save(root / "DATA_S2" / f"S2_{pid}.npy", rng.integers(0, 6000, (t, 10, size, size)).astype(np.int16))
        target = rng.integers(0, 20, (3, size, size)).astype(np.uint8)
        np.save(root / "ANNOTATIONS" / f"TARGET_{pid}.npy", target)
        x0, y0 = 600000 + 1280 * i, 6800000
        ring = [[x0, y0], [x0 + 10 * size, y0], [x0 + 10 * size, y0 + 10 * size], [x0, y0 + 10 * size], [x0, y0]]
        dates = {str(k): int(f"2018{9 + k // 3:02d}{1 + 5 * (k % 3):02d}") for k in range(t)}
        feats.append({"type": "Feature", "id": str(pid),
                      "properties": {"ID_PATCH": pid, "Fold": fold, "TILE": "t30uxv", "N_Parcel": 3,
                                     "Parcel_Cover": 0.5, "dates-S2": dates},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    meta = {"type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}, "features": feats}
    (root / "metadata.geojson").write_text(json.dumps(meta))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "pastis")
    return [{"root": root, "split": s} for s in ("train", "val", "test")]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "pastis")))
