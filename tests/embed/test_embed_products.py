"""Readers of published embedding products, on small files written in their documented formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
shapely = pytest.importorskip("shapely")

from eokit.embed.products import (  # noqa: E402
    dequantize_alphaearth,
    read_clay,
    read_field,
    read_majortom,
)
from eokit.embed.store import write_embeddings  # noqa: E402
from eokit.errors import EmbeddingError  # noqa: E402

H, W = 6, 5


def _codes():
    """64 x 6 x 5 int8 AlphaEarth-like codes with a masked pixel (all bands -128) at (row 1, col 2)."""
    rng = np.random.default_rng(7)
    codes = rng.integers(-127, 128, size=(64, H, W)).astype(np.int8)
    codes[:, 1, 2] = -128
    return codes


def _write_aef(path, codes, bottom_up=False):
    """An AlphaEarth annual COG tile: 64 int8 bands A00..A63, nodata -128, 10 m UTM pixels.

    ``bottom_up`` writes it like the Source Cooperative mirror: origin at the bottom-left corner,
    positive y pixel size, rows stored south first.
    """
    x0, top = 600000.0, 4200000.0
    if bottom_up:
        transform, data = Affine(10, 0, x0, 0, 10, top - 10 * H), codes[:, ::-1, :]
    else:
        transform, data = Affine(10, 0, x0, 0, -10, top), codes
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=64, dtype="int8", nodata=-128,
                       crs="EPSG:32610", transform=transform) as ds:
        ds.write(np.ascontiguousarray(data))
        for k in range(64):
            ds.set_band_description(k + 1, f"A{k:02d}")
    return path


def test_alphaearth_dequantisation_and_nodata(tmp_path):
    codes = _codes()
    f = read_field(_write_aef(tmp_path / "aef.tif", codes))
    assert f.values.shape == (64, H, W) and f.band_names[0] == "A00" and f.band_names[-1] == "A63"
    v = codes[:, 0, 0].astype(np.float64)
    np.testing.assert_allclose(f.values[:, 0, 0], np.sign(v) * (np.abs(v) / 127.5) ** 2, rtol=1e-6)
    assert np.isnan(f.values[:, 1, 2]).all() and f.valid.sum() == H * W - 1
    assert dequantize_alphaearth(np.array([127, -127, 0], np.int8)).tolist() == pytest.approx(
        [(127 / 127.5) ** 2, -((127 / 127.5) ** 2), 0.0])
    assert not f.flipped and f.grid.transform.e == -10


def test_bottom_up_mirror_is_flipped_to_north_up(tmp_path):
    codes = _codes()
    top_down = read_field(_write_aef(tmp_path / "td.tif", codes))
    bottom_up = read_field(_write_aef(tmp_path / "bu.tif", codes, bottom_up=True))
    assert bottom_up.flipped
    np.testing.assert_array_equal(np.nan_to_num(bottom_up.values, nan=9), np.nan_to_num(top_down.values, nan=9))
    assert bottom_up.grid.transform == top_down.grid.transform and bottom_up.grid.transform.e < 0
    # a window in north-up coordinates reads the same pixels from both layouts
    a = read_field(tmp_path / "td.tif", window=(1, 3, 2, 2))
    b = read_field(tmp_path / "bu.tif", window=(1, 3, 2, 2))
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, top_down.values[:, 3:5, 1:3])
    assert b.grid.transform == a.grid.transform == top_down.grid.transform * Affine.translation(1, 3)


def test_field_to_store_places_pixels(tmp_path):
    f = read_field(_write_aef(tmp_path / "aef.tif", _codes()))
    store = f.to_store(model="alphaearth_v1")
    assert len(store) == H * W - 1 and store.dim == 64
    k = list(store.table["chip_id"]).index("aef/r0c0")
    np.testing.assert_array_equal(store.vectors[k], f.values[:, 0, 0])
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:32610", "EPSG:4326", always_xy=True).transform(600005.0, 4199995.0)
    assert store.table.geometry.iloc[k].contains(shapely.Point(lon, lat))


def test_field_errors_are_typed(tmp_path):
    with pytest.raises(EmbeddingError, match="missing.tif"):
        read_field(tmp_path / "missing.tif")
    with rasterio.open(tmp_path / "u8.tif", "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8") as ds:
        ds.write(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(EmbeddingError, match="not int8"):
        read_field(tmp_path / "u8.tif")
    _write_aef(tmp_path / "aef.tif", _codes())
    with pytest.raises(EmbeddingError, match="outside"):
        read_field(tmp_path / "aef.tif", window=(4, 0, 3, 1))


def _majortom_table(n=3, dim=8):
    """Rows in the layout of Major TOM's Core-*-<model> embedding expansions (parquet)."""
    rng = np.random.default_rng(2)
    utm = [shapely.box(500000 + 2240 * i, 4000000, 502240 + 2240 * i, 4002240) for i in range(n)]
    from pyproj import Transformer

    to_ll = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform
    ll = [shapely.transform(g, to_ll, interleaved=False) for g in utm]
    return pa.table({
        "unique_id": [f"{i:064x}" for i in range(n)],
        "embedding": [rng.normal(size=dim).astype(np.float32).tolist() for _ in range(n)],
        "timestamp": ["20230119T161811"] * n,
        "product_id": ["S2A_MSIL1C_20230119T161811_N0509_R111_T33SVB_20230119T190838"] * n,
        "grid_cell": [f"361U_{100 + i}R" for i in range(n)],
        "grid_row_u": pa.array([361] * n, pa.int16()), "grid_col_r": pa.array([100 + i for i in range(n)], pa.int16()),
        "geometry": [g.wkb for g in ll],
        "centre_lat": pa.array([g.centroid.y for g in ll], pa.float32()),
        "centre_lon": pa.array([g.centroid.x for g in ll], pa.float32()),
        "utm_footprint": [g.wkt for g in utm], "utm_crs": ["EPSG:32633"] * n,
        "pixel_bbox": [[0, 0, 224, 224]] * n,
    }), ll


