"""AGBD, pixel regression, detection (CSV/VOC/YOLO/COCO) and super-resolution loaders."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from eokit.datasets import get_dataset
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"


def gen(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gen_{name}", DATA / name / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- AGBD
def test_agbd_values_follow_the_authors_conversion(tmp_path: Path) -> None:
    root = gen("agbd").write(tmp_path / "agbd")
    items = {}
    for split in ("train", "val", "test"):
        ds = get_dataset("agbd", root=root, split=split)
        items[split] = {(it[1], it[2]) for it in ds.items}
    all_items = set().union(*items.values())
    assert len(all_items) == sum(gen("agbd").TILES.values())  # the splits partition every patch
    tiles = {s: {t for t, _ in v} for s, v in items.items()}
    assert not (tiles["train"] & tiles["val"]) and not (tiles["train"] & tiles["test"])  # split by tile
    ds = get_dataset("agbd", root=root, split="train")
    s = ds[0]
    path, tile, i = ds.items[0]
    with h5py.File(path, "r") as f:
        dn = f[tile]["S2_bands"][i].astype(np.float32)
        alos = f[tile]["ALOS_bands"][i].astype(np.float32)
        agbd = float(f[tile]["GEDI"]["agbd"][i])
    assert s["image"].shape == (14, 25, 25) and s["bands"][-2:] == ("HH", "HV") and s["sensor"] is None
    np.testing.assert_allclose(s["image"][3].numpy(), (dn[:, :, 3] - 1000) / 10000, rtol=1e-6)
    np.testing.assert_allclose(s["image"][12].numpy(), 10 * np.log10(alos[:, :, 0] ** 2) - 83, rtol=1e-5)
    assert float(s["target"]) == pytest.approx(agbd)
    small = get_dataset("agbd", root=root, split="test", modalities=("s2",), patch_size=15,
                        split_tiles={"test": ["18NUL"]})
    assert len(small) == 3 and small[0]["image"].shape == (12, 15, 15) and small[0]["sensor"] == "sentinel2_l2a"
    with pytest.raises(DatasetError, match="patch_size"):
        get_dataset("agbd", root=root, patch_size=24)


def test_agbd_corrupt_file(tmp_path: Path) -> None:
    root = tmp_path / "agbd"
    root.mkdir()
    (root / "data_subset-2019-v4_0-20.h5").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="data_subset-2019-v4_0-20.h5"):
        get_dataset("agbd", root=root)


# --------------------------------------------------------------------------- pixel regression
def test_pixel_regression_dsm_to_height_above_ground(mirror: Path) -> None:
    root = mirror / "regression" / "lidar_elevation_dsm_dtm_hag"
    ds = get_dataset("pixel_regression", root=root, pairs=[("dsm.tif", "hag.tif")], chip_size=128,
                     image_bands=("DSM",))
    assert len(ds) == 9  # ceil(259/128) * ceil(283/128)
    with rasterio.open(root / "hag.tif") as d:
        hag = d.read(1)
    total_valid, vmax = 0, -np.inf
    for i in range(len(ds)):
        s = ds[i]
        x, y, w, h = ds.items[i][2]
        ref = np.full((128, 128), -9999.0, np.float32)
        part = hag[y : y + h, x : x + w]
        ref[: part.shape[0], : part.shape[1]] = part
        np.testing.assert_array_equal(s["valid"].numpy(), ref != -9999)
        np.testing.assert_array_equal(s["target"].numpy()[s["valid"].numpy()], ref[ref != -9999])
        assert (s["target"].numpy()[~s["valid"].numpy()] == 0).all()
        total_valid += int(s["valid"].sum())
        vmax = max(vmax, float(s["target"].max()))
    assert total_valid == int((hag != -9999).sum()) and vmax == pytest.approx(53.52, abs=0.01)
    assert ds[0]["bands"] == ("DSM",) and ds[0]["crs"] == "EPSG:26918"


@pytest.mark.parametrize("reduce", ["mean", "max", "fraction_above:2"])
def test_pixel_regression_reduce_gives_image_level_targets(mirror: Path, reduce: str) -> None:
    """reduce= turns each 64 px chip's height-above-ground into one value, equal to numpy over its valid pixels."""
    root = mirror / "regression" / "lidar_elevation_dsm_dtm_hag"
    ds = get_dataset("pixel_regression", root=root, pairs=[("dsm.tif", "hag.tif")], chip_size=64,
                     image_bands=("DSM",), reduce=reduce, min_valid=0.5)
    with rasterio.open(root / "hag.tif") as d:
        hag = d.read(1)
    kept = 0
    for y in range(0, hag.shape[0], 64):
        for x in range(0, hag.shape[1], 64):
            part = hag[y : y + 64, x : x + 64]
            v = part[part != -9999]
            if v.size < 0.5 * 64 * 64:  # an edge chip mostly outside the raster: left out
                assert all(it[2][:2] != (x, y) for it in ds.items)
                continue
            i = next(i for i, it in enumerate(ds.items) if it[2][:2] == (x, y))
            want = {"mean": v.mean(), "max": v.max(), "fraction_above:2": (v > 2).mean()}[reduce]
            s = ds[i]
            assert s["target"].ndim == 0 and "valid" not in s
            assert float(s["target"]) == pytest.approx(float(want), rel=1e-5)
            kept += 1
    assert kept == len(ds) == 16  # 4 x 4 full chips of the 259 x 283 raster
    with pytest.raises(DatasetError, match="fraction_above"):
        get_dataset("pixel_regression", root=root, pairs=[("dsm.tif", "hag.tif")], reduce="average")


