"""SpaceNet 3 roads fixture in the SN3 layout.

``AOI_2_Vegas/PS-RGB/SN3_roads_train_AOI_2_Vegas_PS-RGB_img<N>.tif`` (3-band uint16, EPSG:4326,
~0.3 m) and ``AOI_2_Vegas/geojson_roads/SN3_roads_train_AOI_2_Vegas_geojson_roads_img<N>.geojson``
(LineString centre-lines in EPSG:4326 with SpaceNet's road properties).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

RES = 2.7e-6  # degrees, ~0.3 m


def write(root: Path, n_images: int = 4, size: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    aoi = root / "AOI_2_Vegas"
    (aoi / "PS-RGB").mkdir(parents=True, exist_ok=True)
    (aoi / "geojson_roads").mkdir(parents=True, exist_ok=True)
    for n in range(1, n_images + 1):
        west, north = -115.3 + n * 0.01, 36.16
        with rasterio.open(
            aoi / "PS-RGB" / f"SN3_roads_train_AOI_2_Vegas_PS-RGB_img{n}.tif", "w", driver="GTiff",
            height=size, width=size, count=3, dtype="uint16", crs="EPSG:4326",
            transform=from_origin(west, north, RES, RES),
        ) as d:
            d.write(rng.integers(0, 2048, (3, size, size)).astype(np.uint16))
        row = north - RES * (size // 2 + 0.5)  # a horizontal road through the middle row
        line = [[west - RES, row], [west + RES * (size + 1), row]]
        feats = [{"type": "Feature", "properties": {"road_type": "5", "lane_number": "2", "paved": "1"},
                  "geometry": {"type": "LineString", "coordinates": line}}]
        fc = {"type": "FeatureCollection", "features": feats}
        (aoi / "geojson_roads" / f"SN3_roads_train_AOI_2_Vegas_geojson_roads_img{n}.geojson").write_text(
            json.dumps(fc)
        )
    return root


def make(tmp: Path, mirror: Path | None) -> dict:
    return {"root": write(tmp / "spacenet_roads"), "split": "train"}


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "spacenet_roads")))
