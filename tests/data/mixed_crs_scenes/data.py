"""Small mixed-CRS scenes, label rasters and vector labels for the eokit.data tests.

Written into a temporary folder at test time (nothing is checked in):

- ``S2_20230604_A.tif``: EPSG:32631, 96x96 px at 10 m, 4 bands uint16, tiled 32 (near 6°E)
- ``S2_20230620_B.tif``: EPSG:32632, 96x96 px at 10 m, overlapping A across the zone boundary
- ``scene_tagged.tif``: EPSG:32631, far from A/B, date only in its TIFFTAG_DATETIME tag
- ``label_32631.tif``: EPSG:32631 label raster on A's grid (larger), 1 west of a vertical line, 2 east
- ``label_far.tif``: EPSG:32631 label raster 300 km away (overlaps nothing)
- ``points.geojson``: EPSG:4326 points: A's centre, a point in the A/B overlap, a far point
- ``polygons.gpkg``: EPSG:32631 squares with a string ``cls`` and an int ``code`` column
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

RES = 10.0
SIZE = 96
A_ORIGIN = (732_000.0, 5_010_000.0)  # EPSG:32631, just west of 6°E at ~45.2°N
BANDS = ("B02", "B03", "B04", "B08")
LABEL_SPLIT_X = A_ORIGIN[0] + 40 * RES  # label raster: class 1 west of this easting, 2 east


def _write(path: Path, epsg: int, origin: tuple[float, float], data: np.ndarray, *,
           names: tuple[str, ...] | None = None, tags: dict | None = None, nodata: float | None = None) -> None:
    profile = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0],
        "dtype": data.dtype.name, "crs": f"EPSG:{epsg}", "transform": from_origin(*origin, RES, RES),
        "tiled": True, "blockxsize": 32, "blockysize": 32, "compress": "DEFLATE", "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if names:
            dst.descriptions = names
        if tags:
            dst.update_tags(**tags)


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(100, 5000, size=(len(BANDS), SIZE, SIZE), dtype=np.uint16)


def make(tmp: Path) -> dict:
    """Write every fixture under ``tmp``; return their paths and key coordinates."""
    import geopandas as gpd
    from shapely.geometry import Point, box

    tmp.mkdir(parents=True, exist_ok=True)
    a, b, c = tmp / "S2_20230604_A.tif", tmp / "S2_20230620_B.tif", tmp / "scene_tagged.tif"
    _write(a, 32631, A_ORIGIN, _scene(0), names=BANDS)
    # B's top-left: A's centre, expressed in zone 32 -> B overlaps A's south-east quarter
    to32 = Transformer.from_crs(32631, 32632, always_xy=True)
    cx, cy = A_ORIGIN[0] + SIZE * RES / 2, A_ORIGIN[1] - SIZE * RES / 2
    bx, by = to32.transform(cx, cy)
    b_origin = (round(bx / RES) * RES, round(by / RES) * RES)
    _write(b, 32632, b_origin, _scene(1), names=BANDS)
    _write(c, 32631, (400_000.0, 5_200_000.0), _scene(2), names=BANDS,
           tags={"TIFFTAG_DATETIME": "2023:07:01 10:30:00"})

    # label raster in 32631 covering A (and B's overlap) with a margin of 40 px
    lo = (A_ORIGIN[0] - 40 * RES, A_ORIGIN[1] + 40 * RES)
    n = SIZE + 80
    xs = lo[0] + (np.arange(n) + 0.5) * RES
    lab = np.where(xs < LABEL_SPLIT_X, 1, 2).astype(np.uint8)[None, None, :].repeat(n, axis=1)
    _write(tmp / "label_32631.tif", 32631, lo, lab)
    _write(tmp / "label_far.tif", 32631, (200_000.0, 4_000_000.0), lab)

    to4326 = Transformer.from_crs(32631, 4326, always_xy=True)
    overlap = (cx + 150.0, cy - 150.0)  # inside both A and B
    pts = [to4326.transform(cx, cy), to4326.transform(*overlap), (-60.0, -30.0)]
    gpd.GeoDataFrame({"name": ["centre_a", "overlap", "far"]}, geometry=[Point(p) for p in pts],
                     crs="EPSG:4326").to_file(tmp / "points.geojson", driver="GeoJSON")

    # squares in A's CRS on exact pixel edges: pixel rows 5..14, cols 10..19 and rows 50..59, cols 60..69
    x0, y0 = A_ORIGIN
    sq1 = box(x0 + 10 * RES, y0 - 15 * RES, x0 + 20 * RES, y0 - 5 * RES)
    sq2 = box(x0 + 60 * RES, y0 - 60 * RES, x0 + 70 * RES, y0 - 50 * RES)
    gpd.GeoDataFrame({"cls": ["water", "forest"], "code": [7, 3]}, geometry=[sq1, sq2],
                     crs="EPSG:32631").to_file(tmp / "polygons.gpkg", driver="GPKG")
    return {
        "root": tmp, "a": a, "b": b, "tagged": c, "label": tmp / "label_32631.tif",
        "label_far": tmp / "label_far.tif", "points": tmp / "points.geojson", "polygons": tmp / "polygons.gpkg",
        "a_centre": (cx, cy), "overlap": overlap, "b_origin": b_origin, "label_split_x": LABEL_SPLIT_X,
    }
