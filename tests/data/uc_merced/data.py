"""A tiny UC Merced fixture in the published layout (the mirror has no UC Merced).

``UCMerced_LandUse/Images/<class>/<class>NN.tif``: 3-band uint8 TIFFs without georeferencing,
as in the original archive (here 16x16 px, 5 images per class, random content).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from eokit.datasets.catalog.classification import UCM_CLASSES


def build(tmp: Path, per_class: int = 5, size: int = 16) -> Path:
    root = tmp / "uc_merced"
    rng = np.random.default_rng(0)
    for c in UCM_CLASSES:
        out = root / "UCMerced_LandUse" / "Images" / c
        out.mkdir(parents=True)
        for n in range(per_class):
            data = rng.integers(0, 256, (3, size, size), dtype=np.uint8)
            with warnings.catch_warnings():  # the originals carry no georeferencing either
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                _write(out / f"{c}{n:02d}.tif", data)
    return root


def _write(path: Path, data: np.ndarray) -> None:
    size = data.shape[-1]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8") as dst:
        dst.write(data)


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = build(tmp)
    return [{"root": root, "split": s, "split_file": tmp / "ucm-split.json"} for s in ("train", "test")]
