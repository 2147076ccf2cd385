"""Multi-date stack: the mirror's real Landsat composites of Pucallpa, Peru (1985-2020, every 5 years).

The composites carry no labels, so a label raster on their grid (a tiny checked-in rule: class 1
where the 2020 NIR band is below its median, i.e. not vegetated) is written into ``tmp`` to test
the optional ``mask``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import rasterio


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    src = mirror / "timeseries" / "landsat_pucallpa_peru_1985_2020"
    root = tmp / "pucallpa"
    root.mkdir()
    for p in src.glob("*.tif"):
        (root / p.name).symlink_to(p)
    shutil.copy(src / "README.md", root / "README.md")
    with rasterio.open(src / "2020.tif") as d:
        nir = d.read(2)
        profile = d.profile | {"count": 1, "dtype": "uint8", "nodata": None}
    with rasterio.open(root / "labels.tif", "w", **profile) as d:
        d.write((nir < np.median(nir)).astype(np.uint8)[None])
    return {"root": root, "split": "all", "pattern": "[12][09]*.tif", "mask": "labels.tif", "chip_size": 128,
            "band_names": ("SWIR1", "NIR", "Red", "Green")}
