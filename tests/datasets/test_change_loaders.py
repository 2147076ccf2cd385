"""Change detection loaders on the real OSCD / LEVIR-CD / DSIFN files, and label-grid errors."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from eokit.datasets.catalog.change import DSIFN, LEVIRCD, OSCD, S2Looking
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"
OSCD_DIR = "change_detection/oscd_sentinel2"
CITIES = ["aguasclaras", "bercy", "paris", "rennes"]


def _provider(name: str):
    spec = importlib.util.spec_from_file_location(f"prov_{name}", DATA / name / "data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _oscd(root: Path, **kw) -> OSCD:
    return OSCD(root, "train", images_dir="images", labels_dir="labels", **kw)


def test_oscd_real_cities(mirror: Path) -> None:
    root = mirror / OSCD_DIR
    ds = _oscd(root, cities=CITIES)
    assert [c for c in ds.items] == CITIES
    s = ds[1]  # bercy
    with rasterio.open(root / "labels/bercy/cm/bercy-cm.tif") as f:
        raw = f.read(1)
    b02 = next((root / "images/bercy/imgs_1").glob("*_B02.tif"))
    with rasterio.open(b02) as f:
        ref = f.read(1)
    assert s["image"].shape == (13, *raw.shape) == s["image2"].shape
    assert s["bands"][:4] == ("B01", "B02", "B03", "B04") and s["bands"][-1] == "B12"
    assert np.array_equal(s["image"][1].numpy(), ref.astype(np.float32))  # 10 m reference band untouched
    mask = s["mask"].numpy()
    assert (mask == 1).sum() == (raw == 2).sum() > 0 and (mask == 0).sum() == (raw == 1).sum()
    assert s["time"] == "2016-11-30" and s["time2"] == "2017-08-29" and s["crs"] == "EPSG:4326"
    # 60 m B01 was resampled (bilinear by default), not replicated: nearest gives a blockier band
    near = _oscd(root, cities=["bercy"], resampling="nearest")[0]
    assert not np.array_equal(near["image"][0].numpy(), s["image"][0].numpy())
    assert abs(float(near["image"][0].mean()) - float(s["image"][0].mean())) < 0.02 * float(s["image"][0].mean())


def test_oscd_missing_city_and_explicit_resampling(mirror: Path) -> None:
    with pytest.raises(DatasetError, match="city 'bordeaux'"):
        _oscd(mirror / OSCD_DIR)
    with pytest.raises(DatasetError, match="not in the train split"):
        _oscd(mirror / OSCD_DIR, cities=["brasilia"])
    ds = _oscd(mirror / OSCD_DIR, cities=["paris"], resampling=None)
    with pytest.raises(DatasetError, match="resampling="):
        ds[0]


def test_oscd_label_grid_mismatch(mirror: Path, tmp_path: Path) -> None:
    root = tmp_path / "oscd"
    (root / "images").mkdir(parents=True)
    os.symlink(mirror / OSCD_DIR / "images/bercy", root / "images/bercy")
    (root / "train.txt").write_text("bercy")
    with rasterio.open(mirror / OSCD_DIR / "labels/bercy/cm/bercy-cm.tif") as f:
        lab, profile = f.read(), f.profile
    (root / "labels/bercy/cm").mkdir(parents=True)
    profile.update(height=lab.shape[1] - 5)
    with rasterio.open(root / "labels/bercy/cm/bercy-cm.tif", "w", **profile) as f:
        f.write(lab[:, :-5])
    with pytest.raises(DatasetError, match=r"bercy-cm.tif' is 360x390 px but image .* is 360x395 px"):
        _oscd(root)[0]


def test_levircd_lists_and_official_layouts(mirror: Path, tmp_path: Path) -> None:
    src = mirror / "change_detection/levircd_samples_256"
    ds = LEVIRCD(src, "test", layout="lists", list_file="demo.txt")
    assert len(ds) == 7
    s = ds[0]
    raw = np.array(Image.open(src / "label" / "test_77_0512_0256.png"))
    a = np.array(Image.open(src / "A" / "test_77_0512_0256.png"))
    assert s["id"] == "test_77_0512_0256" and s["bands"] == ("R", "G", "B")
    assert np.array_equal(s["mask"].numpy(), (raw > 0).astype(np.int64))
    assert np.array_equal(s["image"].numpy(), a.transpose(2, 0, 1)[:3].astype(np.float32))
    root = _provider("levir_cd").build_official(tmp_path, mirror)
    assert [len(LEVIRCD(root, sp)) for sp in ("train", "val", "test")] == [3, 1, 7]
    # label on another grid -> error naming it; skip_invalid skips the pair
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(root / "val/label/val_27_0000_0256.png")
    with pytest.raises(DatasetError, match=r"val_27_0000_0256.png' is 128x128 px but image .* is 256x256"):
        LEVIRCD(root, "val")[0]
    (root / "train/label/train_36_0512_0512.png").unlink()
    with pytest.raises(DatasetError, match="pair 'train_36_0512_0512' is incomplete"):
        LEVIRCD(root, "train")


def test_dsifn_and_s2looking(mirror: Path, tmp_path: Path) -> None:
    ds = DSIFN(mirror / "change_detection/dsifn_samples_256", "test", layout="lists", list_file="demo.txt")
    assert len(ds) == 10
    masks = [ds[i]["mask"] for i in range(len(ds))]
    assert all(set(m.unique().tolist()) <= {0, 1} for m in masks) and any(m.sum() > 0 for m in masks)
    root = _provider("s2looking").build(tmp_path)
    s = S2Looking(root, "test")[1]
    assert s["mask"].sum().item() == 8 * 8 + 6 * 12  # new (red) + demolished (green) buildings
    assert s["image"].shape == s["image2"].shape == (3, 32, 32)