def test_pixel_regression_grid_mismatch(tmp_path: Path, mirror: Path) -> None:
    src = mirror / "regression" / "lidar_elevation_dsm_dtm_hag" / "hag.tif"
    with rasterio.open(src) as d:
        profile = d.profile | {"width": 100}
        data = d.read(window=Window(0, 0, 100, d.height))
    with rasterio.open(tmp_path / "small.tif", "w", **profile) as d:
        d.write(data)
    with pytest.raises(DatasetError, match="small.tif"):
        get_dataset("pixel_regression", root=tmp_path, pairs=[(src, "small.tif")])


# --------------------------------------------------------------------------- detection
def test_neon_csv_and_voc_on_real_plots(mirror: Path) -> None:
    root = mirror / "detection" / "deepforest_neon"
    csv_ds = get_dataset("neon_tree_crowns", root=root, split="all")
    by_id = {csv_ds[i]["id"]: csv_ds[i] for i in range(len(csv_ds))}
    assert {k: len(v["boxes"]) for k, v in by_id.items()} == {
        "OSBS_029": 61, "2019_YELL_2_541000_4977000_image_crop": 79}
    osbs = by_id["OSBS_029"]
    assert osbs["boxes"][0].tolist() == [203, 67, 227, 90] and osbs["labels"].unique().tolist() == [0]
    assert osbs["image"].shape == (3, 400, 400) and osbs["crs"] == "EPSG:32617"
    voc = get_dataset("neon_tree_crowns", root=root, split="all", annotations="voc")
    assert voc.classes == ("Tree", "Dead", "Alive")  # Tree + DeepForest classes.csv in id order
    counts = {voc[i]["id"]: voc[i]["labels"].bincount(minlength=3).tolist() for i in range(len(voc))}
    assert sum(counts["SOAP_061"]) == 37 and counts["SOAP_061"][0] == 0
    assert counts["OSBS_029"] == [61, 0, 0] and sum(counts["2019_YELL_2_541000_4977000_image_crop"]) == 279
    voc_osbs = next(voc[i] for i in range(len(voc)) if voc[i]["id"] == "OSBS_029")
    np.testing.assert_array_equal(voc_osbs["boxes"].numpy(), osbs["boxes"].numpy())  # CSV == VOC


def test_neon_bad_boxes_and_labels(tmp_path: Path, mirror: Path) -> None:
    img = mirror / "detection" / "deepforest_neon" / "OSBS_029.tif"
    (tmp_path / "OSBS_029.tif").symlink_to(img)
    (tmp_path / "a.csv").write_text("image_path,xmin,ymin,xmax,ymax,label\nOSBS_029.tif,50,50,40,60,Tree\n")
    with pytest.raises(DatasetError, match="empty or outside"):
        get_dataset("neon_tree_crowns", root=tmp_path, split="all")[0]
    (tmp_path / "a.csv").write_text("image_path,xmin,ymin,xmax,ymax,label\nOSBS_029.tif,1,1,9,9,Shrub\n")
    with pytest.raises(DatasetError, match="Shrub"):
        get_dataset("neon_tree_crowns", root=tmp_path, split="all")


