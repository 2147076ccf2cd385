"""A GOES full-disk (geostationary) raster whose corners lie off the Earth: info and bounds reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

from eokit.errors import WindowError
from eokit.io import open_raster

GOES_EAST = "+proj=geos +h=35786023 +lon_0=-75 +sweep=x +a=6378137 +rf=298.257222101 +units=m +no_defs"
HALF = 5434894.885  # ABI full-disk extent (m from the sub-satellite point)


def make_goes_full_disk(path: Path, size: int = 64, lon_0: float = -75) -> Path:
    """A float32 full-disk ABI-like grid in the geostationary CRS (corners in space)."""
    crs = GOES_EAST.replace("-75", str(lon_0))
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32", crs=crs,
                       transform=from_bounds(-HALF, -HALF, HALF, HALF, size, size)) as ds:
        ds.write(np.arange(size * size, dtype="float32").reshape(1, size, size))
    return path


def test_goes_footprint_is_the_visible_disk(tmp_path: Path) -> None:
    info = open_raster(make_goes_full_disk(tmp_path / "goes.tif")).info()
    ring = np.asarray(info.footprint_wgs84["coordinates"][0])
    assert np.isfinite(ring).all()
    # the limb of a geostationary view at lon_0=-75 lies ~81.3 deg from the sub-satellite point
    assert ring[:, 0].min() == pytest.approx(-156.3, abs=0.5) and ring[:, 0].max() == pytest.approx(6.3, abs=0.5)
    assert ring[:, 1].min() == pytest.approx(-81.3, abs=0.5) and ring[:, 1].max() == pytest.approx(81.3, abs=0.5)
    assert "outside the projection domain" in info.footprint_note


def test_goes_west_footprint_crosses_antimeridian(tmp_path: Path) -> None:
    info = open_raster(make_goes_full_disk(tmp_path / "goes_w.tif", lon_0=-137)).info()
    ring = np.asarray(info.footprint_wgs84["coordinates"][0])
    assert ring[:, 0].max() - ring[:, 0].min() == pytest.approx(162.6, abs=1.0)  # one disk, not the world
    assert "antimeridian" in info.footprint_note


def test_ordinary_raster_footprint_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "utm.tif"
    with rasterio.open(p, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8", crs="EPSG:32631",
                       transform=from_bounds(500000, 0, 501000, 1000, 10, 10)) as ds:
        ds.write(np.zeros((1, 10, 10), "uint8"))
    info = open_raster(p).info()
    assert info.footprint_note is None and len(info.footprint_wgs84["coordinates"][0]) == 5


def test_goes_info_cli_text_and_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eokit.cli.main import cli

    p = make_goes_full_disk(tmp_path / "goes.tif")
    res = CliRunner().invoke(cli, ["info", str(p)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "footprint (lon/lat)" in res.output and "outside the projection" in res.output
    res = CliRunner().invoke(cli, ["info", "--json", str(p)])
    d = json.loads(res.output)
    assert d["footprint_wgs84"]["type"] == "Polygon" and "dropped" in d["footprint_note"]


def test_goes_read_by_lonlat_bounds(tmp_path: Path) -> None:
    src = open_raster(make_goes_full_disk(tmp_path / "goes.tif"))
    chip = src.read(bounds=(-80, 30, -70, 40), bounds_crs="EPSG:4326")  # on the disk
    assert chip.array.shape[0] == 1 and chip.array.size > 0
    whole = src.read(bounds=(-180, -90, 180, 90), bounds_crs="EPSG:4326", boundless=True)  # corners off-disk
    assert min(whole.array.shape[1:]) >= 60  # the whole disk, minus at most the limb pixels
    with pytest.raises(WindowError, match=r"outside the projection domain of .*goes.tif"):
        src.read(bounds=(60, 30, 70, 40), bounds_crs="EPSG:4326")  # the far side of the Earth


def test_goes_in_a_scene_collection(tmp_path: Path) -> None:
    from eokit.data.collection import SceneCollection

    p = make_goes_full_disk(tmp_path / "goes_20240101.tif")
    coll = SceneCollection.from_paths([p], pattern=r"goes_(?P<date>\d{8})")
    fp = coll.scenes[0].footprint
    assert np.isfinite(np.asarray(fp.exterior.coords)).all() and fp.bounds[1] == pytest.approx(-81.3, abs=0.5)
    assert coll.query_indexes((-80, 30, -70, 40)) == [0]
    assert coll.query_indexes((60, 30, 70, 40)) == []  # the far side of the Earth


def test_goes_target_grid_and_reproject(tmp_path: Path) -> None:
    from eokit.io import reproject_chip, target_grid

    src = open_raster(make_goes_full_disk(tmp_path / "goes.tif"))
    grid = target_grid(src.grid, "EPSG:4326")
    w, s, e, n = grid.bounds
    assert w == pytest.approx(-156.3, abs=0.5) and n == pytest.approx(81.3, abs=0.5)  # the disk's limb
    assert 6 < e < 10 and -85 < s < -81  # whole pixels from the top-left corner reach past the limb
    out = reproject_chip(src.read(), grid)
    assert out.array.shape[1:] == grid.shape and np.isfinite(out.array[:, out.valid]).all()


def test_goes_footprint_api(tmp_path: Path) -> None:
    from eokit.errors import NoOverlapError

    src = open_raster(make_goes_full_disk(tmp_path / "goes.tif"))
    assert src.footprint()["coordinates"][0][0] == (-HALF, -HALF)  # own CRS: the plain outline
    ring = np.asarray(src.footprint("EPSG:4326")["coordinates"][0])
    assert np.isfinite(ring).all()
    space = tmp_path / "space.tif"  # a grid wholly off the Earth's disk
    with rasterio.open(space, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8", crs=GOES_EAST,
                       transform=from_bounds(6e6, 6e6, 7e6, 7e6, 4, 4)) as ds:
        ds.write(np.zeros((1, 4, 4), "uint8"))
    off = open_raster(space)
    with pytest.raises(NoOverlapError, match=r"space.tif.*no footprint.*none of .* sampled points"):
        off.footprint("EPSG:4326")
    info = off.info()
    assert info.footprint_wgs84 is None and "none of" in info.footprint_note
