"""WorldStrat fixture in the published layout.

``lr_dataset/<tile>/L2A/<tile>-<n>-L2A_data.tiff`` (12-band float32 L2A reflectance, revisits
n = 1..4), ``hr_dataset/12bit/<tile>/<tile>_rgbn.tiff`` (SPOT R, G, B, NIR uint16 12-bit at 6x the
LR resolution) and ``stratified_train_val_test_split.csv`` (columns tile, split).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

TILES = {"Landcover-743192": "train", "ASMSpotter-1-1-1": "train", "Amnesty POI-4-1-1": "val",
         "UNHCR-SSDs001234": "test"}


def write(root: Path, lr: int = 8, revisits: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i, tile in enumerate(TILES):
        x0, y0 = 500000 + 1000 * i, 4000000
        lr_dir = root / "lr_dataset" / tile / "L2A"
        lr_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, revisits + 1):
            with rasterio.open(lr_dir / f"{tile}-{n}-L2A_data.tiff", "w", driver="GTiff", height=lr, width=lr,
                               count=12, dtype="float32", crs="EPSG:32633",
                               transform=from_origin(x0, y0, 10, 10)) as d:
                d.write(rng.uniform(0, 0.5, (12, lr, lr)).astype(np.float32))
        hr_dir = root / "hr_dataset" / "12bit" / tile
        hr_dir.mkdir(parents=True, exist_ok=True)
        hr = lr * 6
        with rasterio.open(hr_dir / f"{tile}_rgbn.tiff", "w", driver="GTiff", height=hr, width=hr, count=4,
                           dtype="uint16", crs="EPSG:32633", transform=from_origin(x0, y0, 10 / 6, 10 / 6)) as d:
            d.write(rng.integers(0, 4096, (4, hr, hr)).astype(np.uint16))
    rows = ["tile,split"] + [f"{t},{s}" for t, s in TILES.items()]
    (root / "stratified_train_val_test_split.csv").write_text("\n".join(rows) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "worldstrat")
    return [{"root": root, "split": "train"}, {"root": root, "split": "test", "revisits": 2}]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "worldstrat")))
