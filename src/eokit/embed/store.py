"""The embedding store: one GeoParquet 1.1 file, one row per chip, readable by GeoPandas and DuckDB.

Columns: ``chip_id``, ``scene_id`` (str), ``geometry`` (WKB polygon, EPSG:4326), ``crs`` (the native
CRS), ``col``/``row``/``width``/``height`` (int32, the window on the native grid), ``time``
(timestamp[us, UTC], nullable), ``model``, ``weights_sha256`` (str) and ``embedding``
(fixed_size_list<float32>[D], or fixed_size_list<int8>[D] plus a ``scale`` float32 column for
int8 stores: vector = embedding * scale). The file metadata key ``eokit:embedding`` holds JSON
``{"version": 1, "model", "weights_sha256", "dim", "dtype", "bands", "chip_size", "stride"}``
and ``geo`` the GeoParquet metadata.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from eokit.errors import EmbeddingError, EokitError
from eokit.io.cog import atomic_path

STORE_VERSION = 1
META_KEY = b"eokit:embedding"
DTYPES = ("float32", "int8")
#: the non-vector columns of a store, in file order, with their Arrow type names
COLUMNS = ("chip_id", "scene_id", "geometry", "crs", "col", "row", "width", "height", "time", "model",
           "weights_sha256")
_INT_COLUMNS = ("col", "row", "width", "height")
_STR_COLUMNS = ("chip_id", "scene_id", "crs", "model", "weights_sha256")
#: the metadata keys two stores must agree on to be compared
COMPATIBLE_KEYS = ("model", "weights_sha256", "dim")


R = TypeVar("R")


def typed_reader(what: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a reader whose first argument is a path: any non-eokit error (a corrupt file's
    Arrow, JSON, Unicode or PROJ error) becomes an :class:`EmbeddingError` naming the file."""

    def decorate(read: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(read)
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> R:
            try:
                return read(path, *args, **kwargs)
            except EokitError:
                raise
            except Exception as exc:  # anything a damaged file makes a library raise
                raise EmbeddingError(f"cannot read {str(path)!r} as {what} ({type(exc).__name__}: {exc}); "
                                     "is the file complete and of that format?") from exc

        return wrapper

    return decorate


def quantize_int8(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8 quantisation: (codes int8 (N, D), scale float32 (N,)), vector ~ codes * scale."""
    v = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(v).max(axis=1) if v.size else np.zeros(len(v), np.float32)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(v / scale[:, None]), -127, 127).astype(np.int8)
    return codes, scale


def unit_int8(vectors: np.ndarray) -> np.ndarray:
    """Quantise vectors as int8 unit vectors, round(v / |v| * 127) (the AlphaEarth field convention).

    A zero vector stays zero; rows with NaN become -128 (the field's nodata).
    """
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    unit = np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)
    codes = np.clip(np.rint(unit * 127.0), -127, 127)
    bad = ~np.isfinite(v).all(axis=-1)
    codes[bad] = -128
    return codes.astype(np.int8)


def _crs84_projjson() -> dict[str, Any]:
    from pyproj import CRS

    out: dict[str, Any] = CRS.from_epsg(4326).to_json_dict()
    return out


@dataclass
class EmbeddingStore:
    """Embeddings in memory: ``vectors`` float32 (N, D), ``table`` (GeoDataFrame, EPSG:4326), ``meta``."""

    vectors: np.ndarray
    table: Any  # geopandas.GeoDataFrame (geopandas is untyped)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2:
            raise EmbeddingError(f"embedding vectors must be (N, D), got shape {self.vectors.shape}"
                                 f"{self._where()}")
        if len(self.table) != len(self.vectors):
            raise EmbeddingError(f"{len(self.table)} table rows but {len(self.vectors)} vectors{self._where()}")

    def _where(self) -> str:
        return f" in {str(self.path)!r}" if self.path else ""

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dim(self) -> int:
        """The embedding dimension D."""
        return int(self.vectors.shape[1])

    def select(self, index: Any) -> EmbeddingStore:
        """The rows at ``index`` (a boolean mask or integer positions) as a new store."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return EmbeddingStore(self.vectors[idx], self.table.iloc[idx].reset_index(drop=True), dict(self.meta),
                              self.path)

    def check_compatible(self, other_meta: Mapping[str, Any] | EmbeddingStore) -> None:
        """Raise :class:`EmbeddingError` when ``other_meta`` names another model, weights or dimension."""
        other = other_meta.meta if isinstance(other_meta, EmbeddingStore) else dict(other_meta)
        mine = {**self.meta, "dim": self.meta.get("dim", self.dim)}
        diffs = [f"{k}: {mine.get(k)!r} != {other.get(k)!r}" for k in COMPATIBLE_KEYS
                 if k in other and mine.get(k) != other.get(k)]
        if diffs:
            raise EmbeddingError(
                f"embeddings are not comparable with the store{self._where()} ({'; '.join(diffs)}); "
                "embed the query with the same model and weights as the store, or use a store made by that model")


def _meta_for(meta: Mapping[str, Any], dim: int) -> dict[str, Any]:
    out: dict[str, Any] = {"version": STORE_VERSION, "model": "", "weights_sha256": "", "dim": dim, "dtype": "float32",
           "bands": [], "chip_size": None, "stride": None}
    out.update({k: v for k, v in meta.items() if k != "version"})
    if out["dtype"] not in DTYPES:
        raise EmbeddingError(f"embedding dtype {out['dtype']!r} is not supported; choose one of {DTYPES}")
    if int(out["dim"]) != dim:
        raise EmbeddingError(f"metadata says dim={out['dim']} but the vectors have {dim} dimensions")
    out["bands"] = [str(b) for b in out.get("bands") or []]
    return out


def _split_input(frame_or_arrays: Any) -> tuple[Any, np.ndarray]:
    """(table, vectors) from a store, a (table, vectors) pair or a frame with an ``embedding`` column."""
    if isinstance(frame_or_arrays, EmbeddingStore):
        return frame_or_arrays.table, frame_or_arrays.vectors
    if isinstance(frame_or_arrays, tuple) and len(frame_or_arrays) == 2:
        table, vectors = frame_or_arrays
        return table, np.asarray(vectors, dtype=np.float32)
    if hasattr(frame_or_arrays, "columns") and "embedding" in frame_or_arrays.columns:
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in frame_or_arrays["embedding"]]) \
            if len(frame_or_arrays) else np.zeros((0, 0), np.float32)
        return frame_or_arrays.drop(columns=["embedding"]), vectors
    raise EmbeddingError(
        f"cannot write embeddings from {type(frame_or_arrays).__name__}; pass an EmbeddingStore, a "
        "(GeoDataFrame, vectors) pair or a GeoDataFrame with an 'embedding' column")


