"""EOPatch, PASTIS, multi-date stacks and hyperspectral (.mat, ABU, ENVI) loaders."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio
import scipy.io

from eokit.datasets import get_dataset
from eokit.errors import DatasetError
from eokit.sensors import get_sensor

DATA = Path(__file__).resolve().parents[1] / "data"


def gen(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gen_{name}", DATA / name / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- EOPatch
def test_eopatch_real_slovenia_patch(mirror: Path) -> None:
    root = mirror / "timeseries" / "eolearn_TestEOPatch_S2_slovenia"
    ds = get_dataset("eopatch", root=root, split="all", chip_size=48)
    assert len(ds) == 4  # floor(101/48) * floor(100/48)
    s = ds[0]
    assert s["image"].shape == (68, 2, 48, 48) and s["bands"] == ("CLP", "NDVI") and s["sensor"] is None
    assert len(s["dates"]) == 68 and s["time"] == "2015-07-11T10:00:08" and s["dates"][-1].startswith("2017-12-22")
    ndvi = np.load(root / "data" / "NDVI.npy")
    np.testing.assert_array_equal(s["image"][:, 1].numpy(), ndvi[:, :48, :48, 0])
    lulc = np.load(root / "mask_timeless" / "LULC.npy")[:48, :48, 0]
    np.testing.assert_array_equal(s["mask"].numpy(), lulc)
    assert set(s["mask"].unique().tolist()) <= {0, 1, 2, 3, 4, 8}
    assert s["crs"] == "EPSG:32633"
    assert s["bounds"][0] == pytest.approx(465181.0522318204) and s["bounds"][3] == pytest.approx(5080254.63349641)
    assert s["transform"][0] == pytest.approx((466180.53145382757 - 465181.0522318204) / 100)
    ndvi_only = get_dataset("eopatch", root=root, split="all", features=["NDVI"])[0]
    assert ndvi_only["image"].shape == (68, 1, 101, 100)


def test_eopatch_fixture_bands_and_refuses_pickles(tmp_path: Path) -> None:
    root = gen("eopatch").write(tmp_path / "eop")
    s = get_dataset("eopatch", root=root, split="all")[0]
    assert s["bands"] == get_sensor("sentinel2_l1c").band_names and s["sensor"] == "sentinel2_l1c"
    assert s["image"].shape == (3, 13, 10, 12)
    np.save(root / "eopatch_0" / "data" / "EVIL.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="EVIL.npy"):
        get_dataset("eopatch", root=root, split="all", features=["EVIL"])[0]
    (root / "eopatch_0" / "data" / "EVIL.npy").unlink()
    np.save(root / "eopatch_0" / "mask_timeless" / "LULC.npy", np.zeros((5, 5, 1), np.uint16))
    with pytest.raises(DatasetError, match="must share the image grid"):
        get_dataset("eopatch", root=root, split="all")[0]


# --------------------------------------------------------------------------- PASTIS
def test_pastis_folds_void_and_dates(tmp_path: Path) -> None:
    root = gen("pastis").write(tmp_path / "pastis")
    train = get_dataset("pastis", root=root, split="train")
    assert [f["properties"]["Fold"] for f in train.items] == [1, 2, 3]
    s = train[2]
    target = np.load(root / "ANNOTATIONS" / "TARGET_10002.npy")[0].astype(np.int64)
    assert s["image"].shape == (5, 10, 16, 16) and s["bands"][-1] == "B12"
    np.testing.assert_array_equal(s["mask"].numpy(), np.where(target == 19, -1, target))
    assert s["dates"][0] == "2018-09-01" and len(s["dates"]) == 5 and s["crs"] == "EPSG:2154"
    assert len(get_dataset("pastis", root=root, split="test")) == 1
    assert len(get_dataset("pastis", root=root, split="train", folds=[1, 5])) == 2
    meta = json.loads((root / "metadata.geojson").read_text())
    meta["features"][4]["properties"]["dates-S2"] = {"0": 20180901}
    (root / "metadata.geojson").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="dates"):
        get_dataset("pastis", root=root, split="test")[0]


# --------------------------------------------------------------------------- multi-date stacks
def test_multidate_stack_real_landsat_composites(tmp_path: Path, mirror: Path) -> None:
    case = gen("multidate_stack").make(tmp_path, mirror)
    ds = get_dataset("multidate_stack", **case)
    assert len(ds) == 2 * 5  # floor(377/128) * floor(697/128)
    s = ds[0]
    assert s["image"].shape == (8, 4, 128, 128) and s["bands"] == ("SWIR1", "NIR", "Red", "Green")
    assert s["dates"] == [f"{y}-01-01" for y in range(1985, 2021, 5)] and s["crs"] == "EPSG:4326"
    with rasterio.open(mirror / "timeseries" / "landsat_pucallpa_peru_1985_2020" / "2000.tif") as d:
        np.testing.assert_array_equal(s["image"][3].numpy(), d.read(window=((0, 128), (0, 128))).astype(np.float32))
    assert s["mask"].shape == (128, 128)
    other = tmp_path / "pucallpa" / "2025.tif"
    with rasterio.open(tmp_path / "pucallpa" / "2020.tif") as d:
        profile = d.profile | {"width": 100}
    with rasterio.open(other, "w", **profile) as d:
        d.write(np.zeros((4, 377, 100), np.uint8))
    with pytest.raises(DatasetError, match="2025.tif"):
        get_dataset("multidate_stack", **case)


# --------------------------------------------------------------------------- hyperspectral
def test_abu_real_anomaly_scenes(mirror: Path) -> None:
    root = mirror / "hyperspectral" / "abu_anomaly_aviris_hydice"
    ds = get_dataset("abu_anomaly", root=root, split="all")
    scenes = {ds[i]["id"].split(":")[0]: ds[i] for i in range(len(ds))}
    assert {k: (v["image"].shape, int(v["mask"].sum())) for k, v in scenes.items()} == {
        "HYDICE_data": ((162, 100, 80), 19), "abu-urban-2": ((198, 100, 100), 155),
        "sandiego_plane": ((189, 100, 100), 134)}
    raw = scipy.io.loadmat(root / "sandiego_plane.mat")["data"]
    np.testing.assert_array_equal(scenes["sandiego_plane"]["image"].numpy(), np.moveaxis(raw, -1, 0))
    patches = get_dataset("abu_anomaly", root=root, split="all", scenes=["HYDICE_data.mat"], patch_size=32)
    assert len(patches) == 4 * 3
    assert sum(int((patches[i]["mask"] == 1).sum()) for i in range(len(patches))) == 19
    assert patches[len(patches) - 1]["mask"].min() == -1  # padding beyond the 100x80 scene


def test_indian_pines_layout_labels_and_wavelengths(tmp_path: Path) -> None:
    root = gen("hsi_mat").write(tmp_path / "ip", "indian_pines")
    ds = get_dataset("indian_pines", root=root, split="all", patch_size=None)
    s = ds[0]
    gt = scipy.io.loadmat(root / "Indian_pines_gt.mat")["indian_pines_gt"].astype(np.int64)
    np.testing.assert_array_equal(s["mask"].numpy(), gt - 1)  # 0 unlabelled -> -1, k -> k-1
    assert s["image"].shape == (200, 20, 14) and s["sensor"] == "aviris_indian_pines"
    sensor = get_sensor("aviris_indian_pines")
    assert len(sensor.bands) == 200 and sensor.bands[0].center_nm == pytest.approx(400.0)
    assert sensor.bands[-1].center_nm == pytest.approx(2490.4, abs=0.05)  # channel 220 removed
    gaps = np.diff([b.center_nm for b in sensor.bands])
    assert (gaps > 15).sum() == 2  # the two water-absorption gaps (the third cut is the last band)
    assert get_dataset("pavia_university", root=gen("hsi_mat").write(tmp_path / "pu", "pavia_university"),
                       split="all")[0]["image"].shape[0] == 103
    (root / "Indian_pines_gt.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DatasetError, match="Indian_pines_gt.mat"):
        get_dataset("indian_pines", root=root, split="all")


def test_indian_pines_wrong_key_and_grid(tmp_path: Path) -> None:
    root = gen("hsi_mat").write(tmp_path / "ip", "indian_pines")
    scipy.io.savemat(root / "Indian_pines_gt.mat", {"gt": np.zeros((20, 14), np.uint8)})
    with pytest.raises(DatasetError, match="indian_pines_gt"):
        get_dataset("indian_pines", root=root, split="all")
    scipy.io.savemat(root / "Indian_pines_gt.mat", {"indian_pines_gt": np.zeros((19, 14), np.uint8)})
    with pytest.raises(DatasetError, match="must share the image grid"):
        get_dataset("indian_pines", root=root, split="all")


def test_envi_cube_wavelengths(tmp_path: Path) -> None:
    root = gen("envi_hyperspectral").write(tmp_path / "envi")
    ds = get_dataset("envi_hyperspectral", root=root, split="all", cube="cube.img", gt="gt.img", patch_size=None)
    s = ds[0]
    assert s["wavelengths"] == pytest.approx([450, 550, 650, 750, 850, 1600])
    raw = np.fromfile(root / "cube.img", dtype="<i2").reshape(6, 12, 10)
    np.testing.assert_array_equal(s["image"].numpy(), raw.astype(np.float32))
    gt = np.fromfile(root / "gt.img", dtype=np.uint8).reshape(12, 10).astype(np.int64)
    np.testing.assert_array_equal(s["mask"].numpy(), gt - 1)
