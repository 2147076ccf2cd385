"""Pixel regression on the mirror's real lidar rasters: DSM as input, height above ground as target.

Both are 283x259 float32 at 2 m (EPSG:26918) with nodata -9999; the reader masks it.
"""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    return {
        "root": mirror / "regression" / "lidar_elevation_dsm_dtm_hag",
        "split": "all",
        "pairs": [("dsm.tif", "hag.tif")],
        "chip_size": 128,
        "image_bands": ("DSM",),
    }