def _column(table: Any, name: str, n: int, default: Any) -> list[Any]:
    if name in table.columns:
        return list(table[name])
    if default is _REQUIRED:
        raise EmbeddingError(f"the embedding table has no {name!r} column; it needs {list(COLUMNS)}")
    return [default] * n


_REQUIRED = object()


def _arrow_table(table: Any, vectors: np.ndarray, meta: dict[str, Any]) -> Any:
    import pandas as pd
    import pyarrow as pa
    import shapely

    n, dim = vectors.shape
    geoms = table.geometry if hasattr(table, "geometry") else None
    if geoms is None:
        raise EmbeddingError("the embedding table has no geometry; pass a GeoDataFrame in EPSG:4326")
    if getattr(table, "crs", None) is not None and not table.crs.equals("EPSG:4326"):
        table = table.to_crs("EPSG:4326")
        geoms = table.geometry
    geoms = np.asarray(geoms.values, dtype=object)
    wkb = shapely.to_wkb(geoms) if n else np.array([], dtype=object)
    times = pd.to_datetime(pd.Series(_column(table, "time", n, None), dtype=object), utc=True)
    cols: dict[str, Any] = {
        "chip_id": pa.array([str(x) for x in _column(table, "chip_id", n, _REQUIRED)], pa.string()),
        "scene_id": pa.array([str(x) for x in _column(table, "scene_id", n, "")], pa.string()),
        "geometry": pa.array(list(wkb), pa.binary()),
        "crs": pa.array([str(x) for x in _column(table, "crs", n, "")], pa.string()),
    }
    for name in _INT_COLUMNS:
        cols[name] = pa.array(np.asarray(_column(table, name, n, 0), dtype=np.int32), pa.int32())
    cols["time"] = pa.array(times.astype("datetime64[us, UTC]"), pa.timestamp("us", tz="UTC"))
    cols["model"] = pa.array([str(x) for x in _column(table, "model", n, meta["model"])], pa.string())
    cols["weights_sha256"] = pa.array(
        [str(x) for x in _column(table, "weights_sha256", n, meta["weights_sha256"])], pa.string())
    if meta["dtype"] == "int8":
        codes, scale = quantize_int8(vectors)
        cols["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1), pa.int8()), dim)
        cols["scale"] = pa.array(scale, pa.float32())
    else:
        cols["embedding"] = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.reshape(-1), pa.float32()), dim)
    extra = [c for c in table.columns if c not in cols and c not in ("geometry", "embedding", "scale")
             and c != getattr(table, "_geometry_column_name", "geometry")]
    for c in extra:  # keep caller columns (e.g. a label) after the contract columns
        cols[c] = pa.array(list(table[c]))
    present = [g for g in geoms if g is not None and not g.is_empty]
    types = sorted({g.geom_type for g in present})
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": types, "crs": _crs84_projjson()}
    if present:  # bbox only of real geometries (no NaN in the JSON)
        column["bbox"] = [float(b) for b in shapely.total_bounds(np.asarray(present, dtype=object))]
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    out = pa.table(cols)
    return out.replace_schema_metadata({b"geo": json.dumps(geo).encode(),
                                        META_KEY: json.dumps(meta).encode()})


