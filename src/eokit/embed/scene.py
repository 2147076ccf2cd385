"""Embed scenes on a chip grid: pooled backbone vectors per chip, into a store and an embedding-field COG.

A scene is read one *chip row* (a band ``chip`` px tall) at a time, in groups of chips bounded
by ``read_budget_mb`` (``TilePlan.tiles_per_group``, as ``eokit.infer.predict`` reads), on a
background thread when the model runs on a GPU (``eokit.infer.prefetch``). Chips are batched
through the model; each finished chip row is written to the field COG at once. Memory is bounded
by the batch and one chip row of input; the output vectors (N x D float32) are kept for the store.

The chip grid starts at the scene's top-left pixel: chip (i, j) covers rows ``i*stride`` to
``i*stride + chip`` and columns ``j*stride`` to ``j*stride + chip`` (edge chips are read past the
scene edge as nodata). A chip with less than ``min_valid`` valid pixels gets no embedding. The
field COG has one pixel per chip, centred on the chip's centre, ``stride`` scene pixels wide.
"""

from __future__ import annotations

import contextlib
import math
import os
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasterio.windows import Window

from eokit.embed.model import Embedder, as_embedder
from eokit.embed.store import EmbeddingStore, unit_int8, write_embeddings
from eokit.env import gdal_env, local_cluster
from eokit.errors import BandError, ConfigError, EmbeddingError, NoOverlapError
from eokit.infer.options import RunOptions, SceneOptions
from eokit.infer.plan import DEFAULT_GDAL_CACHE_MB, TilePlan, gdal_cache_mb
from eokit.infer.prefetch import Prefetcher
from eokit.infer.source import Scene, scene_name
from eokit.io import CogWriter, GridSpec
from eokit.models.engine import EngineOptions

FIELD_NODATA = -128
Progress = Callable[[int], None]


