"""Stream a whole scene through a model into a Cloud-Optimized GeoTIFF.

The scene is processed one *tile row* (a horizontal band of overlapping crops)
at a time, and within a row in groups of tiles read with one windowed read
each (the whole row when it fits ``read_budget_mb``). Crops are batched
across groups, their outputs weighted by a blending window and added into a
per-group accumulator. A group is finished when its tiles are done: the rows
no later tile touches are divided by the summed weights, encoded and written;
the rows the next tile row overlaps are carried over (only ``overlap`` rows,
full width), and the columns the next group overlaps are handed to it. Peak
memory is bounded by the batch, one or two groups and the carried overlap,
never by the scene's height.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import rasterio.env
import torch
from rasterio.windows import Window

from eokit.env import gdal_env
from eokit.errors import ConfigError, TimeSeriesError
from eokit.infer.blend import BlendWindows
from eokit.infer.ensemble import Predictor
from eokit.infer.options import PredictOptions
from eokit.infer.output import OutputSpec, output_spec
from eokit.infer.plan import DEFAULT_GDAL_CACHE_MB, TilePlan, gdal_cache_mb
from eokit.infer.prefetch import Prefetcher
from eokit.infer.series import SeriesSource
from eokit.infer.source import Scene
from eokit.io import CogWriter, GridSpec
from eokit.io.raster import own_handles
from eokit.models.contract import DataContract
from eokit.models.engine import EngineOptions, GuardReport

Progress = Callable[[int], None]
_T = TypeVar("_T")
CPU_FORWARD_BATCH = 2  # measured (benchmarks/scene_inference.py): 2 tiles/pass beat 16 by ~1.5x on CPU
ORT_CPU_DEPTH = 2  # ONNX Runtime on the CPU: passes in flight (4096^2 int8 scene: 6.7 s against 7.2 with one)


@dataclass
class PredictResult:
    """What ``predict_scene`` wrote and how long it took."""

    path: Path
    plan: TilePlan
    output: OutputSpec
    tiles: int
    skipped: int
    seconds: float
    grid: GridSpec
    bands: list[str] = field(default_factory=list)
    engine: GuardReport | None = None  # engine, precision, agreement with fp32 (None: torch fp32)

    @property
    def mpix_per_s(self) -> float:
        return self.grid.height * self.grid.width / 1e6 / max(self.seconds, 1e-9)

    @property
    def tiles_per_s(self) -> float:
        return self.tiles / max(self.seconds, 1e-9)


@dataclass
class _Group:
    """Consecutive tiles of one tile row, read with one windowed read."""

    row: int  # tile-row index
    j0: int
    j1: int  # inclusive tile-column indexes
    x0: int
    x1: int  # pixel columns [x0, x1) read (x1 may pass the scene edge)
    array: np.ndarray  # (C, crop, x1 - x0), the raster's own dtype (cast per batch)
    valid: np.ndarray  # (crop, x1 - x0) bool
    frames_valid: np.ndarray | None = None  # (T, crop, x1 - x0) bool for a time series
    acc: np.ndarray | None = None  # (A, crop, x1 - x0) float32; allocated on first output
    pending: int = 0  # tiles queued but not yet run
    queued: bool = False  # every tile of the group has been queued (or skipped)


def as_predictor(
    model: Any, contract: DataContract | Sequence[DataContract] | None = None, *, tta: str | bool | None = None,
    device: str = "cpu", optimize: bool = True, engine: EngineOptions | None = None,
) -> Predictor:
    """A Predictor from a module, a list of modules, checkpoint path(s) or a Predictor."""
    if isinstance(model, Predictor):
        if engine is not None:
            model.engine_options = engine
        return model
    from eokit.infer.checkpoint import load_for_inference

    items = list(model) if isinstance(model, (list, tuple)) else [model]
    modules, contracts = [], []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            m, c = load_for_inference(item)
            modules.append(m)
            contracts.append(c)
        elif isinstance(item, torch.nn.Module):
            modules.append(item)
        else:
            raise ConfigError(f"cannot use {type(item).__name__} as a model: pass an nn.Module or a checkpoint path")
    if len(contracts) != len(modules):
        if contract is None:
            raise ConfigError("a plain nn.Module needs a DataContract (bands, mean/std, classes): pass contract=")
        contracts = list(contract) if not isinstance(contract, DataContract) else [contract] * len(modules)
    return Predictor(modules, contracts, tta=tta, device=device, optimize=optimize, engine=engine)


def plan_scene(scene: Scene, options: PredictOptions | None = None) -> TilePlan:
    """The tiling plan for ``scene`` (for dry runs): ``options.tile`` on the grid ``options.scene`` reads."""
    o = options or PredictOptions()
    src = scene if isinstance(scene, SeriesSource) else o.scene.open(scene)
    return TilePlan.build(src.grid.height, src.grid.width, o.tile.crop, o.tile.stride, o.tile.align)


def predict_scene(
    model: Any,
    scene: Scene,
    out: str | os.PathLike[str],
    options: PredictOptions | None = None,
    *,
    contract: DataContract | None = None,
    progress: Progress | None = None,
) -> PredictResult:
    """Map ``scene`` with ``model`` and write a COG at ``out`` (atomically).

    ``model``: an ``nn.Module`` (+ ``contract``), a list of them (an ensemble,
    averaged on probabilities, with an agreement band), a checkpoint path or
    a list of paths (or a ``Predictor``). ``scene`` may be a time series
    (``eokit.infer.open_series``): its (T, C, h, w) tiles go to a temporal model with
    the days of year as ``dates=``, and one map is written on the first date's grid.
    ``options`` (``PredictOptions``,
    e.g. ``PredictOptions.of(crop=128, stride=112)``) groups the rest:

    * ``tile``: ``crop``/``stride`` px, the blending ``window``; ``margin``: pixels at
      each tile side inside the scene that get no weight (default: a quarter of the
      overlap, at most 8), so zero-padding effects of a CNN never reach the map.
    * ``output``: ``kind`` 'classes' (uint8 class + confidence %), 'probabilities'
      (one band per class, scaled to ``prob_dtype``) or 'values' (float32,
      regressors). Input nodata is set to 0 after normalisation and written as
      ``nodata`` in the map.
    * ``scene``: ``sensor`` (default: the model's), ``band_names``, ``resampling`` and
      ``reference`` grid of the scene (see ``open_scene``).
    * ``run``: ``forward_batch`` splits each batch of ``batch_size`` tiles into
      forward passes of at most that many tiles (it bounds the model's activation
      memory; default 2 on CPU, where small passes keep activations in cache, the
      whole batch on a GPU). ``optimize`` folds batch norms into convolutions and uses
      channels-last (``eokit.infer.optimize``; checked against the unchanged model on a
      sample). ``prefetch`` reads the next group of tiles in a background thread; the
      default (None) does so only when the model runs on a GPU: on CPU the reader
      competes with torch's threads for the cores, and was measured slower.
    """
    o = options or PredictOptions()
    if not isinstance(o, PredictOptions):
        raise ConfigError(f"options must be a PredictOptions, got {type(o).__name__}; build one with "
                          "PredictOptions.of(crop=..., stride=...)")
    tile, run = o.tile, o.run
    t0 = time.perf_counter()
    pred = as_predictor(model, contract, tta=run.tta, device=run.device, optimize=run.optimize,
                        engine=run.engine_options)
    sc = o.scene.with_sensor(pred.contract.sensor)
    # GDAL decodes blocks with torch's thread count: reading runs between forward passes, so the
    # cores are free then (the handle cache keeps handles per thread setting, see eokit.io.raster)
    decode_threads = str(max(1, torch.get_num_threads()))
    with contextlib.ExitStack() as scope:
        scope.enter_context(gdal_env(GDAL_CACHEMAX=run.gdal_cache_mb or DEFAULT_GDAL_CACHE_MB,
                                     GDAL_NUM_THREADS=decode_threads))
        if isinstance(scene, SeriesSource):  # a time series: (T, C, h, w) tiles, one map
            src: Any = scene
            pred.dates = torch.from_numpy(scene.doy)
        else:
            src = sc.with_sensor(pred.contract.sensor).open(scene)
        if run.gdal_cache_mb is None:  # sized from the scene's blocks (eokit.infer.plan.gdal_cache_mb)
            scope.enter_context(gdal_env(GDAL_CACHEMAX=gdal_cache_mb(src), GDAL_NUM_THREADS=decode_threads))
        names = src.require_bands(pred.contract.bands, what="the model")
        frames = len(src) if isinstance(src, SeriesSource) else None
        grid = src.grid
        plan = TilePlan.build(grid.height, grid.width, tile.crop, tile.stride, tile.align)
        margin = tile.margin
        if margin is None:  # drop a few border pixels of each tile (CNN padding effects) where overlap allows
            margin = min(8, plan.min_overlap // 4)
        if margin and 2 * margin > plan.min_overlap and plan.n_tiles > 1:
            raise ConfigError(
                f"margin {margin} px needs an overlap of at least {2 * margin} px; this plan overlaps by "
                f"{plan.min_overlap} (crop {tile.crop}, stride {tile.stride}): lower margin or stride"
            )
        pred.prepare(len(names), tile.crop, frames)
        if frames:
            _check_series(pred, src, len(names), tile.crop)
        k = pred.infer_outputs(len(names), frames=frames)
        report = _use_engine(pred, src, names, plan, o, scene)
        extra = pred.extra_name() if pred.extra_channels else None
        spec = output_spec(o.output.kind, classifier=pred.contract.is_classifier,
                           names=pred.contract.output_names(k), extra=extra, prob_dtype=o.output.prob_dtype,
                           nodata=o.output.nodata)
        windows = BlendWindows(tile.crop, tile.window, margin=margin, floor=tile.floor,
                               ramp=max(plan.min_overlap, 1))
        tags = spec.tags(pred.contract.output_names(k))
        tags.update(report.tags() if report is not None else {"EOKIT_ENGINE": "torch", "EOKIT_PRECISION": "fp32"})
        engine = report.engine if report is not None else "torch"  # what runs (torch after a fall-back)
        resample = "nearest" if spec.kind == "classes" else "average"
        with CogWriter(out, grid, spec.count, spec.dtype, nodata=spec.nodata, band_names=list(spec.band_names),
                       overview_resampling=resample, tags=tags) as writer:
            stream = _Stream(pred, src, names, plan, windows, spec, writer, run.batch_size, run.read_budget_mb,
                             k + pred.extra_channels, progress, run.forward_batch,
                             pred.device.type != "cpu" if run.prefetch is None else run.prefetch,
                             overlap=pred.device.type != "cpu" or engine != "torch",
                             depth=_passes_in_flight(engine, pred.device))
            stream.run()
    return PredictResult(Path(out), plan, spec, stream.done, stream.skipped, time.perf_counter() - t0, grid, names,
                         report)


def _passes_in_flight(engine: str, device: torch.device) -> int:
    """Forward passes in flight: ``ORT_CPU_DEPTH`` for ONNX Runtime on a CPU with threads to share (its
    lanes), else one (a one-thread Dask worker keeps to its one core)."""
    cpu_lanes = engine == "onnxruntime" and device.type == "cpu" and torch.get_num_threads() > 1
    return ORT_CPU_DEPTH if cpu_lanes else 1


def sample_tiles(src: Any, names: list[str], plan: TilePlan, n: int, seed: int = 0,
                 skip: int = 0, threads: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """``n`` tiles of ``plan`` at seeded random places that hold data: raw (n, C, c, c) in the raster's
    dtype + validity (n, c, c).

    The first ``skip`` places of the seeded order are passed over (so calibration and guard tiles
    differ). Each window is moved (by less than a crop) to lie inside one of the raster's internal
    blocks where blocks are at least a crop wide: it then decodes one block per band, not up to four
    (13-band 4096^2 DEFLATE scene: 16 samples in 0.1 s instead of 0.39 s). ``threads`` threads read
    the windows (default: as many as torch may use; 16 windows of that scene, pixel-interleaved:
    0.26 s on 2 threads against 0.47 s on one); the tiles are the first ``n`` with data in the
    seeded order however many threads read them. A time series (read on one thread) gives
    (n, T, C, c, c) and (n, T, c, c). None when no tile holds data.
    """
    order = [int(t) for t in np.random.default_rng(seed).permutation(plan.n_tiles)[skip:]]
    c = plan.crop
    bh, bw = _block_shape(src)

    def read(t: int) -> tuple[np.ndarray, np.ndarray] | None:
        i, j = divmod(t, len(plan.cols))
        y0, x0 = _inside_block(plan.rows[i], c, bh, plan.height), _inside_block(plan.cols[j], c, bw, plan.width)
        boundless = y0 + c > plan.height or x0 + c > plan.width
        chip = src.read(Window(x0, y0, c, c), bands=names, boundless=boundless, dtype=None)
        if not chip.valid.any():
            return None
        fv = getattr(chip, "frames_valid", None)
        return np.asarray(chip.array), fv if fv is not None else chip.valid

    got: list[tuple[np.ndarray, np.ndarray]] = []
    pos, threads = 0, max(1, threads or torch.get_num_threads())
    if isinstance(src, SeriesSource):  # its dataset object holds per-read state: one thread
        threads = 1
    while len(got) < n and pos < len(order):  # read only as many places as tiles are still missing
        places = order[pos:pos + n - len(got)]
        pos += len(places)
        got += [tile for tile in _read_spread(read, places, threads) if tile is not None]
    if not got:
        return None
    return np.stack([x for x, _ in got]), np.stack([v for _, v in got]).astype(bool)


def _read_spread(read: Callable[[int], _T], items: list[int], threads: int) -> list[_T]:
    """``[read(i) for i in items]``, the items shared out over ``threads`` threads, this one included;
    the others read with raster handles of their own (``own_handles``) under this thread's GDAL options."""
    parts = [items[k::threads] for k in range(min(threads, len(items)))]
    if len(parts) < 2:
        return [read(i) for i in items]
    options = rasterio.env.getenv() if rasterio.env.hasenv() else {}

    def helper(part: list[int]) -> list[_T]:
        with rasterio.Env(**options), own_handles():
            return [read(i) for i in part]

    with ThreadPoolExecutor(len(parts) - 1, thread_name_prefix="eokit-sample") as pool:
        futures = [pool.submit(helper, part) for part in parts[1:]]
        results = [[read(i) for i in parts[0]], *(f.result() for f in futures)]
    out: list[_T] = [None] * len(items)  # type: ignore[list-item]
    for k, result in enumerate(results):
        out[k::len(parts)] = result
    return out


def _use_engine(pred: Predictor, src: Any, names: list[str], plan: TilePlan, o: PredictOptions,
                scene: Scene = None) -> GuardReport | None:
    """Build the requested engine (int8 calibrated on scene windows) and guard it against fp32 on other tiles
    (passing over the places that calibrated it when ``scene`` is one of the calibration scenes)."""
    run = o.run
    if pred.engine_options.is_default:
        return pred.use_engine((np.empty(0), np.empty(0)))  # None; back to fp32 if an engine ran before
    if pred.engine_options.engine == "onnxruntime" and not isinstance(src, SeriesSource):
        from eokit.models.engine import onnx_model

        for m in pred.models:  # export (or find) the fp32 graph before any tile is held in memory
            onnx_model(m, (len(names), plan.crop, plan.crop), "fp32")
    n_cal = run.calibration_tiles if pred.engine_options.precision == "int8" else 0
    per = max(1, -(-n_cal // len(run.calibration))) if run.calibration else 0  # windows per calibration scene
    if not run.calibration:
        skip = n_cal  # the first places of this scene's order calibrate
    else:  # a calibration scene gave its first `per` places
        skip = per if isinstance(scene, (str, os.PathLike)) and str(scene) in run.calibration else 0
    guard = sample_tiles(src, names, plan, run.guard_tiles, seed=0, skip=skip)
    if guard is None:  # too few tiles to hold both sets apart: check on any tiles with data
        guard = sample_tiles(src, names, plan, run.guard_tiles, seed=0)
    if guard is None:
        pred.reset_engine()
        return None  # no tile holds data: nothing will run
    calibration = None
    if n_cal and run.calibration:
        cal: list[tuple[np.ndarray, np.ndarray]] = []
        for path in run.calibration:
            cs = o.scene.with_sensor(pred.contract.sensor).open(path)
            cnames = cs.require_bands(pred.contract.bands, what="the model (calibration scene)")
            cplan = TilePlan.build(cs.grid.height, cs.grid.width, plan.crop, plan.stride, o.tile.align)
            got = sample_tiles(cs, cnames, cplan, per, seed=0)
            if got is None:
                raise ConfigError(f"calibration scene {path!r} holds no valid pixels; give scenes with data")
            cal.append(got)
        calibration = (np.concatenate([x.astype(np.float32) for x, _ in cal]), np.concatenate([v for _, v in cal]))
    elif n_cal:
        calibration = sample_tiles(src, names, plan, n_cal, seed=0)
    return pred.use_engine(guard, calibration)


def _check_series(pred: Predictor, series: SeriesSource, channels: int, crop: int) -> None:
    """Run the model once on a blank (1, T, C, crop, crop) tile: a model that cannot take this
    many dates fails here, before any tile is read, with the series and the fix named."""
    x = torch.zeros(1, len(series), channels, crop, crop, device=pred.device)
    try:
        with torch.inference_mode():
            pred._forward(pred.models[0], x)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise TimeSeriesError(
            f"the model cannot map this time series of {len(series)} dates ({series.describe()}): {exc}. "
            "A model built for a fixed number of dates needs exactly that many scenes; pass them, or use a "
            "model that pools over time (create_model(..., temporal='ltae'))"
        ) from exc


def _block_shape(src: Any) -> tuple[int, int]:
    """(rows, cols) of the internal blocks of ``src`` (its first band file's; (0, 0) when unknown)."""
    first = next(iter(getattr(src, "sources", [src])), None)
    ds = getattr(first, "dataset", None)
    return tuple(ds.block_shapes[0]) if ds is not None else (0, 0)  # type: ignore[return-value]


def _inside_block(offset: int, crop: int, block: int, size: int) -> int:
    """``offset`` moved back so that [offset, offset + crop) lies inside one block (when blocks hold a crop)."""
    if block < crop or offset + crop > size:
        return offset
    start = offset - offset % block
    return min(offset, start + block - crop)


class _Stream:
    """The streaming loop of one scene (see the module docstring)."""

    def __init__(self, pred: Predictor, src: Any, names: list[str], plan: TilePlan, windows: BlendWindows,
                 spec: OutputSpec, writer: CogWriter, batch_size: int, read_budget_mb: float, channels: int,
                 progress: Progress | None, forward_batch: int | None = None, prefetch: bool = True,
                 overlap: bool = False, depth: int = 1) -> None:
        self.pred, self.src, self.names, self.plan = pred, src, names, plan
        self.overlap = overlap
        self.depth = max(1, depth) if overlap else 1  # forward passes in flight at once
        self.windows, self.spec, self.writer = windows, spec, writer
        self.batch_size = max(1, batch_size)
        self.channels = channels  # K + extra; the accumulator adds one weight channel
        self.progress = progress
        self.frames = len(src) if isinstance(src, SeriesSource) else None  # T of a time series
        if forward_batch is None:  # CPU: 2 tiles per pass keep activations in cache (faster, less memory)
            forward_batch = CPU_FORWARD_BATCH if pred.device.type == "cpu" else self.batch_size
        self.forward_batch = max(1, min(forward_batch, self.batch_size))
        # tiles run as soon as a forward pass fills, so at most two groups (read + accumulator) are alive:
        # groups are sized by the read budget alone, not stretched to a whole batch (that cost ~100 MB on
        # a 16384-px-wide scene, where a batch of 16 tiles kept two 16-tile groups alive)
        self.per_group = plan.tiles_per_group(len(names) * (self.frames or 1), read_budget_mb, self.forward_batch,
                                              channels + 1)
        self.groups: deque[_Group] = deque()
        self.queue: list[tuple[_Group, int]] = []
        self.carry: np.ndarray | None = None  # (A, rows, W): overlap into the current tile row
        self.next_carry: np.ndarray | None = None
        self._carry_buf: np.ndarray | None = None  # (A, max overlap, W): the carry and the next carry, in place
        self.edge: np.ndarray | None = None  # (A, crop, w): columns overlapping the next group
        self.done = 0
        self.skipped = 0
        self.prefetch = prefetch
        self._bufs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._flip = 0
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: deque[tuple[Future[np.ndarray], list[tuple[_Group, int]]]] = deque()

    # -- reading -----------------------------------------------------------
    def _read(self, spec: tuple[int, int, int]) -> _Group:
        row, j0, j1 = spec
        p, c = self.plan, self.plan.crop
        y0, x0, x1 = p.rows[row], p.cols[j0], p.cols[j1] + c
        boundless = y0 + c > p.height or x1 > p.width
        chip = self.src.read(Window(x0, y0, x1 - x0, c), bands=self.names, boundless=boundless, dtype=None)
        return _Group(row, j0, j1, x0, x1, chip.array, chip.valid, getattr(chip, "frames_valid", None))

    def _group_specs(self) -> list[tuple[int, int, int]]:
        p = self.plan
        return [(i, j0, min(j0 + self.per_group, len(p.cols)) - 1)
                for i in range(len(p.rows)) for j0 in range(0, len(p.cols), self.per_group)]

    def run(self) -> None:
        # overlap: forward passes run in threads of their own while this one blends the finished passes'
        # outputs and reads the next group, filling the cores' gaps between passes (ONNX Runtime lanes,
        # a GPU); torch on the CPU keeps both cores busy itself and only loses to the contention.
        # ``depth`` passes in flight: with two, one pass's normalisation and softmax (torch, in its
        # thread) run while the other's tiles are in ONNX Runtime's lanes, so the lanes never wait
        self._pool = ThreadPoolExecutor(self.depth, thread_name_prefix="eokit-forward") if self.overlap else None
        try:
            with Prefetcher(self._read, self._group_specs(), self.prefetch) as groups:
                for g in groups:
                    self._take(g)
            if self.queue:
                self._run_batch()
            self._collect()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._inflight.clear()
        self._finish_ready()

    def _take(self, g: _Group) -> None:
        """Queue the tiles of a freshly read group (running full batches as they fill)."""
        p = self.plan
        self.groups.append(g)
        for j in range(g.j0, g.j1 + 1):
            col = p.cols[j] - g.x0
            if not g.valid[:, col:col + p.crop].any():
                self.skipped += 1  # all nodata: its pixels are written as nodata anyway
                continue
            g.pending += 1
            self.queue.append((g, col))
            if len(self.queue) >= self.forward_batch:
                self._run_batch()
        g.queued = True
        self._finish_ready()

    # -- model -------------------------------------------------------------
    def _buffers(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch buffers (tiles, validity) not in use by the pass in flight (two sets, made once)."""
        if not self._bufs:
            c = self.plan.crop
            t = (self.frames,) if self.frames else ()  # a time series: (B, T, C, c, c), validity per date
            pin = self.pred.device.type == "cuda"  # page-locked: host-to-device copies run asynchronously
            n_max = self.forward_batch  # the queue runs when a forward pass fills
            self._bufs = [(torch.empty((n_max, *t, len(self.names), c, c), dtype=torch.float32, pin_memory=pin),
                           torch.empty((n_max, *t, c, c), dtype=torch.bool, pin_memory=pin))
                          for _ in range(self.depth + 1)]
        self._flip = (self._flip + 1) % len(self._bufs)
        return self._bufs[self._flip]

    def _run_batch(self) -> None:
        """Start a forward pass on the queued tiles, then blend the oldest passes' outputs meanwhile
        (until at most ``depth`` are in flight)."""
        c, n = self.plan.crop, len(self.queue)
        xt, vt = self._buffers()
        x, v = xt.numpy(), vt.numpy()
        for b, (g, col) in enumerate(self.queue):
            np.copyto(x[b], g.array[..., col:col + c], casting="unsafe")
            v[b] = (g.frames_valid if g.frames_valid is not None else g.valid)[..., col:col + c]
        tiles = list(self.queue)
        self.queue.clear()
        if self._pool is None:  # no forward thread: run the pass here
            self._blend(self._forward(xt[:n], vt[:n]), tiles)
            return
        self._inflight.append((self._pool.submit(self._forward, xt[:n], vt[:n]), tiles))
        while len(self._inflight) > self.depth:
            self._collect_one()

    def _forward(self, x: torch.Tensor, v: torch.Tensor) -> np.ndarray:
        return self.pred(x, v, inplace=True).cpu().numpy()  # type: ignore[no-any-return]

    def _collect(self) -> None:
        """Wait for every pass in flight and blend their outputs, oldest first."""
        while self._inflight:
            self._collect_one()

    def _collect_one(self) -> None:
        """Wait for the oldest pass in flight (its errors are raised here) and blend its outputs."""
        job, tiles = self._inflight.popleft()
        self._blend(job.result(), tiles)

    def _blend(self, y: np.ndarray, tiles: list[tuple[_Group, int]]) -> None:
        """Add each tile's weighted outputs (and weight) into its group's accumulator."""
        c, p = self.plan.crop, self.plan
        for b, (g, col) in enumerate(tiles):
            if g.acc is None:
                g.acc = np.zeros((self.channels + 1, c, g.x1 - g.x0), np.float32)
            w = self.windows.for_tile(p.rows[g.row], g.x0 + col, p.height, p.width)
            acc = g.acc[:, :, col:col + c]
            yb = y[b]
            yb *= w
            acc[:-1] += yb
            acc[-1] += w
            g.pending -= 1
        self.done += len(tiles)
        if self.progress is not None:
            self.progress(len(tiles))
        self._finish_ready()

    # -- finishing ---------------------------------------------------------
    def _finish_ready(self) -> None:
        while self.groups and self.groups[0].queued and self.groups[0].pending == 0:
            self._finish(self.groups.popleft())

    def _finish(self, g: _Group) -> None:
        p, c = self.plan, self.plan.crop
        H, W = p.height, p.width
        a = self.channels + 1
        gw = g.x1 - g.x0
        acc = g.acc if g.acc is not None else np.zeros((a, c, gw), np.float32)
        y0 = p.rows[g.row]
        last_row = g.row == len(p.rows) - 1
        fr = min(c, H - y0) if last_row else p.rows[g.row + 1] - y0  # rows finished by this tile row
        inside = min(g.x1, W) - g.x0  # columns of this group inside the scene
        if g.j0 == 0:  # first group of a tile row: rotate the carried overlap
            # one buffer holds both: a group reads the carry's columns [x0 + ew, x0 + inside) before it writes
            # the next carry's [x0, x0 + fin), and columns left of x0 + ew were read by earlier groups
            self.carry, self.next_carry = self.next_carry, None
            if not last_row:
                if self._carry_buf is None:
                    self._carry_buf = np.empty((a, max(p.max_overlap, 1), W), np.float32)
                self.next_carry = self._carry_buf[:, :y0 + c - p.rows[g.row + 1]]
        ew = 0
        if self.edge is not None and g.j0 > 0:  # the previous group's overlap (already holds its carry)
            ew = self.edge.shape[2]
            acc[:, :, :ew] += self.edge
        if self.carry is not None:
            ch = self.carry.shape[1]
            acc[:, :ch, ew:inside] += self.carry[:, :, g.x0 + ew:g.x0 + inside]
        last_group = g.j1 == len(p.cols) - 1
        fin = (W if last_group else p.cols[g.j1 + 1]) - g.x0  # columns finished by this group
        self.edge = None if last_group else acc[:, :, fin:].copy()
        if self.next_carry is not None:
            self.next_carry[:, :, g.x0:g.x0 + fin] = acc[:, fr:, :fin]
        block = acc[:, :fr, :fin]
        weight = block[-1]
        covered = weight > 0
        valid = g.valid[:fr, :fin] & covered
        # the weighted sums are divided by the encoder only where the map needs it (acc is done with)
        self.writer.write(self.spec.encode(block[:-1], valid, np.where(covered, weight, np.float32(1))),
                          Window(g.x0, y0, fin, fr))
