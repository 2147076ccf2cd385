#!/usr/bin/env python
"""Scene inference: eokit end to end vs TerraTorch's tiled_inference vs the model-only floor.

Same small U-Net (13 bands in, 10 classes, 2 levels, 16/32/64 channels), crop 256,
stride 224, batch 16, on a 13 x N x N scene (default N = 4096):

* ``terratorch``: ``terratorch.tasks.tiled_inference.tiled_inference`` on the scene
  held in memory as one (1, 13, N, N) float32 tensor (already normalised);
* ``floor``: only the model's forward passes over the same crops (eokit's plan),
  batch 16 — no reading, tiling, blending or writing is timed;
* ``floor_optimized`` (shown for transparency, not a target): the same forward-only
  loop with the model rewritten as ``eokit predict`` runs it (batch norms folded,
  channels-last, ``eokit.infer.optimize``) in passes of eokit's CPU forward batch,
  so the table separates what the model rewrite gains from what the pipeline costs;
* ``eokit``: ``predict_scene`` reading the scene from a DEFLATE GeoTIFF and writing
  the class map + confidence COG (overviews, atomic rename) — everything timed.

Peak memory: each contender runs in its own subprocess, started with the same
environment: glibc malloc pinned with ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``
(no mmap/munmap churn per batch; memory stays in the heap and is reused) and
``MALLOC_ARENA_MAX=2`` (as ``eokit.env.tune_allocator`` sets: threads share two heaps
instead of keeping one each) for all. The peak is VmHWM (reset via /proc/self/clear_refs just before the timed
call) minus VmRSS right before it. eokit's peak is also measured on a
16384 x 16384 scene generated on disk block by block and cached under
``$EOKIT_CACHE`` (default ``~/.cache/eokit-work``). On a slow or shared CPU,
``--large-rows R`` stops the large run after R full-width tile rows (the memory
plateau is reached after the second row; the COG finish is then not included).

The CPU may be shared: contenders run back to back, interleaved, ``--repeat``
times, and the best time of each is compared (ratios, not absolute figures).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

CROP, STRIDE, BATCH, BANDS, CLASSES = 256, 224, 16, 13, 10
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31), "MALLOC_ARENA_MAX": "2"}


# -- the model ------------------------------------------------------------------------------------
def build_unet(seed: int = 0):
    """2-level U-Net, 16/32/64 channels, 13 -> 10 (weights fixed by ``seed``)."""
    import torch
    from torch import nn

    def block(i: int, o: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self, cin: int = BANDS, k: int = CLASSES, w: tuple[int, int, int] = (16, 32, 64)) -> None:
            super().__init__()
            self.e1, self.e2, self.mid = block(cin, w[0]), block(w[0], w[1]), block(w[1], w[2])
            self.pool = nn.MaxPool2d(2)
            self.u2, self.d2 = nn.ConvTranspose2d(w[2], w[1], 2, 2), block(2 * w[1], w[1])
            self.u1, self.d1 = nn.ConvTranspose2d(w[1], w[0], 2, 2), block(2 * w[0], w[0])
            self.head = nn.Conv2d(w[0], k, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = self.e1(x)
            b = self.e2(self.pool(a))
            c = self.mid(self.pool(b))
            d = self.d2(torch.cat([self.u2(c), b], 1))
            return self.head(self.d1(torch.cat([self.u1(d), a], 1)))

    torch.manual_seed(seed)
    return UNet().eval()


BAND_NAMES = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
MEAN = tuple(1200.0 + 50 * i for i in range(BANDS))
STD = tuple(600.0 for _ in range(BANDS))


def contract():
    from eokit.infer import DataContract

    return DataContract(bands=BAND_NAMES, mean=MEAN, std=STD, classes=tuple(f"class{i}" for i in range(CLASSES)))


# -- the scenes -----------------------------------------------------------------------------------
def scene_path(size: int) -> Path:
    from eokit.env import cache_dir

    return cache_dir() / "bench" / f"scene_inference_13x{size}x{size}.tif"


def make_scene(size: int, compress: str = "deflate") -> Path:
    """A 13-band uint16 tiled GeoTIFF (512 px tiles), written block row by block row.

    The timed scene is DEFLATE-compressed; the large memory-only scene uses ZSTD level 1
    (much faster to generate on a shared CPU; reading it is not timed against anything).
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from eokit.io import atomic_path

    path = scene_path(size)
    if path.exists():
        return path
    rng = np.random.default_rng(size)
    noise = rng.integers(0, 200, size=(BANDS, 512, 512), dtype=np.uint16)
    prof = dict(driver="GTiff", width=size, height=size, count=BANDS, dtype="uint16", crs="EPSG:32632",
                transform=from_origin(300000, 5100000, 10, 10), tiled=True, blockxsize=512, blockysize=512,
                compress=compress, BIGTIFF="IF_SAFER")
    if compress.lower() == "zstd":
        prof["zstd_level"] = 1
    xs = np.arange(size, dtype=np.float32)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **prof) as ds:
        for i, name in enumerate(BAND_NAMES, start=1):
            ds.set_band_description(i, name)
        for y0 in range(0, size, 512):
            h = min(512, size - y0)
            ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
            block = np.empty((BANDS, h, size), np.uint16)
            for b in range(BANDS):
                f = np.sin(ys / (97 + 7 * b)) * (700 * np.cos(xs[None, :] / (131 + 5 * b))) + (1500 + 60 * b)
                block[b] = f.astype(np.uint16) + np.tile(noise[b, :h], (1, size // 512 + 1))[:, :size]
            ds.write(block, window=Window(0, y0, size, h))
    return path


# -- memory ---------------------------------------------------------------------------------------
def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_peak() -> float:
    """Reset the peak RSS (VmHWM) and return the current RSS in MiB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak_above(start: float) -> float:
    return _status("VmHWM") - start


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (robust to a shared CPU, unlike wall time)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- contenders (each runs in its own subprocess) -------------------------------------------------
def load_tiled_inference():
    """TerraTorch's tiled_inference, imported from its module file.

    ``import terratorch`` pulls the whole package (albumentations, segmentation-models,
    datasets, ...); the function itself needs only torch, tqdm and ``pad_images`` from
    terratorch/models/utils.py, so those two files are loaded directly.
    """
    try:
        from terratorch.tasks.tiled_inference import tiled_inference

        return tiled_inference
    except Exception:
        pass
    spec = importlib.util.find_spec("terratorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("terratorch is not installed (make bench-deps)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in ("terratorch", "terratorch.models", "terratorch.tasks", "terratorch.registry"):
        mod = types.ModuleType(name)
        mod.__path__ = []  # type: ignore[attr-defined]
        sys.modules[name] = mod
    sys.modules["terratorch.registry"].BACKBONE_REGISTRY = None  # only named in utils.py, unused by pad_images
    for name, rel in (("terratorch.models.utils", "models/utils.py"),
                      ("terratorch.tasks.tiled_inference", "tasks/tiled_inference.py")):
        s = importlib.util.spec_from_file_location(name, root / rel)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        s.loader.exec_module(mod)
    return sys.modules["terratorch.tasks.tiled_inference"].tiled_inference


def run_floor(size: int, optimized: bool = False) -> dict:
    import torch

    from eokit.infer import TilePlan
    from eokit.infer.optimize import optimize_for_inference
    from eokit.infer.predict import CPU_FORWARD_BATCH

    model = build_unet()
    plan = TilePlan.build(size, size, CROP, STRIDE)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.standard_normal((BATCH, BANDS, CROP, CROP), dtype=np.float32))
    per_pass = BATCH
    if optimized:
        model, _ = optimize_for_inference(model, batch[:1])
        batch = batch.contiguous(memory_format=torch.channels_last)
        per_pass = CPU_FORWARD_BATCH
    n = plan.n_tiles
    with torch.inference_mode():
        model(batch[:2])  # warm-up
        start = start_peak()
        busy = 0.0
        cpu0 = cpu_seconds()
        for i in range(0, n, BATCH):
            x = batch[: min(BATCH, n - i)]
            t = time.perf_counter()
            for s in range(0, len(x), per_pass):
                model(x[s:s + per_pass])
            busy += time.perf_counter() - t
    return {"seconds": busy, "tiles": n, "peak_mb": peak_above(start), "cpu_s": cpu_seconds() - cpu0}


def run_terratorch(size: int, path: str) -> dict:
    import torch

    from eokit.io import open_raster

    tiled_inference = load_tiled_inference()
    model = build_unet()
    src = open_raster(path)
    arr = src.read(dtype="float32").array  # the scene in memory, as TerraTorch expects it
    mean = np.asarray(MEAN, np.float32)[:, None, None]
    std = np.asarray(STD, np.float32)[:, None, None]
    x = torch.from_numpy((arr - mean) / std)[None]
    del arr
    with torch.inference_mode():
        model(x[:, :, :64, :64])
        start = start_peak()
        cpu0 = cpu_seconds()
        t = time.perf_counter()
        out = tiled_inference(model, x, out_channels=CLASSES, crop=CROP, stride=STRIDE, batch_size=BATCH,
                              verbose=False)
        seconds = time.perf_counter() - t
    assert out.shape[-2:] == (size, size), out.shape
    return {"seconds": seconds, "peak_mb": peak_above(start), "cpu_s": cpu_seconds() - cpu0}


class _Stop(Exception):
    pass


ENGINES = {"eokit": ("torch", "fp32"), "eokit_onnx": ("onnxruntime", "fp32"), "eokit_int8": ("onnxruntime", "int8")}


def run_eokit(size: int, path: str, out: str, max_rows: int = 0, forward_batch: int | None = None,
              kind: str = "eokit") -> dict:
    import torch

    from eokit.infer import PredictOptions, TilePlan, predict_scene
    from eokit.io import is_cog

    model = build_unet()
    with torch.inference_mode():
        model(torch.zeros(1, BANDS, 64, 64))
    plan = TilePlan.build(size, size, CROP, STRIDE)
    limit = max_rows * len(plan.cols) if max_rows else 0
    seen = [0]

    def progress(n: int) -> None:
        seen[0] += n
        if limit and seen[0] >= limit:
            raise _Stop

    start = start_peak()
    cpu0 = cpu_seconds()
    t = time.perf_counter()
    stopped = False
    try:
        engine, precision = ENGINES[kind]
        opts = PredictOptions.of(crop=CROP, stride=STRIDE, batch_size=BATCH, forward_batch=forward_batch,
                                 engine=engine, precision=precision)
        res = predict_scene(model, path, out, opts, contract=contract(), progress=progress)
        report = res.engine.as_dict() if res.engine is not None else None
    except _Stop:
        stopped, report = True, None
    seconds = time.perf_counter() - t
    peak = peak_above(start)
    ok = None
    if not stopped:
        ok = is_cog(out)[0]
    return {"seconds": seconds, "peak_mb": peak, "tiles": seen[0], "stopped": stopped, "cog": ok,
            "cpu_s": cpu_seconds() - cpu0, "engine": report}


def worker(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker in ("floor", "floor_optimized"):
        res = run_floor(args.size, optimized=args.worker == "floor_optimized")
    elif args.worker == "terratorch":
        res = run_terratorch(args.size, args.scene)
    else:
        res = run_eokit(args.size, args.scene, args.out, args.max_rows, args.forward_batch or None, args.worker)
    print("RESULT " + json.dumps(res))


def spawn(kind: str, size: int, scene: Path | None, out: Path, threads: int, max_rows: int = 0,
          forward_batch: int = 0, engine_cache: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--size", str(size), "--out", str(out),
           "--threads", str(threads), "--max-rows", str(max_rows), "--forward-batch", str(forward_batch)]
    if scene is not None:
        cmd += ["--scene", str(scene)]
    env = {**os.environ, **MALLOC_ENV}
    if engine_cache is not None:  # exported/quantised engines of this benchmark, apart from the user's
        env["EOKIT_CACHE"] = str(engine_cache)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--large-size", type=int, default=16384)
    ap.add_argument("--large-rows", type=int, default=0, help="stop the large run after R tile rows (0: all)")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; figures are medians")
    ap.add_argument("--large-engines", default="eokit",
                    help="comma-separated eokit contenders run on the large scene (eokit, eokit_onnx, eokit_int8)")
    ap.add_argument("--no-onnx", action="store_true", help="leave out the ONNX Runtime contenders")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in every contender (0: default)")
    ap.add_argument("--forward-batch", type=int, default=0,
                    help="eokit: tiles per forward pass within each batch of 16 (0: eokit's default, 2 on CPU)")
    ap.add_argument("--make-scene", type=int, default=0, help="only generate the N x N scene (zstd) and exit")
    ap.add_argument("--worker", choices=["floor", "floor_optimized", "terratorch", *ENGINES], help=argparse.SUPPRESS)
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    ap.add_argument("--max-rows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.make_scene:
        print(make_scene(args.make_scene, compress="zstd"))
        return

    from eokit.env import cache_dir

    work = cache_dir() / "bench"
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    small = make_scene(args.size)
    print(f"scene {small} ready ({time.perf_counter() - t:.0f} s)", flush=True)
    kinds = ["floor", "floor_optimized", "terratorch", "eokit"]
    if not args.no_onnx:
        try:
            import onnxruntime  # noqa: F401
            kinds += ["eokit_onnx", "eokit_int8"]
        except ImportError:
            print("onnxruntime not installed (pip install 'eokit[onnx]'): ONNX contenders left out", flush=True)
    engines = work / "engine-cache"  # EOKIT_CACHE of the eokit contenders: emptied first, so run 0 is cold
    shutil.rmtree(engines, ignore_errors=True)
    outs = {k: work / f"scene_inference_map_{k}.tif" for k in ENGINES}
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    cold: dict[str, dict] = {}
    tt_error = None
    for kind in [k for k in kinds if k in ("eokit_onnx", "eokit_int8")]:  # cold: export (+ quantise) counted
        res = spawn(kind, args.size, small, outs[kind], args.threads, 0, args.forward_batch, engines)
        if "error" in res:
            raise SystemExit(f"{kind} failed: {res['error']}")
        cold[kind] = res
        print(f"cold  {kind:15s} {res['seconds']:8.1f} s  (export/quantise included)  peak +{res['peak_mb']:.0f} MiB",
              flush=True)
    for r in range(args.repeat):
        for kind in kinds:
            if kind == "terratorch" and tt_error:
                continue
            res = spawn(kind, args.size, small if not kind.startswith("floor") else None,
                        outs.get(kind, work / "unused.tif"), args.threads, 0, args.forward_batch, engines)
            if "error" in res:
                if kind == "terratorch":
                    tt_error = res["error"]
                    print(f"terratorch unavailable: {tt_error}", flush=True)
                    continue
                raise SystemExit(f"{kind} failed: {res['error']}")
            runs[kind].append(res)
            eng = res.get("engine") or {}
            note = (f"  agreement {eng['agreement']:.4f}{' FELL BACK' if eng.get('fell_back') else ''}"
                    if eng.get("agreement") is not None else "")
            print(f"run {r + 1} {kind:15s} {res['seconds']:8.1f} s  ({res.get('cpu_s', float('nan')):.0f} CPU-s)  "
                  f"peak +{res['peak_mb']:.0f} MiB{note}", flush=True)
    mpix = args.size * args.size / 1e6

    def rate(kind: str) -> float | None:
        return mpix / statistics.median(x["seconds"] for x in runs[kind]) if runs.get(kind) else None

    def spread(kind: str) -> str:
        if not runs.get(kind):
            return ""
        r = [mpix / x["seconds"] for x in runs[kind]]
        return f"{min(r):.3f}-{max(r):.3f}"

    rates = {k: rate(k) for k in kinds}
    peak = {k: max(x["peak_mb"] for x in runs[k]) for k in kinds if runs.get(k)}
    rss_small = peak["eokit"]
    agreement = {}
    for kind in ("eokit_onnx", "eokit_int8"):
        if runs.get(kind):
            agreement[kind] = class_agreement(outs["eokit"], outs[kind])
    large: dict[str, dict] = {}
    if not args.skip_large:
        t = time.perf_counter()
        big = make_scene(args.large_size, compress="zstd")
        print(f"scene {big} ready ({time.perf_counter() - t:.0f} s)", flush=True)
        for kind in [k.strip() for k in args.large_engines.split(",") if k.strip()]:
            res = spawn(kind, args.large_size, big, work / f"scene_inference_map_large_{kind}.tif", args.threads,
                        args.large_rows, args.forward_batch, engines)
            if "error" in res:
                raise SystemExit(f"large {kind} run failed: {res['error']}")
            large[kind] = res
            print(f"large {kind:15s} {res['tiles']} tiles in {res['seconds']:.0f} s"
                  + (f" (stopped after {args.large_rows} tile rows)" if res["stopped"] else ", COG written")
                  + f"  peak +{res['peak_mb']:.0f} MiB", flush=True)
    tt = rates.get("terratorch")
    print()
    print(f"{'contender':<40}{'MPix/s':>9}{'spread':>14}{'peak MiB':>10}{'vs TT':>7}")
    labels = {"floor": "model-only floor (forward only)", "floor_optimized": "  same, model rewritten as eokit",
              "terratorch": "TerraTorch tiled_inference", "eokit": "eokit torch fp32 (GeoTIFF->COG)",
              "eokit_onnx": "eokit onnxruntime fp32", "eokit_int8": "eokit onnxruntime int8"}
    for k in kinds:
        if not rates.get(k):
            print(f"{labels[k]:<40}{'n/a':>9}   ({tt_error})")
            continue
        vs = f"{rates[k] / tt:>7.2f}" if tt else ""
        print(f"{labels[k]:<40}{rates[k]:>9.3f}{spread(k):>14}{peak[k]:>10.0f}{vs}")
    for k, res in cold.items():
        print(f"{labels[k] + ', cold (export/quantise)':<40}{mpix / res['seconds']:>9.3f}{'1 run':>14}"
              f"{res['peak_mb']:>10.0f}")
    for k, a in agreement.items():
        guard = [x["engine"]["agreement"] for x in runs[k] if x.get("engine")]
        print(f"{labels[k]}: {a:.4%} of the map's pixels keep the fp32 class"
              + (f" (guard's sample: {min(guard):.4%})" if guard else ""))
    for k, res in large.items():
        print(f"{labels[k]} on {args.large_size}^2: peak +{res['peak_mb']:.0f} MiB ({res['tiles']} tiles, "
              f"{'stopped early' if res['stopped'] else 'to the end, COG written'}); {args.size}^2: +{peak[k]:.0f} MiB")
    cpu = {k: statistics.median(x.get("cpu_s", float("nan")) for x in v) for k, v in runs.items() if v}
    print("CPU-seconds (median; all threads): " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()))
    print(f"batch {BATCH} tiles of {CROP} px, stride {STRIDE}; eokit forward passes of "
          f"{args.forward_batch or 'the default (2 on CPU)'} tiles")
    print(f"allocator: {' '.join(f'{k}={v}' for k, v in MALLOC_ENV.items())} in every contender's subprocess; "
          f"figures: median of {args.repeat} interleaved rounds, spread = slowest-fastest round")

    def r4(v: float | None) -> float | None:
        return round(v, 4) if v is not None else None

    def ratio(k: str, base: float | None) -> float | None:
        return round(rates[k] / base, 3) if rates.get(k) and base else None

    big_rss = large.get("eokit", next(iter(large.values()), None)) if large else None
    result = {
        "eokit_mpix_s": r4(rates["eokit"]),
        "terratorch_mpix_s": r4(tt),
        "floor_mpix_s": r4(rates["floor"]),
        "ratio": ratio("eokit", tt),
        "ratio_vs_floor": ratio("eokit", rates["floor"]),
        "floor_optimized_mpix_s": r4(rates["floor_optimized"]),
        "ratio_vs_optimized_floor": ratio("eokit", rates["floor_optimized"]),
        "eokit_onnx_mpix_s": r4(rates.get("eokit_onnx")),
        "ratio_onnx": ratio("eokit_onnx", tt),
        "eokit_int8_mpix_s": r4(rates.get("eokit_int8")),
        "ratio_int8": ratio("eokit_int8", tt),
        "agreement_int8": round(agreement["eokit_int8"], 5) if "eokit_int8" in agreement else None,
        "agreement_onnx": round(agreement["eokit_onnx"], 5) if "eokit_onnx" in agreement else None,
        "eokit_int8_cold_mpix_s": r4(mpix / cold["eokit_int8"]["seconds"]) if "eokit_int8" in cold else None,
        "rss_small_mb": round(rss_small, 1),
        "rss_small_int8_mb": round(peak["eokit_int8"], 1) if "eokit_int8" in peak else None,
        "rss_large_mb": round(big_rss["peak_mb"], 1) if big_rss else None,
        "large_to_end": (not big_rss["stopped"]) if big_rss else None,
        "rss_large_by_engine": {k: round(v["peak_mb"], 1) for k, v in large.items()} or None,
        "repeat": args.repeat,
    }
    print(json.dumps(result))


def class_agreement(a: Path, b: Path) -> float:
    """Share of pixels (valid in both) whose class band is the same in two maps, read block row by row."""
    import rasterio
    from rasterio.windows import Window

    same = total = 0
    with rasterio.open(a) as da, rasterio.open(b) as db:
        for y0 in range(0, da.height, 1024):
            w = Window(0, y0, da.width, min(1024, da.height - y0))
            ca, cb = da.read(1, window=w), db.read(1, window=w)
            ok = (ca != da.nodata) & (cb != db.nodata)
            same += int((ca[ok] == cb[ok]).sum())
            total += int(ok.sum())
    return same / max(total, 1)


if __name__ == "__main__":
    main()
