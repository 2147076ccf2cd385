"""embed_scene: chip grid, store + field COG agreement, bbox, bad input (small generated rasters)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.embed import EmbedOptions, embed_scene, read_embeddings, read_field, unit_int8
from eokit.embed.model import as_embedder
from eokit.errors import BandError, EmbeddingError, NoOverlapError

BANDS = ("B04", "B03", "B02", "B08")


def _scene(path, width=100, height=70, nodata_cols=0):
    """A 4-band uint16 Sentinel-2-like GeoTIFF (UTM 32N) with band descriptions; left columns nodata."""
    rng = np.random.default_rng(3)
    data = rng.integers(200, 3000, size=(4, height, width)).astype(np.uint16)
    data[:, :, :nodata_cols] = 0
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=4, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500000, 5000000, 10, 10), nodata=0) as ds:
        ds.write(data)
        for i, b in enumerate(BANDS, start=1):
            ds.set_band_description(i, b)
    return path


@pytest.fixture(scope="module")
def embedder():
    return as_embedder("unet", bands=BANDS, sensor="sentinel2_l1c", base_channels=8, depth=3, seed=0)


def test_store_and_field_agree(tmp_path, embedder):
    scene = _scene(tmp_path / "s.tif", nodata_cols=30)
    res = embed_scene(embedder, scene, tmp_path / "e.parquet", chip=32, stride=32, field=tmp_path / "f.tif",
                      min_valid=0.1)
    g = res.grid
    assert (g.rows, g.cols) == (3, 4)  # ceil((70-32)/32)+1, ceil((100-32)/32)+1
    store = read_embeddings(tmp_path / "e.parquet")
    # column 0 (x 0..32) is 30/32 nodata and the corner chip 4x6 px inside: skipped (< 10 % valid);
    # the other edge chips (4 or 6 of 32 px inside) are kept
    assert len(store) == 8 and res.skipped == 4
    assert set(store.table["col"]) == {32, 64, 96} and set(store.table["row"]) == {0, 32, 64}
    edge = store.table[store.table["col"] == 96].iloc[0]
    assert edge["width"] == 4 and store.table[store.table["row"] == 64]["height"].iloc[0] == 6
    assert store.meta["bands"] == list(BANDS) and store.meta["chip_size"] == 32 and store.dim == embedder.dim()
    assert store.meta["weights_sha256"] == embedder.weights_sha256 and store.table["crs"].iloc[0] == "EPSG:32632"
    with rasterio.open(tmp_path / "f.tif") as ds:
        field = ds.read()
        assert ds.count == store.dim and ds.nodata == -128 and ds.dtypes[0] == "int8"
        assert ds.descriptions[0] == "A00" and ds.res == (320.0, 320.0)
        assert ds.transform.c == 500000 and ds.transform.f == 5000000
    assert (field[:, :, 0] == -128).all()
    codes = unit_int8(store.vectors)
    for k, (r, c) in enumerate(zip(store.table["row"], store.table["col"], strict=True)):
        np.testing.assert_array_equal(field[:, r // 32, c // 32], codes[k])
    back = read_field(tmp_path / "f.tif")  # eokit's own field: de-quantised as v / 127, NaN where nodata
    assert not back.flipped and np.isnan(back.values[:, :, 0]).all()
    r0, c0 = store.table["row"].iloc[0] // 32, store.table["col"].iloc[0] // 32
    np.testing.assert_allclose(back.values[:, r0, c0], codes[0] / 127.0, rtol=1e-6)
    # footprints lie inside the scene's lon/lat bounds
    with rasterio.open(scene) as ds:
        from rasterio.warp import transform_bounds

        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    minx, miny, maxx, maxy = store.table.total_bounds
    assert w - 1e-9 <= minx and maxx <= e + 1e-9 and s - 1e-9 <= miny and maxy <= n + 1e-9


def test_vectors_match_a_direct_forward_pass(tmp_path, embedder):
    import torch

    scene = _scene(tmp_path / "s.tif", width=64, height=64)
    res = embed_scene(embedder, scene, None, chip=32)
    with rasterio.open(scene) as ds:
        x = ds.read(window=rasterio.windows.Window(32, 0, 32, 32)).astype(np.float32)
    want = embedder(torch.from_numpy(x[None]), torch.ones(1, 32, 32, dtype=torch.bool))[0]
    k = list(res.store.table["chip_id"]).index("s/r0c1")
    np.testing.assert_allclose(res.store.vectors[k], want, rtol=1e-5, atol=1e-5)
    assert res.path is None and len(res.store) == 4


def test_bbox_subset_and_no_overlap(tmp_path, embedder):
    from rasterio.warp import transform_bounds

    scene = _scene(tmp_path / "s.tif")
    # the bbox of pixels x 40..60, y 10..20 -> chips of columns 1 (32..64) and 2? no: 40..60 lies in chip col 1
    bb = transform_bounds("EPSG:32632", "EPSG:4326", 500000 + 400, 5000000 - 200, 500000 + 600, 5000000 - 100)
    res = embed_scene(embedder, scene, None, chip=32, bbox=bb, field=tmp_path / "f.tif")
    assert set(res.store.table["chip_id"]) == {"s/r0c1"}
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert ds.shape == (1, 1) and ds.transform.c == 500000 + 320
    with pytest.raises(NoOverlapError, match=r"scene 's'.*does not overlap.*bbox"):
        embed_scene(embedder, scene, None, chip=32, bbox=(100.0, 10.0, 100.1, 10.1))


def test_missing_band_names_the_scene(tmp_path):
    scene = _scene(tmp_path / "s.tif")
    emb = as_embedder("unet", bands=("B04", "B11"), sensor="sentinel2_l1c", base_channels=8, depth=3)
    with pytest.raises(BandError, match=r"scene 's'.*B11"):
        embed_scene(emb, scene, tmp_path / "e.parquet", chip=32)
    assert not (tmp_path / "e.parquet").exists()


def test_empty_result_is_typed(tmp_path, embedder):
    scene = _scene(tmp_path / "s.tif", nodata_cols=100)
    with pytest.raises(EmbeddingError, match=r"scene 's' gave no embeddings"):
        embed_scene(embedder, scene, tmp_path / "e.parquet", chip=32)
    assert not (tmp_path / "e.parquet").exists()


def test_int8_store_and_model_name(tmp_path, embedder):
    scene = _scene(tmp_path / "s.tif", width=64, height=32)
    res = embed_scene(embedder, scene, tmp_path / "q.parquet", chip=32, int8=True)
    back = read_embeddings(tmp_path / "q.parquet")
    assert back.meta["dtype"] == "int8" and back.meta["model"] == "unet.random"
    np.testing.assert_allclose(back.vectors, res.store.vectors, rtol=0, atol=1e-6)


def test_options_are_validated():
    from eokit.errors import ConfigError

    with pytest.raises(ConfigError, match="min_valid"):
        EmbedOptions(min_valid=2)
    with pytest.raises(ConfigError, match="bbox"):
        EmbedOptions(bbox=(10, 5, 9, 6))
    assert EmbedOptions(chip=48).stride == 48


def test_scene_without_crs_gets_null_geometry(tmp_path, embedder):
    import warnings

    from eokit.errors import ConfigError

    data = np.random.default_rng(0).integers(200, 3000, size=(4, 32, 32)).astype(np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's NotGeoreferencedWarning
        with rasterio.open(tmp_path / "raw.tif", "w", driver="GTiff", width=32, height=32, count=4,
                           dtype="uint16") as ds:
            ds.write(data)
            for i, b in enumerate(BANDS, start=1):
                ds.set_band_description(i, b)
        store = embed_scene(embedder, tmp_path / "raw.tif", tmp_path / "e.parquet", chip=32).store
        back = read_embeddings(tmp_path / "e.parquet")
        with pytest.raises(ConfigError, match="no CRS"):
            embed_scene(embedder, tmp_path / "raw.tif", None, chip=32, bbox=(0, 0, 1, 1))
    assert len(store) == 1 and store.table.geometry.iloc[0] is None and back.table.geometry.iloc[0] is None
    import json

    import pyarrow.parquet as pq

    geo = json.loads(pq.read_schema(tmp_path / "e.parquet").metadata[b"geo"])  # strict JSON: no NaN bbox
    assert "bbox" not in geo["columns"]["geometry"] and geo["columns"]["geometry"]["geometry_types"] == []


def test_stac_item_gives_scene_id_and_time(tmp_path, embedder):
    import json

    _scene(tmp_path / "s.tif", width=32, height=32)
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2B_32TQM_20200501",
            "properties": {"datetime": "2020-05-01T10:20:30Z"}, "geometry": None, "links": [],
            "assets": {"img": {"href": "s.tif", "type": "image/tiff", "roles": ["data"],
                               "eo:bands": [{"name": b} for b in BANDS]}}}
    (tmp_path / "item.json").write_text(json.dumps(item))
    store = read_embeddings(embed_scene(embedder, tmp_path / "item.json", tmp_path / "e.parquet", chip=32).path)
    assert list(store.table["scene_id"]) == ["S2B_32TQM_20200501"]
    assert store.table["chip_id"].iloc[0] == "S2B_32TQM_20200501/r0c0"
    assert store.table["time"].iloc[0].isoformat() == "2020-05-01T10:20:30+00:00"
