"""Similarity search over an embedding store: queries, area/time filters, hits as GeoParquet, mosaics.

A query is a vector (``query_from_vector``), an example chip (``query_from_chip``) or a place
(``query_from_geometry``: the mean vector of the chips a point or polygon touches). ``search``
pre-filters rows to an area (bbox or polygon, EPSG:4326) and a time range, then searches with
the store's index (``open_index``: exact below ``EXACT_MAX_ROWS`` rows, FAISS above, kept next to
the store). ``write_hits`` writes the hit rows plus ``score`` and ``rank``; ``hits_mosaic`` tiles
a quicklook of each hit's window read from its scene.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eokit.embed.index import (
    EXACT_MAX_ROWS,
    IndexParams,
    VectorIndex,
    exact_search,
    read_index_file,
    resolve_method,
    unit_vectors,
)
from eokit.embed.store import EmbeddingStore, read_embeddings
from eokit.errors import EmbeddingError, EokitError, MissingDependencyError
from eokit.io.cog import atomic_path

log = logging.getLogger(__name__)

__all__ = [
    "EXACT_MAX_ROWS",
    "IndexParams",
    "Query",
    "VectorIndex",
    "exact_search",
    "filter_rows",
    "hits_mosaic",
    "index_path",
    "open_index",
    "query_from_chip",
    "query_from_geometry",
    "query_from_vector",
    "search",
    "write_hits",
]

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Query:
    """A unit query vector, what it came from, and the store rows it was made of (left out of hits)."""

    vector: np.ndarray
    source: str
    rows: tuple[int, ...] = ()


def _store(store: EmbeddingStore | str | os.PathLike[str]) -> EmbeddingStore:
    return store if isinstance(store, EmbeddingStore) else read_embeddings(store)


def _where(store: EmbeddingStore) -> str:
    return f"the store {str(store.path)!r}" if store.path else "the store"


def query_from_vector(store: EmbeddingStore, vector: np.ndarray, *, meta: Mapping[str, Any] | None = None,
                      source: str = "a vector") -> Query:
    """A query from a raw vector (D,); ``meta`` (model, weights_sha256, dim) is checked against the store."""
    v = np.asarray(vector, dtype=np.float32)
    if v.ndim == 2 and v.shape[0] == 1:
        v = v[0]
    if v.ndim != 1:
        raise EmbeddingError(f"{source} has shape {v.shape}; a query is one vector of {store.dim} values")
    if meta is not None:
        store.check_compatible(meta)
    if v.shape[0] != store.dim:
        raise EmbeddingError(f"{source} has {v.shape[0]} dimensions but {_where(store)} holds {store.dim}-d "
                             f"embeddings of {store.meta.get('model')!r}; embed the query with that model")
    if not np.isfinite(v).all() or not np.any(v):
        raise EmbeddingError(f"{source} is zero or not finite; it cannot rank by cosine similarity")
    return Query(unit_vectors(v[None])[0], source)


def query_from_chip(store: EmbeddingStore, chip_id: str, *, source_store: EmbeddingStore | None = None) -> Query:
    """The vector of chip ``chip_id`` of ``source_store`` (default: ``store``), to find chips like it."""
    src = source_store or store
    if source_store is not None:
        store.check_compatible(source_store)
    ids = src.table["chip_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == str(chip_id))
    if not len(hit):
        from eokit.errors import suggest

        raise EmbeddingError(f"no chip {chip_id!r} in {_where(src)} ({len(ids)} chips, e.g. {ids[:3].tolist()})."
                             f"{suggest(str(chip_id), ids[:10000].tolist())}")
    q = query_from_vector(store, src.vectors[hit[0]], source=f"chip {chip_id!r}")
    return Query(q.vector, q.source, tuple(int(i) for i in hit) if source_store is None else ())


def query_from_geometry(store: EmbeddingStore, geometry: Any) -> Query:
    """The mean unit vector of the chips a point or polygon (shapely, EPSG:4326) intersects."""
    rows = _intersecting(store, geometry)
    if not len(rows):
        minx, miny, maxx, maxy = store.table.total_bounds if len(store) else (np.nan,) * 4
        raise EmbeddingError(f"{geometry.geom_type} {geometry.wkt[:80]} touches no chip of {_where(store)} "
                             f"(its chips cover lon {minx:.4f}..{maxx:.4f}, lat {miny:.4f}..{maxy:.4f}); "
                             "give a place inside the store, as lon,lat in EPSG:4326")
    mean = unit_vectors(store.vectors[rows]).mean(axis=0)
    q = query_from_vector(store, mean, source=f"the {len(rows)} chip(s) at {geometry.geom_type}")
    return Query(q.vector, q.source, tuple(int(i) for i in rows))


def _intersecting(store: EmbeddingStore, geometry: Any) -> np.ndarray:
    """Row positions whose footprints share area with ``geometry`` (any point of it, for points).

    Chips that only touch a polygon's edge are left out (a grid neighbour is not "inside").
    """
    if len(store) == 0:
        return np.zeros(0, np.int64)
    rows = np.sort(np.asarray(store.table.sindex.query(geometry, predicate="intersects"), dtype=np.int64))
    if geometry.geom_type in ("Point", "MultiPoint") or not len(rows):
        return rows
    import shapely

    return rows[~shapely.touches(store.table.geometry.values[rows], geometry)]


def _timestamp(value: str | dt.date | dt.datetime | None, *, end: bool) -> Any:
    import pandas as pd

    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise EmbeddingError(f"time {value!r} is not a date or time; give ISO 8601, e.g. 2021-06-30") from exc
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    date_only = (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or \
        (isinstance(value, str) and len(value.strip()) <= 10)
    if end and date_only:  # an end date includes its whole day
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def filter_rows(store: EmbeddingStore, *, area: Any = None, start: Any = None, end: Any = None) -> np.ndarray | None:
    """Row positions inside ``area`` (bbox tuple or shapely geometry, EPSG:4326) and ``start``..``end``.

    Times are inclusive (a date-only ``end`` includes that day; naive times are UTC); rows
    without a time are left out when a range is given. None when nothing filters.
    """
    import shapely

    if area is None and start is None and end is None:
        return None
    keep = np.ones(len(store), bool)
    if area is not None:
        geom = shapely.box(*area) if isinstance(area, tuple | list) else area
        if not geom.is_valid or geom.is_empty:
            raise EmbeddingError(f"the search area {geom.wkt[:80]} is empty or invalid; give W,S,E,N or a polygon "
                                 "in EPSG:4326")
        inside = np.zeros(len(store), bool)
        inside[_intersecting(store, geom)] = True
        keep &= inside
    t0, t1 = _timestamp(start, end=False), _timestamp(end, end=True)
    if t0 is not None and t1 is not None and t0 > t1:
        raise EmbeddingError(f"the time range starts ({start}) after it ends ({end}); swap them")
    if t0 is not None or t1 is not None:
        times = store.table["time"] if "time" in store.table.columns else None
        if times is None:
            raise EmbeddingError(f"{_where(store)} has no 'time' column; drop the time range")
        has = times.notna().to_numpy()
        keep &= has
        if t0 is not None:
            keep &= (times >= t0).fillna(False).to_numpy(bool)
        if t1 is not None:
            keep &= (times <= t1).fillna(False).to_numpy(bool)
    return np.flatnonzero(keep)


def index_path(store_path: str | os.PathLike[str]) -> Path:
    """Where the search index of a store lives: ``STORE.index.npz`` beside it."""
    p = Path(store_path)
    return p.with_name(p.name + ".index.npz")


def open_index(store: EmbeddingStore, method: str = "auto", params: IndexParams | None = None, *,
               rebuild: bool = False, save: bool = True) -> VectorIndex:
    """The store's index: loaded from ``index_path`` when it matches the rows and method, else built.

    An approximate index built here is saved beside the store (atomically) unless ``save=False``;
    exact search needs no file. A stale file (other rows) is rebuilt.
    """
    chosen = resolve_method(method, len(store))
    if chosen == "exact":
        return VectorIndex.build(store.vectors, "exact")
    path = index_path(store.path) if store.path else None
    if path is not None and path.is_file() and not rebuild:
        meta, _ = read_index_file(path)
        if meta.get("method") == chosen and (params is None or meta.get("params") == _asdict(params)):
            try:
                return VectorIndex.load(path, store.vectors)
            except MissingDependencyError:
                if method != "auto":
                    raise
            except EmbeddingError as exc:
                log.warning("rebuilding the search index: %s", exc)
    index = VectorIndex.build(store.vectors, method if method == "auto" else chosen, params)
    if path is not None and save and index.ann is not None:
        index.save(path, {"model": store.meta.get("model"), "weights_sha256": store.meta.get("weights_sha256")})
        log.info("saved the %s index of %d rows to %s (%.1f s)", chosen, len(store), path, index.build_s)
    return index


def _asdict(params: IndexParams) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(params)


def search(store: EmbeddingStore | str | os.PathLike[str], query: Query | np.ndarray, k: int = 10, *,
           area: Any = None, start: Any = None, end: Any = None, method: str = "auto",
           index: VectorIndex | None = None, keep_query: bool = False) -> Any:
    """The ``k`` chips most similar to ``query`` within ``area`` and ``start``..``end``, best first.

    Returns a GeoDataFrame of the hit rows (the store's columns and an ``embedding`` column of
    unit vectors) with ``score`` (cosine similarity) and ``rank`` (1 = best). The chips the query
    was made of are left out unless ``keep_query``. ``index``: a prepared ``open_index(store)``.
    """
    import geopandas as gpd

    st = _store(store)
    q = query if isinstance(query, Query) else query_from_vector(st, query)
    if q.vector.shape[0] != st.dim:
        raise EmbeddingError(f"{q.source} has {q.vector.shape[0]} dimensions but {_where(st)} {st.dim}")
    rows = filter_rows(st, area=area, start=start, end=end)
    drop = () if keep_query else q.rows
    if drop:
        allowed = np.ones(len(st), bool) if rows is None else np.zeros(len(st), bool)
        if rows is not None:
            allowed[rows] = True
        allowed[list(drop)] = False
        rows = np.flatnonzero(allowed)
    if rows is not None and not len(rows):
        raise EmbeddingError(f"no chip of {_where(st)} is inside the area and time range asked for "
                             f"(area={_describe(area)}, start={start}, end={end}); widen them")
    idx = index if index is not None else open_index(st, method)
    scores, ids = idx.search(q.vector[None], k, rows=rows, normalized=True)
    ok = ids[0] >= 0
    hit_ids, hit_scores = ids[0][ok], scores[0][ok]
    table = st.table.iloc[hit_ids].reset_index(drop=True)
    out = gpd.GeoDataFrame(table, geometry=table.geometry.name, crs=st.table.crs)
    out["score"] = hit_scores.astype(np.float32)
    out["rank"] = np.arange(1, len(hit_ids) + 1, dtype=np.int32)
    out["embedding"] = list(unit_vectors(st.vectors[hit_ids]))
    out.attrs["eokit:embedding"] = dict(st.meta)
    out.attrs["eokit:query"] = q.source
    return out


def _describe(area: Any) -> str:
    return "none" if area is None else str(tuple(area)) if isinstance(area, tuple | list) else area.wkt[:60]


def write_hits(path: str | os.PathLike[str], hits: Any, meta: Mapping[str, Any] | None = None) -> Path:
    """Write search hits as a GeoParquet embedding store (rows + ``score`` + ``rank``), atomically.

    The file is an eokit store (``read_embeddings`` reads it, so a hit can be the next query).
    """
    from eokit.embed.store import write_embeddings

    store_meta = dict(meta if meta is not None else hits.attrs.get("eokit:embedding", {}))
    if "embedding" not in hits.columns:
        raise EmbeddingError(f"the hits for {str(path)!r} have no 'embedding' column; pass search()'s result")
    vectors = (np.stack([np.asarray(v, np.float32) for v in hits["embedding"]]) if len(hits)
               else np.zeros((0, int(store_meta.get("dim", 0))), np.float32))
    store_meta["dim"] = int(vectors.shape[1])
    store_meta.pop("dtype", None)  # hits are written as float32 unit vectors
    return write_embeddings(path, (hits.drop(columns=["embedding"]), vectors), store_meta)


def _scene_table(scenes: Mapping[str, Any] | Sequence[Any] | None) -> dict[str, Any]:
    """scene_id -> scene: a mapping as given, or scenes keyed by ``eokit.infer.source.scene_name``
    (the id ``embed_scene`` writes)."""
    from eokit.infer.source import scene_name

    if scenes is None:
        return {}
    if isinstance(scenes, Mapping):
        return {str(k): v for k, v in scenes.items()}
    return {scene_name(s): s for s in scenes}


def _scene_source(scene_id: str, base: Path | None, table: Mapping[str, Any], sensor: str | None) -> Any:
    """The open scene of ``scene_id``: from ``table``, else ``scene_id`` as a path (absolute or
    relative to the store's folder); None when there is nothing to open."""
    from eokit.infer.source import open_scene

    scene = table.get(scene_id)
    if scene is None:
        cand = Path(scene_id)
        if not cand.is_absolute() and base is not None and not cand.exists():
            cand = base / cand
        if not cand.is_file():
            return None
        scene = str(cand)
    return open_scene(scene, sensor=sensor)


def _rgb_bands(src: Any) -> list[str]:
    """red, green, blue when the source resolves them, else its first three bands (or one, as grey)."""
    from eokit.errors import BandError
    from eokit.sensors import match_bands

    names = list(src.bands)
    try:
        pos = match_bands(["red", "green", "blue"], names, getattr(src, "sensor", None),
                          wavelengths=getattr(src, "wavelengths", None), where="the mosaic scene",
                          what="RGB band")
        return [names[i] for i in pos]
    except (BandError, TypeError):
        return names[:3] if len(names) >= 3 else names[:1] * 3


def hits_mosaic(hits: Any, path: str | os.PathLike[str], *, scenes: Mapping[str, Any] | Sequence[Any] | None = None,
                store_path: str | os.PathLike[str] | None = None, sensor: str | None = None, tile: int = 128,
                columns: int = 5, gap: int = 4) -> tuple[Path, list[str]]:
    """A PNG of the hits in rank order: each hit's window read from its scene, stretched, tiled.

    ``scenes``: the scenes the store was embedded from (anything ``eokit.infer.open_scene``
    opens), keyed by their scene name as ``embed_scene`` records it, or a mapping scene_id ->
    scene; a ``scene_id`` that is itself a path (relative to ``store_path``'s folder) also works.
    ``sensor`` names the bands (so red/green/blue resolve). Unreadable hits become grey tiles;
    returns the path and the scene ids that could not be read. Raises :class:`EmbeddingError`
    when no hit is readable.
    """
    from PIL import Image

    from eokit.viz import stretch

    if not len(hits):
        raise EmbeddingError(f"no hits to draw in {str(path)!r}")
    base = Path(store_path).parent if store_path else None
    table = _scene_table(scenes)
    missing: list[str] = []
    tiles = []
    for _, hit in hits.sort_values("rank").iterrows():
        img = np.full((3, tile, tile), 128, np.uint8)
        try:
            src = _scene_source(str(hit["scene_id"]), base, table, sensor)
            if src is None:
                raise EmbeddingError(f"scene {hit['scene_id']!r} is neither among the scenes given nor a file")
            window = (int(hit["col"]), int(hit["row"]), int(hit["width"]), int(hit["height"]))
            chip = src.read(window, bands=_rgb_bands(src), boundless=True)
            rgb = stretch(chip.array, chip.valid)
            img = np.asarray(Image.fromarray(rgb.transpose(1, 2, 0)).resize((tile, tile), Image.Resampling.NEAREST)
                             ).transpose(2, 0, 1)
        except (EokitError, OSError) as exc:
            log.warning("mosaic: hit %s (%s) drawn grey: %s", hit["rank"], hit["chip_id"], exc)
            missing.append(str(hit["scene_id"]))
        tiles.append(img)
    if len(missing) == len(tiles):
        raise EmbeddingError(f"none of the hits' scenes could be read ({sorted(set(missing))[:5]}); pass the "
                             "scenes the store was embedded from (scenes=[...], --scene FILE) to draw a mosaic")
    ncol = min(columns, len(tiles))
    nrow = -(-len(tiles) // ncol)
    canvas = np.full((nrow * tile + (nrow - 1) * gap, ncol * tile + (ncol - 1) * gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, ncol)
        canvas[r * (tile + gap):r * (tile + gap) + tile, c * (tile + gap):c * (tile + gap) + tile] = t.transpose(1, 2, 0)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")
    return Path(path), missing
