"""Raster I/O on real mirror rasters: reads, windows, bounds, band names, nodata, formats."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from eokit.io import GridSpec, open_band_files, open_raster, reproject_chip, target_grid


@pytest.fixture(scope="module")
def eurosat_tif(mirror: Path) -> Path:
    return sorted((mirror / "classification/eurosat_ms_subset/train/Forest").glob("*.tif"))[0]


@pytest.fixture(scope="module")
def landsat(mirror: Path) -> Path:
    return mirror / "scenes/landsat8_LC80200392015216"


def test_eurosat_geotiff_has_13_sentinel2_bands(eurosat_tif: Path) -> None:
    src = open_raster(eurosat_tif, sensor="sentinel2_l1c")
    info = src.info()
    assert (info.width, info.height, info.count, info.dtype) == (64, 64, 13, "uint16")
    assert info.crs.to_epsg() // 100 in (326, 327)  # UTM
    assert src.bands[0] == "B01" and src.bands[3] == "B04"
    chip = src.read(bands=["red", "B03", "b2"])
    assert chip.bands == ("B04", "B03", "B02")
    with rasterio.open(eurosat_tif) as ds:
        np.testing.assert_array_equal(chip.array, ds.read([4, 3, 2]).astype("float32"))
    assert chip.array.dtype == np.float32 and chip.valid.all()
    native = src.read(bands=["B04"], dtype=None)
    assert native.array.dtype == np.uint16


def test_window_and_bounds_reads_agree(landsat: Path) -> None:
    src = open_raster(landsat / "l8_B4.tif", band_names=["B4"])
    by_window = src.read(Window(100, 50, 32, 16))
    by_bounds = src.read(bounds=by_window.bounds)
    np.testing.assert_array_equal(by_window.array, by_bounds.array)
    assert by_window.transform == by_bounds.transform
    # bounds given in WGS84 are converted to the raster's CRS (EPSG:32616)
    from rasterio.warp import transform_bounds

    ll = transform_bounds(src.crs, "EPSG:4326", *by_window.bounds)
    by_ll = src.read(bounds=ll, bounds_crs="EPSG:4326")
    assert abs(by_ll.array.shape[1] - 16) <= 2 and abs(by_ll.array.shape[2] - 32) <= 2


def test_boundless_read_pads_with_nodata_and_marks_invalid(landsat: Path) -> None:
    src = open_raster(landsat / "l8_B4.tif")
    chip = src.read((-8, -4, 16, 16), boundless=True)
    assert chip.array.shape == (1, 16, 16)
    assert not chip.valid[:4].any() and not chip.valid[:, :8].any()
    assert chip.valid[4:, 8:].all()
    with rasterio.open(landsat / "l8_B4.tif") as ds:
        np.testing.assert_array_equal(chip.array[0, 4:, 8:], ds.read(1, window=Window(0, 0, 8, 12)))


def test_nodata_mask(mirror: Path) -> None:
    src = open_raster(mirror / "regression/lidar_elevation_dsm_dtm_hag/hag.tif")
    assert src.nodata == -9999
    chip = src.read()
    assert (~chip.valid).sum() == (chip.array[0] == -9999).sum()


def test_band_stack_resamples_only_when_asked(mirror: Path) -> None:
    from eokit.errors import WindowError

    files = sorted(glob.glob(str(mirror / "scenes/sentinel2_18SVG_20160112/s2_B*.tif")))
    with pytest.raises(WindowError, match="resampling="):
        open_band_files(files, sensor="sentinel2_l1c", reference="B05")
    stack = open_band_files(files, sensor="sentinel2_l1c", reference="B05", resampling="bilinear")
    assert stack.bands[0] == "B01" and "B8A" in stack.bands
    chip = stack.read((0, 0, 60, 60), bands=["B05", "B01", "swir16"])
    assert chip.array.shape == (3, 60, 60) and chip.bands == ("B05", "B01", "B11")
    assert chip.grid.res == (20.0, 20.0)


def test_reprojection_is_explicit(landsat: Path) -> None:
    src = open_raster(landsat / "l8_B4.tif")
    chip = src.read((0, 0, 64, 64))
    grid = target_grid(chip.grid, crs="EPSG:4326")
    warped = reproject_chip(chip, grid, "bilinear")
    assert warped.crs.to_epsg() == 4326 and warped.array.shape[0] == 1
    assert warped.valid.mean() > 0.5
    assert abs(np.nanmean(warped.array[0][warped.valid]) - chip.array.mean()) < 0.05 * chip.array.mean()


def test_envi_vrt_and_jp2_like_formats(tmp_path: Path, landsat: Path) -> None:
    src_path = landsat / "l8_B5.tif"
    with rasterio.open(src_path) as ds:
        data, profile = ds.read(), ds.profile
    envi = tmp_path / "cube.img"
    profile.update(driver="ENVI")
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    with rasterio.open(envi, "w", **profile) as dst:
        dst.write(data)
    src = open_raster(tmp_path / "cube.hdr")  # the header name works too
    np.testing.assert_array_equal(src.read(dtype=None).array, data)
    vrt = tmp_path / "b5.vrt"
    from rasterio.shutil import copy as rio_copy

    rio_copy(src_path, vrt, driver="VRT")
    assert open_raster(vrt).read((0, 0, 8, 8), dtype=None).array.tolist() == data[:, :8, :8].tolist()


def test_cog_roundtrip_is_atomic_and_valid(tmp_path: Path, landsat: Path) -> None:
    from eokit.io import is_cog, write_cog

    src = open_raster(landsat / "l8_B4.tif", band_names=["B4"])
    chip = src.read(dtype=None)
    out = write_cog(tmp_path / "b4.tif", chip.array, chip.grid, nodata=0, band_names=["red"])
    ok, problems = is_cog(out)
    assert ok, problems
    with rasterio.open(out) as ds:
        assert ds.crs == src.crs and ds.transform == src.grid.transform
        assert ds.descriptions == ("red",) and ds.nodata == 0 and ds.overviews(1)
        np.testing.assert_array_equal(ds.read(), chip.array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b4.tif"]  # no temp files left


def test_cog_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    from eokit.io import CogWriter

    grid = GridSpec.from_bounds("EPSG:32631", (0, 0, 1024, 1024), 1.0)
    with pytest.raises(RuntimeError), CogWriter(tmp_path / "map.tif", grid, 1, "uint8") as w:
        w.write(np.ones((1, 512, 512), "uint8"), Window(0, 0, 512, 512))
        raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_cog_writer_leaves_nothing_when_killed(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    script = f"""
