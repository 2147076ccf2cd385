"""raster_segmentation on the mirror's real Landsat 8 scene: cloud labels decoded from its own BQA band."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    return {
        "root": mirror / "scenes" / "landsat8_LC80200392015216",
        "split": "all",
        "image": "l8_B*.tif",
        "label": "l8_BQA.tif",
        "sensor": "landsat8",
        "qa": "landsat8_precollection_bqa_cloud",
        "bands": ("B2", "B3", "B4", "B5"),
        "chip_size": 128,
    }
