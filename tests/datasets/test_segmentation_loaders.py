"""LandCover.ai, Sen1Floods11, SpaceNet and vector-label loaders: values, layouts, bad input."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from eokit.datasets import get_dataset
from eokit.errors import DatasetError
from eokit.sensors import get_sensor

DATA = Path(__file__).resolve().parents[1] / "data"


def gen(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gen_{name}", DATA / name / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- LandCover.ai
def test_landcoverai_tiles_follow_split_py_numbering(tmp_path: Path) -> None:
    root = gen("landcoverai").write(tmp_path / "lc")
    train = get_dataset("landcoverai", root=root, split="train")
    assert [s for s in train.items] == [("M-33-20-D-c-4-2", 0), ("M-33-20-D-c-4-2", 1)]
    s = train[1]  # tile k=1: row 0, column 1 -> pixels 512..1023
    with rasterio.open(root / "images" / "M-33-20-D-c-4-2.tif") as d:
        want = d.read(window=Window(512, 0, 512, 512))
        x0 = d.transform.c
    with rasterio.open(root / "masks" / "M-33-20-D-c-4-2.tif") as d:
        want_mask = d.read(1, window=Window(512, 0, 512, 512))
    assert s["image"].shape == (3, 512, 512) and s["bands"] == ("R", "G", "B")
    np.testing.assert_array_equal(s["image"].numpy(), want.astype(np.float32))
    np.testing.assert_array_equal(s["mask"].numpy(), want_mask)
    assert s["transform"][2] == pytest.approx(x0 + 512 * 0.25) and s["crs"] == "EPSG:2180"
    assert set(s["mask"].unique().tolist()) <= set(range(5))
    assert len(get_dataset("landcoverai", root=root, split="val")) == 1


def test_landcoverai_bad_tile_and_mismatched_mask(tmp_path: Path) -> None:
    root = gen("landcoverai").write(tmp_path / "lc")
    (root / "val.txt").write_text("M-33-20-D-c-4-2_7\n")  # row 1 of a 600 px high sheet: partial tile
    with pytest.raises(DatasetError, match="M-33-20-D-c-4-2_7"):
        get_dataset("landcoverai", root=root, split="val")[0]
    with rasterio.open(root / "masks" / "N-33-60-D-c-4-2.tif") as d:
        profile = d.profile | {"width": 300}
    with rasterio.open(root / "masks" / "N-33-60-D-c-4-2.tif", "w", **profile) as d:
        d.write(np.zeros((1, 520, 300), np.uint8))
    with pytest.raises(DatasetError, match="must share the image grid"):
        get_dataset("landcoverai", root=root, split="test")[0]


def test_missing_dataset_folder_names_download_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="eokit datasets download landcoverai"):
        get_dataset("landcoverai", root=tmp_path / "nope")


# --------------------------------------------------------------------------- Sen1Floods11
def test_sen1floods11_real_chip(mirror: Path) -> None:
    ds = get_dataset("sen1floods11", root=mirror / "segmentation" / "sen1floods11_sample", modalities=("s1", "s2"))
    assert len(ds) == 1
    s = ds[0]
    assert s["image"].shape == (15, 512, 512) and s["sensor"] is None
    assert s["bands"][:2] == ("VV", "VH") and s["bands"][2:] == get_sensor("sentinel2_l1c").band_names
    values, counts = np.unique(s["mask"].numpy(), return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {-1: 99, 0: 192010, 1: 70035}
    s1, s2 = s["image"][:2], s["image"][2:]
    assert -48 < float(s1.min()) < -40 and 20 < float(s1.max()) < 26  # dB
    assert float(s2.min()) >= 0 and 5000 < float(s2.max()) <= 6060  # int16 DN
    assert s["crs"] == "EPSG:4326" and s["id"] == "Spain_7370579"
    s2only = get_dataset("sen1floods11", root=mirror / "segmentation" / "sen1floods11_sample")[0]
    assert s2only["sensor"] == "sentinel2_l1c" and s2only["image"].shape[0] == 13


def test_sen1floods11_official_split_csvs_and_corrupt_file(tmp_path: Path) -> None:
    root = gen("sen1floods11").write(tmp_path / "sf")
    train = get_dataset("sen1floods11", root=root, split="train")
    assert train.items == ["Ghana_103272", "India_1068"]
    assert get_dataset("sen1floods11", root=root, split="test").items == ["USA_430764"]
    (root / "S2Hand" / "India_1068_S2Hand.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(DatasetError, match="India_1068_S2Hand.tif"):
        train[1]
    skipping = get_dataset("sen1floods11", root=root, split="train", skip_invalid=True)
    assert skipping[1]["id"] == "Ghana_103272"  # skipped to the next valid chip


def test_sen1floods11_label_grid_mismatch(tmp_path: Path) -> None:
    root = gen("sen1floods11").write(tmp_path / "sf")
    lab = root / "LabelHand" / "USA_430764_LabelHand.tif"
    with rasterio.open(lab) as d:
        profile = d.profile | {"height": 16}
    with rasterio.open(lab, "w", **profile) as d:
        d.write(np.zeros((1, 16, 32), np.int16))
    with pytest.raises(DatasetError, match="USA_430764_LabelHand.tif"):
        get_dataset("sen1floods11", root=root, split="test")[0]


# --------------------------------------------------------------------------- SpaceNet
def test_spacenet_buildings_rasterises_real_footprints(tmp_path: Path, mirror: Path) -> None:
    case = gen("spacenet_buildings").make(tmp_path, mirror)
    by_id = {}
    for split in ("train", "val", "test"):
        ds = get_dataset("spacenet_buildings", **(case | {"split": split}))
        by_id |= {ds[i]["id"]: ds[i] for i in range(len(ds))}
    assert set(by_id) == {"PAN_AOI_2_Vegas_img1", "PAN_AOI_2_Vegas_img2"}  # splits partition the images
    s = by_id["PAN_AOI_2_Vegas_img1"]
    labels = gpd.read_file(mirror / "segmentation" / "spacenet_solaris_samples" / "buildings" / "geotiff_labels.geojson")
    expected_px = labels.union_all().area / 0.25  # 0.5 m pixels
    assert s["mask"].sum().item() == pytest.approx(expected_px, rel=0.03)
    assert s["image"].shape == (1, 900, 900) and s["crs"] == "EPSG:32616" and s["bands"] == ("PAN",)


def test_spacenet_buildings_all_images_and_empty_labels(tmp_path: Path, mirror: Path) -> None:
    case = gen("spacenet_buildings").make(tmp_path, mirror)
    from eokit.datasets.catalog.segmentation import SpaceNetBuildings

    pairs = SpaceNetBuildings(**case)._pairs()
    assert [p[0].name for p in pairs] == ["PAN_AOI_2_Vegas_img1.tif", "PAN_AOI_2_Vegas_img2.tif"]
    vs = get_dataset("vector_segmentation", root=pairs[1][0].parent.parent, split="all",
                     pairs=[(pairs[1][0], pairs[1][1])])
    assert vs[0]["mask"].sum().item() == 0


def test_spacenet_roads_buffered_in_metres(tmp_path: Path) -> None:
    root = gen("spacenet_roads").write(tmp_path / "roads")
    ds = get_dataset("spacenet_roads", root=root, split="train", buffer_m=2.0)
    s = ds[0]
    assert s["bands"] == ("R", "G", "B")
    rows = np.flatnonzero(s["mask"].numpy().any(axis=1))
    width_m = len(rows) * 2.7e-6 * 111_320 * 0.9996  # degrees latitude -> metres
    assert 3.0 < width_m < 5.5  # 2 m each side of the centre-line
    assert 28 <= rows.mean() <= 36 and s["mask"].numpy()[rows].all()
    wider = get_dataset("spacenet_roads", root=root, split="train", buffer_m=4.0)[0]
    assert wider["mask"].sum() > s["mask"].sum()


def test_spacenet_missing_image_and_vector_errors(tmp_path: Path) -> None:
    root = gen("spacenet_roads").write(tmp_path / "roads")
    next((root / "AOI_2_Vegas" / "PS-RGB").glob("*img2.tif")).unlink()
    with pytest.raises(DatasetError, match="img2"):
        get_dataset("spacenet_roads", root=root, split="train")
    (tmp_path / "v").mkdir()
    with pytest.raises(DatasetError, match="does not exist"):
        get_dataset("vector_segmentation", root=tmp_path / "v", pairs=[("a.tif", "a.geojson")])
    bad = tmp_path / "v" / "a.geojson"
    shutil.copy(next((root / "AOI_2_Vegas" / "PS-RGB").glob("*img1.tif")), tmp_path / "v" / "a.tif")
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="a.geojson"):
        get_dataset("vector_segmentation", root=tmp_path / "v")[0]