import numpy as np, time
from rasterio.windows import Window
from eokit.io import CogWriter, GridSpec
grid = GridSpec.from_bounds("EPSG:32631", (0, 0, 2048, 2048), 1.0)
with CogWriter({str(tmp_path / 'map.tif')!r}, grid, 1, "uint8") as w:
    w.write(np.ones((1, 512, 512), "uint8"), Window(0, 0, 512, 512))
    print("written", flush=True)
    time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait(10)
    time.sleep(0.1)
    assert not (tmp_path / "map.tif").exists()


def test_stac_item_with_one_asset_per_band(tmp_path: Path, landsat: Path) -> None:
    import json

    from eokit.io import open_stac_item

    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "LC80200392015216LGN00",
        "geometry": None,
        "properties": {"datetime": "2015-08-04T16:20:00Z"},
        "links": [],
        "assets": {
            name: {
                "href": str(landsat / f"l8_{band}.tif"),
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "eo:bands": [{"name": band, "common_name": name}],
            }
            for name, band in [("red", "B4"), ("nir08", "B5"), ("green", "B3")]
        },
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    stack = open_stac_item(path, sensor="landsat8")
    assert stack.bands == ("B4", "B5", "B3")
    assert stack.datetime.startswith("2015-08-04")
    chip = stack.read((10, 10, 8, 8), bands=["nir", "red"])
    with rasterio.open(landsat / "l8_B5.tif") as ds:
        np.testing.assert_array_equal(chip.array[0], ds.read(1, window=Window(10, 10, 8, 8)))
    # relative hrefs resolve against the item's own location
    shutil.copy(landsat / "l8_B4.tif", tmp_path / "B4.tif")
    item["assets"] = {"B4": {"href": "B4.tif", "type": "image/tiff", "roles": ["data"]}}
    path.write_text(json.dumps(item))
    assert open_stac_item(path).bands == ("B4",)