def test_yolo_boxes_in_pixels(tmp_path: Path) -> None:
    root = gen("yolo_detection").write(tmp_path / "yolo")
    ds = get_dataset("yolo_detection", root=root, split="train")
    assert ds.classes == ("airplane", "helicopter") and len(ds) == 3
    s = {ds[i]["id"]: ds[i] for i in range(3)}
    assert len(s["train_0"]["boxes"]) == 0  # no label file: no objects
    two = s["train_2"]
    assert two["boxes"].tolist() == [[24.0, 12.0, 40.0, 36.0]] * 2 and two["labels"].tolist() == [0, 1]
    (root / "labels" / "train" / "train_1.txt").write_text("5 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DatasetError, match="class 5"):
        get_dataset("yolo_detection", root=root, split="train")[1]
    hr = get_dataset("hrplanes", root=gen("hrplanes").write(tmp_path / "hrp"), split="test")
    assert [hr[i]["id"] for i in range(len(hr))] == ["4e5f6a", "5f6a7b"] and len(hr[1]["boxes"]) == 2


def test_coco_category_mapping_and_xywh(tmp_path: Path) -> None:
    root = gen("coco_detection").write(tmp_path / "coco")
    ds = get_dataset("coco_detection", root=root, split="train")
    assert ds.classes == ("ship", "storage_tank")  # ascending category id: 3, 7
    s = ds[2]
    assert s["boxes"].tolist() == [[5.0, 4.0, 15.0, 12.0], [6.0, 4.0, 16.0, 12.0]]
    assert s["labels"].tolist() == [0, 1] and len(ds[0]["boxes"]) == 0
    coco = json.loads((root / "annotations" / "instances_val.json").read_text())
    coco["annotations"].append({"id": 99, "image_id": 555, "category_id": 3, "bbox": [0, 0, 1, 1]})
    (root / "annotations" / "instances_val.json").write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match="unknown image"):
        get_dataset("coco_detection", root=root, split="val")


# --------------------------------------------------------------------------- super-resolution
def test_landsat_pan_ms_pairs_are_coregistered(mirror: Path) -> None:
    root = mirror / "scenes" / "landsat8_LC80200392015216"
    ds = get_dataset("landsat8_pansharpen", root=root, split="all", chip_size=128)
    assert len(ds) == 16  # floor(627/128) * floor(603/128)
    s = ds[5]
    assert s["image"].shape == (3, 128, 128) and s["target"].shape == (1, 256, 256)
    assert s["bands"] == ("B2", "B3", "B4") and s["target_bands"] == ("B8",) and s["sensor"] == "landsat8"
    pan = s["target"][0].numpy().reshape(128, 2, 128, 2).mean(axis=(1, 3))
    ms = s["image"].numpy().mean(axis=0)
    assert np.corrcoef(pan.ravel(), ms.ravel())[0, 1] > 0.8  # same ground, same pixels
    shifted = np.corrcoef(pan[:, 8:].ravel(), ms[:, :-8].ravel())[0, 1]
    assert np.corrcoef(pan.ravel(), ms.ravel())[0, 1] > shifted


def test_worldstrat_revisits_and_official_split(tmp_path: Path) -> None:
    root = gen("worldstrat").write(tmp_path / "ws")
    train = get_dataset("worldstrat", root=root, split="train")
    assert train.items == ["ASMSpotter-1-1-1", "Landcover-743192"]
    s = train[0]
    assert s["image"].shape == (4, 12, 8, 8) and s["target"].shape == (4, 48, 48)
    assert float(s["target"].min()) >= 0 and float(s["target"].max()) <= 1
    assert get_dataset("worldstrat", root=root, split="test", revisits=2)[0]["image"].shape[0] == 2
    next((root / "hr_dataset" / "12bit" / "UNHCR-SSDs001234").glob("*_rgbn.tiff")).unlink()
    with pytest.raises(DatasetError, match="UNHCR-SSDs001234_rgbn.tiff"):
        get_dataset("worldstrat", root=root, split="test")[0]
