"""SceneDataset: the Sample contract, label layers (vector + raster), CRS policy, DataLoader workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from pyproj import Transformer
from rasterio.windows import Window
from torch.utils.data import DataLoader

from eokit.data import (
    GridWindowSampler,
    RandomWindowSampler,
    RasterLabels,
    SceneCollection,
    SceneDataset,
    VectorLabels,
    WindowSpec,
    collate_samples,
)
from eokit.errors import CRSMismatchError, NoOverlapError


def test_sample_contract_native_grid(mixed_coll: SceneCollection) -> None:
    ds = SceneDataset(mixed_coll, bands=["B04", "B02"])
    spec = WindowSpec(1, 10, 20, 32, 16)
    s = ds[spec]
    assert s["image"].dtype == torch.float32 and tuple(s["image"].shape) == (2, 16, 32)
    assert s["bands"] == ("B04", "B02")
    assert s["crs"] == "EPSG:32632" and s["time"] == "2023-06-20T00:00:00"
    with rasterio.open(mixed_coll[1].path) as src:
        ref = src.read([3, 1], window=Window(10, 20, 32, 16))
        assert s["transform"] == tuple(src.window_transform(Window(10, 20, 32, 16)))[:6]
        assert s["bounds"] == pytest.approx(tuple(src.window_bounds(Window(10, 20, 32, 16))))
    np.testing.assert_array_equal(s["image"].numpy(), ref.astype(np.float32))
    assert bool(s["valid"].all())
    # a grid window reaching past a small scene is read boundless and marked invalid there
    edge = ds[WindowSpec(0, 80, 80, 32, 32)]
    assert tuple(edge["image"].shape) == (2, 32, 32) and not bool(edge["valid"][20:, 20:].any())
    assert pickle.loads(pickle.dumps(ds)).collection[1].path == mixed_coll[1].path


def test_vector_mask_values(mixed: dict, mixed_coll: SceneCollection) -> None:
    ds = SceneDataset(mixed_coll, labels=VectorLabels(mixed["polygons"], column="cls", classes=["forest", "water"]))
    m = ds[WindowSpec(0, 0, 0, 96, 96)]["mask"].numpy()
    assert m.dtype == np.int64
    expected = np.zeros((96, 96), dtype=np.int64)
    expected[5:15, 10:20] = 2  # water
    expected[50:60, 60:70] = 1  # forest
    np.testing.assert_array_equal(m, expected)
    coded = VectorLabels(mixed["polygons"], column="code").rasterize(mixed_coll[0].grid.window_grid(Window(8, 4, 16, 16)))
    assert coded[1:11, 2:12].tolist() == [[7] * 10] * 10 and coded.sum() == 7 * 100
    # unburnt labels: every feature burns `value`
    ones = VectorLabels(mixed["polygons"]).rasterize(mixed_coll[0].grid)
    assert set(np.unique(ones).tolist()) == {0, 1} and ones.sum() == 200


def test_crs_policy_vector_and_raster(mixed: dict, mixed_coll: SceneCollection) -> None:
    spec_b = WindowSpec(1, 0, 0, 32, 32)  # in scene B (EPSG:32632), labels are EPSG:32631
    strict = SceneDataset(mixed_coll, labels=RasterLabels(mixed["label"]), on_mismatch="raise")
    with pytest.raises(CRSMismatchError, match=r"image EPSG:32632.*EPSG:32631"):
        strict[spec_b]
    with pytest.raises(CRSMismatchError, match="EPSG:32631"):
        SceneDataset(mixed_coll, labels=mixed["polygons"], on_mismatch="raise")[spec_b]
    # same CRS as the label raster: one windowed read, exact values
    a = strict[WindowSpec(0, 30, 0, 20, 8)]["mask"].numpy()
    np.testing.assert_array_equal(a, np.where(np.arange(30, 50) < 40, 1, 2)[None].repeat(8, 0))
    # reproject: the label warped onto B's grid agrees with a direct look-up of each pixel centre
    warp = SceneDataset(mixed_coll, labels=mixed["label"], on_mismatch="reproject")
    s = warp[spec_b]
    assert s["crs"] == "EPSG:32632" and s["mask"].shape == (32, 32)
    t = Transformer.from_crs(32632, 32631, always_xy=True)
    rows, cols = np.mgrid[0:32, 0:32]
    xs, ys = rasterio.transform.xy(mixed_coll[1].grid.transform, rows.ravel(), cols.ravel())
    x31, _ = t.transform(np.array(xs), np.array(ys))
    expected = np.where(x31 < mixed["label_split_x"], 1, 2).reshape(32, 32)
    assert (s["mask"].numpy() == expected).mean() > 0.99


def test_no_overlap(mixed: dict, mixed_coll: SceneCollection) -> None:
    with pytest.raises(NoOverlapError, match=r"label_far.tif.*overlaps none of the 3 image scenes"):
        SceneDataset(mixed_coll, labels=mixed["label_far"])
    import geopandas as gpd

    far = gpd.read_file(mixed["points"]).iloc[[2]]
    with pytest.raises(NoOverlapError, match="overlaps none"):
        SceneDataset(mixed_coll, labels=far)
    # the label overlaps A, but not the far, tagged scene: a sample there says so
    ds = SceneDataset(mixed_coll, labels=mixed["label"])
    with pytest.raises(NoOverlapError, match="does not overlap the label raster"):
        ds[WindowSpec(2, 0, 0, 16, 16)]


def test_common_grid_only_when_asked(mixed_coll: SceneCollection) -> None:
    ds = SceneDataset(mixed_coll, target_crs="EPSG:32631", target_res=10.0)
    s = ds[WindowSpec(1, 0, 0, 32, 32)]
    assert s["crs"] == "EPSG:32631" and s["image"].shape[0] == 4
    assert SceneDataset(mixed_coll)[WindowSpec(1, 0, 0, 32, 32)]["crs"] == "EPSG:32632"


def _check_batch(batch: dict) -> None:
    for img, path, tr in zip(batch["image"], batch["path"], batch["transform"], strict=True):
        with rasterio.open(path) as src:
            inv = ~rasterio.Affine(*tr)
            col, row = (round(v) for v in inv * (src.transform.c, src.transform.f))
            win = Window(-col, -row, img.shape[2], img.shape[1])
            np.testing.assert_array_equal(img.numpy(), src.read(window=win, boundless=True).astype(np.float32))


def test_dataloader_two_workers_real_eurosat(mirror: Path) -> None:
    root = mirror / "classification" / "eurosat_ms_subset" / "test"
    coll = SceneCollection.from_paths(str(root / "Forest" / "*.tif"), sensor="sentinel2_l1c")
    coll = coll.subset(list(range(6)))
    ds = SceneDataset(coll, bands=["B04", "B03", "B02", "B08"])
    sampler = RandomWindowSampler(coll, 32, 12, seed=0)
    loader = DataLoader(ds, sampler=sampler, batch_size=4, num_workers=2, collate_fn=collate_samples)
    batches = list(loader)
    assert len(batches) == 3
    for b in batches:
        assert b["image"].shape == (4, 4, 32, 32) and b["bands"] == ("B04", "B03", "B02", "B08")
        assert len(b["crs"]) == 4 and all(c.startswith("EPSG:326") for c in b["crs"])
        _check_batch_bands(b)
    # the same windows in the main process give the same pixels (workers read the same files)
    direct = collate_samples([ds[w] for w in list(sampler)[:4]])
    assert torch.equal(direct["image"], batches[0]["image"])


def _check_batch_bands(batch: dict) -> None:
    for img, path, tr in zip(batch["image"], batch["path"], batch["transform"], strict=True):
        with rasterio.open(path) as src:
            col, row = (round(v) for v in ~src.transform * (tr[2], tr[5]))
            ref = src.read([4, 3, 2, 8], window=Window(col, row, 32, 32)).astype(np.float32)
        np.testing.assert_array_equal(img.numpy(), ref)


def test_dataloader_two_workers_mixed_crs_with_labels(mixed: dict, mixed_coll: SceneCollection) -> None:
    sub = mixed_coll.subset([0, 1])
    ds = SceneDataset(sub, labels=mixed["label"], on_mismatch="reproject")
    sampler = GridWindowSampler(sub, 32, stride=32)
    loader = DataLoader(ds, sampler=sampler, batch_size=6, num_workers=2, collate_fn=collate_samples)
    batches = list(loader)
    assert sum(b["image"].shape[0] for b in batches) == 18
    crs = [c for b in batches for c in b["crs"]]
    assert crs.count("EPSG:32631") == 9 and crs.count("EPSG:32632") == 9
    for b in batches:
        assert b["mask"].dtype == torch.int64 and set(torch.unique(b["mask"]).tolist()) <= {0, 1, 2}
        _check_batch(b)
