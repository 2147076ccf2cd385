"""eo-learn EOPatch: the mirror's real Slovenia test patch (NDVI and cloud probability, 68 dates,
LULC mask), chipped to 48 px; plus a tiny fixture patch with a 13-band ``BANDS-S2-L1C`` feature
stored compressed (``.npy.gz``) as eo-learn >= 1.0 writes it.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np


def write(root: Path, t: int = 3, h: int = 10, w: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    patch = root / "eopatch_0"
    for sub in ("data", "mask_timeless"):
        (patch / sub).mkdir(parents=True, exist_ok=True)
    with gzip.open(patch / "data" / "BANDS-S2-L1C.npy.gz", "wb") as fh:
        np.save(fh, rng.uniform(0, 0.6, (t, h, w, 13)).astype(np.float32))
    np.save(patch / "mask_timeless" / "LULC.npy", rng.integers(0, 11, (h, w, 1)).astype(np.uint16))
    (patch / "timestamps.json").write_text(json.dumps([f"2020-0{i + 1}-15T10:00:00" for i in range(t)]))
    bbox = {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
            "type": "Polygon",
            "coordinates": [[[500000, 5000000], [500000, 5000100], [500120, 5000100], [500120, 5000000],
                             [500000, 5000000]]]}
    (patch / "bbox.geojson").write_text(json.dumps(bbox))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    cases = [{"root": write(tmp / "eopatches"), "split": "all"}]
    if mirror is not None:
        cases.insert(0, {"root": mirror / "timeseries" / "eolearn_TestEOPatch_S2_slovenia", "split": "all",
                         "chip_size": 48})
    return cases


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "eopatches")))
