"""Every embedding reader fails typed: mutated stores, product files and field COGs raise EmbeddingError."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin

from eokit.embed import read_clay, read_embeddings, read_field, read_majortom, write_embeddings
from eokit.errors import EokitError

N = int(os.environ.get("EOKIT_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=N, deadline=3000, derandomize=N <= 40, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _store(path: Path) -> None:
    import geopandas as gpd
    from shapely import box

    table = gpd.GeoDataFrame({"chip_id": ["a", "b"]}, geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2)], crs="EPSG:4326")
    write_embeddings(path, (table, np.arange(8, dtype=np.float32).reshape(2, 4)), {"model": "m", "dtype": "int8"})


def _majortom(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from shapely import box

    pq.write_table(pa.table({"unique_id": ["x"], "embedding": [[0.5, 0.25]], "timestamp": ["20230119T161811"],
                             "geometry": [box(0, 0, 1, 1).wkb], "pixel_bbox": [[0, 0, 4, 4]]}), path)


def _clay(path: Path) -> None:
    import geopandas as gpd
    from shapely import box

    gpd.GeoDataFrame({"source_url": ["s3://x/t.tif"], "embeddings": [np.ones(3, np.float32)]},
                     geometry=[box(0, 0, 1, 1)], crs="EPSG:4326").to_parquet(path)


def _field(path: Path) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=3, dtype="int8", nodata=-128,
                       crs="EPSG:32632", transform=from_origin(0, 40, 10, 10)) as ds:
        ds.write(np.arange(48, dtype=np.int8).reshape(3, 4, 4))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "zero", "garbage"]))
    if kind == "zero":
        return b""
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=256))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        out[pos] ^= draw(st.integers(1, 255))
    return bytes(out)


CASES = [(_store, "e.parquet", read_embeddings), (_majortom, "mt.parquet", read_majortom),
         (_clay, "c.gpq", read_clay), (_field, "f.tif", read_field)]


@pytest.mark.parametrize(("make", "name", "read"), CASES, ids=["store", "majortom", "clay", "field"])
def test_valid_embedding_files_read(tmp_path: Path, make: Callable[[Path], None], name: str,
                                    read: Callable[[Path], object]) -> None:
    make(tmp_path / name)
    assert read(tmp_path / name) is not None


@pytest.mark.parametrize(("make", "name", "read"), CASES, ids=["store", "majortom", "clay", "field"])
def test_fuzz_embedding_readers(make: Callable[[Path], None], name: str, read: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as d:
        make(Path(d) / name)
        valid = (Path(d) / name).read_bytes()

    @FUZZ
    @given(blob=mutated(valid))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / name
            path.write_bytes(blob)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    read(path)
            except EokitError as exc:
                assert name in str(exc), f"error does not name {name}: {exc}"

    run()