def test_majortom_reader(tmp_path):
    table, ll = _majortom_table()
    folder = tmp_path / "Core-S2L1C-SSL4EO"
    folder.mkdir()
    pq.write_table(table, folder / "embeddings.parquet")
    store = read_majortom(folder / "embeddings.parquet")
    assert len(store) == 3 and store.dim == 8 and store.meta["model"] == "Core-S2L1C-SSL4EO"
    np.testing.assert_allclose(store.vectors[1], table.column("embedding")[1].as_py(), rtol=1e-6)
    assert store.table.crs.to_epsg() == 4326 and store.table.geometry.iloc[2].equals_exact(ll[2], 1e-9)
    assert store.table["time"].iloc[0].isoformat() == "2023-01-19T16:18:11+00:00"
    assert store.table["grid_cell"].iloc[0] == "361U_100R" and store.table["width"].iloc[0] == 224
    assert store.table["scene_id"].iloc[0].startswith("S2A_MSIL1C_20230119")
    # without the WKB geometry the UTM footprint is used; round trip through the eokit store
    pq.write_table(table.drop(["geometry"]), tmp_path / "nogeom.parquet")
    again = read_majortom(tmp_path / "nogeom.parquet", model="ssl4eo")
    assert again.table.geometry.iloc[0].equals_exact(ll[0], 1e-6)
    from eokit.embed import read_embeddings

    back = read_embeddings(write_embeddings(tmp_path / "e.parquet", again, again.meta))
    np.testing.assert_array_equal(back.vectors, again.vectors)
    assert list(back.table["grid_cell"]) == list(again.table["grid_cell"])


def test_clay_reader(tmp_path):
    gpd = pytest.importorskip("geopandas")
    import pandas as pd

    rng = np.random.default_rng(4)
    # Clay writes EPSG:4326 polygons with GeoPandas: source_url, date, embeddings, geometry
    polys = [shapely.box(8.0 + 0.02 * i, 60.0, 8.02 + 0.02 * i, 60.02) for i in range(4)]
    frame = gpd.GeoDataFrame({
        "source_url": [f"s3://clay/32VLM/claytile_32VLM_20221119_v02_{i:04d}.tif" for i in range(4)],
        "date": pd.to_datetime(["2022-11-19"] * 4).date,
        "embeddings": [rng.normal(size=16).astype(np.float32) for _ in range(4)],
    }, geometry=polys, crs="EPSG:4326")
    frame.to_parquet(tmp_path / "32VLM_v01.gpq")
    store = read_clay(tmp_path / "32VLM_v01.gpq")
    assert len(store) == 4 and store.dim == 16 and store.meta["model"] == "clay"
    np.testing.assert_allclose(store.vectors[3], frame["embeddings"].iloc[3], rtol=1e-6)
    assert store.table.geometry.iloc[1].equals(polys[1]) and store.table.crs.to_epsg() == 4326
    assert store.table["chip_id"].iloc[0] == "claytile_32VLM_20221119_v02_0000/0"
    assert str(store.table["time"].iloc[0].date()) == "2022-11-19"
    # a projected Clay file is brought to EPSG:4326
    frame.to_crs("EPSG:32632").to_parquet(tmp_path / "utm.gpq")
    utm = read_clay(tmp_path / "utm.gpq")
    assert utm.table.geometry.iloc[1].equals_exact(polys[1], 1e-6)
    json.loads(pq.read_schema(tmp_path / "utm.gpq").metadata[b"geo"])  # it really is GeoParquet


def test_product_errors_are_typed(tmp_path):
    with pytest.raises(EmbeddingError, match="no Major TOM"):
        read_majortom(tmp_path / "nope.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(EmbeddingError, match="no 'embedding' column"):
        read_majortom(tmp_path / "other.parquet")
    with pytest.raises(EmbeddingError, match="no 'embedding' column"):
        read_clay(tmp_path / "other.parquet")
    (tmp_path / "bad.gpq").write_bytes(b"not parquet")
    with pytest.raises(EmbeddingError, match="bad.gpq"):
        read_clay(tmp_path / "bad.gpq")
