"""Label layers on their own: grid mismatch within one CRS, bad vector input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from eokit.data import RasterLabels, VectorLabels
from eokit.errors import ConfigError, DatasetError, WindowError
from eokit.io import open_raster


def test_raster_label_on_other_resolution_same_crs(mirror: Path) -> None:
    l8 = mirror / "scenes" / "landsat8_LC80200392015216"
    image = open_raster(l8 / "l8_B4.tif")  # 30 m
    grid = image.grid.window_grid(Window(100, 120, 40, 30))
    pan = RasterLabels(l8 / "l8_B8.tif")  # 15 m, same CRS: not the image's pixel grid
    with pytest.raises(WindowError, match=r"not on the image's pixel grid.*on_mismatch='reproject'"):
        pan.read(grid, on_mismatch="raise")
    out = pan.read(grid, on_mismatch="reproject")
    assert out.shape == (30, 40)
    with rasterio.open(l8 / "l8_B8.tif") as src:  # nearest neighbour = GDAL's own nearest decimation here
        ref = src.read(1, window=Window(200, 240, 80, 60), out_shape=(30, 40), resampling=Resampling.nearest)
    assert (out == ref).mean() > 0.9
    same = RasterLabels(l8 / "l8_BQA.tif").read(grid)
    with rasterio.open(l8 / "l8_BQA.tif") as src:
        np.testing.assert_array_equal(same, src.read(1, window=Window(100, 120, 40, 30)))
    with pytest.raises(ConfigError, match="on_mismatch must be one of"):
        pan.read(grid, on_mismatch="warp")


def test_bad_vector_input(mixed: dict, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        VectorLabels(tmp_path / "missing.geojson")
    with pytest.raises(DatasetError, match=r"column 'klass' is not in .*'cls', 'code'"):
        VectorLabels(mixed["polygons"], column="klass")
    with pytest.raises(DatasetError, match=r"values \['water'\] missing from classes"):
        VectorLabels(mixed["polygons"], column="cls", classes=["forest"])
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read vector file"):
        VectorLabels(bad)