@dataclass(frozen=True)
class EmbedOptions:
    """Chip grid (``chip``, ``stride`` px), area (``bbox`` lon/lat), validity, store dtype, scene and run options."""

    chip: int = 64
    stride: int | None = None  # None: = chip (no overlap)
    bbox: tuple[float, float, float, float] | None = None  # (west, south, east, north) in EPSG:4326
    min_valid: float = 0.5
    dtype: str = "float32"
    scene: SceneOptions = field(default_factory=SceneOptions)
    run: RunOptions = field(default_factory=lambda: RunOptions(batch_size=32))

    def __post_init__(self) -> None:
        for name in ("chip", "stride"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise ConfigError(f"{name} must be a positive whole number of pixels, got {v!r}")
        if self.stride is None:
            object.__setattr__(self, "stride", self.chip)
        if not 0.0 <= float(self.min_valid) <= 1.0:
            raise ConfigError(f"min_valid {self.min_valid!r} must be a fraction in [0, 1] (e.g. 0.5)")
        if self.dtype not in ("float32", "int8"):
            raise ConfigError(f"store dtype {self.dtype!r}: choose 'float32' or 'int8'")
        if self.bbox is not None:
            b = tuple(float(v) for v in self.bbox)
            if len(b) != 4 or not (b[0] < b[2] and b[1] < b[3]) or not (b[0] >= -180 and b[2] <= 180
                                                                          and b[1] >= -90 and b[3] <= 90):
                raise ConfigError(f"bbox {self.bbox!r} must be west,south,east,north in degrees (EPSG:4326) with "
                                  "west < east and south < north")
            object.__setattr__(self, "bbox", b)


@dataclass(frozen=True)
class ChipGrid:
    """The chips of a scene (or of its part inside a bbox): chip rows ``i0..i0+rows``, columns ``j0..j0+cols``."""

    chip: int
    stride: int
    height: int  # the scene's size in pixels
    width: int
    i0: int
    j0: int
    rows: int
    cols: int

    @staticmethod
    def _count(size: int, chip: int, stride: int) -> int:
        return math.ceil(max(size - chip, 0) / stride) + 1

    @classmethod
    def build(cls, height: int, width: int, chip: int, stride: int, window: Window | None = None) -> ChipGrid:
        """Every chip of the scene, or those that intersect ``window`` (pixel window on the scene grid)."""
        n_r, n_c = cls._count(height, chip, stride), cls._count(width, chip, stride)
        if window is None:
            return cls(chip, stride, height, width, 0, 0, n_r, n_c)

        def span(a: float, b: float, n: int) -> tuple[int, int]:
            lo = max(0, math.floor((a - chip) / stride) + 1)
            hi = min(n - 1, math.ceil(b / stride) - 1)
            return lo, hi

        r0, r1 = span(window.row_off, window.row_off + window.height, n_r)
        c0, c1 = span(window.col_off, window.col_off + window.width, n_c)
        return cls(chip, stride, height, width, r0, c0, max(0, r1 - r0 + 1), max(0, c1 - c0 + 1))

    @property
    def n_chips(self) -> int:
        return self.rows * self.cols

    def field_grid(self, grid: GridSpec) -> GridSpec:
        """The embedding field's grid: one pixel per chip, centred on the chip, ``stride`` scene pixels wide."""
        from rasterio.transform import Affine

        off = (self.chip - self.stride) / 2
        t = grid.transform * Affine.translation(off, off) * Affine.scale(self.stride) * Affine.translation(
            self.j0, self.i0)
        return GridSpec(grid.crs, t, self.rows, self.cols)


@dataclass
class EmbedResult:
    """What :func:`embed_scene` produced: the store in memory, the files written, counts and timing."""

    store: EmbeddingStore
    grid: ChipGrid
    path: Path | None
    field: Path | None
    skipped: int
    seconds: float

    @property
    def chips_per_s(self) -> float:
        return len(self.store) / max(self.seconds, 1e-9)


def _open(scene: Scene, emb: Embedder, o: EmbedOptions) -> tuple[Any, list[str], str]:
    """Open the scene with the model's bands (resolved like ``predict_scene``); errors name the scene."""
    sc = o.scene.with_sensor(emb.contract.sensor)
    name = scene_name(scene)
    try:
        src = sc.open(scene)
        names = src.require_bands(emb.bands, what=f"the model {emb.name}")
    except BandError as exc:
        raise BandError(f"scene {name!r} ({scene!s}) cannot feed {emb.name}: {exc.args[0] if exc.args else exc}") \
            from None
    return src, names, name


def _window_of(src: Any, bbox: tuple[float, float, float, float], name: str) -> Window:
    """The pixel window of a lon/lat bbox on the scene grid (NoOverlapError when they do not meet)."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import from_bounds

    grid = src.grid
    if grid.crs is None:
        raise ConfigError(f"scene {name!r} has no CRS, so bbox {bbox} cannot be placed on it; drop --bbox")
    native = transform_bounds("EPSG:4326", grid.crs, *bbox, densify_pts=21)
    win = from_bounds(*native, transform=grid.transform)
    r0, c0 = max(win.row_off, 0), max(win.col_off, 0)
    r1, c1 = min(win.row_off + win.height, grid.height), min(win.col_off + win.width, grid.width)
    if r1 <= r0 or c1 <= c0:
        lonlat = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21)
        raise NoOverlapError(
            f"scene {name!r} (lon/lat bounds {tuple(round(v, 4) for v in lonlat)}) does not overlap the requested "
            f"bbox {bbox}; choose a bbox inside the scene or another scene")
    return Window(c0, r0, c1 - c0, r1 - r0)


def _footprints(grid: GridSpec, cols: np.ndarray, rows: np.ndarray, widths: np.ndarray,
                heights: np.ndarray) -> Any:
    """Chip windows -> polygons in EPSG:4326 (corners transformed); None each for a scene without a CRS."""
    import shapely
    from pyproj import Transformer

    if grid.crs is None:  # no place on Earth: null geometry rather than pixel coordinates labelled as degrees
        return [None] * len(cols)

    t = grid.transform
    xs0, ys0 = t * (cols.astype(float), rows.astype(float))  # type: ignore[operator]  # Affine maps arrays
    xs1, ys1 = t * ((cols + widths).astype(float), (rows + heights).astype(float))  # type: ignore[operator]
    px = np.stack([xs0, xs1, xs1, xs0], axis=1)
    py = np.stack([ys0, ys0, ys1, ys1], axis=1)
    if grid.crs is not None and grid.crs.to_epsg() != 4326:
        tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
        px, py = tr.transform(px, py)
    coords = np.stack([px, py], axis=-1)  # (N, 4, 2)
    return shapely.polygons(coords)


def embed_scene(
    model: Any,
    scene: Scene,
    out: str | os.PathLike[str] | None = None,
    *,
    chip: int = 64,
    stride: int | None = None,
    field: str | os.PathLike[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    int8: bool = False,
    min_valid: float = 0.5,
    options: EmbedOptions | None = None,
    time: str | None = None,
    scene_id: str | None = None,
    progress: Progress | None = None,
    **model_kwargs: Any,
) -> EmbedResult:
    """Embed ``scene`` on a chip grid with ``model``; write the store ``out`` and/or the field COG ``field``.

    ``model``: a model name (``'resnet18'``; ``weights=``, ``bands=``, ``sensor=``, ``seed=`` go to
    :func:`eokit.embed.model.as_embedder`), an ``eokit train`` checkpoint, a Backbone, an EOModel or
    an :class:`Embedder`. ``scene``: anything ``eokit.infer.open_scene`` opens (a raster, band files,
    a glob, a STAC item). ``options`` (:class:`EmbedOptions`) replaces ``chip``/``stride``/``bbox``/
    ``int8``. Both outputs are written atomically; the store is returned in memory too.
    """
    o = options or EmbedOptions(chip=chip, stride=stride, bbox=bbox, min_valid=min_valid,
                                dtype="int8" if int8 else "float32")
    t0 = _time.perf_counter()
    emb = as_embedder(model, device=o.run.device, engine=o.run.engine_options, **model_kwargs)
    threads = str(max(1, torch.get_num_threads()))
    with contextlib.ExitStack() as scope:
        scope.enter_context(gdal_env(GDAL_CACHEMAX=o.run.gdal_cache_mb or DEFAULT_GDAL_CACHE_MB,
                                     GDAL_NUM_THREADS=threads))
        src, names, name = _open(scene, emb, o)
        if o.run.gdal_cache_mb is None:  # sized from the scene's blocks (eokit.infer.plan.gdal_cache_mb)
            scope.enter_context(gdal_env(GDAL_CACHEMAX=gdal_cache_mb(src), GDAL_NUM_THREADS=threads))
        sid = scene_id or getattr(src, "item_id", None) or name
        when = time or getattr(src, "datetime", None)
        grid = src.grid
        window = _window_of(src, o.bbox, name) if o.bbox else None
        assert o.stride is not None  # set in EmbedOptions.__post_init__
        cg = ChipGrid.build(grid.height, grid.width, o.chip, o.stride, window)
        dim = emb.dim(o.chip)
        stream = _ChipStream(emb, src, names, cg, o, progress)
        writer = None
        if field is not None:
            tags = {"eokit_embedding": "int8 unit vectors round(v/|v|*127), nodata -128", "model": emb.name,
                    "weights_sha256": emb.weights_sha256, "chip_size": str(o.chip), "stride": str(o.stride),
                    "scene_id": str(sid)}
            writer = CogWriter(field, cg.field_grid(grid), dim, "int8", nodata=FIELD_NODATA,
                               band_names=[f"A{k:02d}" for k in range(dim)], blocksize=256, tags=tags)
        if writer is not None:
            with writer:
                stream.run(writer)
        else:
            stream.run(None)
    if not stream.vectors:
        where = f" inside bbox {o.bbox}" if o.bbox else ""
        raise EmbeddingError(
            f"scene {name!r} gave no embeddings{where}: all {cg.n_chips} chips have less than "
            f"{o.min_valid:.0%} valid pixels; lower min_valid, pick another area or check the scene's nodata")
    ij = np.asarray(stream.index, dtype=np.int64).reshape(-1, 2)
    vectors = np.concatenate(stream.vectors).astype(np.float32)
    cols, rows = ij[:, 1] * o.stride, ij[:, 0] * o.stride
    widths = np.minimum(o.chip, grid.width - cols).astype(np.int32)
    heights = np.minimum(o.chip, grid.height - rows).astype(np.int32)
    import geopandas as gpd
    import pandas as pd

    from eokit.data.sample import crs_string

    when_ts = pd.Timestamp(when) if when else None
    if when_ts is not None and when_ts.tzinfo is None:
        when_ts = when_ts.tz_localize("UTC")
    table = gpd.GeoDataFrame({
        "chip_id": [f"{sid}/r{i}c{j}" for i, j in ij], "scene_id": [str(sid)] * len(ij),
        "crs": [crs_string(grid.crs) or ""] * len(ij), "col": cols.astype(np.int32), "row": rows.astype(np.int32),
        "width": widths, "height": heights, "time": [when_ts] * len(ij),
        "model": [emb.name] * len(ij), "weights_sha256": [emb.weights_sha256] * len(ij),
    }, geometry=_footprints(grid, cols, rows, widths, heights), crs="EPSG:4326")
    meta = {**emb.meta(), "version": 1, "dim": int(vectors.shape[1]), "dtype": o.dtype, "chip_size": o.chip,
            "stride": o.stride, "bands": list(names)}
    path = write_embeddings(out, (table, vectors), meta) if out is not None else None
    store = EmbeddingStore(vectors, table, meta, path)
    if o.dtype == "int8":  # the store in memory holds what a reader gets back
        from eokit.embed.store import quantize_int8

        codes, scale = quantize_int8(vectors)
        store.vectors = codes.astype(np.float32) * scale[:, None]
    return EmbedResult(store, cg, path, Path(field) if field is not None else None, stream.skipped,
                       _time.perf_counter() - t0)


class _ChipStream:
    """Read chip rows in groups, batch chips through the embedder, write finished field rows."""

    def __init__(self, emb: Embedder, src: Any, names: list[str], cg: ChipGrid, o: EmbedOptions,
                 progress: Progress | None) -> None:
        self.emb, self.src, self.names, self.cg, self.o = emb, src, names, cg, o
        self.progress = progress
        self.batch_size = o.run.batch_size
        plan = TilePlan(cg.height, cg.width, cg.chip, cg.stride, (0,),
                        tuple((cg.j0 + j) * cg.stride for j in range(cg.cols)))
        self.per_group = max(1, plan.tiles_per_group(len(names), o.run.read_budget_mb, self.batch_size))
        self.vectors: list[np.ndarray] = []
        self.index: list[tuple[int, int]] = []
        self.skipped = 0
        self._queue: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self._row_vectors: list[np.ndarray] = []  # the vectors of the chip row being read
        self._x = np.empty((self.batch_size, len(names), cg.chip, cg.chip), np.float32)
        self._v = np.empty((self.batch_size, cg.chip, cg.chip), bool)

    def _specs(self) -> list[tuple[int, int, int]]:
        cg = self.cg
        return [(cg.i0 + i, cg.j0 + j, min(cg.j0 + j + self.per_group, cg.j0 + cg.cols))
                for i in range(cg.rows) for j in range(0, cg.cols, self.per_group)]

    def _read(self, spec: tuple[int, int, int]) -> tuple[int, int, int, Any]:
        i, ja, jb = spec
        s, c = self.cg.stride, self.cg.chip
        x0, y0, x1 = ja * s, i * s, (jb - 1) * s + c
        boundless = y0 + c > self.cg.height or x1 > self.cg.width
        return i, ja, jb, self.src.read(Window(x0, y0, x1 - x0, c), bands=self.names, boundless=boundless, dtype=None)

    def run(self, writer: CogWriter | None) -> None:
        s, c = self.cg.stride, self.cg.chip
        need = self.o.min_valid * c * c
        row_start = 0
        current = None
        on_gpu = self.emb.device.type != "cpu"
        prefetch = on_gpu if self.o.run.prefetch is None else self.o.run.prefetch
        with Prefetcher(self._read, self._specs(), prefetch) as groups:
            for i, ja, jb, chip in groups:
                if current is not None and i != current:
                    self._flush()
                    self._write_row(writer, current, row_start)
                    row_start = len(self.index)
                current = i
                for j in range(ja, jb):
                    x = (j - ja) * s
                    valid = chip.valid[:, x:x + c]
                    if valid.sum() < need or not valid.any():
                        self.skipped += 1
                        continue
                    self._queue.append((i, j, chip.array[:, :, x:x + c], valid))
                    if len(self._queue) >= self.batch_size:
                        self._flush()
        self._flush()
        if current is not None:
            self._write_row(writer, current, row_start)

    def _flush(self) -> None:
        n = len(self._queue)
        if not n:
            return
        for b, (i, j, arr, valid) in enumerate(self._queue):
            np.copyto(self._x[b], arr, casting="unsafe")
            self._v[b] = valid
            self.index.append((i, j))
        y = self.emb(torch.from_numpy(self._x[:n]), torch.from_numpy(self._v[:n]))
        if not np.isfinite(y).all():
            raise EmbeddingError(f"{self.emb.name} gave non-finite embeddings for chips "
                                 f"{[q[:2] for q in self._queue][:4]}; check the model and the scene's values")
        self.vectors.append(y)
        self._row_vectors.append(y)
        self._queue.clear()
        if self.progress is not None:
            self.progress(n)

    def _write_row(self, writer: CogWriter | None, i: int, start: int) -> None:
        batches, self._row_vectors = self._row_vectors, []
        if writer is None:
            return
        cg = self.cg
        dim = writer.count
        row = np.full((dim, 1, cg.cols), FIELD_NODATA, np.int8)
        done = self.index[start:]
        if done:
            codes = unit_int8(np.concatenate(batches))
            js = np.array([j for _, j in done]) - cg.j0
            row[:, 0, js] = codes.T
        writer.write(row, Window(0, i - cg.i0, cg.cols, 1))


def concat_stores(stores: Sequence[EmbeddingStore]) -> EmbeddingStore:
    """One store from several with the same model, weights and dimension (rows in order)."""
    import geopandas as gpd
    import pandas as pd

    if not stores:
        raise EmbeddingError("no embedding stores to join")
    first = stores[0]
    for s in stores[1:]:
        first.check_compatible(s.meta)
    table = gpd.GeoDataFrame(pd.concat([s.table for s in stores], ignore_index=True), crs="EPSG:4326")
    return EmbeddingStore(np.concatenate([s.vectors for s in stores]), table, dict(first.meta))


# -- many scenes --------------------------------------------------------------------------------
_EMBEDDERS: dict[str, Embedder] = {}


def _embed_one(model: Any, model_kwargs: dict[str, Any], scene: Scene, field: str | None, options: EmbedOptions,
               threads: int) -> tuple[Any, np.ndarray, dict[str, Any], int]:
    """Runs on a worker: embed one scene (a model given by name or path built once per worker)."""
    if threads > 0:
        torch.set_num_threads(threads)
    if isinstance(model, str):
        key = repr((model, sorted(model_kwargs.items()), options.run.device, options.run.engine_options))
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = as_embedder(model, device=options.run.device, engine=options.run.engine_options,
                                          **model_kwargs)
        model = _EMBEDDERS[key]
    res = embed_scene(model, scene, None, field=field, options=options)
    return res.store.table, res.store.vectors, res.store.meta, res.skipped


def field_paths(scenes: Sequence[Scene], field: str | os.PathLike[str]) -> list[Path]:
    """One scene -> ``field`` itself; several -> ``field/<scene name>.tif`` (as ``eokit predict`` names outputs)."""
    from eokit.infer.distributed import output_paths

    return output_paths(list(scenes), field)


def embed_scenes(
    model: Any,
    scenes: Sequence[Scene],
    out: str | os.PathLike[str] | None,
    *,
    field: str | os.PathLike[str] | None = None,
    options: EmbedOptions | None = None,
    n_workers: int = 0,
    scheduler: str | None = None,
    threads_per_worker: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    **model_kwargs: Any,
) -> EmbeddingStore:
    """Embed every scene into one store ``out`` (and one field COG per scene); returns the store.

    ``n_workers=0`` (and no ``scheduler``) runs here, one scene after the other; otherwise one task
    per scene runs on Dask distributed (a LocalCluster on loopback, or ``scheduler``), as
    ``eokit.infer.predict_scenes`` does. A model given by name or checkpoint path is built on each
    worker (seeded, so every worker has the same weights: the store checks the weights hash).
    A failed scene raises after the others finished, and nothing is written.
    """
    o = options or EmbedOptions()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 0:
        raise ConfigError(f"n_workers {n_workers!r} must be a whole number >= 0 (0 runs in this process)")
    if not scenes:
        raise ConfigError("no scenes to embed: pass at least one raster, band-file glob or STAC item")
    fields: list[str | None] = ([str(p) for p in field_paths(scenes, field)] if field is not None
                                else [None] * len(scenes))
    parts: list[Any] = [None] * len(scenes)
    errors: list[tuple[Any, BaseException]] = []
    if not scheduler and n_workers == 0:
        emb = as_embedder(model, device=o.run.device, engine=o.run.engine_options, **model_kwargs)
        for k, (s, f) in enumerate(zip(scenes, fields, strict=True)):
            try:
                parts[k] = _embed_one(emb, {}, s, f, o, 0)
            except Exception as exc:  # collected: every scene gets its chance, as in predict_scenes
                errors.append((s, exc))
                continue
            if on_done is not None:
                on_done(k, len(parts[k][1]))
    else:
        from dask.distributed import Client, as_completed

        cluster = None if scheduler else local_cluster(
            n_workers, preload=("eokit.embed.scene", "eokit.infer.checkpoint", "eokit.models.zoo"))
        client = Client(scheduler) if scheduler else Client(cluster)
        try:
            shipped = str(model) if isinstance(model, (str, os.PathLike)) else client.scatter(model, broadcast=True)
            futures = [client.submit(_embed_one, shipped, model_kwargs, str(s) if isinstance(s, os.PathLike) else s,
                                     f, o, threads_per_worker, pure=False, key=f"embed-{k}")
                       for k, (s, f) in enumerate(zip(scenes, fields, strict=True))]
            index = {fut.key: k for k, fut in enumerate(futures)}
            for fut in as_completed(futures):
                k = index[fut.key]
                try:
                    parts[k] = fut.result()
                except Exception as exc:  # collected, raised once every scene has finished
                    errors.append((scenes[k], exc))
                    continue
                if on_done is not None:
                    on_done(k, len(parts[k][1]))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if errors:
        bad, first = errors[0]
        first.add_note(f"{len(errors)} of {len(scenes)} scenes failed; this error is from {bad!r}")
        raise first
    store = concat_stores([EmbeddingStore(v, t, m) for t, v, m, _ in parts])
    if out is not None:
        write_embeddings(out, store, {**store.meta, "dtype": o.dtype})
        store.path = Path(out)
    return store


# -- dataset splits --------------------------------------------------------------------------------
def embed_split(
    model: Any,
    dataset: Any,
    split: str = "test",
    out: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    batch_size: int = 32,
    int8: bool = False,
    device: str = "cpu",
    limit: int | None = None,
    engine: EngineOptions | None = None,
    **model_kwargs: Any,
) -> EmbeddingStore:
    """Embed every sample of a dataset split (one row per sample); ``dataset`` a name or an EODataset.

    Sample bands are matched to the model's with ``eokit.sensors.match_bands``; the footprint is the
    sample's ``bounds`` in EPSG:4326 where it carries ``crs`` and ``bounds`` (else no geometry).
    """
    import geopandas as gpd
    import pandas as pd

    from eokit.sensors import get_sensor, match_bands

    emb = as_embedder(model, device=device, engine=engine, **model_kwargs)
    if isinstance(dataset, str):
        from eokit.datasets import get_dataset

        kw: dict[str, Any] = {"split": split}
        if root is not None:
            kw["root"] = root
        ds = get_dataset(dataset, **kw)
    else:
        ds = dataset
    dname = getattr(getattr(ds, "spec", None), "name", None) or type(ds).__name__
    split = getattr(ds, "split", split)
    n = len(ds) if limit is None else min(limit, len(ds))
    rows: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    batch: list[torch.Tensor] = []
    index_cache: dict[tuple[str, ...], list[int]] = {}

    def flush() -> None:
        if batch:
            x = torch.stack(batch)
            vectors.append(emb(x, torch.ones(x.shape[0], *x.shape[-2:], dtype=torch.bool)))
            batch.clear()

    for k in range(n):
        sample = ds[k]
        image = sample["image"]
        if image.ndim != 3:
            raise EmbeddingError(f"{dname} {split!r} sample {k} has an image of shape {tuple(image.shape)}; "
                                 "embed_split takes single-date (C, H, W) samples")
        bands = tuple(sample.get("bands") or ())
        if bands not in index_cache:
            sensor = sample.get("sensor")
            try:
                index_cache[bands] = match_bands(list(emb.bands), list(bands), get_sensor(sensor) if sensor else None,
                                                 where=f"{dname} {split!r} samples", what=f"the model {emb.name}")
            except BandError as exc:
                raise BandError(f"dataset {dname!r} cannot feed {emb.name}: {exc.args[0]}") from None
        x = torch.as_tensor(image, dtype=torch.float32)[index_cache[bands]]
        if batch and (batch[0].shape != x.shape or len(batch) >= batch_size):
            flush()
        batch.append(x)
        geom = None
        if sample.get("crs") and sample.get("bounds"):
            import shapely
            from rasterio.warp import transform_bounds

            geom = shapely.box(*transform_bounds(sample["crs"], "EPSG:4326", *sample["bounds"], densify_pts=5))
        rows.append({"chip_id": f"{dname}/{split}/{sample.get('id') or k}", "scene_id": str(sample.get("path") or dname),
                     "crs": str(sample.get("crs") or ""), "col": 0, "row": 0, "width": int(x.shape[-1]),
                     "height": int(x.shape[-2]), "time": pd.Timestamp(sample["time"], tz="UTC")
                     if sample.get("time") else None, "model": emb.name, "weights_sha256": emb.weights_sha256,
                     "label": _label(sample), "geometry": geom})
    flush()
    if not rows:
        raise EmbeddingError(f"{dname} split {split!r} has no samples to embed")
    table = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    vec = np.concatenate(vectors)
    meta = {**emb.meta(), "dim": int(vec.shape[1]), "dtype": "int8" if int8 else "float32", "chip_size": None,
            "stride": None, "dataset": dname, "split": split}
    path = write_embeddings(out, (table, vec), meta) if out is not None else None
    return EmbeddingStore(vec, table, {**meta, "version": 1}, path)


def _label(sample: dict[str, Any]) -> Any:
    """A sample's class label as an int (None when it has no scalar label)."""
    lab = sample.get("label")
    if lab is None:
        return None
    t = torch.as_tensor(lab)
    return int(t.item()) if t.numel() == 1 else None
