"""Readers for published embedding products and for eokit's own embedding-field COGs.

* AlphaEarth Foundations "Satellite Embedding" V1 COGs (Google / Google DeepMind; the
  ``gs://alphaearth_foundations`` bucket and mirrors): 64 int8 bands ``A00``..``A63``, nodata -128,
  de-quantised as ``sign(v) * (|v| / 127.5) ** 2`` (unit vectors). One mirror (Source Cooperative
  ``tge-labs/aef``) stores them *bottom-up* (origin at the bottom-left, positive y pixel size):
  :func:`read_field` flips those rows so the result is north-up like every eokit raster.
* eokit embedding fields (``eokit embed --field``): int8 ``round(v / |v| * 127)``, nodata -128,
  de-quantised as ``v / 127``.
* Major TOM embedding expansions (GeoParquet/Parquet: ``unique_id``, ``embedding``, ``timestamp``
  ``YYYYMMDDTHHMMSS``, ``product_id``, ``grid_cell``, ``grid_row_u``, ``grid_col_r``, ``geometry``
  (WKB, WGS84), ``centre_lat``/``centre_lon``, ``utm_footprint`` (WKT), ``utm_crs``, ``pixel_bbox``).
* Clay embeddings GeoParquet (``source_url``, ``date``, ``embeddings`` (list of floats), ``geometry``).

The parquet readers return an :class:`~eokit.embed.store.EmbeddingStore` with the store's columns
(geometry in EPSG:4326) plus the product's own columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eokit.embed.store import EmbeddingStore, typed_reader
from eokit.errors import EmbeddingError
from eokit.io import GridSpec

NODATA = -128
ALPHAEARTH_BANDS = tuple(f"A{k:02d}" for k in range(64))
DEQUANTIZE = ("alphaearth", "unit")


def dequantize_alphaearth(codes: np.ndarray) -> np.ndarray:
    """AlphaEarth int8 -> float32: ``sign(v) * (|v| / 127.5) ** 2``; -128 (nodata) -> NaN."""
    v = np.asarray(codes).astype(np.float32)
    out = np.sign(v) * (np.abs(v) / 127.5) ** 2
    out[np.asarray(codes) == NODATA] = np.nan
    return out.astype(np.float32)


def dequantize_unit(codes: np.ndarray) -> np.ndarray:
    """eokit field int8 -> float32: ``v / 127``; -128 (nodata) -> NaN."""
    out = np.asarray(codes).astype(np.float32) / 127.0
    out[np.asarray(codes) == NODATA] = np.nan
    return out


@dataclass
class EmbeddingField:
    """An embedding field read north-up: ``values`` float32 (D, H, W) (NaN where masked) on ``grid``."""

    values: np.ndarray
    grid: GridSpec
    band_names: tuple[str, ...]
    path: Path
    flipped: bool = False  # True: the file was bottom-up and its rows were reversed

    @property
    def valid(self) -> np.ndarray:
        """(H, W) True where the pixel holds a vector."""
        return np.isfinite(self.values).all(axis=0)

    def to_store(self, model: str = "", weights_sha256: str = "") -> EmbeddingStore:
        """One store row per valid pixel (footprint polygon in EPSG:4326, window on the field's grid)."""
        import geopandas as gpd
        import shapely
        from pyproj import Transformer

        rows, cols = np.nonzero(self.valid)
        t = self.grid.transform
        x0, y0 = t * (cols.astype(float), rows.astype(float))  # type: ignore[operator]  # Affine maps arrays
        x1, y1 = t * (cols + 1.0, rows + 1.0)  # type: ignore[operator]
        px, py = np.stack([x0, x1, x1, x0], 1), np.stack([y0, y0, y1, y1], 1)
        if self.grid.crs is not None and self.grid.crs.to_epsg() != 4326:
            px, py = Transformer.from_crs(self.grid.crs, "EPSG:4326", always_xy=True).transform(px, py)
        crs = f"EPSG:{self.grid.crs.to_epsg()}" if self.grid.crs is not None and self.grid.crs.to_epsg() else ""
        n = len(rows)
        table = gpd.GeoDataFrame({
            "chip_id": [f"{self.path.stem}/r{r}c{c}" for r, c in zip(rows, cols, strict=True)],
            "scene_id": [self.path.stem] * n, "crs": [crs] * n, "col": cols.astype(np.int32),
            "row": rows.astype(np.int32), "width": np.ones(n, np.int32), "height": np.ones(n, np.int32),
            "time": [None] * n, "model": [model] * n, "weights_sha256": [weights_sha256] * n,
        }, geometry=shapely.polygons(np.stack([px, py], -1)) if n else [], crs="EPSG:4326")
        meta = {"version": 1, "model": model, "weights_sha256": weights_sha256, "dim": int(self.values.shape[0]),
                "dtype": "float32", "bands": list(self.band_names), "chip_size": 1, "stride": 1}
        return EmbeddingStore(self.values[:, rows, cols].T.copy(), table, meta, self.path)


@typed_reader("an int8 embedding-field COG")
def read_field(path: str | os.PathLike[str], *, dequantize: str | None = None,
               window: tuple[int, int, int, int] | None = None) -> EmbeddingField:
    """Read an int8 embedding-field COG north-up, de-quantised to float32 (NaN where nodata).

    ``dequantize``: 'alphaearth' (``sign(v) * (|v|/127.5)**2``) or 'unit' (``v / 127``, eokit's
    fields); None picks 'unit' for files eokit wrote (their ``eokit_embedding`` tag) and
    'alphaearth' otherwise. A bottom-up file (positive y pixel size) is flipped. ``window``:
    (col, row, width, height) in north-up pixel coordinates.
    """
    import rasterio
    from rasterio.transform import Affine
    from rasterio.windows import Window

    p = Path(path)
    if not p.is_file():
        raise EmbeddingError(f"no embedding field at {str(p)!r}")
    try:
        ds = rasterio.open(p)
    except Exception as exc:  # rasterio's RasterioIOError for unreadable files
        raise EmbeddingError(f"cannot open {str(p)!r} as a raster ({exc})") from exc
    with ds:
        if ds.dtypes[0] != "int8":
            raise EmbeddingError(f"{str(p)!r} holds {ds.dtypes[0]}, not int8; an embedding field COG is int8 with "
                                 "nodata -128 (AlphaEarth convention)")
        mode = dequantize or ("unit" if "eokit_embedding" in ds.tags() else "alphaearth")
        if mode not in DEQUANTIZE:
            raise EmbeddingError(f"unknown de-quantisation {mode!r}; choose one of {list(DEQUANTIZE)}")
        t = ds.transform
        bottom_up = t.e > 0
        h, w = ds.height, ds.width
        if window is None:
            col, row, ww, wh = 0, 0, w, h
        else:
            col, row, ww, wh = (int(v) for v in window)
            if col < 0 or row < 0 or ww <= 0 or wh <= 0 or col + ww > w or row + wh > h:
                raise EmbeddingError(f"window {window} lies outside the {w}x{h} field {str(p)!r}")
        file_row = h - row - wh if bottom_up else row
        try:
            codes = ds.read(window=Window(col, file_row, ww, wh))
        except Exception as exc:  # RasterioIOError / CPLE errors of a truncated or corrupt file
            raise EmbeddingError(f"cannot read the pixels of {str(p)!r} ({exc}); is the file complete?") from exc
        names = tuple(d or f"A{k:02d}" for k, d in enumerate(ds.descriptions))
        crs = ds.crs
    if bottom_up:
        codes = codes[:, ::-1, :]
        top = t.f + t.e * h  # the file's origin is its bottom edge
        north_up = Affine(t.a, t.b, t.c, t.d, -t.e, top)
    else:
        north_up = t
    grid_t = north_up * Affine.translation(col, row)
    values = dequantize_alphaearth(codes) if mode == "alphaearth" else dequantize_unit(codes)
    return EmbeddingField(values, GridSpec(crs, grid_t, wh, ww), names, p, bottom_up)


# -- GeoParquet products ------------------------------------------------------------------------
def _read_arrow(path: str | os.PathLike[str], what: str) -> Any:
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise EmbeddingError(f"no {what} file at {str(p)!r}")
    try:
        return pq.read_table(p)
    except Exception as exc:  # ArrowInvalid / OSError for corrupt files
        raise EmbeddingError(f"cannot read {str(p)!r} as Parquet ({exc}); is it a {what} file?") from exc


def _vectors(arrow: Any, column: str, where: str) -> np.ndarray:
    from eokit.embed.store import _vectors_from

    if column not in arrow.column_names:
        raise EmbeddingError(f"{where} has no {column!r} column; its columns are {arrow.column_names}")
    return _vectors_from(arrow.column(column), None, where)


def _geo_crs(arrow: Any) -> Any:
    """The CRS of the primary geometry column from GeoParquet ``geo`` metadata (None: OGC:CRS84)."""
    import json

    raw = (arrow.schema.metadata or {}).get(b"geo")
    if not raw:
        return None
    geo = json.loads(raw)
    col = geo.get("columns", {}).get(geo.get("primary_column", "geometry"), {})
    return col.get("crs")


def _store(table: Any, vectors: np.ndarray, model: str, path: Path, extra_meta: dict[str, Any]) -> EmbeddingStore:
    meta = {"version": 1, "model": model, "weights_sha256": "", "dim": int(vectors.shape[1]), "dtype": "float32",
            "bands": [], "chip_size": None, "stride": None, **extra_meta}
    return EmbeddingStore(vectors.astype(np.float32), table.reset_index(drop=True), meta, path)


@typed_reader("a Major TOM embedding file")
def read_majortom(path: str | os.PathLike[str], model: str | None = None) -> EmbeddingStore:
    """Read a Major TOM embedding expansion (e.g. Core-S2L1C-SSL4EO) Parquet file as a store.

    Footprints come from ``geometry`` (WKB, WGS84), else ``utm_footprint`` in ``utm_crs``, else the
    point ``centre_lon``/``centre_lat``; ``model`` defaults to the file's parent folder name.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    p = Path(path)
    where = repr(str(p))
    arrow = _read_arrow(p, "Major TOM embedding")
    vectors = _vectors(arrow, "embedding", where)
    df = arrow.drop([c for c in ("embedding",) if c in arrow.column_names]).to_pandas()
    n = len(df)
    geoms = None
    if "geometry" in df.columns:
        try:
            geoms = shapely.from_wkb(np.asarray(df.pop("geometry").tolist(), dtype=object))
        except Exception:  # not WKB (e.g. WKT text): fall back to the UTM footprint or the centre
            geoms = None
    if geoms is None and {"utm_footprint", "utm_crs"} <= set(df.columns):
        from pyproj import Transformer

        utm = shapely.from_wkt(df["utm_footprint"].to_numpy())
        geoms = np.array([shapely.transform(g, Transformer.from_crs(c, "EPSG:4326", always_xy=True).transform,
                                            interleaved=False)
                          for g, c in zip(utm, df["utm_crs"], strict=True)], dtype=object)
    if geoms is None and {"centre_lat", "centre_lon"} <= set(df.columns):
        geoms = shapely.points(df["centre_lon"].to_numpy(float), df["centre_lat"].to_numpy(float))
    if geoms is None:
        raise EmbeddingError(f"{where} has no geometry, utm_footprint/utm_crs or centre_lat/centre_lon columns; "
                             "is it a Major TOM embedding file?")
    bbox = np.asarray(df["pixel_bbox"].tolist(), dtype=np.int64).reshape(n, 4) if "pixel_bbox" in df.columns \
        else np.zeros((n, 4), np.int64)
    times = pd.to_datetime(df["timestamp"].astype(str), format="%Y%m%dT%H%M%S", utc=True, errors="coerce") \
        if "timestamp" in df.columns else pd.Series([pd.NaT] * n)
    uid = df["unique_id"].astype(str) if "unique_id" in df.columns else pd.Series(
        [f"{g}/{i}" for i, g in enumerate(df.get("grid_cell", pd.Series([""] * n)))])
    name = model or p.parent.name
    table = gpd.GeoDataFrame({
        "chip_id": uid.to_numpy(), "scene_id": df.get("product_id", pd.Series([""] * n)).astype(str).to_numpy(),
        "crs": df.get("utm_crs", pd.Series([""] * n)).astype(str).to_numpy(),
        "col": bbox[:, 0].astype(np.int32), "row": bbox[:, 1].astype(np.int32),
        "width": (bbox[:, 2] - bbox[:, 0]).astype(np.int32), "height": (bbox[:, 3] - bbox[:, 1]).astype(np.int32),
        "time": times.to_numpy() if hasattr(times, "to_numpy") else times, "model": [name] * n,
        "weights_sha256": [""] * n,
        **{c: df[c].to_numpy() for c in ("grid_cell", "grid_row_u", "grid_col_r", "centre_lat", "centre_lon")
           if c in df.columns},
    }, geometry=list(geoms), crs="EPSG:4326")
    return _store(table, vectors, name, p, {"product": "majortom"})


@typed_reader("a Clay embeddings GeoParquet file")
def read_clay(path: str | os.PathLike[str], model: str = "clay") -> EmbeddingStore:
    """Read a Clay embeddings GeoParquet file (``embeddings``, ``geometry``, ``date``, ``source_url``) as a store."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    p = Path(path)
    where = repr(str(p))
    arrow = _read_arrow(p, "Clay embedding")
    column = "embeddings" if "embeddings" in arrow.column_names else "embedding"
    vectors = _vectors(arrow, column, where)
    if "geometry" not in arrow.column_names:
        raise EmbeddingError(f"{where} has no geometry column; a Clay embeddings GeoParquet file has one")
    crs = _geo_crs(arrow)
    df = arrow.drop([column, "geometry"]).to_pandas()
    try:
        geoms = shapely.from_wkb(np.asarray(arrow.column("geometry").to_pylist(), dtype=object))
    except Exception as exc:  # shapely.errors.GEOSException
        raise EmbeddingError(f"the geometry column of {where} is not WKB ({exc})") from exc
    frame = gpd.GeoDataFrame(df, geometry=list(geoms), crs=crs if crs is not None else "OGC:CRS84")
    frame = frame.to_crs("EPSG:4326")
    n = len(frame)
    src = frame["source_url"].astype(str) if "source_url" in frame.columns else pd.Series([p.stem] * n)
    times = pd.to_datetime(frame["date"], utc=True, errors="coerce") if "date" in frame.columns \
        else pd.Series([pd.NaT] * n)
    table = gpd.GeoDataFrame({
        "chip_id": [f"{Path(s).stem}/{i}" for i, s in enumerate(src)], "scene_id": src.to_numpy(),
        "crs": [""] * n, "col": np.zeros(n, np.int32), "row": np.zeros(n, np.int32),
        "width": np.zeros(n, np.int32), "height": np.zeros(n, np.int32), "time": times.to_numpy(),
        "model": [model] * n, "weights_sha256": [""] * n, "source_url": src.to_numpy(),
    }, geometry=frame.geometry.to_numpy(), crs="EPSG:4326")
    return _store(table, vectors, model, p, {"product": "clay"})
