"""Sen1Floods11: the real hand-labelled chip of the mirror, plus a fixture with official split CSVs.

The fixture copies the layout of ``v1.1/data/flood_events/HandLabeled``:
``S1Hand/<chip>_S1Hand.tif`` (VV, VH float32 dB), ``S2Hand/<chip>_S2Hand.tif``
(13 bands int16), ``LabelHand/<chip>_LabelHand.tif`` (int16 -1 nodata / 0 dry /
1 water) and ``flood_{train,valid,test}_data.csv`` (rows ``<chip>_S1Hand.tif,<chip>_LabelHand.tif``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

CHIPS = {"train": ["Ghana_103272", "India_1068"], "valid": ["Spain_8565"], "test": ["USA_430764"]}
S2_NAMES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


def write(root: Path, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("S1Hand", "S2Hand", "LabelHand"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for split, chips in CHIPS.items():
        rows = []
        for i, chip in enumerate(chips):
            t = from_origin(-1.0 + i, 38.0, 8.983152841195184e-05, 8.983152841195184e-05)
            prof = dict(driver="GTiff", height=size, width=size, crs="EPSG:4326", transform=t)
            s1 = rng.normal(-15, 4, (2, size, size)).astype(np.float32)
            with rasterio.open(root / "S1Hand" / f"{chip}_S1Hand.tif", "w", count=2, dtype="float32",
                               nodata=float("nan"), **prof) as d:
                d.write(s1)
                d.descriptions = ("VV", "VH")
            with rasterio.open(root / "S2Hand" / f"{chip}_S2Hand.tif", "w", count=13, dtype="int16",
                               **prof) as d:
                d.write(rng.integers(0, 5000, (13, size, size)).astype(np.int16))
                d.descriptions = S2_NAMES
            lab = rng.integers(-1, 2, (1, size, size)).astype(np.int16)
            with rasterio.open(root / "LabelHand" / f"{chip}_LabelHand.tif", "w", count=1, dtype="int16",
                               **prof) as d:
                d.write(lab)
            rows.append(f"{chip}_S1Hand.tif,{chip}_LabelHand.tif")
        (root / f"flood_{split}_data.csv").write_text("\n".join(rows) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "sen1floods11")
    cases = [{"root": root, "split": "val", "modalities": ("s1", "s2")}, {"root": root, "split": "train"}]
    if mirror is not None:
        cases.insert(0, {"root": mirror / "segmentation" / "sen1floods11_sample", "split": "train",
                         "modalities": ("s1", "s2")})
    return cases


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "sen1floods11")))
