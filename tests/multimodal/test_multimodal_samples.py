"""Multi-modal samples: the modalities dict and its stacked view, grid checks, and the S1 + S2 loaders
(Sen1Floods11 hand-labelled chips, BigEarthNet S1 + S2 pairs) on the real mirror data."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.crs import CRS
from rasterio.transform import Affine

from eokit.data.modalities import check_modality_grids, modality_bands, multimodal_sample
from eokit.data.sample import collate_samples
from eokit.datasets.base import get_dataset
from eokit.errors import BandError, ModalityGridError
from eokit.io import GridSpec

SEN1 = "segmentation/sen1floods11_sample"


def _ben_kwargs(mirror: Path, split: str = "train") -> dict:
    spec = importlib.util.spec_from_file_location("ben_s2_data_mm", Path(__file__).parents[1] / "data" / "bigearthnet_s2" / "data.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.v1_kwargs(mirror, split)


def test_multimodal_sample_stacks_views_and_batches_per_modality() -> None:
    a = {"image": torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4), "bands": ("VV", "VH"),
         "sensor": "sentinel1_grd_db"}
    b = {"image": torch.ones(3, 4, 4), "bands": ("B02", "B03", "B04"), "sensor": "sentinel2_l1c"}
    s = multimodal_sample({"s1": a, "s2": b}, mask=torch.zeros(4, 4, dtype=torch.int64))
    assert s["image"].shape == (5, 4, 4) and s["bands"] == ("VV", "VH", "B02", "B03", "B04")
    assert s["sensor"] is None and torch.equal(s["image"][:2], a["image"])
    assert s["modalities"]["s2"]["image"].data_ptr() == s["image"][2:].data_ptr()  # a view, no copy
    assert modality_bands(s) == {"s1": ("VV", "VH"), "s2": ("B02", "B03", "B04")}
    batch = collate_samples([s, s])
    assert batch["modalities"]["s1"]["image"].shape == (2, 2, 4, 4) and batch["image"].shape == (2, 5, 4, 4)
    with pytest.raises(BandError, match="'B02' is in modalities 's1' and 's2'"):
        multimodal_sample({"s1": {**a, "bands": ("B02", "VH")}, "s2": b})
    with pytest.raises(ModalityGridError, match="different sizes"):
        multimodal_sample({"s1": a, "s2": {**b, "image": torch.ones(3, 5, 5)}})


def test_grids_that_do_not_align_name_both_modalities_and_the_fix() -> None:
    g = GridSpec(CRS.from_epsg(32631), Affine(10, 0, 500000, 0, -10, 4000000), 64, 64)
    check_modality_grids({"s1": (g, "a.tif"), "s2": (g, "b.tif")})
    shifted = GridSpec(CRS.from_epsg(32631), Affine(10, 0, 500005, 0, -10, 4000000), 64, 64)
    with pytest.raises(ModalityGridError, match=r"modality 's2' \('b.tif'.*500005.*'s1' \('a.tif'.*reproject_chip"):
        check_modality_grids({"s1": (g, "a.tif"), "s2": (shifted, "b.tif")})
    coarse = GridSpec(CRS.from_epsg(32631), Affine(20, 0, 500000, 0, -20, 4000000), 32, 32)
    with pytest.raises(ModalityGridError, match="32x32 px"):
        check_modality_grids({"s1": (g, "a.tif"), "dem": (coarse, "dem.tif")})


def test_sen1floods11_s1_s2_sample_holds_both_modalities(mirror: Path) -> None:
    root = mirror / SEN1
    s = get_dataset("sen1floods11", root=root, split="train", modalities=("s1", "s2"))[0]
    s1 = get_dataset("sen1floods11", root=root, split="train", modalities=("s1",))[0]
    s2 = get_dataset("sen1floods11", root=root, split="train")[0]
    mods = s["modalities"]
    assert list(mods) == ["s1", "s2"] and mods["s1"]["sensor"] == "sentinel1_grd_db"
    assert mods["s1"]["bands"] == ("VV", "VH") and len(mods["s2"]["bands"]) == 13
    assert torch.equal(mods["s1"]["image"], s1["image"]) and torch.equal(mods["s2"]["image"], s2["image"])
    assert torch.equal(s["image"], torch.cat([s1["image"], s2["image"]])) and s["bands"] == s1["bands"] + s2["bands"]
    assert torch.equal(s["mask"], s2["mask"]) and s["crs"] == s2["crs"] and "modalities" not in s2
    assert float(mods["s1"]["image"].mean()) < 0 < float(mods["s2"]["image"].mean())  # dB vs DN


def test_sen1floods11_misaligned_s1_raises_naming_the_file(mirror: Path, tmp_path: Path) -> None:
    root = tmp_path / "sen1floods11"
    shutil.copytree(mirror / SEN1, root)
    s1 = next((root / "S1Hand").glob("*.tif"))
    with rasterio.open(s1) as src:
        data, prof = src.read(), src.profile
    prof["transform"] = prof["transform"] * Affine.translation(3, 0)  # 3 pixels east
    s1.unlink()
    with rasterio.open(s1, "w", **prof) as dst:
        dst.write(data)
    ds = get_dataset("sen1floods11", root=root, split="train", modalities=("s1", "s2"))
    with pytest.raises(ModalityGridError, match=rf"modality 's2'.*'s1' \('{s1}'.*align them explicitly"):
        ds[0]


def test_bigearthnet_s1_s2_pairs_match_the_single_modality_loaders(mirror: Path) -> None:
    kw = _ben_kwargs(mirror)
    both = get_dataset("bigearthnet_s1s2", **kw)
    s2 = get_dataset("bigearthnet_s2", **kw)
    s1 = get_dataset("bigearthnet_s1", **kw)
    assert len(both) == len(s2) == len(s1) >= 2
    by_id = {s1[i]["id"]: s1[i] for i in range(len(s1))}
    for i in range(len(both)):
        s, ref = both[i], s2[i]
        assert s["id"] == ref["id"] and torch.equal(s["label"], ref["label"])
        assert torch.equal(s["modalities"]["s2"]["image"], ref["image"])
        assert torch.equal(s["modalities"]["s1"]["image"], by_id[s["id"]]["image"])
        assert s["image"].shape == (14, 120, 120) and s["bands"][:2] == ("VV", "VH")
    one = get_dataset("bigearthnet_s1s2", **kw, bands=["B04", "B03", "B02"])[0]
    assert "modalities" not in one and one["bands"] == ("B04", "B03", "B02")
    assert np.isfinite(one["image"].numpy()).all()
