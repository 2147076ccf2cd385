"""BigEarthNet loaders on the real example patches (v1 layout and a v2-layout copy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from eokit.datasets.catalog.multilabel import CLASSES_19, CLASSES_43, BigEarthNetS1, BigEarthNetS2
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"
PATCH = "S2B_MSIL2A_20170924T93020_69_24"


def _provider():
    spec = importlib.util.spec_from_file_location("prov_ben", DATA / "bigearthnet_s2" / "data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _names(label: torch.Tensor, classes: tuple[str, ...]) -> list[str]:
    return [classes[k] for k in label.nonzero().flatten().tolist()]


def test_v1_splits_labels_and_resampling(mirror: Path) -> None:
    prov = _provider()
    train = BigEarthNetS2(**prov.v1_kwargs(mirror, "train"))
    assert len(train) == 4  # 5 of the 6 patches are in the official lists; 57_38 is a snow patch
    assert len(BigEarthNetS2(**prov.v1_kwargs(mirror, "test"))) == 1
    with pytest.raises(DatasetError, match="no val patch"):
        BigEarthNetS2(**prov.v1_kwargs(mirror, "val"))
    with pytest.raises(DatasetError, match="missing, e.g."):
        BigEarthNetS2(**{**prov.v1_kwargs(mirror, "train"), "missing": "error"})
    i = [it["id"] for it in train.items].index(PATCH)
    s = train[i]
    assert s["image"].shape == (12, 120, 120) and s["crs"] == "EPSG:32635"
    assert s["bands"] == ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
    assert _names(s["label"], CLASSES_19) == ["Coniferous forest", "Mixed forest", "Transitional woodland, shrub",
                                              "Inland wetlands", "Inland waters"]
    s43 = BigEarthNetS2(**prov.v1_kwargs(mirror, "train", num_classes=43))[i]
    assert _names(s43["label"], CLASSES_43) == ["Coniferous forest", "Mixed forest", "Transitional woodland/shrub",
                                                "Peatbogs", "Water bodies"]
    folder = mirror / "multilabel/bigearthnet_examples/BigEarthNet-S2-Example" / PATCH
    with rasterio.open(folder / f"{PATCH}_B02.tif") as f:
        assert np.array_equal(s["image"][1].numpy(), f.read(1).astype(np.float32))
    with rasterio.open(folder / f"{PATCH}_B01.tif") as f:
        b01 = f.read(1).astype(np.float32)  # 20x20 at 60 m
    up = s["image"][0].numpy()
    assert b01.shape == (20, 20) and abs(up.mean() - b01.mean()) < 0.02 * b01.mean()
    assert len(np.unique(up)) > len(np.unique(b01))  # interpolated, not 6x6 blocks


def test_v2_layout_matches_v1(mirror: Path, tmp_path: Path) -> None:
    prov = _provider()
    root = prov.build_v2(tmp_path, mirror)
    v2 = BigEarthNetS2(root, "train")
    v1 = BigEarthNetS2(**prov.v1_kwargs(mirror, "train"))
    assert len(v2) == len(v1) == 4
    for k in range(4):
        a = v2[k]
        tail = a["id"].rsplit("_", 2)[1:]
        j = next(j for j, it in enumerate(v1.items) if it["id"].rsplit("_", 2)[1:] == tail)
        b = v1[j]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    with pytest.raises(DatasetError, match="19-class labels only"):
        BigEarthNetS2(root, "train", num_classes=43)
    s1 = BigEarthNetS1(root, "test")[0]
    assert s1["bands"] == ("VV", "VH") and s1["image"].shape == (2, 120, 120)
    assert -50 < float(s1["image"].min()) < float(s1["image"].max()) < 20  # backscatter in dB


def test_v1_s1_pairs_through_json(mirror: Path) -> None:
    ds = BigEarthNetS1(**_provider().v1_kwargs(mirror, "test"))
    s = ds[0]
    assert s["id"] == "S2A_MSIL2A_20170613T101031_87_48"
    assert s["path"].endswith("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48")
    assert _names(s["label"], CLASSES_19) == ["Arable land",
                                              "Land principally occupied by agriculture, with significant areas of "
                                              "natural vegetation"]
