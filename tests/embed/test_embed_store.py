"""The GeoParquet embedding store: round trip, int8, GeoPandas/DuckDB readability, typed errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

gpd = pytest.importorskip("geopandas")
pq = pytest.importorskip("pyarrow.parquet")
shapely = pytest.importorskip("shapely")

from eokit.embed import EmbeddingStore, quantize_int8, read_embeddings, unit_int8, write_embeddings  # noqa: E402
from eokit.errors import EmbeddingError, EokitError  # noqa: E402

META = {"model": "resnet18", "weights_sha256": "ab" * 32, "bands": ["B04", "B03", "B02"],
        "chip_size": 64, "stride": 64}


def _frame(n: int = 6) -> gpd.GeoDataFrame:
    boxes = [shapely.box(10 + i * 0.01, 45.0, 10.01 + i * 0.01, 45.01) for i in range(n)]
    return gpd.GeoDataFrame({
        "chip_id": [f"s1/{i}" for i in range(n)], "scene_id": ["s1"] * n, "crs": ["EPSG:32632"] * n,
        "col": np.arange(n) * 64, "row": np.zeros(n, int), "width": [64] * n, "height": [64] * n,
        "time": ([pd.Timestamp("2020-05-01T10:00", tz="UTC")] * (n - 1) + [None])[:n],
    }, geometry=boxes, crs="EPSG:4326")


def test_float32_round_trip_schema_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(6, 16)).astype(np.float32)
    out = write_embeddings(tmp_path / "e.parquet", (_frame(), vec), META)
    store = read_embeddings(out)
    np.testing.assert_array_equal(store.vectors, vec)
    assert store.dim == 16 and len(store) == 6
    assert store.meta == {"version": 1, "dim": 16, "dtype": "float32", **META}
    assert list(store.table["chip_id"]) == [f"s1/{i}" for i in range(6)]
    assert store.table.crs.to_epsg() == 4326
    assert store.table.geometry.iloc[2].equals(shapely.box(10.02, 45.0, 10.03, 45.01))
    assert store.table["model"].iloc[0] == "resnet18"
    assert pd.isna(store.table["time"].iloc[-1]) and str(store.table["time"].dtype) == "datetime64[us, UTC]"
    schema = pq.read_schema(out)
    assert str(schema.field("embedding").type) == "fixed_size_list<element: float>[16]"
    for name in ("col", "row", "width", "height"):
        assert str(schema.field(name).type) == "int32"
    assert str(schema.field("time").type) == "timestamp[us, tz=UTC]"
    geo = json.loads(schema.metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["geometry_types"] == ["Polygon"]
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx([10.0, 45.0, 10.06, 45.01])
    assert not list(tmp_path.glob(".*")), "no temporary file left behind"


def test_int8_store_dequantises_within_a_step(tmp_path):
    rng = np.random.default_rng(1)
    vec = rng.normal(size=(6, 32)).astype(np.float32)
    out = write_embeddings(tmp_path / "q.parquet", (_frame(), vec), {**META, "dtype": "int8"})
    schema = pq.read_schema(out)
    assert str(schema.field("embedding").type) == "fixed_size_list<element: int8>[32]"
    assert str(schema.field("scale").type) == "float"
    store = read_embeddings(out)
    step = np.abs(vec).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(store.vectors - vec) <= step * 0.5 + 1e-6)
    assert store.meta["dtype"] == "int8"
    codes, scale = quantize_int8(vec)
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127
    np.testing.assert_allclose(codes * scale[:, None], store.vectors, rtol=0, atol=1e-6)


def test_readable_by_geopandas_and_duckdb(tmp_path):
    vec = np.ones((6, 4), np.float32)
    out = write_embeddings(tmp_path / "e.parquet", (_frame(), vec), META)
    gdf = gpd.read_parquet(out)
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == 6
    assert gdf.geometry.iloc[0].equals(shapely.box(10.0, 45.0, 10.01, 45.01))
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0] == 6
    assert con.execute(f"SELECT sum(list_sum(embedding::FLOAT[])) FROM '{out}'").fetchone()[0] == 24


def test_frame_with_embedding_column_and_extra_columns(tmp_path):
    frame = _frame(3)
    frame["embedding"] = [np.full(5, i, np.float32) for i in range(3)]
    frame["label"] = ["a", "b", "c"]
    store = read_embeddings(write_embeddings(tmp_path / "f.parquet", frame, META))
    np.testing.assert_array_equal(store.vectors[:, 0], [0, 1, 2])
    assert list(store.table["label"]) == ["a", "b", "c"]
    sub = store.select(store.table["label"].to_numpy() != "b")
    assert list(sub.table["chip_id"]) == ["s1/0", "s1/2"] and sub.vectors.shape == (2, 5)
    again = read_embeddings(write_embeddings(tmp_path / "g.parquet", sub, sub.meta))
    np.testing.assert_array_equal(again.vectors, sub.vectors)


def test_empty_store_round_trips(tmp_path):
    store = read_embeddings(write_embeddings(tmp_path / "e.parquet", (_frame(0), np.zeros((0, 8), np.float32)),
                                             META))
    assert len(store) == 0 and store.vectors.shape == (0, 8)


def test_check_compatible_names_what_differs(tmp_path):
    store = read_embeddings(write_embeddings(tmp_path / "e.parquet", (_frame(), np.ones((6, 4), np.float32)),
                                             META))
    store.check_compatible({"model": "resnet18", "weights_sha256": "ab" * 32, "dim": 4})
    store.check_compatible(store)
    with pytest.raises(EmbeddingError, match=r"e\.parquet.*model: 'resnet18' != 'vit_small'"):
        store.check_compatible({**store.meta, "model": "vit_small"})
    with pytest.raises(EmbeddingError, match="dim: 4 != 8"):
        store.check_compatible({"dim": 8})
    assert issubclass(EmbeddingError, ValueError) and issubclass(EmbeddingError, EokitError)


def test_bad_inputs_are_typed(tmp_path):
    with pytest.raises(EmbeddingError, match="missing.parquet"):
        read_embeddings(tmp_path / "missing.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    with pytest.raises(EmbeddingError, match="junk.parquet"):
        read_embeddings(junk)
    plain = tmp_path / "plain.parquet"
    _frame().to_parquet(plain)
    with pytest.raises(EmbeddingError, match="no 'eokit:embedding' metadata"):
        read_embeddings(plain)
    with pytest.raises(EmbeddingError, match="non-finite"):
        write_embeddings(tmp_path / "n.parquet", (_frame(), np.full((6, 4), np.nan, np.float32)), META)
    with pytest.raises(EmbeddingError, match="dtype 'float16'"):
        write_embeddings(tmp_path / "n.parquet", (_frame(), np.ones((6, 4), np.float32)),
                         {**META, "dtype": "float16"})
    with pytest.raises(EmbeddingError, match="6 rows"):
        write_embeddings(tmp_path / "n.parquet", (_frame(), np.ones((5, 4), np.float32)), META)
    with pytest.raises(EmbeddingError):
        EmbeddingStore(np.ones((2, 3)), _frame(3), {})
    assert not (tmp_path / "n.parquet").exists()


def test_unit_int8_is_the_alphaearth_quantisation():
    v = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [np.nan, 1.0, 1.0]])
    codes = unit_int8(v)
    np.testing.assert_array_equal(codes, [[76, 102, 0], [0, 0, 0], [-128, -128, -128]])
    assert codes.dtype == np.int8
