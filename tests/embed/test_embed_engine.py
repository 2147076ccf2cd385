"""Embeddings through the inference engines: ONNX Runtime matches torch, the guard falls back, meta says so."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.embed import EmbedOptions, embed_scene, read_embeddings
from eokit.embed.model import as_embedder
from eokit.infer.options import RunOptions
from eokit.models.engine import EngineOptions

pytest.importorskip("onnxruntime", reason="pip install 'eokit[onnx]' for the ONNX engine tests")
BANDS = ("B04", "B03", "B02", "B08")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))


def _scene(path):
    data = np.random.default_rng(4).integers(200, 3000, size=(4, 64, 96)).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=96, height=64, count=4, dtype="uint16", crs="EPSG:32632",
                       transform=from_origin(500000, 5000000, 10, 10)) as ds:
        ds.write(data)
        for i, b in enumerate(BANDS, start=1):
            ds.set_band_description(i, b)
    return path


def _embedder(engine=None):
    return as_embedder("unet", bands=BANDS, sensor="sentinel2_l1c", base_channels=8, depth=3, seed=0, engine=engine)


def test_onnx_embeddings_match_torch_and_meta_names_the_engine(tmp_path) -> None:
    scene = _scene(tmp_path / "s.tif")
    ref = embed_scene(_embedder(), scene, tmp_path / "ref.parquet", chip=32, stride=32)
    o = EmbedOptions(chip=32, stride=32, run=RunOptions(batch_size=32, engine="onnxruntime"))
    got = embed_scene(_embedder(), scene, tmp_path / "onnx.parquet", options=o)
    a, b = read_embeddings(tmp_path / "ref.parquet"), read_embeddings(tmp_path / "onnx.parquet")
    assert len(a) == len(b) == len(ref.store) == len(got.store) == 6
    np.testing.assert_allclose(b.vectors, a.vectors, rtol=1e-3, atol=1e-4)
    assert b.meta["engine"]["engine"] == "onnxruntime" and not b.meta["engine"]["fell_back"]
    assert b.meta["engine"]["rel_error"] < 1e-3 and "engine" not in a.meta


def test_embedding_guard_falls_back_beyond_the_error_bound(tmp_path) -> None:
    emb = _embedder(EngineOptions("torch", "bf16", max_rel_error=0.0))  # bf16 always differs a little
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        embed_scene(emb, _scene(tmp_path / "s.tif"), tmp_path / "e.parquet", chip=32, stride=32)
    ref = embed_scene(_embedder(), _scene(tmp_path / "s.tif"), tmp_path / "r.parquet", chip=32, stride=32)
    store = read_embeddings(tmp_path / "e.parquet")
    assert store.meta["engine"]["fell_back"] and store.meta["engine"]["precision"] == "fp32"
    assert len(ref.store) == len(store)
    np.testing.assert_array_equal(store.vectors, read_embeddings(tmp_path / "r.parquet").vectors)
