"""Wald's-protocol pairs from the mirror's real scenes: Landsat 8 LC80200392015216 (30 m bands B2-B7, cloud
mask from the BQA band) and Sentinel-2 18SVG (20 m bands, no labels)."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    l8 = mirror / "scenes" / "landsat8_LC80200392015216"
    s2 = mirror / "scenes" / "sentinel2_18SVG_20160112"
    return [
        {"root": l8, "split": "test", "image": "l8_B*.tif", "label": "l8_BQA.tif", "sensor": "landsat8",
         "qa": "landsat8_precollection_bqa_cloud", "bands": ["B2", "B3", "B4", "B5", "B6", "B7"], "chip_size": 64},
        {"root": s2, "split": "test", "image": "s2_B*.tif", "sensor": "sentinel2_l1c",
         "bands": ["B05", "B06", "B07", "B8A", "B11", "B12"], "chip_size": 96, "factor": 3},
    ]
