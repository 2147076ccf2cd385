"""doy / time_mask / n_dates of the time-series loaders (EOPatch, PASTIS, multi-date stacks), and
space-time sampling of the real Landsat 1985-2020 composites as a SceneCollection."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from eokit.data import GridSpaceTimeSampler, SceneCollection, SpaceTimeDataset, collate_samples
from eokit.datasets import get_dataset
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"


def _gen(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gen_axis_{name}", DATA / name / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eopatch_real_series_doy_and_fitted_length(mirror: Path) -> None:
    root = mirror / "timeseries" / "eolearn_TestEOPatch_S2_slovenia"
    s = get_dataset("eopatch", root=root, split="all", chip_size=48, features=["NDVI"])[0]
    assert s["doy"].shape == (68,) and s["doy"][0].item() == 192 and s["time_mask"].all()  # 2015-07-11
    assert s["doy"][-1].item() == 356  # 2017-12-22
    padded = get_dataset("eopatch", root=root, split="all", chip_size=48, features=["NDVI"], n_dates=70)[0]
    assert padded["image"].shape == (70, 1, 48, 48) and padded["time_mask"].sum().item() == 68
    assert padded["dates"][68:] == [None, None] and padded["image"][68:].abs().sum() == 0
    few = get_dataset("eopatch", root=root, split="all", chip_size=48, features=["NDVI"], n_dates=4)[0]
    assert few["dates"][0] == s["dates"][0] and few["dates"][-1] == s["dates"][-1] and len(few["dates"]) == 4
    np.testing.assert_array_equal(few["image"][-1].numpy(), s["image"][-1].numpy())


def test_eopatch_bad_timestamps(tmp_path: Path) -> None:
    root = _gen("eopatch").write(tmp_path / "eop")
    stamps = root / "eopatch_0" / "timestamps.json"
    stamps.write_text(json.dumps(["2020-01-15", "yesterday", "2020-03-15"]))
    with pytest.raises(DatasetError, match=r"timestamps\.json.*'yesterday'.*ISO 8601"):
        get_dataset("eopatch", root=root, split="all")[0]
    stamps.write_text("[2020-01")
    with pytest.raises(DatasetError, match=r"timestamps\.json.*not valid JSON"):
        get_dataset("eopatch", root=root, split="all")[0]


def test_pastis_patches_of_different_lengths_batch_with_n_dates(tmp_path: Path) -> None:
    root = _gen("pastis").write(tmp_path / "pastis")
    ds = get_dataset("pastis", root=root, split="train", n_dates=6)  # patches have 3, 4, 5 dates
    batch = collate_samples([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 6, 10, 16, 16) and batch["time_mask"].sum(1).tolist() == [3, 4, 5]
    assert batch["doy"][0].tolist() == [244, 249, 254, 0, 0, 0]  # 2018-09-01/06/11, then padding
    meta = json.loads((root / "metadata.geojson").read_text())
    meta["features"][0]["properties"]["dates-S2"] = {"0": "2018-09-01", "1": 20180906, "2": 20180911}
    (root / "metadata.geojson").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"patch 10000 in .*metadata\.geojson.*YYYYMMDD"):
        get_dataset("pastis", root=root, split="train")[0]


def test_landsat_composites_as_a_space_time_collection(mirror: Path) -> None:
    folder = mirror / "timeseries" / "landsat_pucallpa_peru_1985_2020"
    coll = SceneCollection.from_paths(str(folder / "*.tif"), pattern=r"(?P<year>\d{4})\.tif$")
    sampler = GridSpaceTimeSampler(coll, 128, start="1990-01-01", end="2015-12-31", n_dates=3)
    assert len(sampler) == 3 * 6  # one location stack: 377x697 px in 128 px windows, edges covered
    s = SpaceTimeDataset(coll)[next(iter(sampler))]
    assert s["image"].shape == (3, 4, 128, 128) and s["dates"] == ("1990-01-01", "2000-01-01", "2015-01-01")
    assert s["time_mask"].all() and s["crs"] == "EPSG:4326"
    import rasterio

    with rasterio.open(folder / "2000.tif") as d:
        np.testing.assert_array_equal(s["image"][1].numpy(), d.read(window=((0, 128), (0, 128))).astype(np.float32))
    stack = get_dataset("multidate_stack", root=folder, split="all", pattern="[12]*.tif", chip_size=128)[0]
    assert stack["doy"].tolist() == [1] * 8 and stack["time_mask"].all()


def test_eopatch_cloud_mask_masks_cloudy_pixels_and_dates(mirror: Path) -> None:
    root = mirror / "timeseries" / "eolearn_TestEOPatch_S2_slovenia"
    s = get_dataset("eopatch", root=root, split="all", chip_size=48, features=["NDVI"], cloud_mask="CLM")[0]
    clm = np.load(root / "mask" / "CLM.npy")[:, :48, :48, 0]
    assert s["valid"].shape == (68, 48, 48) and s["image"].shape == (68, 1, 48, 48)
    np.testing.assert_array_equal(s["valid"].numpy(), clm == 0)
    assert s["time_mask"].tolist() == (clm == 0).reshape(68, -1).any(1).tolist()
    assert 0 < int((~s["time_mask"]).sum()) < 68  # some dates are cloudy over the whole chip
    ndvi = np.load(root / "data" / "NDVI.npy")[:, :48, :48, 0]
    np.testing.assert_array_equal(s["image"][:, 0].numpy(), ndvi)  # masked, not filled
    padded = get_dataset("eopatch", root=root, split="all", chip_size=48, features=["NDVI"], cloud_mask="CLM",
                         n_dates=70)[0]
    assert not padded["valid"][68:].any() and padded["time_mask"][:68].tolist() == s["time_mask"].tolist()
    with pytest.raises(DatasetError, match=r"no CLOUDS\.npy.*CLM\.npy"):
        get_dataset("eopatch", root=root, split="all", features=["NDVI"], cloud_mask="CLOUDS")[0]
