"""embed_scenes (here and on Dask) and embed_split (dataset samples)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from eokit.embed import embed_scene, embed_scenes, embed_split, read_embeddings
from eokit.embed.model import as_embedder
from eokit.errors import BandError

BANDS = ("B04", "B03", "B02", "B08")
KW = {"bands": BANDS, "sensor": "sentinel2_l1c", "base_channels": 8, "depth": 3, "seed": 0}


def _scene(path, x0):
    rng = np.random.default_rng(int(x0) % 97)
    with rasterio.open(path, "w", driver="GTiff", width=64, height=32, count=4, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(x0, 5000000, 10, 10), nodata=0) as ds:
        ds.write(rng.integers(200, 3000, size=(4, 32, 64)).astype(np.uint16))
        for i, b in enumerate(BANDS, start=1):
            ds.set_band_description(i, b)
    return path


def test_embed_scenes_here_makes_one_store_and_a_field_per_scene(tmp_path):
    a, b = _scene(tmp_path / "a.tif", 500000), _scene(tmp_path / "b.tif", 600000)
    from eokit.embed import EmbedOptions

    store = embed_scenes("unet", [a, b], tmp_path / "e.parquet", field=tmp_path / "fields",
                         options=EmbedOptions(chip=32), n_workers=0, **KW)
    back = read_embeddings(tmp_path / "e.parquet")
    assert len(back) == 4 and list(back.table["scene_id"]) == ["a", "a", "b", "b"]
    assert sorted(p.name for p in (tmp_path / "fields").iterdir()) == ["a.tif", "b.tif"]
    single = embed_scene(as_embedder("unet", **KW), b, None, chip=32)
    np.testing.assert_allclose(back.vectors[2:], single.store.vectors, rtol=1e-5, atol=1e-6)
    assert store.meta["weights_sha256"] == single.store.meta["weights_sha256"]


@pytest.mark.slow
def test_embed_scenes_on_dask_matches_here(tmp_path):
    pytest.importorskip("dask.distributed")
    from eokit.embed import EmbedOptions

    a, b = _scene(tmp_path / "a.tif", 500000), _scene(tmp_path / "b.tif", 600000)
    here = embed_scenes("unet", [a, b], None, options=EmbedOptions(chip=32), n_workers=0, **KW)
    dask = embed_scenes("unet", [a, b], tmp_path / "d.parquet", options=EmbedOptions(chip=32), n_workers=1, **KW)
    assert list(dask.table["chip_id"]) == list(here.table["chip_id"])
    np.testing.assert_allclose(dask.vectors, here.vectors, rtol=1e-5, atol=1e-6)
    assert read_embeddings(tmp_path / "d.parquet").meta["weights_sha256"] == here.meta["weights_sha256"]


class _Split:
    """A dataset split in the Sample contract (two georeferenced samples, bands in another order)."""

    split = "test"

    def __init__(self, bands=("B08", "B02", "B03", "B04")):
        g = torch.Generator().manual_seed(0)
        self.images = [torch.rand(4, 32, 32, generator=g) * 3000 for _ in range(3)]
        self.bands = bands

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x0 = 500000 + 320 * i
        return {"image": self.images[i], "bands": self.bands, "sensor": "sentinel2_l1c", "label": i % 2,
                "crs": "EPSG:32632", "bounds": (x0, 4999680, x0 + 320, 5000000), "id": f"s{i}", "time": None}


def test_embed_split_matches_bands_by_name(tmp_path):
    ds = _Split()
    emb = as_embedder("unet", **KW)
    store = embed_split(emb, ds, out=tmp_path / "split.parquet")
    assert len(store) == 3 and list(store.table["label"]) == [0, 1, 0]
    x = ds.images[1][[3, 2, 1, 0]]  # B04, B03, B02, B08 from B08, B02, B03, B04
    want = emb(x[None], torch.ones(1, 32, 32, dtype=torch.bool))[0]
    np.testing.assert_allclose(store.vectors[1], want, rtol=1e-5, atol=1e-6)
    back = read_embeddings(tmp_path / "split.parquet")
    assert back.table["chip_id"].iloc[2] == "_Split/test/s2" and back.table.geometry.iloc[0].area > 0
    with pytest.raises(BandError, match="cannot feed"):
        embed_split(emb, _Split(bands=("B01", "B02", "B03", "B05")))
