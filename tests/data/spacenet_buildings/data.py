"""SpaceNet 2 buildings: the mirror's real SpaceNet chip and footprints copied into the SN2 layout.

``AOI_2_Vegas_Train/PAN/PAN_AOI_2_Vegas_img1.tif`` (the real 900x900 uint16 0.5 m chip) and
``AOI_2_Vegas_Train/geojson/buildings/buildings_AOI_2_Vegas_img1.geojson`` (its 43 footprints),
plus an image whose GeoJSON holds no building (SpaceNet ships such empty files).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    src = mirror / "segmentation" / "spacenet_solaris_samples" / "buildings"
    aoi = tmp / "spacenet_buildings" / "AOI_2_Vegas_Train"
    (aoi / "PAN").mkdir(parents=True)
    (aoi / "geojson" / "buildings").mkdir(parents=True)
    for n in (1, 2):
        shutil.copy(src / "sample_geotiff.tif", aoi / "PAN" / f"PAN_AOI_2_Vegas_img{n}.tif")
    shutil.copy(src / "geotiff_labels.geojson", aoi / "geojson" / "buildings" / "buildings_AOI_2_Vegas_img1.geojson")
    empty = {"type": "FeatureCollection", "features": []}
    (aoi / "geojson" / "buildings" / "buildings_AOI_2_Vegas_img2.geojson").write_text(json.dumps(empty))
    return {"root": aoi.parent, "split": "train", "product": "PAN"}