def write_embeddings(path: str | os.PathLike[str], frame_or_arrays: Any, meta: Mapping[str, Any]) -> Path:
    """Write embeddings as a GeoParquet store, atomically; returns the path.

    ``frame_or_arrays``: an :class:`EmbeddingStore`, a ``(GeoDataFrame, vectors)`` pair or a
    GeoDataFrame with an ``embedding`` column. ``meta``: ``model``, ``weights_sha256``, ``bands``,
    ``chip_size``, ``stride`` and ``dtype`` ('float32' or 'int8', stored as codes + per-row scale).
    """
    import pyarrow.parquet as pq

    table, vectors = _split_input(frame_or_arrays)
    if vectors.ndim != 2 or len(vectors) != len(table):
        raise EmbeddingError(f"{len(table)} rows but vectors of shape {vectors.shape} for {str(path)!r}; "
                             "pass one vector per row")
    if not np.isfinite(vectors).all():
        raise EmbeddingError(f"non-finite embedding values for {str(path)!r}; drop those chips before writing")
    full = _meta_for(meta, int(vectors.shape[1]))
    arrow = _arrow_table(table, vectors, full)
    with atomic_path(path, ".parquet") as tmp:
        pq.write_table(arrow, tmp, compression="zstd")
    return Path(path)


def _vectors_from(column: Any, scale: Any, where: str) -> np.ndarray:
    import pyarrow as pa

    arr = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if not pa.types.is_fixed_size_list(arr.type) and not pa.types.is_list(arr.type) \
            and not pa.types.is_large_list(arr.type):
        raise EmbeddingError(f"the 'embedding' column of {where} is {arr.type}, not a list of numbers")
    if arr.null_count:
        raise EmbeddingError(f"{arr.null_count} rows of {where} have no embedding; drop them and write again")
    n = len(arr)
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    if n and flat.size % n:
        raise EmbeddingError(f"the embeddings in {where} have different lengths; a store holds one dimension")
    width = arr.type.list_size if pa.types.is_fixed_size_list(arr.type) else (flat.size // n if n else 0)
    vectors = flat.reshape(n, width).astype(np.float32)
    if scale is not None:
        vectors *= np.asarray(scale.to_numpy(zero_copy_only=False), dtype=np.float32)[:, None]
    return vectors


@typed_reader("an eokit embedding store")
def read_embeddings(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None) -> EmbeddingStore:
    """Read a store written by :func:`write_embeddings` (int8 stores come back as float32 vectors).

    ``columns``: extra (non-contract) columns to keep; all by default.
    """
    import geopandas as gpd
    import pyarrow.parquet as pq
    import shapely

    where = repr(str(path))
    if not Path(path).is_file():
        raise EmbeddingError(f"no embedding store at {where}; write one with `eokit embed`")
    try:
        arrow = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for corrupt or non-parquet files
        raise EmbeddingError(f"cannot read {where} as GeoParquet ({exc}); is it an embedding store?") from exc
    raw = (arrow.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise EmbeddingError(f"{where} has no 'eokit:embedding' metadata; it is not an eokit embedding store "
                             "(published products: use eokit.embed.products readers)")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise EmbeddingError(f"the 'eokit:embedding' metadata of {where} is not JSON ({exc})") from exc
    if int(meta.get("version", 0)) > STORE_VERSION:
        raise EmbeddingError(f"{where} is store version {meta.get('version')}; this eokit reads up to "
                             f"{STORE_VERSION}: upgrade eokit")
    missing = [c for c in ("chip_id", "geometry", "embedding") if c not in arrow.column_names]
    if missing:
        raise EmbeddingError(f"{where} lacks the column(s) {missing}")
    scale = arrow.column("scale") if meta.get("dtype") == "int8" else None
    if meta.get("dtype") == "int8" and "scale" not in arrow.column_names:
        raise EmbeddingError(f"{where} is an int8 store without a 'scale' column")
    vectors = _vectors_from(arrow.column("embedding"), scale, where)
    if int(meta.get("dim", vectors.shape[1])) != vectors.shape[1] and len(vectors):
        raise EmbeddingError(f"{where} says dim={meta.get('dim')} but holds {vectors.shape[1]}-d vectors")
    keep = [c for c in arrow.column_names if c not in ("embedding", "scale", "geometry")
            and (columns is None or c in COLUMNS or c in columns)]
    frame = arrow.select(keep).to_pandas()
    try:
        geoms = shapely.from_wkb(np.asarray(arrow.column("geometry").to_pylist(), dtype=object))
    except Exception as exc:  # shapely.errors.GEOSException for bad WKB
        raise EmbeddingError(f"the geometry column of {where} is not WKB ({exc})") from exc
    table = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
    return EmbeddingStore(vectors, table, meta, Path(path))
