"""Space-time sampling (eokit.data.timeseries) on a small generated multi-date, mixed-CRS collection.

Tile A (EPSG:32631, 64x64 px at 10 m) at five dates, tile B (EPSG:32632) at two dates overlapping A's
east half across the UTM zone boundary, and one date of A shifted by half a pixel (same CRS, off-grid).
Each scene's pixel value encodes its date and position, so reads can be checked exactly.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from pyproj import Transformer
from rasterio.transform import from_origin

from eokit.data import (
    GridSpaceTimeSampler,
    RandomSpaceTimeSampler,
    SceneCollection,
    SpaceTimeDataset,
    TimeSelection,
    collate_samples,
    parse_months,
)
from eokit.errors import ConfigError, GridAlignError, TimeSeriesError

A_ORIGIN = (736_000.0, 5_010_000.0)
A_DATES = ("20230115", "20230410", "20230620", "20230715", "20230905")
B_DATES = ("20230625", "20230801")
SIZE, RES = 64, 10.0


def _write(path: Path, epsg: int, origin: tuple[float, float], data: np.ndarray) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype.name, crs=f"EPSG:{epsg}", transform=from_origin(*origin, RES, RES),
                       tiled=True, blockxsize=32, blockysize=32) as dst:
        dst.write(data)
        dst.descriptions = ("B02", "B03", "B04", "B08")
    return path


def _pixels(day: int) -> np.ndarray:
    """Band b of pixel (r, c) holds day * 10 + b, plus 1000 * r + c in band 0 (exact checks)."""
    r, c = np.mgrid[0:SIZE, 0:SIZE]
    out = np.stack([np.full((SIZE, SIZE), day * 10 + b, np.float32) for b in range(4)])
    out[0] += 1000 * r + c
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("spacetime")
    files = [_write(root / f"A_{d}.tif", 32631, A_ORIGIN, _pixels(int(d[4:]))) for d in A_DATES]
    # B: in EPSG:32632, placed over A's east half
    tr = Transformer.from_crs(32631, 32632, always_xy=True)
    bx, by = tr.transform(A_ORIGIN[0] + 32 * RES, A_ORIGIN[1])
    files += [_write(root / f"B_{d}.tif", 32632, (round(bx), round(by)), _pixels(int(d[4:]))) for d in B_DATES]
    shifted = _write(root / "S_20231010.tif", 32631, (A_ORIGIN[0] + 5.0, A_ORIGIN[1]), _pixels(1010))
    return {"root": root, "a": files[:5], "b": files[5:], "shifted": shifted}


def _coll(paths: list[Path]) -> SceneCollection:
    return SceneCollection.from_paths([str(p) for p in paths], pattern=r"_(?P<date>\d{8})")


def test_random_windows_stack_dates_with_doy_and_exact_pixels(series: dict) -> None:
    coll = _coll(series["a"])
    sampler = RandomSpaceTimeSampler(coll, size=16, length=6, n_dates=3, seed=1)
    ds = SpaceTimeDataset(coll)
    specs = list(sampler)
    assert len(specs) == 6 and len({s.anchor for s in specs}) == 1  # one tile: one anchor grid
    s = ds[specs[0]]
    assert s["image"].shape == (3, 4, 16, 16) and s["image"].dtype == torch.float32
    assert s["dates"] == ("2023-01-15", "2023-06-20", "2023-09-05")  # 'even' over the 5 dates
    assert s["doy"].tolist() == [15, 171, 248] and s["time_mask"].all() and s["valid"].all()
    spec = specs[0]
    want = 1000 * spec.row + spec.col + 620 * 10  # band 0 of 2023-06-20 at the window's corner
    assert s["image"][1, 0, 0, 0].item() == want and s["image"][1, 3, 5, 5].item() == 620 * 10 + 3
    assert s["transform"] == tuple(coll.scenes[spec.anchor].grid.window_grid(spec.window).transform)[:6]
    assert list(sampler) == specs  # same seed and epoch -> same windows
    batch = collate_samples([ds[x] for x in specs[:4]])
    assert batch["image"].shape == (4, 3, 4, 16, 16) and batch["doy"].shape == (4, 3)
    assert pickle.loads(pickle.dumps(sampler)).windows() == specs


def test_season_window_and_picks(series: dict) -> None:
    coll = _coll(series["a"])
    ds = SpaceTimeDataset(coll)
    summer = next(iter(GridSpaceTimeSampler(coll, 32, months="JJA")))
    assert ds[summer]["dates"] == ("2023-06-20", "2023-07-15")
    spring = next(iter(GridSpaceTimeSampler(coll, 32, start="2023-04-01", end="2023-07-15", n_dates=2, pick="last")))
    assert ds[spring]["dates"] == ("2023-06-20", "2023-07-15")
    assert parse_months("11-2") == (11, 12, 1, 2) and parse_months([6, 7]) == (6, 7)
    assert [Path(sc.path).name for sc in coll.query(months="DJF")] == ["A_20230115.tif"]
    picked = SpaceTimeDataset(coll, bands=["B4", "b08"])[summer]  # resolved by the one band resolver
    assert picked["bands"] == ("B04", "B08") and picked["image"][0, 1, 0, 0].item() == 620 * 10 + 3
    again = pickle.loads(pickle.dumps(ds))[summer]  # DataLoader workers get a pickled copy
    assert torch.equal(again["image"], ds[summer]["image"])
    with pytest.raises(ConfigError, match="months"):
        parse_months("summer")
    grid = GridSpaceTimeSampler(coll, 32, n_dates=5)
    assert len(grid) == 4  # 2x2 windows of one location stack, not one per date
    rnd = next(iter(RandomSpaceTimeSampler(coll, 16, 1, n_dates=2, pick="random", seed=3)))
    assert len(rnd.scenes) == 2 and rnd.scenes[0] < rnd.scenes[1]


def test_irregular_dates_mask_the_missing_one(series: dict) -> None:
    coll = _coll(series["a"])
    spec = next(iter(GridSpaceTimeSampler(coll, 32, dates=["2023-01-12", "2023-03-01", "2023-07-20"],
                                          tolerance_days=10)))
    s = SpaceTimeDataset(coll)[spec]
    assert s["time_mask"].tolist() == [True, False, True]
    assert s["dates"] == ("2023-01-15", "2023-03-01", "2023-07-15")  # scenes' dates; the missing: its target
    assert s["image"][1].abs().sum() == 0 and not s["valid"][1].any()  # masked, not filled
    assert s["image"][2, 1, 0, 0].item() == 715 * 10 + 1  # served by 2023-07-15
    assert s["paths"][1] is None and s["doy"][1].item() == 60


def test_fewer_dates_than_asked_raise_or_pad(series: dict) -> None:
    coll = _coll(series["a"])
    with pytest.raises(TimeSeriesError, match=r"window \(0, 0, 32, 32\) of .*A_20230620\.tif.*fewer than n_dates=4.*pad=True"):
        GridSpaceTimeSampler(coll, 32, months="JJA", n_dates=4)
    spec = next(iter(GridSpaceTimeSampler(coll, 32, months="JJA", n_dates=4, pad=True)))
    s = SpaceTimeDataset(coll)[spec]
    assert s["time_mask"].tolist() == [True, True, False, False] and s["doy"].tolist()[2:] == [0, 0]
    assert s["dates"][2:] == (None, None) and s["image"][2:].abs().sum() == 0
    with pytest.raises(TimeSeriesError, match="2023-01-15 .. 2023-09-05.*widen"):
        GridSpaceTimeSampler(coll, 32, start="2024-01-01")
    with pytest.raises(TimeSeriesError, match="'2023-13-45'.*ISO 8601"):
        TimeSelection.of(dates=["2023-01-01", "2023-13-45"])
    undated = SceneCollection.from_paths([str(p) for p in series["a"]])
    with pytest.raises(TimeSeriesError, match=r"no acquisition time.*A_20230115\.tif.*pattern="):
        RandomSpaceTimeSampler(undated, 16, 4, n_dates=2)


def test_mixed_crs_members_are_warped_only_when_asked(series: dict) -> None:
    coll = _coll(series["a"] + series["b"])
    sampler = GridSpaceTimeSampler(coll, 16, months="6-8")
    assert {Path(coll.scenes[w.anchor].path).name[0] for w in sampler} \
        == {"A", "B"}  # one anchor grid per tile
    east = [w for w in sampler if Path(coll.scenes[w.anchor].path).name.startswith("A")
            and w.col >= 40 and w.row <= 16]
    assert east, "a window of A's east half"
    spec = east[0]
    names = [Path(coll.scenes[i].path).name for i in spec.scenes]
    assert names == ["A_20230620.tif", "B_20230625.tif", "A_20230715.tif", "B_20230801.tif"]
    with pytest.raises(GridAlignError, match=r"B_20230625\.tif.*EPSG:32632.*A_20230620\.tif.*resampling="):
        SpaceTimeDataset(coll)[spec]
    s = SpaceTimeDataset(coll, resampling="nearest")[spec]
    assert s["image"].shape == (4, 4, 16, 16) and s["time_mask"].all() and s["crs"] == "EPSG:32631"
    assert s["valid"][1].float().mean() > 0.9
    b3 = s["image"][1, 3][s["valid"][1]]
    assert torch.all(b3 == 625 * 10 + 3)  # band 3 of B at 2023-06-25: warped, not blended with A
    # a common grid: everything warped onto EPSG:32632 at 20 m
    s2 = SpaceTimeDataset(coll, target_crs="EPSG:32632", target_res=20.0)[spec]
    assert s2["crs"] == "EPSG:32632" and s2["transform"][0] == 20.0 and s2["time_mask"].all()


def test_off_grid_member_in_the_same_crs_needs_resampling(series: dict) -> None:
    coll = _coll([series["a"][0], series["shifted"]])
    spec = next(iter(GridSpaceTimeSampler(coll, 32, n_dates=2)))
    with pytest.raises(GridAlignError, match=r"S_20231010\.tif.*not on the grid of"):
        SpaceTimeDataset(coll)[spec]
    s = SpaceTimeDataset(coll, resampling="bilinear")[spec]
    assert s["time_mask"].all() and s["dates"] == ("2023-01-15", "2023-10-10")


def test_fast_float_warp_matches_gdal(series: dict) -> None:
    """warp_float (one lattice projection + grid_sample) agrees with GDAL's reprojection."""
    from eokit.data.timeseries import warp_float
    from eokit.io import open_raster, reproject_chip

    a, b = open_raster(str(series["a"][0])), open_raster(str(series["b"][0]))
    target = a.grid.window_grid(rasterio.windows.Window(40, 4, 20, 24))
    chip = b.read(b.window_for_bounds(target.bounds, target.crs), boundless=True)
    bigger = b.read(rasterio.windows.Window(0, 0, 64, 64))
    for method in ("bilinear", "nearest"):
        fast, gdal = warp_float(bigger, target, method), reproject_chip(bigger, target, method)
        both = fast.valid & gdal.valid
        assert both.mean() > 0.9 and (fast.valid == gdal.valid).mean() > 0.95
        np.testing.assert_allclose(fast.array[3][both], 625 * 10 + 3, atol=0.01)  # a constant band stays
        tol = 1000 * 0.15 if method == "bilinear" else 1000 * 1.01  # band 0 rises 1000 per source row
        assert np.abs(fast.array[0][both] - gdal.array[0][both]).max() <= tol
    assert chip.array.shape[0] == 4
