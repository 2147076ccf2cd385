"""Similarity search: exact vs brute force, ANN recall, filters, model mismatch, index round trip, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

gpd = pytest.importorskip("geopandas")
shapely = pytest.importorskip("shapely")

from eokit.cli.main import main  # noqa: E402
from eokit.embed import read_embeddings, write_embeddings  # noqa: E402
from eokit.embed.index import IndexParams, VectorIndex, exact_search, resolve_method, unit_vectors  # noqa: E402
from eokit.embed.search import (  # noqa: E402
    filter_rows,
    hits_mosaic,
    index_path,
    open_index,
    query_from_chip,
    query_from_geometry,
    query_from_vector,
    search,
    write_hits,
)
from eokit.errors import EmbeddingError, MissingDependencyError  # noqa: E402

META = {"model": "resnet18", "weights_sha256": "cd" * 32, "bands": ["red", "green", "blue"],
        "chip_size": 8, "stride": 8}


def clustered(n: int, d: int = 16, clusters: int = 20, seed: int = 0, noise: float = 0.4) -> np.ndarray:
    """Seeded unit vectors around ``clusters`` centres (a small version of the benchmark's data)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    return unit_vectors(centres[rng.integers(clusters, size=n)] + noise * rng.standard_normal((n, d)))


def _store(tmp_path, n: int = 40, d: int = 16, scene: str = "s1", meta=META, name: str = "store.parquet"):
    """A store of a 8 x (n/8) grid of 0.01° chips near (10 E, 45 N), dated over 2020-2021."""
    vec = clustered(n, d, seed=1)
    cols = 8
    geoms = [shapely.box(10 + (i % cols) * 0.01, 45 + (i // cols) * 0.01, 10.01 + (i % cols) * 0.01,
                         45.01 + (i // cols) * 0.01) for i in range(n)]
    times = [pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=20 * i) for i in range(n)]
    times[3] = None
    frame = gpd.GeoDataFrame({
        "chip_id": [f"c{i}" for i in range(n)], "scene_id": [scene] * n, "crs": ["EPSG:32632"] * n,
        "col": (np.arange(n) % cols) * 8, "row": (np.arange(n) // cols) * 8, "width": [8] * n, "height": [8] * n,
        "time": times}, geometry=geoms, crs="EPSG:4326")
    path = write_embeddings(tmp_path / name, (frame, vec), meta)
    return read_embeddings(path)


def _brute(vectors, queries, k):
    scores = unit_vectors(queries) @ unit_vectors(vectors).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), order


@pytest.mark.parametrize("block", [None, 7])
def test_exact_search_equals_numpy_brute_force(block):
    base, queries = clustered(500, seed=2), clustered(12, seed=3)
    scores, ids = exact_search(base, queries, 10, block=block)
    ref_s, ref_i = _brute(base, queries, 10)
    np.testing.assert_array_equal(ids, ref_i)
    np.testing.assert_allclose(scores, ref_s, rtol=1e-5, atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_exact_search_subset_and_padding():
    base, q = clustered(50, seed=4), clustered(2, seed=5)
    rows = np.array([3, 9, 17, 40])
    scores, ids = exact_search(base, q, 6, rows=rows)
    assert set(ids[0, :4]) == set(rows.tolist()) and (ids[:, 4:] == -1).all() and np.isinf(scores[:, 4:]).all()
    _ref_s, ref_i = _brute(base[rows], q, 4)
    np.testing.assert_array_equal(ids[:, :4], rows[ref_i])


def test_auto_method_is_exact_for_small_stores_and_ann_above():
    assert resolve_method("auto", 1000) == "exact"
    assert resolve_method("auto", 60_000) == "ivf"
    assert resolve_method("auto", 900, exact_max_rows=500) == "ivf"
    assert resolve_method("hnsw", 10) == "hnsw"
    with pytest.raises(EmbeddingError, match="unknown search method 'annoy'"):
        resolve_method("annoy", 10)


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_ann_recall_on_clustered_vectors(method):
    pytest.importorskip("faiss")
    base = clustered(6000, d=32, clusters=30, seed=6, noise=0.25)
    queries = clustered(50, d=32, clusters=30, seed=7, noise=0.25)
    index = VectorIndex.build(base, method, IndexParams(nprobe=16, ef_search=256))
    assert index.ann is not None and index.nbytes > base.nbytes // 2
    _, approx = index.search(queries, 10)
    _, exact = exact_search(unit_vectors(base), queries, 10)
    recall = np.mean([len(np.intersect1d(a, e)) for a, e in zip(approx, exact, strict=True)]) / 10
    assert recall >= 0.9, recall


def test_ann_filtered_search_post_filters_and_falls_back_to_exact(monkeypatch):
    pytest.importorskip("faiss")
    import eokit.embed.index as ix

    base, q = clustered(4000, d=16, clusters=10, seed=8), clustered(5, d=16, clusters=10, seed=9)
    index = VectorIndex.build(base, "ivf", IndexParams(nprobe=64))
    monkeypatch.setattr(ix, "EXACT_MAX_ROWS", 100)  # so a 1000-row filter takes the ANN + post-filter path
    rows = np.arange(0, 4000, 4)
    calls = []
    real = ix.exact_search
    monkeypatch.setattr(ix, "exact_search", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    _scores, ids = index.search(q, 10, rows=rows)
    assert not calls, "a filter keeping a quarter of the rows is answered by the index"
    assert np.isin(ids, rows).all()
    _, ref = exact_search(unit_vectors(base), q, 10, rows=rows)
    assert np.mean([len(np.intersect1d(a, e)) for a, e in zip(ids, ref, strict=True)]) >= 9
    _, few = index.search(q, 10, rows=np.array([5, 6, 7]))  # few rows: exact
    assert calls and set(few[0][:3]) == {5, 6, 7} and (few[:, 3:] == -1).all()


def test_index_save_load_round_trip_and_stale_file(tmp_path):
    pytest.importorskip("faiss")
    base = clustered(2000, seed=10)
    q = clustered(4, seed=11)
    index = VectorIndex.build(base, "ivf", IndexParams(nprobe=5))
    path = index.save(tmp_path / "x.index.npz")
    assert not list(tmp_path.glob(".*")), "written through a temporary file"
    again = VectorIndex.load(path, base)
    assert again.method == "ivf" and again.params.nprobe == 5
    s1, i1 = index.search(q, 7)
    s2, i2 = again.search(q, 7)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2)
    changed = base.copy()
    changed[0] = -changed[0]
    with pytest.raises(EmbeddingError, match="built for other vectors.*rebuild"):
        VectorIndex.load(path, changed)
    (tmp_path / "bad.index.npz").write_bytes(b"not an index")
    with pytest.raises(EmbeddingError, match="bad.index.npz.*not an eokit search index"):
        VectorIndex.load(tmp_path / "bad.index.npz", base)


def test_missing_faiss_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *a, **kw):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    with pytest.raises(MissingDependencyError, match=r"eokit\[embed\]"):
        VectorIndex.build(clustered(100), "hnsw")
    exact = VectorIndex.build(clustered(100), "exact")  # exact search needs no FAISS
    assert exact.search(clustered(1, seed=3), 3)[1].shape == (1, 3)
    auto = VectorIndex.build(clustered(100), "auto", exact_max_rows=10)  # 'auto' falls back, with a warning
    assert auto.method == "exact" and auto.ann is None


def test_store_index_is_saved_beside_the_store_and_reused(tmp_path):
    pytest.importorskip("faiss")
    st = _store(tmp_path, n=200)
    index = open_index(st, "hnsw")
    assert index_path(st.path).is_file() and index_path(st.path).name == "store.parquet.index.npz"
    again = open_index(st, "hnsw")
    assert again.ann is not None and again.build_s == index.build_s  # loaded, not rebuilt
    assert open_index(st, "auto").method == "exact"


def test_search_like_chip_leaves_the_query_out_and_matches_brute_force(tmp_path):
    st = _store(tmp_path)
    hits = search(st, query_from_chip(st, "c5"), k=5)
    ref_s, ref_i = _brute(np.delete(st.vectors, 5, axis=0), st.vectors[5:6], 5)
    ref_ids = [f"c{i + (i >= 5)}" for i in ref_i[0]]
    assert hits["chip_id"].tolist() == ref_ids
    np.testing.assert_allclose(hits["score"], ref_s[0], rtol=1e-5)
    assert hits["rank"].tolist() == [1, 2, 3, 4, 5]
    kept = search(st, query_from_chip(st, "c5"), k=1, keep_query=True)
    assert kept["chip_id"].tolist() == ["c5"] and kept["score"].iloc[0] == pytest.approx(1.0)


def test_query_by_point_and_polygon_is_the_mean_of_the_chips_there(tmp_path):
    st = _store(tmp_path)
    q = query_from_geometry(st, shapely.Point(10.015, 45.005))  # inside chip c1 only
    assert q.rows == (1,)
    np.testing.assert_allclose(q.vector, unit_vectors(st.vectors[1:2])[0], rtol=1e-6)
    poly = query_from_geometry(st, shapely.box(10.001, 45.001, 10.019, 45.009))  # c0 and c1
    assert poly.rows == (0, 1)
    mean = unit_vectors(st.vectors[:2]).mean(0)
    np.testing.assert_allclose(poly.vector, mean / np.linalg.norm(mean), rtol=1e-5)
    with pytest.raises(EmbeddingError, match="touches no chip.*store.parquet"):
        query_from_geometry(st, shapely.Point(0, 0))


def test_area_and_time_filters(tmp_path):
    st = _store(tmp_path)
    rows = filter_rows(st, area=(10.0, 45.0, 10.025, 45.005))  # columns 0..2 of the first row
    assert rows.tolist() == [0, 1, 2]
    times = filter_rows(st, start="2020-01-21", end="2020-03-01")  # days 20, 40, 60 (c3 has no time)
    assert times.tolist() == [1, 2]
    assert filter_rows(st, end="2020-01-21").tolist() == [0, 1]  # an end date includes its day
    both = search(st, query_from_chip(st, "c0"), k=10, area=(10.0, 45.0, 10.04, 45.02), start="2020-02-01")
    assert set(both["chip_id"]) == {"c2", "c8", "c9", "c10", "c11"}  # c4 only touches the area
    assert filter_rows(st) is None
    with pytest.raises(EmbeddingError, match="no chip .* inside the area"):
        search(st, query_from_chip(st, "c0"), area=(20, 10, 21, 11))
    with pytest.raises(EmbeddingError, match="starts .* after it ends"):
        filter_rows(st, start="2021-01-01", end="2020-01-01")


def test_query_from_another_model_or_dimension_is_refused(tmp_path):
    st = _store(tmp_path)
    other = _store(tmp_path, meta={**META, "model": "vit_small"}, name="other.parquet")
    with pytest.raises(EmbeddingError, match="model: 'resnet18' != 'vit_small'"):
        query_from_chip(st, "c1", source_store=other)
    with pytest.raises(EmbeddingError, match="8 dimensions but the store .*16-d"):
        query_from_vector(st, np.ones(8, np.float32))
    same = _store(tmp_path, name="same.parquet")
    assert query_from_chip(st, "c1", source_store=same).rows == ()
    with pytest.raises(EmbeddingError, match="no chip 'nope'"):
        query_from_chip(st, "nope")


def test_hits_round_trip_as_geoparquet_store(tmp_path):
    st = _store(tmp_path)
    hits = search(st, query_from_chip(st, "c2"), k=4)
    out = write_hits(tmp_path / "hits.parquet", hits)
    back = read_embeddings(out)
    assert back.table["chip_id"].tolist() == hits["chip_id"].tolist()
    assert back.table["rank"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(back.table["score"], hits["score"])
    assert back.meta["model"] == "resnet18" and back.dim == 16
    assert gpd.read_parquet(out).crs.to_epsg() == 4326  # plain GeoPandas reads it


def _scene(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "scene.tif"
    data = np.stack([np.arange(64 * 40, dtype=np.uint16).reshape(40, 64) * (b + 1) for b in range(3)])
    with rasterio.open(path, "w", driver="GTiff", width=64, height=40, count=3, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500000, 5000000, 10, 10)) as ds:
        ds.write(data)
    return path


def test_mosaic_reads_each_hit_window(tmp_path):
    from PIL import Image

    st = _store(tmp_path, scene="scene.tif")  # scene_id a path beside the store
    _scene(tmp_path)
    hits = search(st, query_from_chip(st, "c0"), k=6)
    png, missing = hits_mosaic(hits, tmp_path / "m.png", store_path=st.path, tile=16, columns=3, gap=2)
    img = np.asarray(Image.open(png))
    assert img.shape == (2 * 16 + 2, 3 * 16 + 2 * 2, 3) and missing == []
    assert img[:16, :16].std() > 0 and (img[16:18] == 255).all()  # a real, stretched window; white gaps
    hits.loc[0, "scene_id"] = "gone.tif"
    _, missing = hits_mosaic(hits, tmp_path / "m2.png", store_path=st.path, tile=16)
    assert missing == ["gone.tif"]
    hits["scene_id"] = "scene"  # the name embed_scene records: found among the scenes given
    _, missing = hits_mosaic(hits, tmp_path / "m4.png", scenes=[str(tmp_path / "scene.tif")], tile=16)
    assert missing == []
    hits["scene_id"] = "gone.tif"
    with pytest.raises(EmbeddingError, match="none of the hits' scenes could be read"):
        hits_mosaic(hits, tmp_path / "m3.png", store_path=st.path)


def test_cli_search_end_to_end(tmp_path, capsys):
    st = _store(tmp_path, scene="scene")
    scene = _scene(tmp_path)
    out, png = tmp_path / "hits.parquet", tmp_path / "hits.png"
    assert main(["search", str(st.path), "--like", "c5", "-k", "3", "-o", str(out), "--mosaic", str(png),
                 "--scene", str(scene), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ref = search(st, query_from_chip(st, "c5"), k=3)
    assert res["chip_id"] == ref["chip_id"].tolist() and res["method"] == "exact"
    assert read_embeddings(out).table["chip_id"].tolist() == res["chip_id"] and png.is_file()
    np.save(tmp_path / "q.npy", st.vectors[7])
    assert main(["search", str(st.path), "--vector", str(tmp_path / "q.npy"), "--bbox", "10,45,10.03,45.02",
                 "--start", "2020-02-01", "-o", str(out)]) == 0
    assert set(read_embeddings(out).table["chip_id"]) <= {"c2", "c8", "c9", "c10"}
    assert main(["search", str(st.path), "--point", "10.015,45.005", "-k", "2", "-o", str(out), "-q"]) == 0
    assert "c1" not in read_embeddings(out).table["chip_id"].tolist()
    np.save(tmp_path / "q8.npy", np.ones(8, np.float32))
    capsys.readouterr()
    assert main(["search", str(st.path), "--vector", str(tmp_path / "q8.npy"), "-o", str(out)]) == 2
    assert "8 dimensions" in capsys.readouterr().err
    assert main(["search", str(st.path), "--like", "c1", "--point", "10,45", "-o", str(out)]) == 2
    assert "exactly one query" in capsys.readouterr().err


def test_cli_polygon_query_and_within_area_from_vector_files(tmp_path, capsys):
    st = _store(tmp_path)
    poly = gpd.GeoDataFrame(geometry=[shapely.box(10.001, 45.001, 10.019, 45.009)], crs="EPSG:4326")
    poly.to_file(tmp_path / "q.geojson")
    inner = shapely.box(10.0005, 45.0105, 10.0395, 45.0295)  # away from the edges: reprojection moves them
    area = gpd.GeoDataFrame(geometry=[inner], crs="EPSG:4326").to_crs(32632)
    area.to_file(tmp_path / "area.gpkg")  # another CRS: reprojected to EPSG:4326
    out = tmp_path / "hits.parquet"
    assert main(["search", str(st.path), "--polygon", str(tmp_path / "q.geojson"), "--within",
                 str(tmp_path / "area.gpkg"), "-k", "20", "-o", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["chip_id"]
    assert set(got) == {f"c{i}" for i in (8, 9, 10, 11, 16, 17, 18, 19)}  # rows 1-2, columns 0-3
    ref = search(st, query_from_geometry(st, shapely.box(10.001, 45.001, 10.019, 45.009)), k=20,
                 area=inner)
    assert got == ref["chip_id"].tolist()
