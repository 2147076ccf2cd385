"""wald_scene: Wald's-protocol super-resolution pairs from the mirror's real scenes, and wald_degrade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from eokit.datasets import get_dataset
from eokit.datasets.catalog.superres import wald_degrade
from eokit.errors import ConfigError, DatasetError

L8 = ("scenes", "landsat8_LC80200392015216")
S2 = ("scenes", "sentinel2_18SVG_20160112")
L8_BANDS = ["B2", "B3", "B4", "B5", "B6", "B7"]


def test_wald_degrade_block_means_and_mtf_gain() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 12, 18)).astype(np.float32)
    np.testing.assert_allclose(wald_degrade(x, 3, mtf=None), x.reshape(2, 3, 4, 3, 6, 3).mean(axis=(3, 5)), rtol=1e-6)
    assert np.allclose(wald_degrade(np.full((1, 8, 8), 5.0), 2), 5.0)  # a flat field stays flat
    # a cosine at the low-resolution Nyquist frequency (period 2 * factor HR pixels) keeps gain `mtf`
    f, n = 2, 64
    wave = np.cos(2 * np.pi * np.arange(n) / (2 * f) + 0.3)[None, None, :].repeat(n, 1).astype(np.float32)
    plain, blurred = wald_degrade(wave, f, mtf=None), wald_degrade(wave, f, mtf=0.3)
    inner = (slice(None), slice(4, -4), slice(4, -4))  # away from the padded edges
    assert np.abs(blurred[inner]).max() / np.abs(plain[inner]).max() == pytest.approx(0.3, abs=0.01)
    with pytest.raises(ConfigError, match="factor 2 does not divide the image size 8x9"):
        wald_degrade(np.zeros((1, 8, 9)), 2)
    with pytest.raises(ConfigError, match="mtf"):
        wald_degrade(np.zeros((1, 8, 8)), 2, mtf=1.5)


def test_landsat_wald_pairs_match_the_band_files_and_the_bqa_cloud_mask(mirror: Path) -> None:
    root = mirror.joinpath(*L8)
    ds = get_dataset("wald_scene", root=root, split="all", image="l8_B*.tif", label="l8_BQA.tif",
                     qa="landsat8_precollection_bqa_cloud", sensor="landsat8", bands=L8_BANDS, chip_size=64)
    assert len(ds) == 81  # 9 x 9 whole chips of 64 px over 627 x 603 px (the 15 m pan band is dropped)
    with rasterio.open(root / "l8_B5.tif") as d:
        b5 = d.read(1)
    with rasterio.open(root / "l8_BQA.tif") as d:
        conf = (d.read(1) >> 14) & 3
    s = ds[40]
    x, y, w, h = ds.items[40]
    assert s["image"].shape == (6, 32, 32) and s["target"].shape == (6, 64, 64) and s["mask"].shape == (64, 64)
    assert s["bands"] == s["target_bands"] == tuple(L8_BANDS) and ds.classes == ("clear", "cloud")
    np.testing.assert_array_equal(s["target"][3].numpy(), b5[y:y + h, x:x + w].astype(np.float32))
    np.testing.assert_allclose(s["image"].numpy(), wald_degrade(s["target"].numpy(), 2), rtol=1e-6)
    np.testing.assert_array_equal(s["mask"].numpy(), np.select([conf[y:y + h, x:x + w] == 3,
                                                                conf[y:y + h, x:x + w] == 2], [1, -1], 0))
    parts = [get_dataset("wald_scene", root=root, split=k, image="l8_B*.tif", label="l8_BQA.tif",
                         qa="landsat8_precollection_bqa_cloud", sensor="landsat8", bands=L8_BANDS, chip_size=64)
             for k in ("train", "val", "test")]
    assert [len(p) for p in parts] == [57, 8, 16] and not set(parts[0].items) & set(parts[2].items)


def test_sentinel2_20m_bands_by_a_factor_of_three(mirror: Path) -> None:
    root = mirror.joinpath(*S2)
    ds = get_dataset("wald_scene", root=root, split="all", image="s2_B*.tif", sensor="sentinel2_l1c",
                     bands=["B8A", "B11"], chip_size=96, factor=3, mtf=None)
    assert len(ds) == 100  # 10 x 10 chips of 96 px over 967 x 973 px; the 60 m bands are on another grid
    s = ds[0]
    assert s["image"].shape == (2, 32, 32) and s["target"].shape == (2, 96, 96) and "mask" not in s
    with rasterio.open(root / "s2_B11.tif") as d:
        b11 = d.read(1)[:96, :96].astype(np.float32)
    np.testing.assert_allclose(s["image"][1].numpy(), b11.reshape(32, 3, 32, 3).mean(axis=(1, 3)), rtol=1e-6)


def test_wald_scene_bad_input_names_the_fix(mirror: Path) -> None:
    root = mirror.joinpath(*L8)
    with pytest.raises(DatasetError, match="chip_size 63 is not a multiple of the super-resolution factor 2; "
                                           "use chip_size=62"):
        get_dataset("wald_scene", root=root, image="l8_B4.tif", chip_size=63)
    with pytest.raises(DatasetError, match="matches no file"):
        get_dataset("wald_scene", root=root, image="l8_B99*.tif")
    with pytest.raises(DatasetError, match="B9"):  # a band the files do not have
        get_dataset("wald_scene", root=root, image="l8_B4.tif", bands=["B4", "B9"], sensor="landsat8")
    with pytest.raises(DatasetError, match="smaller than chip_size 1024"):
        get_dataset("wald_scene", root=root, image="l8_B4.tif", chip_size=1024)
