"""LandCover.ai v1 fixture in the published layout.

``images/<sheet>.tif`` (3-band uint8 GeoTIFF, EPSG:2180, 25 cm), ``masks/<sheet>.tif``
(1-band uint8, 0 background, 1 building, 2 woodland, 3 water, 4 road) and
``train.txt``/``val.txt``/``test.txt`` listing 512 px tiles ``<sheet>_<k>``, k
numbered row-major over 512 px steps as the dataset's split.py does (partial
edge tiles count in k but are never listed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

SHEETS = {"M-33-20-D-c-4-2": (600, 1540), "N-33-60-D-c-4-2": (520, 600)}  # (height, width)
LISTS = {
    "train": ["M-33-20-D-c-4-2_0", "M-33-20-D-c-4-2_1"],
    "val": ["M-33-20-D-c-4-2_2"],
    "test": ["N-33-60-D-c-4-2_0"],
}


def write(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, (sheet, (h, w)) in enumerate(SHEETS.items()):
        transform = from_origin(500000 + 10000 * i, 300000, 0.25, 0.25)
        profile = dict(driver="GTiff", height=h, width=w, crs="EPSG:2180", transform=transform,
                       compress="deflate")
        img = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
        mask = (np.arange(w)[None, :] // 128 + np.arange(h)[:, None] // 128) % 5
        with rasterio.open(root / "images" / f"{sheet}.tif", "w", count=3, dtype="uint8", **profile) as d:
            d.write(img)
        with rasterio.open(root / "masks" / f"{sheet}.tif", "w", count=1, dtype="uint8", **profile) as d:
            d.write(mask.astype(np.uint8)[None])
    for split, names in LISTS.items():
        (root / f"{split}.txt").write_text("\n".join(names) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "landcoverai")
    return [{"root": root, "split": s} for s in ("train", "val", "test")]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "landcoverai")))
